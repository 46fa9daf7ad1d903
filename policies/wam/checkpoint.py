"""Checkpoints: a folder with `config.json` and `model.safetensors` (the EMA weights used for
inference), plus `train_state.safetensors` / `train_state.json` to resume training.

Nothing is ever unpickled: tensors are safetensors, everything else JSON. The optimizer's
state is flattened into named tensors and its scalars into JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from agra_bench.errors import UsageError
from agra_bench.records import atomic_write_bytes
from policies.wam.config import WAMConfig
from policies.wam.text import EMBEDDINGS_FILE

CONFIG, WEIGHTS, STATE_TENSORS, STATE_JSON = (
    "config.json",
    "model.safetensors",
    "train_state.safetensors",
    "train_state.json",
)
CHECKPOINT_FOLDER = f"a WAM checkpoint folder ({CONFIG} + {WEIGHTS}) from agra-bench train"


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def save_inference(folder: Path, config: WAMConfig, weights: dict[str, torch.Tensor], meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _save_tensors(weights, folder / WEIGHTS)
    atomic_write_bytes(
        folder / CONFIG, json.dumps({"wam": json.loads(config.to_json()), **meta}, indent=2).encode()
    )


def read_config(folder: Path) -> tuple[WAMConfig, dict]:
    """The checkpoint's WAM config and metadata; UsageError naming the file and the problem."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        problem = "does not exist" if not Path(folder).exists() else f"has no {CONFIG}"
        raise UsageError(f"'{folder}' {problem}; valid: {CHECKPOINT_FOLDER}")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"'{path}' is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("wam"), dict):
        raise UsageError(f"'{path}' lacks the 'wam' section (the model configuration)")
    try:
        config = WAMConfig.from_json(json.dumps(meta.pop("wam")))
    except UsageError as exc:
        raise UsageError(f"'{path}': {exc}") from None
    except (TypeError, ValueError) as exc:  # a value of the wrong type
        raise UsageError(f"'{path}' has a malformed WAM config: {exc}") from None
    return config, meta


def load_inference(folder: Path) -> tuple[WAMConfig, dict[str, torch.Tensor], dict]:
    folder = Path(folder)
    config, meta = read_config(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise UsageError(f"'{folder}' has no {WEIGHTS}; valid: {CHECKPOINT_FOLDER}")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error type for truncated or foreign files
        raise UsageError(
            f"'{weights}' is not a readable safetensors file: {str(exc).splitlines()[0]}"
        ) from None
    return config, tensors, meta


def load_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """`model.load_state_dict(tensors)` with a one-line UsageError naming `source` when the
    tensors do not fit the configuration (missing, unexpected or wrongly shaped)."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        if missing or unexpected:
            detail = f"missing tensors {missing[:3]}" if missing else f"unexpected tensors {unexpected[:3]}"
        else:
            got, need = tuple(tensors[wrong[0]].shape), tuple(expected[wrong[0]].shape)
            detail = f"{wrong[0]} has shape {got}, the config needs {need}"
        raise UsageError(f"'{source}' does not fit its {CONFIG}: {detail}")
    model.load_state_dict(tensors)


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars["state"].setdefault(str(index), {})[key] = value
    return tensors, scalars


def optimizer_from_tensors(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], scalars: dict
) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in scalars["state"].items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def export_inference(source: Path, target: Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """Copy a checkpoint's inference pair with its weights cast to `dtype` (bf16 halves the
    size; loading casts back to the model's fp32 parameters): what `results/reference/` commits."""
    config, tensors, meta = load_inference(Path(source))
    cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    save_inference(
        Path(target), config, cast, {**meta, "exported_from": str(source), "weights_dtype": str(dtype)}
    )
    embeddings = Path(source) / EMBEDDINGS_FILE  # evaluation on the training tasks needs no text model
    if embeddings.is_file():
        atomic_write_bytes(Path(target) / EMBEDDINGS_FILE, embeddings.read_bytes())
    return Path(target)


if __name__ == "__main__":  # python -m policies.wam.checkpoint SOURCE TARGET
    import sys

    print(export_inference(Path(sys.argv[1]), Path(sys.argv[2])))
