"""Our observations <-> openpi's LIBERO request, both directions.

openpi's LIBERO client (examples/libero/main.py, matched against openpi-client 0.1.2) sends

    observation/image        uint8 (224, 224, 3)   agentview, rendered at 256, rotated 180 deg,
    observation/wrist_image  uint8 (224, 224, 3)   eye-in-hand, same   resized with zero padding
    observation/state        float64 (8,)          eef position, axis-angle, gripper qpos (2)
    prompt                   str                   the task's instruction

Our frames are already rotated 180 degrees (the benchmark's image convention, recorded in every
manifest), so they only need the resize-with-padding; `observation/state` is our `proprio`
(float64, as the example sends it). To match openpi's own numbers, run with `--image-size 256`
(openpi renders at 256 and resizes); `agra-bench verify-protocol` checks the request.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

IMAGE, WRIST, STATE, PROMPT = "observation/image", "observation/wrist_image", "observation/state", "prompt"
#: A request key openpi clients never send: ask an agra-bench server to start a new episode.
RESET_KEY = "agra_bench/reset_seed"


def resize_with_pad(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3): scale to fit keeping the aspect ratio (bilinear), then
    centre on zeros; an image of the right size is returned unchanged (tf.image.resize_with_pad's
    behaviour, as openpi's image tools implement it)."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    ratio = max(width / size, height / size)
    new_w, new_h = int(width / ratio), int(height / ratio)
    resized = Image.fromarray(image).resize((new_w, new_h), resample=Image.BILINEAR)
    canvas = Image.new(resized.mode, (size, size), 0)
    canvas.paste(resized, (max(0, (size - new_w) // 2), max(0, (size - new_h) // 2)))
    return np.asarray(canvas)


def to_request(obs: dict, index: int, image_size: int) -> dict:
    """The openpi request for env `index` of a batched observation (keys the policy was given)."""
    request = {}
    if "agentview_rgb" in obs:
        request[IMAGE] = resize_with_pad(np.asarray(obs["agentview_rgb"][index]), image_size)
    if "wrist_rgb" in obs:
        request[WRIST] = resize_with_pad(np.asarray(obs["wrist_rgb"][index]), image_size)
    if "proprio" in obs:
        request[STATE] = np.asarray(obs["proprio"][index], dtype=np.float64)
    if "instruction" in obs:
        request[PROMPT] = str(obs["instruction"][index])
    return request


def from_request(request: dict) -> dict:
    """A batch-of-one observation in our keys from an openpi request (absent keys stay absent)."""
    if not isinstance(request, dict):
        raise ValueError(f"a request must be a map, got {type(request).__name__}")
    obs: dict = {}
    for ours, theirs in (("agentview_rgb", IMAGE), ("wrist_rgb", WRIST)):
        if theirs in request:
            image = np.asarray(request[theirs])
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
                raise ValueError(f"{theirs} must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
            obs[ours] = image[None]
    if STATE in request:
        state = np.asarray(request[STATE], dtype=np.float64).reshape(-1)  # as our env gives proprio
        if state.shape != (8,):
            raise ValueError(f"{STATE} must hold 8 values, got {state.shape}")
        obs["proprio"] = state[None]
    if PROMPT in request:
        obs["instruction"] = [str(request[PROMPT])]
    return obs
