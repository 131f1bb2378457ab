"""Tensors: conversion, dtypes, reprs, Python protocols, errors."""

import array
import unittest

import ctensor as tf
from ctutil import numpy as np

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


class ConstantTest(unittest.TestCase):
    def test_inferred_dtypes_follow_tensorflow(self):
        self.assertIs(tf.constant(1.5).dtype, tf.float32)
        self.assertIs(tf.constant([1, 2]).dtype, tf.int32)
        self.assertIs(tf.constant(2**40).dtype, tf.int64)
        self.assertIs(tf.constant([True, False]).dtype, tf.bool)
        self.assertIs(tf.constant([1, 2.5]).dtype, tf.float32)
        self.assertIs(tf.constant([]).dtype, tf.float32)

    def test_nested_lists_give_shape_and_values(self):
        t = tf.constant([[1, 2, 3], [4, 5, 6]])
        self.assertEqual(t.shape, (2, 3))
        self.assertEqual(t.tolist(), [[1, 2, 3], [4, 5, 6]])
        self.assertEqual(tf.constant(((1.5,), (2.5,))).tolist(), [[1.5], [2.5]])
        self.assertEqual(tf.constant([[], []]).shape, (2, 0))
        self.assertEqual(tf.constant(7).shape, ())
        self.assertEqual(tf.constant(7).tolist(), 7)

    def test_explicit_dtypes(self):
        self.assertEqual(tf.constant([1, 2], dtype=tf.float64).tolist(), [1.0, 2.0])
        self.assertIs(tf.constant([1, 2], dtype="float64").dtype, tf.float64)
        self.assertIs(tf.constant(1, dtype=float).dtype, tf.float32)
        self.assertEqual(tf.constant(3.5, tf.float16).tolist(), 3.5)
        self.assertEqual(tf.constant(1.5, tf.bfloat16).tolist(), 1.5)
        self.assertEqual(tf.constant([0, 2], tf.bool).tolist(), [False, True])
        self.assertEqual(tf.constant(2**40, tf.int64).tolist(), 2**40)

    def test_bad_values_are_refused_like_tensorflow(self):
        with self.assertRaises(ValueError) as cm:
            tf.constant([[1, 2], [3]])
        self.assertEqual(str(cm.exception), "Can't convert non-rectangular Python sequence to Tensor.")
        with self.assertRaises(ValueError):
            tf.constant([[1, 2], 3])
        with self.assertRaises(TypeError) as cm:
            tf.constant(1.5, dtype=tf.int32)
        self.assertEqual(str(cm.exception), "Cannot convert 1.5 to EagerTensor of dtype int32")
        with self.assertRaises(TypeError):
            tf.constant("text")
        with self.assertRaises(TypeError):
            tf.constant([1, None])
        with self.assertRaises(OverflowError):
            tf.constant(2**40, tf.int32)

    def test_shape_argument_reshapes_or_fills(self):
        self.assertEqual(tf.constant([1, 2, 3, 4], shape=(2, 2)).tolist(), [[1, 2], [3, 4]])
        self.assertEqual(tf.constant(0.5, shape=[2, 3]).tolist(), [[0.5] * 3] * 2)
        with self.assertRaises(TypeError):
            tf.constant([1, 2, 3], shape=(2, 2))

    def test_buffer_protocol_input(self):
        t = tf.constant(array.array("d", [1.0, 2.5]))
        self.assertIs(t.dtype, tf.float64)
        self.assertEqual(t.tolist(), [1.0, 2.5])
        t = tf.constant(memoryview(array.array("i", [1, 2, 3, 4])).cast("B").cast("i", (2, 2)))
        self.assertEqual((t.dtype, t.shape, t.tolist()), (tf.int32, (2, 2), [[1, 2], [3, 4]]))
        self.assertIs(tf.constant(array.array("f", [1.0]), dtype=tf.float64).dtype, tf.float64)
        with self.assertRaises(TypeError):
            tf.constant(array.array("B", [1, 2]))

    def test_tensor_in_constant(self):
        t = tf.constant([1.0])
        self.assertIs(tf.constant(t), t)
        with self.assertRaises(TypeError):
            tf.constant(t, dtype=tf.int32)
        self.assertEqual(tf.constant([tf.constant(1.0), 2.0]).tolist(), [1.0, 2.0])

    def test_tensors_cannot_be_made_directly(self):
        with self.assertRaises(TypeError):
            tf.Tensor()


