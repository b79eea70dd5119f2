#!/usr/bin/env bash
# Builds the five control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from the pinned wrapper modules in modules/ into the machine-local
# cache described in common.sh, and writes kwok's stages file next to them.
#
#   usage: build.sh            build what is missing (a no-op in well under a second when cached)
#          build.sh --print    print the cache directory and exit
#   env:   FORCE=1             relink everything (fast when Go's build cache is warm)
#          GO=/path/to/go      the Go toolchain to use (default: go on PATH); needs Go >= 1.26
#          SPARKPLANE_CACHE    cache root (default ~/.cache/sparkplane)
#
# A cold build takes ~18 minutes on a busy 2-core machine and needs ~1 GB of Go module cache
# and ~4.5 GB of Go build cache (`go clean -cache` frees the latter; the binaries stand alone).
# It runs under `nice` because it shares the machine with everything else.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

if [ "${1:-}" = "--print" ]; then echo "$TESTENV_CACHE"; exit 0; fi

if testenv_is_built && [ -z "${FORCE:-}" ]; then
  echo "k8s testenv: cached in $TESTENV_CACHE"
  exit 0
fi

GO="${GO:-$(command -v go || true)}"
[ -x "$GO" ] || { echo "k8s testenv: Go >= 1.26 not found (set GO=/path/to/go, or SP_SKIP_K8S=1 to skip the k8s tests' setup)" >&2; exit 1; }
# The modules say `go 1.26.0`; never let Go download another toolchain behind our back.
export GOTOOLCHAIN=local CGO_ENABLED=0
NICE=(nice -n "${K8S_TESTENV_BUILD_NICE:-10}")

mkdir -p "$TESTENV_BIN" "$(dirname "$TESTENV_STAGES")" "$TESTENV_CACHE/src"
# Two setup.sh runs at once must not both spend 18 minutes, nor write the same file.
exec 9>"$TESTENV_CACHE/.build.lock"
flock 9

for m in $TESTENV_MODULES; do
  mkdir -p "$TESTENV_CACHE/src/$m"
  cp "$TESTENV_HERE/modules/$m/go.mod" "$TESTENV_HERE/modules/$m/go.sum" "$TESTENV_CACHE/src/$m/"
  chmod u+w "$TESTENV_CACHE/src/$m/go.mod" "$TESTENV_CACHE/src/$m/go.sum"
done

# The Kubernetes binaries report their version from these variables. Left unset they
# claim a placeholder version, and clients that compare versions (kubectl, kwok) misbehave.
KUBE_VERSION=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$TESTENV_HERE/modules/kube/go.mod")
[[ $KUBE_VERSION =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] ||
  { echo "k8s testenv: cannot read the k8s.io/kubernetes version from modules/kube/go.mod" >&2; exit 1; }
VPKG=k8s.io/component-base/version
KUBE_LDFLAGS="-s -w -X $VPKG.gitVersion=$KUBE_VERSION -X $VPKG.gitMajor=${BASH_REMATCH[1]}"
KUBE_LDFLAGS+=" -X $VPKG.gitMinor=${BASH_REMATCH[2]} -X $VPKG.gitTreeState=clean"
KUBE_LDFLAGS+=" -X $VPKG.buildDate=1970-01-01T00:00:00Z"

build_one() { # module binary package ldflags
  local module=$1 name=$2 pkg=$3 ldflags=$4 t0
  if [ -x "$TESTENV_BIN/$name" ] && [ -z "${FORCE:-}" ]; then echo "k8s testenv: have $name"; return; fi
  t0=$(date +%s)
  echo "k8s testenv: building $name ($pkg)"
  # Build to a temporary name so an interrupted build never leaves a half-written binary
  # that a later run would take for a finished one.
  (cd "$TESTENV_CACHE/src/$module" &&
    "${NICE[@]}" "$GO" build -mod=readonly -trimpath -ldflags "$ldflags" \
      -o "$TESTENV_BIN/.$name.tmp" "$pkg")
  mv -f "$TESTENV_BIN/.$name.tmp" "$TESTENV_BIN/$name"
  echo "k8s testenv: built $name in $(( $(date +%s) - t0 )) s ($(du -h "$TESTENV_BIN/$name" | cut -f1))"
}

T0=$(date +%s)
# This order lets each later build reuse the packages compiled for the earlier ones.
build_one kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$KUBE_LDFLAGS"
build_one kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$KUBE_LDFLAGS"
build_one kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$KUBE_LDFLAGS"
build_one etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build_one kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w"

# kwok does nothing without "stages" (the rules that mark nodes Ready, pods Running, and
# finish deletions). The kwok binary embeds none; the kwok module ships them as YAML.
# Concatenate its "fast" set.
if [ ! -s "$TESTENV_STAGES" ] || [ -n "${FORCE:-}" ]; then
  KWOK_DIR=$(cd "$TESTENV_CACHE/src/kwok" && "$GO" mod download sigs.k8s.io/kwok >/dev/null &&
             "$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  [ -d "$KWOK_DIR/kustomize/stage" ] ||
    { echo "k8s testenv: kwok stages not found in '$KWOK_DIR'" >&2; exit 1; }
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$KWOK_DIR/kustomize/stage/$f"
  done > "$TESTENV_STAGES.tmp"
  mv -f "$TESTENV_STAGES.tmp" "$TESTENV_STAGES"
  echo "k8s testenv: wrote $TESTENV_STAGES"
fi

echo "k8s testenv: ready in $TESTENV_CACHE ($(( $(date +%s) - T0 )) s)"
