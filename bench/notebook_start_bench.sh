#!/usr/bin/env bash
# Notebook cold start: `sparkplane notebook start NAME --idle-timeout none` on a fresh data dir
# (cluster with 1 worker, Spark Connect, JupyterLab), measured per round:
#   ready       start of the command -> it prints "is ready" (Connect's port accepts and
#               Jupyter's /api/status answers 200): the URL can be opened;
#   CPU         user + sys of every process of the notebook up to ready (the command, its
#               guards, the cluster's JVMs, Connect's JVM, Jupyter), read from /proc then;
#   first cell  start of the command -> a first Spark cell (`spark.range(1000).count()`) has run
#               in a new kernel of that Jupyter (tests/integration/notebook/run_in_kernel.py:
#               kernel start, Spark Connect session, the first executor);
#   stop        SIGTERM to the command -> it exited, everything stopped and the cluster deleted.
#
# Usage: bench/notebook_start_bench.sh BUILD_DIR [ROUNDS]        (ROUNDS default 3)
# Prints a Markdown table with medians. Exits 1 if a round failed.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/spark_lib.sh
. "$REPO/bench/spark_lib.sh"
bench_start notebook_start_bench 3 "$@"
PY=$REPO/.venv/bin/python
"$PY" -c 'import jupyterlab, pyspark.sql.connect' 2>/dev/null ||
  { echo "notebook_start_bench: no JupyterLab / pyspark[connect] in .venv (scripts/setup.sh)" >&2; exit 2; }
export PYSPARK_PYTHON=$PY  # the copied binary finds no .venv next to itself
TIMEOUT=180

cat >"$ROOT/first.ipynb" <<'NB'
{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {}, "outputs": [],
  "source": ["from pyspark.sql import SparkSession\n",
             "print('count', SparkSession.builder.getOrCreate().range(1000).count())\n"]}],
 "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
NB
S=
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$S" ]; then kill -TERM "$S" 2>/dev/null; wait "$S" 2>/dev/null; fi
  sleep 2
  bench_remove_root notebook_start_bench
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILED=0
declare -a R_WALL R_CPU F_WALL STOP LOADS
for ((i = 1; i <= ROUNDS; i++)); do
  LOADS[i]=$(cut -d' ' -f1 /proc/loadavg)
  d=$ROOT/nb-$i
  mkdir -p "$d"
  deadline=$((SECONDS + TIMEOUT))
  t0=$(now)
  "$BIN" --data-dir "$d" notebook start "bench$i" --idle-timeout none >"$d/out" 2>"$d/err" </dev/null &
  S=$!
  until grep -q 'is ready' "$d/out" 2>/dev/null; do
    if ! alive "$S" || [ $SECONDS -ge $deadline ]; then
      echo "round $i: notebook start failed" >&2; tail -n 20 "$d/err" >&2; FAILED=1; continue 2
    fi
    sleep 0.05
  done
  R_WALL[i]=$(secs "$t0" "$(now)")
  # shellcheck disable=SC2046
  R_CPU[i]=$(cpu_of $(procs_under "$d"))
  state=$d/notebooks/bench$i/state.json
  if "$PY" "$REPO/tests/integration/notebook/run_in_kernel.py" "$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['jupyter_port'])" "$state")" \
      "$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['jupyter_token'])" "$state")" \
      "$ROOT/first.ipynb" >"$d/cell.out" 2>&1; then
    F_WALL[i]=$(secs "$t0" "$(now)")
  else
    echo "round $i: the first cell failed" >&2; cat "$d/cell.out" >&2; FAILED=1
  fi
  t1=$(now)
  kill -TERM "$S"
  wait "$S" 2>/dev/null
  S=
  STOP[i]=$(secs "$t1" "$(now)")
  echo "round $i: ready ${R_WALL[i]} s (cpu ${R_CPU[i]}), first cell ${F_WALL[i]:-?} s, stop ${STOP[i]} s; load ${LOADS[i]}" >&2
  sleep 2
done

echo "| round | ready: wall / CPU (s) | first Spark cell in a kernel (s) | stop (s) | load 1m |"
echo "|---|---|---|---|---|"
for ((i = 1; i <= ROUNDS; i++)); do
  echo "| $i | ${R_WALL[i]:-nan} / ${R_CPU[i]:-nan} | ${F_WALL[i]:-nan} | ${STOP[i]:-nan} | ${LOADS[i]} |"
done
echo "| **median** | **$(echo "${R_WALL[*]}" | median) / $(echo "${R_CPU[*]}" | median)** | **$(echo "${F_WALL[*]}" | median)** | **$(echo "${STOP[*]}" | median)** | |"
echo
echo "$(nproc) CPUs; load average (1/5/15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
[ "$FAILED" = 0 ] || { echo "WARNING: some rounds FAILED."; exit 1; }
exit 0
