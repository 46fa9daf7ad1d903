"""The contract every perturbation family follows.

A perturbation knows only the simulator it edits. At every reset (a hard reset: the model is
rebuilt from unedited XML, so no edit outlives its episode) the env calls, in order:
  edit_xml(root, rng, env)     scene-level edits before the model is compiled (textures, objects)
  apply(env, rng)              runtime model edits after the init state is restored
  settled(env, rng)            edits that need the settled scene (after the settle steps;
                               LIBERO's init states hold objects a few cm above the table)
and `transform_observation(obs, rng, step, applied)` runs on every observation.
`rng` is seeded from the episode seed, so the same key always yields the same values. The
edit methods return the exact values they applied (JSON-serialisable): the row's `perturb_params`.
Those values are also the episode's state: every later hook gets the values the earlier ones
returned (`applied`), and reads what it needs there, so a family instance holds no per-episode
state and one instance can serve any episode.

Every family states how strong it is per severity in one table, `MAGNITUDES`
(`perturbations.magnitude`): the sampling reads it (`self.magnitude(name)`), and so do the
documented ranges (`ranges(severity)`). It defines disjoint ID and OOD variant pools, so that
"OOD" means never seen in training data.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from agra_bench.errors import UsageError
from perturbations.magnitude import Magnitude

SEVERITIES = (1, 2, 3, 4, 5)
SPLITS = ("id", "ood")


class Perturbation(ABC):
    family: ClassVar[str]
    description: ClassVar[str] = ""
    #: The suite kinds (`agra_bench.suites.suite_kind`) whose scenes this family can edit.
    suite_kinds: ClassVar[tuple[str, ...]] = ("libero", "robosuite")
    #: How strong the change is at each severity (the one home of the family's coefficients).
    MAGNITUDES: ClassVar[dict[str, Magnitude]] = {}

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
        """Human-readable parameter ranges at `severity` (shown by `agra-bench list perturbations`):
        the magnitude table's entries; families add what is not a magnitude."""
        return {name: magnitude.describe(severity) for name, magnitude in cls.MAGNITUDES.items()}

    def magnitude(self, name: str) -> Any:
        """The value (Scaled) or (low, high) band (Band) of MAGNITUDES[name] at this severity."""
        return self.MAGNITUDES[name].at(self.severity)

    def draw(self, name: str, rng: np.random.Generator) -> float:
        """A value from the Band MAGNITUDES[name] at this severity, with a random sign when the
        band is signed: the table says both, so no call site restates the sign."""
        from perturbations.scene import uniform_band

        band = self.MAGNITUDES[name]
        return uniform_band(rng, *band.at(self.severity), signed=band.signed)

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        """The ID and OOD variant pools ({'id': [...], 'ood': [...]}), disjoint."""
        return {"id": [], "ood": []}

    def pool(self) -> list[str]:
        return self.pools()[self.split]

    def edit_xml(self, root: Any, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        """Edit the scene XML (an ElementTree root) before it is compiled; return values applied."""
        return {}

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        """Edit the compiled simulator after the init state is restored; return values applied.
        `applied`: what edit_xml returned this episode."""
        return {}

    def settled(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        """Edit the simulator after the settle steps; return values applied. `applied`: what
        edit_xml and apply returned this episode."""
        return {}

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int, applied: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit the observation of env step `step` (0 = reset); `applied`: the episode's values
        so far. Image keys not rendered at that step are absent; per-step randomness must derive
        from `step`, not from call order, so a frame gets the same values whichever other steps
        were rendered."""
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

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        children = rng.spawn(len(self.parts))
        return {
            p.family: p.apply(env, r, applied.get(p.family, {}))
            for p, r in zip(self.parts, children, strict=True)
        }

    def settled(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        children = rng.spawn(len(self.parts))
        return {
            p.family: p.settled(env, r, applied.get(p.family, {}))
            for p, r in zip(self.parts, children, strict=True)
        }

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int, applied: Mapping[str, Any]
    ) -> dict[str, Any]:
        for part in self.parts:
            obs = part.transform_observation(obs, rng, step, applied.get(part.family, {}))
        return obs
