#!/bin/sh
# Installs the Debian packages ctensor needs to build and test, when they are
# missing. As root it runs apt-get; otherwise it prints the exact command and
# fails, so `make run` never half-works on a machine that lacks a package.
#
# g++ is optional: only the emulated-GPU tests use it (the fake NVRTC compiles
# kernels with the C++ compiler matching the build's C compiler), and they are
# left out without it. As root it is installed with the rest; otherwise its
# absence is only mentioned. python3-jsonschema is optional too: only the
# test that validates `ctensor doctor --json` against docs/doctor-schema.json
# uses it, and it is skipped without it.
# libopenmpi-dev and openmpi-bin are optional as well: with them the MPI
# plugin (libctensor_mpi.so) and the collective tests under mpirun are
# built; without them process groups report UNAVAILABLE and those tests
# are skipped with a message. python3-sklearn is optional too: it ships the
# digits data set python/examples/train_digits.py trains on, and the test
# that runs that example is skipped without it. libclang-rt-14-dev (clang's
# libFuzzer runtime) is optional: without it the fuzz targets (make fuzz,
# and their corpus replays in the sanitizer tree) are skipped.
# python3-numpy and python3-hypothesis are optional: test python_properties
# (every op against NumPy, examples drawn by Hypothesis) needs both and is
# reported as skipped without them.
set -eu
pkgs="gcc clang make cmake pkg-config libopenblas-dev libomp-dev python3 python3-dev"
optional="g++ python3-jsonschema libopenmpi-dev openmpi-bin python3-sklearn libclang-rt-14-dev python3-numpy python3-hypothesis"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "ctensor: not a Debian system; install these (or equivalents) yourself: $pkgs ($optional optional)" >&2
  exit 1
fi
missing=""
for p in $pkgs; do
  installed "$p" || missing="$missing $p"
done
missing_optional=""
for p in $optional; do
  installed "$p" || missing_optional="$missing_optional $p"
done
[ -z "$missing$missing_optional" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "ctensor: installing missing packages:$missing$missing_optional"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing $missing_optional
  exit 0
fi
if [ -n "$missing_optional" ]; then
  echo "ctensor: optional packages missing (without g++ the emulated-GPU tests are left out, without python3-jsonschema the doctor's JSON schema test, without libopenmpi-dev and openmpi-bin the MPI plugin and its tests, without python3-sklearn the digits training test, without libclang-rt-14-dev the fuzz targets, without python3-numpy or python3-hypothesis the property tests):$missing_optional" >&2
  echo "  sudo apt-get install -y$missing_optional" >&2
fi
if [ -n "$missing" ]; then
  echo "ctensor: missing packages:$missing" >&2
  echo "run this, then 'make run' again:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
exit 0
