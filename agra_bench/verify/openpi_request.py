"""The request openpi's LIBERO example sends, built from the reference loop's observations with
the real `openpi-client` (its own environment: .venv-openpi, numpy<2). Run as a script:

    .venv-openpi/bin/python agra_bench/verify/openpi_request.py REFERENCE.npz OUT.npz

This file imports nothing of agra-bench (that environment does not have it). Per recorded
(episode, step) it writes `e{k}/s{i}/image`, `.../wrist_image`, `.../state`, `.../prompt`, made
as the example makes its element dict: images already rotated 180 degrees, resized with padding
to 224 and converted to uint8 by openpi-client's image tools; state = eef position, axis-angle
of the eef quaternion (the example's own conversion, written out below), gripper qpos, float64.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from openpi_client import image_tools

RESIZE = 224


def quat_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """The example's conversion (x, y, z, w quaternion): clip w to [-1, 1] in place, then
    2 acos(w) times the unit axis; a zero rotation when sqrt(1 - w^2) is close to 0."""
    if quat[3] > 1.0:
        quat[3] = 1.0
    elif quat[3] < -1.0:
        quat[3] = -1.0
    den = np.sqrt(1.0 - quat[3] * quat[3])
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return (quat[:3] * 2.0 * math.acos(quat[3])) / den


def main(argv: list[str]) -> int:
    reference_path, out = argv
    reference = np.load(reference_path, allow_pickle=False)
    prompt = str(reference["language"])
    prefixes = sorted({key.rsplit("/", 1)[0] for key in reference.files if key.count("/") == 2})
    arrays = {}
    for prefix in prefixes:
        arrays[f"{prefix}/image"] = image_tools.convert_to_uint8(
            image_tools.resize_with_pad(reference[f"{prefix}/agentview"], RESIZE, RESIZE)
        )
        arrays[f"{prefix}/wrist_image"] = image_tools.convert_to_uint8(
            image_tools.resize_with_pad(reference[f"{prefix}/wrist"], RESIZE, RESIZE)
        )
        arrays[f"{prefix}/state"] = np.concatenate(
            (
                reference[f"{prefix}/robot0_eef_pos"],
                quat_to_axis_angle(np.array(reference[f"{prefix}/robot0_eef_quat"])),
                reference[f"{prefix}/robot0_gripper_qpos"],
            )
        )
        arrays[f"{prefix}/prompt"] = np.array(prompt)
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
