#!/usr/bin/env bash
# Builds the sdist and, from it, the wheel; installs the wheel into a fresh venv (exact versions
# from constraints.txt) and runs `xrbridge demo --once` from it, outside the checkout: the demo's
# video and the default models must be inside the wheel.
#   scripts/check_wheel.sh            (PYTHON=... picks the interpreter that has `build`)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$root/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" -m build -q --outdir "$work/dist" "$root" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
ls -l "$work/dist"
"$py" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/xrbridge-*.whl -c "$root/constraints.txt"
cd "$work"  # nothing may come from the checkout
"$work/venv/bin/python" - <<'PY'
import xrbridge
from pathlib import Path
models = xrbridge.default_models_dir()
assert "site-packages" in str(models), f"default models not from the wheel: {models}"
assert sorted(p.name for p in models.iterdir()) == ["lower_back", "lower_center", "lower_front"], models
print("wheel: xrbridge", xrbridge.__version__, "from", Path(xrbridge.__file__).parent)
PY
"$work/venv/bin/xrbridge" demo --once --fast --ws-port 0 --grpc-port 0 > "$work/demo.json"
"$work/venv/bin/python" - "$work/demo.json" <<'PY'
import json, sys
summary = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
stream = summary["streams"][0]
assert stream["frames_in"] > 200 and stream["inferred"] > 0 and stream["errors"] == 0, summary
print("wheel: demo --once:", json.dumps({k: summary[k] for k in ("cars", "defects_confirmed")}),
      "frames", stream["frames_in"], "inferred", stream["inferred"])
PY
