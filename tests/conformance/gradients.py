"""The same functions differentiated under TensorFlow and under ctensor.

    python gradients.py --framework tensorflow|ctensor [--only SUBSTRING]

imports that framework as `tf`, builds every case below from a fixed seed
and prints one line per observation,

    gradients<TAB>CASE:MODE/KEY<TAB>JSON

where KEY is a source's name (its gradient), `value` (the target, so that a
difference in the function itself shows up as such) or `error` (an
exception the case raised), and JSON is one of

    {"dtype": "float32", "shape": [2, 3], "values": [...]}   a tensor
    {"none": true}                                           None
    {"error": "RuntimeError", "bases": [...], "message": "..."}
    {"structure": "..."}                                     the result's nesting

compare_gradients.py sets the two outputs side by side.

Inputs come from Python's `random`, seeded per case from SEED and the
case's name (so adding a case changes no other case's inputs), and are
rounded to float32 here, so both frameworks see bit-identical inputs and
neither framework's random generator is involved. Every op case runs twice:
MODE `tensor` (sources are constants, `tape.watch`ed) and MODE `variable`
(sources are `tf.Variable`s, watched because the tape accesses them).
Sources are passed to `tape.gradient` as a dict, so the result's structure
is exercised too; a few cases pass a list, a tuple or a single tensor.
"""
import contextlib
import json
import os
import random
import struct
import sys

SEED = 20240610
CASES = []


def case(name, modes=("tensor", "variable")):
    def register(fn):
        CASES.append((name, fn, modes))
        return fn
    return register


def f32(v):
    """v rounded to the nearest float32 (both frameworks then convert it
    exactly)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def nest(flat, shape):
    """A flat list as nested lists of `shape`."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Case:
    """What a case function gets: the framework, its random numbers, and
    helpers to make sources in the current mode and record results."""

    def __init__(self, tf, name, mode, emit):
        self.tf = tf
        self.name = name
        self.mode = mode
        self.rng = random.Random("%d:%s" % (SEED, name))
        self._emit = emit
        self.sources = {}

    # -- inputs -----------------------------------------------------------
    def values(self, shape, lo=-1.0, hi=1.0, choices=None):
        n = count(shape)
        if choices is not None:
            flat = [f32(self.rng.choice(choices)) for _ in range(n)]
        else:
            flat = [f32(self.rng.uniform(lo, hi)) for _ in range(n)]
        return nest(flat, list(shape))

    def const(self, shape, lo=-1.0, hi=1.0, dtype=None, choices=None):
        return self.tf.constant(self.values(shape, lo, hi, choices), dtype=dtype or self.tf.float32)

    def source(self, name, value, dtype=None):
        """A source named `name`: a constant (watched later) or a
        tf.Variable, by mode. `value` is nested lists or a shape tuple
        (then uniform in [-1, 1])."""
        tf = self.tf
        if isinstance(value, tuple):
            value = self.values(value)
        t = tf.constant(value, dtype=dtype or tf.float32)
        s = tf.Variable(t) if self.mode == "variable" else t
        self.sources[name] = s
        return s

    @contextlib.contextmanager
    def tape(self, **kwargs):
        """A GradientTape that watches this case's tensor sources on entry
        (variables are watched because the tape sees them read)."""
        with self.tf.GradientTape(**kwargs) as tape:
            if self.mode == "tensor":
                for s in self.sources.values():
                    tape.watch(s)
            yield tape

    # -- results ----------------------------------------------------------
    def record(self, key, value):
        self._emit("%s:%s/%s" % (self.name, self.mode, key), describe(self.tf, value))

    def record_all(self, grads, prefix=""):
        for k, g in grads.items():
            self.record(prefix + k, g)

    def grad(self, f, record_structure=False, **tape_kwargs):
        """Differentiates f(**sources) w.r.t. all sources (as a dict) and
        records the target and every gradient."""
        with self.tape(**tape_kwargs) as tape:
            y = f(**self.sources)
        self.record("value", y)
        grads = tape.gradient(y, dict(self.sources))
        if record_structure:
            self.record("structure", structure(grads))
        self.record_all(grads)
        return grads


