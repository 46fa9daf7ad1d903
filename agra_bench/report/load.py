"""Find run tables below the given folders, validate them, and merge them into one frame.

A report is often built over folders written by many runs, on several machines, some of them
interrupted. A file that cannot be read (truncated, not Parquet) or that lacks columns of the
episode schema is reported and skipped; the report is built from the rest. Nothing is silently
dropped: every skipped file and every removed duplicate becomes a line in `LoadResult.notes`,
which the HTML and Markdown reports print, with the notes on mixed provenance (`provenance.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from agra_bench.errors import UsageError
from agra_bench.identity import EPISODE_IDENTITY, UNKNOWN_CONDITION
from agra_bench.protocol import LEGACY_BEFORE_SCHEMA, LEGACY_NAMES
from agra_bench.records import (
    ADDED_COLUMNS,
    EPISODE_SCHEMA,
    JOURNAL,
    MANIFEST_FILE,
    TABLE,
    EpisodeStore,
    read_rows,
    rows_to_table,
)
from agra_bench.report.provenance import (
    UNKNOWN_TRAIN_SEED,
    data_mismatch_notes,
    incomplete_run_note,
    inference_precision_of,
    merged_provenance_note,
    precision_mix_notes,
    setting_mix_notes,
)


@dataclass
class LoadResult:
    episodes: pd.DataFrame
    runs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_run_tables(dirs: list[Path]) -> list[Path]:
    """Every episodes.parquet at or below the given folders, sorted, report folders excluded."""
    tables: set[Path] = set()
    for folder in dirs:
        folder = Path(folder)
        if not folder.exists():
            raise UsageError(f"no such folder '{folder}'")
        if folder.is_file():
            if folder.name != EpisodeStore.FILE:
                raise UsageError(f"'{folder}' is not a folder or an {EpisodeStore.FILE}")
            tables.add(folder.resolve())
            continue
        tables.update(p.resolve() for p in folder.rglob(EpisodeStore.FILE) if "report" not in p.parts)
        # a run still going (or killed) before its first compaction has only its journal
        tables.update((p.parent / TABLE).resolve() for p in folder.rglob(JOURNAL) if "report" not in p.parts)
    return sorted(tables)


def read_run_table(path: Path) -> pd.DataFrame:
    """Read one run's rows (its table merged with its journal, if any); ValueError with a
    one-line reason if they are unusable."""
    path = Path(path)
    if path.exists():
        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # pyarrow raises several types for truncated or foreign files
            raise ValueError(
                f"unreadable Parquet ({type(exc).__name__}: {str(exc).splitlines()[0]})"
            ) from None
        required = [name for name in EPISODE_SCHEMA.names if name not in ADDED_COLUMNS]
        missing = [name for name in required if name not in names]
        if missing:
            raise ValueError(f"not an agra-bench episode table: missing column(s) {', '.join(missing)}")
    rows = read_rows(path.parent)
    return rows_to_table(list(rows.values())).to_pandas()


def policy_entry_of(run_dir: Path) -> dict:
    """The manifest's `policy` entry, or {} when the run has no readable one."""
    try:
        entry = json.loads((run_dir / MANIFEST_FILE).read_text())["policy"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return entry if isinstance(entry, dict) else {}


def teacher_of(policy_entry: dict) -> str:
    """The alignment teacher of the run's checkpoint (`policy.config.teacher` when its
    `align_weight` is above 0), or '' for policies that align to none."""
    config = policy_entry.get("config")
    if not isinstance(config, dict) or not config.get("align_weight"):
        return ""
    return str(config.get("teacher") or "")


def with_teacher_variants(episodes: pd.DataFrame) -> pd.Series:
    """`policy`, as `agra[teacher]` when one policy name was run with several teachers: two
    AGRA checkpoints of one seed that differ in what they align to are two policies in every
    table and comparison (`--compare 'agra[sim_semantic]:agra[mobilenet_v2]'`)."""
    several = episodes.groupby("policy")["teacher"].transform("nunique") > 1
    return episodes["policy"].where(~several, episodes["policy"] + "[" + episodes["teacher"] + "]")


def train_seed_of(policy_entry: dict) -> int:
    """The training seed of the run's checkpoint, from its manifest's policy entry
    (`policy.train_seed`), or -1 when unknown: policies without one, and runs written before it
    was recorded. Reports pair a `wam` and an `agra` checkpoint only when their seeds agree."""
    seed = policy_entry.get("train_seed")
    return int(seed) if isinstance(seed, int) else UNKNOWN_TRAIN_SEED


def seeds_pair(seed_a: int, seed_b: int) -> bool:
    """Whether checkpoints of these training seeds are compared: equal seeds, or an unknown one."""
    return seed_a == seed_b or UNKNOWN_TRAIN_SEED in (seed_a, seed_b)


def load_runs(dirs: list[Path], errors_as_failures: bool = False) -> LoadResult:
    """Merge every valid run table below `dirs`; UsageError if none is usable. Column `scored`
    says which episodes enter rates and pairs: those without an error, or every episode (an
    errored one as a failure) with `errors_as_failures`."""
    paths = find_run_tables(dirs)
    if not paths:
        raise UsageError(f"no {EpisodeStore.FILE} found below {', '.join(str(d) for d in dirs)}")
    frames, runs, notes = [], [], []
    for path in paths:
        try:
            frame = read_run_table(path)
        except ValueError as exc:
            notes.append(f"skipped {path}: {exc}")
            continue
        entry = policy_entry_of(path.parent)
        frame["train_seed"] = train_seed_of(entry)
        frame["teacher"] = teacher_of(entry)
        frame["data_sha256"] = str(entry.get("data_sha256") or "")
        frame["inference_precision"] = inference_precision_of(path.parent)
        for note in (incomplete_run_note(path.parent, len(frame)), merged_provenance_note(path.parent)):
            if note:
                notes.append(note)
        frames.append(frame)
        runs.append(path.parent)
    if not frames:
        raise UsageError(f"no usable run table below {', '.join(str(d) for d in dirs)}; " + "; ".join(notes))
    episodes = pd.concat(frames, ignore_index=True)
    episodes["checkpoint"] = episodes["checkpoint"].fillna("")
    for column, unknown_value in UNKNOWN_CONDITION.items():  # rows from before the column existed
        episodes[column] = episodes[column].fillna(unknown_value).astype(type(unknown_value))
    # A row from before content hashes knows its checkpoint by path only: keep those apart.
    by_path = (episodes["checkpoint_sha1"] == "") & (episodes["checkpoint"] != "")
    episodes.loc[by_path, "checkpoint_sha1"] = "path:" + episodes.loc[by_path, "checkpoint"]
    episodes["error"] = episodes["error"].fillna("")
    episodes["protocol"] = current_protocol_names(episodes)
    # The control arm has no severity; runs written before it was recorded as 0 carry --severity.
    episodes.loc[episodes["perturbation"] == "none", "severity"] = 0
    before = len(episodes)
    episodes = episodes.sort_values(["run_id", "episode_key"]).drop_duplicates(EPISODE_IDENTITY, keep="first")
    if len(episodes) < before:
        notes.append(f"dropped {before - len(episodes)} duplicate episode(s) found in more than one run")
    n_errors = int((episodes["error"] != "").sum())
    episodes["scored"] = True if errors_as_failures else episodes["error"] == ""
    if n_errors:
        how = (
            "counted as failures in success rates and pairs (--errors-as-failures)"
            if errors_as_failures
            else "left out of success rates and pairs (--errors-as-failures counts them as failures)"
        )
        notes.append(f"{n_errors} episode(s) ended in an error; they are counted in 'errors' and {how}")
    episodes["policy"] = with_teacher_variants(episodes)
    episodes["policy_label"] = policy_labels(episodes)
    notes += data_mismatch_notes(episodes)
    notes += precision_mix_notes(episodes.drop_duplicates("run_id"))
    notes += setting_mix_notes(episodes)
    return LoadResult(episodes.reset_index(drop=True), runs, notes)


def current_protocol_names(episodes: pd.DataFrame) -> pd.Series:
    """Rows of episode schema < 5 ran under the scene rule that is now `openpi_idseed` (and
    `libero_idseed`): they are read under those names, so that they are never pooled with runs of
    the exact openpi scene, and so that new runs under the old rule pair with them."""
    versions = pd.to_numeric(episodes.get("schema_version"), errors="coerce").fillna(1)
    old = versions < LEGACY_BEFORE_SCHEMA
    return episodes["protocol"].where(~old, episodes["protocol"].replace(LEGACY_NAMES))


def policy_labels(episodes: pd.DataFrame) -> pd.Series:
    """`policy`, or `policy@checkpoint-folder` when one policy name was run from several
    checkpoints (told apart by content; by folder name and content hash if folders share a name)."""
    n_ckpt = episodes.groupby("policy")["checkpoint_sha1"].transform("nunique")
    names = episodes["checkpoint"].map(lambda c: Path(c).name if c else "")
    hashes_per_name = episodes.groupby([episodes["policy"], names])["checkpoint_sha1"].transform("nunique")
    names = names.where(hashes_per_name <= 1, names + "-" + episodes["checkpoint_sha1"].str[:8])
    labels = episodes["policy"].where(n_ckpt <= 1, episodes["policy"] + "@" + names)
    # One label per condition, so that tables and plots never merge two: a setting that varies
    # within a label is added to it (`wam 64px`, `wam cap 600`).
    for column, show in LABEL_SUFFIXES.items():
        varies = episodes.groupby(labels)[column].transform("nunique") > 1
        labels = labels.where(~varies, labels + " " + episodes[column].map(show))
    return labels


LABEL_SUFFIXES = {
    "protocol": lambda v: f"protocol {v}",
    "max_steps": lambda v: f"cap {v}",
    "image_size": lambda v: f"{v}px",
    "render_quality": lambda v: f"render {v}",
}
