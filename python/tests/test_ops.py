"""Ops: TensorFlow names, arguments and results."""

import math
import unittest

import ctensor as tf


def close(test, got, want, tol=1e-5):
    if isinstance(want, list):
        test.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            close(test, g, w, tol)
    else:
        test.assertTrue(abs(got - want) <= tol * max(1.0, abs(want)), "%r != %r" % (got, want))


class ArithmeticTest(unittest.TestCase):
    def test_matmul(self):
        a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        b = tf.constant([[5.0, 6.0], [7.0, 8.0]])
        self.assertEqual(tf.matmul(a, b).tolist(), [[19.0, 22.0], [43.0, 50.0]])
        self.assertEqual((a @ b).tolist(), [[19.0, 22.0], [43.0, 50.0]])
        self.assertEqual(tf.matmul(a, b, transpose_a=True).tolist(), [[26.0, 30.0], [38.0, 44.0]])
        self.assertEqual(tf.matmul(a, b, transpose_b=True).tolist(), [[17.0, 23.0], [39.0, 53.0]])
        self.assertEqual(tf.matmul(a, b, adjoint_a=True, adjoint_b=True).tolist(), [[23.0, 31.0], [34.0, 46.0]])
        batch = tf.matmul(tf.ones((3, 2, 4)), tf.ones((3, 4, 5)))
        self.assertEqual(batch.shape, (3, 2, 5))
        self.assertEqual(tf.matmul([[1, 2]], [[3], [4]]).tolist(), [[11]])

    def test_elementwise_and_operators(self):
        x = tf.constant([1.0, 4.0, 9.0])
        self.assertEqual((x + 1).tolist(), [2.0, 5.0, 10.0])
        self.assertEqual((1 + x).tolist(), [2.0, 5.0, 10.0])
        self.assertEqual((x - 1).tolist(), [0.0, 3.0, 8.0])
        self.assertEqual((10 - x).tolist(), [9.0, 6.0, 1.0])
        self.assertEqual((x * 2).tolist(), [2.0, 8.0, 18.0])
        self.assertEqual((x / 2).tolist(), [0.5, 2.0, 4.5])
        self.assertEqual((36 / x).tolist(), [36.0, 9.0, 4.0])
        self.assertEqual((x ** 2).tolist(), [1.0, 16.0, 81.0])
        self.assertEqual((-x).tolist(), [-1.0, -4.0, -9.0])
        self.assertEqual(abs(-x).tolist(), [1.0, 4.0, 9.0])
        self.assertEqual(tf.sqrt(x).tolist(), [1.0, 2.0, 3.0])
        self.assertEqual(tf.add(x, x).tolist(), tf.multiply(x, 2).tolist())
        self.assertEqual(tf.subtract(x, x).tolist(), [0.0, 0.0, 0.0])
        self.assertEqual(tf.maximum(x, 4.0).tolist(), [4.0, 4.0, 9.0])
        self.assertEqual(tf.minimum(x, 4.0).tolist(), [1.0, 4.0, 4.0])
        self.assertEqual(tf.pow(x, 0.5).tolist(), [1.0, 2.0, 3.0])
        self.assertEqual(tf.square(x).tolist(), [1.0, 16.0, 81.0])
        close(self, tf.exp(tf.constant([0.0, 1.0])).tolist(), [1.0, math.e])
        close(self, tf.log(tf.constant([1.0, math.e])).tolist(), [0.0, 1.0])
        close(self, tf.tanh(tf.constant([0.0, 1.0])).tolist(), [0.0, math.tanh(1.0)])
        close(self, tf.sigmoid(tf.constant([0.0])).tolist(), [0.5])
        self.assertEqual(tf.nn.relu(tf.constant([-1.0, 2.0])).tolist(), [0.0, 2.0])
        self.assertIs(tf.math.add, tf.add)

    def test_broadcasting(self):
        a = tf.constant([[1.0], [2.0]])
        b = tf.constant([10.0, 20.0, 30.0])
        self.assertEqual((a + b).tolist(), [[11.0, 21.0, 31.0], [12.0, 22.0, 32.0]])

    def test_integer_division_is_float64(self):
        r = tf.constant([1, 2, 3]) / tf.constant([2, 2, 2])
        self.assertIs(r.dtype, tf.float64)
        self.assertEqual(r.tolist(), [0.5, 1.0, 1.5])

    def test_floor_division_and_modulo(self):
        # TensorFlow 2.21 gives the same (Python's // and %)
        a, b = tf.constant([7, -7, 7, -7]), tf.constant([2, 2, -2, -2])
        self.assertEqual((a // b).tolist(), [3, -4, -4, 3])
        self.assertEqual((a % b).tolist(), [1, 1, -1, -1])
        self.assertEqual((a // b).dtype, tf.int32)
        self.assertEqual((7 // tf.constant([2, -2])).tolist(), [3, -4])
        self.assertEqual((tf.constant([7.5, -7.5]) % 2).tolist(), [1.5, 0.5])
        self.assertEqual((10 % tf.constant([3.0])).tolist(), [1.0])
        self.assertEqual(tf.math.floordiv(tf.constant(7.5), 2.0).tolist(), 3.0)
        self.assertIs(tf.math.mod, tf.math.floormod)
        x = tf.constant([-2147483648], tf.int32)
        self.assertEqual((x // -1).tolist(), [-2147483648])  # wraps, as in TensorFlow
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            tf.constant([1, 2]) // tf.constant([1, 0])
        self.assertIn("Integer division by zero", str(cm.exception))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.constant([1, 2]) % 0
        self.assertTrue(math.isinf((tf.constant([1.0]) // 0.0).tolist()[0]))  # floats: no error

    def test_expand_dims_squeeze_stack_clip(self):
        # shapes, values and error classes as TensorFlow 2.21 gives them
        x = tf.constant([[1, 2, 3]])
        self.assertEqual([tf.expand_dims(x, a).shape for a in (0, -1, 2)], [(1, 1, 3), (1, 3, 1), (1, 3, 1)])
        for a in (3, -4):
            with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
                tf.expand_dims(x, a)
            self.assertIn("dim index %d for tensor with 2 dimensions" % a, str(cm.exception))
        y = tf.zeros((1, 3, 1, 2))
        self.assertEqual([tf.squeeze(y).shape, tf.squeeze(y, [0]).shape, tf.squeeze(y, axis=-2).shape,
                          tf.squeeze(y, [0, 2]).shape], [(3, 2), (3, 1, 2), (1, 3, 2), (3, 2)])
        self.assertEqual(tf.squeeze(tf.constant(3.0)).shape, ())
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            tf.squeeze(y, [1])
        self.assertIn("can not squeeze dim[1], expected a dimension of 1, got 3", str(cm.exception))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.squeeze(y, [4])
        self.assertEqual(tf.stack([x[0], x[0] * 2]).tolist(), [[1, 2, 3], [2, 4, 6]])
        self.assertEqual(tf.stack([x[0], x[0]], axis=1).tolist(), [[1, 1], [2, 2], [3, 3]])
        self.assertEqual(tf.stack([x, x], axis=-1).shape, (1, 3, 2))
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            tf.stack([x, tf.constant([[1, 2]])])
        self.assertIn("values[0].shape = [1, 3] != values[1].shape = [1, 2]", str(cm.exception))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.stack([x, tf.constant([[1.0, 2.0, 3.0]])])
        with self.assertRaises(ValueError):
            tf.stack([x, x], axis=3)
        with self.assertRaises(ValueError):
            tf.stack([])
        clipped = tf.clip_by_value(tf.constant([-2.0, 0.5, 3.0, float("nan")]), -1.0, 1.0).tolist()
        self.assertEqual(clipped[:3], [-1.0, 0.5, 1.0])
        self.assertTrue(math.isnan(clipped[3]))
        self.assertEqual(tf.clip_by_value(tf.constant([5, -5]), 0, 3).tolist(), [3, 0])

    def test_gather(self):
        # TensorFlow 2.21 gives the same values and messages
        p = tf.constant([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]])
        self.assertEqual(tf.gather(p, [2, 0]).tolist(), [[7., 8., 9.], [1., 2., 3.]])
        self.assertEqual(tf.gather(p, [[0], [2]], axis=1).tolist(),
                         [[[1.], [3.]], [[4.], [6.]], [[7.], [9.]]])
        self.assertEqual(tf.gather(p, 1).tolist(), [4., 5., 6.])
        self.assertEqual(tf.gather(p, tf.constant([1], tf.int64), axis=-1).tolist(), [[2.], [5.], [8.]])
        self.assertEqual(tf.gather(tf.zeros((2, 0)), [5]).shape, (1, 0))  # empty: nothing checked
        for bad, msg in (([3], "indices[0] = 3 is not in [0, 3)"), ([[0, -1]], "indices[0,1] = -1 is not in [0, 3)"),
                         (5, "indices = 5 is not in [0, 3)")):
            with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
                tf.gather(p, bad)
            self.assertIn(msg, str(cm.exception))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.gather(p, [1.0])
        with self.assertRaises(NotImplementedError):
            tf.gather(p, [0], batch_dims=1)

    def test_comparisons(self):
        x = tf.constant([1, 2, 3])
        self.assertEqual((x < 2).tolist(), [True, False, False])
        self.assertEqual((x <= 2).tolist(), [True, True, False])
        self.assertEqual((x > 2).tolist(), [False, False, True])
        self.assertEqual((x >= 2).tolist(), [False, True, True])
        self.assertEqual((x == 2).tolist(), [False, True, False])
        self.assertEqual((x != 2).tolist(), [True, False, True])
        self.assertEqual(tf.equal(x, x).tolist(), [True] * 3)
        # TensorFlow 2: shapes that do not broadcast compare unequal.
        self.assertEqual((tf.constant([1.0, 2.0]) == tf.constant([1.0, 3.0, 4.0])).tolist(), False)
        self.assertFalse(x == None)  # noqa: E711

    def test_dtype_mismatch_is_invalid_argument(self):
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.add(tf.constant([1.0]), tf.constant([1]))


class ReductionTest(unittest.TestCase):
    def test_reductions(self):
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        self.assertEqual(tf.reduce_sum(x).tolist(), 10.0)
        self.assertEqual(tf.reduce_sum(x, axis=0).tolist(), [4.0, 6.0])
        self.assertEqual(tf.reduce_sum(x, axis=1, keepdims=True).tolist(), [[3.0], [7.0]])
        self.assertEqual(tf.reduce_sum(x, axis=[0, 1]).tolist(), 10.0)
        self.assertEqual(tf.reduce_sum(x, axis=-1).tolist(), [3.0, 7.0])
        self.assertEqual(tf.reduce_mean(x).tolist(), 2.5)
        self.assertEqual(tf.reduce_max(x, axis=0).tolist(), [3.0, 4.0])
        self.assertEqual(tf.reduce_min(x, axis=1).tolist(), [1.0, 3.0])
        self.assertEqual(tf.reduce_sum(tf.constant([[1, 2], [3, 4]]), axis=0).tolist(), [4, 6])

    def test_argmax(self):
        x = tf.constant([[1, 5], [3, 4]])
        r = tf.argmax(x)
        self.assertIs(r.dtype, tf.int64)
        self.assertEqual(r.tolist(), [1, 0])
        self.assertEqual(tf.argmax(x, axis=1, output_type=tf.int32).tolist(), [1, 1])

    def test_softmax(self):
        s = tf.nn.softmax(tf.constant([[1.0, 1.0], [0.0, math.log(3.0)]]))
        close(self, s.tolist()[0], [0.5, 0.5])
        close(self, s.tolist()[1], [0.25, 0.75])
        close(self, tf.nn.softmax(tf.constant([[0.0, 0.0]]), axis=0).tolist()[0], [1.0, 1.0])


class ShapeOpsTest(unittest.TestCase):
    def test_cast(self):
        x = tf.constant([1.7, -2.0])
        self.assertEqual(tf.cast(x, tf.int32).tolist(), [1, -2])
        self.assertIs(tf.cast(x, tf.float32), x)
        self.assertEqual(tf.cast(tf.constant([0, 3]), "bool").tolist(), [False, True])

    def test_reshape_transpose_concat_slice(self):
        x = tf.range(6)
        self.assertEqual(tf.reshape(x, (2, 3)).tolist(), [[0, 1, 2], [3, 4, 5]])
        self.assertEqual(tf.reshape(x, [-1, 2]).shape, (3, 2))
        y = tf.reshape(x, (2, 3))
        self.assertEqual(tf.transpose(y).tolist(), [[0, 3], [1, 4], [2, 5]])
        self.assertEqual(tf.transpose(tf.ones((2, 3, 4)), perm=[1, 0, 2]).shape, (3, 2, 4))
        self.assertEqual(tf.concat([y, y], 0).shape, (4, 3))
        self.assertEqual(tf.concat([y, [[9], [9]]], axis=1).tolist(), [[0, 1, 2, 9], [3, 4, 5, 9]])
        self.assertEqual(tf.slice(y, [0, 1], [2, -1]).tolist(), [[1, 2], [4, 5]])
        self.assertEqual(tf.shape(y).tolist(), [2, 3])

    def test_creation(self):
        self.assertEqual(tf.zeros((2, 2)).tolist(), [[0.0, 0.0], [0.0, 0.0]])
        self.assertEqual(tf.ones([3], tf.int32).tolist(), [1, 1, 1])
        self.assertEqual(tf.fill([2], 7).tolist(), [7, 7])
        self.assertIs(tf.fill([2], 7.5).dtype, tf.float32)
        self.assertEqual(tf.zeros_like(tf.constant([1, 2])).tolist(), [0, 0])
        self.assertEqual(tf.ones_like(tf.constant([1.5])).tolist(), [1.0])
        self.assertEqual(tf.range(5).tolist(), [0, 1, 2, 3, 4])
        self.assertIs(tf.range(5).dtype, tf.int32)
        self.assertEqual(tf.range(1.0, 3.0, 0.5).tolist(), [1.0, 1.5, 2.0, 2.5])
        self.assertIs(tf.range(1, 2, 0.5).dtype, tf.float32)
        self.assertEqual(tf.range(5, 0, -2).tolist(), [5, 3, 1])

    def test_identity_is_a_new_tensor_with_the_same_values(self):
        x = tf.constant([1.0, 2.0])
        y = tf.identity(x)
        self.assertIsNot(x, y)
        self.assertEqual(y.tolist(), [1.0, 2.0])
        self.assertEqual(y.device, x.device)


class RandomTest(unittest.TestCase):
    def test_seeded_draws_are_deterministic(self):
        a = tf.random.normal((4, 4), seed=7)
        b = tf.random.normal((4, 4), seed=7)
        self.assertEqual(a.tolist(), b.tolist())
        self.assertNotEqual(a.tolist(), tf.random.normal((4, 4), seed=8).tolist())
        self.assertEqual(tf.random.uniform((5,), seed=1).tolist(), tf.random.uniform((5,), seed=1).tolist())

    def test_unseeded_draws_differ_and_do_not_overlap(self):
        tf.random.set_seed(1234)
        a = tf.random.uniform((6,)).tolist()
        b = tf.random.uniform((6,)).tolist()
        self.assertNotEqual(a, b)
        # Offsets advance by whole Philox blocks (4 float32 values): the
        # second draw starts at block 2 of the seed's stream.
        stream = tf.random.uniform((16,), seed=1234).tolist()
        self.assertEqual(a, stream[:6])
        self.assertEqual(b, stream[8:14])
        tf.random.set_seed(1234)
        self.assertEqual(tf.random.uniform((6,)).tolist(), a)

    def test_distributions(self):
        u = tf.random.uniform((2000,), minval=2.0, maxval=3.0, seed=3)
        self.assertGreaterEqual(tf.reduce_min(u).tolist(), 2.0)
        self.assertLess(tf.reduce_max(u).tolist(), 3.0)
        n = tf.random.normal((4000,), mean=5.0, stddev=2.0, seed=4)
        self.assertAlmostEqual(tf.reduce_mean(n).tolist(), 5.0, delta=0.15)
        t = tf.random.truncated_normal((4000,), seed=5)
        self.assertLessEqual(tf.reduce_max(tf.abs(t)).tolist(), 2.0)
        d = tf.random.normal((3,), dtype=tf.float64, seed=1)
        self.assertIs(d.dtype, tf.float64)


if __name__ == "__main__":
    unittest.main()
