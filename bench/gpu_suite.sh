#!/usr/bin/env bash
# The GPU figures in one device call (under 8 minutes). Build the kit first, here:
#   ./scripts/gpu_kit.sh
# then run on the device machine, carrying the kit:
#   device run  carry: [".gpukit/site.tar.xz", ".gpukit/debs", ".gpukit/text_embeddings.safetensors"]
#               command: AGRA_GIT_SHA=<sha> bash bench/gpu_suite.sh
# It unpacks the EGL loaders and the site-packages tree, then runs bench/gpu_suite.py, which
# writes $OUT/<device>-<date>.json (commit it under bench/results/) and one log per measurement.
#   bash bench/gpu_suite.sh --only wam_speed,protocol_slice   # some of the measurements
#   bash bench/gpu_suite.sh --cpu-smoke   # the same steps at toy sizes on this CPU machine,
#                                         # through the kit's trimmed packages (not its mujoco,
#                                         # which is built for Python 3.12)
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.gpukit
SMOKE=""
case " $* " in *" --cpu-smoke "*) SMOKE=1 ;; esac
OUT="${OUT:-/tmp/agra-gpu-suite-out}"
SITE=/tmp/agra-kit-site
rm -rf "$SITE" && mkdir -p "$SITE" "$OUT"

if [ -z "$SMOKE" ]; then
    for f in "$KIT"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
    VENDOR=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    [ -f "$VENDOR" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$VENDOR"
    tar -xJf "$KIT/site.tar.xz" -C "$SITE"
    PY=python3
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
    tar -xJf "$KIT/site.tar.xz" -C "$SITE" --exclude='mujoco/*' --exclude='mujoco-*.dist-info/*'
    # A view of .venv without the packages the kit carries, so that only the kit's trimmed
    # copies can be imported (shadowing is not enough: LIBERO requires exactly one assets root).
    VIEW=/tmp/agra-smoke-venv
    rm -rf "$VIEW" && .venv/bin/python -m venv --without-pip "$VIEW"
    PURELIB='import sysconfig; print(sysconfig.get_paths()["purelib"])'
    VIEW_SITE=$("$VIEW/bin/python" -c "$PURELIB")
    for entry in "$(.venv/bin/python -c "$PURELIB")"/*; do
        [ -e "$SITE/$(basename "$entry")" ] || ln -s "$entry" "$VIEW_SITE/"
    done
    PY="$VIEW/bin/python"
fi
export PYTHONPATH="$SITE:$PWD" MUJOCO_GL=egl PYOPENGL_PLATFORM=egl HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1  # 16 simulator processes share 16 cores; torch sets its own threads
"$PY" -c "import mujoco, robosuite, libero.libero, diffusers, gymnasium; print('kit ok: mujoco', mujoco.__version__, 'robosuite', robosuite.__version__)" 2>&1 | grep -v WARNING
"$PY" bench/gpu_suite.py --out "$OUT" --kit "$KIT" "$@"