def structure(x):
    """The nesting of a result with its leaves as `*` (None as `None`)."""
    if isinstance(x, dict):
        return {"structure": "{%s}" % ", ".join("%s: %s" % (k, structure(x[k])["structure"]) for k in sorted(x))}
    if isinstance(x, (list, tuple)):
        inner = ", ".join(structure(v)["structure"] for v in x)
        return {"structure": ("[%s]" if isinstance(x, list) else "(%s)") % inner}
    return {"structure": "None" if x is None else "*"}


def flatten(v):
    if isinstance(v, list):
        out = []
        for e in v:
            out.extend(flatten(e))
        return out
    return [v]


def describe(tf, value):
    if isinstance(value, dict) and ("structure" in value or "error" in value):
        return value
    if value is None:
        return {"none": True}
    if type(value).__name__ == "IndexedSlices":
        # TensorFlow's gather gradient; ctensor's is dense (docs/tf-differences.md, D-GRAD-DENSE).
        value = tf.convert_to_tensor(value)
    if hasattr(value, "read_value"):
        value = value.read_value()
    if hasattr(value, "tolist") and not hasattr(value, "_numpy"):
        nested = value.tolist()
    else:
        nested = value.numpy().tolist()
    return {"dtype": value.dtype.name, "shape": [int(d) for d in value.shape],
            "values": [float(v) for v in flatten(nested)]}


def error_record(exc, message=True):
    """An exception: its type, the built-in classes it derives from, and
    its message (compared as a prefix), or with message=False only shown
    (`detail`), where TensorFlow's text is an accident of its internals."""
    bases = [c.__name__ for c in type(exc).__mro__[1:] if c.__module__ == "builtins" and c is not object]
    msg = (getattr(exc, "message", None) or str(exc)).strip()
    if message:
        return {"error": type(exc).__name__, "bases": bases, "message": msg}
    return {"error": type(exc).__name__, "bases": bases, "detail": msg}


# ---------------------------------------------------------------------------
# Binary ops, with broadcasting on both sides ([2, 1, 3] and [4, 3] give
# [2, 4, 3]); the target is weighted so the upstream gradient is not ones.
# ---------------------------------------------------------------------------

def binary_case(name, op, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0), y_sign=False, xs=(2, 1, 3), ys=(4, 3),
                dtype="float32"):
    @case(name)
    def run(c):
        tf = c.tf
        dt = getattr(tf, dtype)
        c.source("x", c.values(xs, *x_range), dtype=dt)
        yv = c.values(ys, *y_range)
        if y_sign:
            yv = nest([v if c.rng.random() < 0.5 else -v for v in flatten(yv)], list(ys))
        c.source("y", yv, dtype=dt)
        out_shape = [max(a, b) for a, b in zip((1,) * (3 - len(xs)) + tuple(xs), (1,) * (3 - len(ys)) + tuple(ys))]
        w = c.const(out_shape, dtype=dt)
        c.grad(lambda x, y: getattr(tf, op)(x, y) * w)


binary_case("add.broadcast", "add")
binary_case("subtract.broadcast", "subtract")
binary_case("multiply.broadcast", "multiply")
binary_case("divide.broadcast", "divide", y_range=(0.5, 2.0), y_sign=True)
binary_case("pow.broadcast", "pow", x_range=(0.5, 2.0), y_range=(-2.0, 2.0))
binary_case("maximum.broadcast", "maximum")
binary_case("minimum.broadcast", "minimum")
binary_case("add.scalar_y", "add", xs=(2, 3), ys=())
binary_case("multiply.scalar_x", "multiply", xs=(), ys=(2, 3))
binary_case("multiply.float64", "multiply", dtype="float64")
binary_case("divide.float64", "divide", y_range=(0.5, 2.0), y_sign=True, dtype="float64")
binary_case("pow.float64", "pow", x_range=(0.5, 2.0), y_range=(-2.0, 2.0), dtype="float64")


@case("pow.nonpositive_base")
def _(c):
    # x <= 0 with integral exponents: d/dy uses log(x), which TensorFlow
    # replaces by 0 where x <= 0.
    tf = c.tf
    c.source("x", [[-1.5, 0.0, 2.0], [-0.5, 0.0, 1.25]])
    c.source("y", [[2.0, 2.0, 3.0], [3.0, 3.0, 2.0]])
    c.grad(lambda x, y: tf.pow(x, y))


