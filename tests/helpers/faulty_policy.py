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


class BadActionsByEpisode(Policy):
    """Episode 1 answers NaN, 2 the wrong shape, 3 a non-numeric dtype, 4 +inf in one value;
    later episodes answer zeros. Nothing of the bad answers may reach the simulator."""

    name = "bad_actions_by_episode"

    def __init__(self) -> None:
        self.spec = PolicySpec(observation_keys=("proprio",), chunk_length=2, execute_horizon=2)
        self.episodes = 0

    def reset(self, slot: int, seed: int) -> None:
        self.episodes += 1

    def act(self, obs: dict, slots) -> np.ndarray:
        good = np.zeros((len(slots), 2, 7), dtype=np.float32)
        if self.episodes == 1:
            return np.full_like(good, np.nan)
        if self.episodes == 2:
            return good[:, :, :6]
        if self.episodes == 3:
            return good.astype(str)
        if self.episodes == 4:
            good[0, 1, 3] = np.inf
        return good
