"""`--executor ray` on a real local Ray instance (started by the run itself with 2 CPUs): the
same rows as the local executor for the same keys, resume, and per-episode errors."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from tests.conftest import run_episodes

pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
# Ray tests share one pytest-xdist worker (scripts/test.sh): one Ray instance at a time.
pytestmark = [pytest.mark.sim, pytest.mark.xdist_group("ray")]

RUN = "--policy noop --suite robosuite_lift --max-steps 4 --image-size 32 --perturb none,lighting --workers 2"
SAME = [
    "success",
    "steps",
    "hit_step_cap",
    "success_at_reset",
    "policy_calls",
    "obs0_sha1",
    "perturb_params",
    "init_state_id",
    "seed",
    "error",
]


@pytest.mark.slow
def test_ray_rows_equal_local_rows(tmp_path):
    local = run_episodes(tmp_path / "local", f"{RUN} --episodes 3").set_index("episode_key")
    ray_rows = run_episodes(tmp_path / "ray", f"{RUN} --episodes 3 --executor ray").set_index("episode_key")
    assert sorted(ray_rows.index) == sorted(local.index)
    pd.testing.assert_frame_equal(ray_rows.loc[local.index, SAME], local[SAME], check_dtype=False)
    # Interrupted Ray runs (SIGKILL, then resume) are tested in test_chaos.py.


def test_ray_records_a_failing_episode_and_goes_on(tmp_path):
    df = run_episodes(
        tmp_path,
        "--policy tests.helpers.faulty_policy:FailSecondEpisode --suite robosuite_lift"
        " --episodes 3 --max-steps 3 --image-size 32 --workers 1 --executor ray",
    )
    assert len(df) == 3
    errors = df.set_index("episode")["error"]
    assert errors[1].startswith("PolicyCallError: policy 'fail_second_episode' failed: RuntimeError")
    assert errors[[0, 2]].isna().all()


def test_an_episode_cut_off_by_its_worker_stopping_runs_again_on_another_actor(tmp_path):
    """A lost node's workers get a SIGTERM, which Ray turns into SystemExit. Where it lands
    inside a C call (numba's dispatcher in robosuite's controller), the episode fails with a
    SystemError caused by the SystemExit; `Worker.run` re-raises it (not the episode's failure)
    and Ray reports a task error, not the actor's death. The two-node chaos test met this once
    in 2026-12-07's suite: the driver did not expect a task error and the run died with a
    traceback. Now the actor goes, and the episode runs again: every key once, no error."""
    marker = tmp_path / "stopped-once"
    df = run_episodes(
        tmp_path / "out",
        "--policy tests.helpers.faulty_policy:StoppedInFirstEpisode --suite robosuite_lift"
        " --episodes 3 --max-steps 3 --image-size 32 --workers 1 --executor ray",
        env={"AGRA_TEST_STOP_MARKER": str(marker)},
    )
    assert marker.exists()  # the first try was cut off
    assert sorted(df["episode"]) == [0, 1, 2]
    assert df["error"].isna().all(), df["error"].tolist()


def test_without_address_a_run_starts_its_own_instance_beside_a_running_cluster(tmp_path):
    """Another Ray cluster runs on this machine, and RAY_ADDRESS names it (as inside a Ray job):
    `--executor ray` without `--address` still starts its own local instance with `--workers`
    CPUs, as documented. Before, `ray.init` joined the running cluster, then refused the CPU
    count (`ValueError: When connecting to an existing cluster, num_cpus ... must not be
    provided`): a traceback, and in the suite a flaky test whenever two Ray tests overlapped."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        df = run_episodes(
            tmp_path,
            "--policy noop --suite robosuite_lift --episodes 2 --max-steps 3 --image-size 32"
            " --workers 1 --executor ray",
            env={"RAY_ADDRESS": cluster.address},
        )
    finally:
        cluster.shutdown()
    assert len(df) == 2 and df["error"].isna().all()


