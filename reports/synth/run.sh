#!/usr/bin/env bash
# Reproduces reports/synth/: synth defects vs the renderer's own, on the simulator's views.
#   A: defect-rich run (train/good, test/good, rendered defects)  D-K: more rendered defects
#   B: other good cars, the bases synth draws on (never seen in training)
# D-K have seeds whose static cables stay outside the views, as A's and B's do: F-K are
# the seeds 22-30 whose left cable ends below x = 125 px (A's: 153; seed 9's: 191, across
# the crops; xrbridge.sim.camera.Camera(...).cables). (Seed 9 had a cable across the left edge
# of every view crop; the models never saw one in training and their map maximum saturated
# there whatever the defect, so its images ranked above every good image.) Nine runs,
# because three runs of the renderer differ by up to 20 AUROC points on the weak types.
# Three synth sets a view: on B's cars (<view>_<model>/), a second draw there (seed 2, 240 a
# type: replicate_*), and on the good cars of the rendered runs D-K (same_cars_*).
# realism_before_<view>.json: the same realism bench on the previous release's synth set
# (commit 54e3ae2, same seeds), for the before/after in docs/synth.md.
# Run from the repository root:  reports/synth/run.sh   (CPU; about 2 hours on 2 busy cores)
set -euo pipefail
PY=${PY:-.venv/bin/python}
W=${W:-/tmp/synth}
VIEWS=${VIEWS:-lower_center lower_back}
OUT=reports/synth
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$W" "$OUT"
[ -d "$W/simA/dataset" ] || "$PY" -m xrbridge simulate --out "$W/simA" --cars 1 --seed 7 \
  --dataset-cars 240 --defect-rate 0.6 --train-frames 2 --no-progress > "$W/simA.json"
[ -d "$W/simB/dataset" ] || "$PY" -m xrbridge simulate --out "$W/simB" --cars 1 --seed 8 \
  --dataset-cars 80 --defect-rate 0 --train-frames 1 --no-progress > "$W/simB.json"
for run in D:14 E:20 F:22 G:24 H:25 I:27 J:29 K:30; do
  [ -d "$W/sim${run%:*}/dataset" ] || "$PY" -m xrbridge simulate --out "$W/sim${run%:*}" --cars 1 \
    --seed "${run#*:}" --dataset-cars 200 --defect-rate 1.0 --train-frames 1 --no-progress \
    > "$W/sim${run%:*}.json"
done
REND=()
for r in A D E F G H I J K; do REND+=("$W/sim$r/dataset/VIEW"); done
"$PY" bench/synth_detect.py --data "$W/simA/dataset" --scene "$W/simA/scene.json" --n 8 \
  --out "$OUT/detect_iou.json"
# synth's input: the good images of runs $3 (test/good, and train/good where there is one)
# as one category's test/good, the view's regions as paths.json
make_input() {
  "$PY" - "$W" "$1" "$2" "$3" <<'PYEOF'
import json, shutil, sys
from pathlib import Path
from xrbridge.synth import paths_doc, tracks_from_scene
w, view, name, runs = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
dst = w / f"{name}_{view}"
shutil.rmtree(dst, ignore_errors=True)
(dst / "test" / "good").mkdir(parents=True)
for r in runs:
    src = w / f"sim{r}" / "dataset" / view
    for sub in ("train/good", "test/good"):
        for p in sorted((src / sub).glob("*.png")):
            shutil.copyfile(p, dst / "test" / "good" / (p.name if len(runs) == 1 else r + p.name))
    shutil.copyfile(src / "roi.png", dst / "roi.png")
scene = json.loads((w / f"sim{runs[0]}" / "scene.json").read_text())
(dst / "paths.json").write_text(json.dumps(paths_doc(tracks_from_scene(scene, view), (520, 400))))
PYEOF
}
compare() {  # view, synth set, out name, rendered runs...
  local v=$1 set=$2 name=$3
  shift 3
  local rend=()
  for r in "$@"; do rend+=("$W/sim$r/dataset/$v"); done
  for pair in patchcore:pc simplenet:sn; do
    "$PY" bench/synth_compare.py --view "$v" --model "$W/models/${pair##*:}_$v" \
      --label "${pair%%:*}" --good "$W/simA/dataset/$v" --rendered "${rend[@]}" \
      --synth "$W/$set" --work "$W/compare" --out "$OUT/$name${v}_${pair%%:*}"
  done
}
for v in $VIEWS; do
  # PatchCore and the second model, SimpleNet, at their defaults (SimpleNet: features once,
  # 400 MLP steps), trained on A's train/good
  for pair in patchcore:pc simplenet:sn; do
    model=${pair%%:*} md="$W/models/${pair##*:}_$v"
    [ -f "$md/manifest.json" ] || "$PY" -m xrbridge train --model "$model" \
      --data "$W/simA/dataset/$v" --out "$md" --image-size 256 --quiet > "$W/train_${pair##*:}_$v.log"
  done
  # 1. drawn on B's cars (a run of its own, never seen), against all nine rendered runs
  make_input "$v" inB B
  "$PY" -m xrbridge synth --data "$W/inB_$v" --out "$W/synB_$v" --count 400 --seed 1 --no-progress \
    > "$OUT/synth_$v.json"
  compare "$v" "synB_$v" "" A D E F G H I J K
  # 2. a second draw on B's cars: seed 2, 240 a type
  "$PY" -m xrbridge synth --data "$W/inB_$v" --out "$W/synB2_$v" --count 1200 --seed 2 \
    --no-progress > /dev/null
  compare "$v" "synB2_$v" replicate_ A D E F G H I J K
  # 3. drawn on the good cars of the very runs whose rendered defects it is compared with
  #    (D-K): a run's cars, light and camera shift every image's score, defect or not
  make_input "$v" inDK DEFGHIJK
  "$PY" -m xrbridge synth --data "$W/inDK_$v" --out "$W/synDK_$v" --count 400 --seed 1 \
    --no-progress > /dev/null
  compare "$v" "synDK_$v" same_cars_ D E F G H I J K
  # the cars alone: each run's good images ranked against A's test/good, no defect drawn
  RUNS=()
  for r in B D E F G H I J K; do RUNS+=("$r=$W/sim$r/dataset/$v"); done
  for pair in patchcore:pc simplenet:sn; do
    "$PY" bench/synth_base_control.py --view "$v" --model "$W/models/${pair##*:}_$v" \
      --good "$W/simA/dataset/$v" --runs "${RUNS[@]}" --out "$OUT/base_${v}_${pair%%:*}.json"
  done
  "$PY" bench/synth_realism.py --rendered "${REND[@]/VIEW/$v}" \
    --synth "$W/synB_$v" --synth-input "$W/inB_$v" --out "$OUT/realism_$v.json"
  DK=()
  for r in D E F G H I J K; do DK+=("$W/sim$r/dataset/$v"); done
  "$PY" bench/synth_realism.py --rendered "${DK[@]}" \
    --synth "$W/synDK_$v" --synth-input "$W/inDK_$v" --out "$OUT/realism_same_cars_$v.json"
done
"$PY" bench/synth_speed.py --data "$W/simA/dataset/lower_center" --scene "$W/simA/scene.json" \
  --view lower_center --count 50 --out "$OUT/speed.json"