for _op in ("maximum", "minimum"):
    def _ties(op):
        @case(op + ".ties")
        def run(c):
            # Equal elements: TensorFlow gives the whole gradient to x.
            tf = c.tf
            c.source("x", [[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
            c.source("y", [[1.0, -3.0, 0.5], [2.0, 0.0, 4.0]])
            w = c.const((2, 3))
            c.grad(lambda x, y: getattr(tf, op)(x, y) * w)
    _ties(_op)


# ---------------------------------------------------------------------------
# Unary ops
# ---------------------------------------------------------------------------

def unary_case(name, f, lo=-2.0, hi=2.0, value=None):
    @case(name)
    def run(c):
        tf = c.tf
        c.source("x", value if value is not None else c.values((2, 3), lo, hi))
        w = c.const((2, 3))
        c.grad(lambda x: f(tf)(x) * w)


unary_case("negative", lambda tf: tf.negative)
unary_case("abs", lambda tf: tf.abs)
unary_case("abs.at_zero", lambda tf: tf.abs, value=[[0.0, -1.0, 2.0], [-0.0, 0.5, 0.0]])
unary_case("exp", lambda tf: tf.exp)
unary_case("log", lambda tf: tf.math.log, lo=0.1, hi=3.0)
unary_case("sqrt", lambda tf: tf.sqrt, lo=0.1, hi=3.0)
unary_case("tanh", lambda tf: tf.tanh)
unary_case("sigmoid", lambda tf: tf.sigmoid)
unary_case("relu", lambda tf: tf.nn.relu)
unary_case("relu.at_zero", lambda tf: tf.nn.relu, value=[[0.0, -1.0, 2.0], [-0.0, 0.5, 0.0]])
unary_case("square", lambda tf: tf.square)
unary_case("operators", lambda tf: (lambda x: -(x * x - 2.0 * x + 1.0) / (x * x + 1.0)))


# ---------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------

def matmul_case(name, ashape, bshape, **kw):
    @case(name)
    def run(c):
        tf = c.tf
        c.source("a", ashape)
        c.source("b", bshape)
        probe = tf.matmul(tf.constant(c.values(ashape)), tf.constant(c.values(bshape)), **kw)
        w = c.const(tuple(int(d) for d in probe.shape))
        c.grad(lambda a, b: tf.matmul(a, b, **kw) * w)


matmul_case("matmul", (3, 4), (4, 5))
matmul_case("matmul.transpose_a", (4, 3), (4, 5), transpose_a=True)
matmul_case("matmul.transpose_b", (3, 4), (5, 4), transpose_b=True)
matmul_case("matmul.transpose_ab", (4, 3), (5, 4), transpose_a=True, transpose_b=True)
matmul_case("matmul.batched", (2, 3, 4), (2, 4, 5))
matmul_case("matmul.batch_broadcast_rank", (2, 3, 4), (4, 5))
matmul_case("matmul.batch_broadcast_dims", (2, 1, 3, 4), (3, 4, 2))
matmul_case("matmul.batch_broadcast_transpose_b", (3, 2, 4), (1, 5, 4), transpose_b=True)
matmul_case("matmul.batch_broadcast_transpose_a", (1, 4, 3), (2, 4, 5), transpose_a=True)


# ---------------------------------------------------------------------------
# Reductions, with axes, keepdims and ties
# ---------------------------------------------------------------------------

def reduce_case(name, op, axis, keepdims, choices=None):
    @case(name)
    def run(c):
        tf = c.tf
        c.source("x", c.values((2, 3, 4), choices=choices))
        probe = getattr(tf, op)(tf.zeros((2, 3, 4)), axis=axis, keepdims=keepdims)
        w = c.const(tuple(int(d) for d in probe.shape))
        c.grad(lambda x: getattr(tf, op)(x, axis=axis, keepdims=keepdims) * w)


for _op in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min"):
    reduce_case(_op + ".all", _op, None, False)
    reduce_case(_op + ".axis0", _op, 0, False)
    reduce_case(_op + ".axis_neg1_keepdims", _op, -1, True)
    reduce_case(_op + ".axes02", _op, [0, 2], False)
    reduce_case(_op + ".axes12_keepdims", _op, [1, 2], True)
for _op in ("reduce_max", "reduce_min"):
    # Few distinct values: ties in most reduced groups; TensorFlow splits
    # the gradient evenly among them.
    reduce_case(_op + ".ties.all", _op, None, False, choices=(-1.0, 0.5, 1.0))
    reduce_case(_op + ".ties.axis1", _op, 1, False, choices=(-1.0, 0.5, 1.0))
    reduce_case(_op + ".ties.axes02_keepdims", _op, [0, 2], True, choices=(-1.0, 0.5, 1.0))


# ---------------------------------------------------------------------------
# softmax family and the cross-entropies
# ---------------------------------------------------------------------------

@case("softmax")
def _(c):
    tf = c.tf
    c.source("x", c.values((3, 5), -3.0, 3.0))
    w = c.const((3, 5))
    c.grad(lambda x: tf.nn.softmax(x) * w)


@case("log_softmax")
def _(c):
    tf = c.tf
    c.source("x", c.values((3, 5), -3.0, 3.0))
    w = c.const((3, 5))
    c.grad(lambda x: tf.nn.log_softmax(x) * w)


@case("softmax.axis0")
def _(c):
    tf = c.tf
    c.source("x", c.values((3, 5), -3.0, 3.0))
    w = c.const((3, 5))
    c.grad(lambda x: tf.nn.softmax(x, axis=0) * w)


@case("log_softmax.axis0")
def _(c):
    tf = c.tf
    c.source("x", c.values((3, 5), -3.0, 3.0))
    w = c.const((3, 5))
    c.grad(lambda x: tf.nn.log_softmax(x, axis=0) * w)


@case("sparse_softmax_cross_entropy_with_logits")
def _(c):
    tf = c.tf
    c.source("logits", c.values((4, 5), -3.0, 3.0))
    labels = tf.constant([c.rng.randrange(5) for _ in range(4)], dtype=tf.int32)
    w = c.const((4,))
    c.grad(lambda logits: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits) * w)


@case("softmax_cross_entropy_with_logits")
def _(c):
    tf = c.tf
    c.source("logits", c.values((4, 5), -3.0, 3.0))
    raw = [[c.rng.uniform(0.0, 1.0) for _ in range(5)] for _ in range(4)]
    c.source("labels", [[f32(v / sum(row)) for v in row] for row in raw])
    w = c.const((4,))
    c.grad(lambda logits, labels: tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits) * w)


@case("softmax_cross_entropy_with_logits.constant_labels")
def _(c):
    tf = c.tf
    c.source("logits", c.values((4, 5), -3.0, 3.0))
    labels = tf.one_hot(tf.constant([0, 4, 2, 2], dtype=tf.int32), 5)
    c.grad(lambda logits: tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)))


