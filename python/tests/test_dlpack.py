"""DLPack (docs/dlpack.md): ctensor tensors read by NumPy, PyTorch and JAX
without a copy and the reverse, lifetimes both ways, every dtype, the
emulated GPU's kDLCUDA export, and the errors for bad input.

NumPy, PyTorch and JAX are optional: each class is skipped without its
library (python/tests run under whatever interpreter CMake found). The
producer-built-by-hand tests (ctypes capsules) need nothing.
"""

import ctypes
import gc
import unittest

import ctensor as tf
from ctensor.experimental import dlpack
from ctutil import emulated_gpu_env, run_python

try:
    import numpy as np
except ImportError:
    np = None
NUMPY2 = np is not None and int(np.__version__.split(".")[0]) >= 2
try:
    import torch
except ImportError:
    torch = None
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    jax = None


# ---- the DLPack ABI through ctypes, to build capsules ctensor must refuse ----

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class HandMadeProducer:
    """A producer whose capsule ("dltensor", no destructor) describes a
    float32 buffer with the given device and dtype; counts deleter calls."""

    def __init__(self, device_type=1, device_id=0, code=2, bits=32, n=4, name=b"dltensor"):
        self.buf = (ctypes.c_float * n)(*range(n))
        self.shape = (ctypes.c_int64 * 1)(n)
        self.deleted = 0

        def deleter(_):
            self.deleted += 1

        self._deleter = DELETER(deleter)
        self.m = DLManagedTensor()
        self.m.dl_tensor = DLTensor(ctypes.cast(self.buf, ctypes.c_void_p), DLDevice(device_type, device_id), 1,
                                    DLDataType(code, bits, 1), self.shape, None, 0)
        self.m.deleter = self._deleter
        self.name = name

    def capsule(self):
        return _capsule_new(ctypes.addressof(self.m), self.name, None)

    def __dlpack__(self, stream=None):
        return self.capsule()

    def __dlpack_device__(self):
        return (self.m.dl_tensor.device.device_type, self.m.dl_tensor.device.device_id)


class CapsuleTest(unittest.TestCase):
    def test_round_trip_every_dtype_both_versions(self):
        for dt in (tf.float32, tf.float64, tf.float16, tf.bfloat16, tf.int32, tf.int64, tf.bool):
            t = tf.cast(tf.constant([[1.0, 0.0, 2.0], [3.0, 0.0, 1.0]]), dt)
            for cap in (dlpack.to_dlpack(t), t.__dlpack__(max_version=(1, 1)), t.__dlpack__()):
                u = dlpack.from_dlpack(cap)
                self.assertEqual(u.dtype, dt)
                self.assertEqual(u.shape, (2, 3))
                self.assertEqual(u.tolist(), t.tolist())

    def test_capsule_names(self):
        t = tf.constant([1.0])
        self.assertIn('"dltensor"', repr(dlpack.to_dlpack(t)))
        self.assertIn('"dltensor"', repr(t.__dlpack__()))
        self.assertIn('"dltensor_versioned"', repr(t.__dlpack__(max_version=(1, 0))))
        cap = t.__dlpack__(max_version=(1, 1))
        dlpack.from_dlpack(cap)
        self.assertIn('"used_dltensor_versioned"', repr(cap))

    def test_device(self):
        t = tf.constant([1.0])
        self.assertEqual(t.__dlpack_device__(), (1, 0))
        self.assertEqual(t.__dlpack_device__()[0], dlpack.DLDeviceType.kDLCPU)

    def test_producer_dropped_first(self):
        t = tf.range(0, 1000)
        u = dlpack.from_dlpack(t)
        del t
        gc.collect()
        self.assertEqual(int(tf.reduce_sum(u)), 499500)

    def test_consumed_capsule_is_an_error(self):
        cap = dlpack.to_dlpack(tf.constant([1.0]))
        dlpack.from_dlpack(cap)
        with self.assertRaisesRegex(ValueError, "already consumed"):
            dlpack.from_dlpack(cap)

    def test_unconsumed_capsule_frees_its_tensor(self):
        for _ in range(1000):
            dlpack.to_dlpack(tf.constant([1.0] * 100))  # destructor runs the deleter

    def test_not_dlpack(self):
        with self.assertRaisesRegex(TypeError, "list object has no __dlpack__"):
            dlpack.from_dlpack([1.0, 2.0])
        with self.assertRaisesRegex(TypeError, "not a DLPack tensor"):
            dlpack.from_dlpack(HandMadeProducer(name=b"something_else").capsule())

    def test_hand_made_producer_is_borrowed_and_deleted_once(self):
        p = HandMadeProducer(n=4)
        t = dlpack.from_dlpack(p)
        p.buf[1] = 7.0  # borrowed: ctensor sees the producer's bytes
        self.assertEqual(t.tolist(), [0.0, 7.0, 2.0, 3.0])
        self.assertEqual(p.deleted, 0)
        v = tf.reshape(t, (2, 2))  # a view keeps the producer's memory
        del t
        gc.collect()
        self.assertEqual(p.deleted, 0)
        self.assertEqual(v.tolist(), [[0.0, 7.0], [2.0, 3.0]])
        del v
        gc.collect()
        self.assertEqual(p.deleted, 1)

    def test_complex_is_refused_and_not_deleted(self):
        p = HandMadeProducer(code=5, bits=64, n=4)
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "complex64 .*has no ctensor dtype"):
            dlpack.from_dlpack(p)
        self.assertEqual(p.deleted, 0)  # a failed import leaves the tensor to its producer

    def test_unknown_devices_are_not_found(self):
        with self.assertRaisesRegex(tf.errors.NotFoundError, "kDLOpenCL"):
            dlpack.from_dlpack(HandMadeProducer(device_type=4).capsule())
        if not tf.config.list_physical_devices("GPU"):
            with self.assertRaisesRegex(tf.errors.NotFoundError, "CUDA device 7, which ctensor does not have"):
                dlpack.from_dlpack(HandMadeProducer(device_type=2, device_id=7).capsule())

    def test_dl_device_and_copy(self):
        t = tf.constant([1.0, 2.0])
        u = dlpack.from_dlpack(t.__dlpack__(dl_device=(1, 0), copy=False))
        self.assertEqual(u.tolist(), [1.0, 2.0])
        with self.assertRaisesRegex(BufferError, "cannot export"):
            t.__dlpack__(dl_device=(2, 0))
        with self.assertRaisesRegex(ValueError, "must be None"):
            t.__dlpack__(stream=5)
        self.assertEqual(dlpack.from_dlpack(t.__dlpack__(copy=True)).tolist(), [1.0, 2.0])


