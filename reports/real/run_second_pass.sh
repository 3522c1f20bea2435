#!/usr/bin/env bash
# The second pass's runs in reports/real/ (see reports/notes/2026-11-29-models-patchcore.md and -models-efficientad.md):
# PatchCore on magnetic_tile with top-k image score + per-position normalisation (3 settings),
# EfficientAD-S on mpdd_metal_plate at 300 + 1,200 steps and its int8 copy, EfficientAD-S on
# magnetic_tile at 200 + 800 steps. Run from the repository root; then `xrbridge compare`
# as at the end of run.sh.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
MODEL_ROOT=${MODEL_ROOT:-/tmp/xrbridge-real-models}
OUT=reports/real
mkdir -p "$OUT/logs"

run() {  # run CAT LABEL TRAIN_ARGS [EVAL_ARGS]
  local cat=$1 label=$2 targs=$3 eargs=${4:-}
  local md="$MODEL_ROOT/$cat/$label-s0"
  # shellcheck disable=SC2086
  [ -f "$md/manifest.json" ] || "$PY" -m xrbridge train --data "$DATA/$cat" --out "$md" --seed 0 --quiet $targs \
      > "$OUT/logs/train_${cat}_${label}_s0.log" 2>&1
  # shellcheck disable=SC2086
  "$PY" -m xrbridge eval --model "$md" --data "$DATA/$cat" --out "$OUT/$cat/$label-s0" --label "$label" \
      --threads 2 --no-progress $eargs > "$OUT/logs/eval_${cat}_${label}_s0.json" 2> "$OUT/logs/eval_${cat}_${label}_s0.err"
}

PC="--model patchcore --coreset-ratio 0.01 --image-score topk --position-norm 1"
run magnetic_tile patchcore-lite0-topk "$PC --max-bank 8192"
run magnetic_tile patchcore-lite0-topk4k "$PC --max-bank 4096"
run magnetic_tile patchcore-lite2-topk "$PC --max-bank 8192 --backbone efficientnet-lite2"
run mpdd_metal_plate efficientad-s-long "--model efficientad-s --distil-steps 300 --steps 1200"
"$PY" -m xrbridge quantize --model "$MODEL_ROOT/mpdd_metal_plate/efficientad-s-long-s0" \
  --data "$DATA/mpdd_metal_plate" --out "$MODEL_ROOT/mpdd_metal_plate/efficientad-s-long-int8-s0"
run mpdd_metal_plate efficientad-s-long-int8 ""
run magnetic_tile efficientad-s-mid "--model efficientad-s --distil-steps 200 --steps 800" "--every 2"
