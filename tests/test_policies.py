"""Baseline policies follow the batched slot interface: shapes, ranges, per-slot seeding."""

from __future__ import annotations

import numpy as np
import pytest

from agra_bench.errors import UsageError
from policies import make_policy, policy_names


def test_registry_lists_baselines():
    assert {"random", "noop"} <= set(policy_names())


def test_random_is_seeded_per_slot_and_in_range():
    policy = make_policy("random")
    policy.reset(0, seed=7)
    policy.reset(1, seed=8)
    first = policy.act({}, [0, 1])
    assert first.shape == (2, 1, 7) and first.dtype == np.float32
    assert np.all(np.abs(first) <= 1)
    policy.reset(0, seed=7)
    assert np.array_equal(policy.act({}, [0])[0], first[0])
    assert not np.array_equal(first[0], first[1])


def test_noop_holds_still_with_gripper_open():
    actions = make_policy("noop").act({}, [3, 4, 5])
    assert actions.shape == (3, 1, 7)
    assert np.all(actions[..., :6] == 0) and np.all(actions[..., 6] == -1)


def test_import_path_policies_load_and_bad_ones_fail_clearly():
    policy = make_policy("tests.helpers.faulty_policy:FailSecondEpisode")
    assert policy.spec.observation_keys == ("proprio",)
    with pytest.raises(UsageError, match="cannot load policy"):
        make_policy("tests.helpers.nope:Nothing")
    with pytest.raises(UsageError, match="not a subclass"):
        make_policy("numpy:ndarray")
