# The README's two commands live here: `make run` and `make test`.
# Everything else (configure, build, sanitizers) is CMake + CTest underneath.

BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-main test-asan install bench conformance wheel clean

all: build

deps:
	@./tools/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCT_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/ctensor doctor

# The sanitizer tree is built with clang so that both compilers are checked
# with -Werror on every test run; the main tree uses the default cc (gcc).
$(ASAN_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCT_WERROR=ON -DCT_SANITIZE=ON $(CMAKE_FLAGS)

test-main: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Sanitizer run first, so that the last lines printed are the main tree's
# CTest summary.
test: test-asan test-main

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	./bench/run.sh

conformance: build
	./tests/conformance/run.sh

# sdist -> wheel -> auditwheel repair: a manylinux wheel and the sdist in
# wheelhouse/, each checked in a fresh venv (docs/packaging.md). Needs PyPI.
wheel: deps
	./tests/wheel/manylinux.sh $(BUILD)/wheel-release . wheelhouse

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
