"""The gymnasium interface shared by every simulated task.

Observation (dict):
    agentview_rgb  uint8  (H, W, 3)   third-person camera
    wrist_rgb      uint8  (H, W, 3)   eye-in-hand camera
    proprio        float64 (8,)       eef position (3), eef axis-angle (3), gripper qpos (2), as
                                      the simulator gives them (openpi's client sends these float64)
    instruction    str                the task's language instruction
Action: Box(7) in [-1, 1]: delta EEF position (3), delta rotation (3), gripper (-1 open, +1 close).

Images follow one convention for every suite: robosuite renders OpenGL images bottom-up, and
we rotate them by 180 degrees (`img[::-1, ::-1]`), the convention of the common LIBERO
policies (OpenVLA, openpi). It is recorded in every manifest as IMAGE_CONVENTION.

Rendering on demand: `set_render_keys(keys)` says which image keys the following steps render
(default: both). A step's observation holds only the image keys rendered at that step; the
reset observation always holds both (see camera_gate.py for why this is exact).

The simulator is built lazily on the first reset, never in __init__: creating an EGL context
in a parent process and then forking hangs, so envs are cheap to construct anywhere and only
touch OpenGL inside the worker process that steps them.
"""

from __future__ import annotations

import contextlib
import string
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agra_bench.envs.camera_gate import CameraGate
from agra_bench.envs.cameras import CAMERAS, Cameras
from agra_bench.envs.llvm_order import load_triton_llvm_first
from agra_bench.envs.physics import DEFAULT_PHYSICS, get_physics
from agra_bench.envs.render_cache import RenderContextCache
from agra_bench.envs.rendering import apply_render_quality, get_render_quality, write_quality_to_xml
from agra_bench.envs.scene_view import SceneView
from agra_bench.protocol import DEFAULT_PROTOCOL, get_protocol
from agra_bench.scenes.rules import get_scene_rule
from agra_bench.suites import get_task
from perturbations.base import NoPerturbation, Perturbation

if TYPE_CHECKING:
    from perturbations.spec import Arm

IMAGE_CONVENTION = "rot180: robosuite's bottom-up render rotated 180 degrees (img[::-1, ::-1])"
INSTRUCTION_CHARSET = string.printable
PERTURB_STREAM = 0x5EED  # second entropy word of the perturbation generator


@contextlib.contextmanager
def seeded_numpy_global(seed: int):
    """Seed numpy's global generator (which robosuite's samplers use) and restore it after."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def merge_params(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Merge the XML-phase and runtime-phase values of a perturbation (nested by family)."""
    merged = dict(first)
    for key, value in second.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


