"""Render on demand: a camera renders only at the steps whose image someone will see.

On CPU a rendered step costs 60-130 ms against 5-8 ms of physics, yet a chunked policy looks at
one frame in every 4-8 steps and a blind one at none. The episode driver therefore says, before
each step, which image keys it needs after that step (`SimTaskEnv.set_render_keys`).

Why a gate in front of the sensor, and not switching cameras off: robosuite samples a camera
inside `step()` at the first physics substep of each control period, with timers that
`set_enabled` resets, and the first step after a forced update reuses the forced frame. Toggling
observables would change when frames are sampled. The gate leaves every observable enabled, so
robosuite's sampling logic runs exactly as when every step is rendered; only the render itself
is skipped while the key is not wanted (the sample is then a placeholder, marked not fresh).
A wanted image therefore is bit for bit the frame an always-rendering run gets (a test checks
policy inputs and rows in both modes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np


class CameraGate:
    """Stands in for one camera's robosuite sensor (`modify_observable(name, "sensor", gate)`)."""

    def __init__(
        self, sensor: Callable, key: str, wanted: Callable[[], Collection[str]], shape: tuple
    ) -> None:
        self.sensor, self.key, self.wanted = sensor, key, wanted
        self.__modality__ = sensor.__modality__  # robosuite reads the modality off the sensor
        self.placeholder = np.zeros(shape, np.uint8)
        self.fresh = False  # the last sample was a real render
        self.renders = 0

    def __call__(self, obs_cache: dict[str, Any]):
        if self.key in self.wanted():
            self.fresh = True
            self.renders += 1
            return self.sensor(obs_cache)
        self.fresh = False
        return self.placeholder


def install_gates(sim_env, cameras: dict[str, str], wanted: Callable[[], Collection[str]], size: int) -> dict:
    """Put a gate in front of each camera's sensor (again after every hard reset, which rebuilds
    the observables); returns key -> gate."""
    gates = {}
    for key, camera in cameras.items():
        name = f"{camera}_image"
        sensor = sim_env._observables[name]._sensor
        gate = sensor if isinstance(sensor, CameraGate) else CameraGate(sensor, key, wanted, (size, size, 3))
        if gate is not sensor:
            sim_env.modify_observable(name, "sensor", gate)
        gates[key] = gate
    return gates
