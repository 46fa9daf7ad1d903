"""`--executor local`: simulator processes step the envs; the parent runs the policy, batched.

Layout. The parent owns the one copy of the policy (on the GPU when it has one) and the queue
of episodes; each of the `--workers` processes owns one simulator (`worker.serve`), keeps it
across the episodes of its task (reset, not rebuilt) and answers every chunk of actions with
the next observation.

Workers are split into `--env-groups` groups (worker i in group i mod G). The parent waits for
answers; when every stepping member of a group has sent its observation, it stacks them into
one batch and makes one `policy.act(batch, slots)` call (slot = worker index) for the group.
- G = 1: one policy call per control step for all envs, as in a vectorised env.
- G = 2: pipelining. One half simulates while the policy runs for the other, so a GPU policy
  and CPU simulators are both busy; give it more workers than cores, since a worker waiting
  for its chunk leaves its core to a worker of the other group.
A finished episode's worker starts its next key at once (`scheduler.EpisodeQueue`: of the
task it already has loaded when there is one, so it is reset, not rebuilt). Its group waits
for that reset: one reset against hundreds of steps costs little, and every call keeps the
group's full batch.

Failures. A policy call that raises is retried one slot at a time, so only the episodes it
fails on end, with the error in their rows. A simulator exception ends its episode the same
way (the worker rebuilds its env). A worker process that dies is replaced, and its episode
retried once, then recorded as `WorkerCrashed` (`scheduler`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from agra_bench.errors import error_type_of
from agra_bench.plan import EpisodeKey
from agra_bench.rollout import batch_observations, call_policy, error_text
from agra_bench.scheduler import EpisodeQueue
from agra_bench.worker import WorkerSettings, serve
from policies.base import Policy
from policies.registry import make_policy

# A running episode is STARTING (reset sent), STEPPING (chunk sent) or WAITING (its observation
# is here, for its group's next policy call).
STARTING, STEPPING, WAITING = "starting", "stepping", "waiting"


@dataclass
class WorkerSlot:
    """A worker process, the pipe to it and the episode it is running (None when idle)."""

    index: int
    group: int = 0
    process: Any = None
    conn: Connection | None = None
    key: EpisodeKey | None = None
    task: tuple[str, int] | None = None
    state: str = STARTING
    observation: dict[str, Any] = field(default_factory=dict)

    def start_process(self, settings: WorkerSettings, workers: int, keys: tuple[str, ...]) -> None:
        context = mp.get_context("spawn")  # an EGL context must not be inherited through fork
        parent_end, child_end = context.Pipe()
        self.process = context.Process(
            target=serve, args=(child_end, settings, workers, self.index, keys), daemon=True
        )
        self.process.start()
        child_end.close()  # so that the worker's death reads as EOF here
        self.conn, self.task = parent_end, None

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(("close",))
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def execute_local(
    todo: list[EpisodeKey], settings: WorkerSettings, workers: int, video: int, groups: int = 1
) -> Iterator[dict[str, Any]]:
    """Yield finished rows (with their key under 'key') as episodes complete, in any order.

    Worker i belongs to group i mod `groups`; a group's policy call waits for every member that
    runs an episode, so `groups=1` makes one call per control step for all envs, and `groups=2`
    lets one half simulate while the policy runs for the other."""
    if not todo:
        return
    policy = make_policy(settings.policy, **settings.policy_options)
    keys = policy.spec.observation_keys
    slots = [WorkerSlot(i, i % groups) for i in range(max(1, min(workers, len(todo))))]
    queue = EpisodeQueue(todo)
    try:
        for slot in slots:
            slot.start_process(settings, workers, keys)
        while True:
            for slot in slots:
                if slot.key is None and queue:
                    slot.key = queue.next_for(slot.task)
                    slot.task, slot.state = (slot.key.suite, slot.key.task_id), STARTING
                    policy.reset(slot.index, slot.key.seed)
                    slot.conn.send(("start", slot.key, slot.key.episode < video))
            for group in range(groups):
                members = [s for s in slots if s.group == group and s.key is not None]
                ready = [s for s in members if s.state == WAITING]
                if ready and len(ready) == len(members):
                    _act(policy, ready)
            answering = {s.conn: s for s in slots if s.key is not None and s.state != WAITING}
            if not answering:
                return
            for conn in wait(list(answering)):
                slot = answering[conn]
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):  # the worker process died
                    key, slot.key = slot.key, None
                    slot.stop()
                    slot.start_process(settings, workers, keys)
                    crashed = queue.worker_died(key)
                    if crashed is not None:
                        yield crashed
                    continue
                if kind == "row":
                    key, slot.key = slot.key, None
                    if not queue.episode_lost(key, payload):
                        yield {**payload, **policy.episode_info(slot.index), "key": key}
                else:
                    slot.state, slot.observation = WAITING, payload
    finally:
        for slot in slots:
            if slot.process is not None:
                slot.stop()
        policy.close()


def _act(policy: Policy, waiting: list[WorkerSlot]) -> None:
    """One batched policy call for every waiting episode; if it raises, one call per slot, so
    that only the episodes the policy fails on end (with the error in their rows)."""
    for slot in waiting:
        slot.state = STEPPING
    try:
        chunks = _call(policy, waiting)
    except Exception as exc:
        if len(waiting) > 1:
            for slot in waiting:
                _act(policy, [slot])
        else:
            waiting[0].conn.send(
                ("abort", error_text(exc), traceback.format_exc(), error_type_of(exc, "policy"))
            )
        return
    for slot, chunk in zip(waiting, chunks, strict=True):
        slot.conn.send(("act", chunk, policy.spec.execute_horizon))


def _call(policy: Policy, waiting: list[WorkerSlot]) -> np.ndarray:
    batch = batch_observations([slot.observation for slot in waiting], policy.spec.observation_keys)
    return call_policy(policy, batch, [slot.index for slot in waiting])
