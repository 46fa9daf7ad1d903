"""WAM / AGRA: shapes, the alignment loss on a known answer, deterministic and resumable training
on real collected frames, losses that decrease, checkpoints that drive `agra-bench run`.

These run on the CPU with the `tiny` config at 32x32; GPU speed is measured in bench/wam_speed.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from agra_bench.errors import UsageError
from policies.wam.checkpoint import export_inference
from policies.wam.config import make_config
from policies.wam.data import WindowDataset
from policies.wam.denoise import GraphedDenoiser, denoise_actions
from policies.wam.losses import AlignmentHead
from policies.wam.model import WorldActionModel
from policies.wam.policy import WAM
from policies.wam.precision import resolve_precision
from policies.wam.teacher_cache import cache_path
from policies.wam.teachers import make_teacher
from policies.wam.text import EMBEDDINGS_FILE, TextEncoder, load_embeddings, save_embeddings
from policies.wam.train import TrainSettings, batch_indices, train
from tests.conftest import REPO, run_cli, run_episodes

TINY = {"image_size": 32, "patch_size": 8}


def _train(tmp_path, name, data, policy="wam", steps=20, teacher="mobilenet_v2", **settings):
    config = make_config("tiny", **TINY, align_weight=0.5 if policy == "agra" else 0.0, teacher=teacher)
    defaults = {"steps": steps, "batch_size": 8, "lr": 1e-3, "log_every": 5, "save_every": 10, "seed": 0}
    return train(policy, [data], tmp_path / name, config, TrainSettings(**{**defaults, **settings}))


def test_model_shapes_and_presets():
    config = make_config("tiny", **TINY)
    model = WorldActionModel(config)
    b = 3
    out = model(
        torch.randn(b, config.context_slots, 3, 32, 32),
        torch.randn(b, config.future_frames, 3, 32, 32),
        torch.rand(b),
        torch.randn(b, config.chunk, 7),
        torch.rand(b),
        torch.randn(b, 384),
        torch.randn(b, 8),
    )
    assert out["future_velocity"].shape == (b, config.future_frames, 3, 32, 32)
    assert out["action_velocity"].shape == (b, config.chunk, 7)
    assert len(out["hidden"]) == config.depth
    sizes = {
        p: sum(x.numel() for x in WorldActionModel(make_config(p)).parameters()) for p in ("small", "base")
    }
    assert 15e6 < sizes["small"] < 30e6 and 60e6 < sizes["base"] < 100e6, sizes
    assert make_config("base").layers == (3,) and make_config("small").reads == (1, 3, 5, 7)


def test_alignment_loss_is_minus_one_when_projection_matches_teacher():
    config = make_config("tiny", **TINY)
    model = WorldActionModel(config)
    head = AlignmentHead(config, teacher_channels=16)
    hidden = [
        torch.randn(2, 2 + model.slots * config.tokens_per_frame, config.width) for _ in range(config.depth)
    ]
    with torch.no_grad():
        projected = head.projectors[0](model.frame_tokens(hidden[config.layers[0]]))  # (B, slots, P, C)
    grid = config.image_size // config.patch_size
    teacher = projected.transpose(2, 3).unflatten(3, (grid, grid)) * 3.0  # cosine ignores scale
    assert head(model, hidden, teacher).item() == pytest.approx(-1.0, abs=1e-5)
    assert head(model, hidden, -teacher).item() == pytest.approx(1.0, abs=1e-5)


def test_config_and_teacher_errors_are_one_line():
    with pytest.raises(UsageError, match="not a multiple of patch_size"):
        make_config("tiny", image_size=30)
    with pytest.raises(UsageError, match=r"align_layers \[9\] out of range; valid: 0-3"):
        make_config("tiny", align_layers=(9,))
    with pytest.raises(UsageError, match="did you mean 'small'"):
        make_config("smal")
    with pytest.raises(UsageError, match="did you mean 'dinov2_small'"):
        make_teacher("dinov2_smal")
    with pytest.raises(UsageError, match="--teacher-path DIR"):
        make_teacher("dinov2_small")


def test_batch_order_depends_only_on_seed_and_step():
    first = [batch_indices(50, 8, 0, step) for step in range(6)]  # one epoch of 6 batches
    assert [list(b) for b in first] == [list(batch_indices(50, 8, 0, s)) for s in range(6)]
    assert len(set(np.concatenate(first))) == 48  # no index twice within an epoch
    assert list(batch_indices(50, 8, 1, 0)) != list(first[0])


@pytest.mark.sim
def test_mobilenet_teacher_loads_offline():
    teacher = make_teacher("mobilenet_v2")
    features = teacher(torch.rand(2, 3, 32, 32))
    assert features.shape == (2, 96, 14, 14) and not any(p.requires_grad for p in teacher.parameters())


def test_mobilenet_teacher_from_the_kits_trimmed_weights_is_the_same_teacher(tmp_path, monkeypatch):
    """The GPU kit carries only features 0-13 as safetensors (AGRA_MOBILENET_WEIGHTS): the
    teacher built from it must give the same features as the one from torchvision's file."""
    from safetensors.torch import save_file

    from policies.wam.teachers import MOBILENET_WEIGHTS_ENV, load_mobilenet_features

    frames = torch.rand(2, 3, 64, 64)
    expected = make_teacher("mobilenet_v2")(frames)
    trimmed = load_mobilenet_features()
    assert all(int(key.split(".")[0]) < 14 for key in trimmed) and "13.conv.0.0.weight" in trimmed
    path = tmp_path / "features.safetensors"
    save_file(trimmed, str(path))
    monkeypatch.setenv(MOBILENET_WEIGHTS_ENV, str(path))
    assert torch.equal(make_teacher("mobilenet_v2")(frames), expected)
    save_file({k: v for k, v in trimmed.items() if not k.startswith("13.")}, str(path))
    with pytest.raises(RuntimeError, match="Missing key"):
        make_teacher("mobilenet_v2")
    monkeypatch.setenv(MOBILENET_WEIGHTS_ENV, str(tmp_path / "absent.safetensors"))
    with pytest.raises(UsageError, match="absent.safetensors"):
        make_teacher("mobilenet_v2")


