"""The local executor on real robosuite scenes, in this process (where it keeps the policy):
one batched policy call per control step, pipelined groups giving the same rows, a policy
failure that ends only its own episode, and a worker killed mid-episode."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import pytest

from agra_bench.config import RunConfig
from agra_bench.envs.settings import EnvSettings
from agra_bench.local_executor import execute_local
from agra_bench.plan import plan_episodes
from agra_bench.protocol import get_protocol
from agra_bench.worker import WorkerSettings
from tests.helpers.batch_policies import RecordBatches

pytestmark = pytest.mark.sim
POLICY = "tests.helpers.batch_policies:RecordBatches"


def setup(tmp_path, policy=POLICY, episodes=4, max_steps=6, options=None):
    config = RunConfig(
        policy=policy,
        suite="robosuite_lift",
        episodes=episodes,
        env=EnvSettings(max_steps=max_steps),
        out=tmp_path,
    )
    settings = WorkerSettings(
        run_dir=str(tmp_path),
        policy=policy,
        policy_options=options or {},
        env=EnvSettings(image_size=32, max_steps=max_steps),
        arms=tuple(config.arms),
        fps=get_protocol("openpi").control_freq_hz,
    )
    return plan_episodes(config), settings


def outcome(rows):
    return {r["key"].id: (r["error"], r["steps"], r["obs0_sha1"]) for r in rows}


def test_one_policy_call_per_step_for_all_envs_and_pipelined_groups_agree(tmp_path):
    keys, settings = setup(tmp_path)
    RecordBatches.calls.clear()
    synced = list(execute_local(keys, settings, workers=2, video=0, groups=1))
    calls = list(RecordBatches.calls)
    steps = sum(r["steps"] for r in synced)
    assert steps == 4 * 6 and all(r["error"] is None for r in synced)
    assert sorted(map(sorted, calls)) == [[0, 1]] * 12  # not 24 calls with B = 1

    RecordBatches.calls.clear()
    pipelined = list(execute_local(keys, settings, workers=2, video=0, groups=2))
    assert max(len(c) for c in RecordBatches.calls) == 1  # each group has one env
    assert outcome(pipelined) == outcome(synced)


def test_a_policy_failure_ends_only_its_episode(tmp_path):
    keys, settings = setup(
        tmp_path, policy="tests.helpers.batch_policies:FailOneSeed", max_steps=4, options=None
    )
    settings = WorkerSettings(**{**settings.__dict__, "policy_options": {"fail_seed": keys[1].seed}})
    rows = {r["key"].id: r for r in execute_local(keys, settings, workers=2, video=0)}
    assert sorted(rows) == sorted(k.id for k in keys)
    error = f"PolicyCallError: policy 'random' failed: RuntimeError: injected failure for seed {keys[1].seed}"
    assert rows[keys[1].id]["error"] == error and rows[keys[1].id]["error_type"] == "policy"
    others = [rows[k.id] for k in keys if k != keys[1]]
    assert all(r["error"] is None and r["steps"] == 4 for r in others)
    assert "injected failure" in next((tmp_path / "logs").iterdir()).read_text()


def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path):
    keys, settings = setup(tmp_path, max_steps=40)
    rows, killed = [], None
    for row in execute_local(keys, settings, workers=2, video=0):
        rows.append(row)
        if killed is None:  # both workers are mid-episode now (two keys are still queued)
            killed = mp.active_children()[0].pid
            os.kill(killed, signal.SIGKILL)
    assert killed is not None
    assert sorted(r["key"].id for r in rows) == sorted(k.id for k in keys)
    assert all(r["error"] is None and r["steps"] == 40 for r in rows)


def test_render_device_per_worker(monkeypatch):
    """Worker i renders on visible GPU i mod n under EGL; nothing is set without a GPU or over
    the user's own choice. (No GPU here: the GPUs are named through CUDA_VISIBLE_DEVICES.)"""
    from agra_bench.worker import select_render_device

    # A private copy of the environment: select_render_device writes os.environ itself, and
    # those writes must not reach the CLI runs of later tests.
    monkeypatch.setattr(os, "environ", dict(os.environ))
    monkeypatch.setenv("MUJOCO_GL", "egl")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.delenv("MUJOCO_EGL_DEVICE_ID", raising=False)
    assert select_render_device(3) == "1"
    monkeypatch.delenv("MUJOCO_EGL_DEVICE_ID")
    assert select_render_device(4) == "0"
    monkeypatch.setenv("MUJOCO_EGL_DEVICE_ID", "1")
    assert select_render_device(4) == "1"  # the user's setting wins
    monkeypatch.delenv("MUJOCO_EGL_DEVICE_ID")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert select_render_device(0) is None  # no GPU: Mesa's CPU EGL, nothing to choose
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert select_render_device(0) is None
