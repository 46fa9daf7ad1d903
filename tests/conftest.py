"""Shared test setup: headless EGL rendering, no model hub, and small real scenes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ["HF_HUB_OFFLINE"] = "1"
# Every Ray instance a test starts (in this process or in a CLI subprocess) takes the loopback
# address for its node, GCS and raylet: tests talk to 127.0.0.1 only (agra_bench/ray_executor.py).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
# Under pytest-xdist (scripts/test.sh) the workers share the cores: each worker's torch, and the
# CLI subprocesses it starts, gets its share of them. OpenMP threads beyond the cores spin against
# each other: a WAM training test took 587 s beside another worker with all cores, 86 s alone.
XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if XDIST_WORKERS > 1:
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, str(max(1, len(os.sched_getaffinity(0)) // XDIST_WORKERS)))

from perturbations.registry import families  # noqa: E402  (after MUJOCO_GL: it imports mujoco)

REPO = Path(__file__).resolve().parent.parent
#: Every built-in family, from the registry (its modules register them on import).
PERTURBATION_FAMILIES = [name for name in families() if name != "none"]
CLI = [sys.executable, "-m", "agra_bench.cli"]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run the real `agra-bench` CLI in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd or REPO, env=full_env, timeout=timeout
    )


def run_episodes(out: Path, args: str, **kwargs) -> pd.DataFrame:
    """`agra-bench run ARGS --no-progress --out OUT`, which must succeed; returns the episode
    table of the single run it wrote under OUT."""
    result = run_cli("run", *args.split(), "--no-progress", "--out", str(out), **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return pd.read_parquet(runs[0] / "episodes.parquet")


def pytest_collection_modifyitems(config, items):
    """Tests marked `slow` (45 s or more here) run first. pytest-xdist hands tests out in this
    order, so a long test collected last (test_wam.py sorts late) would keep one worker busy
    while the others have run out of work; longest first keeps the workers' ends together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_in_process(monkeypatch, capsys):
    """Run `agra-bench ARGS` in this process (`cli.main()`): (exit code, stderr). For commands
    refused before any work starts, where a subprocess would spend seconds importing."""
    from agra_bench import cli as cli_module

    def invoke(*args: str) -> tuple[int | None, str]:
        monkeypatch.setattr(sys, "argv", ["agra-bench", *args])
        try:
            cli_module.main()
        except SystemExit as exc:
            return exc.code, capsys.readouterr().err
        return 0, capsys.readouterr().err

    return invoke


@pytest.fixture(scope="session")
def collected_demo(tmp_path_factory) -> Path:
    """One real oracle demonstration of libero_object task 6 (butter) at 32x32, collected once
    per test session through the CLI and shared by the demonstration and WAM tests. Under
    pytest-xdist every worker has its own session, so the first to need it collects it into the
    run's shared temporary folder under a file lock and the others read that file (a minute of
    CPU each time, on the machine's two cores)."""
    shared = tmp_path_factory.getbasetemp()
    if XDIST_WORKERS > 1:
        shared = shared.parent  # the folder above every worker's own (xdist's documented pattern)
    out = shared / "collected_demo" / "butter.hdf5"
    with FileLock(str(shared / "collected_demo.lock")):
        if not out.exists():  # collected aside, then renamed: a failed collection leaves no file
            staging = shared / "collected_demo.staging"
            staging.mkdir(exist_ok=True)
            _collect_demo(staging / out.name)
            out.parent.mkdir(exist_ok=True)
            (staging / out.name).rename(out)
    return out


def _collect_demo(out: Path) -> None:
    result = run_cli(
        "collect",
        "--suite",
        "libero_object",
        "--tasks",
        "6",
        "--episodes",
        "1",
        "--image-size",
        "32",
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr[-3000:]
