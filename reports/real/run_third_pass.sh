#!/usr/bin/env bash
# The third pass's runs in reports/real/ (reports/notes/2026-11-29-models-patchcore.md "At the defaults, both real
# sets" and reports/notes/2026-11-29-models-efficientad.md): PatchCore at the new defaults (mpdd seeds 0-2,
# magnetic_tile seed 0) and EfficientAD-M on mpdd_metal_plate at 200 + 800 steps (98 min on the
# 2-core CPU). Run from the repository root; then `xrbridge compare` as at the end of run.sh.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
MODEL_ROOT=${MODEL_ROOT:-/tmp/xrbridge-real-models}
OUT=reports/real
CATS=mpdd_metal_plate MODELS=patchcore SEEDS="0 1 2" bash "$OUT/run.sh"
CATS=magnetic_tile MODELS=patchcore SEEDS=0 bash "$OUT/run.sh"
# EfficientAD-M on magnetic_tile at the default schedule, every 8th test image
EFFAD_STEPS=150 EFFAD_DISTIL=60 CATS=magnetic_tile MODELS=efficientad-m SEEDS=0 bash "$OUT/run.sh"
md="$MODEL_ROOT/mpdd_metal_plate/efficientad-m-long-s0"
[ -f "$md/manifest.json" ] || "$PY" -m xrbridge train --model efficientad-m --data "$DATA/mpdd_metal_plate" \
  --out "$md" --seed 0 --distil-steps 200 --steps 800 > "$OUT/logs/train_mpdd_metal_plate_efficientad-m-long_s0.log" 2>&1
"$PY" -m xrbridge eval --model "$md" --data "$DATA/mpdd_metal_plate" --out "$OUT/mpdd_metal_plate/efficientad-m-long-s0" \
  --label efficientad-m-long --threads 2 --no-progress > "$OUT/logs/eval_mpdd_metal_plate_efficientad-m-long_s0.json" \
  2> "$OUT/logs/eval_mpdd_metal_plate_efficientad-m-long_s0.err"
