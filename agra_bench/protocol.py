"""Evaluation protocols as data: step caps, settle steps, init-state rules, control rate.

Harnesses disagree on step caps and settle steps, and results are not comparable across
them; so the protocol is one named, frozen object recorded in every run's manifest instead
of constants scattered over the code. `libero` is the standard LIBERO protocol.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from agra_bench.errors import UsageError, unknown


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol.

    settle_steps: no-op steps after restoring the init state, before the policy acts, so that
        objects come to rest (LIBERO: 10, action = zero motion with the gripper open).
    max_steps: policy steps allowed per episode, per suite; reaching it without success
        truncates the episode (`hit_step_cap`).
    episodes_per_task: the protocol's default episode count; episode k uses init state
        k mod num_init_states, independent of worker count or batching.
    """

    name: str
    settle_steps: int
    settle_action: tuple[float, ...]
    max_steps: dict[str, int]
    episodes_per_task: int
    control_freq_hz: int
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.settle_steps < 0:
            raise UsageError(f"settle_steps must be >= 0, got {self.settle_steps}")
        if len(self.settle_action) != 7:
            raise UsageError(f"settle_action must have 7 values, got {len(self.settle_action)}")
        bad = {k: v for k, v in self.max_steps.items() if v <= 0}
        if bad:
            raise UsageError(f"max_steps must be positive, got {bad}")

    def step_cap(self, suite: str) -> int:
        if suite not in self.max_steps:
            raise unknown(f"suite for protocol '{self.name}'", suite, self.max_steps)
        return self.max_steps[suite]

    def to_dict(self) -> dict:
        return asdict(self)


LIBERO_PROTOCOL = Protocol(
    name="libero",
    settle_steps=10,
    settle_action=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    max_steps={
        "libero_spatial": 220,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
        "libero_90": 400,
        # robosuite has no official caps; these follow common robomimic-style horizons.
        "robosuite_lift": 300,
        "robosuite_stack": 400,
        "robosuite_pick_place_can": 400,
        "robosuite_nut_assembly_square": 400,
        "robosuite_door": 300,
    },
    episodes_per_task=50,
    control_freq_hz=20,
    description="Standard LIBERO evaluation: 50 fixed init states per task, 10 settle steps, "
    "per-suite step caps, 7-D delta-EEF actions at 20 Hz.",
    extra={"robosuite_init_states": "init state k = reset under numpy seed k"},
)

PROTOCOLS: dict[str, Protocol] = {LIBERO_PROTOCOL.name: LIBERO_PROTOCOL}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise unknown("protocol", name, PROTOCOLS)
    return PROTOCOLS[name]