# ---------------------------------------------------------------------------
# Casts and shape ops
# ---------------------------------------------------------------------------

@case("cast.float64_to_float32")
def _(c):
    tf = c.tf
    c.source("x", c.values((2, 3)), dtype=tf.float64)
    w = c.const((2, 3))
    c.grad(lambda x: tf.cast(x, tf.float32) * w)


@case("cast.float32_to_float64")
def _(c):
    tf = c.tf
    c.source("x", (2, 3))
    w = c.const((2, 3), dtype=tf.float64)
    c.grad(lambda x: tf.cast(x, tf.float64) * w)


@case("cast.float32_to_int32")
def _(c):
    # No gradient through a cast to an integer: None.
    tf = c.tf
    c.source("x", c.values((2, 3), -3.0, 3.0))
    c.grad(lambda x: tf.cast(tf.cast(x, tf.int32), tf.float32) * 2.0)


def shape_case(name, xshape, f, wshape):
    @case(name)
    def run(c):
        tf = c.tf
        c.source("x", xshape)
        w = c.const(wshape)
        c.grad(lambda x: f(tf, x) * w)


shape_case("reshape", (2, 3, 2), lambda tf, x: tf.reshape(x, [3, -1]), (3, 4))
shape_case("transpose", (2, 3, 4), lambda tf, x: tf.transpose(x, perm=[2, 0, 1]), (4, 2, 3))
shape_case("transpose.default_perm", (2, 3), lambda tf, x: tf.transpose(x), (3, 2))
shape_case("slice", (3, 4, 2), lambda tf, x: tf.slice(x, [1, 0, 1], [2, -1, 1]), (2, 4, 1))
shape_case("expand_dims", (2, 3), lambda tf, x: tf.expand_dims(x, 1), (2, 1, 3))
shape_case("expand_dims.neg", (2, 3), lambda tf, x: tf.expand_dims(x, -1), (2, 3, 1))
shape_case("squeeze.axis", (2, 1, 3, 1), lambda tf, x: tf.squeeze(x, axis=[1]), (2, 3, 1))
shape_case("squeeze.all", (2, 1, 3, 1), lambda tf, x: tf.squeeze(x), (2, 3))
shape_case("broadcast_to", (1, 3), lambda tf, x: tf.broadcast_to(x, [2, 3]), (2, 3))
shape_case("broadcast_to.rank", (3,), lambda tf, x: tf.broadcast_to(x, [2, 4, 3]), (2, 4, 3))
shape_case("broadcast_to.middle", (2, 1, 3), lambda tf, x: tf.broadcast_to(x, [2, 4, 3]), (2, 4, 3))


