"""`robot_init`: a small perturbation of the robot's start pose (arm joint angles).

Added to the seven arm joints after the init state is restored and before the settle steps;
objects keep their official init state. Each joint is offset by a magnitude from its split's
band (MAGNITUDES) with random sign; the OOD band starts where the ID band ends, so OOD start
poses are farther than anything in ID data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from perturbations.base import Perturbation
from perturbations.magnitude import Band
from perturbations.registry import register_family
from perturbations.scene import raw_data, raw_model, rounded


@register_family
class RobotInit(Perturbation):
    family = "robot_init"
    description = "arm joints of the start pose offset by a few hundredths of a radian"

    MAGNITUDES = {"joint_offset_rad id": Band(0.0, 0.02), "joint_offset_rad ood": Band(0.02, 0.03)}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {"id": ["|offset| <= 0.02*s"], "ood": ["0.02*s < |offset| <= 0.03*s"]}

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        model, data = raw_model(env), raw_data(env)
        indexes, velocity_indexes = env.arm_joint_indexes()
        low, high = self.magnitude(f"joint_offset_rad {self.split}")
        offsets = rng.uniform(low, high, len(indexes)) * rng.choice([-1.0, 1.0], len(indexes))
        data.qpos[indexes] += offsets
        data.qvel[velocity_indexes] = 0.0
        mujoco.mj_forward(model, data)
        return {"joint_offsets_rad": rounded(offsets)}
