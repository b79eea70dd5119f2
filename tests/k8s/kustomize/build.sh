#!/usr/bin/env bash
# Builds kustomize (sigs.k8s.io/kustomize/kustomize/v5, pinned by go.sum here) into
# ~/.cache/sparkplane/kustomize/<hash of go.sum>/kustomize, where the deploy test finds it to
# compare `kubectl kustomize`'s rendering of deploy/ with the one embedded in `sparkplane`.
# Its own cache key, so the k8s test environment is never rebuilt for it. ~1 min cold.
#
#   usage: build.sh            build when missing (a no-op when cached)
#          build.sh --print    print the binary's path and exit
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KEY=$(sha256sum "$HERE/go.sum" | cut -c1-12)
CACHE="${SPARKPLANE_CACHE:-$HOME/.cache/sparkplane}/kustomize/$KEY"
BIN="$CACHE/kustomize"
if [ "${1:-}" = "--print" ]; then echo "$BIN"; exit 0; fi
if [ -x "$BIN" ]; then echo "kustomize: cached in $CACHE"; exit 0; fi
GO="${GO:-$(command -v go || true)}"
[ -x "$GO" ] || { echo "kustomize: Go not found (set GO=/path/to/go)" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$CACHE/src"
cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$CACHE/src/"
chmod u+w "$CACHE/src/"*
(cd "$CACHE/src" && nice -n 10 "$GO" build -mod=readonly -trimpath -ldflags "-s -w" \
  -o "$CACHE/.kustomize.tmp" sigs.k8s.io/kustomize/kustomize/v5)
mv -f "$CACHE/.kustomize.tmp" "$BIN"
echo "kustomize: built $BIN"
