#!/usr/bin/env bash
# Stops the control plane that up.sh started in DIR.
#
#   usage: down.sh DIR [--purge] [component...]
#     component...  stop only these (say kube-apiserver, to test a client's reconnects);
#                   default: all, in reverse start order
#     --purge       then delete everything up.sh wrote to DIR (PKI, etcd data, logs), and DIR
#                   itself when that leaves it empty
#   env:   K8S_TESTENV_STOP_TIMEOUT  seconds between SIGTERM and SIGKILL (default 15)
#
# Processes are found only through DIR/run/NAME.pid, and signalled only while /proc/PID/exe is
# still our binary, so a reused PID is never hit and nothing is ever killed by name.
# The clients of the API server (kwok, scheduler, controller-manager) go first: while they hold
# watches, kube-apiserver takes its full --request-timeout (60 s) to exit on SIGTERM.
# Safe to run twice, concurrently with itself, or on a DIR that no longer exists.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || { echo "usage: $(basename "$0") DIR [--purge] [component...]" >&2; exit 2; }
[ -d "$1" ] || exit 0
DIR="$(cd "$1" && pwd)"
shift
PURGE="" ONLY=()
for arg in "$@"; do
  case $arg in
    --purge) PURGE=1 ;;
    -*) echo "down.sh: unknown option $arg" >&2; exit 2 ;;
    *) case " $TESTENV_COMPONENTS " in
         *" $arg "*) ONLY+=("$arg") ;;
         *) echo "down.sh: unknown component $arg (one of: $TESTENV_COMPONENTS)" >&2; exit 2 ;;
       esac ;;
  esac
done

if [ ${#ONLY[@]} -gt 0 ]; then ORDER="${ONLY[*]}"; else ORDER=$(printf '%s\n' $TESTENV_COMPONENTS | tac); fi
GRACE="${K8S_TESTENV_STOP_TIMEOUT:-15}"
T0=$(testenv_now_ms)
# A zombie still has /proc/PID until its parent reaps it, but it is no longer running.
alive() { local state; state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]; }

for name in $ORDER; do
  pidfile="$DIR/run/$name.pid"
  pid=$(cat "$pidfile" 2>/dev/null) || continue
  if [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$TESTENV_BIN/$name" ]; then
    t=$(testenv_now_ms)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((GRACE * 10))); do alive "$pid" || break; sleep 0.1; done
    how=SIGTERM
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      how="SIGKILL after ${GRACE}s"
      for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
    fi
    echo "k8s testenv: stopped $name (pid $pid, $how) in $(( $(testenv_now_ms) - t )) ms" >&2
  fi
  rm -f "$pidfile"
done

if [ -n "$PURGE" ]; then
  if [ -f "$DIR/.sparkplane-k8s-testenv" ]; then
    rm -rf "$DIR/etc" "$DIR/pki" "$DIR/data" "$DIR/logs" "$DIR/run" "$DIR/testenv.env"
    rm -f "$DIR/.sparkplane-k8s-testenv"
  fi
  rmdir "$DIR" 2>/dev/null || true   # only if nothing else is in it
fi
echo "k8s testenv: down in $(( $(testenv_now_ms) - T0 )) ms" >&2
