#!/usr/bin/env bash
# Reproduces reports/real/: trains each model x seed on both real sets (when the
# model folder does not exist yet), evaluates it with `xrbridge eval`, then
# `xrbridge compare` over everything. Run from the repository root:
#     MODELS="patchcore efficientad-s efficientad-m" reports/real/run.sh
# Settings are kept small on purpose (2 shared CPU cores): see README.md here.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
MODELS=${MODELS:-patchcore}
SEEDS=${SEEDS:-0 1 2}
CATS=${CATS:-mpdd_metal_plate magnetic_tile}
MODEL_ROOT=${MODEL_ROOT:-/tmp/xrbridge-real-models}
OUT=reports/real
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT/logs"

train_args() {  # per-model (and per-category) training settings used for reports/real
  case "$1" in
    patchcore)  # the defaults (coreset 3 %, bank <= 8,192, search budget, top-k, position norm)
      echo "--image-size 256" ;;
    efficientad-s|efficientad-m)  # short schedules: the shared 2-core CPU, see README.md
      echo "--image-size 256 --steps ${EFFAD_STEPS:-100} --distil-steps ${EFFAD_DISTIL:-20}" ;;
    *) echo "" ;;
  esac
}

eval_args() {  # EfficientAD inference on the loaded machine (seconds per image) did not fit the
  # time left: EfficientAD-S on magnetic_tile evaluates every 4th test image of each folder,
  # EfficientAD-M every 8th (the reports say so)
  case "$1/$2" in
    efficientad-s/magnetic_tile) echo "--every 4" ;;
    efficientad-m/*) echo "--every 8 --grid 2" ;;
    *) echo "" ;;
  esac
}

for cat in $CATS; do
  for model in $MODELS; do
    for seed in $SEEDS; do
      md="$MODEL_ROOT/$cat/$model-s$seed"
      if [ ! -f "$md/manifest.json" ]; then
        # shellcheck disable=SC2046
        /usr/bin/time -f "train %e s, peak %M KiB" "$PY" -m xrbridge train --model "$model" \
          --data "$DATA/$cat" --out "$md" --seed "$seed" --quiet $(train_args "$model" "$cat") \
          > "$OUT/logs/train_${cat}_${model}_s$seed.log" 2>&1
      fi
      # shellcheck disable=SC2046
      "$PY" -m xrbridge eval --model "$md" --data "$DATA/$cat" --out "$OUT/$cat/$model-s$seed" \
        --threads 1 --no-progress $(eval_args "$model" "$cat") > "$OUT/logs/eval_${cat}_${model}_s$seed.json" \
        2> "$OUT/logs/eval_${cat}_${model}_s$seed.err"
      echo "done $cat $model seed $seed"
    done
  done
done
"$PY" -m xrbridge compare "$OUT"/*/ --out "$OUT/compare" > "$OUT/logs/compare.json"
