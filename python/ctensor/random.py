"""Random tensors, as ``tf.random`` — stateless Philox underneath.

Every draw is ctensor's ``(seed, offset)`` pair (docs/random.md), chosen so:

* ``seed=s`` given: the C library's seed ``s`` at offset 0. The same call
  gives the same values every time, in every process, and the same values
  as ``ct_random_normal(ctx, ..., seed=s, offset=0)`` in C. (TensorFlow
  instead advances a hidden counter per op seed, so its second call with
  ``seed=s`` differs from the first.)
* ``seed=None``: the process's seed and a counter. The counter advances by
  the Philox blocks each draw uses (4 elements a block, 2 for float64), so
  consecutive draws never overlap. The process seed is random at import,
  or the value given to ``ctensor.random.set_seed``, which also resets the
  counter, making a whole program's unseeded draws reproducible.
"""

import os
import threading

from . import _ctensor
from . import _ops
from . import dtypes as _dt

__all__ = ["normal", "uniform", "truncated_normal", "set_seed"]

_lock = threading.Lock()
_state = {"seed": int.from_bytes(os.urandom(8), "little"), "offset": 0}


def set_seed(seed):
    """Makes unseeded draws reproducible: they use ``seed`` and a counter
    that restarts at 0."""
    with _lock:
        _state["seed"] = int(seed) & (2**64 - 1)
        _state["offset"] = 0


def _key(seed, shape, dtype):
    if seed is not None:
        return int(seed) & (2**64 - 1), 0
    n = 1
    for d in shape:
        n *= max(d, 0)
    per_block = 2 if dtype is _dt.float64 else 4
    with _lock:
        key, offset = _state["seed"], _state["offset"]
        _state["offset"] = (offset + (n + per_block - 1) // per_block) & (2**64 - 1)
    return key, offset


def _number(v):
    return float(v._item()) if isinstance(v, _ctensor.TensorBase) else float(v)


def _draw(kind, shape, a, b, dtype, seed):
    dtype = _dt.as_dtype(dtype)
    shape = _ops._shape_tuple(shape)
    key, offset = _key(seed, shape, dtype)
    return _ctensor.random(kind, dtype._enum, shape, _number(a), _number(b), key, offset)


def uniform(shape, minval=0, maxval=None, dtype=_dt.float32, seed=None, name=None):
    """Values in ``[minval, maxval)`` (maxval defaults to 1)."""
    return _draw(0, shape, minval, 1.0 if maxval is None else maxval, dtype, seed)


def normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    return _draw(1, shape, mean, stddev, dtype, seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_dt.float32, seed=None, name=None):
    """Normal values re-drawn until within two standard deviations."""
    return _draw(2, shape, mean, stddev, dtype, seed)
