#!/usr/bin/env bash
# Sparkplane's Spark pipeline against a plain shell script doing the same steps with Spark's own
# commands (bench/spark_baseline.sh), in the same window: runs alternate baseline, sparkplane,
# baseline, sparkplane, ... so that load drift on a shared machine hits both alike.
#
# Usage: bench/spark_pipeline_bench.sh BUILD_DIR [ROUNDS]      (ROUNDS default 3)
#   e.g. bench/spark_pipeline_bench.sh build/release 3
# Env:   ROWS (default 20000, the DAG's default), SPARK_BENCH_KEEP=1 keeps the run dirs.
#
# sparkplane is measured as the wall time of `sparkplane dags test spark_pipeline --conf
# '{"rows": N}'` on a fresh data dir set up like scripts/demo.sh, with a copy of BUILD_DIR's binary
# taken at the start (so a rebuild during the bench changes nothing). From the run's record
# (`runs show spark_pipeline latest --json`) come the cluster-ready time (create_cluster
# started_at -> ended_at) and the other task durations. The scheduler's peak RSS is the VmHWM
# of the sparkplane process itself, sampled from /proc/PID/status every 0.1 s while it runs
# (VmHWM is a high-water mark, so only growth in the last 0.1 s could be missed); the Spark
# JVMs and the driver are other processes and do not count. "sp CPU" is the sparkplane
# process's own user+sys time (its children excluded), from /proc/PID/stat.
#
# Prints Markdown tables (per round and medians) and the load average. A slow result never
# fails the script (benchmarks are not tests); it exits 1 only if a pipeline run failed.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [ROUNDS]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd) || exit 2
BIN=$BUILD/sparkplane
ROUNDS=${2:-3}
ROWS=${ROWS:-20000}
[ -x "$BIN" ] || { echo "spark_pipeline_bench: $BIN not found (build the sparkplane target)" >&2; exit 2; }
for f in "$REPO/examples/apps/app.py" "$REPO/build/examples/job_dependency.zip"; do
  [ -f "$f" ] || { echo "spark_pipeline_bench: missing $f (build the examples)" >&2; exit 2; }
done
CLK_TCK=$(getconf CLK_TCK)

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/spark-pipeline-bench.XXXXXX") || exit 1
CHILD= SAMPLER=
mkfifo "$ROOT/sleep.fifo" || exit 1
# Every round runs the same binary: a copy taken now (a rebuild of BUILD_DIR during the bench
# would otherwise change it between rounds). A copy outside the repo cannot find the repo's
# .venv by its own path, so Spark and the python are passed as sparkplane would find them.
BIN_INFO="$(stat -c '%y' "$BIN" | cut -d. -f1), sha256 $(sha256sum "$BIN" | cut -c1-12)"
cp "$BIN" "$ROOT/sparkplane" || exit 1
# The per-try supervisor goes with it (sparkplane looks next to itself first).
cp "$BUILD/sparkplane-supervisor" "$ROOT/sparkplane-supervisor" || exit 1
BIN=$ROOT/sparkplane
# shellcheck source=bench/spark_lib.sh
. "$REPO/bench/spark_lib.sh"
find_spark_home "$REPO"
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$REPO/.venv/bin/python}
reap_leftovers() {  # dir label
  local pids
  pids=$(procs_under "$1" | grep -vx "$$")
  [ -n "$pids" ] || return 0
  echo "spark_pipeline_bench: $2 left processes behind: $(echo $pids); killing them" >&2
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  sleep 5
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  LEAKS=1
}
cleanup() {
  trap - EXIT INT TERM
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null  # sparkplane and the baseline both tear down on SIGTERM
    for _ in $(seq 1 300); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
    wait "$CHILD" 2>/dev/null
  fi
  reap_leftovers "$ROOT" "an interrupted run"
  if [ "${SPARK_BENCH_KEEP:-0}" = 1 ]; then echo "run dirs kept in $ROOT" >&2; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT
trap 'echo "spark_pipeline_bench: interrupted" >&2; exit 130' INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }

