"""Stopping a long command cleanly on SIGTERM.

Schedulers stop jobs with SIGTERM (Slurm's preemption and time limit, `docker stop`, the end of
a session), and SIGKILL follows only after a grace period. Python's default is to die at once,
which loses everything since the last save: up to `--save-every` training steps. Inside
`sigterm_requests()` a SIGTERM only raises a flag; the command finishes the unit of work it is
in (a training step), saves, and raises `StoppedBySignal`, which the CLI turns into one line and
exit code 143 (128 + SIGTERM), so callers and scripts still see a run that did not finish.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

EXIT_CODE = 128 + signal.SIGTERM


class StoppedBySignal(Exception):
    """A command stopped on SIGTERM after saving its progress; rerunning it resumes."""


@contextlib.contextmanager
def sigterm_requests() -> Iterator[list[int]]:
    """A list that a SIGTERM appends to while the block runs (check it between units of work).
    Signal handlers belong to the main thread: elsewhere the list stays empty and SIGTERM keeps
    its usual effect."""
    requests: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: requests.append(signum))
    try:
        yield requests
    finally:
        signal.signal(signal.SIGTERM, previous)