def _denoiser_inputs(device):
    torch.manual_seed(0)
    config = make_config("tiny", **TINY)
    model = WorldActionModel(config).to(device).eval()
    b, size = 3, config.image_size
    context = torch.rand(b, config.context_slots, 3, size, size, device=device)
    future = torch.randn(b, config.future_frames, 3, size, size, device=device)
    text, proprio = torch.randn(b, 384, device=device), torch.randn(b, 8, device=device)
    with torch.no_grad():
        hidden = model.run_video(
            model.video_tokens(context, future, torch.ones(b, device=device), text, proprio)
        )
    return model, hidden, torch.randn(b, config.chunk, 7, device=device), text, proprio


def test_graphed_denoiser_runs_the_same_loop_as_the_eager_one():
    """The loop the CUDA graph records (fed only the video layers the decoder reads) computes
    exactly what the eager loop computes; here on the CPU, without a graph."""
    model, hidden, noise, text, proprio = _denoiser_inputs("cpu")
    levels = [1.0, 0.6, 0.25, 0.0]
    graphed = GraphedDenoiser(model, levels, bf16=False)
    with torch.no_grad():
        recorded = graphed._run([hidden[layer] for layer in graphed.reads], noise, text, proprio)
        eager = denoise_actions(model, hidden, noise, text, proprio, levels)
    assert recorded.shape == noise.shape and torch.equal(recorded, eager)


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA GPU (CI has none); bench/gpu_suite.sh "
    "makes the same comparison at batch 50 on the lent GPU",
)
def test_graph_replay_matches_eager_denoising_on_cuda():
    model, hidden, noise, text, proprio = _denoiser_inputs("cuda")
    levels = [1.0, 0.6, 0.25, 0.0]
    graphed = GraphedDenoiser(model, levels, bf16=False)
    with torch.no_grad():
        eager = denoise_actions(model, hidden, noise, text, proprio, levels)
        first, second = graphed(hidden, noise, text, proprio), graphed(hidden, noise * 0.5, text, proprio)
        again = denoise_actions(model, hidden, noise * 0.5, text, proprio, levels)
    torch.testing.assert_close(first, eager)
    torch.testing.assert_close(second, again)  # a replay reads the new inputs


