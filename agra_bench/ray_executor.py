"""`--executor ray`: the same episodes, rows, resume and error handling as the local executor,
on a Ray cluster.

Each Ray actor is a `worker.Worker`, the class a local worker process runs: it keeps one
simulator per task and, unlike a local worker, its own copy of the policy, and runs one whole
episode per call (`Worker.run`); an actor may live on another node, where a round trip per step
would cost more than the batching saves. The driver keeps at most one episode in flight per
actor and schedules with the local executor's `scheduler.EpisodeQueue`: an actor gets the next
key of the task it already has loaded when there is one, so simulators are reset, not rebuilt.
Rows come back to the driver, which alone writes `episodes.parquet`; an actor that dies (a
simulator segfault, a lost node) is replaced, and its episode retried once and then recorded as
`WorkerCrashed`, as locally.

Without `--address` a local Ray instance is started with `--workers` CPUs; with an address the
driver joins that cluster. Videos and error logs are written by the actors under the run folder,
so on a multi-node cluster `--out` must be on a shared filesystem.
"""

from __future__ import annotations

import os
from typing import Any

from agra_bench.errors import UsageError
from agra_bench.plan import EpisodeKey
from agra_bench.scheduler import EpisodeQueue
from agra_bench.worker import Worker, WorkerSettings

#: Ray reads this once, at import: "0" makes a Linux node take the loopback address for itself,
#: its GCS and its raylet (Ray's own switch for single-machine clusters; `_node_ip_address=
#: "127.0.0.1"` alone is replaced by the interface address). See docs/scaling.md.
RAY_LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _start_ray(address: str | None, workers: int):
    """Join the cluster at `address`, or start a local Ray instance that listens on loopback only
    (servers bind to 127.0.0.1 unless told otherwise; set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 to
    let a local instance advertise the interface address)."""
    if address is None:
        os.environ.setdefault(RAY_LOOPBACK_SWITCH, "0")
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install -e '.[ray]'") from None
    if not ray.is_initialized():
        env = {
            k: v
            for k, v in os.environ.items()
            if k in ("PYTHONPATH", "MUJOCO_GL", "PYOPENGL_PLATFORM", "HF_HUB_OFFLINE", "LP_NUM_THREADS")
        }
        kwargs = {"runtime_env": {"env_vars": env}, "log_to_driver": False, "include_dashboard": False}
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers, **kwargs)
        except ConnectionError as exc:
            raise UsageError(f"cannot reach the Ray cluster at '{address}': {exc}") from None
    return ray


def execute_ray(
    todo: list[EpisodeKey], settings: WorkerSettings, workers: int, video: int, address: str | None
):
    """Yield finished rows (key under 'key'), like the local executor's `_execute`."""
    ray = _start_ray(address, workers)
    actor_class = ray.remote(num_cpus=1, max_restarts=0)(Worker)
    queue = EpisodeQueue(todo)
    actors = [actor_class.remote(settings, workers, i) for i in range(max(1, min(workers, len(todo))))]
    loaded: dict[Any, tuple[str, int] | None] = dict.fromkeys(actors)
    in_flight: dict[Any, tuple[Any, EpisodeKey]] = {}
    try:
        while queue or in_flight:
            for actor in [a for a in actors if a not in {v[0] for v in in_flight.values()}]:
                if not queue:
                    break
                key = queue.next_for(loaded[actor])
                loaded[actor] = (key.suite, key.task_id)
                in_flight[actor.run.remote(key, key.episode < video)] = (actor, key)
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                actor, key = in_flight.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayActorError:
                    index = actors.index(actor)
                    actors[index] = actor_class.remote(settings, workers, index)
                    loaded.pop(actor, None)
                    loaded[actors[index]] = None
                    crashed = queue.worker_died(key)
                    if crashed is not None:
                        yield crashed
                    continue
                yield {**row, "key": key}
    finally:
        for actor in actors:
            ray.kill(actor)
