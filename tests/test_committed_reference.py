"""The committed reference experiment (results/reference/) agrees with itself.

Its runs are made over several sessions and its README tables are written by hand from the
report, so three things can silently go stale: the report (built before the last runs were
committed), the README's pooled rows (copied from pooled.csv), and the runs themselves (a run
committed before it finished, or one policy's arm without its partner's). These tests read the
committed files only: the runs tracked by git, copied aside, so that a run in progress in the
working tree does not count.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from agra_bench.config import checkpoint_digest
from agra_bench.protocol import LEGACY_BEFORE_SCHEMA, LEGACY_NAMES
from agra_bench.report import build_report
from agra_bench.report.load import policy_entry_of, teacher_of, train_seed_of
from agra_bench.report.provenance import incomplete_run_note

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "results" / "reference"
REPORT_FILES = ("pooled.csv", "comparisons.csv", "leaderboard.csv", "integrity.csv", "summary.csv")
REPORT_FILES += ("tasks.csv", "diagnostics.csv", "variants.csv", "robustness.csv", "levels.csv")
#: `| [policy | versus |] split | arms | seeds | clusters | pairs | ... |`; without the first two
#: cells the row is agra (MobileNetV2 teacher) against wam.
POOLED_ROW = re.compile(
    r"^\| (?:`?([a-z_\[\]0-9]+)`? \| `?([a-z_\[\]0-9]+)`? \| )?"  # policy, versus
    r"(ID|OOD) \| ([a-z_, ]+) \| ([0-9, ]+) \| (\d+) \| (\d+) \| (.+) \|$"
)
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def _tracked_runs(tmp_path: Path) -> Path:
    """A copy of the run folders git tracks under results/reference/runs."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout: the committed runs are the files git tracks")
    listed = subprocess.run(
        ["git", "ls-files", "results/reference/runs"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    if not listed:
        pytest.skip("no committed reference runs in this checkout")
    for name in listed:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, target)
    return tmp_path / "results" / "reference" / "runs"


def _episode_runs(runs: Path) -> list[Path]:
    return sorted(p.parent for p in runs.glob("*/episodes.parquet"))


@pytest.mark.slow
def test_the_committed_report_is_the_report_of_the_committed_runs(tmp_path):
    runs = _tracked_runs(tmp_path)
    # the comparisons of scripts/reference.sh's report stage
    comparisons = (("agra", "wam"), ("agra[sim_semantic]", "agra[mobilenet_v2]"))
    build_report([runs], out=tmp_path / "report", comparisons=comparisons)
    for name in REPORT_FILES:
        committed = (REFERENCE / name).read_text()
        rebuilt = (tmp_path / "report" / name).read_text()
        assert rebuilt == committed, f"results/reference/{name} is stale: rebuild it with agra-bench report"


def test_every_committed_run_is_complete_and_has_its_partner(tmp_path):
    """Each run has all its planned episodes; each training seed's wam and (MobileNetV2) agra
    runs pair one to one (same arm, split, tasks and episodes), and every run of another teacher
    has its wam partner."""
    keys = Counter()
    for run in _episode_runs(_tracked_runs(tmp_path)):
        table = pd.read_parquet(run / "episodes.parquet", columns=["episode_key", "schema_version"])
        rows = len(table)
        assert incomplete_run_note(run, rows) is None, incomplete_run_note(run, rows)
        identity = json.loads((run / "manifest.json").read_text())["identity"]
        if table["schema_version"].min() < LEGACY_BEFORE_SCHEMA:  # read as reports read it
            identity["protocol"] = LEGACY_NAMES.get(identity["protocol"], identity["protocol"])
        policy = identity.pop("policy")
        identity.pop("checkpoint_sha1", None)
        identity["train_seed"] = train_seed_of(policy_entry_of(run))
        teacher = teacher_of(policy_entry_of(run))
        label = policy if teacher in ("", "mobilenet_v2") else f"{policy}[{teacher}]"
        keys[(label, json.dumps(identity, sort_keys=True))] += 1
    by_seed: dict[int, dict[str, set[str]]] = {}
    for label, key in keys:
        by_seed.setdefault(json.loads(key)["train_seed"], {}).setdefault(label, set()).add(key)
    assert any(labels.get("wam") for labels in by_seed.values()), "no committed wam runs"
    for seed, by_label in by_seed.items():
        wam, agra = by_label.get("wam", set()), by_label.get("agra", set())
        assert wam == agra, (
            f"seed {seed}: unpaired runs: wam only {sorted(wam - agra)}, agra only {sorted(agra - wam)}"
        )
        for label, runs in by_label.items():
            assert runs <= wam, f"seed {seed}: {label} runs without a wam partner: {sorted(runs - wam)}"
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]