def test_teacher_caches_of_same_named_files_do_not_collide(tmp_path):
    """LIBERO names every file of a task alike: `a/Lift_demo.hdf5` and `b/Lift_demo.hdf5` (clean
    and DART demos) once shared one teacher cache, and AGRA training then read out of range."""
    first, second = tmp_path / "a" / "Lift_demo.hdf5", tmp_path / "b" / "Lift_demo.hdf5"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(b"x")
    paths = {cache_path(tmp_path, "mobilenet_v2", 8, p) for p in (first, second)}
    assert len(paths) == 2 and all(p.name.startswith("Lift_demo-") for p in paths)
    before = cache_path(tmp_path, "mobilenet_v2", 8, first)
    first.write_bytes(b"recollected")  # new content: the old features must not be reused
    assert cache_path(tmp_path, "mobilenet_v2", 8, first) != before


def test_checkpoint_text_embeddings_spare_the_text_model(tmp_path):
    """A checkpoint's table answers its own instructions with no text model loaded; any other
    instruction still goes through MiniLM. A foreign file is one clear error."""
    known = {"pick up the bowl": torch.ones(384) / 384**0.5, "open the drawer": -torch.ones(384) / 384**0.5}
    path = tmp_path / EMBEDDINGS_FILE
    save_embeddings(path, known)
    table = load_embeddings(path)
    assert sorted(table) == sorted(known) and all(torch.equal(table[k], known[k]) for k in known)
    encoder = TextEncoder("cpu", table)
    out = encoder.encode(["open the drawer", "pick up the bowl", "open the drawer"])
    assert out.shape == (3, 384) and torch.equal(out[0], known["open the drawer"])
    assert encoder._model is None  # MiniLM was never loaded
    fresh = encoder.encode(["close the drawer"])
    assert encoder._model is not None and abs(float(fresh.norm()) - 1) < 1e-4
    assert load_embeddings(tmp_path / "absent.safetensors") == {}
    (tmp_path / "bad.safetensors").write_bytes(b"not a table")
    with pytest.raises(UsageError, match="not a text-embeddings file"):
        load_embeddings(tmp_path / "bad.safetensors")


def test_the_kits_embeddings_table_presets_every_encoder(tmp_path, monkeypatch):
    """AGRA_TEXT_EMBEDDINGS (the GPU kit's table) answers its instructions with no text model;
    a checkpoint's own table wins where both hold an instruction; a missing file is one error."""
    from policies.wam.text import EMBEDDINGS_ENV

    kit = {"pick up the bowl": torch.ones(384) / 384**0.5, "open the drawer": -torch.ones(384) / 384**0.5}
    save_embeddings(tmp_path / "kit.safetensors", kit)
    monkeypatch.setenv(EMBEDDINGS_ENV, str(tmp_path / "kit.safetensors"))
    own = torch.zeros(384)
    encoder = TextEncoder("cpu", {"open the drawer": own})
    out = encoder.encode(["pick up the bowl", "open the drawer"])
    assert torch.equal(out[0], kit["pick up the bowl"]) and torch.equal(out[1], own)
    assert encoder._model is None and sorted(encoder.table()) == sorted(kit)
    monkeypatch.setenv(EMBEDDINGS_ENV, str(tmp_path / "absent.safetensors"))
    with pytest.raises(UsageError, match="AGRA_TEXT_EMBEDDINGS='.*absent.safetensors' is not a file"):
        TextEncoder("cpu")


