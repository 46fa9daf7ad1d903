"""The bare loops bench/env_steps.py times against the harness, each run in a fresh process
(`env_steps.py --child NAME`): LIBERO's own loops, our env in a plain for-loop, and bare
physics processes. Same suite, task, episodes (init states 0..E-1), steps and image size as
the harness variants; random actions after LIBERO's settle steps.
"""

from __future__ import annotations

import argparse

from chunk_policy import CHUNK, chunk_from_image


def libero_loop(args: argparse.Namespace) -> None:
    """LIBERO's evaluation loop in one process: OffScreenRenderEnv, reset, set_init_state, the
    settle steps, then the policy steps (LIBERO's default render settings)."""
    import numpy as np
    from libero.libero.envs import OffScreenRenderEnv

    from agra_bench.protocol import OPENPI_PROTOCOL

    probe = _probe(args)
    rng = np.random.default_rng(0)
    size = args.image_size
    env = OffScreenRenderEnv(bddl_file_name=probe.bddl_path(), camera_heights=size, camera_widths=size)
    for episode in range(args.episodes):
        env.reset()
        env.set_init_state(probe.init_states()[episode])
        for _ in range(OPENPI_PROTOCOL.settle_steps):
            env.step(list(OPENPI_PROTOCOL.settle_action))
        for _ in range(args.steps):
            env.step(rng.uniform(-1, 1, 7))


def libero_vector(args: argparse.Namespace, chunked: bool = False) -> None:
    """LIBERO's SubprocVectorEnv of --workers OffScreenRenderEnvs (its evaluation script's
    pattern, rendering both cameras at every step), batches of --workers episodes; with
    `chunked`, the chunk-8 image policy of bench/chunk_policy.py drives it."""
    import numpy as np
    from libero.libero.envs import OffScreenRenderEnv, SubprocVectorEnv

    from agra_bench.protocol import OPENPI_PROTOCOL

    probe, workers, episodes = _probe(args), args.workers, args.episodes
    options = {"bddl_file_name": probe.bddl_path(), "camera_heights": args.image_size}
    options["camera_widths"] = args.image_size
    env = SubprocVectorEnv([lambda: OffScreenRenderEnv(**options) for _ in range(workers)])
    rng = np.random.default_rng(0)
    for first in range(0, episodes, workers):
        n = min(workers, episodes - first)
        ids = list(range(n))
        env.reset(id=ids)
        env.set_init_state(probe.init_states()[first : first + n], id=ids)
        for _ in range(OPENPI_PROTOCOL.settle_steps):
            obs = env.step(np.tile(OPENPI_PROTOCOL.settle_action, (n, 1)), id=ids)[0]
        chunks = None
        for step in range(args.steps):
            if not chunked:
                env.step(rng.uniform(-1, 1, (n, 7)), id=ids)
                continue
            if step % CHUNK == 0:  # the policy sees the newest frame once per chunk
                chunks = np.stack([chunk_from_image(o["agentview_image"][::-1, ::-1]) for o in obs])
            obs = env.step(chunks[:, step % CHUNK], id=ids)[0]
    env.close()


def env_loop(args: argparse.Namespace) -> None:
    """The same episodes through agra-bench's gymnasium env in a plain for-loop (no runner, no
    workers, no records): the harness's overhead is what agra_w1 adds to this."""
    import numpy as np

    from agra_bench.envs.settings import EnvSettings

    rng = np.random.default_rng(0)
    env = EnvSettings(image_size=args.image_size, max_steps=args.steps).make(args.suite, args.task)
    for episode in range(args.episodes):
        env.reset(seed=episode, options={"init_state_id": episode})
        for _ in range(args.steps):
            env.step(rng.uniform(-1, 1, 7))


def _physics_worker(suite: str, task_id: int, episodes: list[int], steps: int) -> None:
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


def physics_limit(args: argparse.Namespace) -> None:
    """Episode e on process e mod --workers, cameras off, no harness: what the cores can do."""
    import multiprocessing as mp

    context = mp.get_context("spawn")
    shares = [list(range(i, args.episodes, args.workers)) for i in range(args.workers)]
    processes = [
        context.Process(target=_physics_worker, args=(args.suite, args.task, share, args.steps))
        for share in shares
        if share
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a physics worker failed (exit code {process.exitcode})")


def _probe(args: argparse.Namespace):
    """Our env of the task, never reset: its BDDL path and init states, no simulator."""
    from agra_bench.envs.settings import EnvSettings

    return EnvSettings().make(args.suite, args.task)


CHILDREN = {
    "libero_loop": libero_loop,
    "libero_vector": libero_vector,
    "libero_chunk8": lambda args: libero_vector(args, chunked=True),
    "env_loop": env_loop,
    "physics_limit": physics_limit,
}
