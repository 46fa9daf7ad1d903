"""Which episode a worker runs next, and what happens when a worker dies: shared by the local
and the Ray executor, so that both schedule and retry the same way.

Keys are handed out task-major, and a worker that has a task's simulator loaded gets the next
key of that task while one is left (its simulator is reset, not rebuilt). An episode whose
worker process dies is put back once; if its second worker dies too, it is recorded as
`WorkerCrashed` and the run goes on. An episode whose policy server was lost (a pool of
servers) is put back too, to start over on a live server.
"""

from __future__ import annotations

from typing import Any

from agra_bench.plan import EpisodeKey
from agra_bench.rollout import outcome_row

MAX_CRASH_RETRIES = 1
#: Times an episode may start over after its policy server was lost (a pool of servers,
#: policies/openpi_client.py): each loss takes one server out, so this bounds the cost.
MAX_SERVER_LOSSES = 2


class EpisodeQueue:
    """The episodes still to hand out, and how often each one's worker died."""

    def __init__(self, todo: list[EpisodeKey]) -> None:
        self._pending = list(reversed(todo))  # pop() from the end keeps task-major order
        self._crashes: dict[str, int] = {}
        self._losses: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def next_for(self, task: tuple[str, int] | None) -> EpisodeKey:
        """The next key of the worker's loaded task (suite, task id) if any is left, else the next
        key in order."""
        if task is not None:
            for index in range(len(self._pending) - 1, -1, -1):
                if (self._pending[index].suite, self._pending[index].task_id) == task:
                    return self._pending.pop(index)
        return self._pending.pop()

    def worker_died(self, key: EpisodeKey) -> dict[str, Any] | None:
        """Record that `key`'s worker died: the key goes back in the queue (None is returned), or,
        past the retry budget, its `WorkerCrashed` row is returned."""
        self._crashes[key.id] = self._crashes.get(key.id, 0) + 1
        if self._crashes[key.id] > MAX_CRASH_RETRIES:
            return crash_row(key)
        self._pending.append(key)
        return None

    def episode_lost(self, key: EpisodeKey, row: dict[str, Any]) -> bool:
        """Whether `row` ended because its policy server was lost (`server_lost`) and the key
        went back in the queue to start over on another server; False: record the row."""
        if row.get("error_type") != "server_lost":
            return False
        self._losses[key.id] = self._losses.get(key.id, 0) + 1
        if self._losses[key.id] > MAX_SERVER_LOSSES:
            return False
        self._pending.append(key)
        return True


def crash_row(key: EpisodeKey) -> dict[str, Any]:
    """The row of an episode whose worker process died twice running it."""
    error = "WorkerCrashed: the worker process died during this episode"
    return {"key": key, **outcome_row(None, error, 0.0, "worker_crash"), "video": None}
