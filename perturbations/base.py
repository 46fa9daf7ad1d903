"""The contract every perturbation family follows.

A perturbation knows only the simulator it edits. At every reset the env calls
`restore(env)` then `apply(env, rng)` after the init state is restored and before the settle
steps; `rng` is seeded from the episode key, so the same key always yields the same values.
`apply` returns the exact values it applied (JSON-serialisable), recorded as `perturb_params`.
Per-step image effects go in `transform_observation`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from agra_bench.errors import UsageError

SEVERITIES = (1, 2, 3, 4, 5)
SPLITS = ("id", "ood")


class Perturbation(ABC):
    family: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, severity: int = 3, split: str = "id") -> None:
        if severity not in SEVERITIES:
            raise UsageError(f"bad severity {severity!r} for '{self.family}'; valid: 1-5")
        if split not in SPLITS:
            raise UsageError(f"bad split '{split}'; valid: {', '.join(SPLITS)}")
        self.severity = severity
        self.split = split

    @classmethod
    def from_config(cls, severity: int, split: str, params: dict[str, str]) -> Perturbation:
        """Build from parsed spec parameters; families with extra parameters override this."""
        if params:
            raise UsageError(f"'{cls.family}' takes no parameters besides severity; got {sorted(params)}")
        return cls(severity=severity, split=split)

    def restore(self, env: Any) -> None:  # noqa: B027 - families with runtime edits override
        """Undo this family's edits (hard resets rebuild the model, but be explicit)."""

    @abstractmethod
    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Edit the simulator; return the values applied."""

    def transform_observation(self, obs: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        return obs


class NoPerturbation(Perturbation):
    """The control arm: the unmodified scene."""

    family = "none"
    description = "unperturbed control arm"

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        return {}


class Composite(Perturbation):
    """Several families applied in order (`lighting+camera`); params are keyed by family."""

    family = "composite"

    def __init__(self, parts: list[Perturbation]) -> None:
        self.parts = parts
        self.severity = max(p.severity for p in parts)
        self.split = parts[0].split

    @property
    def name(self) -> str:
        return "+".join(p.family for p in self.parts)

    def restore(self, env: Any) -> None:
        for part in reversed(self.parts):
            part.restore(env)

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        # One child generator per family keeps each family's values independent of the others.
        children = rng.spawn(len(self.parts))
        return {p.family: p.apply(env, r) for p, r in zip(self.parts, children, strict=True)}

    def transform_observation(self, obs: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        for part in self.parts:
            obs = part.transform_observation(obs, rng)
        return obs
