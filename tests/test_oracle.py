"""The scripted oracle succeeds from simulator state alone, and keeps succeeding under every
perturbation family at the highest severity: the perturbations leave the task solvable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agra_bench.envs import make_env
from agra_bench.plan import EpisodeKey
from agra_bench.rollout import EpisodeObserver, run_episode
from policies import make_policy
from policies.base import PRIVILEGED
from policies.oracle_arm import LIFT_REACH, lift_point, wrist_turn
from policies.oracle_grasp import handle_plan, is_solid
from policies.oracle_skills import plan_knob, target_geometry
from policies.scripted import parse_goals, plan_grasp, share_of_region, yaw_error
from tests.conftest import run_episodes

pytestmark = pytest.mark.sim


def test_goal_parsing():
    state = {"goal": [["In", "soup_1", "basket_1_contain_region"], ["on", "mug_1", "plate_1"]]}
    assert parse_goals(state) == [("in", "soup_1", "basket_1_contain_region"), ("on", "mug_1", "plate_1")]
    assert parse_goals({"goal": [["lift", "cube"]]}) == [("lift", "cube", None)]
    # A switch comes first whatever its place in the goal: a pot on the stove would hide it.
    state = {"goal": [["On", "pot_1", "stove_1_cook_region"], ["Turnon", "stove_1"]]}
    assert parse_goals(state) == [("turnon", "stove_1", None), ("on", "pot_1", "stove_1_cook_region")]
    # A drawer something goes into is opened first, even unasked; a drawer to close comes last.
    drawer = {"articulations": {"cab_1_bottom_region": [{"type": "slide"}]}}
    state = {**drawer, "goal": [["Close", "cab_1_bottom_region"], ["In", "bowl_1", "cab_1_bottom_region"]]}
    assert parse_goals(state) == [
        ("open", "cab_1_bottom_region", None),
        ("in", "bowl_1", "cab_1_bottom_region"),
        ("close", "cab_1_bottom_region", None),
    ]
    with pytest.raises(ValueError, match=r"drawers .* 'microwave_1' is not a drawer"):
        door = {"microwave_1": [{"type": "hinge"}]}
        parse_goals({"goal": [["Close", "microwave_1"]], "articulations": door})
    with pytest.raises(ValueError, match=r"covers .* got \['Touch', 'mug_1', 'plate_1'\]"):
        parse_goals({"goal": [["on", "mug_1", "plate_1"], ["Touch", "mug_1", "plate_1"]]})


def boxes(*extents):
    """Corners (8 per box) of axis-aligned boxes given as (x0, x1, y0, y1, z0, z1)."""
    return np.concatenate(
        [[[x, y, z] for x in e[:2] for y in e[2:4] for z in e[4:]] for e in extents]
    ).astype(float)


def test_handle_grasp_for_a_solid_body_and_rim_grasp_for_a_hollow_one():
    """An 8 cm solid pot with a 1.2 cm thick handle standing off its bottom is held by the
    handle, fingers closing across its thickness; an 8 cm cup, empty down to a thin floor,
    keeps the rim grasp."""
    body = (-0.04, 0.04, -0.04, 0.04, 0.0, 0.12)
    handle = (-0.006, 0.006, -0.09, -0.045, 0.03, 0.11)
    pot = boxes(body, handle)
    centre = np.array([0.0, -0.005])
    assert is_solid(pot.reshape(-1, 8, 3), centre, 0.0, 0.12)
    plan = plan_grasp(pot, eef=np.array([0, 0, 0.4]), obstacles=np.zeros((0, 3)))
    assert plan.kind == "handle" and plan.grasp[1] < -0.06 and abs(np.cos(plan.angle)) > 0.99
    assert 0.03 < plan.height_in_hand < 0.11 and plan.offset[1] < -0.04  # off the centre, like a rim
    walls = [(-0.04, -0.035, -0.04, 0.04, 0.0, 0.1), (0.035, 0.04, -0.04, 0.04, 0.0, 0.1),
             (-0.04, 0.04, -0.04, -0.035, 0.0, 0.1), (-0.04, 0.04, 0.035, 0.04, 0.0, 0.1)]  # fmt: skip
    cup = boxes(*walls, (-0.04, 0.04, -0.04, 0.04, 0.0, 0.005), handle)
    assert not is_solid(cup.reshape(-1, 8, 3), np.zeros(2), 0.0, 0.1)
    assert plan_grasp(cup, eef=np.array([-0.3, 0, 0.4]), obstacles=np.zeros((0, 3))).kind == "rim"
    assert handle_plan(boxes(body).reshape(-1, 8, 3), np.zeros(2), 0.0) is None  # no handle at all


def test_knob_is_gripped_across_its_ridge():
    """A stove switch: a low disk with a ridge across it along x; the fingers close along y,
    over the ridge's centre, below its top and above the disk."""
    disk = (-0.045, 0.045, -0.045, 0.045, 0.0, 0.013)
    ridge = (-0.05, 0.04, -0.012, 0.012, 0.0, 0.05)
    grip, angle, z = plan_knob(boxes(disk, ridge) + [0.3, 0.2, 0.9])
    assert np.allclose(grip, [0.295, 0.2], atol=1e-6) and abs(np.sin(angle)) > 0.99
    assert 0.913 < z < 0.95


