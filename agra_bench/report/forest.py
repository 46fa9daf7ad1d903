"""The headline figure: one forest plot per compared pair and suite.

A reader of a robustness comparison wants one answer: where does the first policy keep more
success than the second under task-irrelevant change, and by how much we can be sure of? The
forest plot shows it without a table: one row per arm (a family at one severity, ID and then
OOD), the paired difference and its 95% cluster-bootstrap interval, the zero line, and the
pooled rows of each split at the bottom (diamonds). Two panels share the rows:

- left, `difference`: success of the first minus the second on the same perturbed episodes;
- right, `drop_difference`: the first's drop from its own clean arm minus the second's, which
  separates robustness from clean skill (positive: the first loses less).

Every number comes from `pooled.csv` (agra_bench/report/pooled.py); the figure adds none.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from agra_bench.names import slug
from agra_bench.report.plots import Figure, plt, save_figure

#: (estimate, interval low, interval high, panel title) of pooled.csv, left to right.
PANELS = (
    ("difference", "ci_low", "ci_high", "success: {first} − {second}"),
    ("drop_difference", "drop_ci_low", "drop_ci_high", "drop from clean: {first}'s − {second}'s"),
)
ROW_HEIGHT_IN = 0.3
#: The scopes of pooled.csv drawn as diamonds, below the arms: the pooled rows of each split.
TOTALS = ("pooled", "all_arms")


def _arm_name(arms: str) -> str:
    """`texture:severity=1` -> `texture` (the severity is shown once, as `s1`)."""
    return re.sub(r"severity=\d;?", "", arms).replace(":+", "+").rstrip(":;")


def _row_label(row: pd.Series, several_severities: bool) -> str:
    split = str(row["split"]).upper()
    severity = f" s{row['severities']}" if several_severities else ""
    if row["scope"] == "pooled":  # one pooled row per severity (pooled.py)
        every_arm = not row["arms_left_out"]
        return f"pooled {split}{severity} ({'all perturbed arms' if every_arm else 'arms every seed ran'})"
    if row["scope"] == "all_arms":  # only where the seeds ran different arms
        return f"pooled {split}{severity} (seeds {row['train_seeds']}: all arms)"
    return f"{_arm_name(row['arms'])}{severity} ({split})"


def _rows(pooled: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """(label, row) top to bottom: each split's arms by family and severity, then the pooled
    rows."""
    several = pooled["severities"].nunique() > 1
    arms = pooled[pooled["scope"] == "arm"]
    order = arms.assign(name=arms["arms"].map(_arm_name), level=arms["severities"].astype(int))
    arms = arms.loc[order.sort_values(["split", "name", "level"]).index]
    totals = pooled[pooled["scope"].isin(TOTALS)].sort_values(
        ["split", "scope"], ascending=[True, False], kind="stable"
    )
    return [(_row_label(row, several), row) for frame in (arms, totals) for _, row in frame.iterrows()]


def forest_plots(pooled: pd.DataFrame, out: Path) -> list[Figure]:
    """One figure per (first, second, suite) in `pooled` (empty: no figure)."""
    figures: list[Figure] = []
    if pooled.empty:
        return figures
    for (first, second, suite), group in pooled.groupby(["policy", "versus", "suite"], sort=True):
        rows = _rows(group)
        y = np.arange(len(rows))[::-1]
        fig, axes = plt.subplots(
            1, 2, sharey=True, figsize=(10, ROW_HEIGHT_IN * len(rows) + 1.6), squeeze=False
        )
        for ax, (column, low_column, high_column, title) in zip(axes[0], PANELS, strict=True):
            for position, (_, row) in zip(y, rows, strict=True):
                estimate, low, high = (100 * float(row[c]) for c in (column, low_column, high_column))
                if np.isnan(estimate):
                    continue
                total = row["scope"] in TOTALS
                ax.errorbar(
                    estimate,
                    position,
                    xerr=[[max(estimate - low, 0)], [max(high - estimate, 0)]],
                    fmt="D" if total else "o",
                    markersize=7 if total else 5,
                    color="black" if total else ("tab:blue" if row["split"] == "id" else "tab:orange"),
                    capsize=3,
                )
            ax.axvline(0, color="grey", linewidth=0.8)
            pooled_rows = sum(1 for _, row in rows if row["scope"] in TOTALS)
            if pooled_rows < len(rows):
                ax.axhline(pooled_rows - 0.5, color="grey", linewidth=0.5, linestyle=":")
            ax.set_title(title.format(first=first, second=second), fontsize=10)
            ax.set_xlabel("percentage points (95% cluster-bootstrap CI)", fontsize=8)
            ax.grid(axis="x", alpha=0.3)
        axes[0][0].set_yticks(y, [label for label, _ in rows], fontsize=8)
        fig.suptitle(f"{suite}: {first} vs {second} under task-irrelevant change", fontsize=11)
        path = save_figure(fig, out / f"forest_{slug(suite)}_{slug(first)}_vs_{slug(second)}.png")
        figures.append(
            Figure(
                f"{suite}: {first} vs {second}",
                path,
                f"Each row: {first} minus {second} on paired episodes (same arm, training seed, task, "
                "init state and seed); whiskers: 95% cluster bootstrap over (training seed, task, "
                "init state). Left: success difference; right: drop from each policy's own clean "
                f"arm, {first}'s minus {second}'s (positive: {first} loses less). Blue: ID arms; "
                "orange: OOD arms; diamonds: the perturbed arms of a split pooled (the arms every "
                "training seed ran; where seeds ran different arms, also every arm over the seeds "
                "that ran them all).",
            )
        )
    return figures