@unittest.skipUnless(np is not None and hasattr(np, "from_dlpack"), "NumPy >= 1.22 not installed")
class NumpyTest(unittest.TestCase):
    def test_numpy_reads_ctensor_without_a_copy(self):
        t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        a = np.from_dlpack(t)
        b = np.from_dlpack(t)
        self.assertEqual(a.ctypes.data, b.ctypes.data)  # both views of t's own bytes
        if NUMPY2:  # NumPy < 2 cannot export a read-only array
            u = dlpack.from_dlpack(a)  # and back: still the same bytes
            self.assertEqual(np.from_dlpack(u).ctypes.data, a.ctypes.data)
            del u
        del t, b
        gc.collect()
        self.assertEqual(a.tolist(), [[1.0, 2.0], [3.0, 4.0]])  # the producer went first
        self.assertFalse(a.flags.writeable)  # tensors are immutable

    def test_ctensor_reads_numpy_without_a_copy(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        ptr = a.ctypes.data
        t = dlpack.from_dlpack(a)
        self.assertEqual(np.from_dlpack(t).ctypes.data, ptr)
        a[0, 0] = 42.0
        self.assertEqual(t.tolist()[0][0], 42.0)
        del a
        gc.collect()
        self.assertEqual(float(tf.reduce_sum(t)), 42.0 + sum(range(1, 12)))

    def test_non_contiguous_is_copied_and_counted_or_refused(self):
        a = np.arange(12, dtype=np.float64).reshape(3, 4).T
        before = dlpack.copy_count()
        t = dlpack.from_dlpack(a)
        self.assertEqual(dlpack.copy_count(), before + 1)
        self.assertEqual(t.tolist(), a.tolist())
        with self.assertRaisesRegex(BufferError, "not compact row-major"):
            dlpack.from_dlpack(a, copy=False)

    def test_dtypes(self):
        for dt in (np.float16, np.float32, np.float64, np.int32, np.int64) + ((np.bool_,) if NUMPY2 else ()):
            a = np.array([1, 0, 1], dtype=dt)
            t = dlpack.from_dlpack(a)
            self.assertEqual(t.dtype.name, np.dtype(dt).name if dt is not np.bool_ else "bool")
            self.assertEqual(np.from_dlpack(t).dtype, np.dtype(dt))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            dlpack.from_dlpack(np.zeros(2, dtype=np.complex64))
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "uint8"):
            dlpack.from_dlpack(np.zeros(2, dtype=np.uint8))

    def test_array(self):
        t = tf.constant([1.0, 2.0])
        a = t.__array__()
        self.assertEqual(a.ctypes.data, np.from_dlpack(t).ctypes.data)
        c = t.__array__(copy=True)
        self.assertNotEqual(c.ctypes.data, a.ctypes.data)
        self.assertEqual(t.__array__(dtype=np.float64).dtype, np.float64)
        with self.assertRaisesRegex(ValueError, "copy=False"):
            t.__array__(dtype=np.float64, copy=False)
        self.assertEqual(np.asarray(t).tolist(), [1.0, 2.0])
        self.assertEqual(tf.cast(t, tf.bfloat16).__array__().dtype, np.float32)


