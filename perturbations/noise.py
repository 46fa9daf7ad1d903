"""`noise`: image corruptions on the third-person image (the wrist image is left alone).

ID pool: gaussian pixel noise and gaussian blur; OOD pool: JPEG compression and motion blur.
Their strength per severity: MAGNITUDES (gaussian sigma of 255 levels; blur sigma and
motion-blur length in pixels at 128 px, scaled with the image size; JPEG quality). The
corruption type is drawn once per episode; gaussian noise is redrawn every step from a
generator seeded with (noise_seed, step), where noise_seed is drawn from the episode's generator
and recorded: a frame's noise depends on its step alone, so rendering only some steps changes
no value. Both are read back from the recorded values (`applied`) at every observation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from perturbations.base import Perturbation
from perturbations.magnitude import Scaled
from perturbations.registry import register_family

KINDS = {"id": ["gaussian", "blur"], "ood": ["jpeg", "motion_blur"]}


@register_family
class Noise(Perturbation):
    family = "noise"
    description = "gaussian noise / blur (id), JPEG / motion blur (ood) on the third-person image"

    MAGNITUDES = {
        "gaussian_sigma": Scaled(4),
        "blur_sigma_px@128": Scaled(0.25),
        "jpeg_quality": Scaled(-11, offset=60),
        "motion_blur_px@128": Scaled(2, offset=1),
    }

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {k: list(v) for k, v in KINDS.items()}

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        kind = str(rng.choice(self.pool()))
        # Per-step noise comes from its own generator, seeded here and recorded, so the
        # recorded values alone reproduce every corrupted frame of the episode.
        noise_seed = int(rng.integers(2**31))
        values = {name: self.magnitude(name) for name in self.MAGNITUDES if kind in name}
        return {"kind": kind, "noise_seed": noise_seed, **values}

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int, applied: Mapping[str, Any]
    ) -> dict[str, Any]:
        if "agentview_rgb" not in obs or "kind" not in applied:  # not rendered at this step, or
            return obs  # no episode drew a corruption yet
        image, kind = obs["agentview_rgb"], applied["kind"]
        scale = image.shape[0] / 128
        if kind == "gaussian":
            step_rng = np.random.default_rng([applied["noise_seed"], step])
            sigma = self.magnitude("gaussian_sigma")
            noisy = image.astype(np.float32) + step_rng.normal(0, sigma, image.shape)
            out = np.clip(noisy, 0, 255).astype(np.uint8)
        elif kind == "blur":
            out = cv2.GaussianBlur(image, (0, 0), sigmaX=self.magnitude("blur_sigma_px@128") * scale)
        elif kind == "jpeg":
            quality = [cv2.IMWRITE_JPEG_QUALITY, self.magnitude("jpeg_quality")]
            ok, encoded = cv2.imencode(".jpg", image[..., ::-1], quality)
            out = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
        else:  # motion_blur: horizontal box kernel
            length = max(1, round(self.magnitude("motion_blur_px@128") * scale))
            kernel = np.full((1, length), 1.0 / length, dtype=np.float32)
            out = cv2.filter2D(image, -1, kernel)
        return {**obs, "agentview_rgb": np.ascontiguousarray(out)}
