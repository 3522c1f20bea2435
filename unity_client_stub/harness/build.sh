#!/usr/bin/env bash
# Compiles the Unity scripts with Debian's mono (mcs) against the UnityEngine
# stub and the console harness:  unity_client_stub/harness/build.sh OUT_DIR
# Run:  mono OUT_DIR/harness.exe --golden tests/golden [--url ws://HOST:PORT/ws --reconnect]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/bin}"
mkdir -p "$out"
mcs -nologo -warnaserror+ -target:library -out:"$out/UnityEngine.dll" "$here/UnityEngineStub/UnityEngine.cs"
mcs -nologo -warnaserror+ -target:exe -out:"$out/harness.exe" -r:"$out/UnityEngine.dll" -r:System.dll -r:System.Core.dll \
  "$here"/../Assets/Xrbridge/Runtime/*.cs "$here"/../Assets/Xrbridge/Unity/*.cs "$here/Harness.cs"
