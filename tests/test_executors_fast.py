"""The executors' scheduling, crash retry and batching on a fake simulator (the env-factory
seam, `tests/helpers/fake_env.py`): real worker processes, real pipes, real policies, fake
physics, so each case takes about a second. The same behaviours on real scenes are covered by
test_local_executor.py, test_ray_executor.py and test_chaos.py."""

from __future__ import annotations

import pytest

from agra_bench.envs.settings import EnvSettings
from agra_bench.local_executor import execute_local
from agra_bench.plan import EpisodeKey, episode_seed
from agra_bench.worker import Worker, WorkerSettings
from perturbations.spec import parse_spec
from tests.helpers.batch_policies import RecordBatches

POLICY = "tests.helpers.batch_policies:RecordBatches"


def plan(tasks: int = 2, episodes: int = 4) -> list[EpisodeKey]:
    return [
        EpisodeKey("fake", t, e, e, episode_seed(0, t, e), "none", 0, "id")
        for t in range(tasks)
        for e in range(episodes)
    ]


def settings(tmp_path, policy: str = POLICY, max_steps: int = 12) -> WorkerSettings:
    return WorkerSettings(
        run_dir=str(tmp_path),
        policy=policy,
        policy_options={},
        env=EnvSettings(image_size=8, max_steps=max_steps),
        arms=tuple(parse_spec("none")),
        fps=20,
        env_factory="tests.helpers.fake_env:make_fake_env",
    )


def outcomes(rows) -> dict[str, tuple]:
    return {
        r["key"].id: (r["success"], r["steps"], r["obs0_sha1"], r["error"], r["goal_conditions_met"])
        for r in rows
    }


def test_every_key_once_and_the_same_rows_for_any_worker_count_and_grouping(tmp_path):
    keys = plan()
    runs = {
        (workers, groups): list(
            execute_local(keys, settings(tmp_path), workers=workers, video=0, groups=groups)
        )
        for workers, groups in ((1, 1), (2, 1), (3, 1), (4, 2))
    }
    reference = outcomes(runs[(1, 1)])
    assert sorted(reference) == sorted(k.id for k in keys)
    assert any(success for success, *_ in reference.values())  # rows differ between keys
    # The fake env's goal is its one success test: met once when the episode succeeds.
    assert all(met == int(success) for success, *_, met in reference.values())
    for rows in runs.values():
        assert len(rows) == len(keys) and outcomes(rows) == reference


def test_one_policy_call_per_step_for_all_running_envs(tmp_path):
    keys = plan(tasks=1, episodes=3)
    RecordBatches.calls.clear()
    rows = list(execute_local(keys, settings(tmp_path, max_steps=12), workers=3, video=0))
    assert sum(r["steps"] for r in rows) == sum(r["policy_calls"] for r in rows)
    # three envs in lockstep: as many calls as the longest episode, each with the envs still running
    assert len(RecordBatches.calls) == max(r["steps"] for r in rows)
    assert RecordBatches.calls[0] == [0, 1, 2]


def test_workers_keep_their_task_loaded(tmp_path, monkeypatch):
    log = tmp_path / "builds.txt"
    monkeypatch.setenv("AGRA_FAKE_BUILD_LOG", str(log))
    keys = plan(tasks=3, episodes=4)
    rows = list(execute_local(keys, settings(tmp_path), workers=2, video=0))
    assert len(rows) == 12
    builds = log.read_text().splitlines()
    # Both workers work through the tasks in order, each building a task's env once and
    # resetting it for the task's next episodes: at most one build per worker and task.
    assert len(builds) <= 2 * 3 < len(rows), builds


@pytest.mark.parametrize("once", [True, False])
def test_a_dead_worker_is_replaced_and_its_episode_retried_once(tmp_path, monkeypatch, once):
    monkeypatch.setenv("AGRA_FAKE_CRASH_INIT", "1")
    if once:
        (tmp_path / "markers").mkdir()
        monkeypatch.setenv("AGRA_FAKE_CRASH_ONCE_DIR", str(tmp_path / "markers"))
    keys = plan(tasks=1, episodes=4)
    rows = {r["key"].episode: r for r in execute_local(keys, settings(tmp_path), workers=2, video=0)}
    assert sorted(rows) == [0, 1, 2, 3]
    assert all(rows[e]["error"] is None for e in (0, 2, 3))
    if once:  # the retry on a fresh process succeeded
        assert rows[1]["error"] is None and rows[1]["steps"] > 0
    else:
        assert rows[1]["error"].startswith("WorkerCrashed") and rows[1]["error_type"] == "worker_crash"


def test_a_policy_a_whole_episode_worker_cannot_build_fails_each_episode_as_a_policy_error(tmp_path):
    """The Ray actor path (`Worker.run`) builds its own policy; a failure there is the policy's,
    recorded per episode, and the next episode tries again."""
    worker = Worker(settings(tmp_path, policy="tests.helpers.batch_policies:FailsToBuild"))
    try:
        rows = [worker.run(key, record_video=False) for key in plan(tasks=1, episodes=2)]
    finally:
        worker.close()
    assert [r["error_type"] for r in rows] == ["policy", "policy"]
    assert all(r["goal_conditions"] is None and r["goal_conditions_met"] is None for r in rows)
    assert all("no weights on this node" in r["error"] for r in rows)
