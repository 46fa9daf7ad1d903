"""Every option of every command, given a bad value, is answered in one line with exit code 2.

The table below holds, for each (command, option), bad values of each kind that applies (wrong
type, out of range, unknown name, missing file, a directory where a file is expected, a file
where a directory is expected) and a fragment of what the line must say is valid. The line must
also name the bad value. `test_every_option_is_in_the_table` walks the real click command tree,
so an option added without a row here fails the suite.

The commands run in-process (`cli.main()` with `sys.argv` set): every case is refused before
any scene, model or server starts, and ~150 subprocesses would cost minutes of import time.
"""

from __future__ import annotations

import pytest
import typer

from agra_bench import cli

# The placeholders are filled in by the `paths` fixture.
RUNS = "<runs>"
MISSING, A_FILE, A_DIR, NOT_HDF5, CKPT, DEMO = (
    "<missing>",
    "<file>",
    "<dir>",
    "<not-hdf5>",
    "<ckpt>",
    "<demo>",
)

BASE = {
    "run": [
        "run",
        "--policy",
        "random",
        "--suite",
        "robosuite_lift",
        "--episodes",
        "1",
        "--max-steps",
        "1",
        "--image-size",
        "32",
        "--out",
        A_DIR + "/results",
        "--no-progress",
    ],
    "list": ["list", "tasks", "--suite", "robosuite_lift"],
    "collect": [
        "collect",
        "--suite",
        "robosuite_lift",
        "--out",
        A_DIR + "/demo.hdf5",
        "--episodes",
        "1",
        "--image-size",
        "32",
        "--no-progress",
    ],
    "train": ["train", "--policy", "wam", "--data", DEMO, "--out", A_DIR + "/ckpt", "--steps", "1"],
    "diagnose": [
        "diagnose",
        "--checkpoint",
        CKPT,
        "--policy",
        "wam",
        "--suite",
        "robosuite_lift",
        "--out",
        A_DIR + "/diag",
        "--max-steps",
        "1",
        "--image-size",
        "32",
    ],
    "report": ["report", RUNS],
    "verify-protocol": ["verify-protocol", "--suite", "libero_spatial", "--episodes", "0", "--steps", "0"],
    "merge": ["merge", RUNS, "--out", A_DIR + "/merged"],
    "serve": ["serve", "--policy", "random", "--port", "0"],
    "perturb preview": [
        "perturb",
        "preview",
        "robosuite_lift",
        "--perturb",
        "lighting",
        "--image-size",
        "32",
        "--out",
        A_DIR + "/gallery.png",
    ],
}

