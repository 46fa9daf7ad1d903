"""Training input speed on real demonstrations: the in-memory frame cache against reading and
decompressing HDF5 windows per step, for the data path alone and for whole training steps.

    python bench/train_input.py --data ../data/robosuite_lift [--steps 30] [--batch 32] [--config tiny]

Prints batches of the data path (DataLoader, no model) and whole `tiny` training steps (bf16
autocast where native), medians over --steps after one warm-up step, and the lines
`windows_per_s_uncached=`, `windows_per_s_cached=`, `train_samples_per_s_uncached=`,
`train_samples_per_s_cached=`, `cache_speedup_train=`.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from common import bench_parser  # bench/common.py: also puts the repository on the path

from agra_bench.demos.dataset import demo_file_paths
from policies.wam.augment import augment_batch
from policies.wam.config import make_config
from policies.wam.data import WindowDataset, WindowSpec
from policies.wam.losses import training_losses
from policies.wam.model import WorldActionModel
from policies.wam.precision import autocast, resolve_precision
from policies.wam.train import StepSampler


def batches(dataset: WindowDataset, batch: int, steps: int):
    sampler = StepSampler(len(dataset), batch, 0, 0, steps + 1)
    return iter(torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=0))


def data_path(dataset: WindowDataset, batch: int, steps: int) -> float:
    loader, times = batches(dataset, batch, steps), []
    for i in range(steps + 1):
        tic = time.perf_counter()
        next(loader)
        if i:
            times.append(time.perf_counter() - tic)
    return batch / statistics.median(times)


def train_steps(dataset: WindowDataset, config, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = WorldActionModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    precision = resolve_precision("auto", "cpu")
    text = torch.randn(batch, 384)
    loader, times = batches(dataset, batch, steps), []
    for i in range(steps + 1):
        tic = time.perf_counter()
        data = augment_batch(next(loader), 4, generator)
        with autocast(precision, "cpu"):
            losses = training_losses(model, None, data, text, generator)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - tic)
    return batch / statistics.median(times)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--config", default="tiny")
    args = parser.parse_args()
    config = make_config(args.config)
    spec = WindowSpec.of(config)
    files = demo_file_paths([args.data])
    uncached = WindowDataset(files, spec)
    tic = time.perf_counter()
    cached = WindowDataset(files, spec, cache=True)
    built, size = time.perf_counter() - tic, cached.cached_bytes / 2**20
    print(f"{len(cached)} windows; cache built in {built:.1f} s, {size:.0f} MiB")
    speeds = {
        "windows_per_s_uncached": data_path(uncached, args.batch, args.steps),
        "windows_per_s_cached": data_path(cached, args.batch, args.steps),
        "train_samples_per_s_uncached": train_steps(uncached, config, args.batch, args.steps),
        "train_samples_per_s_cached": train_steps(cached, config, args.batch, args.steps),
    }
    for name, value in speeds.items():
        print(f"{name}={value:.1f}")
    speedup = speeds["train_samples_per_s_cached"] / speeds["train_samples_per_s_uncached"]
    print(f"cache_speedup_train={speedup:.3f}")


if __name__ == "__main__":
    main()
