#!/usr/bin/env bash
# Checks every #include "module/..." in src/ against the allowed-dependency table in
# docs/ARCHITECTURE.md (CMake targets alone do not stop an include through the shared root), and
# that no file outside a module includes its internal/ headers.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed
while IFS='|' read -r _ module _ deps _; do
  module=$(echo "$module" | tr -d ' `')
  deps=$(echo "$deps" | tr -d ' ')
  [[ "$module" =~ ^[a-z0-9_]+$ ]] || continue
  allowed[$module]="$deps"
done < <(grep -E '^\| `[a-z0-9_]+` \|' docs/ARCHITECTURE.md)

bad=0
for dir in src/*/; do
  module=$(basename "$dir")
  rule=${allowed[$module]:-}
  if [ -z "$rule" ]; then
    echo "check_includes: module '$module' is missing from the table in docs/ARCHITECTURE.md"
    bad=1
    continue
  fi
  [ "$rule" = "everything" ] && continue
  while IFS=: read -r file line inc; do
    dep=$(echo "$inc" | sed -E 's/.*#include "([a-z0-9_]+)\/.*/\1/')
    if [[ ",$rule," != *",$dep,"* ]]; then
      echo "$file:$line: '$module' may not include '$dep' (allowed: $rule)"
      bad=1
    fi
  done < <(grep -rnE '^#include "[a-z0-9_]+/' "$dir" || true)
done

# internal/ folders are private to their module: only src/M/ and its tests (tests/M/,
# tests/integration/M/) include "M/.../internal/...". Fuzz targets (tests/fuzz/) are white-box.
while IFS=: read -r file line inc; do
  dep=$(echo "$inc" | sed -E 's/.*#include "([a-z0-9_]+)\/.*/\1/')
  owner=$(echo "$file" | cut -d/ -f2)
  [ "$owner" = "integration" ] && owner=$(echo "$file" | cut -d/ -f3)
  [ "$file" != "${file#tests/fuzz/}" ] && continue
  if [ "$owner" != "$dep" ]; then
    echo "$file:$line: includes $(echo "$inc" | sed -E 's/.*#include //'), private to '$dep'"
    bad=1
  fi
done < <(grep -rnE '^#include "[a-z0-9_]+/([a-z0-9_]+/)*internal/' src tests || true)
[ $bad -eq 0 ] && echo "check_includes: ok"
exit $bad
