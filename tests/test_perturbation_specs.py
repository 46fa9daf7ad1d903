"""Perturbation families without a simulator: pools, ranges, parsing, image and text transforms."""

from __future__ import annotations

import numpy as np
import pytest

from agra_bench.errors import UsageError
from perturbations import families, parse_spec
from perturbations.language import paraphrase
from perturbations.noise import Noise
from tests.conftest import PERTURBATION_FAMILIES

FAMILIES = PERTURBATION_FAMILIES


def test_every_family_module_registers_its_family():
    from perturbations.registry import FAMILY_MODULES

    built_in = [name for name, cls in families().items() if cls.__module__ in FAMILY_MODULES]
    assert built_in == FAMILIES and len(built_in) == len(FAMILY_MODULES)
    assert [a.name for a in parse_spec("all")] == [f for f in families() if f != "none"]
    assert [a.name for a in parse_spec("none,all")] == list(families())


@pytest.mark.parametrize("family", FAMILIES)
def test_id_and_ood_pools_are_disjoint_and_not_empty(family):
    pools = families()[family].pools()
    assert pools["id"] and pools["ood"]
    assert not set(pools["id"]) & set(pools["ood"])


@pytest.mark.parametrize("family", FAMILIES)
def test_ranges_are_documented_for_every_severity(family):
    for severity in range(1, 6):
        assert families()[family].ranges(severity)


def test_spec_grammar():
    arms = parse_spec("none,lighting+camera:severity=2", severity=4, split="ood")
    assert [a.name for a in arms] == ["none", "lighting+camera:severity=2"]
    combo = arms[1]
    assert [(p.family, p.severity) for p in combo.parts] == [("lighting", 4), ("camera", 2)]
    assert combo.severity == 4 and combo.split == "ood"
    assert arms[0].severity == 0  # the control arm has no severity, whatever --severity says
    assert combo.build().name == "lighting+camera"
    assert parse_spec("camera:severity=3", severity=3)[0].name == "camera"  # canonical form
    # One condition, one name, whatever the spelling: the arm's severity is its highest part's.
    spelled = [parse_spec(s, severity=d)[0] for s, d in (("camera", 4), ("camera:severity=4", 3))]
    assert {(a.name, a.severity) for a in spelled} == {("camera", 4)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("camra", "unknown perturbation 'camra' (did you mean 'camera'?)"),
        ("camera:severity=9", "bad severity '9'"),
        ("lighting:color=red", "takes no parameters"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_spec(spec)


def test_paraphrases_are_seeded_and_split_specific():
    text = "put both the alphabet soup and the tomato sauce in the basket"
    a = paraphrase(text, "id", 5, np.random.default_rng(1))
    assert a == paraphrase(text, "id", 5, np.random.default_rng(1))
    ood = paraphrase(text, "ood", 5, np.random.default_rng(1))
    assert a[0] != text and ood[0] != a[0]
    assert "place both this alphabet soup" in a[0] and "set both that alphabet soup" in ood[0]
    two_clauses = paraphrase("open the top drawer and put the bowl inside", "id", 5, np.random.default_rng(0))
    assert "reorder" in two_clauses[1] and "pull open" in two_clauses[0] and "place" in two_clauses[0]


@pytest.mark.parametrize("split", ["id", "ood"])
def test_noise_changes_only_the_third_person_image(split):
    noise = Noise(severity=5, split=split)
    applied = noise.apply(None, np.random.default_rng(0), {})
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    obs = {"agentview_rgb": image, "wrist_rgb": image.copy(), "proprio": np.zeros(8), "instruction": "x"}
    out = noise.transform_observation(obs, np.random.default_rng(2), 0, applied)
    again = noise.transform_observation(obs, np.random.default_rng(2), 0, applied)
    assert np.array_equal(out["agentview_rgb"], again["agentview_rgb"])
    assert not np.array_equal(out["agentview_rgb"], image)
    assert np.array_equal(out["wrist_rgb"], image) and out["agentview_rgb"].dtype == np.uint8


def test_gaussian_noise_of_a_step_depends_on_the_step_alone():
    """Render on demand transforms only some steps' frames: a frame's noise must not depend on
    which other frames were transformed before it."""
    noise = Noise(severity=3, split="id")
    applied = {**noise.apply(None, np.random.default_rng(0), {}), "kind": "gaussian"}
    image = np.full((32, 32, 3), 128, np.uint8)
    obs = {"agentview_rgb": image, "wrist_rgb": image, "proprio": np.zeros(8), "instruction": "x"}
    first = noise.transform_observation(obs, np.random.default_rng(5), 3, applied)["agentview_rgb"]
    for step in range(3):
        noise.transform_observation(obs, np.random.default_rng(5), step, applied)
    again = noise.transform_observation(obs, np.random.default_rng(5), 3, applied)["agentview_rgb"]
    other = noise.transform_observation(obs, np.random.default_rng(5), 4, applied)["agentview_rgb"]
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    blind = {"proprio": np.zeros(8), "instruction": "x"}  # no image rendered at this step
    assert noise.transform_observation(blind, np.random.default_rng(5), 5, applied) == blind


def test_magnitudes_are_linear_in_severity_and_keep_integers_integers():
    from perturbations.magnitude import Band, Scaled

    assert Scaled(-11, offset=60).at(3) == 27 and isinstance(Scaled(-11, offset=60).at(3), int)
    assert Scaled(0.2, at_most=1.0).at(5) == 1.0 and Scaled(0.2, at_most=1.0).at(2) == 0.4
    assert Band(0.07, 0.14).at(5) == (0.07 * 5, 0.14 * 5)
    assert Band(0.5, 1.0).describe(2) == "± [1, 2]" and Band(1.5, 3, signed=False).describe(1) == "[1.5, 3]"
    with pytest.raises(ValueError, match="bad band"):
        Band(0.3, 0.1)


@pytest.mark.parametrize("family", FAMILIES)
def test_sampled_values_stay_in_the_documented_band(family):
    """What a family draws comes from its magnitude table: `noise` records its table values,
    and every Band's draws of a fresh generator fall inside the band at each severity."""
    from perturbations.magnitude import Band
    from perturbations.scene import uniform_band

    cls = families()[family]
    for severity in range(1, 6):
        instance = cls(severity=severity)
        for name, magnitude in cls.MAGNITUDES.items():
            if isinstance(magnitude, Band):
                low, high = instance.magnitude(name)
                draws = [abs(uniform_band(np.random.default_rng(i), low, high)) for i in range(20)]
                assert all(low <= d <= high for d in draws)
            assert cls.ranges(severity)[name] == magnitude.describe(severity)


def test_the_docs_severity_column_is_each_magnitude_table():
    """docs/perturbations.md quotes every table (severity 1 → 5); a changed coefficient fails here
    until the docs say the same."""
    from perturbations.magnitude import severity_span
    from tests.conftest import REPO

    text = (REPO / "docs" / "perturbations.md").read_text()
    for name, cls in families().items():
        if cls.MAGNITUDES:
            row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
            assert row.rstrip(" |").endswith(severity_span(cls.MAGNITUDES)), name
