"""One robot's work inside a physics substep of the fast loop (envs/physics.py), with robosuite
1.4's floating-point operations in robosuite's order and without its Python overhead.

What robosuite does per substep and per robot, and what is kept:
- `Controller.update()`: `mj_forward`, then reads of the end-effector site, Jacobians, joint
  state and the mass matrix through name look-ups and property chains. Kept: the same
  `mj_jacSite`, `np.dot(jac, qvel)` and `mj_fullM` calls on the same inputs; dropped: the forward
  (mj_step1 has computed everything read) and the look-ups (ids cached per controller).
- `SingleArm.control()` on a substep that is not a policy step: an assertion on the action size
  (three property chains), `run_controller()` (kept as robosuite's own call), the torque clip
  against limits re-read from the model, `grip_action` with name look-ups and the gripper's
  control range re-derived, and the ctrl writes. Kept: the same clip, the gripper's own
  `format_action` (it holds state: it moves the fingers' command a little at each call), the same
  `bias + weight * action` arithmetic and the same writes; cached: limits, ids, bias and weight
  (fixed while the model is: they are re-derived at every reset, which rebuilds controllers).
  On a policy step robosuite's own `control()` runs unchanged (goal update and history buffers).

Copies are made where robosuite makes them, and with the same memory layout: the mass matrix
is indexed in two steps as robosuite does, because the layout of that copy decides which LAPACK
path the controller's inverse takes (an `np.ix_` copy changed the last bit within two steps).
"""

from __future__ import annotations

import mujoco
import numpy as np


