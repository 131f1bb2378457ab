"""ctensor.DeviceSpec against tf.DeviceSpec: every expected value below is
what TensorFlow 2.21 returns for the same call (recorded with the
conformance virtualenv), except the cases marked as ctensor's stricter
checks, which TensorFlow accepts and then cannot place."""

import unittest

import ctensor as tf

D = tf.DeviceSpec
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


class DeviceSpecTest(unittest.TestCase):
    def test_from_string_and_fields(self):
        cases = {
            "/job:worker/replica:1/task:2/device:GPU:3": ("worker", 1, 2, "GPU", 3,
                                                          "/job:worker/replica:1/task:2/device:GPU:3"),
            "/gpu:0": (None, None, None, "GPU", 0, "/device:GPU:0"),
            "cpu": (None, None, None, "CPU", None, "/device:CPU:*"),
            "": (None, None, None, None, None, ""),
            "/job:ps/task:0": ("ps", None, 0, None, None, "/job:ps/task:0"),
            "/device:GPU:*": (None, None, None, "GPU", None, "/device:GPU:*"),
            "GPU:1": (None, None, None, "GPU", 1, "/device:GPU:1"),
            "/replica:1/job:w": ("w", 1, None, None, None, "/job:w/replica:1"),
            "/task:1/task:2": (None, None, 2, None, None, "/task:2"),
            "/Gpu:0": (None, None, None, "GPU", 0, "/device:GPU:0"),
            "/device:cpu:0": (None, None, None, "CPU", 0, "/device:CPU:0"),
            "/job:a//gpu:0/": ("a", None, None, "GPU", 0, "/job:a/device:GPU:0"),
        }
        for spec, (job, replica, task, dtype, index, text) in cases.items():
            with self.subTest(spec=spec):
                d = D.from_string(spec)
                self.assertEqual((d.job, d.replica, d.task, d.device_type, d.device_index),
                                 (job, replica, task, dtype, index))
                self.assertEqual(d.to_string(), text)
                self.assertEqual(D.from_string(d.to_string()), d)  # round trip

    def test_repr(self):
        self.assertEqual(repr(D.from_string("/job:worker/replica:1/task:2/device:GPU:3")),
                         "<DeviceSpec(job=worker, replica=1, task=2, device_type=GPU, device_index=3)>")
        self.assertEqual(repr(D()),
                         "<DeviceSpec(job=None, replica=None, task=None, device_type=None, device_index=None)>")

    def test_constructor(self):
        self.assertEqual(D(device_type="gpu", device_index=1).to_string(), "/device:GPU:1")
        self.assertEqual(D(job="ps", task=0).to_string(), "/job:ps/task:0")
        self.assertEqual(D(replica="2").to_string(), "/replica:2")
        # an index without a type is kept, not printed
        self.assertEqual(D(device_index=1).to_string(), "")
        self.assertEqual(D(device_index=1).device_index, 1)

    def test_merge_and_replace(self):
        self.assertEqual(D(job="w", device_type="CPU").make_merged_spec(D(device_type="GPU")).to_string(),
                         "/job:w/device:GPU:*")
        self.assertEqual(D(device_type="GPU").make_merged_spec(D(device_index=1)).to_string(), "/device:GPU:1")
        base = D.from_string("/job:w/GPU:0")
        self.assertEqual(base.replace(device_index=2).to_string(), "/job:w/device:GPU:2")
        self.assertEqual(base.replace(device_type=None).to_string(), "/job:w")
        self.assertEqual(base.to_string(), "/job:w/device:GPU:0")  # immutable
        with self.assertRaises(TypeError):
            base.replace(device=1)
        with self.assertRaises(TypeError):
            base.make_merged_spec("/GPU:1")

    def test_equality_and_hash(self):
        self.assertEqual(D.from_string("/GPU:0"), D(device_type="GPU", device_index=0))
        self.assertNotEqual(D.from_string("/GPU:0"), "/GPU:0")
        self.assertNotEqual(D.from_string("/GPU:0"), D.from_string("/GPU:1"))
        self.assertEqual(len({D.from_string("/gpu:0"), D(device_type="GPU", device_index=0)}), 1)
        with self.assertRaises(AttributeError):
            D().job = "x"

    def test_malformed_strings(self):
        for bad, words in (("/cpu:0/device:GPU:2", "Multiple device types"),
                           ("/foo:1", "Unknown attribute 'foo'")):
            with self.subTest(spec=bad):
                with self.assertRaises(ValueError) as cm:
                    D.from_string(bad)
                self.assertIn(words, str(cm.exception))
                self.assertIn(bad, str(cm.exception))
        with self.assertRaises(TypeError):
            D.from_string(0)

    def test_stricter_than_tensorflow(self):
        # TensorFlow builds these, then no scope can use them
        with self.assertRaises(ValueError) as cm:
            D(job="a b")
        self.assertIn("bad job name 'a b'", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            D(replica=-1)
        self.assertIn("replica must be a non-negative integer, got -1", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            D(task="x")
        self.assertIn("task must be a non-negative integer, got 'x'", str(cm.exception))

    def test_device_scope_accepts_a_spec(self):
        with tf.device(D(device_type="CPU", device_index=0)):
            self.assertEqual(tf.ones((1,)).device, CPU0)
        with tf.device(D(job="localhost").make_merged_spec(D.from_string("/cpu:0"))):
            self.assertEqual(tf.current_device_scope(), "/job:localhost/device:CPU:0")


if __name__ == "__main__":
    unittest.main()
