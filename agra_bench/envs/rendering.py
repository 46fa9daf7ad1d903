"""Render quality settings for robosuite's offscreen MuJoCo context.

robosuite rebuilds the model and its render context on every hard reset, which silently
drops any change to the model's visual options; so these settings are re-applied after
every reset. The chosen mode is recorded in the run manifest because it changes pixels.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import mujoco

from agra_bench.errors import unknown


@dataclass(frozen=True)
class RenderQuality:
    """msaa_samples: offscreen multisampling (LIBERO default 4); shadows/reflections: scene flags;
    fit_buffer: shrink the offscreen buffer (default 640x480) to the image size."""

    name: str
    msaa_samples: int | None
    fit_buffer: bool
    shadows: bool
    reflections: bool
    description: str


RENDER_QUALITIES: dict[str, RenderQuality] = {
    q.name: q
    for q in (
        RenderQuality("standard", None, False, True, True, "LIBERO's own settings (4x MSAA, 640x480 buffer)"),
        RenderQuality("tuned", 0, True, True, True, "MSAA off, buffer sized to the image; shadows kept"),
        RenderQuality("fast", 0, True, False, False, "MSAA, shadows and reflections off (images differ)"),
    )
}


def get_render_quality(name: str) -> RenderQuality:
    if name not in RENDER_QUALITIES:
        raise unknown("render quality", name, RENDER_QUALITIES)
    return RENDER_QUALITIES[name]


def write_quality_to_xml(root: ET.Element, quality: RenderQuality, width: int, height: int) -> None:
    """Write the quality settings into the scene's <visual> element, so that robosuite creates
    its render context with them at once (building an MjrContext costs ~1 s on CPU; building it
    twice per reset doubles that)."""
    visual = root.find("visual")
    if visual is None:
        visual = ET.SubElement(root, "visual")
    if quality.msaa_samples is not None:
        node = visual.find("quality")
        node = ET.SubElement(visual, "quality") if node is None else node
        node.set("offsamples", str(quality.msaa_samples))
    if quality.fit_buffer:
        node = visual.find("global")
        node = ET.SubElement(visual, "global") if node is None else node
        node.set("offwidth", str(width))
        node.set("offheight", str(height))


def apply_render_quality(sim, quality: RenderQuality, width: int, height: int) -> None:
    """Apply `quality` to a robosuite MjSim's offscreen context (call after every reset).

    With `write_quality_to_xml` applied the context already matches and only the scene
    flags are set; without it (or if robosuite changed the model) the context is rebuilt."""
    context = sim._render_context_offscreen
    if context is None:
        return
    model = sim.model._model
    rebuild = False
    if quality.msaa_samples is not None and model.vis.quality.offsamples != quality.msaa_samples:
        model.vis.quality.offsamples = quality.msaa_samples
        rebuild = True
    if quality.fit_buffer and (context.con.offWidth, context.con.offHeight) != (width, height):
        model.vis.global_.offwidth = width
        model.vis.global_.offheight = height
        rebuild = True
    if rebuild:
        # MjrContext reads offsamples and the buffer size only when it is created.
        context.gl_ctx.make_current()
        context.con.free()
        context._set_mujoco_context_and_buffers()
    context.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = int(quality.shadows)
    context.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = int(quality.reflections)
