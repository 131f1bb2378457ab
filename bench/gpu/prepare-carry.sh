#!/usr/bin/env bash
# Prepares a folder (default .carry/, git-ignored) that a GPU machine without
# a compiler, CMake or OpenBLAS can run bench/gpu/run.sh from:
#
#   .carry/build/            ctensor, the test programs, bench/gpu_check,
#                            libctensor.so*, fake_cuda/ (Release build)
#   .carry/build/lib/        the shared libraries those need beyond the C
#                            library and libgcc_s: libopenblas.so.0,
#                            libgfortran.so.5, libquadmath.so.0, libgomp.so.1
#
#   bench/gpu/prepare-carry.sh            # builds build-carry/ (Release) first
#   CT_BUILD=build bench/gpu/prepare-carry.sh [folder]
#
# Then on the GPU machine: CT_BUILD=.carry/build bench/gpu/run.sh
# (docs/gpu.md, "Running on a lent GPU machine"). The folder must stay
# under 64 MiB; the script fails if it does not. Binaries need glibc >= the
# version printed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${CT_BUILD:-build-carry}
DEST=${1:-.carry}
LIMIT_MB=64

if [ -z "${CT_BUILD:-}" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCT_SANITIZE=OFF >/dev/null
  cmake --build "$BUILD" -j 2 >/dev/null
fi
[ -x "$BUILD/bench/gpu_check" ] || { echo "prepare-carry: $BUILD/bench/gpu_check missing (build $BUILD first)" >&2; exit 1; }
if grep -q "CT_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "prepare-carry: $BUILD is a sanitizer build; use a Release build" >&2
  exit 1
fi

rm -rf "$DEST"
mkdir -p "$DEST/build/bench" "$DEST/build/lib"
cp "$BUILD/ctensor" "$DEST/build/"
cp "$BUILD"/test_* "$DEST/build/"
cp "$BUILD/bench/gpu_check" "$DEST/build/bench/"
[ -x "$BUILD/bench/gpu_robust" ] && cp "$BUILD/bench/gpu_robust" "$DEST/build/bench/"
# the collectives step: its MPI plugin needs the GPU machine's own MPI
# (mpirun and libmpi cannot be carried); without one the step is skipped
[ -x "$BUILD/bench/gpu_dist" ] && cp "$BUILD/bench/gpu_dist" "$DEST/build/bench/"
[ -f "$BUILD/libctensor_mpi.so" ] && cp "$BUILD/libctensor_mpi.so" "$DEST/build/"
[ -x "$BUILD/bench/ct_bench" ] && cp "$BUILD/bench/ct_bench" "$DEST/build/bench/"
cp -P "$BUILD"/libctensor.so* "$DEST/build/"
[ -d "$BUILD/fake_cuda" ] && cp -r "$BUILD/fake_cuda" "$DEST/build/"
for f in "$DEST"/build/ctensor "$DEST"/build/test_* "$DEST"/build/bench/*; do
  strip --strip-unneeded "$f" 2>/dev/null || true
done

# Shared libraries: everything ldd resolves, except what every Linux has
# (the C library and its parts, the dynamic loader, libgcc_s, libstdc++)
# and the CUDA libraries, which must come from the GPU machine itself.
system_lib() {
  case "$(basename "$1")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libgcc_s.so.*|libstdc++.so.*) return 0 ;;
    libcuda.so*|libcublas*|libnvrtc*|libcudart*) return 0 ;;
  esac
  return 1
}
LIBS=$(for f in "$DEST"/build/ctensor "$DEST"/build/test_* "$DEST"/build/bench/* "$DEST"/build/libctensor.so.*.*; do
         ldd "$f" 2>/dev/null | awk '/=> \// {print $1 " " $3}'
       done | sort -u)
while read -r soname path; do
  [ -n "$soname" ] || continue
  system_lib "$soname" && continue
  cp -L "$path" "$DEST/build/lib/$soname"
done <<<"$LIBS"

size_mb=$(du -sm "$DEST" | cut -f1)
echo "prepared $DEST from $BUILD: ${size_mb} MiB"
ls -la "$DEST/build/lib"
glibc=$(objdump -T "$DEST"/build/ctensor "$DEST"/build/bench/gpu_check "$DEST"/build/lib/* 2>/dev/null |
        grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
echo "needs ${glibc:-glibc (unknown version)} or newer on the GPU machine"
if [ "$size_mb" -ge "$LIMIT_MB" ]; then
  echo "prepare-carry: $DEST is ${size_mb} MiB, over the ${LIMIT_MB} MiB a lent machine accepts" >&2
  exit 1
fi
