"""Every benchmark script runs as its docstring says: from another folder, without PYTHONPATH,
in its quickest mode, printing its `name=value` figures. The figures' values are not checked
here (they are timings of a busy machine); that each script runs and prints them is."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.sim
BENCH = REPO / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text())
FIGURE = re.compile(r"^([a-z][a-z0-9_@]*)=([-+0-9.eE]+|nan|inf)$", re.M)
LIFT = "--suite robosuite_lift --image-size 32"

#: script: (its quickest arguments, shell-quoted; figures it must print). {demo}, {train}, {tmp}
#: and {repo} are filled in by the test: a collected demonstration, a two-step training folder, a
#: scratch folder, this checkout (its committed reference checkpoints).
QUICKEST = {
    "collect_cost.py": (f"{LIFT} --episodes 1", []),
    "env_steps.py": (
        f"{LIFT} --variant agra_w1,env_loop,steps_physics --quick --workers 1",
        ["harness_over_env_loop", "physics_only_steps_per_s"],
    ),
    "full_protocol.py": (
        "--suite robosuite_lift --workers 1 --out {tmp}/full --extra '--episodes 1 --max-steps 5'",
        ["full_protocol_minutes"],
    ),
    "learning_curve.py": (
        "{train} --suite libero_object --tasks 6 --episodes 1 --image-size 32 --workers 1 --max-steps 4"
        " --steps 2 --out {tmp}/curve",
        [],
    ),
    "oracle_success.py": ("--suite robosuite_lift --tasks 0 --init-states 1 --workers 1", []),
    "perturb_cost.py": (f"{LIFT} --resets 1", ["reset_cost_ratio_lighting"]),
    "physics.py": (
        "--suites robosuite_lift --steps 5 --rounds 1 --resets 1 --image-size 32",
        ["physics_ratio_min", "identical_robosuite_lift"],
    ),
    "rows_before_after.py": ("--ref HEAD --only 1", ["rows_compared", "rows_identical"]),
    "run_threads.py": (
        "--checkpoint {repo}/results/reference/checkpoints/wam-robosuite_lift-s0 --suite robosuite_lift"
        " --tasks 0 --episodes 1 --max-steps 4 --workers 1 --rounds 1 --variants default,omp1",
        ["run_wall_s_default", "run_speedup_omp1", "rows_identical"],
    ),
    "scale.py": (
        "--args '--policy random --suite robosuite_lift --episodes 2 --max-steps 5 --image-size 32'"
        " --shards 2 --workers 1 --rounds 1",
        ["shard_overhead"],
    ),
    "soak_memory.py": (f"{LIFT} --resets 3 --steps 2 --perturb none", []),
    "store_scaling.py": ("--sizes 100,300 --adds 3 --dir {tmp}/store", ["store_ratio"]),
    "train_input.py": ("--data {demo} --steps 1 --batch 2", ["cache_speedup_train"]),
    "wam_speed.py": (
        "--config tiny --device cpu --batch 2 --steps 1 --denoise 2 --chunk-batch 2",
        ["train_samples_per_s_wam", "chunk_ms_b2_cached"],
    ),
}
#: Scripts whose quickest mode cannot run here, and why.
NOT_HERE = {"gpu_suite.py": "needs the GPU kit of scripts/gpu_kit.sh (its --cpu-smoke runs the kit on a CPU)"}


def bench(script: str, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python bench/SCRIPT ARGS` from `cwd`, with no PYTHONPATH (a fresh clone's shell)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, str(BENCH / script), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_every_script_has_a_quickest_mode_or_a_reason():
    assert set(SCRIPTS) == set(QUICKEST) | set(NOT_HERE)


def test_benchmarks_import_the_package_never_the_test_suite():
    """A fresh clone's `python bench/store_scaling.py` once failed on `from tests...`."""
    for path in BENCH.glob("*.py"):
        assert not re.search(r"^\s*(from|import) tests\b", path.read_text(), re.M), path.name


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_runs_from_another_folder(script, tmp_path):
    result = bench(script, "--help", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


@pytest.fixture(scope="module")
def two_step_training(tmp_path_factory, collected_demo) -> Path:
    """A `train` folder with snapshots after steps 1 and 2 (what learning_curve.py reads)."""
    from tests.conftest import run_cli

    out = tmp_path_factory.mktemp("train") / "wam"
    result = run_cli(
        *["train", "--policy", "wam", "--data", str(collected_demo), "--out", str(out), "--config", "tiny"],
        *["--steps", "2", "--snapshot-every", "1", "--save-every", "1", "--batch-size", "2"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, marks=pytest.mark.slow) if s == "learning_curve.py" else s for s in sorted(QUICKEST)],
)
def test_quickest_mode_prints_its_figures(script, tmp_path, request):
    args, figures = QUICKEST[script]
    fills = {"tmp": str(tmp_path), "repo": str(REPO)}
    if "{demo}" in args:
        fills["demo"] = str(request.getfixturevalue("collected_demo"))
    if "{train}" in args:
        fills["train"] = str(request.getfixturevalue("two_step_training"))
    folder = REPO if script == "rows_before_after.py" else tmp_path  # it checks out a commit of REPO
    result = bench(script, *shlex.split(args.format(**fills)), cwd=folder)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    printed = dict(FIGURE.findall(result.stdout))
    assert set(figures) <= set(printed), (sorted(printed), result.stdout[-2000:])
