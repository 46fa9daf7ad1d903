"""Learning curve: success of a training run's snapshots on fixed init states (clean arm).

    python bench/learning_curve.py CKPT_DIR --suite robosuite_lift --tasks 0 --episodes 20 \
        [--image-size 64] [--workers 2] [--out ../data/curves] [--steps 1000,2000]

CKPT_DIR is an `agra-bench train` folder run with `--snapshot-every N`: every
`CKPT_DIR/snapshots/step_<N>/` (and the final checkpoint) is evaluated with the real
`agra-bench run` on init states 0..episodes-1 of each task, and one line per step is printed:

    step=1000 success=7/20 rate=0.350 action_loss=0.0912

Evaluations are ordinary runs under `--out`, so an interrupted curve resumes where it stopped.
The policy name (wam or agra) is read from the checkpoint. How to read it: a curve still rising
at its last step says "train longer"; a flat curve with a falling action loss says the recipe
(data, augmentation, horizon), not the step count, is what limits success.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from common import ROOT as REPO
from common import bench_parser  # bench/common.py: also puts the repository on the path


def snapshots(folder: Path) -> list[tuple[int, Path]]:
    """(step, checkpoint folder) pairs, the final checkpoint included, sorted by step."""
    found = {}
    for snap in sorted((folder / "snapshots").glob("step_*")):
        found[int(snap.name.split("_")[1])] = snap
    if (folder / "config.json").exists():
        found.setdefault(int(json.loads((folder / "config.json").read_text()).get("step", 0)), folder)
    return sorted(found.items())


def policy_of(checkpoint: Path) -> str:
    config = json.loads((checkpoint / "config.json").read_text())
    return "agra" if config["wam"]["align_weight"] > 0 else "wam"


def action_loss_at(folder: Path, step: int) -> float | None:
    log = folder / "losses.csv"
    if not log.exists():
        return None
    losses = pd.read_csv(log)
    near = losses[(losses["step"] > step - 100) & (losses["step"] <= step)]
    return float(near["action"].mean()) if len(near) else None


def evaluate(checkpoint: Path, args: argparse.Namespace, out: Path) -> pd.DataFrame:
    command = [
        sys.executable, "-m", "agra_bench.cli", "run",
        "--policy", policy_of(checkpoint), "--checkpoint", str(checkpoint),
        "--suite", args.suite, "--tasks", args.tasks, "--episodes", str(args.episodes),
        "--image-size", str(args.image_size), "--workers", str(args.workers),
        *(["--max-steps", str(args.max_steps)] if args.max_steps else []),
        "--out", str(out), "--no-progress",
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    tables = [pd.read_parquet(p) for p in out.glob("*/episodes.parquet")]
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--suite", required=True)
    parser.add_argument("--tasks", default="0")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="where the runs go [CKPT/curve]")
    parser.add_argument("--steps", default="", help="only these steps, e.g. 1000,3000")
    parser.add_argument("--max-steps", type=int, default=0, help="a shorter step cap (0: the protocol's)")
    args = parser.parse_args()
    wanted = {int(s) for s in args.steps.split(",") if s.strip()}
    out_root = args.out or args.checkpoint / "curve"
    print(
        f"learning curve of {args.checkpoint}: {args.suite} tasks {args.tasks}, {args.episodes} init states"
    )
    for step, checkpoint in snapshots(args.checkpoint):
        if wanted and step not in wanted:
            continue
        rows = evaluate(checkpoint, args, out_root / f"step_{step:06d}")
        errors = int(rows["error"].notna().sum())
        loss = action_loss_at(args.checkpoint, step)
        loss_text = f" action_loss={loss:.4f}" if loss is not None else ""
        print(
            f"step={step} success={int(rows['success'].sum())}/{len(rows)} "
            f"rate={rows['success'].mean():.3f}{loss_text} errors={errors}",
            flush=True,
        )


if __name__ == "__main__":
    main()
