"""Code that runs inside a worker process: one simulator per process.

`Worker` is the one worker: the local executor's processes run `serve` around it and drive it
a chunk at a time (the policy lives in the parent, batched across workers); a Ray actor is a
`Worker` that runs whole episodes with its own policy.

Workers are started with the `spawn` method and build their simulator on first use, because
an EGL context created in a parent and inherited through fork hangs. A worker keeps the env of
the task it last ran and reuses it (reset, not reconstruct) while the task and arm stay the same.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agra_bench.envs.base import SimTaskEnv
from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import error_type_of
from agra_bench.plan import EpisodeKey
from agra_bench.rollout import EpisodeResult, EpisodeRun, error_text, outcome_row, run_episode
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
    env: EnvSettings  # how every env of the run is built (image size, render quality, protocol, cap)
    arms: tuple[Arm, ...]
    fps: int
    render_every_step: bool = False  # True: every camera at every step (render on demand off)
    # What builds an env (suite, task_id, **options), by import path: tests run the executors
    # on a fake env here in milliseconds.
    env_factory: str = "agra_bench.envs:make_env"


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies. A runner stopped with SIGTERM
    (a job scheduler's stop) would otherwise leave its spawned workers running, orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(0)


def prepare_process(workers: int = 1) -> None:
    """Process-wide set-up of a simulator process: die with the parent, one rasteriser thread
    per worker's share of the cores, headless GL."""
    die_with_parent()
    # Mesa's CPU rasteriser (llvmpipe) starts one thread per core in every process; with
    # several workers that oversubscribes the cores. Measured on 2 cores: two workers at
    # 131-136 ms/step with 1 thread each against 143 ms with the default.
    os.environ.setdefault("LP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, workers))))
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


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


class Worker:
    """One simulator process's state: the env of the task it last ran (reset, not rebuilt, while
    the task stays), the episode in progress, and, for whole-episode runs, a policy.

    Two ways to drive it, one set of rows:
    - stepwise (`start`, `act`, `abort`): the local executor's processes run `serve` around a
      Worker, and the policy lives in the parent, batched across workers;
    - whole episodes (`run`): a Ray actor *is* a Worker (`ray.remote(Worker)`) with its own
      policy, since a round trip per step to another node would cost more than batching saves.
    Both end an episode in `finish`, the one place its outcome fields, error log and video are
    made."""

    def __init__(self, settings: WorkerSettings, workers: int = 1, index: int = 0) -> None:
        prepare_process(workers)
        select_render_device(index)
        self.index = index  # the policy slot of whole episodes (`run`): a pool maps it to a server
        self.settings = settings
        self.make_env = import_object(settings.env_factory)
        self.env: SimTaskEnv | None = None
        self.env_task: tuple[str, int] | None = None
        self.policy: Policy | None = None
        self.key: EpisodeKey | None = None
        self.episode: EpisodeRun | None = None
        self.started = 0.0

    def env_for(self, key: EpisodeKey) -> SimTaskEnv:
        """The task's env, reused across episodes and arms: every reset is a hard reset that
        rebuilds the model from the unedited scene, so only the perturbation changes."""
        if self.env_task != (key.suite, key.task_id):
            self.drop_env()
            self.env = self.make_env(key.suite, key.task_id, **self.settings.env.options())
            self.env_task = (key.suite, key.task_id)
        if self.env.perturbation_name != key.perturbation:
            self.env.set_arm(next(a for a in self.settings.arms if a.name == key.perturbation))
        return self.env

    def drop_env(self) -> None:
        if self.env is not None:
            with contextlib.suppress(Exception):  # a broken simulator must not stop the next episode
                self.env.close()
        self.env, self.env_task = None, None

    def run(self, key: EpisodeKey, record_video: bool) -> dict[str, Any]:
        """One whole episode with this worker's own policy; its row fields (never raises for an
        episode's own failure)."""
        self.key, self.started = key, time.perf_counter()
        every = self.settings.render_every_step
        try:  # a policy this actor cannot build fails its episodes as policy errors, not crashes
            if self.policy is None:
                self.policy = make_policy(self.settings.policy, **self.settings.policy_options)
        except Exception as exc:
            return self.finish(None, error_text(exc), traceback.format_exc(), error_type_of(exc, "policy"))
        try:
            result = run_episode(
                self.env_for(key), self.policy, key, record_video, every=every, slot=self.index
            )
        except Exception as exc:  # recorded per episode so the run goes on
            if interrupted_by_shutdown(exc):
                raise  # not the episode's failure: the worker dies, the driver runs the key again
            row = self.finish(None, error_text(exc), traceback.format_exc(), error_type_of(exc, "simulator"))
        else:
            row = self.finish(result)
        return {**row, **self.policy.episode_info(self.index)}

    def start(self, key: EpisodeKey, record_video: bool, policy_keys: tuple[str, ...]) -> tuple[str, Any]:
        """Reset for `key`: ("obs", the policy's observation) or ("row", row) if it is already over."""
        self.key, self.started, self.episode = key, time.perf_counter(), None
        self.episode = EpisodeRun(
            self.env_for(key), key, record_video, None if self.settings.render_every_step else policy_keys
        )
        return self._answer(policy_keys)

    def act(self, chunk, execute_horizon: int, policy_keys: tuple[str, ...]) -> tuple[str, Any]:
        """Execute one chunk: ("obs", next observation) or ("row", row) when the episode ends."""
        self.episode.apply(chunk, execute_horizon)
        return self._answer(policy_keys)

    def abort(self, error: str, trace: str, error_type: str) -> dict[str, Any]:
        """The policy failed for this episode: its row, with the simulator kept (it is fine)."""
        return self.finish(None, error, trace, error_type, drop_env=False)

    def _answer(self, policy_keys: tuple[str, ...]) -> tuple[str, Any]:
        if self.episode.done:
            return "row", self.finish(self.episode.result)
        return "obs", self.episode.observation(policy_keys)

    def finish(
        self,
        result: EpisodeResult | None,
        error: str | None = None,
        trace: str | None = None,
        error_type: str | None = None,
        drop_env: bool = True,
    ) -> dict[str, Any]:
        """The episode's outcome fields (`rollout.outcome_row`), its video and its error log."""
        row = outcome_row(result, error, time.perf_counter() - self.started, error_type)
        row["video"] = None
        run_dir = Path(self.settings.run_dir)
        if trace is not None:
            log = run_dir / "logs" / f"episode-{self.key.id}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"{self.key}\n\n{trace}")
            if drop_env:
                self.drop_env()  # the simulator may be in a bad state
        elif result is not None and result.frames:
            path = write_video(run_dir / "videos", self.key, result.frames, result.success, self.settings.fps)
            row["video"] = str(path.relative_to(run_dir))
        return row

    def close(self) -> None:
        self.drop_env()


def serve(conn, settings: WorkerSettings, workers: int, index: int, keys: tuple[str, ...]) -> None:
    """The local executor's worker loop around one `Worker`. Messages, and the answer to each:

        ("start", key, record_video)     -> ("obs", obs) or ("row", row) if already over
        ("act", chunk (Ta, 7), horizon)  -> ("obs", obs) or ("row", row) when it ends
        ("abort", error, trace, type)    -> ("row", row): the policy failed for this episode
        ("close",)                       -> the worker exits

    `obs` holds one env's observation, only the `keys` the policy asked for. An exception in the
    simulator ends the episode with its error in the row; the worker then serves the next one.
    """
    worker = Worker(settings, workers, index)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        kind, args = message[0], message[1:]
        if kind == "close":
            worker.close()
            return
        try:
            if kind == "start":
                answer = worker.start(*args, keys)
            elif kind == "act":
                answer = worker.act(*args, keys)
            else:  # "abort"
                answer = ("row", worker.abort(*args))
        except Exception as exc:  # the simulator failed: record it, rebuild the env next time
            kind = error_type_of(exc, "simulator")
            answer = ("row", worker.finish(None, error_text(exc), traceback.format_exc(), kind))
        conn.send(answer)


def import_object(path: str) -> Any:
    """`package.module:name` -> the object (the env factory is named, not pickled)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def interrupted_by_shutdown(exc: BaseException) -> bool:
    """Whether `exc` was raised while the worker process was being stopped: a SystemExit or
    KeyboardInterrupt somewhere in its chain. Ray turns the SIGTERM that a lost node's workers
    get into SystemExit, and robosuite re-raises any exception of a camera render during a
    reset as a ValueError, so without this an episode cut off by a lost node would be recorded
    as a simulator error instead of being run again on a surviving node."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
