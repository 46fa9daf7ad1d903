"""`lighting`: intensity, colour and position of the scene lights and the headlight.

Severity scales every change (MAGNITUDES): every diffuse term multiplied by 1 + a signed
`intensity_change`; a tint from the pool mixed in with `tint_strength`; each light moved
horizontally by `light_shift_m` in a random direction. ID and OOD differ in the tint colours
(disjoint pools).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from perturbations.base import Perturbation
from perturbations.magnitude import Band, Scaled
from perturbations.registry import register_family
from perturbations.scene import COLOURS, raw_data, raw_model, rounded, split_pool

TINTS = ["orange", "yellow", "red", "pink", "cyan", "blue", "green", "purple", "lime", "magenta"]


@register_family
class Lighting(Perturbation):
    family = "lighting"
    description = "light intensity, colour tint and position (scene lights and headlight)"
    MAGNITUDES = {
        "intensity_change": Band(0.07, 0.14),
        "tint_strength": Scaled(0.1),
        "light_shift_m": Band(0.15, 0.3, signed=False),
    }

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return split_pool(TINTS, "lighting")

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        model = raw_model(env)
        factor = 1.0 + self.draw("intensity_change", rng)
        tint_name = str(rng.choice(self.pool()))
        strength = self.magnitude("tint_strength")
        colour = (1 - strength) * np.ones(3) + strength * np.asarray(COLOURS[tint_name]) / max(
            COLOURS[tint_name]
        )
        shifts = []
        for light in range(model.nlight):
            model.light_diffuse[light] = np.clip(model.light_diffuse[light] * factor * colour, 0, 1)
            angle = rng.uniform(0, 2 * np.pi)
            distance = self.draw("light_shift_m", rng)
            shift = distance * np.array([np.cos(angle), np.sin(angle), 0.0])
            model.light_pos[light] += shift
            shifts.append(rounded(shift, 3))
        head = model.vis.headlight
        head.diffuse = np.clip(np.asarray(head.diffuse) * factor * colour, 0, 1)
        head.ambient = np.clip(np.asarray(head.ambient) * factor * colour, 0, 1)
        mujoco.mj_forward(model, raw_data(env))
        return {
            "intensity_factor": rounded(factor),
            "tint": tint_name,
            "tint_strength": rounded(strength),
            "light_shift_m": shifts,
        }