class TensorPropertiesTest(unittest.TestCase):
    def test_device_shape_dtype(self):
        t = tf.constant([[1.0, 2.0]])
        self.assertEqual(t.device, CPU0)
        self.assertEqual(t.backing_device, CPU0)
        self.assertIsInstance(t.shape, tuple)
        self.assertEqual(t.shape, (1, 2))
        self.assertEqual(t.ndim, 2)
        self.assertEqual(t.dtype.name, "float32")
        self.assertTrue(tf.is_tensor(t))
        self.assertFalse(tf.is_tensor([1]))

    def test_dtype_objects(self):
        self.assertEqual(repr(tf.float32), "ctensor.float32")
        self.assertEqual(str(tf.float32), "<dtype: 'float32'>")
        self.assertEqual(tf.float32, "float32")
        self.assertNotEqual(tf.float32, tf.float64)
        self.assertIs(tf.as_dtype("double"), tf.float64)
        self.assertIs(tf.half, tf.float16)
        self.assertEqual(tf.float64.size, 8)
        self.assertTrue(tf.bfloat16.is_floating and tf.int64.is_integer)
        self.assertEqual(len({tf.float32, tf.as_dtype("float32")}), 1)
        with self.assertRaises(TypeError):
            tf.as_dtype("complex64")

    def test_python_protocols(self):
        t = tf.constant([[1, 2], [3, 4]])
        self.assertEqual(len(t), 2)
        self.assertEqual([row.tolist() for row in t], [[1, 2], [3, 4]])
        self.assertEqual(float(tf.constant(2.5)), 2.5)
        self.assertEqual(int(tf.constant(7)), 7)
        self.assertEqual([10, 20, 30][tf.constant(1)], 20)
        self.assertTrue(tf.constant(True))
        self.assertFalse(tf.constant(0.0))
        with self.assertRaises(TypeError) as cm:
            len(tf.constant(1.0))
        self.assertEqual(str(cm.exception), "Scalar tensor has no `len()`")
        with self.assertRaises(TypeError) as cm:
            iter(tf.constant(1.0))
        self.assertEqual(str(cm.exception), "Cannot iterate over a scalar tensor.")
        with self.assertRaises(TypeError):
            float(tf.constant([1.0, 2.0]))
        with self.assertRaises(ValueError):
            bool(tf.constant([1.0, 2.0]))
        with self.assertRaises(TypeError) as cm:
            hash(tf.constant(1.0))
        self.assertEqual(str(cm.exception), "Tensor is unhashable. Instead, use tensor.ref() as the key.")
        t2 = tf.constant(1.0)
        self.assertIs({t2.ref(): 1}.popitem()[0].deref(), t2)

    def test_indexing(self):
        t = tf.constant([[1, 2, 3], [4, 5, 6]])
        self.assertEqual(t[1].tolist(), [4, 5, 6])
        self.assertEqual(t[-1, 0].tolist(), 4)
        self.assertEqual(t[:, 1:].tolist(), [[2, 3], [5, 6]])
        self.assertEqual(t[..., 2].tolist(), [3, 6])
        self.assertEqual(t[None].shape, (1, 2, 3))
        self.assertEqual(t[0, None].shape, (1, 3))
        self.assertEqual(t[2:].shape, (0, 3))
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            t[5]
        self.assertEqual(cm.exception.message, "slice index 5 of dimension 0 out of bounds.")
        with self.assertRaises(IndexError):
            t[0, 0, 0]
        with self.assertRaises(TypeError):
            t[1.5]

    def test_tolist_of_every_dtype(self):
        for dt, v in [(tf.float32, 0.25), (tf.float64, 0.1), (tf.float16, -2.0), (tf.bfloat16, 3.0),
                      (tf.int32, -7), (tf.int64, 2**50), (tf.bool, True)]:
            self.assertEqual(tf.constant([v], dt).tolist(), [v], dt.name)


class ReprTest(unittest.TestCase):
    @unittest.skipIf(np is None, "NumPy is not installed")
    def test_repr_and_str_match_tensorflow_with_numpy(self):
        t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        self.assertEqual(repr(t), "<ctensor.Tensor: shape=(2, 2), dtype=float32, numpy=\n"
                                  "array([[1., 2.],\n       [3., 4.]], dtype=float32)>")
        self.assertEqual(str(t), "ctensor.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)")
        self.assertEqual(repr(tf.constant([1, 2, 3])),
                         "<ctensor.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 3], dtype=int32)>")
        self.assertEqual(repr(tf.constant([1, 2, 3]) / tf.constant([2, 2, 2])),
                         "<ctensor.Tensor: shape=(3,), dtype=float64, numpy=array([0.5, 1. , 1.5])>")
        self.assertEqual(repr(tf.zeros((2, 0))),
                         "<ctensor.Tensor: shape=(2, 0), dtype=float32, numpy=array([], shape=(2, 0), dtype=float32)>")

    def test_scalar_reprs(self):
        self.assertEqual(repr(tf.constant(3.0)), "<ctensor.Tensor: shape=(), dtype=float32, numpy=3.0>")
        self.assertEqual(repr(tf.constant(True)), "<ctensor.Tensor: shape=(), dtype=bool, numpy=True>")
        self.assertEqual(repr(tf.constant(3.5, tf.float16)), "<ctensor.Tensor: shape=(), dtype=float16, numpy=3.5>")
        self.assertEqual(repr(tf.constant(1.5, tf.bfloat16)),
                         "<ctensor.Tensor: shape=(), dtype=bfloat16, numpy=1.5>")
        self.assertEqual(str(tf.constant(7)), "ctensor.Tensor(7, shape=(), dtype=int32)")

    def test_repr_without_numpy(self):
        from ctensor import _ops
        t = tf.constant([[1.0, 2.5], [3.0, 4.0]])
        self.assertEqual(_ops._format_without_numpy(t, True), "array([[1., 2.5], [3., 4.]], dtype=float32)")
        self.assertEqual(_ops._format_without_numpy(t, False), "[[1. 2.5] [3. 4.]]")
        self.assertEqual(_ops._format_without_numpy(tf.constant([1, 2], tf.int64), True), "array([1, 2])")