@pytest.mark.sim
def test_the_kit_names_every_object_label_the_sim_semantic_teacher_embeds(collected_demo):
    """The GPU kit's text table must hold the labels of the demos' segmentation, or the
    sim_semantic teacher needs the text model that the GPU machine lacks."""
    import importlib.util

    import h5py

    from policies.wam.teachers import SimSemanticTeacher

    spec = importlib.util.spec_from_file_location("gpu_kit", REPO / "scripts" / "gpu_kit.py")
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    files, objects = kit.scene_files("libero_object", [6])
    assert files and all(path.is_file() for path in files)
    with h5py.File(collected_demo, "r") as handle:
        labels = json.loads(handle["data/demo_0"].attrs["segmentation_labels"])
    assert labels[0] == "background" and set(labels[1:]) == objects
    texts = {SimSemanticTeacher.label_text(name) for name in objects}
    assert "butter" in texts and not any(text[-1].isdigit() for text in texts)


@pytest.mark.sim
def test_training_is_deterministic_and_resumes_exactly(tmp_path, collected_demo):
    straight = _train(tmp_path, "straight", collected_demo, steps=20)
    _train(tmp_path, "resumed", collected_demo, steps=10)
    resumed = _train(tmp_path, "resumed", collected_demo, steps=20)
    a, b = pd.read_csv(straight / "losses.csv"), pd.read_csv(resumed / "losses.csv")
    assert list(a["step"]) == list(b["step"]) == [5, 10, 15, 20]
    np.testing.assert_allclose(
        a[["video", "action"]].to_numpy(), b[["video", "action"]].to_numpy(), rtol=1e-5
    )
    assert (straight / "model.safetensors").exists() and (straight / "losses.png").exists()
    assert not list(straight.glob("*.pt")) and not list(straight.glob("*.pth"))  # nothing pickled
    # the training instructions' embeddings travel with the checkpoint (policies/wam/text.py)
    table = load_embeddings(straight / EMBEDDINGS_FILE)
    assert len(table) == 1 and next(iter(table.values())).shape == (384,)


@pytest.mark.sim
def test_wam_and_agra_share_initial_weights_and_data_order(tmp_path, collected_demo):
    wam = _train(tmp_path, "wam", collected_demo, steps=5, log_every=1, lr=0.0)
    agra = _train(tmp_path, "agra", collected_demo, policy="agra", steps=5, log_every=1, lr=0.0)
    # With lr=0 the weights stay at their initial values: identical video and action losses on
    # identical batches and noise show the same initialisation, data order and noise.
    a, b = pd.read_csv(wam / "losses.csv"), pd.read_csv(agra / "losses.csv")
    np.testing.assert_allclose(
        a[["video", "action"]].to_numpy(), b[["video", "action"]].to_numpy(), rtol=1e-5
    )
    assert a["align"].isna().all() and b["align"].notna().all()
    assert json.loads((agra / "config.json").read_text())["wam"]["align_weight"] == 0.5


def test_agra_runs_share_one_teacher_cache(tmp_path, collected_demo):
    """Teacher features depend on the data and the teacher, not the seed: a second seed with the
    same --teacher-cache reads the first one's files instead of recomputing them."""
    shared = tmp_path / "shared"
    for seed in (0, 1):
        _train(
            tmp_path,
            f"agra-s{seed}",
            collected_demo,
            policy="agra",
            steps=1,
            seed=seed,
            teacher_cache=str(shared),
        )
        if seed == 0:
            built = {p: p.stat().st_mtime_ns for p in shared.rglob("*.h5")}
    assert len(built) == 1 and {p: p.stat().st_mtime_ns for p in shared.rglob("*.h5")} == built
    assert not any((tmp_path / f"agra-s{seed}" / "teacher_cache").exists() for seed in (0, 1))


