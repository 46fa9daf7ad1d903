"""The policy interface every method implements (baselines, scripted oracle, WAM, AGRA, remote).

A policy serves a batch of independent episodes held in numbered *slots*. The runner calls
`reset(slot, seed)` when an episode starts in a slot and `act(obs, slots)` with a batch of
observations for those slots; `act` returns an action chunk per slot:

    obs["agentview_rgb"]  uint8   (B, H, W, 3)
    obs["wrist_rgb"]      uint8   (B, H, W, 3)
    obs["proprio"]        float64 (B, 8)
    obs["instruction"]    list[str] of length B
    act(obs, slots)   ->  float32 (B, Ta, 7), Ta = spec.chunk_length, values in [-1, 1]

The runner executes the first `spec.execute_horizon` actions of a chunk before asking again.
Only the observation keys in `spec.observation_keys` are passed (so a proprio-only policy
never pays for image transfer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OBSERVATION_KEYS = ("agentview_rgb", "wrist_rgb", "proprio", "instruction")
# Ground truth from the simulator (`SimTaskEnv.privileged_state`), for oracle policies only.
PRIVILEGED = "privileged"


@dataclass(frozen=True)
class PolicySpec:
    """What a policy needs and returns: observation keys, chunk length Ta, actions executed per call."""

    observation_keys: tuple[str, ...] = OBSERVATION_KEYS
    chunk_length: int = 1
    execute_horizon: int = 1

    def __post_init__(self) -> None:
        bad = [k for k in self.observation_keys if k not in (*OBSERVATION_KEYS, PRIVILEGED)]
        if bad:
            raise ValueError(f"unknown observation keys {bad}; valid: {', '.join(OBSERVATION_KEYS)}")
        if not 1 <= self.execute_horizon <= self.chunk_length:
            raise ValueError(
                f"execute_horizon must be in 1..chunk_length={self.chunk_length}, got {self.execute_horizon}"
            )


class Policy(ABC):
    """Base class; subclasses set `name` and `spec` and implement `act`."""

    name: str = "policy"
    spec: PolicySpec = PolicySpec()

    def reset(self, slot: int, seed: int) -> None:  # noqa: B027 - stateless policies need nothing
        """Start a new episode in `slot`; `seed` makes any sampling in it reproducible."""

    @abstractmethod
    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        """Return actions of shape (len(slots), chunk_length, 7)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, sockets)."""

    def episode_info(self, slot: int) -> dict:
        """Row fields about the episode that just ended in `slot` (a served policy: which
        server answered it, `policy_server`); none by default."""
        return {}

    @classmethod
    def manifest_entry(cls, **options) -> dict:
        """What the manifest records, computed in the runner's parent process. The default
        builds the policy once; heavy policies override it to read their config only."""
        policy = cls(**options)
        try:
            return policy.describe()
        finally:
            policy.close()

    def describe(self) -> dict:
        """What the manifest records about this policy."""
        return {
            "name": self.name,
            "chunk_length": self.spec.chunk_length,
            "execute_horizon": self.spec.execute_horizon,
        }
