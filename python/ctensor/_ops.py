"""Tensors, conversion from Python values, and the ops (TensorFlow names).

Every op here normalises its arguments (Python values become tensors,
axes become tuples) and calls one function of the C extension, which
places the op, runs it and returns a new tensor; a failure raises the
``ctensor.errors`` class of the library's status code.
"""

import builtins
import operator

from . import _ctensor
from . import dtypes as _dt
from . import errors as _errors

_NUMPY = None


def _numpy():
    """NumPy, or None when it is not installed (it is optional)."""
    global _NUMPY
    if _NUMPY is None:
        try:
            import numpy
            _NUMPY = numpy
        except ImportError:
            _NUMPY = False
    return _NUMPY or None


# Numbers shared with python/ctensor_module.c (binary_ops, unary_ops, reduce_ops).
_ADD, _SUB, _MUL, _DIV, _MAXIMUM, _MINIMUM, _POW = 0, 1, 2, 3, 4, 5, 6
_EQUAL, _NOT_EQUAL, _LESS, _LESS_EQUAL, _GREATER, _GREATER_EQUAL = 7, 8, 9, 10, 11, 12
_FLOOR_DIV, _FLOOR_MOD = 13, 14
_NEG, _ABS, _EXP, _LOG, _SQRT, _TANH, _SIGMOID, _RELU = 0, 1, 2, 3, 4, 5, 6, 7
_SQUARE, _ZEROS_LIKE, _ONES_LIKE, _STOP_GRADIENT = 8, 9, 10, 11
_SUM, _MEAN, _MAX, _MIN = 0, 1, 2, 3


