"""Every GPU figure in one command: WAM speed, env throughput by render mode, and a protocol slice
of `agra-bench run --policy wam`. Writes one JSON with each figure as a field, plus the device,
date, git SHA and the command lines that produced them. `bench/gpu_suite.sh` sets up the GPU
machine (the kit from scripts/gpu_kit.sh) and calls this.

    python bench/gpu_suite.py --out DIR                # the GPU machine: ~5 minutes
    python bench/gpu_suite.py --out DIR --cpu-smoke    # every step at toy sizes on the CPU

The slice's checkpoint is an untrained `small` WAM made here (timing only: its success rate
means nothing); it carries the suite's instruction embeddings from the kit, so no text model is
loaded. Each measurement runs as its own process; one that fails is recorded with its error
and the others still run.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import (
    ROOT,
    bench_parser,  # bench/common.py: also puts the repository on the path
)

FIGURE = re.compile(r"^([a-z][a-z0-9_]*)=([-+0-9.eE]+|nan|inf)$")
PUBLISHED_ANCHOR = "~2,000 LIBERO episodes in ~18 minutes on one H100 (~6,700 episodes/hour)"


@dataclass(frozen=True)
class Sizes:
    """What each measurement runs; the smoke sizes only check that every step works."""

    device: str
    wam_config: str
    train_batch: int
    repeats: int
    env_workers: int
    env_steps: int
    slice_workers: int
    slice_tasks: str
    slice_episodes: int
    slice_max_steps: int | None


GPU = Sizes("cuda", "small", 64, 10, 16, 240, 16, "all", 10, None)
SMOKE = Sizes("cpu", "tiny", 4, 2, 2, 16, 2, "0,1", 1, 12)


def run_figures(command: list[str], log: Path, timeout: float) -> tuple[dict[str, float], str | None]:
    """Run one measurement; its `name=value` lines, and an error (None when it exited 0)."""
    tic = time.monotonic()
    with log.open("w") as handle:
        try:
            proc = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout)
            error = None if proc.returncode == 0 else f"exit code {proc.returncode}"
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:.0f} s"
    text = log.read_text(errors="replace")
    figures = {m[1]: float(m[2]) for line in text.splitlines() if (m := FIGURE.match(line.strip()))}
    print(f"[{time.monotonic() - tic:6.1f} s] {shlex.join(command)} -> {error or 'ok'}", flush=True)
    if error:
        print("\n".join(text.splitlines()[-15:]), flush=True)
    return figures, error


def untrained_checkpoint(folder: Path, preset: str, kit: Path) -> Path:
    """A `wam` checkpoint with fresh weights, and the kit's instruction embeddings beside them."""
    import torch

    from policies.wam.checkpoint import save_inference
    from policies.wam.config import make_config
    from policies.wam.model import WorldActionModel
    from policies.wam.text import EMBEDDINGS_FILE

    torch.manual_seed(0)
    config = make_config(preset, align_weight=0.0)
    model = WorldActionModel(config)
    save_inference(folder, config, model.state_dict(), {"policy": "wam", "step": 0, "note": "untrained"})
    if (kit / EMBEDDINGS_FILE).is_file():
        shutil.copy(kit / EMBEDDINGS_FILE, folder / EMBEDDINGS_FILE)
    return folder


def protocol_slice(sizes: Sizes, scratch: Path, kit: Path, logs: Path) -> tuple[dict, list[str], str | None]:
    checkpoint = untrained_checkpoint(scratch / "untrained-wam", sizes.wam_config, kit)
    command = [
        sys.executable, "-m", "agra_bench", "run", "--policy", "wam", "--checkpoint", str(checkpoint),
        "--suite", "libero_spatial", "--tasks", sizes.slice_tasks, "--episodes", str(sizes.slice_episodes),
        "--workers", str(sizes.slice_workers), "--out", str(scratch / "results"), "--no-progress",
    ]  # fmt: skip
    if sizes.slice_max_steps:
        command += ["--max-steps", str(sizes.slice_max_steps)]
    tic = time.monotonic()
    _, error = run_figures(command, logs / "protocol_slice.log", timeout=420)
    wall = time.monotonic() - tic
    figures: dict = {"protocol_slice_wall_s": round(wall, 1)}
    tables = list((scratch / "results").glob("*/episodes.parquet"))
    if tables:
        import pandas as pd

        rows = pd.read_parquet(tables[0])
        figures.update(
            protocol_slice_episodes=len(rows),
            protocol_slice_errors=int(rows["error"].fillna("").astype(bool).sum()),
            protocol_slice_env_steps=int(rows["steps"].sum()),
            protocol_slice_episodes_per_hour=round(len(rows) / wall * 3600, 1),
            protocol_slice_env_steps_per_s=round(float(rows["steps"].sum()) / wall, 1),
            protocol_slice_anchor=PUBLISHED_ANCHOR,
        )
        if figures["protocol_slice_errors"] and not error:
            first = rows["error"].dropna().iloc[0]
            error = f"{figures['protocol_slice_errors']} episodes ended in an error, the first: {first}"
    return figures, [shlex.join(command)], error


