"""Attention of the action decoder on image tokens, and the paper's two attention metrics.

`record_cross_attention(model)` swaps the processor of every action block's cross-attention
(diffusers `Attention`, `attn2`) for one that computes the same output from explicit
softmax weights and keeps them: (B, heads, Ta, N) per block, N = slots * P image tokens.

Metrics on one frame slot's (g, g) attention map A (summing to 1) and a boolean region mask M
on the same grid:
- attention in region: sum(A[M]), 1 when all attention lies on region tokens, 0 when none does;
- centroid error: distance (in tokens) from the attention-weighted centroid of the grid
  positions to the nearest region token (0 when the centroid lies on a region token).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch


class RecordingProcessor:
    """Cross-attention with explicit weights (same maths as diffusers' AttnProcessor)."""

    def __init__(self, store: list) -> None:
        self.store = store

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if attn.norm_cross is not None and encoder_hidden_states is not None:
            context = attn.norm_encoder_hidden_states(context)
        query = attn.head_to_batch_dim(attn.to_q(hidden_states))
        key = attn.head_to_batch_dim(attn.to_k(context))
        value = attn.head_to_batch_dim(attn.to_v(context))
        weights = attn.get_attention_scores(query, key, None)  # (B * heads, Tq, N)
        self.store.append(weights.unflatten(0, (-1, attn.heads)).detach().float().cpu())
        out = attn.batch_to_head_dim(torch.bmm(weights, value))
        return attn.to_out[1](attn.to_out[0](out))


@contextlib.contextmanager
def record_cross_attention(model):
    """Within the block, every action-decoder forward appends one (B, heads, Ta, N) tensor per
    block to the yielded list; the original processors are put back afterwards."""
    store: list[torch.Tensor] = []
    blocks = getattr(model, "action_blocks", None)
    if blocks is None:
        raise ValueError(f"{type(model).__name__} has no action decoder cross-attention to record")
    saved = [block.attn2.processor for block in blocks]
    for block in blocks:
        block.attn2.set_processor(RecordingProcessor(store))
    try:
        yield store
    finally:
        for block, processor in zip(blocks, saved, strict=True):
            block.attn2.set_processor(processor)


def slot_maps(weights: list[torch.Tensor], slots: int, grid: int) -> torch.Tensor:
    """Mean over blocks, heads and action tokens -> (B, slots, grid, grid), each slot's share
    of the total attention kept (the maps of all slots together sum to 1)."""
    mean = torch.stack([w.mean(dim=(1, 2)) for w in weights]).mean(0)  # (B, N)
    return mean.unflatten(1, (slots, grid, grid))


def attention_in_region(attention: np.ndarray, region: np.ndarray) -> float:
    """Share of a (g, g) attention map on the region's tokens (the map is renormalised)."""
    total = float(attention.sum())
    return float(attention[region].sum() / total) if total > 0 else float("nan")


def attention_centroid(attention: np.ndarray) -> np.ndarray:
    """(row, col) of the attention-weighted mean token position."""
    rows, cols = np.indices(attention.shape)
    total = attention.sum()
    return np.array([(rows * attention).sum() / total, (cols * attention).sum() / total])


def centroid_error(attention: np.ndarray, region: np.ndarray) -> float:
    """Distance in tokens from the attention centroid to the nearest region token (nan if no region)."""
    if not region.any():
        return float("nan")
    centroid = attention_centroid(attention)
    tokens = np.argwhere(region)
    return float(np.min(np.linalg.norm(tokens - centroid, axis=1)))


def region_on_grid(mask: np.ndarray, grid: int) -> np.ndarray:
    """A pixel mask (H, W) -> (grid, grid): a token is in the region if any of its pixels is."""
    h, w = mask.shape
    if h % grid or w % grid:
        raise ValueError(f"mask {mask.shape} does not tile into a {grid}x{grid} grid")
    return mask.reshape(grid, h // grid, grid, w // grid).any(axis=(1, 3))
