"""tf.Variable: creation, TensorFlow's names and reprs, assignment (and its
errors, which leave the variable unchanged), and use wherever a tensor is."""

import gc
import threading
import unittest
import weakref

import ctensor as tf

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


class CreationTest(unittest.TestCase):
    def test_attributes(self):
        v = tf.Variable([1.0, 2.0])
        self.assertEqual(v.name, "Variable:0")
        self.assertEqual(v.shape, (2,))
        self.assertEqual(v.dtype, tf.float32)
        self.assertEqual(v.device, CPU0)
        self.assertTrue(v.trainable)
        self.assertEqual(v.read_value().tolist(), [1.0, 2.0])
        if _has_numpy():
            self.assertEqual(v.numpy().tolist(), [1.0, 2.0])
        self.assertEqual(v.value().tolist(), [1.0, 2.0])
        w = tf.Variable(3, name="count", trainable=False)
        self.assertEqual((w.name, w.dtype, w.shape, w.trainable), ("count:0", tf.int32, (), False))

    def test_dtype_shape_and_callable(self):
        self.assertEqual(tf.Variable([1, 2], dtype=tf.float32).dtype, tf.float32)
        self.assertEqual(tf.Variable(lambda: tf.ones((2, 3))).shape, (2, 3))
        self.assertEqual(tf.Variable([[1.0]], shape=(1, 1)).shape, (1, 1))
        with self.assertRaises(ValueError) as cm:
            tf.Variable([1.0, 2.0], shape=(3,))
        self.assertIn("the initial value's shape ((2,)) is not compatible with the explicitly supplied `shape` "
                      "argument ((3,))", str(cm.exception))
        with self.assertRaises(NotImplementedError):
            tf.Variable([1.0, 2.0], shape=(None,))
        with self.assertRaises(ValueError):
            tf.Variable(tf.constant([1.0]), dtype=tf.float64)
        with self.assertRaises(ValueError):
            tf.Variable(None)

    def test_placed_by_the_device_scope(self):
        with tf.device("/CPU:0"):
            v = tf.Variable(1.0)
        self.assertEqual(v.device, CPU0)
        self.assertEqual(v.read_value().device, CPU0)

    def test_repr(self):
        self.assertEqual(repr(tf.Variable([1.0, 2.0])),
                         "<ctensor.Variable 'Variable:0' shape=(2,) dtype=float32, numpy=array([1., 2.], "
                         "dtype=float32)>")
        self.assertEqual(str(tf.Variable([1, 2], name="v")),
                         "<ctensor.Variable 'v:0' shape=(2,) dtype=int32, numpy=array([1, 2], dtype=int32)>")

    def test_copy_is_independent(self):
        a = tf.Variable([1.0, 2.0])
        b = tf.Variable(a)
        a.assign([5.0, 6.0])
        self.assertEqual(b.read_value().tolist(), [1.0, 2.0])

    def test_released_with_its_last_reference(self):
        v = tf.Variable([1.0])
        r = weakref.ref(v)
        del v
        gc.collect()
        self.assertIsNone(r())


def _has_numpy():
    try:
        import numpy  # noqa: F401
        return True
    except ImportError:
        return False


class AssignTest(unittest.TestCase):
    def test_assign_converts_like_tensorflow(self):
        v = tf.Variable([1.0, 2.0])
        self.assertIs(v.assign([3, 4]), v)  # ints converted to the variable's dtype
        self.assertEqual(v.read_value().tolist(), [3.0, 4.0])
        v.assign(tf.constant([5.0, 6.0]))
        self.assertEqual(v.read_value().tolist(), [5.0, 6.0])
        self.assertIs(v.assign_add([1.0, 1.0]), v)
        self.assertEqual(v.read_value().tolist(), [6.0, 7.0])
        self.assertEqual(v.assign_sub(tf.constant([6.0, 7.0])).read_value().tolist(), [0.0, 0.0])
        self.assertIsNone(v.assign([1.0, 1.0], read_value=False))
        s = tf.Variable(1.0)
        s.assign(2)
        self.assertEqual(float(s), 2.0)

    def test_a_value_read_never_changes(self):
        v = tf.Variable([1.0, 2.0])
        before = v.read_value()
        v.assign([9.0, 9.0])
        v.assign_add([1.0, 1.0])
        self.assertEqual(before.tolist(), [1.0, 2.0])
        self.assertEqual(v.read_value().tolist(), [10.0, 10.0])

    def test_float64_value_into_float32_variable(self):
        v = tf.Variable([1.0, 2.0])
        for update in (v.assign, v.assign_add, v.assign_sub):
            with self.assertRaises(ValueError) as cm:
                update(tf.constant([1.0, 2.0], dtype=tf.float64))
            self.assertIn("Tensor conversion requested dtype float32 for Tensor with dtype float64", str(cm.exception))
        self.assertEqual(v.read_value().tolist(), [1.0, 2.0])
        self.assertEqual(v.dtype, tf.float32)

    def test_fraction_into_int_variable(self):
        v = tf.Variable([1, 2])
        with self.assertRaises(TypeError) as cm:
            v.assign([1.5, 2.0])
        self.assertIn("Cannot convert", str(cm.exception))
        self.assertEqual(v.read_value().tolist(), [1, 2])

    def test_wrong_shape(self):
        v = tf.Variable([1.0, 2.0])
        with self.assertRaises(ValueError) as cm:
            v.assign([1.0, 2.0, 3.0])
        self.assertEqual(str(cm.exception), "Cannot assign value to variable ' Variable:0': Shape mismatch.The "
                                            "variable shape (2,), and the assigned value shape (3,) are incompatible.")
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            v.assign_add([1.0, 2.0, 3.0])
        self.assertIn("[2]", str(cm.exception))
        self.assertIn("[3]", str(cm.exception))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            v.assign_sub(1.0)  # no broadcasting, as TensorFlow's AssignSubVariableOp
        self.assertEqual(v.read_value().tolist(), [1.0, 2.0])
        self.assertEqual((v + 1.0).tolist(), [2.0, 3.0])  # the runtime works on

    def test_threads_add_concurrently(self):
        v = tf.Variable(0.0)

        def work():
            for _ in range(200):
                v.assign_add(1.0)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(float(v), 800.0)


