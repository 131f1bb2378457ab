"""``tf.Variable``: a value with a fixed dtype, shape and device that
``assign``, ``assign_add`` and ``assign_sub`` replace.

A Variable wraps one library variable (``ct_variable``). It is not a
Tensor -- its value changes -- but every op accepts it: the conversion
helper every op goes through (``convert_to_tensor``) reads it. A read while
a ``GradientTape`` records is seen by that tape, and a trainable variable
read so is watched automatically, as in TensorFlow.
"""

import itertools as _itertools
import weakref as _weakref

from . import _ctensor
from . import _ops

# Numbers shared with python/ctensor_module.c (variable_updates).
_ASSIGN, _ASSIGN_ADD, _ASSIGN_SUB = 0, 1, 2

# Every Variable made in Python, by the library variable it wraps, so that
# GradientTape.watched_variables() hands back the objects the user made;
# and a creation counter, the order TensorFlow lists watched variables in.
_LIVE = _weakref.WeakValueDictionary()
_CREATED = _itertools.count()


class Variable(_ctensor.VariableBase):
    """``tf.Variable(initial_value, trainable=True, name=None, dtype=None,
    shape=None)``: placed like an op (the device scope's device, else the
    best device for its dtype). ``name`` is TensorFlow's (``'Variable:0'``
    unless named); ``shape`` must be the initial value's."""

    __slots__ = ("_uid",)
    __array_priority__ = 100

    def __new__(cls, initial_value=None, trainable=None, validate_shape=True, caching_device=None, name=None,
                variable_def=None, dtype=None, import_scope=None, constraint=None, synchronization=None,
                aggregation=None, shape=None, experimental_enable_variable_lifting=True):
        if initial_value is None:
            raise ValueError("The `initial_value` arg (None) must be specified.")
        if callable(initial_value):
            initial_value = initial_value()
        value = _ops.convert_to_tensor(initial_value, dtype=dtype)
        if shape is not None:
            want = (shape,) if isinstance(shape, int) else tuple(shape)
            if any(d is None or d == -1 for d in want):
                raise NotImplementedError("ctensor variables have a fixed shape: shape=%r is not supported "
                                          "(omit it, or give the initial value's shape)" % (shape,))
            if want != value.shape:
                raise ValueError("In this `tf.Variable` creation, the initial value's shape (%s) is not compatible "
                                 "with the explicitly supplied `shape` argument (%s)." % (value.shape, want))
        if name is not None and not isinstance(name, str):
            raise TypeError("Variable name must be a string, got %r" % (name,))
        self = super().__new__(cls, value, True if trainable is None else bool(trainable), name)
        self._uid = next(_CREATED)
        _LIVE[self._handle_id] = self
        return self

    def __init__(self, *args, **kwargs):
        pass  # everything happened in __new__

    # -- the value ----------------------------------------------------------
    @property
    def name(self):
        return self._c_name + ":0"

    def read_value(self):
        """The current value, a new tensor (later assigns do not change it)."""
        return self._read()

    def value(self):
        return self._read()

    def numpy(self):
        return self._read().numpy()

    def get_shape(self):
        return self.shape

    def ref(self):
        return _ops._TensorRef(self)

    def _converted(self, value):
        return _ops.convert_to_tensor(value, dtype=self.dtype)

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Replaces the value. ``value`` is converted to the variable's dtype
        (a tensor of another dtype: ValueError); another shape: ValueError.
        Returns the variable (None with read_value=False)."""
        value = self._converted(value)
        if value.shape != self.shape:
            raise ValueError("Cannot assign value to variable ' %s': Shape mismatch.The variable shape %s, and the "
                             "assigned value shape %s are incompatible." % (self.name, self.shape, value.shape))
        self._update(_ASSIGN, value)
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Adds ``delta`` (the variable's dtype and shape: InvalidArgumentError
        otherwise, as TensorFlow's AssignAddVariableOp)."""
        self._update(_ASSIGN_ADD, self._converted(delta))
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        self._update(_ASSIGN_SUB, self._converted(delta))
        return self if read_value else None

    # -- printing -------------------------------------------------------------
    def __repr__(self):
        return "<ctensor.Variable '%s' shape=%s dtype=%s, numpy=%s>" % (
            self.name, self.shape, self.dtype.name, self._read()._numpy_text(True))

    __str__ = __repr__

    # -- Python protocols: those of the value ---------------------------------
    def __array__(self, dtype=None, copy=None):
        return self._read().__array__(dtype)

    def __float__(self):
        return float(self._read())

    def __int__(self):
        return int(self._read())

    def __index__(self):
        return self._read().__index__()

    def __bool__(self):
        return bool(self._read())

    def __getitem__(self, key):
        return self._read()[key]

    def __iter__(self):
        raise TypeError("'Variable' object is not iterable.")

    def __hash__(self):
        raise TypeError("Variable is unhashable. Instead, use variable.ref() as the key.")

    def __eq__(self, other):
        return self._read().__eq__(other)

    def __ne__(self, other):
        return self._read().__ne__(other)

    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.subtract(self, other)
    def __rsub__(self, other): return _ops.subtract(other, self)
    def __mul__(self, other): return _ops.multiply(self, other)
    def __rmul__(self, other): return _ops.multiply(other, self)
    def __truediv__(self, other): return _ops.divide(self, other)
    def __rtruediv__(self, other): return _ops.divide(other, self)
    def __floordiv__(self, other): return _ops.floordiv(self, other)
    def __rfloordiv__(self, other): return _ops.floordiv(other, self)
    def __mod__(self, other): return _ops.floormod(self, other)
    def __rmod__(self, other): return _ops.floormod(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.negative(self)
    def __abs__(self): return _ops.abs(self)
    def __lt__(self, other): return _ops.less(self, other)
    def __le__(self, other): return _ops.less_equal(self, other)
    def __gt__(self, other): return _ops.greater(self, other)
    def __ge__(self, other): return _ops.greater_equal(self, other)


def _python_variables(wrappers):
    """The Variables the user made for `wrappers` (new wrappers of library
    variables), in creation order; a variable whose Python object is gone
    comes back as its new wrapper."""
    found = [_LIVE.get(w._handle_id, w) for w in wrappers]
    return tuple(sorted(found, key=lambda v: getattr(v, "_uid", float("inf"))))
