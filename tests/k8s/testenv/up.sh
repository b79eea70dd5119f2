#!/usr/bin/env bash
# Starts a Kubernetes control plane on 127.0.0.1 in DIR, from the binaries build.sh cached:
# etcd, kube-apiserver (TLS, client certificates, a static admin token, RBAC, service-account
# token signing), kube-controller-manager, kube-scheduler, and kwok playing the kubelet of a few
# fake nodes, so that Deployments get Running pods without any container runtime.
#
#   usage: up.sh DIR
#   env:   K8S_TESTENV_PORT_BASE  first of 6 consecutive ports (default 26100):
#                                 +0 etcd, +1 etcd peer, +2 API server, +3 controller-manager,
#                                 +4 scheduler, +5 kwok
#          K8S_TESTENV_NODES      fake nodes (default 3), named kwok-node-0...
#          K8S_TESTENV_TIMEOUT    seconds each step may take to become ready (default 120)
#
# It returns once a throw-away Deployment has gone through the whole chain (controllers,
# scheduler, kwok) and been deleted again. Progress goes to stderr; the last line on stdout is
# the admin kubeconfig path. DIR/testenv.env lists every path and the server URL as KEY=VALUE.
# A component that is already running in DIR is left alone, so after `down.sh DIR
# kube-apiserver`, `up.sh DIR` restarts just the API server.
#
# Exit status: 0 up; 3 binaries not built (see build.sh); 4 a port is taken (pick another
# base); 1 anything else (the failing component's log tail is printed).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

