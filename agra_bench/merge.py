"""`agra-bench merge DIR... --out DIR`: join the shard folders of one command into the run
folder an unsharded run of that command would have written.

- **One condition.** Every input's identity, less its `shard`, must be the same (policy,
  checkpoint content, suite, tasks, arms, episodes, seed, protocol, image size, render quality,
  physics, ...); anything else is refused in one line that names the first difference.
- **Every key once.** Rows are keyed by episode key. A key found in several inputs (a shard
  copied twice, a shard rerun elsewhere) is kept once: rows that agree on everything but
  `run_id` and `wall_s` are the same result and merge silently; rows that disagree give one
  warning line naming the key, and the kept row is the one without an error if only one has
  none, else the one from the input that sorts first by path.
- **Idempotent.** The output is an ordinary run folder (`EpisodeStore`): keys already in it
  are never rewritten, so merging again, or merging a late shard, adds only what is missing;
  `agra-bench run` of the unsharded command on the same `--out` resumes it.
- **Provenance.** Package versions and machines (CPU model) that differ between inputs are
  recorded in the merged manifest (`provenance_differences`) and the report notes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agra_bench.config import run_id_of
from agra_bench.errors import UsageError, check_writable
from agra_bench.records import MANIFEST_FILE, EpisodeStore, atomic_write_json, read_rows

TIMING_COLUMNS = ("run_id", "wall_s")  # what two runs of the same episode may differ in


@dataclass
class RunFolder:
    path: Path
    manifest: dict[str, Any]

    @property
    def condition(self) -> dict[str, Any]:
        return {k: v for k, v in self.manifest["identity"].items() if k != "shard"}


@dataclass
class MergeSummary:
    run_dir: Path
    inputs: int
    added: int = 0
    already: int = 0  # keys the output had before this merge
    duplicates: int = 0  # keys found in several inputs with the same result
    warnings: list[str] = field(default_factory=list)


def find_run_folders(dirs: list[Path], out: Path) -> list[RunFolder]:
    """Run folders (with a manifest) at or below each DIR, sorted by path; report folders and
    the output's own folder excluded."""
    folders: set[Path] = set()
    for folder in map(Path, dirs):
        if not folder.is_dir():
            raise UsageError(
                f"no such folder '{folder}'; valid: run folders written by agra-bench run --shard"
            )
        found = [folder / MANIFEST_FILE] if (folder / MANIFEST_FILE).exists() else folder.rglob(MANIFEST_FILE)
        folders.update(p.parent.resolve() for p in found if "report" not in p.parts)
    out = out.resolve()
    runs = []
    for path in sorted(folders):
        if path.parent == out:
            continue
        try:
            runs.append(RunFolder(path, json.loads((path / MANIFEST_FILE).read_text())))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {path / MANIFEST_FILE}: {exc}") from None
    if not runs:
        raise UsageError(
            f"no run folder under {', '.join(map(str, dirs))}; valid: folders with a manifest.json"
        )
    return runs


def check_one_condition(runs: list[RunFolder]) -> None:
    first = runs[0]
    for run in runs[1:]:
        if run.condition != first.condition:
            keys = sorted(set(run.condition) | set(first.condition))
            key = next(k for k in keys if run.condition.get(k) != first.condition.get(k))
            raise UsageError(
                f"cannot merge {run.path.name} with {first.path.name}: {key} is "
                f"{run.condition.get(key)!r} there and {first.condition.get(key)!r} here; "
                "valid: shards of one command (only --shard differs)"
            )


def provenance_differences(runs: list[RunFolder]) -> dict[str, list[Any]]:
    """Package versions and machines (CPU name, family, model) not the same in every input."""
    seen: dict[str, list[Any]] = {}
    for run in runs:
        for session in run.manifest.get("sessions", []):
            for name, version in (session.get("versions") or {}).items():
                seen.setdefault(f"versions.{name}", []).append(version)
            seen.setdefault("machine", []).append(session.get("machine"))
    differing = {}
    for name, values in seen.items():
        distinct = list(dict.fromkeys(json.dumps(v) for v in values))
        if len(distinct) > 1:
            differing[name] = [json.loads(v) for v in distinct]
    return differing


def same_result(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k not in TIMING_COLUMNS} == {
        k: v for k, v in b.items() if k not in TIMING_COLUMNS
    }


def merged_rows(runs: list[RunFolder], summary: MergeSummary) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        for key, row in read_rows(run.path).items():
            kept = rows.get(key)
            if kept is None:
                rows[key] = row
            elif same_result(kept, row):
                summary.duplicates += 1
            else:
                if kept["error"] is not None and row["error"] is None:
                    rows[key] = row  # the rule: a row without an error wins, else the first input's
                summary.warnings.append(
                    f"episode {key} (task {row['task_id']}, episode {row['episode']}, {row['perturbation']}) "
                    f"differs between runs {kept['run_id']} and {row['run_id']}; kept {rows[key]['run_id']}'s"
                )
    return rows


def merge(dirs: list[Path], out: Path) -> MergeSummary:
    check_writable(out)
    runs = find_run_folders(dirs, out)
    check_one_condition(runs)
    condition = runs[0].condition
    run_id = run_id_of(runs[0].manifest["config"]["policy"], condition["suite"], condition)
    run_dir = out / run_id
    summary = MergeSummary(run_dir, len(runs))
    rows = merged_rows(runs, summary)
    existing = run_dir / MANIFEST_FILE
    previous = json.loads(existing.read_text()) if existing.exists() else None
    if previous is not None and previous.get("identity") != condition:
        raise UsageError(f"{run_dir} holds another condition; valid: an --out without it")
    store = EpisodeStore(run_dir)
    try:
        summary.already = len(store.rows)
        for key, row in rows.items():
            if key not in store.rows:
                store.add({**row, "run_id": run_id})
                summary.added += 1
    finally:
        store.close()
    merged_from = {m["path"]: m for m in (previous or {}).get("merged_from", [])}
    for run in runs:
        merged_from[str(run.path)] = {
            "path": str(run.path),
            "run_id": run.path.name,
            "shard": run.manifest.get("shard"),
        }
    sessions = [s for run in runs for s in run.manifest.get("sessions", [])]
    manifest = {
        **runs[0].manifest,
        "run_id": run_id,
        "identity": condition,
        "config": {**runs[0].manifest["config"], "shard": None, "shard_slice": None},
        "shard": None,
        "merged_from": sorted(merged_from.values(), key=lambda m: m["path"]),
        "provenance_differences": provenance_differences(runs),
        "sessions": _union((previous or {}).get("sessions", []), sessions),
    }
    atomic_write_json(existing, manifest)
    return summary


def _union(first: list, second: list) -> list:
    return first + [item for item in second if item not in first]
