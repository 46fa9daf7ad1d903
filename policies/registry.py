"""Policy registry: names to factories, filled by decorators in each policy module.

Workers rebuild the policy from (name, options) inside their own process, so policies never
cross a process boundary by pickling.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from agra_bench.errors import UsageError, unknown
from policies.base import Policy

POLICIES: dict[str, Callable[..., Policy]] = {}

# Modules whose import registers policies.
POLICY_MODULES = ("policies.baselines", "policies.scripted")
# Policies whose module needs an optional extra: imported only when asked for by name.
LAZY_POLICIES = {"wam": ("policies.wam.policy", "wam"), "agra": ("policies.wam.policy", "wam")}
# Policies named by an address: scheme prefix -> (module, class); the address is the `url` option.
ADDRESS_POLICIES = {"openpi://": ("policies.openpi_client", "OpenPIClient")}


def register_policy(name: str) -> Callable[[type[Policy]], type[Policy]]:
    def decorate(cls: type[Policy]) -> type[Policy]:
        POLICIES[name] = cls
        return cls

    return decorate


def _load_all() -> None:
    for module in POLICY_MODULES:
        importlib.import_module(module)


def policy_names() -> list[str]:
    _load_all()
    return list(dict.fromkeys([*POLICIES, *LAZY_POLICIES]))


def policy_descriptions() -> dict[str, str]:
    """Name -> first docstring line, without importing optional extras (torch for wam/agra)."""
    _load_all()
    described = {name: (cls.__doc__ or "").strip().splitlines()[0] for name, cls in POLICIES.items()}
    for name, (_, extra) in LAZY_POLICIES.items():
        described.setdefault(
            name,
            f"world action model{' with AGRA alignment' if name == 'agra' else ''} "
            f"(needs --checkpoint and the '{extra}' extra)",
        )
    described["openpi://HOST:PORT[,HOST:PORT...]"] = (
        "any policy server speaking openpi's websocket protocol (several: a pool)"
    )
    described["package.module:Class"] = "your own subclass of policies.base.Policy"
    return described


def resolve_policy_name(name: str) -> Callable[..., Policy]:
    """The factory for a registered name, or for 'package.module:ClassName' (a user's own policy).

    UsageError with suggestions for an unknown name or an import path that does not load."""
    _load_all()
    for prefix, (module, attr) in ADDRESS_POLICIES.items():
        if name.startswith(prefix):
            return getattr(importlib.import_module(module), attr)
    if name in LAZY_POLICIES and name not in POLICIES:
        module, extra = LAZY_POLICIES[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(
                f"policy '{name}' needs the '{extra}' extra ({exc.name} is missing): "
                f"pip install -e '.[{extra}]'"
            ) from None
    if name in POLICIES:
        return POLICIES[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(
                f"cannot load policy '{name}': {exc}; valid: a registered name "
                f"({', '.join(POLICIES)}), package.module:Class or openpi://HOST:PORT"
            ) from None
        if not (isinstance(factory, type) and issubclass(factory, Policy)):
            raise UsageError(f"'{name}' is not a subclass of policies.base.Policy")
        return factory
    raise unknown("policy", name, [*policy_names(), "package.module:ClassName", "openpi://HOST:PORT"])


def policy_options(name: str, **given) -> dict:
    """The constructor options of policy `name` from run options (`checkpoint`, `replan_steps`,
    ...; None = not given): an address policy gets its address as `url`; an option the policy
    does not take is a UsageError naming it."""
    import inspect

    factory = resolve_policy_name(name)
    options = {"url": name} if any(name.startswith(p) for p in ADDRESS_POLICIES) else {}
    accepted = inspect.signature(factory).parameters
    for key, value in given.items():
        if value is None:
            continue
        if key not in accepted:
            flag = key.replace("_", "-")
            raise UsageError(
                f"policy '{name}' takes no --{flag} (got {value}); valid: leave --{flag} out, "
                f"or use a policy that takes it"
            )
        options[key] = value
    return options


def make_policy(name: str, **options) -> Policy:
    """Build a policy by registered name, import path or address."""
    if any(name.startswith(p) for p in ADDRESS_POLICIES):
        options.setdefault("url", name)
    return resolve_policy_name(name)(**options)
