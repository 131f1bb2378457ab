"""ctensor's peers on the benchmarks of bench/ct_bench.c: numpy, PyTorch
(Debian's python3-torch, CPU) and TensorFlow (tensorflow-cpu).

    peers.py --threads T [--rounds R] [--quick] [--only numpy,torch,tensorflow]
    peers.py --threads T --serve [--quick]    (one round per "round [CASE]" on stdin)

Prints the same JSON lines as ct_bench (times[r] = seconds per call in round
r); bench/report.py reads both. The thread count is fixed for the whole
process: bench/report.py sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS before
the interpreter starts, and this script also sets each framework's own knob
(threadpoolctl for numpy's OpenBLAS, torch.set_num_threads, TensorFlow's
intra-op pool, which can only be set before its first op; that is why every
thread count gets its own process).

Within a round every framework runs one batch of the same op, so slow drift
of the machine hits all of them alike.
"""

import argparse
import json
import os
import sys
import time
import timeit

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BIG_N = 64 * 1024 * 1024


def emit(bench, size, impl, threads, work, unit, times=None, note=None):
    rec = {"bench": bench, "size": size, "impl": impl, "threads": threads,
           "work": work, "unit": unit}
    if times is not None:
        rec["times"] = times
    if note is not None:
        rec["note"] = note
    print(json.dumps(rec), flush=True)


def calibrate(fn, target_s, max_reps):
    t0 = time.perf_counter()
    fn()
    t = time.perf_counter() - t0
    return max(1, min(max_reps, int(target_s / t) if t > 0 else max_reps))


