"""A cheap deterministic policy that reads the agentview image and returns chunks of 8 actions,
all executed: the stand-in for a chunked VLA/WAM in `bench/env_steps.py` (variants
libero_chunk8, agra_chunk8; no model cost, so the benchmark measures the harness and the
rendering a chunked policy needs)."""

from __future__ import annotations

import numpy as np

from policies.base import Policy, PolicySpec

CHUNK = 8


def chunk_from_image(image: np.ndarray) -> np.ndarray:
    """(CHUNK, 7) small motions derived from the image's mean colour, gripper open."""
    phase = float(np.asarray(image, dtype=np.float32).mean()) / 40.0
    t = np.arange(CHUNK, dtype=np.float32)[:, None]
    actions = np.zeros((CHUNK, 7), np.float32)
    actions[:, :3] = 0.3 * np.sin(phase + t * np.array([0.3, 0.5, 0.7], np.float32))
    actions[:, 6] = -1.0
    return actions


class Chunk8Policy(Policy):
    name = "chunk8"
    spec = PolicySpec(observation_keys=("agentview_rgb",), chunk_length=CHUNK, execute_horizon=CHUNK)

    def act(self, obs: dict, slots) -> np.ndarray:
        return np.stack([chunk_from_image(image) for image in obs["agentview_rgb"]])
