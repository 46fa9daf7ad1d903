"""How `agra-bench train` trains, validated on construction. Light to import (no torch): the
command line generates `train`'s options from the fields with a `help`
(agra_bench/cli_options.py); the other fields are for code only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agra_bench.errors import UsageError, check_int


@dataclass
class TrainSettings:
    steps: int = field(default=1000, metadata={"help": "training steps (a folder holding a run resumes it)"})
    batch_size: int = field(default=32, metadata={"help": "samples per step"})
    lr: float = field(default=3e-4, metadata={"help": "AdamW learning rate (constant)"})
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    seed: int = field(default=0, metadata={"help": "initial weights, data order and noise"})
    device: str = field(default="cpu", metadata={"help": "cpu, cuda or cuda:N"})
    workers: int = field(default=0, metadata={"help": "data-loader processes"})
    log_every: int = 10
    save_every: int = field(default=500, metadata={"help": "steps between resumable saves"})
    teacher_path: str | None = field(default=None, metadata={"help": "local folder of a DINOv2 model"})
    teacher_cache: str | None = field(  # shared by runs on the same data (other seeds)
        default=None, metadata={"help": "teacher-feature folder shared across runs [OUT/teacher_cache]"}
    )
    allow_download: bool = field(default=False, metadata={"help": "let the teacher come from a model hub"})
    precision: str = field(  # auto: bf16 where the hardware does it natively, else fp32
        default="auto", metadata={"help": "auto (bf16 where native), bf16 or fp32"}
    )
    shift_pad: int = field(default=4, metadata={"help": "random-shift augmentation in pixels (0 = off)"})
    normalize: bool = field(  # per-dimension action / proprio statistics from the data
        default=True, metadata={"help": "normalise actions/proprio with data statistics"}
    )
    cache: bool = True  # decode all frames into memory once
    snapshot_every: int = field(  # EMA weights of step N, 2N, ... under snapshots/
        default=0, metadata={"help": "keep EMA weights every N steps (0 = never)"}
    )
    # The data digest a partner checkpoint recorded (its `data_sha256`): training refuses other
    # demonstrations before it spends anything, so a wam/agra pair trained sessions apart is
    # shown to share its data (collection is deterministic on one machine, not across machines).
    expect_data_sha256: str | None = field(
        default=None,
        metadata={"help": "refuse data whose digest differs (a partner checkpoint's data_sha256)"},
    )

    def __post_init__(self) -> None:
        for name, low in (
            ("steps", 1),
            ("batch_size", 1),
            ("log_every", 1),
            ("save_every", 1),
            ("seed", 0),
            ("shift_pad", 0),
            ("snapshot_every", 0),
            ("workers", 0),
        ):
            check_int(name.replace("_", "-"), getattr(self, name), low)
        if not self.lr >= 0:  # 0 is allowed: it checks what training does besides the update
            raise UsageError(f"bad --lr {self.lr}; valid: a number >= 0")
        if not (self.device in ("cpu", "cuda") or self.device.startswith("cuda:")):
            raise UsageError(f"bad --device '{self.device}'; valid: cpu, cuda, cuda:N")
        expected = self.expect_data_sha256
        if expected is not None and not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise UsageError(f"bad --expect-data-sha256 '{expected}'; valid: 64 lowercase hex digits")
