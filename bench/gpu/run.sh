#!/usr/bin/env bash
# The GPU check ctensor owns (issue 4, item 6). On a machine with an NVIDIA
# GPU, its driver, and Python with PyTorch — no network needed:
#
#   bench/gpu/run.sh                 # build (or reuse) build-gpu/, check, measure
#   CT_BUILD=build bench/gpu/run.sh  # use a carried build directory
#
# Steps: build; tests/test_cuda_nvrtc; every GPU op against the CPU oracle
# (bench/gpu/gpu_check suite); matmul TFLOP/s and add/copy bandwidth beside
# PyTorch on the same GPU; time to first result with a cold and a warm
# kernel cache beside `python3 -c "import torch; torch.ones(1, device='cuda')"`.
# The report goes to stdout and is appended to docs/gpu-results.md.
# Exit status: non-zero when any check failed or no GPU could be used.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${CT_BUILD:-build-gpu}
JOBS=$(nproc 2>/dev/null || echo 2)
RESULTS=${CT_GPU_RESULTS-docs/gpu-results.md}
LOG=$(mktemp /tmp/ctensor-gpu.XXXXXX)
trap 'rm -rf "$LOG" "${COLD_CACHE:-}"' EXIT
fail=0

say() { printf '%s\n' "$*" | tee -a "$LOG"; }
die() { printf 'bench/gpu/run.sh: %s\n' "$*" >&2; exit 2; }

command -v cmake >/dev/null || die "cmake not found"
command -v cc >/dev/null || die "no C compiler (cc) found"

# ---- build ---------------------------------------------------------------
if [ ! -f "$BUILD/libctensor.a" ]; then
  echo "== building in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
  cmake --build "$BUILD" -j "$JOBS" >/dev/null || die "build failed (rerun: cmake --build $BUILD)"
fi
OPENBLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/gpu/gpu_check.c "$BUILD/libctensor.a" $OPENBLAS_LIBS \
  -fopenmp -lpthread -ldl -lm -o "$BUILD/gpu_check" || die "cannot build bench/gpu/gpu_check.c"
CHECK="$BUILD/gpu_check"

# ---- the machine -----------------------------------------------------------
GPU="unknown GPU"
if command -v nvidia-smi >/dev/null; then
  GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
fi
TORCH_VER=$(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null || echo "not available")
say "## $(date -u '+%Y-%m-%d %H:%M UTC') — $GPU"
say ""
say "ctensor $(git rev-parse --short HEAD 2>/dev/null || echo '?'), PyTorch $TORCH_VER"
say ""
"$BUILD/ctensor" devices 2>&1 | sed 's/^/    /' | tee -a "$LOG" || true

# ---- correctness -------------------------------------------------------------
echo "== NVRTC: every kernel compiles"
if "$BUILD/test_cuda_nvrtc" >/tmp/ctensor-nvrtc.log 2>&1; then
  say "- test_cuda_nvrtc: $(tail -1 /tmp/ctensor-nvrtc.log)"
else
  rc=$?
  if [ $rc -eq 77 ]; then say "- test_cuda_nvrtc: skipped (no NVRTC)"; else say "- test_cuda_nvrtc: FAILED"; tail -20 /tmp/ctensor-nvrtc.log; fail=1; fi
fi

echo "== every GPU op against the CPU oracle"
set +e
"$CHECK" suite | tee /tmp/ctensor-suite.log | grep -E '^(FAIL|seed)'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -eq 2 ]; then die "no usable GPU (see the reason above; try: $BUILD/ctensor doctor)"; fi
say "- op suite against the CPU: $(tail -1 /tmp/ctensor-suite.log) [$(head -1 /tmp/ctensor-suite.log)]"
[ "$rc" -eq 0 ] || fail=1

# ---- performance ---------------------------------------------------------------
echo "== performance (ctensor, then PyTorch, same GPU)"
"$CHECK" matmul > /tmp/ctensor-perf.txt || fail=1
"$CHECK" bandwidth >> /tmp/ctensor-perf.txt || fail=1
python3 bench/gpu/torch_peer.py > /tmp/torch-perf.txt 2>/tmp/torch-perf.err || echo "(PyTorch peer unavailable: $(cat /tmp/torch-perf.err | tail -1))"

peer() { grep -F "$1 " /tmp/torch-perf.txt 2>/dev/null | awk '{print $(NF-1)}' || true; }
mine() { grep -F "$1 " /tmp/ctensor-perf.txt | awk '{print $(NF-1)}'; }

say ""
say "| measurement | ctensor | PyTorch | ratio | target |"
say "| --- | ---: | ---: | ---: | --- |"
row() { # label key unit target
  local m p r
  m=$(mine "$2"); p=$(peer "$2")
  r=$(awk -v a="$m" -v b="$p" 'BEGIN { if (b > 0 && a != "") printf "%.2f", a / b; else print "n/a" }')
  say "| $1 | $m $3 | ${p:-n/a} $3 | $r | $4 |"
}
for n in 4096 8192; do
  row "matmul float32 n=$n" "matmul float32 n=$n" "TFLOP/s" "$([ $n = 8192 ] && echo '>= 0.95')"
  row "matmul TF32 n=$n" "matmul tf32 n=$n" "TFLOP/s" "$([ $n = 8192 ] && echo '>= 0.95')"
  row "matmul bfloat16 n=$n" "matmul bfloat16 n=$n" "TFLOP/s" "$([ $n = 8192 ] && echo '>= 0.95')"
done
row "add float32, 64 Mi elements" "add float32 64Mi" "GB/s" ""
row "device-to-device copy, 64 Mi" "copy d2d 64Mi" "GB/s" ""
ADD=$(mine "add float32 64Mi"); COPY=$(mine "copy d2d 64Mi")
say "| add / d2d copy (ctensor) | $(awk -v a="$ADD" -v b="$COPY" 'BEGIN { printf "%.2f", a / b }') | | | >= 0.9 |"

# ---- time to first result ---------------------------------------------------------
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
COLD_CACHE=$(mktemp -d /tmp/ctensor-kcache.XXXXXX)
COLD=$(CT_KERNEL_CACHE_DIR=$COLD_CACHE ms "$CHECK" first || echo FAIL)
WARM=$(CT_KERNEL_CACHE_DIR=$COLD_CACHE ms "$CHECK" first || echo FAIL)
TORCH_FIRST=$(ms python3 -c "import torch; torch.ones(1, device='cuda')" || echo n/a)
[ "$COLD" != FAIL ] && [ "$WARM" != FAIL ] || fail=1
say "| first GPU result, cold kernel cache | $COLD ms | $TORCH_FIRST ms | | |"
say "| first GPU result, warm kernel cache | $WARM ms | $TORCH_FIRST ms | $(awk -v a="$WARM" -v b="$TORCH_FIRST" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }') | <= 0.5 |"
say ""

if [ -n "$RESULTS" ]; then
  mkdir -p "$(dirname "$RESULTS")"
  [ -f "$RESULTS" ] || printf '# GPU results\n\nEvery run of `bench/gpu/run.sh`, newest last.\n\n' > "$RESULTS"
  cat "$LOG" >> "$RESULTS"
  echo "(appended to $RESULTS)"
fi
if [ $fail -ne 0 ]; then echo "bench/gpu/run.sh: some checks FAILED" >&2; exit 1; fi
echo "bench/gpu/run.sh: all checks passed"
