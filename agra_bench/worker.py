"""Code that runs inside a worker process: one simulator per process.

Two ways to drive it:
- `serve` (the local executor): the worker holds an episode and answers each chunk of actions
  with the next observation; the policy lives in the parent, which batches it across workers.
- `run_key` (the Ray executor): the worker also holds a policy and runs whole episodes.

Workers are started with the `spawn` method and build their simulator on first use, because
an EGL context created in a parent and inherited through fork hangs. A worker keeps the env of
the task it last ran and reuses it (reset, not reconstruct) while the task and arm stay the same.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agra_bench.envs import make_env
from agra_bench.envs.base import SimTaskEnv
from agra_bench.errors import error_type_of
from agra_bench.plan import EpisodeKey
from agra_bench.rollout import EpisodeResult, EpisodeRun, error_text, outcome_row, run_episode, timed_row
from agra_bench.video import write_video
from perturbations.spec import Arm
from policies.base import Policy
from policies.registry import make_policy


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs, sent once at start-up (plain data, safe to pickle)."""

    run_dir: str
    policy: str
    policy_options: dict[str, Any]
    image_size: int
    render_quality: str
    protocol: str
    max_steps: int
    arms: tuple[Arm, ...]
    fps: int
    render_every_step: bool = False  # True: every camera at every step (render on demand off)


_settings: WorkerSettings | None = None
_policy: Policy | None = None
_env: SimTaskEnv | None = None
_env_key: tuple | None = None


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies. A runner stopped with SIGTERM
    (a job scheduler's stop) would otherwise leave its spawned workers running, orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(0)


def init_worker(settings: WorkerSettings, workers: int = 1) -> None:
    global _settings
    die_with_parent()
    # Mesa's CPU rasteriser (llvmpipe) starts one thread per core in every process; with
    # several workers that oversubscribes the cores. Measured on 2 cores: two workers at
    # 131-136 ms/step with 1 thread each against 143 ms with the default.
    os.environ.setdefault("LP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, workers))))
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    _settings = settings


def visible_gpus() -> list[str]:
    """The GPUs this machine shows to CUDA: CUDA_VISIBLE_DEVICES when set, else /dev/nvidiaN."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    return sorted(p.name[6:] for p in Path("/dev").glob("nvidia[0-9]*"))


def select_render_device(index: int) -> str | None:
    """Spread workers' EGL contexts over the GPUs (worker i renders on GPU i mod n).

    Only with MUJOCO_GL=egl and a GPU present, and never over a MUJOCO_EGL_DEVICE_ID the user
    set. Without a GPU, EGL falls back to Mesa's CPU rasteriser and nothing is set."""
    gpus = visible_gpus()
    if os.environ.get("MUJOCO_GL") != "egl" or not gpus or "MUJOCO_EGL_DEVICE_ID" in os.environ:
        return os.environ.get("MUJOCO_EGL_DEVICE_ID")
    os.environ["MUJOCO_EGL_DEVICE_ID"] = gpus[index % len(gpus)]
    return os.environ["MUJOCO_EGL_DEVICE_ID"]


def _get_policy() -> Policy:
    global _policy
    if _policy is None:
        _policy = make_policy(_settings.policy, **_settings.policy_options)
    return _policy


def _get_env(key: EpisodeKey) -> SimTaskEnv:
    """The task's env, reused across episodes and arms: every reset is a hard reset that
    rebuilds the model from the unmodified scene, so only the perturbation object changes."""
    global _env, _env_key
    wanted = (key.suite, key.task_id)
    if _env_key != wanted:
        _drop_env()
        _env = make_env(
            key.suite,
            key.task_id,
            image_size=_settings.image_size,
            render_quality=_settings.render_quality,
            protocol=_settings.protocol,
            max_steps=_settings.max_steps,
        )
        _env_key = wanted
    if _env.perturbation_name != key.perturbation:
        arm = next(a for a in _settings.arms if a.name == key.perturbation)
        _env.perturbation = arm.build()
        _env.perturbation_name = key.perturbation
    return _env


def _drop_env() -> None:
    global _env, _env_key
    if _env is not None:
        with contextlib.suppress(Exception):  # a broken simulator must not stop the next episode
            _env.close()
    _env, _env_key = None, None


def run_key(key: EpisodeKey, record_video: bool) -> dict[str, Any]:
    """Run one episode and return its row fields (never raises for an episode's own failure)."""
    assert _settings is not None, "init_worker was not called"
    every = _settings.render_every_step
    row, result, trace = timed_row(
        lambda: run_episode(_get_env(key), _get_policy(), key, record_video, every=every)
    )
    row["video"] = None
    if trace is not None:
        _log_error(key, trace)
        _drop_env()  # the simulator may be in a bad state
    elif record_video and result is not None:
        videos = Path(_settings.run_dir) / "videos"
        path = write_video(videos, key, result.frames, result.success, _settings.fps)
        row["video"] = str(path.relative_to(_settings.run_dir))
    return row


def _log_error(key: EpisodeKey, trace: str) -> None:
    log = Path(_settings.run_dir) / "logs" / f"episode-{key.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"{key}\n\n{trace}")


def serve(conn, settings: WorkerSettings, workers: int, index: int, keys: tuple[str, ...]) -> None:
    """The local executor's worker loop. Messages from the parent, and the answer to each:

        ("start", key, record_video)     -> ("obs", obs) or ("row", row) if already over
        ("act", chunk (Ta, 7), horizon)  -> ("obs", obs) or ("row", row) when it ends
        ("abort", error, trace, type)    -> ("row", row): the policy failed for this episode
        ("close",)                       -> the worker exits

    `obs` holds one env's observation, only the `keys` the policy asked for. An exception in the
    simulator ends the episode with its error in the row; the worker then serves the next one.
    """
    init_worker(settings, workers)
    select_render_device(index)
    key, episode, start = None, None, 0.0
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] == "close":
            _drop_env()
            return
        try:
            if message[0] == "start":
                _, key, record_video = message
                start, episode = time.perf_counter(), None
                episode = EpisodeRun(
                    _get_env(key), key, record_video, None if settings.render_every_step else keys
                )
            elif message[0] == "act":
                episode.apply(message[1], message[2])
            else:  # "abort"
                _, error, trace, kind = message
                conn.send(("row", _finish(key, None, start, error, trace, kind, drop_env=False)))
                continue
        except Exception as exc:  # the simulator failed: record it, rebuild the env next time
            kind = error_type_of(exc, "simulator")
            conn.send(("row", _finish(key, None, start, error_text(exc), traceback.format_exc(), kind)))
            continue
        if episode.done:
            conn.send(("row", _finish(key, episode.result, start, None, None)))
        else:
            conn.send(("obs", episode.observation(keys)))


def _finish(
    key: EpisodeKey,
    result: EpisodeResult | None,
    start: float,
    error: str | None,
    trace: str | None,
    error_type: str | None = None,
    drop_env: bool = True,
) -> dict[str, Any]:
    row = outcome_row(result, error, time.perf_counter() - start, error_type)
    row["video"] = None
    if trace is not None:
        _log_error(key, trace)
        if drop_env:
            _drop_env()  # the simulator may be in a bad state
    elif result is not None and result.frames:
        videos = Path(_settings.run_dir) / "videos"
        path = write_video(videos, key, result.frames, result.success, _settings.fps)
        row["video"] = str(path.relative_to(_settings.run_dir))
    return row
