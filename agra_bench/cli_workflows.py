"""The data-and-analysis commands of `agra-bench`: collect, train, diagnose, report, serve,
merge, verify-protocol.

Plain functions with typer annotations; `agra_bench.cli` registers them on the app, so this
module imports nothing heavy until a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agra_bench.cli_options import options_from, values_for
from agra_bench.demos.job import CollectJob
from agra_bench.diagnostics.job import DiagnoseJob
from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError
from agra_bench.verify.job import VerifyJob
from policies.wam.settings import TrainSettings

console = Console()
err_console = Console(stderr=True)


@options_from(CollectJob, EnvSettings, policy=False)
def collect(
    tasks: Annotated[str, typer.Option(help="'all' or ids: 0,3 or 0-4")] = "all",
    episodes: Annotated[int, typer.Option(help="oracle attempts per task (init states 0..N-1)")] = 50,
    workers: Annotated[int, typer.Option(help="simulator processes (one task each)")] = 1,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
    **options,
) -> None:
    """Scripted-oracle demonstrations in LIBERO's HDF5 layout (states first, then a render pass)."""
    from agra_bench.demos import collect_tasks
    from agra_bench.suites import parse_task_ids

    task_ids = parse_task_ids(options["suite"], tasks)
    env = EnvSettings(**values_for(EnvSettings, options, drop_none=True))
    job = CollectJob(task_id=task_ids[0], episodes=episodes, env=env, **values_for(CollectJob, options))
    table = Table("task", "demos kept", "oracle failures", "file")
    for result in collect_tasks(job, task_ids, workers, progress):
        table.add_row(
            str(result["task_id"]), str(result["demos"]), str(result.get("failed", "-")), result["file"]
        )
    console.print(table)


@options_from(TrainSettings)
def train(
    policy: Annotated[str, typer.Option(help="wam (no alignment) or agra (REPA-style alignment)")],
    data: Annotated[list[Path], typer.Option(help="HDF5 file or folder of them (repeat the option)")],
    out: Annotated[Path, typer.Option(help="checkpoint folder (resumes if it holds a run)")],
    config: Annotated[str, typer.Option(help="tiny, small or base")] = "tiny",
    teacher: Annotated[
        str, typer.Option(help="mobilenet_v2, dinov2_small, dinov2_base, sim_semantic")
    ] = "mobilenet_v2",
    align_weight: Annotated[float, typer.Option(help="lambda_agra for --policy agra")] = 0.5,
    align_layers: Annotated[str, typer.Option(help="video layers to align, e.g. 2 or 1,3 [~depth/3]")] = "",
    context_frames: Annotated[
        int | None, typer.Option(help="agentview frames the model sees, one per policy call [preset's: 1]")
    ] = None,
    **options,
) -> None:
    """Train a world action model with (agra) or without (wam) representation alignment."""
    from agra_bench.errors import check_choice, check_exists, check_int, check_writable
    from policies.wam.config import make_config
    from policies.wam.teachers import TEACHERS
    from policies.wam.train import train as train_model

    settings = TrainSettings(**values_for(TrainSettings, options))
    check_choice("policy", policy, ("wam", "agra"))
    check_choice("teacher", teacher, TEACHERS)
    check_exists("teacher-path", settings.teacher_path, "a local folder of a DINOv2 model")
    if not align_weight >= 0:
        raise UsageError(f"bad --align-weight {align_weight}; valid: a number >= 0")
    if policy == "agra" and align_weight == 0:
        raise UsageError(
            "bad --align-weight 0 for --policy agra; valid: a number > 0 "
            "(without alignment, train --policy wam)"
        )
    try:
        layers = tuple(int(x) for x in align_layers.split(",") if x.strip()) if align_layers else ()
    except ValueError:
        raise UsageError(
            f"bad --align-layers '{align_layers}'; valid: comma-separated layer ids, e.g. 2 or 1,3"
        ) from None
    check_int("context-frames", context_frames, 1)
    overrides = {} if context_frames is None else {"context_frames": context_frames}
    wam_config = make_config(
        config,
        teacher=teacher,
        align_layers=layers,
        align_weight=align_weight if policy == "agra" else 0.0,
        **overrides,
    )
    from agra_bench.demos.dataset import demo_file_paths

    check_writable(out)
    if settings.teacher_cache is not None:
        check_writable(Path(settings.teacher_cache), "teacher-cache")
    folder = train_model(policy, demo_file_paths(data), out, wam_config, settings)
    console.print(f"checkpoint written to {folder}/ (config.json, model.safetensors, losses.csv, losses.png)")


@options_from(DiagnoseJob, EnvSettings)
def diagnose(
    out: Annotated[Path, typer.Option(help="output folder")],
    tasks: Annotated[str, typer.Option(help="'all' or ids: 0,3 or 0-4")] = "0",
    **options,
) -> None:
    """Attention-in-region, centroid error and causal token interventions along rollouts."""
    from agra_bench.diagnostics.rollouts import run_diagnostics, summarise
    from agra_bench.suites import parse_task_ids

    job = DiagnoseJob(
        task_ids=tuple(parse_task_ids(options["suite"], tasks)),
        env=values_for(EnvSettings, options),
        **values_for(DiagnoseJob, options),
    )
    frame = run_diagnostics(job, out)
    for note in job.notes:  # after the run's checks, so that bad input stays one line
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
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


