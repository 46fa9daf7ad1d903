"""Per-reset cost of each perturbation family against a clean reset, in the same run.

One env (one task) is built once; for every family the same init states are reset with the
family at severity 3, interleaved with clean resets so drift hits both alike. Prints the median
reset time per family (ms), the extra cost over a clean reset and the ratio.

    python bench/perturb_cost.py                 # libero_spatial task 0, 5 resets each
    python bench/perturb_cost.py --resets 2      # quicker
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agra_bench.envs.settings import EnvSettings  # noqa: E402
from perturbations import families, parse_spec  # noqa: E402


def timed_reset(env, arm, seed: int) -> float:
    env.set_arm(arm)
    start = time.perf_counter()
    env.reset(seed=seed, options={"init_state_id": seed % 50})
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="libero_spatial")
    parser.add_argument("--task", type=int, default=0)
    parser.add_argument("--resets", type=int, default=5)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    env = EnvSettings(image_size=args.image_size).make(args.suite, args.task)
    timed_reset(env, None, 0)  # build the simulator outside the measurement
    names = [f for f in families() if f != "none"]
    clean: list[float] = []
    cost: dict[str, list[float]] = {name: [] for name in names}
    for seed in range(args.resets):
        for name in names:
            clean.append(timed_reset(env, None, seed))
            cost[name].append(timed_reset(env, parse_spec(name, args.severity)[0], seed))
    env.close()
    base = statistics.median(clean)
    print(
        f"suite={args.suite} task={args.task} severity={args.severity} image={args.image_size} "
        f"resets={args.resets} (medians)"
    )
    print(f"{'clean':14s} {base:8.1f} ms")
    for name in names:
        value = statistics.median(cost[name])
        print(f"{name:14s} {value:8.1f} ms   extra {value - base:+8.1f} ms   ratio {value / base:5.2f}")


if __name__ == "__main__":
    main()