[ $# -eq 1 ] && [ "${1#-}" = "$1" ] || { echo "usage: $(basename "$0") DIR" >&2; exit 2; }
if ! testenv_is_built; then
  echo "k8s testenv: no binaries in $TESTENV_BIN: $TESTENV_NOT_BUILT_HINT" >&2
  exit "$TESTENV_EXIT_NOT_BUILT"
fi

mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
ETC="$DIR/etc" PKI="$DIR/pki" DATA="$DIR/data" LOGS="$DIR/logs" RUN="$DIR/run"
mkdir -p "$ETC" "$PKI" "$DATA" "$LOGS" "$RUN"
chmod 700 "$PKI"
# down.sh --purge only deletes directories that carry this marker.
touch "$DIR/.sparkplane-k8s-testenv"

HOST=127.0.0.1
BASE="${K8S_TESTENV_PORT_BASE:-26100}"
ETCD_PORT=$BASE ETCD_PEER_PORT=$((BASE + 1)) API_PORT=$((BASE + 2))
KCM_PORT=$((BASE + 3)) SCHED_PORT=$((BASE + 4)) KWOK_PORT=$((BASE + 5))
SERVER="https://$HOST:$API_PORT"
NODES="${K8S_TESTENV_NODES:-3}"
TIMEOUT="${K8S_TESTENV_TIMEOUT:-120}"

T0=$(testenv_now_ms)
say() { echo "k8s testenv: $*" >&2; }
since() { echo "$(( $(testenv_now_ms) - $1 )) ms"; }

# ------------------------------------------------------------------------------------- PKI
# One throw-away EC P-256 CA signs everything. Existing files are kept, so a restart of one
# component reuses the certificates the others already trust.
if [ ! -f "$PKI/ca.crt" ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 -subj "/CN=sparkplane-testenv-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
fi
issue() { # name subject extendedKeyUsage [subjectAltName]
  local name=$1 subject=$2 eku=$3 san=${4:-}
  [ -f "$PKI/$name.crt" ] && return 0
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subject" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } > "$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile "$PKI/$name.ext" \
    -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
issue apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
# Client certificates: CN is the user, O the group. system:masters bypasses RBAC; the
# controller-manager and scheduler get exactly the rights the default RBAC roles give them.
issue admin "/O=system:masters/CN=sparkplane-testenv-admin" clientAuth
issue kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
issue kube-scheduler "/CN=system:kube-scheduler" clientAuth
issue kwok "/O=system:masters/CN=kwok" clientAuth
# The aggregation layer's identity. Without the requestheader flags that use it, the
# controller-manager and scheduler log "missing content for CA bundle" many times a second.
issue front-proxy-client "/CN=front-proxy-client" clientAuth
if [ ! -f "$PKI/sa.key" ]; then   # service-account token signing
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
fi
[ -f "$PKI/admin.token" ] || openssl rand -hex 24 > "$PKI/admin.token"
# Static tokens: token,user,uid,"groups".
echo "$(cat "$PKI/admin.token"),sparkplane-testenv-token-admin,token-admin,system:masters" \
  > "$ETC/tokens.csv"
chmod 600 "$PKI"/*.key "$PKI/admin.token" "$ETC/tokens.csv"
say "PKI ready ($(since "$T0"))"

# ------------------------------------------------------------------------------- kubeconfigs
write_kubeconfig() { # file user cluster-lines user-lines
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sparkplane-testenv
  cluster:
    server: $SERVER
$3
users:
- name: $2
  user:
$4
contexts:
- name: sparkplane-testenv
  context:
    cluster: sparkplane-testenv
    user: $2
current-context: sparkplane-testenv
EOF
  chmod 600 "$1"
}
with_files() { # user cert-name: CA, certificate and key as file paths
  write_kubeconfig "$ETC/$2.kubeconfig" "$1" "    certificate-authority: $PKI/ca.crt" \
    "    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key"
}
b64() { base64 -w0 < "$1"; }
with_files sparkplane-testenv-admin admin
with_files system:kube-controller-manager kube-controller-manager
with_files system:kube-scheduler kube-scheduler
with_files kwok kwok
# The same admin with everything inline (what in-cluster tooling and cloud CLIs write), and a
# bearer-token variant: Sparkplane's kubeconfig loader has to handle all three.
write_kubeconfig "$ETC/admin-embedded.kubeconfig" sparkplane-testenv-admin \
  "    certificate-authority-data: $(b64 "$PKI/ca.crt")" \
  "    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")"
write_kubeconfig "$ETC/admin-token.kubeconfig" sparkplane-testenv-token-admin \
  "    certificate-authority-data: $(b64 "$PKI/ca.crt")" \
  "    token: $(cat "$PKI/admin.token")"

cat > "$DIR/testenv.env" <<EOF
K8S_TESTENV_DIR=$DIR
K8S_TESTENV_PORT_BASE=$BASE
K8S_SERVER=$SERVER
K8S_CA_FILE=$PKI/ca.crt
K8S_ADMIN_CERT_FILE=$PKI/admin.crt
K8S_ADMIN_KEY_FILE=$PKI/admin.key
K8S_ADMIN_TOKEN_FILE=$PKI/admin.token
K8S_KUBECONFIG=$ETC/admin.kubeconfig
K8S_KUBECONFIG_EMBEDDED=$ETC/admin-embedded.kubeconfig
K8S_KUBECONFIG_TOKEN=$ETC/admin-token.kubeconfig
K8S_SA_ISSUER=https://kubernetes.default.svc.cluster.local
EOF

# --------------------------------------------------------------------------------- processes
running() { # name: its PID file names a live process that is our binary (PIDs get reused)
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$TESTENV_BIN/$1" ]
}
port_taken() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
log_tail() { echo "--- last lines of $LOGS/$1.log" >&2; tail -n 30 "$LOGS/$1.log" >&2 || true; }

STARTED=""   # set when launch started a process, empty when one was already running
launch() { # name port... -- args...
  local name=$1 pid p; shift
  STEP_T0=$(testenv_now_ms)
  if running "$name"; then
    STARTED=""; say "$name already running (pid $(cat "$RUN/$name.pid"))"
    while [ "$1" != "--" ]; do shift; done
    return 0
  fi
  while [ "$1" != "--" ]; do
    if port_taken "$1"; then
      say "port $1 on $HOST is taken (needed by $name); choose another K8S_TESTENV_PORT_BASE"
      exit 4
    fi
    shift
  done
  shift
  # setsid: a session of its own, so the caller's Ctrl-C or process-group kill does not reach
  # it; down.sh stops it by PID file.
  setsid "$TESTENV_BIN/$name" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$RUN/$name.pid"
  STARTED=1
  # For a few milliseconds $! is still the forked shell or setsid; wait for the exec so that
  # the /proc/PID/exe checks (ours and down.sh's) see the real binary.
  for _ in $(seq 200); do
    running "$name" && return 0
    [ -e "/proc/$pid" ] || break
    sleep 0.01
  done
  running "$name" || { say "$name did not start"; log_tail "$name"; exit 1; }
}
await() { # what name probe...: poll the probe every 0.1 s while the component stays alive
  local what=$1 name=$2 deadline=$(( $(date +%s) + TIMEOUT )); shift 2
  until "$@" >/dev/null 2>&1; do
    running "$name" || { say "$name exited while waiting for: $what"; log_tail "$name"; exit 1; }
    [ "$(date +%s)" -lt "$deadline" ] ||
      { say "timed out after ${TIMEOUT}s waiting for: $what"; log_tail "$name"; exit 1; }
    sleep 0.1
  done
  say "$what ready ($(since "$STEP_T0"); $(since "$T0") since start)"
}
# The API server pretty-prints JSON for curl's user agent; the greps below want it compact.
api() {
  curl -sS --noproxy '*' -A sparkplane-testenv --max-time 10 --cacert "$PKI/ca.crt" \
    --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"
}
probe_http() { curl -sf --noproxy '*' --max-time 2 "$@"; }

launch etcd "$ETCD_PORT" "$ETCD_PEER_PORT" -- \
  --name=sparkplane-testenv --data-dir="$DATA/etcd" \
  --listen-client-urls="http://$HOST:$ETCD_PORT" --advertise-client-urls="http://$HOST:$ETCD_PORT" \
  --listen-peer-urls="http://$HOST:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://$HOST:$ETCD_PEER_PORT" \
  --initial-cluster="sparkplane-testenv=http://$HOST:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
etcd_healthy() { probe_http "http://$HOST:$ETCD_PORT/health" | grep -q '"health":"true"'; }
await etcd etcd etcd_healthy

# Loopback cannot be published as the `kubernetes` Service's endpoint (validation rejects
# 127.0.0.0/8), hence --endpoint-reconciler-type=none; nothing routes to it anyway.
# OwnerReferencesPermissionEnforcement (on top of the default plugins, as OpenShift and hardened
# clusters run it): setting blockOwnerDeletion needs `update` on the owner's finalizers, which the
# scheduler's Role must then grant (tests/integration/k8s/rbac_test.cc).
launch kube-apiserver "$API_PORT" -- \
  --bind-address=$HOST --advertise-address=$HOST --secure-port="$API_PORT" \
  --etcd-servers="http://$HOST:$ETCD_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$ETC/tokens.csv" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=OwnerReferencesPermissionEnforcement \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
  --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --allow-privileged=true --profiling=false --v=1
await kube-apiserver kube-apiserver api -f "$SERVER/readyz"

# The controller-manager and scheduler serve their health endpoints with an in-memory
# self-signed certificate, hence curl -k for those two probes.
KCM_KUBECONFIG="$ETC/kube-controller-manager.kubeconfig"
launch kube-controller-manager "$KCM_PORT" -- \
  --kubeconfig="$KCM_KUBECONFIG" --authentication-kubeconfig="$KCM_KUBECONFIG" \
  --authorization-kubeconfig="$KCM_KUBECONFIG" \
  --bind-address=$HOST --secure-port="$KCM_PORT" --leader-elect=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=true \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --profiling=false --v=1
await kube-controller-manager kube-controller-manager probe_http -k "https://$HOST:$KCM_PORT/healthz"

SCHED_KUBECONFIG="$ETC/kube-scheduler.kubeconfig"
launch kube-scheduler "$SCHED_PORT" -- \
  --kubeconfig="$SCHED_KUBECONFIG" --authentication-kubeconfig="$SCHED_KUBECONFIG" \
  --authorization-kubeconfig="$SCHED_KUBECONFIG" \
  --bind-address=$HOST --secure-port="$SCHED_PORT" --leader-elect=false --profiling=false --v=1
await kube-scheduler kube-scheduler probe_http -k "https://$HOST:$SCHED_PORT/readyz"

# kwok binds 0.0.0.0 unless --server-address is given. It manages only nodes annotated
# kwok.x-k8s.io/node=fake, which are created below without a taint, so unmodified manifests
# schedule onto them.
launch kwok "$KWOK_PORT" -- \
  --kubeconfig="$ETC/kwok.kubeconfig" --config="$TESTENV_STAGES" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --server-address="$HOST:$KWOK_PORT" --node-ip=10.99.0.1 --cidr=10.244.0.0/16 \
  --node-lease-duration-seconds=40
await kwok kwok probe_http "http://$HOST:$KWOK_PORT/healthz"

STEP_T0=$(testenv_now_ms)
for i in $(seq 0 $((NODES - 1))); do
  node=kwok-node-$i
  code=$(api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    "$SERVER/api/v1/nodes" -d @- <<EOF
{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "$node",
   "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
   "labels": {"type": "kwok", "kubernetes.io/hostname": "$node", "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": "zone-$((i % 2))"}},
 "status": {"capacity": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                         "kubeletVersion": "fake", "kubeProxyVersion": "fake"}}}
EOF
  ) || true
  case $code in 201 | 409) ;; *) say "creating node $node: HTTP $code"; exit 1 ;; esac
done
nodes_ready() {
  [ "$(api -f "$SERVER/api/v1/nodes?labelSelector=type%3Dkwok" |
       grep -o '"type":"Ready","status":"True"' | wc -l)" -ge "$NODES" ]
}
await "$NODES kwok nodes" kwok nodes_ready

# /healthz of the controller-manager answers seconds before its controllers run, and a new
# namespace cannot get pods before it has its `default` ServiceAccount. Push one Deployment
# through the whole chain and delete it, so the first test does not pay for that warm-up.
PROBE="$SERVER/apis/apps/v1/namespaces/default/deployments"
STEP_T0=$(testenv_now_ms)
code=$(api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$PROBE" -d '
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sparkplane-testenv-probe"},
 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "sparkplane-testenv-probe"}},
          "template": {"metadata": {"labels": {"app": "sparkplane-testenv-probe"}},
                       "spec": {"containers": [{"name": "probe", "image": "sparkplane/never-pulled"}]}}}}') || true
case $code in 201 | 409) ;; *) say "creating the probe Deployment: HTTP $code"; exit 1 ;; esac
probe_available() { api -f "$PROBE/sparkplane-testenv-probe" | grep -q '"availableReplicas":1'; }
await "probe Deployment (controllers, scheduler, kwok)" kube-controller-manager probe_available
STEP_T0=$(testenv_now_ms)
api -o /dev/null -X DELETE -H 'Content-Type: application/json' "$PROBE/sparkplane-testenv-probe" \
  -d '{"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground"}'
probe_gone() { [ "$(api -o /dev/null -w '%{http_code}' "$PROBE/sparkplane-testenv-probe")" = 404 ]; }
await "probe Deployment deletion" kube-controller-manager probe_gone

say "control plane up at $SERVER in $(since "$T0") (env: $DIR/testenv.env)"
echo "$ETC/admin.kubeconfig"
