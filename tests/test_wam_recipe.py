"""The training recipe's pieces: bf16 autocast on CPU, the in-memory frame cache, random-shift
augmentation, per-dimension normalisation, snapshots and a log that never repeats a step."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from agra_bench.demos.dataset import DemoFiles
from agra_bench.errors import UsageError
from agra_bench.versions import machine_info
from policies.wam.augment import augment_batch, random_shift
from policies.wam.config import make_config
from policies.wam.data import WindowDataset, WindowSpec
from policies.wam.normalize import action_statistics, denormalize, normalize, proprio_statistics
from policies.wam.policy import check_horizon
from policies.wam.precision import autocast, cpu_has_fast_bf16, resolve_precision
from policies.wam.train import TrainSettings
from policies.wam.train_state import truncate_log
from tests.conftest import CLI, REPO, run_cli
from tests.test_wam import _train


def test_cached_windows_equal_uncached_windows(collected_demo):
    spec = WindowSpec(context=2, future=2, future_stride=3, chunk=8)
    plain = WindowDataset([collected_demo], spec)
    cached = WindowDataset([collected_demo], spec, cache=True)
    assert plain.cached_bytes == 0 and cached.cached_bytes > 0
    assert len(plain) == len(cached)
    for i in [0, 1, len(plain) // 2, len(plain) - 2, len(plain) - 1]:
        a, b = plain[i], cached[i]
        assert a.keys() == b.keys()
        for key, value in a.items():
            if torch.is_tensor(value):
                assert value.dtype == b[key].dtype and torch.equal(value, b[key]), (i, key)
            else:
                assert value == b[key], (i, key)


def test_context_frames_are_one_policy_call_apart(collected_demo):
    """At run time the policy sees a frame per call, execute_horizon steps apart; training
    windows must space their context frames alike, or a model with context_frames > 1 meets a
    history at run time that it never saw."""
    config = make_config("tiny", context_frames=3)
    spec = WindowSpec.of(config)
    assert (spec.context, spec.context_stride) == (3, config.execute_horizon) == (3, 4)
    windows = WindowDataset([collected_demo], spec)
    single = WindowDataset([collected_demo], WindowSpec.of(make_config("tiny")))
    for t, steps in ((9, (1, 5, 9)), (2, (0, 0, 2))):  # before the start: the first frame
        item = windows[t]
        expected = torch.stack([single[s]["context"][0] for s in steps])
        assert torch.equal(item["context"], expected), t
        assert torch.equal(item["wrist"], single[t]["wrist"]) and item["wrist"].shape[0] == 1
    assert check_horizon(2, make_config("tiny")) == 2  # one frame: any horizon
    assert check_horizon(4, config) == 4
    with pytest.raises(UsageError, match="bad --replan-steps 2; valid: 4"):
        check_horizon(2, config)
    with pytest.raises(UsageError, match="bad context_frames 0"):
        make_config("tiny", context_frames=0)


def test_data_digest_follows_the_arrays_not_the_file(tmp_path, collected_demo):
    keys = ("agentview_rgb", "eye_in_hand_rgb")
    digest = DemoFiles([collected_demo]).digest(keys)
    copy = tmp_path / "elsewhere" / collected_demo.name
    copy.parent.mkdir()
    shutil.copy(collected_demo, copy)
    with h5py.File(copy, "a") as handle:  # other file bytes, same arrays
        handle.attrs["collected_in"] = "another session"
    assert DemoFiles([copy]).digest(keys) == digest
    assert WindowDataset([copy], cache=True).files.digest(keys) == digest  # cached arrays hash alike
    assert DemoFiles([collected_demo]).digest(keys[:1]) != digest
    with h5py.File(copy, "a") as handle:
        actions = handle["data/demo_0/actions"]
        actions[0, 0] += 0.01
    assert DemoFiles([copy]).digest(keys) != digest


def test_random_shift_keeps_shapes_shares_one_offset_per_sample_and_replays():
    context = torch.rand(4, 1, 3, 16, 16)
    future = context.repeat(1, 2, 1, 1, 1)  # same pixels: a shared shift keeps them equal
    shifted_context, shifted_future = random_shift([context, future], 2, torch.Generator().manual_seed(0))
    assert shifted_context.shape == context.shape and shifted_future.shape == future.shape
    assert torch.equal(shifted_future[:, 0], shifted_context[:, 0]) and torch.equal(
        shifted_future[:, 1], shifted_context[:, 0]
    )
    assert not torch.equal(shifted_context, context)  # some sample moved (fixed seed)
    again = random_shift([context, future], 2, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], shifted_context)
    batch = {"context": context, "future": future, "wrist": context.clone(), "actions": torch.zeros(4, 8, 7)}
    out = augment_batch(batch, 2, torch.Generator().manual_seed(1))
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in batch.items()}
    assert out["actions"] is batch["actions"]
    assert augment_batch(batch, 0, torch.Generator()) is batch


def test_normalisation_round_trips_and_maps_percentiles_to_unit_range():
    rng = np.random.default_rng(0)
    actions = np.concatenate(
        [rng.normal(0, [0.5, 0.3, 0.2, 0.02, 0.14, 0.01], (5000, 6)), rng.choice([-1.0, 1.0], (5000, 1))],
        axis=1,
    )
    actions[:, 5] = 0.0  # a dimension with no spread keeps scale 1
    center, scale = action_statistics(actions)
    assert scale[5] == 1.0 and abs(center[6]) < 1e-9 and scale[6] == pytest.approx(1.0)
    raw = torch.as_tensor(actions, dtype=torch.float32)
    unit = normalize(raw, center, scale)
    inside = ((unit[:, :5].abs() <= 1).float().mean(0)).numpy()
    assert (inside > 0.97).all()  # the 1st..99th percentile range maps onto [-1, 1]
    assert torch.allclose(denormalize(unit, center, scale), raw, atol=1e-5)
    assert normalize(raw, (), ()) is raw  # checkpoints without statistics: identity
    mean, std = proprio_statistics(actions[:, [0, 1, 2, 3, 4, 5, 6, 6]])
    assert std[5] == 1.0 and len(mean) == 8


def test_precision_resolution_and_bf16_autocast_on_cpu():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("auto", "cpu") == ("bf16" if cpu_has_fast_bf16() else "fp32")
    with pytest.raises(UsageError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", "cpu")
    layer = torch.nn.Linear(8, 8)
    with autocast("bf16", "cpu"):
        assert layer(torch.rand(2, 8)).dtype == torch.bfloat16
    with autocast("fp32", "cpu"):
        assert layer(torch.rand(2, 8)).dtype == torch.float32


def test_training_records_precision_statistics_and_snapshots(tmp_path, collected_demo):
    folder = _train(
        tmp_path, "run", collected_demo, steps=10, snapshot_every=5, precision="bf16", shift_pad=2
    )
    config = json.loads((folder / "config.json").read_text())
    assert config["precision"] == "bf16" and len(config["wam"]["action_center"]) == 7
    assert len(config["wam"]["proprio_std"]) == 8
    assert config["data_sha256"] == DemoFiles([collected_demo]).digest(("agentview_rgb", "eye_in_hand_rgb"))
    snapshots = sorted(p.name for p in (folder / "snapshots").iterdir())
    assert snapshots == ["step_000005", "step_000010"]
    assert json.loads((folder / "snapshots" / "step_000005" / "config.json").read_text())["step"] == 5


def test_a_resumed_training_keeps_the_precision_it_began_with(tmp_path, collected_demo):
    here = resolve_precision("auto", "cpu")
    began = "fp32" if here == "bf16" else "bf16"  # what "auto" would not pick on this machine
    _train(tmp_path, "run", collected_demo, steps=10, precision=began)
    with pytest.raises(UsageError, match=f"was trained in {began}, not --precision {here}"):
        _train(tmp_path, "run", collected_demo, steps=20, precision=here)
    folder = _train(tmp_path, "run", collected_demo, steps=20, precision="auto")  # as on another CPU
    assert json.loads((folder / "run.json").read_text())["precision"] == began
    assert json.loads((folder / "config.json").read_text())["step"] == 20


def test_a_resumed_log_never_repeats_a_step(tmp_path):
    log = tmp_path / "losses.csv"
    with log.open("w", newline="") as handle:
        csv.writer(handle).writerows([["step", "total"], [10, 1.0], [20, 0.9], [30, 0.8]])
    truncate_log(log, 20)  # the last save was at step 20; step 30 was logged before a kill
    assert list(pd.read_csv(log)["step"]) == [10, 20]


def test_a_kill_mid_save_resumes_from_the_last_complete_save_with_the_same_losses(tmp_path, collected_demo):
    straight = _train(tmp_path, "straight", collected_demo, steps=20)
    folder = _train(tmp_path, "killed", collected_demo, steps=10)  # saves at step 10
    # Killed while saving step 20: its tensors half written, train_state.json not yet moved on;
    # and a log row written after the step-10 save.
    (folder / "train_state-0000020.safetensors").write_bytes(b"half a file")
    with (folder / "losses.csv").open("a") as handle:
        handle.write("15,9.0,9.0,9.0,,0.001,1.0,1.0\n")
    assert json.loads((folder / "train_state.json").read_text())["step"] == 10
    resumed = _train(tmp_path, "killed", collected_demo, steps=20)
    a, b = pd.read_csv(straight / "losses.csv"), pd.read_csv(resumed / "losses.csv")
    assert list(a["step"]) == list(b["step"]) == [5, 10, 15, 20]  # no duplicated step
    np.testing.assert_allclose(
        a[["video", "action"]].to_numpy(), b[["video", "action"]].to_numpy(), rtol=1e-5
    )
    state = json.loads((resumed / "train_state.json").read_text())
    assert state["step"] == 20 and [p.name for p in resumed.glob("train_state-*")] == [state["tensors"]]
    assert json.loads((resumed / "config.json").read_text())["step"] == 20


@pytest.mark.slow
def test_sigterm_saves_the_step_it_reached_and_the_same_command_resumes_to_the_same_weights(
    tmp_path, collected_demo
):
    """A scheduler's SIGTERM (preemption, a time limit, the end of a session) used to kill a
    training at once, losing the steps since the last save (up to --save-every). Now the real
    CLI saves at the end of the step it is in, says so in one line and exits with 143; the same
    command resumes there and ends with the weights of a run that was never stopped."""
    args = ["train", "--policy", "wam", "--data", str(collected_demo), "--config", "tiny", "--steps", "40"]
    args += ["--batch-size", "4", "--save-every", "1000", "--snapshot-every", "0", "--seed", "3"]
    straight = run_cli(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-2000:]
    stopped = tmp_path / "stopped"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [*CLI, *args, "--out", str(stopped)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        log = stopped / "losses.csv"
        if log.exists() and len(log.read_text().splitlines()) >= 2:  # step 10 is logged
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 143, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    step = json.loads((stopped / "train_state.json").read_text())["step"]
    assert lines[-1].startswith(f"stopped: SIGTERM: training saved at step {step} of 40 in ")
    assert 10 <= step < 40  # saved at the step it reached (--save-every is 1000)
    assert json.loads((stopped / "config.json").read_text())["step"] == step  # unfinished: export skips it
    resumed = run_cli(*args, "--out", str(stopped))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(stopped / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert list(pd.read_csv(stopped / "losses.csv")["step"]) == [10, 20, 30, 40]


def test_training_refuses_data_other_than_its_partner_checkpoints(tmp_path, collected_demo):
    digest = DemoFiles([collected_demo]).digest(("agentview_rgb", "eye_in_hand_rgb"))
    other = "0" * 64
    with pytest.raises(UsageError, match=f"data_sha256 {digest} differs from --expect-data-sha256 {other}"):
        _train(tmp_path, "refused", collected_demo, steps=4, expect_data_sha256=other)
    assert not (tmp_path / "refused" / "model.safetensors").exists()  # refused before training
    folder = _train(tmp_path, "accepted", collected_demo, steps=4, expect_data_sha256=digest)
    recorded = json.loads((folder / "config.json").read_text())
    assert recorded["data_sha256"] == digest and recorded["machine"] == machine_info()
    with pytest.raises(UsageError, match="bad --expect-data-sha256 'abc'; valid: 64 lowercase hex"):
        TrainSettings(expect_data_sha256="abc")
