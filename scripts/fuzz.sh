#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) in their own build dir
# and runs each for a bounded time over a copy of its seed corpus plus its regression inputs.
# Fails when any target crashes, leaks, times out or breaks one of its checks; the input that
# did it is kept as build/fuzz/artifacts/<target>-crash-* (see tests/fuzz/README.md).
#
#   scripts/fuzz.sh [--seconds N] [--fresh] [--build-only] [TARGET...]
#
# The working corpus build/fuzz/corpus/<target> keeps what earlier runs found; --fresh starts
# from the seeds alone instead (build/fuzz/corpus-fresh/), so a short run takes the same time
# however long the fuzzers ran before.
#
# `make test-fuzz` (part of `make test`) runs every target for 15 s; `make fuzz` for 10 minutes
# each. Environment: FUZZ_SECONDS (default 15), FUZZ_BUILD (default build/fuzz), FUZZ_JOBS (build
# parallelism, default nproc), FUZZ_ARGS (extra libFuzzer flags), CXX_FUZZ (default clang++).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-15}"
BUILD_DIR="${FUZZ_BUILD:-build/fuzz}"
JOBS="${FUZZ_JOBS:-$(nproc)}"
BUILD_ONLY=0
FRESH=0
ALL_TARGETS=(dag_loader cron duration template control_request event_log kube_config)
targets=()

while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
    --seconds=*) SECONDS_PER_TARGET="${1#*=}"; shift ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --fresh) FRESH=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("${1%_fuzz}"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
done

export CXX="${CXX_FUZZ:-clang++}"
command -v "$CXX" >/dev/null || { echo "fuzz: $CXX not found; run scripts/setup.sh (clang, libclang-rt-14-dev)" >&2; exit 1; }

# The libraries get coverage instrumentation without libFuzzer's main; the fuzz executables add
# -fsanitize=fuzzer themselves (tests/fuzz/CMakeLists.txt). UBSan checks stay recoverable so that
# tests/fuzz/ubsan_known_issues.supp can silence reported bugs in code this suite does not own;
# halt_on_error below makes every other finding fatal.
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
mkdir -p "$BUILD_DIR"
echo "fuzz: configuring $BUILD_DIR with $CXX"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="$flags" \
  -DSP_FUZZ=ON -DSP_BUILD_BENCH=OFF >"$BUILD_DIR/configure.log" 2>&1 ||
  { cat "$BUILD_DIR/configure.log" >&2; exit 1; }
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
echo "fuzz: building ${build_targets[*]}"
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${build_targets[@]}" >"$BUILD_DIR/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A5 "$BUILD_DIR/build.log" | head -60 >&2; exit 1; }
((BUILD_ONLY)) && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}:suppressions=$PWD/tests/fuzz/ubsan_known_issues.supp"
mkdir -p "$BUILD_DIR/corpus" "$BUILD_DIR/artifacts" "$BUILD_DIR/logs"
failed=()
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/${t}_fuzz"
  corpus="$BUILD_DIR/corpus/$t"  # the seeds in the repo are never written
  if ((FRESH)); then
    corpus="$BUILD_DIR/corpus-fresh/$t"
    rm -rf "$corpus"
  fi
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && cp -R "tests/fuzz/corpus/$t/." "$corpus/"
  dirs=("$corpus")
  # Inputs that once crashed: replayed first, never written to.
  if [ -d "tests/fuzz/regressions/$t" ] && [ -n "$(ls -A "tests/fuzz/regressions/$t")" ]; then
    dirs+=("tests/fuzz/regressions/$t")
  fi
  args=(-max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$BUILD_DIR/artifacts/$t-")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  # shellcheck disable=SC2206
  args+=(${FUZZ_ARGS:-})
  log="$BUILD_DIR/logs/$t.log"
  start=$(date +%s)
  if "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1; then
    stats=$(grep -E "^stat::number_of_executed_units|^#[0-9]+.*(DONE|cov:)" "$log" | tail -1 || true)
    printf 'fuzz: %-16s ok   %3ss  %s\n' "$t" "$(($(date +%s) - start))" "$stats"
  else
    printf 'fuzz: %-16s FAILED after %ss (log: %s)\n' "$t" "$(($(date +%s) - start))" "$log"
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*fuzz check failed|artifact_prefix|Test unit written)" "$log" | head -20 || true
    tail -40 "$log"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} — reproduce with $BUILD_DIR/tests/fuzz/<target>_fuzz <artifact>" >&2
  exit 1
fi
echo "fuzz: ok (${#targets[@]} targets, ${SECONDS_PER_TARGET}s each)"
