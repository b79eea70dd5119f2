#!/usr/bin/env bash
# Builds the web UI (ui/) into OUT_DIR (default build/ui-dist), which CMake embeds in the binary.
#   scripts/build_ui.sh [OUT_DIR]
# Idempotent: `npm ci` runs only when ui/node_modules is missing or ui/package-lock.json changed
# (a stamp in node_modules records the lockfile's hash); then the API types are generated from
# src/api/openapi.yaml, the sources type-checked (tsc --noEmit) and bundled (vite build).
# Needs node (>= 20.19) and npm, and the npm registry for the first install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/ui-dist}
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac
UI=$ROOT/ui

command -v node >/dev/null || { echo "build_ui: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "build_ui: npm is not installed" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  { echo "build_ui: node >= 20.19 is needed (have $(node --version))" >&2; exit 1; }

cd "$UI"
stamp=node_modules/.sparkplane-install-stamp
if [ -f package-lock.json ]; then
  want=$( (cat package.json package-lock.json; node --version) | sha256sum | cut -d' ' -f1)
  if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "build_ui: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
else
  echo "build_ui: npm install (no lockfile yet)"
  npm install --no-audit --no-fund --loglevel=error
  want=$( (cat package.json package-lock.json; node --version) | sha256sum | cut -d' ' -f1)
  echo "$want" > "$stamp"
fi

# API types from the OpenAPI document (rewritten only when they change).
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
node_modules/.bin/openapi-typescript "$ROOT/src/api/openapi.yaml" -o "$tmp" --silent >/dev/null
mkdir -p src/api
cmp -s "$tmp" src/api/schema.d.ts || cp "$tmp" src/api/schema.d.ts

echo "build_ui: tsc --noEmit"
node node_modules/typescript-7/bin/tsc --noEmit -p .

echo "build_ui: vite build -> $OUT"
staging="$OUT.tmp.$$"
rm -rf "$staging"
UI_OUT_DIR="$staging" node_modules/.bin/vite build --logLevel warn
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$staging" "$OUT"

js=$(cat "$OUT"/assets/*.js 2>/dev/null | gzip -9 | wc -c)
css=$(cat "$OUT"/assets/*.css 2>/dev/null | gzip -9 | wc -c)
awk -v out="$OUT" -v js="$js" -v css="$css" \
  'BEGIN { printf "build_ui: %s: JS %d B + CSS %d B = %d B gzip (%.1f KiB)\n", out, js, css, js + css, (js + css) / 1024 }'
