"""The episode store: schema, atomic rewrite, no duplicates, reload, single-writer lock."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from agra_bench import SCHEMA_VERSION
from agra_bench.records import EPISODE_SCHEMA, EpisodeStore


def make_row(key: str, episode: int, success: bool = True) -> dict:
    row = {field.name: None for field in EPISODE_SCHEMA}
    row.update(
        run_id="r",
        episode_key=key,
        policy="random",
        suite="libero_10",
        task_id=0,
        task_name="t",
        instruction="i",
        episode=episode,
        init_state_id=episode,
        seed=1,
        perturbation="none",
        perturb_params="{}",
        severity=3,
        split="id",
        protocol="openpi",
        success=success,
        steps=3,
        max_steps=5,
        hit_step_cap=False,
        success_at_reset=False,
        policy_calls=3,
        wall_s=0.1,
    )
    return row


def test_store_appends_atomically_and_reloads(tmp_path):
    store = EpisodeStore(tmp_path)
    store.add(make_row("b", 1))
    store.add(make_row("a", 0, success=False))
    store.add(make_row("a", 0))  # same key again: ignored, never duplicated
    store.close()
    table = pq.read_table(tmp_path / "episodes.parquet")
    assert table.schema.equals(EPISODE_SCHEMA)
    assert table.column("episode").to_pylist() == [0, 1]
    assert table.column("success").to_pylist() == [False, True]
    assert table.column("schema_version").to_pylist() == [SCHEMA_VERSION, SCHEMA_VERSION]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    again = EpisodeStore(tmp_path)
    assert again.done_keys() == {"a", "b"}
    again.close()


def test_store_rejects_incomplete_rows(tmp_path):
    store = EpisodeStore(tmp_path)
    row = make_row("a", 0)
    del row["success"]
    with pytest.raises(ValueError, match="success"):
        store.add(row)
    store.close()


def test_second_writer_is_refused(tmp_path):
    first = EpisodeStore(tmp_path)
    with pytest.raises(RuntimeError, match="another agra-bench process"):
        EpisodeStore(tmp_path)
    first.close()


def test_errored_key_is_retried_once_and_its_row_replaced(tmp_path):
    store = EpisodeStore(tmp_path)
    store.add(
        {**make_row("a", 0, success=False), "error": "PolicyServerError: gone", "error_type": "connection"}
    )
    store.add(make_row("b", 1))
    assert store.done_keys() == {"b"} and store.retry_keys() == {"a"}
    store.add({**make_row("a", 0, success=False), "error": "again", "error_type": "connection"})
    assert store.done_keys() == {"a", "b"} and store.retry_keys() == set()  # failed twice: stays failed
    store.add(make_row("a", 0))  # a third row for the key is ignored
    store.close()
    rows = {r["episode_key"]: r for r in pq.read_table(tmp_path / "episodes.parquet").to_pylist()}
    assert len(rows) == 2 and rows["a"]["attempt"] == 2 and rows["a"]["error"] == "again"
    assert rows["b"]["attempt"] == 1 and rows["b"]["error_type"] is None


def test_version_1_tables_are_read_and_newer_ones_refused(tmp_path):
    import pyarrow as pa

    from agra_bench.report.load import read_run_table

    old_schema = pa.schema([f for f in EPISODE_SCHEMA if f.name not in ("error_type", "attempt")])
    old = {**make_row("a", 0, success=False), "error": "boom", "schema_version": 1}
    pq.write_table(pa.Table.from_pylist([old], schema=old_schema), tmp_path / "episodes.parquet")
    frame = read_run_table(tmp_path / "episodes.parquet")
    assert frame.loc[0, "error_type"] == "unknown" and frame.loc[0, "attempt"] == 1
    store = EpisodeStore(tmp_path)
    assert store.retry_keys() == {"a"}  # an old errored row gets its retry too
    store.close()
    newer = pa.Table.from_pylist([{**make_row("a", 0), "schema_version": 99}], schema=EPISODE_SCHEMA)
    pq.write_table(newer, tmp_path / "episodes.parquet")
    with pytest.raises(
        ValueError, match=f"schema version 99; this agra-bench reads versions up to {SCHEMA_VERSION}"
    ):
        read_run_table(tmp_path / "episodes.parquet")
    with pytest.raises(ValueError, match="schema version 99"):
        EpisodeStore(tmp_path)


WRITER = """
import sys
from tests.test_records import make_row
from agra_bench.records import EpisodeStore
store = EpisodeStore(sys.argv[1])
i = 0
while True:  # adds rows until killed
    store.add(make_row(f"k{i}", i))
    i += 1
"""


def test_a_writer_killed_with_sigkill_leaves_every_acknowledged_row_and_no_duplicate(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from agra_bench.records import JOURNAL, read_rows
    from tests.conftest import REPO

    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(read_rows(tmp_path)) < 50:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    seen = read_rows(tmp_path)  # a reader during or after the run: journal merged
    assert len(seen) >= 50 and not (tmp_path / "episodes.parquet").exists()
    with open(tmp_path / JOURNAL, "ab") as journal:
        journal.write(b'{"episode_key": "torn", "run_id"')  # as if killed inside a write
    store = EpisodeStore(tmp_path)  # resume: compacts the journal into the table
    assert set(store.rows) == set(seen) and "torn" not in store.rows
    store.add(make_row("after", 10**6))
    store.close()
    table = pq.read_table(tmp_path / "episodes.parquet").to_pandas()
    assert table["episode_key"].is_unique and len(table) == len(seen) + 1
    assert not (tmp_path / JOURNAL).exists()


def test_resume_across_a_compaction_and_a_kill_between_rename_and_unlink(tmp_path):
    from agra_bench.records import JOURNAL, read_rows

    store = EpisodeStore(tmp_path)
    store.add(make_row("a", 0))
    store.close()  # compacted: table holds a, no journal
    store = EpisodeStore(tmp_path)
    store.add(make_row("b", 1))
    store._lock.close()  # killed: b only in the journal
    journal = (tmp_path / JOURNAL).read_bytes()
    store = EpisodeStore(tmp_path)
    assert store.done_keys() == {"a", "b"}
    store.close()
    (tmp_path / JOURNAL).write_bytes(journal)  # killed after the table's rename, before the unlink
    assert set(read_rows(tmp_path)) == {"a", "b"}
    store = EpisodeStore(tmp_path)
    store.close()
    assert sorted(pq.read_table(tmp_path / "episodes.parquet").column("episode_key").to_pylist()) == [
        "a",
        "b",
    ]


def test_resuming_a_run_written_by_a_newer_version_is_one_line(tmp_path):
    import pyarrow as pa

    from agra_bench.config import RunConfig
    from agra_bench.envs.settings import EnvSettings
    from tests.conftest import run_cli

    config = RunConfig(
        policy="random", suite="robosuite_lift", episodes=1, env=EnvSettings(max_steps=2), out=tmp_path
    )
    run_dir = tmp_path / config.run_id()
    run_dir.mkdir()
    newer = pa.Table.from_pylist([{**make_row("a", 0), "schema_version": 99}], schema=EPISODE_SCHEMA)
    pq.write_table(newer, run_dir / "episodes.parquet")
    result = run_cli("run", "--policy", "random", "--suite", "robosuite_lift", "--episodes", "1",
                     "--max-steps", "2", "--no-progress", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"schema version 99; this agra-bench reads versions up to {SCHEMA_VERSION}" in " ".join(
        result.stderr.split()
    )
