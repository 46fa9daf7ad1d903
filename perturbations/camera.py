"""`camera`: move the third-person (agentview) camera on a sphere around the workspace.

The camera orbits the point where its optical axis meets the workspace plane (the height of
the task's objects), keeps looking at it, and keeps its roll level. ID and OOD use opposite
azimuth arcs: ID orbits to one side (negative azimuth), OOD to the other (positive), so OOD
viewpoints are never in ID data. How far it moves per severity: MAGNITUDES (azimuth,
elevation, relative distance, field of view).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from perturbations.base import Perturbation
from perturbations.magnitude import Band
from perturbations.registry import register_family
from perturbations.scene import name_to_id, raw_data, raw_model, rounded

CAMERA = "agentview"


def look_at_quat(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """MuJoCo camera quaternion (w, x, y, z) looking from `position` at `target`, roll level.

    A MuJoCo camera looks along its -z axis with +y up."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    rotation = np.column_stack([right, up, -forward])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, rotation.ravel())
    return quat


@register_family
class Camera(Perturbation):
    family = "camera"
    description = (
        "third-person camera moved on a sphere around the workspace (azimuth, elevation, distance, fov)"
    )

    MAGNITUDES = {
        "azimuth_deg": Band(1.5, 3, signed=False),  # id: the left arc, ood: the right one
        "elevation_deg": Band(1.0, 2),
        "distance_change": Band(0.015, 0.03),  # relative
        "fovy_deg": Band(0.5, 1.0),
    }

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {"id": ["azimuth<0"], "ood": ["azimuth>0"]}

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        model, data = raw_model(env), raw_data(env)
        cam = name_to_id(model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA)
        mujoco.mj_forward(model, data)
        position = data.cam_xpos[cam].copy()
        axis = -data.cam_xmat[cam].reshape(3, 3)[:, 2]
        height = workspace_height(env)
        target = position + axis * (height - position[2]) / axis[2]

        azimuth = np.deg2rad(self.draw("azimuth_deg", rng)) * (-1 if self.split == "id" else 1)
        elevation = np.deg2rad(self.draw("elevation_deg", rng))
        distance_factor = 1 + self.draw("distance_change", rng)
        fovy_delta = self.draw("fovy_deg", rng)

        offset = position - target
        radius = np.linalg.norm(offset) * distance_factor
        current_az = np.arctan2(offset[1], offset[0])
        current_el = np.arcsin(offset[2] / np.linalg.norm(offset))
        new_el = np.clip(current_el + elevation, np.deg2rad(5), np.deg2rad(85))
        new_az = current_az + azimuth
        new_position = target + radius * np.array(
            [np.cos(new_el) * np.cos(new_az), np.cos(new_el) * np.sin(new_az), np.sin(new_el)]
        )
        parent = model.cam_bodyid[cam]
        if parent != 0:  # camera attached to a body: express the pose in that body's frame
            raise RuntimeError(f"camera '{CAMERA}' is attached to a body; only world cameras are supported")
        model.cam_pos[cam] = new_position
        model.cam_quat[cam] = look_at_quat(new_position, target)
        model.cam_fovy[cam] += fovy_delta
        mujoco.mj_forward(model, data)
        return {
            "azimuth_deg": rounded(np.rad2deg(azimuth), 2),
            "elevation_deg": rounded(np.rad2deg(new_el - current_el), 2),
            "distance_factor": rounded(distance_factor),
            "fovy_delta_deg": rounded(fovy_delta, 2),
            "position": rounded(new_position),
            "target": rounded(target),
        }


def workspace_height(env: Any) -> float:
    """Height of the plane the camera orbits around: the mean height of the task's objects."""
    model, data = raw_model(env), raw_data(env)
    heights = []
    for body_name in env.scene_objects().values():
        body = name_to_id(model, mujoco.mjtObj.mjOBJ_BODY, body_name)
        if body >= 0:
            heights.append(data.xpos[body][2])
    return float(np.mean(heights)) if heights else 0.9
