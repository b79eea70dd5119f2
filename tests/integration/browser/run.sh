#!/usr/bin/env bash
# The web UI's browser test: starts `sparkplane server` on a free port with the bash-only example
# DAGs and a fixture that fails until repaired, then drives the UI in headless Chromium
# (playwright-core, node --test). Screenshots go to WORK_DIR/screenshots.
#   tests/integration/browser/run.sh SPARKPLANE_BINARY WORK_DIR
# Env: CHROMIUM (default /usr/bin/chromium). The binary must embed the UI (scripts/build_ui.sh
# before building it).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SPARKPLANE_BINARY WORK_DIR" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mkdir -p "$2"
WORK=$(cd "$2" && pwd)
[ -x "$BIN" ] || { echo "browser test: $BIN is not an executable" >&2; exit 2; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "browser test: no Chromium at $CHROMIUM (apt-get install chromium, or set CHROMIUM)" >&2; exit 2; }

# playwright-core comes with the UI's dev dependencies.
if [ ! -d "$ROOT/ui/node_modules/playwright-core" ]; then
  (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error)
fi

DATA=$WORK/data
rm -rf "$DATA" "$WORK/screenshots" "$WORK/repair-marker"
mkdir -p "$DATA/dags" "$WORK/screenshots"
for f in "$ROOT"/examples/dags/*.yaml; do
  grep -Eq 'type:[[:space:]]*(spark_|connection)' "$f" || cp "$f" "$DATA/dags/"
done
sed "s#@MARKER@#$WORK/repair-marker#" "$HERE/dags/repairable.yaml" > "$DATA/dags/repairable.yaml"

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
CONFIG=$WORK/sparkplane.yaml
cat > "$CONFIG" <<YAML
data_dir: $DATA
dags_folder: $DATA/dags
http_address: 127.0.0.1:$PORT
parallelism: 4
YAML

USER_NAME=uitest
PASSWORD=browser-test-$RANDOM$RANDOM
echo "$PASSWORD" | "$BIN" --config "$CONFIG" users create "$USER_NAME" --role admin --password-stdin >/dev/null

# An ad-hoc local cluster for the Clusters view to delete: its "master" is a sleep this script
# started, recorded by pid and start time as Sparkplane records a daemon.
DAEMON=$( (sleep 300 > /dev/null 2>&1 & echo $!) )  # not this shell's child: init reaps it
python3 - "$DATA/history/scheduler/sparkplane.db" "$DAEMON" "$DATA/clusters/ui-adhoc" <<'PY'
import json, sqlite3, sys, time
db, pid, cluster_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"/proc/{pid}/stat") as f:
    start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
handle = {"name": "ui-adhoc", "dir": cluster_dir, "master_url": "", "ui_url": "",
          "app_id_prefix": "app-ui-adhoc", "master": {"pid": pid, "start_ticks": start_ticks},
          "workers": []}
with sqlite3.connect(db) as c:
    c.execute("INSERT INTO clusters (name, backend, run_id, state, handle, created_at) "
              "VALUES ('ui-adhoc', 'local', 0, 'ready', ?, ?)",
              (json.dumps(handle), int(time.time() * 1000)))
PY

"$BIN" --config "$CONFIG" server > "$WORK/server.log" 2>&1 &
SERVER=$!
stop() {
  kill "$DAEMON" 2>/dev/null || true
  if kill -0 "$SERVER" 2>/dev/null; then
    kill "$SERVER" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER" 2>/dev/null || true
  fi
  wait "$SERVER" 2>/dev/null || true
}
trap stop EXIT

URL=http://127.0.0.1:$PORT
node -e '
  const url = process.argv[1];
  const deadline = Date.now() + 30000;
  (async () => {
    for (;;) {
      try {
        const r = await fetch(url + "/api/v1/health");
        if (r.ok && (await r.json()).status === "ok") break;
      } catch {}
      if (Date.now() > deadline) { console.error("browser test: the server did not answer on " + url); process.exit(1); }
      await new Promise((r) => setTimeout(r, 200));
    }
    const index = await fetch(url + "/");
    if (!(index.headers.get("content-type") || "").startsWith("text/html")) {
      console.error("browser test: " + url + "/ is not the web UI: build it (scripts/build_ui.sh) before the binary");
      process.exit(1);
    }
  })();
' "$URL" || { echo "--- server log"; tail -n 40 "$WORK/server.log"; exit 1; }

status=0
SPARKPLANE_URL=$URL SPARKPLANE_USER=$USER_NAME SPARKPLANE_PASSWORD=$PASSWORD \
  WORK_DIR=$WORK REPAIR_MARKER=$WORK/repair-marker CHROMIUM=$CHROMIUM CLUSTER_DAEMON=$DAEMON \
  node --test --test-concurrency=1 --test-timeout=300000 "$HERE/ui.test.mjs" || status=$?
if [ $status -ne 0 ]; then
  echo "--- server log (last 40 lines)"
  tail -n 40 "$WORK/server.log"
fi
echo "browser test: screenshots in $WORK/screenshots"
exit $status
