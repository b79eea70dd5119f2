#!/usr/bin/env bash
# Warm pools (issue 14): how long a run waits for its cluster when a pool has one ready, against
# a create of the same shape without a pool, on the same machine, alternating.
#
#   pooled  `sparkplane server` with `pools: [{name: b, size: 1, workers: 1, worker_cores: 1}]`;
#           once `pool list` shows the idle cluster ready, a run of a DAG whose create has that
#           shape (create -> delete) is triggered; measured: the create task's started_at ->
#           ended_at from the store (ms precision), i.e. from the try's start to the cluster
#           being the run's, recorded and its outputs published.
#   cold    the same DAG on a server without pools (a fresh local cluster per run).
# Each round waits for the pool to refill before the next pooled run.
#
# Usage: bench/pool_bench.sh BUILD_DIR [ROUNDS]        (ROUNDS default 5)
# Prints a Markdown table (per round and medians) and the verdict against the target: pooled
# median <= 100 ms. Exits 1 only if a run failed.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/spark_lib.sh
. "$REPO/bench/spark_lib.sh"
bench_start pool_bench 5 "$@"
P= C=
cleanup() {
  trap - EXIT INT TERM
  for s in $P $C; do kill -TERM "$s" 2>/dev/null; wait "$s" 2>/dev/null; done
  bench_remove_root pool_bench
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_dir() {  # dir with-pool
  mkdir -p "$1/dags"
  cat >"$1/dags/b.yaml" <<'YAML'
id: b
tasks:
  - id: create
    type: spark_cluster
    workers: 1
    worker_cores: 1
  - id: delete
    type: spark_cluster
    action: delete
    cluster_from: create
    depends_on: [create]
YAML
  [ "$2" = yes ] && printf 'pools:\n  - {name: b, size: 1, workers: 1, worker_cores: 1}\n' >"$1/sparkplane.yaml"
  "$BIN" --data-dir "$1" server --http-address off >"$1/server.log" 2>&1 &
}
setup_dir "$ROOT/pooled" yes; P=$!
setup_dir "$ROOT/cold" no; C=$!

pool_ready() {
  "$BIN" --data-dir "$ROOT/pooled" pool list --json 2>/dev/null | grep -q '"state": "ready"'
}
wait_until() {  # seconds command...
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
}
run_done() {  # dir run
  "$BIN" --data-dir "$1" runs show b "$2" --json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["state"] in ("success","failed") else 1)' 2>/dev/null
}
create_ms() {  # dir run -> create task started_at->ended_at in ms, or FAIL
  "$BIN" --data-dir "$1" runs show b "$2" --json | python3 -c '
import json, sys
from datetime import datetime
r = json.load(sys.stdin)
t = [t for t in r["tasks"] if t["task_id"] == "create"][0]
if r["state"] != "success": print("FAIL"); sys.exit()
p = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print(int((p(t["ended_at"]) - p(t["started_at"])).total_seconds() * 1000))'
}

FAILED=0
declare -a PM CM
echo "| round | pooled create (ms) | cold create (ms) | load 1m |"
echo "|---|---|---|---|"
for ((i = 1; i <= ROUNDS; i++)); do
  wait_until 120 pool_ready || { echo "pool_bench: the pool never became ready" >&2; exit 1; }
  "$BIN" --data-dir "$ROOT/pooled" dags trigger b --run-id "p$i" >/dev/null
  wait_until 120 run_done "$ROOT/pooled" "p$i"
  pm=$(create_ms "$ROOT/pooled" "p$i")
  "$BIN" --data-dir "$ROOT/cold" dags trigger b --run-id "c$i" >/dev/null
  wait_until 180 run_done "$ROOT/cold" "c$i"
  cm=$(create_ms "$ROOT/cold" "c$i")
  [ "$pm" = FAIL ] || [ "$cm" = FAIL ] && FAILED=1
  PM+=("$pm"); CM+=("$cm")
  echo "| $i | $pm | $cm | $(cut -d' ' -f1 /proc/loadavg) |"
done
pmed=$(echo "${PM[*]}" | median 0)
cmed=$(echo "${CM[*]}" | median 0)
echo "| **median** | **$pmed** | **$cmed** | |"
verdict=MISS
[ -n "$pmed" ] && [ "$pmed" -le 100 ] && verdict=pass
echo
echo "Target: a create served by a warm pool <= 100 ms: $verdict (median $pmed ms; without a pool $cmed ms)"
exit $FAILED