class Tensor(_ctensor.TensorBase):
    """An immutable array on one device, made by an op (``ctensor.constant``,
    ``ctensor.matmul``, ...). ``.device`` names the device the op ran on,
    in TensorFlow's full form."""

    __slots__ = ()
    __array_priority__ = 100  # NumPy defers to our operators

    # -- conversion -------------------------------------------------------
    def numpy(self):
        """A NumPy copy of the elements (a NumPy scalar for rank 0).
        bfloat16 tensors come back as float32 arrays (NumPy has no bfloat16)."""
        np = _numpy()
        if np is None:
            raise ImportError("Tensor.numpy() needs NumPy, which is not installed; "
                              "use Tensor.tolist() for (nested) Python lists")
        if self.dtype is _dt.bfloat16:
            return cast(self, _dt.float32).numpy()
        a = np.array(memoryview(self))
        return a[()] if a.ndim == 0 else a

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        np = _numpy()
        return np.asarray(a, dtype=dtype)

    def _item(self):
        v = self.tolist()
        while isinstance(v, list):
            v = v[0]
        return v

    def _scalar(self):
        if self._size != 1:
            raise TypeError("only 0-dimensional arrays can be converted to Python scalars")
        return self._item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __index__(self):
        if not self.dtype.is_integer:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return operator.index(self._scalar())

    def __bool__(self):
        if self._size > 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. "
                             "Use a.any() or a.all()")
        return builtins.bool(self._size and self._item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in builtins.range(self.shape[0]))

    def __getitem__(self, key):
        return _getitem(self, key)

    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")

    # -- printing ---------------------------------------------------------
    def _numpy_text(self, is_repr):
        np = _numpy()
        if np is not None:
            value = self.numpy()
            text = repr(value) if is_repr and self.ndim else str(value)
        else:
            text = _format_without_numpy(self, is_repr)
        if "\n" in text:
            text = "\n" + text
        return text

    def __repr__(self):
        return "<ctensor.Tensor: shape=%s, dtype=%s, numpy=%s>" % (
            self.shape, self.dtype.name, self._numpy_text(True))

    def __str__(self):
        return "ctensor.Tensor(%s, shape=%s, dtype=%s)" % (
            self._numpy_text(False), self.shape, self.dtype.name)

    # -- operators --------------------------------------------------------
    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return subtract(self, other)
    def __rsub__(self, other): return subtract(other, self)
    def __mul__(self, other): return multiply(self, other)
    def __rmul__(self, other): return multiply(other, self)
    def __truediv__(self, other): return divide(self, other)
    def __rtruediv__(self, other): return divide(other, self)
    def __floordiv__(self, other): return floordiv(self, other)
    def __rfloordiv__(self, other): return floordiv(other, self)
    def __mod__(self, other): return floormod(self, other)
    def __rmod__(self, other): return floormod(other, self)
    def __pow__(self, other): return pow(self, other)
    def __rpow__(self, other): return pow(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __neg__(self): return negative(self)
    def __pos__(self): return self
    def __abs__(self): return abs(self)
    def __lt__(self, other): return less(self, other)
    def __le__(self, other): return less_equal(self, other)
    def __gt__(self, other): return greater(self, other)
    def __ge__(self, other): return greater_equal(self, other)

    def __eq__(self, other):
        # TensorFlow 2: elementwise, and a scalar False for shapes that do
        # not broadcast or values that are not tensors at all.
        try:
            return _binary(_EQUAL, self, other)
        except (TypeError, ValueError, _errors.InvalidArgumentError):
            return NotImplemented if other is None else constant(False)

    def __ne__(self, other):
        try:
            return _binary(_NOT_EQUAL, self, other)
        except (TypeError, ValueError, _errors.InvalidArgumentError):
            return NotImplemented if other is None else constant(True)

    def get_shape(self):
        return self.shape

    def ref(self):
        return _TensorRef(self)


class _TensorRef:
    """A hashable reference to a tensor (``tensor.ref()``), by identity."""

    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def deref(self):
        return self._t

    def __hash__(self):
        return id(self._t)

    def __eq__(self, other):
        return isinstance(other, _TensorRef) and other._t is self._t


def _format_without_numpy(t, is_repr):
    """A NumPy-like rendering for when NumPy is absent (no column alignment)."""
    dt = t.dtype

    def fmt(v):
        if dt.is_bool:
            return "True" if v else "False"
        if dt.is_floating:
            if v != v:
                return "nan"
            if v in (float("inf"), float("-inf")):
                return "inf" if v > 0 else "-inf"
            if float(v).is_integer() and abs(v) < 1e16:
                return "%d." % v
            return "%.8g" % v
        return str(v)

    def rec(v, sep):
        if isinstance(v, list):
            return "[" + sep.join(rec(x, sep) for x in v) + "]"
        return fmt(v)

    value = t.tolist()
    if t.ndim == 0:
        text = fmt(value)
        return text[:-1] + ".0" if text.endswith(".") else text
    if not is_repr:
        return rec(value, " ")
    body = rec(value, ", ")
    suffix = "" if dt.name in ("float64", "int64", "bool") else ", dtype=%s" % dt.name
    if t._size == 0:
        return "array([], shape=%s%s)" % (t.shape, suffix or ", dtype=%s" % dt.name)
    return "array(%s%s)" % (body, suffix)


def is_tensor(x):
    return isinstance(x, _ctensor.TensorBase)


# ---- conversion from Python values --------------------------------------

def _flatten(value):
    """(flat list, shape) of nested lists/tuples; tensors and NumPy values
    inside become their Python values. Every leaf must sit at the depth of
    the first one, and every list at one depth must have one length."""
    def as_python(v):
        if isinstance(v, _ctensor.VariableBase):
            v = v._read()
        if isinstance(v, _ctensor.TensorBase) or (hasattr(v, "tolist") and not isinstance(v, (list, tuple))):
            return v.tolist()
        return v

    value = as_python(value)
    leaf_depth, v = 0, value
    while isinstance(v, (list, tuple)) and v:
        v, leaf_depth = as_python(v[0]), leaf_depth + 1
    dims, flat = [], []

    def visit(v, depth):
        v = as_python(v)
        if isinstance(v, (list, tuple)):
            if depth >= leaf_depth and v:
                raise ValueError("Can't convert non-rectangular Python sequence to Tensor.")
            if len(dims) <= depth:
                dims.append(len(v))
            elif dims[depth] != len(v):
                raise ValueError("Can't convert non-rectangular Python sequence to Tensor.")
            for x in v:
                visit(x, depth + 1)
        elif depth != leaf_depth:
            raise ValueError("Can't convert non-rectangular Python sequence to Tensor.")
        else:
            flat.append(v)

    visit(value, 0)
    return flat, tuple(dims)


def _infer_dtype(flat, value):
    if not flat:
        return _dt.float32
    kinds = set()
    for v in flat:
        if isinstance(v, builtins.bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        else:
            raise TypeError("Cannot convert %r to a ctensor Tensor: unsupported element %r of type %s"
                            % (value, v, type(v).__name__))
    if kinds == {"bool"}:
        return _dt.bool
    if "float" in kinds:
        return _dt.float32
    if "bool" in kinds:
        raise TypeError("Cannot convert %r to a ctensor Tensor: it mixes bools and numbers" % (value,))
    lo, hi = min(flat), max(flat)
    return _dt.int32 if -2**31 <= lo and hi < 2**31 else _dt.int64


def _from_buffer(value, dtype):
    np = _numpy()
    if np is not None and isinstance(value, np.ndarray) and not value.flags.c_contiguous:
        value = np.ascontiguousarray(value)
    mv = memoryview(value)
    src = _dt.from_format(mv.format, mv.itemsize)
    if src is None:
        if np is not None and isinstance(value, (np.ndarray, np.generic)) and dtype is not None:
            return _from_buffer(np.asarray(value).astype(dtype.name if dtype is not _dt.bfloat16 else "float32"),
                                dtype)
        raise TypeError("Cannot convert a buffer of format %r to a ctensor Tensor "
                        "(supported: float32, float64, float16, int32, int64, bool)" % mv.format)
    t = _ctensor.from_buffer(src._enum, tuple(mv.shape), mv)
    if dtype is not None and dtype is not src:
        t = _ctensor.cast(t, dtype._enum)
    return t


def _is_buffer(value):
    if isinstance(value, (bytes, bytearray, str, memoryview)) and not isinstance(value, memoryview):
        return False
    try:
        memoryview(value)
        return True
    except TypeError:
        return False


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """A Tensor from a Tensor, a Variable (its value, read now), a Python
    scalar, nested lists/tuples, or any buffer-protocol object (NumPy arrays
    and scalars included). Every op converts its arguments here, so every
    op accepts a Variable."""
    if isinstance(value, _ctensor.VariableBase):
        value = value._read()
    elif not isinstance(value, _ctensor.TensorBase) and hasattr(value, "_as_ctensor"):
        value = value._as_ctensor()  # an optimizer's iterations / learning_rate
    if dtype is not None:
        dtype = _dt.as_dtype(dtype)
    if isinstance(value, _ctensor.TensorBase):
        if dtype is not None and value.dtype is not dtype:
            raise ValueError("Tensor conversion requested dtype %s for Tensor with dtype %s: %r"
                             % (dtype.name, value.dtype.name, value))
        return value
    if dtype is None and dtype_hint is not None:
        try:
            return convert_to_tensor(value, _dt.as_dtype(dtype_hint))
        except (TypeError, ValueError, OverflowError):
            pass
    if _is_buffer(value):
        return _from_buffer(value, dtype)
    if isinstance(value, (str, bytes)):
        raise TypeError("ctensor has no string tensors: cannot convert %r" % (value,))
    flat, shape = _flatten(value)
    if dtype is None:
        dtype = _infer_dtype(flat, value)
    try:
        return _ctensor.from_values(dtype._enum, shape, flat)
    except TypeError:
        if dtype.is_integer:
            raise TypeError("Cannot convert %r to EagerTensor of dtype %s" % (value, dtype.name)) from None
        raise


def constant(value, dtype=None, shape=None, name=None):
    """``tf.constant``: a tensor from a Python value or buffer, placed like
    an op (inside ``ctensor.device('/CPU:1')`` it lands on CPU:1)."""
    if isinstance(value, _ctensor.TensorBase):
        if dtype is not None and value.dtype is not _dt.as_dtype(dtype):
            raise TypeError("Expected tensor %r with dtype %r, but got dtype %r."
                            % (value, _dt.as_dtype(dtype), value.dtype))
        t = value
    else:
        t = convert_to_tensor(value, dtype)
    if shape is not None:
        shape = _shape_tuple(shape)
        n = 1
        for d in shape:
            n *= d
        if t._size == n:
            t = _ctensor.reshape(t, shape)
        elif t._size == 1:
            t = _ctensor.binary(_MUL, _ctensor.fill(t._dtype_enum, shape, 1.0), _ctensor.reshape(t, ()))
        else:
            raise TypeError("Eager execution of tf.constant with unsupported shape. Tensor %r (converted from "
                            "%r) has %d elements, but got `shape` %s with %d elements)."
                            % (t, value, t._size, shape, n))
    return t


def _shape_tuple(shape):
    if isinstance(shape, _ctensor.TensorBase):
        shape = shape.tolist()
    if isinstance(shape, int):
        shape = (shape,)
    return tuple(operator.index(d) if d is not None else -1 for d in shape)


def _axes(axis):
    if axis is None:
        return None
    if isinstance(axis, _ctensor.TensorBase):
        axis = axis.tolist()
    if isinstance(axis, (list, tuple)):
        return tuple(operator.index(a) for a in axis)
    return (operator.index(axis),)


# ---- ops ------------------------------------------------------------------

_TENSOR_LIKE = (_ctensor.TensorBase, _ctensor.VariableBase)


def _pair(x, y):
    """x and y as tensors; a Python value takes the other's dtype (a
    Variable counts as a tensor)."""
    if isinstance(x, _TENSOR_LIKE):
        x = convert_to_tensor(x)
        y = convert_to_tensor(y) if isinstance(y, _TENSOR_LIKE) else convert_to_tensor(y, dtype_hint=x.dtype)
    elif isinstance(y, _TENSOR_LIKE):
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype_hint=y.dtype)
    else:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype_hint=x.dtype)
    return x, y


