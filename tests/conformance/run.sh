#!/bin/sh
# `make conformance`: runs the placement scenarios under real TensorFlow
# (tensorflow-cpu from PyPI, in .venv-conformance) and under ctensor, shows
# device strings, placement log lines and error messages side by side, and
# fails on any difference not listed in docs/tf-differences.md. Then it
# differentiates the same functions under both (gradients.py) and compares
# the gradients within float tolerance (compare_gradients.py), runs the
# same optimizer steps under both (optimizers.py, compare_optimizers.py),
# and runs python/examples/train_digits.py unchanged under TensorFlow
# (scikit-learn is installed into the virtualenv for it).
#
# Environment: BUILD (default build) is the ctensor build tree;
# CT_CONFORMANCE_VENV (default .venv-conformance) the virtualenv;
# PYTHON (default python3) the interpreter that creates it.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${BUILD:-build}
venv=${CT_CONFORMANCE_VENV:-.venv-conformance}
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$build/libctensor.so" ]; then
  echo "conformance: $build/libctensor.so not found; run 'make build' first" >&2
  exit 1
fi

# TensorFlow, installed once into its own virtualenv.
if ! "$venv/bin/python" -c 'import tensorflow' >/dev/null 2>&1; then
  echo "conformance: installing tensorflow-cpu into $venv (once)"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check tensorflow-cpu || {
    echo "conformance: FAIL: could not install tensorflow-cpu from PyPI" >&2
    exit 1
  }
fi
tfver=$("$venv/bin/python" -c 'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"; import tensorflow as tf; print(tf.__version__)' 2>/dev/null)

# ctensor's side: the scenario program and the three seed examples, built
# against the library as an application would be.
cc=${CC:-cc}
"$cc" -std=c11 -Wall -Wextra -Werror -I include tests/conformance/scenarios.c -o "$work/scenarios" \
  "$build/libctensor.so" -Wl,-rpath,"$root/$build"
for n in 1 2 3; do
  "$cc" -std=c11 -Wall -Wextra -Werror -I include "examples/seed$n.c" -o "$work/seed$n" \
    "$build/libctensor.so" -Wl,-rpath,"$root/$build"
done

# Neither side may be steered by the caller's environment. tensorflow-cpu
# sees no GPU, so ctensor is shown none either: like is compared with like
# on any machine.
unset CT_LOG_DEVICE_PLACEMENT CT_PLACEMENT_REPORT || true
CUDA_VISIBLE_DEVICES=-1
export CUDA_VISIBLE_DEVICES
for group in two_cpus log config; do
  "$work/scenarios" "$group" >>"$work/ct.out" 2>>"$work/ct.err" || { echo "ctensor scenarios $group failed:"; cat "$work/ct.err"; exit 1; }
  TF_CPP_MIN_LOG_LEVEL=0 TF_ENABLE_ONEDNN_OPTS=0 "$venv/bin/python" tests/conformance/scenarios.py "$group" \
    >>"$work/tf.out" 2>>"$work/tf.err" || { echo "TensorFlow scenarios $group failed:"; tail -20 "$work/tf.err"; exit 1; }
done
for n in 1 2 3; do
  "$work/seed$n" | awk -v s="seed$n" '{ printf "%s\toutput%d\t%s\n", s, NR - 1, $0 }' >>"$work/ct.out"
  TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" tests/conformance/scenarios.py "seed$n" >>"$work/tf.out" 2>>"$work/tf.err"
done

# Gradients: the same functions differentiated under both (gradients.py),
# on identical inputs from Python's random. ctensor's module is built for
# the interpreter CMake found; the venv's python runs it when it can import
# it (the same Python version), else that interpreter does.
TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 "$venv/bin/python" tests/conformance/gradients.py --framework tensorflow \
  >"$work/tf.grad" 2>"$work/tf.grad.err" || { echo "TensorFlow gradients failed:"; tail -20 "$work/tf.grad.err"; exit 1; }
