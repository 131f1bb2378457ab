"""Time per training step of two MLPs, in one framework per process:

    train.py --framework F --threads T --serve [--quick]
        one batch of steps of CASE per line "round CASE" on stdin
    train.py --framework F --threads T --memory CASE [--steps 1000]
        one fresh run of that many steps; peak RSS and ctensor's counters

F is ctensor, tf_eager, tf_function or torch; CASE is
  train_digits  the digits MLP 64 -> 128 -> 64 -> 10, batch 32
  train_wide    784 -> 1024 -> 1024 -> 10, batch 256 (matmul dominates)
both with ReLU, sparse softmax cross-entropy and Adam (Keras's defaults,
learning rate 1e-3; torch.optim.Adam with eps=1e-7, Keras's epsilon).

ctensor and TensorFlow eager run the very same function (`tf_step` below):
the plain eager GradientTape loop a TensorFlow user writes, with `tf` bound
to `ctensor` or to `tensorflow`. tf_function wraps that function in
`tf.function`; torch is what a PyTorch user writes (nn.Sequential of
nn.Linear, CrossEntropyLoss, torch.optim.Adam).

The data are random values of each case's shape (8 batches made before
timing and cycled): a step's time does not depend on the values, and the
benchmark then needs no data set. Labels are int32 for TensorFlow's and
ctensor's sparse cross-entropy, int64 for torch's.

Records are JSON lines like bench/ct_bench.c's: times[r] = seconds per step
in round r, work = samples per step (the batch), unit "sample".
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CASES = {
    # name: (layer sizes, batch)
    "train_digits": ((64, 128, 64, 10), 32),
    "train_wide": ((784, 1024, 1024, 10), 256),
}
N_BATCHES = 8


def emit(**rec):
    print(json.dumps(rec), flush=True)


def proc_status(key):
    """A field of /proc/self/status in bytes (VmRSS, VmHWM), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def glorot(rng, sizes):
    """Glorot-uniform weights and zero biases, as float32 numpy arrays."""
    import numpy as np
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        params.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        params.append(np.zeros(fan_out, np.float32))
    return params


def data(rng, sizes, batch):
    import numpy as np
    xs = [rng.random((batch, sizes[0]), dtype=np.float32) for _ in range(N_BATCHES)]
    ys = [rng.integers(0, sizes[-1], batch).astype(np.int32) for _ in range(N_BATCHES)]
    return xs, ys


# ---- TensorFlow and ctensor: the same code, `tf` either module ---------------

def tf_step(tf, variables, optimizer):
    """The training step as a TensorFlow user writes it."""
    n_layers = len(variables) // 2

    def step(x, y):
        with tf.GradientTape() as tape:
            h = x
            for i in range(n_layers):
                h = tf.matmul(h, variables[2 * i]) + variables[2 * i + 1]
                if i < n_layers - 1:
                    h = tf.nn.relu(h)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss
    return step


def build_tf(tf, sizes, batch, rng, use_function):
    variables = [tf.Variable(p) for p in glorot(rng, sizes)]
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    step = tf_step(tf, variables, optimizer)
    if use_function:
        step = tf.function(step)
    xs, ys = data(rng, sizes, batch)
    batches = [(tf.constant(x), tf.constant(y)) for x, y in zip(xs, ys)]
    return step, batches, float


def build_torch(torch, sizes, batch, rng):
    layers = []
    weights = glorot(rng, sizes)
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():  # the same initial values as the others
            lin.weight.copy_(torch.from_numpy(weights[2 * i].T.copy()))
            lin.bias.zero_()
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    xs, ys = data(rng, sizes, batch)
    batches = [(torch.from_numpy(x), torch.from_numpy(y.astype("int64"))) for x, y in zip(xs, ys)]
    return step, batches, lambda loss: float(loss.detach())


def import_framework(name, threads):
    """The module, with its thread count fixed before its first op."""
    if name == "ctensor":
        # OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (set by bench/report.py
        # before this process started) are how ctensor learns T.
        import ctensor
        return ctensor
    if name in ("tf_eager", "tf_function"):
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return tf
    if name == "torch":
        import torch
        torch.set_num_threads(threads)
        return torch
    raise SystemExit("train.py: unknown framework %r" % name)


def build(name, mod, case, seed=1):
    import numpy as np
    sizes, batch = CASES[case]
    rng = np.random.default_rng(seed)
    if name == "torch":
        return build_torch(mod, sizes, batch, rng)
    return build_tf(mod, sizes, batch, rng, name == "tf_function")


