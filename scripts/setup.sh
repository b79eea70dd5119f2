#!/usr/bin/env bash
# Installs everything Sparkplane needs on a fresh Debian 12 machine, idempotently:
# build tools and C++ libraries (apt), and a project-local Python virtualenv with PyPI pyspark
# (Spark's jars, bin/ and sbin/) unless SPARK_HOME is already set.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libsqlite3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhowardhinnant-date-dev
  libsodium-dev libcurl4-openssl-dev libzstd-dev zstd libboost1.81-dev
  python3-venv procps curl clang-format
  clang libclang-rt-14-dev
  valgrind jq chromium wrk
  libpq-dev postgresql
  musl-tools libfyaml-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Spark from PyPI into .venv (shared by `make demo` and the tests).
if [ "${SP_SKIP_SPARK:-0}" != "1" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if ! .venv/bin/python -c 'import pyspark' 2>/dev/null; then
    echo "setup: installing pyspark 4.3.0 into .venv (about 500 MB)"
    .venv/bin/pip install -q --disable-pip-version-check pyspark==4.3.0
  fi
  # Notebooks (`sparkplane notebook`): Spark Connect's Python client, JupyterLab, nbclient and
  # ipykernel (about 25 s); pandas < 3, which PySpark 4.3 does not fully support yet.
  if ! .venv/bin/python -c 'import sys, importlib.util as u, importlib.metadata as m
mods = ("jupyterlab", "nbclient", "ipykernel", "grpc", "grpc_status", "pyarrow", "pandas")
sys.exit(any(u.find_spec(x) is None for x in mods) or int(m.version("pandas")[0]) >= 3)' \
    2>/dev/null; then
    echo "setup: installing pyspark[connect], jupyterlab, nbclient and ipykernel into .venv"
    .venv/bin/pip install -q --disable-pip-version-check 'pyspark[connect]==4.3.0' 'pandas<3' \
      jupyterlab nbclient ipykernel
  fi
  # schemathesis, for the API's property-based test (tests/integration/api/schemathesis.sh).
  if ! .venv/bin/python -c 'import schemathesis' 2>/dev/null; then
    echo "setup: installing schemathesis 4.32.5 into .venv"
    .venv/bin/pip install -q --disable-pip-version-check schemathesis==4.32.5
  fi
  # The example applications' build outputs (job_dependency.zip, the Java example jar).
  ./scripts/build_examples.sh build/examples
  # Class-data sharing archives for the local clusters' master and worker JVMs (faster starts,
  # src/spark/jvm_archives.h); a local cluster starts without them, only slower.
  ./scripts/build_spark_cds.sh || echo "setup: no JVM archives for Spark (clusters start slower)"
fi

# The web UI (ui/: React + Vite), built into build/ui-dist, which the C++ build embeds; npm
# installs its packages (and playwright-core for the browser test) only when the lockfile moved.
./scripts/build_ui.sh build/ui-dist

# The Kubernetes test environment for `ctest -L k8s` (tests/k8s/testenv/README.md): etcd and the
# control plane built with Go into ~/.cache/sparkplane, ~18 min cold, a no-op once cached.
if [ "${SP_SKIP_K8S:-0}" != "1" ]; then
  ./tests/k8s/testenv/build.sh
  # kustomize, to hold `sparkplane deploy`'s renderer against kubectl's (tests/k8s/kustomize).
  ./tests/k8s/kustomize/build.sh
fi
echo "setup: ok"
