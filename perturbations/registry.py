"""Perturbation families by name. Each family module registers itself with `register_family`.

Your own families: put them in modules that call `register_family` and list the modules in
AGRA_BENCH_PERTURBATION_MODULES (comma-separated import paths); the runner and its workers
import them like the built-in ones.
"""

from __future__ import annotations

import importlib
import os

from perturbations.base import NoPerturbation, Perturbation

FAMILIES: dict[str, type[Perturbation]] = {"none": NoPerturbation}

# Modules whose import registers families (one module per family, see the perturbation issue).
FAMILY_MODULES: tuple[str, ...] = (
    "perturbations.distractor",
    "perturbations.lighting",
    "perturbations.camera",
    "perturbations.texture",
    "perturbations.background",
    "perturbations.object_color",
    "perturbations.noise",
    "perturbations.robot_init",
    "perturbations.language",
)


def register_family(cls: type[Perturbation]) -> type[Perturbation]:
    FAMILIES[cls.family] = cls
    return cls


def families() -> dict[str, type[Perturbation]]:
    extra = [m.strip() for m in os.environ.get("AGRA_BENCH_PERTURBATION_MODULES", "").split(",") if m.strip()]
    for module in (*FAMILY_MODULES, *extra):
        importlib.import_module(module)
    return FAMILIES
