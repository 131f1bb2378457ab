"""``tf.keras.initializers``: Glorot (Xavier) initialisers and zeros/ones,
with Keras 3's fan rules and scales. Values come from ctensor's Philox
stream (docs/random.md), so they are not TensorFlow's numbers; a seeded
initializer gives the same values at every call, as Keras 3's does."""

import math as _math

from .. import _ops
from .. import dtypes as _dt
from .. import random as _random

__all__ = ["Initializer", "GlorotUniform", "GlorotNormal", "Zeros", "Ones", "glorot_uniform", "glorot_normal",
           "zeros", "ones", "get"]


def _fans(shape):
    """Keras's compute_fans: (fan_in, fan_out)."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return int(shape[-2] * receptive), int(shape[-1] * receptive)


class Initializer:
    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return _ops.zeros(shape, dtype=_dt.as_dtype(dtype or _dt.float32))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return _ops.ones(shape, dtype=_dt.as_dtype(dtype or _dt.float32))


class GlorotUniform(Initializer):
    """Uniform in [-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        limit = _math.sqrt(6.0 / max(1.0, (fan_in + fan_out) / 1.0))
        return _random.uniform(shape, -limit, limit, dtype=_dt.as_dtype(dtype or _dt.float32), seed=self.seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(Initializer):
    """Truncated normal (within two standard deviations) with stddev
    sqrt(2 / (fan_in + fan_out)) / 0.87962566103423978 (Keras's correction
    for the truncation)."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        stddev = _math.sqrt(2.0 / max(1.0, (fan_in + fan_out) / 1.0)) / 0.87962566103423978
        return _random.truncated_normal(shape, 0.0, stddev, dtype=_dt.as_dtype(dtype or _dt.float32),
                                        seed=self.seed)

    def get_config(self):
        return {"seed": self.seed}


glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
zeros = Zeros
ones = Ones

_BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "zeros": Zeros, "ones": Ones}


def get(identifier):
    """An initializer from its name ('glorot_uniform', ...) or itself."""
    if identifier is None or isinstance(identifier, Initializer) or callable(identifier) and \
            not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError("Could not interpret initializer identifier: %r" % (identifier,))