@pytest.mark.sim
def test_agra_alignment_loss_decreases_on_real_frames(tmp_path, collected_demo):
    folder = _train(tmp_path, "agra", collected_demo, policy="agra", steps=60, log_every=10, save_every=60)
    log = pd.read_csv(folder / "losses.csv")
    assert log["align"].iloc[-2:].mean() < log["align"].iloc[:2].mean() - 0.05, log  # closer to the teacher
    assert log["video"].iloc[-2:].mean() < log["video"].iloc[:2].mean(), log


OVERFIT_BOUND = 0.7  # replayed L1 action error / L1 error of always predicting the mean action


@pytest.mark.slow
@pytest.mark.sim
def test_wam_overfits_one_demonstration(tmp_path, collected_demo):
    """400 steps on one demo: the action loss falls and the actions the policy gives along the
    demo's own frames come within OVERFIT_BOUND of the mean-action predictor's error (0.49 was
    measured at 500 steps)."""
    import h5py

    from policies.wam.policy import WAM

    folder = _train(
        tmp_path,
        "wam",
        collected_demo,
        steps=400,
        batch_size=16,
        lr=2e-3,
        ema_decay=0.99,
        log_every=50,
        save_every=400,
    )
    log = pd.read_csv(folder / "losses.csv")
    assert log["action"].iloc[-3:].mean() < 0.75 * log["action"].iloc[:3].mean(), log
    with h5py.File(collected_demo, "r") as handle:
        demo = handle["data/demo_0"]
        actions, frames, wrist = (
            demo["actions"][()],
            demo["obs/agentview_rgb"][()],
            demo["obs/eye_in_hand_rgb"][()],
        )
        proprio = np.concatenate([demo["obs/ee_states"][()], demo["obs/gripper_states"][()]], 1).astype(
            np.float32
        )
        instruction = json.loads(handle["data"].attrs["problem_info"])["language_instruction"]
    policy = WAM(checkpoint=str(folder), device="cpu")
    policy.reset(0, 0)
    errors = []
    for t in range(len(actions)):
        chunk = policy.act(
            {
                "agentview_rgb": frames[t : t + 1],
                "wrist_rgb": wrist[t : t + 1],
                "proprio": proprio[t : t + 1],
                "instruction": [instruction],
            },
            [0],
        )
        errors.append(np.abs(chunk[0, 0] - actions[t]).mean())
    baseline = np.abs(actions - actions.mean(0)).mean()
    assert np.mean(errors) < OVERFIT_BOUND * baseline, (np.mean(errors), baseline)


@pytest.mark.slow
@pytest.mark.sim
def test_wam_and_agra_checkpoints_drive_agra_bench_run(tmp_path, collected_demo):
    for policy in ("wam", "agra"):
        folder = _train(tmp_path, policy, collected_demo, policy=policy, steps=4, save_every=4)
        meta = json.loads((folder / "config.json").read_text())
        assert meta["training_tasks"] == {"suite": "libero_object", "task_ids": [6]}
        # wam: no --tasks and no --image-size, so its training task (6) at its 32 px
        given = "" if policy == "wam" else " --tasks 6 --image-size 32"
        df = run_episodes(
            tmp_path / f"runs-{policy}",
            f"--policy {policy} --checkpoint {folder} --suite libero_object"
            f" --episodes 1 --max-steps 8{given}",
        )
        assert df["error"].isna().all() and (df["steps"] == 8).all() and (df["policy_calls"] == 2).all()
        assert df.loc[0, "checkpoint"] == str(folder)
        assert df["task_id"].tolist() == [6] and df["image_size"].tolist() == [32]
    # The committed reference checkpoints are bf16 exports; they carry the text embeddings and
    # run as they are, and the manifest names the training seed that reports pair by.
    exported = export_inference(folder, tmp_path / "exported")
    weights = load_file(str(exported / "model.safetensors"))
    assert {v.dtype for v in weights.values() if v.is_floating_point()} == {torch.bfloat16}
    assert (exported / EMBEDDINGS_FILE).read_bytes() == (folder / EMBEDDINGS_FILE).read_bytes()
    df = run_episodes(
        tmp_path / "runs-exported",
        f"--policy agra --checkpoint {exported} --suite libero_object"
        " --tasks 6 --episodes 1 --max-steps 8 --image-size 32",
    )
    assert df["error"].isna().all() and (df["steps"] == 8).all()
    manifest = json.loads(next((tmp_path / "runs-exported").glob("*/manifest.json")).read_text())
    assert manifest["policy"]["train_seed"] == 0 and manifest["policy"]["train_step"] == 4
    # ... and the inference precision this machine resolved, in the session that ran it too.
    precision = resolve_precision("auto", "cpu")
    assert manifest["policy"]["precision"] == manifest["sessions"][-1]["precision"] == precision
    wrong = run_cli(
        "run",
        "--policy",
        "wam",
        "--checkpoint",
        str(tmp_path / "agra"),
        "--suite",
        "libero_object",
        "--out",
        str(tmp_path / "x"),
    )
    assert wrong.returncode == 2 and "use --policy agra" in wrong.stderr
    # libero_90 has no committed reference checkpoint: the error names the suites that do
    missing = run_cli("run", "--policy", "agra", "--suite", "libero_90", "--out", str(tmp_path / "x"))
    assert missing.returncode == 2 and "needs --checkpoint" in missing.stderr
    assert "libero_object, robosuite_lift" in missing.stderr


