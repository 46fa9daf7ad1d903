"""Throughput of a full evaluation: LIBERO's own vectorised loop against agra-bench, same work.

Every variant is a fresh process, timed whole (imports, env construction, resets, records):
  libero_vector   LIBERO's SubprocVectorEnv of N OffScreenRenderEnvs (its evaluation script's
                  pattern): per batch of N episodes, reset, set_init_state, 10 settle steps,
                  then random actions for every env until the step cap
  agra_local      `agra-bench run --policy random --workers N`
  agra_ray        `agra-bench run --policy random --workers N --executor ray` (a local Ray
                  instance started by the run, with N CPUs)
Same suite, task, episodes (init states 0..E-1), step cap, image size and random policy.
Prints env-steps/s and episodes/hour per variant and the ratios on lines containing `ratio`.

    python bench/throughput.py            # 4 episodes x 100 steps, 2 workers, 3 repeats
    python bench/throughput.py --quick    # 2 episodes x 20 steps, 1 repeat (under a minute)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from rollout_overhead import timed  # same fresh-process timing as the overhead benchmark


def libero_vector(suite: str, task_id: int, episodes: int, steps: int, size: int, workers: int) -> None:
    import numpy as np
    from libero.libero.envs import OffScreenRenderEnv, SubprocVectorEnv

    from agra_bench.envs import make_env
    from agra_bench.protocol import OPENPI_PROTOCOL

    probe = make_env(suite, task_id)  # BDDL path and init states only (no simulator)
    args = {"bddl_file_name": probe.bddl_path(), "camera_heights": size, "camera_widths": size}
    env = SubprocVectorEnv([lambda: OffScreenRenderEnv(**args) for _ in range(workers)])
    rng = np.random.default_rng(0)
    for first in range(0, episodes, workers):
        n = min(workers, episodes - first)
        ids = list(range(n))
        env.reset(id=ids)
        env.set_init_state(probe.init_states()[first : first + n], id=ids)
        for _ in range(OPENPI_PROTOCOL.settle_steps):
            env.step(np.tile(OPENPI_PROTOCOL.settle_action, (n, 1)), id=ids)
        for _ in range(steps):
            env.step(rng.uniform(-1, 1, (n, 7)), id=ids)
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="libero_spatial")
    parser.add_argument("--task", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 episodes x 20 steps, 1 repeat")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.steps, args.repeats = 2, 20, 1
    if args.child:
        libero_vector(args.suite, args.task, args.episodes, args.steps, args.image_size, args.workers)
        return
    common = [
        "--suite",
        args.suite,
        "--episodes",
        str(args.episodes),
        "--image-size",
        str(args.image_size),
        "--workers",
        str(args.workers),
    ]
    libero = [
        sys.executable,
        __file__,
        *common,
        "--task",
        str(args.task),
        "--steps",
        str(args.steps),
        "--child",
    ]
    out = Path(tempfile.mkdtemp(prefix="agra-bench-throughput-"))

    def agra(executor: str, repeat: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "agra_bench.cli",
            "run",
            "--policy",
            "random",
            *common,
            "--tasks",
            str(args.task),
            "--max-steps",
            str(args.steps),
            "--executor",
            executor,
            "--no-progress",
            "--out",
            str(out / f"{executor}-{repeat}"),
        ]

    total = args.episodes * args.steps
    walls: dict[str, list[float]] = {"libero_vector": [], "agra_local": [], "agra_ray": []}
    for repeat in range(args.repeats):  # interleaved, so drift hits every variant alike
        walls["libero_vector"].append(timed(libero))
        walls["agra_local"].append(timed(agra("local", repeat)))
        walls["agra_ray"].append(timed(agra("ray", repeat)))
    print(
        f"suite={args.suite} task={args.task} episodes={args.episodes} steps={args.steps} "
        f"image={args.image_size} workers={args.workers} repeats={args.repeats} cpus={os.cpu_count()}"
    )
    median = {name: statistics.median(values) for name, values in walls.items()}
    for name, values in walls.items():
        runs = ", ".join(f"{total / v:.2f}" for v in values)
        print(
            f"{name:14s} {total / median[name]:7.2f} env-steps/s  {3600 * args.episodes / median[name]:8.1f} "
            f"episodes/h   (median wall {median[name]:.1f} s; runs: {runs} steps/s)"
        )
    print(f"ratio agra_local / libero_vector = {median['libero_vector'] / median['agra_local']:.3f}")
    print(f"ratio agra_ray / libero_vector   = {median['libero_vector'] / median['agra_ray']:.3f}")


if __name__ == "__main__":
    main()
