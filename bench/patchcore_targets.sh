#!/usr/bin/env bash
# Train PatchCore at default settings on both real sets, then accuracy + latency.
# Usage: bench/patchcore_targets.sh [OUT_DIR] [extra train flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/patchcore_targets}; shift || true
PY=${PY:-python}
for cat in mpdd_metal_plate magnetic_tile; do
  $PY -m xrbridge train --model patchcore --data ../shared/data/$cat --out "$OUT/$cat" --quiet "$@" \
    | $PY -c "import json,sys; t=json.load(sys.stdin)['training']; print('$cat', json.dumps({k: t[k] for k in ('patches','bank_size','feature_seconds','bank_seconds','coreset_cpu_seconds')}))"
  echo "$cat accuracy: $($PY bench/eval_model.py --model "$OUT/$cat" --data ../shared/data/$cat)"
  echo "$cat latency:  $($PY -m xrbridge bench --model "$OUT/$cat" --runs 200 | tr -d '\n ')"
done
