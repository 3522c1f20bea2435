#!/usr/bin/env bash
# Compiles the Unity package (com.xrbridge.client: Runtime, Runtime/Unity and the
# sample scene script) with Debian's mono (mcs) against the UnityEngine stub,
# together with the console harness:  unity_client_stub/harness/build.sh OUT_DIR
# Run:  mono OUT_DIR/harness.exe --golden tests/golden [--url ws://HOST:PORT/ws --reconnect]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pkg="$here/../com.xrbridge.client"
out="${1:-$here/bin}"
mkdir -p "$out"
mcs -nologo -warnaserror+ -target:library -out:"$out/UnityEngine.dll" "$here/UnityEngineStub/UnityEngine.cs"
mapfile -t sources < <(find "$pkg/Runtime" "$pkg/Samples~" -name '*.cs' | sort)
mcs -nologo -warnaserror+ -target:exe -out:"$out/harness.exe" -r:"$out/UnityEngine.dll" -r:System.dll -r:System.Core.dll \
  "${sources[@]}" "$here/Harness.cs"
