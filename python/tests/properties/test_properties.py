"""Property tests: every op of the Python module against NumPy (Hypothesis).

Each test draws shapes (zero-size ones and broadcasting included), dtypes,
axes and values (NaN, +-inf, subnormals, the integer extremes) and runs the
op through ctensor and through a NumPy reference, then compares the dtype,
the shape and the values, or checks that both fail. Where ctensor follows
TensorFlow rather than NumPy (true division of integers in float64, integer
division by zero is an error, reductions over empty axes give
TensorFlow's identities, no implicit dtype promotion, ...), the reference
encodes TensorFlow's rule; docs/tf-differences.md ("Where ctensor follows
TensorFlow rather than NumPy") lists them.

CTest runs it as test python_properties (cmake/parts/python_properties.cmake);
by hand: PYTHONPATH=build/python python3 -m unittest discover -s
python/tests/properties. Examples per op: 200 (CT_HYPOTHESIS_EXAMPLES
raises it for long runs). Failing examples are kept in <build>/hypothesis-db
and replayed first. Needs NumPy and Hypothesis (Debian python3-numpy,
python3-hypothesis); without them the module is skipped with a message
saying so.
"""

import builtins
import functools
import itertools
import os
import sys
import tempfile
import unittest
import warnings

_missing = []
try:
    import numpy as np
except ImportError:
    np = None
    _missing.append("python3-numpy")
try:
    from hypothesis import HealthCheck, assume, given, note, settings, strategies as st
    from hypothesis.database import DirectoryBasedExampleDatabase
    from hypothesis.extra import numpy as hnp
except ImportError:
    _missing.append("python3-hypothesis")
if _missing:
    _why = ("property tests against NumPy skipped: %s not installed for %s (Debian: apt-get install %s)"
            % (" and ".join(_missing), sys.executable, " ".join(_missing)))
    sys.stderr.write("test_properties: %s\n" % _why)
    raise unittest.SkipTest(_why)

import ctensor as tf  # noqa: E402

EXAMPLES = int(os.environ.get("CT_HYPOTHESIS_EXAMPLES", "200"))
_DB = os.path.join(os.environ.get("CT_BINARY_DIR") or tempfile.gettempdir(), "hypothesis-db")
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=DirectoryBasedExampleDatabase(_DB),
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("int32", "int64")
NUMERIC = FLOATS + INTS
ALL = NUMERIC + ("bool",)
InvalidArgument = tf.errors.InvalidArgumentError

# NumPy has no bfloat16: its values travel as float32 arrays whose low 16
# bits are zero (the "carrier"), and come back from Tensor.numpy() that way.
CARRIER = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": np.float32,
           "int32": np.int32, "int64": np.int64, "bool": np.bool_}
INT_RANGE = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
# The smallest normal number: below it two results may differ by a flushed
# or rounded subnormal and still both be right.
TINY = {"float32": np.finfo(np.float32).tiny, "float64": np.finfo(np.float64).tiny,
        "float16": np.finfo(np.float16).tiny, "bfloat16": np.finfo(np.float32).tiny}
EPS = {"float32": 2.0**-23, "float64": 2.0**-52, "float16": 2.0**-10, "bfloat16": 2.0**-7}
FMAX = {"float32": float(np.finfo(np.float32).max), "float64": float(np.finfo(np.float64).max),
        "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


def bf16(a):
    """float32 values rounded to the nearest bfloat16 (ties to even),
    returned as float32; NaN stays NaN, overflow gives +-inf."""
    a = np.asarray(a, np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    one, half, mask = np.uint64(1), np.uint64(0x7FFF), np.uint64(0xFFFF0000)
    r = ((u + half + ((u >> np.uint64(16)) & one)) & mask).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), np.float32(np.nan), r)


def round_to(a, dtype):
    """A reference computed in a wider type, rounded to `dtype` (as its
    carrier). 16-bit floats are reached through float32, as ctensor and
    TensorFlow round float64 to them."""
    a = np.asarray(a)
    if dtype == "bfloat16":
        return bf16(a.astype(np.float32))
    if dtype == "float16":
        return a.astype(np.float32).astype(np.float16)
    return a.astype(CARRIER[dtype])


def compute_type(dtype):
    """NumPy's type to compute a float dtype's reference in: ctensor
    computes float16 and bfloat16 in float32 and rounds once."""
    return np.float64 if dtype == "float64" else np.float32


def ct(a, dtype):
    """A ctensor tensor of `dtype` holding the carrier array `a`."""
    a = np.asarray(a, CARRIER[dtype])
    if dtype == "bfloat16":
        return tf.cast(tf.constant(a), tf.bfloat16)
    return tf.constant(a)


def _ordered(a, dtype):
    """Float values as integers that order like them (ULP distances)."""
    if dtype == "float64":
        i = np.asarray(a, np.float64).view(np.int64)
        mag = i & np.int64(0x7FFFFFFFFFFFFFFF)
    elif dtype == "float16":
        i = np.asarray(a, np.float16).view(np.int16).astype(np.int64)
        mag = i & 0x7FFF
    else:
        i = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
        mag = i & 0x7FFFFFFF
        if dtype == "bfloat16":
            mag = mag >> 16
    return np.where(i < 0, -mag, mag)


def ulp_distance(got, want, dtype):
    """|got - want| in units in the last place of `dtype` (exact while
    small; int64 arithmetic, which a float64 would round)."""
    og, ow = _ordered(got, dtype), _ordered(want, dtype)
    coarse = np.abs(og.astype(np.float64) - ow.astype(np.float64))
    small = coarse < 2.0**60
    exact = np.abs(np.where(small, og, 0) - np.where(small, ow, 0))
    return np.where(small, exact.astype(np.float64), coarse)


class Raises:
    """The expected outcome of a call that must fail."""

    def __init__(self, *exceptions):
        self.exceptions = exceptions

    def __repr__(self):
        return "Raises(%s)" % ", ".join(e.__name__ for e in self.exceptions)