def _binary(op, x, y):
    x, y = _pair(x, y)
    return _ctensor.binary(op, x, y)


def _unary(op, x):
    return _ctensor.unary(op, convert_to_tensor(x))


def add(x, y, name=None):
    return _binary(_ADD, x, y)


def subtract(x, y, name=None):
    return _binary(_SUB, x, y)


def multiply(x, y, name=None):
    return _binary(_MUL, x, y)


def divide(x, y, name=None):
    """True division; integer inputs are divided in float64, as in TensorFlow."""
    x, y = _pair(x, y)
    if x.dtype.is_integer and y.dtype is x.dtype:
        x, y = cast(x, _dt.float64), cast(y, _dt.float64)
    return _ctensor.binary(_DIV, x, y)


truediv = divide


def maximum(x, y, name=None):
    return _binary(_MAXIMUM, x, y)


def minimum(x, y, name=None):
    return _binary(_MINIMUM, x, y)


def pow(x, y, name=None):  # noqa: A001 (TensorFlow's name)
    return _binary(_POW, x, y)


def floordiv(x, y, name=None):
    """x // y, rounded toward minus infinity (floats: floor(x / y)); an
    integer divisor of 0 raises InvalidArgumentError."""
    return _binary(_FLOOR_DIV, x, y)


def floormod(x, y, name=None):
    """x % y with the sign of y (Python's %); an integer divisor of 0 raises
    InvalidArgumentError."""
    return _binary(_FLOOR_MOD, x, y)


