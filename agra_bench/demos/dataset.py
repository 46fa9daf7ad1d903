"""Read demonstration files (ours or official LIBERO / robomimic-layout files): one index of
(file, demo, length) over several files, with frames, actions and proprio read by step.

Frames of official LIBERO files are stored bottom-up; they are turned upright so both sources
look like what `agra-bench run` gives a policy. Files are opened lazily per worker process
(h5py handles do not survive fork) and the index is built once from array lengths only.
`load_into_memory` decodes every demo once (uint8 frames, upright) instead of reading and
decompressing HDF5 chunks at every access. The WAM's training windows over these files are
`policies/wam/data.py`.
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
