"""matmul through an installed ctensor wheel vs cblas_sgemm on the system's
OpenBLAS, in one process: the check that bundling OpenBLAS into the
manylinux wheel (auditwheel repair) left matmul speed unchanged.

    python bench/wheel_matmul.py [--blas /usr/lib/x86_64-linux-gnu/libopenblas.so.0] [--sizes 512,1024]

Run it with the venv's python, outside the source tree. The thread count
comes from OPENBLAS_NUM_THREADS (set it; both libraries read it at load).
Each size alternates the two, `--reps` times, and compares medians; the
ratio is sgemm time / ctensor time (>= 0.95 passes, as in PERFORMANCE.md).
Prints one line per size and exits 1 when a ratio is below 0.95.
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

import ctensor as tf

p = argparse.ArgumentParser()
p.add_argument("--blas", default="libopenblas.so.0")
p.add_argument("--sizes", default="512,1024")
p.add_argument("--reps", type=int, default=15)
args = p.parse_args()

blas = ctypes.CDLL(args.blas)
ROW_MAJOR, NO_TRANS = 101, 111
blas.cblas_sgemm.restype = None
blas.cblas_sgemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                             ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                             ctypes.c_float, ctypes.c_void_p, ctypes.c_int]

bundled = sorted(f for f in os.listdir(os.path.join(os.path.dirname(tf.__file__), os.pardir, "ctensor.libs"))
                 if "openblas" in f) if os.path.isdir(os.path.join(os.path.dirname(tf.__file__), os.pardir,
                                                                        "ctensor.libs")) else []
print("ctensor from %s; its OpenBLAS: %s; baseline: %s; OPENBLAS_NUM_THREADS=%s"
      % (os.path.dirname(tf.__file__), ", ".join(bundled) or "the system's (not bundled)", args.blas,
         os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")))

worst = None
for n in [int(s) for s in args.sizes.split(",")]:
    a = tf.random.normal((n, n), seed=1)
    b = tf.random.normal((n, n), seed=2)
    ca = (ctypes.c_float * (n * n))(*[0.5] * (n * n))
    cb = (ctypes.c_float * (n * n))(*[0.25] * (n * n))
    cc = (ctypes.c_float * (n * n))()

    def run_ct():
        t = time.perf_counter()
        tf.matmul(a, b)
        return time.perf_counter() - t

    def run_blas():
        t = time.perf_counter()
        blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.0, ca, n, cb, n, 0.0, cc, n)
        return time.perf_counter() - t

    run_ct(), run_blas()  # warm up: thread pools, pages
    t_ct, t_blas = [], []
    for _ in range(args.reps):
        t_ct.append(run_ct())
        t_blas.append(run_blas())
    m_ct, m_blas = statistics.median(t_ct), statistics.median(t_blas)
    ratio = m_blas / m_ct
    worst = ratio if worst is None else min(worst, ratio)
    flop = 2.0 * n ** 3
    print("matmul f32 %d: ctensor %.1f GFLOP/s, cblas_sgemm %.1f GFLOP/s, ratio %.3f %s"
          % (n, flop / m_ct / 1e9, flop / m_blas / 1e9, ratio, "PASS" if ratio >= 0.95 else "FAIL"))
sys.exit(0 if worst is not None and worst >= 0.95 else 1)
