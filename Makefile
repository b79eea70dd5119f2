# The two entry points: `make demo` and `make test` (each sets everything up first).
BUILD ?= build/release
# `ci` is `release` with warnings as errors (.ci/run); both build in build/release.
PRESET ?= release
ASAN_BUILD ?= build/asan
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 600
FUZZ_SHORT_SECONDS ?= 15

.PHONY: setup build build-asan demo test test-unit test-asan test-fuzz fuzz bench format clean

setup:
	./scripts/setup.sh

build: setup
	cmake --preset $(PRESET) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	cmake --preset asan >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target unit_tests

demo: build
	./scripts/demo.sh $(BUILD)/sparkplane

test: build build-asan test-fuzz
	./scripts/check_includes.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# libFuzzer targets (tests/fuzz/README.md): a short run per target in `make test`, long ones here.
test-fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SHORT_SECONDS) FUZZ_JOBS=$(JOBS) ./scripts/fuzz.sh --fresh

fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(JOBS) ./scripts/fuzz.sh

bench: build
	./bench/run.sh $(BUILD)

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf build
