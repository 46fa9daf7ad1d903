"""The cameras of a simulated task: which render at a step, when they sample, in whose context.

`SimTaskEnv` (base.py) resets and steps the simulator; this mixin holds what it does to its two
cameras, whose frames must be the source loops' frames bit for bit while costing as little as
possible on a CPU:
- off while the scene settles (nobody sees those frames), then back on the sampling clock the
  source loop's cameras have (`_share_sampling_clock`);
- gated at every step, so only the image keys a policy reads are rendered (`camera_gate.py`);
- drawn in the env's own GL context, which matters when several envs live in one process.
The methods read the env's `_sim_env` (the robosuite env), `render_images`, `image_size`,
`render_keys` and `_gates`, which `SimTaskEnv` provides.
"""

from __future__ import annotations

from typing import Any

from agra_bench.envs.camera_gate import CameraGate, install_gates

#: Observation key -> robosuite camera name.
CAMERAS = {"agentview_rgb": "agentview", "wrist_rgb": "robot0_eye_in_hand"}
CAMERA_OBSERVABLES = tuple(f"{camera}_image" for camera in CAMERAS.values())


class Cameras:
    """Camera handling of `SimTaskEnv`."""

    _sim_env: Any
    render_images: bool
    image_size: int
    render_keys: frozenset[str]
    _gates: dict[str, CameraGate]

    def _set_cameras_enabled(self, enabled: bool) -> None:
        for camera in CAMERAS.values():
            self._sim_env.modify_observable(f"{camera}_image", "enabled", enabled)

    def _share_sampling_clock(self) -> None:
        """Put the cameras on the sampling clock of the other observables.

        Switching a camera observable off and on resets its sampling timer (robosuite's
        `set_enabled`); the proprio observables were never switched, so their timer is the one
        the source loop's cameras have too (it never switches them). Copying it makes the
        cameras sample at the substep where the source loop samples them."""
        observables = self._sim_env._observables
        clock = next(o for name, o in observables.items() if name not in CAMERA_OBSERVABLES)
        for name in CAMERA_OBSERVABLES:
            camera = observables[name]
            camera._time_since_last_sample = clock._time_since_last_sample
            camera._sampled = clock._sampled
            camera._current_delay = clock._current_delay

    def _start_observing(self) -> None:
        """Every camera wanted at the first observation; gates in front of the cameras."""
        self.render_keys = frozenset(CAMERAS)
        if self.render_images:
            self._gates = install_gates(self._sim_env, CAMERAS, lambda: self.render_keys, self.image_size)

    def set_render_keys(self, keys) -> None:
        """The image keys (of CAMERAS) that the following steps render; others are skipped."""
        unknown_keys = set(keys) - set(CAMERAS)
        if unknown_keys:
            raise ValueError(f"unknown image keys {sorted(unknown_keys)}; valid: {', '.join(CAMERAS)}")
        self.render_keys = frozenset(keys)

    def _render_in_own_context(self) -> None:
        """Make this env's EGL/OSMesa context current before anything here renders.

        robosuite renders with whichever context is current, and a context becomes current when
        it is made; so with two envs in one process (a gymnasium SyncVectorEnv, a notebook
        comparing arms) the older env drew its frames through the newer one's context: wrong
        images, no error. Each env therefore takes its own context before each step, reset and
        render of a stored state (one eglMakeCurrent, microseconds)."""
        context = self._sim_env.sim._render_context_offscreen
        if context is not None:
            context.gl_ctx.make_current()

    def camera_kwargs(self) -> dict[str, Any]:
        return {
            "camera_names": list(CAMERAS.values()),
            "camera_heights": self.image_size,
            "camera_widths": self.image_size,
        }
