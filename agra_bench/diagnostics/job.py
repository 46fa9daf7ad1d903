"""What one `agra-bench diagnose` call is: light to import (no torch), so that the command
line can generate its options from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError, check_int


@dataclass
class DiagnoseJob:
    """Fields with a `help` are options of `agra-bench diagnose` (agra_bench/cli_options.py),
    with the env's own from `EnvSettings`."""

    checkpoint: str = field(metadata={"help": "WAM/AGRA checkpoint folder"})
    suite: str = field(metadata={"help": "libero_object, libero_spatial, ..."})
    task_ids: tuple[int, ...] = (0,)
    policy: str = field(default="agra", metadata={"help": "wam or agra (must match the checkpoint)"})
    episodes: int = field(default=1, metadata={"help": "episodes per task and arm"})
    perturb: str = field(default="none", metadata={"help": "none, a family, family:severity=3, a+b, a list"})
    severity: int = field(default=3, metadata={"help": "1-5"})
    split: str = field(default="id", metadata={"help": "id or ood variant pool"})
    seed: int = field(default=0, metadata={"help": "episode seeds derive from it"})
    layer: int | None = field(  # None = the first aligned layer (~1/3 depth)
        default=None, metadata={"help": "video layer to intervene on [first aligned layer]"}
    )
    overlays: int = field(default=3, metadata={"help": "attention overlay PNGs per episode"})
    # image size (None: the checkpoint's, as `run` does), step cap, physics, ...
    env: EnvSettings | dict = field(default_factory=dict)
    notes: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        from policies.wam.defaults import checkpoint_defaults, image_size_for

        diagnosable_policy(self.policy)
        check_int("episodes", self.episodes, 1)
        check_int("seed", self.seed, 0)
        check_int("overlays", self.overlays, 0)
        if not isinstance(self.env, EnvSettings):
            env = dict(self.env)
            found = checkpoint_defaults(self.policy, self.suite, self.checkpoint)
            env["image_size"], _, self.notes = image_size_for(
                env.get("image_size"), found, EnvSettings.image_size
            )
            self.env = EnvSettings(**env)


def diagnosable_policy(name: str):
    """The factory of a policy `diagnose` can read. The interface it must offer (`wam` and
    `agra` do): `act_with_inputs(obs, slots) -> (actions, policies.wam.policy.ModelInputs)`,
    and `model` (a `WorldActionModel`), `config` and `levels` attributes."""
    from policies.registry import resolve_policy_name

    factory = resolve_policy_name(name)
    if not callable(getattr(factory, "act_with_inputs", None)):
        raise UsageError(
            f"bad --policy '{name}': it exposes no model inputs to diagnose; "
            "valid: wam, agra, or a policy class with act_with_inputs"
        )
    return factory
