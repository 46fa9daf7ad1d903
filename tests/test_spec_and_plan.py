"""Pure-Python parts: spec parsing, protocol data, episode planning, config validation."""

from __future__ import annotations

import pytest

from agra_bench.config import RunConfig
from agra_bench.envs.settings import EnvSettings
from agra_bench.errors import UsageError, did_you_mean
from agra_bench.plan import episode_seed, plan_episodes
from agra_bench.protocol import OPENPI_PROTOCOL, Protocol, get_protocol
from perturbations.spec import parse_spec


def test_protocol_caps_are_the_standard_libero_ones():
    caps = {
        s: OPENPI_PROTOCOL.step_cap(s)
        for s in ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90")
    }
    assert caps == {
        "libero_spatial": 220,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
        "libero_90": 400,
    }
    assert OPENPI_PROTOCOL.settle_steps == 10
    assert OPENPI_PROTOCOL.settle_action == (0, 0, 0, 0, 0, 0, -1)


def test_protocol_validates_on_construction():
    with pytest.raises(UsageError, match="settle_action"):
        Protocol("bad", 10, (0.0,), {"libero_10": 5}, 50, 20)
    with pytest.raises(UsageError, match="protocol 'liber'.*did you mean 'libero'"):
        get_protocol("liber")


def test_did_you_mean():
    assert did_you_mean("camra", ["camera", "lighting"]) == " (did you mean 'camera'?)"
    assert did_you_mean("zzz", ["camera"]) == ""


def test_parse_none_is_one_control_arm():
    arms = parse_spec("none")
    assert [a.name for a in arms] == ["none"]
    assert arms[0].build().apply(None, None, {}) == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("camra", "unknown perturbation 'camra'"),
        ("none:severity=9", "bad severity '9'"),
        ("none+none", "cannot be combined"),
        ("", "empty --perturb"),
        ("none:foo", "expected key=value"),
    ],
)
def test_bad_specs_get_one_line_errors(spec, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_spec(spec)
    assert "\n" not in str(info.value)


def test_severity_and_split_are_validated():
    with pytest.raises(UsageError, match="bad --severity 9"):
        parse_spec("none", severity=9)
    with pytest.raises(UsageError, match="bad --split 'test'"):
        parse_spec("none", split="test")


def test_plan_uses_init_state_k_and_seeds_shared_across_arms(tmp_path):
    config = RunConfig(policy="random", suite="robosuite_lift", episodes=60, out=tmp_path)
    keys = plan_episodes(config)
    assert [k.episode for k in keys] == list(range(60))
    assert [k.init_state_id for k in keys] == [e % 50 for e in range(60)]
    assert len({k.id for k in keys}) == 60
    assert keys[3].seed == episode_seed(0, 0, 3)
    assert episode_seed(0, 0, 3) != episode_seed(1, 0, 3) != episode_seed(0, 0, 4)


def test_run_id_is_stable_and_ignores_workers_and_video(tmp_path):
    a = RunConfig(policy="random", suite="robosuite_lift", episodes=2, out=tmp_path, workers=1)
    b = RunConfig(policy="random", suite="robosuite_lift", episodes=2, out=tmp_path, workers=2, video=1)
    c = RunConfig(policy="random", suite="robosuite_lift", episodes=3, out=tmp_path)
    assert a.run_id() == b.run_id() != c.run_id()
    severities = {
        RunConfig(
            policy="random", suite="robosuite_lift", perturb="lighting", severity=s, out=tmp_path
        ).run_id()
        for s in (1, 5)
    }
    assert len(severities) == 2  # arm names omit the arm's severity; the run id must not
    spellings = {
        RunConfig(policy="random", suite="robosuite_lift", perturb=p, severity=s, out=tmp_path).run_id()
        for p, s in (("lighting", 4), ("lighting:severity=4", 3), ("lighting:severity=4", 1))
    }
    assert len(spellings) == 1  # one condition, one run directory
    assert a.step_cap() == 300


def test_env_settings_reach_run_and_its_identity_from_one_place(tmp_path):
    """`run`'s env options are built from EnvSettings' fields (cli_options.options_from), so a new
    field with a help text is an option with no edit to cli.py or config.py; a setting outside
    the condition columns joins the identity only when it is not its default, so the run ids
    of runs that leave it alone do not move."""
    import typer

    from agra_bench import cli
    from agra_bench.cli_options import option_fields

    run_options = {p.name for p in typer.main.get_command(cli.app).commands["run"].params}
    fields = {f.name for f in option_fields(EnvSettings)}
    assert (
        fields == {"image_size", "render_quality", "protocol", "max_steps", "physics"}
        and fields <= run_options
    )
    plain = RunConfig(policy="random", suite="robosuite_lift", episodes=2, out=tmp_path)
    assert not [k for k in plain.identity() if k.startswith("env.")]
    other = RunConfig(
        policy="random",
        suite="robosuite_lift",
        episodes=2,
        out=tmp_path,
        env=EnvSettings(render_images=False),
    )
    assert other.identity()["env.render_images"] is False and other.run_id() != plain.run_id()
    small = RunConfig(
        policy="random", suite="robosuite_lift", episodes=2, out=tmp_path, env=EnvSettings(image_size=64)
    )
    assert small.condition()["image_size"] == 64 and small.run_id() != plain.run_id()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"episodes": 0}, "bad --episodes 0"),
        ({"workers": 0}, "bad --workers 0"),
        ({"env": {"max_steps": 0}}, "bad --max-steps 0"),
        ({"executor": "slurm"}, "unknown executor 'slurm'"),
        ({"tasks": "3"}, "task id 3 out of range for robosuite_lift; valid: 0-0"),
        ({"tasks": "x"}, "bad --tasks value 'x'"),
        ({"policy": "randon"}, "did you mean 'random'"),
        ({"suite": "robosuite_lfit"}, "did you mean 'robosuite_lift'"),
        ({"env": {"render_quality": "ultra"}}, "unknown render quality 'ultra'"),
    ],
)
def test_config_rejects_bad_values(tmp_path, kwargs, message):
    base = {"policy": "random", "suite": "robosuite_lift", "out": tmp_path}
    with pytest.raises(UsageError, match=message):
        RunConfig(**{**base, **kwargs})