mod = floormod


def equal(x, y, name=None):
    return _binary(_EQUAL, x, y)


def not_equal(x, y, name=None):
    return _binary(_NOT_EQUAL, x, y)


def less(x, y, name=None):
    return _binary(_LESS, x, y)


def less_equal(x, y, name=None):
    return _binary(_LESS_EQUAL, x, y)


def greater(x, y, name=None):
    return _binary(_GREATER, x, y)


def greater_equal(x, y, name=None):
    return _binary(_GREATER_EQUAL, x, y)


def negative(x, name=None):
    return _unary(_NEG, x)


def abs(x, name=None):  # noqa: A001
    return _unary(_ABS, x)


def exp(x, name=None):
    return _unary(_EXP, x)


def log(x, name=None):
    return _unary(_LOG, x)


def sqrt(x, name=None):
    return _unary(_SQRT, x)


def square(x, name=None):
    return _unary(_SQUARE, x)


def tanh(x, name=None):
    return _unary(_TANH, x)


def sigmoid(x, name=None):
    return _unary(_SIGMOID, x)


def relu(features, name=None):
    return _unary(_RELU, features)


def softmax(logits, axis=None, name=None):
    return _ctensor.softmax(convert_to_tensor(logits), -1 if axis is None else operator.index(axis))


def log_softmax(logits, axis=None, name=None):
    """``tf.nn.log_softmax``: logits - log(sum(exp(logits))) along ``axis``
    (default -1), computed without overflow."""
    return _ctensor.log_softmax(convert_to_tensor(logits), -1 if axis is None else operator.index(axis))