@case("concat")
def _(c):
    tf = c.tf
    c.source("a", (2, 1))
    c.source("b", (2, 3))
    c.source("c", (2, 2))
    w = c.const((2, 6))
    c.grad(lambda a, b, c: tf.concat([a, b, c], axis=1) * w)


@case("concat.axis0_neg")
def _(c):
    tf = c.tf
    c.source("a", (1, 3))
    c.source("b", (2, 3))
    w = c.const((3, 3))
    c.grad(lambda a, b: tf.concat([a, b], axis=-2) * w)


@case("stack")
def _(c):
    tf = c.tf
    c.source("a", (2, 3))
    c.source("b", (2, 3))
    c.source("c", (2, 3))
    w = c.const((2, 3, 3))
    c.grad(lambda a, b, c: tf.stack([a, b, c], axis=1) * w)


@case("stack.same_source_twice")
def _(c):
    tf = c.tf
    c.source("a", (3,))
    w = c.const((2, 3))
    c.grad(lambda a: tf.stack([a, a * 2.0]) * w)


@case("gather.axis0")
def _(c):
    tf = c.tf
    c.source("params", (4, 3))
    idx = tf.constant([2, 0, 2, 3, 2], dtype=tf.int32)
    w = c.const((5, 3))
    c.grad(lambda params: tf.gather(params, idx) * w)


@case("gather.axis1")
def _(c):
    tf = c.tf
    c.source("params", (2, 4, 3))
    idx = tf.constant([[1, 1], [3, 0]], dtype=tf.int32)
    w = c.const((2, 2, 2, 3))
    c.grad(lambda params: tf.gather(params, idx, axis=1) * w)


@case("clip_by_value")
def _(c):
    # Elements below, at, inside and above the bounds [-0.5, 0.5]: the
    # gradient passes at the bounds and inside.
    tf = c.tf
    c.source("x", [[-1.0, -0.5, -0.25, 0.0], [0.25, 0.5, 0.75, 0.5]])
    w = c.const((2, 4))
    c.grad(lambda x: tf.clip_by_value(x, -0.5, 0.5) * w)


@case("clip_by_value.bound_sources", modes=("tensor",))
def _(c):
    # TensorFlow also differentiates w.r.t. tensor bounds (the clipped
    # elements' gradient goes to the bound).
    tf = c.tf
    c.source("x", [[-1.0, -0.5, -0.25, 0.0], [0.25, 0.5, 0.75, 0.5]])
    c.source("lo", -0.5)
    c.source("hi", 0.5)
    w = c.const((2, 4))
    c.grad(lambda x, lo, hi: tf.clip_by_value(x, lo, hi) * w)


