#!/usr/bin/env bash
# Runs every benchmark against an already built tree and prints Markdown (the tables of
# docs/BENCHMARKS.md). Builds nothing: `make bench` builds first.
#
#   bench/run.sh BUILD_DIR            e.g. bench/run.sh build/release
#
# Environment: BENCH_REPEAT (end-to-end repetitions, default 3; Google Benchmark repetitions
# too), BENCH_ONLY (comma list of end-to-end benchmarks: fanout,chain,latency,validate,server),
# BENCH_SKIP_GBENCH=1 (only the end-to-end part), BENCH_CALLGRIND=0 (skip the instruction
# counts, which need valgrind and take a few minutes), BENCH_CLUSTER_ROUNDS (local cluster start
# rounds, default 5; needs Spark).
#
# Benchmarks are not tests: a slow result is printed as MISS and never changes the exit status.
# The status is non-zero only when a benchmark could not run (missing binary, crash).
set -u

build=${1:?usage: bench/run.sh BUILD_DIR}
repeat=${BENCH_REPEAT:-3}
only=${BENCH_ONLY:-}
status=0

need() {
  if [[ ! -x "$build/$1" ]]; then
    echo "bench/run.sh: $build/$1 is missing; build first (make bench)" >&2
    exit 2
  fi
}
need sparkplane
need bench/sp_stamp
need bench/sp_bench_e2e
for b in decide store dag_folder scheduler spawn; do need "bench/sp_bench_$b"; done

