"""A policy that raises in its second episode: a real failure inside a real worker process."""

from __future__ import annotations

import numpy as np

from policies.base import Policy, PolicySpec


class FailSecondEpisode(Policy):
    name = "fail_second_episode"

    def __init__(self) -> None:
        self.spec = PolicySpec(observation_keys=("proprio",), chunk_length=1, execute_horizon=1)
        self.episodes = 0

    def reset(self, slot: int, seed: int) -> None:
        self.episodes += 1

    def act(self, obs: dict, slots) -> np.ndarray:
        if self.episodes == 2:
            raise RuntimeError("injected failure in episode 2")
        return np.zeros((len(slots), 1, 7), dtype=np.float32)
