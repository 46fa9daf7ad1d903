"""What every benchmark script shares: the repository on the import path, headless rendering,
one argument skeleton, the scene options and their env, `name=value` figure lines, and the
fresh-process timer.

`python bench/<script>.py` puts bench/ first on sys.path, so scripts import this module as
`common`; it puts the repository root on the path too, so a script runs the same from a fresh
clone, with or without the package installed. Benchmarks import the package and each other,
never the test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MUJOCO_GL", "egl")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The environment of a process a benchmark starts: this checkout first, headless rendering.
PROCESS_ENV = {**os.environ, "MUJOCO_GL": os.environ["MUJOCO_GL"], "PYTHONPATH": str(ROOT)}


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The script's parser; its docstring (commands, figures, targets) is the --help text."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_scene_options(
    parser: argparse.ArgumentParser, suite: str = "libero_spatial", task: int = 0, image_size: int = 128
) -> None:
    """--suite, --task and --image-size: the one scene a benchmark measures."""
    parser.add_argument("--suite", default=suite)
    parser.add_argument("--task", type=int, default=task)
    parser.add_argument("--image-size", type=int, default=image_size)


def scene_env(args: argparse.Namespace, **settings: Any):
    """The env of the scene options (EnvSettings fields in `settings`), built but not reset."""
    from agra_bench.envs.settings import EnvSettings

    return EnvSettings(image_size=args.image_size, **settings).make(args.suite, args.task)


def print_figure(name: str, value: float, digits: int = 3) -> None:
    """One target figure on its own `name=value` line."""
    print(f"{name}={value:.{digits}f}", flush=True)


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall seconds of `command` in a fresh process (imports and start-up included); exits with
    its stderr's tail when it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env or PROCESS_ENV, cwd=cwd or ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed:\n{result.stderr[-3000:]}")
    return wall
