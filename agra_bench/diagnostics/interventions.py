"""Causal interventions on the video model's spatial hidden tokens.

At video layer `layer`, the hidden states of chosen image tokens of one frame slot are replaced,
the remaining video blocks run on the edited states, and the action decoder denoises from the
same noise as the clean pass. The action change is the mean absolute difference of the two
action chunks. Kinds:
- mean:  the chosen tokens become the mean token of their slot;
- zero:  the chosen tokens become zeros;
- shuffle: the chosen tokens are permuted among themselves;
- swap:  the chosen tokens take the states of as many other tokens of the slot (background
         tokens for a region intervention), chosen with the given generator.
A relevant-region intervention is compared with the same intervention on a matched number of
background tokens; their ratio says how much more the actions depend on the task region.
"""

from __future__ import annotations

import numpy as np
import torch

KINDS = ("mean", "zero", "shuffle", "swap")


def edit_tokens(
    hidden: torch.Tensor, model, slot: int, tokens: np.ndarray, kind: str, rng: np.random.Generator
) -> torch.Tensor:
    """A copy of one layer's hidden states (B, N, width) with `tokens` of `slot` intervened on."""
    grid_tokens = model.config.tokens_per_frame
    start = 2 + slot * grid_tokens  # 2 conditioning tokens lead the sequence
    index = torch.as_tensor(start + np.asarray(tokens), dtype=torch.long)
    edited = hidden.clone()
    if len(index) == 0:
        return edited
    frame = hidden[:, start : start + grid_tokens]
    if kind == "mean":
        edited[:, index] = frame.mean(dim=1, keepdim=True).expand(-1, len(index), -1)
    elif kind == "zero":
        edited[:, index] = 0
    elif kind == "shuffle":
        edited[:, index] = hidden[:, index[torch.as_tensor(rng.permutation(len(index)))]]
    elif kind == "swap":
        others = np.setdiff1d(np.arange(grid_tokens), tokens)
        if len(others) == 0:
            return edited
        donors = rng.choice(others, size=len(index), replace=len(others) < len(index))
        edited[:, index] = hidden[:, torch.as_tensor(start + donors, dtype=torch.long)]
    else:
        raise ValueError(f"unknown intervention '{kind}'; valid: {', '.join(KINDS)}")
    return edited


@torch.no_grad()
def run_with_intervention(model, tokens_in: torch.Tensor, layer: int, edit) -> list[torch.Tensor]:
    """The video blocks with `edit` applied to the hidden states after block `layer`."""
    hidden, tokens = [], tokens_in
    for index, block in enumerate(model.video_blocks):
        tokens = block(tokens)
        if index == layer:
            tokens = edit(tokens)
        hidden.append(tokens)
    return hidden


def action_change(clean: torch.Tensor, edited: torch.Tensor) -> float:
    return float((clean - edited).detach().abs().mean())
