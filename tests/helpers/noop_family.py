"""A perturbation family that changes nothing: the integrity check must flag it. Loaded into a
run through AGRA_BENCH_PERTURBATION_MODULES=tests.helpers.noop_family (the plug-in hook)."""

from __future__ import annotations

from perturbations.base import Perturbation
from perturbations.registry import register_family


@register_family
class NoOpFamily(Perturbation):
    family = "noop_family"
    description = "claims to perturb, changes nothing (a test double for the integrity check)"

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {"id": ["nothing"], "ood": ["still_nothing"]}