def report(
    dirs: Annotated[
        list[Path], typer.Argument(help="result folders (searched recursively) or episodes.parquet")
    ],
    out: Annotated[Path | None, typer.Option(help="output folder [first DIR/report]")] = None,
    errors_as_failures: Annotated[
        bool, typer.Option(help="count episodes that ended in an error as failures [left out]")
    ] = False,
    compare: Annotated[
        list[str] | None, typer.Option(help="policies compared head to head, A:B (repeat) [agra:wam]")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="policy label that robustness.csv's mCE is relative to")
    ] = None,
) -> None:
    """Merge runs into DIR/report/: Wilson intervals, paired deltas, plots, HTML, leaderboard.csv."""
    from agra_bench.report import build_report
    from agra_bench.report.tables import DEFAULT_COMPARISONS, parse_comparisons

    pairs = parse_comparisons(compare) if compare else DEFAULT_COMPARISONS
    result = build_report(dirs, out, errors_as_failures, pairs, baseline)
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


def serve(
    policy: Annotated[str, typer.Option(help="random, noop, scripted, wam, agra or package.module:Class")],
    checkpoint: Annotated[str | None, typer.Option(help="checkpoint folder (wam, agra)")] = None,
    host: Annotated[
        str, typer.Option(help="interface to bind; 0.0.0.0 exposes the policy to the network")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port)")] = 8000,
    max_frame_mb: Annotated[float, typer.Option(help="refuse request frames larger than this")] = 32.0,
) -> None:
    """Serve a policy in openpi's websocket + msgpack protocol (pi0/pi0.5 clients work as is)."""
    from agra_bench.errors import check_exists
    from agra_bench.serving.server import ServeSettings, run_server
    from policies.registry import policy_options

    check_exists("checkpoint", checkpoint, "a checkpoint folder (or the file your policy reads)")
    settings = ServeSettings(
        policy=policy,
        policy_options=policy_options(policy, checkpoint=checkpoint),
        host=host,
        port=port,
        max_frame_bytes=int(max_frame_mb * 2**20),
    )

    def ready(bound_port: int) -> None:
        console.print(
            f"serving {policy} on ws://{host}:{bound_port} (health: http://{host}:{bound_port}/healthz)"
        )

    run_server(settings, ready)


def merge(
    dirs: Annotated[list[Path], typer.Argument(help="shard run folders, or folders that hold them")],
    out: Annotated[Path, typer.Option(help="where the merged run folder goes")],
) -> None:
    """Join the shard folders of one command (`run --shard I/N`) into one run folder."""
    from agra_bench.merge import merge as merge_runs

    summary = merge_runs(dirs, out)
    for line in summary.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {line}", highlight=False, soft_wrap=True)
    console.print(
        f"merged {summary.inputs} run folder(s): {summary.added} episodes added, {summary.already} already "
        f"there, {summary.duplicates} duplicate(s) dropped\n{summary.run_dir}"
    )


@options_from(VerifyJob, EnvSettings, policy=False)
def verify_protocol(**options) -> None:
    """Our env beside the source's evaluation loop, episode by episode: exit 0 only when every
    compared part (fixtures, state, images, proprio, rollout, request) is identical."""
    from agra_bench.verify.compare import PARTS, passed, verify
    from agra_bench.verify.job import source_loop

    job = VerifyJob(**values_for(VerifyJob, options))
    env = EnvSettings(**{**values_for(EnvSettings, options), "image_size": job.image_size})
    _, source = source_loop(env.protocol)
    console.print(f"reference loop: {source}; ours: protocol {env.protocol}, render {env.render_quality}, "
                  f"physics {env.physics}, {job.image_size} px", highlight=False)  # fmt: skip
    checks = verify(job, env)
    verdict = {True: "identical", False: "[red]differs[/red]", None: "n/a"}
    table = Table("task", "episode", *PARTS)
    by_episode: dict[tuple[int, int], dict[str, str]] = {}
    for check in checks:
        by_episode.setdefault((check.task_id, check.episode), {})[check.part] = verdict[check.identical]
    for (task_id, episode), parts in by_episode.items():
        table.add_row(str(task_id), str(episode), *(parts.get(part, "-") for part in PARTS))
    console.print(table)
    for check in checks:
        if check.identical is False:
            console.print(f"task {check.task_id} episode {check.episode} {check.part}: {check.detail}",
                          highlight=False, soft_wrap=True)  # fmt: skip
    for part, why in sorted({(c.part, c.detail) for c in checks if c.identical is None}):
        console.print(f"{part}: {why}", highlight=False, soft_wrap=True)
    compared = [c for c in checks if c.identical is not None]
    console.print(f"{sum(c.identical for c in compared)}/{len(compared)} checks identical", highlight=False)
    if not passed(checks):
        raise typer.Exit(1)
