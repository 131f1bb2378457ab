"""The seed article's three examples, run with `import ctensor as tf`.

On a machine without a usable GPU they must print exactly what TensorFlow
prints there (python/examples/seed*.expected were recorded from
TensorFlow 2 on a CPU-only machine); with a GPU the lines must have the
same shape, naming GPU devices.
"""

import os
import re
import subprocess
import sys
import unittest

import ctensor as tf
from ctutil import SOURCE_DIR, fake_cuda_driver

EXAMPLES = os.path.join(SOURCE_DIR, "python", "examples")


def run_example(name, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)], capture_output=True, text=True,
                       env=full_env, timeout=120)
    return p.returncode, p.stdout, p.stderr


class SeedExamplesTest(unittest.TestCase):
    def check(self, n):
        rc, out, err = run_example("seed%d.py" % n)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(EXAMPLES, "seed%d.expected" % n)) as f:
            expected = f.read()
        if not tf.config.list_physical_devices("GPU"):
            self.assertEqual(out, expected)
        else:
            device = r"/job:localhost/replica:0/task:0/device:(CPU|GPU):\d+"
            for line in out.splitlines():
                self.assertRegex(line, r"^(Devices: \[.*\]|Logical GPUs: \[.*\]|.*: %s)$" % device)

    def test_seed1(self):
        self.check(1)

    def test_seed2(self):
        self.check(2)

    def test_seed3(self):
        self.check(3)

    @unittest.skipUnless(fake_cuda_driver(), "the fake CUDA driver (tests/fake_cuda) is not built")
    def test_seed2_takes_the_gpu_branch_with_a_gpu(self):
        # The fake driver has no working cuBLAS, so only the configuration
        # part of the example can succeed.
        rc, out, err = run_example("seed2.py", {"CT_CUDA_DRIVER_PATH": fake_cuda_driver()})
        self.assertEqual(out.splitlines()[0], "Logical GPUs: [LogicalDevice(name='/device:GPU:0', device_type='GPU')]")


if __name__ == "__main__":
    unittest.main()
