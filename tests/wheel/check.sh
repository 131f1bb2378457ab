#!/bin/sh
# Builds the wheel as `pip wheel .` does, installs it into a fresh virtual
# environment outside the source and build trees, and runs from there, with
# no PYTHONPATH: `import ctensor`, the seed examples (their output must be
# python/examples/seed*.expected, on this machine without a GPU), the
# `ctensor` console script (`doctor --json`, `devices`) and
# `python -m ctensor version`.
#
#   check.sh WORK SRC PYTHON [WHEEL]
#
# With WHEEL (tests/wheel/manylinux.sh passes the repaired one) that wheel is
# checked and nothing is built.
#
# WORK keeps, between runs, a venv with the build backend (tools/, made once
# from PyPI) and the wheel's CMake tree (build/), so that a rerun rebuilds
# only what changed. Exit 77 (skip) when the backend cannot be installed
# (no network on first run); set CT_WHEEL_OFFLINE_FAIL=1 to fail instead.
set -eu
work=$1
src=$(cd "$2" && pwd)
python=$3
prebuilt=${4:-}
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV || true
start=$(date +%s)
mkdir -p "$work"
tools="$work/tools"
# Pinned below the next major: scikit-build-core's configuration keys are
# stable within a major.
backend='scikit-build-core>=0.10,<2'
if [ -n "$prebuilt" ]; then
  whl=$prebuilt
  echo "ok   checking $(basename "$whl")"
else
if [ ! -x "$tools/bin/python" ] || ! "$tools/bin/python" -c 'import scikit_build_core' 2>/dev/null; then
  rm -rf "$tools"
  if ! "$python" -m venv "$tools" >"$work/venv.log" 2>&1; then
    cat "$work/venv.log"
    echo "SKIP: $python -m venv does not work (Debian: apt-get install python3-venv)"
    exit 77
  fi
  if ! "$tools/bin/python" -m pip install -q --disable-pip-version-check "$backend" >"$work/tools.log" 2>&1; then
    cat "$work/tools.log"
    rm -rf "$tools"
    echo "SKIP: could not install $backend from PyPI (no network?)"
    [ "${CT_WHEEL_OFFLINE_FAIL:-0}" = 1 ] && exit 1
    exit 77
  fi
fi

dist="$work/dist"
rm -rf "$dist"
# --no-build-isolation: the backend comes from the tools venv, no download;
# build-dir: the CMake tree survives, so reruns are incremental.
if ! "$tools/bin/python" -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps \
     -w "$dist" -C build-dir="$work/build" "$src" >"$work/wheel.log" 2>&1; then
  cat "$work/wheel.log"
  echo "FAIL: pip wheel failed"
  exit 1
fi
whl=$(ls "$dist"/ctensor-*.whl)
echo "ok   built $(basename "$whl") ($(($(date +%s) - start)) s so far)"
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ctensor-wheel.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
venv="$scratch/venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-index --no-deps "$whl" >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log"; echo "FAIL: pip install of the wheel failed"; exit 1; }

failed=0
fail() { echo "FAIL: $*"; failed=1; }
cd "$scratch"  # not the source tree: nothing may come from there

where=$("$venv/bin/python" -c 'import ctensor, os; print(os.path.dirname(ctensor.__file__))') ||
  fail "import ctensor"
