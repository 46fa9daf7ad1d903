"""The one episode loop: reset to the key's init state, query the policy, step to the end.

`EpisodeRun` is the driver every episode goes through: `agra-bench run` (inline for Ray actors,
a chunk at a time for the local executor's batched policy), `collect` (with an observer that
records states), `diagnose` (which makes each policy call itself) and the oracle benchmarks.
Observers (`EpisodeObserver`) watch it; `call_policy` checks every answer of a policy before it
reaches the simulator. This module knows the policy only through `policies.base.Policy` and
the env only through the gymnasium API plus `set_render_keys`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agra_bench.envs.base import CAMERAS, SimTaskEnv
from agra_bench.errors import PolicyCallError, error_type_of
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
    obs0_input_sha1: str
    frames: list[np.ndarray] = field(default_factory=list)
    #: At the episode's end: the goal's conditions and how many of them hold (`goal_progress`).
    goal_conditions: int | None = None
    goal_conditions_met: int | None = None


def batch_observations(observations: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """Stack per-env observations into the batch layout of `policies.base` (B first); the
    instruction and the privileged state stay lists."""
    batch: dict[str, Any] = {}
    for key in keys:
        values = [o[key] for o in observations]
        batch[key] = values if key in ("instruction", PRIVILEGED) else np.stack(values)
    return batch


def observation_digest(obs: dict[str, Any], instruction: bool = False) -> str:
    """SHA-1 of both camera images and proprio (and the instruction): a cheap fingerprint for
    reproducibility checks (`obs0_sha1`) and for the report's integrity check that a
    perturbation reached what a policy sees (`obs0_input_sha1`, instruction included).

    Proprio is hashed as float32, as before the env gave it in float64 (episode schema 5): a
    fingerprint then compares across versions, so that the integrity check still pairs a new
    arm with the control arm of an older run."""
    digest = hashlib.sha1()
    for key in ("agentview_rgb", "wrist_rgb"):
        digest.update(np.ascontiguousarray(obs[key]).tobytes())
    digest.update(np.ascontiguousarray(obs["proprio"], dtype=np.float32).tobytes())
    if instruction:
        digest.update(str(obs["instruction"]).encode())
    return digest.hexdigest()


class EpisodeObserver:
    """Hooks into the one episode loop, for what other code watches along an episode: collect
    records the simulator state before every step, benches time it. All hooks are optional."""

    def on_reset(self, run: EpisodeRun) -> None:
        """After the reset: `run.obs` is the first observation."""

    def before_step(self, run: EpisodeRun, action: np.ndarray) -> None:
        """Before `action` (7,) is executed: the simulator still holds the state it acts on."""

    def after_step(self, run: EpisodeRun, action: np.ndarray, terminated: bool, truncated: bool) -> None:
        """After `action` was executed; `run.obs` is its observation."""


class EpisodeRun:
    """One episode advanced a chunk at a time, so that the caller decides where the policy runs:
    `run_episode` calls it inline; the local executor's workers hold an `EpisodeRun` while the
    parent computes the chunk for several of them in one batch."""

    def __init__(
        self,
        env: SimTaskEnv,
        key: EpisodeKey,
        record_frames: bool = False,
        policy_keys: tuple[str, ...] | None = None,
        observers: tuple[EpisodeObserver, ...] = (),
    ) -> None:
        """`policy_keys`: the observation keys the policy reads; only their cameras are rendered,
        and only at the last executed step of each chunk (None: every camera at every step)."""
        obs, info = env.reset(seed=key.seed, options={"init_state_id": key.init_state_id})
        self.env, self.key, self.obs, self.record_frames = env, key, obs, record_frames
        self.observers = observers
        every = set(CAMERAS)
        self.chunk_end_keys = every if policy_keys is None else every & set(policy_keys)
        self.step_keys = every if (policy_keys is None or record_frames) else set()
        self.result = EpisodeResult(
            success=bool(info["success"]),
            steps=0,
            hit_step_cap=False,
            success_at_reset=bool(info["success"]),
            policy_calls=0,
            perturb_params=info["perturb_params"],
            obs0_sha1=observation_digest(obs),
            obs0_input_sha1=observation_digest(obs, instruction=True),
            frames=[self._frame(obs)] if record_frames else [],
        )
        self.done = self.result.success_at_reset
        if self.done:
            self._record_goal_progress()
        for observer in observers:
            observer.on_reset(self)

    def _record_goal_progress(self) -> None:
        """Once, at the end: how far the episode got when it fails (`SimTaskEnv.goal_progress`)."""
        self.result.goal_conditions_met, self.result.goal_conditions = self.env.goal_progress()

    @staticmethod
    def _frame(obs: dict[str, Any]) -> np.ndarray:
        return np.concatenate([obs["agentview_rgb"], obs["wrist_rgb"]], axis=1)

    def observation(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """This env's observation, only the keys a policy asked for; the privileged state is
        computed only when asked."""
        return {k: self.env.privileged_state() if k == PRIVILEGED else self.obs[k] for k in keys}

    def policy_input(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """The batch (B = 1) a policy called inline gets."""
        return batch_observations([self.observation(keys)], keys)

    def apply(self, chunk: np.ndarray, execute_horizon: int) -> None:
        """Execute the first `execute_horizon` actions of one chunk (Ta, 7), stopping at the end."""
        self.result.policy_calls += 1
        actions = np.asarray(chunk)[:execute_horizon]
        for index, action in enumerate(actions):
            last = index == len(actions) - 1
            self.env.set_render_keys(self.step_keys | (self.chunk_end_keys if last else set()))
            for observer in self.observers:
                observer.before_step(self, action)
            self.obs, _, terminated, truncated, _ = self.env.step(action)
            for observer in self.observers:
                observer.after_step(self, action, bool(terminated), bool(truncated))
            if self.record_frames:
                self.result.frames.append(self._frame(self.obs))
            if terminated or truncated:
                self.result.success, self.result.hit_step_cap = bool(terminated), bool(truncated)
                self.done = True
                self._record_goal_progress()
                break
        self.result.steps = self.env.steps


def call_policy(policy: Policy, batch: dict[str, Any], slots: list[int]) -> np.ndarray:
    """`policy.act` with its answer checked: (len(slots), chunk_length, 7), finite, float.

    Anything else, or an exception, raises PolicyCallError naming the policy and the problem,
    before any of it reaches the simulator (NaN actions would otherwise run to the step cap)."""
    try:
        chunks = policy.act(batch, slots)
    except Exception as exc:
        raise policy_failed(policy, exc) from exc
    return checked_actions(policy, chunks, len(slots))


def policy_failed(policy: Policy, exc: Exception) -> PolicyCallError:
    """The error of a policy call that raised, typed by the exception (`error_type`)."""
    return PolicyCallError(
        f"policy '{policy.name}' failed: {type(exc).__name__}: {exc}", error_type_of(exc, "policy")
    )


def checked_actions(policy: Policy, chunks: Any, n_slots: int) -> np.ndarray:
    """The chunks as float32 (n_slots, chunk_length, 7), or PolicyCallError saying what is wrong
    (also for other entry points than `act`, such as diagnose's `act_with_inputs`)."""
    chunks = np.asarray(chunks)
    expected = (n_slots, policy.spec.chunk_length, 7)
    if chunks.shape != expected:
        raise PolicyCallError(
            f"policy '{policy.name}' returned actions of shape {chunks.shape}, expected {expected}"
        )
    if chunks.dtype.kind not in "fiu":
        raise PolicyCallError(
            f"policy '{policy.name}' returned actions of dtype {chunks.dtype}, expected float"
        )
    if not np.isfinite(chunks).all():
        bad = int((~np.isfinite(chunks)).sum())
        raise PolicyCallError(
            f"policy '{policy.name}' returned {bad} non-finite action value(s) (NaN or inf)"
        )
    return chunks.astype(np.float32)


def run_episode(
    env: SimTaskEnv,
    policy: Policy,
    key: EpisodeKey,
    record_frames: bool = False,
    slot: int = 0,
    every: bool = False,
    observers: tuple[EpisodeObserver, ...] = (),
) -> EpisodeResult:
    """The whole episode with the policy called inline, one slot (B = 1); `every` renders every
    camera at every step instead of on demand."""
    keys = None if every else policy.spec.observation_keys
    episode = EpisodeRun(env, key, record_frames, keys, observers)
    policy.reset(slot, key.seed)
    while not episode.done:
        chunk = call_policy(policy, episode.policy_input(policy.spec.observation_keys), [slot])
        episode.apply(chunk[0], policy.spec.execute_horizon)
    return episode.result


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def outcome_row(
    result: EpisodeResult | None, error: str | None, wall_s: float, error_type: str | None = None
) -> dict[str, Any]:
    """The outcome fields of a row; an errored episode (result None) counts as a failure."""
    row: dict[str, Any] = {"error": error, "error_type": error_type if error else None, "wall_s": wall_s}
    if result is not None and error is None:
        row.update(
            success=result.success,
            steps=result.steps,
            hit_step_cap=result.hit_step_cap,
            success_at_reset=result.success_at_reset,
            policy_calls=result.policy_calls,
            perturb_params=json.dumps(result.perturb_params, sort_keys=True),
            obs0_sha1=result.obs0_sha1,
            obs0_input_sha1=result.obs0_input_sha1,
            goal_conditions=result.goal_conditions,
            goal_conditions_met=result.goal_conditions_met,
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
            obs0_input_sha1=None,
            goal_conditions=None,
            goal_conditions_met=None,
        )
    return row