class SimTaskEnv(Cameras, SceneView, gym.Env, ABC):
    """One task of a suite, following a named protocol (settle steps, step cap, init states).
    What the scene holds, for policies and perturbations, is `SceneView`'s part; when the
    cameras sample and render, and in which GL context, is `Cameras`'."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        suite: str,
        task_id: int = 0,
        image_size: int = 128,
        render_quality: str = "standard",
        protocol: str = DEFAULT_PROTOCOL,
        max_steps: int | None = None,
        render_mode: str | None = None,
        render_images: bool = True,
        physics: str = DEFAULT_PHYSICS,
    ) -> None:
        self.task = get_task(suite, task_id)
        self.physics = get_physics(physics)  # how a control step advances the simulator
        self.protocol = get_protocol(protocol)
        self.scene_rule = get_scene_rule(self.protocol.scene)  # where fixtures stand (LIBERO)
        self.quality = get_render_quality(render_quality)
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        self.image_size = image_size
        self.max_steps = max_steps if max_steps is not None else self.protocol.step_cap(suite)
        self.render_mode = render_mode
        # False: cameras stay off and image observations are zeros. For privileged policies
        # (the oracle) and for collecting states fast; images can be rendered later from states.
        self.render_images = render_images
        image = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(
            {
                "agentview_rgb": image,
                "wrist_rgb": image,
                "proprio": spaces.Box(-np.inf, np.inf, (8,), np.float64),
                "instruction": spaces.Text(max_length=512, charset=INSTRUCTION_CHARSET),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (7,), np.float32)
        self.perturbation: Perturbation = NoPerturbation()
        self.perturbation_name = "none"
        self.perturb_params: dict[str, Any] = {}
        self._perturb_rng = np.random.default_rng(0)
        self._xml_params: dict[str, Any] = {}
        self._sim_env: Any = None
        self._render_cache: RenderContextCache | None = None
        self._geom_cache: dict[int, list[int]] = {}
        self._last_obs: dict[str, Any] | None = None
        self.render_keys: frozenset[str] = frozenset(CAMERAS)
        self._gates: dict[str, CameraGate] = {}
        self._last_raw: dict[str, Any] = {}
        self.steps = 0
        self.init_state_id = 0

    def set_arm(self, arm: Arm | None) -> None:
        """The perturbation arm applied from the next reset on (None: the control arm). The one
        way callers choose an arm, so that the perturbation and its recorded name never differ."""
        if arm is None:
            self.perturbation, self.perturbation_name = NoPerturbation(), "none"
        else:
            self.perturbation, self.perturbation_name = arm.build(), arm.name

    # --- backend hooks -------------------------------------------------------------------
    @abstractmethod
    def _build(self) -> Any:
        """Create the robosuite-style environment (has .sim, .step, ._check_success)."""

    @abstractmethod
    def _restore_init_state(self, init_state_id: int) -> dict[str, Any]:
        """Hard-reset the simulator to init state `init_state_id`; return the raw observation."""

    def _check_success(self) -> bool:
        return bool(self._sim_env._check_success())

    # --- gymnasium API -------------------------------------------------------------------
    @property
    def sim(self) -> Any:
        """robosuite's MjSim (raw model: `sim.model._model`); None before the first reset."""
        return None if self._sim_env is None else self._sim_env.sim

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if self._sim_env is None:
            load_triton_llvm_first()  # before the first render context (llvm_order.py says why)
            self._sim_env = self._build()
            self._sim_env.set_xml_processor(self._process_xml)
            if self.physics.keeps_render_context:
                self._render_cache = RenderContextCache(self._sim_env)
        # The perturbation's generator derives from the episode seed alone, so a key always
        # gets the same values; it exists before the hard reset so XML edits can draw from it.
        self._perturb_rng = np.random.default_rng([seed if seed is not None else 0, PERTURB_STREAM])
        self._xml_params, self.perturb_params = {}, {}
        n_init = self.task.num_init_states
        init_state_id = options.get("init_state_id")
        if init_state_id is None:
            init_state_id = int(self.np_random.integers(n_init))
        if not 0 <= int(init_state_id) < n_init:
            raise ValueError(f"init_state_id {init_state_id} out of range 0-{n_init - 1}")
        self.init_state_id = int(init_state_id)
        # Nobody sees the frames of the reset and settle steps; rendering them cost ~1.3 s
        # per reset on CPU. Cameras are switched off until the scene has settled.
        self._set_cameras_enabled(False)
        settle = np.asarray(self.protocol.settle_action, dtype=np.float64)
        # The source loops hand the policy what their last settle step returned: that step runs
        # with the cameras on, after the perturbation's settled() edit.
        last_step_observes = (
            self.protocol.first_observation == "last_settle_step" and self.protocol.settle_steps > 0
        )
        raw = None
        try:
            self._restore_init_state(self.init_state_id)
            self._render_in_own_context()  # for the renders of this reset (a perturbation's too)
            self._geom_cache = {}  # the hard reset rebuilt the model: ids may have moved
            apply_render_quality(self.sim, self.quality, self.image_size, self.image_size)
            runtime_params = self.perturbation.apply(self, self._perturb_rng, self._xml_params)
            self.perturb_params = merge_params(self._xml_params, runtime_params)
            for _ in range(self.protocol.settle_steps - int(last_step_observes)):
                self.physics.step(self._sim_env, settle)
            settled_params = self.perturbation.settled(self, self._perturb_rng, self.perturb_params)
            self.perturb_params = merge_params(self.perturb_params, settled_params)
            if last_step_observes:
                self._set_cameras_enabled(self.render_images)
                self._share_sampling_clock()
                self._start_observing()
                raw = self.physics.step(self._sim_env, settle)
        finally:
            if raw is None:
                self._set_cameras_enabled(self.render_images)
        if raw is None:  # `forced`: a fresh observation after settling
            self._start_observing()
            raw = self._sim_env._get_observations(force_update=True)
        self.steps = 0
        obs = self._observation(raw)
        success = self._check_success()
        info = {
            "success": success,
            "init_state_id": self.init_state_id,
            "task_name": self.task.name,
            "perturb_params": self.perturb_params,
        }
        return obs, info

    def step(self, action):
        if self._sim_env is None:
            raise RuntimeError("call reset() before step()")
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(7), -1.0, 1.0)
        self._render_in_own_context()
        raw = self.physics.step(self._sim_env, action)
        self.steps += 1
        success = self._check_success()
        obs = self._observation(raw)
        truncated = (not success) and self.steps >= self.max_steps
        return obs, float(success), success, truncated, {"success": success, "steps": self.steps}

    def render(self):
        return None if self._last_obs is None else self._last_obs.get("agentview_rgb")

    def close(self) -> None:
        if self._sim_env is not None:
            self._sim_env.close()
            self._sim_env = None
        if self._render_cache is not None:
            self._render_cache.drop()
            self._render_cache = None

    # --- helpers -------------------------------------------------------------------------
    def _observation(self, raw: dict[str, Any]) -> dict[str, Any]:
        from robosuite.utils.transform_utils import quat2axisangle

        blank = np.zeros((self.image_size, self.image_size, 3), np.uint8)
        obs = {}
        for key, camera in CAMERAS.items():
            if not self.render_images:
                obs[key] = blank
            elif self._gates[key].fresh:  # else not rendered at this step: left out
                obs[key] = np.ascontiguousarray(raw[f"{camera}_image"][::-1, ::-1])
        obs["proprio"] = np.concatenate(
            [raw["robot0_eef_pos"], quat2axisangle(raw["robot0_eef_quat"]), raw["robot0_gripper_qpos"]]
        ).astype(np.float64)
        obs["instruction"] = self.task.instruction
        obs = self.perturbation.transform_observation(obs, self._perturb_rng, self.steps, self.perturb_params)
        self._last_obs, self._last_raw = obs, raw
        return obs

    # --- states, for demonstrations ----------------------------------------------------------
    def flat_state(self) -> np.ndarray:
        """The flattened MuJoCo state (time, qpos, qvel): LIBERO's `states` format."""
        return np.asarray(self.sim.get_state().flatten(), dtype=np.float64)

    def robot_arrays(self) -> dict[str, np.ndarray]:
        """Proprioception of the last observation in LIBERO's dataset names."""
        from robosuite.utils.transform_utils import quat2axisangle

        raw = self._last_raw
        return {
            "ee_states": np.concatenate([raw["robot0_eef_pos"], quat2axisangle(raw["robot0_eef_quat"])]),
            "gripper_states": np.asarray(raw["robot0_gripper_qpos"], dtype=np.float64),
            "joint_states": self.sim.data.qpos[self._sim_env.robots[0]._ref_joint_pos_indexes].astype(
                np.float64
            ),
            "robot_states": np.concatenate(
                [raw["robot0_gripper_qpos"], raw["robot0_eef_pos"], raw["robot0_eef_quat"]]
            ),
        }

    def observe_state(self, state: np.ndarray) -> dict[str, Any]:
        """Put the simulator in a stored state and return the observation there (the render
        pass of `collect`; the scene must be the one reset() built for that demonstration)."""
        self.sim.set_state_from_flattened(np.asarray(state))
        self.sim.forward()
        self._render_in_own_context()
        return self._observation(self._sim_env._get_observations(force_update=True))

    def _process_xml(self, xml: str) -> str:
        """robosuite's XML hook at every hard reset: render settings and scene-level edits."""
        root = ET.fromstring(xml)
        write_quality_to_xml(root, self.quality, self.image_size, self.image_size)
        self._xml_params = self.perturbation.edit_xml(root, self._perturb_rng, self)
        return ET.tostring(root, encoding="unicode")
