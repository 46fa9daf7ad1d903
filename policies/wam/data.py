"""The WAM's training windows over demonstration files (`agra_bench.demos.dataset.DemoFiles`).

A window is what the WAM learns from at one time step t of a demo:

    context   (To, 3, H, W) float32 in [0, 1]   agentview frames t-(To-1)c .. t-c, t (first frame repeated)
    wrist     (1, 3, H, W)  float32             the eye-in-hand frame at t
    future    (K, 3, H, W)  float32             agentview frames t+s, t+2s, .. t+K*s (last frame repeated)
    actions   (Ta, 7)       float32             actions t .. t+Ta-1 (the last action repeated, gripper kept)
    proprio   (8,)          float32             eef position (3), axis-angle (3), gripper (2) at t
    instruction str, task_index int, demo str, t int

The context frames are c = `context_stride` steps apart, the policy's execute horizon: at run
time the policy sees a frame only when it is called, once per executed chunk (policy.py), so
a model trained on consecutive frames would meet at run time a history it never saw.

Frames of official LIBERO files are stored bottom-up; they are turned upright so both sources
look like what `agra-bench run` gives a policy. Files are opened lazily per worker process
(h5py handles do not survive fork) and the index is built once from array lengths only.

`cache=True` (what `agra-bench train` uses) decodes every demo's frames, actions and proprio
once into memory (uint8 frames, upright) instead of reading and decompressing HDF5 chunks for
every window at every step: a window then costs a few numpy slices. The cached and uncached
paths return identical items (a test checks it). 64x64 frames of 100 demos of ~150 steps with
two cameras take ~370 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agra_bench.demos.dataset import DemoFiles
from agra_bench.errors import UsageError
from policies.wam.config import WAMConfig


@dataclass(frozen=True)
class WindowSpec:
    context: int = 1  # To
    future: int = 2  # K
    future_stride: int = 4  # s: steps between predicted frames
    chunk: int = 8  # Ta
    context_stride: int = 1  # c: steps between context frames

    @classmethod
    def of(cls, config: WAMConfig) -> WindowSpec:
        """The windows a WAM config trains on: its context frames one policy call apart."""
        return cls(
            config.context_frames,
            config.future_frames,
            config.future_stride,
            config.chunk,
            config.execute_horizon,
        )

    def __post_init__(self) -> None:
        for name in ("context", "future", "future_stride", "chunk", "context_stride"):
            if getattr(self, name) < 1:
                raise UsageError(f"bad window {name}={getattr(self, name)}; must be >= 1")


def image_keys(wrist: bool) -> tuple[str, ...]:
    """The frame keys a window reads: the agent view, and the wrist camera when the model uses it."""
    return ("agentview_rgb", "eye_in_hand_rgb") if wrist else ("agentview_rgb",)


class WindowDataset:
    """torch Dataset of training windows over every step of every demo."""

    def __init__(
        self,
        paths: list[Path],
        spec: WindowSpec | None = None,
        wrist: bool = True,
        teacher_features=None,
        cache: bool = False,
    ) -> None:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UsageError(
                "the WAM dataset needs torch; install it with: pip install -e '.[wam]'"
            ) from None
        self.files = DemoFiles(paths)
        self.spec = spec or WindowSpec()
        self.wrist = wrist
        # Optional `policies.wam.teacher_cache.TeacherFeatures`: adds teacher_context (slots of
        # `context` then the wrist slot) and teacher_future, each (n, C, g, g), to every item.
        self.teacher_features = teacher_features
        self.index = [(d, t) for d, ref in enumerate(self.files.demos) for t in range(ref.length)]
        self.task_names = sorted(set(self.files.instructions))
        self.image_keys = image_keys(wrist)
        self.cached_bytes = self.files.load_into_memory(self.image_keys) if cache else 0

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        import torch

        d, t = self.index[i]
        ref, s = self.files.demos[d], self.spec
        last = ref.length - 1
        context = np.clip(t - s.context_stride * np.arange(s.context - 1, -1, -1), 0, last)
        future = np.clip(t + s.future_stride * np.arange(1, s.future + 1), 0, last)
        chunk = np.clip(np.arange(t, t + s.chunk), 0, last)

        def images(key: str, steps: np.ndarray) -> torch.Tensor:
            frames = np.ascontiguousarray(self.files.frames(ref, key, steps))
            return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)

        instruction = self.files.instructions[ref.file_index] or str(
            self.files.group(ref).attrs.get("instruction", "")
        )
        item = {
            "context": images("agentview_rgb", context),
            "future": images("agentview_rgb", future),
            "actions": torch.from_numpy(self.files.actions(ref, chunk)),
            "proprio": torch.from_numpy(self.files.proprio(ref, t)),
            "instruction": instruction,
            "task_index": self.task_names.index(instruction) if instruction in self.task_names else -1,
            "demo": f"{self.files.paths[ref.file_index].name}:{ref.demo}",
            "t": t,
        }
        if self.wrist:
            item["wrist"] = images("eye_in_hand_rgb", context[-1:])
        if self.teacher_features is not None:
            read = self.teacher_features.read
            parts = [read(ref.file_index, ref.demo, "agentview", context)]
            if self.wrist:
                parts.append(read(ref.file_index, ref.demo, "eye_in_hand", context[-1:]))
            item["teacher_context"] = torch.cat(parts)
            item["teacher_future"] = read(ref.file_index, ref.demo, "agentview", future)
        return item
