#!/usr/bin/env bash
# SimpleNet and MemSeg on the shared sets (issue 13; docs/models.md): train at the defaults,
# `xrbridge eval` (report folders here), `xrbridge bench` (batch 1, 2 threads) into logs/.
# Usage: reports/real/run_models2.sh MODEL CAT SEED [LABEL] [TRAIN_ARGS...]
# Run from the repository root.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
MODEL_ROOT=${MODEL_ROOT:-/tmp/xrbridge-real-models}
OUT=reports/real
model=$1 cat=$2 seed=$3 label=${4:-$1}
shift $(( $# > 3 ? 4 : 3 ))
md="$MODEL_ROOT/$cat/$label-s$seed"
mkdir -p "$OUT/logs"
# shellcheck disable=SC2086
[ -f "$md/manifest.json" ] || OMP_NUM_THREADS=1 "$PY" -m xrbridge train --model "$model" \
    --data "$DATA/$cat" --out "$md" --seed "$seed" "$@" > "$OUT/logs/train_${cat}_${label}_s$seed.log" 2>&1
OMP_NUM_THREADS=1 "$PY" -m xrbridge eval --model "$md" --data "$DATA/$cat" --out "$OUT/$cat/$label-s$seed" \
    --label "$label" --threads 1 --no-progress > "$OUT/logs/eval_${cat}_${label}_s$seed.json" \
    2> "$OUT/logs/eval_${cat}_${label}_s$seed.err"
cat "$OUT/logs/eval_${cat}_${label}_s$seed.json"
