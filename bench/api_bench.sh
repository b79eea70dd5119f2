#!/usr/bin/env bash
# The HTTP API's targets (issue 11), measured on loopback against the real server:
#   - idle RSS with the HTTP server on (target <= 30 MB) and off;
#   - extra RSS for 500 open event streams (target <= 10 MB);
#   - list/get latency under 200 concurrent clients (wrk) from the moment a 1+1,000-task fan-out
#     is triggered (each URL meets its own fan-out), and the runs list on a quiet server
#     (target p99 <= 20 ms), with the server's CPU time beside the wall time.
#   bench/api_bench.sh BUILD_DIR      (needs wrk: apt-get install wrk; python3 for the streams)
# Prints Markdown rows; never fails on a slow result (MISS), only when something cannot run.
set -euo pipefail
BUILD=${1:?usage: bench/api_bench.sh BUILD_DIR}
BIN=$(realpath "$BUILD/sparkplane")
command -v wrk >/dev/null || { echo "api_bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }
. "$(dirname "$0")/../scripts/lib/server.sh"
WORK=$(mktemp -d /tmp/sp-apibench-XXXXXX)
cleanup() {
  sp_server_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/dags"
python3 - "$WORK/dags/fan.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id: fan\ntasks:\n  - id: root\n    type: bash\n    command: 'true'\n")
    for i in range(1000):
        f.write(f"  - id: t{i}\n    type: bash\n    command: 'true'\n    depends_on: [root]\n")
PY
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
start() { sp_server_start "$WORK/data" "$WORK/dags" "$WORK/server.log" "$1"; PID=$SP_PID; PORT=$SP_PORT; }
stop() { sp_server_stop; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "MISS" }'; }

echo "admin-password" | "$BIN" --data-dir "$WORK/data" users create admin --role admin --password-stdin >/dev/null
TOKEN=$(sp_token "$WORK/data" admin)

start off; sleep 2; off_kb=$(rss_kb "$PID"); stop
start 127.0.0.1:0; sleep 2; idle_kb=$(rss_kb "$PID")
URL=http://127.0.0.1:$PORT

# 500 event streams held open by one Python process.
python3 - "$PORT" "$TOKEN" 500 > "$WORK/streams.out" <<'PY' &
import socket, sys, time
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    socks.append(s)
ok = sum(1 for s in socks if s.recv(4096).startswith(b"HTTP/1.1 200"))
print(ok, flush=True)
time.sleep(8)
PY
STREAMS=$!
for _ in $(seq 1 100); do [ -s "$WORK/streams.out" ] && break; sleep 0.1; done
sleep 1
open_ok=$(cat "$WORK/streams.out")
streams_kb=$(rss_kb "$PID")
wait "$STREAMS" || true
extra_mb=$(awk -v a="$streams_kb" -v b="$idle_kb" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
idle_mb=$(awk -v a="$idle_kb" 'BEGIN { printf "%.1f", a / 1024 }')
off_mb=$(awk -v a="$off_kb" 'BEGIN { printf "%.1f", a / 1024 }')

# wrk against each URL from the moment a fan-out run is triggered (so both meet the same burst:
# the fan-out saturates both cores for its first seconds), then once more on a quiet server.
last_state() {
  curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/runs?dag_id=fan&limit=1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"][0]; print(r["state"], r["started_at"], r["ended_at"])'
}
under_fanout() {  # URL OUT: wrk for 10 s from a fan-out's trigger; then waits for the run's end
  # A {run} in URL is the triggered run's id.
  curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' \
    "$URL/api/v1/dags/fan/runs" > "$WORK/run.json"
  local run
  run=$(python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(open(sys.argv[1]))["run_id"], safe=""))' "$WORK/run.json")
  wrk -t2 -c200 -d10s --latency -H "Authorization: Bearer $TOKEN" "${1//\{run\}/$run}" > "$2"
  for _ in $(seq 600); do
    case "$(last_state)" in success*|failed*|cancelled*) break ;; esac
    sleep 0.1
  done
}
cpu0=$(cpu_s "$PID")
t0=$(date +%s.%N)
under_fanout "$URL/api/v1/dags/fan/runs?limit=25" "$WORK/wrk_runs.txt"
state_runs=$(last_state)
under_fanout "$URL/api/v1/dags" "$WORK/wrk_dags.txt"
under_fanout "$URL/api/v1/dags/fan/runs/{run}" "$WORK/wrk_run.txt"
under_fanout "$URL/api/v1/dags/fan/runs/{run}/tasks/t500" "$WORK/wrk_task.txt"
t1=$(date +%s.%N)
cpu1=$(cpu_s "$PID")
state=$(last_state)
wrk -t2 -c200 -d10s --latency -H "Authorization: Bearer $TOKEN" "$URL/api/v1/dags/fan/runs?limit=25" > "$WORK/wrk_quiet.txt"
p99() { awk '/ 99%/ {print $2}' "$1"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v } else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 } else print v }'; }
quiet_p99=$(ms "$(p99 "$WORK/wrk_quiet.txt")")
runs_p99=$(ms "$(p99 "$WORK/wrk_runs.txt")"); dags_p99=$(ms "$(p99 "$WORK/wrk_dags.txt")")
run_p99=$(ms "$(p99 "$WORK/wrk_run.txt")"); task_p99=$(ms "$(p99 "$WORK/wrk_task.txt")")
errors=$(grep -h "Non-2xx\|Socket errors" "$WORK"/wrk_*.txt | tr '\n' ' ' || true)
stop

echo "| measure | result | target | verdict |"
echo "|---|---|---|---|"
echo "| idle RSS, HTTP server on | $idle_mb MB (off: $off_mb MB) | <= 30 MB | $(verdict "$idle_mb" 30) |"
echo "| extra RSS, $open_ok of 500 event streams open | $extra_mb MB | <= 10 MB | $(verdict "$extra_mb" 10) |"
echo "| GET /api/v1/dags/fan/runs?limit=25, 200 clients, during the fan-out | p99 $runs_p99 ms, $(rps "$WORK/wrk_runs.txt") req/s | p99 <= 20 ms | $(verdict "$runs_p99" 20) |"
echo "| GET /api/v1/dags, 200 clients, during the fan-out | p99 $dags_p99 ms, $(rps "$WORK/wrk_dags.txt") req/s | p99 <= 20 ms | $(verdict "$dags_p99" 20) |"
echo "| GET /api/v1/dags/fan/runs/RUN (the fan-out's run), 200 clients, during the fan-out | p99 $run_p99 ms, $(rps "$WORK/wrk_run.txt") req/s | p99 <= 20 ms | $(verdict "$run_p99" 20) |"
echo "| GET /api/v1/dags/fan/runs/RUN/tasks/t500, 200 clients, during the fan-out | p99 $task_p99 ms, $(rps "$WORK/wrk_task.txt") req/s | p99 <= 20 ms | $(verdict "$task_p99" 20) |"
echo "| GET /api/v1/dags/fan/runs?limit=25, 200 clients, no fan-out | p99 $quiet_p99 ms, $(rps "$WORK/wrk_quiet.txt") req/s | (for comparison) | |"
echo
echo "Server CPU from the first trigger to the fourth run's end: $(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }') s (wall $(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s). Fan-out runs (state, started, ended): $state_runs; $state. ${errors}"
