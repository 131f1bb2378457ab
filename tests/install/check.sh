#!/bin/sh
# Install into a scratch prefix, then compile and run, through pkg-config:
#  - the C example shown in README.md (between the readme-example markers);
#  - every examples/*.c; when examples/NAME.expected exists, each of its
#    lines must appear in the program's output;
#  - when CT_EMU_AVAILABLE=1 (the build has the emulated GPU of
#    tests/fake_cuda), every example with an examples/NAME.gpu.expected
#    again on that one-GPU machine: its output must be exactly that file
#    (what TensorFlow prints with one GPU).
set -eu
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name ctensor.pc | head -n 1)")
libdir=$(dirname "$(find "$prefix" -name 'libctensor.so' | head -n 1)")
export PKG_CONFIG_PATH="$pcdir"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
test -f "$prefix/include/ctensor.h" || { echo "FAIL: ctensor.h not installed"; exit 1; }
test -x "$prefix/bin/ctensor" || { echo "FAIL: ctensor binary not installed"; exit 1; }
soname=$(objdump -p "$libdir/libctensor.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libctensor.so.0" ] || { echo "FAIL: soname is '$soname'"; exit 1; }
test -f "$libdir/libctensor.a" || { echo "FAIL: libctensor.a not installed"; exit 1; }

failed=0
run_one() { # name source expected-file-or-empty
  name=$1; file=$2; expected=$3
  # shellcheck disable=SC2046
  if ! cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags ctensor) "$file" -o "$work/$name" \
       $(pkg-config --libs ctensor) 2>"$work/$name.cc"; then
    echo "FAIL $name: does not compile against the installed library"; cat "$work/$name.cc"; failed=1; return
  fi
  if ! "$work/$name" >"$work/$name.out" 2>&1; then
    echo "FAIL $name: exited non-zero"; cat "$work/$name.out"; failed=1; return
  fi
  if [ -n "$expected" ]; then
    while IFS= read -r line; do
      [ -z "$line" ] && continue
      if ! grep -qF -- "$line" "$work/$name.out"; then
        echo "FAIL $name: output lacks: $line"; echo "--- output:"; cat "$work/$name.out"; failed=1; return
      fi
    done <"$expected"
  fi
  echo "ok   $name"
}

awk '/<!-- readme-example:begin -->/{on=1; next} /<!-- readme-example:end -->/{on=0} on && !/^```/' \
  "$src/README.md" >"$work/readme_example.c"
[ -s "$work/readme_example.c" ] || { echo "FAIL: no example found in README.md"; exit 1; }
printf '%s\n' "/job:localhost/replica:0/task:0/device:CPU:0" >"$work/readme.expected"
run_one readme_example "$work/readme_example.c" "$work/readme.expected"

for f in "$src"/examples/*.c; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .c)
  exp="$src/examples/$name.expected"
  [ -f "$exp" ] || exp=""
  run_one "$name" "$f" "$exp"
done
if [ "${CT_EMU_AVAILABLE:-0}" = 1 ]; then
  mkdir -p "$build/emu-tmp"
  for exp in "$src"/examples/*.gpu.expected; do
    [ -e "$exp" ] || continue
    name=$(basename "$exp" .gpu.expected)
    [ -x "$work/$name" ] || { echo "FAIL $name (GPU): not built"; failed=1; continue; }
    if ! CT_CUDA_DRIVER_PATH="$build/fake_cuda/libcuda.so.1" CT_CUBLAS_PATH="$build/fake_cublas/libcublas.so.13" \
         CT_CUBLASLT_PATH="$build/fake_cublas/libcublasLt.so.13" CT_NVRTC_PATH="$build/fake_nvrtc/libnvrtc.so.13" \
         CT_KERNEL_CACHE_DIR="$build/emu-kernel-cache" TMPDIR="$build/emu-tmp" \
         "$work/$name" >"$work/$name.gpu.out" 2>&1; then
      echo "FAIL $name (GPU): exited non-zero"; cat "$work/$name.gpu.out"; failed=1; continue
    fi
    if ! diff -u "$exp" "$work/$name.gpu.out"; then
      echo "FAIL $name (GPU): output differs from $(basename "$exp")"; failed=1; continue
    fi
    echo "ok   $name (emulated GPU)"
  done
fi
[ $failed -eq 0 ] && echo "install and examples: all passed"
exit $failed