@case("where")
def _(c):
    tf = c.tf
    c.source("x", (2, 3))
    c.source("y", (2, 3))
    cond = tf.constant([[True, False, True], [False, False, True]])
    w = c.const((2, 3))
    c.grad(lambda x, y: tf.where(cond, x, y) * w)


@case("where.broadcast")
def _(c):
    tf = c.tf
    c.source("x", (1, 3))
    c.source("y", (2, 1))
    cond = tf.constant([[True, False, True], [False, False, True]])
    w = c.const((2, 3))
    c.grad(lambda x, y: tf.where(cond, x, y) * w)


@case("unsorted_segment_sum")
def _(c):
    # A negative id drops its row (gradient 0 there).
    tf = c.tf
    c.source("data", (5, 3))
    ids = tf.constant([0, 2, -1, 0, 1], dtype=tf.int32)
    w = c.const((3, 3))
    c.grad(lambda data: tf.math.unsorted_segment_sum(data, ids, 3) * w)


# ---------------------------------------------------------------------------
# The tape itself
# ---------------------------------------------------------------------------

@case("target.non_scalar")
def _(c):
    tf = c.tf
    c.source("x", (2, 3))
    c.grad(lambda x: x * x)


@case("target.list")
def _(c):
    # Several targets count as their sum.
    tf = c.tf
    x = c.source("x", (2, 3))
    with c.tape() as tape:
        t1 = tf.reduce_sum(x * x)
        t2 = tf.exp(x)
    c.record("x", tape.gradient([t1, t2], x))


@case("output_gradients")
def _(c):
    tf = c.tf
    x = c.source("x", (2, 3))
    u = c.const((2, 3))
    with c.tape() as tape:
        y = tf.tanh(x) * 3.0
    c.record("x", tape.gradient(y, x, output_gradients=u))


@case("unconnected.none")
def _(c):
    tf = c.tf
    c.source("x", (2, 3))
    c.source("z", (3,))
    c.grad(lambda x, z: tf.reduce_sum(x * x))


