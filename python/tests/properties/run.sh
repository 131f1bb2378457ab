#!/bin/sh
# Runs the property tests with an interpreter that has NumPy and Hypothesis.
#   run.sh BUILT_FOR_PYTHON ARGS...
# The module is built for BUILT_FOR_PYTHON (the interpreter CMake found,
# which may be a pyenv or venv Python without NumPy); Debian's python3 of
# the same major.minor version loads the same extension, and is where
# python3-numpy and python3-hypothesis install. With neither, the built-for
# interpreter runs the tests, which then report the skip and its reason.
built=$1
shift
want=$("$built" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for py in "$built" /usr/bin/python3; do
  [ -x "$py" ] || continue
  [ "$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ] || continue
  if "$py" -c 'import numpy, hypothesis' >/dev/null 2>&1; then
    exec "$py" "$@"
  fi
done
exec "$built" "$@"
