#!/usr/bin/env bash
# Commands relayed through PostgreSQL (README "Several servers"): the wall time of `sparkplane dags
# trigger` given where no scheduler acts (relayed: a row, a NOTIFY, the active server's decision
# and its commit, the answer's NOTIFY) beside the same command through the active server's own
# control socket, each a whole CLI process. A private PostgreSQL 15 with fsync on, one active
# server, a DAG of one `true` task. Prints Markdown.
#   bench/relay_bench.sh BUILD_DIR [N]
set -euo pipefail
build=${1:?usage: bench/relay_bench.sh BUILD_DIR [N]}
n=${2:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
sp=$(cd "$build" && pwd)/sparkplane
dir=$(mktemp -d /tmp/sp-relay-bench-XXXXXX)
chmod 0711 "$dir"
server=0
cleanup() {
  [[ $server -gt 0 ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  "$here/scripts/pg_test_server.sh" stop "$dir/pg" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
PG_FSYNC=on "$here/scripts/pg_test_server.sh" start "$dir/pg" >&2
url=$(cat "$dir/pg/url")
for d in active laptop; do
  mkdir -p "$dir/$d/dags"
  echo "store: $url" > "$dir/$d/sparkplane.yaml"
  printf 'id: one\ntasks:\n  - id: t\n    type: bash\n    command: ["true"]\n' > "$dir/$d/dags/one.yaml"
done
"$sp" --data-dir "$dir/active" server --http-address off > "$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q "ready in" "$dir/server.log" && break
  sleep 0.1
done
grep -q "ready in" "$dir/server.log" || { cat "$dir/server.log" >&2; exit 1; }

# Median and 90th percentile, in ms, of `n` runs of a trigger through data directory $1.
measure() {
  local times=()
  for i in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s%N)
    "$sp" --data-dir "$dir/$1" dags trigger one --run-id "$1-$i" > /dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$n" '
    { v[NR] = $1 }
    END { printf "%.1f | %.1f", v[int((n + 1) / 2)] / 1000, v[int(n * 0.9 + 0.5)] / 1000 }'
}
echo "| \`dags trigger\`, a whole CLI process ($n runs) | median ms | p90 ms |"
echo "|---|---|---|"
echo "| through the active server's control socket | $(measure active) |"
echo "| relayed through PostgreSQL (no server of its own) | $(measure laptop) |"