# (command, option) -> [(bad value, fragment of the valid values[, the part of the value the line
# names when it is not the whole value])]; the line must also name the bad value. Options that
# take a value only together with another option carry their companion in EXTRA.
INT = "valid integer"
TABLE: dict[tuple[str, str], list[tuple[str, ...]]] = {
    ("run", "--policy"): [
        ("randm", "did you mean 'random'"),
        ("no_such_pkg.mod:Policy", "package.module:Class"),
        ("openpi://localhost", "openpi://HOST:PORT"),
    ],
    ("run", "--suite"): [("libero_1", "libero_spatial")],
    ("run", "--tasks"): [("12", "0-0"), ("x", "'all', ids like"), ("3-1", "'all', ids like")],
    ("run", "--episodes"): [("0", ">= 1"), ("x", INT)],
    ("run", "--perturb"): [
        ("camra", "valid: all, none"),
        ("camera:zoom=2", "camera:severity=1..5", "zoom=2"),
        ("distractor", "valid there: none"),
    ],
    ("run", "--severity"): [("0", "1-5"), ("6", "1-5"), ("x", INT)],
    ("run", "--split"): [("test", "id, ood")],
    ("run", "--seed"): [("-1", ">= 0"), ("x", INT)],
    ("run", "--out"): [(A_FILE, "writable folder")],
    ("run", "--workers"): [("0", ">= 1"), ("x", INT)],
    ("run", "--env-groups"): [("0", ">= 1")],
    ("run", "--max-steps"): [("0", ">= 1"), ("x", INT)],
    ("run", "--video"): [("-1", ">= 0")],
    ("run", "--checkpoint"): [(MISSING, "checkpoint folder"), (A_FILE, "checkpoint folder")],
    ("run", "--executor"): [("dask", "local, ray")],
    ("run", "--address"): [("10.0.0.1:6379", "--executor ray")],
    ("run", "--protocol"): [("libro", "openpi, libero")],
    ("run", "--replan-steps"): [("0", ">= 1"), ("4", "leave --replan-steps out")],
    ("run", "--image-size"): [("0", "8-1024"), ("x", INT), ("100000", "8-1024")],
    ("run", "--render-quality"): [("ultra", "standard, tuned, fast")],
    ("run", "--physics"): [("warp", "fast, stock")],
    ("run", "--shard"): [("3/3", "0 <= I < N"), ("x", "I/N")],
    ("list", "what"): [("polices", "did you mean 'policies'")],
    ("list", "--suite"): [("lift", "robosuite_lift")],
    ("collect", "--suite"): [("libero_1", "libero_spatial")],
    ("collect", "--out"): [(A_FILE + "/x.hdf5", "writable folder")],
    ("collect", "--tasks"): [("3", "0-0")],
    ("collect", "--episodes"): [("0", ">= 1"), ("x", INT)],
    ("collect", "--perturb"): [("camra", "valid: all, none"), ("none+lighting", "'none' alone")],
    ("collect", "--severity"): [("9", "1-5")],
    ("collect", "--split"): [("test", "id, ood")],
    ("collect", "--seed"): [("-1", ">= 0")],
    ("collect", "--workers"): [("0", ">= 1")],
    ("collect", "--image-size"): [("0", "8-1024")],
    ("collect", "--action-noise"): [("-0.1", "0-1"), ("2", "0-1"), ("x", "valid number")],
    ("collect", "--physics"): [("warp", "fast, stock")],
    ("collect", "--render-quality"): [("ultra", "standard, tuned, fast")],
    ("collect", "--protocol"): [("libro", "openpi, libero")],
    ("collect", "--max-steps"): [("0", ">= 1")],
    ("train", "--policy"): [("agr", "wam, agra")],
    ("train", "--data"): [(MISSING, "HDF5"), (A_DIR + "/empty", "HDF5"), (NOT_HDF5, "HDF5")],
    ("train", "--out"): [(A_FILE, "writable folder")],
    ("train", "--config"): [("smal", "did you mean 'small'")],
    ("train", "--steps"): [("0", ">= 1"), ("x", INT)],
    ("train", "--batch-size"): [("0", ">= 1")],
    ("train", "--lr"): [("-1", ">= 0"), ("x", "valid number")],
    ("train", "--seed"): [("-1", ">= 0")],
    ("train", "--device"): [("tpu", "cpu, cuda")],
    ("train", "--teacher"): [("clip", "mobilenet_v2")],
    ("train", "--teacher-path"): [(MISSING, "folder")],
    ("train", "--teacher-cache"): [(A_FILE, "writable folder")],
    ("train", "--align-weight"): [("-1", ">= 0"), ("0", "a number > 0")],
    ("train", "--align-layers"): [("x", "comma-separated"), ("9", "0-3")],
    ("train", "--context-frames"): [("0", ">= 1"), ("x", INT)],
    ("train", "--workers"): [("-1", ">= 0")],
    ("train", "--save-every"): [("0", ">= 1")],
    ("train", "--precision"): [("fp8", "auto, bf16, fp32")],
    ("train", "--shift-pad"): [("-1", ">= 0")],
    ("train", "--snapshot-every"): [("-1", ">= 0")],
    ("train", "--expect-data-sha256"): [("abc", "64 lowercase hex digits")],
    ("diagnose", "--checkpoint"): [(MISSING, "checkpoint folder"), (A_FILE, "checkpoint folder")],
    ("diagnose", "--suite"): [("libero_1", "libero_spatial")],
    ("diagnose", "--out"): [(A_FILE, "writable folder")],
    ("diagnose", "--policy"): [("random", "wam, agra")],
    ("diagnose", "--tasks"): [("7", "0-0")],
    ("diagnose", "--episodes"): [("0", ">= 1")],
    ("diagnose", "--perturb"): [("camra", "valid: all, none")],
    ("diagnose", "--severity"): [("6", "1-5")],
    ("diagnose", "--split"): [("test", "id, ood")],
    ("diagnose", "--seed"): [("-1", ">= 0")],
    ("diagnose", "--image-size"): [("0", "8-1024")],
    ("diagnose", "--max-steps"): [("0", ">= 1")],
    ("diagnose", "--layer"): [("9", "0-3")],
    ("diagnose", "--physics"): [("warp", "fast, stock")],
    ("diagnose", "--render-quality"): [("ultra", "standard, tuned, fast")],
    ("diagnose", "--protocol"): [("libro", "openpi, libero")],
    ("diagnose", "--overlays"): [("-1", ">= 0")],
    ("verify-protocol", "--suite"): [
        ("robosuite_lift", "libero_spatial, libero_object"),
        ("libero_1", "libero_10"),
    ],
    ("verify-protocol", "--tasks"): [("10", "0-9")],
    ("verify-protocol", "--episodes"): [("50", "0-49"), ("x", "0-49")],
    ("verify-protocol", "--steps"): [("-1", ">= 0"), ("two", INT)],
    ("verify-protocol", "--image-size"): [("0", "8-1024")],
    ("verify-protocol", "--render-quality"): [("ultra", "standard, tuned, fast")],
    ("verify-protocol", "--protocol"): [("libro", "openpi, libero")],
    ("verify-protocol", "--max-steps"): [("0", ">= 1")],
    ("verify-protocol", "--physics"): [("warp", "fast, stock")],
    ("report", "dirs"): [(MISSING, "folder"), (A_FILE, "episodes.parquet")],
    ("report", "--out"): [(A_FILE, "writable folder")],
    ("merge", "dirs"): [(MISSING, "run folders")],
    ("merge", "--out"): [(A_FILE, "writable folder")],
    ("report", "--baseline"): [("nobody", "valid: random")],
    ("report", "--compare"): [("agra", "POLICY:POLICY"), ("wam:wam", "POLICY:POLICY")],
    ("serve", "--policy"): [("randm", "did you mean 'random'")],
    ("serve", "--checkpoint"): [(MISSING, "checkpoint folder"), (A_FILE, "checkpoint folder")],
    ("serve", "--host"): [("not a host", "IP address or host name")],
    ("serve", "--port"): [("-1", "0-65535"), ("70000", "0-65535")],
    ("serve", "--max-frame-mb"): [("0", "1 KB")],
    ("perturb preview", "suite"): [("libero_1", "libero_spatial")],
    ("perturb preview", "--task"): [("3", "0-0")],
    ("perturb preview", "--perturb"): [("camra", "valid: all, none")],
    ("perturb preview", "--out"): [(A_FILE + "/g.png", "writable folder")],
    ("perturb preview", "--split"): [("test", "id, ood")],
    ("perturb preview", "--image-size"): [("0", "8-1024")],
    ("perturb preview", "--init-state"): [("-1", ">= 0")],
    ("perturb preview", "--seed"): [("-1", ">= 0")],
    ("perturb preview", "--max-steps"): [("0", ">= 1")],
    ("perturb preview", "--physics"): [("warp", "fast, stock")],
    ("perturb preview", "--protocol"): [("libro", "openpi, libero")],
    ("perturb preview", "--render-quality"): [("ultra", "standard, tuned, fast")],
}
EXTRA = {
    ("run", "--checkpoint"): ["--policy", "wam"],
    ("serve", "--checkpoint"): ["--policy", "wam"],
    ("train", "--align-weight"): ["--policy", "agra"],
}
POSITIONAL = {
    ("list", "what"): 1,
    ("report", "dirs"): 1,
    ("merge", "dirs"): 1,
    ("perturb preview", "suite"): 2,
}


