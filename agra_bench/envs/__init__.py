"""Gymnasium registration and the one factory the rest of the code uses.

Every suite is registered as `agra_bench/<suite>` (e.g. `gym.make("agra_bench/libero_10",
task_id=3)`); the env's own step cap comes from the protocol, so no TimeLimit wrapper is added.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agra_bench.envs.base import CAMERAS, IMAGE_CONVENTION, SimTaskEnv
from agra_bench.suites import all_suites, suite_kind

ENTRY_POINTS = {
    "libero": "agra_bench.envs.libero_env:LiberoEnv",
    "robosuite": "agra_bench.envs.robosuite_env:RobosuiteEnv",
}


def env_id(suite: str) -> str:
    return f"agra_bench/{suite}"


def register_all() -> None:
    for suite in all_suites():
        if env_id(suite) not in gym.registry:
            gym.register(
                id=env_id(suite),
                entry_point=ENTRY_POINTS[suite_kind(suite)],
                kwargs={"suite": suite},
                disable_env_checker=True,
                order_enforce=False,
            )


def make_env(suite: str, task_id: int, **kwargs: Any) -> SimTaskEnv:
    """Build the (lazy) env for one task; the simulator appears at the first reset."""
    register_all()
    return gym.make(env_id(suite), task_id=task_id, **kwargs).unwrapped


register_all()

__all__ = ["CAMERAS", "IMAGE_CONVENTION", "SimTaskEnv", "make_env", "register_all", "env_id"]
