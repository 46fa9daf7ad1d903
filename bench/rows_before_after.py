"""Same commands, old code and new code: are the episode rows identical?

A refactor of the episode loop must not change results. This script checks out REF (a commit)
into a temporary git worktree, runs a fixed set of small `agra-bench run` commands (real LIBERO
and robosuite scenes, several perturbation families, 1 and 2 workers) with that code and with
the working tree's, and compares success, steps, obs0_sha1 and perturb_params episode by
episode (joined on task, episode and perturbation).

    python bench/rows_before_after.py --ref 007d94e [--only 1]   # only the lift command: ~30 s

Prints `rows_compared=N` and `rows_identical=N` (identical when they are equal), and the wall
time of the commands with each code (one run each, alternating old then new).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import ROOT as REPO
from common import bench_parser  # bench/common.py: also puts the repository on the path

COMMANDS = [
    "--policy random --suite libero_object --tasks 0,1 --episodes 2 --max-steps 20"
    " --perturb none,lighting,distractor,camera --image-size 64",
    "--policy scripted --suite robosuite_lift --episodes 2 --max-steps 80 --perturb none,texture"
    " --image-size 32",
    "--policy random --suite libero_spatial --tasks 0 --episodes 2 --max-steps 10"
    " --perturb none,robot_init,noise,background,object_color,language,lighting+noise --workers 2"
    " --image-size 32",
]
COMPARED = ["success", "steps", "obs0_sha1", "perturb_params"]
JOIN = ["suite", "task_id", "episode", "perturbation"]


def run_all(commands: list[str], code: Path, out: Path) -> tuple[pd.DataFrame, float]:
    """Every command with `code`; (all rows, total wall seconds of the runs)."""
    frames, wall = [], 0.0
    for i, command in enumerate(commands):
        target = out / f"c{i}"
        start = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "agra_bench.cli",
                "run",
                *command.split(),
                "--no-progress",
                "--out",
                str(target),
            ],
            cwd=code,
            env={**os.environ, "PYTHONPATH": str(code)},
            capture_output=True,
            text=True,
        )
        wall += time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"{code}: `{command}` failed:\n{result.stderr[-2000:]}")
        frames += [pd.read_parquet(p) for p in target.glob("*/episodes.parquet")]
    return pd.concat(frames, ignore_index=True), wall


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--ref", required=True, help="the old commit")
    parser.add_argument("--only", default="", help="indexes of COMMANDS to run, e.g. 1 (default: all)")
    args = parser.parse_args()
    commands = [COMMANDS[int(i)] for i in args.only.split(",")] if args.only else COMMANDS
    with tempfile.TemporaryDirectory() as tmp:
        old_code = Path(tmp) / "old"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old_code), args.ref], cwd=REPO, check=True
        )
        try:
            old, old_wall = run_all(commands, old_code, Path(tmp) / "old-out")
            new, new_wall = run_all(commands, REPO, Path(tmp) / "new-out")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_code)], cwd=REPO, check=True)
    merged = old[JOIN + COMPARED].merge(new[JOIN + COMPARED], on=JOIN, suffixes=("_old", "_new"), how="outer")
    same = pd.Series(True, index=merged.index)
    for column in COMPARED:
        same &= merged[f"{column}_old"].astype(str) == merged[f"{column}_new"].astype(str)
    for row in merged[~same].itertuples():
        print(f"differs: {row}")
    print(f"rows_old={len(old)}")
    print(f"rows_new={len(new)}")
    print(f"rows_compared={len(merged)}")
    print(f"rows_identical={int(same.sum())}")
    print(f"wall_old_s={old_wall:.1f}")
    print(f"wall_new_s={new_wall:.1f}")
    print(
        f"wall_ratio_new_over_old={new_wall / old_wall:.3f}  (one run each: a sanity check, not a benchmark)"
    )


if __name__ == "__main__":
    main()
