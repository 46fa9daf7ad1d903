"""How an env is built, in one validated object that every builder takes: `agra-bench run` (and
its workers), `collect`, `diagnose`, `perturb preview` and the benchmarks.

The task (suite, task id) and the perturbation arm are chosen per episode, so they are not here:
`settings.make(suite, task_id)` builds the env of a task, and `env.set_arm(arm)` chooses the arm.

A new env option touches two files: a field here and the env code that reads it (`envs/base.py`).
A field with a `help` in its metadata is an option of every command that builds an env (`run`,
`collect`, `diagnose`, `perturb preview`: agra_bench/cli_options.py builds them from these
fields), is validated here, is written into the run manifest, and, when set to other than its
default, joins the run identity (config.py). Fields without `help` are for code only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from agra_bench.envs.physics import DEFAULT_PHYSICS, PHYSICS_HELP, get_physics
from agra_bench.envs.rendering import get_render_quality
from agra_bench.errors import check_int
from agra_bench.protocol import DEFAULT_PROTOCOL, get_protocol

if TYPE_CHECKING:
    from agra_bench.envs.base import SimTaskEnv

MAX_IMAGE_SIZE = 1024  # a sanity bound: policies read 64-512 px frames; more only exhausts memory


@dataclass(frozen=True)
class EnvSettings:
    image_size: int = field(
        default=128,
        metadata={
            "help": "pixels of both cameras' square frames [the checkpoint's, else 128]",
            "from_policy": True,
        },
    )  # `run` leaves it to the checkpoint when not given (config.py)
    render_quality: str = field(
        default="standard", metadata={"help": "standard (LIBERO's: 4x MSAA; default), tuned or fast"}
    )  # envs/rendering.py
    protocol: str = field(
        default=DEFAULT_PROTOCOL,
        metadata={
            "help": "openpi (default), libero, openpi_idseed, libero_idseed; see: agra-bench list protocols"
        },
    )  # settle steps and step caps (protocol.py)
    max_steps: int | None = field(default=None, metadata={"help": "step cap override [protocol's cap]"})
    physics: str = field(
        default=DEFAULT_PHYSICS,
        metadata={"help": PHYSICS_HELP},
    )  # envs/physics.py
    render_images: bool = True  # False: physics only (the oracle, collect's state pass)

    def __post_init__(self) -> None:
        check_int("image-size", self.image_size, 8, MAX_IMAGE_SIZE)
        check_int("max-steps", self.max_steps, 1)
        get_render_quality(self.render_quality)
        get_protocol(self.protocol)
        get_physics(self.physics)

    def make(self, suite: str, task_id: int) -> SimTaskEnv:
        """The (lazy) env of one task: its simulator is built at the first reset."""
        from agra_bench.envs import make_env

        return make_env(suite, task_id, **asdict(self))

    def options(self) -> dict:
        """These settings as keyword arguments of `make_env` (and of an env factory)."""
        return asdict(self)
