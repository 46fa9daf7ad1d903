"""Episode records: the Parquet schema, and a store that survives being killed at any moment.

`episodes.parquet` is the single source of truth. After every finished episode the whole
table is rewritten to a temporary file, fsynced and renamed over the old one, so a reader (or
a resumed run) always sees a complete file holding every episode finished so far: a run killed
with SIGKILL loses only the episodes in flight, and a key is never written twice. A lock file
stops two processes from writing the same run.

Errored episodes: a row with an `error` (its `error_type` says whose: policy, connection,
simulator, perturbation, worker_crash) is retried once when the run is resumed; the retry's row
(attempt 2) replaces it, and a key that failed twice stays failed. Tables of schema version 1
(without `error_type` and `attempt`) are read with those columns filled in.
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
        ("error_type", pa.string()),
        ("attempt", pa.int8()),
        ("schema_version", pa.int16()),
    ]
)
#: Columns added after schema version 1, with the value old rows get.
ADDED_COLUMNS = {"error_type": None, "attempt": 1}
ERROR_TYPES = ("policy", "connection", "timeout", "simulator", "perturbation", "worker_crash")
MAX_ATTEMPTS = 2
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


def upgrade_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of any schema version <= ours with every current column present."""
    upgraded = {**ADDED_COLUMNS, **row}
    if upgraded.get("error") and not upgraded.get("error_type"):
        upgraded["error_type"] = "unknown"
    return upgraded


def check_schema_version(versions, source: Path | str) -> None:
    """ValueError (one line) for a table written by a newer agra-bench than this one."""
    newer = sorted({int(v) for v in versions if v is not None and int(v) > SCHEMA_VERSION})
    if newer:
        raise ValueError(
            f"{source} has episode schema version {newer[-1]}; this agra-bench reads versions "
            f"up to {SCHEMA_VERSION}: upgrade agra-bench (pip install -U agra-bench)"
        )


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
            table = pq.read_table(self.path)
            check_schema_version(table.column("schema_version").to_pylist(), self.path)
            for row in table.to_pylist():
                self.rows[row["episode_key"]] = upgrade_row(row)

    def done_keys(self) -> set[str]:
        """Keys that need no more work: finished without error, or errored on every attempt."""
        return {k for k, r in self.rows.items() if not r["error"] or r["attempt"] >= MAX_ATTEMPTS}

    def retry_keys(self) -> set[str]:
        """Errored keys that get their one retry when the run is resumed."""
        return set(self.rows) - self.done_keys()

    def attempt_of(self, key: str) -> int:
        """The attempt number the next row of `key` carries."""
        return self.rows[key]["attempt"] + 1 if key in self.rows else 1

    def add(self, row: dict[str, Any]) -> None:
        row = {**row, "schema_version": SCHEMA_VERSION}
        if row.get("attempt") is None:
            row["attempt"] = self.attempt_of(row["episode_key"])
        row.setdefault("error_type", None)
        missing = [f.name for f in EPISODE_SCHEMA if f.name not in row]
        if missing:
            raise ValueError(f"episode row lacks {missing}")
        if row["episode_key"] in self.done_keys():
            return  # never duplicate a key; a retry replaces its errored row
        self.rows[row["episode_key"]] = row
        sink = pa.BufferOutputStream()
        pq.write_table(rows_to_table(list(self.rows.values())), sink)
        atomic_write_bytes(self.path, sink.getvalue().to_pybytes())

    def close(self) -> None:
        self._lock.close()
