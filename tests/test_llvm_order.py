"""Resetting an env and then importing diffusers works in one process (agra_bench/envs/llvm_order.py).

Mesa's software EGL loads the system's LLVM with the first render context; triton (imported by
torch._dynamo, which diffusers imports) then crashed the process while loading its own LLVM.
That is a user's evaluation script that makes an env before loading a WAM, and a pytest worker
that ran an env test before a test that imports diffusers (the "order-dependent segfault" of
earlier notes). Each case runs in a fresh interpreter, since a crash must not take the test
process with it; the control case skips the early load, to show the clash is real here.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.sim

SCRIPT = """
import os, sys
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
import agra_bench.envs.base as base
from agra_bench.envs.llvm_order import llvm_already_loaded
from agra_bench.envs.settings import EnvSettings

if sys.argv[1] == "without":
    base.load_triton_llvm_first = lambda: False  # the order before llvm_order.py
env = EnvSettings(image_size=32).make("robosuite_lift", 0)
env.reset(seed=0, options={"init_state_id": 0})
print(f"llvm_mapped={int(llvm_already_loaded())}", flush=True)
import diffusers  # noqa: F401  (torch._dynamo, then triton)
env.close()
print("diffusers imported after a reset", flush=True)
"""


def in_fresh_process(case: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", SCRIPT, case]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


NO_TRITON = importlib.util.find_spec("triton") is None


@pytest.mark.skipif(NO_TRITON, reason="triton is not installed: no second LLVM to clash with")
def test_an_env_reset_then_a_diffusers_import_in_one_process():
    fixed = in_fresh_process("with")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "diffusers imported after a reset" in fixed.stdout
    if "llvm_mapped=1" not in fixed.stdout:
        pytest.skip("the GL driver here brings no LLVM (a GPU's EGL): no clash to show")
    control = in_fresh_process("without")
    if control.returncode == 0:  # another Mesa or triton build may not clash: nothing to show
        pytest.skip("without the early load the import works here too: this machine has no clash")
    assert control.returncode == -signal.SIGSEGV, (control.returncode, control.stderr[-2000:])
    assert "diffusers imported" not in control.stdout


def test_the_early_load_stands_aside_when_it_cannot_help_or_cannot_load(monkeypatch):
    """The branches a fresh interpreter here never takes; ctypes.CDLL is replaced (it would load
    the real library into this test process), and a library that cannot load is simulated."""
    import ctypes
    import types

    from agra_bench.envs import llvm_order

    load = llvm_order.load_triton_llvm_first.__wrapped__  # without the once-per-process cache
    loaded = []

    def fresh_process(cdll) -> None:  # as before any import of triton or any GL driver's LLVM
        monkeypatch.delitem(sys.modules, "triton", raising=False)  # another test may have imported it
        monkeypatch.setattr(llvm_order, "llvm_already_loaded", lambda: False)
        monkeypatch.setattr(ctypes, "CDLL", cdll)

    fresh_process(loaded.append)
    assert load() is (not NO_TRITON)
    assert len(loaded) == (0 if NO_TRITON else 1) and all(p.endswith("libtriton.so") for p in loaded)
    monkeypatch.setattr(llvm_order, "llvm_already_loaded", lambda: True)  # too late: loading would crash
    assert load() is False
    fresh_process(loaded.append)
    monkeypatch.setitem(sys.modules, "triton", types.ModuleType("triton"))  # already imported
    assert load() is False
    fresh_process(loaded.append)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # not installed
    assert load() is False
    assert len(loaded) == (0 if NO_TRITON else 1)  # none of the three loaded anything

    def cannot_load(path):
        raise OSError(f"{path}: cannot open shared object file")

    monkeypatch.undo()
    fresh_process(cannot_load)
    assert load() is False
