"""Read demonstrations (ours or official LIBERO / robomimic-layout files) as training windows.

A window is what the WAM learns from at one time step t of a demo:

    context   (To, 3, H, W) float32 in [0, 1]   agentview frames t-To+1 .. t (first frame repeated)
    wrist     (To, 3, H, W) float32             eye-in-hand frames, same steps
    future    (K, 3, H, W)  float32             agentview frames t+s, t+2s, .. t+K*s (last frame repeated)
    actions   (Ta, 7)       float32             actions t .. t+Ta-1 (the last action repeated, gripper kept)
    proprio   (8,)          float32             eef position (3), axis-angle (3), gripper (2) at t
    instruction str, task_index int, demo str, t int

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

import hashlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from agra_bench.demos.layout import (
    demo_names,
    find_obs_key,
    instruction_of,
    is_upside_down,
    task_of,
    validate_file,
)
from agra_bench.errors import UsageError


@dataclass(frozen=True)
class WindowSpec:
    context: int = 1  # To
    future: int = 2  # K
    future_stride: int = 4  # s: steps between predicted frames
    chunk: int = 8  # Ta

    def __post_init__(self) -> None:
        for name in ("context", "future", "future_stride", "chunk"):
            if getattr(self, name) < 1:
                raise UsageError(f"bad window {name}={getattr(self, name)}; must be >= 1")


@dataclass(frozen=True)
class DemoRef:
    file_index: int
    demo: str
    length: int


def demo_file_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and every `*.hdf5` inside a folder (sorted): `--data data/libero_object`."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.hdf5"))
            if not found:
                raise UsageError(
                    f"folder '{path}' holds no .hdf5 demonstration file; "
                    "valid: an HDF5 file or a folder of them from agra-bench collect"
                )
            files += found
        else:
            files.append(path)
    return files


def take(dataset: h5py.Dataset, steps: np.ndarray) -> np.ndarray:
    """dataset[steps] for steps that may repeat (h5py wants unique increasing indices)."""
    unique, inverse = np.unique(steps, return_inverse=True)
    return dataset[unique][inverse]


class DemoFiles:
    """Several demonstration files behind one index of (file, demo, length)."""

    def __init__(self, paths: list[Path]) -> None:
        if not paths:
            raise UsageError("no demonstration files given")
        self.paths = [Path(p) for p in paths]
        self.instructions: list[str] = []
        self.tasks: list[tuple[str, str]] = []  # (suite, task name) of each file
        self.upside_down: list[bool] = []
        self.demos: list[DemoRef] = []
        for index, path in enumerate(self.paths):
            with validate_file(path) as handle:
                data = handle["data"]
                self.instructions.append(instruction_of(data))
                self.tasks.append(task_of(data))
                self.upside_down.append(is_upside_down(data))
                for name in demo_names(data):
                    self.demos.append(DemoRef(index, name, int(data[name]["actions"].shape[0])))
        self._handles: dict[int, h5py.File] = {}
        self._pid = None
        self._memory: dict[tuple[int, str, str], np.ndarray] = {}

    def load_into_memory(self, image_keys: tuple[str, ...]) -> int:
        """Decode every demo's `image_keys` frames, actions and proprio once; returns bytes held."""
        for ref in self.demos:
            steps = np.arange(ref.length)
            for key in image_keys:
                self._memory[(ref.file_index, ref.demo, key)] = np.ascontiguousarray(
                    self.frames(ref, key, steps)
                )
            self._memory[(ref.file_index, ref.demo, "actions")] = self.actions(ref, steps)
            self._memory[(ref.file_index, ref.demo, "proprio")] = self.all_proprio(ref)
        return sum(array.nbytes for array in self._memory.values())

    def digest(self, image_keys: tuple[str, ...]) -> str:
        """sha256 of every demo's name, `image_keys` frames, actions and proprio, in index order.

        Two trainings with the same digest saw the same demonstrations, even when the files were
        collected again in another session (their paths and HDF5 bytes differ, their arrays do
        not): that is how `wam` and `agra` of one seed, trained sessions apart, can be shown to
        share their data."""
        sha = hashlib.sha256()
        for ref in self.demos:
            steps = np.arange(ref.length)
            sha.update(f"{ref.demo}:{ref.length}".encode())
            for key in image_keys:
                sha.update(np.ascontiguousarray(self.frames(ref, key, steps)).data)
            sha.update(np.ascontiguousarray(self.actions(ref, steps)).data)
            sha.update(np.ascontiguousarray(self.demo_proprio(ref)).data)
        return sha.hexdigest()

    def group(self, ref: DemoRef) -> h5py.Group:
        import os

        if self._pid != os.getpid():  # a DataLoader worker: open our own handles
            self._handles, self._pid = {}, os.getpid()
        if ref.file_index not in self._handles:
            self._handles[ref.file_index] = h5py.File(self.paths[ref.file_index], "r")
        return self._handles[ref.file_index]["data"][ref.demo]

    def frames(self, ref: DemoRef, key: str, steps: np.ndarray) -> np.ndarray:
        """(len(steps), H, W, 3) uint8, upright."""
        cached = self._memory.get((ref.file_index, ref.demo, key))
        if cached is not None:
            return cached[steps]
        obs = self.group(ref)["obs"]
        images = take(obs[find_obs_key(obs, key) or key], steps)
        return images[:, ::-1, ::-1] if self.upside_down[ref.file_index] else images

    def actions(self, ref: DemoRef, steps: np.ndarray) -> np.ndarray:
        """(len(steps), 7) float32."""
        cached = self._memory.get((ref.file_index, ref.demo, "actions"))
        if cached is not None:
            return cached[steps]
        return take(self.group(ref)["actions"], steps).astype(np.float32)

    def proprio(self, ref: DemoRef, t: int) -> np.ndarray:
        """(8,) float32 at step t."""
        return self.demo_proprio(ref)[t]

    def demo_proprio(self, ref: DemoRef) -> np.ndarray:
        """(T, 8) float32 of every step: the cached array, or read from the file."""
        cached = self._memory.get((ref.file_index, ref.demo, "proprio"))
        return cached if cached is not None else self.all_proprio(ref)

    def all_proprio(self, ref: DemoRef) -> np.ndarray:
        """(T, 8) float32: eef position (3), axis-angle (3), gripper (2) at every step."""
        obs = self.group(ref)["obs"]
        if "ee_states" in obs and "gripper_states" in obs:
            return np.concatenate([obs["ee_states"][:, :6], obs["gripper_states"][:, :2]], axis=1).astype(
                np.float32
            )
        if {"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"} <= set(obs):  # robomimic names
            from scipy.spatial.transform import Rotation

            rotvec = Rotation.from_quat(obs["robot0_eef_quat"][:]).as_rotvec()  # robosuite stores xyzw
            return np.concatenate(
                [obs["robot0_eef_pos"][:], rotvec, obs["robot0_gripper_qpos"][:, :2]], axis=1
            ).astype(np.float32)
        return np.zeros((ref.length, 8), np.float32)  # files without proprio (rare): the WAM sees zeros


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
        context = np.clip(np.arange(t - s.context + 1, t + 1), 0, last)
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
            item["wrist"] = images("eye_in_hand_rgb", context)
        if self.teacher_features is not None:
            read = self.teacher_features.read
            parts = [read(ref.file_index, ref.demo, "agentview", context)]
            if self.wrist:
                parts.append(read(ref.file_index, ref.demo, "eye_in_hand", context[-1:]))
            item["teacher_context"] = torch.cat(parts)
            item["teacher_future"] = read(ref.file_index, ref.demo, "agentview", future)
        return item
