"""Per-reset cost of each perturbation family against a clean reset, in the same run.

One env (one task) is built once; for every family the same init states are reset with the
family at severity 3, interleaved with clean resets so drift hits both alike. Prints the median
reset time per family (ms), the extra cost over a clean reset and the ratio, that ratio again as
`reset_cost_ratio_<family>=`. Families that cannot edit the suite's scenes (distractor on
robosuite) are left out.

    python bench/perturb_cost.py                 # libero_spatial task 0, 5 resets each
    python bench/perturb_cost.py --resets 2      # quicker
"""

from __future__ import annotations

import statistics
import time

from common import (
    add_scene_options,
    bench_parser,
    print_figure,
    scene_env,
)  # bench/common.py: repository on the path

from agra_bench.suites import suite_kind
from perturbations import families, parse_spec


def timed_reset(env, arm, seed: int) -> float:
    env.set_arm(arm)
    start = time.perf_counter()
    env.reset(seed=seed, options={"init_state_id": seed % 50})
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = bench_parser(__doc__)
    add_scene_options(parser)
    parser.add_argument("--resets", type=int, default=5)
    parser.add_argument("--severity", type=int, default=3)
    args = parser.parse_args()
    env = scene_env(args)
    timed_reset(env, None, 0)  # build the simulator outside the measurement
    kind = suite_kind(args.suite)
    names = [f for f, cls in families().items() if f != "none" and kind in cls.suite_kinds]
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
    for name in names:
        print_figure(f"reset_cost_ratio_{name}", statistics.median(cost[name]) / base)


if __name__ == "__main__":
    main()
