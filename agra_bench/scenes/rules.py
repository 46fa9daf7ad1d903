"""Scene rules: how an env puts the fixtures of init state k where a protocol's source has them.

- `openpi`: the poses openpi's loop gives episode k of the task (tables.py, generated once by
  `python -m agra_bench.scenes.generate --rule openpi`).
- `init_state_seed`: whatever the hard reset samples with numpy's global generator seeded by the
  init-state id (the rule of runs before episode schema 5; still exact and deterministic, but
  no published loop places fixtures so).

Robosuite tasks have no fixtures: their init state k is the reset under numpy seed k whatever
the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agra_bench.errors import UsageError, unknown


@dataclass(frozen=True)
class SceneRule:
    name: str
    description: str
    table: str | None = None  # the fixture table (scenes/data/<table>_<suite>.parquet), if any

    def place_fixtures(self, sim, suite: str, task_id: int, init_state_id: int) -> None:
        """Set the fixtures' body poses in `sim`'s model (after the hard reset, before the init
        state is restored, so that restoring it computes everything from the right model)."""
        if self.table is None:
            return
        from agra_bench.scenes.tables import fixture_poses

        model = sim.model
        for body, pose in fixture_poses(self.table, suite, task_id, init_state_id).items():
            try:
                body_id = model.body_name2id(body)
            except ValueError as error:
                raise UsageError(
                    f"fixture '{body}' of the '{self.table}' table is not in {suite} task {task_id}'s "
                    f"scene; valid: regenerate the table (python -m agra_bench.scenes.generate)"
                ) from error
            model.body_pos[body_id] = pose[:3]
            model.body_quat[body_id] = pose[3:]


SCENE_RULES: dict[str, SceneRule] = {
    rule.name: rule
    for rule in (
        SceneRule("openpi", "fixtures where openpi's LIBERO loop has them in episode k", table="openpi"),
        SceneRule("init_state_seed", "fixtures from the hard reset under numpy seed = init-state id"),
    )
}


def get_scene_rule(name: str) -> SceneRule:
    if name not in SCENE_RULES:
        raise unknown("scene rule", name, SCENE_RULES)
    return SCENE_RULES[name]


def body_poses(sim, bodies) -> dict[str, np.ndarray]:
    """Body name -> (x, y, z, qw, qx, qy, qz) in `sim`'s model, float64: what the fixture tables
    record and what verify-protocol hands a source loop that cannot place fixtures itself."""
    model = sim.model
    poses = {}
    for body in bodies:
        index = model.body_name2id(body)
        poses[body] = np.concatenate([model.body_pos[index], model.body_quat[index]]).astype(np.float64)
    return poses
