"""The data-and-analysis commands of `agra-bench`: collect, train, diagnose, report.

Plain functions with typer annotations; `agra_bench.cli` registers them on the app, so this
module imports nothing heavy until a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agra_bench.envs.physics import DEFAULT_PHYSICS, PHYSICS_HELP
from agra_bench.errors import UsageError

console = Console()
err_console = Console(stderr=True)


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
    action_noise: Annotated[
        float, typer.Option(help="std of noise on executed arm actions; labels stay clean (DART)")
    ] = 0.0,
    physics: Annotated[str, typer.Option(help=PHYSICS_HELP)] = DEFAULT_PHYSICS,
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
        action_noise,
        physics,
    )
    table = Table("task", "demos kept", "oracle failures", "file")
    for result in collect_demos(job, task_ids, workers, progress):
        table.add_row(
            str(result["task_id"]), str(result["demos"]), str(result.get("failed", "-")), result["file"]
        )
    console.print(table)


def train(
    policy: Annotated[str, typer.Option(help="wam (no alignment) or agra (REPA-style alignment)")],
    data: Annotated[list[Path], typer.Option(help="HDF5 file or folder of them (repeat the option)")],
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
    teacher_cache: Annotated[
        Path | None, typer.Option(help="teacher-feature folder shared across runs [OUT/teacher_cache]")
    ] = None,
    align_weight: Annotated[float, typer.Option(help="lambda_agra for --policy agra")] = 0.5,
    align_layers: Annotated[str, typer.Option(help="video layers to align, e.g. 2 or 1,3 [~depth/3]")] = "",
    workers: Annotated[int, typer.Option(help="data-loader processes")] = 0,
    save_every: int = 500,
    precision: Annotated[str, typer.Option(help="auto (bf16 where native), bf16 or fp32")] = "auto",
    shift_pad: Annotated[int, typer.Option(help="random-shift augmentation in pixels (0 = off)")] = 4,
    normalize: Annotated[bool, typer.Option(help="normalise actions/proprio with data statistics")] = True,
    snapshot_every: Annotated[int, typer.Option(help="keep EMA weights every N steps (0 = never)")] = 0,
    expect_data_sha256: Annotated[
        str | None, typer.Option(help="refuse data whose digest differs (a partner checkpoint's data_sha256)")
    ] = None,
) -> None:
    """Train a world action model with (agra) or without (wam) representation alignment."""
    from agra_bench.errors import check_choice, check_exists, check_writable
    from policies.wam.config import make_config
    from policies.wam.teachers import TEACHERS
    from policies.wam.train import TrainSettings
    from policies.wam.train import train as train_model

    check_choice("policy", policy, ("wam", "agra"))
    check_choice("teacher", teacher, TEACHERS)
    check_exists("teacher-path", teacher_path, "a local folder of a DINOv2 model")
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
        teacher_cache=str(teacher_cache) if teacher_cache else None,
        allow_download=allow_download,
        precision=precision,
        shift_pad=shift_pad,
        normalize=normalize,
        snapshot_every=snapshot_every,
        expect_data_sha256=expect_data_sha256,
    )
    from agra_bench.demos.dataset import demo_file_paths

    check_writable(out)
    if teacher_cache is not None:
        check_writable(teacher_cache, "teacher-cache")
    folder = train_model(policy, demo_file_paths(data), out, wam_config, settings)
    console.print(f"checkpoint written to {folder}/ (config.json, model.safetensors, losses.csv, losses.png)")


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
    physics: Annotated[str, typer.Option(help=PHYSICS_HELP)] = DEFAULT_PHYSICS,
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
        physics=physics,
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