echo "# Sparkplane benchmarks"
echo
# The commit of the sources the build was configured from (not necessarily this checkout's).
src=$(grep -m1 '^CMAKE_HOME_DIRECTORY:' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2)
commit=$(git -C "${src:-.}" rev-parse --short HEAD 2>/dev/null || echo "unknown (sources at ${src:-?} are not a git checkout)")
if [[ -n "$src" ]] && git -C "$src" rev-parse >/dev/null 2>&1 && [[ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  commit="$commit + uncommitted changes"
fi
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), sources: commit $commit"
echo "- temporary files (data dirs, DAG folders, stores): ${TMPDIR:-/tmp} ($(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}'))"
echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
echo "- load average at start (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- build: $build ($(grep -m1 '^CMAKE_BUILD_TYPE:' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2 || echo '?'))"
echo

echo "## End to end"
echo
e2e_args=(--sparkplane "$build/sparkplane" --stamp "$build/bench/sp_stamp" --repeat "$repeat")
[[ -n "$only" ]] && e2e_args+=(--only "$only")
"$build/bench/sp_bench_e2e" "${e2e_args[@]}" || status=1

if [[ "${BENCH_SKIP_GBENCH:-0}" == 1 ]]; then
  exit $status
fi

echo "## In process (Google Benchmark, median of $repeat repetitions)"
echo
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spbench-run-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for b in decide store dag_folder scheduler spawn; do
  echo "running sp_bench_$b ..." >&2
  if ! "$build/bench/sp_bench_$b" --benchmark_repetitions="$repeat" \
      --benchmark_report_aggregates_only=true --benchmark_out="$tmp/$b.json" \
      --benchmark_out_format=json >"$tmp/$b.txt" 2>&1; then
    echo "sp_bench_$b failed:" >&2
    tail -20 "$tmp/$b.txt" >&2
    status=1
  fi
done

if command -v jq >/dev/null; then
  # The one in-process benchmark with a target: parsing and validating 1,000 files.
  cold=$(jq -r '.benchmarks[] | select((.run_name | startswith("BM_DagFolderRescan_Cold/1000")) and (.aggregate_name == "median" or .repetitions == 1)) | .real_time' "$tmp/dag_folder.json" 2>/dev/null)
  if [[ -n "$cold" ]]; then
    verdict=$(awk -v t="$cold" 'BEGIN { print (t <= 1000 ? "pass" : "MISS") }')
    echo "| Target | Goal | Measured | Result | Load avg |"
    echo "|---|---|---|---|---|"
    printf '| 1,000 DAG files parsed + validated (DagFolder::Rescan, in process) | <= 1000 ms | %.0f ms | %s | %s |\n' \
      "$cold" "$verdict" "$(cut -d' ' -f1-3 /proc/loadavg)"
    echo
  fi
  echo "| Benchmark | Time (real) | CPU | Counters |"
  echo "|---|---|---|---|"
  for b in decide store dag_folder scheduler spawn; do
    [[ -s "$tmp/$b.json" ]] || continue
    jq -r '
      def r: if . >= 100 then (. | round | tostring) else ((. * 100 | round) / 100 | tostring) end;
      .benchmarks[] | select(.aggregate_name == "median" or .repetitions == 1) |
      [ ( ["items_per_second", "tasks_per_s", "cpu_us_per_task", "cpu_us", "launches", "tis_changed", "commits_per_task",
           "p50_us", "p90_us", "p99_us"][] as $k | select(has($k)) | "\($k)=\(.[$k] | r)" ) ]
        as $c |
      "| \(.run_name) | \(.real_time | r) \(.time_unit) | \(.cpu_time | r) \(.time_unit) | \($c | join(", ")) |"
    ' "$tmp/$b.json"
  done
  echo
else
  echo "(jq not found: raw Google Benchmark output follows)"
  echo
  for b in decide store dag_folder scheduler spawn; do echo '```'; cat "$tmp/$b.txt"; echo '```'; done
fi

# Instruction counts do not depend on the machine's load: compare them between commits.
if [[ "${BENCH_CALLGRIND:-1}" == 1 ]] && command -v valgrind >/dev/null; then
  echo "running callgrind ..." >&2
  ir() {  # instructions executed by "$@" (all its threads), from callgrind's summary
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
  }
  "$build/bench/sp_bench_e2e" --write-dags "$tmp/cg-dags"
  validate_ir=$(ir "$build/sparkplane" --data-dir "$tmp/cg-data" dags validate "$tmp/cg-dags")
  sched_ir=$(ir "$build/bench/sp_bench_scheduler" --benchmark_filter='Fanout/leaves:1000/mem:1')
  echo "## Instruction counts (valgrind --tool=callgrind)"
  echo
  echo "| Program | Instructions | Per unit |"
  echo "|---|---|---|"
  if [[ -n "$validate_ir" ]]; then
    printf '| `sparkplane dags validate`, 1,000 generated files | %s | %s per file |\n' \
      "$validate_ir" "$((validate_ir / 1000))"
  else
    echo "callgrind of dags validate failed" >&2; status=1
  fi
  if [[ -n "$sched_ir" ]]; then
    # 3 iterations of a 1+1,000 fan-out (the benchmark's fixed iteration count).
    printf '| `sp_bench_scheduler` fan-out 1+1,000, `:memory:`, 3 runs | %s | %s per task |\n' \
      "$sched_ir" "$((sched_ir / 3003))"
  else
    echo "callgrind of sp_bench_scheduler failed" >&2; status=1
  fi
  echo
fi
if command -v wrk >/dev/null; then
  echo "running the HTTP API benchmark ..." >&2
  echo "## HTTP API (bench/api_bench.sh)"
  echo
  bench/api_bench.sh "$build" || { echo "bench/api_bench.sh failed" >&2; status=1; }
  echo
else
  echo "bench/run.sh: wrk is missing (apt-get install wrk): HTTP API benchmark skipped" >&2
fi
if [[ -x /usr/bin/chromium && -d ui/node_modules/playwright-core ]]; then
  echo "running the grid first-paint benchmark ..." >&2
  echo "## Web UI grid first paint (bench/grid_paint_bench.sh)"
  echo
  echo "| measure | result | target | verdict |"
  echo "|---|---|---|---|"
  bench/grid_paint_bench.sh "$build" 2>/dev/null || { echo "bench/grid_paint_bench.sh failed" >&2; status=1; }
  echo
fi
if [[ -n "${SPARK_HOME:-}" ]] || compgen -G ".venv/lib/python3*/site-packages/pyspark" >/dev/null; then
  # title, script, rounds: each Spark benchmark prints its own Markdown section.
  for spark_bench in "Local cluster start|cluster_start_bench.sh|${BENCH_CLUSTER_ROUNDS:-5}" \
                     "Warm pools|pool_bench.sh|${BENCH_CLUSTER_ROUNDS:-5}" \
                     "Notebook cold start|notebook_start_bench.sh|${BENCH_NOTEBOOK_ROUNDS:-3}"; do
    IFS='|' read -r title script rounds <<<"$spark_bench"
    echo "running bench/$script ..." >&2
    echo "## $title (bench/$script)"
    echo
    bench/"$script" "$build" "$rounds" || { echo "bench/$script failed" >&2; status=1; }
    echo
  done
else
  echo "bench/run.sh: Spark is missing (scripts/setup.sh): the Spark benchmarks are skipped" >&2
fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "running bench/postgres_bench.sh ..." >&2
  echo "## The scheduler on a PostgreSQL store (bench/postgres_bench.sh)"
  echo
  bench/postgres_bench.sh "$build" 2>/dev/null || { echo "bench/postgres_bench.sh failed" >&2; status=1; }
  echo
  echo "## Commands relayed through PostgreSQL (bench/relay_bench.sh)"
  echo
  bench/relay_bench.sh "$build" 2>/dev/null || { echo "bench/relay_bench.sh failed" >&2; status=1; }
  echo
fi
echo "Load average at end (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
