#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ from the project's tests and examples."""
import glob, os, shutil, sys, zlib

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
out = os.path.join(root, "tests", "fuzz", "corpus")

def write(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# dag_loader: the example DAGs and the validation cases.
for p in sorted(glob.glob(os.path.join(root, "examples/dags/*.yaml")) +
                glob.glob(os.path.join(root, "tests/data/dag_validation/*.yaml"))):
    prefix = "example_" if "examples" in p else ""
    with open(p, "rb") as f:
        write("dag_loader", prefix + os.path.basename(p), f.read())

# cron: expressions from tests/dag/cron_test.cc, each with a start time on the second line.
crons = ["@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@dialy",
         "*/15 * * * *", "0 2 * * *", " 0  2 *  * * ", "0 0 * * 5-7", "0 0 * * 7", "0 0 * * sun",
         "0 0 */2 * 1", "0 0 1 JAN,jul *", "0 0 13 * 5", "0 0 29 2 *", "0 0 30 2 *",
         "0 0 31 2 *", "0 0 31 2 MON", "0 0 31 4,6,9,11 *", "0 9-17/4 * * MON-FRI",
         "0,30 8 * * *", "15/20 * * * *", "0 12 30 * *", "*/0 * * * *", "0 5-3 * * *",
         "0 1,,2 * * *", "* * * *", "0 0 * FOO *"]
times = ["2026-01-01T00:00:00Z", "1969-12-31T23:59:00Z", "2000-02-29T00:00:00Z",
         "2026-01-01T00:14:59.999Z", "2025-12-31T02:30:00+02:00", "2026-03-08"]
for i, c in enumerate(crons):
    write("cron", "cron_%02d" % i, c + "\n" + times[i % len(times)])

# duration: as DAG files write them (tests/dag/cron_test.cc, loader tests).
durations = ["30s", "5m", "1h30m", "2d", "250ms", "10", " 10s ", "1d2h3m4s5ms", "1h30", "1.5h",
             "-5s", "0s", "+5m", "0", "106751991167d", "4611686018427387904ms", "9" * 25, "1w",
             "5 m", ""]
for i, d in enumerate(durations):
    write("duration", "duration_%02d" % i, d)

# template: strings from tests/dag/template_test.cc; two with their own JSON context after NUL.
templates = ["load {{ params.table }} on {{ds}} to {{  tasks.a.outputs.url  }}",
             "try {{ try_number }} full={{params.full}} n={{ params.limit }}",
             "{{ dag.id }}/{{ task.id }}", "{{ds}}{{ds}}", "echo {{ ds", "a {{ }} b",
             "x{{ a..b }}", "{{ a | upper }}", "{{ .a }}", "{{ a. }}", "echo \\{{ ds }}",
             "echo \"hello {{ params.name }}\"", "echo '{{ params.quote }}'",
             "echo $(echo {{ ds }}) `date {{ ds_nodash }}` $'{{ params.n }}'",
             "spark-submit --conf x={{ params.obj }} {{ params.list }} {{ params.none }}",
             "{{ tasks.create_cluster.outputs.master_url }}", "{{ tasks.a-b.outputs.c.d }}",
             "{{ dag.id }} {{ params.b }} {{ params.f }}", "no templates here"]
for i, t in enumerate(templates):
    write("template", "template_%02d" % i, t)
write("template", "template_context_nested",
      "load {{ params.table }} for {{ds}}\0" +
      '{"ds": "2026-01-01", "params": {"table": "t", "x": {"y": [1, 2]}}}')
write("template", "template_context_flat",
      "{{ dag.id }} {{ tasks.a.outputs.url }}\0" +
      '{"dag.id": "d", "tasks": {"a": {"outputs": {"url": "spark://h:7077"}}}}')

# control_request: the requests of src/api/control_socket.h and tests/api/control_socket_test.cc.
requests = [
    '{"op":"trigger","dag_id":"d","conf":{"a":1},"logical_date":"2026-11-26"}',
    '{"op":"trigger","dag_id":"d","logical_date":"2026-11-26T02:00:00Z","run_id":"manual__x","type":"test"}',
    '{"op":"trigger","logical_date":"2026-11-26T02:00:00+02:00"}',
    '{"op":"trigger","logical_date":"yesterday"}',
    '{"op":"backfill","dag_id":"d","from":"2026-01-01","to":"2026-01-03","conf":{}}',
    '{"op":"cancel","run":7}',
    '{"op":"clear","run":4,"tasks":["a","b"],"downstream":true}',
    '{"op":"mark","run":4,"task":"a","state":"failed"}',
    '{"op":"mark","run":4,"task":"a","state":"running"}',
    '{"op":"pause","dag_id":"d"}', '{"op":"unpause","dag_id":"d"}', '{"op":"ping"}',
    '{"op":"explode"}', '[]', '{"op":1}',
]
for i, r in enumerate(requests):
    write("control_request", "request_%02d" % i, r + "\n")

# event_log: mode byte, cut byte, then the logs of tests/data/spark/history.
hist = os.path.join(root, "tests/data/spark/history")
def read(p):
    with open(os.path.join(hist, p), "rb") as f:
        return f.read()
single = ["app-20261126100000-0000", "app-20261126095900-0005", "app-20261126100600-0006"]
for i, name in enumerate(single):
    write("event_log", "plain_%d" % i, b"\x00\x00" + read(name))
write("event_log", "zstd_0", b"\x01\x00" + read(single[1]))
write("event_log", "zstd_truncated_0", b"\x03\x61" + read(single[1]))
write("event_log", "raw_zstd_0", b"\x05\x00" + read("app-20261126100400-0004.lz4"))
write("event_log", "inprogress_0", b"\x10\x00" + read("app-20261126100100-0001.inprogress"))
roll = "eventlog_v2_app-20261126100200-0002"
parts = [read(os.path.join(roll, "events_%d_app-20261126100200-0002" % n)) for n in (1, 2, 10)]
write("event_log", "rolling_0", b"\x08\x00" + b"\0".join(parts))
write("event_log", "rolling_zstd_inprogress_0", b"\x19\x00" + b"\0".join(parts[:2]))
write("event_log", "crlf_and_partial_line",
      b"\x00\x00" + b'{"Event":"SparkListenerLogStart"}\r\n\r\n{"Event":"SparkListenerJobStart",')

# kube_config: the kubeconfigs of tests/k8s/kube_config_test.cc.
two_contexts = """apiVersion: v1
kind: Config
current-context: kind-dev
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: pki/ca.crt
- name: prod
  cluster:
    server: https://prod.example:443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate: pki/admin.crt
    client-key: pki/admin.key
- name: robot
  user:
    token: s3cr3t-token
contexts:
- name: kind-dev
  context:
    cluster: kind-dev
    user: admin
    namespace: spark-jobs
- name: dev
  context:
    cluster: prod
    user: robot
"""
head = "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
cluster = 'clusters: [{name: k, cluster: {server: "https://h:1"}}]\n'
kube = {
    "two_contexts": two_contexts,
    "inline_data": """current-context: c
clusters:
- name: k
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==
users:
- name: u
  user:
    client-certificate-data: Q0VSVC1QRU0=
    client-key-data: S0VZLVBFTQ==
contexts:
- name: c
  context: {cluster: k, user: u}
""",
    "token_file_anonymous": head.replace("user: u}}]", "user: u}}, {name: anon, context: {cluster: k}}]")
                            + cluster + "users: [{name: u, user: {tokenFile: token}}]\n",
    "exec_plugin": """current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: [--cluster, k]
      env: [{name: REGION, value: eu-1}]
      installHint: install get-token from the wiki
      provideClusterInfo: true
      interactiveMode: Never
""",
    "bad_yaml": "current-context: c\nclusters:\n- name: k\n  cluster: {server: x}}\nusers: []\n",
    "no_server": head + "clusters: [{name: k, cluster: {}}]\nusers: [{name: u}]\n",
    "bad_scheme": head + "clusters: [{name: k, cluster: {server: ftp://h}}]\nusers: [{name: u}]\n",
    "cert_without_key": head + cluster + "users: [{name: u, user: {client-certificate: pki/admin.crt}}]\n",
    "bad_base64": head + cluster + "users: [{name: u, user: {client-certificate-data: Q0VSVA==, client-key-data: '%%%'}}]\n",
    "auth_provider": head + cluster + "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
    "exec_alpha": head + cluster + "users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}}}]\n",
    "token_not_string": head + cluster + "users: [{name: u, user: {token: [a]}}]\n",
    "clusters_not_list": head + "clusters: {k: 1}\n",
    "not_a_mapping": "- a\n- b\n",
    "proxy_url": head + 'clusters: [{name: k, cluster: {server: "https://h:1", proxy-url: "http://p:3128"}}]\nusers: [{name: u, user: {token: t}}]\n',
}
for name, text in kube.items():
    write("kube_config", name + ".yaml", text)
