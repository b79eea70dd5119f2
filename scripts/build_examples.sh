#!/usr/bin/env bash
# Builds the example artifacts that are never committed, into an output dir (default
# build/examples):
#   job_dependency.zip      examples/apps/job_dependency/ zipped with the package folder at the
#                           root, for `spark-submit --py-files`
#   sparkplane-examples.jar examples/apps/java/src/** compiled against $SPARK_HOME/jars/*
# Idempotent: an output newer than all its sources is left alone. Needs SPARK_HOME (or the
# project venv from scripts/setup.sh) and a JDK (javac, jar) for the jar.
#
# Usage: scripts/build_examples.sh [OUT_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/build/examples}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
apps="$repo/examples/apps"

python="$repo/.venv/bin/python"
[ -x "$python" ] || python="$(command -v python3)"

if [ -z "${SPARK_HOME:-}" ]; then
  for d in "$repo"/.venv/lib/python3*/site-packages/pyspark; do
    [ -d "$d/jars" ] && SPARK_HOME="$d"
  done
fi

# True when $1 is missing or any file under the remaining paths is newer than it.
stale() {
  local target="$1"
  shift
  [ -e "$target" ] || return 0
  [ -n "$(find "$@" -type f -newer "$target" -not -path '*/__pycache__/*' -print -quit)" ]
}

zip="$out/job_dependency.zip"
if stale "$zip" "$apps/job_dependency"; then
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
  mkdir "$stage/job_dependency"
  (cd "$apps/job_dependency" && find . -name '*.py' -not -path '*/__pycache__/*' \
     -exec cp --parents {} "$stage/job_dependency/" \;)
  rm -f "$zip.tmp"
  "$python" -m zipfile -c "$zip.tmp" "$stage/job_dependency"
  mv "$zip.tmp" "$zip"
  rm -rf "$stage"
  trap - EXIT
  echo "build_examples: built $zip"
fi

jar="$out/sparkplane-examples.jar"
if stale "$jar" "$apps/java/src"; then
  if [ -z "${SPARK_HOME:-}" ] || [ ! -d "$SPARK_HOME/jars" ]; then
    echo "build_examples: Spark not found: set SPARK_HOME or run scripts/setup.sh" >&2
    exit 1
  fi
  if ! command -v javac >/dev/null || ! command -v jar >/dev/null; then
    echo "build_examples: javac/jar not found: install a JDK 17+" >&2
    exit 1
  fi
  classes="$(mktemp -d)"
  trap 'rm -rf "$classes"' EXIT
  mapfile -t sources < <(find "$apps/java/src" -name '*.java' | sort)
  javac -nowarn -d "$classes" -cp "$SPARK_HOME/jars/*" "${sources[@]}"
  rm -f "$jar.tmp"
  jar --create --file "$jar.tmp" -C "$classes" .
  mv "$jar.tmp" "$jar"
  rm -rf "$classes"
  trap - EXIT
  echo "build_examples: built $jar"
fi
