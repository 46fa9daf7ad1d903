"""What one task's demonstration collection is: light to import, so that the command line can
generate `agra-bench collect`'s options from it without loading the simulator stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agra_bench.envs.settings import EnvSettings


@dataclass(frozen=True)
class CollectJob:
    """One task's collection. Fields with a `help` are options of `agra-bench collect`
    (agra_bench/cli_options.py), with the env's own from `EnvSettings`."""

    suite: str = field(metadata={"help": "libero_object, libero_spatial, robosuite_lift, ..."})
    task_id: int
    episodes: int = field(metadata={"help": "oracle attempts per task (init states 0..N-1)"})
    out: Path = field(metadata={"help": "FILE.hdf5 for one task, else a folder of <task>_demo.hdf5"})
    perturb: str = field(default="none", metadata={"help": "one arm: none, a family, family:severity=3, a+b"})
    severity: int = field(default=3, metadata={"help": "1-5"})
    split: str = field(default="id", metadata={"help": "id or ood variant pool"})
    seed: int = field(default=0, metadata={"help": "episode seeds derive from it"})
    keep_failures: bool = field(default=False, metadata={"help": "also keep episodes the oracle failed"})
    render: bool = field(default=True, metadata={"help": "run the render pass (images from stored states)"})
    segmentation: bool = field(  # per-pixel object index maps beside the frames (render pass)
        default=True, metadata={"help": "store object segmentation maps too"}
    )
    action_noise: float = field(  # std of the noise on executed arm actions; the label stays clean
        default=0.0, metadata={"help": "std of noise on executed arm actions; labels stay clean (DART)"}
    )
    env: EnvSettings = field(default_factory=EnvSettings)  # image size, physics, protocol, ...
