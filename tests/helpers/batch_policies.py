"""Policies that record how the local executor batches them, or fail for one episode."""

from __future__ import annotations

import numpy as np

from policies.base import PolicySpec
from policies.baselines import RandomPolicy


class RecordBatches(RandomPolicy):
    """The random policy (so rows match an unbatched run) that records the slots of each call.
    It lives in the test process, where the local executor keeps its policy."""

    calls: list[list[int]] = []

    def __init__(self) -> None:
        super().__init__()
        self.spec = PolicySpec(observation_keys=("proprio",), chunk_length=1, execute_horizon=1)

    def act(self, obs: dict, slots) -> np.ndarray:
        assert obs["proprio"].shape == (len(slots), 8)
        RecordBatches.calls.append(list(slots))
        return super().act(obs, slots)


class FailOneSeed(RandomPolicy):
    """Raises whenever the episode with seed `fail_seed` is in the batch."""

    def __init__(self, fail_seed: int) -> None:
        super().__init__()
        self.spec = PolicySpec(observation_keys=("proprio",), chunk_length=1, execute_horizon=1)
        self.fail_seed, self.seeds = fail_seed, {}

    def reset(self, slot: int, seed: int) -> None:
        super().reset(slot, seed)
        self.seeds[slot] = seed

    def act(self, obs: dict, slots) -> np.ndarray:
        if any(self.seeds[s] == self.fail_seed for s in slots):
            raise RuntimeError(f"injected failure for seed {self.fail_seed}")
        return super().act(obs, slots)


class FailsToBuild(RandomPolicy):
    """Cannot be constructed (as a checkpoint missing on a Ray node would be)."""

    def __init__(self) -> None:
        raise FileNotFoundError("no weights on this node")
