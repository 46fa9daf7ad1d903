"""`distractor`: add task-irrelevant objects from LIBERO's object library to the table.

Distractors are visual-only and static (no joint, no collision geometry): they can occlude,
distract and clutter, but cannot push, block or support anything, so they cannot change the
physics of the task, and the official init state still fits the scene unchanged (no joints are
added, every original object keeps its state). They are inserted into the scene XML parked
below the floor, then placed after the init state is restored, on the table near the task's
objects (after the settle steps, when the objects rest on the table), by rejection sampling:
  - at least 0.10 m (objects) / 0.22 m (fixtures) from every scene object, 0.08 m apart;
  - not in the corridor between the third-person camera and a task-relevant object (0.09 m),
    and, checked on the simulator's segmentation, covering no pixel of a task-relevant object
    (nor within 2 px of one) in the third-person view, while covering at least 0.2% of that
    view itself: a candidate that fails either is rejected;
  - never an object whose noun occurs in the instruction (no second "bowl" in a bowl task).
Severity sets the count (MAGNITUDES). ID and OOD use disjoint object pools. The objects chosen
at edit_xml are recorded (`objects`), and settled() rebuilds their names from that record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from scipy.ndimage import binary_dilation

from perturbations.base import Perturbation
from perturbations.camera import CAMERA
from perturbations.magnitude import Scaled
from perturbations.registry import register_family
from perturbations.scene import (
    body_geoms,
    name_to_id,
    raw_data,
    raw_model,
    relevant_pixels,
    rounded,
    segmentation,
    split_pool,
)

LIBRARY = {
    "stable_hope_objects": [
        "alphabet_soup",
        "bbq_sauce",
        "butter",
        "chocolate_pudding",
        "cookies",
        "cream_cheese",
        "ketchup",
        "macaroni_and_cheese",
        "milk",
        "orange_juice",
        "popcorn",
        "salad_dressing",
        "tomato_sauce",
    ],
    "stable_scanned_objects": ["glazed_rim_porcelain_ramekin", "white_bowl", "plate", "akita_black_bowl"],
}
PARK = np.array([0.0, 0.0, -5.0])
MAX_CANDIDATES = 400
MARGIN_PX = 2
MIN_VISIBLE_SHARE = 0.002  # a distractor nobody can see distracts nobody
CLEARANCE_OBJECT, CLEARANCE_FIXTURE, CLEARANCE_DISTRACTOR, CORRIDOR = 0.10, 0.22, 0.08, 0.09


def object_xml(name: str) -> Path:
    from libero.libero import get_libero_path

    folder = next(f for f, names in LIBRARY.items() if name in names)
    return Path(get_libero_path("assets")) / folder / name / f"{name}.xml"


def distractor_object(index: int, name: str) -> Any:
    """The `index`-th distractor of an episode, library object `name`: a visual-only robosuite
    object (no joint, no collision geoms). Its body names follow from (index, name) alone."""
    from robosuite.models.objects import MujocoXMLObject

    return MujocoXMLObject(
        str(object_xml(name)),
        name=f"distractor{index}_{name}",
        joints=None,
        obj_type="visual",
        duplicate_collision_geoms=False,
    )


def noun(name: str) -> str:
    return re.sub(r"_\d+$", "", name).split("_")[-1]


@register_family
class Distractor(Perturbation):
    family = "distractor"
    suite_kinds = ("libero",)  # objects come from LIBERO's registry, placed by its BDDL regions
    description = "static, collision-free objects from LIBERO's library placed on the table"

    MAGNITUDES = {"count": Scaled(1)}

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        return {**super().ranges(severity), "clearance_m": CLEARANCE_OBJECT, "camera_corridor_m": CORRIDOR}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return split_pool([n for names in LIBRARY.values() for n in names], "distractor")

    def edit_xml(self, root: Any, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        words = set(re.findall(r"[a-z]+", env.task.instruction.lower()))
        candidates = [n for n in self.pool() if noun(n) not in words and f"{noun(n)}s" not in words]
        count = min(self.magnitude("count"), len(candidates))
        chosen = [str(c) for c in rng.choice(candidates, size=count, replace=False)]
        asset, worldbody = root.find("asset"), root.find("worldbody")
        for index, name in enumerate(chosen):
            obj = distractor_object(index, name)
            body = obj.get_obj()
            body.set("pos", " ".join(str(v) for v in PARK))
            for element in obj.asset:
                asset.append(element)
            worldbody.append(body)
        return {"objects": chosen}

    def settled(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        """Place the parked distractors once the task's objects rest on the table."""
        model, data = raw_model(env), raw_data(env)
        mujoco.mj_forward(model, data)
        objects = env.scene_objects()
        relevant = env.task_relevant_objects()
        fixtures = env.fixture_names()
        points = {}
        for name, body_name in objects.items():
            body = name_to_id(model, mujoco.mjtObj.mjOBJ_BODY, body_name)
            points[name] = data.xpos[body].copy()
        movable = [p for n, p in points.items() if n not in fixtures] or list(points.values())
        centre = np.mean(movable, axis=0)
        table_z = min(p[2] + env.object_bottom_offset(n) for n, p in points.items() if n not in fixtures)
        camera_id = name_to_id(model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA)
        camera = data.cam_xpos[camera_id][:2]
        # Pixels a distractor may not cover: the task objects plus a margin for the few
        # millimetres objects move while settling after this check.
        keep_clear = binary_dilation(relevant_pixels(env, CAMERA), iterations=MARGIN_PX)
        placed: list[np.ndarray] = []
        placements = []
        for index, name in enumerate(applied["objects"]):
            obj = distractor_object(index, name)
            item = {"object": name, "bottom": float(obj.bottom_offset[2])}
            body = name_to_id(model, mujoco.mjtObj.mjOBJ_BODY, obj.root_body)
            geoms = body_geoms(model, body)
            position = None
            for _ in range(MAX_CANDIDATES):
                xy = centre[:2] + rng.uniform([-0.25, -0.35], [0.25, 0.35])
                if not self._fits(xy, points, fixtures, relevant, placed, camera):
                    continue
                if not in_view(model, data, camera_id, np.array([xy[0], xy[1], table_z])):
                    continue  # off-screen: no need to render it to know
                angle = rng.uniform(0, np.pi)
                model.body_pos[body] = [xy[0], xy[1], table_z - item["bottom"]]
                model.body_quat[body] = [np.cos(angle), 0, 0, np.sin(angle)]
                mujoco.mj_forward(model, data)
                covered = np.isin(segmentation(env, CAMERA), geoms)
                if covered.mean() >= MIN_VISIBLE_SHARE and not np.any(covered & keep_clear):
                    position = model.body_pos[body].copy()
                    break
                model.body_pos[body] = PARK  # it would hide part of a task object
            if position is None:
                model.body_pos[body] = PARK
                placements.append({"object": item["object"], "placed": False})
                continue
            placed.append(position[:2])
            placements.append({"object": item["object"], "placed": True, "position": rounded(position, 3)})
        mujoco.mj_forward(model, data)
        return {"distractors": placements}

    @staticmethod
    def _fits(xy, points, fixtures, relevant, placed, camera) -> bool:
        for name, point in points.items():
            limit = CLEARANCE_FIXTURE if name in fixtures else CLEARANCE_OBJECT
            if np.linalg.norm(xy - point[:2]) < limit:
                return False
            if name in relevant and distance_to_segment(xy, camera, point[:2]) < CORRIDOR:
                return False
        return all(np.linalg.norm(xy - other) >= CLEARANCE_DISTRACTOR for other in placed)


def in_view(
    model: mujoco.MjModel, data: mujoco.MjData, camera: int, point: np.ndarray, margin: float = 0.08
) -> bool:
    """Whether `point` projects inside the camera image, away from its border (pinhole model;
    a MuJoCo camera looks along its -z axis)."""
    local = data.cam_xmat[camera].reshape(3, 3).T @ (point - data.cam_xpos[camera])
    if local[2] >= 0:
        return False
    half = np.tan(np.deg2rad(model.cam_fovy[camera]) / 2)
    x, y = local[0] / (-local[2] * half), local[1] / (-local[2] * half)  # in [-1, 1] when visible
    return abs(x) <= 1 - margin and abs(y) <= 1 - margin


def distance_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * ab)))
