#!/bin/sh
# The CTest regression check of one fuzz target (cmake/parts/fuzz.cmake):
#   replay.sh BINARY CORPUS WORKDIR RUNS [DICT]
# Replays every input of the seed corpus (the crashes found so far are among
# them), then mutates from it for RUNS executions with a fixed seed, so that
# the same tree gives the same run. New inputs go to WORKDIR, never into the
# repository's corpus.
set -eu
bin=$1 corpus=$2 work=$3 runs=$4 dict=${5:-}
rm -rf "$work"
mkdir -p "$work/new" "$work/artifacts"
"$bin" -runs=0 -artifact_prefix="$work/artifacts/" "$corpus" 2>"$work/replay.log" || {
  cat "$work/replay.log" >&2
  exit 1
}
tail -n 2 "$work/replay.log"
set -- -seed=1 -runs="$runs" -max_len=4096 -artifact_prefix="$work/artifacts/"
[ -n "$dict" ] && set -- "$@" -dict="$dict"
"$bin" "$@" "$work/new" "$corpus" 2>"$work/short.log" || {
  cat "$work/short.log" >&2
  exit 1
}
tail -n 1 "$work/short.log"