ctpy="$venv/bin/python"
if ! PYTHONPATH="$root/$build/python" "$ctpy" -c 'import ctensor' >/dev/null 2>&1; then
  ctpy=$(sed -n 's/^_\{0,1\}Python3_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt" | head -1)
  [ -n "$ctpy" ] || ctpy=$python
fi
grad_rc=0
PYTHONPATH="$root/$build/python" "$ctpy" tests/conformance/gradients.py --framework ctensor \
  >"$work/ct.grad" 2>"$work/ct.grad.err" || grad_rc=$?

# Optimizers: the same Keras 3 steps under both (optimizers.py), the
# values after the steps compared within float tolerance
# (compare_optimizers.py); and the digits training script, unchanged,
# under TensorFlow (python/examples/train_digits.py --framework tensorflow).
TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 "$venv/bin/python" tests/conformance/optimizers.py --framework tensorflow \
  >"$work/tf.opt" 2>"$work/tf.opt.err" || { echo "TensorFlow optimizers failed:"; tail -20 "$work/tf.opt.err"; exit 1; }
opt_rc=0
PYTHONPATH="$root/$build/python" "$ctpy" tests/conformance/optimizers.py --framework ctensor \
  >"$work/ct.opt" 2>"$work/ct.opt.err" || opt_rc=$?
train_rc=0
if "$venv/bin/python" -c 'import sklearn' >/dev/null 2>&1 || "$venv/bin/pip" install --quiet --disable-pip-version-check scikit-learn; then
  TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" python/examples/train_digits.py --framework tensorflow --quick \
    >"$work/tf.train" 2>"$work/tf.train.err" || train_rc=$?
else
  echo "conformance: could not install scikit-learn into $venv; train_digits.py not run under TensorFlow" >"$work/tf.train"
  train_rc=1
fi

echo "conformance: TensorFlow $tfver (tensorflow-cpu) vs ctensor $(cat "$build/ctensor.pc" 2>/dev/null | awk '/^Version:/ {print $2}')"
rc=0
"$venv/bin/python" tests/conformance/compare.py "$work/tf.out" "$work/ct.out" docs/tf-differences.md \
  >"$work/placement.txt" || rc=1
cat "$work/placement.txt"
echo
echo "conformance: gradients (tests/conformance/gradients.py; ctensor side run by $ctpy)"
"$venv/bin/python" tests/conformance/compare_gradients.py "$work/tf.grad" "$work/ct.grad" docs/tf-differences.md \
  >"$work/gradients.txt" || rc=1
cat "$work/gradients.txt"
if [ "$grad_rc" -ne 0 ]; then
  echo "FAIL: ctensor's gradients.py exited with status $grad_rc:"
  tail -20 "$work/ct.grad.err"
  rc=1
fi
echo
echo "conformance: optimizers (tests/conformance/optimizers.py; ctensor side run by $ctpy)"
"$venv/bin/python" tests/conformance/compare_optimizers.py "$work/tf.opt" "$work/ct.opt" docs/tf-differences.md \
  >"$work/optimizers.txt" || rc=1
cat "$work/optimizers.txt"
if [ "$opt_rc" -ne 0 ]; then
  echo "FAIL: ctensor's optimizers.py exited with status $opt_rc:"
  tail -20 "$work/ct.opt.err"
  rc=1
fi
echo
echo "conformance: python/examples/train_digits.py --framework tensorflow --quick (the script unchanged under TensorFlow)"
grep -E '^(tensorflow |epoch |test accuracy)' "$work/tf.train" || true
if [ "$train_rc" -ne 0 ]; then
  echo "FAIL: train_digits.py under TensorFlow exited with status $train_rc:"
  tail -20 "$work/tf.train.err"
  rc=1
fi

echo
echo "conformance summary (TensorFlow $tfver vs ctensor):"
printf '  placement: %s\n' "$(grep -E '^[0-9]+ observations' "$work/placement.txt")"
printf '  gradients: %s\n' "$(grep -E '^[0-9]+ gradient observations' "$work/gradients.txt")"
printf '             %s\n' "$(grep -E '^largest gradient error' "$work/gradients.txt")"
printf '  optimizers: %s\n' "$(grep -E '^[0-9]+ optimizer observations' "$work/optimizers.txt")"
printf '  train_digits.py under TensorFlow: %s\n' "$(grep -E '^test accuracy' "$work/tf.train" | tail -1)"
[ "$rc" -eq 0 ] && echo "conformance: OK" || echo "conformance: FAIL"
exit $rc
