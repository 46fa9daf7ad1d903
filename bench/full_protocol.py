"""The complete evaluation protocol of one suite, timed end to end in a fresh process.

    python bench/full_protocol.py --suite libero_10 --policy random [--workers 2] [--out DIR]

Runs `agra-bench run --policy P --suite S --tasks all` with the protocol's episodes (50 per
task, init states 0-49) and step caps (libero_10: 520), the clean arm, default rendering (on
demand) and image size. Prints episodes, env steps, wall time and `full_protocol_minutes=<m>`
(target for libero_10 with `random` on 2 cores: <= 30). The run folder is kept (pass --out to
choose it); a rerun of the same command resumes it, so time a fresh folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import ROOT as REPO
from common import bench_parser  # bench/common.py: also puts the repository on the path

from agra_bench.records import read_rows


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--suite", default="libero_10")
    parser.add_argument("--policy", default="random")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", default="all", help="a subset to time, e.g. 0 (then say so when quoting)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--extra", default="", help="more `agra-bench run` options, quoted")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="agra-full-protocol-"))
    command = [sys.executable, "-m", "agra_bench.cli", "run", "--policy", args.policy, "--suite", args.suite,
               "--tasks", args.tasks, "--workers", str(args.workers), "--no-progress", "--out", str(out),
               *args.extra.split()]  # fmt: skip
    tic = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    wall = time.perf_counter() - tic
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    rows = pd.DataFrame(list(read_rows(run_dir).values()))
    steps = int(rows["steps"].sum())
    print(
        f"suite={args.suite} tasks={args.tasks} policy={args.policy} workers={args.workers} "
        f"episodes={len(rows)} "
        f"env_steps={steps} errors={int(rows['error'].notna().sum())} wall={wall:.0f}s "
        f"steps_per_s={steps / wall:.1f} run={run_dir}"
    )
    print(f"full_protocol_minutes={wall / 60:.2f}")


if __name__ == "__main__":
    main()
