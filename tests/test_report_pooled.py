"""The pooled AGRA - WAM comparison: cluster bootstrap known answers and seed pairing."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from agra_bench.report import build_report
from agra_bench.report.forest import _rows
from agra_bench.report.pooled import cluster_bootstrap
from agra_bench.report.stats import paired_delta
from agra_bench.report.tables import expand_comparisons, parse_comparisons
from tests.helpers.synthetic_runs import episode_row, write_run

ARMS = ("lighting", "texture", "camera")


def test_cluster_bootstrap_ratio_and_degenerate_cases():
    sums, counts = np.array([1.0, 0.0, 3.0]), np.array([2.0, 2.0, 4.0])
    estimate, low, high = cluster_bootstrap(sums, counts)
    assert estimate == pytest.approx(4 / 8) and low < estimate < high
    assert cluster_bootstrap(sums, counts) == (estimate, low, high)  # seeded
    assert cluster_bootstrap(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == (0.5, 0.5, 0.5)
    assert cluster_bootstrap(np.array([1.0]), np.array([3.0])) == (pytest.approx(1 / 3),) * 3


def _checkpoint_runs(
    root, policy, train_seed, clean, arm_outcome, episodes=20, data_sha256=None, precisions=None, arms=ARMS
):
    """A run of one checkpoint: clean arm outcomes `clean(e)`, perturbed `arm_outcome(e, arm)`."""
    run_id = f"{policy}-s{train_seed}"
    rows = [episode_row(run_id, policy, 0, e, "none", clean(e)) for e in range(episodes)]
    rows += [
        episode_row(run_id, policy, 0, e, arm, arm_outcome(e, arm)) for arm in arms for e in range(episodes)
    ]
    for row in rows:
        row["checkpoint"], row["checkpoint_sha1"] = f"/ckpt/{run_id}", f"{policy}{train_seed}".ljust(40, "0")
    write_run(root, run_id, rows, train_seed=train_seed, data_sha256=data_sha256, precisions=precisions)


def test_pooled_difference_pairs_training_seeds_and_resamples_whole_clusters(tmp_path):
    # Both policies solve every clean episode. Under perturbation wam fails on init states that
    # are even (in every arm: a scene is hard or easy as a whole); agra fails only on e % 4 == 0.
    for seed in (0, 1):
        _checkpoint_runs(tmp_path, "wam", seed, lambda e: True, lambda e, arm: e % 2 == 1)
        _checkpoint_runs(tmp_path, "agra", seed, lambda e: True, lambda e, arm: e % 4 != 0)
    report = build_report([tmp_path])
    row = report.pooled.iloc[0]  # the pooled row comes first, then one per training seed and arm
    # wam s0 meets agra s0 and wam s1 meets agra s1 only: 2 seeds x 20 init states x 3 arms.
    assert (row.split, row.clusters, row.pairs, row.train_seeds) == ("id", 40, 120, "0,1")
    assert row.arms == "camera,lighting,texture"
    assert (row.policy_rate, row.versus_rate) == (0.75, 0.5)
    assert row.difference == pytest.approx(0.25) and row.ci_low < 0.25 < row.ci_high
    assert row.drop_difference == pytest.approx(0.25)  # equal clean skill: the same number
    # Resampling clusters, not episodes: the 3 arms of a scene move together, so the interval is
    # wider than one that treats the 120 pairs as independent.
    wam = report_pairs(tmp_path, "wam")
    agra = report_pairs(tmp_path, "agra")
    naive = paired_delta(agra, wam)
    assert naive.delta == pytest.approx(0.25)
    assert (row.ci_high - row.ci_low) > 1.3 * (naive.ci_high - naive.ci_low)
    # the per-arm head-to-head compares equal training seeds only
    heads = report.comparisons
    assert len(heads) == 2 * (len(ARMS) + 1)
    assert set(zip(heads["policy"], heads["versus"], strict=True)) == {
        ("agra@agra-s0", "wam@wam-s0"),
        ("agra@agra-s1", "wam@wam-s1"),
    }
    assert (tmp_path / "report" / "pooled.csv").read_text().count("\n") == 1 + 1 + 2 + len(ARMS)


def _texture_hurts_agra_on_seed_0_lighting_hurts_wam_on_both(root) -> None:
    """Two seeds: agra fails every texture episode of seed 0; wam fails half of lighting on both."""
    for seed in (0, 1):
        _checkpoint_runs(root, "wam", seed, lambda e: True, lambda e, arm: arm != "lighting" or e % 2 == 1)
        _checkpoint_runs(
            root, "agra", seed, lambda e: True, lambda e, arm, s=seed: not (s == 0 and arm == "texture")
        )


def test_per_arm_rows_pool_one_arm_over_training_seeds(tmp_path):
    _texture_hurts_agra_on_seed_0_lighting_hurts_wam_on_both(tmp_path)
    pooled = build_report([tmp_path]).pooled.set_index("arms")
    every_arm = "camera,lighting,texture"
    assert list(pooled.index) == [every_arm] * 3 + ["camera", "lighting", "texture"]
    texture, lighting, camera = pooled.loc["texture"], pooled.loc["lighting"], pooled.loc["camera"]
    assert (texture.clusters, texture.pairs, texture.train_seeds) == (40, 40, "0,1")
    assert texture.difference == pytest.approx(-0.5) and texture.ci_low < -0.5 < texture.ci_high
    assert lighting.difference == pytest.approx(0.5) and lighting.drop_difference == pytest.approx(0.5)
    assert (camera.difference, camera.ci_low, camera.ci_high) == (0.0, 0.0, 0.0)
    # the per-arm rows average to the pooled one (equal pairs per arm)
    assert pooled.iloc[3:]["difference"].mean() == pytest.approx(pooled.iloc[0]["difference"])


def test_each_training_seed_gets_its_own_pooled_row_so_a_one_seed_effect_shows(tmp_path):
    # pooled over the seeds the two policies tie, while seed 0 alone favours wam and seed 1 agra
    _texture_hurts_agra_on_seed_0_lighting_hurts_wam_on_both(tmp_path)
    pooled = build_report([tmp_path]).pooled
    every_arm = pooled[pooled["arms"] == "camera,lighting,texture"].set_index("train_seeds")
    assert list(every_arm.index) == ["0,1", "0", "1"]
    both, seed0, seed1 = (every_arm.loc[s] for s in ("0,1", "0", "1"))
    assert (both.clusters, both.pairs) == (40, 120)
    assert (seed0.clusters, seed0.pairs, seed1.clusters, seed1.pairs) == (20, 60, 20, 60)
    assert both.difference == pytest.approx(0.0)
    assert seed0.difference == pytest.approx(-1 / 6) and seed0.ci_high < 0  # texture: 20 of 60 pairs
    assert seed1.difference == pytest.approx(1 / 6) and seed1.ci_low > 0  # lighting: 10 of 60
    assert seed0.drop_difference == pytest.approx(-1 / 6)  # both solve every clean episode
    assert (seed0.policy_rate, seed0.versus_rate) == (pytest.approx(2 / 3), pytest.approx(5 / 6))


def test_a_seed_run_on_fewer_arms_is_pooled_only_over_the_arms_every_seed_ran(tmp_path):
    # Seeds 0 and 1 ran all three arms, seed 2 only texture; agra fails texture on even init
    # states on every seed, and ties wam elsewhere. Pooling all arms would weigh texture 1/3 on
    # seeds 0-1 and fully on seed 2 (-3/7 overall): a number set by the mix of families.
    for seed, arms in ((0, ARMS), (1, ARMS), (2, ("texture",))):
        _checkpoint_runs(tmp_path, "wam", seed, lambda e: True, lambda e, arm: True, arms=arms)
        _checkpoint_runs(
            tmp_path, "agra", seed, lambda e: True, lambda e, arm: arm != "texture" or e % 2 == 1, arms=arms
        )
    report = build_report([tmp_path])
    pooled = report.pooled
    test_row, every_arm = pooled.iloc[0], pooled.iloc[1]
    assert (test_row.scope, test_row.arms, test_row.train_seeds) == ("pooled", "texture", "0,1,2")
    assert (test_row.clusters, test_row.pairs, test_row.arms_left_out) == (60, 60, "camera,lighting")
    assert test_row.difference == pytest.approx(-0.5) and test_row.drop_difference == pytest.approx(-0.5)
    assert (every_arm.scope, every_arm.arms, every_arm.train_seeds) == (
        "all_arms",
        "camera,lighting,texture",
        "0,1",
    )
    assert (every_arm.pairs, every_arm.difference, every_arm.arms_left_out) == (
        120,
        pytest.approx(-1 / 6),
        "",
    )
    seeds = pooled[pooled["scope"] == "seed"].set_index("train_seeds")
    assert list(seeds.index) == ["0", "1", "2"] and seeds.loc["2", "arms"] == "texture"
    arms = pooled[pooled["scope"] == "arm"].set_index("arms")
    assert arms.loc["texture", "train_seeds"] == "0,1,2" and arms.loc["camera", "train_seeds"] == "0,1"
    assert any("leaves out camera,lighting" in note for note in report.notes)
    labels = [label for label, _ in _rows(pooled)]
    assert labels[-2:] == ["pooled ID (arms every seed ran)", "pooled ID (seeds 0,1: all arms)"]
    # when only one seed ran every arm, its `seed` row is that pool: no `all_arms` row
    for run in tmp_path.glob("*-s1"):
        shutil.rmtree(run)
    pooled = build_report([tmp_path]).pooled
    assert "all_arms" not in set(pooled["scope"]) and pooled.iloc[0].train_seeds == "0,2"


def test_leaderboard_names_each_checkpoints_training_seed(tmp_path):
    _checkpoint_runs(tmp_path, "wam", 0, lambda e: True, lambda e, arm: True)
    _checkpoint_runs(tmp_path, "wam", 1, lambda e: True, lambda e, arm: True)
    write_run(tmp_path, "random", [episode_row("random", "random", 0, e, "none", False) for e in range(4)])
    build_report([tmp_path])
    board = pd.read_csv(tmp_path / "report" / "leaderboard.csv", dtype={"train_seed": "Int64"})
    assert list(board.columns[:3]) == ["policy", "train_seed", "suite"]
    seeds = board.groupby("policy")["train_seed"].unique()
    assert [list(seeds[p]) for p in ("wam@wam-s0", "wam@wam-s1")] == [[0], [1]]
    assert board.loc[board["policy"] == "random", "train_seed"].isna().all()  # a policy without one: blank


def report_pairs(root, policy):
    """All perturbed episodes of a policy over both seeds, keyed so that seeds stay apart."""
    from agra_bench.report.load import load_runs

    episodes = load_runs([root]).episodes
    mine = episodes[(episodes["policy"] == policy) & (episodes["perturbation"] != "none")].copy()
    mine["init_state_id"] = mine["init_state_id"] + 1000 * mine["train_seed"]
    mine["task_id"] = mine["task_id"] + 100 * mine["perturbation"].map({a: i for i, a in enumerate(ARMS)})
    return mine


def test_drop_difference_separates_robustness_from_clean_skill(tmp_path):
    # agra is better everywhere by the same margin: clean 1.0 vs 0.5, perturbed 0.75 vs 0.25.
    # It wins the pooled difference (+0.5) but loses exactly as much to perturbation (drop 0).
    _checkpoint_runs(tmp_path, "wam", 0, lambda e: e % 2 == 0, lambda e, arm: e % 4 == 0)
    _checkpoint_runs(tmp_path, "agra", 0, lambda e: True, lambda e, arm: e % 4 != 3)
    row = build_report([tmp_path]).pooled.iloc[0]
    assert row.difference == pytest.approx(0.5)
    assert row.drop_difference == pytest.approx(0.0)
    assert row.drop_ci_low <= 0.0 <= row.drop_ci_high


def test_runs_without_a_shared_training_seed_give_no_pooled_row(tmp_path):
    _checkpoint_runs(tmp_path, "wam", 0, lambda e: True, lambda e, arm: True)
    _checkpoint_runs(tmp_path, "agra", 1, lambda e: True, lambda e, arm: True)
    report = build_report([tmp_path])
    assert report.pooled.empty and report.comparisons.empty
    assert "Pooled head-to-head" in (tmp_path / "report" / "summary.md").read_text()


def test_arms_that_never_reached_the_policy_stay_out_of_the_pool(tmp_path):
    # `object_color` in a scene without task-irrelevant objects changes nothing: its first
    # observations equal the clean arm's, the integrity check flags it, and the pool skips it.
    for policy, outcome in (("wam", lambda e, arm: e % 2 == 1), ("agra", lambda e, arm: True)):
        run_id = f"{policy}-s0"
        rows = [episode_row(run_id, policy, 0, e, "none", True) for e in range(20)]
        rows += [episode_row(run_id, policy, 0, e, "lighting", outcome(e, "lighting")) for e in range(20)]
        rows += [episode_row(run_id, policy, 0, e, "object_color", True) for e in range(20)]
        for row in rows:
            changed = row["perturbation"] == "lighting"
            row["obs0_input_sha1"] = f"{'lit' if changed else 'clean'}-{row['episode']}".ljust(40, "0")
        write_run(tmp_path, run_id, rows, train_seed=0)
    report = build_report([tmp_path])
    row = report.pooled.iloc[0]
    assert (row.arms, row.pairs, row.difference) == ("lighting", 20, pytest.approx(0.5))
    assert any("INTEGRITY: arm 'object_color'" in n for n in report.notes)
    assert any("pooled head-to-head leaves out" in n for n in report.notes)


def test_a_seed_pair_trained_on_different_data_gets_a_note(tmp_path):
    # Seed 0: both trained on data "a"; seed 1: agra on "b" (e.g. demos collected again with
    # other code). Only seed 1 is flagged as different; seed 2's wam predates the digest, so
    # its pair gets the note that it cannot be checked.
    for seed, wam_data, agra_data in ((0, "a" * 64, "a" * 64), (1, "a" * 64, "b" * 64), (2, None, "c" * 64)):
        _checkpoint_runs(tmp_path, "wam", seed, lambda e: True, lambda e, arm: True, data_sha256=wam_data)
        _checkpoint_runs(tmp_path, "agra", seed, lambda e: True, lambda e, arm: True, data_sha256=agra_data)
    notes = build_report([tmp_path]).notes
    different = [n for n in notes if "different data" in n]
    assert len(different) == 1 and "training seed 1" in different[0]
    assert "aaaaaaaaaaaa" in different[0] and "bbbbbbbbbbbb" in different[0]
    unchecked = [n for n in notes if "cannot be checked" in n]
    assert len(unchecked) == 1 and "training seed 2: no data_sha256 for wam" in unchecked[0]
    assert "one for agra" in unchecked[0] and "(cccccccccccc)" in unchecked[0]


def test_a_seed_whose_runs_mix_inference_precisions_gets_a_note(tmp_path):
    # Seed 0: both in bf16 (one machine); seed 1: agra resumed on a CPU without native bf16;
    # seed 2: wam from before the precision was recorded, agra in fp32. Seeds 1 and 2 are flagged.
    cases = ((0, ["bf16"], ["bf16"]), (1, ["bf16"], ["bf16", "fp32"]), (2, None, ["fp32"]))
    for seed, *precisions in cases:
        for policy, recorded in zip(("wam", "agra"), precisions, strict=True):
            _checkpoint_runs(tmp_path, policy, seed, lambda e: True, lambda e, arm: True, precisions=recorded)
    notes = [n for n in build_report([tmp_path]).notes if "inference precision" in n]
    assert len(notes) == 2, notes
    assert "training seed 1" in notes[0] and "bf16: 1 run, bf16+fp32: 1 run" in notes[0]
    assert "training seed 2" in notes[1] and "fp32: 1 run, not recorded: 1 run" in notes[1]


def _teacher_run(root, name, policy, seed, teacher, texture_ok):
    """A checkpoint's run: clean arm all successes, texture arm `texture_ok(e)`."""
    rows = [episode_row(name, policy, 0, e, "none", True) for e in range(20)]
    rows += [episode_row(name, policy, 0, e, "texture", texture_ok(e)) for e in range(20)]
    for row in rows:
        row["checkpoint"], row["checkpoint_sha1"] = f"/ckpt/{name}", name.ljust(40, "0")
    write_run(root, name, rows, train_seed=seed, teacher=teacher)