LISTENERS_OF_A_LOCAL_RAY = """
import json, os
from pathlib import Path
from agra_bench.ray_executor import _start_ray

def tree(root):
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    pids, grew = {root}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in pids} - pids
        pids |= new
        grew = bool(new)
    return pids

def listening(pids):
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                found.append(cols[1].split(":")[0])
    return found

ray = _start_ray(None, 1)
print(json.dumps({
    "gcs": ray.get_runtime_context().gcs_address,
    "nodes": [n["NodeManagerAddress"] for n in ray.nodes()],
    "listening": listening(tree(os.getpid())),
}))
ray.shutdown()
"""
# 127.0.0.1, ::ffff:127.0.0.1 and ::1 as /proc/net/tcp{,6} write them
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def listeners_of_a_local_ray() -> dict:
    """Start a local Ray instance the executor's way, without the suite's environment switch."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", LISTENERS_OF_A_LOCAL_RAY], capture_output=True, text=True, env=env, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["listening"], "no listening socket found: the check would pass vacuously"
    return found


def test_a_local_ray_instance_listens_on_loopback_only():
    """The executor's own default, without the test suite's environment: the node, its GCS and
    every listening socket of the Ray processes are on 127.0.0.1."""
    found = listeners_of_a_local_ray()
    assert found["gcs"].startswith("127.0.0.1:")
    assert found["nodes"] and set(found["nodes"]) == {"127.0.0.1"}
    assert set(found["listening"]) <= LOOPBACK_HEX, found["listening"]


@pytest.mark.slow
def test_a_two_node_run_that_loses_a_node_finishes_every_key_once(tmp_path):
    """A real two-node Ray cluster on loopback (head and a second node, 1 CPU each, separate
    raylets): the run's two actors sit one on each node. After 3 rows, the second node is
    killed without grace (SIGKILL of its raylet and workers). Its episode in flight goes back
    to the queue and the surviving node's actor runs it: every key once, no error. Before the
    fix, the replacement actor could not be placed and the run waited on it forever."""
    import subprocess
    import sys
    import time

    from ray.cluster_utils import Cluster

    from agra_bench.records import read_rows
    from tests.conftest import REPO

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    proc = None
    try:
        second = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        assert cluster.address.startswith("127.0.0.1:")
        out = tmp_path / "out"
        args = "--policy scripted --suite robosuite_lift --episodes 8 --max-steps 40 --image-size 32"
        args += f" --executor ray --workers 2 --no-progress --out {out} --address {cluster.address}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "agra_bench.cli", "run", *args.split()],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=(tmp_path / "stdout").open("w"),
            stderr=(tmp_path / "stderr").open("w"),
        )

        def rows() -> dict:
            runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
            return read_rows(runs[0]) if runs else {}

        deadline = time.monotonic() + 300
        while len(rows()) < 3:
            assert proc.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.3)
        cluster.remove_node(second, allow_graceful=False)
        proc.wait(timeout=300)
        stdout, stderr = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
        assert proc.returncode == 0, stderr[-2000:]
        finished = rows()
        assert len(finished) == 8 and "errors 0" in stdout, stdout
        assert all(row["error"] is None for row in finished.values()), [r["error"] for r in finished.values()]
        assert sorted(r["episode"] for r in finished.values()) == list(range(8))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        cluster.shutdown()


@pytest.mark.slow
def test_a_two_node_run_whose_driver_is_killed_resumes_every_key_once(tmp_path):
    """The same two-node cluster; this time the driver (`agra-bench run`) is SIGKILLed after 2
    rows. Its actors die with it (they belong to the driver's job); the rerun of the command
    against the same cluster resumes: the journaled rows stay, the rest run, every key once."""
    import signal
    import subprocess
    import sys
    import time

    from ray.cluster_utils import Cluster

    from agra_bench.records import read_rows
    from tests.conftest import REPO

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    proc = None
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        out = tmp_path / "out"
        args = "--policy scripted --suite robosuite_lift --episodes 6 --max-steps 40 --image-size 32"
        args += f" --executor ray --workers 2 --no-progress --out {out} --address {cluster.address}"
        command = [sys.executable, "-m", "agra_bench.cli", "run", *args.split()]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def rows() -> dict:
            runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
            return read_rows(runs[0]) if runs else {}

        deadline = time.monotonic() + 300
        while len(rows()) < 2:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        before = rows()
        assert 2 <= len(before) < 6
        rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert f"{6 - len(before)} episodes run, {len(before)} already done" in rerun.stdout
        finished = rows()
        assert sorted(r["episode"] for r in finished.values()) == list(range(6))
        assert all(row["error"] is None for row in finished.values())
        assert all(finished[key] == row for key, row in before.items())  # journaled rows kept as they were
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        cluster.shutdown()


def test_an_episode_cut_off_by_the_workers_shutdown_is_not_an_episode_error():
    """Ray raises SystemExit in a lost node's workers; robosuite turns an exception inside a
    camera render into a ValueError. Such an episode must not become a 'simulator' error row."""
    from agra_bench.worker import interrupted_by_shutdown

    try:
        try:
            raise SystemExit(1)
        except BaseException:  # what robosuite's sensor check does with any exception
            raise ValueError("Current sensor for observable agentview_image is invalid.") from None
    except ValueError as exc:
        assert interrupted_by_shutdown(exc)  # the SystemExit stays in __context__
    assert not interrupted_by_shutdown(ValueError("a real simulator failure"))
