#!/bin/sh
# Installs the Debian packages ctensor needs to build and test, when they are
# missing. As root it runs apt-get; otherwise it prints the exact command and
# fails, so `make run` never half-works on a machine that lacks a package.
set -eu
pkgs="gcc g++ clang make cmake pkg-config libopenblas-dev libomp-dev python3 python3-dev"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "ctensor: not a Debian system; install these (or equivalents) yourself:$missing" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  echo "ctensor: installing missing packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing
else
  echo "ctensor: missing packages:$missing" >&2
  echo "run this, then 'make run' again:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
