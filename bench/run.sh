#!/bin/sh
# `make bench`: ctensor and its peers side by side, one table of ratios.
#   bench/run.sh [--quick] [--rounds R] [--threads 1,2]
# Installs the peers first (bench/setup.sh), builds ct_bench and the CLI,
# then runs bench/report.py (the op rows of issues 3 and 4, and the training
# rows of issue 11: bench/train.py). Results also land in $BUILD/bench/results.json
# and $BUILD/bench/results.md.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VENV=${CT_BENCH_VENV:-.venv-bench}

./bench/setup.sh
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCT_WERROR=ON
fi
cmake --build "$BUILD" -j 2 --target ct_bench ctensor_cli
# The training rows run ctensor's Python module from $BUILD/python; without
# Python's headers it is not built and those rows say "missing".
if cmake --build "$BUILD" --target help | grep '_ctensor' >/dev/null; then
  cmake --build "$BUILD" -j 2 --target _ctensor
fi

# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE may be set on this kind of machine
# for older OpenBLAS builds; they slow a current numpy, so the benchmark (and
# only the benchmark) runs without them. Each side prints the OpenBLAS kernel
# it ended up with, and ct_bench checks ctensor's matmul against cblas.
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  "$VENV/bin/python" bench/report.py --build "$BUILD" \
  --json "$BUILD/bench/results.json" --markdown "$BUILD/bench/results.md" "$@"
