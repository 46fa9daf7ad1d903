"""Hard resets that keep the render context of an unchanged scene (part of `--physics fast`).

robosuite 1.4 hard-resets by throwing the simulator away: it frees the MjSim with its render
context, rebuilds and compiles the scene XML, and creates a new render context, which makes a
new EGL context and uploads every mesh and texture of the scene again (`mujoco.MjrContext`:
~0.9 s of a ~1.5 s libero_spatial reset on llvmpipe, more than the 220 steps of a blind episode).
For a LIBERO task the XML is byte-identical from one episode to the next (fixture placements are
sampled after compiling), so that upload repeats itself.

`RenderContextCache` replaces two methods of one robosuite env:
- `_destroy_sim` detaches the render context before freeing the simulator, and keeps it;
- `_initialize_sim` does what robosuite's does (XML from the model, agra-bench's XML edits, a
  fresh compile, a forward, the control timing). When the XML is byte for byte the XML the
  kept context was made for, the context moves over to the new simulator: its EGL context and
  its MjrContext (the uploaded meshes, textures, fonts and offscreen buffers) are kept, and the
  per-model parts (scene, camera, options, perturbation) are made new, as robosuite makes them.
  Otherwise the kept context is freed and robosuite creates one as usual.

Why rows stay identical: the model is compiled fresh at every reset as before, so the physics
starts from the same model and data. An MjrContext holds only what it uploaded from the model
it was created for, whose assets are those of the identical XML; no perturbation uploads
anything (textures change through the XML, colours and lights through the model, which the
renderer reads at every frame). The forward that creating a context runs, and making the EGL
context current, happen here too. tests/test_physics.py compares states, images and rows with
`--physics stock` (robosuite's own reset) over several resets and arms.
"""

from __future__ import annotations

from typing import Any

import mujoco


class RenderContextCache:
    def __init__(self, sim_env) -> None:
        self.env = sim_env
        self.context: Any = None  # the render context detached from the last freed simulator
        self.xml: str | None = None  # the XML of the simulator that context was made for
        self.reused = 0  # hard resets that kept the context (for benchmarks and tests)
        sim_env._destroy_sim = self.destroy_sim
        sim_env._initialize_sim = self.initialize_sim

    def destroy_sim(self) -> None:
        """robosuite's `_destroy_sim`, keeping the render context instead of freeing it."""
        sim = self.env.sim
        if sim is not None:
            self.drop()
            self.context, sim._render_context_offscreen = sim._render_context_offscreen, None
            sim.free()
            self.env.sim = None

    def initialize_sim(self, xml_string: str | None = None) -> None:
        """robosuite's `_initialize_sim` (the same steps in the same order), then the kept
        render context moves to the new simulator if the XML is unchanged."""
        from robosuite.utils.binding_utils import MjSim

        env = self.env
        xml = xml_string if xml_string else env.model.get_xml()
        if env._xml_processor is not None:
            xml = env._xml_processor(xml)
        if xml != self.xml:
            self.drop()
        env.sim = MjSim.from_xml_string(xml)
        env.sim.forward()
        env.initialize_time(env.control_freq)
        if self.context is not None:
            self._attach(env.sim, self.context)
            self.context = None
            self.reused += 1
        self.xml = xml

    def drop(self) -> None:
        """Free the kept context (robosuite's MjRenderContext frees GL resources when deleted)."""
        self.context = None

    @staticmethod
    def _attach(sim, context) -> None:
        """What `MjRenderContext.__init__` does, but for the EGL context and the MjrContext."""
        context.gl_ctx.make_current()
        sim.forward()
        sim.add_render_context(context)
        context.sim, context.model, context.data = sim, sim.model, sim.data
        context.scn = mujoco.MjvScene(sim.model._model, maxgeom=1000)
        context.cam = mujoco.MjvCamera()
        context.cam.fixedcamid = 0
        context.cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        context.vopt = mujoco.MjvOption()
        context.pert = mujoco.MjvPerturb()
        context.pert.active = 0
        context.pert.select = 0
        context.pert.skinselect = -1
