"""Skills of the scripted oracle besides pick and place: sliding a flat object over the table
and turning a knob about a vertical hinge (a stove's switch); plus the `Move` every skill
returns and the geometry of goal targets they share.

Each skill is a small state machine over `SlotState.phase`. A step returns a `Move`: the
end-effector waypoint, the gripper command, an optional finger yaw (or a full hand frame) and
whether the skill is finished. Skills read only `privileged_state` (object geometry, goal
sites, the articulations of goal arguments), never pixels, like the pick-and-place skill in
`policies.scripted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agra_bench.envs.geometry import footprint
from policies.oracle_grasp import reached, spread_points, yaw_error

OPEN, CLOSE = -1.0, 1.0

PUSH_HEIGHT = 0.0  # end effector above the object's bottom: the finger tips press on its floor
PUSH_STEP = 0.05  # the hand is led at most this far ahead while dragging (the OSC limit)
PUSH_DOWN_DONE = 0.017  # the hand this close above `low` has its finger tips on the floor
PUSH_TOLERANCE = 0.02  # the object's centre this close to the target ends the push
PUSH_REACH = 0.06  # the hand this far from the object's centre lifts and starts again
SURFACE_RADIUS = 0.04  # geometry this close (xy) to where an object is set down carries it
FLAT_HEIGHT = 0.03  # objects lower than this and wider than the grip are pushed, not carried

TURN_STEP = 0.4  # radians the wrist is asked to turn past where it is, while twisting
TURN_MARGIN = 0.3  # radians past the predicate's threshold, so the switch stays on


@dataclass
class Move:
    waypoint: np.ndarray
    gripper: float
    finished: bool = False
    yaw: float | None = None  # finger closing direction, for a hand pointing down
    frame: tuple[np.ndarray, np.ndarray] | None = None  # (pointing, closing axis): any other pose


def target_owner(state: dict, target: str) -> str | None:
    """The scene object a goal target belongs to: itself, or the object its name extends
    ("flat_stove_1_cook_region" -> "flat_stove_1"); None for a site of the table."""
    return next((o for o in state["objects"] if target == o or target.startswith(f"{o}_")), None)


def target_geometry(state: dict, target: str) -> tuple[np.ndarray, float]:
    """(xy to place over, top height) of a goal target: a site (region) or an object."""
    owner = target_owner(state, target)
    shape = footprint(state["object_points"][owner]) if owner is not None else None
    if target in state["sites"]:
        xy = np.asarray(state["sites"][target])[:2]
    elif shape is not None:
        xy = np.asarray(shape["centre"])
    else:
        raise ValueError(f"goal target '{target}' is neither a site nor an object of the scene")
    top = shape["zmax"] if shape is not None else float(state["sites"][target][2])
    if target in state["sites"]:
        top = max(top, float(state["sites"][target][2]))
    if state.get("articulations", {}).get(target):
        top = surface_under(state, target, xy)  # inside an open drawer, not on the cabinet's top
    return xy, top


def surface_under(state: dict, target: str, xy: np.ndarray) -> float:
    """Height of the target's owner under `xy` (its highest geometry within SURFACE_RADIUS):
    a stove's burner, not the top of its knob, which `target_geometry` reports; for a drawer,
    of the drawer alone."""
    owner = target_owner(state, target)
    if owner is None:
        return float(state["sites"][target][2])
    joints = state.get("articulations", {}).get(target)
    # In a drawer, its own floor: the handles of the drawers above stick out over it.
    points = spread_points(joints[0]["points"] if joints else state["object_points"][owner])
    near = np.linalg.norm(points[:, :2] - xy, axis=1) < SURFACE_RADIUS
    return float(points[near, 2].max()) if near.any() else float(points[:, 2].max())


def is_pushed(points: np.ndarray, max_grasp_width: float) -> bool:
    """Flat objects wider than the open gripper (plates) slide; their rims are too low to hold."""
    shape = footprint(points)
    return shape["width"] > max_grasp_width and shape["zmax"] - shape["zmin"] < FLAT_HEIGHT


def push_step(state: dict, me: Any, kind: str, obj: str, target: str) -> Move:
    """Slide a flat, wide object (a plate) from inside: put the closed fingers down on its
    floor at its centre, then move the hand by the object's remaining error, so the fingers
    drag the floor and press on the leading inner wall. Working from inside keeps the hand off
    whatever stands behind the object (a cabinet behind the plate); pushing from behind jammed.
    If the hand ends up far from the object's centre (it turned or slid away), lift and start
    again."""
    points = state["object_points"][obj]
    shape = footprint(points)
    centre = np.asarray(shape["centre"])
    target_xy, _ = target_geometry(state, target)
    error = target_xy - centre
    low, high = shape["zmin"] + PUSH_HEIGHT, shape["zmax"] + 0.05
    eef = np.asarray(state["eef_pos"])
    yaw = float(np.arctan2(error[1], error[0]) + np.pi / 2)  # fingers side by side across the way
    if me.phase == "push_above":
        move = Move(np.array([*centre, high]), CLOSE, yaw=yaw)
        return advance(me, move, reached(eef, move.waypoint, 0.01) or me.steps > 100, "push_down")
    if me.phase == "push_down":
        move = Move(np.array([*centre, low]), CLOSE, yaw=yaw)  # below its floor: pressing on it
        return advance(me, move, eef[2] < low + PUSH_DOWN_DONE or me.steps > 40, "push")
    if me.phase == "push":
        if np.linalg.norm(error) < PUSH_TOLERANCE or me.steps > 300:
            return advance(me, Move(np.array([*eef[:2], high]), CLOSE), True, "push_retreat")
        if np.linalg.norm(eef[:2] - centre) > PUSH_REACH:
            return advance(me, Move(np.array([*eef[:2], high]), CLOSE), True, "push_lift")
        step = error * min(1.0, PUSH_STEP / float(np.linalg.norm(error)))
        return Move(np.array([*(eef[:2] + step), low]), CLOSE)
    if me.phase == "push_lift":
        move = Move(np.array([*eef[:2], high]), CLOSE)
        return advance(me, move, eef[2] > high - 0.01 or me.steps > 30, "push_above")
    move = Move(np.array([*eef[:2], high]), OPEN)  # push_retreat
    move.finished = eef[2] > high - 0.01 or me.steps > 30
    return move


def turn_step(state: dict, me: Any, kind: str, name: str, target: str | None = None) -> Move:
    """Turn a knob about its vertical hinge the way a hand does: grip the part that sticks up
    across its narrow side, twist the wrist until the joint is past the threshold of the goal
    predicate (`turnon` raises the joint position, `turnoff` lowers it), let go, rise."""
    joint = _vertical_hinge(state, name)
    spin = (1.0 if kind == "turnon" else -1.0) * float(np.sign(joint["axis"][2]))  # +1: counter-clockwise
    if me.plan is None:
        me.plan = plan_knob(joint["points"])
    grip, angle, z = me.plan
    eef = np.asarray(state["eef_pos"])
    if kind == "turnon":
        done = joint["qpos"] >= min(min(joint["turnon_ranges"]) + TURN_MARGIN, joint["range"][1] - 0.1)
    else:
        done = joint["qpos"] <= max(joint["turnoff_ranges"]) - 0.002
    if me.phase == "turn_above" and me.steps == 1 and done:
        return Move(eef, OPEN, finished=True)  # already on (or off)
    if me.phase == "turn_above":
        move = Move(np.array([*grip, z + 0.06]), OPEN, yaw=angle)
        aligned = abs(yaw_error(angle, state["gripper_axis"])) < 0.05
        done_above = (reached(eef, move.waypoint, 0.01) and aligned) or me.steps > 100
        return advance(me, move, done_above, "turn_down")
    if me.phase == "turn_down":
        move = Move(np.array([*grip, z]), OPEN, yaw=angle)
        return advance(me, move, reached(eef, move.waypoint, 0.007) or me.steps > 40, "turn_grip")
    if me.phase == "turn_grip":
        return advance(me, Move(np.array([*grip, z]), CLOSE), me.steps > 10, "turn_twist")
    if me.phase == "turn_twist":
        fingers = float(np.arctan2(state["gripper_axis"][1], state["gripper_axis"][0]))
        move = Move(np.array([*grip, z]), CLOSE, yaw=fingers + spin * TURN_STEP)
        return advance(me, move, done or me.steps > 150, "turn_release")
    if me.phase == "turn_release":
        return advance(me, Move(np.array([*grip, z]), OPEN), me.steps > 8, "turn_retreat")
    move = Move(np.array([*grip, z + 0.08]), OPEN)  # turn_retreat
    move.finished = eef[2] > z + 0.07 or me.steps > 30
    return move


def plan_knob(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(grip point xy, finger closing angle, height): across the narrow side of the part of the
    knob that rises above its base (a stove switch's ridge)."""
    top = float(points[:, 2].max())
    base = np.sort(points[:, 2])
    # The ridge: the points in the top half of the knob's height range.
    ridge = points[points[:, 2] > (base[0] + top) / 2]
    shape = footprint(ridge)
    return np.asarray(shape["centre"]), float(shape["angle"]), top - 0.015


def _vertical_hinge(state: dict, name: str) -> dict:
    joints = state.get("articulations", {}).get(name) or []
    hinge = next((j for j in joints if j["type"] == "hinge" and abs(j["axis"][2]) > 0.9), None)
    if hinge is None:
        raise ValueError(f"scripted oracle turns knobs on vertical hinges; '{name}' has none")
    return hinge


def advance(me: Any, move: Move, done: bool, next_phase: str) -> Move:
    if done:
        me.phase, me.steps = next_phase, 0
    return move
