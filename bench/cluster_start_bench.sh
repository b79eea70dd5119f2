#!/usr/bin/env bash
# Local cluster start: Sparkplane against Spark's own commands run one after the other, in
# alternating rounds (bare, sparkplane, sparkplane without JVM archives, bare, ...) so that load
# drift on a shared machine hits every side alike.
#
#   bare        Spark's documented sequence: start the master (bin/spark-class Master, port 0,
#               REST off), wait until its /json/ says ALIVE, start a worker (2 cores, 1g)
#               against the URL it logged, wait until the master counts 1 alive worker.
#   sparkplane  `sparkplane cluster create NAME --workers 1 --worker-cores 2 --worker-memory 1g`
#               on a fresh data dir, until it prints the master URL (the cluster is ready: the
#               master counts the worker alive); then SIGTERM, which deletes the cluster.
#   no-cds      the same with XDG_CACHE_HOME pointing at an empty dir, so no class-data sharing
#               archive is found (src/spark/jvm_archives.h); the other daemon flags stay.
# Wall = start of the first command -> ready. CPU = user + sys of every process involved up to
# that moment (the daemon JVMs with their reaped launcher JVMs and spark-class shells; for
# sparkplane also the sparkplane process and its supervisors), read from /proc at ready.
#
# Usage: bench/cluster_start_bench.sh BUILD_DIR [ROUNDS]        (ROUNDS default 5)
# Prints a Markdown table (per round and medians) and the verdict against the target of issue
# 14: sparkplane's median wall <= 60 % of the bare median. Exits 1 only if a start failed.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/spark_lib.sh
. "$REPO/bench/spark_lib.sh"
bench_start cluster_start_bench 5 "$@"
POLL=0.05
TIMEOUT=120

M= W= S=
cleanup() {
  trap - EXIT INT TERM
  stop_group "$W"
  stop_group "$M"
  if [ -n "$S" ]; then kill -TERM "$S" 2>/dev/null; wait "$S" 2>/dev/null; fi
  bench_remove_root cluster_start_bench
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILED=0
declare -a B_WALL B_CPU S_WALL S_CPU N_WALL N_CPU LOADS

json_ok() {  # ui_port grep-pattern
  curl -fsS --max-time 1 "http://127.0.0.1:$1/json/" 2>/dev/null | grep -Eq "$2"
}

run_bare() {  # round
  local i=$1 d=$ROOT/bare-$1 t0 url= ui= deadline
  mkdir -p "$d/work" "$d/local"
  deadline=$((SECONDS + TIMEOUT))
  t0=$(now)
  (
    cd "$d" || exit 1
    export SPARK_LOCAL_IP=127.0.0.1 SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false"
    exec setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port 0 --webui-port 0 >"$d/master.log" 2>&1 </dev/null
  ) &
  M=$!
  until [ -n "$ui" ] && json_ok "$ui" '"status" *: *"ALIVE"'; do
    url=$(grep -o -m1 'spark://127.0.0.1:[0-9]*' "$d/master.log" 2>/dev/null)
    ui=$(grep -o -m1 "service 'MasterUI' on port [0-9]*" "$d/master.log" 2>/dev/null | grep -o '[0-9]*$')
    alive "$M" && [ $SECONDS -lt $deadline ] || { echo "round $i bare: the master failed" >&2; FAILED=1; return; }
    sleep "$POLL"
  done
  (
    cd "$d" || exit 1
    export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_DIRS="$d/local"
    exec setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --port 0 --webui-port 0 --cores 2 --memory 1g --work-dir "$d/work" \
      "$url" >"$d/worker.log" 2>&1 </dev/null
  ) &
  W=$!
  until json_ok "$ui" '"aliveworkers" *: *[1-9]'; do
    alive "$W" && [ $SECONDS -lt $deadline ] || { echo "round $i bare: the worker failed" >&2; FAILED=1; return; }
    sleep "$POLL"
  done
  B_WALL[i]=$(secs "$t0" "$(now)")
  B_CPU[i]=$(cpu_of "$M" "$W")
  stop_group "$W"
  stop_group "$M"
  M= W=
}

run_sparkplane() {  # round wall-array cpu-array [cache-dir]
  local i=$1 d=$ROOT/sp-$1-${4:+nocds} t0 deadline
  local -n wall=$2 cpu=$3
  mkdir -p "$d"
  deadline=$((SECONDS + TIMEOUT))
  t0=$(now)
  if [ -n "${4:-}" ]; then
    XDG_CACHE_HOME=$4 "$BIN" --data-dir "$d" cluster create "bench$i" --workers 1 \
      --worker-cores 2 --worker-memory 1g >"$d/out" 2>"$d/err" </dev/null &
  else
    "$BIN" --data-dir "$d" cluster create "bench$i" --workers 1 --worker-cores 2 \
      --worker-memory 1g >"$d/out" 2>"$d/err" </dev/null &
  fi
  S=$!
  until grep -q 'spark://' "$d/out" 2>/dev/null; do
    alive "$S" && [ $SECONDS -lt $deadline ] || {
      echo "round $i sparkplane${4:+ (no CDS)}: cluster create failed" >&2; tail -n 20 "$d/err" >&2; FAILED=1; return; }
    sleep "$POLL"
  done
  wall[i]=$(secs "$t0" "$(now)")
  # shellcheck disable=SC2046
  cpu[i]=$(cpu_of $(process_tree "$S"))
  kill -TERM "$S"
  wait "$S" 2>/dev/null
  S=
}

archives=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/sparkplane/cds/spark-* 2>/dev/null | head -n1)
echo "cluster start bench: $ROUNDS rounds, $(nproc) CPUs, JVM archives: ${archives:-none (run scripts/build_spark_cds.sh)}" >&2
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$ROOT/empty-cache"
for ((i = 1; i <= ROUNDS; i++)); do
  LOADS[i]=$(cut -d' ' -f1 /proc/loadavg)
  run_bare "$i"
  run_sparkplane "$i" S_WALL S_CPU
  run_sparkplane "$i" N_WALL N_CPU "$ROOT/empty-cache"
  echo "round $i: bare ${B_WALL[i]:-?} s (cpu ${B_CPU[i]:-?}), sparkplane ${S_WALL[i]:-?} s (cpu ${S_CPU[i]:-?}), no CDS ${N_WALL[i]:-?} s (cpu ${N_CPU[i]:-?}); load ${LOADS[i]}" >&2
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

