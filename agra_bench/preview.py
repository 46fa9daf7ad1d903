"""Contact sheet of a task under each perturbation family at several severities.

One env is built once and only its perturbation changes between resets, so every tile shows
the same init state and episode seed: what differs between tiles is the perturbation alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from agra_bench.envs.settings import EnvSettings
from perturbations.spec import parse_spec

SEVERITIES = (1, 3, 5)


def render_gallery(
    suite: str,
    task_id: int,
    spec: str,
    out: Path,
    env_settings: EnvSettings | None = None,
    split: str = "id",
    init_state_id: int = 0,
    seed: int = 0,
) -> list[dict]:
    """Write a PNG grid (rows: families; columns: clean, severities 1/3/5); return tile metadata."""
    env_settings = env_settings or EnvSettings()
    families = [arm.name for arm in parse_spec(spec, 3, split) if arm.name != "none"]
    env = env_settings.make(suite, task_id)
    try:
        env.set_arm(None)
        clean, _ = env.reset(seed=seed, options={"init_state_id": init_state_id})
        rows, meta = [], []
        for family in families:
            tiles = [(clean["agentview_rgb"], "clean")]
            for severity in SEVERITIES:
                env.set_arm(parse_spec(family, severity, split)[0])
                obs, info = env.reset(seed=seed, options={"init_state_id": init_state_id})
                tiles.append((obs["agentview_rgb"], f"{family} s{severity}"))
                meta.append(
                    {
                        "family": family,
                        "severity": severity,
                        "instruction": obs["instruction"],
                        "params": info["perturb_params"],
                    }
                )
            rows.append(tiles)
    finally:
        env.close()
    sheet = compose(rows, env_settings.image_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta


def compose(rows: list[list[tuple[np.ndarray, str]]], size: int) -> Image.Image:
    label_h = 14
    cols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (cols * size, len(rows) * (size + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, row in enumerate(rows):
        for c, (image, label) in enumerate(row):
            x, y = c * size, r * (size + label_h)
            draw.text((x + 3, y + 1), label, fill="black", font=font)
            sheet.paste(Image.fromarray(image), (x, y + label_h))
    return sheet
