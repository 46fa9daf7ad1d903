"""Report figures (matplotlib, PNG). Each function draws one kind of figure per suite and
returns the figures it wrote; a figure with nothing to show (no OOD arm, one severity) is
skipped rather than drawn empty, and the report says so."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from agra_bench.names import slug  # noqa: E402
from agra_bench.report.levels import clean_rates  # noqa: E402
from agra_bench.report.tables import CONTROL  # noqa: E402

DPI = 110


@dataclass(frozen=True)
class Figure:
    title: str
    path: Path
    caption: str


def _arm_label(row: pd.Series) -> str:
    """`lighting+camera:severity=4` at severity 4, split id -> 'lighting+camera / s4 id'."""
    if row["perturbation"] == CONTROL:
        return "clean"
    name = re.sub(r"severity=\d;?", "", row["perturbation"]).replace(":+", "+").rstrip(":;")
    return f"{name}\ns{row['severity']} {row['split']}"


#: Widest figure drawn, in inches (1540 px at DPI): the HTML scales figures to the page, and a
#: wider one would shrink its text below reading size.
MAX_WIDTH_IN = 14.0


def overlapping_tick_labels(ax: plt.Axes) -> bool:
    """Whether any two neighbouring x tick labels overlap as drawn. Unrotated labels overlap
    when their boxes do (touching counts); rotated ones are parallel lines of text, which
    overlap when the gap between their anchors, measured across the text, is below its height."""
    renderer = ax.figure.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
    angle = labels[0].get_rotation() if labels else 0
    if angle % 180 == 0:
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        return any(a.x1 + 2 > b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
    anchors = sorted(ax.transData.transform((t.get_position()[0], 0))[0] for t in labels)
    pixels_per_point = ax.figure.dpi / 72
    height = max(t.get_fontsize() * pixels_per_point * 1.2 * (t.get_text().count("\n") + 1) for t in labels)
    across = abs(np.sin(np.radians(angle)))
    return any((b - a) * across < height for a, b in zip(anchors, anchors[1:], strict=False))


def _fit_tick_labels(fig: plt.Figure) -> None:
    """Rotate the x tick labels of an axis whose labels overlap (45 degrees, then 90)."""
    fig.canvas.draw()
    for ax in fig.axes:
        for angle in (45, 90):
            if not overlapping_tick_labels(ax):
                break
            for label in ax.get_xticklabels():
                label.set_rotation(angle)
                label.set_horizontalalignment("right" if angle == 45 else "center")
                label.set_rotation_mode("anchor" if angle == 45 else "default")
            fig.tight_layout()
            fig.canvas.draw()


def save_figure(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    _fit_tick_labels(fig)
    # A fixed date and no software tag keep the bytes identical from run to run.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def _errorbars(rates: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    return np.vstack([(rates - low).clip(lower=0), (high - rates).clip(lower=0)])


#: Bars per chart above which the chart turns horizontal: its height then grows with the arms,
#: where a vertical chart would squeeze its labels past reading.
MAX_VERTICAL_BARS = 40
#: Arms per task heatmap above which the arms become its rows.
MAX_HEATMAP_COLUMNS = 24


def _grouped_bars(labels: list[str], series: dict[str, pd.DataFrame], ylabel: str) -> plt.Figure:
    """One group of bars per label, one bar per series (rows indexed by label); horizontal
    when there are too many bars for the page's width."""
    bar = 0.8 / len(series)
    offsets = {name: (i - (len(series) - 1) / 2) * bar for i, name in enumerate(series)}
    horizontal = len(labels) * len(series) > MAX_VERTICAL_BARS
    if horizontal:
        labels_shown = [label.replace("\n", " ") for label in labels]
        fig, ax = plt.subplots(figsize=(10, 0.18 * len(labels) * len(series) + 1.5))
        positions = np.arange(len(labels))[::-1]
    else:
        labels_shown = labels
        width = min(MAX_WIDTH_IN, max(6, 0.9 * len(labels) * max(1, len(series) / 2)))
        fig, ax = plt.subplots(figsize=(width, 4.5))
        positions = np.arange(len(labels))
    for name, rows in series.items():
        rows = rows.reindex(labels)
        errors = _errorbars(rows["success_rate"], rows["ci_low"], rows["ci_high"])
        place = ax.barh if horizontal else ax.bar
        error = {"xerr": errors} if horizontal else {"yerr": errors}
        shift = -offsets[name] if horizontal else offsets[name]  # the first series on top / left
        place(positions + shift, rows["success_rate"], bar, label=name, capsize=2, **error)
    if horizontal:
        ax.set_yticks(positions, labels_shown, fontsize=8)
        ax.set_xlim(0, 1.05)
        ax.set_xlabel(ylabel)
    else:
        ax.set_xticks(positions, labels_shown, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def success_by_arm(arms: pd.DataFrame, out: Path) -> list[Figure]:
    figures = []
    for suite, data in arms.groupby("suite", sort=True):
        data = data.assign(label=data.apply(_arm_label, axis=1), control=data["perturbation"] != CONTROL)
        labels = list(dict.fromkeys(data.sort_values(["control", "family", "severity", "split"])["label"]))
        series = {policy: rows.set_index("label") for policy, rows in data.groupby("policy_label", sort=True)}
        fig = _grouped_bars(labels, series, "success rate (Wilson 95% CI)")
        fig.axes[0].set_title(f"{suite}: success per perturbation")
        path = save_figure(fig, out / f"success_by_perturbation_{slug(suite)}.png")
        figures.append(
            Figure(
                f"{suite}: success per perturbation",
                path,
                "Bars: success rate per arm; whiskers: Wilson 95% interval.",
            )
        )
    return figures


def success_vs_severity(arms: pd.DataFrame, out: Path) -> list[Figure]:
    """Dose-response: per suite and family run at two or more severities, success against
    severity with one line per policy (solid ID, dashed OOD), the clean arm at severity 0."""
    figures = []
    perturbed = arms[arms["perturbation"] != CONTROL]
    clean = clean_rates(arms)
    for (suite, family), data in perturbed.groupby(["suite", "family"], sort=True):
        if data["severity"].nunique() < 2:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for index, (policy, policy_rows) in enumerate(data.groupby("policy_label", sort=True)):
            color = f"C{index % 10}"
            for split, rows in policy_rows.groupby("split", sort=True):
                start = clean[
                    (clean["policy_label"] == policy) & (clean["suite"] == suite) & (clean["split"] == split)
                ].head(1)
                # One severity measured: points only, so no line suggests the levels in between.
                curve = rows["severity"].nunique() > 1
                rows = pd.concat([start, rows]).sort_values("severity")
                ax.errorbar(
                    rows["severity"],
                    rows["success_rate"],
                    yerr=_errorbars(rows["success_rate"], rows["ci_low"], rows["ci_high"]),
                    capsize=3,
                    marker="o",
                    color=color,
                    linestyle=("-" if split == "id" else "--") if curve else "none",
                    label=f"{policy} ({split.upper()})",
                )
        severities = sorted({0, *data["severity"].unique()})
        ax.set_xticks(severities, ["clean" if s == 0 else str(s) for s in severities])
        ax.set_xlabel("severity")
        ax.set_ylabel("success rate (Wilson 95% CI)")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{suite}: {family} against severity")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        path = save_figure(fig, out / f"severity_{slug(suite)}_{slug(family)}.png")
        figures.append(
            Figure(
                f"{suite}: {family} against severity",
                path,
                "Success per severity, one line per policy (solid: ID variants, dashed: OOD); "
                "the first point is the clean control arm; a policy run at one severity only "
                "has points, no line.",
            )
        )
    return figures


def task_heatmaps(tasks: pd.DataFrame, out: Path) -> list[Figure]:
    figures = []
    for (suite, policy), data in tasks.groupby(["suite", "policy_label"], sort=True):
        data = data.assign(label=data.apply(_arm_label, axis=1).str.replace("\n", " "))
        grid = data.pivot_table(index="task_id", columns="label", values="success_rate", aggfunc="mean")
        columns = sorted(grid.columns, key=lambda c: (c != "clean", c))
        grid = grid[columns]
        # Many arms: arms become the rows (the figure grows downwards, labels stay readable).
        tasks_as_columns = len(columns) > MAX_HEATMAP_COLUMNS
        task_names = [f"task {t}" for t in grid.index]
        matrix = (grid.T if tasks_as_columns else grid).to_numpy(dtype=float)
        x_labels, y_labels = (task_names, columns) if tasks_as_columns else (columns, task_names)
        fig, ax = plt.subplots(
            figsize=(
                min(MAX_WIDTH_IN, max(4, 0.8 * len(x_labels) + 2 + 0.05 * max(map(len, y_labels)))),
                max(2.5, 0.35 * len(y_labels) + 1.5),
            )
        )
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(x_labels)), x_labels, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(y_labels)), y_labels, fontsize=8)
        for (i, j), value in np.ndenumerate(matrix):
            if not np.isnan(value):
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 0.5 else "black",
                )
        fig.colorbar(image, ax=ax, label="success rate")
        ax.set_title(f"{suite} / {policy}: success per task")
        path = save_figure(fig, out / f"tasks_{slug(suite)}_{slug(policy)}.png")
        figures.append(
            Figure(f"{suite} / {policy}: success per task", path, "Success rate per task and arm.")
        )
    return figures


def id_vs_ood(arms: pd.DataFrame, out: Path) -> list[Figure]:
    figures = []
    perturbed = arms[arms["perturbation"] != CONTROL]
    for suite, data in perturbed.groupby("suite", sort=True):
        both = data.groupby(["policy_label", "perturbation", "severity"]).filter(
            lambda g: set(g["split"]) >= {"id", "ood"}
        )
        if both.empty:
            continue
        both = both.assign(
            label=both["policy_label"] + "\n" + both["perturbation"] + " s" + both["severity"].astype(str)
        )
        labels = sorted(both["label"].unique())
        series = {split.upper(): rows.set_index("label") for split, rows in both.groupby("split", sort=True)}
        fig = _grouped_bars(labels, series, "success rate (Wilson 95% CI)")
        fig.axes[0].set_title(f"{suite}: in-distribution vs held-out variants")
        path = save_figure(fig, out / f"id_vs_ood_{slug(suite)}.png")
        figures.append(
            Figure(f"{suite}: ID vs OOD", path, "Same family and severity, ID pool against held-out pool.")
        )
    return figures