def test_every_committed_run_was_made_from_a_committed_checkpoint(tmp_path):
    """The README promises that a fresh clone reproduces the committed runs from the committed
    checkpoints. A checkpoint retrained and exported over the committed one breaks that for the
    runs made from the old one, unless they leave with it (scripts/reference.sh export retires them)."""
    committed = {
        checkpoint_digest(folder): folder.name
        for folder in (REFERENCE / "checkpoints").iterdir()
        if (folder / "model.safetensors").is_file()
    }
    runs = _episode_runs(_tracked_runs(tmp_path))
    made_from = {
        run.name: json.loads((run / "manifest.json").read_text())["identity"].get("checkpoint_sha1")
        for run in runs
    }
    assert any(made_from.values()), "no committed run records a checkpoint"
    strays = {name: sha1[:8] for name, sha1 in made_from.items() if sha1 and sha1 not in committed}
    assert not strays, f"runs made from checkpoints that are not committed: {strays}"


def test_the_readme_pooled_rows_are_the_committed_pooled_table():
    """Every `| ID | arms | seeds | clusters | pairs | agra | wam | diff [ci] | drop [ci] |` row of
    results/reference/README.md matches a row of pooled.csv (rates to the point, differences to
    the printed 0.1 point)."""
    pooled = pd.read_csv(REFERENCE / "pooled.csv", dtype={"arms": str, "train_seeds": str})
    rows = [m for line in (REFERENCE / "README.md").read_text().splitlines() if (m := POOLED_ROW.match(line))]
    assert len(rows) >= 2, "the README has no pooled rows to check"
    for match in rows:
        policy, versus, split, arms, seeds, clusters, pairs, cells = match.groups()
        # agra's label is `agra[mobilenet_v2]` once another teacher's runs are in the report
        policies = [policy] if policy else ["agra", "agra[mobilenet_v2]"]
        found = pooled[
            pooled["policy"].isin(policies)
            & (pooled["versus"] == (versus or "wam"))
            & (pooled["split"] == split.lower())
            & (pooled["arms"] == arms.replace(" ", ""))
            & (pooled["train_seeds"] == seeds.replace(" ", ""))
            & (pooled["clusters"] == int(clusters))
            & (pooled["pairs"] == int(pairs))
        ]
        assert len(found) == 1, f"no pooled.csv row for README row {match.group(0)}"
        row = found.iloc[0]
        numbers = [float(x) for x in NUMBER.findall(cells)]
        expected = [row[c] * 100 for c in ("policy_rate", "versus_rate", "difference", "ci_low", "ci_high")]
        expected += [row[c] * 100 for c in ("drop_difference", "drop_ci_low", "drop_ci_high")]
        assert len(numbers) == len(expected), match.group(0)
        for printed, value in zip(numbers[:2], expected[:2], strict=True):
            assert abs(printed - value) <= 0.5 + 1e-9, f"{match.group(0)}: {printed} vs {value:.2f}"
        for printed, value in zip(numbers[2:], expected[2:], strict=True):
            assert abs(printed - value) <= 0.05 + 1e-9, f"{match.group(0)}: {printed} vs {value:.2f}"
