"""python/examples/train_digits.py: a real training job (scikit-learn's
digits, an MLP, Adam, a GradientTape loop) reaches the accuracy it should,
on the CPU and on the emulated GPU of tests/fake_cuda -- there with every
op on GPU:0 and no fallback to the CPU. The full 15-epoch run (>= 0.95)
is the example's own check (`python train_digits.py`), recorded in
docs/training.md with TensorFlow's result on the same split and seed.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import unittest

from ctutil import SOURCE_DIR, emulated_gpu_env

SCRIPT = os.path.join(SOURCE_DIR, "python", "examples", "train_digits.py")
GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


def find_python():
    """(interpreter, None) for the first Python that imports scikit-learn,
    NumPy and this build's ctensor -- this one, else Debian's (which
    python3-sklearn installs into; the extension is built for one CPython
    minor version, so either loads it when the versions match) -- or
    (None, why not)."""
    tried = []
    for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if not exe or exe in tried or not os.path.exists(exe):
            continue
        tried.append(exe)
        p = subprocess.run([exe, "-c", "import sklearn, numpy, ctensor"], capture_output=True, text=True,
                           timeout=120)
        if p.returncode == 0:
            return exe, None
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        tried[-1] = "%s (%s)" % (exe, last)
    return None, ("scikit-learn (with NumPy) cannot be imported next to ctensor by %s: install Debian's "
                  "python3-sklearn (tools/install-deps.sh does, as root) or `pip install scikit-learn`"
                  % "; ".join(tried))


PYTHON, SKLEARN = find_python()


def train(args, env=None, timeout=120):
    full = dict(os.environ)
    full.update(env or {})
    full.pop("CT_TRAIN_FRAMEWORK", None)
    p = subprocess.run([PYTHON, SCRIPT] + args, capture_output=True, text=True, env=full, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def final_accuracy(out):
    m = re.search(r"^test accuracy ([0-9.]+) after", out, re.M)
    return float(m.group(1)) if m else None


def epoch_lines(out):
    """The per-epoch numbers (loss and accuracies), without the times."""
    return [re.sub(r"\s+time .*$", "", line) for line in out.splitlines() if line.startswith("epoch ")]


def device_ops(out, device):
    m = re.search(r"^\s+%s\s+(\d+)\s" % re.escape(device), out, re.M)
    return int(m.group(1)) if m else None


@unittest.skipIf(SKLEARN, SKLEARN)
class TrainDigitsTest(unittest.TestCase):
    def test_a_few_epochs_reach_090_on_the_cpu(self):
        rc, out, err = train(["--quick", "--min-accuracy", "0.90", "--device", "/CPU:0"])
        self.assertEqual(rc, 0, out + err)
        acc = final_accuracy(out)
        self.assertIsNotNone(acc, out)
        self.assertGreaterEqual(acc, 0.90, out)
        self.assertEqual(len(epoch_lines(out)), 4, out)
        # the placement report closes the run
        self.assertIn("ctensor placement report:", out)
        self.assertIn("no op fell back", out)
        self.assertGreater(device_ops(out, CPU0), 1000, out)

    def test_the_bar_is_checked(self):
        rc, out, err = train(["--epochs", "1", "--min-accuracy", "0.999", "--device", "/CPU:0"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("FAIL: test accuracy", out)

    def test_pieces_import_without_running(self):
        # bench/ and other scripts import the model and the step.
        p = subprocess.run([PYTHON, "-c", textwrap.dedent("""
            import sys
            sys.path.insert(0, sys.argv[1])
            import ctensor as tf
            import train_digits as td
            x_train, y_train, x_test, y_test = td.load_data(0)
            print(x_train.shape, x_test.shape)
            params = td.build_model(tf, td.initial_weights(0))
            print([p.shape for p in params])
            step = td.make_train_step(tf, params, tf.keras.optimizers.Adam())
            loss0 = float(step(tf.constant(x_train[:32]), tf.constant(y_train[:32])))
            print(1.0 < loss0 < 4.0)
        """), os.path.dirname(SCRIPT)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "(1348, 64) (449, 64)", "[(64, 128), (128,), (128, 64), (64,), (64, 10), (10,)]", "True"])


@unittest.skipIf(SKLEARN, SKLEARN)
@unittest.skipUnless(emulated_gpu_env(), "no emulated GPU in this build (no C++ compiler for the fake NVRTC)")
class TrainDigitsEmulatedGpuTest(unittest.TestCase):
    def test_the_job_runs_on_gpu0_with_no_fallback_and_the_cpus_accuracy(self):
        env = emulated_gpu_env()
        rc, out, err = train(["--quick", "--min-accuracy", "0.90"], env=env, timeout=240)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("on /GPU:0", out.splitlines()[0])
        self.assertIn("no op fell back: every op ran where it was asked to", out)
        self.assertEqual(device_ops(out, CPU0), 0, out)
        self.assertGreater(device_ops(out, GPU0), 1000, out)
        # the same job on the CPU of the same process setup: the same numbers
        rc, cpu_out, err = train(["--quick", "--device", "/CPU:0"], env=env, timeout=120)
        self.assertEqual(rc, 0, cpu_out + err)
        self.assertAlmostEqual(final_accuracy(out), final_accuracy(cpu_out), delta=0.005)
        gpu_epochs, cpu_epochs = epoch_lines(out), epoch_lines(cpu_out)
        self.assertEqual(len(gpu_epochs), len(cpu_epochs))


if __name__ == "__main__":
    unittest.main()
