"""Fixture-pose tables: generated once from a reference loop, shipped as package data.

Replaying a harness's random draws at run time would need every earlier hard reset of the task
(episode 49 of openpi's loop is the 51st reset of its env: ~20 s on CPU), and it would tie an
episode to the ones before it. Instead `python -m agra_bench.scenes.generate` drives LIBERO's
own env the way the source loop does, once, and records the pose of every fixture after each
reset. An env then sets those poses after its own hard reset; episodes stay independent of
each other, of their order and of the worker that runs them, and `agra-bench verify-protocol`
checks the result against the source loop itself.

One Parquet file per (rule, suite): columns task_id, init_state_id, body, px, py, pz, qw, qx,
qy, qz (float64, exact); the file's metadata holds the provenance (loop, generator, versions).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agra_bench.errors import UsageError

TABLE_DIR = Path(__file__).parent / "data"
PROVENANCE_KEY = b"agra_bench.scene_table"
POSE_COLUMNS = ["px", "py", "pz", "qw", "qx", "qy", "qz"]
TABLE_SCHEMA = pa.schema(
    [("task_id", pa.int16()), ("init_state_id", pa.int16()), ("body", pa.string())]
    + [(name, pa.float64()) for name in POSE_COLUMNS]
)


def table_path(rule: str, suite: str, directory: Path = TABLE_DIR) -> Path:
    return directory / f"{rule}_{suite}.parquet"


def to_table(rows: list[dict], provenance: dict) -> pa.Table:
    table = pa.Table.from_pylist(rows, schema=TABLE_SCHEMA)
    return table.replace_schema_metadata({PROVENANCE_KEY: json.dumps(provenance, sort_keys=True).encode()})


def provenance(rule: str, suite: str, directory: Path = TABLE_DIR) -> dict:
    """How a table was made (its source loop, generator and package versions)."""
    path = table_path(rule, suite, directory)
    if not path.exists():
        return {"missing": str(path)}
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(PROVENANCE_KEY, b"{}"))


@cache
def _poses(rule: str, suite: str) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    path = table_path(rule, suite)
    if not path.exists():
        raise UsageError(
            f"no fixture table for protocol scene '{rule}' on {suite} ({path}); "
            f"valid: regenerate it with: python -m agra_bench.scenes.generate --rule {rule} --suite {suite}"
        )
    frame = pq.read_table(path).to_pandas()
    poses: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    values = frame[POSE_COLUMNS].to_numpy(np.float64)
    for (task_id, init_id, body), pose in zip(
        frame[["task_id", "init_state_id", "body"]].itertuples(index=False, name=None), values, strict=True
    ):
        poses.setdefault((int(task_id), int(init_id)), {})[body] = pose
    return poses


def fixture_poses(rule: str, suite: str, task_id: int, init_state_id: int) -> dict[str, np.ndarray]:
    """Fixture root body -> (x, y, z, qw, qx, qy, qz) of init state `init_state_id` under `rule`."""
    # A table is written only once every task is recorded (generate.py), and a scene without
    # fixtures (libero_object's) has no rows: absent means none.
    return _poses(rule, suite).get((task_id, init_state_id), {})
