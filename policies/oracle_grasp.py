"""Grasp geometry for the scripted oracle: where to close the fingers on an object, and how
clear of the other objects the hand is there. Works from collision-geom corners alone
(`agra_bench.envs.geometry`), so no per-object table of grasp poses is needed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agra_bench.envs.geometry import footprint

MAX_GRASP_WIDTH = 0.065  # widest footprint grasped across its body (the Panda opens ~8 cm)
RIM_INSET = 0.012  # grasp this far inside the rim of wide objects
RIM_NEIGHBOURHOOD = 0.03  # geometry points this close (xy) to the rim grasp give its height
FINGER_DEPTH = 0.04  # fingertips go at most this far below an object's top
SOLID_TOP = 0.6  # a box over the centre reaching above this fraction of the height: solid body
HANDLE_OUT = 0.035  # raised parts centred this far (xy) from the footprint's centre may be handles


@dataclass
class Plan:
    """Where and how to grasp, computed from the object's geometry before it moves."""

    grasp: np.ndarray  # grasp point (world, 3)
    angle: float  # direction the fingers close along (radians, mod pi)
    height_in_hand: float  # grasp point above the object's bottom
    offset: np.ndarray  # grasp point minus the object's footprint centre (xy): rim grasps are off-centre
    kind: str = "body"  # body, rim or handle


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


def spread_points(boxes: np.ndarray) -> np.ndarray:
    """5 x 5 x 5 points through each box given by its 8 corners, shape (B, 8, 3) -> (125 B, 3)."""
    return np.einsum("pc,bcd->bpd", _WEIGHTS, boxes.reshape(-1, 8, 3)).reshape(-1, 3)


def obstacle_points(state: dict, obj: str, above_z: float) -> np.ndarray:
    """Points through the geoms of other objects that rise above `above_z` (hand height)."""
    chunks = []
    for name, points in state["object_points"].items():
        if name == obj or len(points) == 0:
            continue
        boxes = points.reshape(-1, 8, 3)
        tall = boxes[:, :, 2].max(axis=1) > above_z
        if tall.any():
            spread = spread_points(boxes[tall])
            chunks.append(spread[spread[:, 2] > above_z])
    return np.concatenate(chunks) if chunks else np.zeros((0, 3))


def is_solid(boxes: np.ndarray, centre: np.ndarray, zmin: float, height: float) -> bool:
    """Whether a box over the footprint's centre rises near the top: a solid body (a moka pot)
    has no rim to pinch, unlike a bowl or a mug whose middle is empty down to its floor."""
    low, high = boxes[:, :, :2].min(axis=1), boxes[:, :, :2].max(axis=1)
    over = np.all((low <= centre) & (centre <= high), axis=1)
    return bool((boxes[over, :, 2].max(axis=1) > zmin + SOLID_TOP * height).any())


def handle_plan(boxes: np.ndarray, centre: np.ndarray, zmin: float) -> Plan | None:
    """Grasp across a handle: of the parts that stand off the bottom and out from the centre,
    grouped by their direction from it, the group with the tallest extent (a handle is taller
    than a spout); None when there is no such part or it is too wide for the fingers."""
    raised = boxes[:, :, 2].min(axis=1) > zmin + 0.02
    mids = boxes.mean(axis=1)[:, :2] - centre
    out = raised & (np.linalg.norm(mids, axis=1) > HANDLE_OUT)
    if not out.any():
        return None
    parts, angles = boxes[out], np.arctan2(mids[out, 1], mids[out, 0])
    groups = [parts[np.abs((angles - a + np.pi) % (2 * np.pi) - np.pi) < np.radians(30)] for a in angles]
    handle = max(groups, key=lambda group: float(np.ptp(group[:, :, 2]))).reshape(-1, 3)
    shape = footprint(handle)
    if shape["width"] > MAX_GRASP_WIDTH:
        return None
    z = max((shape["zmin"] + shape["zmax"]) / 2, shape["zmax"] - 0.03)
    grip = np.asarray(shape["centre"])
    return Plan(np.array([*grip, z]), float(shape["angle"]), z - zmin, grip - centre, "handle")


def plan_grasp(points: np.ndarray, eef: np.ndarray, obstacles: np.ndarray) -> Plan:
    """Grasp across the body when it fits between the fingers, else by the handle of a solid
    body, else by the rim; among the feasible finger directions, the one that keeps the hand
    clearest of other objects."""
    shape = footprint(points)
    zmin, zmax = shape["zmin"], shape["zmax"]
    height = zmax - zmin
    centre = np.asarray(shape["centre"])
    xy = points[:, :2]
    boxes = points.reshape(-1, 8, 3)
    if shape["width"] > MAX_GRASP_WIDTH and is_solid(boxes, centre, zmin, height):
        handle = handle_plan(boxes, centre, zmin)
        if handle is not None:
            return handle
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
    return Plan(np.array([*best[2], z]), float(best[1]), z - zmin, best[2] - centre, "rim")


def yaw_error(target: float, axis: np.ndarray) -> float:
    """Signed turn (radians, in [-pi/2, pi/2)) that brings the finger axis to `target` mod pi."""
    current = float(np.arctan2(axis[1], axis[0]))
    return float((target - current + np.pi / 2) % np.pi - np.pi / 2)


def reached(position: np.ndarray, waypoint: np.ndarray, tolerance: float) -> bool:
    return bool(np.linalg.norm(np.asarray(position) - np.asarray(waypoint)) < tolerance)
