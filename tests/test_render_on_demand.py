"""Render on demand: cameras render only where an image is seen, and nothing else changes.

The equivalence tests run the real CLI twice, on demand and with `--render-every-step`, and
compare every input the policy received (SHA-1 of images and proprio, logged by the test
policy) and the rows; the noise arm checks that per-step image corruptions keep their values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agra_bench.envs import make_env
from agra_bench.plan import EpisodeKey
from agra_bench.rollout import EpisodeRun
from tests.conftest import run_episodes

ROW_COLUMNS = [
    "episode",
    "perturbation",
    "success",
    "steps",
    "obs0_sha1",
    "policy_calls",
    "perturb_params",
    "error",
]


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["perturbation", "episode"]).reset_index(drop=True)[ROW_COLUMNS]


@pytest.mark.parametrize(
    "policy", ["tests.helpers.image_policy:ImageMeanPolicy", "random"], ids=["chunked-image", "blind"]
)
@pytest.mark.slow
def test_on_demand_gives_the_inputs_and_rows_of_rendering_every_step(tmp_path, policy):
    args = f"--policy {policy} --suite libero_object --tasks 0 --episodes 2 --max-steps 13 --image-size 48"
    args += " --perturb none,noise"
    logs = {mode: tmp_path / f"{mode}.log" for mode in ("demand", "every")}
    demand = run_episodes(tmp_path / "demand", args, env={"AGRA_TEST_INPUT_LOG": str(logs["demand"])})
    every = run_episodes(
        tmp_path / "every", args + " --render-every-step", env={"AGRA_TEST_INPUT_LOG": str(logs["every"])}
    )
    pd.testing.assert_frame_equal(_rows(demand), _rows(every))
    assert demand["error"].isna().all() and (demand["steps"] == 13).all()
    if policy != "random":
        lines = logs["demand"].read_text().splitlines()
        assert len(lines) == demand["policy_calls"].sum() == 12  # 3 calls of 5 actions per episode
        assert lines == logs["every"].read_text().splitlines()


def _key(episode: int = 0) -> EpisodeKey:
    return EpisodeKey("libero_object", 0, episode, episode, 1234 + episode, "none", 0, "id")


def test_only_the_policys_cameras_render_and_only_at_chunk_ends():
    env = make_env("libero_object", 0, image_size=32)
    try:
        blind = EpisodeRun(env, _key(), policy_keys=("proprio",))
        renders = {k: g.renders for k, g in env._gates.items()}
        assert set(blind.obs) >= {"agentview_rgb", "wrist_rgb"}  # the first observation has both
        blind.apply(np.zeros((8, 7)), 8)
        assert {k: g.renders for k, g in env._gates.items()} == renders  # nothing rendered
        assert "agentview_rgb" not in blind.obs and "proprio" in blind.obs

        seeing = EpisodeRun(env, _key(1), policy_keys=("agentview_rgb", "proprio"))
        before = {k: g.renders for k, g in env._gates.items()}
        seeing.apply(np.zeros((8, 7)), 4)
        after = {k: g.renders for k, g in env._gates.items()}
        assert after["agentview_rgb"] - before["agentview_rgb"] == 1  # the 4th step's frame only
        assert after["wrist_rgb"] == before["wrist_rgb"]
        assert "agentview_rgb" in seeing.observation(("agentview_rgb",))
        with pytest.raises(KeyError):  # a camera the policy did not ask for was not rendered
            seeing.observation(("wrist_rgb",))
    finally:
        env.close()
