"""Diagnostics: constructed cases with known answers, then a real diagnose run on a trained checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from agra_bench.diagnostics.attention import (
    attention_centroid,
    attention_in_region,
    centroid_error,
    record_cross_attention,
    region_on_grid,
    slot_maps,
)
from agra_bench.diagnostics.interventions import KINDS, action_change, edit_tokens, run_with_intervention
from policies.wam.config import make_config
from policies.wam.denoise import denoise_actions
from policies.wam.model import WorldActionModel
from tests.conftest import run_cli

REGION = np.zeros((4, 4), bool)
REGION[1:3, 1:3] = True


def test_attention_inside_the_mask_gives_one_and_outside_gives_zero():
    inside = np.where(REGION, 1.0, 0.0) / REGION.sum()
    outside = np.where(REGION, 0.0, 1.0) / (~REGION).sum()
    assert attention_in_region(inside, REGION) == pytest.approx(1.0)
    assert attention_in_region(outside, REGION) == pytest.approx(0.0)
    assert attention_in_region(np.full((4, 4), 1 / 16), REGION) == pytest.approx(4 / 16)


def test_centroid_of_a_one_hot_map_is_that_token():
    one_hot = np.zeros((4, 4))
    one_hot[3, 0] = 1.0
    assert np.allclose(attention_centroid(one_hot), [3, 0])
    assert centroid_error(one_hot, REGION) == pytest.approx(np.hypot(1, 1))  # nearest region token (2, 1)
    one_hot_inside = np.zeros((4, 4))
    one_hot_inside[2, 2] = 1.0
    assert centroid_error(one_hot_inside, REGION) == 0.0


def test_region_projection_to_the_token_grid():
    mask = np.zeros((32, 32), bool)
    mask[9, 17] = True  # one pixel in token (1, 2) of an 8-pixel grid
    assert np.argwhere(region_on_grid(mask, 4)).tolist() == [[1, 2]]


def _tiny(**overrides):
    torch.manual_seed(0)
    config = make_config("tiny", image_size=32, patch_size=8, **overrides)
    model = WorldActionModel(config).eval()
    for p in model.parameters():  # non-zero heads, so that interventions can show
        torch.nn.init.normal_(p, std=0.05) if p.dim() > 1 else None
    b = 1
    inputs = {
        "context": torch.randn(b, config.context_slots, 3, 32, 32),
        "noise": torch.randn(b, config.future_frames, 3, 32, 32),
        "text": torch.randn(b, 384),
        "proprio": torch.randn(b, 8),
        "actions": torch.randn(b, config.chunk, 7),
    }
    tokens = model.video_tokens(
        inputs["context"], inputs["noise"], torch.ones(b), inputs["text"], inputs["proprio"]
    )
    return model, inputs, tokens


def _actions(model, inputs, hidden):
    return denoise_actions(
        model, hidden, inputs["actions"], inputs["text"], inputs["proprio"], [1.0, 0.5, 0.0]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_intervening_on_a_layer_the_action_path_does_not_read_changes_nothing(kind):
    model, inputs, tokens = _tiny(action_reads=(0, 1))  # the decoder reads layers 0 and 1 of 4
    rng = np.random.default_rng(0)
    chosen = np.flatnonzero(REGION.ravel())
    with torch.no_grad():
        clean = _actions(model, inputs, model.run_video(tokens))
        unread = run_with_intervention(
            model, tokens, 2, lambda h: edit_tokens(h, model, 0, chosen, kind, rng)
        )
        read = run_with_intervention(model, tokens, 0, lambda h: edit_tokens(h, model, 0, chosen, kind, rng))
    assert action_change(clean, _actions(model, inputs, unread)) == 0.0
    assert action_change(clean, _actions(model, inputs, read)) > 0.0  # the same edit where it is read


def test_recording_attention_leaves_the_output_unchanged_and_maps_sum_to_one():
    model, inputs, tokens = _tiny()
    with torch.no_grad():
        hidden = model.run_video(tokens)
        plain = _actions(model, inputs, hidden)
        with record_cross_attention(model) as store:
            recorded = _actions(model, inputs, hidden)
    torch.testing.assert_close(plain, recorded, rtol=1e-5, atol=1e-6)
    assert len(store) == 2 * model.config.action_depth  # two denoising steps x blocks
    maps = slot_maps(store, model.slots, 4)
    assert maps.shape == (1, model.slots, 4, 4) and float(maps.sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
@pytest.mark.sim
def test_diagnose_runs_on_a_trained_checkpoint_and_joins_the_report(tmp_path, collected_demo):
    from policies.wam.train import TrainSettings, train

    config = make_config("tiny", image_size=32, patch_size=8, align_weight=0.5)
    folder = train(
        "agra",
        [collected_demo],
        tmp_path / "agra",
        config,
        TrainSettings(steps=4, batch_size=8, save_every=4, log_every=2),
    )
    out = tmp_path / "runs" / "diag"
    result = run_cli(
        "diagnose",
        "--checkpoint",
        str(folder),
        "--suite",
        "libero_object",
        "--tasks",
        "6",
        "--out",
        str(out),
        "--image-size",
        "32",
        "--max-steps",
        "8",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    df = pd.read_parquet(out / "diagnostics.parquet")
    assert len(df) == 2 and (df["region_tokens"] > 0).all()  # 8 steps, 4 actions per call
    assert df["attn_in_region"].between(0, 1).all() and df["zero_relevant"].notna().all()
    assert len(list((out / "overlays").glob("*.png"))) == 2 and (out / "interventions.png").exists()
    run_cli(
        "run",
        "--policy",
        "agra",
        "--checkpoint",
        str(folder),
        "--suite",
        "libero_object",
        "--tasks",
        "6",
        "--episodes",
        "1",
        "--max-steps",
        "4",
        "--image-size",
        "32",
        "--no-progress",
        "--out",
        str(tmp_path / "runs"),
    )
    report = run_cli("report", str(tmp_path / "runs"))
    assert report.returncode == 0, report.stderr
    assert "Diagnostics" in (tmp_path / "runs" / "report" / "index.html").read_text()
    wrong = run_cli(
        "diagnose",
        "--policy",
        "random",
        "--checkpoint",
        str(folder),
        "--suite",
        "libero_object",
        "--out",
        str(tmp_path / "x"),
    )
    assert wrong.returncode == 2 and "exposes no model inputs to diagnose" in wrong.stderr


@pytest.mark.sim
def test_diagnose_checks_each_policy_answer_as_run_does(tmp_path, monkeypatch):
    """A checkpoint whose actions come back NaN: each episode ends at its first call with the
    error `run` would record (rollout.checked_actions), and the next episode still runs."""
    from agra_bench.diagnostics.job import DiagnoseJob
    from agra_bench.diagnostics.rollouts import run_diagnostics
    from policies.wam.defaults import REFERENCE_CHECKPOINTS
    from policies.wam.policy import WAMPolicy

    original = WAMPolicy.act_with_inputs

    def nan_actions(self, obs, slots):
        chunks, inputs = original(self, obs, slots)
        return np.full_like(chunks, np.nan), inputs

    monkeypatch.setattr(WAMPolicy, "act_with_inputs", nan_actions)
    checkpoint = REFERENCE_CHECKPOINTS / "agra-libero_object-s0"
    job = DiagnoseJob(str(checkpoint), "libero_object", (0,), episodes=2, env={"max_steps": 8})
    assert job.env.image_size == 64  # the checkpoint's, as `run` takes it
    frame = run_diagnostics(job, tmp_path / "diag")
    assert len(frame) == 2 and frame["episode"].tolist() == [0, 1] and (frame["call"] == 0).all()
    assert frame["error"].str.contains("non-finite action value").all()
    assert {"init_state_id", "seed"} <= set(frame.columns)  # the runs' key fields (plan.key_fields)
