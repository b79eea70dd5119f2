# Shell helpers shared by the Spark benchmarks (spark_baseline.sh, spark_pipeline_bench.sh,
# cluster_start_bench.sh). Source it; it defines functions only (and SPARK_HOME when unset).

# SPARK_HOME as src/cli/config.cc FindBundledSpark finds it: the env, else the repo's .venv.
find_spark_home() {  # repo
  if [ -z "${SPARK_HOME:-}" ]; then
    SPARK_HOME=$(ls -d "$1"/.venv/lib/python3*/site-packages/pyspark 2>/dev/null | head -n1)
  fi
  export SPARK_HOME
  [ -x "${SPARK_HOME:-}/bin/spark-class" ]
}

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Running and not a zombie (our exited children stay zombies until `wait`).
alive() {
  local _pid _comm state
  [ -n "$1" ] && read -r _pid _comm state _ <"/proc/$1/stat" 2>/dev/null && [ "$state" != Z ]
}

# Each daemon and the driver is a session leader (setsid), so its pid is its process group.
stop_group() {  # pid: SIGTERM to its process group, SIGKILL after 10 s, reaped
  local pid=$1 killer
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  (sleep 10 && kill -KILL -- "-$pid") >/dev/null 2>&1 </dev/null &  # no pipe held open
  killer=$!
  wait "$pid" 2>/dev/null
  kill "$killer" 2>/dev/null
  wait "$killer" 2>/dev/null
  return 0
}

# Any process started from DIR (the Spark daemons run with cwd in it or name it in argv).
procs_under() {  # dir
  local p cwd args
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    mapfile -d '' args <"$p/cmdline" 2>/dev/null || continue
    if [[ $cwd == "$1"* || "${args[*]}" == *"$1"* ]]; then echo "${p#/proc/}"; fi
  done
}

# CPU seconds (user + sys, with the reaped children's) of the given pids, from /proc/PID/stat.
cpu_of() {  # pid...
  local p stat f ticks=0
  for p in "$@"; do
    read -r stat 2>/dev/null <"/proc/$p/stat" || continue
    stat=${stat##*) }  # fields after "(comm) ": utime is field 14, stime 15, cutime 16, cstime 17
    read -r -a f <<<"$stat"
    ticks=$((ticks + f[11] + f[12] + f[13] + f[14]))
  done
  awk -v t="$ticks" -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / h }'
}

# PID and all its descendants.
process_tree() {  # pid
  local p ppid all=("$1") i=0 line
  declare -A parent=()
  for p in /proc/[0-9]*; do
    read -r line 2>/dev/null <"$p/stat" || continue
    line=${line##*) }
    read -r _ ppid _ <<<"$line"
    parent[${p#/proc/}]=$ppid
  done
  while [ $i -lt ${#all[@]} ]; do
    for p in "${!parent[@]}"; do [ "${parent[$p]}" = "${all[$i]}" ] && all+=("$p"); done
    i=$((i + 1))
  done
  echo "${all[@]}"
}

median() { tr ' ' '\n' | grep -E '^-?[0-9.]+$' | sort -g | awk -v f="%.${1:-2}f\n" '{ v[NR] = $1 } END {
  if (NR == 0) { print "nan"; exit }
  if (NR % 2) printf f, v[(NR + 1) / 2]; else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { tr ' ' '\n' | grep -E '^-?[0-9.]+$' | sort -g | head -n1; }

# The start of every Spark benchmark: `bench_start NAME DEFAULT_ROUNDS "$@"` reads BUILD_DIR
# [ROUNDS] (sets BUILD and ROUNDS), checks that sparkplane is built and Spark found (exports
# SPARK_HOME), makes ROOT (a temp dir) and copies the binaries into it: BIN runs the same build
# in every round, even if BUILD_DIR is rebuilt meanwhile. Exits 2 on a usage or setup error.
bench_start() {  # name default-rounds args...
  local name=$1 default_rounds=$2
  shift 2
  if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [ROUNDS]" >&2
    exit 2
  fi
  BUILD=$(cd "$1" && pwd) || exit 2
  ROUNDS=${2:-$default_rounds}
  [ -x "$BUILD/sparkplane" ] || { echo "$name: $BUILD/sparkplane not built" >&2; exit 2; }
  find_spark_home "$REPO" || { echo "$name: Spark not found (scripts/setup.sh)" >&2; exit 2; }
  ROOT=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
  cp "$BUILD/sparkplane" "$BUILD/sparkplane-supervisor" "$ROOT/" || exit 1
  BIN=$ROOT/sparkplane
}

# SIGKILL to every process still running from ROOT (but this shell), naming them on stderr as
# `name`, then removes ROOT: the end of every benchmark's cleanup.
bench_remove_root() {  # name
  local left
  left=$(procs_under "$ROOT" | grep -vx "$$")
  # shellcheck disable=SC2086
  [ -z "$left" ] || { echo "$1: killing leftovers: $(ps -o pid=,args= -p "$(echo $left | tr " " ,)" 2>/dev/null)" >&2; kill -KILL $left 2>/dev/null; }
  rm -rf "$ROOT"
}