case "$where" in
  "$venv"/*) echo "ok   import ctensor from $where" ;;
  *) fail "ctensor imported from '$where', not from the venv" ;;
esac

for ex in "$src"/python/examples/seed*.py; do
  name=$(basename "$ex" .py)
  if ! "$venv/bin/python" "$ex" >"$scratch/$name.out" 2>"$scratch/$name.err"; then
    cat "$scratch/$name.err"; fail "$name exited non-zero"; continue
  fi
  if cmp -s "$scratch/$name.out" "$src/python/examples/$name.expected"; then
    echo "ok   $name"
  else
    fail "$name printed something else:"; diff "$src/python/examples/$name.expected" "$scratch/$name.out" || true
  fi
done

# The console script, as a user runs it: from the venv's bin/, not activated.
# doctor exits 1 when the machine has no usable GPU: a verdict, not an error.
rc=0
"$venv/bin/ctensor" doctor --json >"$scratch/doctor.json" 2>"$scratch/doctor.err" || rc=$?
if [ "$rc" -gt 1 ]; then
  cat "$scratch/doctor.err"; fail "ctensor doctor --json exited $rc"
elif "$venv/bin/python" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict) and d' \
     "$scratch/doctor.json"; then
  echo "ok   ctensor doctor --json (exit $rc)"
else
  fail "ctensor doctor --json is not a JSON object"; head -c 2000 "$scratch/doctor.json"
fi
rc=0
"$venv/bin/ctensor" devices >"$scratch/devices.out" 2>&1 || rc=$?
if [ "$rc" -gt 1 ] || ! grep -q "CPU:0" "$scratch/devices.out"; then
  cat "$scratch/devices.out"; fail "ctensor devices (exit $rc)"
else
  echo "ok   ctensor devices"
fi
out=$("$venv/bin/python" -m ctensor version 2>&1) || fail "python -m ctensor version: $out"
want=$(sed -n 's/^project(ctensor VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
case "$out" in
  "ctensor $want"*) echo "ok   python -m ctensor version: $out" ;;
  *) fail "python -m ctensor version printed '$out', expected ctensor $want" ;;
esac

# DLPack and typing ship in the wheel.
out=$("$venv/bin/python" -c '
import os, ctensor as tf
from ctensor.experimental import dlpack
t = tf.constant([1.0, 2.0])
assert dlpack.from_dlpack(dlpack.to_dlpack(t)).tolist() == [1.0, 2.0]
here = os.path.dirname(tf.__file__)
assert os.path.exists(os.path.join(here, "py.typed")) and os.path.exists(os.path.join(here, "_ctensor.pyi"))
print("ok")' 2>&1) && [ "$out" = ok ] && echo "ok   DLPack round trip, py.typed and _ctensor.pyi" ||
  fail "DLPack or typing files in the installed package: $out"

# DLPack with NumPy from the installed wheel: python/tests/test_dlpack.py in
# the venv, with NumPy from PyPI (pip's cache makes reruns quick). Skipped
# when NumPy cannot be had; CT_WHEEL_NUMPY=0 leaves it out.
if [ "${CT_WHEEL_NUMPY:-1}" = 1 ] &&
   "$venv/bin/python" -m pip install -q --disable-pip-version-check numpy >"$scratch/numpy.log" 2>&1; then
  if "$venv/bin/python" -m unittest discover -s "$src/python/tests" -t "$src/python/tests" -p test_dlpack.py \
       >"$scratch/dlpack.log" 2>&1; then
    echo "ok   test_dlpack.py with NumPy $("$venv/bin/python" -c 'import numpy; print(numpy.__version__)')"
  else
    cat "$scratch/dlpack.log"; fail "test_dlpack.py in the venv"
  fi
else
  echo "skip test_dlpack.py with NumPy (no NumPy from PyPI)"
fi

# NVIDIA's wheels in the same environment: a stand-in for nvidia-cublas-cu12
# (an empty libcublas.so.13 and its dist-info; located by stat, never opened)
# must be found by the loader's pip stage and listed by the doctor.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
mkdir -p "$site/nvidia/cublas/lib" "$site/nvidia_cublas_cu12-12.9.1.4.dist-info"
: >"$site/nvidia/cublas/lib/libcublas.so.13"
printf 'Metadata-Version: 2.1\nName: nvidia-cublas-cu12\nVersion: 12.9.1.4\n' \
  >"$site/nvidia_cublas_cu12-12.9.1.4.dist-info/METADATA"
"$venv/bin/ctensor" devices --verbose >"$scratch/verbose.out" 2>&1 || true
if grep -q "cublas *pip .*$site/nvidia/cublas/lib/libcublas.so.13" "$scratch/verbose.out"; then
  echo "ok   the loader finds cuBLAS from the venv's nvidia wheel"
elif grep -q "cublas *system .*libcublas.so.13" "$scratch/verbose.out"; then
  echo "skip the loader check: this machine has libcublas.so.13 in a system directory, which comes first"
else
  fail "the loader did not find the venv's nvidia/cublas/lib"; grep -i cublas "$scratch/verbose.out"
fi
"$venv/bin/ctensor" doctor >"$scratch/doctor.txt" 2>&1 || true
if grep -q "$site/nvidia/cublas/lib/libcublas.so.13 *\[pip wheel\]" "$scratch/doctor.txt"; then
  echo "ok   the doctor lists it as [pip wheel]"
else
  fail "the doctor does not list the venv's nvidia wheel"; cat "$scratch/doctor.txt"
fi

echo "python_wheel: $(($(date +%s) - start)) s"
[ "$failed" = 0 ] && echo "all checks passed"
exit "$failed"
