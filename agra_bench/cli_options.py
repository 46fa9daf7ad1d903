"""Command-line options generated from dataclass fields.

A command's configuration lives in a dataclass (`RunConfig`, `CollectJob`, `DiagnoseJob`,
`TrainSettings`, and `EnvSettings` for every command that builds an env): each field with a
`help` in its metadata is an option of the commands that take that dataclass, with the field's
name, type and default. So an option is written once, where it is validated, and a new field
(a new env setting, say) reaches every such command with no edit of the CLI.

typer reads a command's options from its signature and type hints; `options_from` extends both.
The command receives the generated options in `**options`; `values_for(cls, options)` picks a
dataclass's own.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import MISSING, Field, fields
from typing import Annotated, Any

import typer


def option_fields(cls: type) -> list[Field]:
    """The fields of `cls` that are command-line options (those with a `help`)."""
    return [f for f in fields(cls) if "help" in f.metadata]


def _default(f: Field, policy: bool) -> Any:
    """The option's default: None for a field the policy may decide (`from_policy`, in a command
    that loads a policy: it tells the default apart from a value given), else the field's."""
    if policy and f.metadata.get("from_policy"):
        return None
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return inspect.Parameter.empty  # required


def options_from(*classes: type, policy: bool = True):
    """Decorator: add one keyword option per option field of `classes` (first class first; a
    name the command or an earlier class already has is skipped) to the command's signature.
    `policy=False`: the command loads no policy, so `from_policy` fields take their defaults."""

    def decorate(command):
        own_hints = typing.get_type_hints(command, include_extras=True)  # evaluated, typer options kept
        signature = inspect.signature(command)
        kept = [
            p.replace(annotation=own_hints[p.name])
            for p in signature.parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        taken = {p.name for p in kept}
        added = []
        for cls in classes:
            hints = typing.get_type_hints(cls)
            for f in option_fields(cls):
                if f.name in taken:
                    continue
                kind = hints[f.name]
                if policy and f.metadata.get("from_policy"):
                    kind = kind | None
                added.append(
                    inspect.Parameter(
                        f.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=_default(f, policy),
                        annotation=Annotated[kind, typer.Option(help=f.metadata["help"])],
                    )
                )
                taken.add(f.name)
        # Python wants required keyword parameters before none of the defaulted ones only for
        # positional ones; keyword-only parameters may come in any order.
        command.__signature__ = signature.replace(parameters=[*kept, *added])
        command.__annotations__ = {**own_hints, **{p.name: p.annotation for p in added}}
        return command

    return decorate


def values_for(cls: type, options: dict[str, Any], drop_none: bool = False) -> dict[str, Any]:
    """The entries of `options` that are option fields of `cls`; `drop_none`: leave out those
    given as None, so that the dataclass's own default applies (a `from_policy` field of a
    command that has no policy to ask)."""
    names = {f.name for f in option_fields(cls)}
    return {k: v for k, v in options.items() if k in names and not (drop_none and v is None)}
