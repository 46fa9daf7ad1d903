"""`agra-bench collect`: scripted-oracle demonstrations written in LIBERO's HDF5 layout.

Two passes per task, both resumable:
1. *States*: the oracle drives the task with the cameras off (physics only, ~20x faster on
   CPU) and the flattened MuJoCo state, action, reward and proprioception of every step are
   written. Demo k starts from init state k with the episode seed of `agra-bench run`, so a
   demonstration and an evaluation episode with the same key share their scene.
2. *Render*: each kept demo's scene is rebuilt by the same reset (same init state, seed and
   perturbation) and every stored state is rendered. The first state of the rebuilt scene must
   equal the stored one bit for bit, or the pass stops: images never drift from their states.
   This pass alone needs OpenGL, and is the one to run on a GPU machine.

Work goes to `<file>.partial` and is renamed over `<file>` when both passes are complete;
rerunning the command after a crash continues where it stopped.

`action_noise` (`collect --action-noise SIGMA`) collects DART-style demonstrations: Gaussian
noise of that standard deviation is added to the arm dims (0-5) of the action the simulator
executes, while the demo records the oracle's clean action. The oracle plans from the true
state at every step, so each demo then also shows how to recover from states a little off the
clean path. A policy trained by behaviour cloning drifts into exactly such states, and only
clean demonstrations never show the way back.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from agra_bench.demos.job import CollectJob
from agra_bench.demos.layout import OUR_IMAGE_CONVENTION, demo_names, write_demo, write_images
from agra_bench.errors import UsageError
from agra_bench.rollout import EpisodeObserver
from perturbations.scene import object_segmentation

SEG_CAMERAS = ("agentview", "robot0_eye_in_hand")


class NoisyExecution:
    """Wraps a chunk-1 policy: `act` returns its action plus Gaussian noise on the arm dims,
    and `clean` holds the action before the noise (the demonstration's label). Seeded per
    episode from the episode seed, so a demo is reproducible."""

    ARM_DIMS = slice(0, 6)  # the gripper command stays as the oracle gave it

    def __init__(self, policy, sigma: float) -> None:
        if policy.spec.chunk_length != 1:
            raise ValueError("noisy execution labels one action per step: the policy's chunk must be 1")
        self.policy, self.sigma, self.spec, self.name = policy, sigma, policy.spec, policy.name
        self.clean = np.zeros((1, 1, 7), np.float32)
        self._rng = np.random.default_rng(0)

    def reset(self, slot: int, seed: int) -> None:
        self.policy.reset(slot, seed)
        self._rng = np.random.default_rng([seed, 0xDA127])

    def act(self, obs: dict, slots) -> np.ndarray:
        self.clean = np.asarray(self.policy.act(obs, slots), np.float32)
        noisy = self.clean.copy()
        noisy[..., self.ARM_DIMS] += self._rng.normal(0.0, self.sigma, noisy[..., self.ARM_DIMS].shape)
        return np.clip(noisy, -1.0, 1.0)

    def close(self) -> None:
        self.policy.close()


def task_file(out: Path, task_name: str, n_tasks: int) -> Path:
    """`--out x.hdf5` for one task; otherwise a folder of LIBERO-named `<task>_demo.hdf5` files."""
    if out.suffix == ".hdf5":
        if n_tasks != 1:
            raise UsageError(f"--out '{out}' names one file but {n_tasks} tasks were asked; give a folder")
        return out
    return out / f"{task_name}_demo.hdf5"


def _build_env(job: CollectJob, render: bool):
    from perturbations.spec import parse_spec

    arms = parse_spec(job.perturb, job.severity, job.split, job.suite)
    if len(arms) != 1:
        raise UsageError(f"collect takes one perturbation arm; '{job.perturb}' gives {len(arms)}")
    env = replace(job.env, render_images=render).make(job.suite, job.task_id)
    env.set_arm(arms[0])
    return env


def _file_attrs(env, job: CollectJob) -> dict:
    from agra_bench import __version__
    from agra_bench.envs import IMAGE_CONVENTION

    task = env.task
    bddl = env.bddl_path() if hasattr(env, "bddl_path") else ""
    return {
        "problem_info": json.dumps(
            {"problem_name": task.name, "domain_name": job.suite, "language_instruction": task.instruction}
        ),
        "env_args": json.dumps(
            {
                "type": 1,
                "env_name": job.suite,
                "problem_name": task.name,
                "bddl_file": bddl,
                "env_kwargs": {
                    "camera_heights": job.env.image_size,
                    "camera_widths": job.env.image_size,
                    "control_freq": env.protocol.control_freq_hz,
                },
            }
        ),
        "bddl_file_name": bddl,
        "bddl_file_content": Path(bddl).read_text() if bddl else "",
        "macros_image_convention": OUR_IMAGE_CONVENTION,
        "agra_bench_image_convention": IMAGE_CONVENTION,
        "agra_bench_version": __version__,
        "agra_bench_job": json.dumps({k: str(v) for k, v in job.__dict__.items()}),
        "suite": job.suite,
        "task_id": job.task_id,
    }


class StateRecorder(EpisodeObserver):
    """Records, at every step of the episode loop, the state the action acts on and the robot's
    arrays before it, then the action and its reward: one demonstration's arrays."""

    KEYS = ("states", "actions", "rewards", "ee_states", "gripper_states", "joint_states", "robot_states")

    def __init__(self, labels: NoisyExecution | None = None) -> None:
        """`labels`: record its clean action instead of the executed one (DART collection)."""
        self.rows: dict[str, list] = {k: [] for k in self.KEYS}
        self.labels = labels

    def before_step(self, run, action: np.ndarray) -> None:
        self.rows["states"].append(run.env.flat_state())
        for key, value in run.env.robot_arrays().items():
            self.rows[key].append(value)

    def after_step(self, run, action: np.ndarray, terminated: bool, truncated: bool) -> None:
        label = action if self.labels is None else self.labels.clean.reshape(-1, 7)[0]
        self.rows["actions"].append(np.asarray(label, dtype=np.float64))
        self.rows["rewards"].append(np.uint8(terminated))


def state_pass(job: CollectJob, data: h5py.Group, report) -> None:
    """Pass 1: run the oracle without images, write states/actions for every new episode."""
    from agra_bench.plan import EpisodeKey, episode_seed
    from agra_bench.rollout import run_episode
    from policies.registry import make_policy

    failed = set(json.loads(data.attrs.get("agra_bench_failed_episodes", "[]")))
    done = {int(data[n].attrs["episode"]) for n in demo_names(data) if data[n].attrs.get("complete")}
    todo = [e for e in range(job.episodes) if e not in done and e not in failed]
    if not todo:
        return
    env, policy = _build_env(job, render=False), make_policy("scripted")
    if job.action_noise > 0:
        policy = NoisyExecution(policy, job.action_noise)
    for key, value in _file_attrs(env, job).items():
        data.attrs[key] = value
    for episode in todo:
        seed = episode_seed(job.seed, job.task_id, episode)
        init_state = episode % env.task.num_init_states
        key = EpisodeKey(
            job.suite, job.task_id, episode, init_state, seed, env.perturbation_name, 0, job.split
        )
        recorder = StateRecorder(policy if job.action_noise > 0 else None)
        result = run_episode(env, policy, key, observers=(recorder,))
        rows, success = recorder.rows, result.success and result.steps > 0
        if success or (job.keep_failures and result.steps > 0):
            arrays = {
                k: np.asarray(v)
                for k, v in rows.items()
                if k not in ("ee_states", "gripper_states", "joint_states")
            }
            arrays["dones"] = np.zeros(len(arrays["actions"]), np.uint8)
            arrays["dones"][-1] = 1
            for key in ("ee_states", "gripper_states", "joint_states"):
                arrays[f"obs/{key}"] = np.asarray(rows[key])
            write_demo(
                data,
                f"demo_{episode}",
                arrays,
                {
                    "episode": episode,
                    "init_state_id": init_state,
                    "seed": seed,
                    "success": bool(success),
                    "init_state": arrays["states"][0],
                    "perturbation": env.perturbation_name,
                    "perturb_params": json.dumps(env.perturb_params, default=str),
                    "action_noise": job.action_noise,
                    "instruction": env.task.instruction,
                },
            )
        else:
            failed.add(episode)
            data.attrs["agra_bench_failed_episodes"] = json.dumps(sorted(failed))
        data.file.flush()
        report("collected")
    env.close()


def render_pass(job: CollectJob, data: h5py.Group, report) -> None:
    """Pass 2: rebuild each demo's scene and render its stored states."""
    todo = [n for n in demo_names(data) if "obs/agentview_rgb" not in data[n]]
    if not todo:
        return
    env = _build_env(job, render=True)
    for name in todo:
        demo = data[name]
        obs, _ = env.reset(
            seed=int(demo.attrs["seed"]), options={"init_state_id": int(demo.attrs["init_state_id"])}
        )
        states = demo["states"][()]
        if not np.array_equal(env.flat_state(), states[0]):
            raise RuntimeError(
                f"{name}: the rebuilt scene does not match the stored first state; "
                "was the file collected with another version of the simulator stack?"
            )
        frames, segs = [], []
        for t, state in enumerate(states):
            frames.append(obs if t == 0 else env.observe_state(state))
            if job.segmentation:
                segs.append([object_segmentation(env, camera)[0] for camera in SEG_CAMERAS])
        arrays = {
            "agentview_rgb": np.stack([f["agentview_rgb"] for f in frames]),
            "eye_in_hand_rgb": np.stack([f["wrist_rgb"] for f in frames]),
        }
        if job.segmentation:
            arrays["agentview_seg"] = np.stack([s[0] for s in segs])
            arrays["eye_in_hand_seg"] = np.stack([s[1] for s in segs])
            demo.attrs["segmentation_labels"] = json.dumps(object_segmentation(env, SEG_CAMERAS[0])[1])
        write_images(demo, arrays)
        data.file.flush()
        report("rendered")
    env.close()


def collect_task(job: CollectJob, report=lambda event: None) -> dict:
    """Both passes for one task; returns counts. Safe to call again after an interruption."""
    from agra_bench.suites import get_task

    final = task_file(job.out, get_task(job.suite, job.task_id).name, 1 if job.out.suffix == ".hdf5" else 2)
    if final.exists():
        with h5py.File(final, "r") as handle:
            n = len(demo_names(handle["data"]))
        return {"task_id": job.task_id, "file": str(final), "demos": n, "skipped": True}
    partial = final.with_name(final.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(partial, "a") as handle:
        data = handle.require_group("data")
        for name in demo_names(data):
            if not data[name].attrs.get("complete"):
                del data[name]  # killed while writing it: redo
        state_pass(job, data, report)
        if job.render:
            render_pass(job, data, report)
        names = demo_names(data)
        data.attrs["num_demos"] = len(names)
        data.attrs["total"] = int(sum(data[n].attrs["num_samples"] for n in names))
        failed = json.loads(data.attrs.get("agra_bench_failed_episodes", "[]"))
    if job.render:
        os.replace(partial, final)
    return {
        "task_id": job.task_id,
        "file": str(final if job.render else partial),
        "demos": len(names),
        "failed": len(failed),
        "skipped": False,
    }
