"""What one `agra-bench verify-protocol` call checks: light to import, so that the command line
can generate its options from it (agra_bench/cli_options.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agra_bench.errors import UsageError, check_int, unknown
from agra_bench.suites import LIBERO_SUITES, parse_task_ids

#: Presets with a source loop that verify-protocol can run (agra_bench/verify/reference_loop.py).
#: Protocol -> (the source loop it is compared with, where that loop is); the `_idseed` rules are
#: compared with their source to show what the old scene rule changes.
VERIFIABLE = {
    "openpi": ("openpi", "openpi examples/libero/main.py"),
    "openpi_idseed": ("openpi", "openpi examples/libero/main.py"),
    "libero": ("libero", "LIBERO libero/lifelong/metric.py evaluate_one_task_success"),
    "libero_idseed": ("libero", "LIBERO libero/lifelong/metric.py evaluate_one_task_success"),
    "lerobot": ("lerobot", "lerobot src/lerobot/envs/libero.py LiberoEnv.reset"),
}
MAX_EPISODE = 49  # the source loops run init states 0..49


@dataclass
class VerifyJob:
    """Fields with a `help` are options of `agra-bench verify-protocol`."""

    suite: str = field(
        metadata={"help": "a LIBERO suite: libero_spatial, libero_object, libero_goal, libero_10, libero_90"}
    )
    tasks: str = field(default="0", metadata={"help": "'all' or ids: 0,3 or 0-4"})
    episodes: str = field(
        default="0,1,2,3", metadata={"help": "init states (0-49) compared, e.g. 0,1,2,3 or 0-9"}
    )
    steps: int = field(
        default=5, metadata={"help": "fixed actions executed after settling, compared step by step"}
    )
    image_size: int = field(default=256, metadata={"help": "pixels of both cameras [256, openpi's]"})
    action_seed: int = 0
    reference_seed: int | None = None  # None: the source's; another value only to see a failure (tests)
    task_ids: list[int] = field(init=False)
    episode_ids: list[int] = field(init=False)

    def __post_init__(self) -> None:
        if self.suite not in LIBERO_SUITES:
            raise unknown("suite for verify-protocol", self.suite, LIBERO_SUITES)
        self.task_ids = parse_task_ids(self.suite, self.tasks)
        self.episode_ids = parse_episodes(self.episodes)
        check_int("steps", self.steps, 0)
        check_int("image-size", self.image_size, 8, 1024)


def parse_episodes(text: str) -> list[int]:
    """'0,1,2,3' or '0-9' -> sorted unique init-state ids in 0..49."""
    ids: set[int] = set()
    try:
        for part in str(text).split(","):
            low, _, high = part.strip().partition("-")
            ids.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise UsageError(
            f"bad --episodes '{text}'; valid: init states 0-{MAX_EPISODE} such as 0,1,2,3 or 0-9"
        ) from None
    bad = sorted(i for i in ids if not 0 <= i <= MAX_EPISODE)
    if not ids or bad:
        raise UsageError(
            f"bad --episodes '{text}'; valid: init states 0-{MAX_EPISODE} such as 0,1,2,3 or 0-9"
        )
    return sorted(ids)


def source_loop(protocol: str) -> tuple[str, str]:
    """(loop name, source) that `protocol` is compared with (UsageError if it has none)."""
    if protocol not in VERIFIABLE:
        raise unknown("protocol for verify-protocol (one with a source loop to run)", protocol, VERIFIABLE)
    return VERIFIABLE[protocol]
