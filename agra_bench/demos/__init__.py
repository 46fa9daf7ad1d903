"""Demonstrations: scripted-oracle collection in LIBERO's HDF5 layout, and a reader for training.

`collect_tasks` fans tasks out over spawned worker processes (one simulator and one file per task)
and shows one progress bar for both passes; `collect_task` does the work of one task.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context

from agra_bench.demos.job import CollectJob
from agra_bench.errors import UsageError, check_int


def _worker(job: CollectJob, queue) -> dict:
    from agra_bench.demos.collect import collect_task
    from agra_bench.worker import die_with_parent

    die_with_parent()
    os.environ.setdefault("MUJOCO_GL", "egl")
    return collect_task(job, report=lambda event: queue.put((job.task_id, event)))


def collect_tasks(
    job: CollectJob, task_ids: list[int], workers: int = 1, progress: bool = True
) -> list[dict]:
    """Collect every task of `task_ids`; returns one summary dict per task."""
    from rich.progress import Progress

    from agra_bench.demos.collect import task_file
    from agra_bench.errors import check_writable, check_writable_file
    from agra_bench.suites import get_task
    from perturbations.spec import parse_spec

    check_int("episodes", job.episodes, 1)
    check_int("seed", job.seed, 0)
    check_int("workers", workers, 1)
    if not 0 <= job.action_noise <= 1:
        raise UsageError(f"bad --action-noise {job.action_noise}; valid: a number in 0-1")
    if len(parse_spec(job.perturb, job.severity, job.split, job.suite)) != 1:
        raise UsageError(f"collect takes one perturbation arm; '{job.perturb}' gives several; valid: one arm")
    if job.out.suffix == ".hdf5":
        check_writable_file(job.out)
    else:
        check_writable(job.out)
    for task_id in task_ids:  # validates --out against the number of tasks, in the parent
        task_file(job.out, get_task(job.suite, task_id).name, len(task_ids))
    jobs = [replace(job, task_id=t) for t in task_ids]
    total = len(jobs) * job.episodes * (2 if job.render else 1)
    context = get_context("spawn")
    results = []
    with context.Manager() as manager, Progress(disable=not progress) as bar:
        queue = manager.Queue()
        task = bar.add_task(f"collect {job.suite}", total=total)
        with ProcessPoolExecutor(max(1, min(workers, len(jobs))), mp_context=context) as pool:
            futures = [pool.submit(_worker, j, queue) for j in jobs]
            pending = set(futures)
            while pending:
                while not queue.empty():
                    queue.get()
                    bar.advance(task)

                finished = {f for f in pending if f.done()}
                for future in finished:
                    results.append(future.result())
                pending -= finished
                if pending:
                    time.sleep(0.2)
    return sorted(results, key=lambda r: r["task_id"])


__all__ = ["CollectJob", "collect_tasks"]
