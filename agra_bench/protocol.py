"""Evaluation protocols as data: step caps, settle steps, init-state rules, control rate.

Harnesses disagree on step caps and settle steps, and results are not comparable across
them; so the protocol is one named, frozen object recorded in every run's manifest instead
of constants scattered over the code. Each preset is named after its source:

- `openpi` (default): what openpi's LIBERO client does, and what most published VLA numbers
  (pi0, pi0.5, OpenVLA-OFT) use: 10 settle steps with the gripper open, step caps spatial 220,
  object 280, goal 300, libero_10 520, libero_90 400 (examples/libero/main.py).
- `libero`: LIBERO's own evaluation (libero/lifelong/metric.py and configs/eval/default.yaml):
  5 settle steps of all-zero actions, then at most 600 steps for every suite.

Run tables written before the presets were renamed say `libero` for what is now `openpi`;
their manifests keep the numbers they ran with.
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
    source: str = ""
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


ROBOSUITE_CAPS = {
    # robosuite has no official caps; these follow common robomimic-style horizons.
    "robosuite_lift": 300,
    "robosuite_stack": 400,
    "robosuite_pick_place_can": 400,
    "robosuite_nut_assembly_square": 400,
    "robosuite_door": 300,
}

OPENPI_PROTOCOL = Protocol(
    name="openpi",
    settle_steps=10,
    settle_action=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    max_steps={
        "libero_spatial": 220,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
        "libero_90": 400,
        **ROBOSUITE_CAPS,
    },
    episodes_per_task=50,
    control_freq_hz=20,
    description="openpi's LIBERO client: 50 fixed init states per task, 10 settle steps (gripper open), "
    "per-suite step caps, 7-D delta-EEF actions at 20 Hz.",
    source="openpi examples/libero/main.py (openpi-client 0.1.2)",
    extra={"robosuite_init_states": "init state k = reset under numpy seed k"},
)

LIBERO_PROTOCOL = Protocol(
    name="libero",
    settle_steps=5,
    settle_action=(0.0,) * 7,
    max_steps={
        **{
            suite: 600
            for suite in ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90")
        },
        **ROBOSUITE_CAPS,
    },
    episodes_per_task=50,
    control_freq_hz=20,
    description="LIBERO's own evaluation: fixed init states, 5 settle steps of zero actions, "
    "600-step cap for every suite.",
    source="LIBERO libero/lifelong/metric.py, libero/configs/eval/default.yaml (max_steps 600)",
    extra={"robosuite_init_states": "init state k = reset under numpy seed k"},
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (OPENPI_PROTOCOL, LIBERO_PROTOCOL)}
DEFAULT_PROTOCOL = OPENPI_PROTOCOL.name


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise unknown("protocol", name, PROTOCOLS)
    return PROTOCOLS[name]
