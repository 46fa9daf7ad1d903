"""Options come from their dataclasses (agra_bench/cli_options.py): a field added to
`EnvSettings` with a `help` is an option of every command that builds an env, with no edit of
the command line; a field without `help` is for code only."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

ADD_A_FIELD = """
import dataclasses, sys
import agra_bench.envs.settings as settings

base = settings.EnvSettings
extended = dataclasses.make_dataclass(
    "EnvSettings",
    [
        ("fog_density", float, dataclasses.field(default=0.0, metadata={"help": "fog in the scene"})),
        ("internal_knob", int, dataclasses.field(default=1)),  # no help: not an option
    ],
    bases=(base,),
    frozen=True,
)
settings.EnvSettings = extended
from typer.main import get_command
from agra_bench import cli

app = get_command(cli.app)
commands = {name: app.commands[name] for name in ("run", "collect", "diagnose", "train", "serve")}
commands["perturb preview"] = app.commands["perturb"].commands["preview"]
for name, command in commands.items():
    params = {p.name: p for p in command.params}
    print(name, "fog_density" in params, "internal_knob" in params,
          params["fog_density"].default if "fog_density" in params else None)
"""


def test_a_new_env_field_is_an_option_of_every_command_that_builds_an_env():
    result = subprocess.run(
        [sys.executable, "-c", ADD_A_FIELD], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.rsplit(" ", 3) for line in result.stdout.strip().splitlines()]
    seen = {name: " ".join(rest) for name, *rest in lines}
    for command in ("run", "collect", "diagnose", "perturb preview"):
        assert seen[command] == "True False 0.0", (command, seen[command])
    for command in ("train", "serve"):  # they build no env
        assert seen[command] == "False False None", (command, seen[command])


def test_run_and_its_config_share_every_option():
    from dataclasses import fields

    from typer.main import get_command

    from agra_bench import cli
    from agra_bench.config import RunConfig
    from agra_bench.envs.settings import EnvSettings

    params = {p.name for p in get_command(cli.app).commands["run"].params}
    declared = {f.name for cls in (RunConfig, EnvSettings) for f in fields(cls) if "help" in f.metadata}
    assert params == declared | {"progress"}
