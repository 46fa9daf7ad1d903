"""Two LLVMs in one process: load triton's before the GL driver loads the system's.

On a machine without a GPU, MuJoCo's EGL context runs on Mesa's llvmpipe, which loads the
system's `libLLVM-*.so` when the first context is made. triton (installed with torch's CUDA
wheels) carries its own LLVM in `libtriton.so`; loaded after the system's, the process dies with a
segmentation fault while loading it (most likely LLVM symbols resolved to the other library;
the mechanism was not traced, the order was: tests/test_llvm_order.py). Nothing here imports triton,
but `torch._dynamo` does, and `diffusers` imports `torch._dynamo`: so a script that resets one of
our envs and then loads a diffusers model (a WAM, in a user's own evaluation loop or in a test
process) crashed on import. Loaded in the other order, both work.

So before an env builds its simulator (and with it, its first render context), this loads
`libtriton.so` as a plain shared library: ~30 ms, no Python import, nothing initialised on a
GPU. Where triton is not installed, or is already imported, or a GL driver has already brought
an LLVM (too late to help; loading then would crash), it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import sys
from pathlib import Path


def llvm_already_loaded() -> bool:
    """Whether a shared LLVM (the GL driver's) is mapped into this process."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux: no Mesa EGL either
        return True
    return "libLLVM" in maps


@functools.cache
def load_triton_llvm_first() -> bool:
    """Load triton's native library if it will be needed later and can still go first; returns
    whether it did. Called once per process, before the first simulator is built."""
    if "triton" in sys.modules:
        return False
    spec = importlib.util.find_spec("triton")
    if spec is None or not spec.submodule_search_locations:
        return False
    library = Path(spec.submodule_search_locations[0]) / "_C" / "libtriton.so"
    if not library.exists() or llvm_already_loaded():
        return False
    try:
        ctypes.CDLL(str(library))
    except OSError:  # a library that cannot load here: triton's own import will say why, if ever made
        return False
    return True
