"""The resolved configuration of a run, validated on construction.

Everything that changes a result is in `RunConfig.identity()`, and the run id is a hash of it:
re-running the same command lands in the same run directory and resumes it. What does not
change results (worker count, env groups, executor, video count, progress bar) stays out of the identity.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError, check_exists, check_int, check_writable, unknown
from agra_bench.identity import CONDITION
from agra_bench.protocol import get_protocol
from agra_bench.shards import Shard
from agra_bench.suites import parse_task_ids, suite_kind
from perturbations.spec import Arm, parse_spec
from policies.registry import resolve_policy_name
from policies.wam.defaults import checkpoint_defaults, image_size_for

EXECUTORS = ("local", "ray")


@dataclass
class RunConfig:
    # Fields with a `help` are the options of `agra-bench run` (agra_bench/cli_options.py).
    policy: str = field(
        metadata={
            "help": "random, noop, scripted, wam, agra, package.module:Class or openpi://HOST:PORT[,...]"
        }
    )
    suite: str = field(metadata={"help": "libero_spatial, libero_10, robosuite_lift, ..."})
    tasks: str | None = field(  # None: the checkpoint's training tasks, else all (policies/wam/defaults.py)
        default=None,
        metadata={"help": "'all' or ids: 0,3 or 0-4 [the checkpoint's training tasks, else all]"},
    )
    episodes: int | None = field(default=None, metadata={"help": "episodes per task and arm [protocol: 50]"})
    perturb: str = field(default="none", metadata={"help": "none, all, a family, family:severity=3, a+b"})
    severity: int = field(default=3, metadata={"help": "1-5"})
    split: str = field(default="id", metadata={"help": "id or ood variant pool"})
    seed: int = field(default=0, metadata={"help": "run seed: episode seeds derive from it"})
    out: Path = field(default=Path("results"), metadata={"help": "results folder (the run is OUT/<run id>)"})
    workers: int = field(default=1, metadata={"help": "simulator processes"})
    env_groups: int = field(  # local executor: worker groups that alternate (see local_executor)
        default=1,
        metadata={"help": "local executor: 1 = one policy call per step for all envs, 2 = pipelined"},
    )
    video: int = field(default=0, metadata={"help": "MP4s saved per task and arm"})
    checkpoint: str | None = field(
        default=None, metadata={"help": "policy weights; wam/agra: [the suite's reference checkpoint]"}
    )
    executor: str = field(default="local", metadata={"help": "local or ray"})
    address: str | None = field(  # None: start a local Ray instance
        default=None, metadata={"help": "Ray cluster address [start a local one]"}
    )
    replan_steps: int | None = field(
        default=None,
        metadata={"help": "actions executed per policy call: openpi:// [5], wam/agra [checkpoint's]"},
    )
    # image size, render quality, protocol, cap; a dict whose image_size is None takes the
    # checkpoint's (the command line leaves it None when --image-size is not given)
    env: EnvSettings | dict = field(default_factory=dict)
    render_every_step: bool = field(  # off: render on demand (same results; not in the identity)
        default=False,
        metadata={"help": "render every camera at every step, not only what the policy sees (for checks)"},
    )
    shard: str | None = field(  # "I/N": this run's slice of the plan (agra_bench/shards.py)
        default=None,
        metadata={"help": "I/N: run only slice I of N of the planned episodes (merge joins them)"},
    )
    task_ids: list[int] = field(init=False)
    arms: list[Arm] = field(init=False)
    shard_slice: Shard | None = field(init=False, default=None)
    #: One line per value taken from the checkpoint rather than the command (printed by `run`,
    #: recorded in the manifest as `defaults`).
    notes: list[str] = field(init=False, default_factory=list)
    defaults: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        resolve_policy_name(self.policy)
        suite_kind(self.suite)
        self._take_checkpoint_defaults()
        proto = get_protocol(self.env.protocol)
        if self.episodes is None:
            self.episodes = proto.episodes_per_task
        for name, value, low in (
            ("episodes", self.episodes, 1),
            ("workers", self.workers, 1),
            ("env-groups", self.env_groups, 1),
            ("video", self.video, 0),
            ("seed", self.seed, 0),
            ("replan-steps", self.replan_steps, 1),
        ):
            check_int(name, value, low)
        if self.executor not in EXECUTORS:
            raise unknown("executor", self.executor, EXECUTORS)
        if self.address is not None and self.executor != "ray":
            raise UsageError(
                f"--address {self.address} is for a Ray cluster; valid: use it with --executor ray"
            )
        check_exists("checkpoint", self.checkpoint, "a checkpoint folder (or the file your policy reads)")
        self.task_ids = parse_task_ids(self.suite, self.tasks)
        self.arms = parse_spec(self.perturb, self.severity, self.split, self.suite)
        check_writable(self.out)
        self.shard_slice = Shard.parse(self.shard) if self.shard is not None else None

    def _take_checkpoint_defaults(self) -> None:
        """Checkpoint, tasks and image size from the checkpoint where the command gave none."""
        env = asdict(self.env) if isinstance(self.env, EnvSettings) else dict(self.env)
        found = checkpoint_defaults(self.policy, self.suite, self.checkpoint)
        if found is not None and found.from_reference:
            self.checkpoint = found.checkpoint
            self.defaults["checkpoint"] = "reference"
            self.notes.append(f"no --checkpoint: using the reference checkpoint {found.checkpoint}")
        if self.tasks is None:
            self.tasks = "all"
            if found is not None and found.task_ids:
                self.tasks = ",".join(str(t) for t in found.task_ids)
                self.defaults["tasks"] = "checkpoint"
                self.notes.append(f"no --tasks: evaluating the checkpoint's training tasks {self.tasks}")
        env["image_size"], recorded, notes = image_size_for(
            env.get("image_size"), found, EnvSettings.image_size
        )
        self.defaults.update(recorded)
        self.notes += notes
        self.env = EnvSettings(**env)

    def env_settings(self) -> EnvSettings:
        """How this run's envs are built, with the step cap resolved for the suite."""
        return replace(self.env, max_steps=self.step_cap())

    def step_cap(self) -> int:
        if self.env.max_steps is not None:
            return self.env.max_steps
        return get_protocol(self.env.protocol).step_cap(self.suite)

    @functools.cached_property
    def checkpoint_sha1(self) -> str | None:
        """The checkpoint's content hash: a checkpoint retrained in place is another condition."""
        return checkpoint_digest(Path(self.checkpoint)) if self.checkpoint is not None else None

    def condition(self) -> dict:
        """The row columns of `agra_bench.identity.CONDITION` for this run."""
        values = {
            "policy": self.policy,
            "checkpoint_sha1": self.checkpoint_sha1,
            "suite": self.suite,
            "protocol": self.env.protocol,
            "max_steps": self.step_cap(),
            "image_size": self.env.image_size,
            "render_quality": self.env.render_quality,
        }
        return {name: values[name] for name in CONDITION}

    def other_env_settings(self) -> dict:
        """Env settings outside the condition columns that differ from their defaults (a newer
        env option, once set), keyed `env.<name>`: part of the identity, so that setting one
        makes another run, while runs that leave it alone keep their ids."""
        defaults = asdict(EnvSettings())
        return {
            f"env.{name}": value
            for name, value in asdict(self.env).items()
            if name not in CONDITION and value != defaults[name]
        }

    def identity(self) -> dict:
        """The condition and the planned episodes; hashed into the run id. The checkpoint counts
        by content, not path; arms by canonical name and severity, not by how they were spelled."""
        optional = {"replan_steps": self.replan_steps} if self.replan_steps is not None else {}
        proto = get_protocol(self.env.protocol)
        if (proto.scene, proto.first_observation) != ("init_state_seed", "forced"):
            # A protocol name meant the old scene rule before episode schema 5: a run under the
            # source's scene must never resume a folder written under the old one.
            optional["scene"] = f"{proto.scene}/{proto.first_observation}"
        if self.shard_slice is not None:
            optional["shard"] = str(self.shard_slice)
        return {
            **optional,
            **self.condition(),
            **self.other_env_settings(),
            "task_ids": self.task_ids,
            "episodes": self.episodes,
            "arms": [[a.name, a.severity] for a in self.arms],
            "split": self.split,
            "seed": self.seed,
        }

    def run_id(self) -> str:
        return run_id_of(self.policy, self.suite, self.identity())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["arms"] = [a.name for a in self.arms]
        return d


def checkpoint_digest(path: Path) -> str:
    """SHA-1 of a checkpoint's weights (`model.safetensors` of a folder, else every file directly
    in it, or the file itself), so run ids follow the content, not the path."""
    if path.is_dir():
        weights = path / "model.safetensors"
        files = [weights] if weights.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    else:
        files = [path]
    digest = hashlib.sha1()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def run_id_of(policy: str, suite: str, identity: dict) -> str:
    """The run folder's name: readable policy and suite, then a hash of the identity (also what
    `agra-bench merge` names the folder of merged shards, from their identity without the shard)."""
    digest = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    policy = re.sub(r"[^A-Za-z0-9_]+", "-", policy).strip("-")
    return f"{policy}-{suite}-{digest}"
