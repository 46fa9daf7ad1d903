"""Evaluation protocols as data: step caps, settle steps, init-state rules, control rate.

Harnesses disagree on step caps and settle steps, and results are not comparable across
them; so the protocol is one named, frozen object recorded in every run's manifest instead
of constants scattered over the code. Each preset is named after its source:

- `openpi` (default): what openpi's LIBERO client does, and what most published VLA numbers
  (pi0, pi0.5, OpenVLA-OFT) use: 10 settle steps with the gripper open, step caps spatial 220,
  object 280, goal 300, libero_10 520, libero_90 400 (examples/libero/main.py).
- `libero`: LIBERO's own evaluation (libero/lifelong/metric.py and configs/eval/default.yaml):
  5 settle steps of all-zero actions, the last one's observation first, then at most 600 steps
  for every suite; 20 episodes per task (n_eval), init states 0-19.

A protocol is also a *scene*: LIBERO's init states hold qpos and qvel but not where the
fixtures (cabinets, stoves) stand, which each hard reset samples (agra_bench/scenes); and the
*moment* of the first observation, which sets when robosuite's observables sample for the whole
episode. `openpi` reproduces both as openpi's loop has them: fixtures from the table of its
episode k (`scene="openpi"`), and the first observation is the one its last settle step returns
(`first_observation="last_settle_step"`). `verify-protocol` checks it against the loop itself.

- `lerobot`: lerobot-eval's LIBERO env (src/lerobot/envs/libero.py): openpi's settle steps and
  caps, but libero_spatial 280.

`openpi_idseed` and `libero_idseed` keep the scene rule of agra-bench runs written before
episode schema 5 (fixtures seeded by the init-state id, the first observation forced after
settling): reports read such rows under these names, and new arms of an experiment run under
that rule can still be paired with them.

Run tables written before the presets were renamed say `libero` for what is now `openpi`;
their manifests keep the numbers they ran with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from agra_bench.errors import UsageError, unknown
from agra_bench.scenes.rules import SCENE_RULES


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol.

    settle_steps: no-op steps after restoring the init state, before the policy acts, so that
        objects come to rest (LIBERO: 10, action = zero motion with the gripper open).
    max_steps: policy steps allowed per episode, per suite; reaching it without success
        truncates the episode (`hit_step_cap`).
    episodes_per_task: the protocol's default episode count; episode k uses init state
        k mod num_init_states, independent of worker count or batching.
    scene: where a LIBERO scene's fixtures stand (agra_bench/scenes/rules.py): a fixture table
        of the source loop, or `init_state_seed` (the hard reset seeded by the init-state id).
    first_observation: `last_settle_step` (what the last settle step returns, as openpi's and
        LIBERO's loops hand the policy) or `forced` (a fresh observation after settling; it
        shifts robosuite's sampling timers by one substep for the rest of the episode).
    """

    name: str
    settle_steps: int
    settle_action: tuple[float, ...]
    max_steps: dict[str, int]
    episodes_per_task: int
    control_freq_hz: int
    scene: str = "init_state_seed"
    first_observation: str = "forced"
    description: str = ""
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.settle_steps < 0:
            raise UsageError(f"settle_steps must be >= 0, got {self.settle_steps}")
        if len(self.settle_action) != 7:
            raise UsageError(f"settle_action must have 7 values, got {len(self.settle_action)}")
        if self.scene not in SCENE_RULES:
            raise unknown("scene rule", self.scene, SCENE_RULES)
        if self.first_observation not in FIRST_OBSERVATIONS:
            raise unknown("first observation", self.first_observation, FIRST_OBSERVATIONS)
        bad = {k: v for k, v in self.max_steps.items() if v <= 0}
        if bad:
            raise UsageError(f"max_steps must be positive, got {bad}")

    def step_cap(self, suite: str) -> int:
        if suite not in self.max_steps:
            raise unknown(f"suite for protocol '{self.name}'", suite, self.max_steps)
        return self.max_steps[suite]

    def to_dict(self) -> dict:
        return asdict(self)


FIRST_OBSERVATIONS = ("last_settle_step", "forced")

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
    scene="openpi",
    first_observation="last_settle_step",
    description="openpi's LIBERO client: 50 fixed init states per task, fixtures where its episode k "
    "has them, 10 settle steps (gripper open), the last one's observation first, per-suite step caps, "
    "7-D delta-EEF actions at 20 Hz.",
    source="openpi examples/libero/main.py at commit 04a8d0c9e0ef (its loop unchanged since 2025-02-03), "
    "openpi-client 0.1.2",
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
    episodes_per_task=20,
    control_freq_hz=20,
    first_observation="last_settle_step",
    description="LIBERO's own evaluation: init states 0-19, 5 settle steps of zero actions (the last "
    "one's observation first), 600-step cap for every suite; fixtures seeded by the init-state id.",
    source="LIBERO libero/lifelong/metric.py evaluate_one_task_success and libero/configs/eval/default.yaml "
    "(n_eval 20, max_steps 600) at commit 4f0dd188960c",
    extra={
        "robosuite_init_states": "init state k = reset under numpy seed k",
        "fixtures_not_reproducible": "metric.py never seeds its envs: where a reset puts the fixtures "
        "depends on what the env process's generator held; agra-bench seeds them by the init-state id",
    },
)


LEROBOT_PROTOCOL = Protocol(
    name="lerobot",
    settle_steps=OPENPI_PROTOCOL.settle_steps,
    settle_action=OPENPI_PROTOCOL.settle_action,
    max_steps={**OPENPI_PROTOCOL.max_steps, "libero_spatial": 280},
    episodes_per_task=50,
    control_freq_hz=20,
    first_observation="last_settle_step",
    description="lerobot-eval's LIBERO env: init state k, 10 settle steps (gripper open), the last one's "
    "observation first, caps as openpi's but libero_spatial 280; fixtures seeded by the init-state id.",
    source="lerobot src/lerobot/envs/libero.py LiberoEnv.reset at commit 0b2d0d3d3006",
    extra={
        "robosuite_init_states": "init state k = reset under numpy seed k",
        "fixtures_not_reproducible": "LiberoEnv.reset seeds numpy with the episode's seed, but a sub-env's "
        "fixtures also depend on how many hard resets it made before (LIBERO's sampler list grows) and "
        "step() resets unseeded after every success: they follow the policy's history",
    },
)


def legacy(protocol: Protocol) -> Protocol:
    """`protocol` under the scene rule of runs written before episode schema 5."""
    return replace(
        protocol,
        name=f"{protocol.name}_idseed",
        scene="init_state_seed",
        first_observation="forced",
        episodes_per_task=50,  # what both presets ran by default then
        description=f"{protocol.name}'s caps and settle steps; fixtures seeded by the init-state id and "
        "the first observation forced after settling: the scene rule of agra-bench runs before "
        "episode schema 5 (the committed reference runs).",
    )


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        OPENPI_PROTOCOL,
        LIBERO_PROTOCOL,
        LEROBOT_PROTOCOL,
        legacy(OPENPI_PROTOCOL),
        legacy(LIBERO_PROTOCOL),
    )
}
#: What rows of episode schema < 5 meant by a protocol name (reports read them so).
LEGACY_NAMES = {"openpi": "openpi_idseed", "libero": "libero_idseed"}
LEGACY_BEFORE_SCHEMA = 5
DEFAULT_PROTOCOL = OPENPI_PROTOCOL.name


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise unknown("protocol", name, PROTOCOLS)
    return PROTOCOLS[name]
