"""The PyTorch side of bench/gpu/run.sh: the same measurements on the same GPU.

Prints lines in gpu_check's format so run.sh can put them side by side.
GPU_CHECK_SMALL=1 uses gpu_check's small sizes (a smoke run).
"""
import os
import sys
import time

try:
    import torch
except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
    print(f"torch unavailable: {e}", file=sys.stderr)
    sys.exit(3)

if not torch.cuda.is_available():
    print("torch: CUDA not available", file=sys.stderr)
    sys.exit(3)


def tflops(dtype, n, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.rand(n, n, device="cuda", dtype=dtype) * 2 - 1
    b = torch.rand(n, n, device="cuda", dtype=dtype) * 2 - 1
    for _ in range(3):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    iters = 10 if n >= 8192 else 30
    t0 = time.perf_counter()
    for _ in range(iters):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    torch.backends.cuda.matmul.allow_tf32 = False
    return 2.0 * n ** 3 * iters / (time.perf_counter() - t0) / 1e12


SMALL = os.environ.get("GPU_CHECK_SMALL", "0") not in ("", "0")

for n in ((128, 256) if SMALL else (4096, 8192)):
    print(f"matmul float32 n={n} {tflops(torch.float32, n, False):.2f} TFLOP/s")
    print(f"matmul tf32 n={n} {tflops(torch.float32, n, True):.2f} TFLOP/s")
    print(f"matmul bfloat16 n={n} {tflops(torch.bfloat16, n, False):.2f} TFLOP/s")

N, LABEL = (1 << 20, "1Mi") if SMALL else (64 << 20, "64Mi")
a = torch.rand(N, device="cuda")
b = torch.rand(N, device="cuda")
for name, fn, nbytes in ((f"add float32 {LABEL}", lambda: a + b, 3 * 4 * N),
                         (f"copy d2d {LABEL}", lambda: a.clone(), 2 * 4 * N)):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    print(f"{name} {nbytes * 50 / (time.perf_counter() - t0) / 1e9:.1f} GB/s")
