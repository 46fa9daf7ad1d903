"""The diagnostics section of a report: every `diagnostics.parquet` below the report's folders,
summarised per policy, checkpoint, suite and perturbation (means over policy calls).

This module needs no torch (reports run on a lean install); `agra-bench diagnose`, which
writes the tables, uses its `FILE` and `summarise` too."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from agra_bench.report.plots import DPI, Figure, plt

FILE = "diagnostics.parquet"
SUMMARY_KEYS = ["policy", "checkpoint", "suite", "perturbation"]


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per policy, checkpoint, suite and perturbation: means of the metrics over policy calls,
    and per intervention kind the ratio of action change on relevant vs background tokens."""
    if "error" in frame:  # a call whose policy answer failed the checks ended its episode
        frame = frame[frame["error"].isna()]
    kinds = [c.removesuffix("_relevant") for c in frame.columns if c.endswith("_relevant")]
    metrics = [
        "attn_in_region",
        "centroid_error",
        *[f"{k}_{n}" for k in kinds for n in ("relevant", "background")],
    ]
    summary = frame.groupby(SUMMARY_KEYS, sort=True)[metrics].mean().reset_index()
    summary.insert(len(SUMMARY_KEYS), "calls", frame.groupby(SUMMARY_KEYS, sort=True).size().to_numpy())
    for kind in kinds:
        summary[f"{kind}_ratio"] = summary[f"{kind}_relevant"] / summary[f"{kind}_background"]
    return summary


def load_diagnostics(dirs: list[Path]) -> tuple[pd.DataFrame, list[str]]:
    frames, notes = [], []
    for folder in dirs:
        folder = Path(folder)
        for path in sorted(folder.rglob(FILE)) if folder.is_dir() else []:
            try:
                frames.append(pd.read_parquet(path))
            except Exception as exc:  # a truncated file must not stop the report
                notes.append(f"skipped {path}: unreadable ({type(exc).__name__})")
    if not frames:
        return pd.DataFrame(), notes
    return summarise(pd.concat(frames, ignore_index=True)).round(4), notes


def diagnostics_figure(summary: pd.DataFrame, out: Path) -> Figure:
    """Attention in region and the mean-intervention ratio per policy and perturbation."""
    labels = (summary["policy"] + " / " + summary["perturbation"]).tolist()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].bar(labels, summary["attn_in_region"])
    axes[0].set_title("attention in task region")
    axes[1].bar(labels, summary["mean_ratio"])
    axes[1].axhline(1.0, color="k", linestyle="--", linewidth=0.8)
    axes[1].set_title("action change: region / background (mean)")
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    path = out / "diagnostics.png"
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return Figure(
        "Diagnostics",
        path,
        "Share of action-decoder attention on the goal objects; effect of "
        "mean-replacing their hidden tokens against matched background tokens.",
    )
