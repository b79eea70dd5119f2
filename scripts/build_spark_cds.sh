#!/usr/bin/env bash
# Builds the class-data sharing (AppCDS) archives of Spark's classpath that spark::LocalCluster
# gives its master and worker JVMs (src/spark/jvm_archives.h; they roughly halve a daemon's
# boot CPU, docs/BENCHMARKS.md "Local cluster start"). Run by scripts/setup.sh; a no-op when
# valid archives for this Spark and this Java exist.
#
# JDK 17 has no -XX:+AutoCreateSharedArchive (JDK 19+), so: a training master and worker run
# through spark-class (the exact classpath LocalCluster's daemons get) with the same daemon flags
# and -XX:ArchiveClassesAtExit, until the worker is registered; SIGTERM makes each JVM write its
# archive as it exits. Each archive is then checked with -Xshare:on (a JVM that cannot map it
# fails instead of running without it), and the directory, manifest last, is renamed into place:
#   <root>/spark-<spark version>_java-<java version>/{master.jsa,worker.jsa,manifest}
#
# Usage: scripts/build_spark_cds.sh [--force]
# Env:   SPARK_HOME (default: the repo's .venv pyspark), JAVA_HOME (default: java on PATH),
#        SPARKPLANE_CDS_DIR (default: ${XDG_CACHE_HOME:-$HOME/.cache}/sparkplane/cds)
# Exit 0 with the archives in place (or already valid); 1 when they could not be built (Spark
# still works without them).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
FORCE=0
[ "${1:-}" = --force ] && FORCE=1

if [ -z "${SPARK_HOME:-}" ]; then
  SPARK_HOME=$(ls -d "$REPO"/.venv/lib/python3*/site-packages/pyspark 2>/dev/null | head -n1)
fi
if [ ! -x "${SPARK_HOME:-}/bin/spark-class" ]; then
  echo "build_spark_cds: Spark not found (set SPARK_HOME or run scripts/setup.sh)" >&2
  exit 1
fi
SPARK_HOME=$(realpath "$SPARK_HOME")
export SPARK_HOME
if [ -n "${JAVA_HOME:-}" ]; then JAVA=$JAVA_HOME/bin/java; else JAVA=$(command -v java); fi
[ -x "$JAVA" ] || { echo "build_spark_cds: java not found" >&2; exit 1; }
JHOME=$(dirname "$(dirname "$(realpath "$JAVA")")")
SPARK_VERSION=$(ls "$SPARK_HOME"/jars/spark-core_*.jar 2>/dev/null | head -n1 | sed 's/.*-\([^-]*\)\.jar$/\1/')
JAVA_VERSION=$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$JHOME/release" 2>/dev/null)
if [ -z "$SPARK_VERSION" ] || [ -z "$JAVA_VERSION" ]; then
  echo "build_spark_cds: cannot read the Spark version ($SPARK_HOME/jars) or the Java version ($JHOME/release)" >&2
  exit 1
fi
ROOT=${SPARKPLANE_CDS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sparkplane/cds}
case "$ROOT$SPARK_HOME" in *[[:space:]]*)
  echo "build_spark_cds: paths with spaces cannot be passed in SPARK_DAEMON_JAVA_OPTS" >&2
  exit 1 ;;
esac
DIR=$ROOT/spark-${SPARK_VERSION}_java-${JAVA_VERSION}
# Keep in step with kDaemonFlags in src/spark/jvm_archives.cc.
FLAGS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

# The archive works for CLASS's JVM: -Xshare:on fails when it cannot be mapped (a stale jar, a
# truncated file, another JVM build); --help makes the daemon print its usage and exit.
check() {  # archive class
  SPARK_DAEMON_JAVA_OPTS="$FLAGS -XX:SharedArchiveFile=$1 -Xshare:on" \
    "$SPARK_HOME/bin/spark-class" "$2" --help >/dev/null 2>&1
}
valid() {  # dir
  grep -qx "spark_home=$SPARK_HOME" "$1/manifest" 2>/dev/null &&
    check "$1/master.jsa" org.apache.spark.deploy.master.Master &&
    check "$1/worker.jsa" org.apache.spark.deploy.worker.Worker
}
if [ "$FORCE" = 0 ] && valid "$DIR"; then
  echo "build_spark_cds: $DIR is up to date"
  exit 0
