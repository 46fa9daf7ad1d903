"""Arm-level limits the scripted oracle steers around: the hand's frame error, the wrist's
last joint stop and the elbow's reach near the robot's base. These are properties of the
Panda arm under LIBERO's OSC_POSE controller, not of any task, so they live apart from the
skills (`policies.scripted` turns every skill's `Move` into an action with them)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

WRIST_MARGIN = 0.1  # radians kept from the last arm joint's stops when turning the hand
LIFT_REACH = 0.45  # an object grasped closer (xy) to the robot's base is lifted outwards to this


def frame_error(xmat: np.ndarray, pointing: np.ndarray, closing: np.ndarray) -> np.ndarray:
    """World rotation vector from the hand's orientation to one pointing along `pointing` with
    the fingers closing along `closing` (sign free). The hand's z axis points out of the
    fingers and its x axis is the closing axis."""
    closing = closing - (closing @ pointing) * pointing
    closing = closing / np.linalg.norm(closing)
    if closing @ xmat[:, 0] < 0:
        closing = -closing
    desired = np.stack([closing, np.cross(pointing, closing), pointing], axis=1)
    return Rotation.from_matrix(desired @ xmat.T).as_rotvec()


def wrist_turn(state: dict, turn: float) -> float:
    """The world yaw turn to make, `turn` or the same grasp turned half a circle the other way,
    whichever keeps the last arm joint (which spins the hand about its pointing axis) inside
    its range: turning the short way into the joint's stop leaves the hand stuck there
    (libero_10 task 7, init state 7)."""
    if "arm_qpos" not in state:
        return turn
    low, high = np.asarray(state["arm_qpos_range"])[-1] + [WRIST_MARGIN, -WRIST_MARGIN]
    joint = float(np.asarray(state["arm_qpos"])[-1])
    # The joint turns the hand about its pointing axis; seen from above, a world yaw `turn`
    # is a joint turn of `turn` divided by the pointing axis' z component (-1 pointing down).
    pointing_z = float(np.asarray(state["eef_xmat"])[2, 2])
    if abs(pointing_z) < 0.5:
        return turn
    after, middle = joint + turn / pointing_z, (low + high) / 2
    # Keep the short turn if it ends inside the range, or leads back towards it: a joint the
    # arm's other motions have pushed past the margin is steered back, not round the long way.
    if low <= after <= high or abs(after - middle) < abs(joint - middle):
        return turn
    return turn - np.pi * np.sign(turn)


def lift_point(state: dict, point: np.ndarray) -> np.ndarray:
    """`point` (xy) moved away from the robot's base to at least LIFT_REACH. Near the base
    the elbow is almost folded, and lifting straight up folds it onto its joint limit; the
    controller then swings the wrist about and drops the object (libero_10 task 7)."""
    base = np.asarray(state.get("robot_base", point))[:2]
    radial = np.asarray(point)[:2] - base
    reach = float(np.linalg.norm(radial))
    if reach >= LIFT_REACH or reach < 1e-6:
        return np.asarray(point)[:2]
    return base + radial / reach * LIFT_REACH
