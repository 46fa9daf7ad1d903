"""What `run --policy wam|agra` takes from the checkpoint when the command does not say: the
suite's committed reference checkpoint, its training tasks and its image size, each with a
note, and the same run (same run id) as the explicit command. These resolve from config.json
alone, so no model is built here; tests/test_wam.py runs a trained checkpoint this way."""

from __future__ import annotations

import json
import shutil

import pytest

from agra_bench.config import RunConfig
from policies.wam.defaults import REFERENCE_CHECKPOINTS, reference_suites, training_tasks
from tests.conftest import run_cli

LIFT = REFERENCE_CHECKPOINTS / "agra-robosuite_lift-s0"


def test_a_suite_with_a_reference_checkpoint_runs_it_at_its_tasks_and_size(tmp_path):
    config = RunConfig(policy="agra", suite="robosuite_lift", out=tmp_path)
    assert config.checkpoint == str(LIFT)
    assert (config.task_ids, config.env.image_size) == ([0], 64)
    assert config.defaults == {"checkpoint": "reference", "tasks": "checkpoint", "image_size": "checkpoint"}
    assert len(config.notes) == 3 and "reference checkpoint" in config.notes[0]
    explicit = RunConfig(
        policy="agra",
        suite="robosuite_lift",
        checkpoint=str(LIFT),
        tasks="0",
        env={"image_size": 64},
        out=tmp_path,
    )
    assert explicit.notes == [] and explicit.run_id() == config.run_id()


def test_a_suite_without_one_keeps_the_one_line_error_naming_the_suites_that_have_one(tmp_path):
    assert {"libero_object", "robosuite_lift"} <= set(reference_suites("agra"))
    assert "libero_90" not in reference_suites("wam")
    config = RunConfig(policy="wam", suite="libero_90", out=tmp_path)
    assert config.checkpoint is None and config.notes == [] and config.env.image_size == 128
    result = run_cli("run", "--policy", "wam", "--suite", "libero_90", "--out", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: policy 'wam' needs --checkpoint DIR")
    assert "valid without one: --suite " in result.stderr and "robosuite_lift" in result.stderr


def _checkpoint_trained_on(tmp_path, suite: str, task_ids: list[int]):
    folder = tmp_path / "ckpt"
    shutil.copytree(REFERENCE_CHECKPOINTS / "wam-libero_object-s0", folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["training_tasks"] = {"suite": suite, "task_ids": task_ids}
    (folder / "config.json").write_text(json.dumps(meta))
    return folder


def test_a_given_checkpoint_lends_its_training_tasks_on_its_own_suite_only(tmp_path):
    folder = _checkpoint_trained_on(tmp_path, "libero_object", [3, 5])
    own = RunConfig(policy="wam", suite="libero_object", checkpoint=str(folder), out=tmp_path)
    assert own.task_ids == [3, 5] and own.defaults == {"tasks": "checkpoint", "image_size": "checkpoint"}
    chosen = RunConfig(policy="wam", suite="libero_object", checkpoint=str(folder), tasks="0", out=tmp_path)
    assert chosen.task_ids == [0] and "tasks" not in chosen.defaults
    other = RunConfig(policy="wam", suite="libero_spatial", checkpoint=str(folder), out=tmp_path)
    assert other.task_ids == list(range(10)) and other.env.image_size == 64


def test_another_image_size_is_a_choice_with_a_note_and_a_manifest_field(tmp_path):
    config = RunConfig(policy="wam", suite="robosuite_lift", env={"image_size": 128}, out=tmp_path)
    assert config.env.image_size == 128 and config.defaults["checkpoint_image_size"] == 64
    assert any("trained at 64 px" in note for note in config.notes)
    assert config.to_dict()["defaults"]["checkpoint_image_size"] == 64  # the manifest's config


def test_policies_without_checkpoints_are_untouched(tmp_path):
    config = RunConfig(policy="random", suite="robosuite_lift", out=tmp_path)
    assert (config.tasks, config.env.image_size, config.notes, config.defaults) == ("all", 128, [], {})


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ([("libero_object", "pick_up_the_butter_and_place_it_in_the_basket")] * 2, [6]),
        ([("robosuite_lift", "Lift")], [0]),
        ([("libero_object", "no_such_task")], None),
        (
            [("libero_object", "pick_up_the_butter_and_place_it_in_the_basket"), ("robosuite_lift", "Lift")],
            None,
        ),
    ],
)
def test_training_tasks_of_demonstration_files(files, expected):
    found = training_tasks(files)
    assert (found["task_ids"] if found else None) == expected
