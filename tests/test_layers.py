"""Import layers: the report reads run folders without the policy registry or the perturbation
library (a results machine needs neither), and no module of `policies/` reaches into the
runner's internals (how episodes are scheduled, run and recorded)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

RUNNER_INTERNALS = {
    "agra_bench.runner",
    "agra_bench.worker",
    "agra_bench.scheduler",
    "agra_bench.rollout",
    "agra_bench.local_executor",
    "agra_bench.ray_executor",
    "agra_bench.manifest",
    "agra_bench.config",
    "agra_bench.cli",
    "agra_bench.cli_workflows",
}

BLOCKED_REPORT = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("policies", "perturbations"):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Blocker())
from pathlib import Path
from agra_bench.report import build_report

report = build_report([Path(sys.argv[1])])
print("figures", len(report.figures) + len(report.headline))
"""


def test_report_builds_with_policies_and_perturbations_unimportable(tmp_path):
    from tests.helpers.synthetic_runs import episode_row, write_run

    for policy, ok in (("wam", 3), ("agra", 2)):  # written here, read in a process without them
        rows = [episode_row(policy, policy, 0, e, "none", e % ok != 0) for e in range(8)]
        rows += [episode_row(policy, policy, 0, e, "texture", e % 4 != 0) for e in range(8)]
        write_run(tmp_path, policy, rows)
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_REPORT, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "figures" in result.stdout and (tmp_path / "report" / "index.html").exists()


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_policy_module_imports_the_runners_internals():
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & RUNNER_INTERNALS)
        for path in (REPO / "policies").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders
