#!/usr/bin/env bash
# Regenerates the Python protobuf + gRPC code for protos/xrbridge/v1/*.proto
# into xrbridge/wire/gen/ (committed; excluded from ruff and mypy).
#
#   scripts/gen_protos.sh            # uses .venv/bin/python, else python3
#   PYTHON=/path/to/python scripts/gen_protos.sh
#
# Needs grpcio-tools (in the [dev] extra). protoc writes the modules as
# xrbridge/v1/*_pb2.py; they are flattened into xrbridge/wire/gen/ and their
# cross-imports rewritten to relative ones, so the proto paths inside the
# descriptors stay "xrbridge/v1/<file>.proto" (what gRPC reflection shows).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT=xrbridge/wire/gen
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" -m grpc_tools.protoc -I protos \
  --python_out="$TMP" --pyi_out="$TMP" --grpc_python_out="$TMP" \
  protos/xrbridge/v1/*.proto
rm -f "$OUT"/*_pb2*.py "$OUT"/*_pb2*.pyi
for f in "$TMP"/xrbridge/v1/*; do
  # protoc writes an empty *_pb2_grpc.py for files without services: skip those
  if [[ "$f" == *_pb2_grpc.py ]] && ! grep -q '^class ' "$f"; then continue; fi
  sed -E 's/^from xrbridge\.v1 import ([a-z_0-9]+) as /from . import \1 as /' "$f" > "$OUT/$(basename "$f")"
done
cat > "$OUT/__init__.py" <<'PYEOF'
"""Generated protobuf/gRPC code for protos/xrbridge/v1 (scripts/gen_protos.sh; do not edit)."""
PYEOF
echo "generated: $(ls "$OUT" | tr '\n' ' ')"
