"""Object geometry from the simulator, for privileged policies that must grasp real shapes.

A body's collision geoms are summarised by the corners of their bounding boxes in world
coordinates. That is enough to find an object's footprint (the narrowest horizontal direction
to close the fingers along, the footprint's centre) and its height, for any LIBERO or
robosuite object, without a per-object table of grasp poses.
"""

from __future__ import annotations

import itertools

import mujoco
import numpy as np

from perturbations.scene import body_geoms

CORNER_SIGNS = np.array(list(itertools.product((-1, 1), repeat=3)), dtype=np.float64)  # (8, 3)


def collision_geoms(model: mujoco.MjModel, root: int) -> list[int]:
    """Geoms of the subtree that collide (visual-only meshes excluded); all geoms if none do."""
    geoms = body_geoms(model, root)
    colliding = [g for g in geoms if model.geom_contype[g] or model.geom_conaffinity[g]]
    return colliding or geoms


def geom_corners(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int]) -> np.ndarray:
    """World coordinates of the 8 bounding-box corners of each geom, shape (8 * len(geoms), 3)."""
    if not geoms:
        return np.zeros((0, 3))
    aabb = model.geom_aabb[geoms]  # (G, 6): centre and half-sizes in the geom's frame
    local = aabb[:, None, :3] + CORNER_SIGNS[None] * aabb[:, None, 3:]  # (G, 8, 3)
    rotation = data.geom_xmat[geoms].reshape(-1, 3, 3)
    world = np.einsum("gij,gkj->gki", rotation, local) + data.geom_xpos[geoms][:, None, :]
    return world.reshape(-1, 3)


def footprint(points: np.ndarray, step_deg: float = 3.0) -> dict[str, float | np.ndarray]:
    """Narrowest horizontal direction of a point set: its angle, width, length and centre."""
    xy = points[:, :2]
    best = None
    for angle in np.radians(np.arange(0.0, 180.0, step_deg)):
        axis = np.array([np.cos(angle), np.sin(angle)])
        across = xy @ axis
        along = xy @ np.array([-axis[1], axis[0]])
        width = float(np.ptp(across))
        if best is None or width < best["width"]:
            centre = (
                axis * (across.max() + across.min()) / 2
                + np.array([-axis[1], axis[0]]) * (along.max() + along.min()) / 2
            )
            best = {"angle": float(angle), "width": width, "length": float(np.ptp(along)), "centre": centre}
    assert best is not None
    best["zmin"], best["zmax"] = float(points[:, 2].min()), float(points[:, 2].max())
    return best