pct() { awk -v s="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", s / b * 100; else print "nan" }'; }
echo "| round | bare: wall / CPU (s) | sparkplane: wall / CPU (s) | sparkplane, no CDS archive: wall / CPU (s) | load 1m |"
echo "|---|---|---|---|---|"
for ((i = 1; i <= ROUNDS; i++)); do
  echo "| $i | ${B_WALL[i]:-nan} / ${B_CPU[i]:-nan} | ${S_WALL[i]:-nan} / ${S_CPU[i]:-nan} | ${N_WALL[i]:-nan} / ${N_CPU[i]:-nan} | ${LOADS[i]} |"
done
bw=$(echo "${B_WALL[*]}" | median) bc=$(echo "${B_CPU[*]}" | median)
sw=$(echo "${S_WALL[*]}" | median) sc=$(echo "${S_CPU[*]}" | median)
nw=$(echo "${N_WALL[*]}" | median) nc=$(echo "${N_CPU[*]}" | median)
echo "| **median** | **$bw / $bc** | **$sw / $sc** | **$nw / $nc** | |"
echo "| min | $(echo "${B_WALL[*]}" | minimum) / $(echo "${B_CPU[*]}" | minimum) | $(echo "${S_WALL[*]}" | minimum) / $(echo "${S_CPU[*]}" | minimum) | $(echo "${N_WALL[*]}" | minimum) / $(echo "${N_CPU[*]}" | minimum) | |"
echo
verdict=$(awk -v s="$sw" -v b="$bw" 'BEGIN { print (b > 0 && s <= 0.6 * b ? "pass" : "MISS") }')
echo "Sparkplane's median wall is $(pct "$sw" "$bw") % of the bare sequential start (target <= 60 %: $verdict); CPU $(pct "$sc" "$bc") %; without the CDS archive $(pct "$nw" "$bw") % wall, $(pct "$nc" "$bc") % CPU."
echo "JVM archives: ${archives:-none}. Load average (1/5/15 min): $LOAD_START at the start, $LOAD_END at the end; $(nproc) CPUs."
[ "$FAILED" = 0 ] || { echo "WARNING: some starts FAILED; their rounds are not comparable."; exit 1; }
exit 0
