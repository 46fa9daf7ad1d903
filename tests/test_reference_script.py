"""scripts/reference.sh plans the reference experiment's runs: checked with DRY_RUN=1, which
prints each agra-bench command instead of running it (the committed checkpoints are real)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "reference.sh"


def dry_run(*stages: str, **knobs: str) -> subprocess.CompletedProcess:
    """The script's output with DRY_RUN=1; its data folder is an empty one unless a knob names
    one, so that training folders this machine holds in ../data/ckpt do not reach the plan."""
    env = {
        **os.environ,
        "AGRA_DATA": tempfile.mkdtemp(prefix="reference-data-"),
        "DRY_RUN": "1",
        "POLICIES": "wam",
        "LIFT_SEEDS": "0",
        "OBJECT_SEEDS": "0",
        "TEN_SEEDS": " ",
        "CONTROL_POLICIES": " ",
        **knobs,
    }
    return subprocess.run(["bash", str(SCRIPT), *stages], env=env, capture_output=True, text=True, timeout=60)


def run_commands(output: str) -> list[dict[str, str]]:
    """The printed `agra-bench run` commands as option -> value dicts (flags map to "")."""
    commands = []
    for line in output.splitlines():
        if line.startswith("agra-bench run "):
            words, options = line.split()[2:], {}
            for i, word in enumerate(words):
                if word.startswith("--"):
                    following = words[i + 1] if i + 1 < len(words) else "--"
                    options[word] = "" if following.startswith("--") else following
            commands.append(options)
    return commands


def test_lift_runs_each_split_in_one_run_and_the_clean_arm_once():
    result = dry_run("run", OBJECT_SEEDS=" ")
    assert result.returncode == 0, result.stderr
    runs = run_commands(result.stdout)
    assert [(r["--split"], r["--perturb"].split(",")[0]) for r in runs] == [
        ("id", "none"),
        ("ood", "texture"),
    ]
    assert all(r["--checkpoint"].endswith("checkpoints/wam-robosuite_lift-s0") for r in runs)
    assert "distractor" not in runs[0]["--perturb"] and "object_color" not in runs[0]["--perturb"]


def test_libero_object_runs_the_clean_arm_first_then_one_run_per_family_and_split_in_policy_pairs():
    result = dry_run("run", LIFT_SEEDS=" ", POLICIES="wam agra")
    assert result.returncode == 0, result.stderr
    runs = run_commands(result.stdout)
    families = ["distractor", "texture", "lighting", "camera", "background", "object_color", "noise"]
    arms = [("id", "none")] + [("id", f) for f in families] + [("ood", f) for f in families]
    # Both policies finish an arm before the next one starts, so a grid cut short stays paired.
    expected = [(split, arm, policy) for split, arm in arms for policy in ("wam", "agra")]
    assert [(r["--split"], r["--perturb"], r["--policy"]) for r in runs] == expected
    assert all(r["--checkpoint"].endswith(f"checkpoints/{r['--policy']}-libero_object-s0") for r in runs)
    assert {r["--tasks"] for r in runs} == {"0,1"}
    assert all("--episodes" not in r for r in runs)  # every init state of each task


def test_collect_gathers_only_the_task_sets_that_have_seeds_to_train():
    suites = {}
    for left_out in ("LIFT_SEEDS", "OBJECT_SEEDS", "TEN_SEEDS"):
        result = dry_run("collect", **{"TEN_SEEDS": "0", left_out: " "})
        assert result.returncode == 0, result.stderr
        lines = [line.split() for line in result.stdout.splitlines() if line.startswith("agra-bench collect")]
        suites[left_out] = [words[words.index("--suite") + 1] for words in lines]
    # clean + DART demos for lift and libero_object; libero_10 takes clean demos (TEN_ACTION_NOISE 0)
    assert suites == {
        "LIFT_SEEDS": ["libero_object"] * 2 + ["libero_10"],
        "OBJECT_SEEDS": ["robosuite_lift"] * 2 + ["libero_10"],
        "TEN_SEEDS": ["robosuite_lift"] * 2 + ["libero_object"] * 2,
    }


def test_the_libero_10_pair_runs_its_clean_arm_on_50_init_states_and_distractor_on_20(tmp_path):
    for policy in ("wam", "agra"):  # exported checkpoints, so the run stage does not skip them
        folder = tmp_path / "checkpoints" / f"{policy}-libero_10-s0"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": " ", "TEN_SEEDS": "0", "REFERENCE_OUT": str(tmp_path)}
    result = dry_run("run", POLICIES="wam agra", **knobs)
    assert result.returncode == 0, result.stderr
    commands = run_commands(result.stdout)
    arms = [(c["--policy"], c["--perturb"], c["--split"], c.get("--episodes")) for c in commands]
    assert arms == [
        ("wam", "none", "id", None),  # the protocol's 50 episodes per task
        ("agra", "none", "id", None),
        ("wam", "distractor", "id", "20"),
        ("agra", "distractor", "id", "20"),
        ("wam", "distractor", "ood", "20"),
        ("agra", "distractor", "ood", "20"),
    ]
    assert {c["--tasks"] for c in commands} == {"0,1,5,7"} and {c["--suite"] for c in commands} == {
        "libero_10"
    }


def test_unknown_stage_is_a_one_line_error_with_exit_code_2():
    result = dry_run("evaluate")
    assert result.returncode == 2
    assert "unknown stage 'evaluate'" in result.stderr and "valid: collect" in result.stderr


def test_parallel_trainings_run_in_suite_seed_pairs_agra_first_each_logging_its_commands(tmp_path):
    result = dry_run(
        "train",
        LIFT_SEEDS=" ",
        OBJECT_SEEDS="1",
        POLICIES="wam agra",
        TRAIN_JOBS="2",
        TRAIN_DEVICE="cuda",
        AGRA_DATA=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    logs = {log.stem: log.read_text() for log in (tmp_path / "ckpt").glob("*.log")}
    assert set(logs) == {"wam-libero_object-dart-s1", "agra-libero_object-dart-s1"}, logs
    for name, text in logs.items():
        command = next(line for line in text.splitlines() if line.startswith("agra-bench train"))
        assert f"--policy {name.split('-')[0]}" in command and "--device cuda" in command
        assert "--seed 1" in command and "--steps 6000" in command


def test_one_training_at_a_time_prints_its_commands_in_order_on_the_cpu():
    result = dry_run("train", LIFT_SEEDS=" ", OBJECT_SEEDS="1", POLICIES="wam agra")
    assert result.returncode == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.startswith("agra-bench train")]
    assert [c.split("--policy ")[1].split()[0] for c in commands] == ["wam", "agra"]
    assert all("--device cpu" in c for c in commands)


def test_a_policy_trained_after_its_exported_partner_must_get_the_partners_demos(tmp_path):
    digest = "ab" * 32
    partner = tmp_path / "checkpoints" / "wam-libero_object-s1"
    partner.mkdir(parents=True)
    (partner / "config.json").write_text(json.dumps({"policy": "wam", "data_sha256": digest}))
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "1", "REFERENCE_OUT": str(tmp_path)}
    result = dry_run("train", POLICIES="wam agra", **knobs)
    assert result.returncode == 0, result.stderr
    commands = {
        c.split("--policy ")[1].split()[0]: c
        for c in result.stdout.splitlines()
        if c.startswith("agra-bench train")
    }
    assert f"--expect-data-sha256 {digest}" in commands["agra"]
    assert "--expect-data-sha256" not in commands["wam"]  # its own checkpoint is not its partner
    (partner / "config.json").write_text(json.dumps({"policy": "wam"}))  # trained before digests
    result = dry_run("train", POLICIES="agra", **knobs)
    assert "--expect-data-sha256" not in result.stdout


def exported(folder: Path, *names: str) -> None:
    """Checkpoint folders the run and dose stages take as exported (they skip missing ones)."""
    for name in names:
        (folder / "checkpoints" / name).mkdir(parents=True)
        (folder / "checkpoints" / name / "config.json").write_text("{}")


def test_the_teacher_control_trains_agra_with_its_teacher_on_the_pairs_demos(tmp_path):
    digest = "cd" * 32
    exported(tmp_path, "wam-libero_object-s0")
    config = tmp_path / "checkpoints" / "wam-libero_object-s0" / "config.json"
    config.write_text(json.dumps({"data_sha256": digest}))
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "0", "REFERENCE_OUT": str(tmp_path)}
    result = dry_run("train", POLICIES="wam agra", CONTROL_POLICIES="agra_sim_semantic", **knobs)
    assert result.returncode == 0, result.stderr
    commands = [line.split() for line in result.stdout.splitlines() if line.startswith("agra-bench train")]
    assert [(c[c.index("--policy") + 1], c[c.index("--out") + 1].split("/")[-1]) for c in commands] == [
        ("wam", "wam-libero_object-dart-s0"),
        ("agra", "agra-libero_object-dart-s0"),
        ("agra", "agra_sim_semantic-libero_object-dart-s0"),
    ]
    teachers = [c[c.index("--teacher") + 1] if "--teacher" in c else None for c in commands]
    assert teachers == [None, "mobilenet_v2", "sim_semantic"]
    assert f"--expect-data-sha256 {digest}" in " ".join(commands[2])  # the seed's wam is its partner


def test_a_trio_trained_sessions_apart_shares_the_first_members_demos_and_precision(tmp_path):
    """Seed 2's wam trained in fp32 on a CPU without native bf16; its agra and control may train
    in a later session on a CPU where `auto` means bf16: they take the precision (and demos) of
    the partner training in $DATA/ckpt, not yet exported."""
    digest = "aa" * 32
    data = tmp_path / "data"
    (data / "ckpt" / "wam-libero_object-dart-s2").mkdir(parents=True)
    run_json = data / "ckpt" / "wam-libero_object-dart-s2" / "run.json"
    run_json.write_text(json.dumps({"precision": "fp32", "data_sha256": digest}))
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "2", "CONTROL_SEEDS": "2", "AGRA_DATA": str(data)}
    knobs |= {"REFERENCE_OUT": str(tmp_path / "out"), "POLICIES": "wam agra"}
    knobs["CONTROL_POLICIES"] = "agra_sim_semantic"
    for fresh in ("0", "1"):  # FRESH_DEMOS=1 frees a seed from its exported checkpoints only
        result = dry_run("train", FRESH_DEMOS=fresh, **knobs)
        assert result.returncode == 0, result.stderr
        commands = [line for line in result.stdout.splitlines() if line.startswith("agra-bench train")]
        assert len(commands) == 3
        assert ["--precision fp32" in c for c in commands] == [False, True, True]  # wam is its own
        assert [f"--expect-data-sha256 {digest}" in c for c in commands] == [False, True, True]
        assert "its partner checkpoint was trained in fp32: so is this one" in result.stdout


def test_an_exported_partners_precision_binds_a_retraining_unless_fresh_demos(tmp_path):
    exported(tmp_path, "wam-libero_object-s1")
    config = tmp_path / "checkpoints" / "wam-libero_object-s1" / "config.json"
    config.write_text(json.dumps({"precision": "bf16"}))
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "1", "REFERENCE_OUT": str(tmp_path), "POLICIES": "agra"}
    assert "--precision bf16" in dry_run("train", **knobs).stdout
    assert "--precision" not in dry_run("train", FRESH_DEMOS="1", CONTROL_SEEDS=" ", **knobs).stdout


def test_a_partner_without_a_digest_does_not_hide_one_that_has_it(tmp_path):
    """A pair exported before digests were recorded, and a control trained later on a new
    collection: retraining the pair must take the control's demos."""
    digest = "ef" * 32
    exported(tmp_path, "wam-libero_object-s0", "agra-libero_object-s0", "agra_sim_semantic-libero_object-s0")
    config = tmp_path / "checkpoints" / "agra_sim_semantic-libero_object-s0" / "config.json"
    config.write_text(json.dumps({"data_sha256": digest}))
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "0", "REFERENCE_OUT": str(tmp_path)}
    result = dry_run("train", POLICIES="wam agra", CONTROL_POLICIES="agra_sim_semantic", **knobs)
    assert result.returncode == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.startswith("agra-bench train")]
    assert [f"--expect-data-sha256 {digest}" in c for c in commands] == [True, True, False]


