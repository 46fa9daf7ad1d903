"""Plans a run's episodes, runs the unfinished ones on an executor and stores the rows.

Executors (`local_executor`, `ray_executor`) yield rows as episodes finish; at most `workers`
episodes are in flight, so a killed run loses at most that many, and resuming skips every key
already in the table. The store alone writes `episodes.parquet`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agra_bench.config import RunConfig
from agra_bench.errors import UsageError
from agra_bench.local_executor import execute_local
from agra_bench.manifest import build_manifest, write_manifest
from agra_bench.plan import EpisodeKey, key_fields, plan_episodes
from agra_bench.protocol import get_protocol
from agra_bench.records import EpisodeStore
from agra_bench.shards import shard_record
from agra_bench.suites import get_task, suite_kind
from agra_bench.versions import check_libero_stack, check_robosuite_stack
from agra_bench.worker import WorkerSettings
from policies.registry import policy_options as resolve_policy_options
from policies.registry import resolve_policy_name


@dataclass
class RunSummary:
    run_id: str
    run_dir: Path
    planned: int
    skipped: int
    ran: int
    successes: int
    errors: int
    retried: int = 0  # errored episodes of an earlier attempt, run again once
    # The whole run, earlier attempts included: what a resumed run's last line reports.
    run_successes: int = 0
    run_errors: int = 0

    @property
    def finished(self) -> int:
        return self.skipped + self.ran


def static_fields(config: RunConfig, run_id: str, key: EpisodeKey) -> dict[str, Any]:
    task = get_task(key.suite, key.task_id)
    return {
        **config.condition(),
        "run_id": run_id,
        "episode_key": key.id,
        "checkpoint": config.checkpoint,
        **key_fields(key),
        "task_name": task.name,
        "instruction": task.instruction,
        "policy_server": None,  # a served policy's executor fills it in (policies/openpi_client.py)
    }


def run(config: RunConfig, show_progress: bool = True, console: Console | None = None) -> RunSummary:
    (check_libero_stack if suite_kind(config.suite) == "libero" else check_robosuite_stack)()
    run_id = config.run_id()
    run_dir = config.out / run_id
    # The policy's options are checked before the run folder exists: bad input leaves no folder.
    factory = resolve_policy_name(config.policy)
    policy_options = resolve_policy_options(
        config.policy, checkpoint=config.checkpoint, replan_steps=config.replan_steps
    )
    policy_info = factory.manifest_entry(**policy_options)
    try:
        store = EpisodeStore(run_dir)
    except ValueError as exc:  # a table this version cannot read (newer schema, corrupt file)
        raise UsageError(f"cannot resume {run_dir}: {exc}") from None
    try:
        if console is not None:  # after every check, so that bad input stays one line
            for note in config.notes:
                console.print(f"note: {note}", highlight=False, soft_wrap=True)
        plan = plan_episodes(config)
        keys = config.shard_slice.select(plan) if config.shard_slice is not None else plan
        done = store.done_keys()
        todo = [k for k in keys if k.id not in done]
        manifest = {**build_manifest(config, policy_info), "shard": shard_record(config.shard_slice, plan)}
        write_manifest(run_dir, manifest, new_session=bool(todo))
        retried = len(store.retry_keys() & {k.id for k in todo})
        settings = WorkerSettings(
            run_dir=str(run_dir),
            policy=config.policy,
            policy_options=policy_options,
            env=config.env_settings(),
            arms=tuple(config.arms),
            fps=get_protocol(config.env.protocol).control_freq_hz,
            render_every_step=config.render_every_step,
        )
        summary = RunSummary(run_id, run_dir, len(keys), len(keys) - len(todo), 0, 0, 0, retried)
        if retried and console is not None:
            console.print(f"retrying {retried} episode(s) that ended in an error last time (once)")
        with _progress(console, show_progress) as progress:
            bar = progress.add_task(run_id, total=len(keys), completed=summary.skipped, rate="")
            if config.executor == "ray":
                from agra_bench.ray_executor import execute_ray

                rows = execute_ray(todo, settings, config.workers, config.video, config.address)
            else:
                rows = execute_local(todo, settings, config.workers, config.video, config.env_groups)
            for row in rows:
                store.add({**static_fields(config, run_id, row.pop("key")), **row})
                summary.ran += 1
                summary.successes += bool(row["success"])
                summary.errors += row["error"] is not None
                progress.update(
                    bar,
                    advance=1,
                    rate=f"success {summary.successes}/{summary.ran}"
                    f"{f' errors {summary.errors}' if summary.errors else ''}",
                )
        finished = [store.rows[k.id] for k in keys if k.id in store.rows]
        summary.run_successes = sum(bool(r["success"]) for r in finished)
        summary.run_errors = sum(r["error"] is not None for r in finished)
        return summary
    finally:
        store.close()


def _progress(console: Console | None, show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not show,
        transient=False,
    )
