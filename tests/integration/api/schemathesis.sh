#!/usr/bin/env bash
# Property-based checks of the served OpenAPI document against the running server
# (schemathesis from PyPI, in the project's .venv): every response must match the document,
# undocumented status codes, server errors and accepted schema-violating requests fail.
#   tests/integration/api/schemathesis.sh SPARKPLANE_BINARY [MAX_EXAMPLES]
# Two checks are left out, for reasons of the check, not of the server:
#   ignored_auth: it sends our valid bearer token with its "invalid" credentials (our -H is
#     added to every request); ApiTest.EveryRoleGetsWhatTheDocumentPromisesOnEveryOperation
#     checks 401/403 for every operation and role instead.
#   positive_data_acceptance: inputs the schema allows may still be refused on their meaning
#     (a run id that is not a valid id, conf keys the DAG's params do not declare, an unknown
#     DAG): those are 400/404/409 by design, with the CLI's message.
set -euo pipefail
BIN=$(realpath "$1")
EXAMPLES=${2:-25}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
ST="$ROOT/.venv/bin/schemathesis"
if [ ! -x "$ST" ]; then
  echo "schemathesis is not installed in $ROOT/.venv (scripts/setup.sh installs it)" >&2
  exit 1
fi
. "$ROOT/scripts/lib/server.sh"
WORK=$(mktemp -d /tmp/sp-schemathesis-XXXXXX)
cleanup() {
  sp_server_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/dags"
cat > "$WORK/dags/hello.yaml" <<'YAML'
id: hello
params:
  who:
    default: world
tasks:
  - id: greet
    type: bash
    command: echo hello {{ params.who }}
YAML
echo "admin-password" | "$BIN" --data-dir "$WORK/data" --dags-folder "$WORK/dags" users create admin --role admin --password-stdin >/dev/null
TOKEN=$(sp_token "$WORK/data" admin)
sp_server_start "$WORK/data" "$WORK/dags" "$WORK/server.log"
URL="http://127.0.0.1:$SP_PORT"
# A finished run, so the run and task operations have something to find.
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' "$URL/api/v1/dags/hello/runs" >/dev/null
cd "$WORK"
"$ST" run "$URL/api/v1/openapi.json" --checks all \
  --exclude-checks ignored_auth,positive_data_acceptance \
  -H "Authorization: Bearer $TOKEN" --max-examples "$EXAMPLES" --workers 2 --request-timeout 2 \
  --generation-deterministic
kill -0 "$SP_PID" || { echo "the server died during the run:"; cat "$WORK/server.log"; exit 1; }
