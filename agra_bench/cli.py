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

from agra_bench.errors import UsageError, unknown

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Closed-loop robustness benchmark for visuomotor robot policies.",
)
console = Console()
err_console = Console(stderr=True)

LIST_WHAT = ("suites", "tasks", "policies", "perturbations", "protocols")


@app.command()
def run(
    policy: Annotated[str, typer.Option(help="random, noop, ... or package.module:ClassName")],
    suite: Annotated[str, typer.Option(help="libero_spatial, libero_10, robosuite_lift, ...")],
    tasks: Annotated[str, typer.Option(help="'all' or ids: 0,3 or 0-4")] = "all",
    episodes: Annotated[int | None, typer.Option(help="episodes per task and arm [protocol: 50]")] = None,
    perturb: Annotated[str, typer.Option(help="none, all, a family, family:severity=3, a+b")] = "none",
    severity: Annotated[int, typer.Option(help="1-5")] = 3,
    split: Annotated[str, typer.Option(help="id or ood variant pool")] = "id",
    seed: int = 0,
    out: Path = Path("results"),
    workers: int = 1,
    max_steps: Annotated[int | None, typer.Option(help="step cap override [protocol's cap]")] = None,
    video: Annotated[int, typer.Option(help="MP4s saved per task and arm")] = 0,
    checkpoint: str | None = None,
    executor: Annotated[str, typer.Option(help="local or ray")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address [start a local one]")] = None,
    protocol: str = "libero",
    image_size: int = 128,
    render_quality: Annotated[str, typer.Option(help="standard, tuned or fast")] = "tuned",
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Run closed-loop episodes and write DIR/<run_id>/episodes.parquet and manifest.json."""
    from agra_bench.config import RunConfig
    from agra_bench.runner import run as run_episodes

    config = RunConfig(
        policy=policy,
        suite=suite,
        tasks=tasks,
        episodes=episodes,
        perturb=perturb,
        severity=severity,
        split=split,
        seed=seed,
        out=out,
        workers=workers,
        max_steps=max_steps,
        video=video,
        checkpoint=checkpoint,
        executor=executor,
        address=address,
        protocol=protocol,
        image_size=image_size,
        render_quality=render_quality,
    )
    summary = run_episodes(config, show_progress=progress, console=err_console)
    rate = summary.successes / summary.ran if summary.ran else float("nan")
    console.print(
        f"run {summary.run_id}: {summary.ran} episodes run, {summary.skipped} already done "
        f"(of {summary.planned}); success {summary.successes}/{summary.ran} ({rate:.1%}), "
        f"errors {summary.errors}\n{summary.run_dir / 'episodes.parquet'}"
    )


@app.command()
def collect(
    suite: Annotated[str, typer.Option(help="libero_object, libero_spatial, robosuite_lift, ...")],
    out: Annotated[Path, typer.Option(help="FILE.hdf5 for one task, else a folder of <task>_demo.hdf5")],
    tasks: Annotated[str, typer.Option(help="'all' or ids: 0,3 or 0-4")] = "all",
    episodes: Annotated[int, typer.Option(help="oracle attempts per task (init states 0..N-1)")] = 50,
    perturb: Annotated[str, typer.Option(help="one arm: none, a family, family:severity=3, a+b")] = "none",
    severity: int = 3,
    split: str = "id",
    seed: int = 0,
    workers: int = 1,
    image_size: int = 128,
    keep_failures: Annotated[bool, typer.Option(help="also keep episodes the oracle failed")] = False,
    render: Annotated[bool, typer.Option(help="run the render pass (images from stored states)")] = True,
    segmentation: Annotated[bool, typer.Option(help="store object segmentation maps too")] = True,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Scripted-oracle demonstrations in LIBERO's HDF5 layout (states first, then a render pass)."""
    from agra_bench.demos import CollectJob
    from agra_bench.demos import collect as collect_demos
    from agra_bench.suites import parse_task_ids

    task_ids = parse_task_ids(suite, tasks)
    job = CollectJob(
        suite,
        task_ids[0],
        episodes,
        out,
        perturb,
        severity,
        split,
        seed,
        image_size,
        keep_failures,
        render,
        segmentation,
    )
    table = Table("task", "demos kept", "oracle failures", "file")
    for result in collect_demos(job, task_ids, workers, progress):
        table.add_row(
            str(result["task_id"]), str(result["demos"]), str(result.get("failed", "-")), result["file"]
        )
    console.print(table)


@app.command()
def train(
    policy: Annotated[str, typer.Option(help="wam (no alignment) or agra (REPA-style alignment)")],
    data: Annotated[list[Path], typer.Option(help="demonstration HDF5 files (repeat the option)")],
    out: Annotated[Path, typer.Option(help="checkpoint folder (resumes if it holds a run)")],
    config: Annotated[str, typer.Option(help="tiny, small or base")] = "tiny",
    steps: int = 1000,
    batch_size: int = 32,
    lr: float = 3e-4,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    teacher: Annotated[str, typer.Option(help="mobilenet_v2, dinov2_small, dinov2_base")] = "mobilenet_v2",
    teacher_path: Annotated[str | None, typer.Option(help="local folder of a DINOv2 model")] = None,
    allow_download: Annotated[bool, typer.Option(help="let the teacher come from a model hub")] = False,
    align_weight: Annotated[float, typer.Option(help="lambda_agra for --policy agra")] = 0.5,
    align_layers: Annotated[str, typer.Option(help="video layers to align, e.g. 2 or 1,3 [~depth/3]")] = "",
    workers: Annotated[int, typer.Option(help="data-loader processes")] = 0,
    save_every: int = 500,
) -> None:
    """Train a world action model with (agra) or without (wam) representation alignment."""
    from policies.wam.config import make_config
    from policies.wam.train import TrainSettings
    from policies.wam.train import train as train_model

    layers = tuple(int(x) for x in align_layers.split(",") if x.strip()) if align_layers else ()
    wam_config = make_config(
        config, teacher=teacher, align_layers=layers, align_weight=align_weight if policy == "agra" else 0.0
    )
    settings = TrainSettings(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        workers=workers,
        save_every=save_every,
        teacher_path=teacher_path,
        allow_download=allow_download,
    )
    folder = train_model(policy, data, out, wam_config, settings)
    console.print(f"checkpoint written to {folder}/ (config.json, model.safetensors, losses.csv, losses.png)")


@app.command()
def diagnose(
    checkpoint: Annotated[str, typer.Option(help="WAM/AGRA checkpoint folder")],
    suite: Annotated[str, typer.Option(help="libero_object, libero_spatial, ...")],
    out: Annotated[Path, typer.Option(help="output folder")],
    policy: Annotated[str, typer.Option(help="wam or agra (must match the checkpoint)")] = "agra",
    tasks: str = "0",
    episodes: int = 1,
    perturb: str = "none",
    severity: int = 3,
    split: str = "id",
    seed: int = 0,
    image_size: int = 128,
    max_steps: int | None = None,
    layer: Annotated[
        int | None, typer.Option(help="video layer to intervene on [first aligned layer]")
    ] = None,
) -> None:
    """Attention-in-region, centroid error and causal token interventions along rollouts."""
    from agra_bench.diagnostics import DiagnoseJob, run_diagnostics, summarise
    from agra_bench.suites import parse_task_ids

    job = DiagnoseJob(
        policy,
        checkpoint,
        suite,
        tuple(parse_task_ids(suite, tasks)),
        episodes,
        perturb,
        severity,
        split,
        seed,
        image_size,
        max_steps,
        layer,
    )
    frame = run_diagnostics(job, out)
    table = Table("perturbation", "calls", "attn in region", "centroid err", "mean ratio", "zero ratio")
    for row in summarise(frame).itertuples():
        table.add_row(
            row.perturbation,
            str(row.calls),
            f"{row.attn_in_region:.3f}",
            f"{row.centroid_error:.2f}",
            f"{row.mean_ratio:.2f}",
            f"{row.zero_ratio:.2f}",
        )
    console.print(table)
    console.print(f"diagnostics written to {out}/ (diagnostics.parquet, overlays/, interventions.png)")


@app.command()
def report(
    dirs: Annotated[
        list[Path], typer.Argument(help="result folders (searched recursively) or episodes.parquet")
    ],
    out: Annotated[Path | None, typer.Option(help="output folder [first DIR/report]")] = None,
) -> None:
    """Merge runs into DIR/report/: Wilson intervals, paired deltas, plots, HTML, leaderboard.csv."""
    from agra_bench.report import build_report

    result = build_report(dirs, out)
    for note in result.notes:
        err_console.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    table = Table(
        "policy", "suite", "perturbation", "sev", "split", "n", "success", "95% CI", "delta vs clean"
    )
    for row in result.leaderboard.itertuples():
        delta = (
            ""
            if row.delta_pairs == 0
            else f"{100 * row.delta_vs_clean:+.1f} "
            f"[{100 * row.delta_ci_low:+.1f}, {100 * row.delta_ci_high:+.1f}]"
        )
        table.add_row(
            row.policy,
            row.suite,
            row.perturbation,
            str(row.severity),
            row.split,
            str(row.episodes),
            f"{100 * row.success_rate:.1f}%",
            f"[{100 * row.ci_low:.1f}, {100 * row.ci_high:.1f}]",
            delta,
        )
    console.print(table)
    console.print(f"report written to {result.out}/ (index.html, summary.md, leaderboard.csv)")


perturb_app = typer.Typer(help="Inspect perturbations.", no_args_is_help=True)
app.add_typer(perturb_app, name="perturb")


@perturb_app.command("preview")
def perturb_preview(
    suite: str,
    task: int = 0,
    perturb: str = "all",
    out: Path = Path("gallery.png"),
    split: str = "id",
    image_size: int = 128,
    init_state: int = 0,
    seed: int = 0,
) -> None:
    """Contact sheet: the clean frame and each family at severities 1, 3 and 5, labelled."""
    from agra_bench.config import check_writable
    from agra_bench.preview import render_gallery
    from agra_bench.suites import get_task
    from perturbations.spec import parse_spec

    get_task(suite, task)
    parse_spec(perturb, 3, split)
    check_writable(out.parent if str(out.parent) else Path("."))
    meta = render_gallery(suite, task, perturb, out, image_size, split, init_state, seed)
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
        from agra_bench.protocol import get_protocol

        for name in suite_registry.all_suites():
            table.add_row(name, suite_registry.suite_kind(name), str(get_protocol("libero").step_cap(name)))
    elif what == "tasks":
        if suite is None:
            raise UsageError(f"'list tasks' needs --suite; valid: {', '.join(suite_registry.all_suites())}")
        table.add_column("id", justify="right"), table.add_column("name"), table.add_column("instruction")
        for task in suite_registry.list_tasks(suite):
            table.add_row(str(task.task_id), task.name, task.instruction)
    elif what == "policies":
        from policies.registry import POLICIES, policy_names

        table.add_column("policy"), table.add_column("description")
        for name in policy_names():
            table.add_row(name, (POLICIES[name].__doc__ or "").strip().splitlines()[0])
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

        table.add_column("protocol"), table.add_column("settle"), table.add_column("description")
        for proto in PROTOCOLS.values():
            table.add_row(proto.name, str(proto.settle_steps), proto.description)
    console.print(table)


def main() -> None:
    """Entry point: usage errors become one line and exit code 2."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    try:
        app(standalone_mode=False)
    except UsageError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except RuntimeError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun the same command to resume")
        sys.exit(130)
    except Exception as exc:  # click's usage errors (bad option names or types, missing options);
        # newer typer raises them from its own vendored copy of click, so match by shape
        if callable(getattr(exc, "format_message", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            err_console.print(f"[red]error:[/red] {exc.format_message()}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
