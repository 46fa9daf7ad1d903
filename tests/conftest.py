"""Shared test setup: headless EGL rendering, no model hub, and small real scenes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ["HF_HUB_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
PERTURBATION_FAMILIES = [
    "distractor",
    "lighting",
    "camera",
    "texture",
    "background",
    "object_color",
    "noise",
    "robot_init",
    "language",
]
CLI = [sys.executable, "-m", "agra_bench.cli"]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run the real `agra-bench` CLI in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd or REPO, env=full_env, timeout=timeout
    )


@pytest.fixture
def cli():
    return run_cli
