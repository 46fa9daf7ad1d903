"""LIBERO tasks (all five suites) as gymnasium envs, reset to LIBERO's official init states."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from agra_bench.envs.base import SimTaskEnv, seeded_numpy_global
from agra_bench.envs.geometry import collision_geoms, geom_corners
from agra_bench.suites import libero_benchmark
from agra_bench.versions import check_libero_stack

ARTICULATED_PREDICATES = ("open", "close", "turnon", "turnoff")


class LiberoEnv(SimTaskEnv):
    """A LIBERO task; init state k is row k of the task's official `.pruned_init` table."""

    def __init__(self, suite: str = "libero_spatial", task_id: int = 0, **kwargs: Any) -> None:
        check_libero_stack()
        super().__init__(suite, task_id, **kwargs)
        self._init_states: np.ndarray | None = None

    def bddl_path(self) -> str:
        from libero.libero import get_libero_path

        task = libero_benchmark(self.task.suite).get_task(self.task.task_id)
        return os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)

    def init_states(self) -> np.ndarray:
        """The official init states, shape (50, state_dim)."""
        if self._init_states is None:
            bench = libero_benchmark(self.task.suite)
            self._init_states = np.asarray(bench.get_task_init_states(self.task.task_id))
        return self._init_states

    def _build(self) -> Any:
        from libero.libero.envs import OffScreenRenderEnv

        wrapper = OffScreenRenderEnv(
            bddl_file_name=self.bddl_path(), ignore_done=True, **self.camera_kwargs()
        )
        # LIBERO's wrapper forwards to a robosuite env; we talk to that env directly.
        self._libero_wrapper = wrapper
        return wrapper.env

    def scene_objects(self) -> dict[str, str]:
        env = self._sim_env
        return {name: obj.root_body for name, obj in {**env.objects_dict, **env.fixtures_dict}.items()}

    def goal_predicates(self) -> list[list[str]]:
        return [[str(x) for x in predicate] for predicate in self._sim_env.parsed_problem["goal_state"]]

    def goal_progress(self) -> tuple[int, int]:
        """Each predicate of the BDDL goal tested on its own, with the test LIBERO's success
        check applies to all of them together (`_eval_predicate`)."""
        goal = self._sim_env.parsed_problem["goal_state"]
        return sum(bool(self._sim_env._eval_predicate(predicate)) for predicate in goal), len(goal)

    def privileged_state(self) -> dict[str, Any]:
        state = super().privileged_state()
        state["articulations"] = self._articulations()
        state["region_sizes"] = self._region_sizes()
        return state

    def _region_sizes(self) -> dict[str, np.ndarray]:
        """World half-extents (x, y) of the goal's target regions: where in a region an object
        may go, so that two objects bound for one region can be set side by side."""
        env, data = self._sim_env, self.sim.data
        sizes = {}
        for predicate in self.goal_predicates():
            site = env.object_sites_dict.get(predicate[-1]) if len(predicate) == 3 else None
            if site is not None and site.size is not None:
                xmat = data.get_site_xmat(predicate[-1])
                sizes[predicate[-1]] = np.abs(xmat @ np.asarray(site.size, dtype=float))[:2]
        return sizes

    def _articulations(self) -> dict[str, list[dict[str, Any]]]:
        """The joints behind each articulated goal argument (a drawer's region, a stove, a
        microwave), and behind placement targets that move on joints (an object into a drawer):
        type, world axis and anchor, position, range and the ranges LIBERO's predicates test
        (`open`, `close`, `turnon`, `turnoff`), so that an oracle can drive the joint to where
        the predicate holds without a per-object table."""
        import mujoco

        env = self._sim_env
        model, data = self.sim.model._model, self.sim.data._data
        kinds = {int(mujoco.mjtJoint.mjJNT_SLIDE): "slide", int(mujoco.mjtJoint.mjJNT_HINGE): "hinge"}
        out: dict[str, list[dict[str, Any]]] = {}
        names = [
            p[1] for p in self.goal_predicates() if p[0].lower() in ARTICULATED_PREDICATES and len(p) == 2
        ]
        # A region that moves on a joint (a drawer) as a placement target: it may need opening.
        names += [p[2] for p in self.goal_predicates() if len(p) == 3 and getattr(
            env.object_sites_dict.get(p[2]), "joints", None)]  # fmt: skip
        for name in dict.fromkeys(names):
            site = env.object_sites_dict.get(name)
            owner = site.parent_name if site is not None else name
            joint_names = (site.joints if site is not None else env.get_object(name).joints) or []
            ranges = env.get_object(owner).object_properties.get("articulation", {})
            joints = []
            for joint in joint_names:
                jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
                if int(model.jnt_type[jid]) not in kinds:
                    continue
                body = int(model.jnt_bodyid[jid])
                if body not in self._geom_cache:
                    self._geom_cache[body] = collision_geoms(model, body)
                joints.append({
                    "joint": joint,
                    "type": kinds[int(model.jnt_type[jid])],
                    "qpos": float(data.qpos[model.jnt_qposadr[jid]]),
                    "range": model.jnt_range[jid].copy(),
                    "axis": data.xaxis[jid].copy(),
                    "anchor": data.xanchor[jid].copy(),
                    "points": geom_corners(model, data, self._geom_cache[body]),
                    **{key.removeprefix("default_"): list(value) for key, value in ranges.items()},
                })  # fmt: skip
            out[name] = joints
        return out

    def task_relevant_objects(self) -> set[str]:
        """Objects the task depends on, conservatively: LIBERO's objects of interest, every
        object named in a goal predicate, and every object whose noun occurs in the instruction.

        The last rule matters for spatial tasks: in "pick up the black bowl between the plate
        and the ramekin", the second black bowl and the ramekin are not in the goal, but
        recolouring them would change what the instruction refers to."""
        problem = self._sim_env.parsed_problem
        names = set(problem.get("obj_of_interest", []))
        for predicate in problem.get("goal_state", []):
            names.update(str(arg) for arg in predicate[1:])
        objects = self.scene_objects()
        # Goal predicates may name a region or site ("wooden_cabinet_1_top_region"): map it to
        # the object whose name prefixes it.
        relevant = {obj for obj in objects for name in names if name == obj or name.startswith(f"{obj}_")}
        words = set(re.findall(r"[a-z]+", self.task.instruction.lower()))
        for obj in objects:
            noun = re.sub(r"_\d+$", "", obj).split("_")[-1]
            if noun in words or f"{noun}s" in words or noun.rstrip("s") in words:
                relevant.add(obj)
        return relevant

    def _restore_init_state(self, init_state_id: int) -> dict[str, Any]:
        # A hard reset re-samples fixture placements (body_pos of static objects, which the
        # init state does not contain) from numpy's global generator; seeding it with the init
        # state id makes init state k the same scene whatever ran before in this process, and
        # the protocol's scene rule then puts the fixtures where its source loop has them.
        # LIBERO also appends its object-property samplers on every hard reset without ever
        # clearing them, so each reset draws more numbers before placing fixtures; clearing
        # the list makes every reset behave like the first one.
        self._sim_env.object_property_initializers.clear()
        with seeded_numpy_global(init_state_id):
            self._libero_wrapper.reset()
        self.scene_rule.place_fixtures(self.sim, self.task.suite, self.task.task_id, init_state_id)
        return self._libero_wrapper.set_init_state(self.init_states()[init_state_id])
