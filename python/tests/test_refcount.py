"""Reference counting: no leaks, no double frees, over many iterations."""

import gc
import sys
import threading
import unittest
import weakref

import ctensor as tf


def live_bytes():
    return tf._ctensor.memory_info("CPU:0")["current"]


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


class RefcountTest(unittest.TestCase):
    def test_tensor_memory_returns_to_baseline(self):
        gc.collect()
        base = live_bytes()
        for _ in range(200):
            a = tf.ones((64, 64))
            b = tf.matmul(a, a) + a
            c = tf.reshape(b, (-1,))  # a view keeps its base alive
            del a, b
            self.assertEqual(c.shape, (4096,))
            m = memoryview(c)
            del c
            m.release()
        del m
        self.assertEqual(live_bytes(), base)

    def test_weakref_sees_the_tensor_die(self):
        t = tf.ones((128, 128))
        r = weakref.ref(t)
        u = t[1:3]
        del t
        self.assertIsNone(r())
        self.assertEqual(u.shape, (2, 128))

    def test_refcounts_of_inputs_are_unchanged_by_ops(self):
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        before = sys.getrefcount(x)
        for _ in range(100):
            tf.matmul(x, x)
            x + 1
            tf.concat([x, x], 0)
            tf.identity(x)
            memoryview(x).release()
            x.tolist()
            try:
                tf.matmul(x, tf.ones((3, 3)))
            except tf.errors.InvalidArgumentError:
                pass
        self.assertEqual(sys.getrefcount(x), before)
        dt = tf.float32
        n = sys.getrefcount(dt)
        for _ in range(100):
            x.dtype
        self.assertEqual(sys.getrefcount(dt), n)

    def test_no_growth_over_many_small_ops(self):
        def churn(n):
            for i in range(n):
                t = tf.constant([float(i), 2.0, 3.0])
                s = tf.reduce_sum(t * t)
                float(s)
                repr(t)
                try:
                    tf.constant([1, 2]) + tf.constant([1.0])
                except tf.errors.OpError:
                    pass

        churn(2000)
        gc.collect()
        before = rss_kb()
        churn(20000)
        gc.collect()
        self.assertLess(rss_kb() - before, 4096, "resident memory grew over 20000 iterations")

    def test_threads_share_tensors_safely(self):
        x = tf.random.normal((32, 32), seed=3)
        want = tf.matmul(x, x).tolist()
        errors = []

        def worker():
            for _ in range(50):
                if tf.matmul(x, x).tolist() != want:
                    errors.append("mismatch")

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
