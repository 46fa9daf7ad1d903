"""Policies that fail on purpose in a given episode: real failures inside real worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from policies.base import Policy, PolicySpec


class CountsEpisodes(Policy):
    """A proprio-only policy that counts its episodes (one worker runs them in order)."""

    chunk = 1

    def __init__(self) -> None:
        self.spec = PolicySpec(
            observation_keys=("proprio",), chunk_length=self.chunk, execute_horizon=self.chunk
        )
        self.episodes = 0

    def reset(self, slot: int, seed: int) -> None:
        self.episodes += 1


class FailSecondEpisode(CountsEpisodes):
    name = "fail_second_episode"

    def act(self, obs: dict, slots) -> np.ndarray:
        if self.episodes == 2:
            raise RuntimeError("injected failure in episode 2")
        return np.zeros((len(slots), 1, 7), dtype=np.float32)


class BadActionsByEpisode(CountsEpisodes):
    """Episode 1 answers NaN, 2 the wrong shape, 3 a non-numeric dtype, 4 +inf in one value;
    later episodes answer zeros. Nothing of the bad answers may reach the simulator."""

    name = "bad_actions_by_episode"
    chunk = 2

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


class StoppedInFirstEpisode(CountsEpisodes):
    """The first episode of a run fails as a worker being stopped fails: a SIGTERM that Ray turns
    into SystemExit, landing inside a C call (numba's dispatcher in robosuite's controller),
    comes out as a SystemError whose cause is the SystemExit. Once per run: the marker file
    named by AGRA_TEST_STOP_MARKER is made then, so the episode's second try runs."""

    name = "stopped_in_first_episode"

    def act(self, obs: dict, slots) -> np.ndarray:
        marker = Path(os.environ["AGRA_TEST_STOP_MARKER"])
        if not marker.exists():
            marker.touch()
            try:
                raise SystemExit(1)
            except SystemExit as stop:
                raise SystemError(
                    "CPUDispatcher(opspace_matrices) returned a result with an exception set"
                ) from stop
        return np.zeros((len(slots), 1, 7), dtype=np.float32)
