"""Serving in openpi's protocol, with real parts: `agra-bench serve` in a subprocess, the real
`openpi-client` from PyPI in its own environment (.venv-openpi, numpy<2, made by the install
script), real websocket connections and real LIBERO episodes driven through `openpi://`."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import msgpack
import numpy as np
import pandas as pd
import pytest

from agra_bench.errors import UsageError
from agra_bench.records import read_rows
from agra_bench.serving.codec import ProtocolError, packb, unpackb
from agra_bench.serving.openpi_obs import resize_with_pad
from tests.conftest import CLI, REPO, run_cli

OPENPI_PYTHON = REPO / ".venv-openpi" / "bin" / "python"
IMAGE_POLICY = "tests.helpers.image_policy:ImageMeanPolicy"


class Server:
    """`agra-bench serve` in a subprocess on a free port (or a given one)."""

    def __init__(self, policy: str = IMAGE_POLICY, port: int = 0, env: dict | None = None, *extra: str):
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        self.process = subprocess.Popen(
            [*CLI, "serve", "--policy", policy, "--port", str(port), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            cwd=REPO,
        )
        line = self.process.stdout.readline()
        assert "serving" in line, line + self.process.stderr.read()
        self.port = int(line.split("ws://127.0.0.1:")[1].split()[0])

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def server():
    servers = []

    def start(*args, **kwargs) -> Server:
        servers.append(Server(*args, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def test_codec_round_trips_numpy_and_refuses_what_needs_pickle():
    value = {
        "image": np.arange(24, dtype=np.uint8).reshape(2, 4, 3),
        "state": np.linspace(0, 1, 8),
        "scalar": np.float32(2.5),
        "prompt": "pick",
        "nested": [np.int64(3), {"x": np.zeros((0, 7), np.float32)}],
    }
    back = unpackb(packb(value))
    assert back["image"].dtype == np.uint8 and np.array_equal(back["image"], value["image"])
    assert np.array_equal(back["state"], value["state"]) and back["prompt"] == "pick"
    assert back["scalar"] == np.float32(2.5) and back["scalar"].dtype == np.float32
    assert back["nested"][1]["x"].shape == (0, 7)
    with pytest.raises(ProtocolError, match="refused"):
        packb({"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ProtocolError, match="refused"):
        packb({"x": np.ones(3, np.complex64)})
    forged = msgpack.packb({b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "|O", b"shape": [1]})
    with pytest.raises(ProtocolError, match="refused"):
        unpackb(forged)
    short = msgpack.packb({b"__ndarray__": True, b"data": b"\0" * 7, b"dtype": "<f4", b"shape": [2]})
    with pytest.raises(ProtocolError, match="cannot hold"):
        unpackb(short)
    for garbage in (b"\xc1\xff\x00garbage", pickle.dumps({"a": 1}), "text"):
        with pytest.raises(ProtocolError):
            unpackb(garbage)


def test_resize_with_pad_matches_openpi_rules():
    wide = np.full((100, 200, 3), 255, np.uint8)
    out = resize_with_pad(wide, 224)
    assert out.shape == (224, 224, 3)
    assert out[:50].max() == 0 and out[-50:].max() == 0 and out[112].min() == 255  # zero bands top/bottom
    same = np.zeros((224, 224, 3), np.uint8)
    assert resize_with_pad(same, 224) is same


@pytest.mark.skipif(not OPENPI_PYTHON.exists(), reason="run ./scripts/install.sh: it makes .venv-openpi")
def test_real_openpi_client_against_agra_bench_serve(server):
    served = server()
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/healthz", timeout=10) as response:
        assert response.status == 200 and response.read().strip() == b"OK"
    result = subprocess.run(
        [str(OPENPI_PYTHON), str(REPO / "tests/helpers/openpi_probe.py"), str(served.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["numpy"].startswith("1.")  # really openpi's environment, not ours
    meta = probe["metadata"]
    assert meta["server"] == "agra-bench" and meta["policy"] == IMAGE_POLICY
    assert meta["chunk_length"] == 5 and meta["episode_reset_key"] == "agra_bench/reset_seed"
    assert "observation/image" in meta["observation_keys"]
    assert probe["actions_shape"] == [5, 7] and probe["actions_dtype"] == "float32" and probe["finite"]
    assert "infer_ms" in probe["timing_keys"]


def _run_table(out: Path) -> pd.DataFrame:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return pd.read_parquet(run_dir / "episodes.parquet").sort_values("episode").reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # it starts Ray: with the other Ray tests, one instance at a time
def test_openpi_run_gives_the_rows_and_inputs_of_the_in_process_policy(tmp_path, server):
    """The same policy in-process and behind `agra-bench serve` (local executor with two envs
    batched into concurrent requests, and Ray): every input it received is equal bit for bit
    (SHA-1 logs), and so are the rows."""
    args = "--suite libero_object --tasks 0 --episodes 2 --max-steps 15 --image-size 64 --no-progress"
    local_log = tmp_path / "local.log"
    local = run_cli("run", "--policy", IMAGE_POLICY, *args.split(), "--out", str(tmp_path / "local"),
                    env={"AGRA_TEST_INPUT_LOG": str(local_log)})  # fmt: skip
    assert local.returncode == 0, local.stderr[-2000:]
    expected = _run_table(tmp_path / "local")
    lines = local_log.read_text().splitlines()
    assert len(lines) == expected["policy_calls"].sum() == 6  # 15 steps in chunks of 5, two episodes
    assert expected["error"].isna().all()
    columns = ["episode", "success", "steps", "obs0_sha1", "policy_calls", "error"]
    for executor in ("local", "ray"):
        served_log = tmp_path / f"served-{executor}.log"
        served = server(env={"AGRA_TEST_INPUT_LOG": str(served_log)})
        address, out = f"openpi://127.0.0.1:{served.port}?image_size=64", tmp_path / f"remote-{executor}"
        remote = run_cli("run", "--policy", address, *args.split(), "--workers", "2", "--executor", executor,
                         "--out", str(out))  # fmt: skip
        assert remote.returncode == 0, remote.stderr[-2000:]
        pd.testing.assert_frame_equal(expected[columns], _run_table(out)[columns])
        assert sorted(lines) == sorted(served_log.read_text().splitlines()), executor


def test_killed_server_errors_its_episodes_and_a_rerun_finishes_them(tmp_path, server):
    served = server(env={"AGRA_TEST_ACT_DELAY": "0.3"})
    port = served.port
    out = tmp_path / "runs"
    command = [*CLI, "run", "--policy", f"openpi://127.0.0.1:{port}?image_size=32&timeout=20",
               "--suite", "libero_object", "--tasks", "0", "--episodes", "3", "--max-steps", "30",
               "--image-size", "32", "--no-progress", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    deadline = time.time() + 240
    while time.time() < deadline and not any(read_rows(run) for run in out.glob("*/")):
        time.sleep(0.2)
    served.kill()  # one episode is finished; the next is in flight or about to start
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr[-2000:]
    first = _run_table(out)
    assert len(first) == 3 and first["error"].isna().sum() >= 1
    errored = first[first["error"].notna()]
    assert len(errored) >= 1
    assert (errored["error_type"] == "connection").all()
    assert errored["error"].str.contains(f"127.0.0.1:{port}").all()

    server(port=port)  # the server is back on the same address
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"retrying {len(errored)} episode" in rerun.stderr + rerun.stdout
    final = _run_table(out)
    assert len(final) == 3 and final["episode_key"].is_unique
    assert final["error"].isna().all()
    assert (final.loc[final["episode"].isin(errored["episode"]), "attempt"] == 2).all()


def test_a_pool_of_servers_survives_one_that_dies(tmp_path, server):
    """`openpi://A,B` with two workers: slot 0 on A, slot 1 on B. B is killed once it has
    answered an episode; the episode it was serving (or the next one slot 1 takes) starts over
    on A, so the run ends with every episode once, none in error, each row naming its server."""
    first, second = (server(env={"AGRA_TEST_ACT_DELAY": "0.2"}) for _ in range(2))
    a, b = f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"
    out = tmp_path / "runs"
    command = [*CLI, "run", "--policy", f"openpi://{a},{b}?image_size=32&timeout=20",
               "--suite", "libero_object", "--tasks", "0", "--episodes", "5", "--max-steps", "30",
               "--image-size", "32", "--workers", "2", "--no-progress", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    deadline = time.time() + 240
    while time.time() < deadline and not any(
        row["policy_server"] == b for folder in out.glob("*/") for row in read_rows(folder).values()
    ):
        time.sleep(0.1)
    second.kill()
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr[-2000:]
    table = _run_table(out)
    assert len(table) == 5 and table["episode_key"].is_unique
    assert table["error"].isna().all(), table["error"].tolist()
    served_by = table["policy_server"].value_counts()
    assert served_by.get(b, 0) >= 1 and served_by.get(a, 0) >= 1 and set(served_by.index) == {a, b}
    assert "errors 0" in stdout


def test_pool_addresses_are_checked_in_one_line():
    from policies.openpi_client import parse_address

    assert parse_address("openpi://h1:8000,h2:8001?timeout=5") == (
        [("h1", 8000), ("h2", 8001)],
        {"timeout": 5.0},
    )
    for bad in ("openpi://h1:8000,h2", "openpi://h1:8000,h1:8000", "openpi://h1:x", "openpi://"):
        with pytest.raises(UsageError, match="bad policy address"):
            parse_address(bad)


def test_bad_frames_do_not_take_the_server_down(server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    served = server("random")
    uri = f"ws://127.0.0.1:{served.port}"
    bad_frames = [
        b"\xc1garbage bytes",
        pickle.dumps({"observation/state": np.zeros(8)}),
        "a text frame",
        packb({"observation/state": np.zeros(3)}),  # wrong shape
        b"\0" * (100 * 2**20),  # 100 MB: over the frame limit
    ]
    for frame in bad_frames:
        with connect(uri, max_size=None, compression=None, open_timeout=10) as connection:
            unpackb(connection.recv(timeout=10))  # metadata
            try:
                connection.send(frame)
                reply = connection.recv(timeout=30)
                assert isinstance(reply, str) and "bad request" in reply
                connection.recv(timeout=10)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code in (1009, 1011)
        assert served.alive()
    with connect(uri, max_size=None, compression=None, open_timeout=10) as connection:
        meta = unpackb(connection.recv(timeout=10))
        assert meta["policy"] == "random"
        connection.send(packb({"observation/state": np.zeros(8), "prompt": "x"}))
        actions = unpackb(connection.recv(timeout=10))["actions"]
        assert actions.shape[1] == 7 and np.isfinite(actions).all()
    # `random` announces chunks of 1: the client executes 1 by default and refuses more
    too_many = run_cli("run", "--policy", f"openpi://127.0.0.1:{served.port}", "--replan-steps", "3",
                       "--suite", "libero_object", "--out", "/tmp/never-written")  # fmt: skip
    assert too_many.returncode == 2 and "exceeds the server's chunk length 1" in too_many.stderr


def test_lean_install_runs_report_list_and_blind_policies_without_torch(tmp_path):
    from tests.helpers.synthetic_runs import episode_row, write_run

    rows = [episode_row("r1", "random", 0, e, p, e % 2 == 0) for e in range(4) for p in ("none", "lighting")]
    write_run(tmp_path, "r1", rows)
    lean = [sys.executable, str(REPO / "tests/helpers/no_torch.py")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    blocked = f"import runpy; runpy.run_path('{REPO}/tests/helpers/no_torch.py'); import torch"
    probe = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, env=env)
    assert probe.returncode != 0 and "blocked" in probe.stderr  # the blocker really blocks
    blind_run = "run --policy random --suite libero_object --tasks 0 --episodes 1 --max-steps 5"
    blind_run = [*blind_run.split(), "--image-size", "32", "--no-progress", "--out", str(tmp_path / "runs")]
    for args in (["report", str(tmp_path)], ["list", "policies"], blind_run):
        result = subprocess.run(
            [*lean, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
        )
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
    table = _run_table(tmp_path / "runs")
    assert table["error"].isna().all()
    assert (tmp_path / "report" / "leaderboard.csv").exists()


def test_unreachable_server_is_one_line_exit_2(tmp_path):
    result = run_cli("run", "--policy", "openpi://127.0.0.1:9?timeout=2", "--suite", "libero_object",
                     "--tasks", "0", "--episodes", "1", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 2
    assert "openpi://127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("run", "--policy", "openpi://nohost", "--suite", "libero_object", "--out", str(tmp_path))
    assert result.returncode == 2 and "openpi://HOST:PORT" in result.stderr


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ({"action": [[0.0] * 7] * 5, "server_timing": {}}, "got keys ['action', 'server_timing']"),
        ([1, 2], "got list"),
        ({"actions": [[0.0] * 3] * 5}, "actions of shape (5, 3)"),
    ],
)
def test_a_malformed_reply_says_what_came_instead(reply, says):
    """A reply without `actions` names the keys it had (it used to say 'actions of shape ()')."""
    from policies.openpi_client import OpenPIClient, PolicyServerError

    client = OpenPIClient.__new__(OpenPIClient)  # only the reply check, no connection
    client.replan_steps = 5
    with pytest.raises(PolicyServerError, match=re.escape(says)):
        client._actions("ws://127.0.0.1:9", reply)
