"""The report's integrity check on real runs: a family that changes nothing is flagged, every
real family's arm shows a first observation that differs from the control arm's."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import PERTURBATION_FAMILIES, run_cli, run_episodes


@pytest.mark.slow
def test_integrity_flags_a_noop_family_and_no_real_one(tmp_path):
    plugin = {"AGRA_BENCH_PERTURBATION_MODULES": "tests.helpers.noop_family"}
    rows = run_episodes(
        tmp_path / "runs",
        "--policy random --suite libero_object --tasks 0 --episodes 1 --max-steps 1 --image-size 32"
        " --perturb none,all",
        env=plugin,
    )
    assert set(rows["perturbation"]) == {"none", "noop_family", *PERTURBATION_FAMILIES}
    assert rows["error"].isna().all() and rows["obs0_input_sha1"].notna().all()
    report = run_cli("report", str(tmp_path / "runs"), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr[-2000:]
    table = pd.read_csv(tmp_path / "report" / "integrity.csv").set_index("perturbation")
    assert table.loc["noop_family", "flagged"] and table.loc["noop_family", "pairs"] == 1
    real = table.drop(index="noop_family")
    assert sorted(real.index) == sorted(PERTURBATION_FAMILIES) and not real["flagged"].any()
    flat = " ".join(report.stderr.split())
    assert "INTEGRITY: arm 'noop_family'" in flat and flat.count("INTEGRITY") == 1
    assert "INTEGRITY: arm 'noop_family'" in (tmp_path / "report" / "summary.md").read_text()
