"""`agra-bench report`: statistics against scipy, pairing with known answers, bad files, stable output."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from agra_bench.errors import UsageError
from agra_bench.report import build_report
from agra_bench.report.render import format_table
from agra_bench.report.stats import paired_delta, wilson_interval
from tests.conftest import run_cli, run_episodes
from tests.helpers.synthetic_runs import episode_row, write_run


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (10, 10), (37, 50), (1, 3), (499, 500)])
def test_wilson_interval_equals_scipy(k, n):
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-12) and high == pytest.approx(expected.high, abs=1e-12)


def _arm(outcomes: list[bool], perturbation: str = "lighting", seed: int = 0, first: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        [episode_row("r", "p", 0, first + e, perturbation, s, seed=seed) for e, s in enumerate(outcomes)]
    )


def test_paired_delta_known_answer():
    # 20 paired episodes: both succeed on 8, only the control on 6, only the arm on 1, neither on 5.
    control = [True] * 8 + [True] * 6 + [False] * 1 + [False] * 5
    arm = [True] * 8 + [False] * 6 + [True] * 1 + [False] * 5
    result = paired_delta(_arm(arm), _arm(control, "none"))
    assert result.pairs == 20
    assert result.delta == pytest.approx((9 - 14) / 20)
    assert (result.arm_only, result.reference_only) == (1, 6)
    # McNemar's exact test is a two-sided binomial test on the 7 discordant pairs.
    assert result.mcnemar_p == pytest.approx(stats.binomtest(1, 7, 0.5).pvalue)
    assert result.ci_low < result.delta < result.ci_high <= 0.05
    assert paired_delta(_arm(arm), _arm(control, "none")) == result  # seeded bootstrap: repeatable


def test_identical_arms_have_a_zero_delta_and_p_one():
    outcomes = [True, False] * 10
    result = paired_delta(_arm(outcomes), _arm(outcomes, "none"))
    assert (result.delta, result.ci_low, result.ci_high, result.mcnemar_p) == (0.0, 0.0, 0.0, 1.0)


def test_arms_with_other_seeds_do_not_pair():
    result = paired_delta(_arm([True] * 10), _arm([False] * 10, "none", seed=7))
    assert result.pairs == 0 and pd.isna(result.delta)


def _synthetic_runs(root, control_seed=0, control_episodes=20):
    write_run(
        root,
        "wam-clean",
        [
            episode_row("wam-clean", "wam", 0, e, "none", e % 2 == 0, seed=control_seed)
            for e in range(control_episodes)
        ],
    )
    write_run(
        root, "wam-light", [episode_row("wam-light", "wam", 0, e, "lighting", e % 4 == 0) for e in range(20)]
    )
    write_run(
        root,
        "agra-all",
        [
            *[episode_row("agra-all", "agra", 0, e, "none", True) for e in range(20)],
            *[episode_row("agra-all", "agra", 0, e, "lighting", e % 4 != 3) for e in range(20)],
        ],
    )


def test_report_pairs_against_the_control_arm_and_between_policies(tmp_path):
    _synthetic_runs(tmp_path)
    report = build_report([tmp_path])
    board = report.leaderboard.set_index(["policy", "perturbation"])
    wam = board.loc[("wam", "lighting")]
    assert (wam.episodes, wam.successes, wam.success_rate) == (20, 5, 0.25)
    assert wam.delta_vs_clean == pytest.approx(0.25 - 0.5) and wam.delta_pairs == 20
    assert board.loc[("agra", "lighting")].delta_vs_clean == pytest.approx(-0.25)
    assert board.loc[("agra", "none")].note == "control arm"
    # the matched control arm's rate beside every perturbed rate: wam's clean arm, 10 of 20
    assert (wam.control_success_rate, wam.control_ci_low) == (0.5, pytest.approx(wilson_interval(10, 20)[0]))
    assert board.loc[("agra", "lighting")].control_success_rate == 1.0  # agra's own clean arm
    head = report.comparisons.set_index("perturbation").loc["lighting"]
    assert (head.policy, head.versus, head.delta_pairs) == ("agra", "wam", 20)
    assert head.delta == pytest.approx(0.75 - 0.25)
    for name in (
        "leaderboard.csv",
        "summary.csv",
        "tasks.csv",
        "comparisons.csv",
        "summary.md",
        "index.html",
    ):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert len(report.figures) >= 2 and all(f.path.read_bytes()[:4] == b"\x89PNG" for f in report.figures)
    # the head-to-head pairs are configurable (`--compare wam:agra`): the same pairs, sign flipped
    flipped = build_report([tmp_path], tmp_path / "flipped", comparisons=(("wam", "agra"),)).comparisons
    row = flipped.set_index("perturbation").loc["lighting"]
    assert (row.policy, row.versus, row.delta) == ("wam", "agra", pytest.approx(-0.5))


def test_unequal_arms_do_not_pair_and_partial_arms_pair_on_the_overlap(tmp_path):
    _synthetic_runs(tmp_path / "a", control_seed=99)  # control ran other seeds: nothing to pair
    wam = (
        build_report([tmp_path / "a"])
        .leaderboard.set_index(["policy", "perturbation"])
        .loc[("wam", "lighting")]
    )
    assert wam.delta_pairs == 0 and pd.isna(wam.delta_vs_clean) and "shares no" in wam.note
    _synthetic_runs(tmp_path / "b", control_episodes=8)  # control ran 8 of the 20 keys
    wam = (
        build_report([tmp_path / "b"])
        .leaderboard.set_index(["policy", "perturbation"])
        .loc[("wam", "lighting")]
    )
    assert wam.delta_pairs == 8 and "8 of 20" in wam.note
    assert wam.delta_vs_clean == pytest.approx(2 / 8 - 4 / 8)


def test_policy_without_control_arm_gets_empty_deltas_and_a_note(tmp_path):
    write_run(tmp_path, "r", [episode_row("r", "random", 0, e, "camera", False) for e in range(4)])
    report = build_report([tmp_path])
    row = report.leaderboard.iloc[0]
    assert pd.isna(row.delta_vs_clean) and row.note.startswith("no control arm")
    assert any("'random' has arms without a clean control arm" in n for n in report.notes)


def test_a_run_with_fewer_episodes_than_planned_gets_a_note(tmp_path):
    for name, finished in (("short", 3), ("whole", 4)):
        write_run(tmp_path, name, [episode_row(name, "wam", 0, e, "none", True) for e in range(finished)])
        identity = {"task_ids": [0, 1], "arms": [["none", 0]], "episodes": 2}  # 2 tasks x 1 arm x 2
        (tmp_path / name / "manifest.json").write_text(json.dumps({"identity": identity}))
    notes = build_report([tmp_path]).notes
    assert [n for n in notes if "incomplete" in n] == [
        "run short is incomplete: 3 of 4 planned episodes"
        " (still running or interrupted; its command resumes it)"
    ]


def test_errored_episodes_are_counted_but_not_scored(tmp_path):
    rows = [episode_row("r", "wam", 0, e, "none", True) for e in range(4)]
    rows.append(episode_row("r", "wam", 0, 4, "none", False, error="RuntimeError: boom"))
    write_run(tmp_path, "r", rows)
    row = build_report([tmp_path]).leaderboard.iloc[0]
    assert (row.episodes, row.successes, row.errors, row.success_rate) == (4, 4, 1, 1.0)


def test_corrupt_and_foreign_tables_are_reported_and_skipped(tmp_path):
    _synthetic_runs(tmp_path)
    good = tmp_path / "wam-clean" / "episodes.parquet"
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "episodes.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "foreign").mkdir()
    pq.write_table(pa.table({"success": [True]}), tmp_path / "foreign" / "episodes.parquet")
    report = build_report([tmp_path])
    skipped = [n for n in report.notes if n.startswith("skipped")]
    assert len(skipped) == 2
    assert any("truncated" in n and "unreadable Parquet" in n for n in skipped)
    assert any("foreign" in n and "missing column(s) run_id" in n for n in skipped)
    assert set(report.leaderboard["policy"]) == {"wam", "agra"}


def test_leaderboard_regenerates_byte_identically(tmp_path):
    _synthetic_runs(tmp_path / "runs")
    first = build_report([tmp_path / "runs"], tmp_path / "one")
    shutil.copytree(tmp_path / "runs", tmp_path / "copy")  # other paths, same rows
    build_report([tmp_path / "copy"], tmp_path / "two")
    for name in ("leaderboard.csv", "summary.csv", "comparisons.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    for figure in first.figures:
        assert figure.path.read_bytes() == (tmp_path / "two" / "figures" / figure.path.name).read_bytes()


def test_duplicate_episodes_across_runs_are_counted_once(tmp_path):
    _synthetic_runs(tmp_path / "x")
    shutil.copytree(tmp_path / "x" / "wam-clean", tmp_path / "x" / "wam-clean-again")
    report = build_report([tmp_path / "x"])
    assert report.leaderboard.set_index(["policy", "perturbation"]).loc[("wam", "none")].episodes == 20
    assert any("dropped 20 duplicate" in n for n in report.notes)


def test_runs_that_differ_only_in_image_size_or_checkpoint_stay_apart(tmp_path):
    def rows(run_id, **condition):
        return [{**episode_row(run_id, "wam", 0, e, "none", e < 10), **condition} for e in range(20)]

    write_run(tmp_path, "at-128", rows("at-128", checkpoint="/c/wam", checkpoint_sha1="a" * 40))
    write_run(tmp_path, "at-64", rows("at-64", image_size=64, checkpoint="/c/wam", checkpoint_sha1="a" * 40))
    write_run(tmp_path, "retrained", rows("retrained", checkpoint="/c/wam", checkpoint_sha1="b" * 40))
    report = build_report([tmp_path])
    assert not any("duplicate" in n for n in report.notes)
    board = report.leaderboard
    assert sorted(zip(board["policy"], board["image_size"], strict=True)) == [
        ("wam@wam-aaaaaaaa 128px", 128),
        ("wam@wam-aaaaaaaa 64px", 64),
        ("wam@wam-bbbbbbbb", 128),
    ]
    assert (board["episodes"] == 20).all()


def test_report_cli_on_a_real_run_and_bad_input(tmp_path):
    run_episodes(
        tmp_path / "runs",
        "--policy noop --suite robosuite_lift --episodes 2 --max-steps 3"
        " --perturb none,lighting --image-size 32",
    )
    result = run_cli("report", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    board = pd.read_csv(tmp_path / "runs" / "report" / "leaderboard.csv")
    assert list(board["perturbation"]) == ["none", "lighting"] and (board["episodes"] == 2).all()
    assert board.loc[1, "delta_pairs"] == 2  # the real control arm shares init states and seeds
    missing = run_cli("report", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "no such folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_cli("report", str(tmp_path / "empty"))
    assert empty.returncode == 2 and "no episodes.parquet found" in empty.stderr


def test_errors_as_failures_enter_rates_and_pairs_and_keep_their_count(tmp_path):
    from agra_bench.report import build_report
    from tests.helpers.synthetic_runs import episode_row, write_run

    rows = [episode_row("r1", "random", 0, e, "none", True) for e in range(4)]
    rows += [
        episode_row(
            "r1", "random", 0, e, "lighting", e < 2, error="PolicyCallError: boom" if e == 3 else None
        )
        for e in range(4)
    ]
    write_run(tmp_path / "runs", "r1", rows)
    default = build_report([tmp_path / "runs"], tmp_path / "a")
    strict = build_report([tmp_path / "runs"], tmp_path / "b", errors_as_failures=True)
    a = default.leaderboard.set_index("perturbation").loc["lighting"]
    b = strict.leaderboard.set_index("perturbation").loc["lighting"]
    assert (a["episodes"], a["successes"], a["errors"], a["delta_pairs"]) == (3, 2, 1, 3)
    assert (b["episodes"], b["successes"], b["errors"], b["delta_pairs"]) == (4, 2, 1, 4)
    assert any("--errors-as-failures" in note for note in default.notes)


def test_small_magnitudes_keep_their_digits_in_rendered_tables():
    """Diagnostics' intervention magnitudes are ~1e-3: one decimal printed them all as 0.0."""
    frame = pd.DataFrame({"action_change": [0.00123, -0.0456, 0.0, 12.345, float("nan")]})
    assert format_table(frame)["action_change"].tolist() == ["0.00123", "-0.0456", "0.0", "12.3", ""]


