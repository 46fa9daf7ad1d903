"""The `openpi` protocol against openpi's own LIBERO loop (agra_bench/verify): real scenes, the
real `OffScreenRenderEnv` driven as openpi's example drives it, in its own process, and the
real `openpi-client` building the example's request (.venv-openpi).

CI-sized: one task per suite, init states 0-3 (our env visits them in reverse order), 64 px,
two fixed actions after settling.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from agra_bench.envs.settings import EnvSettings
from agra_bench.scenes import generate
from agra_bench.scenes.tables import POSE_COLUMNS, TABLE_DIR, fixture_poses, provenance, table_path
from agra_bench.suites import LIBERO_SUITES, libero_benchmark
from agra_bench.verify.compare import OPENPI_PYTHON, PARTS, passed, verify
from agra_bench.verify.job import VerifyJob
from perturbations.spec import parse_spec
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(
    not OPENPI_PYTHON.exists(), reason="run ./scripts/install.sh: it makes .venv-openpi"
)

SMALL = {"image_size": 64, "steps": 2}
TASK_OF_SUITE = {"libero_spatial": 1, "libero_object": 2, "libero_goal": 3, "libero_10": 4, "libero_90": 5}


def failed(checks) -> list[str]:
    """What differs, one line per compared part that is not identical."""
    return [f"task {c.task_id} ep {c.episode} {c.part}: {c.detail}" for c in checks if c.identical is False]


@pytest.mark.slow
@pytest.mark.parametrize("suite", LIBERO_SUITES)
def test_openpi_protocol_is_openpi_loop_scene_for_scene(suite):
    job = VerifyJob(suite=suite, tasks=str(TASK_OF_SUITE[suite]), episodes="0-3", **SMALL)
    checks = verify(job, EnvSettings(image_size=job.image_size, protocol="openpi", render_quality="standard"))
    assert {c.part for c in checks} == set(PARTS) and {c.episode for c in checks} == {0, 1, 2, 3}
    assert failed(checks) == [] and all(c.identical for c in checks) and passed(checks)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["libero", "lerobot"])
def test_libero_and_lerobot_protocols_are_their_loops_downstream_of_the_fixtures(protocol):
    """LIBERO's metric.py never seeds its envs and lerobot's fixtures follow each sub-env's
    history, so fixtures are `n/a` (their loops get ours); state, images, proprio and the
    rollout must be identical, and the old rule must fail."""
    job = VerifyJob(suite="libero_goal", tasks="2", episodes="0,5", **SMALL)
    checks = verify(job, EnvSettings(image_size=job.image_size, protocol=protocol))
    not_compared = {c.part for c in checks if c.identical is None}
    assert not_compared == {"fixtures", "request"} and failed(checks) == [] and passed(checks)
    if protocol == "libero":
        old = verify(job, EnvSettings(image_size=job.image_size, protocol="libero_idseed"))
        assert {c.part for c in old if c.identical is False} >= {"images", "proprio", "rollout"}
        assert not passed(old)


def test_a_wrong_seed_in_the_source_loop_fails_verification():
    job = VerifyJob(suite="libero_spatial", tasks="0", episodes="1", reference_seed=8, **SMALL)
    checks = {c.part: c for c in verify(job, EnvSettings(image_size=job.image_size))}
    assert not checks["fixtures"].identical and "body_pos" in checks["fixtures"].detail
    assert not checks["images"].identical and not checks["request"].identical


@pytest.mark.slow
def test_cli_passes_the_openpi_protocol_and_fails_the_old_scene_rule_with_what_differs():
    args = ["verify-protocol", "--suite", "libero_goal", "--tasks", "0", "--episodes", "2", "--steps", "1",
            "--image-size", "48"]  # fmt: skip
    same = run_cli(*args)
    assert same.returncode == 0, same.stdout[-2000:] + same.stderr[-2000:]
    assert "6/6 checks identical" in same.stdout
    old = run_cli(*args, "--protocol", "openpi_idseed", "--render-quality", "tuned")
    assert old.returncode == 1, old.stdout[-2000:] + old.stderr[-2000:]
    assert "episode 2 fixtures: body_pos: max |difference|" in old.stdout
    assert "episode 2 images: step 0 agentview:" in old.stdout


def test_perturbation_arms_start_from_the_protocol_clean_scene():
    """The paired design: an arm differs from the clean arm by its perturbation alone, so the
    fixtures of episode k stand where the clean arm (and openpi) has them."""
    suite, task_id, k = "libero_spatial", 0, 3
    expected = fixture_poses("openpi", suite, task_id, k)
    assert expected, "libero_spatial task 0 has fixtures (a cabinet and a stove)"
    env = EnvSettings(image_size=32, render_images=False).make(suite, task_id)
    try:
        for arm in [None, *parse_spec("lighting,texture,distractor", 3, "id", suite)]:
            env.set_arm(arm)
            env.reset(seed=11, options={"init_state_id": k})
            model = env.sim.model
            for body, pose in expected.items():
                index = model.body_name2id(body)
                got = np.concatenate([model.body_pos[index], model.body_quat[index]])
                assert np.array_equal(got, pose), (getattr(arm, "name", "none"), body, got, pose)
    finally:
        env.close()


def test_the_shipped_tables_cover_every_task_and_say_where_they_come_from():
    for suite in LIBERO_SUITES:
        path = table_path("openpi", suite)
        assert path.exists(), f"{path}: python -m agra_bench.scenes.generate --suite {suite}"
        frame = pq.read_table(path).to_pandas()
        info = provenance("openpi", suite)
        assert info["source"].startswith("openpi examples/libero/main.py") and info["versions"]["numpy"]
        if len(frame):  # libero_object's scenes have no fixtures
            assert set(frame["init_state_id"]) == set(range(50))
            assert frame[POSE_COLUMNS].notna().all().all()
    spatial = pq.read_table(table_path("openpi", "libero_spatial")).to_pandas()
    assert set(spatial["task_id"]) == set(range(libero_benchmark("libero_spatial").n_tasks))


def test_the_generator_reproduces_the_shipped_table(tmp_path, monkeypatch):
    """Regenerating a task gives the shipped poses bit for bit (its first 3 resets, to stay short)."""
    monkeypatch.setattr(generate.libero_benchmark("libero_spatial"), "get_task_init_states",
                        lambda task_id: [None] * 3)  # fmt: skip
    rows = generate.task_rows("openpi", "libero_spatial", 2)
    shipped = pq.read_table(table_path("openpi", "libero_spatial")).to_pandas()
    shipped = shipped[(shipped.task_id == 2) & (shipped.init_state_id < 3)]
    got = {(r["init_state_id"], r["body"]): [r[c] for c in POSE_COLUMNS] for r in rows}
    want = {(r.init_state_id, r.body): [getattr(r, c) for c in POSE_COLUMNS] for r in shipped.itertuples()}
    assert got == want and len(got) >= 3
    assert TABLE_DIR.is_dir()
