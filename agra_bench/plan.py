"""Episode keys: what identifies an episode, independent of workers, batching or order.

Episode k of a task uses init state k (mod the number of init states) and a seed derived from
(run seed, task, episode) alone, so the perturbed arms and the control arm of one run share
init states and seeds, and can be paired episode by episode.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from agra_bench.config import RunConfig
from agra_bench.suites import get_task


@dataclass(frozen=True)
class EpisodeKey:
    suite: str
    task_id: int
    episode: int
    init_state_id: int
    seed: int
    perturbation: str
    severity: int
    split: str

    @property
    def id(self) -> str:
        """Stable identifier used for resume (the key's fields, hashed)."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def key_fields(key: EpisodeKey) -> dict:
    """The row columns that identify an episode (runs' rows and diagnose's rows alike)."""
    return {
        "suite": key.suite,
        "task_id": key.task_id,
        "episode": key.episode,
        "init_state_id": key.init_state_id,
        "seed": key.seed,
        "perturbation": key.perturbation,
        "severity": key.severity,
        "split": key.split,
    }


def episode_seed(run_seed: int, task_id: int, episode: int) -> int:
    return int(np.random.SeedSequence([run_seed, task_id, episode]).generate_state(1, np.uint32)[0])


def plan_episodes(config: RunConfig) -> list[EpisodeKey]:
    """All keys of a run, task-major (workers reuse one simulator per task)."""
    keys = []
    for task_id in config.task_ids:
        n_init = get_task(config.suite, task_id).num_init_states
        for arm in config.arms:
            for episode in range(config.episodes):
                keys.append(
                    EpisodeKey(
                        suite=config.suite,
                        task_id=task_id,
                        episode=episode,
                        init_state_id=episode % n_init,
                        seed=episode_seed(config.seed, task_id, episode),
                        perturbation=arm.name,
                        severity=arm.severity,
                        split=config.split,
                    )
                )
    return keys
