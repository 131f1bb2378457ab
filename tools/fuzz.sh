#!/bin/sh
# `make fuzz`: every libFuzzer target of a CT_FUZZ=ON tree for FUZZ_SECONDS
# each (or FUZZ_RUNS executions, when set), one after the other, niced.
#   tools/fuzz.sh BUILD_DIR [TARGET...]
# Inputs that reach new coverage go to BUILD_DIR/fuzz-corpus/<target> (copy
# the interesting ones into tests/fuzz/corpus/<target> by hand); crashes to
# BUILD_DIR/fuzz-artifacts/<target>/. The last lines of each log (executions,
# coverage, features) are printed, in the form docs/reliability.md records.
set -eu
build=$1
shift
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:--1}
jobs=${FUZZ_JOBS:-1}
if [ $# -eq 0 ]; then
  set -- $(cd "$src/tests/fuzz/corpus" && ls)
fi
failed=""
for t in "$@"; do
  bin="$build/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin not built (skipped)" >&2
    continue
  fi
  work="$build/fuzz-corpus/$t" art="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$art"
  # text parsers read short files; the ld.so cache image is tens of KiB
  max_len=${FUZZ_MAX_LEN:-1024}
  [ "$t" = doctor_ld_cache ] && max_len=${FUZZ_MAX_LEN:-65536}
  set -- -max_total_time="$seconds" -runs="$runs" -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$art/"
  [ -f "$src/tests/fuzz/dict/$t.dict" ] && set -- "$@" -dict="$src/tests/fuzz/dict/$t.dict"
  [ "$t" = python_convert ] && export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
  [ "$t" = python_convert ] && set -- "$@" -detect_leaks=0
  [ "$jobs" -gt 1 ] && set -- "$@" -fork="$jobs"
  log="$build/fuzz-$t.log"
  echo "fuzz: $t (${seconds}s, runs $runs) -> $log"
  if nice -n 10 "$bin" "$@" "$work" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss" "$log" | tail -n 3
  else
    failed="$failed $t"
    grep -E "ERROR|SUMMARY|artifact" "$log" | head -n 5
  fi
  unset ASAN_OPTIONS
done
if [ -n "$failed" ]; then
  echo "fuzz: crashes in:$failed (inputs under $build/fuzz-artifacts/)" >&2
  exit 1
fi
