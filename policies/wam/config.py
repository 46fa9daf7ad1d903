"""WAM configuration: one dataclass, validated on construction, with named presets.

`wam` and `agra` share every field but `align_weight` (0 for `wam`, > 0 for `agra`): same
architecture, same data order, same seed. Names in the paper and here:

| paper | here |
|---|---|
| video diffusion transformer | `WorldActionModel.video_blocks` (depth `depth`, width `width`) |
| action decoder, cross-attention to several layers | `action_blocks`, reading `action_reads` |
| L_video, L_action | flow-matching MSE on future frames / on the action chunk |
| L_AGRA, lambda_agra | `align_loss`, `align_weight` |
| alignment layer(s) (~1/3 of depth) | `align_layers` |
| projector (REPA: 3-layer MLP, SiLU, 2048 wide) | `Projector`, `projector_width` |
| teacher (DINOv2) | `teacher` (registry in `teachers.py`) |
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from agra_bench.errors import UsageError, unknown

NOISE_SCHEMES = ("logit_normal", "uniform")


@dataclass(frozen=True)
class WAMConfig:
    preset: str = "tiny"
    image_size: int = 64  # frames are resized to this (square)
    patch_size: int = 8
    context_frames: int = 1  # To: agentview frames seen, one per policy call (execute_horizon apart)
    use_wrist: bool = True  # the current wrist frame is one more context frame
    future_frames: int = 2  # K: predicted agentview frames
    future_stride: int = 4  # steps between predicted frames
    chunk: int = 8  # Ta: actions per chunk
    execute_horizon: int = 4  # actions executed per policy call at run time
    width: int = 128
    depth: int = 4
    heads: int = 4
    action_depth: int = 2
    action_reads: tuple[int, ...] = ()  # video layer read by each action block; () = spread over depth
    text_dim: int = 384  # all-MiniLM-L6-v2
    action_weight: float = 1.0  # lambda_act
    align_weight: float = 0.0  # lambda_agra: 0 = plain WAM, > 0 = AGRA
    align_layers: tuple[int, ...] = ()  # () = the layer at about 1/3 of depth
    projector_width: int = 512
    teacher: str = "mobilenet_v2"
    video_noise: str = "logit_normal"  # per-sample noise level of the future frames
    p_video_pure_noise: float = 0.5  # share of samples trained in the inference regime (see model.py)
    denoise_steps: int = 10
    # Data statistics (normalize.py), set by `agra-bench train` from its data; () = identity.
    action_center: tuple[float, ...] = ()
    action_scale: tuple[float, ...] = ()
    proprio_mean: tuple[float, ...] = ()
    proprio_std: tuple[float, ...] = ()
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.preset not in ("tiny", "small", "base"):
            raise unknown("WAM preset", self.preset, ("tiny", "small", "base"))
        if self.image_size % self.patch_size:
            raise UsageError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )
        if self.context_frames < 1:
            raise UsageError(f"bad context_frames {self.context_frames}; valid: 1 or more")
        if self.width % self.heads:
            raise UsageError(f"width {self.width} is not a multiple of heads {self.heads}")
        if self.video_noise not in NOISE_SCHEMES:
            raise unknown("video noise scheme", self.video_noise, NOISE_SCHEMES)
        if not 1 <= self.execute_horizon <= self.chunk:
            raise UsageError(f"execute_horizon {self.execute_horizon} must be in 1..chunk={self.chunk}")
        if self.align_weight < 0:
            raise UsageError(f"align_weight must be >= 0, got {self.align_weight}")
        for name, values in (("action_reads", self.reads), ("align_layers", self.layers)):
            bad = [v for v in values if not 0 <= v < self.depth]
            if bad:
                raise UsageError(f"{name} {bad} out of range; valid: 0-{self.depth - 1}")
        sizes = {"action_center": 7, "action_scale": 7, "proprio_mean": 8, "proprio_std": 8}
        for name, size in sizes.items():
            if len(getattr(self, name)) not in (0, size):
                raise UsageError(f"{name} has {len(getattr(self, name))} values; expected {size} (or none)")
        if len(self.reads) != self.action_depth:
            raise UsageError(
                f"action_reads has {len(self.reads)} layers for action_depth {self.action_depth}"
            )

    @property
    def reads(self) -> tuple[int, ...]:
        """Video layer read by each action block (explicit, or spread over depth)."""
        return tuple(self.action_reads) or default_reads(self.depth, self.action_depth)

    @property
    def layers(self) -> tuple[int, ...]:
        """Video layers aligned by AGRA (explicit, or the one at about 1/3 of depth)."""
        return tuple(self.align_layers) or (max(0, round(self.depth / 3) - 1),)

    @property
    def tokens_per_frame(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def context_slots(self) -> int:
        return self.context_frames + int(self.use_wrist)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WAMConfig:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown_keys = sorted(set(raw) - known)
        if unknown_keys:
            raise UsageError(
                f"checkpoint config has unknown keys {unknown_keys}; was it written by a newer agra-bench?"
            )
        for key, value in raw.items():
            if isinstance(value, list):
                raw[key] = tuple(value)
        return cls(**raw)


def default_reads(depth: int, action_depth: int) -> tuple[int, ...]:
    """Action block j reads the video layer at (j+1)/action_depth of depth: spread, ending at the top."""
    return tuple(max(0, round((j + 1) * depth / action_depth) - 1) for j in range(action_depth))


PRESETS = {
    "tiny": WAMConfig(),
    "small": WAMConfig(
        preset="small",
        image_size=128,
        patch_size=16,
        width=384,
        depth=8,
        heads=6,
        action_depth=4,
        projector_width=1024,
    ),
    "base": WAMConfig(
        preset="base",
        image_size=128,
        patch_size=16,
        width=576,
        depth=12,
        heads=9,
        action_depth=6,
        projector_width=2048,
    ),
}


def make_config(preset: str, **overrides) -> WAMConfig:
    if preset not in PRESETS:
        raise unknown("WAM config", preset, PRESETS)
    return replace(PRESETS[preset], **overrides)


def policy_of(config: WAMConfig) -> str:
    """The one rule that tells the two policies apart: `agra` aligns (align_weight > 0), `wam`
    does not (0). Training, loading and serving all ask this function."""
    return "agra" if config.align_weight > 0 else "wam"
