"""`--physics fast` (the default) gives robosuite 1.4's own loop (`stock`) bit for bit.

For one task of every LIBERO suite and every shipped robosuite task, two envs (one per physics)
go through the same three episodes: init state 1 clean, init state 2 under the lighting arm,
init state 1 clean again. Under `fast` the later hard resets keep the render context, and a
perturbed episode must not leak into the next. Each episode resets (settle steps included) and
takes the same actions. The simulator state (qpos, qvel, qacc_warmstart), the proprio vector,
both camera images and the success flag must be identical after every reset and every step.
Through `agra-bench run` with the scripted oracle the rows must be identical too. The mutation
tests break the fast loop on purpose (ctrl not written between step1 and step2; the controller
reading a fresh state where robosuite keeps a stale one) and check that the comparison catches
it, so that the equivalence tests can fail.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from agra_bench.envs.fast_control import FastArm
from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError
from perturbations.spec import parse_spec
from tests.conftest import run_episodes

TASKS = [
    ("libero_spatial", 0),
    ("libero_object", 0),
    ("libero_goal", 0),
    ("libero_10", 0),
    ("libero_90", 0),
    ("robosuite_lift", 0),
    ("robosuite_stack", 0),
    ("robosuite_pick_place_can", 0),
    ("robosuite_nut_assembly_square", 0),
    ("robosuite_door", 0),
]
STEPS = 8
EPISODES = [(None, 1), ("lighting", 2), (None, 1)]  # (arm, init state)


def actions(steps: int = STEPS) -> np.ndarray:
    """Random arm commands with the gripper flipping between open and close."""
    rng = np.random.default_rng(7)
    out = rng.uniform(-1.0, 1.0, (steps, 7))
    out[:, 6] = np.where(np.arange(steps) % 5 < 3, -1.0, 1.0)
    return out


def trace(suite: str, task_id: int, physics: str, episodes=EPISODES, kept: int | None = None) -> list[dict]:
    """Everything observable after each reset and after each step of `actions()`, over the
    episodes, in one env (as a worker runs them); `kept`: how many resets must have kept the
    render context."""
    env = EnvSettings(image_size=32, physics=physics).make(suite, task_id)
    out = []
    try:
        for family, init_state in episodes:
            env.set_arm(None if family is None else parse_spec(family, 3, "id", suite)[0])
            obs, info = env.reset(seed=init_state, options={"init_state_id": init_state})
            out.append(snapshot(env, obs, info["success"]))
            for action in actions():
                obs, _, success, _, _ = env.step(action)
                out.append(snapshot(env, obs, success))
        if kept is not None:
            assert env._render_cache.reused == kept
        return out
    finally:
        env.close()


def snapshot(env, obs: dict, success: bool) -> dict:
    data = env.sim.data._data
    return {
        "state": np.concatenate([data.qpos, data.qvel, data.qacc_warmstart]).tobytes(),
        "proprio": obs["proprio"].tobytes(),
        "images": [obs[k].tobytes() for k in ("agentview_rgb", "wrist_rgb")],
        "success": success,
    }


def first_difference(a: list[dict], b: list[dict]) -> tuple[int, str] | None:
    """(step, what) of the first difference (step 0: after the reset), or None."""
    assert len(a) == len(b)
    for step, (x, y) in enumerate(zip(a, b, strict=True)):
        for key in x:
            if x[key] != y[key]:
                return step, key
    return None


@pytest.mark.slow
@pytest.mark.parametrize(("suite", "task_id"), TASKS, ids=[s for s, _ in TASKS])
def test_fast_physics_is_stock_bit_for_bit(suite, task_id):
    # a LIBERO scene's XML is the same at every reset: the 2nd and 3rd keep the render context
    kept = len(EPISODES) - 1 if suite.startswith("libero") else None
    stock, fast = trace(suite, task_id, "stock"), trace(suite, task_id, "fast", kept=kept)
    assert first_difference(stock, fast) is None
    # the actions moved the robot and the arm changed the light: the comparison compared something
    per_episode = STEPS + 1
    assert stock[0]["state"] != stock[per_episode - 1]["state"]
    assert stock[0]["images"][0] != stock[per_episode]["images"][0]


def test_the_comparison_catches_a_fast_loop_that_skips_the_arm_ctrl_write(monkeypatch):
    stock = trace("libero_object", 0, "stock", EPISODES[:1])

    def control_without_arm_write(self, action):
        self.osc_torques()  # torques computed, then dropped: ctrl keeps the policy substep's

    monkeypatch.setattr(FastArm, "control", control_without_arm_write)
    broken = trace("libero_object", 0, "fast", EPISODES[:1])
    difference = first_difference(stock, broken)
    assert difference is not None and difference[1] == "state", difference


def test_the_comparison_catches_a_controller_that_reads_fresh_state_after_reset(monkeypatch):
    """robosuite's first substep after a reset runs the controller on the state it read before
    the init state was set; a fast loop that 'fixes' this is not the same physics."""
    stock = trace("libero_spatial", 0, "stock", EPISODES[:1])
    read_state = FastArm.read_state

    def always_read(self):
        self.controller.new_update = True
        read_state(self)

    monkeypatch.setattr(FastArm, "read_state", always_read)
    broken = trace("libero_spatial", 0, "fast", EPISODES[:1])
    assert first_difference(stock, broken) == (0, "state")  # the settle steps already differ


def test_fast_physics_refuses_a_controller_it_was_not_checked_on():
    import robosuite

    from agra_bench.envs.physics import fast_step
    from agra_bench.versions import prepare_robosuite

    prepare_robosuite()
    env = robosuite.make(
        "Lift",
        robots="Panda",
        controller_configs=robosuite.load_controller_config(default_controller="JOINT_VELOCITY"),
        has_renderer=False,
        has_offscreen_renderer=False,
        use_camera_obs=False,
    )
    try:
        env.reset()
        with pytest.raises(UsageError, match="valid: --physics stock"):
            fast_step(env, np.zeros(env.action_dim))
    finally:
        env.close()


ROW_COLUMNS = ["init_state_id", "success", "steps", "hit_step_cap", "obs0_sha1", "obs0_input_sha1", "error"]


@pytest.mark.parametrize(
    "args",
    [
        "--suite libero_object --tasks 0 --episodes 2 --image-size 32 --perturb none,lighting",
        "--suite robosuite_lift --episodes 2 --image-size 32 --max-steps 120",
    ],
    ids=["libero_object", "robosuite_lift"],
)
@pytest.mark.slow
def test_scripted_oracle_rows_are_the_same_under_both_physics(tmp_path, args):
    fast = run_episodes(tmp_path / "fast", f"--policy scripted {args}")
    stock = run_episodes(tmp_path / "stock", f"--policy scripted {args} --physics stock")
    columns = [c for c in ROW_COLUMNS if c in fast.columns]
    assert fast[columns].equals(stock[columns])
    assert fast["error"].isna().all() and fast["success"].any()  # the oracle did the task
    # the default joins no identity (old runs keep their ids); stock is another run, recorded
    (fast_dir,) = (tmp_path / "fast").iterdir()
    (stock_dir,) = (tmp_path / "stock").iterdir()
    assert fast_dir.name != stock_dir.name
    fast_manifest = json.loads((fast_dir / "manifest.json").read_text())
    stock_manifest = json.loads((stock_dir / "manifest.json").read_text())
    assert "env.physics" not in fast_manifest["identity"]
    assert stock_manifest["identity"]["env.physics"] == "stock"
    assert (fast_manifest["physics"]["name"], stock_manifest["physics"]["name"]) == ("fast", "stock")


def test_the_comparison_catches_a_render_context_kept_across_a_changed_scene(monkeypatch):
    """The texture arm edits the XML (textures are uploaded when the context is made): a cache
    that kept the context anyway would render the old textures."""
    from agra_bench.envs.render_cache import RenderContextCache

    episodes = [(None, 1), ("texture", 1)]
    stock = trace("libero_object", 0, "stock", episodes)
    assert first_difference(stock, trace("libero_object", 0, "fast", episodes)) is None
    # never drop: the context is kept whatever the XML (freed with the env by the garbage collector)
    monkeypatch.setattr(RenderContextCache, "drop", lambda self: None)
    difference = first_difference(stock, trace("libero_object", 0, "fast", episodes, kept=2))
    assert difference == (STEPS + 1, "images"), difference
