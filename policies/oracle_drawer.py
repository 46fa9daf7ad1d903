"""Drawer skill of the scripted oracle: open a drawer by its handle, or push it shut.

A drawer is a slide joint (`privileged_state()["articulations"]`). Its handle is the part of
the drawer's geometry that sticks out furthest along the pull direction, so no table of
cabinets is needed. A top-down hand cannot reach a drawer handle: the hand is 23 cm long
across its fingers and the drawer above is in the way. So the hand turns to point into the
cabinet, fingers closing vertically on the handle's bar, and pulls straight back along the
slide axis. Closing needs no grasp: the closed fingers, pointing down and leaning 40° toward
the cabinet (so the palm stays off the drawer above), press the drawer's front until the
joint is past LIBERO's `close` threshold. Afterwards the hand rises and points down again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policies.oracle_grasp import reached
from policies.oracle_skills import CLOSE, OPEN, Move, advance

HANDLE_DEPTH = 0.012  # drawer geometry this close to its front (along the pull) is the handle
STAND_OFF = 0.12  # the hand lines up this far in front of the handle before going in
GRIP_INSET = 0.008  # the grasp point sits this far behind the handle's front face
RISE = 0.12  # the hand rises this far above the handle to turn, clear of the table's objects
PRESS = 0.03  # while pulling or pushing, aim this far past the joint's goal
PRESS_TILT = np.radians(40.0)  # a pressing hand's fingers lean this far from vertical, forward
OPEN_MARGIN = 0.015  # metres past the `open` threshold, so the drawer stays open
CLOSE_MARGIN = 0.004  # metres past the `close` threshold


def drawer_step(state: dict, me: Any, kind: str, name: str, target: str | None = None) -> Move:
    """One step of opening (`kind == "open"`) or closing a drawer given by its region name."""
    joint = _slide(state, name)
    axis = np.asarray(joint["axis"], dtype=float)
    if kind == "open":
        goal = max(joint["open_ranges"]) - OPEN_MARGIN
        done, holds = joint["qpos"] <= goal, joint["qpos"] < max(joint["open_ranges"])
    else:
        goal = min(joint["close_ranges"]) + CLOSE_MARGIN
        done, holds = joint["qpos"] >= goal, joint["qpos"] > min(joint["close_ranges"])
    opening = axis * np.sign(np.mean(joint["open_ranges"]) - np.mean(joint["close_ranges"]))
    pull = opening if kind == "open" else -opening  # world direction the drawer must move
    points = np.asarray(joint["points"])
    depth = points @ opening
    handle = points[depth > depth.max() - HANDLE_DEPTH]  # the drawer's front-most part
    centre = (handle.min(axis=0) + handle.max(axis=0)) / 2
    grip = centre + opening * (depth.max() - GRIP_INSET - centre @ opening)
    facing = -opening  # the fingers point into the cabinet
    if kind == "open":  # grip the handle's bar, fingers closing vertically
        frame = (facing, np.array([0.0, 0.0, 1.0]))
    else:  # only press: fingers pointing down and forward, so the palm stays off the cabinet
        pointing = np.array([0.0, 0.0, -np.cos(PRESS_TILT)]) + facing * np.sin(PRESS_TILT)
        frame = (pointing, np.cross(facing, [0.0, 0.0, 1.0]))
    eef = np.asarray(state["eef_pos"])
    lined_up = grip - facing * STAND_OFF
    if me.phase == "drawer_rise":
        if holds and me.steps == 1:
            return Move(eef, OPEN, finished=True)  # already open (or shut), as LIBERO tests it
        move = Move(np.array([*eef[:2], max(eef[2], centre[2] + RISE)]), OPEN)
        return advance(me, move, eef[2] > centre[2] + RISE - 0.02 or me.steps > 40, "drawer_turn")
    if me.phase == "drawer_turn":
        move = Move(np.array([*lined_up[:2], centre[2] + RISE]), OPEN, frame=frame)
        aligned = float(np.asarray(state["eef_xmat"])[:, 2] @ frame[0]) > 0.98
        done_turn = (reached(eef, move.waypoint, 0.02) and aligned) or me.steps > 120
        return advance(me, move, done_turn, "drawer_line_up")
    if me.phase == "drawer_line_up":
        move = Move(lined_up, OPEN, frame=frame)
        return advance(me, move, reached(eef, lined_up, 0.01) or me.steps > 60, "drawer_in")
    if me.phase == "drawer_in":
        target = grip if kind == "open" else grip + facing * PRESS
        move = Move(target, OPEN if kind == "open" else CLOSE, frame=frame)
        arrived = reached(eef, target, 0.006) or me.steps > 60
        return advance(me, move, arrived, "drawer_grip" if kind == "open" else "drawer_move")
    if me.phase == "drawer_grip":
        return advance(me, Move(grip, CLOSE, frame=frame), me.steps > 10, "drawer_move")
    if me.phase == "drawer_move":
        # Lead the hand along the slide by what the joint still has to travel, plus a little.
        remaining = abs(goal - joint["qpos"]) + PRESS
        move = Move(eef + pull * remaining, CLOSE, frame=frame)
        return advance(me, move, done or me.steps > 150, "drawer_release")
    if me.phase == "drawer_release":
        return advance(me, Move(eef, OPEN, frame=frame), me.steps > 8, "drawer_back")
    if me.phase == "drawer_back":
        move = Move(grip - facing * STAND_OFF / 2, OPEN, frame=frame)
        return advance(me, move, reached(eef, move.waypoint, 0.015) or me.steps > 30, "drawer_upright")
    # drawer_upright: rise and point the fingers down again before the next skill moves the hand.
    upright = float(np.asarray(state["eef_xmat"])[:, 2] @ [0.0, 0.0, -1.0]) > 0.98
    move = Move(np.array([*eef[:2], centre[2] + RISE]), OPEN, frame=(np.array([0.0, 0.0, -1.0]), -facing))
    move.finished = (upright and eef[2] > centre[2] + RISE - 0.02) or me.steps > 60
    return move


def is_drawer(state: dict, name: str) -> bool:
    """Whether a goal target is a region that moves on a slide joint (a drawer's inside)."""
    return any(j["type"] == "slide" for j in state.get("articulations", {}).get(name) or [])


def _slide(state: dict, name: str) -> dict:
    joints = state.get("articulations", {}).get(name) or []
    slide = next((j for j in joints if j["type"] == "slide"), None)
    if slide is None:
        raise ValueError(f"scripted oracle opens and closes drawers on slide joints; '{name}' has none")
    return slide
