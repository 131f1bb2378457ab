#!/bin/sh
# Installs the peers that `make bench` measures ctensor against:
#   - PyTorch (CPU) from Debian: python3-torch, for Debian's /usr/bin/python3;
#   - numpy and tensorflow-cpu from PyPI, in a virtual environment made from
#     Debian's python3 with --system-site-packages so that it also sees
#     Debian's torch.
# Debian's torch 1.13 is built against the numpy 1.x C API, so numpy stays on
# 1.x here (1.26 is ABI-compatible with the 1.24 torch was built with) and
# tensorflow-cpu is pinned to the last line that accepts numpy < 2. All three
# then import together in one interpreter.
#
# Idempotent: a second run checks and returns quickly. As root it runs
# apt-get; otherwise it prints the exact command and fails.
set -eu
export TF_CPP_MIN_LOG_LEVEL=3
cd "$(dirname "$0")/.."

VENV=${CT_BENCH_VENV:-.venv-bench}
PY=/usr/bin/python3
NUMPY_PIN="numpy==1.26.4"
TF_PIN="tensorflow-cpu==2.17.1"
PIP_PKGS="$NUMPY_PIN $TF_PIN threadpoolctl==3.5.0"

pkgs="python3 python3-venv python3-torch libopenblas-dev"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench/setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
  else
    echo "bench/setup: missing Debian packages:$missing" >&2
    echo "run this, then 'make bench' again:" >&2
    echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bench/setup: creating $VENV from $PY (with system site packages)"
  "$PY" -m venv --system-site-packages "$VENV"
fi

# The check imports all peers in one interpreter, the way bench/peers.py
# uses them; only when it fails does pip run (it is slow and downloads).
check='import numpy, torch, tensorflow, threadpoolctl; assert numpy.__version__.startswith("1.26")'
if ! "$VENV/bin/python" -c "$check" >/dev/null 2>&1; then
  echo "bench/setup: pip install $PIP_PKGS"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $PIP_PKGS
  "$VENV/bin/python" -c "$check"
fi
"$VENV/bin/python" - <<'EOF'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy, torch, tensorflow
print("bench/setup: numpy %s, torch %s, tensorflow %s ready" %
      (numpy.__version__, torch.__version__, tensorflow.__version__))
EOF
