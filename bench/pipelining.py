"""Local executor scheduling with a policy whose cost does not grow with the batch (a GPU).

`FixedLatency` (bench/latency_policy.py) sleeps a fixed time per call, leaving the CPU free, as
a CUDA call does while the device works. Variants, all `agra-bench run` in a fresh process,
same task, episodes and step cap:
  wN_gG   --workers N --env-groups G
G = 1 makes one policy call per control step for all N envs; G = 2 lets one half simulate
while the policy serves the other. Prints env-steps/s per variant (median over --repeats) and
the ratios against w2_g1, the plain one-worker-per-core setting, on lines containing `ratio`.

    python bench/pipelining.py                  # 4 episodes x 150 steps, 100 ms policy, 3 repeats
    python bench/pipelining.py --quick          # 1 repeat
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from rollout_overhead import ENV, timed

BENCH = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="libero_spatial")
    parser.add_argument("--task", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    ENV["PYTHONPATH"] = f"{ENV['PYTHONPATH']}{os.pathsep}{BENCH}"
    ENV["AGRA_BENCH_POLICY_LATENCY_MS"] = str(args.latency_ms)
    out = Path(tempfile.mkdtemp(prefix="agra-bench-pipelining-"))
    variants = {"w2_g1": (2, 1), "w4_g1": (4, 1), "w4_g2": (4, 2)}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats):  # interleaved, so drift hits every variant alike
        for name, (workers, groups) in variants.items():
            command = [
                sys.executable, "-m", "agra_bench.cli", "run",
                "--policy", "latency_policy:FixedLatency",
                "--suite", args.suite, "--tasks", str(args.task),
                "--episodes", str(args.episodes), "--max-steps", str(args.steps),
                "--image-size", str(args.image_size),
                "--workers", str(workers), "--env-groups", str(groups),
                "--no-progress", "--out", str(out / f"{name}-{repeat}"),
            ]  # fmt: skip
            walls[name].append(timed(command))
    total = args.episodes * args.steps
    print(
        f"suite={args.suite} task={args.task} episodes={args.episodes} steps={args.steps} "
        f"image={args.image_size} latency={args.latency_ms} ms repeats={args.repeats} cpus={os.cpu_count()}"
    )
    median = {name: statistics.median(values) for name, values in walls.items()}
    for name, values in walls.items():
        runs = ", ".join(f"{total / v:.2f}" for v in values)
        print(
            f"{name:6s} {total / median[name]:7.2f} env-steps/s  "
            f"(median wall {median[name]:.1f} s; runs: {runs})"
        )
    for name in ("w4_g1", "w4_g2"):
        print(f"ratio {name} / w2_g1 = {median['w2_g1'] / median[name]:.3f}")


if __name__ == "__main__":
    main()
