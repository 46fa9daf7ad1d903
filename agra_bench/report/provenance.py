"""What a report tells its reader about where its rows came from, when that may change a
comparison: checkpoints of one seed trained on different demos, runs of one seed made in
different inference precisions, rows under different render qualities or scene rules, runs
with fewer episodes than planned, merged shards from different machines.

`load.load_runs` gathers these notes; the HTML and Markdown reports print every one of them
(nothing is dropped or mixed silently).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from agra_bench.records import MANIFEST_FILE

#: The training seed of a checkpoint that did not record one (and of policies without one).
UNKNOWN_TRAIN_SEED = -1


def data_mismatch_notes(episodes: pd.DataFrame) -> list[str]:
    """A note for each suite and training seed whose checkpoints were trained on different
    data (`data_sha256`, known for checkpoints trained since it was recorded): their
    head-to-head then compares the data as well as the training loss. A seed where some
    checkpoints record a digest and others predate it gets a note too: that cannot be checked."""
    seeded = episodes[episodes["train_seed"] != UNKNOWN_TRAIN_SEED]
    notes = []
    for (suite, seed), group in seeded.groupby(["suite", "train_seed"], sort=True):
        digests = group.groupby("policy_label")["data_sha256"].first()
        known = digests[digests != ""]
        if known.nunique() > 1:
            labels = ", ".join(f"{label} ({digest[:12]})" for label, digest in known.items())
            notes.append(
                f"{suite} training seed {seed}: the checkpoints were trained on different data "
                f"(data_sha256: {labels}); their head-to-head compares the data as well as the method"
            )
        elif len(known) and len(known) < len(digests):
            unknown = ", ".join(label for label in digests.index if label not in known.index)
            labels = ", ".join(f"{label} ({digest[:12]})" for label, digest in known.items())
            notes.append(
                f"{suite} training seed {seed}: no data_sha256 for {unknown} (trained before it was "
                f"recorded), one for {labels}: whether they share their data cannot be checked"
            )
    return notes


def inference_precision_of(run_dir: Path) -> str:
    """The inference precision(s) the run's sessions recorded ("bf16", "fp32", "bf16+fp32" for a
    run resumed on another kind of machine), or "" for a run from before it was recorded."""
    try:
        sessions = json.loads((run_dir / MANIFEST_FILE).read_text()).get("sessions", [])
        found = {s["precision"] for s in sessions if isinstance(s, dict) and s.get("precision")}
    except (OSError, ValueError, AttributeError, TypeError):
        return ""
    return "+".join(sorted(found))


def precision_mix_notes(runs: pd.DataFrame) -> list[str]:
    """A note for each suite and training seed whose runs do not share one inference precision
    (`runs`: one row per run, with suite, train_seed and inference_precision). Its deltas (vs
    clean, or AGRA - WAM) then compare machines too: bf16 and fp32 inference round differently,
    and a closed loop amplifies it. Runs that did not record it count as unknown, not as equal."""
    known = runs[runs["train_seed"] != UNKNOWN_TRAIN_SEED]
    notes = []
    for (suite, seed), group in known.groupby(["suite", "train_seed"], sort=True):
        counts = group["inference_precision"].replace("", "not recorded").value_counts().sort_index()
        if len(counts) > 1 or any("+" in value for value in counts.index):
            parts = ", ".join(f"{value}: {n} run{'s' * (n > 1)}" for value, n in counts.items())
            notes.append(
                f"{suite} training seed {seed}: its runs do not share one inference precision "
                f"({parts}); deltas between them compare machines as well"
            )
    return notes


def setting_mix_notes(episodes: pd.DataFrame) -> list[str]:
    """A note for each suite whose rows mix render qualities or scene rules (protocols): its
    tables and comparisons then set policies side by side that saw different pixels or scenes
    (MSAA changes every edge; fixtures stand elsewhere under another scene rule)."""
    notes = []
    for suite, group in episodes.groupby("suite", sort=True):
        for column, what in (("render_quality", "render qualities"), ("protocol", "protocols")):
            values = group.groupby(column)["policy"].agg(lambda p: ", ".join(sorted(set(p))))
            if len(values) > 1:
                parts = "; ".join(f"{value}: {policies}" for value, policies in values.items())
                notes.append(
                    f"{suite}: runs of {len(values)} {what} ({parts}); compare policies under one "
                    f"(tables keep them apart, but a reader may not)"
                )
    return notes


def planned_episodes_of(run_dir: Path) -> int | None:
    """How many episodes the run's command planned (tasks x arms x episodes per task, from
    the identity its manifest records), or None when the manifest does not say."""
    try:
        manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
        if manifest.get("shard"):  # a shard plans its slice of the command's plan
            return int(manifest["shard"]["episodes"])
        identity = manifest["identity"]
        return len(identity["task_ids"]) * len(identity["arms"]) * int(identity["episodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def incomplete_run_note(run_dir: Path, finished: int) -> str | None:
    """A note for a run with fewer episodes than planned (still going, or interrupted): its
    arms are reported on the episodes that exist, which a reader should know."""
    planned = planned_episodes_of(run_dir)
    if planned is None or finished >= planned:
        return None
    return (
        f"run {run_dir.name} is incomplete: {finished} of {planned} planned episodes "
        "(still running or interrupted; its command resumes it)"
    )


def merged_provenance_note(run_dir: Path) -> str | None:
    """A note for a run merged from shards whose package versions or machines differ
    (`agra-bench merge` records them; the rows themselves passed the condition check)."""
    try:
        differing = json.loads((run_dir / MANIFEST_FILE).read_text()).get("provenance_differences") or {}
    except (OSError, ValueError):
        return None
    if not differing:
        return None
    listed = "; ".join(f"{name}: {', '.join(map(str, values))}" for name, values in sorted(differing.items()))
    return f"run {run_dir.name} merges shards made with different {listed}"
