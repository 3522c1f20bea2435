#!/usr/bin/env bash
# Reproduces reports/sim/: ROI on/off on the simulator's three views.
#   1. data:  xrbridge simulate --out $SIM --cars 2 --seed 7 --dataset-cars 60
#   2. per view x model x seed: train without ROI (--roi none) and evaluate with --no-roi,
#      train with the view's roi.png (default) and evaluate with it; then compare.
# Run from the repository root:  SIM=/tmp/evalsim MODELS="patchcore" reports/sim/run.sh
# Different MODELS may run side by side (one core each). EFFAD_ARGS: extra EfficientAD flags
# (the report: none, its defaults; "--teacher distilled --distil-steps 60 --steps 500" was the
# distilled teacher's run in docs/models.md).
set -euo pipefail
PY=${PY:-.venv/bin/python}
SIM=${SIM:-/tmp/evalsim}
MODELS=${MODELS:-patchcore}
SEEDS=${SEEDS:-0 1 2}
VIEWS=${VIEWS:-lower_front lower_center lower_back}
MODEL_ROOT=${MODEL_ROOT:-/tmp/xrbridge-sim-models}
OUT=reports/sim
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT/logs"
if [ ! -d "$SIM/dataset" ]; then
  "$PY" -m xrbridge simulate --out "$SIM" --cars 2 --seed 7 --dataset-cars 60 --no-progress > "$OUT/logs/simulate.json"
fi

train_args() {
  case "$1" in
    patchcore) echo "--image-size 256" ;;
    efficientad-s|efficientad-m)
      echo "--image-size 256 ${EFFAD_ARGS:-}" ;;
    memseg) echo "--steps ${MEMSEG_STEPS:-400}" ;;
    *) echo "" ;;
  esac
}

for view in $VIEWS; do
  for model in $MODELS; do
    for seed in $SEEDS; do
      for roi in off on; do
        md="$MODEL_ROOT/$view/$model-roi$roi-s$seed"
        if [ "$roi" = off ]; then t_roi=(--roi none); e_roi=(--no-roi); else t_roi=(); e_roi=(); fi
        if [ ! -f "$md/manifest.json" ]; then
          # shellcheck disable=SC2046
          /usr/bin/time -f "train %e s, peak %M KiB" "$PY" -m xrbridge train --model "$model" \
            --data "$SIM/dataset/$view" --out "$md" --seed "$seed" --quiet "${t_roi[@]}" $(train_args "$model") \
            > "$OUT/logs/train_${view}_${model}_roi${roi}_s$seed.log" 2>&1
        fi
        "$PY" -m xrbridge eval --model "$md" --data "$SIM/dataset/$view" "${e_roi[@]}" \
          --out "$OUT/$view/$model-roi$roi-s$seed" --threads 1 --no-progress --grid 2 \
          > "$OUT/logs/eval_${view}_${model}_roi${roi}_s$seed.json" 2> "$OUT/logs/eval_${view}_${model}_roi${roi}_s$seed.err"
        echo "done $view $model roi $roi seed $seed"
      done
    done
  done
done
"$PY" -m xrbridge compare "$OUT"/lower_*/ --out "$OUT/compare" > "$OUT/logs/compare.json"