def command_options() -> dict[tuple[str, str], bool]:
    """(command, option or argument name) -> whether it is a flag, from the real click tree."""
    found: dict[tuple[str, str], bool] = {}

    def walk(command, path: list[str]) -> None:
        if getattr(command, "commands", None):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        for param in command.params:
            name = param.opts[0] if param.opts and param.opts[0].startswith("-") else param.name
            found[(" ".join(path), name)] = bool(getattr(param, "is_flag", False))

    walk(typer.main.get_command(cli.app), [])
    return found


def test_every_option_is_in_the_table():
    options = command_options()
    valued = {key for key, is_flag in options.items() if not is_flag}
    assert valued - set(TABLE) == set(), "options without bad-value rows"
    assert set(TABLE) - valued == set(), "rows for options that do not exist"


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, str]:
    from policies.wam.checkpoint import save_inference
    from policies.wam.config import make_config
    from policies.wam.model import WorldActionModel
    from tests.helpers.synthetic_runs import episode_row, write_run

    root = tmp_path_factory.mktemp("bad-values")
    (root / "empty").mkdir()
    (root / "a-file").write_text("a file, not a folder")
    (root / "not.hdf5").write_text("not an HDF5 file")
    write_run(root / "runs", "r1", [episode_row("r1", "random", 0, 0, "none", True)])
    config = make_config("tiny", image_size=32)
    save_inference(root / "ckpt", config, WorldActionModel(config).state_dict(), {"step": 0})
    return {
        MISSING: str(root / "missing"),
        A_FILE: str(root / "a-file"),
        RUNS: str(root / "runs"),
        A_DIR: str(root),
        NOT_HDF5: str(root / "not.hdf5"),
        CKPT: str(root / "ckpt"),
        DEMO: str(root / "not.hdf5"),  # train's other options are checked before the data is read
    }


