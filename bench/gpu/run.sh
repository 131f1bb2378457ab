#!/usr/bin/env bash
# The GPU check ctensor owns (issue 4, item 6). On a machine with an NVIDIA
# GPU, its driver, and Python with PyTorch — no network needed:
#
#   bench/gpu/run.sh                       # uses .carry/build if present, else builds build-gpu/
#   CT_BUILD=.carry/build bench/gpu/run.sh # a carried build (bench/gpu/prepare-carry.sh)
#   CT_BUILD=build bench/gpu/run.sh        # any build directory with bench/gpu_check in it
#
# A carried build needs no compiler or CMake on the GPU machine; the shared
# libraries it needs beyond the C library (OpenBLAS, libgfortran, libgomp)
# are taken from $CT_CARRY_LIB (default: $CT_BUILD/lib) when that exists.
#
# Steps: tests/test_cuda_nvrtc (every kernel compiles); every GPU op
# against the CPU oracle (gpu_check suite); matmul TFLOP/s and add/copy
# bandwidth beside PyTorch on the same GPU; the sum of many long rows
# against a device-to-device copy; argmax of a few rows of 1M classes;
# whole-process time to a first GPU result with a cold and a warm kernel
# cache beside
# `python3 -c "import torch; torch.ones(1, device='cuda')"`; collectives on
# one GPU (bench/gpu/gpu_dist under mpirun -np 1: NCCL, then the staging
# through the host without it).
# The report goes to stdout and is appended to $CT_GPU_RESULTS
# (default docs/gpu-results.md; empty: none). Logs of each step are kept in
# $CT_GPU_LOGS (default: a temporary directory, removed at exit).
# CT_GPU_SMOKE=1 runs every step with small sizes (GPU_CHECK_SMALL=1): it
# checks this script and its programs, on any GPU or on the emulated one of
# the test suite (test gpu_run_script); its numbers measure nothing and the
# report says so.
# Exit status: 0 all passed, 1 a check failed, 2 no usable GPU or no
# runnable build.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
if [ -z "${CT_BUILD:-}" ]; then
  if [ -x .carry/build/bench/gpu_check ]; then CT_BUILD=.carry/build; else CT_BUILD=build-gpu; fi
fi
BUILD=$CT_BUILD
CARRY_LIB=${CT_CARRY_LIB:-$BUILD/lib}
RESULTS=${CT_GPU_RESULTS-docs/gpu-results.md}
if [ -n "${CT_GPU_LOGS:-}" ]; then
  LOGS=$CT_GPU_LOGS
  mkdir -p "$LOGS"
else
  LOGS=$(mktemp -d /tmp/ctensor-gpu.XXXXXX)
  trap 'rm -rf "$LOGS"' EXIT
fi
SMOKE=${CT_GPU_SMOKE:-0}
[ "$SMOKE" = 1 ] && export GPU_CHECK_SMALL=1
REPORT=$LOGS/report.md
: > "$REPORT"
fail=0

say() { printf '%s\n' "$*" | tee -a "$REPORT"; }
step() { printf '\n== %s\n' "$*"; }
die() { printf 'bench/gpu/run.sh: %s\n' "$*" >&2; exit 2; }