# Samples VmHWM (kB) and own CPU ticks of PID into FILE until the process is gone. Builtins
# only (the 0.1 s sleep is a read timeout on a FIFO nobody writes to), so the sampler forks
# nothing; it runs alike during the baseline (on the script's bash) to keep the sides equal.
sample() {  # pid file
  local pid=$1 out=$2 k v _ hwm=0 stat ticks=0 fd f
  exec {fd}<>"$ROOT/sleep.fifo"
  while [ -r "/proc/$pid/status" ]; do
    while read -r k v _; do
      [ "$k" = VmHWM: ] && { [ "$v" -gt "$hwm" ] && hwm=$v; break; }
    done 2>/dev/null <"/proc/$pid/status"  # (2> first: the process may be gone)
    if read -r stat 2>/dev/null <"/proc/$pid/stat"; then
      stat=${stat##*) }  # fields after "(comm) ": state is field 3, utime 14, stime 15
      read -r -a f <<<"$stat"
      [ "${#f[@]}" -gt 12 ] && ticks=$((f[11] + f[12]))
    fi
    echo "$hwm $ticks" >"$out"
    read -r -t 0.1 -u "$fd" _
  done
}
start_sampler() {  # pid file
  sample "$1" "$2" &
  SAMPLER=$!
}
stop_sampler() {
  wait "$SAMPLER" 2>/dev/null
  SAMPLER=
}

# "Successfully stopped SparkContext (Uptime: N ms)" in a driver log: the driver's own time
# between SparkContext start and stop, which only Spark and the machine's load decide.
uptime_of() {  # log
  grep -o 'Successfully stopped SparkContext (Uptime: [0-9]* ms)' "$1" 2>/dev/null | tail -n1 |
    awk '{ gsub(/[^0-9]/, "", $5); if ($5 != "") printf "%.2f", $5 / 1000; else print "nan" }'
}

# Timestamps from the store are ISO-8601 UTC with milliseconds.
RUN_FIELDS='
import json, sys
from datetime import datetime
d = json.load(sys.stdin)
def t(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() if s else None
tasks = {x["task_id"]: x for x in d["tasks"]}
def dur(tid):
    x = tasks.get(tid, {})
    a, b = t(x.get("started_at")), t(x.get("ended_at"))
    return "%.2f" % (b - a) if a is not None and b is not None else "nan"
run0, run1 = t(d.get("started_at")), t(d.get("ended_at"))
ready = t(tasks.get("create_cluster", {}).get("ended_at"))
print(d["state"], dur("create_cluster"), dur("spark_application"), dur("delete_cluster"),
      "%.2f" % (ready - run0) if ready and run0 else "nan",
      "%.3f" % run0 if run0 else "nan", "%.3f" % run1 if run1 else "nan")
'

declare -a B_WALL B_READY B_SUB B_DOWN S_WALL S_READY S_RUNREADY S_SUB S_DOWN S_HWM S_CPU
declare -a S_PRE S_GAPS S_POST B_UP S_UP
declare -a LOAD_B LOAD_S OK_B OK_S
LEAKS=0
FAILED=0

run_baseline() {  # round
  local i=$1 dir=$ROOT/baseline-$1 t0 t1 line
  LOAD_B[i]=$(load1)
  t0=$(now)
  SPARK_BASELINE_DIR=$dir "$REPO/bench/spark_baseline.sh" "$ROWS" >"$ROOT/baseline-$i.log" 2>&1 &
  CHILD=$!
  start_sampler "$CHILD" "$ROOT/baseline-$i.hwm"
  wait "$CHILD"
  local rc=$?
  t1=$(now)
  CHILD=
  stop_sampler
  B_UP[i]=$(uptime_of "$dir/driver.log")
  B_WALL[i]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  line=$(grep '^BASELINE ' "$ROOT/baseline-$i.log" | tail -n1)
  get() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
  B_READY[i]=$(get cluster_ready) B_SUB[i]=$(get submit) B_DOWN[i]=$(get teardown)
  OK_B[i]=$([ "$rc" -eq 0 ] && echo ok || echo FAILED)
  [ "$rc" -eq 0 ] || { FAILED=1; echo "round $i: baseline failed, see $ROOT/baseline-$i.log" >&2; tail -n 20 "$ROOT/baseline-$i.log" >&2; }
  reap_leftovers "$dir" "baseline round $i"
  echo "round $i baseline:   wall ${B_WALL[i]} s (ready ${B_READY[i]:-?}, submit ${B_SUB[i]:-?}, teardown ${B_DOWN[i]:-?}; load ${LOAD_B[i]}) ${OK_B[i]}" >&2
}

run_sparkplane() {  # round
  local i=$1 data=$ROOT/sparkplane-$1 t0 t1 rc fields hwm ticks
  rm -rf "$data"
  mkdir -p "$data/dags" "$data/apps"
  cp "$REPO"/examples/dags/*.yaml "$data/dags/"
  cp "$REPO/examples/apps/app.py" "$REPO/build/examples/job_dependency.zip" "$data/apps/"
  [ -f "$REPO/build/examples/sparkplane-examples.jar" ] &&
    cp "$REPO/build/examples/sparkplane-examples.jar" "$data/apps/"
  LOAD_S[i]=$(load1)
  t0=$(now)
  "$BIN" --data-dir "$data" dags test spark_pipeline --conf "{\"rows\": $ROWS}" \
    >"$ROOT/sparkplane-$i.log" 2>&1 </dev/null &
  CHILD=$!
  start_sampler "$CHILD" "$ROOT/sparkplane-$i.hwm"
  wait "$CHILD"
  rc=$?
  t1=$(now)
  CHILD=
  stop_sampler
  S_UP[i]=$(uptime_of "$(ls "$data"/history/scheduler/logs/spark_pipeline/*/spark_application/*.log 2>/dev/null | tail -n1)")
  S_WALL[i]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  read -r hwm ticks <"$ROOT/sparkplane-$i.hwm" 2>/dev/null || { hwm=0; ticks=0; }
  S_HWM[i]=$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')
  S_CPU[i]=$(awk -v t="$ticks" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }')
  fields=$("$BIN" --data-dir "$data" runs show spark_pipeline latest --json 2>/dev/null |
    python3 -c "$RUN_FIELDS" 2>/dev/null)
  local state run0 run1
  read -r state S_READY[i] S_SUB[i] S_DOWN[i] S_RUNREADY[i] run0 run1 \
    <<<"${fields:-unknown nan nan nan nan nan nan}"
  # Sparkplane's own time outside the three Spark phases: process start -> run started_at (open
  # the store, scan the DAGs, create the run), the gaps between tasks inside the run, and run
  # ended_at -> process exit.
  S_PRE[i]=$(awk -v a="$t0" -v b="$run0" 'BEGIN { printf "%.3f", b - a }')
  S_GAPS[i]=$(awk -v a="$run0" -v b="$run1" -v c="${S_READY[i]}" -v d="${S_SUB[i]}" \
    -v e="${S_DOWN[i]}" 'BEGIN { printf "%.3f", b - a - c - d - e }')
  S_POST[i]=$(awk -v a="$run1" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  OK_S[i]=$([ "$rc" -eq 0 ] && [ "$state" = success ] && echo ok || echo FAILED)
  [ "${OK_S[i]}" = ok ] || { FAILED=1; echo "round $i: sparkplane failed (exit $rc, run $state), see $ROOT/sparkplane-$i.log" >&2; tail -n 20 "$ROOT/sparkplane-$i.log" >&2; }
  reap_leftovers "$data" "sparkplane round $i"
  echo "round $i sparkplane: wall ${S_WALL[i]} s (ready ${S_READY[i]}, submit ${S_SUB[i]}, teardown ${S_DOWN[i]}; VmHWM ${S_HWM[i]} MiB; load ${LOAD_S[i]}) ${OK_S[i]}" >&2
}

pct() { awk -v s="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f", (s - b) / b * 100; else print "nan" }'; }
diff_s() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%+.2f", s - b }'; }

echo "spark pipeline bench: $ROUNDS rounds, rows=$ROWS, $(nproc) CPUs, sparkplane $1/sparkplane ($BIN_INFO), dirs in $ROOT" >&2
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= ROUNDS; i++)); do
  run_baseline "$i"
  run_sparkplane "$i"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

OVER=() OVERP=()
echo
echo "| round | baseline wall (s) | sparkplane wall (s) | overhead (s) | overhead (%) | cluster ready: sparkplane / baseline (s) | sparkplane VmHWM (MiB) | sp CPU (s) | load 1m (b / sp) |"
echo "|---|---|---|---|---|---|---|---|---|"
for ((i = 1; i <= ROUNDS; i++)); do
  OVER[i]=$(diff_s "${S_WALL[i]}" "${B_WALL[i]}")
  OVERP[i]=$(pct "${S_WALL[i]}" "${B_WALL[i]}")
  flag=
  [ "${OK_B[i]}" = ok ] && [ "${OK_S[i]}" = ok ] || flag=" (FAILED run)"
  echo "| $i$flag | ${B_WALL[i]} | ${S_WALL[i]} | ${OVER[i]} | ${OVERP[i]} | ${S_READY[i]} / ${B_READY[i]:-nan} | ${S_HWM[i]} | ${S_CPU[i]} | ${LOAD_B[i]} / ${LOAD_S[i]} |"
done
mb=$(echo "${B_WALL[*]}" | median)
ms=$(echo "${S_WALL[*]}" | median)
mo=$(echo "${OVER[*]}" | tr -d + | median)
mp=$(echo "${OVERP[*]}" | tr -d + | median)
echo "| **median** | **$mb** | **$ms** | **$mo** | **$mp** | **$(echo "${S_READY[*]}" | median) / $(echo "${B_READY[*]}" | median)** | **$(echo "${S_HWM[*]}" | median)** | **$(echo "${S_CPU[*]}" | median)** | |"
nb=$(echo "${B_WALL[*]}" | minimum)
ns=$(echo "${S_WALL[*]}" | minimum)
echo "| min | $nb | $ns | $(diff_s "$ns" "$nb") | $(pct "$ns" "$nb") | $(echo "${S_READY[*]}" | minimum) / $(echo "${B_READY[*]}" | minimum) | $(echo "${S_HWM[*]}" | minimum) | $(echo "${S_CPU[*]}" | minimum) | |"
echo
echo "overhead = sparkplane wall - baseline wall of the same round; the median row takes the median"
echo "of each column (so the overhead median is that of the per-round differences); the min row"
echo "compares the least-contended run of each side."
echo
echo "Phases, medians (s). spark-submit = the whole driver life; SparkContext uptime = the part"
echo "of it the driver itself reports (Spark's work, set by Spark and the load alone)."
echo
echo "| | cluster ready | spark-submit | SparkContext uptime | submit - uptime | teardown | rest |"
echo "|---|---|---|---|---|---|---|"
rest() {  # wall ready sub down arrays by name
  local -n w=$1 r=$2 s=$3 d=$4
  local out=() j
  for ((j = 1; j <= ROUNDS; j++)); do
    out+=("$(awk -v a="${w[j]}" -v b="${r[j]:-nan}" -v c="${s[j]:-nan}" -v e="${d[j]:-nan}" \
      'BEGIN { printf "%.2f", a - b - c - e }')")
  done
  echo "${out[*]}" | median
}
minus() {  # a b arrays by name: median of a[j] - b[j]
  local -n x=$1 y=$2
  local out=() j
  for ((j = 1; j <= ROUNDS; j++)); do
    out+=("$(awk -v a="${x[j]:-nan}" -v b="${y[j]:-nan}" 'BEGIN { printf "%.2f", a - b }')")
  done
  echo "${out[*]}" | median
}
echo "| baseline | $(echo "${B_READY[*]}" | median) | $(echo "${B_SUB[*]}" | median) | $(echo "${B_UP[*]}" | median) | $(minus B_SUB B_UP) | $(echo "${B_DOWN[*]}" | median) | $(rest B_WALL B_READY B_SUB B_DOWN) |"
echo "| sparkplane | $(echo "${S_READY[*]}" | median) | $(echo "${S_SUB[*]}" | median) | $(echo "${S_UP[*]}" | median) | $(minus S_SUB S_UP) | $(echo "${S_DOWN[*]}" | median) | $(rest S_WALL S_READY S_SUB S_DOWN) |"
echo
echo "Sparkplane's own time outside Spark's phases, medians (s): process start -> run started"
echo "$(echo "${S_PRE[*]}" | median 3), between tasks $(echo "${S_GAPS[*]}" | median 3), run ended -> process exit $(echo "${S_POST[*]}" | median 3)."
echo "Run start to cluster ready (sparkplane, run started_at -> create_cluster ended_at), median: $(echo "${S_RUNREADY[*]}" | median) s."
echo "Load average (1/5/15 min): $LOAD_START at the start, $LOAD_END at the end; $(nproc) CPUs."
echo "Targets: overhead <= 5 % of the wall time (median here: $mp %); scheduler VmHWM <= 40 MiB (max here: $(echo "${S_HWM[*]}" | tr ' ' '\n' | sort -g | tail -n1) MiB)."
[ "$LEAKS" = 0 ] || echo "WARNING: Spark processes were left behind and killed (see above)."
[ "$FAILED" = 0 ] || { echo "WARNING: some runs FAILED; their numbers are not comparable."; exit 1; }
exit 0
