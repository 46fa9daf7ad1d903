"""`noise`: image corruptions on the third-person image (the wrist image is left alone).

ID pool: gaussian pixel noise and gaussian blur; OOD pool: JPEG compression and motion blur.
Severity s: gaussian sigma 4·s (of 255); blur sigma 0.25·s px at 128 px (scaled with image
size); JPEG quality 60 − 11·s; motion-blur length 1 + 2·s px at 128 px. The corruption type is
drawn once per episode; gaussian noise is redrawn every step from a generator seeded with
(noise_seed, step), where noise_seed is drawn from the episode's generator and recorded: a
frame's noise depends on its step alone, so rendering only some steps changes no value.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from perturbations.base import Perturbation
from perturbations.registry import register_family

KINDS = {"id": ["gaussian", "blur"], "ood": ["jpeg", "motion_blur"]}


@register_family
class Noise(Perturbation):
    family = "noise"
    description = "gaussian noise / blur (id), JPEG / motion blur (ood) on the third-person image"

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        s = severity
        return {
            "gaussian_sigma": 4 * s,
            "blur_sigma_px@128": 0.25 * s,
            "jpeg_quality": 60 - 11 * s,
            "motion_blur_px@128": 1 + 2 * s,
        }

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {k: list(v) for k, v in KINDS.items()}

    def __init__(self, severity: int = 3, split: str = "id") -> None:
        super().__init__(severity, split)
        self.kind = self.pool()[0]
        self.noise_seed = 0

    def apply(self, env: Any, rng: np.random.Generator) -> dict[str, Any]:
        self.kind = str(rng.choice(self.pool()))
        # Per-step noise comes from its own generator, seeded here and recorded, so the
        # recorded values alone reproduce every corrupted frame of the episode.
        noise_seed = int(rng.integers(2**31))
        self.noise_seed = noise_seed
        values = {k: v for k, v in self.ranges(self.severity).items() if self.kind in k}
        return {"kind": self.kind, "noise_seed": noise_seed, **values}

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int = 0
    ) -> dict[str, Any]:
        if "agentview_rgb" not in obs:  # not rendered at this step
            return obs
        image = obs["agentview_rgb"]
        scale = image.shape[0] / 128
        s = self.severity
        if self.kind == "gaussian":
            step_rng = np.random.default_rng([self.noise_seed, step])
            noisy = image.astype(np.float32) + step_rng.normal(0, 4 * s, image.shape)
            out = np.clip(noisy, 0, 255).astype(np.uint8)
        elif self.kind == "blur":
            out = cv2.GaussianBlur(image, (0, 0), sigmaX=0.25 * s * scale)
        elif self.kind == "jpeg":
            ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 60 - 11 * s])
            out = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
        else:  # motion_blur: horizontal box kernel
            length = max(1, round((1 + 2 * s) * scale))
            kernel = np.full((1, length), 1.0 / length, dtype=np.float32)
            out = cv2.filter2D(image, -1, kernel)
        return {**obs, "agentview_rgb": np.ascontiguousarray(out)}