def _to_float32_if_half(x):
    """TensorFlow computes the softmax cross-entropies of float16/bfloat16
    logits in float32 and casts the loss back."""
    return cast(x, _dt.float32) if x.dtype in (_dt.float16, _dt.bfloat16) else x


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """``tf.nn.sparse_softmax_cross_entropy_with_logits``: labels of rank r
    (int32/int64 class indices), logits of rank r + 1; the loss has labels'
    shape. Ranks other than 1 and 2 are reshaped to 2-D and back, as
    TensorFlow does."""
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: both labels= and logits= are required")
    labels = convert_to_tensor(labels)
    logits = convert_to_tensor(logits)
    if logits.ndim == 0:
        raise ValueError("`logits` cannot be a scalar. Received logits=%r`" % (logits,))
    if labels.ndim != logits.ndim - 1:
        raise ValueError("`labels.shape.rank` must equal `logits.shape.rank - 1`. Received: labels.shape=%s of rank "
                         "%d and logits.shape=%s of rank %d" % (labels.shape, labels.ndim, logits.shape, logits.ndim))
    if labels.shape != logits.shape[:-1]:
        raise ValueError("`labels.shape` must equal `logits.shape` except for the last dimension. Received: "
                         "labels.shape=%s and logits.shape=%s" % (labels.shape, logits.shape))
    precise = _to_float32_if_half(logits)
    if logits.ndim == 2:
        cost = _ctensor.sparse_softmax_cross_entropy_with_logits(labels, precise)
    else:
        rows = labels._size
        flat = _ctensor.reshape(precise, (rows, logits.shape[-1]))
        cost = _ctensor.sparse_softmax_cross_entropy_with_logits(_ctensor.reshape(labels, (rows,)), flat)
        cost = _ctensor.reshape(cost, labels.shape)
    return cast(cost, logits.dtype)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """``tf.nn.softmax_cross_entropy_with_logits`` (v2): labels are a
    distribution per row (cast to logits' dtype) and receive a gradient too;
    ``axis`` is the class axis; any rank >= 1 (flattened to 2-D and back)."""
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    precise = _to_float32_if_half(logits)
    labels = cast(labels, precise.dtype)
    rank = logits.ndim
    if rank == 0:
        raise _invalid("softmax_cross_entropy_with_logits: logits must have at least 1 dimension, got shape ()")
    axis = operator.index(axis)
    if not -rank <= axis < rank:
        raise _invalid("softmax_cross_entropy_with_logits: axis %d is out of range for rank %d" % (axis, rank))
    axis %= rank
    if axis != rank - 1:
        perm = tuple(builtins.range(axis)) + tuple(builtins.range(axis + 1, rank)) + (axis,)
        precise, labels = transpose(precise, perm), transpose(labels, perm)
    out_shape = precise.shape[:-1]
    if rank != 2:
        # explicit sizes: -1 cannot be inferred when there are 0 classes
        rows = 1
        for d in out_shape:
            rows *= d
        precise = _ctensor.reshape(precise, (rows, precise.shape[-1]))
        labels = _ctensor.reshape(labels, (rows, labels.shape[-1]) if labels.ndim else (rows,))
    cost = _ctensor.softmax_cross_entropy_with_logits(labels, precise)
    if rank != 2:
        cost = _ctensor.reshape(cost, out_shape)
    return cast(cost, logits.dtype)


def stop_gradient(input, name=None):  # noqa: A002
    """The same values; no gradient flows back through it."""
    return _unary(_STOP_GRADIENT, input)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """``tf.one_hot``: the dtype is ``dtype``, else on_value's or off_value's,
    else float32; on/off values must agree with it (TypeError otherwise)."""
    on_exists, off_exists = on_value is not None, off_value is not None
    if dtype is not None:
        dtype = _dt.as_dtype(dtype)
    if on_exists:
        on_value = convert_to_tensor(on_value, dtype_hint=dtype)
    if off_exists:
        off_value = convert_to_tensor(off_value, dtype_hint=dtype)
    on_dtype = on_value.dtype if on_exists else None
    off_dtype = off_value.dtype if off_exists else None
    if on_exists or off_exists:
        if dtype is not None:
            if on_exists and on_dtype != dtype:
                raise TypeError("dtype {0} of on_value does not match dtype parameter {1}".format(on_dtype, dtype))
            if off_exists and off_dtype != dtype:
                raise TypeError("dtype {0} of off_value does not match dtype parameter {1}".format(off_dtype, dtype))
        else:
            dtype = on_dtype if on_exists else off_dtype
    elif dtype is None:
        dtype = _dt.float32
    if not on_exists:
        on_value, on_dtype = convert_to_tensor(1, dtype), dtype
    if not off_exists:
        off_value, off_dtype = convert_to_tensor(0, dtype), dtype
    if on_dtype != off_dtype:
        raise TypeError("dtype {0} of on_value does not match dtype {1} of off_value".format(on_dtype, off_dtype))
    for what, v in (("on_value", on_value), ("off_value", off_value)):
        if v.ndim != 0:
            raise _invalid("one_hot: %s must be a scalar, but got: %s" % (what, list(v.shape)))
    indices = convert_to_tensor(indices)
    return _ctensor.one_hot(indices, operator.index(_scalar_value(depth)), float(on_value._item()),
                            float(off_value._item()), -1 if axis is None else operator.index(axis), dtype._enum)