def batch(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def tiny_timer(stmt, ns):
    """Per-call time of a one-line statement, as timeit measures it (the
    loop is compiled, no function call per iteration)."""
    t = timeit.Timer(stmt, globals=ns)
    n, _ = t.autorange()
    n = max(n, 10000)
    return lambda: t.timeit(n) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="numpy,torch,tensorflow")
    ap.add_argument("--serve", action="store_true",
                    help="run one round per line 'round' on stdin (used by report.py)")
    args = ap.parse_args()
    T, R = args.threads, args.rounds
    want = set(args.only.split(","))

    import numpy as np
    import threadpoolctl
    threadpoolctl.threadpool_limits(T)  # stays in force: never restored
    fw = {"numpy": np}
    if "torch" in want:
        try:
            import torch
            torch.set_num_threads(T)
            fw["torch"] = torch
        except Exception as e:  # reported, not fatal: the others still run
            emit("info", 0, "torch", T, 0, "", note="import failed: %r" % e)
    if "tensorflow" in want:
        try:
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(T)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            fw["tensorflow"] = tf
        except Exception as e:
            emit("info", 0, "tensorflow", T, 0, "", note="import failed: %r" % e)
    if "numpy" not in want:
        del fw["numpy"]

    # What actually runs: numpy's bundled OpenBLAS kernel, torch's threads.
    np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)
    blas = [i for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"]
    info = "numpy %s" % np.__version__
    for b in blas:
        info += "; openblas %s %s core %s threads %s" % (
            b.get("version"), os.path.basename(b.get("filepath", "")),
            b.get("architecture"), b.get("num_threads"))
    if "torch" in fw:
        info += "; torch %s threads %d" % (fw["torch"].__version__, fw["torch"].get_num_threads())
    if "tensorflow" in fw:
        info += "; tensorflow %s" % fw["tensorflow"].__version__
    emit("info", 0, "python", T, 0, "", note=info)

    rng = np.random.default_rng(1)
    cases = []  # (bench, size, work, unit, {impl: fn}, target_s, max_reps)

    # ---- matmul ---------------------------------------------------------
    sizes = [512, 1024] if args.quick else [512, 1024, 2048, 4096]
    for n in sizes:
        a = rng.random((n, n), dtype=np.float32) - 0.5
        b = rng.random((n, n), dtype=np.float32) - 0.5
        fns = {}
        if "numpy" in fw:
            fns["numpy"] = lambda a=a, b=b: a @ b
        if "torch" in fw:
            ta, tb = fw["torch"].from_numpy(a), fw["torch"].from_numpy(b)
            fns["torch"] = lambda ta=ta, tb=tb: fw["torch"].matmul(ta, tb)
        if "tensorflow" in fw:
            tf = fw["tensorflow"]
            fa, fb = tf.constant(a), tf.constant(b)
            fns["tensorflow"] = lambda fa=fa, fb=fb: tf.linalg.matmul(fa, fb)
        cases.append(("matmul", n, 2.0 * n * n * n, "flop", fns, 0.05 if n >= 2048 else 0.25, 200))

    # ---- add of 1-element arrays: per-op overhead -----------------------
    one = np.array([1.5], np.float32)
    two = np.array([2.25], np.float32)
    fns = {}
    if "numpy" in fw:
        fns["numpy"] = tiny_timer("a + b", {"a": one, "b": two})
    if "torch" in fw:
        torch = fw["torch"]
        fns["torch"] = tiny_timer("a + b", {"a": torch.from_numpy(one.copy()),
                                            "b": torch.from_numpy(two.copy())})
    if "tensorflow" in fw:
        tf = fw["tensorflow"]
        fns["tensorflow"] = tiny_timer("a + b", {"a": tf.constant(one), "b": tf.constant(two)})
    cases.append(("add_tiny", 1, 1, "call", fns, None, 1))

    # ---- 64 Mi elements: add (allocating), sum, random normal -----------
    n = BIG_N // 16 if args.quick else BIG_N
    nbytes = 4 * n
    x = rng.random(n, dtype=np.float32) - 0.5
    y = rng.random(n, dtype=np.float32) - 0.5
    add_fns, sum_fns, rn_fns = {}, {}, {}
    if "numpy" in fw:
        add_fns["numpy"] = lambda: x + y
        sum_fns["numpy"] = lambda: x.sum()
        gen = np.random.default_rng(42)
        rn_fns["numpy"] = lambda: gen.standard_normal(n, dtype=np.float32)
    if "torch" in fw:
        torch = fw["torch"]
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        add_fns["torch"] = lambda: tx + ty
        sum_fns["torch"] = lambda: tx.sum()
        tgen = torch.Generator().manual_seed(42)
        rn_fns["torch"] = lambda: torch.randn(n, dtype=torch.float32, generator=tgen)
    if "tensorflow" in fw:
        tf = fw["tensorflow"]
        fx, fy = tf.constant(x), tf.constant(y)
        add_fns["tensorflow"] = lambda: tf.add(fx, fy)
        sum_fns["tensorflow"] = lambda: tf.reduce_sum(fx)
        rn_fns["tensorflow"] = lambda: tf.random.stateless_normal([n], seed=[42, 0], dtype=tf.float32)
    cases.append(("add_big", n, 3 * nbytes, "byte", add_fns, 0.3, 50))
    cases.append(("sum_big", n, nbytes, "byte", sum_fns, 0.3, 50))
    cases.append(("random_normal", n, n, "sample", rn_fns, 0.3, 50))

    # Batch sizes are calibrated once, on the first round, from a warm call.
    reps = {}

    def case_name(bench, size):
        return "matmul%d" % size if bench == "matmul" else bench

    def one_round(only=None):
        """One batch of every framework on every case (or on the case named
        `only`, as ct_bench --only names it)."""
        out = []
        for bench, size, work, unit, fns, target_s, max_reps in cases:
            if only is not None and case_name(bench, size) != only:
                continue
            for impl, f in fns.items():
                key = (bench, size, impl)
                if key not in reps:
                    reps[key] = 1 if target_s is None else calibrate(f, target_s, max_reps)
                t = f() if target_s is None else batch(f, reps[key])
                out.append((bench, size, impl, work, unit, t))
        return out

    if args.serve:
        # bench/report.py interleaves this process with ct_bench, case by
        # case: a line "round [CASE]" in, that round's records and "end" out.
        emit("ready", 0, "python", T, 0, "")
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] != "round":
                break
            for bench, size, impl, work, unit, t in one_round(words[1] if len(words) > 1 else None):
                emit(bench, size, impl, T, work, unit, [t])
            emit("end", 0, "python", T, 0, "")
        return 0
    times = {}
    meta = {}
    for _ in range(R):
        for bench, size, impl, work, unit, t in one_round():
            times.setdefault((bench, size, impl), []).append(t)
            meta[(bench, size, impl)] = (work, unit)
    for (bench, size, impl), ts in times.items():
        work, unit = meta[(bench, size, impl)]
        emit(bench, size, impl, T, work, unit, ts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
