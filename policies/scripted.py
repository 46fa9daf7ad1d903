"""`scripted`: a privileged pick-and-place oracle driven by simulator ground truth.

It reads object geometry and goal regions from `SimTaskEnv.privileged_state` (never pixels)
and runs a fixed sequence of primitives in the delta-EEF action space: approach above the
grasp point with the fingers turned to the object, descend, close, lift, carry above the
target, lower, open, retreat. Because it never looks at images, its success under a
perturbation shows that the perturbation left the task itself solvable.

Grasps come from each object's collision geometry (see `agra_bench.envs.geometry`):
- objects narrower than the open gripper are grasped across their narrowest horizontal
  direction, at mid-height for flat objects and a few centimetres below the top for tall ones;
- wider objects (bowls, plates) are grasped by the rim nearest the gripper, fingers closing
  radially across the wall, at the local height of the rim; while carrying, the object's
  measured offset in the hand decides where the gripper goes, so its centre lands on target;
- a grasp that closes on nothing is opened and planned again (twice at most).

Goals covered: (on|in, object, target) and (lift, object), and conjunctions of them, done one
after the other in the goal's order (libero_10's "put both ... in the basket"). Other goals
(open, close, turnon) get a clear error, which the runner records per episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agra_bench.envs.geometry import footprint
from policies.base import PRIVILEGED, Policy, PolicySpec
from policies.registry import register_policy

OPEN, CLOSE = -1.0, 1.0
GAIN = 20.0  # position action per metre of error (1.0 at 5 cm; OSC_POSE moves <= 5 cm per step)
YAW_GAIN = 5.0  # rotation action per radian of yaw error (OSC_POSE turns ~0.08 rad per unit)
MAX_GRASP_WIDTH = 0.065  # widest footprint grasped across its body (the Panda opens ~8 cm)
RIM_INSET = 0.012  # grasp this far inside the rim of wide objects
RIM_NEIGHBOURHOOD = 0.03  # geometry points this close (xy) to the rim grasp give its height
FINGER_DEPTH = 0.04  # fingertips go at most this far below an object's top
HELD_REACH = 0.12  # a held object's centre is at most this far (xy) from the gripper
EMPTY_GRIP = 0.004  # finger opening (m) below which a closed gripper holds nothing
MAX_ATTEMPTS = 2  # grasps tried again after closing on nothing


@dataclass
class Plan:
    """Where and how to grasp, computed from the object's geometry before it moves."""

    grasp: np.ndarray  # grasp point (world, 3)
    angle: float  # direction the fingers close along (radians, mod pi)
    height_in_hand: float  # grasp point above the object's bottom
    offset: np.ndarray  # grasp point minus the object's footprint centre (xy): rim grasps are off-centre


@dataclass
class SlotState:
    phase: str
    steps: int = 0
    plan: Plan | None = None
    goal: int = 0  # index of the goal predicate being worked on
    held: np.ndarray | None = None  # gripper minus object centre (xy) while carrying
    attempts: int = 0  # grasps retried in this goal
    planned_at: np.ndarray | None = None  # the object's position when the grasp was planned


HAND_HALF_LENGTH, HAND_HALF_WIDTH = 0.115, 0.035  # the Panda hand's footprint around the grasp axis
CLEARANCE_ENOUGH = 0.04  # beyond this, more clearance does not matter


def hand_clearance(obstacles: np.ndarray, centre: np.ndarray, angle: float) -> float:
    """Horizontal distance from obstacle points to the hand's footprint (negative inside it)."""
    if len(obstacles) == 0:
        return CLEARANCE_ENOUGH
    axis = np.array([np.cos(angle), np.sin(angle)])
    rel = obstacles[:, :2] - centre
    along, across = np.abs(rel @ axis), np.abs(rel @ np.array([-axis[1], axis[0]]))
    outside = np.hypot(np.maximum(along - HAND_HALF_LENGTH, 0), np.maximum(across - HAND_HALF_WIDTH, 0))
    inside = np.minimum(HAND_HALF_LENGTH - along, HAND_HALF_WIDTH - across)
    return float(min(np.where(outside > 0, outside, -inside).min(), CLEARANCE_ENOUGH))


