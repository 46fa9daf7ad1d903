"""The source evaluation loops, written out as their sources run them, recording what a policy
would see. Run by verify-protocol in a process of its own (nothing of ours touches their numpy
generator or their observables):

    python -m agra_bench.verify.reference_loop REQUEST.json OUT.npz

Nothing here is read from agra-bench's protocol presets: a wrong preset must not verify
against itself.

- `openpi` (examples/libero/main.py): numpy's global seed 7 once, one `OffScreenRenderEnv` with
  square cameras per task, `env.seed(7)`; episodes 0..k in order: `env.reset()`,
  `env.set_init_state(init[k])`, 10 steps of `[0]*6 + [-1]`; the policy's first observation is
  what the last one returns.
- `libero` (libero/lifelong/metric.py, `evaluate_one_task_success`, one env): per episode
  `env.reset()`, `env.set_init_state(init[k])`, 5 steps of zeros; the first observation is what
  the last one returns. metric.py never seeds its envs, so where a reset puts the fixtures
  depends on whatever the env process's generator held: not reproducible. The loop therefore
  takes the fixture poses our env used (FIXTURES in the request) and sets them after its reset,
  so that everything downstream of the fixtures can be compared.

- `lerobot` (src/lerobot/envs/libero.py, `LiberoEnv.reset`): `env.seed(seed)`, `env.reset()`,
  `env.set_init_state(init[k])`, 10 steps of `[0]*6 + [-1]`; the first observation is what the last
  one returns. Its fixtures follow the sub-env's history (its earlier resets grow LIBERO's sampler
  list, and it resets unseeded after every success), so this loop too is given ours.

After the settle steps of a recorded episode, STEPS fixed actions (uniform in [-1, 1], from
ACTION_SEED) are executed and each step's observation recorded too. Recorded per episode k and
step i (i = 0: the first observation), under `e{k}/s{i}/...`: the model's body poses (i = 0),
the simulator state (time, qpos, qvel), both images rotated 180 degrees, the eef position and
quaternion and the gripper qpos.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

OPENPI_SEED = 7


def fixed_actions(seed: int, steps: int) -> np.ndarray:
    """The actions both loops execute after settling: (steps, 7), uniform in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (steps, 7))


def _record(arrays: dict, prefix: str, env, obs: dict, with_model: bool) -> None:
    sim = env.env.sim
    if with_model:
        arrays[f"{prefix}/body_pos"] = np.array(sim.model.body_pos)
        arrays[f"{prefix}/body_quat"] = np.array(sim.model.body_quat)
    arrays[f"{prefix}/state"] = np.asarray(sim.get_state().flatten(), dtype=np.float64)
    arrays[f"{prefix}/agentview"] = np.ascontiguousarray(obs["agentview_image"][::-1, ::-1])
    arrays[f"{prefix}/wrist"] = np.ascontiguousarray(obs["robot0_eye_in_hand_image"][::-1, ::-1])
    for key in ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"):
        arrays[f"{prefix}/{key}"] = np.array(obs[key], dtype=np.float64)


def _task_env(request: dict):
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    task_suite = benchmark.get_benchmark_dict()[request["suite"]]()
    task = task_suite.get_task(request["task_id"])
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    size = request["image_size"]
    make = lambda: OffScreenRenderEnv(bddl_file_name=bddl, camera_heights=size, camera_widths=size)  # noqa: E731
    return make, task, task_suite.get_task_init_states(request["task_id"])


def _rollout(arrays: dict, k: int, env, obs: dict, request: dict) -> None:
    _record(arrays, f"e{k}/s0", env, obs, with_model=True)
    for i, action in enumerate(fixed_actions(request["action_seed"], request["steps"]), start=1):
        obs, _, _, _ = env.step(action.tolist())
        _record(arrays, f"e{k}/s{i}", env, obs, with_model=False)


def openpi_loop(request: dict) -> dict:
    make, task, initial_states = _task_env(request)
    seed = request.get("seed", OPENPI_SEED)  # another value only in tests, to see a failure
    np.random.seed(seed)
    env = make()
    env.seed(seed)
    arrays: dict = {"language": np.array(task.language)}
    wanted = set(request["episodes"])
    try:
        for k in range(max(wanted) + 1):
            env.reset()
            obs = env.set_init_state(initial_states[k])
            for _ in range(10):
                obs, _, _, _ = env.step([0.0] * 6 + [-1.0])
            if k in wanted:
                _rollout(arrays, k, env, obs, request)
    finally:
        env.close()
    return arrays


def libero_loop(request: dict) -> dict:
    return _given_fixtures_loop(request, settle_steps=5, settle_action=[0.0] * 7, seeded=False)


def lerobot_loop(request: dict) -> dict:
    return _given_fixtures_loop(request, settle_steps=10, settle_action=[0.0] * 6 + [-1.0], seeded=True)


def _given_fixtures_loop(request: dict, settle_steps: int, settle_action: list[float], seeded: bool) -> dict:
    """A loop whose fixture placements cannot be reproduced: reset (seeded with the episode index
    where the source seeds), put our fixtures where the reset put its own, restore the init state,
    settle; the last settle step's observation is the first one."""
    make, task, initial_states = _task_env(request)
    env = make()
    arrays: dict = {"language": np.array(task.language)}
    try:
        for k in request["episodes"]:
            if seeded:
                env.seed(k)
            env.reset()
            model = env.env.sim.model
            for body, pose in request["fixtures"][str(k)].items():
                index = model.body_name2id(body)
                model.body_pos[index] = pose[:3]
                model.body_quat[index] = pose[3:]
            obs = env.set_init_state(initial_states[k])
            for _ in range(settle_steps):
                obs, _, _, _ = env.step(settle_action)
            _rollout(arrays, k, env, obs, request)
    finally:
        env.close()
    return arrays


LOOPS = {"openpi": openpi_loop, "libero": libero_loop, "lerobot": lerobot_loop}


def main(argv: list[str]) -> int:
    request_path, out = argv
    with open(request_path) as f:
        request = json.load(f)
    arrays = LOOPS[request["loop"]](request)
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    raise SystemExit(main(sys.argv[1:]))
