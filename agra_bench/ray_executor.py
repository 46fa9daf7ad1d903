"""`--executor ray`: the same episodes, rows, resume and error handling as the local executor,
on a Ray cluster.

Each Ray actor is a `worker.Worker`, the class a local worker process runs: it keeps one
simulator per task and, unlike a local worker, its own copy of the policy, and runs one whole
episode per call (`Worker.run`); an actor may live on another node, where a round trip per step
would cost more than the batching saves. The driver keeps at most one episode in flight per
actor and schedules with the local executor's `scheduler.EpisodeQueue`: an actor gets the next
key of the task it already has loaded when there is one, so simulators are reset, not rebuilt.
Rows come back to the driver, which alone writes `episodes.parquet`. An actor that dies (a
simulator segfault, a lost node) is replaced, and its episode goes back to the queue: the next
free actor runs it (retried once, then recorded as `WorkerCrashed`, as locally). A replacement
gets work only once Ray has placed it, so a lost node whose replacement finds no free CPU
leaves the run to the surviving actors instead of stalling it.

Without `--address` a local Ray instance is started with `--workers` CPUs; with an address the
driver joins that cluster. Videos and error logs are written by the actors under the run folder,
so on a multi-node cluster `--out` must be on a shared filesystem.
"""

from __future__ import annotations

import os
import time
from typing import Any

from agra_bench.errors import UsageError
from agra_bench.plan import EpisodeKey
from agra_bench.scheduler import EpisodeQueue
from agra_bench.worker import Worker, WorkerSettings

#: Ray reads this once, at import: "0" makes a Linux node take the loopback address for itself,
#: its GCS and its raylet (Ray's own switch for single-machine clusters; `_node_ip_address=
#: "127.0.0.1"` alone is replaced by the interface address). See docs/scaling.md.
RAY_LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
PLACEMENT_TIMEOUT_S = float(os.environ.get("AGRA_RAY_PLACEMENT_TIMEOUT_S", "600"))
WAIT_S = 5.0  # how often the driver looks up from ray.wait to check the placement timeout


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
            else:  # "local": a new instance, even where another cluster runs on this machine
                ray.init(address="local", num_cpus=workers, **kwargs)
        except ConnectionError as exc:
            raise UsageError(f"cannot reach the Ray cluster at '{address}': {exc}") from None
    return ray


def execute_ray(
    todo: list[EpisodeKey], settings: WorkerSettings, workers: int, video: int, address: str | None
):
    """Yield finished rows (key under 'key'), like the local executor's `_execute`.

    An actor gets work only once Ray has placed it (its `__ray_ready__` returned): a
    replacement for an actor of a lost node may never be placed when the surviving nodes' CPUs
    are all held by their own actors, and an episode handed to it would wait forever (seen: a
    10-minute hang on the last episode). The lost actor's episode goes back to the queue, where
    the next free placed actor takes it (retried once, as locally, then recorded as
    `WorkerCrashed`). If no actor is placed and nothing runs for PLACEMENT_TIMEOUT_S, the run
    stops with an error; its command resumes it."""
    ray = _start_ray(address, workers)
    actor_class = ray.remote(num_cpus=1, max_restarts=0)(Worker)
    queue = EpisodeQueue(todo)
    placing: dict[Any, Any] = {}  # ready ref -> actor not yet placed
    ready: list[Any] = []  # placed actors, free or busy
    loaded: dict[Any, tuple[str, int] | None] = {}
    in_flight: dict[Any, tuple[Any, EpisodeKey]] = {}

    def start_actor(index: int) -> None:
        actor = actor_class.remote(settings, workers, index)
        placing[actor.__ray_ready__.remote()] = actor

    for index in range(max(1, min(workers, len(todo)))):
        start_actor(index)
    started = len(placing)
    idle_since = time.monotonic()
    try:
        while queue or in_flight:
            busy = {actor for actor, _ in in_flight.values()}
            for actor in [a for a in ready if a not in busy]:
                if not queue:
                    break
                key = queue.next_for(loaded.get(actor))
                loaded[actor] = (key.suite, key.task_id)
                in_flight[actor.run.remote(key, key.episode < video)] = (actor, key)
            if not in_flight and not ready and time.monotonic() - idle_since > PLACEMENT_TIMEOUT_S:
                raise RuntimeError(
                    f"no Ray actor could be placed for {PLACEMENT_TIMEOUT_S:.0f} s (the cluster has no "
                    "free CPU); rerun the command to resume"
                )
            done, _ = ray.wait([*in_flight, *placing], num_returns=1, timeout=WAIT_S)
            for ref in done:
                if ref in placing:
                    actor = placing.pop(ref)
                    try:
                        ray.get(ref)
                        ready.append(actor)
                    except ray.exceptions.RayActorError:
                        start_actor(started)  # died before its first episode: try another
                        started += 1
                    continue
                actor, key = in_flight.pop(ref)
                try:
                    row = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError):
                    # A task error: `Worker.run` records an episode's own failures in its row and
                    # raises only when its process is being stopped (a lost node's workers get a
                    # SIGTERM). Where the signal lands inside a C call (numba's dispatcher), Ray
                    # reports that as the task's error, not the actor's death; either way the
                    # actor goes and its episode runs again elsewhere.
                    ray.kill(actor)
                    ready.remove(actor)
                    loaded.pop(actor, None)
                    start_actor(started)  # placed if the cluster has room; until then, others work
                    started += 1
                    crashed = queue.worker_died(key)
                    if crashed is not None:
                        yield crashed
                    continue
                if not queue.episode_lost(key, row):
                    yield {**row, "key": key}
            if in_flight or ready:
                idle_since = time.monotonic()
    finally:
        for actor in [*ready, *placing.values()]:
            ray.kill(actor)
