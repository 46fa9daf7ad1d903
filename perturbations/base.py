"""The contract every perturbation family follows.

A perturbation knows only the simulator it edits. At every reset (a hard reset: the model is
rebuilt from unedited XML, so no edit outlives its episode) the env calls, in order:
  edit_xml(root, rng, env)     scene-level edits before the model is compiled (textures, objects)
  apply(env, rng)              runtime model edits after the init state is restored
  settled(env, rng)            edits that need the settled scene (after the settle steps;
                               LIBERO's init states hold objects a few cm above the table)
and `transform_observation(obs, rng)` runs on every observation.
`rng` is seeded from the episode seed, so the same key always yields the same values. The
edit methods return the exact values they applied (JSON-serialisable): the row's `perturb_params`.

Every family documents its parameter ranges per severity in `ranges(severity)` and defines
disjoint ID and OOD variant pools, so that "OOD" means never seen in training data.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar

import numpy as np

from agra_bench.errors import UsageError

SEVERITIES = (1, 2, 3, 4, 5)
SPLITS = ("id", "ood")


class Perturbation(ABC):
    family: ClassVar[str]
    description: ClassVar[str] = ""
    #: The suite kinds (`agra_bench.suites.suite_kind`) whose scenes this family can edit.
    suite_kinds: ClassVar[tuple[str, ...]] = ("libero", "robosuite")

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
            given = ",".join(f"{k}={v}" for k, v in params.items())
            raise UsageError(
                f"'{cls.family}' takes no parameters besides severity; got '{given}'; "
                f"valid: {cls.family} or {cls.family}:severity=1..5"
            )
        return cls(severity=severity, split=split)

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        """Human-readable parameter ranges at `severity` (shown by `agra-bench list perturbations`)."""
        return {}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        """The ID and OOD variant pools ({'id': [...], 'ood': [...]}), disjoint."""
        return {"id": [], "ood": []}

    def pool(self) -> list[str]:
        return self.pools()[self.split]

    def edit_xml(self, root: Any, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        """Edit the scene XML (an ElementTree root) before it is compiled; return values applied."""
        return {}

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Edit the compiled simulator after the init state is restored; return values applied."""
        return {}

    def settled(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Edit the simulator after the settle steps; return values applied."""
        return {}

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int = 0
    ) -> dict[str, Any]:
        """Edit the observation of env step `step` (0 = reset). Image keys not rendered at that
        step are absent; per-step randomness must derive from `step`, not from call order, so
        a frame gets the same values whichever other steps were rendered."""
        return obs


class NoPerturbation(Perturbation):
    """The control arm: the unmodified scene."""

    family = "none"
    description = "unperturbed control arm"


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

    def edit_xml(self, root: Any, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        # One child generator per family keeps each family's values independent of the others.
        children = rng.spawn(len(self.parts))
        return {p.family: p.edit_xml(root, r, env) for p, r in zip(self.parts, children, strict=True)}

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        children = rng.spawn(len(self.parts))
        return {p.family: p.apply(env, r) for p, r in zip(self.parts, children, strict=True)}

    def settled(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        children = rng.spawn(len(self.parts))
        return {p.family: p.settled(env, r) for p, r in zip(self.parts, children, strict=True)}

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int = 0
    ) -> dict[str, Any]:
        for part in self.parts:
            obs = part.transform_observation(obs, rng, step)
        return obs
