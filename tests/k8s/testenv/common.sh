# Shared by build.sh, up.sh and down.sh (sourced, not run).
#
# The binaries are built once per machine into a cache outside the repository, in a directory
# named after a hash of the wrapper modules' go.sum files. Changing a pinned version changes
# go.sum, hence the directory, hence triggers a rebuild; reverting it finds the old build again.
#
#   $SPARKPLANE_CACHE/k8s-testenv/<hash>/   (SPARKPLANE_CACHE defaults to ~/.cache/sparkplane)
#     bin/   etcd kube-apiserver kube-controller-manager kube-scheduler kwok
#     etc/   kwok-stages.yaml
#     src/   private copies of modules/*/go.{mod,sum}, where `go build` runs
#
# A running environment lives in a directory of its own (up.sh DIR), never in the cache.

TESTENV_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTENV_MODULES="kube etcd kwok"
# Start order; down.sh stops them in the reverse order (clients of the API server first).
TESTENV_COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

testenv_cache_key() {
  local m
  for m in $TESTENV_MODULES; do cat "$TESTENV_HERE/modules/$m/go.sum"; done |
    sha256sum | cut -c1-12
}

TESTENV_CACHE="${SPARKPLANE_CACHE:-$HOME/.cache/sparkplane}/k8s-testenv/$(testenv_cache_key)"
TESTENV_BIN="$TESTENV_CACHE/bin"
TESTENV_STAGES="$TESTENV_CACHE/etc/kwok-stages.yaml"

# Exit status of up.sh when the cache is empty, so callers (the C++ fixture) can tell
# "never built" from "failed to start".
TESTENV_EXIT_NOT_BUILT=3
TESTENV_NOT_BUILT_HINT="run scripts/setup.sh (builds the k8s test environment, ~18 min cold)"

testenv_is_built() {
  local c
  for c in $TESTENV_COMPONENTS; do [ -x "$TESTENV_BIN/$c" ] || return 1; done
  [ -s "$TESTENV_STAGES" ]
}

testenv_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
