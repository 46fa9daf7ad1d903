#!/usr/bin/env bash
# One libero_object training seed of the reference experiment on the lent GPU machine, in one
# device call: collect the demos (GPU-rendered, 16 simulator processes), train `wam`, `agra` and
# the teacher control `agra_sim_semantic` side by side on the GPU (same demos, steps and seed;
# only the alignment loss and its teacher differ), export their bf16 EMA checkpoints; then, if
# the time allows, their clean arm rendered there.
# The seed's trio is made in one place because demos collected on two machines differ
# (docs/measurements.md) and neither the demos nor a training outlive a session here.
#
# Here, first:   ./scripts/gpu_kit.sh libero_object 0,1
#                bash scripts/reference_gpu.sh --cpu-smoke    # every stage at toy sizes, ~3 min (190 s measured)
#                bash scripts/reference_gpu.sh --plan         # the commands of the device call, printed
# Device call:   carry [".gpukit/site.tar.xz", ".gpukit/debs", ".gpukit/text_embeddings.safetensors",
#                       ".gpukit/mobilenet_v2_features.safetensors"]
#                command  SEED=2 bash scripts/reference_gpu.sh
# What comes back in $OUT: reference.log (each stage, its wall time and collect's demos-kept
# tables), checkpoints.tar.gz (unpack into results/reference/, then
# `scripts/reference.sh retire`: the runs of the replaced checkpoints leave), training.tar.gz (each training's
# run.json, losses.csv, config.json with the demos' data_sha256, and log) and, when the clean arm ran,
# gpu_clean_arm.tar.gz (its run folders, which are not the committed CPU-rendered runs).
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
SEED=${SEED:-2}
BUDGET_S=${BUDGET_S:-540}  # the clean arm starts only if this much wall time is not yet spent
CLEAN_ARM_S=${CLEAN_ARM_S:-150}  # and at least this much of BUDGET_S is left for it
OUT=${OUT:-/tmp/agra-reference-gpu-out}
export AGRA_DATA=${AGRA_DATA:-/tmp/agra-reference-data}
# The trio: the kit's text table holds the scenes' object labels the sim_semantic teacher embeds.
CONTROL=${CONTROL:-agra_sim_semantic}  # " " for the pair only
# FRESH_DEMOS: the demos collected there are new (another machine), so the seed's exported
# checkpoints do not bind them; the call retrains them all.
KNOBS=(LIFT_SEEDS=" " TEN_SEEDS=" " OBJECT_SEEDS="$SEED" POLICIES="wam agra" CONTROL_POLICIES="$CONTROL"
    CONTROL_SEEDS="$SEED" FRESH_DEMOS=1 NICE=0)
REF=results/reference  # where the checkpoints are exported (and packed from)
if [ "${1:-}" = --cpu-smoke ]; then
    export KIT_SMOKE=1
    OUT=/tmp/agra-reference-gpu-smoke AGRA_DATA=/tmp/agra-reference-gpu-smoke-data
    REF=$OUT/reference  # toy checkpoints must not replace the committed ones
    rm -rf "$AGRA_DATA" "$REF" /tmp/agra-gpu-clean-arm
    KNOBS+=(OBJECT_EPISODES=1 OBJECT_STEPS=20 WORKERS=2 TRAIN_DEVICE=cpu TRAIN_JOBS=2)
    CLEAN_ARM=(--episodes 1 --max-steps 10 --workers 2)
else
    KNOBS+=(WORKERS=16 TRAIN_DEVICE=cuda TRAIN_JOBS=3)
    CLEAN_ARM=(--workers 16)
fi
KNOBS+=(REFERENCE_OUT="$REF")
if [ "${1:-}" = --plan ]; then  # print the device call's commands, without the kit (a test reads them)
    env "${KNOBS[@]}" DRY_RUN=1 bash scripts/reference.sh collect train export
    exit 0
fi
mkdir -p "$OUT"
source scripts/kit_env.sh
CHECKPOINTS=()
for policy in wam agra $CONTROL; do CHECKPOINTS+=(checkpoints/"$policy"-libero_object-s"$SEED"); done

pack() {  # whatever exists, also after a failed stage
    local names=()
    for c in "${CHECKPOINTS[@]}"; do [ -d "$REF/$c" ] && names+=("$c"); done
    [ ${#names[@]} -gt 0 ] && tar -czf "$OUT/checkpoints.tar.gz" -C "$REF" "${names[@]}"
    if [ -d "$AGRA_DATA/ckpt" ]; then
        (cd "$AGRA_DATA" && find ckpt -maxdepth 2 \( -name run.json -o -name losses.csv -o -name config.json \
            -o -name train_state.json -o -name '*.log' \) -print0 | tar -czf "$OUT/training.tar.gz" --null -T -)
    fi
    echo "== packed: $(ls "$OUT" | tr '\n' ' ')($(( $(date +%s) - START )) s)"
}
trap pack EXIT

env "${KNOBS[@]}" PYTHON="$PY" bash scripts/reference.sh collect train export 2>&1 | tee "$OUT/reference.log"
for c in "${CHECKPOINTS[@]}"; do
    [ -f "$REF/$c/config.json" ] || { echo "error: $c was not exported" >&2; exit 1; }
done

elapsed=$(( $(date +%s) - START ))
if [ $(( BUDGET_S - elapsed )) -ge "$CLEAN_ARM_S" ]; then
    echo "== clean arm on the GPU renderer ($elapsed s spent)"
    for name in wam agra $CONTROL; do
        timeout $(( BUDGET_S - elapsed )) "$PY" -m agra_bench run --policy "${name%%_*}" \
            --checkpoint "$REF/checkpoints/$name-libero_object-s$SEED" --suite libero_object \
            --tasks 0,1 --perturb none --image-size 64 --protocol openpi_idseed --render-quality tuned --no-progress --out /tmp/agra-gpu-clean-arm "${CLEAN_ARM[@]}" \
            2>&1 | tail -n 4 || echo "-- clean arm of $name stopped at the budget"
        elapsed=$(( $(date +%s) - START ))
    done
    tar -czf "$OUT/gpu_clean_arm.tar.gz" -C /tmp agra-gpu-clean-arm
else
    echo "== clean arm skipped: $elapsed s spent of $BUDGET_S"
fi
