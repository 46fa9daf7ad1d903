"""The report's at-a-glance parts: the forest plot that leads it, the dose-response curves, the
family x severity table, and figures whose tick labels never overlap. Synthetic episodes in the
real schema with outcomes chosen so that every expected number is known by hand."""

from __future__ import annotations

import matplotlib.figure
import pandas as pd
import pytest

from agra_bench.report import build_report
from agra_bench.report.forest import _rows
from agra_bench.report.plots import overlapping_tick_labels, plt
from tests.helpers.synthetic_runs import episode_row, write_run

EPISODES = 20


def _dose_response(root, families=("texture", "lighting"), severities=(1, 3, 5)) -> None:
    """wam succeeds on 16/20 clean episodes and loses 2 more per severity level on every family;
    agra succeeds on all 20 clean ones and loses 4 per level: agra's drop grows twice as fast."""
    for policy, clean, loss in (("wam", 16, 2), ("agra", 20, 4)):
        rows = [episode_row(policy, policy, 0, e, "none", e < clean) for e in range(EPISODES)]
        for family in families:
            for severity in severities:
                for split in ("id", "ood"):
                    name = family if severity == 3 else f"{family}:severity={severity}"
                    keep = clean - loss * severity
                    rows += [
                        episode_row(policy, policy, 0, e, name, e < keep, severity, split)
                        for e in range(EPISODES)
                    ]
        write_run(root, policy, rows)


def test_forest_plot_leads_the_report_with_one_row_per_arm_and_the_pooled_rows_last(tmp_path):
    _dose_response(tmp_path)
    report = build_report([tmp_path])
    assert [f.path.name for f in report.headline] == ["forest_libero_object_agra_vs_wam.png"]
    pooled = report.pooled
    assert set(pooled["scope"]) == {"pooled", "arm"}  # one training seed: no per-seed rows
    arms = pooled[pooled["scope"] == "arm"]
    assert len(arms) == 2 * 3 * 2  # family x severity x split, severities kept apart
    texture1 = arms[(arms["arms"] == "texture:severity=1") & (arms["split"] == "id")].iloc[0]
    # agra: 16/20 vs wam: 14/20 at severity 1; drops -4/20 vs -2/20
    assert texture1["difference"] == pytest.approx(0.1)
    assert texture1["drop_difference"] == pytest.approx(-0.1)
    labels = [label for label, _ in _rows(pooled)]
    # one pooled row per split and severity: a sweep of one family never outweighs the others
    assert labels[-6:] == [
        f"pooled {split} s{s} (all perturbed arms)" for split in ("ID", "OOD") for s in (1, 3, 5)
    ]
    assert labels[:4] == ["lighting s1 (ID)", "lighting s3 (ID)", "lighting s5 (ID)", "texture s1 (ID)"]
    assert len(labels) == len(arms) + 6
    html = (report.out / "index.html").read_text()
    assert html.index("Headline") < html.index("<h2>Leaderboard") and html.count('class="headline"') == 1
    summary = (report.out / "summary.md").read_text()
    assert summary.index("forest_libero_object_agra_vs_wam.png") < summary.index("## Leaderboard")


def test_severity_curves_and_the_family_by_level_table(tmp_path):
    _dose_response(tmp_path)
    report = build_report([tmp_path])
    names = {f.path.name for f in report.figures}
    assert {"severity_libero_object_texture.png", "severity_libero_object_lighting.png"} <= names
    levels = pd.read_csv(report.out / "levels.csv")
    assert list(levels.columns) == ["policy", "suite", "split", "family", "clean", "s1", "s3", "s5"]
    wam = levels[(levels["policy"] == "wam") & (levels["family"] == "texture") & (levels["split"] == "ood")]
    assert wam[["clean", "s1", "s3", "s5"]].iloc[0].tolist() == pytest.approx([0.8, 0.7, 0.5, 0.3])
    agra = levels[(levels["policy"] == "agra") & (levels["family"] == "lighting") & (levels["split"] == "id")]
    assert agra[["clean", "s1", "s3", "s5"]].iloc[0].tolist() == pytest.approx([1.0, 0.8, 0.4, 0.0])
    assert "Success per family and severity level" in (report.out / "index.html").read_text()


def test_one_severity_draws_no_curve_and_a_level_table_with_one_column(tmp_path):
    _dose_response(tmp_path, families=("texture",), severities=(3,))
    report = build_report([tmp_path])
    assert not [f for f in report.figures if f.path.name.startswith("severity_")]
    assert list(pd.read_csv(report.out / "levels.csv").columns)[-2:] == ["clean", "s3"]
    # one arm per split: the pooled row is the only row, and the forest plot still draws it
    assert set(report.pooled["scope"]) == {"pooled"} and len(report.headline) == 1


def test_no_figure_is_saved_with_overlapping_tick_labels(tmp_path, monkeypatch):
    """Many arms and long policy labels: every axis of every figure the report saves is
    checked as it is saved (the check itself is tested on a crowded axis first)."""
    crowded, ax = plt.subplots(figsize=(4, 3))
    ax.set_xticks(range(12), [f"a long tick label {i}" for i in range(12)])
    crowded.canvas.draw()
    assert overlapping_tick_labels(ax)
    plt.close(crowded)

    checked = []
    original = matplotlib.figure.Figure.savefig

    def checking_savefig(fig, *args, **kwargs):
        fig.canvas.draw()
        for axis in fig.axes:
            assert not overlapping_tick_labels(axis), f"overlapping tick labels in {args[0]}"
        checked.append(args[0])
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", checking_savefig)
    families = ("texture", "lighting", "camera", "background", "noise", "object_color", "distractor")
    _dose_response(tmp_path, families=families, severities=(1, 2, 3, 4, 5))
    report = build_report([tmp_path])
    assert len(checked) == len(report.figures) + len(report.headline) >= 10