class Runner:
    """A case's step and batches, warmed up (tf.function traced) and with a
    batch size calibrated so that a timed batch lasts about target_s."""

    def __init__(self, name, mod, case, target_s):
        self.step, self.batches, self.to_float = build(name, mod, case)
        self.i = 0
        self.run(5)
        t0 = time.perf_counter()
        self.run(3)
        per = (time.perf_counter() - t0) / 3
        self.reps = max(3, min(2000, int(target_s / per) if per > 0 else 2000))

    def run(self, n):
        loss = None
        for _ in range(n):
            x, y = self.batches[self.i % N_BATCHES]
            self.i += 1
            loss = self.step(x, y)
        # Reading the last loss waits for anything a framework left queued.
        return self.to_float(loss)

    def timed(self):
        t0 = time.perf_counter()
        loss = self.run(self.reps)
        t = (time.perf_counter() - t0) / self.reps
        if loss != loss:  # NaN: a broken step must not pass as a fast one
            raise RuntimeError("loss is NaN")
        return t


def versions(name, mod, threads):
    if name == "ctensor":
        return "ctensor (python %s)" % sys.version.split()[0]
    if name == "torch":
        return "torch %s, %d threads" % (mod.__version__, mod.get_num_threads())
    return "tensorflow %s" % mod.__version__


def serve(args, mod):
    sizes_note = versions(args.framework, mod, args.threads)
    emit(bench="info", size=0, impl=args.framework, threads=args.threads, work=0, unit="", note=sizes_note)
    emit(bench="ready", size=0, impl=args.framework, threads=args.threads, work=0, unit="")
    runners = {}
    target_s = 0.15 if args.quick else 0.4
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "round":
            break
        for case in (words[1:] or list(CASES)):
            sizes, batch = CASES[case]
            try:
                if case not in runners:
                    runners[case] = Runner(args.framework, mod, case, target_s)
                t = runners[case].timed()
                emit(bench=case, size=batch, impl=args.framework, threads=args.threads, work=batch,
                     unit="sample", times=[t])
            except Exception as e:  # reported as missing, not fatal: the others still run
                emit(bench=case, size=batch, impl=args.framework, threads=args.threads, work=batch,
                     unit="sample", note="%s: %s" % (type(e).__name__, e))
        emit(bench="end", size=0, impl=args.framework, threads=args.threads, work=0, unit="")
    return 0


def memory(args, mod):
    """A fresh process that trains for args.steps steps: the peak RSS of
    the whole process (VmHWM), the RSS just before the first step, and for
    ctensor its allocator's counters after the run."""
    case = args.memory
    sizes, batch = CASES[case]
    step, batches, to_float = build(args.framework, mod, case)
    rss_before = proc_status("VmRSS")
    t0 = time.perf_counter()
    loss = None
    for i in range(args.steps):
        x, y = batches[i % N_BATCHES]
        loss = step(x, y)
    loss = to_float(loss)
    seconds = time.perf_counter() - t0
    rec = dict(bench="mem_" + case, size=batch, impl=args.framework, threads=args.threads, work=args.steps,
               unit="step", peak_rss=proc_status("VmHWM"), rss_before=rss_before, seconds=seconds,
               final_loss=loss)
    if args.framework == "ctensor":
        info = mod.config.experimental.get_memory_info("CPU:0")
        rec["ct_current"], rec["ct_peak"] = info["current"], info["peak"]
        raw = getattr(mod, "_ctensor", None)
        if raw is not None and hasattr(raw, "memory_info"):
            rec["ct_reserved"] = raw.memory_info("CPU:0").get("reserved")
    emit(**rec)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", required=True, choices=("ctensor", "tf_eager", "tf_function", "torch"))
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--memory", choices=sorted(CASES))
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    try:
        mod = import_framework(args.framework, args.threads)
    except Exception as e:
        emit(bench="info", size=0, impl=args.framework, threads=args.threads, work=0, unit="",
             note="import failed: %r" % e)
        if args.serve:  # answer every round with nothing, so the driver goes on
            emit(bench="ready", size=0, impl=args.framework, threads=args.threads, work=0, unit="")
            for _ in sys.stdin:
                emit(bench="end", size=0, impl=args.framework, threads=args.threads, work=0, unit="")
        return 1
    if args.memory:
        return memory(args, mod)
    return serve(args, mod)


if __name__ == "__main__":
    sys.exit(main())
