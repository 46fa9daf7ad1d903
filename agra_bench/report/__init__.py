"""`agra-bench report`: runs' episode tables in, paper-ready tables, figures and a leaderboard out.

Pipeline: `load` (find, validate, merge, deduplicate) -> `tables` (Wilson intervals, paired
deltas against the control arm, head-to-head policy comparisons) -> `pooled` (one head-to-head
per split over all perturbed arms, cluster bootstrap) -> `forest` (the headline figure) and
`plots` -> `render`.
Everything written is a pure function of the input rows, so the same runs give the same files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from agra_bench import __version__
from agra_bench.errors import check_writable
from agra_bench.records import atomic_write_bytes
from agra_bench.report import plots
from agra_bench.report.diagnostics import diagnostics_figure, load_diagnostics
from agra_bench.report.forest import forest_plots
from agra_bench.report.integrity import integrity_notes, integrity_table
from agra_bench.report.levels import level_table
from agra_bench.report.load import load_runs
from agra_bench.report.pooled import balancing_notes, pooled_comparisons, without_flagged_arms
from agra_bench.report.render import render_html, render_markdown
from agra_bench.report.robustness import robustness_table
from agra_bench.report.tables import (
    DEFAULT_COMPARISONS,
    add_control_deltas,
    arm_summary,
    expand_comparisons,
    leaderboard,
    policy_comparisons,
    task_summary,
)
from agra_bench.report.variants import variant_table

POOLED_TITLE = (
    "Pooled head-to-head over the perturbed arms of each split, then each training seed alone, "
    "then each arm over the seeds (95% interval: bootstrap over whole clusters of training seed, "
    "task and init state; drop_difference: first policy's drop from its clean arm minus the "
    "second's)"
)

ROBUSTNESS_TITLE = (
    "Robustness summary (clean rate, mPC = mean success over the perturbed arms, rPC = mPC / clean; "
    "95% cluster-bootstrap intervals)"
)
LEVELS_TITLE = "Success per family and severity level (clean = level 0)"


@dataclass
class Report:
    out: Path
    leaderboard: pd.DataFrame
    comparisons: pd.DataFrame
    pooled: pd.DataFrame
    notes: list[str]
    figures: list[plots.Figure]
    headline: list[plots.Figure]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    text = frame.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    atomic_write_bytes(path, text.encode())


def build_report(
    dirs: list[Path],
    out: Path | None = None,
    errors_as_failures: bool = False,
    comparisons: tuple[tuple[str, str], ...] = DEFAULT_COMPARISONS,
    baseline: str | None = None,
) -> Report:
    """Build DIR/report/ (or `out`) from every run below `dirs`; `comparisons`: the policy
    pairs compared head to head (first minus second); `baseline`: the policy label that
    robustness.csv's corruption errors (mCE) are relative to."""
    dirs = [Path(d) for d in dirs]
    out = Path(out) if out is not None else (dirs[0] if dirs[0].is_dir() else dirs[0].parent) / "report"
    loaded = load_runs(dirs, errors_as_failures)
    check_writable(out)
    episodes = loaded.episodes
    notes = list(loaded.notes)

    comparisons = expand_comparisons(comparisons, set(episodes["policy"]))
    arms = add_control_deltas(arm_summary(episodes), episodes)
    tasks = task_summary(episodes)
    integrity = integrity_table(episodes)
    notes += integrity_notes(integrity)
    pooled = pooled_comparisons(without_flagged_arms(episodes, integrity), comparisons)
    if integrity["flagged"].any() and not pooled.empty:
        notes.append("the pooled head-to-head leaves out the arms flagged by the integrity check")
    notes += balancing_notes(pooled)
    comparisons = policy_comparisons(episodes, comparisons)
    board = leaderboard(arms)
    for policy, group in arms.groupby("policy_label"):
        if (group["note"].str.startswith("no control arm")).any():
            notes.append(f"policy '{policy}' has arms without a clean control arm: their deltas are empty")

    figure_dir = out / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    headline = forest_plots(pooled, figure_dir)
    figures = [
        *plots.success_by_arm(arms, figure_dir),
        *plots.success_vs_severity(arms, figure_dir),
        *plots.id_vs_ood(arms, figure_dir),
        *plots.task_heatmaps(tasks, figure_dir),
    ]

    _write_csv(board, out / "leaderboard.csv")
    _write_csv(arms, out / "summary.csv")
    _write_csv(tasks, out / "tasks.csv")
    _write_csv(comparisons, out / "comparisons.csv")
    _write_csv(integrity, out / "integrity.csv")
    _write_csv(pooled, out / "pooled.csv")
    robustness = robustness_table(episodes, baseline)
    _write_csv(robustness, out / "robustness.csv")
    levels = level_table(arms)
    _write_csv(levels, out / "levels.csv")
    variants = variant_table(episodes)
    _write_csv(variants, out / "variants.csv")
    buffer = io.BytesIO()
    variants.to_parquet(buffer, index=False)
    atomic_write_bytes(out / "variants.parquet", buffer.getvalue())

    header = (
        f"{len(episodes)} episodes from {len(loaded.runs)} run(s): "
        f"{', '.join(sorted(episodes['policy_label'].unique()))} on "
        f"{', '.join(sorted(episodes['suite'].unique()))}. Success rates with Wilson 95% intervals; "
        "deltas are paired on (task, init state, seed) with a percentile bootstrap 95% interval "
        f"and McNemar's p-value. Made by agra-bench {__version__}."
    )
    task_columns = [
        "policy_label",
        "suite",
        "perturbation",
        "severity",
        "split",
        "task_id",
        "task_name",
        "episodes",
        "successes",
        "success_rate",
        "ci_low",
        "ci_high",
        "goal_progress",
        "errors",
    ]
    diagnostics, diagnostic_notes = load_diagnostics(dirs)
    notes += diagnostic_notes
    if not diagnostics.empty:
        _write_csv(diagnostics, out / "diagnostics.csv")
        figures.append(diagnostics_figure(diagnostics, figure_dir))
    sections = {
        "Leaderboard": board,
        ROBUSTNESS_TITLE: robustness,
        LEVELS_TITLE: levels,
        "Head-to-head (paired on identical episodes)": comparisons,
        POOLED_TITLE: pooled,
        "Per task": tasks[task_columns].rename(columns={"policy_label": "policy"}),
    }
    if not diagnostics.empty:
        sections["Diagnostics (attention and interventions, means over policy calls)"] = diagnostics
    _drop_stale_figures(figure_dir, [*headline, *figures])
    html = render_html(sections, figures, notes, header, headline)
    atomic_write_bytes(out / "index.html", html.encode())
    markdown = render_markdown(sections, figures, notes, header, headline)
    atomic_write_bytes(out / "summary.md", markdown.encode())
    return Report(out, board, comparisons, pooled, notes, figures, headline)


def _drop_stale_figures(figure_dir: Path, figures: list[plots.Figure]) -> None:
    """`figures/` is the report's own folder: a figure an earlier report wrote and this one did
    not (a policy now labelled by checkpoint, a run removed) would otherwise sit beside the new
    ones as if it were current."""
    current = {figure.path.name for figure in figures}
    for path in figure_dir.glob("*.png"):
        if path.name not in current:
            path.unlink()
