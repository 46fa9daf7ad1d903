"""`--shard I/N`: a deterministic, balanced slice of a run's planned episodes.

A run's plan (`plan.plan_episodes`) is a list of episode keys in a fixed order (task-major,
then arm, then episode), made from the command alone. Shard I of N takes the keys at positions
I, I+N, I+2N, ... of that list: every key lands in exactly one shard, shard sizes differ by at
most one, and the slice depends on neither the worker count nor what already ran, so a shard
resumes like any run. Round-robin rather than contiguous blocks spreads every task and arm
over all shards, so shards that finish at different times leave no arm half-done on its own.

Each shard is its own run folder: the shard joins the run identity (`"shard": "I/N"`), and the
manifest records it with the full plan's size and digest, which `agra-bench merge` checks
before it joins the shards into the folder an unsharded run of the same command would have
(agra_bench/merge.py). SLURM arrays: `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agra_bench.errors import UsageError

if TYPE_CHECKING:
    from agra_bench.plan import EpisodeKey

SHARD_PATTERN = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = SHARD_PATTERN.fullmatch(text.strip())
        if match is None or not 0 <= int(match[1]) < int(match[2]):
            raise UsageError(f"bad --shard '{text}'; valid: I/N with 0 <= I < N, e.g. 0/4")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, keys: list[EpisodeKey]) -> list[EpisodeKey]:
        """This shard's keys, in plan order."""
        return keys[self.index :: self.count]

    def size_of(self, plan_size: int) -> int:
        """How many keys this shard gets from a plan of `plan_size` keys."""
        return len(range(self.index, plan_size, self.count))


def plan_digest(keys: list[EpisodeKey]) -> str:
    """SHA-1 of the plan's key ids in order: shards of one command agree on it."""
    return hashlib.sha1("\n".join(k.id for k in keys).encode()).hexdigest()


def shard_record(shard: Shard | None, plan: list[EpisodeKey]) -> dict | None:
    """The manifest's `shard` entry (None for an unsharded run)."""
    if shard is None:
        return None
    return {
        "index": shard.index,
        "count": shard.count,
        "episodes": shard.size_of(len(plan)),
        "plan_size": len(plan),
        "plan_sha1": plan_digest(plan),
    }