@unittest.skipUnless(torch is not None, "PyTorch not installed")
class TorchTest(unittest.TestCase):
    def test_torch_reads_ctensor_without_a_copy(self):
        t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        p = torch.from_dlpack(t)
        q = torch.utils.dlpack.from_dlpack(dlpack.to_dlpack(t))
        self.assertEqual(p.data_ptr(), q.data_ptr())
        del t, q
        gc.collect()
        self.assertEqual(p.tolist(), [[1.0, 2.0], [3.0, 4.0]])

    def test_ctensor_reads_torch_without_a_copy(self):
        p = torch.arange(6, dtype=torch.float32).reshape(2, 3)
        t = dlpack.from_dlpack(p)
        self.assertEqual(torch.from_dlpack(t).data_ptr(), p.data_ptr())
        t2 = dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(p))
        del p
        gc.collect()
        self.assertEqual(t.tolist(), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
        self.assertEqual(t2.tolist(), t.tolist())

    def test_bfloat16_and_bool(self):
        p = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
        t = dlpack.from_dlpack(p)
        self.assertEqual(t.dtype, tf.bfloat16)
        self.assertEqual(t.tolist(), [1.5, -2.0])
        self.assertEqual(torch.from_dlpack(t).dtype, torch.bfloat16)
        if int(torch.__version__.split(".")[0]) >= 2:  # 1.x exports no bool
            b = dlpack.from_dlpack(torch.tensor([True, False]))
            self.assertEqual(b.tolist(), [True, False])


@unittest.skipUnless(jax is not None, "JAX not installed")
class JaxTest(unittest.TestCase):
    def test_jax_reads_ctensor(self):
        # XLA borrows only 64-byte aligned memory: heap tensors are, while
        # tensors small enough to live in their header (16-byte aligned)
        # are copied by JAX.
        t = tf.reshape(tf.range(0.0, 1000.0), (10, 100))
        x = jnp.from_dlpack(t)
        if np is not None:
            self.assertEqual(x.unsafe_buffer_pointer(), np.from_dlpack(t).ctypes.data)
        del t
        gc.collect()
        self.assertEqual(float(x.sum()), 499500.0)

    def test_ctensor_reads_jax_without_a_copy(self):
        x = jnp.arange(6, dtype=jnp.float32).reshape(2, 3)
        t = dlpack.from_dlpack(x)
        ptr = x.unsafe_buffer_pointer()
        self.assertEqual(np.from_dlpack(t).ctypes.data if np is not None else ptr, ptr)
        del x
        gc.collect()
        self.assertEqual(t.tolist(), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])


@unittest.skipUnless(emulated_gpu_env(), "no emulated GPU in this build (no C++ compiler for the fake NVRTC)")
class EmulatedGpuTest(unittest.TestCase):
    def test_gpu_tensor_exports_as_cuda_with_its_ordinal(self):
        rc, out, err = run_python("""
            import ctensor as tf
            from ctensor.experimental import dlpack
            with tf.device("/GPU:0"):
                t = tf.constant([1.0, 2.0]) * 2
            print(t.backing_device)
            print(tuple(int(x) for x in t.__dlpack_device__()))
            u = dlpack.from_dlpack(t)        # kDLCUDA 0 -> GPU:0, no copy
            print(u.backing_device, u.tolist())
            c = dlpack.from_dlpack(t.__dlpack__(dl_device=(1, 0)))   # a host copy
            print(c.backing_device, c.tolist())
        """, env=emulated_gpu_env(), timeout=300)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].endswith("GPU:0"), out)
        self.assertEqual(lines[1], "(2, 0)")
        self.assertEqual(lines[2], "/job:localhost/replica:0/task:0/device:GPU:0 [2.0, 4.0]")
        self.assertEqual(lines[3], "/job:localhost/replica:0/task:0/device:CPU:0 [2.0, 4.0]")


if __name__ == "__main__":
    unittest.main()