def _scalar_value(v):
    if isinstance(v, (_ctensor.TensorBase, _ctensor.VariableBase)):
        v = convert_to_tensor(v)
        if v.ndim != 0:
            raise _invalid("expected a scalar, got shape %s" % (v.shape,))
        return v._item()
    return v


def where(condition, x=None, y=None, name=None):
    """``tf.where`` (TensorFlow 2's where_v2): with x and y, x where
    condition is true and y elsewhere, the three broadcast together; with
    neither, the int64 coordinates [num_true, rank] of the true (non-zero)
    elements of condition, in row-major order."""
    if x is None and y is None:
        c = convert_to_tensor(condition)
        coords = []

        def visit(v, prefix):
            if isinstance(v, list):
                for i, e in enumerate(v):
                    visit(e, prefix + [i])
            elif v:
                coords.append(prefix)
        visit(c.tolist(), [])
        if not coords or c.ndim == 0:
            return _ctensor.fill(_dt.int64._enum, (len(coords), c.ndim), 0.0)
        return convert_to_tensor(coords, _dt.int64)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    x, y = _pair(x, y)
    return _ctensor.where(convert_to_tensor(condition), x, y)


def broadcast_to(input, shape, name=None):  # noqa: A002
    """``tf.broadcast_to``: a copy of input broadcast to ``shape`` by NumPy's rules."""
    return _ctensor.broadcast_to(convert_to_tensor(input), _shape_tuple(shape))


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """``tf.math.unsorted_segment_sum``: out[s] = sum of data[i] with
    segment_ids[i] == s; shape [num_segments] + data.shape[segment_ids.rank:]."""
    return _ctensor.unsorted_segment_sum(convert_to_tensor(data), convert_to_tensor(segment_ids),
                                         operator.index(_scalar_value(num_segments)))


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """``tf.matmul`` for rank 2 or more (batch dimensions broadcast); adjoint is
    transpose for these real dtypes."""
    a = convert_to_tensor(a)
    b = convert_to_tensor(b, dtype_hint=a.dtype)
    return _ctensor.matmul(a, b, builtins.bool(transpose_a or adjoint_a), builtins.bool(transpose_b or adjoint_b))


def _reduce(op, input_tensor, axis, keepdims):
    return _ctensor.reduce(op, convert_to_tensor(input_tensor), _axes(axis), builtins.bool(keepdims))


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(_SUM, input_tensor, axis, keepdims)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(_MEAN, input_tensor, axis, keepdims)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(_MAX, input_tensor, axis, keepdims)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce(_MIN, input_tensor, axis, keepdims)


def argmax(input, axis=None, output_type=_dt.int64, name=None):  # noqa: A002
    output_type = _dt.as_dtype(output_type)
    return _ctensor.argmax(convert_to_tensor(input), 0 if axis is None else operator.index(axis),
                           output_type._enum)


def cast(x, dtype, name=None):
    """``tf.cast``; a tensor that already has the dtype is returned as is."""
    dtype = _dt.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype is dtype:
        return x
    return _ctensor.cast(x, dtype._enum)


def reshape(tensor, shape, name=None):
    return _ctensor.reshape(convert_to_tensor(tensor), _shape_tuple(shape))