class FastArm:
    """The fast loop's view of one robot (a SingleArm with an OSC controller); built after each
    reset, since robosuite makes new controllers at every reset."""

    def __init__(self, robot) -> None:
        # robosuite is imported here, not at module level: `agra_bench.envs.settings` imports
        # this module, and listing suites or parsing options must not pay robosuite's import.
        from robosuite.controllers.osc import OperationalSpaceController
        from robosuite.models.grippers.panda_gripper import PandaGripper
        from robosuite.utils import control_utils

        self.opspace_matrices = control_utils.opspace_matrices
        self.nullspace_torques = control_utils.nullspace_torques
        self.orientation_error = control_utils.orientation_error
        controller, sim = robot.controller, robot.sim
        self.robot, self.controller = robot, controller
        self.model, self.data = sim.model._model, sim.data._data
        self.site = sim.model.site_name2id(controller.eef_name)
        # index arrays select the same elements into the same layout as robosuite's lists
        self.qvel_index = np.asarray(controller.qvel_index, dtype=np.intp)
        self.qpos_index = np.asarray(controller.qpos_index, dtype=np.intp)
        nv = self.model.nv
        self.jacp = np.zeros((3, nv))
        self.jacr = np.zeros((3, nv))
        self.full_mass = np.ndarray(shape=(nv, nv), dtype=np.float64, order="C")
        self.arm_dim = controller.control_dim
        self.action_dim = robot.action_dim
        self.torque_low, self.torque_high = robot.torque_limits
        self.arm_actuators = np.asarray(robot._ref_joint_actuator_indexes, dtype=np.intp)
        # OSC with fixed gains and no goal interpolation (robosuite's OSC_POSE default, the one
        # every shipped task uses) runs inline; any other setting runs robosuite's own code.
        self.inline_osc = (
            type(controller).run_controller is OperationalSpaceController.run_controller
            and controller.impedance_mode == "fixed"
            and controller.interpolator_pos is None
            and controller.interpolator_ori is None
        )
        self.gripper = robot.gripper if robot.has_gripper else None
        if self.gripper is not None:
            self.gripper_actuators = np.asarray(
                [sim.model.actuator_name2id(a) for a in self.gripper.actuators], dtype=np.intp
            )
            ctrl_range = sim.model.actuator_ctrlrange[self.gripper_actuators]
            self.gripper_bias = 0.5 * (ctrl_range[:, 1] + ctrl_range[:, 0])
            self.gripper_weight = 0.5 * (ctrl_range[:, 1] - ctrl_range[:, 0])
        # PandaGripper.format_action moves its command by `[-1, 1] * speed * sign(action)` per
        # call; that step is the same at every substep of a control step, so it is computed once
        # per control step (same expression, same value) and only the clipped sum runs per substep.
        self.panda_fingers = type(self.gripper) is PandaGripper
        self.finger_step: np.ndarray | None = None

    def start_control_step(self, action: np.ndarray) -> None:
        """Per-control-step values of the substeps that follow the policy substep."""
        if self.gripper is not None and self.panda_fingers:
            fingers = action[self.arm_dim :]
            if len(fingers) != self.gripper.dof:
                raise AssertionError(f"gripper got {len(fingers)} values, expected {self.gripper.dof}")
            self.finger_step = np.array([-1.0, 1.0]) * self.gripper.speed * np.sign(fingers)

    def read_state(self) -> None:
        """`Controller.update()` without its mj_forward (call after mj_step1 or mj_forward)."""
        c, data = self.controller, self.data
        # robosuite's update() runs only when `new_update` is set. It is not on the first substep
        # after a reset (the controller's constructor already updated, before LIBERO set the init
        # state), so that substep's torques come from the pre-init-state pose: a robosuite 1.4
        # quirk that the fast loop keeps, or the first step would differ.
        if not c.new_update:
            return
        c.ee_pos = data.site_xpos[self.site].copy()
        c.ee_ori_mat = data.site_xmat[self.site].reshape(3, 3).copy()
        # robosuite fills jacp and jacr in two mj_jacSite calls; MuJoCo computes each output on
        # its own, so one call that fills both gives the same numbers.
        self.jacp.fill(0.0)
        self.jacr.fill(0.0)
        mujoco.mj_jacSite(self.model, data, self.jacp, self.jacr, self.site)
        c.ee_pos_vel = np.dot(self.jacp, data.qvel)
        c.ee_ori_vel = np.dot(self.jacr, data.qvel)
        c.joint_pos = data.qpos[self.qpos_index]
        c.joint_vel = data.qvel[self.qvel_index]
        c.J_pos = self.jacp[:, self.qvel_index]
        c.J_ori = self.jacr[:, self.qvel_index]
        c.J_full = np.concatenate([c.J_pos, c.J_ori])  # what np.vstack does for 2-D arrays
        mujoco.mj_fullM(self.model, data, self.full_mass)
        c.mass_matrix = self.full_mass[self.qvel_index, :][:, self.qvel_index]  # layout: see above
        c.new_update = False

    def control(self, action: np.ndarray) -> None:
        """`SingleArm.control(action, policy_step=False)` (a substep between policy steps)."""
        if len(action) != self.action_dim:
            raise AssertionError(f"robot got action of size {len(action)}, expected {self.action_dim}")
        torques = self.osc_torques() if self.inline_osc else self.controller.run_controller()
        self.robot.torques = np.clip(torques, self.torque_low, self.torque_high)
        ctrl = self.data.ctrl
        if self.gripper is not None:
            if self.panda_fingers:
                g = self.gripper
                g.current_action = np.clip(g.current_action + self.finger_step, -1.0, 1.0)
                fingers = g.current_action
            else:
                fingers = self.gripper.format_action(action[self.arm_dim :])
            ctrl[self.gripper_actuators] = self.gripper_bias + self.gripper_weight * fingers
        ctrl[self.arm_actuators] = self.robot.torques

    def osc_torques(self) -> np.ndarray:
        """`OperationalSpaceController.run_controller()` for fixed gains and no interpolators:
        the same numpy calls on the same arrays in the same order, minus the defensive copies
        and the `update()` call (read_state has done it)."""
        c = self.controller
        ori_error = self.orientation_error(np.array(c.goal_ori), c.ee_ori_mat)
        desired_force = np.multiply(c.goal_pos - c.ee_pos, c.kp[0:3]) + np.multiply(-c.ee_pos_vel, c.kd[0:3])
        desired_torque = np.multiply(ori_error, c.kp[3:6]) + np.multiply(-c.ee_ori_vel, c.kd[3:6])
        lambda_full, lambda_pos, lambda_ori, nullspace_matrix = self.opspace_matrices(
            c.mass_matrix, c.J_full, c.J_pos, c.J_ori
        )
        if c.uncoupling:
            wrench = np.concatenate([np.dot(lambda_pos, desired_force), np.dot(lambda_ori, desired_torque)])
        else:
            wrench = np.dot(lambda_full, np.concatenate([desired_force, desired_torque]))
        torques = np.dot(c.J_full.T, wrench) + self.data.qfrc_bias[self.qvel_index]
        torques += self.nullspace_torques(
            c.mass_matrix, nullspace_matrix, c.initial_joint, c.joint_pos, c.joint_vel
        )
        c.torques = torques
        c.new_update = True  # what robosuite's base run_controller() does last
        return torques
