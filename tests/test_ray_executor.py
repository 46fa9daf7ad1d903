"""`--executor ray` on a real local Ray instance (started by the run itself with 2 CPUs): the
same rows as the local executor for the same keys, resume, and per-episode errors."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import run_episodes

pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
pytestmark = pytest.mark.sim

RUN = "--policy noop --suite robosuite_lift --max-steps 4 --image-size 32 --perturb none,lighting --workers 2"
SAME = [
    "success",
    "steps",
    "hit_step_cap",
    "success_at_reset",
    "policy_calls",
    "obs0_sha1",
    "perturb_params",
    "init_state_id",
    "seed",
    "error",
]


def test_ray_rows_equal_local_rows(tmp_path):
    local = run_episodes(tmp_path / "local", f"{RUN} --episodes 3").set_index("episode_key")
    ray_rows = run_episodes(tmp_path / "ray", f"{RUN} --episodes 3 --executor ray").set_index("episode_key")
    assert sorted(ray_rows.index) == sorted(local.index)
    pd.testing.assert_frame_equal(ray_rows.loc[local.index, SAME], local[SAME], check_dtype=False)
    # Interrupted Ray runs (SIGKILL, then resume) are tested in test_chaos.py.


def test_ray_records_a_failing_episode_and_goes_on(tmp_path):
    df = run_episodes(
        tmp_path,
        "--policy tests.helpers.faulty_policy:FailSecondEpisode --suite robosuite_lift"
        " --episodes 3 --max-steps 3 --image-size 32 --workers 1 --executor ray",
    )
    assert len(df) == 3
    errors = df.set_index("episode")["error"]
    assert errors[1].startswith("PolicyCallError: policy 'fail_second_episode' failed: RuntimeError")
    assert errors[[0, 2]].isna().all()
