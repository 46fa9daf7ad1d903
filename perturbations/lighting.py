"""`lighting`: intensity, colour and position of the scene lights and the headlight.

Severity s scales every change. Intensity: all diffuse terms multiplied by 1 ± U(0.5, 1)·0.14·s
(s=5: ×0.3 to ×1.7). Colour: a tint from the pool mixed in with strength 0.1·s. Position:
each light moved horizontally by U(0.5, 1)·0.3·s m in a random direction. ID and OOD differ in
the tint colours (disjoint pools).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from perturbations.base import Perturbation
from perturbations.registry import register_family
from perturbations.scene import COLOURS, raw_data, raw_model, rounded, split_pool, uniform_band

TINTS = ["orange", "yellow", "red", "pink", "cyan", "blue", "green", "purple", "lime", "magenta"]


@register_family
class Lighting(Perturbation):
    family = "lighting"
    description = "light intensity, colour tint and position (scene lights and headlight)"

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        m = 0.14 * severity
        return {
            "intensity_factor": f"1 ± [{0.5 * m:.2f}, {m:.2f}]",
            "tint_strength": f"{0.1 * severity:.1f}",
            "light_shift_m": f"[{0.15 * severity:.2f}, {0.3 * severity:.2f}]",
        }

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return split_pool(TINTS, "lighting")

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        model = raw_model(env)
        s = self.severity
        factor = 1.0 + uniform_band(rng, 0.5 * 0.14 * s, 0.14 * s)
        tint_name = str(rng.choice(self.pool()))
        strength = 0.1 * s
        colour = (1 - strength) * np.ones(3) + strength * np.asarray(COLOURS[tint_name]) / max(
            COLOURS[tint_name]
        )
        shifts = []
        for light in range(model.nlight):
            model.light_diffuse[light] = np.clip(model.light_diffuse[light] * factor * colour, 0, 1)
            angle = rng.uniform(0, 2 * np.pi)
            distance = rng.uniform(0.15 * s, 0.3 * s)
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
