"""The `steps_*` variants of bench/env_steps.py: env-steps/s of N simulator processes stepping at
once, by what they render, counted over the stepping phase only.

On a GPU machine every process renders through its own EGL context on the one GPU, and the GPU,
not the CPU, becomes the limit once all cameras render at every step (FACTS: 16 processes, 1611
steps/s physics only, 338 steps/s rendering both cameras every step). Render on demand renders
only the frames the policy reads; this measures what that buys. Each worker builds task (worker
mod number of tasks) once per mode with our env, resets to an init state, waits at a barrier
with the others, then steps with fixed random actions; the figure is all workers' steps over
the stepping phase (first start to last finish), so construction and reset are not in it (the
protocol slice of bench/gpu_suite.py times those too).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np

MODES = {  # mode (variant steps_<mode>): (render quality, renders images, render period in steps)
    "physics": ("tuned", False, 0),
    "render_standard": ("standard", True, 1),
    "render_tuned": ("tuned", True, 1),
    "render_fast": ("fast", True, 1),
    "chunk8_tuned": ("tuned", True, 8),
    "chunk8_standard": ("standard", True, 8),
}
FIGURES = {  # mode: the name its figure is printed under
    "physics": "physics_only_steps_per_s",
    "render_standard": "render_steps_per_s_standard",
    "render_tuned": "render_steps_per_s_tuned",
    "render_fast": "render_steps_per_s_fast",
    "chunk8_tuned": "chunk8_policy_visible_steps_per_s",
    "chunk8_standard": "chunk8_policy_visible_steps_per_s_standard",
}


def worker(index: int, args, modes: list[str], barrier, results) -> None:
    """Report a failure instead of dying silently, and break the barrier for the others."""
    try:
        step_modes(index, args, modes, barrier, results)
    except Exception as exc:
        results.put(("error", index, f"{type(exc).__name__}: {exc}", 0.0))
        barrier.abort()
        raise


def step_modes(index: int, args, modes: list[str], barrier, results) -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from agra_bench.envs.base import CAMERAS
    from agra_bench.envs.settings import EnvSettings
    from agra_bench.suites import list_tasks

    task_id = index % len(list_tasks(args.suite))
    actions = np.random.default_rng(index).uniform(-0.5, 0.5, (args.steps, 7)).astype(np.float32)
    for mode in modes:
        quality, images, period = MODES[mode]
        settings = EnvSettings(image_size=args.image_size, render_quality=quality, render_images=images)
        env = settings.make(args.suite, task_id)
        env.reset(seed=index, options={"init_state_id": index % 50})
        barrier.wait()
        start = time.monotonic()
        for step in range(args.steps):
            if images:  # the frames after this step: all cameras on a render step, else none
                env.set_render_keys(CAMERAS if (step + 1) % period == 0 else ())
            env.step(actions[step])
        results.put((mode, args.steps, start, time.monotonic()))
        env.close()
        barrier.wait()


def measure(args, modes: list[str]) -> dict[str, float]:
    """Steps/s of each mode (of MODES) under FIGURES' names; `args`: suite, workers, steps,
    image_size and timeout of bench/env_steps.py."""
    context = mp.get_context("spawn")  # an EGL context must not be inherited through fork
    barrier, results = context.Barrier(args.workers, timeout=args.timeout), context.Queue()
    procs = [
        context.Process(target=worker, args=(i, args, modes, barrier, results)) for i in range(args.workers)
    ]
    for proc in procs:
        proc.start()
    rows, expected = [], args.workers * len(modes)
    try:  # a worker that fails breaks the barrier for the others; none outlives this function
        while len(rows) < expected:
            rows.append(results.get(timeout=args.timeout))
            if rows[-1][0] == "error":
                raise SystemExit(f"worker {rows[-1][1]} failed: {rows[-1][2]}")
    finally:
        for proc in procs:
            proc.join(timeout=60 if len(rows) == expected else 5)
            if proc.is_alive():
                proc.terminate()
    figures = {}
    for mode in modes:
        mine = [r for r in rows if r[0] == mode]
        steps = sum(r[1] for r in mine)
        wall = max(r[3] for r in mine) - min(r[2] for r in mine)
        figures[FIGURES[mode]] = steps / wall
        print(f"{mode:16s} {steps:6d} steps in {wall:6.2f} s = {steps / wall:8.1f} steps/s", flush=True)
    return figures
