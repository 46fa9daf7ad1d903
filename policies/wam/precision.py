"""Numeric precision of WAM training and inference: bf16 autocast where the hardware does bf16
matrix work natively, fp32 elsewhere.

Why: on CPUs with AMX / AVX512-BF16 (these machines) a bf16 matmul is ~8x faster than fp32 and
the `small` WAM trains 1.9x faster under `torch.autocast("cpu", dtype=torch.bfloat16)`; on CPUs
without them bf16 is emulated and slower than fp32. So "auto" picks bf16 only where it pays, and
the precision used is written into the checkpoint's metadata (`precision`) so a result can be
traced to it. Parameters and optimizer state stay fp32 in every mode (autocast casts per op).
"""

from __future__ import annotations

import contextlib

import torch

from agra_bench.errors import unknown

PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_fast_bf16() -> bool:
    """True when this CPU multiplies bf16 natively (AVX512-BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """'auto' -> 'bf16' on CUDA or a CPU with native bf16, else 'fp32'; explicit values stay."""
    if requested not in PRECISIONS:
        raise unknown("precision", requested, PRECISIONS)
    if requested != "auto":
        return requested
    device = torch.device(device)
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16()):
        return "bf16"
    return "fp32"


def autocast(precision: str, device: torch.device | str):
    """The context manager that runs a forward pass in `precision` ('bf16' or 'fp32')."""
    device = torch.device(device)
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