fi

mkdir -p "$ROOT" || exit 1
TMP=$(mktemp -d "$ROOT/.build.XXXXXX") || exit 1
M= W=
cleanup() {
  for p in $W $M; do kill -TERM -- "-$p" 2>/dev/null; done
  for p in $W $M; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP/run/work" "$TMP/run/local"
export SPARK_LOCAL_IP=127.0.0.1
echo "build_spark_cds: training a master and a worker of Spark $SPARK_VERSION on Java $JAVA_VERSION"
(
  cd "$TMP/run" || exit 1
  export SPARK_DAEMON_JAVA_OPTS="$FLAGS -XX:ArchiveClassesAtExit=$TMP/master.jsa"
  export SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false"
  exec setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port 0 --webui-port 0 >"$TMP/run/master.log" 2>&1 </dev/null
) &
M=$!
deadline=$((SECONDS + 120))
url= ui=
while [ -z "$ui" ]; do
  url=$(grep -o -m1 'spark://127.0.0.1:[0-9]*' "$TMP/run/master.log" 2>/dev/null)
  ui=$(grep -o -m1 "service 'MasterUI' on port [0-9]*" "$TMP/run/master.log" 2>/dev/null | grep -o '[0-9]*$')
  kill -0 "$M" 2>/dev/null && [ $SECONDS -lt $deadline ] || {
    echo "build_spark_cds: the training master did not start" >&2; tail -n 20 "$TMP/run/master.log" >&2; exit 1; }
  sleep 0.2
done
(
  cd "$TMP/run" || exit 1
  export SPARK_DAEMON_JAVA_OPTS="$FLAGS -XX:ArchiveClassesAtExit=$TMP/worker.jsa"
  export SPARK_LOCAL_DIRS="$TMP/run/local"
  exec setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host 127.0.0.1 --port 0 --webui-port 0 --cores 1 --memory 1g --work-dir "$TMP/run/work" \
    "$url" >"$TMP/run/worker.log" 2>&1 </dev/null
) &
W=$!
until curl -fsS --max-time 2 "http://127.0.0.1:$ui/json/" 2>/dev/null | grep -Eq '"aliveworkers" *: *[1-9]'; do
  kill -0 "$W" 2>/dev/null && [ $SECONDS -lt $deadline ] || {
    echo "build_spark_cds: the training worker did not register" >&2; tail -n 20 "$TMP/run/worker.log" >&2; exit 1; }
  sleep 0.2
done
# SIGTERM: each JVM writes its archive while it exits (a few seconds).
for p in $W $M; do kill -TERM -- "-$p"; wait "$p" 2>/dev/null; done
M= W=
for role in master worker; do
  [ -s "$TMP/$role.jsa" ] || { echo "build_spark_cds: the $role wrote no archive" >&2; tail -n 20 "$TMP/run/$role.log" >&2; exit 1; }
done
check "$TMP/master.jsa" org.apache.spark.deploy.master.Master &&
  check "$TMP/worker.jsa" org.apache.spark.deploy.worker.Worker ||
  { echo "build_spark_cds: the new archives do not load (-Xshare:on)" >&2; exit 1; }
rm -rf "$TMP/run"
{
  echo "spark_home=$SPARK_HOME"
  echo "master.jsa=$(stat -c %s "$TMP/master.jsa")"
  echo "worker.jsa=$(stat -c %s "$TMP/worker.jsa")"
} >"$TMP/manifest"
rm -rf "$DIR"
mv "$TMP" "$DIR" || exit 1
TMP=/nonexistent
echo "build_spark_cds: archives in $DIR ($(du -sh "$DIR" | cut -f1))"
