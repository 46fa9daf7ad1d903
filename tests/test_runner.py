"""The runner on real scenes: Parquet + manifest + MP4, determinism across worker counts,
an episode that raises being recorded while the run goes on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import imageio.v3 as iio
import pandas as pd
import pyarrow.parquet as pq
import pytest

from agra_bench import SCHEMA_VERSION
from agra_bench.records import EPISODE_SCHEMA
from policies.wam.precision import cpu_has_fast_bf16
from tests.conftest import CLI, REPO, run_cli, run_episodes

pytestmark = pytest.mark.sim
SMALL = ["--image-size", "32", "--no-progress"]


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_rows_carry_their_condition(tmp_path):
    df = run_episodes(
        tmp_path, "--policy noop --suite robosuite_lift --episodes 1 --max-steps 2 --image-size 32"
    )
    row = df.iloc[0]
    assert (row["image_size"], row["render_quality"]) == (32, "standard") and pd.isna(row["checkpoint_sha1"])
    assert (row["protocol"], row["max_steps"], row["policy"]) == ("openpi", 2, "noop")


def test_libero_run_writes_parquet_manifest_and_video(tmp_path):
    result = run_cli(
        "run",
        "--policy",
        "random",
        "--suite",
        "libero_10",
        "--tasks",
        "0",
        "--episodes",
        "2",
        "--max-steps",
        "6",
        "--video",
        "1",
        "--out",
        str(tmp_path),
        *SMALL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    table = pq.read_table(run_dir / "episodes.parquet")
    assert table.schema.equals(EPISODE_SCHEMA)
    df = table.to_pandas()
    assert list(df["episode"]) == [0, 1] and list(df["init_state_id"]) == [0, 1]
    assert df["error"].isna().all()
    assert (df["steps"] == 6).all() and df["hit_step_cap"].all() and (df["max_steps"] == 6).all()
    assert (df["goal_conditions"] == 2).all() and (df["goal_conditions_met"] == 0).all()  # soup, sauce
    assert set(df["perturbation"]) == {"none"} and set(df["suite"]) == {"libero_10"}
    assert df["instruction"][0].startswith("put both the alphabet soup")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["run_id"] == run_dir.name == df["run_id"][0]
    assert manifest["protocol"]["name"] == "openpi" and manifest["protocol"]["settle_steps"] == 10
    assert manifest["image_convention"].startswith("rot180")
    assert manifest["versions"]["robosuite"].startswith("1.4")
    assert manifest["schema_version"] == SCHEMA_VERSION and "git_sha" in manifest
    video = run_dir / df["video"][0]
    assert video.name == "libero_10_task00_ep000_none_id_fail.mp4"
    frames = iio.imread(video)
    assert frames.shape == (7, 32, 64, 3)  # first observation + 6 steps; agentview | wrist
    assert pd.isna(df["video"][1])


def test_robosuite_run(tmp_path):
    df = run_episodes(
        tmp_path, "--policy noop --suite robosuite_lift --episodes 2 --max-steps 5 --image-size 32"
    )
    assert len(df) == 2 and (df["steps"] == 5).all() and not df["success"].any()
    assert (df["goal_conditions"] == 1).all() and (df["goal_conditions_met"] == 0).all()


def test_a_resumed_run_reports_the_whole_runs_result(tmp_path):
    args = ["run", "--policy", "noop", "--suite", "robosuite_lift", "--episodes", "2", "--max-steps", "2"]
    args += [*SMALL, "--out", str(tmp_path)]
    first, again = run_cli(*args), run_cli(*args)
    assert first.returncode == 0 and again.returncode == 0, again.stderr[-3000:]
    first_line, again_line = (" ".join(r.stdout.split()) for r in (first, again))  # rich wraps lines
    assert "2 episodes run, 0 already done (of 2); success 0/2 (0.0%), errors 0" in first_line
    # Nothing left to run: the line still gives the run's success, not 0/0 of this call.
    assert "0 episodes run, 2 already done (of 2); success 0/2 (0.0%), errors 0" in again_line
    # ... and leaves the manifest as the session that ran the episodes wrote it.
    (manifest,) = tmp_path.glob("*/manifest.json")
    (session,) = json.loads(manifest.read_text())["sessions"]
    # The session names its machine (the CPU, and whether it does bf16 natively, as torch sees it);
    # `noop` has no inference precision.
    assert session["machine"]["cpu"] and session["machine"]["bf16_native"] == cpu_has_fast_bf16()
    assert session["precision"] is None


@pytest.mark.slow
def test_same_key_same_first_observation_with_one_and_two_workers(tmp_path):
    digests = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        df = run_episodes(
            out,
            "--policy random --suite libero_spatial --tasks 0,1 --episodes 2 --max-steps 2"
            f" --workers {workers} --image-size 32",
        )
        assert len(df) == 4
        digests[workers] = dict(zip(df["episode_key"], df["obs0_sha1"], strict=True))
    assert digests[1] == digests[2]
    assert len(set(digests[1].values())) == 4  # different keys, different scenes


def test_an_episode_that_raises_is_recorded_and_the_run_goes_on(tmp_path):
    df = run_episodes(
        tmp_path,
        "--policy tests.helpers.faulty_policy:FailSecondEpisode --suite robosuite_lift --episodes 3"
        " --max-steps 3 --image-size 32",
    ).set_index("episode")
    run_dir = only_run_dir(tmp_path)
    error = (
        "PolicyCallError: policy 'fail_second_episode' failed: RuntimeError: injected failure in episode 2"
    )
    assert df.loc[1, "error"] == error and df.loc[1, "error_type"] == "policy"
    assert df.loc[[0, 2], "error"].isna().all() and (df.loc[[0, 2], "steps"] == 3).all()
    logs = list((run_dir / "logs").iterdir())
    assert len(logs) == 1 and "injected failure" in logs[0].read_text()


def test_bad_actions_end_their_episode_before_reaching_the_simulator(tmp_path):
    df = run_episodes(
        tmp_path,
        "--policy tests.helpers.faulty_policy:BadActionsByEpisode --suite robosuite_lift --episodes 5"
        " --max-steps 4 --image-size 32",
    ).set_index("episode")
    name = "policy 'bad_actions_by_episode'"
    expected = {
        0: f"PolicyCallError: {name} returned 14 non-finite action value(s) (NaN or inf)",
        1: f"PolicyCallError: {name} returned actions of shape (1, 2, 6), expected (1, 2, 7)",
        2: f"PolicyCallError: {name} returned actions of dtype <U32, expected float",
        3: f"PolicyCallError: {name} returned 1 non-finite action value(s) (NaN or inf)",
    }
    for episode, error in expected.items():
        assert df.loc[episode, "error"] == error and df.loc[episode, "error_type"] == "policy"
    # A bad chunk is refused whole: the fourth episode (+inf in the second action of its first
    # chunk) took no step either, and the good episode after them runs to its cap.
    assert (df.loc[list(expected), "steps"] == 0).all()
    assert pd.isna(df.loc[4, "error"]) and df.loc[4, "steps"] == 4


def test_workers_exit_when_the_runner_is_terminated(tmp_path):
    """SIGTERM to the runner alone (not its process group): its workers must not live on."""
    args = [
        "run",
        "--policy",
        "random",
        "--suite",
        "robosuite_lift",
        "--episodes",
        "20",
        "--max-steps",
        "50",
        "--workers",
        "2",
        "--no-progress",
        "--out",
        str(tmp_path),
        *SMALL,
    ]
    proc = subprocess.Popen(
        [*CLI, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not list(tmp_path.glob("*/episodes.journal.jsonl")):
            time.sleep(0.5)  # the workers are busy with episodes once the first row is written
        children = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        assert children, "the runner started no workers"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        alive = children
        for _ in range(40):  # up to 20 s for the children to go
            alive = [
                pid
                for pid in alive
                if Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
            ]
            if not alive:
                break
            time.sleep(0.5)
        assert not alive, f"workers {alive} outlived the runner"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
