"""The World Action Model: a joint video + action flow-matching transformer on diffusers parts.

Shapes (B batch, To context frames, K future frames, Ta actions, P = (H/p)^2 patches per frame):

    context  (B, To, 3, H, W)  in [-1, 1]   clean past agentview frames (+ wrist frame as one more slot)
    future   (B, K, 3, H, W)   in [-1, 1]   clean future frames (training target)
    actions  (B, Ta, 7)        in [-1, 1]   action chunk (training target)
    proprio  (B, 8), text (B, 384)

Video model: every frame is patchified (`PatchEmbed`, sin-cos positions) and tagged with a
learned frame-slot embedding; future-frame tokens also get the embedding of their noise level
(`Timesteps` + `TimestepEmbedding`). A text token and a proprio token lead the sequence.
`depth` `BasicTransformerBlock`s self-attend over it; every layer's hidden states are kept.

Action decoder: Ta action tokens (noisy actions, position, action noise level, text and
proprio) pass `action_depth` blocks; block j self-attends among actions and cross-attends to
the frame tokens of video layer `reads[j]` (several layers spread over depth, as in the paper).

Noise scheme (flow matching, x_s = (1 - s) x + s * noise, target velocity noise - x):
- video level s_v per sample: logit-normal (or uniform); with probability `p_video_pure_noise`
  it is 1: the future frames are pure noise, which is exactly the inference regime;
- action level s_a per sample: uniform, independent of s_v.
At run time one video pass at s_v = 1 gives the hidden states, which are cached, and only the
small action decoder runs `denoise_steps` times (FlowMatchEuler), so acting costs about
1 + steps * (action_depth / depth) video-model passes, not steps full passes.
"""

from __future__ import annotations

import torch
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.embeddings import PatchEmbed, TimestepEmbedding, Timesteps
from torch import nn

from policies.wam.config import WAMConfig

ACTION_DIM, PROPRIO_DIM = 7, 8


class NoiseLevelEmbedding(nn.Module):
    """Noise level s in [0, 1] -> width-d vector (sinusoidal on 1000 s, then an MLP)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.project = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.embed = TimestepEmbedding(256, width)

    def forward(self, level: torch.Tensor) -> torch.Tensor:
        return self.embed(self.project(level * 1000).to(self.embed.linear_1.weight.dtype))


class WorldActionModel(nn.Module):
    def __init__(self, config: WAMConfig) -> None:
        super().__init__()
        self.config = c = config
        head_dim = c.width // c.heads
        self.patch = PatchEmbed(c.image_size, c.image_size, c.patch_size, 3, c.width, pos_embed_type="sincos")
        self.slots = c.context_slots + c.future_frames
        self.slot_embed = nn.Parameter(torch.zeros(self.slots, c.width))
        self.text_in = nn.Linear(c.text_dim, c.width)
        self.proprio_in = nn.Linear(PROPRIO_DIM, c.width)
        self.video_level = NoiseLevelEmbedding(c.width)
        self.video_blocks = nn.ModuleList(
            BasicTransformerBlock(c.width, c.heads, head_dim, activation_fn="gelu-approximate")
            for _ in range(c.depth)
        )
        self.video_out = nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, c.patch_size**2 * 3))
        self.action_in = nn.Linear(ACTION_DIM, c.width)
        self.action_pos = nn.Parameter(torch.zeros(c.chunk, c.width))
        self.action_level = NoiseLevelEmbedding(c.width)
        self.action_blocks = nn.ModuleList(
            BasicTransformerBlock(
                c.width, c.heads, head_dim, cross_attention_dim=c.width, activation_fn="gelu-approximate"
            )
            for _ in range(c.action_depth)
        )
        self.action_out = nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, ACTION_DIM))
        nn.init.normal_(self.slot_embed, std=0.02)
        nn.init.normal_(self.action_pos, std=0.02)
        for head in (self.video_out[-1], self.action_out[-1]):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    # --- video -----------------------------------------------------------------------------
    def video_tokens(
        self,
        context: torch.Tensor,
        noisy_future: torch.Tensor,
        video_level: torch.Tensor,
        text: torch.Tensor,
        proprio: torch.Tensor,
    ) -> torch.Tensor:
        """(B, 2 + slots * P, width): [text, proprio, context slots..., future frames...]."""
        b = context.shape[0]
        frames = torch.cat([context, noisy_future], dim=1)  # (B, slots, 3, H, W)
        tokens = self.patch(frames.flatten(0, 1)).unflatten(0, (b, self.slots))  # (B, slots, P, width)
        tokens = tokens + self.slot_embed[None, :, None, :]
        future_level = self.video_level(video_level)[:, None, None, :]  # (B, 1, 1, width)
        n_ctx = self.config.context_slots
        tokens = torch.cat([tokens[:, :n_ctx], tokens[:, n_ctx:] + future_level], dim=1)
        cond = torch.stack([self.text_in(text), self.proprio_in(proprio)], dim=1)
        return torch.cat([cond, tokens.flatten(1, 2)], dim=1)

    def run_video(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Hidden states after every video block (list of depth tensors, each (B, N, width))."""
        hidden = []
        for block in self.video_blocks:
            tokens = block(tokens)
            hidden.append(tokens)
        return hidden

    def frame_tokens(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, slots, P, width): the frame tokens of one layer's hidden states (cond tokens dropped)."""
        return hidden[:, 2:].unflatten(1, (self.slots, self.config.tokens_per_frame))

    def predict_future(self, hidden: torch.Tensor) -> torch.Tensor:
        """Velocity of the future frames, (B, K, 3, H, W)."""
        c = self.config
        future = self.frame_tokens(hidden)[:, c.context_slots :]  # (B, K, P, width)
        patches = self.video_out(future)  # (B, K, P, p*p*3)
        g = c.image_size // c.patch_size
        patches = patches.unflatten(2, (g, g)).unflatten(-1, (c.patch_size, c.patch_size, 3))
        return patches.permute(0, 1, 6, 2, 4, 3, 5).reshape(*future.shape[:2], 3, c.image_size, c.image_size)

    # --- actions ---------------------------------------------------------------------------
    def predict_actions(
        self,
        hidden: list[torch.Tensor],
        noisy_actions: torch.Tensor,
        action_level: torch.Tensor,
        text: torch.Tensor,
        proprio: torch.Tensor,
    ) -> torch.Tensor:
        """Velocity of the action chunk, (B, Ta, 7), reading the video layers `config.reads`."""
        cond = self.text_in(text) + self.proprio_in(proprio) + self.action_level(action_level)
        tokens = self.action_in(noisy_actions) + self.action_pos[None] + cond[:, None, :]
        for block, layer in zip(self.action_blocks, self.config.reads, strict=True):
            memory = self.frame_tokens(hidden[layer]).flatten(1, 2)  # image tokens only
            tokens = block(tokens, encoder_hidden_states=memory)
        return self.action_out(tokens)

    def forward(self, context, noisy_future, video_level, noisy_actions, action_level, text, proprio) -> dict:
        hidden = self.run_video(self.video_tokens(context, noisy_future, video_level, text, proprio))
        return {
            "hidden": hidden,
            "future_velocity": self.predict_future(hidden[-1]),
            "action_velocity": self.predict_actions(hidden, noisy_actions, action_level, text, proprio),
        }


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
