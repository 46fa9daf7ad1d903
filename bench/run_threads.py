"""Does the policy's thread pool slow a CPU run? The same `agra-bench run --policy wam` (local
executor: the parent runs the model, `--workers` processes step and render) under different
OpenMP settings, in fresh processes, variants interleaved round by round.

Why: on a small machine the parent's torch threads and the simulator workers share the cores.
With one policy call per control step the phases alternate (the workers wait for the chunk, the
parent waits for the observations), but OpenMP threads spin-wait after each parallel region by
default, which can steal the cores the workers need next.

    python bench/run_threads.py --checkpoint results/reference/checkpoints/wam-libero_object-s0
    python bench/run_threads.py --checkpoint DIR --variants default,omp1 --rounds 3 --episodes 2

Variants (environment of the whole process tree):
    default   nothing set: torch's own pool (one thread per core), OpenMP's default wait policy
    omp1      OMP_NUM_THREADS=1: the model runs on one thread
    passive   OMP_WAIT_POLICY=PASSIVE: all cores, but idle threads sleep instead of spinning
Prints the median wall seconds per variant (`run_wall_s_<variant>=`), and the ratio of each to
the first variant (`run_speedup_<variant>=`, above 1 means faster). The runs' rows must agree
(same successes and steps): the thread count must not change results beyond float noise, and the
script says when they do not.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd
from common import PROCESS_ENV, ROOT, bench_parser, print_figure, timed

VARIANT_ENV = {
    "default": {},
    "omp1": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")


def variant_env(name: str) -> dict[str, str]:
    """PROCESS_ENV without any inherited thread setting, plus the variant's own."""
    base = {k: v for k, v in PROCESS_ENV.items() if k not in THREAD_VARIABLES}
    return {**base, **VARIANT_ENV[name]}


def run_command(args, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "agra_bench", "run", "--policy", "wam", "--checkpoint", str(args.checkpoint),
        "--suite", args.suite, "--tasks", args.tasks, "--episodes", str(args.episodes),
        "--max-steps", str(args.max_steps), "--workers", str(args.workers), "--no-progress",
        "--protocol", args.protocol, "--render-quality", args.render_quality, "--out", str(out),
    ]  # fmt: skip


def outcome(out: Path) -> list[tuple]:
    """(task, episode, success, steps) of every row the run wrote, sorted."""
    rows = pd.concat(pd.read_parquet(p) for p in out.glob("*/episodes.parquet"))
    return sorted(rows[["task_id", "episode", "success", "steps"]].itertuples(index=False, name=None))


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--suite", default="libero_object")
    parser.add_argument("--tasks", default="0,1")
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--protocol", default="openpi_idseed", help="as the reference arms")
    parser.add_argument("--render-quality", default="tuned", help="as the reference arms")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="default,omp1,passive")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANT_ENV]
    if unknown:
        sys.exit(f"error: unknown variant {unknown[0]!r}; valid: {', '.join(VARIANT_ENV)}")
    walls: dict[str, list[float]] = {v: [] for v in variants}
    outcomes: dict[str, list[tuple]] = {}
    for round_index in range(args.rounds):
        for name in variants:
            out = Path(tempfile.mkdtemp(prefix=f"run-threads-{name}-"))
            try:
                walls[name].append(timed(run_command(args, out), env=variant_env(name), cwd=ROOT))
                outcomes.setdefault(name, outcome(out))
            finally:
                shutil.rmtree(out, ignore_errors=True)
            print(f"round {round_index} {name}: {walls[name][-1]:.1f} s", flush=True)
    first = variants[0]
    medians = {name: statistics.median(walls[name]) for name in variants}
    for name in variants:
        print_figure(f"run_wall_s_{name}", medians[name], 1)
    for name in variants[1:]:
        print_figure(f"run_speedup_{name}", medians[first] / medians[name], 2)
    for name in variants[1:]:
        if outcomes[name] != outcomes[first]:
            print(f"rows differ: {name} against {first} (success or steps)", flush=True)
    print(f"rows_identical={int(all(outcomes[n] == outcomes[first] for n in variants))}")


if __name__ == "__main__":
    main()
