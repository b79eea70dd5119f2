#!/usr/bin/env bash
# Checks every #include "module/..." in src/ against the allowed-dependency table in
# docs/ARCHITECTURE.md (CMake targets alone do not stop an include through the shared root).
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
[ $bad -eq 0 ] && echo "check_includes: ok"
exit $bad