@case("unconnected.zero")
def _(c):
    tf = c.tf
    x = c.source("x", (2, 3))
    z = c.source("z", (3,))
    with c.tape() as tape:
        y = tf.reduce_sum(x * x)
    grads = tape.gradient(y, {"x": x, "z": z}, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    c.record_all(grads)


@case("unconnected.target_not_recorded")
def _(c):
    # A target computed before the tape existed: None for the source.
    tf = c.tf
    x = c.source("x", (2, 3))
    y = tf.reduce_sum(x * x)
    with c.tape() as tape:
        pass
    c.record("x", tape.gradient(y, x))


@case("source.int32")
def _(c):
    # Integer sources get None (TensorFlow warns when one is watched).
    tf = c.tf
    c.source("i", [[1, 2, 3], [4, 5, 6]], dtype=tf.int32)
    c.source("x", (2, 3))
    c.grad(lambda i, x: tf.cast(i, tf.float32) * x)


@case("stop_gradient")
def _(c):
    tf = c.tf
    c.source("x", (2, 3))
    c.grad(lambda x: x * tf.stop_gradient(x) + tf.stop_gradient(tf.exp(x)))


@case("sources.list")
def _(c):
    tf = c.tf
    a = c.source("a", (2, 3))
    b = c.source("b", (3,))
    with c.tape() as tape:
        y = tf.reduce_sum(a * b)
    g = tape.gradient(y, [a, b])
    c.record("structure", structure(g))
    c.record("a", g[0])
    c.record("b", g[1])


@case("sources.tuple_nested")
def _(c):
    tf = c.tf
    a = c.source("a", (2, 3))
    b = c.source("b", (3,))
    with c.tape() as tape:
        y = tf.reduce_sum(tf.tanh(a) * b)
    g = tape.gradient(y, (a, {"inner": [b]}))
    c.record("structure", structure(g))
    c.record("a", g[0])
    c.record("b", g[1]["inner"][0])


@case("tape.persistent")
def _(c):
    tf = c.tf
    x = c.source("x", (2, 3))
    with c.tape(persistent=True) as tape:
        y = x * x
        z = tf.exp(y)
    c.record("dy_dx", tape.gradient(y, x))
    c.record("dz_dx", tape.gradient(z, x))
    c.record("dz_dy", tape.gradient(z, y))
    c.record("dy_dx.again", tape.gradient(y, x))


@case("tape.non_persistent_twice")
def _(c):
    tf = c.tf
    x = c.source("x", (2, 3))
    with c.tape() as tape:
        y = tf.reduce_sum(x * x)
    c.record("first", tape.gradient(y, x))
    try:
        second = tape.gradient(y, x)
    except Exception as exc:  # noqa: BLE001 - the exception is the observation
        c.record("second", error_record(exc))
    else:
        c.record("second", second)


@case("tape.stop_recording")
def _(c):
    tf = c.tf
    x = c.source("x", (2, 3))
    with c.tape() as tape:
        y = x * x
        with tape.stop_recording():
            z = tf.exp(x)
        t = y + z
    c.record("x", tape.gradient(t, x))


# Second derivatives: an outer tape differentiates an inner tape's gradient.

def second_order_case(name, f, shape=(2, 3), lo=-1.0, hi=1.0):
    @case(name)
    def run(c):
        tf = c.tf
        x = c.source("x", c.values(shape, lo, hi))
        v = c.const(shape)
        with c.tape() as outer:
            with c.tape() as inner:
                y = f(tf, x)
            dy = inner.gradient(y, x)
            # A weighted sum, so that the outer gradient is a Hessian-vector
            # product (the plain sum of a softmax's gradient is constant).
            t = tf.reduce_sum(dy * v)
        c.record("first", dy)
        c.record("second", outer.gradient(t, x))


second_order_case("nested.cube", lambda tf, x: x * x * x)
second_order_case("nested.tanh", lambda tf, x: tf.tanh(x))
second_order_case("nested.sigmoid", lambda tf, x: tf.sigmoid(x))
second_order_case("nested.exp_log", lambda tf, x: tf.exp(x) + tf.math.log(x), lo=0.2, hi=2.0)
second_order_case("nested.sqrt", lambda tf, x: tf.sqrt(x), lo=0.2, hi=2.0)
second_order_case("nested.div", lambda tf, x: 1.0 / x, lo=0.5, hi=2.0)
second_order_case("nested.pow", lambda tf, x: tf.pow(x, 3.5), lo=0.5, hi=2.0)
second_order_case("nested.softmax", lambda tf, x: tf.nn.softmax(x) * tf.constant([[1.0, -2.0, 0.5]]))
second_order_case("nested.log_softmax", lambda tf, x: tf.nn.log_softmax(x) * tf.constant([[1.0, -2.0, 0.5]]))
second_order_case("nested.reduce_mean_square", lambda tf, x: tf.reduce_mean(tf.square(x), axis=1))
second_order_case("nested.matmul_tanh",
                  lambda tf, x: tf.tanh(tf.matmul(x, tf.constant([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]]))))
second_order_case("nested.sparse_xent",
                  lambda tf, x: tf.nn.sparse_softmax_cross_entropy_with_logits(
                      labels=tf.constant([2, 0], dtype=tf.int32), logits=x))


@case("nested.mixed_partial")
def _(c):
    # d/dy (d/dx x*y*y) = 2y, through two different sources.
    tf = c.tf
    x = c.source("x", (3,))
    y = c.source("y", (3,))
    v = c.const((3,))
    with c.tape() as outer:
        with c.tape() as inner:
            t = tf.reduce_sum(x * y * y)
        dx = inner.gradient(t, x)
        s = tf.reduce_sum(dx * v)
    c.record("dx", dx)
    c.record("d2_dxdy", outer.gradient(s, y))


@case("mlp")
def _(c):
    # A 2-layer MLP's mean cross-entropy w.r.t. its weights and biases.
    tf = c.tf
    x = c.const((6, 4))
    labels = tf.constant([c.rng.randrange(3) for _ in range(6)], dtype=tf.int32)
    c.source("w1", c.values((4, 5), -0.8, 0.8))
    c.source("b1", c.values((5,), -0.1, 0.1))
    c.source("w2", c.values((5, 3), -0.8, 0.8))
    c.source("b2", c.values((3,), -0.1, 0.1))

    def loss(w1, b1, w2, b2):
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        logits = tf.matmul(h, w2) + b2
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    c.grad(loss, record_structure=True)


