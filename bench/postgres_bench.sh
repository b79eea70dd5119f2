#!/usr/bin/env bash
# The end-to-end scheduler benchmarks (sp_bench_e2e: fan-out 1+1,000, chain of 200 and the
# chain's task-to-task latency, through `dags test`) with the state in PostgreSQL instead of
# SQLite: a private PostgreSQL 15 with fsync on (scripts/pg_test_server.sh, PG_FSYNC=on), a fresh
# database per run. Prints Markdown.
#   bench/postgres_bench.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: bench/postgres_bench.sh BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/sp-pg-bench-XXXXXX)
chmod 0711 "$dir"
trap '"$here/scripts/pg_test_server.sh" stop "$dir/pg" >/dev/null 2>&1; rm -rf "$dir"' EXIT
PG_FSYNC=on "$here/scripts/pg_test_server.sh" start "$dir/pg" >&2
SP_BENCH_PG=$(cat "$dir/pg/url") "$build/bench/sp_bench_e2e" --sparkplane "$build/sparkplane" \
  --stamp "$build/bench/sp_stamp" --repeat "${BENCH_REPEAT:-3}" --only fanout,chain,latency
