"""ctensor: a tensor runtime in C with TensorFlow-style device management.

The Python API follows TensorFlow's names and semantics, so that code
written for TensorFlow runs with its import changed::

    import ctensor as tf

    print("Devices:", tf.config.list_physical_devices())
    a = tf.random.normal((1000, 1000))
    c = tf.matmul(a, a)
    print("Result tensor device:", c.device)

One context per process, created on import (TensorFlow's global eager
context). See docs/python.md for what is covered and what differs.
"""

import atexit as _atexit
import builtins as _builtins
import os as _os
import sys as _sys
import threading as _threading
import time as _time

# ctensor's kernels run on OpenMP threads and its matmuls on OpenBLAS's own
# threads: two pools on the same cores. By default libgomp lets an idle
# worker spin for milliseconds after each parallel region, on the core that
# OpenBLAS's next GEMM needs (bench/train.py's wide MLP on 2 threads: 4x
# the time per step, 3x the CPU time). libgomp reads its wait policy once,
# when loading _ctensor loads it, so PASSIVE is set for that moment only,
# unless the user chose a policy (or libgomp was already loaded, by torch
# say: then this changes nothing).
_omp_policy_set = "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ
if _omp_policy_set:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
try:
    from . import _ctensor
finally:
    if _omp_policy_set:
        del _os.environ["OMP_WAIT_POLICY"]
from . import config, debugging, dtypes, errors, math, nn, random, test
from . import keras, optimizers
from ._ops import (Tensor, abs, add, argmax, broadcast_to, cast, clip_by_value, concat, constant, convert_to_tensor,
                   divide, equal, exp, expand_dims, fill, gather, greater, greater_equal, identity, is_tensor, less,
                   less_equal, log, matmul, maximum, minimum, multiply, negative, not_equal, one_hot, ones,
                   ones_like, pow, range, reduce_max, reduce_mean, reduce_min, reduce_sum, reshape, shape, sigmoid,
                   slice, sqrt, square, squeeze, stack, stop_gradient, subtract, tanh, transpose, truediv, where,
                   zeros, zeros_like)
from ._variables import Variable
from ._backprop import GradientTape, UnconnectedGradients
from .device_spec import DeviceSpec
from .dtypes import DType, as_dtype, bfloat16, bool, double, float16, float32, float64, half, int32, int64
from . import experimental  # after Tensor: adds Tensor.__dlpack__ and friends (experimental/dlpack.py)

__version__ = _ctensor.version()

_ctensor._set_classes(Tensor, dtypes._BY_ENUM, dict(errors._BY_CODE), Variable)


# ---- placement logging -------------------------------------------------------

def _log_sink(level, message):
    # absl's layout, as TensorFlow prints it: "I0000 00:00:<epoch> <thread> file] message".
    letter = "IWE"[level] if 0 <= level <= 2 else "E"
    _sys.stderr.write("%s0000 00:00:%.6f %7d ctensor] %s\n"
                      % (letter, _time.time(), _threading.get_native_id() % 10000000, message))


_ctensor.set_log_sink(_log_sink)


@_atexit.register
def _shutdown():
    for stream in (_sys.stdout, _sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    _ctensor._shutdown()


# ---- device scopes -----------------------------------------------------------

_scopes = _threading.local()


class device:
    """``with ctensor.device('/GPU:0'):`` — ops inside run on that device
    (soft placement permitting). Scopes are per thread and nest: fields the
    inner spec sets win. The spec is checked on entry (ValueError when
    malformed); leaving scopes out of order raises RuntimeError."""

    def __init__(self, device_name):
        if callable(device_name):
            raise RuntimeError("tf.device does not support functions when eager execution is enabled.")
        if device_name is None:
            device_name = ""
        elif not isinstance(device_name, str):
            to_string = getattr(device_name, "to_string", None)
            device_name = to_string() if to_string else getattr(device_name, "name", device_name)
        if not isinstance(device_name, str):
            raise TypeError("device: expected a device name string, got %r" % (device_name,))
        self._name = device_name

    def __enter__(self):
        try:
            _ctensor.scope_push(self._name)
        except errors.InvalidArgumentError as e:
            raise ValueError(e.message) from None
        stack = getattr(_scopes, "stack", None)
        if stack is None:
            stack = _scopes.stack = []
        stack.append(self)
        return None

    def __exit__(self, exc_type, exc, tb):
        stack = getattr(_scopes, "stack", None)
        if not stack or stack[-1] is not self:
            raise RuntimeError("Exiting device scope without proper scope nesting")
        stack.pop()
        _ctensor.scope_pop()
        return False

    def __repr__(self):
        return "ctensor.device(%r)" % self._name


def current_device_scope():
    """The calling thread's merged device scope ('' when none)."""
    return _ctensor.scope_current()


# ---- the rest of TensorFlow's top level, and ctensor's own ------------------

def executing_eagerly():
    return True


def placement_report():
    """The placement report: ops per device, soft-placement fallbacks and
    their reasons, and why no GPU was used (if none was)."""
    return _ctensor.placement_report()


def set_placement_report_at_exit(enabled=True):
    """Prints the placement report to stderr when the interpreter exits
    (as CT_PLACEMENT_REPORT=1 does)."""
    _ctensor.set_flag(3, _builtins.bool(enabled))


def op_count(device_name):
    """Ops run on a logical device ('CPU:0', '/GPU:0', ...) since start."""
    return _ctensor.op_count(device_name)


def gpu_availability():
    """(reason, detail): ('USABLE', '') when a GPU is usable, else why not."""
    return _ctensor.gpu_availability()


def build_features():
    return _ctensor.build_features()



__all__ = [
    "Tensor", "DType", "as_dtype", "bfloat16", "bool", "double", "float16", "float32", "float64", "half",
    "int32", "int64", "config", "debugging", "dtypes", "errors", "math", "nn", "random", "test", "device",
    "abs", "add", "argmax", "cast", "concat", "constant", "convert_to_tensor", "divide", "equal", "exp",
    "fill", "greater", "greater_equal", "identity", "is_tensor", "less", "less_equal", "log", "matmul",
    "maximum", "minimum", "multiply", "negative", "not_equal", "ones", "ones_like", "pow", "range",
    "reduce_max", "reduce_mean", "reduce_min", "reduce_sum", "reshape", "shape", "sigmoid", "slice", "sqrt",
    "square", "subtract", "tanh", "transpose", "truediv", "zeros", "zeros_like", "executing_eagerly",
    "placement_report", "set_placement_report_at_exit", "op_count", "gpu_availability",
    "current_device_scope", "build_features", "DeviceSpec", "gather", "expand_dims", "squeeze", "stack",
    "clip_by_value", "Variable", "GradientTape", "UnconnectedGradients", "stop_gradient", "one_hot", "where",
    "broadcast_to", "keras", "optimizers",
]
