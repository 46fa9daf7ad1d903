"""Figures of `agra-bench diagnose`: attention overlays and intervention bar plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from agra_bench.diagnostics.interventions import KINDS  # noqa: E402


def save_overlay(path: Path, frame: np.ndarray, attention: np.ndarray, region: np.ndarray) -> None:
    """The frame, the attention map upsampled over it, and the task region's outline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = frame.shape[0]
    heat = np.kron(attention / max(float(attention.max()), 1e-12), np.ones((size // attention.shape[0],) * 2))
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.6))
    axes[0].imshow(frame)
    axes[0].set_title("frame + goal region", fontsize=8)
    axes[0].contour(region, levels=[0.5], colors="red", linewidths=0.8)
    axes[1].imshow(frame)
    axes[1].imshow(heat, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
    axes[1].contour(region, levels=[0.5], colors="cyan", linewidths=0.8)
    axes[1].set_title("action-decoder attention", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def intervention_bars(frame: pd.DataFrame, path: Path) -> None:
    """Mean action change per intervention kind: region tokens against matched background tokens."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    x = np.arange(len(KINDS))
    relevant = [frame[f"{k}_relevant"].mean() for k in KINDS]
    background = [frame[f"{k}_background"].mean() for k in KINDS]
    ax.bar(x - 0.2, relevant, 0.4, label="task-relevant tokens")
    ax.bar(x + 0.2, background, 0.4, label="matched background tokens")
    ax.set_xticks(x, KINDS)
    ax.set_ylabel("mean |action change|")
    ax.set_title("interventions on video hidden tokens")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
