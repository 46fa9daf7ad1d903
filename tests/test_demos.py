"""Demonstrations: collect in LIBERO's layout, read back, replay to the same states and success;
resume after an interruption; bad files get one clear line."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from agra_bench.demos import CollectJob
from agra_bench.demos.collect import NoisyExecution, collect_task
from agra_bench.demos.dataset import DemoFiles
from agra_bench.demos.layout import validate_file
from agra_bench.envs import make_env
from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError
from policies.base import PolicySpec
from policies.wam.data import WindowDataset, WindowSpec
from tests.conftest import run_cli

LIBERO_KEYS = [
    "actions",
    "states",
    "rewards",
    "dones",
    "obs/agentview_rgb",
    "obs/eye_in_hand_rgb",
    "obs/ee_states",
    "obs/gripper_states",
    "obs/joint_states",
]

SMALL = EnvSettings(image_size=32)


@pytest.fixture
def butter_file(collected_demo):
    return collected_demo


@pytest.mark.sim
def test_collected_file_has_libero_layout(butter_file):
    with h5py.File(butter_file, "r") as handle:
        data = handle["data"]
        assert data.attrs["num_demos"] == 1 and "butter" in data.attrs["problem_info"]
        for key in ("env_args", "bddl_file_name", "bddl_file_content", "macros_image_convention", "total"):
            assert key in data.attrs, key
        demo = data["demo_0"]
        for key in LIBERO_KEYS:
            assert key in demo, key
        steps = demo.attrs["num_samples"]
        assert demo["actions"].shape == (steps, 7) and demo["obs/agentview_rgb"].shape == (steps, 32, 32, 3)
        assert demo["rewards"][-1] == 1 and demo["dones"][-1] == 1 and demo["dones"][:-1].sum() == 0
        assert demo["obs/agentview_rgb"][()].std() > 10  # real rendered frames, not blanks
        labels = json.loads(demo.attrs["segmentation_labels"])
        assert labels[0] == "background" and "butter_1" in labels
        seg = demo["obs/agentview_seg"][()]
        assert seg.shape == (steps, 32, 32) and (seg[0] == labels.index("butter_1")).sum() > 0
    assert not butter_file.with_name(butter_file.name + ".partial").exists()


@pytest.mark.sim
def test_replaying_stored_actions_reaches_stored_states_and_success(butter_file):
    with h5py.File(butter_file, "r") as handle:
        demo = handle["data/demo_0"]
        states, actions = demo["states"][()], demo["actions"][()]
        seed, init = int(demo.attrs["seed"]), int(demo.attrs["init_state_id"])
    env = make_env("libero_object", 6, image_size=32, render_images=False)
    try:
        env.reset(seed=seed, options={"init_state_id": init})
        assert np.array_equal(env.flat_state(), states[0])
        success = False
        for t, action in enumerate(actions):
            if t > 0:
                np.testing.assert_allclose(env.flat_state(), states[t], atol=1e-9, err_msg=f"step {t}")
            _, _, success, _, _ = env.step(action)
        assert success
    finally:
        env.close()


@pytest.mark.sim
def test_window_dataset_yields_training_windows(butter_file):
    spec = WindowSpec(context=2, future=3, future_stride=4, chunk=8)
    dataset = WindowDataset([butter_file], spec)
    with h5py.File(butter_file, "r") as handle:
        steps = handle["data/demo_0"].attrs["num_samples"]
        actions = handle["data/demo_0/actions"][()]
    assert len(dataset) == steps
    item = dataset[5]
    assert item["context"].shape == (2, 3, 32, 32) and item["wrist"].shape == (1, 3, 32, 32)
    assert item["future"].shape == (3, 3, 32, 32) and item["actions"].shape == (8, 7)
    assert item["proprio"].shape == (8,) and "butter" in item["instruction"]
    np.testing.assert_allclose(item["actions"].numpy(), actions[5:13], rtol=1e-6)
    last = dataset[len(dataset) - 1]  # windows past the end repeat the last step
    np.testing.assert_allclose(last["actions"].numpy(), np.repeat(actions[-1:], 8, axis=0), rtol=1e-6)
    assert float(item["context"].max()) <= 1.0 and float(item["context"].min()) >= 0.0


@pytest.mark.sim
def test_collect_resumes_and_redoes_an_interrupted_demo(tmp_path):
    job = CollectJob("robosuite_lift", 0, 2, tmp_path / "lift.hdf5", render=False, env=SMALL)
    first = collect_task(job)  # states only: the file stays .partial
    partial = tmp_path / "lift.hdf5.partial"
    assert first["demos"] == 2 and partial.exists() and not (tmp_path / "lift.hdf5").exists()
    with h5py.File(partial, "a") as handle:
        kept = handle["data/demo_0/states"][()]
        handle["data/demo_1"].attrs["complete"] = False  # as if killed while writing demo_1
    final = collect_task(CollectJob("robosuite_lift", 0, 2, tmp_path / "lift.hdf5", env=SMALL))
    assert final["demos"] == 2 and not partial.exists()
    with h5py.File(tmp_path / "lift.hdf5", "r") as handle:
        assert np.array_equal(handle["data/demo_0/states"][()], kept)  # not recollected
        assert all(handle[f"data/demo_{i}"].attrs["complete"] for i in (0, 1))
        assert handle["data/demo_1/obs/agentview_rgb"].shape[0] == handle["data/demo_1/actions"].shape[0]


def test_bad_files_get_one_line_naming_what_is_missing(tmp_path):
    (tmp_path / "junk.hdf5").write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(UsageError, match="not a readable HDF5 file"):
        validate_file(tmp_path / "junk.hdf5")
    with h5py.File(tmp_path / "nodata.hdf5", "w") as handle:
        handle.create_group("something")
    with pytest.raises(UsageError, match="missing group 'data'"):
        validate_file(tmp_path / "nodata.hdf5")
    with h5py.File(tmp_path / "noimg.hdf5", "w") as handle:
        handle.create_dataset("data/demo_0/actions", data=np.zeros((4, 7)))
        handle.create_group("data/demo_0/obs")
    with pytest.raises(
        UsageError, match=r"missing 'obs/agentview_rgb' \(or agentview_image\) in 'data/demo_0'"
    ):
        validate_file(tmp_path / "noimg.hdf5")
    with pytest.raises(UsageError, match="no such demonstration file"):
        validate_file(tmp_path / "absent.hdf5")


def test_robomimic_names_and_upside_down_frames_are_read(tmp_path):
    """An official-style file (robomimic names, OpenGL bottom-up frames) reads like ours."""
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    frames[:, 0, 0] = 255  # top-left pixel as stored = bottom-right once upright
    with h5py.File(tmp_path / "official.hdf5", "w") as handle:
        data = handle.create_group("data")
        data.attrs["problem_info"] = '{"language_instruction": "open the drawer"}'
        demo = data.create_group("demo_0")
        demo["actions"] = np.arange(21, dtype=np.float64).reshape(3, 7)
        demo["obs/agentview_image"] = frames
        demo["obs/robot0_eye_in_hand_image"] = frames
        demo["obs/robot0_eef_pos"] = np.ones((3, 3))
        demo["obs/robot0_eef_quat"] = np.tile([0.0, 0.0, 0.0, 1.0], (3, 1))
        demo["obs/robot0_gripper_qpos"] = np.full((3, 2), 0.04)
    files = DemoFiles([tmp_path / "official.hdf5"])
    upright = files.frames(files.demos[0], "agentview_rgb", np.array([0]))
    assert upright[0, -1, -1, 0] == 255 and upright[0, 0, 0, 0] == 0
    item = WindowDataset([tmp_path / "official.hdf5"], WindowSpec(1, 1, 1, 2))[0]
    assert item["instruction"] == "open the drawer"
    np.testing.assert_allclose(item["proprio"].numpy(), [1, 1, 1, 0, 0, 0, 0.04, 0.04])


def test_collect_cli_rejects_bad_input_in_one_line(tmp_path):
    result = run_cli(
        "collect", "--suite", "libero_object", "--tasks", "0,1", "--out", str(tmp_path / "x.hdf5")
    )
    assert result.returncode == 2 and "names one file but 2 tasks" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("collect", "--suite", "libero_objet", "--out", str(tmp_path))
    assert result.returncode == 2 and "did you mean 'libero_object'" in result.stderr
    result = run_cli(
        "collect",
        "--suite",
        "libero_object",
        "--tasks",
        "0",
        "--perturb",
        "none,lighting",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 2 and "one perturbation arm" in result.stderr


def test_data_folders_expand_to_their_hdf5_files(tmp_path):
    from agra_bench.demos.dataset import demo_file_paths

    (tmp_path / "b.hdf5").write_bytes(b"")
    (tmp_path / "a.hdf5").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    assert demo_file_paths([tmp_path]) == [tmp_path / "a.hdf5", tmp_path / "b.hdf5"]
    assert demo_file_paths([tmp_path / "x.hdf5"]) == [tmp_path / "x.hdf5"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no .hdf5"):
        demo_file_paths([tmp_path / "empty"])


class _SteadyArm:
    """A chunk-1 stand-in for the oracle: the same action at every step."""

    name, spec = "steady", PolicySpec(chunk_length=1, execute_horizon=1)
    action = np.array([[[0.1, -0.2, 0.3, 0.0, 0.0, 0.05, -1.0]]], np.float32)

    def reset(self, slot, seed):
        pass

    def act(self, obs, slots):
        return self.action.copy()

    def close(self):
        pass


def test_noisy_execution_perturbs_the_arm_and_keeps_the_clean_label():
    noisy = NoisyExecution(_SteadyArm(), sigma=0.2)
    noisy.reset(0, seed=7)
    first = noisy.act({}, [0])
    assert np.array_equal(noisy.clean, _SteadyArm.action)  # the label
    assert first[0, 0, 6] == -1.0 and not np.allclose(first[0, 0, :6], _SteadyArm.action[0, 0, :6])
    assert np.abs(first).max() <= 1.0
    noisy.reset(0, seed=7)
    assert np.array_equal(noisy.act({}, [0]), first)  # seeded by the episode
    noisy.reset(0, seed=8)
    assert not np.array_equal(noisy.act({}, [0]), first)


@pytest.mark.sim
def test_dart_collection_records_clean_labels_along_a_noisy_path(tmp_path):
    """`--action-noise`: the stored states follow the executed (noisy) actions, the stored
    actions are the oracle's clean ones, so replaying them leaves the stored path."""
    job = CollectJob(
        "robosuite_lift", 0, 1, tmp_path / "lift.hdf5", env=SMALL, render=False, keep_failures=True,
        action_noise=0.3,
    )  # fmt: skip
    collect_task(job)
    with h5py.File(tmp_path / "lift.hdf5.partial", "r") as handle:
        demo = handle["data/demo_0"]
        states, actions = demo["states"][()], demo["actions"][()]
        seed, init = int(demo.attrs["seed"]), int(demo.attrs["init_state_id"])
        assert demo.attrs["action_noise"] == 0.3
    env = make_env("robosuite_lift", 0, image_size=32, render_images=False)
    try:
        env.reset(seed=seed, options={"init_state_id": init})
        assert np.array_equal(env.flat_state(), states[0])
        gaps = []
        for t, action in enumerate(actions[:20]):
            env.step(action)
            gaps.append(np.abs(env.flat_state() - states[t + 1]).max())
        assert max(gaps) > 1e-4  # the clean labels were not what the simulator executed
    finally:
        env.close()
