"""A training folder's state on disk: the atomic save, the resume, the snapshots, and what a
resumed run must keep from the run it continues (its precision, its log up to the save).

What this module writes in OUT: the inference checkpoint (config.json + model.safetensors, EMA
weights, what `run --checkpoint` loads), `train_state.json` (step, optimizer scalars, config)
pointing to `train_state-<step>.safetensors` (model, alignment head, optimizer, EMA and
noise-generator tensors), and `snapshots/step_<N>/`. `train.train` calls it, and writes the rest
of the folder itself: run.json, the instruction embeddings and the loss log.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from agra_bench.errors import UsageError
from agra_bench.records import atomic_write_bytes
from policies.wam import checkpoint as ckpt
from policies.wam.precision import resolve_precision


def truncate_log(log_path: Path, step: int) -> None:
    """Drop log rows after `step` (written after the last save, before a kill), so a resumed run
    never logs a step twice."""
    rows = list(csv.reader(log_path.open(newline="")))
    kept = [rows[0]] + [row for row in rows[1:] if row and int(row[0]) <= step]
    if len(kept) != len(rows):
        with log_path.open("w", newline="") as handle:
            csv.writer(handle).writerows(kept)


def save_snapshot(out, model, ema, config, step, meta) -> None:
    save_ema_weights(out / "snapshots" / f"step_{step:06d}", model, ema, config, step, meta)


def save_ema_weights(folder: Path, model, ema, config, step: int, meta: dict) -> None:
    """The inference checkpoint (config.json + model.safetensors) holding the EMA weights."""
    ema.store(model.parameters())
    ema.copy_to(model.parameters())
    ckpt.save_inference(folder, config, model.state_dict(), {**meta, "step": step})
    ema.restore(model.parameters())


def save(out, model, align, optimizer, ema, generator, config, step, meta) -> None:
    save_ema_weights(out, model, ema, config, step, meta)
    tensors, scalars = ckpt.optimizer_to_tensors(optimizer)
    tensors.update({f"model.{k}": v for k, v in model.state_dict().items()})
    if align is not None:
        tensors.update({f"align.{k}": v for k, v in align.state_dict().items()})
    tensors.update({f"ema.{i}": p for i, p in enumerate(ema.shadow_params)})
    tensors["generator"] = generator.get_state()
    # Atomic as a whole: the tensors go to a file named by step, and train_state.json, written
    # last and atomically, points to it. A kill at any moment leaves train_state.json naming a
    # complete earlier save, whose file is deleted only after the new pointer is in place.
    name = f"train_state-{step:07d}.safetensors"
    ckpt._save_tensors(tensors, out / name)
    state = {
        "step": step,
        "tensors": name,
        "optimizer": scalars,
        "ema_steps": ema.optimization_step,
        "config": config.to_json(),
    }
    atomic_write_bytes(out / ckpt.STATE_JSON, json.dumps(state).encode())
    for old in [*out.glob("train_state-*.safetensors"), out / ckpt.STATE_TENSORS]:
        if old.name != name:
            old.unlink(missing_ok=True)


def precision_of(out: Path, requested: str, device: torch.device) -> str:
    """The precision of this training: a resumed one keeps the precision it began with.

    Why: "auto" resolves per machine (bf16 with AMX, fp32 without), and a run resumed on another
    CPU would otherwise switch precision mid-training while run.json named only the last one.
    """
    resolved = resolve_precision(requested, device)
    run_json = out / "run.json"
    if not (out / ckpt.STATE_JSON).exists() or not run_json.exists():
        return resolved
    began = json.loads(run_json.read_text()).get("precision")
    if began is None or began == resolved:
        return resolved
    if requested == "auto":
        print(f"resuming '{out}' in {began}, the precision it began with (auto here: {resolved})")
        return began
    raise UsageError(
        f"'{out}' was trained in {began}, not --precision {requested}; "
        f"resume it with --precision {began} or auto, or use a new --out"
    )


def resume(out, model, align, optimizer, ema, generator, config, settings) -> int:
    state_json = out / ckpt.STATE_JSON
    if not state_json.exists():
        return 0
    state = json.loads(state_json.read_text())
    if state["config"] != config.to_json():
        raise UsageError(
            f"'{out}' holds a run with another configuration; use a new --out to train a new one"
        )
    tensors = load_file(str(out / state.get("tensors", ckpt.STATE_TENSORS)))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if align is not None:
        align.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("align.")})
    ckpt.optimizer_from_tensors(optimizer, tensors, state["optimizer"])
    for i, param in enumerate(ema.shadow_params):
        param.data.copy_(tensors[f"ema.{i}"])
    ema.optimization_step = state["ema_steps"]
    generator.set_state(tensors["generator"])
    for partial in out.glob("train_state-*.safetensors"):  # a save killed before its pointer
        if partial.name != state.get("tensors"):
            partial.unlink()
    return int(state["step"])