def test_unknown_training_seeds_render_as_empty_cells():
    frame = pd.DataFrame({"train_seed": pd.array([2, None], dtype="Int64")})
    assert format_table(frame)["train_seed"].tolist() == ["2", ""]


def test_a_rebuilt_report_keeps_no_figure_of_an_earlier_build(tmp_path):
    _synthetic_runs(tmp_path / "runs")
    first = build_report([tmp_path / "runs"], tmp_path / "out")
    shutil.rmtree(tmp_path / "runs" / "agra-all")
    second = build_report([tmp_path / "runs"], tmp_path / "out")
    assert {f.path.name for f in first.figures} > {f.path.name for f in second.figures}
    assert {p.name for p in (tmp_path / "out" / "figures").glob("*.png")} == {
        f.path.name for f in second.figures
    }


def test_every_file_the_report_writes_is_named_by_a_slug_of_its_label(tmp_path):
    """Served policies (`openpi://host:port?x=y`), classes (`pkg.mod:Class`) and checkpoint
    labels (`wam@folder`) used to end in a FileNotFoundError: figure names were built from labels.
    The labels stay readable in the tables; the files get slugs."""
    import re

    served, custom = "openpi://127.0.0.1:18706?x=y", "pkg.mod:Class"
    for run, policy in (("served", served), ("custom", custom)):
        rows = [episode_row(run, policy, 0, e, "none", e % 2 == 0) for e in range(4)]
        for severity in (1, 3):
            arm = f"lighting:severity={severity}"
            rows += [episode_row(run, policy, 0, e, arm, e % 3 == 0, severity=severity) for e in range(4)]
        write_run(tmp_path / "runs", run, rows)
    for run, folder, sha in (("ck0", "ck/wam s0:v1?", "1" * 40), ("ck1", "ck/wam|s1*", "2" * 40)):
        rows = [episode_row(run, "wam", 0, e, "none", e % 2 == 1) for e in range(4)]
        write_run(tmp_path / "runs", run, [{**r, "checkpoint": folder, "checkpoint_sha1": sha} for r in rows])
    report = build_report([tmp_path / "runs"], tmp_path / "out")
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name.startswith("severity_") for p in written)  # the severity plot, per policy
    assert sum(p.name.startswith("tasks_") for p in written) == 4  # one heatmap per label
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", p.name) for p in written), [p.name for p in written]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert served in summary and custom in summary and "wam@wam s0:v1?" in summary
    assert {f.path for f in report.figures} <= set(written)