def test_objects_bound_for_one_region_are_set_side_by_side():
    state = {
        "goal": [["On", "pot_1", "stove_cook_region"], ["On", "pot_2", "stove_cook_region"]],
        "region_sizes": {"stove_cook_region": np.array([0.05, 0.075])},
    }
    first, second = (share_of_region(state, "stove_cook_region", pot) for pot in ("pot_1", "pot_2"))
    assert np.allclose(first, [0, -0.045]) and np.allclose(second, [0, 0.045])  # along the longer side
    assert np.allclose(share_of_region({**state, "goal": state["goal"][:1]}, "stove_cook_region", "pot_1"), 0)


def test_grasp_plan_on_constructed_shapes():
    """A 4 x 8 cm box is grasped across its 4 cm side; a 12 cm bowl by its rim, off-centre."""
    corners = np.array([[x, y, z] for x in (-0.04, 0.04) for y in (-0.02, 0.02) for z in (0.0, 0.03)])
    plan = plan_grasp(corners, eef=np.array([0, 0, 0.3]), obstacles=np.zeros((0, 3)))
    assert np.allclose(plan.grasp[:2], 0) and abs(np.sin(plan.angle)) > 0.99  # fingers close along y
    assert 0 < plan.height_in_hand <= 0.03
    bowl = corners * [1.5, 3.0, 1.5]  # 12 x 12 cm
    plan = plan_grasp(bowl, eef=np.array([-0.3, 0, 0.3]), obstacles=np.zeros((0, 3)))
    assert plan.grasp[0] < -0.03 and np.allclose(plan.offset, plan.grasp[:2])  # the rim nearest the gripper


def test_yaw_error_wraps_modulo_half_a_turn():
    assert yaw_error(0.0, np.array([1.0, 0.0])) == pytest.approx(0.0)
    assert yaw_error(0.0, np.array([-1.0, 0.0])) == pytest.approx(0.0)  # fingers are symmetric
    assert yaw_error(np.pi / 4, np.array([1.0, 0.0])) == pytest.approx(np.pi / 4)


def test_wrist_turns_the_long_way_round_when_the_short_way_hits_its_stop():
    """Pointing down, a world yaw turn t is a turn of -t of the last joint (range +-2.9)."""
    down = np.diag([1.0, -1.0, -1.0])  # column 2, the pointing axis, is -z
    state = {"eef_xmat": down, "arm_qpos": np.array([0, 0, 0, -2, 0, 2, 2.85]),
             "arm_qpos_range": np.array([[-2.9, 2.9]] * 7)}  # fmt: skip
    assert wrist_turn(state, 0.5) == pytest.approx(0.5)  # the joint goes to 2.35: free
    assert wrist_turn(state, -0.5) == pytest.approx(np.pi - 0.5)  # 3.35 is past the stop
    assert wrist_turn({"eef_xmat": down}, -0.5) == pytest.approx(-0.5)  # no joint state: unchanged
    state["arm_qpos"][-1] = 2.89  # pushed past the margin by the arm's other motions
    assert wrist_turn(state, 0.05) == pytest.approx(0.05)  # 2.84: back towards the range, the short way


