"""The Python module on a GPU: the emulated one of tests/fake_cuda (fake
driver, cuBLAS and NVRTC; ctensor's own kernels run on the host), so that
CI covers what a user with an NVIDIA GPU sees -- where ops run, what the
seed article's examples print there, that random numbers are the same on
both devices, that results agree with the CPU's.
"""

import os
import sys
import unittest

from ctutil import SOURCE_DIR, emulated_gpu_env, run_python

GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
EXAMPLES = os.path.join(SOURCE_DIR, "python", "examples")


@unittest.skipUnless(emulated_gpu_env(), "no emulated GPU in this build (no C++ compiler for the fake NVRTC)")
class EmulatedGpuTest(unittest.TestCase):
    def run_ok(self, code, env=None):
        full = dict(emulated_gpu_env())
        full.update(env or {})
        rc, out, err = run_python(code, env=full, timeout=300)
        self.assertEqual(rc, 0, err)
        return out, err

    def run_example(self, n):
        with open(os.path.join(EXAMPLES, "seed%d.py" % n)) as f:
            return self.run_ok(f.read())[0].splitlines()

    # What TensorFlow prints for the seed article's examples on a machine
    # with one usable GPU: the GPU is listed after the CPU, and ops without
    # a scope run on it.
    def test_seed1_runs_on_the_gpu(self):
        self.assertEqual(self.run_example(1), [
            "Devices: [PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU'), "
            "PhysicalDevice(name='/physical_device:GPU:0', device_type='GPU')]",
            "Result tensor device: " + GPU0,
        ])

    def test_seed2_selects_the_first_gpu(self):
        self.assertEqual(self.run_example(2), [
            "Logical GPUs: [LogicalDevice(name='/device:GPU:0', device_type='GPU')]",
            "Result tensor device: " + GPU0,
        ])

    def test_seed3_explicit_cpu_and_automatic_gpu(self):
        self.assertEqual(self.run_example(3)[1:], [
            "CPU tensor created on: " + CPU0,
            "GPU or CPU tensor created on: " + GPU0,
        ])

    def test_gpu_results_match_the_cpu(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            tf.config.set_soft_device_placement(False)  # no silent CPU fall back
            res = {}
            for dev in ("/CPU:0", "/GPU:0"):
                with tf.device(dev):
                    a = tf.random.normal((33, 70), seed=7)
                    b = tf.random.uniform((70, 5), -1, 1, seed=8)
                    u = tf.random.uniform((1001,), dtype=tf.float16, seed=9)
                    c = tf.matmul(a, b)
                    d = tf.nn.relu(a * 2.0 - 1.0)
                    s = tf.reduce_sum(a, axis=0)
                    m = tf.reduce_max(tf.exp(a))
                    k = tf.argmax(a, axis=1)
                    x = tf.cast(a * 10, tf.int32)
                x = (x // 3) * 100 + x % -3  # floor division and modulo
                x = tf.gather(x, [4, 0, 4, 32], axis=0)
                res[dev] = (a, b, u, c, d, s, m, k, x)
                print(dev, c.device, d.device, k.device)
            cpu, gpu = res["/CPU:0"], res["/GPU:0"]
            # the same Philox bits on both devices
            print("random equal:", cpu[0].tolist() == gpu[0].tolist() and cpu[1].tolist() == gpu[1].tolist()
                  and cpu[2].tolist() == gpu[2].tolist())
            def close(p, q, tol):
                p, q = p.tolist(), q.tolist()
                flat = lambda v: [z for r in v for z in flat(r)] if isinstance(v, list) else [v]
                return all(abs(x - y) <= tol * (1 + abs(y)) for x, y in zip(flat(p), flat(q)))
            print("matmul close:", close(gpu[3], cpu[3], 1e-5))
            print("elementwise equal:", gpu[4].tolist() == cpu[4].tolist())
            print("sum close:", close(gpu[5], cpu[5], 1e-5))
            print("max close:", close(gpu[6], cpu[6], 1e-6))
            print("argmax equal:", gpu[7].tolist() == cpu[7].tolist())
            print("cast, //, %, gather equal:", gpu[8].tolist() == cpu[8].tolist())
        """)
        self.assertEqual(out.splitlines(), [
            "/CPU:0 %s %s %s" % (CPU0, CPU0, CPU0),
            "/GPU:0 %s %s %s" % (GPU0, GPU0, GPU0),
            "random equal: True",
            "matmul close: True",
            "elementwise equal: True",
            "sum close: True",
            "max close: True",
            "argmax equal: True",
            "cast, //, %, gather equal: True",
        ])

    def test_placement_log_names_the_gpu(self):
        _, err = self.run_ok("""
            import ctensor as tf
            c = tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
            assert c.tolist() == [[2.0, 2.0], [2.0, 2.0]], c.tolist()
        """, env={"CT_LOG_DEVICE_PLACEMENT": "1"})
        self.assertIn("Executing op MatMul in device " + GPU0, err)

    def test_copies_between_devices_keep_values(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            with tf.device("/CPU:0"):
                a = tf.constant([[1.5, -2.0], [3.25, 4.0]])
            with tf.device("/GPU:0"):
                b = a + 0.0               # the input is copied to the GPU
            print(b.device)
            print(b.tolist())
            with tf.device("/CPU:0"):
                c = b * 2.0               # and back
            print(c.device, c.tolist())
        """)
        self.assertEqual(out.splitlines(), [
            GPU0, "[[1.5, -2.0], [3.25, 4.0]]", "%s [[3.0, -4.0], [6.5, 8.0]]" % CPU0])

    def test_gradients_on_the_gpu_match_the_cpu(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            tf.config.set_soft_device_placement(False)  # a gradient op that cannot run there fails
            res = {}
            for dev in ("/CPU:0", "/GPU:0"):
                with tf.device(dev):
                    x = tf.random.normal((6, 5), seed=3)
                    w = tf.Variable(tf.random.uniform((5, 4), -1, 1, seed=4))
                    b = tf.Variable(tf.zeros((4,)))
                    labels = tf.constant([0, 3, 1, 1, 2, 0])
                    dense = tf.one_hot(labels, 4)
                # the forward ops run on dev; the gradient ops follow them there
                with tf.device(dev):
                    with tf.GradientTape(persistent=True) as tape:
                        tape.watch(x)
                        h = tf.nn.relu(x @ w + b)
                        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=h))
                        loss2 = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=dense, logits=h))
                        top = tf.reduce_sum(tf.reduce_max(tf.concat([h, h], 1), axis=1))  # ties
                        other = tf.reduce_sum(tf.clip_by_value(tf.square(x), 0.1, 1.0) * tf.nn.log_softmax(x))
                        sel = tf.reduce_sum(tf.where(x > 0, tf.exp(x), tf.broadcast_to(b[:1], (6, 5))))
                        seg = tf.reduce_sum(tf.math.unsorted_segment_sum(x, [0, 1, 0, 2, 1, 0], 3) ** 2)
                g = tape.gradient(loss, [w, b, x])
                g += tape.gradient(loss2, [w, b])
                g += tape.gradient(top, [w, x])
                g += tape.gradient([other, sel, seg], [x, b])
                res[dev] = g
                print(dev, sorted(set(t.device for t in g)) == [w.device])
            def close(p, q, tol=1e-5):
                flat = lambda v: [z for r in v for z in flat(r)] if isinstance(v, list) else [v]
                return all(abs(x - y) <= tol * (1 + abs(y)) for x, y in zip(flat(p.tolist()), flat(q.tolist())))
            print("gradients close:", all(close(gg, cg) for gg, cg in zip(res["/GPU:0"], res["/CPU:0"])))
            # unscoped, a second-order gradient on the GPU (the best device)
            x = tf.constant([1.0, 2.0])
            with tf.GradientTape() as outer:
                outer.watch(x)
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    y = tf.reduce_sum(x ** 3)
                dy = inner.gradient(y, x)
            d2 = outer.gradient(dy, x)
            print(dy.device, d2.device, dy.tolist(), d2.tolist())
            v = tf.Variable([1.0, 2.0])
            v.assign_sub([0.5, 0.5])
            print(v.device, v.read_value().tolist())
        """)
        self.assertEqual(out.splitlines(), [
            "/CPU:0 True", "/GPU:0 True", "gradients close: True",
            "%s %s [3.0, 12.0] [6.0, 12.0]" % (GPU0, GPU0),
            "%s [0.5, 1.5]" % GPU0,
        ])


if __name__ == "__main__":
    unittest.main()