def test_variants_table_gives_every_episode_beside_its_matched_control(tmp_path):
    _synthetic_runs(tmp_path)
    write_run(
        tmp_path, "noop-light", [episode_row("noop-light", "noop", 0, e, "lighting", False) for e in range(3)]
    )
    build_report([tmp_path])
    variants = pd.read_parquet(tmp_path / "report" / "variants.parquet")
    assert len(variants) == 20 + 20 + 40 + 3  # every episode, control arms included
    lit = variants[(variants["policy"] == "wam") & (variants["perturbation"] == "lighting")]
    wam = lit.sort_values("init_state_id")
    # wam's lighting episode e succeeded when e % 4 == 0; its clean arm when e % 2 == 0
    assert wam["success"].tolist() == [e % 4 == 0 for e in range(20)]
    assert wam["control_success"].tolist() == [e % 2 == 0 for e in range(20)]
    assert variants.loc[variants["policy"] == "noop", "control_success"].isna().all()  # no clean arm
    assert (variants["family"] == variants["perturbation"]).all() and variants["params_sha1"].str.len().eq(
        12
    ).all()
    csv = pd.read_csv(tmp_path / "report" / "variants.csv")
    assert list(csv.columns) == list(variants.columns) and len(csv) == len(variants)


def test_robustness_summaries_against_hand_computed_values(tmp_path):
    """A: clean 16/20, lighting 10/20, camera 14/20; B (baseline): clean 18/20, lighting 6/20,
    camera 12/20. mPC(A) = (0.5 + 0.7) / 2 = 0.6, rPC(A) = 0.6 / 0.8 = 0.75. Errors A: clean 0.2,
    lighting 0.5, camera 0.3; B: 0.1, 0.7, 0.4. mCE(A) = (0.5/0.7 + 0.3/0.4) / 2; relative
    mCE(A) = ((0.5-0.2)/(0.7-0.1) + (0.3-0.2)/(0.4-0.1)) / 2."""
    counts = {"A": {"none": 16, "lighting": 10, "camera": 14}, "B": {"none": 18, "lighting": 6, "camera": 12}}
    for policy, arms in counts.items():
        rows = [
            episode_row(policy, policy, 0, e, arm, e < k, severity=0 if arm == "none" else 3)
            for arm, k in arms.items()
            for e in range(20)
        ]
        write_run(tmp_path / "runs", policy, rows)
    build_report([tmp_path / "runs"], tmp_path / "out", baseline="B")
    table = pd.read_csv(tmp_path / "out" / "robustness.csv").set_index("policy_label")
    a, b = table.loc["A"], table.loc["B"]
    assert (a.clean, a.mpc, a.rpc) == (pytest.approx(0.8), pytest.approx(0.6), pytest.approx(0.75, abs=1e-4))
    assert (a.arms, a.clusters, a.episodes) == (2, 20, 60)
    assert a.clean_ci_low < 0.8 < a.clean_ci_high and a.rpc_ci_low < 0.75 < a.rpc_ci_high
    assert a.mce == pytest.approx((0.5 / 0.7 + 0.3 / 0.4) / 2, abs=1e-4)
    assert a.relative_mce == pytest.approx(((0.5 - 0.2) / 0.6 + (0.3 - 0.2) / 0.3) / 2, abs=1e-4)
    assert b.mce == pytest.approx(1.0) and b.relative_mce == pytest.approx(1.0)
    with pytest.raises(UsageError, match="valid: A, B"):
        build_report([tmp_path / "runs"], tmp_path / "out2", baseline="C")


