"""`wam` and `agra` as benchmark policies: batched, chunked inference from a checkpoint.

One `act` call serves every env slot of a control step at once: one video-model pass at
s_v = 1 gives the hidden states, then the action decoder alone runs `denoise_steps` Euler
steps of diffusers' FlowMatchEulerDiscreteScheduler. Each slot keeps its own frame history
(for To > 1) and its own noise generator seeded at reset, so an episode's actions do not
depend on which other episodes share its batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from agra_bench.errors import UsageError
from policies.base import Policy, PolicySpec
from policies.registry import register_policy
from policies.wam.checkpoint import WEIGHTS, load_inference, load_weights, read_config
from policies.wam.config import WAMConfig, policy_of
from policies.wam.defaults import missing_checkpoint
from policies.wam.denoise import GraphedDenoiser, denoise_actions
from policies.wam.losses import model_proprio, to_model_frames
from policies.wam.model import WorldActionModel
from policies.wam.normalize import denormalize
from policies.wam.precision import autocast, resolve_precision
from policies.wam.text import EMBEDDINGS_FILE, TextEncoder, load_embeddings


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_horizon(horizon: int, config: WAMConfig) -> int:
    if not 1 <= horizon <= config.chunk:
        raise UsageError(
            f"bad --replan-steps {horizon}; valid: 1-{config.chunk} (the checkpoint's chunk length)"
        )
    if config.context_frames > 1 and horizon != config.execute_horizon:
        raise UsageError(
            f"bad --replan-steps {horizon}; valid: {config.execute_horizon} (this checkpoint sees "
            f"{config.context_frames} frames, one per call, trained {config.execute_horizon} steps apart)"
        )
    return horizon


@dataclass(frozen=True)
class ModelInputs:
    """What one `act` call fed the model, in model space (B first): enough to rerun its video
    pass and its action denoising exactly."""

    context: torch.Tensor  # (B, To [+1 wrist], 3, H, W) in [-1, 1]
    noise_future: torch.Tensor  # (B, K, 3, H, W): the future frames' noise (video level 1)
    text: torch.Tensor  # (B, 384)
    proprio: torch.Tensor  # (B, 8), normalised
    action_noise: torch.Tensor  # (B, Ta, 7): the initial action noise


class WAMPolicy(Policy):
    """Base of `wam` and `agra`; the name must match the checkpoint's alignment weight."""

    def __init__(
        self,
        checkpoint: str | None = None,
        device: str | None = None,
        denoise_steps: int | None = None,
        execute_horizon: int | None = None,
        precision: str = "auto",
        replan_steps: int | None = None,
        cuda_graphs: bool = True,
    ) -> None:
        """`replan_steps` (`agra-bench run --replan-steps N`): actions executed per call, in
        1..chunk; it overrides the checkpoint's execute horizon (more closed-loop when smaller).
        `cuda_graphs`: on a CUDA device, replay the denoising loop from CUDA graphs (denoise.py)."""
        if not checkpoint:
            raise missing_checkpoint(self.name)
        config, weights, meta = load_inference(Path(checkpoint))
        check_name(self.name, config, checkpoint)
        self.config = config
        self.device = torch.device(device or default_device())
        self.precision = resolve_precision(precision, self.device)
        self.model = WorldActionModel(config).to(self.device).eval()
        load_weights(self.model, weights, Path(checkpoint) / WEIGHTS)
        self.steps = denoise_steps or config.denoise_steps
        self.levels = flow_levels(self.steps)
        horizon = check_horizon(replan_steps or execute_horizon or config.execute_horizon, config)
        self.spec = PolicySpec(chunk_length=config.chunk, execute_horizon=horizon)
        self.cuda_graphs = bool(cuda_graphs and self.device.type == "cuda")
        self.denoise = (
            GraphedDenoiser(self.model, self.levels, bf16=self.precision == "bf16")
            if self.cuda_graphs
            else partial(denoise_actions, self.model, levels=self.levels)
        )
        self.text = TextEncoder(str(self.device), load_embeddings(Path(checkpoint) / EMBEDDINGS_FILE))
        self.meta = meta
        self._history: dict[int, deque] = {}
        self._generators: dict[int, torch.Generator] = {}

    @classmethod
    def manifest_entry(cls, checkpoint: str | None = None, **options) -> dict:
        """Read the checkpoint's config only: the weights load once, in the workers."""
        import json

        if not checkpoint:
            raise missing_checkpoint(cls.name)
        config, meta = read_config(Path(checkpoint))
        check_name(cls.name, config, checkpoint)
        horizon = check_horizon(options.get("replan_steps") or config.execute_horizon, config)
        return {
            "name": cls.name,
            "chunk_length": config.chunk,
            "execute_horizon": horizon,
            "config": json.loads(config.to_json()),
            "train_step": meta.get("step"),
            "train_seed": meta.get("settings", {}).get("seed"),  # pairs wam and agra runs in reports
            "data_sha256": meta.get("data_sha256"),  # reports note a pair trained on different data
            # what the workers will resolve (same machine, same device): reports note a mix
            "precision": resolve_precision(
                options.get("precision", "auto"), options.get("device") or default_device()
            ),
        }

    def reset(self, slot: int, seed: int) -> None:
        self._history[slot] = deque(maxlen=self.config.context_frames)
        self._generators[slot] = torch.Generator().manual_seed(int(seed))

    def act(self, obs: dict, slots: Sequence[int]) -> np.ndarray:
        return self.act_with_inputs(obs, slots)[0]

    @torch.no_grad()
    def act_with_inputs(self, obs: dict, slots: Sequence[int]) -> tuple[np.ndarray, ModelInputs]:
        """`act`, and the model inputs it built (the diagnostics interface: `agra-bench
        diagnose` replays the video pass from them with interventions)."""
        c, device = self.config, self.device
        frames = (
            torch.from_numpy(np.ascontiguousarray(obs["agentview_rgb"])).permute(0, 3, 1, 2).float() / 255
        )
        context = []
        for i, slot in enumerate(slots):
            history = self._history[slot]
            history.append(frames[i])
            while len(history) < c.context_frames:
                history.appendleft(frames[i])
            context.append(torch.stack(list(history)))
        context = torch.stack(context)  # (B, To, 3, H, W)
        if c.use_wrist:
            wrist = torch.from_numpy(np.ascontiguousarray(obs["wrist_rgb"])).permute(0, 3, 1, 2).float() / 255
            context = torch.cat([context, wrist[:, None]], dim=1)
        context = to_model_frames(context, c.image_size).to(device)
        proprio = model_proprio(
            torch.as_tensor(np.asarray(obs["proprio"]), dtype=torch.float32, device=device), c
        )
        text = self.text.encode(list(obs["instruction"]))
        b = context.shape[0]
        noise_future = torch.stack(
            [
                torch.randn((c.future_frames, 3, c.image_size, c.image_size), generator=self._generators[s])
                for s in slots
            ]
        ).to(device)
        initial_noise = torch.stack([torch.randn((c.chunk, 7), generator=self._generators[s]) for s in slots])
        actions = initial_noise = initial_noise.to(device)
        with autocast(self.precision, self.device):
            hidden = self.model.run_video(
                self.model.video_tokens(context, noise_future, torch.ones(b, device=device), text, proprio)
            )
            actions = self.denoise(hidden, actions, text, proprio)
        inputs = ModelInputs(context, noise_future, text, proprio, initial_noise)
        actions = denormalize(actions.clamp(-1, 1), c.action_center, c.action_scale)
        return actions.clamp(-1, 1).cpu().numpy().astype(np.float32), inputs

    def describe(self) -> dict:
        return {
            **super().describe(),
            "config": self.config.preset,
            "align_weight": self.config.align_weight,
            "teacher": self.config.teacher if self.config.align_weight > 0 else None,
            "denoise_steps": self.steps,
            "device": str(self.device),
            "precision": self.precision,
            "cuda_graphs": self.cuda_graphs,
            "train_step": self.meta.get("step"),
            "train_seed": self.meta.get("settings", {}).get("seed"),
        }


def flow_levels(steps: int) -> list[float]:
    """Noise levels 1 -> 0 of diffusers' FlowMatchEulerDiscreteScheduler for `steps` steps."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler()
    scheduler.set_timesteps(steps)
    return [float(s) for s in scheduler.sigmas]


def check_name(name: str, config: WAMConfig, checkpoint: str) -> None:
    """`--policy agra` must load an aligned checkpoint and `--policy wam` a plain one."""
    trained = policy_of(config)
    if name != trained:
        how = "with alignment (an 'agra')" if trained == "agra" else "without alignment (a 'wam')"
        raise UsageError(f"checkpoint '{checkpoint}' was trained {how}; use --policy {trained}")


@register_policy("wam")
class WAM(WAMPolicy):
    name = "wam"


@register_policy("agra")
class AGRA(WAMPolicy):
    name = "agra"