# Points spread through a box (trilinear weights of its 8 corners): corners alone miss a hand
# that overlaps the middle of a large panel (a cabinet's top over an open drawer).
_GRID = np.linspace(0.0, 1.0, 5)
_WEIGHTS = np.array(
    [
        [(1 - u if i == 0 else u) * (1 - v if j == 0 else v) * (1 - w if k == 0 else w)
         for i in (0, 1) for j in (0, 1) for k in (0, 1)]
        for u in _GRID for v in _GRID for w in _GRID
    ]
)  # fmt: skip


def obstacle_points(state: dict, obj: str, above_z: float) -> np.ndarray:
    """Points through the geoms of other objects that rise above `above_z` (hand height)."""
    chunks = []
    for name, points in state["object_points"].items():
        if name == obj or len(points) == 0:
            continue
        boxes = points.reshape(-1, 8, 3)
        tall = boxes[:, :, 2].max(axis=1) > above_z
        if tall.any():
            spread = np.einsum("pc,bcd->bpd", _WEIGHTS, boxes[tall]).reshape(-1, 3)
            chunks.append(spread[spread[:, 2] > above_z])
    return np.concatenate(chunks) if chunks else np.zeros((0, 3))


def plan_grasp(points: np.ndarray, eef: np.ndarray, obstacles: np.ndarray) -> Plan:
    """Grasp across the body when it fits between the fingers, else by the rim; among the
    feasible finger directions, the one that keeps the hand clearest of other objects."""
    shape = footprint(points)
    zmin, zmax = shape["zmin"], shape["zmax"]
    height = zmax - zmin
    centre = np.asarray(shape["centre"])
    xy = points[:, :2]
    if shape["width"] <= MAX_GRASP_WIDTH:
        z = max(zmin + min(height / 2, 0.03), zmax - FINGER_DEPTH)
        best = None
        for angle in np.radians(np.arange(0.0, 180.0, 5.0)):
            axis = np.array([np.cos(angle), np.sin(angle)])
            width = float(np.ptp(xy @ axis))
            if width > MAX_GRASP_WIDTH:
                continue
            score = (round(hand_clearance(obstacles, centre, angle), 3), -width)
            if best is None or score > best[0]:
                best = (score, angle)
        return Plan(np.array([*centre, z]), float(best[1]) if best else shape["angle"], z - zmin, np.zeros(2))
    radius = shape["width"] / 2
    towards_eef = float(np.arctan2(*(eef[:2] - centre)[::-1]))
    best = None
    for angle in towards_eef + np.radians(np.arange(-90.0, 91.0, 15.0)):
        radial = np.array([np.cos(angle), np.sin(angle)])
        rim = centre + radial * (radius - RIM_INSET)
        score = (round(hand_clearance(obstacles, rim, angle), 3), -abs(angle - towards_eef))
        if best is None or score > best[0]:
            best = (score, angle, rim)
    # The rim's own height where the fingers close: a bowl resting tilted has a low side.
    near = np.linalg.norm(points[:, :2] - best[2], axis=1) < RIM_NEIGHBOURHOOD
    rim_top = float(points[near, 2].max()) if near.any() else zmax
    z = max(rim_top - 0.02, zmin + 0.01)
    return Plan(np.array([*best[2], z]), float(best[1]), z - zmin, best[2] - centre)


def yaw_error(target: float, axis: np.ndarray) -> float:
    """Signed turn (radians, in [-pi/2, pi/2)) that brings the finger axis to `target` mod pi."""
    current = float(np.arctan2(axis[1], axis[0]))
    return float((target - current + np.pi / 2) % np.pi - np.pi / 2)


def parse_goals(state: dict) -> list[tuple[str, str, str | None]]:
    """(kind, object, target) for every goal predicate, in the goal's order; ValueError naming
    the first predicate the primitives do not cover."""
    goals: list[tuple[str, str, str | None]] = []
    for predicate in state["goal"]:
        kind = predicate[0].lower()
        if kind in ("on", "in") and len(predicate) == 3:
            goals.append((kind, predicate[1], predicate[2]))
        elif kind == "lift" and len(predicate) == 2:
            goals.append((kind, predicate[1], None))
        else:
            raise ValueError(
                "scripted oracle covers (on|in, object, target) and (lift, object) goals; "
                f"got {predicate} in {state['goal']}"
            )
    return goals


