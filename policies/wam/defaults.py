"""What `run --policy wam|agra` takes from the checkpoint when the command does not say.

A checkpoint knows what it was trained for: the suite and tasks of its demonstrations
(`training_tasks` in its config.json) and the frame size of its model (`wam.image_size`).
Evaluating it elsewhere is allowed but should be a choice, not an accident: a 64 px model run
at the env's default 128 px is silently resampled, and a model trained on two tasks scores 0
on the other eight. So when `--tasks` or `--image-size` is not given, the checkpoint's values
are used, each with a one-line note; when `--checkpoint` is not given, the committed reference
checkpoint of the suite (training seed 0) is used, if there is one.

Only config.json is read here (JSON, no torch): the run's configuration is resolved before any
model is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agra_bench.errors import UsageError

#: The committed reference checkpoints (results/reference/), named `<policy>-<suite>-s<seed>`.
REFERENCE_CHECKPOINTS = Path(__file__).resolve().parents[2] / "results" / "reference" / "checkpoints"
REFERENCE_SEED = 0
WAM_POLICIES = ("wam", "agra")


@dataclass(frozen=True)
class CheckpointDefaults:
    """What a run of `policy` on `suite` takes from its checkpoint when not told otherwise."""

    checkpoint: str
    from_reference: bool  # the checkpoint itself is the suite's reference (no --checkpoint given)
    image_size: int | None
    task_ids: tuple[int, ...] | None  # its training tasks, when it was trained on this suite


def reference_checkpoint(policy: str, suite: str) -> Path | None:
    folder = REFERENCE_CHECKPOINTS / f"{policy}-{suite}-s{REFERENCE_SEED}"
    return folder if (folder / "config.json").is_file() else None


def reference_suites(policy: str) -> list[str]:
    """The suites with a committed reference checkpoint of `policy` (training seed 0)."""
    suffix = f"-s{REFERENCE_SEED}"
    return sorted(
        p.name[len(policy) + 1 : -len(suffix)]
        for p in REFERENCE_CHECKPOINTS.glob(f"{policy}-*{suffix}")
        if (p / "config.json").is_file()
    )


def missing_checkpoint(policy: str) -> UsageError:
    """The one-line error of a wam/agra run with no checkpoint and no reference for its suite."""
    suites = ", ".join(reference_suites(policy)) or "none in this install"
    return UsageError(
        f"policy '{policy}' needs --checkpoint DIR on this suite (train one with: agra-bench train); "
        f"valid without one: --suite {suites} (the committed reference checkpoints)"
    )


def checkpoint_defaults(policy: str, suite: str, checkpoint: str | None) -> CheckpointDefaults | None:
    """None for policies without a WAM checkpoint, or for wam/agra with neither a checkpoint
    nor a reference one for the suite (the policy then refuses with `missing_checkpoint`)."""
    if policy not in WAM_POLICIES:
        return None
    from_reference = checkpoint is None
    if from_reference:
        reference = reference_checkpoint(policy, suite)
        if reference is None:
            return None
        checkpoint = str(reference)
    path = Path(checkpoint) / "config.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        meta = {}  # not a readable checkpoint: loading it later gives the precise error
    model = meta.get("wam") if isinstance(meta, dict) else None
    image_size = model.get("image_size") if isinstance(model, dict) else None
    trained = meta.get("training_tasks") if isinstance(meta, dict) else None
    task_ids = None
    if isinstance(trained, dict) and trained.get("suite") == suite and trained.get("task_ids"):
        task_ids = tuple(int(t) for t in trained["task_ids"])
    return CheckpointDefaults(
        checkpoint, from_reference, int(image_size) if isinstance(image_size, int) else None, task_ids
    )


def image_size_for(
    given: int | None, found: CheckpointDefaults | None, default: int
) -> tuple[int, dict, list[str]]:
    """The frame size to render at: the one `given`, else the checkpoint's, else `default`;
    with what to record (`defaults` entries) and the one-line notes to print. `run` and
    `diagnose` share this rule."""
    size = found.image_size if found is not None else None
    if given is None:
        if size is None:
            return default, {}, []
        return (
            size,
            {"image_size": "checkpoint"},
            [f"no --image-size: rendering at the checkpoint's {size} px"],
        )
    if size is not None and given != size:
        note = f"--image-size {given}: the checkpoint was trained at {size} px, so its frames are resampled"
        return given, {"checkpoint_image_size": size}, [note]
    return given, {}, []


def training_tasks(tasks: list[tuple[str, str]]) -> dict | None:
    """{"suite", "task_ids"} of demonstration files' (suite, task name) pairs, or None when they
    span several suites or name a task the suite does not have (official LIBERO files of
    another layout, hand-made files)."""
    from agra_bench.suites import all_suites, list_tasks

    suites = {suite for suite, _ in tasks}
    if len(suites) != 1 or next(iter(suites)) not in all_suites():
        return None
    suite = suites.pop()
    ids = {task.name: task.task_id for task in list_tasks(suite)}
    if any(name not in ids for _, name in tasks):
        return None
    return {"suite": suite, "task_ids": sorted({ids[name] for _, name in tasks})}
