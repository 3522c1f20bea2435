#!/usr/bin/env bash
# SimpleNet after the squash calibration and the top-1 % image score (issue 13; docs/models.md):
# train, `xrbridge eval` (report folders here), metrics JSON into logs/.
# Usage: reports/real/run_simplenet3.sh MODEL CAT SEED LABEL [TRAIN_ARGS...]
# Run from the repository root. Like run_models2.sh, with quiet training and a summary row
# appended to logs/simplenet3.csv.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
MODEL_ROOT=${MODEL_ROOT:-/tmp/xrbridge-real-models3}
THREADS=${THREADS:-1}
OUT=reports/real
model=$1 cat=$2 seed=$3 label=$4
shift 4
md="$MODEL_ROOT/$cat/$label-s$seed"
mkdir -p "$OUT/logs"
t0=$(date +%s)
# shellcheck disable=SC2086
[ -f "$md/manifest.json" ] || OMP_NUM_THREADS=$THREADS "$PY" -m xrbridge train --model "$model" \
    --data "$DATA/$cat" --out "$md" --seed "$seed" --quiet "$@" > "$OUT/logs/train_${cat}_${label}_s$seed.log" 2>&1
t1=$(date +%s)
OMP_NUM_THREADS=$THREADS "$PY" -m xrbridge eval --model "$md" --data "$DATA/$cat" --out "$OUT/$cat/$label-s$seed" \
    --label "$label" --threads "$THREADS" --no-progress > "$OUT/logs/eval_${cat}_${label}_s$seed.json" \
    2> "$OUT/logs/eval_${cat}_${label}_s$seed.err"
t2=$(date +%s)
"$PY" - "$OUT/logs/eval_${cat}_${label}_s$seed.json" "$cat" "$label" "$seed" $((t1 - t0)) $((t2 - t1)) <<'PY' >> "$OUT/logs/simplenet3.csv"
import json, sys
m = json.load(open(sys.argv[1]))
print(",".join(sys.argv[2:5] + [f"{m[k]:.4f}" for k in ("image_auroc", "pixel_auroc", "pixel_aupro")] + sys.argv[5:7]))
PY
tail -1 "$OUT/logs/simplenet3.csv"
