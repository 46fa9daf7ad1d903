"""Training objective: L = L_video + lambda_act * L_action + lambda_agra * L_AGRA.

- L_video, L_action: flow matching (rectified flow). With x the clean target, noise ~ N(0, I)
  and level s, the input is (1 - s) x + s noise and the model predicts the velocity noise - x;
  the loss is the mean squared error. Levels follow the scheme documented in model.py.
- L_AGRA (REPA-style): a projector MLP maps the video hidden states of each aligned layer, per
  frame token, to the teacher's feature space; the loss is the negative cosine similarity with
  the frozen teacher's patch features of the same (clean) frames, interpolated to the token grid,
  averaged over layers, frames and patches. Returned as its own term, whatever its weight.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from policies.wam.config import WAMConfig
from policies.wam.model import WorldActionModel
from policies.wam.normalize import normalize


class Projector(nn.Module):
    """REPA's projector: 3 linear layers with SiLU, width `projector_width`."""

    def __init__(self, width: int, hidden: int, out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, out)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net(tokens)


class AlignmentHead(nn.Module):
    """One projector per aligned layer."""

    def __init__(self, config: WAMConfig, teacher_channels: int) -> None:
        super().__init__()
        self.layers = config.layers
        self.projectors = nn.ModuleList(
            Projector(config.width, config.projector_width, teacher_channels) for _ in self.layers
        )

    def forward(
        self, model: WorldActionModel, hidden: list[torch.Tensor], teacher: torch.Tensor
    ) -> torch.Tensor:
        """teacher: (B, slots, C, g, g) -> scalar loss (negative mean cosine similarity)."""
        target = teacher.flatten(3).transpose(2, 3)  # (B, slots, P, C)
        losses = []
        for layer, projector in zip(self.layers, self.projectors, strict=True):
            predicted = projector(model.frame_tokens(hidden[layer]))  # (B, slots, P, C)
            losses.append(-F.cosine_similarity(predicted.float(), target.float(), dim=-1).mean())
        return torch.stack(losses).mean()


def to_model_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(B, n, 3, h, w) in [0, 1] -> (B, n, 3, size, size) in [-1, 1]."""
    if frames.shape[-1] != size:
        frames = F.interpolate(
            frames.flatten(0, 1), size=(size, size), mode="bilinear", align_corners=False, antialias=True
        ).unflatten(0, frames.shape[:2])
    return frames * 2 - 1


def model_context(batch: dict, config: WAMConfig) -> torch.Tensor:
    """The context slots: past agentview frames, then the current wrist frame if used."""
    parts = [batch["context"]]
    if config.use_wrist:
        parts.append(batch["wrist"][:, -1:])
    return to_model_frames(torch.cat(parts, dim=1), config.image_size)


def model_actions(actions: torch.Tensor, config: WAMConfig) -> torch.Tensor:
    """(B, Ta, 7) raw actions -> the normalised space the action head is trained in."""
    return normalize(actions, config.action_center, config.action_scale)


def model_proprio(proprio: torch.Tensor, config: WAMConfig) -> torch.Tensor:
    """(B, 8) raw proprio -> standardised proprio."""
    return normalize(proprio, config.proprio_mean, config.proprio_std)


def sample_video_level(
    batch_size: int, config: WAMConfig, generator: torch.Generator, device
) -> torch.Tensor:
    if config.video_noise == "logit_normal":
        level = torch.sigmoid(torch.randn(batch_size, generator=generator, device=device))
    else:
        level = torch.rand(batch_size, generator=generator, device=device)
    pure = torch.rand(batch_size, generator=generator, device=device) < config.p_video_pure_noise
    return torch.where(pure, torch.ones_like(level), level)


def training_losses(
    model: WorldActionModel,
    align: AlignmentHead | None,
    batch: dict,
    text: torch.Tensor,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """All loss terms for one batch; `text` is (B, 384) (instruction embeddings)."""
    config = model.config
    device = text.device
    context = model_context(batch, config)
    future = to_model_frames(batch["future"], config.image_size)
    actions = model_actions(batch["actions"], config)
    b = actions.shape[0]
    s_v = sample_video_level(b, config, generator, device)
    s_a = torch.rand(b, generator=generator, device=device)
    noise_v = torch.randn(future.shape, generator=generator, device=device)
    noise_a = torch.randn(actions.shape, generator=generator, device=device)
    v = s_v[:, None, None, None, None]
    a = s_a[:, None, None]
    out = model(
        context,
        (1 - v) * future + v * noise_v,
        s_v,
        (1 - a) * actions + a * noise_a,
        s_a,
        text,
        model_proprio(batch["proprio"], config),
    )
    losses = {
        "video": F.mse_loss(out["future_velocity"].float(), noise_v - future),
        "action": F.mse_loss(out["action_velocity"].float(), noise_a - actions),
    }
    if align is not None:
        teacher = torch.cat([batch["teacher_context"], batch["teacher_future"]], dim=1)
        losses["align"] = align(model, out["hidden"], teacher)
    total = losses["video"] + config.action_weight * losses["action"]
    if align is not None and config.align_weight > 0:
        total = total + config.align_weight * losses["align"]
    losses["total"] = total
    return losses
