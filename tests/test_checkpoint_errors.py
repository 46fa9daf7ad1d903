"""A broken checkpoint is one line naming the file and the problem, exit code 2, no traceback:
missing or malformed config.json (invalid JSON, missing section, wrong types, unknown preset),
truncated or foreign model.safetensors, tensors that do not fit the config."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from policies.wam.checkpoint import CONFIG, WEIGHTS, save_inference
from policies.wam.config import make_config
from policies.wam.model import WorldActionModel
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "good"
    config = make_config("tiny", image_size=32)
    torch.manual_seed(0)
    save_inference(folder, config, WorldActionModel(config).state_dict(), {"step": 0})
    return folder


def _break(folder, kind: str) -> str:
    """Damage a copy of the checkpoint; returns the text the error must contain."""
    config_path, weights = folder / CONFIG, folder / WEIGHTS
    meta = json.loads(config_path.read_text())
    if kind == "no_config":
        config_path.unlink()
        return "has no config.json"
    if kind == "invalid_json":
        config_path.write_text("{not json")
        return "is not valid JSON"
    if kind == "no_wam_section":
        config_path.write_text(json.dumps({"step": 3}))
        return "lacks the 'wam' section"
    if kind == "wrong_type":
        meta["wam"]["width"] = "wide"
        config_path.write_text(json.dumps(meta))
        return "malformed WAM config"
    if kind == "unknown_preset":
        meta["wam"]["preset"] = "huge"
        config_path.write_text(json.dumps(meta))
        return "unknown WAM preset 'huge'"
    if kind == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[:1000])
        return "is not a readable safetensors file"
    if kind == "foreign_weights":
        weights.write_bytes(b"PK\x03\x04 not a tensor file" * 10)
        return "is not a readable safetensors file"
    if kind == "wrong_shapes":
        meta["wam"]["width"], meta["wam"]["heads"] = 64, 4
        config_path.write_text(json.dumps(meta))
        return "does not fit its config.json"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["no_config", "invalid_json", "no_wam_section", "wrong_type", "unknown_preset",
     "truncated_weights", "foreign_weights", "wrong_shapes"],
)  # fmt: skip
def test_broken_checkpoint_is_one_line(tmp_path, good_checkpoint, kind):
    folder = tmp_path / "ckpt"
    shutil.copytree(good_checkpoint, folder)
    expected = _break(folder, kind)
    result = run_cli("run", "--policy", "wam", "--checkpoint", str(folder), "--suite", "robosuite_lift",
                     "--episodes", "1", "--max-steps", "2", "--image-size", "32", "--no-progress",
                     "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in " ".join(result.stderr.split()), result.stderr[-1500:]
    assert str(folder) in " ".join(result.stderr.split()).replace("\n", "")


def test_replan_steps_sets_the_execute_horizon_of_a_wam(good_checkpoint, cli_in_process, tmp_path):
    from policies.registry import make_policy

    assert make_policy("wam", checkpoint=str(good_checkpoint), replan_steps=2).spec.execute_horizon == 2
    code, err = cli_in_process(
        "run",
        "--policy",
        "wam",
        "--checkpoint",
        str(good_checkpoint),
        "--suite",
        "robosuite_lift",
        "--replan-steps",
        "99",
        "--out",
        str(tmp_path),
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "bad --replan-steps 99; valid: 1-8 (the checkpoint's chunk length)" in err
