"""The `agra-bench` command line.

Bad input of any kind ends in one line on stderr naming the bad value and the valid ones, and
exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agra_bench import cli_workflows as workflows
from agra_bench.cli_options import options_from, values_for
from agra_bench.config import RunConfig
from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError, unknown
from agra_bench.stopping import EXIT_CODE as STOPPED_EXIT_CODE
from agra_bench.stopping import StoppedBySignal

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Closed-loop robustness benchmark for visuomotor robot policies.",
)
console = Console()


def _print_version(value: bool) -> None:
    if value:
        from agra_bench import __version__

        console.print(f"agra-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """Closed-loop robustness benchmark for visuomotor robot policies."""


err_console = Console(stderr=True)

LIST_WHAT = ("suites", "tasks", "policies", "perturbations", "protocols")


@app.command()
@options_from(RunConfig, EnvSettings)
def run(
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
    **options,
) -> None:
    """Run closed-loop episodes and write DIR/<run_id>/episodes.parquet and manifest.json."""
    from agra_bench.runner import run as run_episodes

    config = RunConfig(**values_for(RunConfig, options), env=values_for(EnvSettings, options))
    summary = run_episodes(config, show_progress=progress, console=err_console)
    # Over the whole run, so that a resumed run reports its result, not only this call's share.
    rate = summary.run_successes / summary.finished if summary.finished else float("nan")
    console.print(
        f"run {summary.run_id}: {summary.ran} episodes run, {summary.skipped} already done "
        f"(of {summary.planned}); success {summary.run_successes}/{summary.finished} ({rate:.1%}), "
        f"errors {summary.run_errors}\n{summary.run_dir / 'episodes.parquet'}"
    )


perturb_app = typer.Typer(help="Inspect perturbations.", no_args_is_help=True)
app.add_typer(perturb_app, name="perturb")


@perturb_app.command("preview")
@options_from(EnvSettings)
def perturb_preview(
    suite: str,
    task: int = 0,
    perturb: str = "all",
    out: Path = Path("gallery.png"),
    split: str = "id",
    init_state: int = 0,
    seed: int = 0,
    **options,
) -> None:
    """Contact sheet: the clean frame and each family at severities 1, 3 and 5, labelled."""
    from agra_bench.errors import check_int, check_writable_file
    from agra_bench.preview import render_gallery
    from agra_bench.suites import get_task
    from perturbations.spec import parse_spec

    get_task(suite, task)
    parse_spec(perturb, 3, split, suite)
    env = EnvSettings(**values_for(EnvSettings, options, drop_none=True))
    check_int("init-state", init_state, 0)
    check_int("seed", seed, 0)
    check_writable_file(out)
    meta = render_gallery(suite, task, perturb, out, env, split, init_state, seed)
    console.print(f"wrote {out} ({len(meta)} perturbed tiles) and {out.with_suffix('.json')}")


@app.command("list")
def list_cmd(
    what: Annotated[str, typer.Argument(help=", ".join(LIST_WHAT))],
    suite: Annotated[str | None, typer.Option(help="suite for 'list tasks'")] = None,
) -> None:
    """List suites, tasks of a suite, policies, perturbations or protocols."""
    from agra_bench import suites as suite_registry

    if what not in LIST_WHAT:
        raise unknown("list target", what, LIST_WHAT)
    table = Table(show_lines=False)
    if what == "suites":
        table.add_column("suite"), table.add_column("kind"), table.add_column("step cap")
        from agra_bench.protocol import DEFAULT_PROTOCOL, get_protocol

        for name in suite_registry.all_suites():
            table.add_row(
                name, suite_registry.suite_kind(name), str(get_protocol(DEFAULT_PROTOCOL).step_cap(name))
            )
    elif what == "tasks":
        if suite is None:
            raise UsageError(f"'list tasks' needs --suite; valid: {', '.join(suite_registry.all_suites())}")
        table.add_column("id", justify="right"), table.add_column("name"), table.add_column("instruction")
        for task in suite_registry.list_tasks(suite):
            table.add_row(str(task.task_id), task.name, task.instruction)
    elif what == "policies":
        from policies.registry import policy_descriptions

        table.add_column("policy"), table.add_column("description")
        for name, description in policy_descriptions().items():
            table.add_row(name, description)
    elif what == "perturbations":
        from perturbations.registry import families

        # One block per family: the ranges do not fit the columns of a table.
        for name, cls in families().items():
            pools = cls.pools()
            console.print(
                f"[bold]{name}[/bold]: {cls.description} "
                f"(pools: {len(pools['id'])} id / {len(pools['ood'])} ood)",
                highlight=False,
            )
            for severity in (1, 3, 5):
                values = ", ".join(
                    f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
                    for k, v in cls.ranges(severity).items()
                )
                console.print(f"  severity {severity}: {values or '-'}", highlight=False)
        return
    else:
        from agra_bench.protocol import PROTOCOLS

        table.add_column("protocol", no_wrap=True), table.add_column("settle")
        table.add_column("caps spatial/object/goal/10/90"), table.add_column("fixtures", no_wrap=True)
        table.add_column("first observation", no_wrap=True)
        for proto in PROTOCOLS.values():
            caps = "/".join(str(v) for k, v in proto.max_steps.items() if "libero" in k)
            table.add_row(proto.name, str(proto.settle_steps), caps, proto.scene, proto.first_observation)
    console.print(table)


for command in (
    workflows.collect,
    workflows.train,
    workflows.diagnose,
    workflows.report,
    workflows.serve,
    workflows.merge,
    workflows.verify_protocol,
):
    app.command()(command)


def _given_value(param, argv: list[str]) -> str | None:
    """The text the user gave for a click parameter, so that a type error can name it (the
    type's own message says what is valid but not what was given)."""
    opts = getattr(param, "opts", None) or []
    for i, arg in enumerate(argv):
        for opt in opts:
            if arg == opt and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(f"{opt}="):
                return arg.split("=", 1)[1]
    return None


def main() -> None:
    """Entry point: usage errors become one line and exit code 2."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except UsageError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except RuntimeError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun the same command to resume")
        sys.exit(130)
    except StoppedBySignal as exc:
        err_console.print(f"stopped: {exc}", highlight=False, soft_wrap=True)
        sys.exit(STOPPED_EXIT_CODE)
    except Exception as exc:  # click's usage errors (bad option names or types, missing options);
        # newer typer raises them from its own vendored copy of click, so match by shape
        if callable(getattr(exc, "format_message", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            message = exc.format_message()
            given = _given_value(getattr(exc, "param", None), sys.argv[1:])
            if given is not None and repr(given) not in message:
                message = f"{message} (got {given!r})"
            err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