def transpose(a, perm=None, conjugate=False, name=None):
    perm = None if perm is None else _axes(perm)
    a = convert_to_tensor(a)
    if perm is not None and len(perm) != a.ndim:
        # TensorFlow's InvalidArgumentError (the extension says ValueError)
        raise _invalid("transpose expects a vector of size %d. But input(1) is a vector of size %d"
                       % (a.ndim, len(perm)))
    return _ctensor.transpose(a, perm)


def concat(values, axis, name=None):
    values = [convert_to_tensor(v) for v in values]
    return _ctensor.concat(values, operator.index(axis))


def _invalid(message):
    return _errors.InvalidArgumentError(None, None, message)


def expand_dims(input, axis, name=None):  # noqa: A002
    """A view with a new dimension of size 1 at ``axis`` (in [-rank-1, rank])."""
    x = convert_to_tensor(input)
    rank, a = len(x.shape), operator.index(axis)
    if not -rank - 1 <= a <= rank:
        raise _invalid("expand_dims: tried to expand dim index %d for tensor with %d dimensions" % (a, rank))
    a = a + rank + 1 if a < 0 else a
    return _ctensor.reshape(x, x.shape[:a] + (1,) + x.shape[a:])


def squeeze(input, axis=None, name=None):  # noqa: A002
    """A view without the size-1 dimensions (or only those in ``axis``, each
    of which must be 1)."""
    x = convert_to_tensor(input)
    shape_, rank = x.shape, len(x.shape)
    if axis is None:
        return _ctensor.reshape(x, tuple(d for d in shape_ if d != 1))
    drop = set()
    for a in _axes(axis) if isinstance(axis, (list, tuple)) else (operator.index(axis),):
        if not -rank <= a < rank:
            raise _invalid("squeeze: tried to squeeze dim index %d for tensor with %d dimensions" % (a, rank))
        a = a + rank if a < 0 else a
        if shape_[a] != 1:
            raise _invalid("squeeze: can not squeeze dim[%d], expected a dimension of 1, got %d" % (a, shape_[a]))
        drop.add(a)
    return _ctensor.reshape(x, tuple(d for i, d in enumerate(shape_) if i not in drop))


