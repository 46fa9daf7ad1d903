"""A fake simulator behind the env-factory seam (`WorkerSettings.env_factory`), so executor
tests (scheduling, crash retry, batching) run in milliseconds per episode instead of seconds.

It has what the episode driver uses of `SimTaskEnv`: `reset`/`step` with the real observation
keys, `steps`, `goal_progress`, `set_render_keys`, `privileged_state`, the perturbation
attributes and `close`.
Its outcome is a function of the episode seed and the actions: an episode succeeds at step
3 + seed % 5 if the gripper action (index 6) of that step is below 0.9, so a policy's actions
matter and rows are deterministic per key. Environment variables make it misbehave:
- AGRA_FAKE_CRASH_INIT=k: the process dies (os._exit) at the reset of init state k;
- AGRA_FAKE_CRASH_ONCE_DIR=D: ... only the first time per seed (a marker file in D);
- AGRA_FAKE_BUILD_LOG=F: every env construction appends a line "suite task" to F.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


class FakeTaskEnv:
    def __init__(self, suite: str, task_id: int, image_size: int = 8, max_steps: int = 20, **_: Any) -> None:
        self.suite, self.task_id, self.image_size, self.max_steps = suite, task_id, image_size, max_steps
        self.perturbation, self.perturbation_name = None, None
        self.steps, self.seed = 0, 0
        if os.environ.get("AGRA_FAKE_BUILD_LOG"):
            with open(os.environ["AGRA_FAKE_BUILD_LOG"], "a") as log:
                log.write(f"{suite} {task_id}\n")

    def _obs(self) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.steps, self.task_id])
        image = rng.integers(0, 256, (self.image_size, self.image_size, 3), dtype=np.uint8)
        return {
            "agentview_rgb": image,
            "wrist_rgb": image[::-1].copy(),
            "proprio": rng.standard_normal(8).astype(np.float32),
            "instruction": f"fake task {self.task_id}",
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        init_state = (options or {}).get("init_state_id", 0)
        if str(init_state) == os.environ.get("AGRA_FAKE_CRASH_INIT"):
            once = os.environ.get("AGRA_FAKE_CRASH_ONCE_DIR")
            marker = Path(once) / f"crashed-{seed}" if once else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.touch()
                os._exit(3)  # like a simulator segfault: no exception, no row
        self.seed, self.steps, self.succeeded = int(seed or 0), 0, False
        return self._obs(), {"success": False, "perturb_params": {"fake": self.seed % 7}}

    def step(self, action):
        self.steps += 1
        success = self.steps == 3 + self.seed % 5 and float(np.asarray(action)[6]) < 0.9
        truncated = not success and self.steps >= self.max_steps
        self.succeeded = success
        return self._obs(), float(success), success, truncated, {"success": success}

    def set_arm(self, arm) -> None:
        self.perturbation, self.perturbation_name = (None, "none") if arm is None else (arm.build(), arm.name)

    def set_render_keys(self, keys) -> None:
        pass

    def privileged_state(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def goal_progress(self) -> tuple[int, int]:
        return int(self.succeeded), 1

    def close(self) -> None:
        pass


def make_fake_env(suite: str, task_id: int, **options: Any) -> FakeTaskEnv:
    return FakeTaskEnv(suite, task_id, **options)
