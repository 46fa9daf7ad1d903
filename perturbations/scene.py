"""Helpers shared by the perturbation families: raw MuJoCo access, colours, pool splits."""

from __future__ import annotations

import hashlib
from typing import Any

import mujoco
import numpy as np

# Named colours (RGB in [0, 1]); each family splits them into disjoint ID and OOD pools.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.15, 0.15),
    "orange": (0.95, 0.55, 0.1),
    "yellow": (0.95, 0.85, 0.2),
    "lime": (0.6, 0.9, 0.2),
    "green": (0.15, 0.6, 0.25),
    "teal": (0.1, 0.6, 0.6),
    "cyan": (0.3, 0.85, 0.95),
    "blue": (0.15, 0.3, 0.85),
    "navy": (0.1, 0.12, 0.45),
    "purple": (0.5, 0.2, 0.7),
    "magenta": (0.9, 0.2, 0.7),
    "pink": (0.95, 0.6, 0.75),
    "brown": (0.45, 0.28, 0.12),
    "olive": (0.5, 0.5, 0.15),
    "gray": (0.5, 0.5, 0.5),
    "black": (0.08, 0.08, 0.08),
}


def split_pool(names: list[str], salt: str, ood_share: float = 0.35) -> dict[str, list[str]]:
    """Deterministically split `names` into disjoint ID/OOD pools by a salted hash (stable
    across machines and Python versions), so each family gets its own held-out variants."""
    scored = sorted(names, key=lambda n: hashlib.sha1(f"{salt}:{n}".encode()).hexdigest())
    n_ood = max(1, round(len(names) * ood_share))
    return {"id": sorted(scored[n_ood:]), "ood": sorted(scored[:n_ood])}


def raw_model(env: Any) -> mujoco.MjModel:
    return env.sim.model._model


def raw_data(env: Any) -> mujoco.MjData:
    return env.sim.data._data


def name_to_id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    return mujoco.mj_name2id(model, kind, name)


def body_geoms(model: mujoco.MjModel, root_body: int) -> list[int]:
    """All geoms in the kinematic subtree of `root_body`."""
    bodies = {root_body}
    for body in range(model.nbody):
        parent = body
        while parent not in bodies and parent != 0:
            parent = model.body_parentid[parent]
        if parent in bodies:
            bodies.add(body)
    return [g for g in range(model.ngeom) if model.geom_bodyid[g] in bodies]


def object_geoms(env: Any, names: list[str] | set[str]) -> dict[str, list[int]]:
    """Geoms of each named scene object (via its root body)."""
    model = raw_model(env)
    roots = env.scene_objects()
    out = {}
    for name in names:
        body = name_to_id(model, mujoco.mjtObj.mjOBJ_BODY, roots[name])
        if body >= 0:
            out[name] = body_geoms(model, body)
    return out


def segmentation(env: Any, camera: str = "agentview") -> np.ndarray:
    """Geom id per pixel of `camera` at the env's image size, in the observation's orientation."""
    size = env.image_size
    seg = env.sim.render(width=size, height=size, camera_name=camera, segmentation=True)
    return seg[::-1, ::-1, 1]


def object_segmentation(env: Any, camera: str = "agentview") -> tuple[np.ndarray, list[str]]:
    """Per-pixel object index (uint8, 0 = anything else: robot, table, walls) and the labels
    ["background", *objects]: the scene's objects and fixtures, sorted by name."""
    labels = ["background", *sorted(env.scene_objects())]
    geoms = object_geoms(env, labels[1:])
    lookup = np.zeros(raw_model(env).ngeom + 1, dtype=np.uint8)
    for index, name in enumerate(labels[1:], start=1):
        lookup[geoms.get(name, [])] = index
    seg = segmentation(env, camera)
    return lookup[np.clip(seg, -1, len(lookup) - 2)], labels


def relevant_pixels(env: Any, camera: str = "agentview") -> np.ndarray:
    """Boolean mask of the pixels showing a task-relevant object."""
    geoms = [g for gs in object_geoms(env, env.task_relevant_objects()).values() for g in gs]
    return np.isin(segmentation(env, camera), geoms)


def uniform_band(rng: np.random.Generator, low: float, high: float, signed: bool = True) -> float:
    """A magnitude in [low, high], with a random sign if `signed`."""
    value = float(rng.uniform(low, high))
    return value * (1 if not signed or rng.random() < 0.5 else -1)


def rounded(values: Any, digits: int = 4) -> Any:
    """JSON-friendly rounding of floats and arrays for perturb_params."""
    array = np.asarray(values, dtype=float)
    return (
        round(float(array), digits) if array.ndim == 0 else [round(float(v), digits) for v in array.ravel()]
    )