def test_goal_progress_is_the_mean_share_of_goal_conditions_met_and_empty_when_unrecorded(tmp_path):
    """libero_10-like rows: a success (2 of 2), a failure with one object in (1 of 2), one with
    none (0 of 2) and an errored episode (unknown, not scored): 50% of the goal, where the
    success rate says 33%. A run written before episode schema 6 has no such column: empty."""
    outcomes = [(True, 2), (False, 1), (False, 0)]
    rows = []
    for episode, (success, met) in enumerate(outcomes):
        row = episode_row("wam-ten", "wam", 0, episode, "none", success, suite="libero_10")
        rows.append({**row, "goal_conditions": 2, "goal_conditions_met": met})
    rows.append(episode_row("wam-ten", "wam", 0, 3, "none", False, suite="libero_10", error="Boom: x"))
    write_run(tmp_path, "wam-ten", rows)
    write_run(tmp_path, "agra-old", [episode_row("agra-old", "agra", 0, e, "none", e == 0) for e in range(2)])
    build_report([tmp_path])
    arms = pd.read_csv(tmp_path / "report" / "summary.csv").set_index("policy_label")
    assert arms.loc["wam", "success_rate"] == pytest.approx(1 / 3, abs=1e-4)  # CSV: 4 decimals
    assert arms.loc["wam", "goal_progress"] == pytest.approx(0.5)
    assert pd.isna(arms.loc["agra", "goal_progress"])
    tasks = pd.read_csv(tmp_path / "report" / "tasks.csv").set_index("policy_label")
    assert tasks.loc["wam", "goal_progress"] == pytest.approx(0.5)
    per_task = (tmp_path / "report" / "summary.md").read_text().split("## Per task")[1].split("\n## ")[0]
    header = next(line for line in per_task.splitlines() if line.startswith("| policy"))
    wam = next(line for line in per_task.splitlines() if line.startswith("| wam"))
    agra = next(line for line in per_task.splitlines() if line.startswith("| agra"))
    column = [c.strip() for c in header.split("|")].index("goal_progress")
    assert [c.strip() for c in wam.split("|")][column] == "50.0%"
    assert [c.strip() for c in agra.split("|")][column] == ""
