"""What a simulated task's scene holds, as policies and perturbations may see it.

`SimTaskEnv` (base.py) builds and steps the simulator; this mixin answers questions about the
scene it built: the privileged ground truth of the scripted oracle, how much of the goal holds,
and which objects perturbations may touch. Families see the scene only through these methods
and `sim` (MuJoCo model and data), never through the backend env, so a new backend that
implements them gets every family. The methods read the env's `sim`, `_sim_env` (the robosuite
env), `_geom_cache` and `_check_success`, which `SimTaskEnv` provides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agra_bench.envs.geometry import collision_geoms, geom_corners


class SceneView:
    """Scene queries of `SimTaskEnv`; backends override the ones their simulator knows more of."""

    sim: Any
    _sim_env: Any
    _geom_cache: dict[int, list[int]]

    def _check_success(self) -> bool:
        raise NotImplementedError

    def privileged_state(self) -> dict[str, Any]:
        """Simulator ground truth for privileged policies (the scripted oracle): world position
        and orientation of the end effector, world positions of every scene object and site,
        the corners of each object's collision geoms (`object_points`), the fingers' closing
        axis, the gripper opening, the robot's base and arm joints (with their ranges) and the
        goal predicates. Passed only to policies that ask for
        the `privileged` key."""
        import mujoco

        model, data = self.sim.model._model, self.sim.data._data
        objects, object_points = {}, {}
        for name, body_name in self.scene_objects().items():
            body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body_name)
            objects[name] = data.xpos[body].copy()
            if body not in self._geom_cache:
                self._geom_cache[body] = collision_geoms(model, body)
            object_points[name] = geom_corners(model, data, self._geom_cache[body])
        sites = {
            mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_SITE, i): data.site_xpos[i].copy()
            for i in range(model.nsite)
        }
        robot = self._sim_env.robots[0]
        left, right = (
            data.xpos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"gripper0_{side}finger")]
            for side in ("left", "right")
        )
        return {
            "eef_pos": data.site_xpos[int(robot.eef_site_id)].copy(),
            "eef_xmat": data.site_xmat[int(robot.eef_site_id)].reshape(3, 3).copy(),
            "robot_base": np.asarray(robot.base_pos, dtype=float).copy(),
            "arm_qpos": data.qpos[robot._ref_joint_pos_indexes].copy(),
            "arm_qpos_range": model.jnt_range[robot._ref_joint_indexes].copy(),
            "gripper_axis": (left - right) / max(float(np.linalg.norm(left - right)), 1e-9),
            "object_points": object_points,
            "gripper_qpos": data.qpos[robot._ref_gripper_joint_pos_indexes].copy(),
            "objects": objects,
            "sites": sites,
            "goal": self.goal_predicates(),
        }

    def goal_predicates(self) -> list[list[str]]:
        return []

    def goal_progress(self) -> tuple[int, int]:
        """(goal conditions that hold now, goal conditions): how far a failed episode got. A
        long-horizon task's goal is a conjunction (libero_10's "both objects in the basket"),
        and an episode that places one object of two is not a policy that never grasps. This
        default counts the task's success test as one condition; backends that can test each
        condition of the goal on its own (LIBERO's BDDL goal) count them one by one."""
        return int(self._check_success()), 1

    # --- what perturbations may touch ------------------------------------------------------
    def fixture_names(self) -> set[str]:
        """Objects of `scene_objects()` that are fixed to the scene (tables, cabinets, stoves)."""
        return set(getattr(self._sim_env, "fixtures_dict", {}))

    def object_bottom_offset(self, name: str) -> float:
        """Height of object `name`'s bottom below its root body's origin (m, negative down)."""
        return float(self._sim_env.objects_dict[name].bottom_offset[2])

    def arm_joint_indexes(self) -> tuple[np.ndarray, np.ndarray]:
        """The robot arm's joint indexes into qpos and qvel (gripper excluded)."""
        robot = self._sim_env.robots[0]
        return np.asarray(robot._ref_joint_pos_indexes), np.asarray(robot._ref_joint_vel_indexes)

    def task_relevant_objects(self) -> set[str]:
        """Names of the objects and fixtures the task's goal refers to (never perturbed)."""
        return set(self.scene_objects())

    def scene_objects(self) -> dict[str, str]:
        """Object name -> root body name, for every object and fixture of the task."""
        return {}

    def irrelevant_objects(self) -> list[str]:
        relevant = self.task_relevant_objects()
        return sorted(name for name in self.scene_objects() if name not in relevant)
