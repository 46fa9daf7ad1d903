#!/usr/bin/env bash
# Build .gpukit/ (ignored by git): what the lent GPU machine needs to run agra-bench on one suite,
# in under ~60 MiB so it travels with one device call (`carry: [".gpukit"]`).
#   wheels/   mujoco's cp312 wheel is unpacked into site.tar.xz (the machine runs Python 3.12)
#   debs/     the EGL/GL loader packages (libglvnd) that the machine lacks; bench/gpu_suite.sh
#             unpacks them with dpkg -x, as the device README says
#   site.tar.xz, text_embeddings.safetensors, manifest.json: see scripts/gpu_kit.py
#
#   ./scripts/gpu_kit.sh [SUITE [TASKS]]   # default libero_spatial, all tasks; ~3 minutes here
#   ./scripts/gpu_kit.sh libero_object 0,1 # the reference experiment's tasks (scripts/reference_gpu.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE="${1:-libero_spatial}"
TASKS="${2:-all}"
KIT=.gpukit
mkdir -p "$KIT/wheels" "$KIT/debs"
PY=.venv/bin/python

if ! ls "$KIT"/wheels/mujoco-3.17.0-cp312-*.whl >/dev/null 2>&1; then
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$KIT/wheels" mujoco==3.17.0
fi

if ! ls "$KIT"/debs/libegl1_*.deb >/dev/null 2>&1; then
    mkdir -p /tmp/agra-apt-amd64/partial
    APT_OPTS="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/agra-apt-amd64"
    apt-get $APT_OPTS update -qq
    (cd "$KIT/debs" && apt-get $APT_OPTS download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

MUJOCO_GL=egl $PY scripts/gpu_kit.py --suite "$SUITE" --tasks "$TASKS" --out "$KIT" \
    --mujoco-wheel "$(ls "$KIT"/wheels/mujoco-3.17.0-cp312-*.whl | head -1)"
du -sh "$KIT" "$KIT"/*
