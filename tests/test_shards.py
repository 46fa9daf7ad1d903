"""`run --shard I/N` and `merge`: every planned key in exactly one shard, shards that resume
like runs, a merge that gives the rows of the unsharded run, adds nothing the second time and
refuses shards of another command in one line."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from agra_bench.config import RunConfig
from agra_bench.errors import UsageError
from agra_bench.plan import plan_episodes
from agra_bench.shards import Shard, plan_digest
from tests.conftest import run_cli, run_episodes

pytestmark = pytest.mark.sim

RUN = (
    "--policy noop --suite robosuite_lift --episodes 3 --perturb none,lighting --max-steps 3 --image-size 32"
)
SAME = [
    "episode_key",
    "task_id",
    "episode",
    "init_state_id",
    "seed",
    "perturbation",
    "success",
    "steps",
    "obs0_sha1",
]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 20])
def test_shards_cover_the_plan_exactly_once_and_are_balanced(tmp_path, count):
    config = RunConfig(
        policy="noop", suite="libero_10", tasks="0-3", episodes=5, perturb="none,lighting", out=tmp_path
    )
    plan = plan_episodes(config)
    slices = [Shard(i, count).select(plan) for i in range(count)]
    ids = [k.id for part in slices for k in part]
    assert sorted(ids) == sorted(k.id for k in plan) and len(set(ids)) == len(plan) == 40
    assert max(map(len, slices)) - min(map(len, slices)) <= 1
    assert [len(part) for part in slices] == [Shard(i, count).size_of(len(plan)) for i in range(count)]


def test_a_shard_is_its_own_run_and_the_plan_does_not_depend_on_the_worker_count(tmp_path):
    def config(**kwargs):
        return RunConfig(policy="noop", suite="robosuite_lift", episodes=4, out=tmp_path, **kwargs)

    assert config(shard="1/3").run_id() != config().run_id() != config(shard="2/3").run_id()
    assert config(shard="1/3", workers=4).run_id() == config(shard="1/3").run_id()
    assert config(shard="1/3").identity()["shard"] == "1/3" and "shard" not in config().identity()
    assert plan_digest(plan_episodes(config(workers=4))) == plan_digest(plan_episodes(config()))


@pytest.mark.parametrize("bad", ["3/3", "-1/2", "1", "a/b", "1/0"])
def test_a_bad_shard_is_one_line(tmp_path, bad):
    with pytest.raises(UsageError, match=r"valid: I/N with 0 <= I < N"):
        RunConfig(policy="noop", suite="robosuite_lift", out=tmp_path, shard=bad)


@pytest.mark.slow
def test_shards_then_merge_give_the_unsharded_run(tmp_path):
    whole = run_episodes(tmp_path / "whole", RUN)
    shards = tmp_path / "shards"
    for i, workers in ((0, 1), (1, 2), (2, 1)):  # a different worker count per shard
        run_episodes(shards / str(i), f"{RUN} --shard {i}/3 --workers {workers}")
    # a shard resumes like any run: nothing left to do
    again = run_cli("run", *RUN.split(), "--shard", "1/3", "--no-progress", "--out", str(shards / "1"))
    assert again.returncode == 0 and "0 episodes run, 2 already done (of 2)" in again.stdout
    (shard_dir,) = (shards / "0").iterdir()
    record = json.loads((shard_dir / "manifest.json").read_text())["shard"]
    assert (record["index"], record["count"], record["episodes"], record["plan_size"]) == (0, 3, 2, 6)

    merged = run_cli("merge", str(shards), "--out", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr
    assert "6 episodes added" in merged.stdout
    (merged_dir,) = (tmp_path / "merged").iterdir()
    (whole_dir,) = (tmp_path / "whole").iterdir()
    assert merged_dir.name == whole_dir.name  # the folder the unsharded command writes
    rows = pd.read_parquet(merged_dir / "episodes.parquet").sort_values("episode_key").reset_index(drop=True)
    assert rows[SAME].equals(whole.sort_values("episode_key").reset_index(drop=True)[SAME])
    assert set(rows["run_id"]) == {merged_dir.name}

    # idempotent: merging again, with a copy of a shard among the inputs, adds nothing
    shutil.copytree(shards / "1", tmp_path / "copy_of_1")
    again = run_cli("merge", str(shards), str(tmp_path / "copy_of_1"), "--out", str(tmp_path / "merged"))
    assert again.returncode == 0 and "0 episodes added, 6 already there, 2 duplicate(s)" in again.stdout
    assert "warning" not in again.stderr
    # the unsharded command on the merged folder finds nothing to run
    resumed = run_cli("run", *RUN.split(), "--no-progress", "--out", str(tmp_path / "merged"))
    assert "0 episodes run, 6 already done (of 6)" in resumed.stdout

    # a report over the unmerged shards reads them as one run (the same arms and rates)
    report = run_cli("report", str(shards), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    board = pd.read_csv(tmp_path / "report" / "leaderboard.csv")
    assert sorted(board["episodes"]) == [3, 3] and "incomplete" not in report.stdout


def test_merge_refuses_shards_of_another_command_in_one_line(tmp_path):
    run_episodes(tmp_path / "in" / "a", f"{RUN} --shard 0/2")
    run_episodes(tmp_path / "in" / "b", f"{RUN.replace('--max-steps 3', '--max-steps 4')} --shard 1/2")
    result = run_cli("merge", str(tmp_path / "in"), "--out", str(tmp_path / "merged"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and "max_steps is 4 there and 3 here" in lines[0]
        and "only --shard differs" in lines[0]
    )


def test_conflicting_rows_for_one_key_warn_and_keep_the_row_without_an_error(tmp_path):
    from agra_bench.merge import merge
    from tests.helpers.synthetic_runs import episode_row, write_run

    for run, error in (("a", "RuntimeError: boom"), ("b", None)):
        row = episode_row(run, "noop", 0, 0, "none", False, error=error)
        path = write_run(tmp_path / "in", run, [row]).parent
        identity = {"policy": "noop", "suite": "libero_object", "episodes": 1}
        manifest = {"identity": {**identity, "shard": f"{run == 'b':d}/2"}, "config": {"policy": "noop"}}
        (path / "manifest.json").write_text(json.dumps(manifest))
    summary = merge([tmp_path / "in"], tmp_path / "out")
    assert summary.added == 1 and len(summary.warnings) == 1 and "kept b's" in summary.warnings[0]
    kept = pd.read_parquet(summary.run_dir / "episodes.parquet")
    assert kept["error"].isna().all()


STAND_IN_SBATCH = """#!/usr/bin/env bash
# sbatch stand-in: runs the array's tasks one after the other on this machine
set -euo pipefail
range="${1#--array=}"; script="$2"
first="${range%-*}"; last="${range#*-}"
for ((i = first; i <= last; i++)); do
    SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=$((last - first + 1)) bash "$script"
done
"""


def test_the_documented_slurm_script_runs_as_shown(tmp_path):
    import os
    import re
    import subprocess
    import sys

    from tests.conftest import REPO

    doc = (REPO / "docs" / "scaling.md").read_text()
    shown = re.search(r"`scripts/slurm_eval.sh` \(shown whole\):\n\n```bash\n(.*?)```", doc, re.S)
    assert shown and shown[1] == (REPO / "scripts" / "slurm_eval.sh").read_text()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(STAND_IN_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "EVAL_ARGS": RUN,
        "OUT": str(tmp_path / "shards"),
    }
    for command in (
        "sbatch --array=0-3 scripts/slurm_eval.sh",
        f"agra-bench merge {tmp_path}/shards --out {tmp_path}",
    ):
        done = subprocess.run(command.split(), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["0", "1", "2", "3"]
    merged = [p for p in tmp_path.iterdir() if p.name.startswith("noop-")]
    assert len(merged) == 1
    rows = pd.read_parquet(merged[0] / "episodes.parquet")
    assert len(rows) == len(set(rows["episode_key"])) == 6 and rows["error"].isna().all()