def stack(values, axis=0, name=None):
    """Tensors of one shape and dtype joined along a new axis (in
    [-(rank+1), rank])."""
    values = [convert_to_tensor(v) for v in values]
    if not values:
        raise ValueError("stack: needs at least one tensor")
    first = values[0]
    # TensorFlow checks the axis against values[0] first, then the shapes
    rank, a = len(first.shape), operator.index(axis)
    if not -rank - 1 <= a <= rank:
        raise ValueError("stack: axis %d not in range [%d, %d)" % (a, -rank - 1, rank + 1))
    for i, v in enumerate(values[1:], 1):
        if v.shape != first.shape:
            raise _invalid("stack: shapes of all inputs must match: values[0].shape = %s != values[%d].shape = %s"
                           % (list(first.shape), i, list(v.shape)))
    return _ctensor.concat([expand_dims(v, a) for v in values], a)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Values of t limited to [clip_value_min, clip_value_max]; NaN stays NaN.
    Bounds that would broadcast t to another shape are a ValueError, as in
    TensorFlow (its ``assert_is_compatible_with`` after each step)."""
    if not isinstance(t, _TENSOR_LIKE):
        t = convert_to_tensor(t)
    t_min = minimum(t, clip_value_max)
    if t_min.shape != t.shape:
        raise ValueError("Shapes %s and %s are incompatible" % (t.shape, t_min.shape))
    t_max = maximum(t_min, clip_value_min)
    if t_max.shape != t.shape:
        raise ValueError("Shapes %s and %s are incompatible" % (t.shape, t_max.shape))
    return t_max


def slice(input_, begin, size, name=None):  # noqa: A001
    return _ctensor.slice(convert_to_tensor(input_), _shape_tuple(begin), _shape_tuple(size))


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """``tf.gather``: slices of params along ``axis`` (default 0) picked by
    int32/int64 ``indices``; the result's shape is params.shape[:axis] +
    indices.shape + params.shape[axis+1:]. An index out of range raises
    InvalidArgumentError on every device. ``batch_dims`` must be 0."""
    if operator.index(batch_dims) != 0:
        raise NotImplementedError("gather: batch_dims other than 0 is not supported (got %d)" % batch_dims)
    params = convert_to_tensor(params)
    indices = convert_to_tensor(indices)
    return _ctensor.gather(params, indices, 0 if axis is None else operator.index(axis))


def identity(input, name=None):  # noqa: A002
    """A copy on the current device scope's device (``tf.identity`` under
    ``tf.device``); allowed under every device policy."""
    return _ctensor.copy_to(convert_to_tensor(input), "")


def zeros(shape, dtype=_dt.float32, name=None):
    return _ctensor.fill(_dt.as_dtype(dtype)._enum, _shape_tuple(shape), 0.0)


def ones(shape, dtype=_dt.float32, name=None):
    return _ctensor.fill(_dt.as_dtype(dtype)._enum, _shape_tuple(shape), 1.0)


def zeros_like(input, dtype=None, name=None):  # noqa: A002
    input = convert_to_tensor(input)
    if dtype is not None and _dt.as_dtype(dtype) is not input.dtype:
        return zeros(input.shape, dtype)
    return _ctensor.unary(_ZEROS_LIKE, input)


def ones_like(input, dtype=None, name=None):  # noqa: A002
    input = convert_to_tensor(input)
    if dtype is not None and _dt.as_dtype(dtype) is not input.dtype:
        return ones(input.shape, dtype)
    return _ctensor.unary(_ONES_LIKE, input)


def fill(dims, value, name=None):
    """``tf.fill``: the dtype is the value's (a float gives float32)."""
    v = convert_to_tensor(value)
    if v.ndim != 0:
        raise ValueError("fill: value must be a scalar, got shape %s" % (v.shape,))
    item = v._item()
    if v.dtype is _dt.int64 and int(float(item)) != item:
        # the library's fill takes a double, which rounds int64 values
        # beyond 2**53: broadcast the exact value instead
        return _ctensor.broadcast_to(v, _shape_tuple(dims))
    return _ctensor.fill(v._dtype_enum, _shape_tuple(dims), float(item))


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001
    """``tf.range``: int32 for integer arguments, float32 when any is a float."""
    if limit is None:
        start, limit = 0, start
    args = [a._item() if isinstance(a, _ctensor.TensorBase) else a for a in (start, limit, delta)]
    if dtype is None:
        dtype = _dt.float32 if any(isinstance(a, float) for a in args) else _dt.int32
        if dtype is _dt.int32 and not all(-2**31 <= a < 2**31 for a in args):
            dtype = _dt.int64
    dtype = _dt.as_dtype(dtype)
    return _ctensor.range(dtype._enum, float(args[0]), float(args[1]), float(args[2]))


def shape(input, out_type=_dt.int32, name=None):  # noqa: A002
    return convert_to_tensor(list(convert_to_tensor(input).shape), dtype=out_type)


def _getitem(t, key):
    """Basic indexing: ints, slices with step 1, ``...`` and ``None``."""
    if not isinstance(key, tuple):
        key = (key,)
    shape_ = t.shape
    rank = len(shape_)
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_real = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > rank:
        raise IndexError("too many indices for a tensor of rank %d: %r" % (rank, key))
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded.extend([builtins.slice(None)] * (rank - n_real))
        else:
            expanded.append(k)
    if Ellipsis not in key:
        expanded.extend([builtins.slice(None)] * (rank - n_real))
    begin, size, out_shape = [], [], []
    axis = 0
    for k in expanded:
        if k is None:
            out_shape.append(1)
            continue
        dim = shape_[axis]
        if isinstance(k, builtins.slice):
            start, stop, step = k.indices(dim)
            if step != 1:
                raise NotImplementedError("ctensor: slices with a step other than 1 are not supported (got %r)" % k)
            n = builtins.max(0, stop - start)
            begin.append(start if n else 0)
            size.append(n)
            out_shape.append(n)
        else:
            if isinstance(k, (builtins.bool, float)) or not hasattr(k, "__index__"):
                raise TypeError("Only integers, slices (`:`), ellipsis (`...`) and None are valid indices, got %r"
                                % (k,))
            i = operator.index(k)
            if i < -dim or i >= dim:
                raise _errors.InvalidArgumentError(
                    None, None, "slice index %d of dimension %d out of bounds." % (i, axis))
            begin.append(i + dim if i < 0 else i)
            size.append(1)
        axis += 1
    r = _ctensor.slice(t, tuple(begin), tuple(size)) if rank else t
    if tuple(out_shape) != r.shape:
        r = _ctensor.reshape(r, tuple(out_shape))
    return r
