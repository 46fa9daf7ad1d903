"""Perturbation families by name. Each family module registers itself with `register_family`."""

from __future__ import annotations

import importlib

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
    for module in FAMILY_MODULES:
        importlib.import_module(module)
    return FAMILIES
