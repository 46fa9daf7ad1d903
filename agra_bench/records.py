"""Episode records: the Parquet schema, and a store that survives being killed at any moment.

Adding an episode costs O(1): its row is appended as one JSON line to `episodes.journal.jsonl`
and fsynced. The journal is compacted into `episodes.parquet` (written to a temporary file,
fsynced, renamed over the old one, then the journal is removed) when the store closes and when
a store opens a run that still has one. So:
- a run killed with SIGKILL at any moment loses only the episodes in flight: every added row is
  on disk, and a half-written last line (killed mid-write) is ignored;
- a key is never written twice: a later row of a key replaces an earlier one only as a retry of
  an errored episode (higher `attempt`); a row found both in the table and in the journal (a
  kill between the rename and the journal's removal) counts once;
- readers see every finished episode at any time: `read_rows(run_dir)` merges table and journal
  (the report reads run folders this way, also while a run is going).
A lock file stops two processes from writing the same run.

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
        ("checkpoint_sha1", pa.string()),
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
        ("image_size", pa.int16()),
        ("render_quality", pa.string()),
        ("success", pa.bool_()),
        ("steps", pa.int32()),
        ("max_steps", pa.int32()),
        ("hit_step_cap", pa.bool_()),
        ("success_at_reset", pa.bool_()),
        ("goal_conditions", pa.int16()),
        ("goal_conditions_met", pa.int16()),
        ("policy_calls", pa.int32()),
        ("wall_s", pa.float64()),
        ("obs0_sha1", pa.string()),
        ("obs0_input_sha1", pa.string()),
        ("video", pa.string()),
        ("error", pa.string()),
        ("error_type", pa.string()),
        ("attempt", pa.int8()),
        ("policy_server", pa.string()),
        ("schema_version", pa.int16()),
    ]
)
#: Columns added after schema version 1, with the value old rows get (v2: error_type, attempt,
#: obs0_input_sha1; v3: the rest of the condition, see agra_bench.identity; v4: policy_server;
#: v5 adds no column: `openpi` and `libero` rows use their source's scene, report reads older
#: rows under the names of the old rule, agra_bench.protocol.LEGACY_NAMES; v6: goal_conditions
#: and goal_conditions_met, unknown in older rows).
ADDED_COLUMNS = {
    "error_type": None,
    "attempt": 1,
    "obs0_input_sha1": None,
    "checkpoint_sha1": None,
    "image_size": None,
    "render_quality": None,
    "policy_server": None,
    "goal_conditions": None,
    "goal_conditions_met": None,
}
ERROR_TYPES = ("policy", "connection", "server_lost", "timeout", "simulator", "perturbation", "worker_crash")
MAX_ATTEMPTS = 2
SORT_COLUMNS = ["suite", "task_id", "perturbation", "split", "episode"]
MANIFEST_FILE = "manifest.json"  # written by agra_bench/manifest.py, read by report and merge


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


def atomic_write_parquet(path: Path, table: pa.Table, **options: Any) -> None:
    """Write `table` as Parquet (pyarrow `write_table` options) atomically."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **options)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


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


JOURNAL = "episodes.journal.jsonl"
TABLE = "episodes.parquet"


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a journal; a torn last line (killed mid-write) is skipped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().split(b"\n"):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # only the last line can be torn: it was never acknowledged
    return rows


def merge_row(rows: dict[str, dict[str, Any]], row: dict[str, Any]) -> None:
    """Put `row` into `rows` (by key) unless the key already holds this or a later attempt."""
    row = upgrade_row(row)
    held = rows.get(row["episode_key"])
    if held is None or int(row["attempt"]) > int(held["attempt"]):
        rows[row["episode_key"]] = row


def read_rows(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every finished episode of a run folder, table and journal merged (key -> row);
    ValueError (one line) for a table that cannot be read or was written by a newer version."""
    run_dir = Path(run_dir)
    rows: dict[str, dict[str, Any]] = {}
    table_path = run_dir / TABLE
    if table_path.exists():
        try:
            table = pq.read_table(table_path)
        except Exception as exc:  # pyarrow raises several types for truncated or foreign files
            raise ValueError(
                f"unreadable Parquet ({type(exc).__name__}: {str(exc).splitlines()[0]})"
            ) from None
        if "schema_version" in table.column_names:
            check_schema_version(table.column("schema_version").to_pylist(), table_path)
        for row in table.to_pylist():
            merge_row(rows, row)
    journal = read_journal(run_dir / JOURNAL)
    check_schema_version([r.get("schema_version") for r in journal], run_dir / JOURNAL)
    for row in journal:
        merge_row(rows, row)
    return rows


class EpisodeStore:
    """The finished episodes of one run directory: O(1) fsynced appends, compacted on close."""

    FILE = TABLE

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / TABLE
        self.journal_path = self.run_dir / JOURNAL
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.run_dir / ".lock", "w")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(f"another agra-bench process is writing {self.run_dir}") from None
        try:
            self.rows = read_rows(self.run_dir)
        except ValueError:
            self._lock.close()
            raise
        self._done = {k for k, r in self.rows.items() if _finished(r)}
        self._journal = None
        if self.journal_path.exists():
            self.compact()

    def done_keys(self) -> set[str]:
        """Keys that need no more work: finished without error, or errored on every attempt."""
        return set(self._done)

    def retry_keys(self) -> set[str]:
        """Errored keys that get their one retry when the run is resumed."""
        return set(self.rows) - self.done_keys()

    def attempt_of(self, key: str) -> int:
        """The attempt number the next row of `key` carries."""
        return self.rows[key]["attempt"] + 1 if key in self.rows else 1

    def add(self, row: dict[str, Any]) -> None:
        """Append one finished episode (fsynced before returning); O(1) in the rows held."""
        row = {**row, "schema_version": SCHEMA_VERSION}
        if row.get("attempt") is None:
            row["attempt"] = self.attempt_of(row["episode_key"])
        for name, default in ADDED_COLUMNS.items():
            row.setdefault(name, default)  # rows from before a column existed
        missing = [f.name for f in EPISODE_SCHEMA if f.name not in row]
        if missing:
            raise ValueError(f"episode row lacks {missing}")
        if row["episode_key"] in self._done:
            return  # never duplicate a key; a retry replaces its errored row
        row = {name: row[name] for name in EPISODE_SCHEMA.names}
        if self._journal is None:
            self._journal = open(self.journal_path, "ab")  # noqa: SIM115 - closed in compact()
        self._journal.write(json.dumps(row, default=_json_value).encode() + b"\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self.rows[row["episode_key"]] = row
        if _finished(row):
            self._done.add(row["episode_key"])

    def compact(self) -> None:
        """Write every row into the Parquet table (atomically), then drop the journal."""
        if self._journal_open():
            self._journal.close()
            self._journal = None
        atomic_write_parquet(self.path, rows_to_table(list(self.rows.values())))
        self.journal_path.unlink(missing_ok=True)

    def _journal_open(self) -> bool:
        return self._journal is not None

    def close(self) -> None:
        try:
            if self._journal_open() or self.journal_path.exists():
                self.compact()
        finally:
            self._lock.close()


def _finished(row: dict[str, Any]) -> bool:
    return not row["error"] or int(row["attempt"]) >= MAX_ATTEMPTS


def _json_value(value: Any) -> Any:
    """numpy scalars in rows become plain JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in an episode row")
