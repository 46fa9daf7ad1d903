"""MP4 episode videos with unique, self-describing names, written atomically."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from agra_bench.plan import EpisodeKey


def video_name(key: EpisodeKey, success: bool, error: bool = False) -> str:
    arm = re.sub(r"[^A-Za-z0-9]+", "-", key.perturbation).strip("-")
    outcome = "error" if error else ("success" if success else "fail")
    return f"{key.suite}_task{key.task_id:02d}_ep{key.episode:03d}_{arm}_{key.split}_{outcome}.mp4"


def write_video(directory: Path, key: EpisodeKey, frames: list[np.ndarray], success: bool, fps: int) -> Path:
    """Encode `frames` (H, W, 3 uint8) to DIR/<name>.mp4; never overwrites an existing file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / video_name(key, success)
    if path.exists():
        path = path.with_name(f"{path.stem}_{key.id}.mp4")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".video.", suffix=".mp4")
    os.fchmod(fd, 0o644)
    os.close(fd)
    try:
        with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7, macro_block_size=8) as writer:
            for frame in frames:
                writer.append_data(frame)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