def test_the_teacher_control_runs_its_clean_arm_then_each_family_id_and_ood(tmp_path):
    exported(tmp_path, "agra_sim_semantic-libero_object-s0")
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "0", "REFERENCE_OUT": str(tmp_path)}
    result = dry_run("run", POLICIES="wam agra", CONTROL_POLICIES="agra_sim_semantic", **knobs)
    assert result.returncode == 0, result.stderr
    runs = [r for r in run_commands(result.stdout) if "agra_sim_semantic" in r["--checkpoint"]]
    families = ["texture", "background", "lighting", "distractor", "camera", "object_color", "noise"]
    expected = [("id", "none")] + [(split, f) for f in families for split in ("id", "ood")]
    assert [(r["--split"], r["--perturb"]) for r in runs] == expected
    assert {r["--policy"] for r in runs} == {"agra"} and {r["--severity"] for r in runs} == {"3"}


def test_the_dose_stage_runs_one_family_at_the_other_severities_for_every_policy(tmp_path):
    names = ("wam-libero_object-s0", "agra-libero_object-s0", "agra_sim_semantic-libero_object-s0")
    exported(tmp_path, *names)
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "0", "REFERENCE_OUT": str(tmp_path)}
    result = dry_run("dose", POLICIES="wam agra", CONTROL_POLICIES="agra_sim_semantic", **knobs)
    assert result.returncode == 0, result.stderr
    runs = run_commands(result.stdout)
    got = [(r["--severity"], r["--checkpoint"].split("/")[-1]) for r in runs]
    assert got == [(severity, name) for severity in ("1", "2", "4", "5") for name in names]
    assert {(r["--perturb"], r["--split"], r["--tasks"]) for r in runs} == {("texture", "id", "0,1")}


