"""Chaos: the runner killed with SIGKILL at three random moments of a 2-worker run, local and
Ray, resumed after each kill, ends with the table of an uninterrupted run.

The kill moments come from a seeded generator (so a failure can be replayed): each waits until
a random number of episodes is finished, then a random fraction of a second more, so that kills
land mid-episode, mid-write and between episodes. The whole process group goes (runner,
simulator workers and, for Ray, the local instance the run started). The scripted oracle is the
policy: its episodes end at different steps with success, so a lost, duplicated or re-run-
differently episode shows in success, steps or obs0_sha1.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time

import pandas as pd
import pytest

from agra_bench.records import read_rows
from tests.conftest import CLI, REPO

pytestmark = pytest.mark.sim

RUN = (
    "run --policy scripted --suite robosuite_lift --episodes 4 --perturb none,lighting --max-steps 60"
    " --image-size 32 --workers 2 --no-progress"
)
SAME = ["success", "steps", "obs0_sha1"]
KILLS = 3


def start(out, executor: str, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, *RUN.split(), "--executor", executor, "--out", str(out)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(out, executor: str) -> tuple[pd.DataFrame, str]:
    """Run to the end; (episode table, the summary line)."""
    proc = start(out, executor, stdout=subprocess.PIPE)
    summary, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return pd.read_parquet(run_dir / "episodes.parquet"), " ".join(summary.split())


def rows_done(out) -> int:
    runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    for _ in range(20):
        try:
            return len(read_rows(runs[0])) if runs else 0
        except (ValueError, FileNotFoundError):  # caught mid-compaction: read again
            time.sleep(0.01)
    raise AssertionError(f"{runs[0]} stayed unreadable")


def kill_at_random_moments(out, executor: str, rng: random.Random, planned: int) -> list[int]:
    """Start, kill and restart the run KILLS times; returns the rows seen at each kill."""
    targets = sorted(rng.sample(range(1, planned - 1), KILLS))
    seen = []
    for target in targets:
        proc = start(out, executor)
        try:
            deadline = time.time() + 300
            while rows_done(out) < target and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
            seen.append(rows_done(out))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, (
            f"the run ended before the kill: {proc.stderr.read()[-2000:]}"
        )
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.xdist_group("ray"))])
def test_three_sigkills_then_resume_equal_an_uninterrupted_run(tmp_path, executor):
    if executor == "ray":
        pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    reference = finish(tmp_path / "uninterrupted", executor)[0].set_index("episode_key")
    planned = len(reference)
    assert planned == 8 and reference["error"].isna().all()
    assert reference["success"].any() and reference["steps"].nunique() > 1  # the comparison can fail

    seen = kill_at_random_moments(tmp_path / "killed", executor, random.Random(7), planned)
    assert seen == sorted(seen) and seen[-1] < planned, seen
    (run_dir,) = [p for p in (tmp_path / "killed").iterdir() if p.is_dir()]
    kept = {key: row["wall_s"] for key, row in read_rows(run_dir).items()}
    resumed, summary = finish(tmp_path / "killed", executor)
    assert f"{planned - len(kept)} episodes run, {len(kept)} already done" in summary, summary
    assert {key: resumed.set_index("episode_key").loc[key, "wall_s"] for key in kept} == kept  # not re-run
    assert resumed["episode_key"].is_unique and len(resumed) == planned
    resumed = resumed.set_index("episode_key")
    assert sorted(resumed.index) == sorted(reference.index)
    pd.testing.assert_frame_equal(resumed.loc[reference.index, SAME], reference[SAME])
