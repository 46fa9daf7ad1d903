"""LIBERO tasks (all five suites) as gymnasium envs, reset to LIBERO's official init states."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from agra_bench.envs.base import SimTaskEnv, seeded_numpy_global
from agra_bench.suites import libero_benchmark
from agra_bench.versions import check_libero_stack


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

    def _restore_init_state(self, init_state_id: int) -> dict[str, Any]:
        # A hard reset re-samples fixture placements (body_pos of static objects, which the
        # init state does not contain) from numpy's global generator; seeding it with the init
        # state id makes init state k the same scene whatever ran before in this process.
        # LIBERO also appends its object-property samplers on every hard reset without ever
        # clearing them, so each reset draws more numbers before placing fixtures; clearing
        # the list makes every reset behave like the first one.
        self._sim_env.object_property_initializers.clear()
        with seeded_numpy_global(init_state_id):
            self._libero_wrapper.reset()
        return self._libero_wrapper.set_init_state(self.init_states()[init_state_id])
