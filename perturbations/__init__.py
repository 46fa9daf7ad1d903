"""Task-irrelevant perturbations: one module per family, a registry and the spec parser."""

from perturbations.base import Perturbation
from perturbations.registry import families, register_family
from perturbations.spec import Arm, parse_spec

__all__ = ["Arm", "Perturbation", "families", "parse_spec", "register_family"]