# ctensor programs see the carried libraries; Python and nvidia-smi do not
# (PyTorch brings its own OpenMP and BLAS).
EXTRA_LIBS=""
[ -d "$CARRY_LIB" ] && EXTRA_LIBS=$(cd "$CARRY_LIB" && pwd)
ct() { LD_LIBRARY_PATH="${EXTRA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

# ---- a runnable build ------------------------------------------------------------
CHECK="$BUILD/bench/gpu_check"
runnable() { [ -x "$CHECK" ] && [ -x "$BUILD/ctensor" ] && ct "$BUILD/ctensor" version >/dev/null 2>&1; }
if ! runnable; then
  if [ -x "$BUILD/ctensor" ]; then
    echo "bench/gpu/run.sh: the build in $BUILD does not run here:" >&2
    ct "$BUILD/ctensor" version 2>&1 | head -3 >&2
  fi
  command -v cmake >/dev/null && command -v cc >/dev/null ||
    die "no runnable build in $BUILD and no cmake/cc to make one (prepare one with bench/gpu/prepare-carry.sh)"
  BUILD=build-gpu
  CHECK="$BUILD/bench/gpu_check"
  step "building in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$LOGS/build.log" 2>&1 || die "cmake configure failed: see $LOGS/build.log"
  cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" >>"$LOGS/build.log" 2>&1 ||
    { tail -20 "$LOGS/build.log" >&2; die "build failed"; }
  runnable || die "the fresh build in $BUILD does not run"
fi
echo "using $BUILD${EXTRA_LIBS:+ with libraries from $EXTRA_LIBS}"

# ---- the machine -------------------------------------------------------------------
GPU="unknown GPU"
if command -v nvidia-smi >/dev/null; then
  GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
fi
TORCH_VER=$(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null || echo "not available")

# cuBLAS and NVRTC: when the system has no CUDA toolkit, PyTorch's pip
# wheels (site-packages/nvidia/*/lib) hold them; put those folders on the
# search path of ctensor's programs if ctensor did not find the libraries.
ct "$BUILD/ctensor" devices >"$LOGS/devices.txt" 2>&1
if grep -Eq '^ *(nvrtc|cublas|nccl) +not found' "$LOGS/devices.txt"; then
  NV_DIRS=$(python3 -c 'import glob, os, nvidia; print(":".join(d for p in nvidia.__path__ for d in sorted(glob.glob(os.path.join(p, "*", "lib")))))' 2>/dev/null || true)
  if [ -n "$NV_DIRS" ]; then
    echo "cuBLAS/NVRTC/NCCL not found by ctensor; adding PyTorch's nvidia wheels: $NV_DIRS"
    EXTRA_LIBS="${EXTRA_LIBS:+$EXTRA_LIBS:}$NV_DIRS"
    ct "$BUILD/ctensor" devices >"$LOGS/devices.txt" 2>&1
  fi
fi

say "## $(date -u '+%Y-%m-%d %H:%M UTC') — ${GPU:-unknown GPU}"
say ""
say "ctensor $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), PyTorch $TORCH_VER"
if [ "$SMOKE" = 1 ]; then
  say ""
  say "**Smoke run (CT_GPU_SMOKE=1): small sizes; the numbers below measure nothing.**"
fi
say ""
sed 's/^/    /' "$LOGS/devices.txt" | tee -a "$REPORT"
say ""

# ---- correctness -------------------------------------------------------------------
step "NVRTC: every kernel compiles (tests/test_cuda_nvrtc)"
if [ "$SMOKE" = 1 ]; then
  # it checks NVRTC's own output (ELF cubins), which an emulated GPU's
  # NVRTC does not make; make test runs it against the real NVRTC
  say "- test_cuda_nvrtc: skipped in a smoke run"
elif [ -x "$BUILD/test_cuda_nvrtc" ]; then
  ct "$BUILD/test_cuda_nvrtc" >"$LOGS/nvrtc.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    say "- test_cuda_nvrtc: passed ($(tail -1 "$LOGS/nvrtc.log"))"
  elif [ $rc -eq 77 ]; then
    say "- test_cuda_nvrtc: skipped (no NVRTC)"
  else
    say "- test_cuda_nvrtc: FAILED (exit $rc)"
    tail -20 "$LOGS/nvrtc.log"
    fail=1
  fi
else
  say "- test_cuda_nvrtc: not in $BUILD"
fi

step "every GPU op against the CPU oracle (gpu_check suite)"
ct "$CHECK" suite >"$LOGS/suite.log" 2>&1
rc=$?
grep -E '^(FAIL|seed)' "$LOGS/suite.log" | head -60
if [ $rc -eq 2 ]; then
  cat "$LOGS/suite.log" >&2
  die "no usable GPU (the reason is above; more: $BUILD/ctensor doctor)"
fi
if [ $rc -eq 0 ]; then verdict="passed"; else verdict="FAILED (exit $rc)"; fail=1; fi
say "- op suite against the CPU: $verdict: $(tail -1 "$LOGS/suite.log") [$(head -1 "$LOGS/suite.log")]"
grep -E '^FAIL' "$LOGS/suite.log" | head -20 | sed 's/^/    /' | tee -a "$REPORT"

# ---- robustness (issue 16) ---------------------------------------------------------
step "robustness: devices, the allocator under a limit, kernel-cache eviction, host copies, libraries, context etiquette, a fault that destroys a context, growth-off headroom (gpu_robust)"
if [ -x "$BUILD/bench/gpu_robust" ]; then
  for mode in devices alloc cache hostcopy libs context sticky headroom; do
    ct "$BUILD/bench/gpu_robust" $mode >"$LOGS/robust-$mode.log" 2>&1
    rc=$?
    cat "$LOGS/robust-$mode.log"
    if [ $rc -eq 0 ]; then verdict="passed"; else verdict="FAILED (exit $rc)"; fail=1; fi
    say "- gpu_robust $mode: $verdict: $(grep -v '^FAIL' "$LOGS/robust-$mode.log" | tail -1)"
    grep -E '^FAIL' "$LOGS/robust-$mode.log" | head -10 | sed 's/^/    /' | tee -a "$REPORT"
  done
else
  say "- gpu_robust: not in $BUILD"
fi

# ---- collectives (issue 15) ----------------------------------------------------------
step "collectives on one GPU: NCCL all-reduce and friends, then the host-staging fallback (gpu_dist)"
if [ -x "$BUILD/bench/gpu_dist" ]; then
  # one process; mpirun when there is one (Open MPI refuses root without
  # these), else a singleton MPI_Init
  LAUNCH=()
  # the MPI plugin lives in the build directory, not next to bench/gpu_dist
  [ -f "$BUILD/libctensor_mpi.so" ] && [ -z "${CT_MPI_PLUGIN:-}" ] &&
    export CT_MPI_PLUGIN="$(cd "$BUILD" && pwd)/libctensor_mpi.so"
  command -v mpirun >/dev/null && LAUNCH=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 1)
  NCCL_SEEN=()
  # the emulated GPU of a smoke run takes the fake NCCL, never a real one
  [ "$SMOKE" = 1 ] && [ -f "$BUILD/fake_nccl/libnccl.so.2" ] &&
    NCCL_SEEN=("CT_NCCL_PATH=$(cd "$BUILD/fake_nccl" && pwd)/libnccl.so.2")
  for mode in nccl staged; do
    if [ $mode = staged ]; then NCCL_ENV=(CT_NCCL_PATH=/nonexistent/libnccl.so.2); else NCCL_ENV=(${NCCL_SEEN[@]+"${NCCL_SEEN[@]}"}); fi
    ct env ${NCCL_ENV[@]+"${NCCL_ENV[@]}"} ${LAUNCH[@]+"${LAUNCH[@]}"} "$BUILD/bench/gpu_dist" $mode >"$LOGS/dist-$mode.log" 2>&1
    rc=$?
    cat "$LOGS/dist-$mode.log"
    if [ $rc -eq 0 ]; then verdict="passed"; elif [ $rc -eq 77 ]; then verdict="skipped"; else verdict="FAILED (exit $rc)"; fail=1; fi
    say "- gpu_dist $mode: $verdict: $(grep -v '^FAIL' "$LOGS/dist-$mode.log" | grep -v '^ *$' | tail -1)"
    grep -E '^FAIL' "$LOGS/dist-$mode.log" | head -10 | sed 's/^/    /' | tee -a "$REPORT"
  done
