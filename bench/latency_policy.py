"""A stand-in for a GPU policy in `bench/env_steps.py` (variants latency_*): every call sleeps
a fixed latency, whatever the batch size, and leaves the CPU free meanwhile (as a CUDA call waiting on the
device does). Latency from AGRA_BENCH_POLICY_LATENCY_MS (default 40)."""

from __future__ import annotations

import os
import time

import numpy as np

from policies.base import PolicySpec
from policies.baselines import RandomPolicy


class FixedLatency(RandomPolicy):
    name = "fixed_latency"

    def __init__(self) -> None:
        super().__init__()
        self.spec = PolicySpec(
            observation_keys=("agentview_rgb", "proprio"), chunk_length=1, execute_horizon=1
        )
        self.latency = float(os.environ.get("AGRA_BENCH_POLICY_LATENCY_MS", "40")) / 1000

    def act(self, obs: dict, slots) -> np.ndarray:
        time.sleep(self.latency)
        return super().act(obs, slots)