def test_objects_near_the_robot_base_are_lifted_outwards():
    state = {"robot_base": np.array([-0.5, 0.0, 0.4])}
    near = lift_point(state, np.array([-0.2, 0.0, 0.45]))
    assert near == pytest.approx([-0.5 + LIFT_REACH, 0.0])
    assert lift_point(state, np.array([0.1, 0.2, 0.45])) == pytest.approx([0.1, 0.2])


def test_a_drawer_target_is_the_drawer_floor_not_the_handles_above_it():
    """libero_10 task 3's bottom drawer, open: the drawers above it have handles that stick out
    over it; the bowl used to be let go at their height and fall."""
    env = make_env("libero_10", 3, image_size=32, render_images=False)
    try:
        env.reset(seed=0, options={"init_state_id": 2})
        state = env.privileged_state()
        target = "white_cabinet_1_bottom_region"
        drawer = state["articulations"][target][0]["points"]
        _, top = target_geometry(state, target)
        assert top < float(state["sites"][target][2])  # the region's site sits above the floor
        assert top == pytest.approx(
            float(drawer[:, 2].min()), abs=0.02
        )  # the floor: the drawer's bottom plate
    finally:
        env.close()


@pytest.mark.parametrize(
    ("task_id", "init_state"),
    [
        (7, 7),  # cream cheese whose grasp turned the wrist into its stop: it turns the long way now
        (1, 3),  # butter after the cream cheese: the hand used to dip into the basket and tip it over
    ],
)
def test_oracle_solves_libero_10_init_states_it_used_to_fail(task_id, init_state):
    env = make_env("libero_10", task_id, image_size=32, render_images=False)
    policy = make_policy("scripted")
    try:
        key = EpisodeKey("libero_10", task_id, init_state, init_state, 0, "none", 0, "id")
        result = run_episode(env, policy, key)
        assert result.success and result.steps < env.max_steps
    finally:
        env.close()


@pytest.mark.parametrize(
    ("suite", "task_id"),
    [
        ("libero_object", 1),
        ("libero_spatial", 0),
        ("libero_10", 0),  # two goals, one after the other: soup, then tomato sauce, in the basket
        ("libero_10", 8),  # both moka pots (held by their handles) on the stove, which must be on
        ("libero_goal", 5),  # push the plate: too flat to hold, it is slid from inside
        ("libero_goal", 7),  # turn on the stove: grip the switch, twist the wrist
        ("libero_goal", 0),  # open a drawer: hand turned to point into the cabinet, pull the handle
        ("libero_10", 3),  # bowl into the open bottom drawer, then push the drawer shut
        ("robosuite_lift", 0),
        ("robosuite_stack", 0),
        ("robosuite_pick_place_can", 0),
    ],
)
def test_oracle_solves_tasks_without_images(suite, task_id):
    """Physics only (cameras off): the oracle reads simulator state, never pixels."""
    env = make_env(suite, task_id, image_size=32, render_images=False)
    policy = make_policy("scripted")
    try:
        result = run_episode(env, policy, EpisodeKey(suite, task_id, 0, 0, 0, "none", 0, "id"))
        assert result.success and not result.success_at_reset and result.steps < env.max_steps
        conditions = len(env.goal_predicates()) if suite.startswith("libero") else 1
        assert result.goal_conditions_met == result.goal_conditions == conditions
    finally:
        env.close()