else
  say "- gpu_dist: not in $BUILD (built only where CMake found an MPI)"
fi

# ---- performance -------------------------------------------------------------------
step "performance: ctensor, then PyTorch, on the same GPU"
ct "$CHECK" matmul >"$LOGS/perf.txt" 2>&1 || { echo "gpu_check matmul FAILED:"; tail -5 "$LOGS/perf.txt"; fail=1; }
ct "$CHECK" bandwidth >>"$LOGS/perf.txt" 2>&1 || { echo "gpu_check bandwidth FAILED:"; tail -5 "$LOGS/perf.txt"; fail=1; }
# many long rows, a block per row (issue 16 item 9); argmax of a few long rows
ct "$CHECK" reduce >>"$LOGS/perf.txt" 2>&1 || { echo "gpu_check reduce FAILED:"; tail -5 "$LOGS/perf.txt"; fail=1; }
cat "$LOGS/perf.txt"
python3 bench/gpu/torch_peer.py >"$LOGS/torch.txt" 2>"$LOGS/torch.err" ||
  echo "(PyTorch peer unavailable: $(tail -1 "$LOGS/torch.err"))"
cat "$LOGS/torch.txt"

num() { grep -F "$2 " "$1" 2>/dev/null | head -1 | awk '{print $(NF-1)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }

say ""
say "| measurement | ctensor | PyTorch | ratio | target |"
say "| --- | ---: | ---: | ---: | --- |"
row() { # label key unit target
  local m p
  m=$(num "$LOGS/perf.txt" "$2"); p=$(num "$LOGS/torch.txt" "$2")
  say "| $1 | ${m:-n/a} $3 | ${p:-n/a} $3 | $(ratio "$m" "$p") | $4 |"
}
MM_SIZES="4096 8192" BIG=8192 BW=64Mi
[ "$SMOKE" = 1 ] && MM_SIZES="128 256" BIG=256 BW=1Mi
for n in $MM_SIZES; do
  tgt=""; [ $n = $BIG ] && tgt=">= 0.95"
  row "matmul float32 n=$n" "matmul float32 n=$n" "TFLOP/s" "$tgt"
  row "matmul TF32 n=$n" "matmul tf32 n=$n" "TFLOP/s" "$tgt"
  row "matmul bfloat16 n=$n" "matmul bfloat16 n=$n" "TFLOP/s" "$tgt"
done
row "add float32, $BW elements" "add float32 $BW" "GB/s" ""
row "device-to-device copy, $BW" "copy d2d $BW" "GB/s" ""
say "| add / d2d copy (ctensor) | $(ratio "$(num "$LOGS/perf.txt" "add float32 $BW")" "$(num "$LOGS/perf.txt" "copy d2d $BW")") | | | >= 0.9 |"
ROWS=$(grep -F 'reduce_sum rows float32 ' "$LOGS/perf.txt" | head -1 | sed 's/^reduce_sum rows float32 \(\[[^]]*\]\).*/\1/')
say "| sum of each row, float32 ${ROWS:-(failed)} | $(num "$LOGS/perf.txt" "reduce_sum rows float32") GB/s | | | |"
say "| row sum / d2d copy (ctensor) | $(grep -F 'reduce_sum rows / copy d2d ' "$LOGS/perf.txt" | head -1 | awk '{print $6}') | | | >= 0.8 |"
AROWS=$(grep -F 'argmax rows float32 ' "$LOGS/perf.txt" | head -1 | sed 's/^argmax rows float32 \(\[[^]]*\]\).*/\1/')
say "| argmax of each row, float32 ${AROWS:-(failed)} | $(num "$LOGS/perf.txt" "argmax rows float32") GB/s | | | |"

# ---- time to first result -----------------------------------------------------------
step "time to first GPU result (whole process)"
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || return 1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
COLD_CACHE="$LOGS/kcache"
rm -rf "$COLD_CACHE"
COLD=$(CT_KERNEL_CACHE_DIR=$COLD_CACHE ms ct "$CHECK" first || echo FAIL)
WARM=$(CT_KERNEL_CACHE_DIR=$COLD_CACHE ms ct "$CHECK" first || echo FAIL)
TORCH_FIRST=$(ms python3 -c "import torch; torch.ones(1, device='cuda')" || echo n/a)
if [ "$COLD" = FAIL ] || [ "$WARM" = FAIL ]; then
  echo "gpu_check first FAILED:"
  CT_KERNEL_CACHE_DIR=$COLD_CACHE ct "$CHECK" first 2>&1 | tail -5
  fail=1
fi
say "| first GPU result, cold kernel cache | $COLD ms | $TORCH_FIRST ms | $(ratio "$COLD" "$TORCH_FIRST") | |"
say "| first GPU result, warm kernel cache | $WARM ms | $TORCH_FIRST ms | $(ratio "$WARM" "$TORCH_FIRST") | <= 0.5 |"
say ""

if [ -n "$RESULTS" ]; then
  mkdir -p "$(dirname "$RESULTS")"
  [ -f "$RESULTS" ] || printf '# GPU results\n\nEvery run of `bench/gpu/run.sh`, newest last.\n\n' >"$RESULTS"
  cat "$REPORT" >>"$RESULTS"
  echo "(appended to $RESULTS)"
fi
if [ $fail -ne 0 ]; then
  echo "bench/gpu/run.sh: some checks FAILED" >&2
  exit 1
fi
echo "bench/gpu/run.sh: all checks passed"