@case("mlp.watched_variables", modes=("variable",))
def _(c):
    # The variables a tape saw, in order (watch_accessed_variables).
    tf = c.tf
    x = c.const((2, 3))
    w = c.source("w", (3, 2))
    b = c.source("b", (2,))
    with c.tape() as tape:
        y = tf.reduce_sum(tf.tanh(tf.matmul(x, w) + b))
    names = [[int(d) for d in v.shape] for v in tape.watched_variables()]
    c.record("watched_shapes", {"structure": json.dumps(names)})
    g = tape.gradient(y, tape.watched_variables())
    c.record("w", g[0])
    c.record("b", g[1])


# ---------------------------------------------------------------------------
# Bad input: the exception's type (and, where TensorFlow's message is
# meant for users, its text) must match.
# ---------------------------------------------------------------------------

def error_case(name, body, message=True):
    @case(name, modes=("tensor",))
    def run(c):
        try:
            result = body(c, c.tf)
        except Exception as exc:  # noqa: BLE001 - the exception is the observation
            c.record("raises", error_record(exc, message))
        else:
            c.record("raises", {"structure": "no exception"})
            c.record("result", result)


def _watched_double(c, tf):
    x = c.source("x", (1, 3))
    with c.tape() as tape:
        y = x * 2.0
    return tape, x, y


def _og_wrong_shape(c, tf):
    tape, x, y = _watched_double(c, tf)
    return tape.gradient(y, x, output_gradients=tf.constant([1.0, 2.0]))


def _source_float(c, tf):
    tape, x, y = _watched_double(c, tf)
    return tape.gradient(y, 3.0)


def _source_str(c, tf):
    tape, x, y = _watched_double(c, tf)
    return tape.gradient(y, "x")


def _target_float(c, tf):
    tape, x, y = _watched_double(c, tf)
    return tape.gradient(3.0, x)


def _watch_float(c, tf):
    with tf.GradientTape() as tape:
        tape.watch(3.0)


def _inside_tape(c, tf):
    # Asked while the (non-persistent) tape still records: an answer.
    x = c.source("x", (1, 3))
    with c.tape() as tape:
        y = x * x
        return tape.gradient(y, x)


def _assign_float64(c, tf):
    v = tf.Variable([1.0, 2.0])
    v.assign(tf.constant([1.0, 2.0], dtype=tf.float64))


def _assign_shape(c, tf):
    v = tf.Variable([1.0, 2.0])
    v.assign([1.0, 2.0, 3.0])


error_case("errors.output_gradients_shape", _og_wrong_shape, message=False)
error_case("errors.source_float", _source_float, message=False)
error_case("errors.source_str", _source_str, message=False)
error_case("errors.target_float", _target_float, message=False)
error_case("errors.watch_float", _watch_float)
error_case("errors.gradient_inside_tape", _inside_tape)
error_case("errors.assign_float64", _assign_float64)
error_case("errors.assign_shape", _assign_shape)


def main(argv):
    framework = None
    only = None
    i = 0
    while i < len(argv):
        if argv[i] == "--framework":
            framework = argv[i + 1]
            i += 2
        elif argv[i] == "--only":
            only = argv[i + 1]
            i += 2
        else:
            sys.exit("usage: gradients.py --framework tensorflow|ctensor [--only SUBSTRING]")
    if framework == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
    elif framework == "ctensor":
        import ctensor as tf
    else:
        sys.exit("gradients.py: --framework tensorflow or ctensor")

    def emit(key, value):
        print("gradients\t%s\t%s" % (key, json.dumps(value, sort_keys=True)), flush=True)

    for name, fn, modes in CASES:
        if only and only not in name:
            continue
        for mode in modes:
            c = Case(tf, name, mode, emit)
            try:
                fn(c)
            except Exception as exc:  # noqa: BLE001 - a failing case is an observation
                c.record("error", error_record(exc))


if __name__ == "__main__":
    main(sys.argv[1:])
