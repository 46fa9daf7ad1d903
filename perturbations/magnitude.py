"""How strong a family's change is at each severity: the one table per family that both the
sampling (`Perturbation.magnitude`) and the documented ranges (`ranges`, `agra-bench list
perturbations`, the table in docs/perturbations.md) read, so a coefficient is written once.

A magnitude is linear in the severity s (1-5):
  Scaled(per_level, offset, at_most)   one value: offset + per_level·s (capped at `at_most`)
  Band(low, high, signed)              a range [low·s, high·s] a value is drawn from
                                       (`scene.uniform_band`), with a random sign when signed
Integer coefficients give integer values (a JPEG quality, a count), as the rows record them.
"""

from __future__ import annotations

from dataclasses import dataclass


def _number(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True)
class Scaled:
    """One value per severity: offset + per_level·s, capped at `at_most` when given."""

    per_level: float
    offset: float = 0
    at_most: float | None = None

    def at(self, severity: int) -> float:
        value = self.offset + self.per_level * severity
        return value if self.at_most is None else min(self.at_most, value)

    def describe(self, severity: int) -> str:
        return _number(self.at(severity))


@dataclass(frozen=True)
class Band:
    """The range [low·s, high·s] a magnitude is drawn from (± when `signed`)."""

    low: float
    high: float
    signed: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError(f"bad band [{self.low}, {self.high}]; valid: 0 <= low <= high")

    def at(self, severity: int) -> tuple[float, float]:
        return self.low * severity, self.high * severity

    def describe(self, severity: int) -> str:
        low, high = self.at(severity)
        return f"{'± ' if self.signed else ''}[{_number(low)}, {_number(high)}]"


Magnitude = Scaled | Band


def severity_span(magnitudes: dict[str, Magnitude]) -> str:
    """Each magnitude from severity 1 to 5, e.g. `tint_strength 0.18 → 0.9` (the docs' column)."""
    return "; ".join(f"{name} {m.describe(1)} → {m.describe(5)}" for name, m in magnitudes.items())