GL_RENDERER = (
    "import mujoco.egl; from OpenGL import GL; c = mujoco.egl.GLContext(64, 64); c.make_current(); "
    "print(GL.glGetString(GL.GL_RENDERER).decode(), '|', GL.glGetString(GL.GL_VERSION).decode())"
)


def gl_renderer() -> str:
    """Which OpenGL implementation EGL gave the simulator: the GPU's, or a CPU fallback."""
    proc = subprocess.run([sys.executable, "-c", GL_RENDERER], capture_output=True, text=True, timeout=60)
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if proc.returncode == 0 and lines else f"failed: {proc.stderr.strip()[-300:]}"


def device_name(sizes: Sizes) -> str:
    if sizes.device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return "cpu"


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON and the logs")
    parser.add_argument("--kit", type=Path, default=ROOT / ".gpukit")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/agra-gpu-suite"))
    parser.add_argument("--cpu-smoke", action="store_true")
    parser.add_argument("--only", default="wam_speed,env_throughput,protocol_slice", help="measurements")
    args = parser.parse_args()
    sizes = SMOKE if args.cpu_smoke else GPU
    args.out.mkdir(parents=True, exist_ok=True)
    logs = args.out
    shutil.rmtree(args.scratch, ignore_errors=True)  # a fresh slice: an old table would be resumed
    args.scratch.mkdir(parents=True)
    device = device_name(sizes)
    result: dict = {
        "device": device,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": os.environ.get("AGRA_GIT_SHA") or None,
        "cpu_smoke": args.cpu_smoke,
        "measurements": sorted(args.only.split(",")),
        "cpu_count": os.cpu_count(),
        "gl_renderer": gl_renderer(),
        "commands": [],
        "errors": {},
    }
    py = sys.executable
    measurements = {
        "wam_speed": [py, "bench/wam_speed.py", "--config", sizes.wam_config, "--device", sizes.device,
                      "--batch", str(sizes.train_batch), "--steps", str(sizes.repeats), "--denoise", "10"],
        "env_throughput": [py, "bench/env_steps.py", "--variant", "steps",
                           "--workers", str(sizes.env_workers), "--steps", str(sizes.env_steps),
                           "--image-size", "128"],
    }  # fmt: skip
    renamed = {
        "train_samples_per_s_wam": f"wam_{sizes.wam_config}_train_samples_per_s_wam",
        "train_samples_per_s_agra": f"wam_{sizes.wam_config}_train_samples_per_s_agra",
        # the GPU path of WAMPolicy replays the denoising loop from CUDA graphs; the CPU's is eager
        "chunk_ms_b50_graphed": f"wam_{sizes.wam_config}_chunk_ms_b50",
        "chunk_ms_b50_cached": f"wam_{sizes.wam_config}_chunk_ms_b50"
        + ("_eager" if sizes.device == "cuda" else ""),
        "chunk_ms_b50_per_step_video": f"wam_{sizes.wam_config}_chunk_ms_b50_per_step_video",
    }
    only = set(args.only.split(","))
    unknown_names = sorted(only - {*measurements, "protocol_slice"})
    if unknown_names:
        raise SystemExit(
            f"unknown measurements {unknown_names}; valid: {', '.join(measurements)}, protocol_slice"
        )
    for name, command in measurements.items():
        if name not in only:
            continue
        figures, error = run_figures(command, logs / f"{name}.log", timeout=300)
        result["commands"].append(shlex.join(command))
        result.update({renamed.get(k, k): float(f"{v:.4g}") for k, v in figures.items()})
        if error:
            result["errors"][name] = error
    if "protocol_slice" in only:
        figures, commands, error = protocol_slice(sizes, args.scratch, args.kit, logs)
        result.update(figures)
        result["commands"] += commands
        if error:
            result["errors"]["protocol_slice"] = error
    slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")
    suffix = "" if only == {*measurements, "protocol_slice"} else "-" + "-".join(sorted(only))
    path = args.out / f"{slug}-{result['date'][:10]}{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
