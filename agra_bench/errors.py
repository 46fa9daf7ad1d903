"""User-facing errors: one line, naming the bad value and the valid ones.

The CLI turns a `UsageError` into a single red line and exit code 2, never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
