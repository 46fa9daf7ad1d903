"""Synthetic run tables in the real episode schema, for report tests with known answers.

Reports need many episodes to be worth testing; simulating them would take hours on CPU. These
rows go through the same `EpisodeStore` writer as real runs, so the files are real Parquet in
the real schema; only the outcomes are chosen by the test.
"""

from __future__ import annotations

import json
from pathlib import Path

from agra_bench.plan import episode_seed
from agra_bench.records import EpisodeStore


def episode_row(
    run_id: str,
    policy: str,
    task_id: int,
    episode: int,
    perturbation: str,
    success: bool,
    severity: int = 3,
    split: str = "id",
    suite: str = "libero_object",
    seed: int = 0,
    error: str | None = None,
    max_steps: int = 280,
) -> dict:
    key_seed = episode_seed(seed, task_id, episode)
    return {
        "run_id": run_id,
        "episode_key": f"{suite}-{task_id}-{episode}-{perturbation}-{severity}-{split}-{key_seed}",
        "policy": policy,
        "checkpoint": None,
        "suite": suite,
        "task_id": task_id,
        "task_name": f"task_{task_id}",
        "instruction": f"do task {task_id}",
        "episode": episode,
        "init_state_id": episode,
        "seed": key_seed,
        "perturbation": perturbation,
        "perturb_params": "{}",
        "severity": 0 if perturbation == "none" else severity,
        "split": split,
        "protocol": "libero",
        "image_size": 128,
        "render_quality": "tuned",
        "checkpoint_sha1": None,
        "success": success,
        "steps": 100 if success else max_steps,
        "max_steps": max_steps,
        "hit_step_cap": not success,
        "success_at_reset": False,
        "policy_calls": 10,
        "wall_s": 1.0,
        "obs0_sha1": "0" * 40,
        "video": None,
        "error": error,
    }


def write_run(
    root: Path,
    run_id: str,
    rows: list[dict],
    train_seed: int | None = None,
    data_sha256: str | None = None,
    precisions: list[str] | None = None,
    teacher: str | None = None,
) -> Path:
    """The rows as a run table; with `train_seed` (and `data_sha256`), a manifest that records
    it, as runs of a trained checkpoint's policy do (`policy.train_seed`, `policy.data_sha256`);
    `precisions`: one session per entry, each with that inference precision; `teacher`: an
    AGRA checkpoint's alignment teacher (`policy.config`)."""
    store = EpisodeStore(root / run_id)
    for row in rows:
        store.add(row)
    store.close()
    if train_seed is not None:
        entry = {"train_seed": train_seed, "data_sha256": data_sha256}
        if teacher is not None:
            entry["config"] = {"teacher": teacher, "align_weight": 0.5}
        sessions = [{"precision": precision} for precision in precisions or []]
        (root / run_id / "manifest.json").write_text(json.dumps({"policy": entry, "sessions": sessions}))
    return store.path
