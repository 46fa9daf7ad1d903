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

CONFIG, WEIGHTS, STATE_TENSORS, STATE_JSON = (
    "config.json",
    "model.safetensors",
    "train_state.safetensors",
    "train_state.json",
)


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


def load_inference(folder: Path) -> tuple[WAMConfig, dict[str, torch.Tensor], dict]:
    folder = Path(folder)
    if not (folder / CONFIG).exists() or not (folder / WEIGHTS).exists():
        raise UsageError(
            f"'{folder}' is not a WAM checkpoint (needs {CONFIG} and {WEIGHTS}); "
            "train one with agra-bench train"
        )
    meta = json.loads((folder / CONFIG).read_text())
    config = WAMConfig.from_json(json.dumps(meta.pop("wam")))
    return config, load_file(str(folder / WEIGHTS)), meta


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
