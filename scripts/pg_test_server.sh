#!/usr/bin/env bash
# A private PostgreSQL server for the `postgres` tests (and benchmarks): initdb into DIR, listen on
# 127.0.0.1 on a free port, trust authentication (loopback only, throwaway data), and write its
# URL to DIR/url. Usage: pg_test_server.sh start|stop|restart DIR
# Started by the CTest fixture `postgres` (tests/integration/postgres), stopped by its cleanup.
# As root (CI), the server runs as the `postgres` user that Debian's package creates: DIR's
# parent directories must let it through (o+x).
set -euo pipefail
cmd=${1:?start|stop|restart}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/initdb" ]] || { echo "PostgreSQL server binaries not found (apt install postgresql)" >&2; exit 1; }

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

start() {
  if [[ -f "$dir/url" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    return 0  # already running (an earlier run that was not cleaned up)
  fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir/sock"
  [[ $(id -u) -eq 0 ]] && chown -R postgres "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Throwaway data: no fsync (PG_FSYNC=on keeps it, for benchmarks). Enough connections for
  # parallel tests with their readers.
  durability="-c fsync=off -c full_page_writes=off"
  [[ "${PG_FSYNC:-off}" == on ]] && durability=""
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 $durability -c max_connections=300" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $(cat "$dir/url")"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart)  # a PostgreSQL restart under running clients (the reconnect tests)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w restart >/dev/null ;;
  *) echo "usage: $0 start|stop|restart DIR" >&2; exit 2 ;;
esac
