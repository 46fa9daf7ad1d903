"""The scripted oracle succeeds from simulator state alone, and keeps succeeding under every
perturbation family at the highest severity: the perturbations leave the task solvable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agra_bench.envs import make_env
from agra_bench.plan import EpisodeKey
from agra_bench.rollout import run_episode
from policies import make_policy
from policies.scripted import parse_goal
from tests.conftest import run_episodes

pytestmark = pytest.mark.sim


def test_goal_parsing():
    state = {
        "goal": [["In", "soup_1", "basket_1_contain_region"]],
        "objects": {"soup_1": np.zeros(3)},
        "sites": {"basket_1_contain_region": np.ones(3)},
    }
    assert parse_goal(state)[0] == "soup_1" and np.array_equal(parse_goal(state)[1], np.ones(3))
    with pytest.raises(ValueError, match="covers"):
        parse_goal({"goal": [["Open", "drawer_1"]], "objects": {}, "sites": {}})


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
