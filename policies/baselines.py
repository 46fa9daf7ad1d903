"""Reference rows for every leaderboard: uniform random actions and a no-op that holds still.

They bound what a perturbation can do to a policy that ignores its input, and catch tasks
whose success can happen by accident.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from policies.base import Policy, PolicySpec
from policies.registry import register_policy

NOOP_ACTION = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.float32)


@register_policy("random")
class RandomPolicy(Policy):
    """Uniform actions in [-1, 1]^7, an independent generator per slot seeded at reset."""

    name = "random"

    def __init__(self, chunk_length: int = 1) -> None:
        self.spec = PolicySpec(observation_keys=(), chunk_length=chunk_length, execute_horizon=chunk_length)
        self._rngs: dict[int, np.random.Generator] = {}

    def reset(self, slot: int, seed: int) -> None:
        self._rngs[slot] = np.random.default_rng(seed)

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        chunks = [
            self._rngs[s].uniform(-1.0, 1.0, (self.spec.chunk_length, 7)).astype(np.float32) for s in slots
        ]
        return np.stack(chunks)


@register_policy("noop")
class NoopPolicy(Policy):
    """Zero motion with the gripper open (LIBERO's settle action), every step."""

    name = "noop"

    def __init__(self) -> None:
        self.spec = PolicySpec(observation_keys=(), chunk_length=1, execute_horizon=1)

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        return np.broadcast_to(NOOP_ACTION, (len(slots), 1, 7)).copy()
