# The README's two commands live here: `make run` and `make test`.
# Everything else (configure, build, sanitizers) is CMake + CTest underneath.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-main test-asan test-tsan stress install bench conformance wheel clean

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

# ThreadSanitizer: a third tree that builds only the tests that start
# threads (docs/reliability.md, "Threads"), to keep CI short.
TSAN_TESTS = test_threads test_context test_placement test_autodiff test_status test_regressions
$(TSAN_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCT_WERROR=ON "-DCMAKE_C_FLAGS=-fsanitize=thread -O1" \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
	  -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=thread $(CMAKE_FLAGS)

test-tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS) fake_cuda fake_cublas fake_nvrtc
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1 OMP_NUM_THREADS=1 \
	  ctest --output-on-failure -j $(JOBS) -R '^($(subst $(eval) ,|,$(strip $(TSAN_TESTS))))$$'

# Sanitizer runs first, so that the last lines printed are the main tree's
# CTest summary.
test: test-asan test-tsan test-main

# The long runs of docs/reliability.md: every allocation failed with the
# failure kept for all later allocations too (sticky), in the ASan tree.
stress: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target test_fault
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 CT_FAULT_STICKY=1 ./test_fault
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ./test_fault

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

# libFuzzer over every parser of outside input (docs/reliability.md): a
# clang tree whose library carries coverage instrumentation, then each target
# for FUZZ_SECONDS. Needs clang and libclang-rt-14-dev (tools/install-deps.sh).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCT_SANITIZE=ON -DCT_FUZZ=ON $(CMAKE_FLAGS)

fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./tools/fuzz.sh $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
