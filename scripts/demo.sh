#!/usr/bin/env bash
# `make demo`: runs the example DAGs once, end to end, on on-demand local Spark clusters, then
# prints the run table and the Spark application summaries. Exits 0 only if every run succeeded
# and no Spark daemon was left behind. Then, on a terminal (or with SPARKPLANE_DEMO_SERVE=1),
# it serves the web UI on those runs until Ctrl-C: `admin` with a password printed once here
# (SPARKPLANE_DEMO_HTTP, default 127.0.0.1:8080, port 0 for any free one; SPARKPLANE_DEMO_SERVE=0
# skips it).
#
# SPARKPLANE_DEMO_DIR: the data directory (default .data/demo, emptied first);
# SPARKPLANE_DEMO_DAGS: the DAGs to run (default "hello spark_pipeline java_wordstats"; every
# example DAG is loaded either way). tests/integration/cli/demo_test.cc runs only `hello` (no
# Spark) and the serving step.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/release/sparkplane}
DATA=$(realpath -m "${SPARKPLANE_DEMO_DIR:-$PWD/.data/demo}")
DAGS=${SPARKPLANE_DEMO_DAGS:-hello spark_pipeline java_wordstats}

# The Spark daemons of this demo's local clusters: they run in their cluster's directory under
# $DATA (other Spark processes on the machine, a test's, are not this demo's to count).
spark_daemons() {
  local pid cwd
  for pid in $(pgrep -f 'org.apache.spark.deploy.(master.Master|worker.Worker)'); do
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
    case "$cwd" in "$DATA"/*) echo "$pid" ;; esac
  done | sort
}
before=$(spark_daemons)

rm -rf "$DATA"
mkdir -p "$DATA/dags" "$DATA/apps"
cp examples/dags/*.yaml "$DATA/dags/"
cp examples/apps/app.py build/examples/job_dependency.zip build/examples/sparkplane-examples.jar \
   "$DATA/apps/"
sp() { "$BIN" --data-dir "$DATA" "$@"; }

echo "== sparkplane demo: data directory $DATA"
sp dags validate || exit 1
sp dags list
status=0
for dag in $DAGS; do
  echo
  echo "== dags test $dag"
  if ! sp dags test "$dag"; then
    echo "demo: $dag FAILED" >&2
    status=1
  fi
done

echo
echo "== runs"
sp runs list
echo
echo "== Spark applications (from $DATA/history/spark)"
sp history list

after=$(spark_daemons)
# (No process substitution: bash does not reap those children, and the server it execs below
# would keep them as zombies.)
leaked=""
for pid in $after; do
  case " ${before//$'\n'/ } " in *" $pid "*) ;; *) leaked="$leaked $pid" ;; esac
done
leaked=${leaked# }
if [ -n "$leaked" ]; then
  echo "demo: Spark daemons left behind: $leaked" >&2
  status=1
else
  echo
  echo "no Spark process left behind"
fi
[ $status -eq 0 ] && echo "demo: all runs succeeded"

SERVE=${SPARKPLANE_DEMO_SERVE:-}
[ -z "$SERVE" ] && { [ -t 1 ] && SERVE=1 || SERVE=0; }
if [ $status -eq 0 ] && [ "$SERVE" = 1 ]; then
  ADDR=${SPARKPLANE_DEMO_HTTP:-127.0.0.1:8080}
  PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  echo "$PASSWORD" | sp users create admin --role admin --password-stdin >/dev/null || exit 1
  echo
  if [ "${ADDR##*:}" = 0 ]; then
    echo "== web UI: on ${ADDR%:*}, the port in the server's \"ready\" line below (user admin," \
         "password $PASSWORD; shown once)"
  else
    echo "== web UI: http://$ADDR/  (user admin, password $PASSWORD; shown once)"
  fi
  echo "   the runs above are there; trigger more from the UI. Ctrl-C stops the server."
  exec "$BIN" --data-dir "$DATA" server --http-address "$ADDR"
fi
exit $status
