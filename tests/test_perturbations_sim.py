"""Perturbation families on a real LIBERO scene: reproducibility, restore, and task-irrelevance
proved with the simulator's segmentation masks."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from agra_bench.envs import make_env
from perturbations import parse_spec
from perturbations.scene import relevant_pixels, segmentation
from tests.conftest import PERTURBATION_FAMILIES, run_episodes

pytestmark = pytest.mark.sim
SIZE = 64
FAMILIES = PERTURBATION_FAMILIES


@pytest.fixture(scope="module")
def env():
    # libero_spatial task 0: two identical bowls, a plate and a ramekin named in the instruction,
    # plus irrelevant cookies, a stove and a cabinet.
    env = make_env("libero_spatial", 0, image_size=SIZE)
    yield env
    env.close()


def reset(env, spec: str, seed: int, severity: int = 5, split: str = "id"):
    env.set_arm(parse_spec(spec, severity, split)[0])
    return env.reset(seed=seed, options={"init_state_id": 0})


def test_relevance_is_instruction_aware(env):
    env.set_arm(None)
    env.reset(seed=0, options={"init_state_id": 0})
    assert env.task_relevant_objects() == {
        "akita_black_bowl_1",
        "akita_black_bowl_2",
        "plate_1",
        "glazed_rim_porcelain_ramekin_1",
    }
    assert env.irrelevant_objects() == ["cookies_1", "flat_stove_1", "wooden_cabinet_1"]


@pytest.mark.parametrize("family", FAMILIES)
def test_same_key_same_images_and_values_other_seed_other_values(env, family):
    env.set_arm(None)
    clean, _ = env.reset(seed=1, options={"init_state_id": 0})
    # One family instance serves every episode: seed 1, another episode, seed 1 again. Its
    # per-episode state lives in the values its hooks return, never on the instance.
    env.set_arm(parse_spec(family, 5, "id")[0])
    instance_state = copy.deepcopy(vars(env.perturbation))
    first, info_first = env.reset(seed=1, options={"init_state_id": 0})
    _, info_other = env.reset(seed=2, options={"init_state_id": 0})
    second, info_second = env.reset(seed=1, options={"init_state_id": 0})
    assert vars(env.perturbation) == instance_state
    assert info_first["perturb_params"] == info_second["perturb_params"] != {}
    json.dumps(info_first["perturb_params"])  # recordable as-is
    for key in ("agentview_rgb", "wrist_rgb", "proprio"):
        assert np.array_equal(first[key], second[key]), key
    assert first["instruction"] == second["instruction"]
    changed = (
        not np.array_equal(first["agentview_rgb"], clean["agentview_rgb"])
        or first["instruction"] != clean["instruction"]
    )
    assert changed, f"{family} at severity 5 changed nothing"
    assert info_other["perturb_params"] != info_first["perturb_params"]
    # restore: the control arm after a perturbed episode is the clean scene again
    env.set_arm(None)
    restored, _ = env.reset(seed=1, options={"init_state_id": 0})
    assert np.array_equal(restored["agentview_rgb"], clean["agentview_rgb"])


@pytest.mark.parametrize("family", ["texture", "object_color", "background"])
@pytest.mark.parametrize("split", ["id", "ood"])
def test_texture_and_colour_families_leave_task_objects_pixels_unchanged(env, family, split):
    env.set_arm(None)
    clean, _ = env.reset(seed=3, options={"init_state_id": 0})
    mask = relevant_pixels(env)
    assert mask.sum() > 50  # the task's objects are in view
    perturbed, _ = reset(env, family, seed=3, split=split)
    assert np.array_equal(relevant_pixels(env), mask)
    # LIBERO's 4x MSAA (the default rendering) blends the pixels along an edge with what lies
    # behind the object, which the perturbation may change, and the segmentation pass that made
    # the mask is not multisampled: the objects' interior, two pixels in, must be untouched.
    interior = binary_erosion(mask, iterations=2)
    assert interior.sum() > 20
    assert np.array_equal(perturbed["agentview_rgb"][interior], clean["agentview_rgb"][interior])
    assert not np.array_equal(perturbed["agentview_rgb"][~mask], clean["agentview_rgb"][~mask])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distractors_never_occlude_task_objects_at_reset(env, seed):
    env.set_arm(None)
    env.reset(seed=seed, options={"init_state_id": seed})
    mask = relevant_pixels(env)
    env.set_arm(parse_spec("distractor", 5)[0])
    _, info = env.reset(seed=seed, options={"init_state_id": seed})
    placed = [d for d in info["perturb_params"]["distractors"] if d["placed"]]
    assert len(placed) >= 3
    seg = segmentation(env)
    distractor_geoms = [
        g
        for g in range(env.sim.model._model.ngeom)
        if env.sim.model.body_id2name(env.sim.model._model.geom_bodyid[g]).startswith("distractor")
    ]
    assert np.isin(seg, distractor_geoms).sum() > 0  # they are visible
    assert np.array_equal(relevant_pixels(env), mask)  # and hide no pixel of a task object
    state = env.sim.get_state().flatten()
    assert state.shape == env.init_states()[seed].shape  # no joint added: official state fits


@pytest.mark.slow
def test_run_with_every_family_and_a_combination(tmp_path):
    df = run_episodes(
        tmp_path / "all",
        "--policy random --suite libero_spatial --tasks 0 --episodes 1 --max-steps 2 --perturb all"
        " --severity 2 --split ood --image-size 32",
    )
    assert sorted(df["perturbation"]) == sorted(FAMILIES)
    assert df["error"].isna().all() and (df["severity"] == 2).all() and (df["split"] == "ood").all()
    assert all(json.loads(p) for p in df["perturb_params"])
    rows = run_episodes(
        tmp_path / "combo",
        "--policy noop --suite robosuite_lift --episodes 1 --max-steps 2"
        " --perturb none,lighting+camera:severity=4 --image-size 32",
    ).set_index("perturbation")
    # canonical: named against the arm's severity (its highest part's, 4)
    combo = "lighting:severity=3+camera"
    assert set(rows.index) == {"none", combo}
    params = json.loads(rows.loc[combo, "perturb_params"])
    assert set(params) == {"lighting", "camera"} and rows["error"].isna().all()
    assert rows.loc[combo, "severity"] == 4
    assert rows.loc["none", "severity"] == 0


def test_a_non_square_texture_on_robosuites_cube_table_compiles():
    """robosuite's table texture is a cube map; the library's one non-square PNG
    (table_light_wood, 509x339) made MuJoCo refuse the scene. This key drew it (the reference
    lift run recorded the error before the fix); the table now takes it as a 2D texture."""
    env = make_env("robosuite_lift", 0, image_size=32)
    try:
        env.set_arm(parse_spec("texture", 3, "id")[0])
        obs, info = env.reset(seed=1684409658, options={"init_state_id": 13})
        assert info["perturb_params"]["table"] == "table_light_wood"
        assert obs["agentview_rgb"].shape == (32, 32, 3)
    finally:
        env.close()
