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


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    # A fixed date and no software tag keep the bytes identical from run to run.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def _errorbars(rates: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    return np.vstack([(rates - low).clip(lower=0), (high - rates).clip(lower=0)])


def success_by_arm(arms: pd.DataFrame, out: Path) -> list[Figure]:
    figures = []
    for suite, data in arms.groupby("suite", sort=True):
        data = data.assign(label=data.apply(_arm_label, axis=1), control=data["perturbation"] != CONTROL)
        labels = list(dict.fromkeys(data.sort_values(["control", "family", "severity", "split"])["label"]))
        policies = sorted(data["policy_label"].unique())
        width = 0.8 / len(policies)
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(labels) * max(1, len(policies) / 2)), 4))
        for i, policy in enumerate(policies):
            rows = data[data["policy_label"] == policy].set_index("label").reindex(labels)
            x = np.arange(len(labels)) + (i - (len(policies) - 1) / 2) * width
            ax.bar(
                x,
                rows["success_rate"],
                width,
                label=policy,
                yerr=_errorbars(rows["success_rate"], rows["ci_low"], rows["ci_high"]),
                capsize=3,
            )
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("success rate (Wilson 95% CI)")
        ax.set_title(f"{suite}: success per perturbation")
        ax.legend(fontsize=8)
        path = _save(fig, out / f"success_by_perturbation_{slug(suite)}.png")
        figures.append(
            Figure(
                f"{suite}: success per perturbation",
                path,
                "Bars: success rate per arm; whiskers: Wilson 95% interval.",
            )
        )
    return figures


def success_vs_severity(arms: pd.DataFrame, out: Path) -> list[Figure]:
    figures = []
    perturbed = arms[arms["perturbation"] != CONTROL]
    for (suite, policy), data in perturbed.groupby(["suite", "policy_label"], sort=True):
        if data["severity"].nunique() < 2:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for (family, split), rows in data.groupby(["family", "split"], sort=True):
            rows = rows.sort_values("severity")
            ax.errorbar(
                rows["severity"],
                rows["success_rate"],
                capsize=3,
                marker="o",
                label=f"{family} ({split})",
                yerr=_errorbars(rows["success_rate"], rows["ci_low"], rows["ci_high"]),
            )
        clean = arms[
            (arms["suite"] == suite) & (arms["policy_label"] == policy) & (arms["perturbation"] == CONTROL)
        ]
        if not clean.empty:
            ax.axhline(clean["success_rate"].iloc[0], color="k", linestyle="--", label="clean")
        ax.set_xlabel("severity")
        ax.set_ylabel("success rate")
        ax.set_ylim(0, 1.05)
        ax.set_xticks(sorted(data["severity"].unique()))
        ax.set_title(f"{suite} / {policy}: success against severity")
        ax.legend(fontsize=7)
        path = _save(fig, out / f"severity_{slug(suite)}_{slug(policy)}.png")
        figures.append(
            Figure(
                f"{suite} / {policy}: success against severity",
                path,
                "One line per family and split; dashed: the clean control arm.",
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
        fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(columns) + 2), max(2.5, 0.35 * len(grid) + 1.5)))
        image = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(grid)), [f"task {t}" for t in grid.index], fontsize=8)
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
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
        path = _save(fig, out / f"tasks_{slug(suite)}_{slug(policy)}.png")
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
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
        for i, split in enumerate(("id", "ood")):
            rows = both[both["split"] == split].set_index("label").reindex(labels)
            ax.bar(
                np.arange(len(labels)) + (i - 0.5) * 0.4,
                rows["success_rate"],
                0.4,
                label=split.upper(),
                yerr=_errorbars(rows["success_rate"], rows["ci_low"], rows["ci_high"]),
                capsize=3,
            )
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("success rate")
        ax.set_title(f"{suite}: in-distribution vs held-out variants")
        ax.legend(fontsize=8)
        path = _save(fig, out / f"id_vs_ood_{slug(suite)}.png")
        figures.append(
            Figure(f"{suite}: ID vs OOD", path, "Same family and severity, ID pool against held-out pool.")
        )
    return figures
