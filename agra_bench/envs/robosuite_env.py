"""robosuite tasks (Lift, Stack, PickPlaceCan, NutAssemblySquare, Door) in the same interface.

robosuite has no official init states; this protocol defines init state k as the state that
`reset()` produces with numpy's global generator seeded with k (robosuite's placement samplers
draw from it). The global generator is saved and restored around the reset.
"""

from __future__ import annotations

from typing import Any

from agra_bench.envs.base import SimTaskEnv, seeded_numpy_global
from agra_bench.suites import ROBOSUITE_TASKS
from agra_bench.versions import check_robosuite_stack, prepare_robosuite


class RobosuiteEnv(SimTaskEnv):
    def __init__(self, suite: str = "robosuite_lift", task_id: int = 0, **kwargs: Any) -> None:
        check_robosuite_stack()
        super().__init__(suite, task_id, **kwargs)
        self.spec_task = ROBOSUITE_TASKS[suite]

    def _build(self) -> Any:
        prepare_robosuite()
        import robosuite

        return robosuite.make(
            self.spec_task.env_name,
            robots="Panda",
            controller_configs=robosuite.load_controller_config(default_controller="OSC_POSE"),
            has_renderer=False,
            has_offscreen_renderer=True,
            use_camera_obs=True,
            use_object_obs=True,
            control_freq=self.protocol.control_freq_hz,
            horizon=self.protocol.settle_steps + self.max_steps + 1,
            ignore_done=True,
            hard_reset=True,
            **self.camera_kwargs(),
        )

    def scene_objects(self) -> dict[str, str]:
        """robosuite's task objects (all of them task-relevant: these tasks have no distractors)."""
        return {obj.name: obj.root_body for obj in self._sim_env.model.mujoco_objects}

    def goal_predicates(self) -> list[list[str]]:
        return [list(predicate) for predicate in self.spec_task.goal]

    def _restore_init_state(self, init_state_id: int) -> dict[str, Any]:
        with seeded_numpy_global(init_state_id):
            return self._sim_env.reset()
