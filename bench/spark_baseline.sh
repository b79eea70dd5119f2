#!/usr/bin/env bash
# The plain-shell baseline of examples/dags/spark_pipeline.yaml, with Spark's own commands only
# (spark-facts §2, §3, §8, §11): a standalone master and 1 worker on loopback, wait until the
# master counts the worker alive, spark-submit examples/apps/app.py in client mode, stop the
# worker, then the master, and clean up. The pip wheel has no sbin/start-master.sh, so the
# daemons run through bin/spark-class, as the facts file shows.
#
# It does what Sparkplane does for that DAG, so bench/spark_pipeline_bench.sh can compare the two:
#   - daemons: each in its own session (setsid), SPARK_LOCAL_IP=127.0.0.1, --host 127.0.0.1,
#     --port 0 --webui-port 0 (ports read from master.log), REST server off, the same
#     appIdPattern style, worker 2 cores / 1g with its own --work-dir and SPARK_LOCAL_DIRS,
#     PYSPARK_PYTHON = the venv's python; the worker starts as soon as the master logged its URL
#     (src/spark/local_cluster.cc does the same);
#   - ready: GET /json/ every 0.15 s until status ALIVE and aliveworkers >= 1;
#   - spark-submit: client mode, --py-files job_dependency.zip, --executor-memory 512m, and the
#     confs src/spark/submit.cc adds (driver host/bindAddress 127.0.0.1, ui off, event log on to
#     a per-run dir, spark.local.dir per run, spark.pyspark[.driver].python), app.py --rows N;
#   - teardown: SIGTERM to the worker's process group, wait, then the master's; remove work/
#     and local/ dirs (logs are kept, as Sparkplane keeps them).
#
# Usage: bench/spark_baseline.sh [ROWS]          (ROWS defaults to 20000, the DAG's default)
# Env:   SPARK_BASELINE_DIR  run dir (default: a new mktemp dir, removed at the end)
#        SPARK_HOME, PYSPARK_PYTHON  (default: the repo's .venv, as sparkplane finds them)
# Prints phase timings; the last line is machine-readable:
#   BASELINE ok=1 master_url=S cluster_ready=S submit=S teardown=S total=S
# Exit 0 when spark-submit succeeded and printed its RESULT line, 1 otherwise. Never leaves a
# Spark JVM behind (EXIT/INT/TERM trap).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${1:-20000}
POLL=0.15
READY_TIMEOUT=120

# --- Spark and python, found like src/cli/config.cc FindBundledSpark -----------------------------
# shellcheck source=bench/spark_lib.sh
. "$REPO/bench/spark_lib.sh"
PY=${PYSPARK_PYTHON:-$REPO/.venv/bin/python}
if ! find_spark_home "$REPO"; then
  echo "spark_baseline: Spark not found (set SPARK_HOME or run scripts/setup.sh)" >&2
  exit 1
fi
APP=$REPO/examples/apps/app.py
ZIP=$REPO/build/examples/job_dependency.zip
for f in "$APP" "$ZIP"; do
  [ -f "$f" ] || { echo "spark_baseline: missing $f (build the examples first)" >&2; exit 1; }
done

# --- run dir -------------------------------------------------------------------------------------
if [ -n "${SPARK_BASELINE_DIR:-}" ]; then
  RUN=$SPARK_BASELINE_DIR
  REMOVE_RUN=0
  mkdir -p "$RUN" || exit 1
else
  RUN=$(mktemp -d "${TMPDIR:-/tmp}/spark-baseline.XXXXXX") || exit 1
  REMOVE_RUN=1
fi
CL=$RUN/cluster
mkdir -p "$CL/work/worker-1" "$CL/local/worker-1" "$RUN/apps" "$RUN/history/spark" \
  "$RUN/tmp/driver" || exit 1
cp "$APP" "$ZIP" "$RUN/apps/" || exit 1

MASTER_PID= WORKER_PID= DRIVER_PID= WATCHDOG=
# Stops whatever is still running, then removes the run dir if we made it.
cleanup() {
  trap - EXIT INT TERM
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
  stop_group "$DRIVER_PID"
  stop_group "$WORKER_PID"
  stop_group "$MASTER_PID"
  if [ "$REMOVE_RUN" = 1 ]; then rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'echo "spark_baseline: interrupted" >&2; exit 130' INT TERM

fail() {
  echo "spark_baseline: $*" >&2
  for log in "$CL/master.log" "$CL/worker-1.log" "$RUN/driver.log"; do
    [ -f "$log" ] && { echo "--- tail $log" >&2; tail -n 15 "$log" >&2; }
  done
  echo "BASELINE ok=0"
  exit 1
}
# Safety net for a death that skips the trap (SIGKILL, or a signal that lands before the trap
# can run): a watchdog notices that this script is gone and stops the process groups recorded
# in $PIDS (only those whose cwd is still in the run dir, so a reused pid is never hit).
PIDS=$RUN/pids
: >"$PIDS"
record() { echo "$1" >>"$PIDS"; }
(
  trap '' INT  # a Ctrl-C reaches the script's trap; the trap then stops this watchdog
  parent=$$
  exec </dev/null >/dev/null 2>&1
  while alive "$parent"; do sleep 1; done
  ours() { local cwd; cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) && [[ $cwd == "$RUN"* ]]; }
  for sig in TERM KILL; do
    while read -r pid; do ours "$pid" && kill "-$sig" -- "-$pid"; done <"$PIDS"
    [ "$sig" = TERM ] && sleep 10
  done
  [ "$REMOVE_RUN" = 1 ] && rm -rf "$RUN"
) &
WATCHDOG=$!