def test_agra_checkpoints_with_other_teachers_are_policies_of_their_own(tmp_path):
    """Seed 0: wam keeps 16/20 textured episodes, agra with MobileNetV2 12/20, agra with the
    semantic teacher 20/20. Each variant pairs with wam; `agra` in --compare stands for both."""
    _teacher_run(tmp_path, "wam-s0", "wam", 0, None, lambda e: e < 16)
    _teacher_run(tmp_path, "agra-mobilenet-s0", "agra", 0, "mobilenet_v2", lambda e: e < 12)
    _teacher_run(tmp_path, "agra-sim-s0", "agra", 0, "sim_semantic", lambda e: True)
    report = build_report(
        [tmp_path], comparisons=(("agra", "wam"), ("agra[sim_semantic]", "agra[mobilenet_v2]"))
    )
    assert set(report.leaderboard["policy"]) == {"wam", "agra[mobilenet_v2]", "agra[sim_semantic]"}
    pooled = report.pooled.set_index(["policy", "versus"])["difference"]
    assert pooled[("agra[mobilenet_v2]", "wam")] == pytest.approx(-0.2)
    assert pooled[("agra[sim_semantic]", "wam")] == pytest.approx(0.2)
    assert pooled[("agra[sim_semantic]", "agra[mobilenet_v2]")] == pytest.approx(0.4)
    assert len(report.headline) == 3  # a forest plot per pair
    # one teacher only: the policy keeps its plain name
    alone = tmp_path / "alone"
    _teacher_run(alone, "wam-s0", "wam", 0, None, lambda e: e < 16)
    _teacher_run(alone, "agra-mobilenet-s0", "agra", 0, "mobilenet_v2", lambda e: e < 12)
    assert set(build_report([alone]).leaderboard["policy"]) == {"wam", "agra"}


def test_compare_reads_policy_labels_that_hold_colons():
    """A served policy's label is its address and an imported one's is `module:Class`: `--compare`
    splits at the colon where both sides name a policy of the data, not at the first one."""
    policies = {
        "wam",
        "openpi://127.0.0.1:8000",
        "my_lab.policy:Policy",
        "agra[mobilenet_v2]",
        "agra[sim_semantic]",
    }
    specs = ["openpi://127.0.0.1:8000:wam", "my_lab.policy:Policy:openpi://127.0.0.1:8000", "agra:wam"]
    assert expand_comparisons(parse_comparisons(specs), policies) == (
        ("openpi://127.0.0.1:8000", "wam"),
        ("my_lab.policy:Policy", "openpi://127.0.0.1:8000"),
        ("agra[mobilenet_v2]", "wam"),
        ("agra[sim_semantic]", "wam"),
    )
