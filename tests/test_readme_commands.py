"""Every `agra-bench` command line in README.md's code blocks runs as shown.

The lines are read from the README itself, so a command that stops working (the first wave's
`agra-bench list policies` ended in a traceback) or a README edit that adds a broken one fails
here. Each runnable line runs in README order, in one scratch folder (so `results/`, `data/` and
`../data/` are created there), through the real CLI in a subprocess, with only its sizes made
small: episodes, step caps, training steps, image sizes and task lists (`shrink` says which).
The `serve` line runs as a background server, and every `openpi://127.0.0.1:8000` line talks to
it (openpi's own server, which the README also names, speaks the same protocol). Usage
synopses (lines with `[...]` or `a|b`) are not runnable; their options must exist.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest
import typer

from agra_bench import cli
from tests.conftest import CLI, REPO

pytestmark = pytest.mark.sim

README = (REPO / "README.md").read_text()
SHELL_VARIABLES = {"$s": "3"}  # the severity loop's variable: one pass of the loop
SMALL = {
    # command -> option -> value; options marked + are added when the line does not give them
    "run": {"--episodes": "1+", "--max-steps": "2+", "--tasks": "first+"},
    "collect": {"--episodes": "1", "--image-size": "32+", "--tasks": "first+"},
    "train": {"--steps": "2"},
    "diagnose": {"--episodes": "1", "--max-steps": "3+", "--tasks": "first"},
}


def readme_lines() -> list[str]:
    """`agra-bench COMMAND ...` lines of the fenced code blocks (COMMAND one of the CLI's),
    continuations joined, comments kept out."""
    commands = set(typer.main.get_command(cli.app).commands)
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # environment assignments, e.g. PYTHONPATH=.
            if words[:1] == ["agra-bench"] and len(words) > 1 and words[1] in commands:
                found.append(line.strip())
    return found


def is_synopsis(line: str) -> bool:
    return "[" in line or "|" in line


def shrink(words: list[str]) -> list[str]:
    """The same command with small sizes (see SMALL); everything else as the README gives it."""
    words = [SHELL_VARIABLES.get(w, w) for w in words]
    for option, value in SMALL.get(words[1], {}).items():
        add = value.endswith("+")
        value = value.rstrip("+")
        if option in words:
            given = words[words.index(option) + 1]
            words[words.index(option) + 1] = re.split("[,-]", given)[0] if value == "first" else value
        elif add:
            words += [option, "0" if value == "first" else value]
    return words


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command_options(path: list[str]) -> set[str]:
    command = typer.main.get_command(cli.app)
    for name in path:
        command = command.commands[name]
    return {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}


def test_the_readme_shows_the_main_commands():
    lines = [line for line in readme_lines() if not is_synopsis(line)]
    for command in ("list", "run", "collect", "train", "diagnose", "report", "serve"):
        assert any(line.split()[1:2] == [command] for line in lines if line.startswith("agra-bench")), command


def test_synopsis_options_exist():
    for line in filter(is_synopsis, readme_lines()):
        words = line.split()
        path = [words[1], words[2]] if words[1] == "perturb" else [words[1]]
        valid = command_options(path)
        for option in re.findall(r"(--[a-z][a-z-]*)", line):
            assert option in valid, f"README synopsis `{line}` names {option}, which `{' '.join(path)}` lacks"


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    serve_lines = [
        line for line in readme_lines() if line.startswith("agra-bench serve") and not is_synopsis(line)
    ]
    assert serve_lines, "README shows no agra-bench serve line"
    server_words = shrink(shlex.split(serve_lines[0], comments=True))
    server_words[server_words.index("--port") + 1] = str(port)
    server = subprocess.Popen(
        [*CLI, *server_words[1:]],
        cwd=work,
        env=env,
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stderr.read()
            time.sleep(0.5)
        ran = 0
        for line in readme_lines():
            if is_synopsis(line) or line.startswith("agra-bench serve"):
                continue
            words = shrink([w for w in shlex.split(line, comments=True) if not re.match(r"^[A-Z_]+=", w)])
            words = [w.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for w in words]
            result = subprocess.run(
                [*CLI, *words[1:]], cwd=work, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0 and "Traceback" not in result.stderr, (
                f"README line `{line}` (run as `{shlex.join(words)}`) failed:\n{result.stderr[-3000:]}"
            )
            ran += 1
        assert ran >= 10, ran  # the worked example, serving and evaluate-your-own-policy lines
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
