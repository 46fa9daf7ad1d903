"""Parse `--perturb` specs into arms.

Grammar: ARM[,ARM...] where ARM = `none` | `all` | FAMILY[:key=value[;key=value]][+FAMILY...].
Examples: `camera`, `camera:severity=3`, `lighting+camera`, `none,texture`, `none,all`. `all`
expands to every registered family, one arm each (`none,all` adds the control arm). Every arm
string is canonical (used as the record's `perturbation` value and as part of the episode key):
a part carries `:severity=N` only where it differs from the arm's severity (its highest part's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agra_bench.errors import UsageError, unknown
from perturbations.base import SEVERITIES, SPLITS, Composite, Perturbation
from perturbations.registry import families


@dataclass(frozen=True)
class FamilySpec:
    family: str
    severity: int
    params: dict[str, str] = field(default_factory=dict)

    def canonical(self, default_severity: int) -> str:
        items = dict(self.params)
        if self.severity != default_severity:
            items["severity"] = str(self.severity)
        args = ";".join(f"{k}={v}" for k, v in sorted(items.items()))
        return f"{self.family}:{args}" if args else self.family


@dataclass(frozen=True)
class Arm:
    """One experimental arm: a name for the records and the perturbation to build in workers."""

    name: str
    parts: tuple[FamilySpec, ...]
    split: str

    @property
    def severity(self) -> int:
        """The highest severity of the parts; 0 for the control arm, which has no severity."""
        if all(p.family == "none" for p in self.parts):
            return 0
        return max(p.severity for p in self.parts)

    def build(self) -> Perturbation:
        registry = families()
        built = [registry[p.family].from_config(p.severity, self.split, p.params) for p in self.parts]
        return built[0] if len(built) == 1 else Composite(built)


def _parse_family(text: str, severity: int) -> FamilySpec:
    registry = families()
    name, _, args = text.partition(":")
    name = name.strip()
    if name not in registry or name == "all":
        raise unknown("perturbation", name, ["all", *registry])
    params: dict[str, str] = {}
    for item in filter(None, (a.strip() for a in args.split(";"))):
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"bad perturbation parameter '{item}' in '{text}'; expected key=value")
        params[key.strip()] = value.strip()
    if "severity" in params:
        raw = params.pop("severity")
        if raw not in {str(s) for s in SEVERITIES}:
            raise UsageError(f"bad severity '{raw}' in '{text}'; valid: 1-5")
        severity = int(raw)
    return FamilySpec(name, severity, params)


def parse_spec(spec: str, severity: int = 3, split: str = "id", suite: str | None = None) -> list[Arm]:
    """Parse a --perturb spec into arms; UsageError (one line) for anything invalid. With a
    `suite`, `all` means every family that supports the suite's kind, and naming a family that
    does not (distractor on a robosuite task) is refused here, not in every episode."""
    if severity not in SEVERITIES:
        raise UsageError(f"bad --severity {severity}; valid: 1-5")
    if split not in SPLITS:
        raise UsageError(f"bad --split '{split}'; valid: {', '.join(SPLITS)}")
    spec = spec.strip()
    if not spec:
        raise UsageError("empty --perturb; valid: none, all, or family names")
    kind = None
    if suite is not None:
        from agra_bench.suites import suite_kind

        kind = suite_kind(suite)
    supported = [
        f for f, cls in families().items() if f != "none" and (kind is None or kind in cls.suite_kinds)
    ]
    arm_texts = []
    for text in spec.split(","):  # `all` may stand in a list: `none,all` adds the control arm
        arm_texts += supported if text.strip() == "all" else [text]
    arms: list[Arm] = []
    for text in arm_texts:
        parts = tuple(_parse_family(t, severity) for t in text.split("+"))
        for part in parts:
            if part.family != "none" and kind is not None and part.family not in supported:
                raise UsageError(
                    f"perturbation '{part.family}' does not support {kind} suites such as '{suite}'; "
                    f"valid there: none, {', '.join(supported)}"
                )
        if len(parts) > 1 and any(p.family == "none" for p in parts):
            raise UsageError(
                f"'none' cannot be combined with other families in '{text}'; "
                "valid: 'none' alone, or families joined by '+'"
            )
        # Named against the arm's own severity, not the --severity default: `camera
        # --severity 4` and `camera:severity=4` are one arm, `camera` at severity 4.
        arm_severity = max(p.severity for p in parts)
        name = "+".join(p.canonical(arm_severity) for p in parts)
        arm = Arm(name, parts, split)
        arm.build()  # validate family parameters now, in the parent, with a clear error
        if name not in {a.name for a in arms}:
            arms.append(arm)
    if not arms:
        raise UsageError("'all' found no perturbation families registered besides 'none'")
    return arms
