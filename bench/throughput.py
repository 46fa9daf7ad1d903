"""Throughput of a full evaluation: LIBERO's own vectorised loop against agra-bench, same work.

Every variant is a fresh process, timed whole (imports, env construction, resets, records):
  libero_vector   LIBERO's SubprocVectorEnv of N OffScreenRenderEnvs (its evaluation script's
                  pattern, which renders both cameras at every step): per batch of N episodes,
                  reset, set_init_state, 10 settle steps, then random actions until the step cap
  agra_local      `agra-bench run --policy random --workers N` (blind: renders only obs 0)
  agra_ray        the same with `--executor ray` (a local Ray instance with N CPUs)
  physics_limit   the same episodes (hard reset, settle steps, every step) with the cameras
                  off, in one bare process per worker: no harness, no records, no policy process
  libero_chunk8   LIBERO's loop running bench/chunk_policy.py (reads agentview, 8 actions per call)
  agra_chunk8     `agra-bench run --policy bench.chunk_policy:Chunk8Policy` (renders agentview
                  once per chunk)
Same suite, task, episodes (init states 0..E-1), step cap and image size everywhere.
Prints env-steps/s per variant and the figures on `name=value` lines:
  ratio_blind   = libero_vector / agra_local wall time   (target >= 5 on 2 cores)
  limit_blind   = physics_limit / agra_local wall time   (target >= 0.8)
  ratio_chunk8  = libero_chunk8 / agra_chunk8 wall time  (target >= 3)
and the earlier lines `ratio agra_local / libero_vector`, `ratio agra_ray / libero_vector`.

    python bench/throughput.py            # 10 episodes x 220 steps, 2 workers, 3 repeats
    python bench/throughput.py --quick    # 2 episodes x 20 steps, 1 repeat (under a minute)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from chunk_policy import CHUNK, chunk_from_image
from rollout_overhead import timed  # same fresh-process timing as the overhead benchmark


def libero_vector(
    suite: str, task_id: int, episodes: int, steps: int, size: int, workers: int, chunked: bool = False
) -> None:
    import numpy as np
    from libero.libero.envs import OffScreenRenderEnv, SubprocVectorEnv

    from agra_bench.envs.settings import EnvSettings
    from agra_bench.protocol import OPENPI_PROTOCOL

    probe = EnvSettings().make(suite, task_id)  # BDDL path and init states only (no simulator)
    args = {"bddl_file_name": probe.bddl_path(), "camera_heights": size, "camera_widths": size}
    env = SubprocVectorEnv([lambda: OffScreenRenderEnv(**args) for _ in range(workers)])
    rng = np.random.default_rng(0)
    for first in range(0, episodes, workers):
        n = min(workers, episodes - first)
        ids = list(range(n))
        env.reset(id=ids)
        env.set_init_state(probe.init_states()[first : first + n], id=ids)
        for _ in range(OPENPI_PROTOCOL.settle_steps):
            obs = env.step(np.tile(OPENPI_PROTOCOL.settle_action, (n, 1)), id=ids)[0]
        chunks = None
        for step in range(steps):
            if not chunked:
                env.step(rng.uniform(-1, 1, (n, 7)), id=ids)
                continue
            if step % CHUNK == 0:  # the policy sees the newest frame once per chunk
                chunks = np.stack([chunk_from_image(o["agentview_image"][::-1, ::-1]) for o in obs])
            obs = env.step(chunks[:, step % CHUNK], id=ids)[0]
    env.close()


def physics_worker(suite: str, task_id: int, episodes: list[int], steps: int) -> None:
    import numpy as np

    from agra_bench.envs.settings import EnvSettings
    from agra_bench.plan import episode_seed

    env = EnvSettings(render_images=False, max_steps=steps).make(suite, task_id)
    rng = np.random.default_rng(0)
    for episode in episodes:
        env.reset(seed=episode_seed(0, task_id, episode), options={"init_state_id": episode})
        for _ in range(steps):
            env.step(rng.uniform(-1, 1, 7))
    env.close()


def physics_limit(suite: str, task_id: int, episodes: int, steps: int, workers: int) -> None:
    """Episode e on process e mod workers, cameras off: what the cores can do at best."""
    import multiprocessing as mp

    context = mp.get_context("spawn")
    shares = [list(range(i, episodes, workers)) for i in range(workers)]
    processes = [context.Process(target=physics_worker, args=(suite, task_id, s, steps)) for s in shares if s]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a physics worker failed (exit code {process.exitcode})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", default="libero_spatial")
    parser.add_argument("--task", type=int, default=0)
    # 10 episodes of libero_spatial's step cap: long enough that start-up (imports, env
    # construction) does not hide the per-step costs that a full protocol run pays.
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=220)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 episodes x 20 steps, 1 repeat")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.steps, args.repeats = 2, 20, 1
    if args.child == "physics":
        physics_limit(args.suite, args.task, args.episodes, args.steps, args.workers)
        return
    if args.child:
        chunked = args.child == "libero_chunk8"
        libero_vector(
            args.suite, args.task, args.episodes, args.steps, args.image_size, args.workers, chunked
        )
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

    def child(kind: str) -> list[str]:
        return [
            sys.executable,
            __file__,
            *common,
            "--task",
            str(args.task),
            "--steps",
            str(args.steps),
            "--child",
            kind,
        ]

    out = Path(tempfile.mkdtemp(prefix="agra-bench-throughput-"))

    def agra(executor: str, repeat: int, policy: str = "random") -> list[str]:
        return [
            sys.executable,
            "-m",
            "agra_bench.cli",
            "run",
            "--policy",
            policy,
            *common,
            "--tasks",
            str(args.task),
            "--max-steps",
            str(args.steps),
            "--executor",
            executor,
            "--no-progress",
            "--out",
            str(out / f"{executor}-{policy.replace(':', '-')}-{repeat}"),
        ]

    total = args.episodes * args.steps
    variants = {
        "libero_vector": lambda r: child("libero_vector"),
        "agra_local": lambda r: agra("local", r),
        "agra_ray": lambda r: agra("ray", r),
        "physics_limit": lambda r: child("physics"),
        "libero_chunk8": lambda r: child("libero_chunk8"),
        "agra_chunk8": lambda r: agra("local", r, "bench.chunk_policy:Chunk8Policy"),
    }
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats):  # interleaved, so drift hits every variant alike
        for name, command in variants.items():
            walls[name].append(timed(command(repeat)))
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
    print(f"ratio_blind={median['libero_vector'] / median['agra_local']:.3f}")
    print(f"limit_blind={median['physics_limit'] / median['agra_local']:.3f}")
    print(f"ratio_chunk8={median['libero_chunk8'] / median['agra_chunk8']:.3f}")


if __name__ == "__main__":
    main()
