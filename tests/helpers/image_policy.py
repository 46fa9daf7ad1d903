"""A deterministic policy that reads both images, the proprio and the instruction, for tests that
must prove those inputs reach it unchanged (serving, render-on-demand): its actions are a fixed
function of them, so equal rows mean equal inputs.

Two environment variables help tests that run it in another process (`agra-bench serve`):
AGRA_TEST_INPUT_LOG appends one line per policy call with the SHA-1 of every input it got (bit
for bit comparisons across processes), AGRA_TEST_ACT_DELAY sleeps that many seconds per call."""

from __future__ import annotations

import hashlib
import os
import time
import zlib
from collections.abc import Sequence

import numpy as np

from policies.base import Policy, PolicySpec


class ImageMeanPolicy(Policy):
    """Moves by amounts derived from image statistics; chunks of 5, all executed."""

    name = "image_mean"
    spec = PolicySpec(chunk_length=5, execute_horizon=5)

    def __init__(self) -> None:
        self.seeds: dict[int, int] = {}

    def reset(self, slot: int, seed: int) -> None:
        self.seeds[slot] = int(seed)

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        time.sleep(float(os.environ.get("AGRA_TEST_ACT_DELAY", 0)))
        actions = np.zeros((len(slots), 5, 7), np.float32)
        for i, slot in enumerate(slots):
            log_inputs(obs, i, self.seeds.get(slot, 0))
            image = np.asarray(obs["agentview_rgb"][i], dtype=np.float64)
            wrist = np.asarray(obs["wrist_rgb"][i], dtype=np.float64)
            text = zlib.crc32(str(obs["instruction"][i]).encode()) % 7
            base = np.array(
                [image[..., 0].mean(), image[..., 1].mean(), wrist.mean(), text, self.seeds.get(slot, 0)]
            )
            for t in range(5):
                phase = base.sum() / 97.0 + t + float(np.asarray(obs["proprio"][i]).sum())
                actions[i, t, :3] = 0.5 * np.sin([phase, 1.3 * phase, 0.7 * phase])
                actions[i, t, 6] = 1.0 if np.sin(phase / 3) > 0 else -1.0
        return actions


def log_inputs(obs: dict, index: int, seed: int) -> None:
    """Append `seed key=sha1 ...` for env `index` of the batch to $AGRA_TEST_INPUT_LOG, if set."""
    path = os.environ.get("AGRA_TEST_INPUT_LOG")
    if not path:
        return
    parts = [str(seed)]
    for key in ("agentview_rgb", "wrist_rgb", "proprio"):
        value = np.ascontiguousarray(obs[key][index])
        parts.append(f"{key}={value.dtype}{value.shape}:{hashlib.sha1(value.tobytes()).hexdigest()[:16]}")
    parts.append(f"instruction={obs['instruction'][index]!r}")
    with open(path, "a") as handle:
        handle.write(" ".join(parts) + "\n")
