#!/usr/bin/env bash
# Assembles README.md from docs/readme/00-intro.md and the per-area sections docs/readme/NN-*.md.
# Edit the sections, then run: bash scripts/build_readme.sh
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat docs/readme/00-intro.md
  echo
  echo "## Contents"
  echo
  for f in docs/readme/[1-9]*.md; do
    title=$(grep -m1 '^## ' "$f" | sed 's/^## //')
    anchor=$(echo "$title" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 -]//g' -e 's/ /-/g')
    echo "- [$title](#$anchor)"
  done
  for f in docs/readme/[1-9]*.md; do
    echo
    cat "$f"
  done
} > README.md
echo "README.md: $(wc -l < README.md) lines"
