"""`agra-bench train`: fit a WAM (`wam`, alignment weight 0) or AGRA (`agra`, weight > 0).

Determinism: the model is initialised from `seed` before anything else is built, batches come
from a sampler that depends only on (seed, step), and the noise generator is seeded the same
way; so `wam` and `agra` runs with one seed see the same initial weights, the same data order
and the same noise, and differ only by the alignment term. A run resumes from its folder
(`train_state.*`) and continues the same sequence.

Recipe (issue: "policies that see"): actions and proprio are normalised per dimension with
statistics of the training data (stored in the config), frames are decoded once into memory,
every batch is randomly shifted by up to `shift_pad` pixels, and the forward pass runs under
bf16 autocast where the CPU (or GPU) does bf16 natively (`precision`, recorded in the
checkpoint). `snapshot_every` keeps the EMA weights of intermediate steps under
`snapshots/step_<N>/` for learning curves (bench/learning_curve.py).

Saving and resuming (atomic saves, the precision a run began with) is `train_state`. SIGTERM
(a scheduler's preemption) stops training at the end of the current step, after a
save: the command exits with code 143 and rerunning it resumes there (`agra_bench.stopping`).

Logs: `losses.csv` (step, then total, video, action and align losses averaged over the
steps since the previous row, lr, samples/s) and `losses.png`.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from agra_bench.demos.dataset import DemoFiles
from agra_bench.errors import UsageError
from agra_bench.stopping import StoppedBySignal, sigterm_requests
from agra_bench.versions import machine_info
from policies.wam import train_state
from policies.wam.augment import augment_batch
from policies.wam.config import WAMConfig, policy_of
from policies.wam.data import WindowDataset, WindowSpec, image_keys
from policies.wam.defaults import training_tasks
from policies.wam.losses import AlignmentHead, training_losses
from policies.wam.model import WorldActionModel, count_parameters
from policies.wam.normalize import action_statistics, proprio_statistics
from policies.wam.precision import autocast
from policies.wam.settings import TrainSettings
from policies.wam.text import EMBEDDINGS_FILE, TextEncoder, save_embeddings

LOG_COLUMNS = ["step", "total", "video", "action", "align", "lr", "samples_per_s", "wall_s"]


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """The sample indices of `step`: a fresh permutation per epoch, from (seed, epoch) only."""
    per_epoch = max(1, n // batch_size)
    epoch, position = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[position * batch_size : (position + 1) * batch_size]


class StepSampler(torch.utils.data.Sampler):
    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int) -> None:
        self.n, self.batch_size, self.seed, self.start, self.stop = n, batch_size, seed, start, stop

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield batch_indices(self.n, self.batch_size, self.seed, step).tolist()

    def __len__(self) -> int:
        return self.stop - self.start


def check_data_digest(data: list[Path], wrist: bool, expected: str | None) -> str | None:
    """The data's digest when `expected` is given, after checking that they are equal."""
    if expected is None:
        return None
    digest = DemoFiles(data).digest(image_keys(wrist))
    if digest != expected:
        raise UsageError(
            f"the training data's data_sha256 {digest} differs from --expect-data-sha256 {expected}: "
            "these are not the demonstrations the partner checkpoint was trained on (collection is "
            "deterministic on one machine, not across machines); train both policies on one collection"
        )
    return digest


