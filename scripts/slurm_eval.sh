#!/usr/bin/env bash
# One array task = one shard of the evaluation; merge the shards when the array is done:
#   sbatch --array=0-3 scripts/slurm_eval.sh
#   agra-bench merge results/shards --out results
#SBATCH --cpus-per-task=8
#SBATCH --job-name=agra-eval
set -euo pipefail
EVAL_ARGS="${EVAL_ARGS:---policy random --suite libero_10}"
OUT="${OUT:-results/shards}"
WORKERS="${WORKERS:-${SLURM_CPUS_PER_TASK:-1}}"
agra-bench run $EVAL_ARGS --workers "$WORKERS" --no-progress \
    --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" --out "$OUT/$SLURM_ARRAY_TASK_ID"
