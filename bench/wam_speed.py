"""WAM speed: training samples/s (plain WAM and AGRA, same run) and ms per action chunk at
batch 50 (cached video pass + action-decoder denoising, against re-running the video model at
every denoising step), on synthetic tensors of the real shapes.

    python bench/wam_speed.py [--config small] [--device cuda] [--batch 64] [--steps 10]

Targets on an H100 (issue): >= 800 training samples/s for `small`; <= 50 ms per batch-50 chunk
with 10 denoising steps. Medians over --steps repetitions after one warm-up. On a CPU, training
is measured in the precision `train --precision auto` picks there (`precision=`): on a CPU with
native bf16 under bf16 autocast and in fp32 in the same run (`train_bf16_over_fp32=` is the
speed-up auto takes), elsewhere in fp32 only.
"""

from __future__ import annotations

import statistics
import time

import torch
from common import bench_parser  # bench/common.py: also puts the repository on the path

from policies.wam.config import make_config
from policies.wam.denoise import GraphedDenoiser, denoise_actions
from policies.wam.losses import AlignmentHead, training_losses
from policies.wam.model import WorldActionModel
from policies.wam.precision import autocast, resolve_precision


def synthetic_batch(config, batch: int, device, teacher_channels: int = 96) -> dict:
    g = config.image_size // config.patch_size
    size = config.image_size
    return {
        "context": torch.rand(batch, config.context_frames, 3, size, size, device=device),
        "wrist": torch.rand(batch, config.context_frames, 3, size, size, device=device),
        "future": torch.rand(batch, config.future_frames, 3, size, size, device=device),
        "actions": torch.rand(batch, config.chunk, 7, device=device) * 2 - 1,
        "proprio": torch.randn(batch, 8, device=device),
        "teacher_context": torch.randn(batch, config.context_slots, teacher_channels, g, g, device=device),
        "teacher_future": torch.randn(batch, config.future_frames, teacher_channels, g, g, device=device),
    }


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_speed(config, batch: int, steps: int, device, aligned: bool, precision: str) -> float:
    torch.manual_seed(0)
    model = WorldActionModel(config).to(device)
    align = AlignmentHead(config, 96).to(device) if aligned else None
    params = list(model.parameters()) + (list(align.parameters()) if align else [])
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    data = synthetic_batch(config, batch, device)
    text = torch.randn(batch, 384, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    times = []
    for i in range(steps + 1):
        sync(device)
        tic = time.perf_counter()
        with autocast(precision, device):
            losses = training_losses(model, align, data, text, generator)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        sync(device)
        if i:  # the first step warms up kernels and allocators
            times.append(time.perf_counter() - tic)
    return batch / statistics.median(times)


@torch.no_grad()
def chunk_ms(
    config, batch: int, steps: int, device, denoise: int, mode: str, precision: str
) -> tuple[float, torch.Tensor]:
    """ms per chunk (median) and the last chunk's actions. mode: `cached` (one video pass, then
    the eager denoising loop: the CPU path), `graphed` (one video pass, the loop replayed from
    CUDA graphs: the GPU path of WAMPolicy), `per_step_video` (the video model re-run at every
    denoising step: what caching saves)."""
    torch.manual_seed(0)
    model = WorldActionModel(config).to(device).eval()
    size = config.image_size
    context = torch.rand(batch, config.context_slots, 3, size, size, device=device)
    future = torch.randn(batch, config.future_frames, 3, size, size, device=device)
    text, proprio = torch.randn(batch, 384, device=device), torch.randn(batch, 8, device=device)
    noise = torch.randn(batch, config.chunk, 7, device=device)
    ones = torch.ones(batch, device=device)
    levels = torch.linspace(1, 0, denoise + 1).tolist()
    graphed = GraphedDenoiser(model, levels, bf16=precision == "bf16") if mode == "graphed" else None
    times = []
    for i in range(steps + 1):
        sync(device)
        tic = time.perf_counter()
        with autocast(precision, device):
            hidden = model.run_video(model.video_tokens(context, future, ones, text, proprio))
            if graphed is not None:
                actions = graphed(hidden, noise, text, proprio)
            elif mode == "cached":
                actions = denoise_actions(model, hidden, noise, text, proprio, levels)
            else:
                actions = noise
                for level, nxt in zip(levels[:-1], levels[1:], strict=True):
                    hidden = model.run_video(model.video_tokens(context, future, ones, text, proprio))
                    velocity = model.predict_actions(hidden, actions, ones * level, text, proprio)
                    actions = actions + (nxt - level) * velocity.float()
        sync(device)
        if i:  # the first call warms up (and, graphed, records the graph)
            times.append(time.perf_counter() - tic)
    return 1000 * statistics.median(times), actions


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--config", default="small")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--denoise", type=int, default=10)
    parser.add_argument("--chunk-batch", type=int, default=50, help="inference batch (figures name it: b50)")
    parser.add_argument(
        "--precision", default="auto", help="auto (what train and run pick here), bf16 or fp32"
    )
    args = parser.parse_args()
    b = args.chunk_batch
    device = torch.device(args.device)
    precision = resolve_precision(args.precision, device)
    config = make_config(args.config)
    params = sum(p.numel() for p in WorldActionModel(config).parameters()) / 1e6
    print(
        f"config {args.config} ({params:.1f} M parameters), device {device}, train batch {args.batch}, "
        f"inference batch {b}, {args.denoise} denoising steps, medians of {args.steps}, precision {precision}"
    )
    print(f"precision={precision}")
    train_speed(config, args.batch, 1, device, False, precision)  # a throwaway model warms the process up
    # On a CPU with native bf16 (where auto picks bf16) fp32 runs too, for the speed-up auto takes.
    # Without it bf16 is emulated (9x slower than fp32 on a Zen 1), and auto never trains in it.
    against_fp32 = device.type == "cpu" and precision == "bf16"
    if against_fp32:
        fp32 = train_speed(config, args.batch, args.steps, device, aligned=False, precision="fp32")
        print(f"training  wam fp32 {fp32:8.1f} samples/s")
    wam = train_speed(config, args.batch, args.steps, device, aligned=False, precision=precision)
    agra = train_speed(config, args.batch, args.steps, device, aligned=True, precision=precision)
    print(f"training  wam  {precision} {wam:8.1f} samples/s")
    print(f"training  agra {precision} {agra:8.1f} samples/s   ratio agra/wam = {agra / wam:.3f}")
    print(f"train_samples_per_s_wam={wam:.1f}")
    print(f"train_samples_per_s_agra={agra:.1f}")
    if against_fp32:
        print(f"train_samples_per_s_wam_fp32={fp32:.1f}")
        print(f"train_bf16_over_fp32={wam / fp32:.3f}")
    cached, eager_actions = chunk_ms(config, b, args.steps, device, args.denoise, "cached", precision)
    naive, _ = chunk_ms(config, b, args.steps, device, args.denoise, "per_step_video", precision)
    print(f"inference cached video   {cached:8.1f} ms per batch-{b} chunk")
    ratio = cached / naive
    print(f"inference per-step video {naive:8.1f} ms per batch-{b} chunk; ratio cached/naive = {ratio:.3f}")
    print(f"chunk_ms_b{b}_cached={cached:.1f}")
    print(f"chunk_ms_b{b}_per_step_video={naive:.1f}")
    if device.type == "cuda":
        graphed, graphed_actions = chunk_ms(config, b, args.steps, device, args.denoise, "graphed", precision)
        difference = (graphed_actions - eager_actions).abs().max().item()
        print(
            f"inference graphed loop   {graphed:8.1f} ms per batch-{b} chunk; ratio graphed/cached = "
            f"{graphed / cached:.3f}; max |graphed - eager| = {difference:.2e}"
        )
        print(f"chunk_ms_b{b}_graphed={graphed:.1f}")
        print(f"graphed_max_abs_difference={difference:.2e}")


if __name__ == "__main__":
    main()