class GoalProgressLog(EpisodeObserver):
    """`goal_progress()` after every step of the episode."""

    def __init__(self) -> None:
        self.progress: list[tuple[int, int]] = []

    def after_step(self, run, action, terminated, truncated) -> None:
        self.progress.append(run.env.goal_progress())


def test_an_episode_cut_off_between_the_two_objects_records_one_condition_of_two():
    """libero_10 task 0 (soup, then sauce, into the basket): the oracle's episode passes through
    "one of two" on its way to the goal, and the same episode stopped at the step cap while the
    soup is in the basket and the sauce is not records 1 of 2 in its result: a failure that got
    halfway, where the success rate sees a failure like any other."""
    env = make_env("libero_10", 0, image_size=32, render_images=False)
    policy = make_policy("scripted")
    key = EpisodeKey("libero_10", 0, 0, 0, 0, "none", 0, "id")
    try:
        log = GoalProgressLog()
        full = run_episode(env, policy, key, observers=(log,))
        assert full.success and (full.goal_conditions_met, full.goal_conditions) == (2, 2)
        met = [m for m, total in log.progress]
        assert {total for _, total in log.progress} == {2} and met[0] == 0 and met[-1] == 2
        halfway = [step for step, m in enumerate(met, start=1) if m == 1]
        assert halfway, f"the episode never had one object of two in: {met}"
        env.max_steps = halfway[len(halfway) // 2]  # well inside the stretch with the soup alone in
        cut = run_episode(env, policy, key)
        assert cut.hit_step_cap and not cut.success and cut.steps == env.max_steps
        assert (cut.goal_conditions_met, cut.goal_conditions) == (1, 2)
    finally:
        env.close()


def test_oracle_retries_a_grasp_that_closes_on_nothing():
    """The cube is moved 6 cm aside just as the fingers start to close: they close on nothing,
    and the oracle opens, plans again where the cube now is, and lifts it. Moving the object
    makes the miss happen on purpose, whatever the oracle's other changes do to init states."""
    import mujoco

    env = make_env("robosuite_lift", 0, image_size=32, render_images=False)
    policy = make_policy("scripted")
    try:
        env.reset(seed=0, options={"init_state_id": 0})
        policy.reset(0, 0)
        model, data = env.sim.model._model, env.sim.data._data
        (cube,) = env.goal_predicates()[0][1:]
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, env.scene_objects()[cube])
        address = model.jnt_qposadr[model.body_jntadr[body]]  # the cube's free joint: x, y, z, quat
        moved, info = False, {"success": False}
        while env.steps < env.max_steps and not info["success"]:
            action = policy.act({PRIVILEGED: [env.privileged_state()]}, [0])[0, 0]
            if policy._slots[0].phase == "grasp" and not moved:
                data.qpos[address + 1] += 0.06
                mujoco.mj_forward(model, data)
                moved = True
            _, _, _, _, info = env.step(action)
        assert moved and info["success"] and policy._slots[0].attempts == 1
    finally:
        env.close()


def test_oracle_solves_a_libero_object_task_from_two_init_states():
    env = make_env("libero_object", 0, image_size=32, max_steps=200)
    policy = make_policy("scripted")
    try:
        for init in (0, 1):
            result = run_episode(
                env, policy, EpisodeKey("libero_object", 0, init, init, init, "none", 3, "id")
            )
            assert result.success and not result.success_at_reset and result.steps < 200
    finally:
        env.close()


@pytest.mark.slow
def test_oracle_keeps_success_under_every_family_at_severity_5(tmp_path):
    df = run_episodes(
        tmp_path,
        "--policy scripted --suite libero_object --tasks 0 --episodes 1 --perturb all --severity 5"
        " --max-steps 200 --workers 2 --image-size 32",
    )
    assert len(df) == 9 and df["error"].isna().all()
    failed = df.loc[~df["success"], ["perturbation", "perturb_params"]]
    assert failed.empty, failed.to_dict("records")
    distractors = json.loads(df.set_index("perturbation").loc["distractor", "perturb_params"])["distractors"]
    assert sum(d["placed"] for d in distractors) >= 3