def test_editing_the_script_while_it_runs_does_not_derail_the_running_one(tmp_path):
    """A run of the script takes hours, and people edit it meanwhile. Bash reads a script as it
    goes, so an edit that shifts the bytes after the stage loop once made a finished run execute
    the wrong text ("syntax error near unexpected token"). Here the interpreter the export
    stage calls is a wrapper that prepends a comment to the running script's copy, rewriting
    the file in place as editors do (a new file moved over it would leave bash reading the old one)."""
    copy = tmp_path / "scripts" / "reference.sh"
    copy.parent.mkdir()
    copy.write_text(SCRIPT.read_text())
    editor = tmp_path / "python-that-edits"
    editor.write_text(
        "#!/usr/bin/env bash\n"
        f"script={copy}\n"
        'text=$(cat "$script")\n'
        '{ printf "# %0300d\\n" 0; printf "%s\\n" "$text"; } > "$script"\n'  # in place, as editors write
        f'exec {sys.executable} "$@"\n'
    )
    editor.chmod(0o755)
    env = {**os.environ, "DRY_RUN": "1", "POLICIES": "wam", "LIFT_SEEDS": "0", "OBJECT_SEEDS": " "}
    env.update(PYTHON=str(editor), REFERENCE_OUT=str(tmp_path / "out"))
    command = ["bash", str(copy), "export"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert copy.read_text().startswith("# 000"), "the wrapper did not edit the script"
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "== stage export:" in result.stdout


def test_fresh_demos_retrain_a_seeds_checkpoints_together_or_refuse(tmp_path):
    """Demos collected again on another kind of CPU differ from those an exported checkpoint was
    trained on: FRESH_DEMOS=1 lets the seed's checkpoints be retrained together on them, and
    refuses to retrain only some (that would leave a pair on two collections)."""
    exported(tmp_path, "wam-libero_object-s1", "agra-libero_object-s1")
    config = tmp_path / "checkpoints" / "wam-libero_object-s1" / "config.json"
    config.write_text(json.dumps({"data_sha256": "ab" * 32}))
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": "1", "CONTROL_SEEDS": "1", "REFERENCE_OUT": str(tmp_path)}
    knobs["FRESH_DEMOS"] = "1"
    trio = dry_run("train", POLICIES="wam agra", CONTROL_POLICIES="agra_sim_semantic", **knobs)
    assert trio.returncode == 0, trio.stderr
    assert trio.stdout.count("agra-bench train") == 3 and "--expect-data-sha256" not in trio.stdout
    alone = dry_run("train", POLICIES="agra", **knobs)
    assert alone.returncode != 0 and "agra-bench train" not in alone.stdout
    assert "leave the exported wam-libero_object-s1 on other demos" in alone.stderr
    bound = dry_run("train", POLICIES="wam agra", **{**knobs, "FRESH_DEMOS": "0"})
    assert bound.stdout.count(f"--expect-data-sha256 {'ab' * 32}") == 1  # agra's; wam is its own


def test_the_gpu_route_trains_one_seeds_trio_on_its_own_demos(tmp_path):
    """scripts/reference_gpu.sh --plan: the device call collects libero_object only and trains
    wam, agra and agra_sim_semantic of the seed on the GPU, unbound by the committed seed-1
    checkpoints' digest (their demos were collected on another machine)."""
    env = {**os.environ, "AGRA_DATA": str(tmp_path), "SEED": "1"}
    script = REPO / "scripts" / "reference_gpu.sh"
    result = subprocess.run(
        ["bash", str(script), "--plan"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    collects = [line for line in lines if line.startswith("agra-bench collect")]
    assert len(collects) == 2 and all("--suite libero_object " in c for c in collects)  # clean + DART
    trains = sorted(line for line in lines if line.startswith("agra-bench train"))
    names = [t.split("--out ")[1].split()[0].rsplit("/", 1)[1] for t in trains]
    assert names == [f"{p}-libero_object-dart-s1" for p in ("agra", "agra_sim_semantic", "wam")]
    assert all("--device cuda" in t and "--seed 1" in t for t in trains)
    assert (REPO / "results/reference/checkpoints/wam-libero_object-s1/config.json").exists()
    assert "--expect-data-sha256" not in result.stdout


def test_libero_10_context_frames_knob_reaches_training_and_names_the_folder(tmp_path):
    knobs = {"LIFT_SEEDS": " ", "OBJECT_SEEDS": " ", "TEN_SEEDS": "0", "REFERENCE_OUT": str(tmp_path)}
    default = dry_run("train", **knobs).stdout
    assert "--context-frames 1 " in default and "/wam-libero_10-s0 " in default
    three = dry_run("train", TEN_CONTEXT_FRAMES="3", **knobs).stdout
    assert "--context-frames 3 " in three and "/wam-libero_10-ctx3-s0 " in three


def test_export_retires_the_runs_and_diagnosis_of_the_checkpoint_it_replaces(tmp_path):
    """FRESH_DEMOS=1 retrains a seed's exported checkpoints. Exporting the new one moves the runs
    made from the old one, and that folder's diagnosis, out of the committed runs (into the data
    folder: kept, not deleted) and leaves every other run; exporting the same training again
    retires nothing. The retire stage alone does the same for checkpoints unpacked from elsewhere,
    and with DRY_RUN=1 it only says what it would move."""
    import torch

    from agra_bench.config import checkpoint_digest
    from policies.wam.checkpoint import save_inference
    from policies.wam.config import WAMConfig

    data, out = tmp_path / "data", tmp_path / "out"
    save_inference(
        data / "ckpt" / "wam-libero_object-dart-s0", WAMConfig(), {"w": torch.ones(3)}, {"step": 2}
    )
    exported_checkpoint = out / "checkpoints" / "wam-libero_object-s0"
    save_inference(exported_checkpoint, WAMConfig(), {"w": torch.zeros(3)}, {"step": 2})
    old_sha1 = checkpoint_digest(exported_checkpoint)

    def run_made_from(name: str, sha1: str | None, checkpoint: Path | None = exported_checkpoint) -> None:
        (out / "runs" / name).mkdir(parents=True)
        manifest = {
            "identity": {"checkpoint_sha1": sha1},
            "config": {"checkpoint": checkpoint and str(checkpoint)},
        }
        (out / "runs" / name / "manifest.json").write_text(json.dumps(manifest))

    run_made_from("wam-libero_object-old", old_sha1)
    lift = out / "checkpoints" / "wam-robosuite_lift-s0"  # exported, and not retrained here
    save_inference(lift, WAMConfig(), {"w": torch.ones(1)}, {"step": 2})
    run_made_from("wam-robosuite_lift-other", checkpoint_digest(lift), lift)
    run_made_from("scripted-libero_object-oracle", None, None)
    (out / "runs" / "diagnose-wam-libero_object-s0").mkdir()
    (out / "runs" / "diagnose-agra-libero_object-s0").mkdir()
    env = {**os.environ, "AGRA_DATA": str(data), "REFERENCE_OUT": str(out), "POLICIES": "wam"}
    env.update(LIFT_SEEDS=" ", OBJECT_SEEDS="0", TEN_SEEDS=" ", CONTROL_POLICIES=" ", OBJECT_STEPS="2")

    def stage(name: str, **knobs: str) -> subprocess.CompletedProcess:
        command = ["bash", str(SCRIPT), name]
        result = subprocess.run(command, env={**env, **knobs}, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result

    other_runs = [
        "diagnose-agra-libero_object-s0",
        "scripted-libero_object-oracle",
        "wam-robosuite_lift-other",
    ]
    first = stage("export")
    new_sha1 = checkpoint_digest(exported_checkpoint)
    assert new_sha1 != old_sha1
    assert sorted(p.name for p in (out / "runs").iterdir()) == other_runs
    assert (data / "retired_runs" / old_sha1[:8] / "wam-libero_object-old" / "manifest.json").is_file()
    assert (
        data / "retired_runs" / "wam-libero_object-s0-diagnosis" / "diagnose-wam-libero_object-s0"
    ).is_dir()
    assert "retired wam-libero_object-old" in first.stdout

    run_made_from("wam-libero_object-new", new_sha1)
    second = stage("export")
    assert checkpoint_digest(exported_checkpoint) == new_sha1  # the export is deterministic
    assert not [line for line in second.stdout.splitlines() if line.startswith("-- retired")]
    assert (out / "runs" / "wam-libero_object-new").is_dir()

    # checkpoints unpacked from another machine: the retire stage alone
    save_inference(exported_checkpoint, WAMConfig(), {"w": torch.full((3,), 2.0)}, {"step": 2})
    assert "would retire wam-libero_object-new" in stage("retire", DRY_RUN="1").stdout
    assert (out / "runs" / "wam-libero_object-new").is_dir()
    stage("retire")
    assert sorted(p.name for p in (out / "runs").iterdir()) == other_runs


def test_the_teacher_control_trains_and_runs_on_seeds_0_and_2_and_every_pair_on_all_three(tmp_path):
    """Seed 1's pair was trained on demos that later machines do not collect again (another CPU
    kind), and a control must share its pair's demos: by default the control is made on seeds 0
    and 2 only, while libero_object's pairs are made on seeds 0, 1 and 2."""
    env = {**os.environ, "DRY_RUN": "1", "LIFT_SEEDS": " ", "TEN_SEEDS": " ", "REFERENCE_OUT": str(tmp_path)}
    env.pop("OBJECT_SEEDS", None)
    env.pop("CONTROL_SEEDS", None)

    def stage(name: str) -> str:
        result = subprocess.run(
            ["bash", str(SCRIPT), name], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    trains = [line for line in stage("train").splitlines() if line.startswith("agra-bench train")]
    names = sorted(line.split("--out ")[1].split()[0].rsplit("/", 1)[1] for line in trains)
    pairs = [f"{p}-libero_object-dart-s{seed}" for p in ("agra", "wam") for seed in (0, 1, 2)]
    control = [f"agra_sim_semantic-libero_object-dart-s{seed}" for seed in (0, 2)]
    assert names == sorted(pairs + control)
    trio = ("wam", "agra", "agra_sim_semantic")
    exported(tmp_path, *(f"{p}-libero_object-s{seed}" for p in trio for seed in (0, 1, 2)))
    runs = [
        (r["--checkpoint"].rsplit("/", 1)[1], r["--split"], r["--perturb"])
        for r in run_commands(stage("run"))
    ]
    assert {name.rsplit("-s", 1)[1] for name, _, _ in runs if name.startswith("agra_sim")} == {"0", "2"}
    # a control seed's trio runs arm by arm, the clean arm first, then the families that carried the gap
    seed_2 = [run for run in runs if run[0].endswith("-s2")]
    first = [
        (f"{p}-libero_object-s2", split, arm)
        for arm, split in [("none", "id"), ("texture", "id"), ("texture", "ood")]
        for p in trio
    ]
    assert seed_2[:9] == first
    assert len(set(seed_2[:45])) == 45 == 3 * 15  # 15 arms each (the clean arm, 7 families ID and OOD)
    assert set(seed_2[45:]) < set(seed_2[:45])  # then the pair's own loop: finished runs, no-ops
