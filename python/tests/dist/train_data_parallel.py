"""Run as `mpirun -np 2 python3 train_data_parallel.py` (CTest: dist_python).

Data-parallel training of a digits-sized MLP (64 -> 32 -> 10) with
DistributedGradientTape, each rank on its half of every global batch, must
end with the weights of one process trained on the whole batches: the mean
of the two halves' mean-loss gradients is the whole batch's. The reference
is computed in the same process, without collectives. Also exercises the
rest of ctensor.distribute once. The data is synthetic (a fixed seed), so
scikit-learn is not needed.
"""

import random
import sys

import ctensor as tf
import ctensor.distribute as dist

dist.init(timeout=30)
RANK, SIZE = dist.rank(), dist.size()
assert SIZE == 2, "run with 2 processes"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("rank %d: FAIL %s" % (RANK, what), file=sys.stderr)


# ---- the API once ---------------------------------------------------------------------
check(dist.job_name() == "worker", "job name")
check(0 <= dist.local_rank() < dist.local_size(), "local rank")
x = tf.constant([float(RANK + 1)] * 3)
check(x.device == "/job:worker/replica:0/task:%d/device:CPU:0" % RANK, "tensor.device is %s" % x.device)
check(dist.all_reduce(x).tolist() == [3.0] * 3, "all_reduce sum")
check(dist.all_reduce(x, op="mean").tolist() == [1.5] * 3, "all_reduce mean")
check(dist.all_reduce(x, op="max").tolist() == [2.0] * 3, "all_reduce max")
check(dist.all_reduce(x, op="min").tolist() == [1.0] * 3, "all_reduce min")
check(dist.all_reduce(x, op="prod").tolist() == [2.0] * 3, "all_reduce prod")
check(dist.broadcast(x, root=1).tolist() == [2.0] * 3, "broadcast")
g = dist.all_gather(tf.constant([[RANK]] * (RANK + 1), dtype=tf.int32))
check(g.tolist() == [[0], [1], [1]], "all_gather uneven: %s" % g.tolist())
rs = dist.reduce_scatter(tf.constant([1.0, 2.0, 3.0]))
check(rs.tolist() == ([2.0, 4.0] if RANK == 0 else [6.0]), "reduce_scatter")
dist.barrier()
devices = dist.list_devices()
check(any(remote and "/task:%d/" % (1 - RANK) in name for name, _, remote in devices), "remote devices listed")
try:
    with tf.device("/job:worker/task:%d/device:CPU:0" % (1 - RANK)):
        tf.add(x, x)
    check(False, "remote op refused")
except tf.errors.UnimplementedError as e:
    check("remote execution is not supported" in str(e), "remote op message")
try:
    dist.all_reduce(tf.constant([1.0] * (RANK + 2)))
    check(False, "mismatch detected")
except tf.errors.InvalidArgumentError as e:
    check("rank 0:" in str(e) and "rank 1:" in str(e), "mismatch names ranks: %s" % e)
try:
    dist.all_reduce(x, op="median")
    check(False, "bad op")
except ValueError:
    pass

# ---- grouped all-reduce: one collective, the results of one all_reduce each ------------
group = [tf.constant([[0.1 * (RANK + 1), 0.7], [1.3, 2.9]]), tf.constant(3 * (RANK + 1), dtype=tf.int64),
         tf.constant([], dtype=tf.float64), tf.constant([0.3 * (RANK + 1)] * 1200)]
for op in ("sum", "mean", "max", "prod"):
    got = dist.grouped_all_reduce(group, op=op)
    want = [dist.all_reduce(t, op=op) for t in group]
    check(len(got) == len(want) and all(g.dtype == w.dtype and g.shape == w.shape and g.tolist() == w.tolist()
                                        for g, w in zip(got, want)), "grouped_all_reduce %s" % op)
try:
    dist.grouped_all_reduce(group[:3] if RANK == 1 else group)
    check(False, "grouped mismatch detected")
except tf.errors.InvalidArgumentError as e:
    check("rank 1:" in str(e) and "of 3 tensors" in str(e), "grouped mismatch names ranks: %s" % e)
try:
    dist.grouped_all_reduce([])
    check(False, "empty group refused")
except tf.errors.InvalidArgumentError as e:
    check("n = 0" in str(e), "empty group message: %s" % e)
# the tape's structure: None stays None, nesting kept
nested = dist._reduce_structure({"a": [group[0], None], "b": (group[1],), "c": None}, "sum")
check(nested["c"] is None and nested["a"][1] is None and isinstance(nested["b"], tuple)
      and nested["b"][0].tolist() == 9 and abs(nested["a"][0].tolist()[1][0] - 2.6) < 1e-6,
      "gradient structure kept")
check(dist._reduce_structure([None, None], "sum") == [None, None], "no gradient: no collective")

# ---- data-parallel training -------------------------------------------------------------
rng = random.Random(7)
N_IN, N_HIDDEN, N_OUT, GLOBAL_BATCH, STEPS, LR = 64, 32, 10, 64, 30, 0.1
data = [[rng.gauss(0, 1) for _ in range(N_IN)] for _ in range(GLOBAL_BATCH * STEPS)]
labels = [max(range(N_OUT), key=lambda k: abs(row[k])) for row in data]  # a learnable rule
init = [[[rng.gauss(0, 0.1) for _ in range(N_HIDDEN)] for _ in range(N_IN)], [0.0] * N_HIDDEN,
        [[rng.gauss(0, 0.1) for _ in range(N_OUT)] for _ in range(N_HIDDEN)], [0.0] * N_OUT]


def flat(v):
    return [y for x in v for y in flat(x)] if isinstance(v, list) else [v]


def loss_fn(params, xb, yb):
    w1, b1, w2, b2 = params
    h = tf.nn.relu(tf.matmul(xb, w1) + b1)
    logits = tf.matmul(h, w2) + b2
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits))


def train(distributed):
    # Each rank starts from its own values; broadcast makes them rank 0's.
    shift = 1.0 if distributed and RANK != 0 else 0.0
    params = [tf.Variable(tf.constant(a, dtype=tf.float32) + shift) for a in init]
    if distributed:
        dist.broadcast_variables(params, root=0)
    half = GLOBAL_BATCH // SIZE
    for step in range(STEPS):
        lo = step * GLOBAL_BATCH + (RANK * half if distributed else 0)
        hi = lo + (half if distributed else GLOBAL_BATCH)
        with tf.GradientTape() as tape:
            loss = loss_fn(params, tf.constant(data[lo:hi], dtype=tf.float32),
                           tf.constant(labels[lo:hi], dtype=tf.int32))
        if distributed:
            tape = dist.DistributedGradientTape(tape)
        grads = tape.gradient(loss, params)
        for v, gr in zip(params, grads):
            v.assign_sub(gr * LR)
    return [flat(v.read_value().tolist()) for v in params]


parallel = train(True)
single = train(False)
for i, (a, b) in enumerate(zip(parallel, single)):
    err = max(abs(p - q) for p, q in zip(a, b))
    check(err <= 1e-5, "weights %d differ from one process's by %g" % (i, err))
moved = max(abs(p - q) for p, q in zip(parallel[0], flat(init[0])))
check(moved > 1e-3, "training moved the weights (%g)" % moved)
both = dist.all_gather(tf.constant([parallel[2]])).tolist()
check(both[0] == both[1], "ranks end with identical weights")

print("rank %d: %s" % (RANK, "FAILED: %s" % failures if failures else "ok"))
sys.exit(1 if failures else 0)
