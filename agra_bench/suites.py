"""Suite and task registry: which tasks exist, their names and instructions.

Listing tasks never builds a simulator (that is slow and must happen inside workers); LIBERO
task metadata comes from its benchmark tables and BDDL files alone.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from functools import cache

from agra_bench.errors import UsageError, unknown

LIBERO_SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90")


@dataclass(frozen=True)
class RobosuiteTask:
    """A robosuite task exposed as a one-task suite."""

    env_name: str
    instruction: str
    # Goal predicates in LIBERO's form, for privileged policies; robosuite itself has none.
    goal: tuple[tuple[str, ...], ...] = ()


ROBOSUITE_TASKS: dict[str, RobosuiteTask] = {
    "robosuite_lift": RobosuiteTask("Lift", "lift the red cube", (("lift", "cube"),)),
    "robosuite_stack": RobosuiteTask(
        "Stack", "stack the red cube on top of the green cube", (("on", "cubeA", "cubeB"),)
    ),
    "robosuite_pick_place_can": RobosuiteTask(
        "PickPlaceCan", "pick up the can and place it in its bin", (("in", "Can", "VisualCan"),)
    ),
    "robosuite_nut_assembly_square": RobosuiteTask(
        "NutAssemblySquare", "fit the square nut onto the square peg"
    ),
    "robosuite_door": RobosuiteTask("Door", "open the door"),
}

ROBOSUITE_NUM_INIT_STATES = 50


@dataclass(frozen=True)
class TaskInfo:
    suite: str
    task_id: int
    name: str
    instruction: str
    num_init_states: int


def all_suites() -> list[str]:
    return list(LIBERO_SUITES) + list(ROBOSUITE_TASKS)


def suite_kind(suite: str) -> str:
    """'libero' or 'robosuite'; UsageError for an unknown suite."""
    if suite in LIBERO_SUITES:
        return "libero"
    if suite in ROBOSUITE_TASKS:
        return "robosuite"
    raise unknown("suite", suite, all_suites())


@cache
def libero_benchmark(suite: str):
    """LIBERO's benchmark object for a suite (task table, BDDL paths, init states), cached.

    Its constructor prints the task order to stdout, which would pollute `list` output."""
    from agra_bench.versions import check_libero_stack

    check_libero_stack()
    from libero.libero import benchmark

    with contextlib.redirect_stdout(io.StringIO()):
        return benchmark.get_benchmark_dict()[suite]()


@cache
def list_tasks(suite: str) -> tuple[TaskInfo, ...]:
    """All tasks of a suite, in the suite's official order."""
    if suite_kind(suite) == "robosuite":
        task = ROBOSUITE_TASKS[suite]
        return (TaskInfo(suite, 0, task.env_name, task.instruction, ROBOSUITE_NUM_INIT_STATES),)
    bench = libero_benchmark(suite)
    return tuple(TaskInfo(suite, i, task.name, task.language, 50) for i, task in enumerate(bench.tasks))


def get_task(suite: str, task_id: int) -> TaskInfo:
    tasks = list_tasks(suite)
    if not 0 <= task_id < len(tasks):
        raise UsageError(f"task id {task_id} out of range for {suite}; valid: 0-{len(tasks) - 1}")
    return tasks[task_id]


def parse_task_ids(suite: str, spec: str) -> list[int]:
    """'all', '3' or '0,3,5' (ranges like '0-4' too) -> sorted unique task ids, validated."""
    n = len(list_tasks(suite))
    spec = spec.strip()
    if spec == "all":
        return list(range(n))
    ids: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError(part)
                ids.update(range(lo, hi + 1))
            else:
                ids.add(int(part))
        except ValueError:
            raise UsageError(f"bad --tasks value '{spec}'; valid: 'all', ids like '0,3' or '0-4'") from None
    for task_id in sorted(ids):
        get_task(suite, task_id)
    return sorted(ids)
