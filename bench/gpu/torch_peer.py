"""The PyTorch side of bench/gpu/run.sh: the same measurements on the same GPU.

Prints lines in gpu_check's format so run.sh can put them side by side.
"""
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


for n in (4096, 8192):
    print(f"matmul float32 n={n} {tflops(torch.float32, n, False):.2f} TFLOP/s")
    print(f"matmul tf32 n={n} {tflops(torch.float32, n, True):.2f} TFLOP/s")
    print(f"matmul bfloat16 n={n} {tflops(torch.bfloat16, n, False):.2f} TFLOP/s")

N = 64 << 20
a = torch.rand(N, device="cuda")
b = torch.rand(N, device="cuda")
for name, fn, nbytes in (("add float32 64Mi", lambda: a + b, 3 * 4 * N),
                         ("copy d2d 64Mi", lambda: a.clone(), 2 * 4 * N)):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    print(f"{name} {nbytes * 50 / (time.perf_counter() - t0) / 1e9:.1f} GB/s")
