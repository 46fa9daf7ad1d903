"""Env-steps/s of the agra-bench harness against bare loops over the same LIBERO scene.

Every variant runs as a fresh process (as a user's own script would), on the same task,
episodes and step count, with random actions; its whole wall time is counted, including
imports, env construction and, for the harness, worker start-up and Parquet records:
  libero_loop   LIBERO's own evaluation loop: OffScreenRenderEnv, reset, set_init_state,
                10 settle steps, policy steps (LIBERO's default render settings)
  env_loop      the same episodes through agra-bench's gymnasium env in a plain for-loop
                (no runner, no workers, no records): isolates the harness overhead
  harness_wN    `agra-bench run --policy random ... --workers N`
Throughput counts policy steps only. Prints medians over --repeats and the ratios.

    python bench/rollout_overhead.py            # ~15 min on 2 CPU cores
    python bench/rollout_overhead.py --quick    # ~2 min
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONPATH": str(REPO)}


def libero_loop(suite: str, task_id: int, episodes: int, steps: int, size: int) -> None:
    import numpy as np
    from libero.libero.envs import OffScreenRenderEnv

    from agra_bench.envs.settings import EnvSettings
    from agra_bench.protocol import OPENPI_PROTOCOL

    probe = EnvSettings().make(suite, task_id)  # only for the BDDL path and init states (no simulator)
    rng = np.random.default_rng(0)
    env = OffScreenRenderEnv(bddl_file_name=probe.bddl_path(), camera_heights=size, camera_widths=size)
    for episode in range(episodes):
        env.reset()
        env.set_init_state(probe.init_states()[episode])
        for _ in range(OPENPI_PROTOCOL.settle_steps):
            env.step(list(OPENPI_PROTOCOL.settle_action))
        for _ in range(steps):
            env.step(rng.uniform(-1, 1, 7))


def env_loop(suite: str, task_id: int, episodes: int, steps: int, size: int) -> None:
    import numpy as np

    from agra_bench.envs.settings import EnvSettings

    rng = np.random.default_rng(0)
    env = EnvSettings(image_size=size, max_steps=steps).make(suite, task_id)
    for episode in range(episodes):
        env.reset(seed=episode, options={"init_state_id": episode})
        for _ in range(steps):
            env.step(rng.uniform(-1, 1, 7))


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, check=True, env=ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="libero_spatial")
    parser.add_argument("--task", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 episodes x 40 steps, 1 repeat")
    parser.add_argument("--variant", choices=["libero_loop", "env_loop"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.steps, args.repeats = 2, 40, 1
    common = (args.suite, args.task, args.episodes, args.steps, args.image_size)
    if args.variant:  # child process: run one bare loop and exit
        {"libero_loop": libero_loop, "env_loop": env_loop}[args.variant](*common)
        return

    me = [
        sys.executable,
        __file__,
        "--suite",
        args.suite,
        "--task",
        str(args.task),
        "--episodes",
        str(args.episodes),
        "--steps",
        str(args.steps),
        "--image-size",
        str(args.image_size),
    ]
    out = Path(tempfile.mkdtemp(prefix="agra-bench-overhead-"))

    def harness(workers: int, repeat: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "agra_bench.cli",
            "run",
            "--policy",
            "random",
            "--suite",
            args.suite,
            "--tasks",
            str(args.task),
            "--episodes",
            str(args.episodes),
            "--max-steps",
            str(args.steps),
            "--image-size",
            str(args.image_size),
            "--workers",
            str(workers),
            "--no-progress",
            "--out",
            str(out / f"w{workers}-r{repeat}"),
        ]

    samples: dict[str, list[float]] = {n: [] for n in ("libero_loop", "env_loop", "harness_w1", "harness_w2")}
    total_steps = args.episodes * args.steps
    for repeat in range(args.repeats):  # interleaved so drift hits every variant alike
        samples["libero_loop"].append(total_steps / timed([*me, "--variant", "libero_loop"]))
        samples["env_loop"].append(total_steps / timed([*me, "--variant", "env_loop"]))
        samples["harness_w1"].append(total_steps / timed(harness(1, repeat)))
        samples["harness_w2"].append(total_steps / timed(harness(2, repeat)))
    print(
        f"suite={args.suite} task={args.task} episodes={args.episodes} steps={args.steps} "
        f"image={args.image_size} repeats={args.repeats} cpus={os.cpu_count()}"
    )
    med = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:12s} median {med[name]:7.2f} env-steps/s   runs: {runs}")
    print(f"ratio harness_w1 / env_loop    = {med['harness_w1'] / med['env_loop']:.3f}  (target >= 0.95)")
    print(f"ratio harness_w1 / libero_loop = {med['harness_w1'] / med['libero_loop']:.3f}")
    print(f"ratio harness_w2 / harness_w1  = {med['harness_w2'] / med['harness_w1']:.3f}  (target >= 1.7)")


if __name__ == "__main__":
    main()