def fill(text: str, paths: dict[str, str]) -> str:
    for placeholder, value in paths.items():
        text = text.replace(placeholder, value)
    return text


def command_line(command: str, option: str, value: str) -> list[str]:
    """The command's valid base line with OPTION set to VALUE (replaced if present)."""
    args = list(BASE[command])
    if (command, option) in POSITIONAL:
        args[POSITIONAL[(command, option)]] = value
        return args
    for flag, companion in zip(
        EXTRA.get((command, option), [])[::2], EXTRA.get((command, option), [])[1::2], strict=True
    ):
        args[args.index(flag) + 1] = companion
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


CASES = [
    (cmd, opt, row[0], row[1], row[2] if len(row) > 2 else row[0])
    for (cmd, opt), rows in TABLE.items()
    for row in rows
]


@pytest.mark.parametrize(
    ("command", "option", "bad", "valid", "named"), CASES, ids=[f"{c} {o}={b}" for c, o, b, *_ in CASES]
)
def test_bad_value_is_one_line(command, option, bad, valid, named, paths, cli_in_process):
    bad, valid, named = fill(bad, paths), fill(valid, paths), fill(named, paths)
    code, err = cli_in_process(*[fill(a, paths) for a in command_line(command, option, bad)])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert named in lines[0] and valid in lines[0], lines[0]


@pytest.mark.parametrize("flag", sorted({opt for (_, opt), is_flag in command_options().items() if is_flag}))
def test_a_flag_given_a_value_is_one_line(flag, cli_in_process):
    command = next(cmd for (cmd, opt), is_flag in command_options().items() if opt == flag and is_flag)
    code, err = cli_in_process(*command.split(), f"{flag}=yes")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert flag in err and "does not take a value" in err, err


def test_the_table_names_a_file_and_a_directory_case():
    # The kinds the issue lists that apply to paths are all present.
    values = [row[0] for rows in TABLE.values() for row in rows]
    for kind in (MISSING, A_FILE, NOT_HDF5, A_DIR + "/empty"):
        assert kind in values, kind