def train(policy: str, data: list[Path], out: Path, config: WAMConfig, settings: TrainSettings) -> Path:
    """Train (or resume) into `out`; returns the checkpoint folder."""
    from diffusers.training_utils import EMAModel

    if policy not in ("wam", "agra"):
        raise UsageError(f"unknown policy to train '{policy}'; valid: wam, agra")
    if policy_of(config) != policy:
        raise UsageError(
            f"--policy {policy} with align_weight {config.align_weight}; "
            "valid: agra with a weight > 0, wam with 0"
        )
    device = torch.device(settings.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but no CUDA device is visible; use --device cpu")
    out.mkdir(parents=True, exist_ok=True)
    precision = train_state.precision_of(out, settings.precision, device)
    if settings.normalize:
        config = with_data_statistics(config, data)

    digest = check_data_digest(data, config.use_wrist, settings.expect_data_sha256)

    torch.manual_seed(settings.seed)
    model = WorldActionModel(config).to(device)
    spec = WindowSpec.of(config)
    teacher_features, align = None, None
    if config.align_weight > 0:
        from policies.wam.teacher_cache import TeacherFeatures, build_teacher_cache
        from policies.wam.teachers import make_teacher

        teacher = make_teacher(
            config.teacher, path=settings.teacher_path, allow_download=settings.allow_download
        )
        grid = config.image_size // config.patch_size
        cache_dir = Path(settings.teacher_cache) if settings.teacher_cache else Path(out) / "teacher_cache"
        paths = build_teacher_cache(DemoFiles(data), teacher, grid, cache_dir, device=settings.device)
        teacher_features = TeacherFeatures(paths)
        align = AlignmentHead(config, teacher.channels).to(device)
        del teacher
    dataset = WindowDataset(
        data, spec, wrist=config.use_wrist, teacher_features=teacher_features, cache=settings.cache
    )
    if len(dataset) < settings.batch_size:
        raise UsageError(
            f"the data hold {len(dataset)} windows, fewer than --batch-size {settings.batch_size}"
        )
    parameters = list(model.parameters()) + (list(align.parameters()) if align is not None else [])
    optimizer = torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    ema = EMAModel(model.parameters(), decay=settings.ema_decay)
    generator = torch.Generator(device=device)
    start = train_state.resume(out, model, align, optimizer, ema, generator, config, settings)
    if start == 0:
        generator.manual_seed(settings.seed)
    text = TextEncoder(str(device))
    # The training instructions' embeddings travel with the checkpoint (see text.py).
    text.encode([i for i in dataset.task_names if i])
    save_embeddings(out / EMBEDDINGS_FILE, text.table())
    meta = {
        "policy": policy,
        "data": [str(p) for p in data],
        "parameters": count_parameters(model),
        "settings": settings.__dict__,
        "precision": precision,
        "cached_frames_mb": round(dataset.cached_bytes / 2**20, 1),
        "data_sha256": digest or dataset.files.digest(dataset.image_keys),
        "training_tasks": training_tasks(dataset.files.tasks),  # run's default --tasks (defaults.py)
        "machine": machine_info(),  # demos collected again match only on the same kind of CPU
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str))
    if start:  # a kill between the weights and train_state.json: the pair follows the state
        train_state.save_ema_weights(out, model, ema, config, start, meta)

    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=StepSampler(len(dataset), settings.batch_size, settings.seed, start, settings.steps),
        num_workers=settings.workers,
        persistent_workers=False,
    )
    log_path = out / "losses.csv"
    new_log = not log_path.exists() or start == 0
    if not new_log:
        train_state.truncate_log(log_path, start)
    with sigterm_requests() as stop, log_path.open("w" if new_log else "a", newline="") as handle:
        writer = csv.writer(handle)
        if new_log:
            writer.writerow(LOG_COLUMNS)
        tic, window = time.perf_counter(), {}
        for step, batch in enumerate(loader, start=start + 1):
            batch = {
                k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
            }
            batch = augment_batch(batch, settings.shift_pad, generator)
            with autocast(precision, device):
                losses = training_losses(model, align, batch, text.encode(batch["instruction"]), generator)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            ema.step(model.parameters())
            for key, value in losses.items():  # logged values are means over the logging window
                window.setdefault(key, []).append(value.item())
            if step % settings.log_every == 0 or step == settings.steps:
                elapsed = time.perf_counter() - tic
                n = len(window["total"])
                means = [
                    f"{np.mean(window[k]):.6f}" if k in window else ""
                    for k in ("total", "video", "action", "align")
                ]
                writer.writerow(
                    [step, *means, settings.lr, f"{n * settings.batch_size / elapsed:.1f}", f"{elapsed:.3f}"]
                )
                handle.flush()
                tic, window = time.perf_counter(), {}
            if settings.snapshot_every and step % settings.snapshot_every == 0:
                train_state.save_snapshot(out, model, ema, config, step, meta)
            if step % settings.save_every == 0 or step == settings.steps or stop:
                train_state.save(out, model, align, optimizer, ema, generator, config, step, meta)
            if stop and step < settings.steps:
                raise StoppedBySignal(
                    f"SIGTERM: training saved at step {step} of {settings.steps} in {out}; "
                    "rerun the same command to resume"
                )
    plot_losses(log_path, out / "losses.png")
    return out


def with_data_statistics(config: WAMConfig, data: list[Path]) -> WAMConfig:
    """`config` with the action / proprio normalisation statistics of every demo in `data`."""
    from agra_bench.demos.dataset import demo_file_paths

    files = DemoFiles(demo_file_paths(data))
    actions = np.concatenate([files.actions(ref, np.arange(ref.length)) for ref in files.demos])
    proprio = np.concatenate([files.all_proprio(ref) for ref in files.demos])
    action_center, action_scale = action_statistics(actions)
    proprio_mean, proprio_std = proprio_statistics(proprio)
    return replace(
        config,
        action_center=action_center,
        action_scale=action_scale,
        proprio_mean=proprio_mean,
        proprio_std=proprio_std,
    )


def plot_losses(csv_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    log = pd.read_csv(csv_path)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, column in zip(axes, ("video", "action", "align"), strict=True):
        if column in log and log[column].notna().any():
            ax.plot(log["step"], log[column])
        ax.set_title(f"L_{column}")
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
