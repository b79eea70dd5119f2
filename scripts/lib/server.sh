# Shell helpers for the scripts that drive a real `sparkplane server` over HTTP (benchmarks,
# the schemathesis test). Source this file; BIN must name the sparkplane binary.
#   sp_server_start DATA DAGS LOG [ADDRESS]   start (ADDRESS default 127.0.0.1:0; "off" for no
#                                             HTTP) and wait until ready: sets SP_PID, SP_PORT
#                                             ("off" without HTTP); on failure prints LOG, exits 1
#   sp_server_stop                            SIGTERM, SIGKILL after 5 s, waits until it is gone
#   sp_token DATA USER                        prints a new API token of USER

sp_server_start() {
  local data=$1 dags=$2 log=$3 address=${4:-127.0.0.1:0}
  "$BIN" --data-dir "$data" --dags-folder "$dags" server --http-address "$address" >"$log" 2>&1 &
  SP_PID=$!
  disown "$SP_PID"
  SP_PORT=
  for _ in $(seq 1 200); do
    if [ "$address" = off ]; then
      grep -q "ready in" "$log" && SP_PORT=off
    else
      SP_PORT=$(grep -o 'web UI http://[0-9.]*:[0-9]*' "$log" | head -1 | sed 's/.*://') || true
    fi
    [ -n "$SP_PORT" ] && return 0
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$log" >&2
  exit 1
}

sp_server_stop() {
  [ -n "${SP_PID:-}" ] || return 0
  kill "$SP_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SP_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SP_PID" 2>/dev/null || true
  while kill -0 "$SP_PID" 2>/dev/null; do sleep 0.05; done
  SP_PID=
}

sp_token() {
  "$BIN" --data-dir "$1" --json tokens create --user "$2" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
