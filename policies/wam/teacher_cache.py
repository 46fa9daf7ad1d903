"""Teacher features computed once per dataset frame and stored beside the training run (or in a
folder that several runs share).

For each demonstration file, `CACHE/<teacher>-g<grid>/<file>-<key>.h5` holds, per demo,
`agentview` and `eye_in_hand` arrays of shape (T, C, grid, grid) in float16: the teacher's
patch features interpolated to the WAM's token grid. The training loop reads them with the
same indices as the frames, so AGRA adds one small read and one MLP per step, not a teacher
forward pass. CACHE is `OUT/teacher_cache/` unless `train --teacher-cache` names a folder that
several training runs share (the features depend on the data file and the teacher, not on the
seed: the reference experiment's lift cache took about 16 min to build on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.nn import functional as F

from agra_bench.demos.dataset import DemoFiles, take
from agra_bench.errors import UsageError
from policies.wam.teachers import Teacher

CAMERAS = {"agentview": "agentview_rgb", "eye_in_hand": "eye_in_hand_rgb"}


def cache_path(cache_dir: Path, teacher: str, grid: int, data_file: Path) -> Path:
    """One cache per data file, named by its stem and a hash of its path, size and mtime: LIBERO
    names every file of a task alike (two folders of `Lift_demo.hdf5` once shared one cache),
    and a file recollected in place must not reuse the old features."""
    data_file = Path(data_file).resolve()
    stat = data_file.stat()
    key = hashlib.sha1(f"{data_file}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{teacher}-g{grid}" / f"{data_file.stem}-{key}.h5"


@torch.no_grad()
def build_teacher_cache(
    files: DemoFiles, teacher: Teacher, grid: int, cache_dir: Path, device: str = "cpu", batch: int = 64
) -> list[Path]:
    """Compute missing caches; returns one cache path per data file (same order)."""
    teacher = teacher.to(device)
    paths = []
    for index, data_file in enumerate(files.paths):
        path = cache_path(cache_dir, teacher.name, grid, data_file)
        paths.append(path)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with h5py.File(partial, "w") as handle:
            for ref in [d for d in files.demos if d.file_index == index]:
                for name, key in CAMERAS.items():
                    out = []
                    for start in range(0, ref.length, batch):
                        steps = np.arange(start, min(start + batch, ref.length))
                        features = _features(files, ref, teacher, name, key, steps, device)
                        features = F.interpolate(
                            features,
                            size=(grid, grid),
                            mode="area" if getattr(teacher, "needs_segmentation", False) else "bilinear",
                        )
                        out.append(features.half().cpu().numpy())
                    handle.create_dataset(f"{ref.demo}/{name}", data=np.concatenate(out))
        partial.replace(path)
    return paths


def _features(files: DemoFiles, ref, teacher: Teacher, camera: str, key: str, steps: np.ndarray, device):
    """Teacher features of some frames of a demo: from the frames, or from the stored
    segmentation maps for a teacher that reads those."""
    if getattr(teacher, "needs_segmentation", False):
        group = files.group(ref)
        seg_key = f"{camera}_seg"
        if seg_key not in group["obs"] or "segmentation_labels" not in group.attrs:
            raise UsageError(
                f"teacher '{teacher.name}' needs segmentation maps; '{files.paths[ref.file_index]}' "
                f"has no obs/{seg_key} in {ref.demo}: collect with --segmentation"
            )
        seg = take(group["obs"][seg_key], steps)
        if files.upside_down[ref.file_index]:
            seg = seg[:, ::-1, ::-1]
        labels = json.loads(group.attrs["segmentation_labels"])
        return teacher.from_segmentation(torch.from_numpy(np.ascontiguousarray(seg)), labels).to(device)
    frames = torch.from_numpy(np.ascontiguousarray(files.frames(ref, key, steps)))
    return teacher(frames.permute(0, 3, 1, 2).float().div(255).to(device))


class TeacherFeatures:
    """Reader of the caches, opened lazily per process like the demonstration files."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self._handles: dict[int, h5py.File] = {}
        self._pid = None

    def read(self, file_index: int, demo: str, camera: str, steps: np.ndarray) -> torch.Tensor:
        import os

        if self._pid != os.getpid():
            self._handles, self._pid = {}, os.getpid()
        if file_index not in self._handles:
            self._handles[file_index] = h5py.File(self.paths[file_index], "r")
        return torch.from_numpy(take(self._handles[file_index][demo][camera], steps).astype(np.float32))
