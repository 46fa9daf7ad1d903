"""One closed-loop episode: reset to the key's init state, query the policy, step to the end.

This module knows the policy only through `policies.base.Policy` (reset/act/spec) and the
env only through the gymnasium API; it returns the row fields and, if asked, the frames.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agra_bench.envs.base import SimTaskEnv
from agra_bench.plan import EpisodeKey
from policies.base import PRIVILEGED, Policy


@dataclass
class EpisodeResult:
    success: bool
    steps: int
    hit_step_cap: bool
    success_at_reset: bool
    policy_calls: int
    perturb_params: dict[str, Any]
    obs0_sha1: str
    frames: list[np.ndarray] = field(default_factory=list)


def batch_observations(observations: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """Stack per-env observations into the batch layout of `policies.base` (B first)."""
    batch: dict[str, Any] = {}
    for key in keys:
        values = [o[key] for o in observations]
        batch[key] = values if key == "instruction" else np.stack(values)
    return batch


def policy_input(env: SimTaskEnv, obs: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """The batch a policy asked for; the privileged state is computed only when asked."""
    keys = policy.spec.observation_keys
    batch = batch_observations([obs], tuple(k for k in keys if k != PRIVILEGED))
    if PRIVILEGED in keys:
        batch[PRIVILEGED] = [env.privileged_state()]
    return batch


def observation_digest(obs: dict[str, Any]) -> str:
    """SHA-1 of both camera images and proprio: a cheap fingerprint for reproducibility checks."""
    digest = hashlib.sha1()
    for key in ("agentview_rgb", "wrist_rgb", "proprio"):
        digest.update(np.ascontiguousarray(obs[key]).tobytes())
    return digest.hexdigest()


def run_episode(
    env: SimTaskEnv, policy: Policy, key: EpisodeKey, record_frames: bool = False, slot: int = 0
) -> EpisodeResult:
    obs, info = env.reset(seed=key.seed, options={"init_state_id": key.init_state_id})
    policy.reset(slot, key.seed)
    frames = [np.concatenate([obs["agentview_rgb"], obs["wrist_rgb"]], axis=1)] if record_frames else []
    result = EpisodeResult(
        success=bool(info["success"]),
        steps=0,
        hit_step_cap=False,
        success_at_reset=bool(info["success"]),
        policy_calls=0,
        perturb_params=info["perturb_params"],
        obs0_sha1=observation_digest(obs),
        frames=frames,
    )
    done = result.success_at_reset
    while not done:
        chunk = policy.act(policy_input(env, obs, policy), [slot])
        result.policy_calls += 1
        for action in np.asarray(chunk)[0, : policy.spec.execute_horizon]:
            obs, _, terminated, truncated, _ = env.step(action)
            if record_frames:
                frames.append(np.concatenate([obs["agentview_rgb"], obs["wrist_rgb"]], axis=1))
            if terminated or truncated:
                result.success, result.hit_step_cap, done = bool(terminated), bool(truncated), True
                break
    result.steps = env.steps
    return result


def timed_row(fn) -> tuple[dict[str, Any], EpisodeResult | None, str | None]:
    """Run `fn()` and build the row's outcome fields; an exception becomes the row's `error`.

    Returns (row fields, result or None, traceback text or None)."""
    start = time.perf_counter()
    row: dict[str, Any] = {"error": None}
    result, trace = None, None
    try:
        result = fn()
    except Exception as exc:  # recorded per episode so the run goes on
        row["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        trace = traceback.format_exc()
    row["wall_s"] = time.perf_counter() - start
    if result is not None:
        row.update(
            success=result.success,
            steps=result.steps,
            hit_step_cap=result.hit_step_cap,
            success_at_reset=result.success_at_reset,
            policy_calls=result.policy_calls,
            perturb_params=json.dumps(result.perturb_params, sort_keys=True),
            obs0_sha1=result.obs0_sha1,
        )
    else:
        row.update(
            success=False,
            steps=0,
            hit_step_cap=False,
            success_at_reset=False,
            policy_calls=0,
            perturb_params="{}",
            obs0_sha1=None,
        )
    return row, result, trace
