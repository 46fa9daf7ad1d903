"""`scripted`: a privileged oracle driven by simulator ground truth (pick and place, push,
turn a knob, open and close drawers).

It reads object geometry, joints and goal regions from `SimTaskEnv.privileged_state` (never
pixels) and runs primitives in the delta-EEF action space. Pick and place lives here:
approach above the grasp point with the fingers turned to the object, descend, close, lift,
carry above the target, lower, open, retreat. Because the oracle never looks at images, its
success under a perturbation shows that the perturbation left the task itself solvable.

Grasps come from each object's collision geometry (`policies.oracle_grasp`):
- objects narrower than the open gripper are grasped across their narrowest horizontal
  direction, at mid-height for flat objects and a few centimetres below the top for tall ones;
- wider hollow objects (bowls, mugs) by the rim nearest the gripper, fingers closing radially
  across the wall; wider solid ones (a moka pot) by their handle. While carrying an off-centre
  grasp, the object's measured offset in the hand decides where the gripper goes, so its
  centre lands on target;
- a grasp that closes on nothing is opened and planned again (twice at most);
- the hand travels at its height and goes down only near the grasp (a straight line from the
  last target dips through a basket's wall), lifts objects near the robot's base outwards
  (straight up folds the elbow onto its stop), and turns the wrist the long way round when
  the short way runs into the last joint's stop.

Flat objects wider than the gripper (plates) are slid instead, knobs on vertical hinges (a
stove's switch) are gripped and twisted (`policies.oracle_skills`), and drawers are pulled
open by their handle or pressed shut (`policies.oracle_drawer`).

Goals covered: (on|in, object, target), (lift, object), (turnon|turnoff, knob),
(open|close, drawer), and conjunctions of them, done one after the other: switches and drawers
to open first, then placements in the goal's order (libero_10's "put both ... in the basket"),
then drawers to close. Other predicates get a clear error, which the runner records per
episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.base import PRIVILEGED, Policy, PolicySpec
from policies.oracle_arm import frame_error, lift_point, wrist_turn
from policies.oracle_drawer import drawer_step, is_drawer
from policies.oracle_grasp import MAX_GRASP_WIDTH, Plan, obstacle_points, plan_grasp, reached, yaw_error
from policies.oracle_skills import (
    CLOSE,
    OPEN,
    Move,
    is_pushed,
    push_step,
    surface_under,
    target_geometry,
    turn_step,
)
from policies.registry import register_policy

GAIN = 20.0  # position action per metre of error (1.0 at 5 cm; OSC_POSE moves <= 5 cm per step)
YAW_GAIN = 5.0  # rotation action per radian of yaw error (OSC_POSE turns ~0.08 rad per unit)
HELD_REACH = 0.12  # a held object's centre is at most this far (xy) from the gripper
REGION_SPREAD = 0.6  # objects sharing a region are this fraction of its length apart, end to end
HANDLE_DROP = 0.005  # an object held by its handle is let go this far above the surface
EMPTY_GRIP = 0.004  # finger opening (m) below which a closed gripper holds nothing
MAX_ATTEMPTS = 2  # grasps tried again after closing on nothing
TRAVEL_NEAR = 0.05  # the hand goes down to the grasp's approach height only this close (xy) to it


@dataclass
class SlotState:
    phase: str
    steps: int = 0
    plan: Plan | None = None
    goal: int = 0  # index of the goal predicate being worked on
    skill: str = ""  # the skill chosen for the current goal, kept until it is finished
    held: np.ndarray | None = None  # gripper minus object centre (xy) while carrying
    attempts: int = 0  # grasps retried in this goal
    planned_at: np.ndarray | None = None  # the object's position when the grasp was planned
    release_z: float = 0.0  # hand height where the object is let go


# Switches and drawers to open before placing, drawers to close after.
GOAL_ORDER = {"turnon": 0, "turnoff": 0, "open": 0, "on": 1, "in": 1, "lift": 1, "close": 2}


def share_of_region(state: dict, target: str, obj: str) -> np.ndarray:
    """Offset (xy) from a region's centre for `obj` when several goals place objects in that
    region (libero_10's "put both moka pots on the stove"): side by side along its longer
    side, REGION_SPREAD of its length apart in all, so the second does not land on the first."""
    sharing = [goal[1] for goal in parse_goals(state) if goal[2] == target]
    size = state.get("region_sizes", {}).get(target)
    if len(sharing) < 2 or size is None:
        return np.zeros(2)
    axis = np.eye(2)[int(np.argmax(size))]
    position = sharing.index(obj) / (len(sharing) - 1) - 0.5  # -0.5 .. 0.5
    return axis * position * REGION_SPREAD * 2 * float(np.max(size))


def parse_goals(state: dict) -> list[tuple[str, str, str | None]]:
    """(kind, object, target) for every goal predicate: switches and drawers to open first (a
    pot placed on a stove would hide its knob; a drawer something goes into is opened even when
    the goal does not say so), then placements in the goal's order, then drawers to close;
    ValueError naming the first predicate no skill covers."""
    goals: list[tuple[str, str, str | None]] = []
    for predicate in state["goal"]:
        kind = predicate[0].lower()
        if kind in ("on", "in") and len(predicate) == 3:
            if is_drawer(state, predicate[2]) and ("open", predicate[2], None) not in goals:
                goals.append(("open", predicate[2], None))  # "put the bowl in the top drawer": open it
            goals.append((kind, predicate[1], predicate[2]))
        elif kind in ("open", "close") and len(predicate) == 2:
            if not is_drawer(state, predicate[1]):
                raise ValueError(
                    f"scripted oracle opens and closes drawers (slide joints); got {predicate}, "
                    f"and '{predicate[1]}' is not a drawer"
                )
            goals.append((kind, predicate[1], None))
        elif kind in ("lift", "turnon", "turnoff") and len(predicate) == 2:
            goals.append((kind, predicate[1], None))
        else:
            raise ValueError(
                "scripted oracle covers (on|in, object, target), (lift, object), "
                f"(turnon|turnoff, knob) and (open|close, drawer) goals; got {predicate} in {state['goal']}"
            )
    return sorted(goals, key=lambda goal: GOAL_ORDER[goal[0]])


@register_policy("scripted")
class ScriptedPickPlace(Policy):
    """Privileged oracle from simulator state: pick and place, push, turn a knob, drawers."""

    name = "scripted"
    SEQUENCE = ("above_object", "descend", "grasp", "lift", "above_target", "lower", "release", "retreat")

    def __init__(self, approach_height: float = 0.08, place_clearance: float = 0.02) -> None:
        self.spec = PolicySpec(observation_keys=(PRIVILEGED,), chunk_length=1, execute_horizon=1)
        self.approach_height, self.place_clearance = approach_height, place_clearance
        self._slots: dict[int, SlotState] = {}
        # skill -> (first phase, step(state, slot state, kind, object, target) -> Move)
        self._skills = {
            "pick_place": (self.SEQUENCE[0], self._pick_place),
            "push": ("push_above", push_step),
            "turn": ("turn_above", turn_step),
            "drawer": ("drawer_rise", drawer_step),
        }

    @staticmethod
    def _skill_for(state: dict, kind: str, obj: str, target: str | None) -> str:
        if kind in ("turnon", "turnoff"):
            return "turn"
        if kind in ("open", "close"):
            return "drawer"
        if target is not None and is_pushed(state["object_points"][obj], MAX_GRASP_WIDTH):
            return "push"
        return "pick_place"

    def reset(self, slot: int, seed: int) -> None:
        self._slots[slot] = SlotState("")

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        return np.stack(
            [self._act_one(s, slot)[None] for s, slot in zip(obs[PRIVILEGED], slots, strict=True)]
        )

    def _act_one(self, state: dict, slot: int) -> np.ndarray:
        goals = parse_goals(state)
        me = self._slots[slot]
        eef = np.asarray(state["eef_pos"])
        if me.goal >= len(goals):  # every goal done: hold still with the fingers open
            return self._action(state, Move(eef, OPEN))
        kind, obj, target = goals[me.goal]
        if not me.skill:  # chosen when the goal starts: an object tilted by a push stays pushed
            me.skill = self._skill_for(state, kind, obj, target)
            me.phase = self._skills[me.skill][0]
        me.steps += 1
        move = self._skills[me.skill][1](state, me, kind, obj, target)
        if move.finished:
            self._slots[slot] = SlotState("", goal=me.goal + 1)
        return self._action(state, move)

    @staticmethod
    def _action(state: dict, move: Move) -> np.ndarray:
        action = np.zeros(7, dtype=np.float32)
        action[:3] = np.clip((move.waypoint - np.asarray(state["eef_pos"])) * GAIN, -1, 1)
        if move.frame is not None:
            action[3:6] = np.clip(frame_error(np.asarray(state["eef_xmat"]), *move.frame) * YAW_GAIN, -1, 1)
            action[6] = move.gripper
            return action
        # Keep the fingers pointing down: a hand tilted by a contact (a knob at its stop, a
        # handle) stays tilted otherwise, since the controller holds whatever orientation it has.
        pointing = np.asarray(state["eef_xmat"])[:, 2]
        action[3:5] = np.clip(np.cross(pointing, [0.0, 0.0, -1.0])[:2] * YAW_GAIN, -1, 1)
        if move.yaw is not None:
            action[5] = np.clip(
                wrist_turn(state, yaw_error(move.yaw, state["gripper_axis"])) * YAW_GAIN, -1, 1
            )
        action[6] = move.gripper
        return action

    @staticmethod
    def _held_offset(state: dict, obj: str, eef: np.ndarray, me: SlotState) -> np.ndarray:
        """Gripper minus object centre (xy), so that the object's centre lands on the target.

        Grasps across the body hold the object centred: the planned offset (zero) holds. A rim
        grasp holds it off-centre, and a bowl lifted from a slope or by a tilted rim swings in
        the hand; its offset is measured while carrying and frozen once lowering starts."""
        if not np.any(me.plan.offset):
            return me.plan.offset
        if me.phase == "above_target" or me.held is None:
            held = eef[:2] - np.asarray(state["objects"][obj])[:2]
            opening = float(state["gripper_qpos"][0] - state["gripper_qpos"][1])
            # An object that is not in the hand (a missed grasp) must not move the target.
            in_hand = opening >= EMPTY_GRIP and np.linalg.norm(held) < HELD_REACH
            me.held = held if in_hand else me.plan.offset
        return me.held

    def _pick_place(self, state: dict, me: SlotState, kind: str, obj: str, target: str | None) -> Move:
        eef = np.asarray(state["eef_pos"])
        where = np.asarray(state["objects"][obj])
        if me.plan is None or (me.phase == "above_object" and np.linalg.norm(where - me.planned_at) > 0.01):
            # Planned once per approach, again only if the object moves before the grasp:
            # re-planning at every step let a rim grasp's side flip as the hand moved.
            points = state["object_points"][obj]
            me.plan = plan_grasp(points, eef, obstacle_points(state, obj, float(points[:, 2].min()) + 0.03))
            me.planned_at = where
        plan = me.plan
        if target is not None:
            target_xy, target_top = target_geometry(state, target)
            target_xy = target_xy + share_of_region(state, target, obj)
            target_xy = target_xy + self._held_offset(state, obj, eef, me)
            place_z = target_top + plan.height_in_hand + self.place_clearance
        else:
            target_xy, place_z = plan.grasp[:2], plan.grasp[2] + 0.15
        carry_z = max(place_z + 0.08, plan.grasp[2] + 0.1)
        gripper, done, finished = OPEN, False, False
        if me.phase == "above_object":
            waypoint = plan.grasp + [0, 0, self.approach_height]
            if not reached(eef[:2], waypoint[:2], TRAVEL_NEAR):
                # Travel at the height the hand is at, then go down: the straight line from
                # the last target (a basket) dips through its wall and tips it over.
                waypoint[2] = max(waypoint[2], eef[2])
            aligned = abs(yaw_error(plan.angle, state["gripper_axis"])) < 0.05
            done = (reached(eef, waypoint, 0.01) and aligned) or me.steps > 100
        elif me.phase == "descend":
            waypoint = plan.grasp
            done = reached(eef, waypoint, 0.007) or me.steps > 40
        elif me.phase == "grasp":
            waypoint, gripper, done = plan.grasp, CLOSE, me.steps > 10
        elif me.phase == "lift":
            waypoint, gripper = np.array([*lift_point(state, plan.grasp), carry_z]), CLOSE
            done = eef[2] >= carry_z - 0.01 or me.steps > 50
            opening = float(state["gripper_qpos"][0] - state["gripper_qpos"][1])
            if me.steps > 8 and opening < EMPTY_GRIP and me.attempts < MAX_ATTEMPTS:
                # The fingers closed on nothing: open, and plan again from where the object is now.
                me.attempts += 1
                me.phase, me.steps, me.plan, gripper, done = "above_object", 0, None, OPEN, False
            if kind == "lift":
                done = False  # hold the object up: lifting is the whole task
        elif me.phase == "above_target":
            waypoint, gripper = np.array([*target_xy, carry_z]), CLOSE
            done = reached(eef[:2], waypoint[:2], 0.008) or me.steps > 120
        elif me.phase == "lower" and plan.kind == "handle":
            # Held by a handle, the object hangs at an angle and lower than planned: lower it
            # until its own bottom is just above the surface under it, then let go.
            bottom = float(state["object_points"][obj][:, 2].min())
            surface = surface_under(state, target, np.asarray(state["objects"][obj])[:2])
            waypoint, gripper = np.array([*target_xy, eef[2] - (bottom - surface - HANDLE_DROP)]), CLOSE
            done = bottom < surface + 2 * HANDLE_DROP or me.steps > 50
            me.release_z = eef[2]
        elif me.phase == "lower":
            waypoint, gripper = np.array([*target_xy, place_z]), CLOSE
            done = reached(eef, waypoint, 0.01) or me.steps > 50
            me.release_z = place_z
        elif me.phase == "release":
            waypoint, gripper, done = np.array([*target_xy, me.release_z]), OPEN, me.steps > 10
        else:  # retreat, then the next goal predicate (the last one holds here)
            waypoint = np.array([*target_xy, carry_z + 0.05])
            finished = reached(eef, waypoint, 0.02) or me.steps > 40
        if done:
            me.phase, me.steps = self.SEQUENCE[self.SEQUENCE.index(me.phase) + 1], 0
        yaw = plan.angle if me.phase in ("above_object", "descend") else None
        return Move(waypoint, gripper, finished, yaw)