# --- cluster -------------------------------------------------------------------------------------
T0=$(now)
DEADLINE=$(awk -v t="$T0" -v d="$READY_TIMEOUT" 'BEGIN { print int(t + d) }')
(
  cd "$CL" || exit 1
  export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PY"
  export SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false -Dspark.deploy.appIdPattern=app-baseline-%s-%04d"
  exec setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port 0 --webui-port 0 >"$CL/master.log" 2>&1 </dev/null
) &
MASTER_PID=$!
record "$MASTER_PID"

# The master logs "Starting Spark master at spark://127.0.0.1:P", then
# "Successfully started service 'MasterUI' on port N."
MASTER_URL= UI_PORT=
while :; do
  if [ -z "$MASTER_URL" ]; then
    MASTER_URL=$(grep -o -m1 'Starting Spark master at spark://[0-9.]*:[0-9]*' "$CL/master.log" \
      2>/dev/null | sed 's/.* at //')
    if [ -n "$MASTER_URL" ]; then
      T_URL=$(now)
      (
        cd "$CL" || exit 1
        export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PY" SPARK_LOCAL_DIRS="$CL/local/worker-1"
        exec setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
          --host 127.0.0.1 --port 0 --webui-port 0 --cores 2 --memory 1g \
          --work-dir "$CL/work/worker-1" "$MASTER_URL" >"$CL/worker-1.log" 2>&1 </dev/null
      ) &
      WORKER_PID=$!
      record "$WORKER_PID"
    fi
  fi
  if [ -n "$MASTER_URL" ]; then
    UI_PORT=$(grep -o -m1 "service 'MasterUI' on port [0-9]*" "$CL/master.log" 2>/dev/null |
      grep -o '[0-9]*$')
    [ -n "$UI_PORT" ] && break
  fi
  alive "$MASTER_PID" || fail "the master exited"
  [ "${EPOCHREALTIME%.*}" -lt "$DEADLINE" ] || fail "the master did not log its URL and UI port"
  sleep "$POLL"
done

while :; do
  json=$(curl -fsS --max-time 2 "http://127.0.0.1:$UI_PORT/json/" 2>/dev/null)
  if grep -q '"status" *: *"ALIVE"' <<<"$json" &&
    grep -Eq '"aliveworkers" *: *[1-9]' <<<"$json"; then
    break
  fi
  alive "$MASTER_PID" || fail "the master exited"
  alive "$WORKER_PID" || fail "the worker exited"
  [ "${EPOCHREALTIME%.*}" -lt "$DEADLINE" ] || fail "the cluster was not ready in time"
  sleep "$POLL"
done
T_READY=$(now)
echo "master start -> URL logged (worker started):  $(secs "$T0" "$T_URL") s"
echo "master start -> ALIVE with 1 worker alive:     $(secs "$T0" "$T_READY") s  ($MASTER_URL)"

# --- spark-submit (client mode), with the confs Sparkplane adds ---------------------------------
T_SUB=$(now)
(
  cd "$RUN/tmp/driver" || exit 1
  export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PY" PYSPARK_DRIVER_PYTHON="$PY"
  exec setsid "$SPARK_HOME/bin/spark-submit" --master "$MASTER_URL" --deploy-mode client \
    --py-files "$RUN/apps/job_dependency.zip" --executor-memory 512m \
    --conf spark.driver.bindAddress=127.0.0.1 --conf spark.driver.host=127.0.0.1 \
    --conf "spark.eventLog.dir=file:$RUN/history/spark" --conf spark.eventLog.enabled=true \
    --conf "spark.local.dir=$RUN/tmp/driver" \
    --conf "spark.pyspark.driver.python=$PY" --conf "spark.pyspark.python=$PY" \
    --conf spark.ui.enabled=false \
    "$RUN/apps/app.py" --rows "$ROWS" >"$RUN/driver.log" 2>&1 </dev/null
) &
DRIVER_PID=$!
record "$DRIVER_PID"
wait "$DRIVER_PID"
SUBMIT_RC=$?
DRIVER_PID=
T_SUBDONE=$(now)
echo "spark-submit (whole driver life):              $(secs "$T_SUB" "$T_SUBDONE") s  (exit $SUBMIT_RC)"
RESULT=$(grep -m1 '^RESULT ' "$RUN/driver.log")

# --- teardown: worker first (it stops its executors), then the master ---------------------------
T_DOWN=$(now)
stop_group "$WORKER_PID"
WORKER_PID=
stop_group "$MASTER_PID"
MASTER_PID=
rm -rf "$CL/work" "$CL/local" "$RUN/tmp/driver"
T_END=$(now)
echo "teardown (worker + master exited, dirs):       $(secs "$T_DOWN" "$T_END") s"
echo "total (master start -> cleaned up):            $(secs "$T0" "$T_END") s"

[ "$SUBMIT_RC" -eq 0 ] || fail "spark-submit exited with $SUBMIT_RC"
[ -n "$RESULT" ] || fail "spark-submit printed no RESULT line"
echo "$RESULT"
echo "BASELINE ok=1 master_url=$(secs "$T0" "$T_URL") cluster_ready=$(secs "$T0" "$T_READY")" \
  "submit=$(secs "$T_SUB" "$T_SUBDONE") teardown=$(secs "$T_DOWN" "$T_END")" \
  "total=$(secs "$T0" "$T_END")"
exit 0
