"""Episode records: the Parquet schema, and a store that survives being killed at any moment.

`episodes.parquet` is the single source of truth. After every finished episode the whole
table is rewritten to a temporary file, fsynced and renamed over the old one, so a reader (or
a resumed run) always sees a complete file holding every episode finished so far: a run killed
with SIGKILL loses only the episodes in flight, and a key is never written twice. A lock file
stops two processes from writing the same run.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from agra_bench import SCHEMA_VERSION

EPISODE_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("episode_key", pa.string()),
        ("policy", pa.string()),
        ("checkpoint", pa.string()),
        ("suite", pa.string()),
        ("task_id", pa.int32()),
        ("task_name", pa.string()),
        ("instruction", pa.string()),
        ("episode", pa.int32()),
        ("init_state_id", pa.int32()),
        ("seed", pa.int64()),
        ("perturbation", pa.string()),
        ("perturb_params", pa.string()),
        ("severity", pa.int8()),
        ("split", pa.string()),
        ("protocol", pa.string()),
        ("success", pa.bool_()),
        ("steps", pa.int32()),
        ("max_steps", pa.int32()),
        ("hit_step_cap", pa.bool_()),
        ("success_at_reset", pa.bool_()),
        ("policy_calls", pa.int32()),
        ("wall_s", pa.float64()),
        ("obs0_sha1", pa.string()),
        ("video", pa.string()),
        ("error", pa.string()),
        ("schema_version", pa.int16()),
    ]
)
SORT_COLUMNS = ["suite", "task_id", "perturbation", "split", "episode"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    rows = sorted(rows, key=lambda r: tuple(r[c] for c in SORT_COLUMNS))
    return pa.Table.from_pylist(rows, schema=EPISODE_SCHEMA)


class EpisodeStore:
    """The finished episodes of one run directory, with atomic append."""

    FILE = "episodes.parquet"

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / self.FILE
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.run_dir / ".lock", "w")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(f"another agra-bench process is writing {self.run_dir}") from None
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for row in pq.read_table(self.path).to_pylist():
                self.rows[row["episode_key"]] = row

    def done_keys(self) -> set[str]:
        return set(self.rows)

    def add(self, row: dict[str, Any]) -> None:
        row = {**row, "schema_version": SCHEMA_VERSION}
        missing = [f.name for f in EPISODE_SCHEMA if f.name not in row]
        if missing:
            raise ValueError(f"episode row lacks {missing}")
        if row["episode_key"] in self.rows:
            return  # never duplicate a key
        self.rows[row["episode_key"]] = row
        sink = pa.BufferOutputStream()
        pq.write_table(rows_to_table(list(self.rows.values())), sink)
        atomic_write_bytes(self.path, sink.getvalue().to_pybytes())

    def close(self) -> None:
        self._lock.close()
