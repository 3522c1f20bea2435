#!/usr/bin/env bash
# Reproduces reports/synth/: synth defects vs the renderer's own, on the simulator's views.
#   A: defect-rich run (train/good, test/good, rendered defects)  D, E: more rendered defects
#   B: other good cars, the bases synth draws on (never seen in training)
# D and E have seeds whose static cables stay outside the views, as A's and B's do. (The
# previous second run, seed 9, had a cable across the left edge of every view crop; the
# models never saw one in training and their map maximum saturated there whatever the
# defect, so its images ranked above every good image: narrowing and hole looked easier
# rendered than synth on lower_center.)
# realism_before_<view>.json: the same realism bench on the previous release's synth set
# (commit 54e3ae2, same seeds), for the before/after in docs/synth.md.
# Run from the repository root:  reports/synth/run.sh   (CPU; about 1.5 hours on 2 busy cores)
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
for run in D:14 E:20; do
  [ -d "$W/sim${run%:*}/dataset" ] || "$PY" -m xrbridge simulate --out "$W/sim${run%:*}" --cars 1 \
    --seed "${run#*:}" --dataset-cars 200 --defect-rate 1.0 --train-frames 1 --no-progress \
    > "$W/sim${run%:*}.json"
done
REND=()
for r in A D E; do REND+=("$W/sim$r/dataset/VIEW"); done
"$PY" bench/synth_detect.py --data "$W/simA/dataset" --scene "$W/simA/scene.json" --n 8 \
  --out "$OUT/detect_iou.json"
for v in $VIEWS; do
  # synth's input: B's good images of the view as test/good, the view's regions as paths.json
  "$PY" - "$W" "$v" <<'PYEOF'
import json, shutil, sys
from pathlib import Path
from xrbridge.synth import paths_doc, tracks_from_scene
w, view = Path(sys.argv[1]), sys.argv[2]
src, dst = w / "simB" / "dataset" / view, w / f"inB_{view}"
shutil.rmtree(dst, ignore_errors=True)
(dst / "test" / "good").mkdir(parents=True)
for sub in ("train/good", "test/good"):
    for p in sorted((src / sub).glob("*.png")):
        shutil.copyfile(p, dst / "test" / "good" / p.name)
shutil.copyfile(src / "roi.png", dst / "roi.png")
scene = json.loads((w / "simB" / "scene.json").read_text())
(dst / "paths.json").write_text(json.dumps(paths_doc(tracks_from_scene(scene, view), (520, 400))))
PYEOF
  "$PY" -m xrbridge synth --data "$W/inB_$v" --out "$W/synB_$v" --count 400 --seed 1 --no-progress \
    > "$OUT/synth_$v.json"
  # PatchCore and the second model, SimpleNet, at their defaults (SimpleNet: features once,
  # 400 MLP steps)
  for pair in patchcore:pc simplenet:sn; do
    model=${pair%%:*} md="$W/models/${pair##*:}_$v"
    [ -f "$md/manifest.json" ] || "$PY" -m xrbridge train --model "$model" \
      --data "$W/simA/dataset/$v" --out "$md" --image-size 256 --quiet > "$W/train_${pair##*:}_$v.log"
    "$PY" bench/synth_compare.py --view "$v" --model "$md" --label "$model" \
      --rendered "${REND[@]/VIEW/$v}" --synth "$W/synB_$v" \
      --work "$W/compare" --out "$OUT/${v}_$model"
  done
  "$PY" bench/synth_realism.py --rendered "${REND[@]/VIEW/$v}" \
    --synth "$W/synB_$v" --synth-input "$W/inB_$v" --out "$OUT/realism_$v.json"
done
"$PY" bench/synth_speed.py --data "$W/simA/dataset/lower_center" --scene "$W/simA/scene.json" \
  --view lower_center --count 50 --out "$OUT/speed.json"
