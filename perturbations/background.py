"""`background`: tint the wall and floor materials with a colour from the pool.

The texture stays; its material colour is blended towards the tint with `tint_strength`
(MAGNITUDES), so severity 1 is a faint cast and severity 5 a strongly coloured room. Table, objects
and robot are untouched. ID and OOD tints are disjoint colour pools.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from perturbations.base import Perturbation
from perturbations.magnitude import Scaled
from perturbations.registry import register_family
from perturbations.scene import COLOURS, name_to_id, raw_model, rounded, split_pool

SURFACES = {"wall": ("walls_mat", "wall_mat", "wall"), "floor": ("floorplane", "floor_mat", "floor")}


def find_material(model: mujoco.MjModel, candidates: tuple[str, ...]) -> int:
    for name in candidates:
        material = name_to_id(model, mujoco.mjtObj.mjOBJ_MATERIAL, name)
        if material >= 0:
            return material
    return -1


@register_family
class Background(Perturbation):
    family = "background"
    description = "wall and floor colour tint"

    MAGNITUDES = {"tint_strength": Scaled(0.18)}

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        return {**super().ranges(severity), "surfaces": list(SURFACES)}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return split_pool(list(COLOURS), "background")

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        model = raw_model(env)
        strength = self.magnitude("tint_strength")
        applied = {}
        for surface, candidates in SURFACES.items():
            material = find_material(model, candidates)
            if material < 0:
                continue
            name = str(rng.choice(self.pool()))
            tint = np.asarray(COLOURS[name])
            rgb = model.mat_rgba[material, :3]
            model.mat_rgba[material, :3] = (1 - strength) * rgb + strength * tint
            applied[surface] = {"colour": name, "rgb": rounded(model.mat_rgba[material, :3], 3)}
        return {"tint_strength": rounded(strength, 2), **applied}
