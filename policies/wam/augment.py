"""Random-shift image augmentation for WAM training (DrQ's "pad and random crop").

Why: with ~100 demonstrations a visuomotor policy overfits to exact pixel positions; shifting
the frames by a few pixels is the cheapest augmentation known to make such policies generalise
across init states. A sample's agentview frames (context and future) share one shift, so the
predicted future stays consistent with its context; the wrist frame gets its own. Padding
replicates the border. The shift is drawn from the training run's seeded generator, so runs stay
reproducible and resumable.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def random_shift(frames: list[torch.Tensor], pad: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shift every sample of each (B, n, 3, H, W) tensor in `frames` by the same random offset
    in [-pad, pad] pixels (per sample, shared across the tensors); shapes are kept."""
    if pad <= 0:
        return frames
    b = frames[0].shape[0]
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator, device=frames[0].device).tolist()
    shifted = []
    for tensor in frames:
        n, _, h, w = tensor.shape[1:]
        padded = F.pad(tensor.flatten(0, 1), (pad, pad, pad, pad), mode="replicate").unflatten(0, (b, n))
        shifted.append(
            torch.stack([padded[i, :, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])
        )
    return shifted


def augment_batch(batch: dict, pad: int, generator: torch.Generator) -> dict:
    """The training batch with agentview (context + future) and wrist frames randomly shifted."""
    if pad <= 0:
        return batch
    context, future = random_shift([batch["context"], batch["future"]], pad, generator)
    out = {**batch, "context": context, "future": future}
    if "wrist" in batch:
        (out["wrist"],) = random_shift([batch["wrist"]], pad, generator)
    return out