class NumpyAndBufferTest(unittest.TestCase):
    def test_buffer_export(self):
        m = memoryview(tf.constant([[1, 2], [3, 4]]))
        self.assertEqual((m.format, m.shape, m.readonly), ("i", (2, 2), True))
        self.assertEqual(m.tolist(), [[1, 2], [3, 4]])
        self.assertEqual(memoryview(tf.constant([1.0], tf.float64)).format, "d")
        self.assertEqual(memoryview(tf.constant([True])).format, "?")
        self.assertEqual(memoryview(tf.constant(2.5)).tolist(), 2.5)
        with self.assertRaises(BufferError):
            memoryview(tf.constant([1.0], tf.bfloat16))

    def test_buffer_outlives_the_name(self):
        t = tf.constant([1.0, 2.0])
        m = memoryview(t)
        del t
        self.assertEqual(m.tolist(), [1.0, 2.0])
        m.release()

    @unittest.skipIf(np is None, "NumPy is not installed")
    def test_numpy_round_trip(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = tf.constant(a)
        self.assertEqual((t.dtype, t.shape), (tf.float32, (3, 4)))
        np.testing.assert_array_equal(t.numpy(), a)
        self.assertIs(tf.constant(np.arange(3)).dtype, tf.int64)
        self.assertIs(tf.constant(np.float64(1.5)).dtype, tf.float64)
        np.testing.assert_array_equal(tf.constant(a.T).numpy(), a.T)  # not contiguous
        self.assertIsInstance(tf.constant(3.0).numpy(), np.float32)
        self.assertEqual(tf.constant([1.5], tf.bfloat16).numpy().dtype, np.float32)
        self.assertEqual(tf.constant([1.5], tf.float16).numpy().dtype, np.float16)
        np.testing.assert_array_equal(np.asarray(t), a)
        r = t.numpy()
        r[0, 0] = 99  # a copy: the tensor is unchanged
        self.assertEqual(t.tolist()[0][0], 0.0)
        np.testing.assert_array_equal((t + np.ones(4, np.float32)).numpy(), a + 1)

    @unittest.skipIf(np is not None, "NumPy is installed")
    def test_numpy_missing_error_suggests_tolist(self):
        with self.assertRaises(ImportError) as cm:
            tf.constant([1.0]).numpy()
        self.assertIn(".tolist()", str(cm.exception))


class ErrorsTest(unittest.TestCase):
    def test_op_errors_map_to_tf_errors(self):
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            tf.matmul(tf.constant([[1.0, 2.0]]), tf.constant([[1.0, 2.0]]))
        e = cm.exception
        self.assertIsInstance(e, tf.errors.OpError)
        self.assertEqual(e.code, tf.errors.INVALID_ARGUMENT)
        self.assertEqual(e.error_code, 3)
        self.assertIn("[1,2]", e.message)
        self.assertEqual(str(e), e.message)
        self.assertIsNone(e.op)
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.constant([1, 2]) + 1.5  # TensorFlow 2.16+: AddV2 dtype mismatch
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.reshape(tf.constant([1, 2, 3]), (2, 2))

    def test_unsupported_dtype(self):
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            tf.exp(tf.constant([True]))
        self.assertIn("bool", cm.exception.message)

    def test_error_classes_are_tf_shaped(self):
        e = tf.errors.NotFoundError(None, None, "gone")
        self.assertEqual((e.code, e.message, str(e)), (5, "gone", "gone"))
        self.assertIs(tf.errors.exception_type_from_error_code(8), tf.errors.ResourceExhaustedError)
        for cls in (tf.errors.FailedPreconditionError, tf.errors.UnimplementedError, tf.errors.InternalError):
            self.assertTrue(issubclass(cls, tf.errors.OpError))


if __name__ == "__main__":
    unittest.main()
