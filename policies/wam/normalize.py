"""Per-dimension normalisation of actions and proprio, computed from the training data and stored
in the checkpoint's config, so inference maps back with exactly the training statistics.

Why: demonstration actions have very different spreads per dimension (oracle robosuite_lift:
std 0.02 for a rotation dimension, gripper +-1). A flow-matching head trained on raw values
spends its capacity on the wide dimensions and predicts the narrow ones as noise. Each action
dimension is mapped linearly from its [1st, 99th] percentile range onto [-1, 1] (diffusion
policy's min-max scheme, made robust to outliers); a dimension with (almost) no spread keeps its
offset and unit scale. Proprio is standardised (mean 0, std 1).

    normalised = (raw - center) / half_range        raw = normalised * half_range + center

An empty `action_center` in the config means "identity" (checkpoints written before this).
"""

from __future__ import annotations

import numpy as np
import torch

#: A dimension whose percentile range is below this is not rescaled (avoids dividing by ~0).
MIN_HALF_RANGE = 1e-3


def action_statistics(actions: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(center, half_range) per dimension of (N, D) actions, from the 1st/99th percentiles."""
    low, high = np.percentile(actions.astype(np.float64), [1, 99], axis=0)
    center = (high + low) / 2
    half = (high - low) / 2
    half = np.where(half < MIN_HALF_RANGE, 1.0, half)
    return tuple(float(v) for v in center), tuple(float(v) for v in half)


def proprio_statistics(proprio: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per dimension of (N, 8) proprio; a constant dimension keeps std 1."""
    mean = proprio.astype(np.float64).mean(axis=0)
    std = proprio.astype(np.float64).std(axis=0)
    std = np.where(std < 1e-6, 1.0, std)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _as(values: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


def normalize(values: torch.Tensor, center: tuple[float, ...], scale: tuple[float, ...]) -> torch.Tensor:
    """(..., D) raw -> normalised; identity when no statistics are given."""
    if not center:
        return values
    return (values - _as(center, values)) / _as(scale, values)


def denormalize(values: torch.Tensor, center: tuple[float, ...], scale: tuple[float, ...]) -> torch.Tensor:
    """(..., D) normalised -> raw; identity when no statistics are given."""
    if not center:
        return values
    return values * _as(scale, values) + _as(center, values)