def target_geometry(state: dict, target: str) -> tuple[np.ndarray, float]:
    """(xy to place over, top height) of a goal target: a site (region) or an object."""
    owner = next((o for o in state["objects"] if target == o or target.startswith(f"{o}_")), None)
    if target in state["sites"]:
        xy = np.asarray(state["sites"][target])[:2]
    elif owner is not None:
        xy = np.asarray(footprint(state["object_points"][owner])["centre"])
    else:
        raise ValueError(f"goal target '{target}' is neither a site nor an object of the scene")
    top = footprint(state["object_points"][owner])["zmax"] if owner else float(state["sites"][target][2])
    if target in state["sites"]:
        top = max(top, float(state["sites"][target][2]))
    return xy, top


@register_policy("scripted")
class ScriptedPickPlace(Policy):
    """Privileged pick-and-place oracle from simulator state (LIBERO pick/place goals, robosuite)."""

    name = "scripted"
    SEQUENCE = ("above_object", "descend", "grasp", "lift", "above_target", "lower", "release", "retreat")

    def __init__(self, approach_height: float = 0.08, place_clearance: float = 0.02) -> None:
        self.spec = PolicySpec(observation_keys=(PRIVILEGED,), chunk_length=1, execute_horizon=1)
        self.approach_height, self.place_clearance = approach_height, place_clearance
        self._slots: dict[int, SlotState] = {}

    def reset(self, slot: int, seed: int) -> None:
        self._slots[slot] = SlotState(self.SEQUENCE[0])

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        return np.stack(
            [self._act_one(s, slot)[None] for s, slot in zip(obs[PRIVILEGED], slots, strict=True)]
        )

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

    def _act_one(self, state: dict, slot: int) -> np.ndarray:
        goals = parse_goals(state)
        me = self._slots[slot]
        kind, obj, target = goals[me.goal]
        me.steps += 1
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
            target_xy = target_xy + self._held_offset(state, obj, eef, me)
            place_z = target_top + plan.height_in_hand + self.place_clearance
        else:
            target_xy, place_z = plan.grasp[:2], plan.grasp[2] + 0.15
        carry_z = max(place_z + 0.08, plan.grasp[2] + 0.1)
        above_grasp = plan.grasp + [0, 0, self.approach_height]
        yaw, gripper, done = plan.angle, OPEN, False
        if me.phase == "above_object":
            waypoint = above_grasp
            done = (reached(eef, waypoint, 0.01) and abs(yaw_error(yaw, state["gripper_axis"])) < 0.05) or (
                me.steps > 100
            )
        elif me.phase == "descend":
            waypoint = plan.grasp
            done = reached(eef, waypoint, 0.007) or me.steps > 40
        elif me.phase == "grasp":
            waypoint, gripper, done = plan.grasp, CLOSE, me.steps > 10
        elif me.phase == "lift":
            waypoint, gripper = np.array([eef[0], eef[1], carry_z]), CLOSE
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
        elif me.phase == "lower":
            waypoint, gripper = np.array([*target_xy, place_z]), CLOSE
            done = reached(eef, waypoint, 0.01) or me.steps > 50
        elif me.phase == "release":
            waypoint, gripper, done = np.array([*target_xy, place_z]), OPEN, me.steps > 10
        else:  # retreat, then the next goal predicate or hold
            waypoint = np.array([*target_xy, carry_z + 0.05])
            if me.goal + 1 < len(goals) and (reached(eef, waypoint, 0.02) or me.steps > 40):
                me.goal, me.phase, me.steps, me.plan, me.held = me.goal + 1, self.SEQUENCE[0], 0, None, None
                me.attempts = 0
        if done:
            me.phase, me.steps = self.SEQUENCE[self.SEQUENCE.index(me.phase) + 1], 0
        action = np.zeros(7, dtype=np.float32)
        action[:3] = np.clip((waypoint - eef) * GAIN, -1, 1)
        if me.phase in ("above_object", "descend"):
            action[5] = np.clip(yaw_error(yaw, state["gripper_axis"]) * YAW_GAIN, -1, 1)
        action[6] = gripper
        return action


def reached(position: np.ndarray, waypoint: np.ndarray, tolerance: float) -> bool:
    return bool(np.linalg.norm(np.asarray(position) - np.asarray(waypoint)) < tolerance)
