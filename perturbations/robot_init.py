"""`robot_init`: a small perturbation of the robot's start pose (arm joint angles).

Added to the seven arm joints after the init state is restored and before the settle steps;
objects keep their official init state. Severity s: each joint offset by a magnitude in
[0, 0.02·s] rad (ID) or [0.02·s, 0.03·s] rad (OOD) with random sign: OOD start poses are
farther than anything in ID data.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from perturbations.base import Perturbation
from perturbations.registry import register_family
from perturbations.scene import raw_data, raw_model, rounded


@register_family
class RobotInit(Perturbation):
    family = "robot_init"
    description = "arm joints of the start pose offset by a few hundredths of a radian"

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        return {
            "joint_offset_rad": {
                "id": [0.0, round(0.02 * severity, 3)],
                "ood": [round(0.02 * severity, 3), round(0.03 * severity, 3)],
            }
        }

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {"id": ["|offset| <= 0.02*s"], "ood": ["0.02*s < |offset| <= 0.03*s"]}

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        model, data = raw_model(env), raw_data(env)
        indexes, velocity_indexes = env.arm_joint_indexes()
        low, high = (
            (0.0, 0.02 * self.severity)
            if self.split == "id"
            else (0.02 * self.severity, 0.03 * self.severity)
        )
        offsets = rng.uniform(low, high, len(indexes)) * rng.choice([-1.0, 1.0], len(indexes))
        data.qpos[indexes] += offsets
        data.qvel[velocity_indexes] = 0.0
        mujoco.mj_forward(model, data)
        return {"joint_offsets_rad": rounded(offsets)}
