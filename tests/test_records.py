"""The episode store: schema, atomic rewrite, no duplicates, reload, single-writer lock."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

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
        protocol="libero",
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
    assert table.column("schema_version").to_pylist() == [1, 1]
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
