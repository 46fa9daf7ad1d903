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
SMOKE=""
case " $* " in *" --cpu-smoke "*) SMOKE=1 ;; esac
OUT="${OUT:-/tmp/agra-gpu-suite-out}"
mkdir -p "$OUT"
[ -n "$SMOKE" ] && export KIT_SMOKE=1
source scripts/kit_env.sh
"$PY" bench/gpu_suite.py --out "$OUT" --kit "$KIT" "$@"