def broadcast_shape(*shapes):
    """NumPy's broadcast shape, or None when the shapes do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


# ---- strategies ------------------------------------------------------------

def _float_specials(dtype):
    t = np.finfo(CARRIER[dtype] if dtype != "bfloat16" else np.float32)
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), float("-inf"),
            float(t.tiny), -float(t.tiny), float(t.max), -float(t.max), float(t.eps)]
    if dtype == "bfloat16":
        vals = [float(bf16(v)) for v in vals] + [FMAX["bfloat16"], -FMAX["bfloat16"], 2.0**-133]
    else:
        vals.append(float(t.smallest_subnormal))
    return vals


@functools.lru_cache(maxsize=None)
def elements(dtype, moderate=False):
    """Values of `dtype`: small integers (exact results, ties), moderate
    values, anything the type holds (NaN, +-inf, subnormals, extremes)."""
    if dtype == "bool":
        return st.booleans()
    if dtype in INTS:
        lo, hi = INT_RANGE[dtype]
        if moderate:
            return st.integers(-100, 100)
        return st.one_of(st.integers(-8, 8), st.integers(lo, hi), st.sampled_from([lo, hi, lo + 1, hi - 1]))
    width = {"float64": 64, "float16": 16}.get(dtype, 32)
    small = st.integers(-8, 8).map(float)
    mid = st.floats(-30, 30, width=width)
    if moderate:
        parts = [small, mid]
    else:
        parts = [small, mid, st.floats(width=width, allow_subnormal=True), st.sampled_from(_float_specials(dtype))]
    s = st.one_of(*parts)
    if dtype == "bfloat16":
        s = s.map(lambda v: float(bf16(v)))
    return s


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def arrays(dtype, shape, moderate=False, elements_=None):
    return hnp.arrays(CARRIER[dtype], shape, elements=elements_ if elements_ is not None else elements(dtype, moderate))


# ---- the comparison ----------------------------------------------------------

class PropertyCase(unittest.TestCase):
    """Helpers: compare a ctensor result with a NumPy reference."""

    def setUp(self):
        warnings.simplefilter("ignore", RuntimeWarning)
        np.seterr(all="ignore")

    def check(self, got, want, dtype, ulps=0, atol=None, loose=None):
        """got: a ctensor tensor; want: the carrier array of the expected
        values, `dtype` their ctensor dtype. Floats match when both are NaN,
        equal (so -0 == 0), within `ulps` units in the last place, or within
        `atol` (a number or an array; default: 0 for exact ops (ulps == 0),
        so that a flushed subnormal fails, else the smallest normal number).
        Where `loose` (a bool array) is true, anything is accepted: the
        finite terms of a sum overflow, so the result depends on the order
        of the additions (inf, -inf or NaN, as IEEE arithmetic gives)."""
        self.assertIsInstance(got, tf.Tensor)
        self.assertEqual(got.dtype.name, dtype, "dtype")
        want = np.asarray(want)
        self.assertEqual(got.shape, want.shape, "shape")
        g = np.asarray(got.numpy())
        if dtype not in FLOATS:
            bad = g != want
        else:
            g = g.astype(np.float64)
            w = want.astype(np.float64)
            gn, wn = np.isnan(g), np.isnan(w)
            with np.errstate(all="ignore"):
                close = (g == w) | (gn & wn)
                finite = np.isfinite(g) | np.isfinite(w)
                if ulps:
                    close |= finite & ~gn & ~wn & (ulp_distance(got.numpy(), want, dtype) <= ulps)
                tol = (TINY[dtype] if ulps else 0.0) if atol is None else atol
                close |= np.isfinite(g) & np.isfinite(w) & (np.abs(g - w) <= tol)
                if loose is not None:
                    close |= np.broadcast_to(loose, close.shape)
            bad = ~close
        if np.any(bad):
            idx = tuple(np.argwhere(bad)[0])
            self.fail("value mismatch (%s) at %s: ctensor %r, reference %r; %d of %d differ"
                      % (dtype, idx, g[idx], want[idx], int(np.sum(bad)), bad.size))

    def expect(self, thunk, want, dtype=None, **kw):
        """Runs thunk() and compares it with `want`: a Raises, or a carrier
        array of dtype `dtype`."""
        if isinstance(want, Raises):
            note("expected to raise %r" % (want,))
            try:
                r = thunk()
            except want.exceptions:
                return
            except Exception as e:  # a wrong exception: say which
                self.fail("expected %r, got %s: %s" % (want, type(e).__name__, e))
            self.fail("expected %r, got a result: %r" % (want, r))
        note("expected %s %r" % (dtype, want))
        self.check(thunk(), want, dtype, **kw)


def binary_ref(op, a, b, dtype):
    """NumPy reference of a binary op on carrier arrays a, b of `dtype`
    (the same for both): (expected array, its dtype) or a Raises."""
    out_shape = broadcast_shape(a.shape, b.shape)
    if out_shape is None:
        return Raises(InvalidArgument), None
    empty = 0 in out_shape
    comparison = op in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
    if dtype == "bool" and op not in ("equal", "not_equal"):
        return Raises(InvalidArgument), None  # TensorFlow: no bool kernels
    if comparison:
        return getattr(np, op)(a, b), "bool"
    if dtype in INTS:
        if op == "divide":  # TensorFlow's truediv: integers in float64
            return np.true_divide(a.astype(np.float64), b.astype(np.float64)), "float64"
        if op in ("floordiv", "floormod") and not empty and np.any(b == 0):
            return Raises(InvalidArgument), None  # TensorFlow's "Integer division by zero"
        if op == "pow" and not empty and np.any(b < 0):
            return Raises(InvalidArgument), None  # both TensorFlow and NumPy refuse
        f = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
             "minimum": np.minimum, "pow": np.power, "floordiv": np.floor_divide,
             "floormod": np.remainder}[op]
        return f(a, b).astype(CARRIER[dtype]), dtype
    ct_t = compute_type(dtype)
    x, y = a.astype(ct_t), b.astype(ct_t)
    if op == "pow":  # a transcendental: the reference in float64
        r = np.power(a.astype(np.float64), b.astype(np.float64))
    elif op == "floordiv":  # TensorFlow: floor(x / y); NumPy's floor_divide is divmod-based
        r = np.floor(x / y)
    elif op == "floormod":  # TensorFlow: fmod moved into y's sign
        m = np.fmod(x, y)
        r = np.where((m != 0) & ((m < 0) != (y < 0)), m + y, m)
    else:
        r = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
             "maximum": np.maximum, "minimum": np.minimum}[op](x, y)
    return round_to(r, dtype), dtype


BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "pow", "floordiv", "floormod",
          "equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
OPERATORS = {"add": lambda x, y: x + y, "subtract": lambda x, y: x - y, "multiply": lambda x, y: x * y,
             "divide": lambda x, y: x / y, "pow": lambda x, y: x ** y, "floordiv": lambda x, y: x // y,
             "floormod": lambda x, y: x % y, "equal": lambda x, y: x == y, "not_equal": lambda x, y: x != y,
             "less": lambda x, y: x < y, "less_equal": lambda x, y: x <= y, "greater": lambda x, y: x > y,
             "greater_equal": lambda x, y: x >= y}
FUNCTIONS = {"floordiv": tf.math.floordiv, "floormod": tf.math.floormod}


@st.composite
def binary_shapes(draw):
    """Two shapes that broadcast (mostly) or two random ones."""
    if draw(st.integers(0, 5)) == 0:
        return draw(shapes(max_side=3)), draw(shapes(max_side=3))
    bs = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4))
    return bs.input_shapes


class BinaryTest(PropertyCase):
    def _binary(self, op, data, dtypes=ALL):
        dtype = data.draw(st.sampled_from(dtypes), "dtype")
        sa, sb = data.draw(binary_shapes(), "shapes")
        a = data.draw(arrays(dtype, sa), "a")
        if op in ("floordiv", "floormod") and dtype in INTS and data.draw(st.booleans(), "nonzero divisor"):
            b = data.draw(arrays(dtype, sb, elements_=elements(dtype).filter(lambda v: v != 0)), "b")
        elif op == "pow" and dtype in INTS:
            b = data.draw(arrays(dtype, sb, elements_=st.integers(-1 if data.draw(st.booleans()) else 0, 40)), "b")
        else:
            b = data.draw(arrays(dtype, sb), "b")
        want, wdtype = binary_ref(op, a, b, dtype)
        ulps = 0
        if op == "pow" and dtype in FLOATS:
            ulps = 1 if dtype in ("float16", "bfloat16") else 2
        via = data.draw(st.sampled_from(["function", "operator"] if op in OPERATORS else ["function"]), "via")
        if via == "operator":
            fn = OPERATORS[op]
        else:
            fn = FUNCTIONS.get(op) or getattr(tf, op)
        x, y = ct(a, dtype), ct(b, dtype)
        if via == "operator" and op in ("equal", "not_equal") and isinstance(want, Raises):
            # TensorFlow 2's Tensor.__eq__/__ne__: shapes that do not
            # broadcast compare unequal (a scalar), they do not raise
            want, wdtype = np.array(op == "not_equal"), "bool"
        self.expect(lambda: fn(x, y), want, wdtype, ulps=ulps)

    @SETTINGS
    @given(st.data())
    def test_add(self, data):
        self._binary("add", data)

    @SETTINGS
    @given(st.data())
    def test_subtract(self, data):
        self._binary("subtract", data)

    @SETTINGS
    @given(st.data())
    def test_multiply(self, data):
        self._binary("multiply", data)

    @SETTINGS
    @given(st.data())
    def test_divide(self, data):
        self._binary("divide", data)

    @SETTINGS
    @given(st.data())
    def test_maximum(self, data):
        self._binary("maximum", data)

    @SETTINGS
    @given(st.data())
    def test_minimum(self, data):
        self._binary("minimum", data)

    @SETTINGS
    @given(st.data())
    def test_pow(self, data):
        self._binary("pow", data)

    @SETTINGS
    @given(st.data())
    def test_floordiv(self, data):
        self._binary("floordiv", data)

    @SETTINGS
    @given(st.data())
    def test_floormod(self, data):
        self._binary("floormod", data)

    @SETTINGS
    @given(st.data())
    def test_equal_not_equal(self, data):
        self._binary(data.draw(st.sampled_from(["equal", "not_equal"])), data)

    @SETTINGS
    @given(st.data())
    def test_ordering_comparisons(self, data):
        self._binary(data.draw(st.sampled_from(["less", "less_equal", "greater", "greater_equal"])), data)

    @SETTINGS
    @given(st.data())
    def test_mixed_dtypes_are_refused(self, data):
        # TensorFlow has no implicit promotion (NumPy promotes).
        op = data.draw(st.sampled_from(BINARY), "op")
        da, db = data.draw(st.sampled_from([(p, q) for p in ALL for q in ALL if p != q]), "dtypes")
        shape = data.draw(shapes(max_side=3), "shape")
        x = ct(data.draw(arrays(da, shape)), da)
        y = ct(data.draw(arrays(db, shape)), db)
        self.expect(lambda: (FUNCTIONS.get(op) or getattr(tf, op))(x, y), Raises(InvalidArgument))

    @SETTINGS
    @given(st.data())
    def test_python_scalar_takes_the_tensor_dtype(self, data):
        # `tensor + 2` is the tensor's dtype; a float that an integer
        # tensor cannot hold fails (TensorFlow 2.16+).
        op = data.draw(st.sampled_from(["add", "subtract", "multiply", "maximum", "minimum"]), "op")
        dtype = data.draw(st.sampled_from(NUMERIC), "dtype")
        a = data.draw(arrays(dtype, shapes(max_side=3), moderate=True), "a")
        v = data.draw(st.one_of(st.integers(-100, 100), st.floats(-100, 100).map(lambda f: round(f, 2))), "scalar")
        right = data.draw(st.booleans(), "scalar on the right")
        x = ct(a, dtype)
        fn = getattr(tf, op)
        if dtype in INTS and isinstance(v, float):
            # TensorFlow converts no Python float (not even 2.0) to an integer dtype
            want, wdtype = Raises(InvalidArgument), None
        else:
            b = round_to(np.array(v, np.float64), dtype) if dtype in FLOATS else np.array(int(v), CARRIER[dtype])
            want, wdtype = binary_ref(op, *((a, b) if right else (b, a)), dtype)
        self.expect(lambda: fn(x, v) if right else fn(v, x), want, wdtype)


# ---- unary -------------------------------------------------------------------

UNARY_F64 = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
             "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x))}


def unary_ref(op, a, dtype):
    if dtype == "bool":
        return Raises(InvalidArgument)
    if op in UNARY_F64:
        if dtype in INTS:
            return Raises(InvalidArgument)  # TensorFlow: float dtypes only (NumPy computes in float64)
        return round_to(UNARY_F64[op](a.astype(np.float64)), dtype)
    if dtype in INTS:
        f = {"negative": np.negative, "abs": np.abs, "relu": lambda x: np.maximum(x, 0),
             "square": lambda x: x * x}[op]
        return f(a).astype(CARRIER[dtype])
    x = a.astype(compute_type(dtype))
    r = {"negative": np.negative, "abs": np.abs, "relu": lambda x: np.maximum(x, 0), "square": np.square}[op](x)
    return round_to(r, dtype)


class UnaryTest(PropertyCase):
    def _unary(self, op, data, fn=None):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        want = unary_ref(op, a, dtype)
        ulps = 0
        if op in ("exp", "log", "tanh"):
            ulps = 1 if dtype in ("float16", "bfloat16") else 2
        elif op == "sigmoid":
            ulps = 1 if dtype in ("float16", "bfloat16") else 4
        fn = fn or (tf.nn.relu if op == "relu" else getattr(tf, op))
        x = ct(a, dtype)
        self.expect(lambda: fn(x), want, dtype, ulps=ulps)

    @SETTINGS
    @given(st.data())
    def test_negative(self, data):
        self._unary("negative", data, data.draw(st.sampled_from([tf.negative, lambda x: -x])))

    @SETTINGS
    @given(st.data())
    def test_abs(self, data):
        self._unary("abs", data, data.draw(st.sampled_from([tf.abs, builtins.abs])))

    @SETTINGS
    @given(st.data())
    def test_exp(self, data):
        self._unary("exp", data)

    @SETTINGS
    @given(st.data())
    def test_log(self, data):
        self._unary("log", data)

    @SETTINGS
    @given(st.data())
    def test_sqrt(self, data):
        self._unary("sqrt", data)

    @SETTINGS
    @given(st.data())
    def test_tanh(self, data):
        self._unary("tanh", data)

    @SETTINGS
    @given(st.data())
    def test_sigmoid(self, data):
        self._unary("sigmoid", data)

    @SETTINGS
    @given(st.data())
    def test_relu(self, data):
        self._unary("relu", data)

    @SETTINGS
    @given(st.data())
    def test_square(self, data):
        self._unary("square", data)


# ---- cast ----------------------------------------------------------------------

def cast_ref(a, src, dst):
    if src == dst:
        return a.copy()
    if dst == "bool":
        return a != 0  # NaN is true
    if src == "bool":
        return round_to(a.astype(np.float64), dst) if dst in FLOATS else a.astype(CARRIER[dst])
    if dst in INTS:
        lo, hi = INT_RANGE[dst]
        if src in INTS:
            return a.astype(CARRIER[dst])  # int64 -> int32 keeps the low 32 bits
        # ctensor's rule: truncate toward zero, saturate, NaN -> 0
        f = np.trunc(a.astype(np.float64))
        safe = np.where(np.isnan(f) | (f >= 2.0**63) | (f < -2.0**63), 0, f)
        out = np.clip(safe.astype(np.int64), lo, hi)
        out = np.where(f >= float(hi), hi, np.where(f <= float(lo), lo, out))
        out = np.where(np.isnan(f), 0, out)
        return out.astype(CARRIER[dst])
    if src in INTS:
        # integers round to nearest, once, to float32 or float64; 16-bit
        # floats are reached through float32
        return round_to(a.astype(np.float64 if dst == "float64" else np.float32), dst)
    if dst == "float64":
        return a.astype(np.float64)
    return round_to(a.astype(np.float64 if src == "float64" else np.float32), dst)


class CastTest(PropertyCase):
    @SETTINGS
    @given(st.data())
    def test_cast(self, data):
        src = data.draw(st.sampled_from(ALL), "from")
        dst = data.draw(st.sampled_from(ALL), "to")
        a = data.draw(arrays(src, shapes()), "a")
        x = ct(a, src)
        self.expect(lambda: tf.cast(x, getattr(tf, dst)), cast_ref(a, src, dst), dst)


# ---- creation ----------------------------------------------------------------

class CreationTest(PropertyCase):
    @SETTINGS
    @given(st.data())
    def test_constant_from_numpy_round_trips(self, data):
        dtype = data.draw(st.sampled_from(("float32", "float64", "float16", "int32", "int64", "bool")), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        if a.ndim and data.draw(st.booleans(), "non-contiguous"):
            a = a[..., ::-1]
        self.expect(lambda: tf.constant(a), a, dtype)

    @SETTINGS
    @given(st.data())
    def test_constant_from_lists_infers_tensorflow_dtypes(self, data):
        kind = data.draw(st.sampled_from(["int", "float", "bool", "mixed"]), "kind")
        shape = data.draw(shapes(max_dims=3), "shape")
        if kind == "int":
            el = st.one_of(st.integers(-2**31, 2**31 - 1), st.integers(-2**63, 2**63 - 1))
        elif kind == "float":
            el = st.floats(width=64, allow_subnormal=True)
        elif kind == "bool":
            el = st.booleans()
        else:
            el = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6))
        flat = data.draw(st.lists(el, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))), "values")
        obj = np.empty(len(flat), dtype=object)
        obj[:] = flat
        value = obj.reshape(shape).tolist() if shape else flat[0]
        # a list cannot say (0, 3): the shape is the one the list has
        shape = np.asarray(value, dtype=object).shape if shape else ()
        if not flat:
            dtype = "float32"  # TensorFlow: an empty list is float32
        elif kind == "bool":
            dtype = "bool"
        elif all(isinstance(v, int) for v in flat):
            dtype = "int32" if all(-2**31 <= v < 2**31 for v in flat) else "int64"
        else:
            dtype = "float32"
        if dtype == "float32":
            want = np.array([float(v) for v in flat], np.float64).astype(np.float32).reshape(shape)
        else:
            want = np.array(flat, dtype=CARRIER[dtype]).reshape(shape)
        self.expect(lambda: tf.constant(value), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_zeros_ones_fill(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        shape = data.draw(shapes(), "shape")
        which = data.draw(st.sampled_from(["zeros", "ones", "fill"]), "op")
        if which == "fill":
            v = data.draw(elements(dtype), "value")
            if dtype == "bool":
                v = builtins.bool(v)
            elif dtype in INTS:
                v = int(v)
            else:
                v = float(v)
            # tf.fill takes the value's dtype: a float is float32, an int
            # int32 (int64 beyond), a bool bool
            if isinstance(v, builtins.bool):
                vdtype = "bool"
            elif isinstance(v, int):
                vdtype = "int32" if -2**31 <= v < 2**31 else "int64"
            else:
                vdtype = "float32"
            want = np.full(shape, round_to(np.array(v, np.float64), vdtype) if vdtype in FLOATS else v,
                           CARRIER[vdtype])
            self.expect(lambda: tf.fill(shape, v), want, vdtype)
            return
        want = (np.zeros if which == "zeros" else np.ones)(shape, CARRIER[dtype])
        self.expect(lambda: getattr(tf, which)(shape, getattr(tf, dtype)), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_zeros_like_ones_like(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        out = data.draw(st.sampled_from((None,) + ALL), "dtype argument")
        which = data.draw(st.sampled_from(["zeros_like", "ones_like"]), "op")
        odtype = out or dtype
        want = (np.zeros if which == "zeros_like" else np.ones)(a.shape, CARRIER[odtype])
        x = ct(a, dtype)
        self.expect(lambda: getattr(tf, which)(x, dtype=out and getattr(tf, out)), want, odtype)

    @SETTINGS
    @given(st.data())
    def test_range(self, data):
        kind = data.draw(st.sampled_from(["int", "float"]), "kind")
        if kind == "int":
            start, limit = data.draw(st.integers(-50, 50), "start"), data.draw(st.integers(-50, 50), "limit")
            delta = data.draw(st.integers(-7, 7), "delta")
            dtype = "int32"
        else:
            num = st.floats(-50, 50).map(lambda f: round(f, 2))
            start, limit = data.draw(num, "start"), data.draw(num, "limit")
            delta = data.draw(st.one_of(num.filter(lambda d: d == 0 or abs(d) >= 0.05),
                                        st.sampled_from([0.0, 0.1, -0.25])), "delta")
            dtype = "float32"
        explicit = data.draw(st.sampled_from([None] + list(NUMERIC)), "dtype argument")
        if explicit in INTS and kind == "float":
            explicit = None
        dtype = explicit or dtype
        # TensorFlow: delta 0 and a delta pointing away from the limit are
        # errors (NumPy: ZeroDivisionError, and an empty array)
        if delta == 0 or (delta > 0 and start > limit) or (delta < 0 and start < limit):
            want = Raises(InvalidArgument)
        else:
            n = int(np.ceil((limit - start) / delta))
            want = round_to(start + np.arange(n, dtype=np.float64) * delta, dtype) if dtype in FLOATS \
                else (start + np.arange(n, dtype=np.int64) * delta).astype(CARRIER[dtype])
        self.expect(lambda: tf.range(start, limit, delta, dtype=explicit and getattr(tf, explicit)), want, dtype)


# ---- reductions and argmax ---------------------------------------------------

@st.composite
def axes_for(draw, rank):
    """None, one axis, or a list (possibly repeated, negative, empty, or
    out of range)."""
    kind = draw(st.sampled_from(["none", "one", "list"]))
    axis = st.integers(-rank - 1, rank) if draw(st.integers(0, 9)) == 0 else \
        (st.integers(-rank, rank - 1) if rank else st.just(0))
    if kind == "none":
        return None
    if kind == "one":
        return draw(axis)
    return draw(st.lists(axis, max_size=rank + 1))


def reduce_ref(op, a, dtype, axis, keepdims):
    rank = a.ndim
    if dtype == "bool":
        return Raises(InvalidArgument), None
    if axis is None:
        axes = tuple(range(rank))
    else:
        lst = axis if isinstance(axis, list) else [axis]
        if any(not -rank <= ax < rank for ax in lst):
            return Raises(InvalidArgument), None
        axes = tuple(sorted(set(ax % rank for ax in lst)))  # TensorFlow: a repeated axis once
    n = int(np.prod([a.shape[ax] for ax in axes])) if axes else 1
    if dtype in INTS:
        lo, hi = INT_RANGE[dtype]
        if op == "sum":
            r = np.sum(a, axis=axes, keepdims=keepdims, dtype=CARRIER[dtype])
        elif op == "mean":  # sum in int64 (wrapping), divided truncating toward zero
            s = np.sum(a.astype(np.int64), axis=axes, keepdims=keepdims, dtype=np.int64)
            if n:
                q = np.floor_divide(s, n)
                r = np.where((s < 0) & (q * n != s), q + 1, q)
            else:
                r = np.zeros_like(s)  # TensorFlow: 0 for an empty integer mean
        elif op == "max":
            r = np.max(a, axis=axes, keepdims=keepdims, initial=lo)
        else:
            r = np.min(a, axis=axes, keepdims=keepdims, initial=hi)
        return np.asarray(r).astype(CARRIER[dtype]), {}
    x = a.astype(np.float64)
    if op in ("sum", "mean"):
        s = np.sum(x, axis=axes, keepdims=keepdims)
        mag = np.sum(np.abs(x), axis=axes, keepdims=keepdims)
        # float32 runs are summed in float32 partial sums, float64 in
        # float64: an error of a few ulps of the terms' magnitude, and an
        # intermediate overflow where the finite terms' magnitudes overflow
        # (the mean too: TensorFlow's and NumPy's float32 means overflow there).
        finite_mag = np.sum(np.where(np.isfinite(x), np.abs(x), 0.0), axis=axes, keepdims=keepdims)
        loose = ~(finite_mag < FMAX[dtype])
        if op == "mean":
            s, mag = s / n if n else s * np.nan, mag / n if n else mag
        eps = 2.0**-52 if dtype == "float64" else 2.0**-23
        tol = 4 * eps * max(n, 1) * mag
        return round_to(s, dtype), {"ulps": 1, "atol": tol + TINY[dtype], "loose": loose}
    # TensorFlow's identities for empty reductions; a NaN anywhere is NaN
    r = np.max(x, axis=axes, keepdims=keepdims, initial=-np.inf) if op == "max" else \
        np.min(x, axis=axes, keepdims=keepdims, initial=np.inf)
    return round_to(r, dtype), {}


class ReductionTest(PropertyCase):
    def _reduce(self, op, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        axis = data.draw(axes_for(a.ndim), "axis")
        keepdims = data.draw(st.booleans(), "keepdims")
        want, kw = reduce_ref(op, a, dtype, axis, keepdims)
        x = ct(a, dtype)
        fn = getattr(tf, "reduce_" + op)
        self.expect(lambda: fn(x, axis=axis, keepdims=keepdims), want, dtype, **(kw or {}))

    @SETTINGS
    @given(st.data())
    def test_reduce_sum(self, data):
        self._reduce("sum", data)

    @SETTINGS
    @given(st.data())
    def test_reduce_mean(self, data):
        self._reduce("mean", data)

    @SETTINGS
    @given(st.data())
    def test_reduce_max(self, data):
        self._reduce("max", data)

    @SETTINGS
    @given(st.data())
    def test_reduce_min(self, data):
        self._reduce("min", data)

    @SETTINGS
    @given(st.data())
    def test_argmax(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        rank = a.ndim
        axis = data.draw(st.one_of(st.none(), st.integers(-rank - 1, rank)), "axis")
        out = data.draw(st.sampled_from(["int32", "int64"]), "output_type")
        ax = 0 if axis is None else axis
        if not -rank <= ax < rank or a.shape[ax] == 0:
            want = Raises(InvalidArgument)  # NumPy: AxisError, ValueError for an empty axis
        else:
            # the first maximum; a NaN counts as the maximum (NumPy's rule)
            want = np.argmax(a.astype(np.float64) if dtype in FLOATS else a, axis=ax).astype(CARRIER[out])
        x = ct(a, dtype)
        self.expect(lambda: tf.argmax(x, axis=axis, output_type=getattr(tf, out)), want, out)


# ---- matmul --------------------------------------------------------------------

class MatmulTest(PropertyCase):
    @SETTINGS
    @given(st.data())
    def test_matmul(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        m, k, n = (data.draw(st.integers(0, 5), name) for name in "mkn")
        if data.draw(st.integers(0, 9), "bad inner") == 0:
            k2 = data.draw(st.integers(0, 5), "k of b")
        else:
            k2 = k
        batch_a = data.draw(st.sampled_from([(), (1,), (3,), (0,), (2, 1)]), "batch of a")
        batch_b = data.draw(st.sampled_from([(), (1,), (3,), (2,), (1, 3)]), "batch of b")
        ta, tb = data.draw(st.booleans(), "transpose_a"), data.draw(st.booleans(), "transpose_b")
        sa = batch_a + ((k, m) if ta else (m, k))
        sb = batch_b + ((n, k2) if tb else (k2, n))
        special = data.draw(st.integers(0, 4), "specials") == 0
        a = data.draw(arrays(dtype, sa, moderate=not special), "a")
        b = data.draw(arrays(dtype, sb, moderate=not special), "b")
        x, y = ct(a, dtype), ct(b, dtype)
        fn = lambda: tf.matmul(x, y, transpose_a=ta, transpose_b=tb)  # noqa: E731
        batch = broadcast_shape(batch_a, batch_b)
        if dtype == "bool" or k != k2 or batch is None:
            self.expect(fn, Raises(InvalidArgument))
            return
        A = np.swapaxes(a, -1, -2) if ta else a
        B = np.swapaxes(b, -1, -2) if tb else b
        if dtype in INTS:
            self.expect(fn, np.matmul(A, B).astype(CARRIER[dtype]), dtype)  # wraps, like ctensor's loops
            return
        A, B = A.astype(np.float64), B.astype(np.float64)
        r = np.matmul(A, B)
        mag = np.matmul(np.abs(A), np.abs(B))
        eps = 2.0**-52 if dtype == "float64" else 2.0**-23
        with np.errstate(all="ignore"):
            tol = 4 * eps * max(k, 1) * mag
            # where the finite products' sum overflows, the order of the
            # additions (BLAS's, with FMA) decides between inf, -inf and NaN
            fa, fb = np.where(np.isfinite(A), np.abs(A), 0.0), np.where(np.isfinite(B), np.abs(B), 0.0)
            loose = ~(np.matmul(fa, fb) < FMAX[dtype])
        self.expect(fn, round_to(r, dtype), dtype, ulps=1, atol=tol + TINY[dtype], loose=loose)


# ---- shape ops ---------------------------------------------------------------

class ShapeOpsTest(PropertyCase):
    @SETTINGS
    @given(st.data())
    def test_reshape(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        if data.draw(st.integers(0, 3), "random target") == 0:
            target = list(data.draw(shapes(max_side=5), "shape"))
        else:  # a valid factorisation of the size
            target = list(np.random.RandomState(data.draw(st.integers(0, 2**31), "seed"))
                          .permutation(list(a.shape) + [1] * data.draw(st.integers(0, 2))))
            if len(target) > 1 and data.draw(st.booleans(), "merge"):
                target = [target[0] * target[1]] + target[2:]
        if target and data.draw(st.booleans(), "use -1"):
            target[data.draw(st.integers(0, len(target) - 1))] = -1
        try:
            want = np.reshape(a, target)
        except ValueError:
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: tf.reshape(x, target), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_transpose(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        kind = data.draw(st.sampled_from(["none", "permutation", "bad"]), "perm kind")
        if kind == "none":
            perm = None
        elif kind == "permutation":
            perm = data.draw(st.permutations(range(a.ndim)), "perm")
        else:
            perm = data.draw(st.lists(st.integers(-1, a.ndim), max_size=a.ndim + 1), "perm")
        try:
            if perm is not None and any(p < 0 for p in perm):
                raise ValueError("TensorFlow: a perm entry must be in [0, rank)")  # NumPy counts from the end
            want = np.transpose(a, perm)
        except (ValueError, IndexError):
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: tf.transpose(x, perm), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_concat(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        base = data.draw(shapes(max_dims=3), "shape")
        rank = len(base)
        axis = data.draw(st.integers(-rank - 1, rank), "axis")
        count = data.draw(st.integers(1, 4), "count")
        parts = []
        for i in range(count):
            s = list(base)
            if rank and -rank <= axis < rank:
                s[axis] = data.draw(st.integers(0, 3))
            if data.draw(st.integers(0, 9)) == 0:  # sometimes a shape that does not fit
                s = list(data.draw(shapes(max_dims=3, max_side=3)))
            parts.append(data.draw(arrays(dtype, tuple(s)), "part %d" % i))
        try:
            # TensorFlow: "Can't concatenate scalars". (TensorFlow returns a
            # single value as it is, whatever the axis; ctensor checks it.)
            if any(p.ndim == 0 for p in parts):
                raise ValueError("scalars")
            want = np.concatenate(parts, axis=axis)
        except ValueError:  # AxisError is a ValueError
            want = Raises(InvalidArgument)
        xs = [ct(p, dtype) for p in parts]
        self.expect(lambda: tf.concat(xs, axis), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_slice(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes(min_side=0, max_side=5)), "a")
        begin, size, ok = [], [], True
        for d in a.shape:
            b0 = data.draw(st.integers(-1, d + 1))
            s0 = data.draw(st.integers(-2, d + 1))
            begin.append(b0)
            size.append(s0)
            end = d if s0 == -1 else b0 + s0
            # TensorFlow: 0 <= begin <= begin + size <= dim (NumPy clips)
            if not (0 <= b0 <= d and s0 >= -1 and b0 <= end <= d):
                ok = False
        if ok:
            want = a[tuple(slice(b0, d if s0 == -1 else b0 + s0) for b0, s0, d in zip(begin, size, a.shape))]
        else:
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: tf.slice(x, begin, size), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_gather(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes(min_dims=1, max_dims=3)), "params")
        rank = a.ndim
        axis = data.draw(st.one_of(st.none(), st.integers(-rank, rank - 1)), "axis")
        ax = 0 if axis is None else axis % rank
        dim = a.shape[ax]
        idt = data.draw(st.sampled_from(INTS), "indices dtype")
        lo = -1 if data.draw(st.integers(0, 5)) == 0 else 0
        hi = dim if data.draw(st.integers(0, 5)) == 0 else dim - 1
        idx = data.draw(hnp.arrays(CARRIER[idt], shapes(max_dims=2, max_side=3),
                                   elements=st.integers(lo, max(hi, lo))), "indices")
        out_shape = a.shape[:ax] + idx.shape + a.shape[ax + 1:]
        if 0 not in out_shape and np.any((idx < 0) | (idx >= dim)):
            want = Raises(InvalidArgument)  # TensorFlow: nothing checked when the result is empty
        elif 0 in out_shape:
            want = np.zeros(out_shape, CARRIER[dtype])
        else:
            want = np.take(a, idx, axis=ax)
        x, i = ct(a, dtype), tf.constant(idx)
        self.expect(lambda: tf.gather(x, i, axis=axis), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_expand_dims(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        axis = data.draw(st.integers(-a.ndim - 2, a.ndim + 1), "axis")
        try:
            want = np.expand_dims(a, axis)
        except ValueError:
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: tf.expand_dims(x, axis), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_squeeze(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes(max_side=2)), "a")
        rank = a.ndim
        axis = data.draw(st.one_of(st.none(), st.integers(-rank - 1, rank),
                                   st.lists(st.integers(-rank - 1, rank), max_size=3)), "axis")
        try:
            if isinstance(axis, int) and not -rank <= axis < rank:
                raise ValueError("out of range")  # NumPy lets a 0-d array squeeze axis 0
            # TensorFlow squeezes a repeated axis once (NumPy refuses)
            ax = axis if not isinstance(axis, list) else tuple(sorted({v % rank if -rank <= v < rank else v
                                                                       for v in axis}))
            if isinstance(ax, tuple) and any(not 0 <= v < rank for v in ax):
                raise ValueError("out of range")
            want = np.squeeze(a, ax)
        except ValueError:
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: tf.squeeze(x, axis), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_stack(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        s = data.draw(shapes(max_dims=3), "shape")
        count = data.draw(st.integers(1, 4), "count")
        parts = []
        for i in range(count):
            si = s if data.draw(st.integers(0, 9)) else data.draw(shapes(max_dims=3, max_side=3))
            parts.append(data.draw(arrays(dtype, si), "part %d" % i))
        rank = parts[0].ndim
        axis = data.draw(st.integers(-rank - 2, rank + 1), "axis")
        if not -rank - 1 <= axis <= rank:
            want = Raises(ValueError)  # TensorFlow checks the axis against values[0], in Python, first
        elif any(p.shape != parts[0].shape for p in parts):
            want = Raises(InvalidArgument)
        else:
            want = np.stack(parts, axis)
        xs = [ct(p, dtype) for p in parts]
        self.expect(lambda: tf.stack(xs, axis), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_broadcast_to(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        target = data.draw(shapes(), "shape")
        if data.draw(st.integers(0, 3), "random input shape") == 0:
            s = data.draw(shapes(max_side=3))
        else:
            drop = data.draw(st.integers(0, len(target)))
            s = tuple(1 if data.draw(st.booleans()) else d for d in target[drop:])
        a = data.draw(arrays(dtype, s), "a")
        try:
            want = np.broadcast_to(a, target).copy()
        except ValueError:
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: tf.broadcast_to(x, target), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_clip_by_value(self, data):
        dtype = data.draw(st.sampled_from(NUMERIC), "dtype")
        s, smin, smax = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
                                  "shapes").input_shapes
        if data.draw(st.booleans(), "scalar bounds"):
            smin = smax = ()
        a = data.draw(arrays(dtype, s), "t")
        lo = data.draw(arrays(dtype, smin), "clip_value_min")
        hi = data.draw(arrays(dtype, smax), "clip_value_max")
        x, l, h = ct(a, dtype), ct(lo, dtype), ct(hi, dtype)
        if broadcast_shape(s, smin, smax) != s:
            # TensorFlow refuses bounds that would broadcast t to another shape
            want, wdtype = Raises(ValueError, InvalidArgument), None
        else:
            m, _ = binary_ref("minimum", a, hi, dtype)
            want, wdtype = binary_ref("maximum", m, lo, dtype)
        self.expect(lambda: tf.clip_by_value(x, l, h), want, wdtype)

    @SETTINGS
    @given(st.data())
    def test_where(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        if data.draw(st.integers(0, 4), "one argument") == 0:
            cdt = data.draw(st.sampled_from(ALL), "condition dtype")
            c = data.draw(arrays(cdt, shapes(max_dims=3)), "condition")
            want = np.argwhere(c != 0).astype(np.int64)  # NaN is true in both
            cc = ct(c, cdt)
            self.expect(lambda: tf.where(cc), want, "int64")
            return
        if data.draw(st.integers(0, 5)):
            sc, sx, sy = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
                                   "shapes").input_shapes
        else:
            sc, sx, sy = (data.draw(shapes(max_dims=3, max_side=3)) for _ in range(3))
        c = data.draw(arrays("bool", sc), "condition")
        a = data.draw(arrays(dtype, sx), "x")
        b = data.draw(arrays(dtype, sy), "y")
        if broadcast_shape(sc, sx, sy) is None:
            want = Raises(InvalidArgument)
        else:
            want = np.where(c, a, b)
        cc, x, y = ct(c, "bool"), ct(a, dtype), ct(b, dtype)
        self.expect(lambda: tf.where(cc, x, y), want, dtype)


class TensorBasicsTest(PropertyCase):
    @SETTINGS
    @given(st.data())
    def test_identity_shape_stop_gradient(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes()), "a")
        x = ct(a, dtype)
        self.expect(lambda: tf.identity(x), a, dtype)
        self.expect(lambda: tf.stop_gradient(x), a, dtype)
        out = data.draw(st.sampled_from(INTS), "out_type")
        self.expect(lambda: tf.shape(x, out_type=getattr(tf, out)), np.array(a.shape, CARRIER[out]), out)

    @SETTINGS
    @given(st.data())
    def test_indexing(self, data):
        # ints, step-1 slices, None and one Ellipsis, as NumPy's basic
        # indexing; an int out of range is TensorFlow's InvalidArgumentError
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        a = data.draw(arrays(dtype, shapes(max_side=4)), "a")
        parts = []
        for d in a.shape:
            kind = data.draw(st.sampled_from(["int", "slice", "none", "skip"]))
            if kind == "int":
                parts.append(data.draw(st.integers(-d - 1, d)))
            elif kind == "slice":
                end = st.one_of(st.none(), st.integers(-d - 2, d + 2))
                parts.append(slice(data.draw(end), data.draw(end)))
            elif kind == "none":
                parts.extend([None, slice(None)])
            else:
                break
        if parts and data.draw(st.booleans(), "ellipsis"):
            parts.insert(data.draw(st.integers(0, len(parts))), Ellipsis)
        key = tuple(parts) if len(parts) != 1 or data.draw(st.booleans(), "tuple key") else parts[0]
        note("key %r" % (key,))
        try:
            want = np.asarray(a[key])
        except IndexError:
            want = Raises(InvalidArgument)
        x = ct(a, dtype)
        self.expect(lambda: x[key], want, dtype)


# ---- softmax and the losses --------------------------------------------------

def softmax_ref(a, axis, dtype, log):
    """In float64, as ctensor computes: a slice with NaN or +inf, or made
    only of -inf, is all NaN."""
    x = a.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    z = x - m
    s = np.sum(np.exp(z), axis=axis, keepdims=True)
    r = z - np.log(s) if log else np.exp(z) / s
    # float64: exp, the sum's order and the division each cost an ulp or so
    # (and log_softmax's subtraction cancels: an error of ulps of its terms);
    # the other dtypes are rounded once from float64
    if dtype != "float64":
        return round_to(r, dtype), {"ulps": 1}
    with np.errstate(all="ignore"):
        terms = np.abs(z) + np.abs(np.log(s)) if log else 0.0
    return r, {"ulps": 4, "atol": 8 * 2.0**-52 * terms + TINY[dtype]}


class SoftmaxTest(PropertyCase):
    def _softmax(self, data, log):
        dtype = data.draw(st.sampled_from(NUMERIC), "dtype")
        special = data.draw(st.integers(0, 3), "specials") == 0
        a = data.draw(arrays(dtype, shapes(), moderate=not special), "logits")
        rank = a.ndim
        axis = data.draw(st.one_of(st.none(), st.integers(-rank - 1, rank)), "axis")
        ax = -1 if axis is None else axis
        if dtype not in FLOATS or rank == 0 or not -rank <= ax < rank:
            want, kw = Raises(InvalidArgument), {}
        else:
            want, kw = softmax_ref(a, ax, dtype, log)
        x = ct(a, dtype)
        fn = tf.nn.log_softmax if log else tf.nn.softmax
        self.expect(lambda: fn(x, axis=axis), want, dtype, **kw)

    @SETTINGS
    @given(st.data())
    def test_softmax(self, data):
        self._softmax(data, False)

    @SETTINGS
    @given(st.data())
    def test_log_softmax(self, data):
        self._softmax(data, True)

    def _loss_tolerance(self, dtype, terms):
        # float64 sums in another order; float32 and the 16-bit floats are
        # rounded once from float64 (the 16-bit ones through float32).
        return {"ulps": 2 if dtype in FLOATS[:2] else 1, "atol": 8 * 2.0**-52 * terms + TINY[dtype]}

    @SETTINGS
    @given(st.data())
    def test_sparse_softmax_cross_entropy_with_logits(self, data):
        dtype = data.draw(st.sampled_from(FLOATS), "dtype")
        special = data.draw(st.integers(0, 3), "specials") == 0
        batch = data.draw(shapes(min_dims=0, max_dims=2, max_side=4), "batch shape")
        classes = data.draw(st.integers(0, 5), "classes")
        logits = data.draw(arrays(dtype, batch + (classes,), moderate=not special), "logits")
        ldt = data.draw(st.sampled_from(INTS), "labels dtype")
        lo = -1 if data.draw(st.integers(0, 9)) == 0 else 0
        hi = classes if data.draw(st.integers(0, 9)) == 0 else classes - 1
        labels = data.draw(hnp.arrays(CARRIER[ldt], batch, elements=st.integers(lo, max(lo, hi))), "labels")
        n = int(np.prod(batch))
        if classes == 0:
            want, kw = Raises(InvalidArgument), {}  # TensorFlow checks it even for an empty batch
        elif n and np.any((labels < 0) | (labels >= classes)):
            want, kw = Raises(InvalidArgument), {}  # TensorFlow's CPU error; its GPU kernel gives NaN
        else:
            x = logits.astype(np.float64)
            m = np.max(x, axis=-1, keepdims=True, initial=-np.inf)
            lse = np.log(np.sum(np.exp(x - m), axis=-1)) + m[..., 0]
            picked = np.take_along_axis(x, labels.astype(np.int64)[..., None].clip(0, max(classes - 1, 0)),
                                        axis=-1)[..., 0] if classes else np.zeros(batch)
            # a row holding NaN or +inf, or only -inf, is NaN throughout
            bad = ~np.all(np.isfinite(x) | (x == -np.inf), axis=-1) | (m[..., 0] == -np.inf)
            loss = np.where(bad, np.nan, lse - picked)
            want = round_to(round_to(loss, "float32") if dtype in ("float16", "bfloat16") else loss, dtype)
            kw = self._loss_tolerance(dtype, np.abs(lse) + np.abs(picked))
        lg, lb = ct(logits, dtype), tf.constant(labels)
        self.expect(lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg), want, dtype,
                    **kw)

    @SETTINGS
    @given(st.data())
    def test_softmax_cross_entropy_with_logits(self, data):
        dtype = data.draw(st.sampled_from(FLOATS), "dtype")
        special = data.draw(st.integers(0, 3), "specials") == 0
        s = data.draw(shapes(min_dims=1, max_dims=3), "shape")
        logits = data.draw(arrays(dtype, s, moderate=not special), "logits")
        labels = data.draw(arrays(dtype, s, elements_=st.sampled_from([0.0, 0.25, 0.5, 1.0])), "labels")
        rank = len(s)
        axis = data.draw(st.integers(-rank - 1, rank), "axis")
        if not -rank <= axis < rank:
            want, kw = Raises(InvalidArgument), {}
        else:
            x, y = logits.astype(np.float64), labels.astype(np.float64)
            m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
            z = x - m
            lse = np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
            loss = np.sum(y * (lse - z), axis=axis)
            want = round_to(round_to(loss, "float32") if dtype in ("float16", "bfloat16") else loss, dtype)
            kw = self._loss_tolerance(dtype, np.sum(np.abs(y * (lse - z)), axis=axis))
        lg, lb = ct(logits, dtype), ct(labels, dtype)
        self.expect(lambda: tf.nn.softmax_cross_entropy_with_logits(labels=lb, logits=lg, axis=axis), want, dtype,
                    **kw)


# ---- one_hot, unsorted_segment_sum --------------------------------------------

class IndexOpsTest(PropertyCase):
    @SETTINGS
    @given(st.data())
    def test_one_hot(self, data):
        idt = data.draw(st.sampled_from(INTS), "indices dtype")
        depth = data.draw(st.integers(-1, 5), "depth")
        idx = data.draw(hnp.arrays(CARRIER[idt], shapes(max_dims=3, max_side=3), elements=st.integers(-2, 6)),
                        "indices")
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        on_off = st.integers(-2**53, 2**53) if dtype == "int64" else elements(dtype)
        on = data.draw(st.one_of(st.none(), on_off), "on_value")
        off = data.draw(st.one_of(st.none(), on_off), "off_value")
        rank = idx.ndim
        axis = data.draw(st.one_of(st.none(), st.integers(-2, rank + 1)), "axis")
        ax = -1 if axis is None else axis
        if depth < 0 or not (ax == -1 or 0 <= ax <= rank):
            want = Raises(InvalidArgument)
        else:
            onv = 1 if on is None else on
            offv = 0 if off is None else off
            hit = idx[..., None] == np.arange(depth)  # out of range: a row of off_value
            want = np.where(hit, np.asarray(onv, CARRIER[dtype]), np.asarray(offv, CARRIER[dtype]))
            want = np.moveaxis(want.astype(CARRIER[dtype]), -1, ax)
        ind = tf.constant(idx)
        on_t = None if on is None else ct(np.asarray(on, CARRIER[dtype]), dtype)
        off_t = None if off is None else ct(np.asarray(off, CARRIER[dtype]), dtype)
        self.expect(lambda: tf.one_hot(ind, depth, on_value=on_t, off_value=off_t, axis=axis,
                                       dtype=getattr(tf, dtype)), want, dtype)

    @SETTINGS
    @given(st.data())
    def test_unsorted_segment_sum(self, data):
        dtype = data.draw(st.sampled_from(ALL), "dtype")
        idt = data.draw(st.sampled_from(INTS), "ids dtype")
        ids_shape = data.draw(shapes(min_dims=1, max_dims=2, max_side=4), "ids shape")
        rest = data.draw(shapes(max_dims=2, max_side=3), "row shape")
        num = data.draw(st.integers(-1, 5), "num_segments")
        hi = num if data.draw(st.integers(0, 9)) == 0 else num - 1
        ids = data.draw(hnp.arrays(CARRIER[idt], ids_shape, elements=st.integers(-2, max(hi, -2))), "ids")
        d = data.draw(arrays(dtype, ids_shape + rest, moderate=data.draw(st.booleans())), "data")
        if data.draw(st.integers(0, 9)) == 0:  # ids whose shape does not start data's
            ids = ids.reshape(-1)[:max(ids.size - 1, 0)] if ids.size else np.zeros((1,), CARRIER[idt])
        fits = d.shape[:ids.ndim] == ids.shape
        if dtype == "bool" or num < 0 or not fits:
            want = Raises(InvalidArgument)
        elif d.size and np.any(ids >= num):
            want = Raises(InvalidArgument)  # TensorFlow's CPU error
        else:
            # summed in the order of the ids, in the dtype (16-bit floats in float32)
            acc_t = np.float32 if dtype in ("float16", "bfloat16") else CARRIER[dtype]
            rest = d.shape[ids.ndim:]
            out = np.zeros((num,) + rest, acc_t)
            if d.size:
                flat_ids = ids.reshape(-1)
                rows = d.reshape((flat_ids.size,) + rest)
                keep = flat_ids >= 0  # TensorFlow drops negative ids
                np.add.at(out, flat_ids[keep].astype(np.int64), rows[keep].astype(acc_t))
            want = round_to(out, dtype) if dtype in FLOATS else out
        x, i = ct(d, dtype), tf.constant(ids)
        self.expect(lambda: tf.math.unsorted_segment_sum(x, i, num), want, dtype)


if __name__ == "__main__":
    unittest.main()
