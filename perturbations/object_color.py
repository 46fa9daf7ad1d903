"""`object_color`: repaint task-irrelevant objects in a flat colour from the pool.

Only objects that the task's goal does not name are touched (LIBERO's objects of interest and
goal-predicate arguments are never repainted; robosuite tasks have no irrelevant objects, so
this family is a recorded no-op there). Severity sets the share of the irrelevant objects
(MAGNITUDES; at least one). ID and OOD colours are disjoint pools.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from perturbations.base import Perturbation
from perturbations.magnitude import Scaled
from perturbations.registry import register_family
from perturbations.scene import COLOURS, object_geoms, raw_model, split_pool


@register_family
class ObjectColor(Perturbation):
    family = "object_color"
    description = "task-irrelevant objects repainted in flat colours"

    MAGNITUDES = {"share_of_irrelevant_objects": Scaled(0.2, at_most=1.0)}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return split_pool(list(COLOURS), "object_color")

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        irrelevant = env.irrelevant_objects()
        if not irrelevant:
            return {"objects": {}, "note": "task has no irrelevant objects"}
        count = max(1, math.ceil(len(irrelevant) * self.magnitude("share_of_irrelevant_objects")))
        chosen = sorted(rng.choice(irrelevant, size=count, replace=False).tolist())
        model = raw_model(env)
        applied = {}
        for obj, geoms in object_geoms(env, chosen).items():
            name = str(rng.choice(self.pool()))
            for geom in geoms:
                if model.geom_rgba[geom, 3] > 0:  # visible geoms only
                    model.geom_matid[geom] = -1
                    model.geom_rgba[geom, :3] = COLOURS[name]
            applied[obj] = name
        return {"objects": applied}
