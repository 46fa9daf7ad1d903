"""User-facing errors: one line, naming the bad value and the valid ones.

The CLI turns a `UsageError` into a single red line and exit code 2, never a traceback.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path


class UsageError(ValueError):
    """Bad input from the user (unknown name, value out of range, missing dependency)."""


def did_you_mean(value: str, valid: Iterable[str]) -> str:
    """Return ' (did you mean X?)' when a valid name is close to `value`, else ''."""
    matches = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def unknown(kind: str, value: str, valid: Iterable[str]) -> UsageError:
    """Build the standard error for an unknown name: bad value, suggestion, valid names."""
    valid = list(valid)
    return UsageError(f"unknown {kind} '{value}'{did_you_mean(value, valid)}; valid: {', '.join(valid)}")


class PolicyCallError(RuntimeError):
    """A policy's `act` raised or returned unusable actions; the episode ends with this error.

    `error_type` says whose fault it was: "policy", or what the policy itself reported (an
    openpi client's lost server is "connection")."""

    def __init__(self, message: str, error_type: str = "policy") -> None:
        super().__init__(message)
        self.error_type = error_type


def error_type_of(exc: BaseException, default: str) -> str:
    """The `error_type` column for an exception: its own `error_type` if it carries one."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    return getattr(exc, "error_type", None) or default


def check_exists(option: str, path: str | None, valid: str) -> None:
    """Refuse a path option that names nothing."""
    if path is not None and not Path(path).exists():
        raise UsageError(f"--{option} {path} does not exist; valid: {valid}")


def check_int(option: str, value: int | None, low: int, high: int | None = None) -> None:
    """Refuse an integer option outside [low, high] in the standard one-line form (None passes:
    the option was not given)."""
    if value is None or (value >= low and (high is None or value <= high)):
        return
    valid = f"an integer >= {low}" if high is None else f"an integer in {low}-{high}"
    raise UsageError(f"bad --{option} {value}; valid: {valid}")


def check_choice(option: str, value: str, valid: Iterable[str]) -> None:
    """Refuse a value that is not one of `valid`, with a did-you-mean."""
    valid = list(valid)
    if value not in valid:
        raise UsageError(f"bad --{option} '{value}'{did_you_mean(value, valid)}; valid: {', '.join(valid)}")


def check_writable_file(path: Path, option: str = "out") -> None:
    """UsageError naming `path` unless its folder exists (or can be created) and is writable."""
    try:
        check_writable(path.parent if str(path.parent) else Path("."), option)
    except UsageError:
        raise UsageError(
            f"cannot write --{option} {path}: its folder cannot be created or written; "
            "valid: a file path in a writable folder"
        ) from None


def check_writable(out: Path, option: str = "out") -> None:
    """UsageError naming the path unless `out` is a writable folder or could be made in one.

    It creates nothing: a refused command must leave no empty folder behind, and every writer
    makes its own folder when it first writes (records, report, train, collect)."""
    valid = "a writable folder (existing or new)"
    if out.exists():
        if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
            raise UsageError(f"--{option} {out} is not a writable directory; valid: {valid}")
        return
    nearest = out.parent
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        raise UsageError(f"cannot create --{option} {out}: {nearest} is not a folder; valid: {valid}")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise UsageError(f"cannot create --{option} {out}: {nearest} is not writable; valid: {valid}")
