"""`scripted`: a privileged pick-and-place oracle driven by simulator ground truth.

It reads object and goal-region positions from `SimTaskEnv.privileged_state` (never pixels)
and runs a fixed sequence of primitives in the delta-EEF action space: approach above the
object, descend, close, lift, carry above the target, lower, open, retreat. It covers goals of
the form (on|in, object, target), the libero_object and libero_spatial pattern; other goals get
a clear error. Actions are proportional steps towards each waypoint (OSC_POSE maps an action of
1 to 5 cm per step). Because it never looks at images, its success under a perturbation shows
that the perturbation left the task itself solvable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.base import PRIVILEGED, Policy, PolicySpec
from policies.registry import register_policy

OPEN, CLOSE = -1.0, 1.0
GAIN = 20.0  # action per metre of error (1.0 at 5 cm)


@dataclass
class Phase:
    name: str
    steps: int = 0  # steps spent in the phase so far


@register_policy("scripted")
class ScriptedPickPlace(Policy):
    """Privileged pick-and-place oracle from simulator state (libero_object/spatial goals)."""

    name = "scripted"
    SEQUENCE = ("above_object", "descend", "grasp", "lift", "above_target", "lower", "release", "retreat")

    def __init__(
        self,
        approach_height: float = 0.10,
        grasp_offset: float = 0.0,
        carry_height: float = 0.12,
        release_height: float = 0.08,
    ) -> None:
        self.spec = PolicySpec(observation_keys=(PRIVILEGED,), chunk_length=1, execute_horizon=1)
        self.approach_height, self.grasp_offset = approach_height, grasp_offset
        self.carry_height, self.release_height = carry_height, release_height
        self._phases: dict[int, Phase] = {}

    def reset(self, slot: int, seed: int) -> None:
        self._phases[slot] = Phase(self.SEQUENCE[0])

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        return np.stack(
            [self._act_one(state, slot)[None] for state, slot in zip(obs[PRIVILEGED], slots, strict=True)]
        )

    def _act_one(self, state: dict, slot: int) -> np.ndarray:
        obj_name, target_pos = parse_goal(state)
        obj = state["objects"][obj_name]
        eef = state["eef_pos"]
        phase = self._phases[slot]
        phase.steps += 1
        waypoint, gripper, done = eef, OPEN, False
        if phase.name == "above_object":
            waypoint = obj + [0, 0, self.approach_height]
            done = reached(eef, waypoint, 0.01) or phase.steps > 80
        elif phase.name == "descend":
            waypoint = obj + [0, 0, self.grasp_offset]
            done = reached(eef, waypoint, 0.008) or phase.steps > 40
        elif phase.name == "grasp":
            waypoint, gripper, done = obj + [0, 0, self.grasp_offset], CLOSE, phase.steps > 12
        elif phase.name == "lift":
            waypoint, gripper = np.array([eef[0], eef[1], target_pos[2] + self.carry_height + 0.05]), CLOSE
            done = eef[2] >= waypoint[2] - 0.01 or phase.steps > 40
        elif phase.name == "above_target":
            waypoint, gripper = target_pos + [0, 0, self.carry_height + 0.05], CLOSE
            done = reached(eef[:2], waypoint[:2], 0.01) or phase.steps > 100
        elif phase.name == "lower":
            waypoint, gripper = target_pos + [0, 0, self.release_height], CLOSE
            done = reached(eef, waypoint, 0.01) or phase.steps > 40
        elif phase.name == "release":
            waypoint, gripper, done = target_pos + [0, 0, self.release_height], OPEN, phase.steps > 10
        else:  # retreat and hold
            waypoint = target_pos + [0, 0, self.carry_height + 0.1]
        if done:
            self._phases[slot] = Phase(self.SEQUENCE[self.SEQUENCE.index(phase.name) + 1])
        action = np.zeros(7, dtype=np.float32)
        action[:3] = np.clip((waypoint - eef) * GAIN, -1, 1)
        action[6] = gripper
        return action


def reached(position: np.ndarray, waypoint: np.ndarray, tolerance: float) -> bool:
    return bool(np.linalg.norm(position - waypoint) < tolerance)


def parse_goal(state: dict) -> tuple[str, np.ndarray]:
    """(object to move, target position) from a single (on|in, object, target) goal."""
    for predicate in state["goal"]:
        kind = predicate[0].lower()
        if kind in ("on", "in") and len(predicate) == 3:
            obj, target = predicate[1], predicate[2]
            if target in state["sites"]:
                return obj, np.asarray(state["sites"][target])
            if target in state["objects"]:
                return obj, np.asarray(state["objects"][target])
    raise ValueError(f"scripted oracle covers (on|in, object, target) goals only; got {state['goal']}")
