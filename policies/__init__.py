"""Policies evaluated by agra-bench, behind the interface in `policies.base`."""

from policies.base import Policy, PolicySpec
from policies.registry import make_policy, policy_names, register_policy

__all__ = ["Policy", "PolicySpec", "make_policy", "policy_names", "register_policy"]
