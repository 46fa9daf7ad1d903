"""The action denoising loop: eager, and replayed as one CUDA graph per input shape.

Why: after the one video pass, a chunk costs `denoise_steps` passes through the small action
decoder (4 blocks over 16 action tokens). On a GPU those passes are bound by Python and kernel
launches, not by arithmetic: on an H200 the `small` WAM spent ~80 ms per batch-50 chunk, of
which the video pass was ~9 ms (bench/wam_speed.py). A CUDA graph records the kernels of the
whole loop once and replays them with no Python in between.

A graph reads and writes fixed buffers, so each call copies its inputs into the buffers of its
shape (batch size, token counts, dtypes) and clones the result out. The noise levels are Python
numbers baked into the graph; a denoiser serves one level schedule. Autocast runs inside the
recorded region with its weight-cast cache off, as graph capture requires. On the CPU (no
graphs) the same call runs the loop eagerly.
"""

from __future__ import annotations

import torch

from policies.wam.model import WorldActionModel


def denoise_actions(
    model: WorldActionModel,
    hidden: list[torch.Tensor | None],
    noise: torch.Tensor,
    text: torch.Tensor,
    proprio: torch.Tensor,
    levels: list[float],
) -> torch.Tensor:
    """Euler integration of the action velocity from level 1 (noise) to 0, reading fixed video
    hidden states: the only part of inference that runs once per denoising step."""
    actions, ones = noise, torch.ones(noise.shape[0], device=noise.device)
    for level, next_level in zip(levels[:-1], levels[1:], strict=True):
        velocity = model.predict_actions(hidden, actions, ones * level, text, proprio).float()
        actions = actions + (next_level - level) * velocity
    return actions


class GraphedDenoiser:
    """`denoise_actions` for one model and level schedule, replayed from CUDA graphs."""

    def __init__(self, model: WorldActionModel, levels: list[float], bf16: bool) -> None:
        self.model, self.levels, self.bf16 = model, list(levels), bf16
        self.reads = sorted(set(model.config.reads))
        self._graphs: dict[tuple, tuple[list[torch.Tensor], torch.Tensor, torch.cuda.CUDAGraph]] = {}

    def _run(self, hidden_read: list[torch.Tensor], noise, text, proprio) -> torch.Tensor:
        hidden: list[torch.Tensor | None] = [None] * (max(self.reads) + 1)
        for layer, tensor in zip(self.reads, hidden_read, strict=True):
            hidden[layer] = tensor
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
            return denoise_actions(self.model, hidden, noise, text, proprio, self.levels)

    def _capture(self, inputs: list[torch.Tensor]):
        static = [t.clone() for t in inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the graph (allocator, cuBLAS handles)
            for _ in range(2):
                self._run(static[:-3], *static[-3:])
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            output = self._run(static[:-3], *static[-3:])
        return static, output, graph

    @torch.no_grad()
    def __call__(self, hidden: list[torch.Tensor], noise, text, proprio) -> torch.Tensor:
        inputs = [hidden[layer] for layer in self.reads] + [noise, text, proprio]
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        if key not in self._graphs:
            self._graphs[key] = self._capture(inputs)
        static, output, graph = self._graphs[key]
        for buffer, value in zip(static, inputs, strict=True):
            buffer.copy_(value)
        graph.replay()
        return output.clone()