class TensorLikeTest(unittest.TestCase):
    def test_operators(self):
        v = tf.Variable([1.0, 2.0])
        self.assertEqual((v + 1).tolist(), [2.0, 3.0])
        self.assertEqual((1 + v).tolist(), [2.0, 3.0])
        self.assertEqual((v - 1).tolist(), [0.0, 1.0])
        self.assertEqual((3 - v).tolist(), [2.0, 1.0])
        self.assertEqual((v * v).tolist(), [1.0, 4.0])
        self.assertEqual((v / 2).tolist(), [0.5, 1.0])
        self.assertEqual((2 / v).tolist(), [2.0, 1.0])
        self.assertEqual((v ** 2).tolist(), [1.0, 4.0])
        self.assertEqual((2 ** v).tolist(), [2.0, 4.0])
        self.assertEqual((-v).tolist(), [-1.0, -2.0])
        self.assertEqual(abs(-v).tolist(), [1.0, 2.0])
        self.assertEqual((v // 2).tolist(), [0.0, 1.0])
        self.assertEqual((v % 2).tolist(), [1.0, 0.0])
        self.assertEqual((v > 1).tolist(), [False, True])
        self.assertEqual((v <= 1).tolist(), [True, False])
        self.assertEqual((v == [1.0, 3.0]).tolist(), [True, False])
        self.assertEqual((v != [1.0, 3.0]).tolist(), [False, True])
        m = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        self.assertEqual((m @ m).tolist(), [[7.0, 10.0], [15.0, 22.0]])
        self.assertEqual((tf.constant([[1.0, 0.0]]) @ m).tolist(), [[1.0, 2.0]])
        self.assertEqual((tf.constant([1.0, 1.0]) + v).tolist(), [2.0, 3.0])

    def test_indexing_and_conversions(self):
        m = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        self.assertEqual(m[1].tolist(), [3.0, 4.0])
        self.assertEqual(m[:, 0].tolist(), [1.0, 3.0])
        s = tf.Variable(3)
        self.assertEqual((int(s), float(s), bool(s), [0, 1, 2, 3][s]), (3, 3.0, True, 3))
        with self.assertRaises(TypeError):
            iter(m)
        with self.assertRaises(TypeError):
            hash(m)
        self.assertEqual({m.ref(): 1}[m.ref()], 1)

    def test_every_op_accepts_a_variable(self):
        v = tf.Variable([[1.0, -2.0]])
        self.assertEqual(tf.reduce_sum(v).tolist(), -1.0)
        self.assertEqual(tf.nn.relu(v).tolist(), [[1.0, 0.0]])
        self.assertEqual(tf.matmul(v, v, transpose_b=True).tolist(), [[5.0]])
        self.assertEqual(tf.reshape(v, (2,)).tolist(), [1.0, -2.0])
        self.assertEqual(tf.concat([v, v], 0).shape, (2, 2))
        self.assertEqual(tf.stack([v, v]).shape, (2, 1, 2))
        self.assertEqual(tf.cast(v, tf.int32).tolist(), [[1, -2]])
        self.assertEqual(tf.convert_to_tensor(v).tolist(), [[1.0, -2.0]])
        self.assertEqual(tf.constant(v).tolist(), [[1.0, -2.0]])
        self.assertEqual(tf.constant([v, v]).shape, (2, 1, 2))
        self.assertEqual(tf.clip_by_value(v, -1.0, 0.5).tolist(), [[0.5, -1.0]])
        self.assertEqual(tf.where(v > 0, v, tf.zeros_like(v)).tolist(), [[1.0, 0.0]])
        self.assertEqual(tf.identity(v).tolist(), [[1.0, -2.0]])
        self.assertTrue(isinstance(tf.square(v), tf.Tensor))
        with self.assertRaises(ValueError):
            tf.convert_to_tensor(v, dtype=tf.float64)


if __name__ == "__main__":
    unittest.main()
