"""How one control step advances the simulator: robosuite 1.4's own loop (`stock`) or the same
dynamics without its repeated work (`fast`, the default). Both give the same state, bit for bit.

robosuite 1.4 runs each of the 25 physics substeps of a control step as

    sim.forward()                 # full mj_forward (positions, velocities, constraint solve)
    env._pre_action(action)       # the OSC controller's update() runs mj_forward again
    sim.step()                    # mj_step: a third full forward with the new ctrl, then Euler
    env._update_observables()

The first two forwards compute from the same qpos, qvel, ctrl and warm start, so they repeat
each other; the third one repeats their position and velocity stages. MuJoCo splits `mj_step`
into `mj_step1` (position and velocity stages: kinematics, Jacobians, mass matrix, bias forces,
everything the controller reads) and `mj_step2` (actuation, acceleration, constraint solve,
integration: everything that depends on ctrl). The fast substep is

    mj_step1                      # what the controller reads, computed once
    controller state read         # update() without its forward (fast_control.FastArm)
    arm and gripper control       # the controller writes ctrl (FastArm.control, inline OSC)
    mj_step2                      # the rest of mj_step with the new ctrl
    env._update_observables()     # unchanged: observables sample exactly when they did

The first substep of a control step (the policy step) differs in two ways: robosuite's own
`_pre_action` runs (goal update and the robot's history buffers), and since those buffers
record the end effector's force-torque sensors (acceleration-stage quantities), the
acceleration stage is computed after mj_step1 (`mj_forwardSkip`), so the buffers stay as
stock's too. Floating-point operations and their order are the ones robosuite and
MuJoCo perform, which is why states stay bit-identical (tests/test_physics.py checks qpos, qvel,
qacc_warmstart after every step, images, and rows through `agra-bench run`).

Fast applies only to the env classes and controller it was checked on (robosuite's
`MujocoEnv.step`, LIBERO's `BDDLBaseDomain.step`, OSC_POSE); anything else fails with a one-line
error that says to use `--physics stock`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from agra_bench.envs.fast_control import FastArm
from agra_bench.errors import UsageError, unknown


@dataclass(frozen=True)
class Physics:
    name: str
    description: str
    step: Callable[[Any, np.ndarray], dict]  # (robosuite env, 7-D action) -> raw observation
    keeps_render_context: bool  # hard resets of an unchanged scene keep it (envs/render_cache.py)


def stock_step(sim_env, action: np.ndarray) -> dict:
    """robosuite's own `env.step` (kept for checks and as the reference of bit-identity)."""
    raw, _, _, _ = sim_env.step(action)
    return raw


def _checked_arms(sim_env) -> list[FastArm]:
    """The fast views of a robosuite env's robots, if its step is one the fast loop reproduces;
    else a UsageError (the fast loop would not be the same physics)."""
    from robosuite.controllers.osc import OperationalSpaceController
    from robosuite.environments.base import MujocoEnv
    from robosuite.environments.robot_env import RobotEnv
    from robosuite.robots.single_arm import SingleArm

    env_type = type(sim_env)
    known = [
        _is(env_type.step, MujocoEnv.step, LIBERO_STEP),
        _is(env_type._pre_action, RobotEnv._pre_action, LIBERO_PRE_ACTION),
    ]
    for robot in sim_env.robots:
        known += [
            type(robot).control is SingleArm.control,
            type(robot.controller) is OperationalSpaceController,
        ]
    if not all(known):
        raise UsageError(
            f"physics 'fast' was not checked on {env_type.__name__} with its robots' controllers; "
            "valid: --physics stock"
        )
    return [FastArm(robot) for robot in sim_env.robots]


def _is(method, robosuite_method, libero_name: tuple[str, str]) -> bool:
    """Whether `method` is robosuite's own or LIBERO's thin override of it (checked by name:
    LIBERO is not installed with the robosuite tasks alone)."""
    return method is robosuite_method or (method.__module__, method.__qualname__) == libero_name


LIBERO_STEP = ("libero.libero.envs.bddl_base_domain", "BDDLBaseDomain.step")
LIBERO_PRE_ACTION = ("libero.libero.envs.bddl_base_domain", "BDDLBaseDomain._pre_action")


def _arms(sim_env) -> list[FastArm]:
    """The env's fast arm views, built again after a reset (new controllers, maybe a new sim)."""
    arms = getattr(sim_env, "_agra_fast_arms", None)
    data = sim_env.sim.data._data
    if arms is None or any(
        arm.controller is not robot.controller or arm.data is not data
        for arm, robot in zip(arms, sim_env.robots, strict=True)
    ):
        arms = _checked_arms(sim_env)
        sim_env._agra_fast_arms = arms
    return arms


def fast_step(sim_env, action: np.ndarray) -> dict:
    """robosuite 1.4's `MujocoEnv.step` (and LIBERO's wrapper of it) with each substep done as
    step1 -> controller -> step2 (see the module docstring)."""
    if sim_env.done:
        raise ValueError("executing action in terminated episode")
    arms = _arms(sim_env)
    model, data = sim_env.sim.model._model, sim_env.sim.data._data
    if len(action) != sim_env.action_dim:
        raise AssertionError(f"env got action of size {len(action)}, expected {sim_env.action_dim}")
    robot_actions, cutoff = [], 0
    for arm in arms:
        robot_actions.append(action[cutoff : cutoff + arm.action_dim])
        arm.start_control_step(robot_actions[-1])
        cutoff += arm.action_dim
    sim_env.timestep += 1
    for substep in range(int(sim_env.control_timestep / sim_env.model_timestep)):
        if substep == 0:
            # A policy step: robosuite's own control (goal update, history buffers that read the
            # acceleration-stage force-torque sensors, hence a full forward here).
            mujoco.mj_step1(model, data)
            mujoco.mj_forwardSkip(model, data, mujoco.mjtStage.mjSTAGE_VEL, 0)  # + acc stage
            for arm in arms:
                arm.read_state()
            sim_env._pre_action(action, True)
        else:
            mujoco.mj_step1(model, data)
            for arm, robot_action in zip(arms, robot_actions, strict=True):
                arm.read_state()
                arm.control(robot_action)
        mujoco.mj_step2(model, data)
        sim_env._update_observables()
    sim_env.cur_time += sim_env.control_timestep
    sim_env._post_action(action)
    return sim_env._get_observations()


PHYSICS: dict[str, Physics] = {
    p.name: p
    for p in (
        Physics(
            "fast",
            "robosuite's dynamics without its repeated forwards, render context kept (bit-identical)",
            fast_step,
            keeps_render_context=True,
        ),
        Physics("stock", "robosuite 1.4's own step loop and hard reset, for checks", stock_step, False),
    )
}
DEFAULT_PHYSICS = "fast"
PHYSICS_HELP = "fast (default) or stock: robosuite's own step loop; the same states bit for bit"


def get_physics(name: str) -> Physics:
    if name not in PHYSICS:
        raise unknown("physics", name, PHYSICS)
    return PHYSICS[name]
