"""DLPack: tensors shared with NumPy, PyTorch, JAX and CuPy without a copy.

TensorFlow's ``tf.experimental.dlpack`` names, plus the Python array API
standard's protocol on :class:`ctensor.Tensor` (``__dlpack__``,
``__dlpack_device__``) and NumPy 2's ``__array__(dtype, copy)``::

    import numpy as np, ctensor as tf
    t = tf.constant([1.0, 2.0])
    a = np.from_dlpack(t)                        # no copy: a shares t's bytes (read-only)
    u = tf.experimental.dlpack.from_dlpack(a)    # no copy the other way either

See docs/dlpack.md. The C side is ct_tensor_to_dlpack/ct_tensor_from_dlpack.
"""

import enum as _enum

from .. import _ctensor
from .._ops import Tensor as _Tensor, convert_to_tensor as _convert

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack", "copy_count"]


class DLDeviceType(_enum.IntEnum):
    """DLPack's device types that ctensor produces or reads."""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLCUDAManaged = 13


_VERSION = (1, 1)


def _is_capsule(obj):
    return type(obj).__name__ == "PyCapsule"


def to_dlpack(tf_tensor):
    """A DLPack capsule ("dltensor", the pre-1.0 form every consumer reads)
    sharing the tensor's memory, as ``tf.experimental.dlpack.to_dlpack``.
    The capsule can be consumed once."""
    return _ctensor.dlpack_export(_convert(tf_tensor), False)


def from_dlpack(obj, *, copy=None):
    """A ctensor Tensor over a DLPack tensor's memory, as
    ``tf.experimental.dlpack.from_dlpack``: ``obj`` is a capsule, or any
    object with ``__dlpack__`` (NumPy, PyTorch, JAX, CuPy arrays). Compact
    memory is borrowed, not copied; anything else (other strides, a
    misaligned pointer) is copied on the CPU, counted by
    :func:`copy_count` — or refused with ``copy=False`` (``BufferError``).
    Errors: ``TypeError`` for an object that is neither; ``ValueError``
    for a capsule already consumed; ``errors.InvalidArgumentError`` for a
    dtype ctensor lacks (complex, uint8, ...); ``errors.NotFoundError`` for
    a device ctensor does not have."""
    if copy is True:
        return _copy_of(obj)
    cap = _capsule_of(obj)
    try:
        return _ctensor.dlpack_import(cap, copy is False)
    except Exception as e:
        if copy is False and type(e).__name__ == "InvalidArgumentError" and "CT_DLPACK_NO_COPY" in str(e):
            raise BufferError(str(e)) from None
        raise


def _copy_of(obj):
    from .. import identity
    return identity(_ctensor.dlpack_import(_capsule_of(obj), False))


def _capsule_of(obj):
    if _is_capsule(obj):
        return obj
    dlpack = getattr(obj, "__dlpack__", None)
    if dlpack is None:
        raise TypeError("from_dlpack: %s object has no __dlpack__ and is not a DLPack capsule"
                        % type(obj).__name__)
    kwargs = {}
    device = getattr(obj, "__dlpack_device__", None)
    if device is not None:
        dev_type, dev_id = device()
        if int(dev_type) == DLDeviceType.kDLCUDA:
            # The producer makes ctensor's stream for that GPU wait for its work.
            kwargs["stream"] = _ctensor.dlpack_stream(int(dev_type), int(dev_id))
    try:
        return dlpack(max_version=_VERSION, **kwargs)
    except TypeError:
        # Producers from before the 2023 protocol (NumPy < 2, PyTorch < 2.3)
        # take no max_version and return a "dltensor" capsule.
        return dlpack(**kwargs)


def copy_count():
    """How many imports in this process had to copy (non-compact strides,
    misaligned data, bool bytes other than 0/1)."""
    return _ctensor.dlpack_copy_count()


# ---- the protocol on ctensor.Tensor ----------------------------------------

def _dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule of this tensor (Python array API standard).

    ``max_version`` (major, minor) >= (1, 0) gets a "dltensor_versioned"
    capsule (read-only flag set: tensors are immutable), else "dltensor".
    ``dl_device``: the tensor's own device, or ``(kDLCPU, 0)`` to get a host
    copy of a GPU tensor (not with ``copy=False``). ``copy=True`` exports a
    fresh copy. ``stream``: for a GPU tensor ctensor waits for the work that
    made it before returning, so any consumer stream may read it (``-1``
    included); for a CPU tensor it must be None."""
    t = self
    own = tuple(_ctensor.dlpack_device(self))
    if stream is not None and own[0] == DLDeviceType.kDLCPU and stream != -1:
        raise ValueError("__dlpack__: stream=%r for a CPU tensor (must be None)" % (stream,))
    if dl_device is not None and tuple(int(x) for x in dl_device) != own:
        want = tuple(int(x) for x in dl_device)
        if want != (DLDeviceType.kDLCPU, 0):
            raise BufferError("__dlpack__: cannot export a tensor on %s to DLPack device %r; ctensor exports "
                              "to its own device or to (kDLCPU, 0)" % (self.device, want))
        if copy is False:
            raise BufferError("__dlpack__: the tensor is on %s; dl_device=(kDLCPU, 0) needs a copy, "
                              "and copy=False forbids it" % self.device)
        t = _to_cpu(self)
    elif copy is True:
        from .. import identity
        t = identity(self)
    versioned = max_version is not None and tuple(max_version)[0] >= 1
    return _ctensor.dlpack_export(t, versioned)


def _to_cpu(t):
    from .. import device, identity
    with device("/CPU:0"):
        return identity(t)


def _dlpack_device(self):
    """(device type, device id): (kDLCPU, 0), or (kDLCUDA, driver ordinal)."""
    dev_type, dev_id = _ctensor.dlpack_device(self)
    return (DLDeviceType(dev_type), dev_id)


def _array(self, dtype=None, copy=None):
    """NumPy's conversion (``np.asarray(t)``, ``np.array(t, copy=...)``).
    A CPU tensor is shared, not copied (read-only: tensors are immutable),
    unless ``copy=True`` or a ``dtype`` change asks for one; ``copy=False``
    when a copy is needed (a GPU tensor, bfloat16, another dtype) raises
    ``ValueError``, as NumPy 2's protocol asks."""
    import numpy as np
    shareable = (tuple(_ctensor.dlpack_device(self))[0] == DLDeviceType.kDLCPU
                 and self.dtype.name != "bfloat16" and hasattr(np, "from_dlpack"))
    if copy is False:
        if not shareable or (dtype is not None and np.dtype(dtype) != np.dtype(self.dtype.name)):
            raise ValueError("ctensor: a copy is needed to make a NumPy array of this %s tensor on %s%s, "
                             "and copy=False forbids it" % (self.dtype.name, self.device,
                                                            "" if dtype is None else " as %s" % np.dtype(dtype)))
    if shareable and copy is not True:
        a = np.from_dlpack(self)
        return a if dtype is None else a.astype(dtype, copy=False)
    a = self.numpy()
    a = np.asarray(a)
    return a if dtype is None else a.astype(dtype, copy=False)


_Tensor.__dlpack__ = _dlpack
_Tensor.__dlpack_device__ = _dlpack_device
_Tensor.__array__ = _array