def test_a_family_that_cannot_edit_a_suite_is_refused_when_the_spec_is_parsed(tmp_path):
    with pytest.raises(
        UsageError, match="'distractor' does not support robosuite suites such as 'robosuite_lift'"
    ):
        RunConfig(policy="random", suite="robosuite_lift", perturb="none,distractor", out=tmp_path)
    names = [arm.name for arm in parse_spec("none,all", 3, "id", "robosuite_lift")]
    assert "distractor" not in names and "lighting" in names  # `all` means all that apply
    assert "distractor" in [arm.name for arm in parse_spec("all", 3, "id", "libero_object")]


def test_a_checkpoint_retrained_in_place_gets_a_new_run_id(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights of step 1000")
    (folder / "config.json").write_text("{}")
    first = RunConfig(policy="random", suite="robosuite_lift", checkpoint=str(folder), out=tmp_path).run_id()
    assert (
        RunConfig(policy="random", suite="robosuite_lift", checkpoint=str(folder), out=tmp_path).run_id()
        == first
    )
    (folder / "model.safetensors").write_bytes(b"weights of step 4000")
    again = RunConfig(policy="random", suite="robosuite_lift", checkpoint=str(folder), out=tmp_path).run_id()
    assert again != first
    moved = folder.rename(tmp_path / "elsewhere")  # the same weights under another path
    assert (
        RunConfig(policy="random", suite="robosuite_lift", checkpoint=str(moved), out=tmp_path).run_id()
        == again
    )