def test_context_frames_one_per_policy_call_from_train_to_run(tmp_path, collected_demo):
    """`train --context-frames 2` makes a checkpoint that sees the frames of its last two calls
    (the first one twice at the start), as its training windows did (test_wam_recipe); a
    --replan-steps other than its trained horizon would space them otherwise, and is refused."""
    folder = tmp_path / "ctx2"
    trained = run_cli(
        *("train", "--policy", "wam", "--data", str(collected_demo), "--out", str(folder)),
        *("--context-frames", "2", "--steps", "2", "--batch-size", "8", "--save-every", "2"),
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    policy = WAM(checkpoint=str(folder))
    assert policy.config.context_frames == 2 and policy.config.execute_horizon == 4
    instruction = WindowDataset([collected_demo])[0]["instruction"]
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8) for _ in range(3)]
    policy.reset(0, seed=0)
    seen = []
    for frame in frames:
        obs = {"agentview_rgb": frame, "wrist_rgb": frame, "proprio": np.zeros((1, 8), np.float32)}
        seen.append(policy.act_with_inputs({**obs, "instruction": [instruction]}, [0])[1].context[0])
    assert all(ctx.shape[0] == 3 for ctx in seen)  # two agentview frames, then the wrist frame
    assert torch.equal(seen[0][0], seen[0][1])  # the first call: its frame twice
    assert torch.equal(seen[1][0], seen[0][1]) and torch.equal(seen[2][0], seen[1][1])
    assert not torch.equal(seen[1][0], seen[1][1])
    refused = run_cli(
        *("run", "--policy", "wam", "--checkpoint", str(folder), "--suite", "libero_object"),
        *("--replan-steps", "2", "--out", str(tmp_path / "runs")),
    )
    assert refused.returncode == 2 and "bad --replan-steps 2; valid: 4" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.sim
def test_sim_semantic_teacher_aligns_to_object_name_embeddings(tmp_path, collected_demo):
    folder = _train(
        tmp_path,
        "sem",
        collected_demo,
        policy="agra",
        teacher="sim_semantic",
        steps=30,
        log_every=10,
        save_every=30,
    )
    log = pd.read_csv(folder / "losses.csv")
    assert log["align"].iloc[-1] < log["align"].iloc[0], log
    cache = next((folder / "teacher_cache").glob("sim_semantic-g4/*.h5"))
    import h5py

    with h5py.File(cache, "r") as handle:
        features = handle["demo_0/agentview"][()]
    assert features.shape[1:] == (384, 4, 4) and np.abs(features).sum() > 0  # objects are in view
