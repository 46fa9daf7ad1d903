"""LIBERO's HDF5 demonstration layout: the names, the writer, and a validator.

    data/                       attrs: problem_info, env_args, bddl_file_name, bddl_file_content,
                                       macros_image_convention, num_demos, total, (agra_bench_* provenance)
      demo_<i>/                 attrs: num_samples, init_state, init_state_id, seed, success,
                                       perturbation, perturb_params, complete
        actions      (T, 7)     float64  action taken at step t
        states       (T, S)     float64  flattened MuJoCo state before action t (LIBERO's format)
        rewards      (T,)       uint8    1 where the task is solved after action t
        dones        (T,)       uint8    1 at the last step
        robot_states (T, 9)     float64  gripper qpos (2), eef pos (3), eef quat (4)
        obs/agentview_rgb    (T, H, W, 3) uint8
        obs/eye_in_hand_rgb  (T, H, W, 3) uint8
        obs/ee_states        (T, 6)  eef position and axis-angle
        obs/gripper_states   (T, 2)
        obs/joint_states     (T, 7)
        obs/agentview_seg    (T, H, W) uint8  object index per pixel (0 = background), labels
        obs/eye_in_hand_seg  (T, H, W) uint8  in the demo's `segmentation_labels` (JSON list)

Images written by agra-bench follow the benchmark's convention (rotated 180 degrees, upright),
recorded in `macros_image_convention` as "agra_bench_rot180"; official LIBERO files say
"opengl" (bottom-up) and the reader turns them upright, so one Dataset serves both.
A demo group is marked `complete` only after all its arrays are written: a collection killed
mid-write leaves an incomplete group, which `collect` deletes and redoes on resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from agra_bench.errors import UsageError

OUR_IMAGE_CONVENTION = "agra_bench_rot180"
LOW_DIM = ("actions", "states", "rewards", "dones")
OBS_LOW_DIM = ("ee_states", "gripper_states", "joint_states")
OBS_IMAGES = ("agentview_rgb", "eye_in_hand_rgb")
FILE_ATTRS = ("problem_info", "env_args")
#: Our/LIBERO's observation names and their robomimic equivalents.
IMAGE_ALIASES = {
    "agentview_rgb": ("agentview_rgb", "agentview_image"),
    "eye_in_hand_rgb": ("eye_in_hand_rgb", "robot0_eye_in_hand_image"),
}


def find_obs_key(obs: h5py.Group, name: str) -> str | None:
    """The key under which `obs` stores `name` (LIBERO or robomimic naming), or None."""
    return next((key for key in IMAGE_ALIASES.get(name, (name,)) if key in obs), None)


def write_demo(data: h5py.Group, name: str, arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    """Write one demo group (arrays named as in the layout; obs arrays under 'obs/...')."""
    if name in data:
        del data[name]
    group = data.create_group(name)
    for key, value in arrays.items():
        kwargs = {"compression": "gzip", "compression_opts": 4} if value.ndim == 4 else {}
        group.create_dataset(key, data=value, **kwargs)
    group.attrs["num_samples"] = len(arrays["actions"])
    for key, value in attrs.items():
        group.attrs[key] = value
    group.attrs["complete"] = True


def write_images(demo: h5py.Group, images: dict[str, np.ndarray]) -> None:
    for key, value in images.items():
        path = f"obs/{key}"
        if path in demo:
            del demo[path]
        demo.create_dataset(
            path, data=value, compression="gzip", compression_opts=4, chunks=(1, *value.shape[1:])
        )


def demo_names(data: h5py.Group) -> list[str]:
    """Demo groups in numeric order (demo_2 before demo_10)."""
    names = [n for n in data if n.startswith("demo_")]
    return sorted(names, key=lambda n: int(n.split("_")[1]) if n.split("_")[1].isdigit() else 1 << 30)


def validate_file(path: Path, need_images: bool = True) -> h5py.File:
    """Open a demonstration file; UsageError (one line) naming the file and what is missing."""
    path = Path(path)
    if not path.exists():
        raise UsageError(
            f"no such demonstration file '{path}'; "
            "valid: an HDF5 file or a folder of them from agra-bench collect"
        )
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise UsageError(f"'{path}' is not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    problem = _layout_problem(handle, need_images)
    if problem:
        handle.close()
        raise UsageError(f"'{path}' is not in LIBERO's demonstration layout: {problem}")
    return handle


def _layout_problem(handle: h5py.File, need_images: bool) -> str:
    if "data" not in handle:
        return "missing group 'data'"
    data = handle["data"]
    names = demo_names(data)
    if not names:
        return "group 'data' holds no 'demo_<i>' group"
    required = [*("actions", "obs")]
    required_obs = list(OBS_IMAGES[:1]) if need_images else []
    for name in names:
        demo = data[name]
        for key in required:
            if key not in demo:
                return f"missing '{key}' in 'data/{name}'"
        for key in required_obs:
            if find_obs_key(demo["obs"], key) is None:
                return f"missing 'obs/{key}' (or {IMAGE_ALIASES[key][1]}) in 'data/{name}'"
        if demo["actions"].ndim != 2 or demo["actions"].shape[1] != 7:
            return f"'data/{name}/actions' has shape {demo['actions'].shape}, expected (T, 7)"
    return ""


def instruction_of(data: h5py.Group) -> str:
    """The language instruction from LIBERO's `problem_info` attribute ('' if absent)."""
    raw = data.attrs.get("problem_info")
    if raw is None:
        return ""
    return str(json.loads(raw).get("language_instruction", "")).strip()


def task_of(data: h5py.Group) -> tuple[str, str]:
    """(suite, task name) from LIBERO's `problem_info` attribute (`domain_name`, `problem_name`);
    empty strings when absent."""
    raw = data.attrs.get("problem_info")
    info = json.loads(raw) if raw is not None else {}
    return str(info.get("domain_name", "")), str(info.get("problem_name", ""))


def is_upside_down(data: h5py.Group) -> bool:
    """Official LIBERO files store OpenGL (bottom-up) frames; ours are upright."""
    return str(data.attrs.get("macros_image_convention", "opengl")) != OUR_IMAGE_CONVENTION
