"""Element types: ``ctensor.float32`` and friends, like ``tf.float32``."""

from . import _ctensor

__all__ = ["DType", "as_dtype", "float32", "float64", "float16", "bfloat16",
           "int32", "int64", "bool", "half", "double"]


class DType:
    """One element type. Instances are singletons, compared by identity,
    and equal to their name (``ctensor.float32 == "float32"``) as
    TensorFlow's are."""

    __slots__ = ("_enum", "_name", "_size")

    def __init__(self, enum):
        self._enum = enum
        self._name, self._size = _ctensor.dtype_info(enum)

    @property
    def name(self):
        return self._name

    @property
    def size(self):
        """Bytes per element."""
        return self._size

    @property
    def is_floating(self):
        return self._name in ("float32", "float64", "float16", "bfloat16")

    @property
    def is_integer(self):
        return self._name in ("int32", "int64")

    @property
    def is_bool(self):
        return self._name == "bool"

    @property
    def as_numpy_dtype(self):
        import numpy
        # NumPy has no bfloat16; its values come out as float32.
        return numpy.dtype("float32" if self._name == "bfloat16" else self._name).type

    @property
    def min(self):
        return {"int32": -2**31, "int64": -2**63, "bool": False, "float16": -65504.0,
                "float32": -3.4028234663852886e38, "bfloat16": -3.3895313892515355e38,
                "float64": -1.7976931348623157e308}[self._name]

    @property
    def max(self):
        return {"int32": 2**31 - 1, "int64": 2**63 - 1, "bool": True, "float16": 65504.0,
                "float32": 3.4028234663852886e38, "bfloat16": 3.3895313892515355e38,
                "float64": 1.7976931348623157e308}[self._name]

    def __repr__(self):
        return "ctensor." + self._name

    def __str__(self):
        return "<dtype: %r>" % self._name

    def __eq__(self, other):
        if other is self:
            return True
        try:
            return as_dtype(other) is self
        except (TypeError, ValueError):
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self._enum)

    def __reduce__(self):
        return as_dtype, (self._name,)


_BY_ENUM = tuple(DType(i) for i in range(_ctensor.DTYPE_COUNT))
float32, float64, float16, bfloat16, int32, int64, bool = _BY_ENUM  # noqa: A001
half, double = float16, float64

_BY_NAME = {d.name: d for d in _BY_ENUM}
_BY_NAME.update({"half": float16, "double": float64, "float": float32})

# struct/memoryview format characters (after any byte-order prefix).
_BY_FORMAT = {"f": float32, "d": float64, "e": float16, "?": bool}


def from_format(fmt, itemsize):
    """The dtype of a buffer with this struct format, or None."""
    fmt = fmt.lstrip("@=<")
    if fmt in _BY_FORMAT:
        return _BY_FORMAT[fmt]
    if fmt in ("i", "l", "q", "h", "b", "n") and itemsize in (4, 8):
        return int32 if itemsize == 4 else int64
    return None


def as_dtype(value):
    """A DType from a DType, a name (``"float32"``), a Python type
    (``float``, ``int``, ``bool``) or a NumPy dtype/type."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise TypeError("Cannot convert value %r to a ctensor DType." % (value,))
    import builtins
    if value is builtins.float:
        return float32
    if value is builtins.int:
        return int32
    if value is builtins.bool:
        return bool
    name = getattr(value, "name", None)  # numpy.dtype
    if name is None and isinstance(value, type):
        name = getattr(value, "__name__", None)  # numpy.float32 etc.
    if isinstance(name, str) and name in _BY_NAME:
        return _BY_NAME[name]
    raise TypeError("Cannot convert value %r to a ctensor DType." % (value,))
