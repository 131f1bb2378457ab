"""tf.config, device scopes, policies, logging and threads.

Configuration must happen before the process's context initialises, so
each scenario that configures runs in its own interpreter (run_python).
"""

import io
import re
import sys
import threading
import unittest

import ctensor as tf
from ctutil import fake_cuda_driver, run_python

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
CPU1 = "/job:localhost/replica:0/task:0/device:CPU:1"


class SubprocessTestCase(unittest.TestCase):
    def run_ok(self, code, env=None):
        rc, out, err = run_python(code, env)
        self.assertEqual(rc, 0, "stdout:\n%s\nstderr:\n%s" % (out, err))
        return out, err


class PhysicalDevicesTest(unittest.TestCase):
    def test_list_physical_devices_repr(self):
        cpus = tf.config.list_physical_devices("CPU")
        self.assertEqual(repr(cpus[0]), "PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')")
        self.assertEqual(cpus[0].name, "/physical_device:CPU:0")
        self.assertEqual(cpus[0].device_type, "CPU")
        self.assertEqual(tf.config.list_physical_devices()[0], cpus[0])
        self.assertEqual(tf.config.list_physical_devices("cpu"), [])  # exact, case-sensitive
        self.assertEqual(tf.config.get_visible_devices("CPU"), cpus)

    def test_logical_device_configuration_repr(self):
        self.assertEqual(repr(tf.config.LogicalDeviceConfiguration()),
                         "LogicalDeviceConfiguration(memory_limit=None, experimental_priority=None, "
                         "experimental_device_ordinal=None)")
        self.assertIs(tf.config.experimental.VirtualDeviceConfiguration, tf.config.LogicalDeviceConfiguration)


class ConfigurationTest(SubprocessTestCase):
    def test_listing_physical_devices_does_not_initialise(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            tf.config.list_physical_devices()
            print(tf._ctensor.is_initialized())
            tf.config.list_logical_devices()
            print(tf._ctensor.is_initialized())
        """)
        self.assertEqual(out.split(), ["False", "True"])

    def test_two_logical_cpus(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            cpu = tf.config.list_physical_devices('CPU')[0]
            print(tf.config.get_logical_device_configuration(cpu))
            cfg = [tf.config.LogicalDeviceConfiguration()] * 2
            tf.config.set_logical_device_configuration(cpu, cfg)
            print(len(tf.config.get_logical_device_configuration(cpu)))
            print(tf.config.list_logical_devices('CPU'))
            with tf.device('/CPU:1'):
                a = tf.constant([1.0, 2.0])
                b = tf.random.normal((2, 2))
            print(a.device)
            print(b.device)
            print(tf.matmul(b, b).device)
            with tf.device('/CPU:1'):
                print(tf.identity(tf.constant(1.0)).device)
                print(tf.current_device_scope())
            with tf.device(tf.config.list_logical_devices('CPU')[1].name):
                print(tf.zeros(()).device)
            # the same configuration again is fine after initialisation
            tf.config.set_logical_device_configuration(cpu, cfg)
            try:
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 3)
            except RuntimeError as e:
                print("RuntimeError:", e)
            print(tf.op_count('CPU:1') >= 3)
        """)
        lines = out.splitlines()
        self.assertEqual(lines[0], "None")
        self.assertEqual(lines[1], "2")
        self.assertEqual(lines[2], "[LogicalDevice(name='/device:CPU:0', device_type='CPU'), "
                                   "LogicalDevice(name='/device:CPU:1', device_type='CPU')]")
        self.assertEqual(lines[3:6], [CPU1, CPU1, CPU0])
        self.assertEqual(lines[6], CPU1)
        self.assertEqual(lines[7], "/device:CPU:1")
        self.assertEqual(lines[8], CPU1)
        self.assertEqual(lines[9], "RuntimeError: Virtual devices cannot be modified after being initialized")
        self.assertEqual(lines[10], "True")

    def test_bad_configuration_values_raise_value_error(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            cpu = tf.config.list_physical_devices('CPU')[0]
            C = tf.config.LogicalDeviceConfiguration
            def show(f, *a):
                try:
                    f(*a)
                    print("no error")
                except Exception as e:
                    print(type(e).__name__ + ":", e)
            show(tf.config.set_logical_device_configuration, cpu, [C(memory_limit=100)])
            show(tf.config.experimental.set_memory_growth, cpu, True)
            fake = tf.config.PhysicalDevice('/physical_device:GPU:7', 'GPU')
            show(tf.config.set_visible_devices, fake)
            show(tf.config.set_visible_devices, cpu, 'GPU')
            show(tf.config.set_logical_device_configuration, fake, [C()])
            show(tf.config.experimental.get_memory_growth, fake)
            show(tf.config.set_visible_devices, [], 'CPU')
            show(tf.config.set_visible_devices, cpu)
            print(tf.config.experimental.get_memory_growth(cpu))
        """)
        self.assertEqual(out.splitlines(), [
            "ValueError: Setting memory limit on CPU virtual devices is currently not supported",
            "ValueError: Cannot set memory growth on non-GPU and non-Pluggable devices "
            "(/physical_device:CPU:0)",
            "ValueError: Unrecognized device: PhysicalDevice(name='/physical_device:GPU:7', device_type='GPU')",
            "ValueError: Unrecognized device: PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')",
            "ValueError: Unrecognized device: PhysicalDevice(name='/physical_device:GPU:7', device_type='GPU')",
            "ValueError: Unrecognized device: PhysicalDevice(name='/physical_device:GPU:7', device_type='GPU')",
            "ValueError: set_visible_devices: the CPU cannot be hidden (it holds host memory)",
            "no error",
            "None",
        ])

    def test_placement_report_at_exit(self):
        _, err = self.run_ok("""
            import ctensor as tf
            tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
        """, env={"CT_PLACEMENT_REPORT": "1"})
        self.assertIn("ctensor placement report: ", err)
        self.assertIn(CPU0, err)
        _, err = self.run_ok("""
            import ctensor as tf
            tf.set_placement_report_at_exit()
            x = tf.ones((2,))
            print(x.device)
        """)
        self.assertIn("ctensor placement report: 1 op", err)

    def test_log_placement_from_the_environment(self):
        _, err = self.run_ok("""
            import ctensor as tf
            tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
        """, env={"CT_LOG_DEVICE_PLACEMENT": "1"})
        self.assertIn("] Executing op MatMul in device " + CPU0, err)


@unittest.skipUnless(fake_cuda_driver(), "the fake CUDA driver (tests/fake_cuda) is not built")
class FakeGpuTest(SubprocessTestCase):
    def test_gpu_configuration_with_the_fake_driver(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            gpus = tf.config.list_physical_devices('GPU')
            print(gpus)
            print(tf.config.experimental.get_memory_growth(gpus[0]))
            tf.config.experimental.set_memory_growth(gpus[0], True)
            print(tf.config.experimental.get_memory_growth(gpus[0]))
            tf.config.set_visible_devices(gpus[0], 'GPU')
            print(tf.config.list_logical_devices('GPU'))
            for f in (lambda: tf.config.set_visible_devices([], 'GPU'),
                      lambda: tf.config.experimental.set_memory_growth(gpus[0], False)):
                try:
                    f()
                except RuntimeError as e:
                    print("RuntimeError:", e)
            tf.config.set_visible_devices(gpus[0], 'GPU')  # unchanged: allowed
            print(tf.constant([1.0]).device)
        """, env={"CT_CUDA_DRIVER_PATH": fake_cuda_driver()})
        self.assertEqual(out.splitlines(), [
            "[PhysicalDevice(name='/physical_device:GPU:0', device_type='GPU')]",
            "None", "True",
            "[LogicalDevice(name='/device:GPU:0', device_type='GPU')]",
            "RuntimeError: Visible devices cannot be modified after being initialized",
            "RuntimeError: Physical devices cannot be modified after being initialized",
            "/job:localhost/replica:0/task:0/device:GPU:0",
        ])


    def test_tf_test_gpu_questions_with_the_fake_driver(self):
        out, _ = self.run_ok("""
            import ctensor as tf
            print(tf.test.is_built_with_cuda(), repr(tf.test.gpu_device_name()), tf.test.is_gpu_available())
            print(tf.test.is_gpu_available(True, (8, 6)), tf.test.is_gpu_available(min_cuda_compute_capability=(8, 7)))
        """, env={"CT_CUDA_DRIVER_PATH": fake_cuda_driver(), "CT_FAKE_CUDA_CC": "8.6"})
        self.assertEqual(out.splitlines(), ["True '/device:GPU:0' True", "True False"])


class TfTestModuleTest(unittest.TestCase):
    def test_built_with_cuda_whatever_the_machine(self):
        # every ctensor build can use a GPU; TensorFlow's tensorflow-cpu says False
        self.assertTrue(tf.test.is_built_with_cuda())
        self.assertTrue(tf.test.is_built_with_gpu_support())
        self.assertFalse(tf.test.is_built_with_rocm())

    def test_gpu_questions_match_the_device_list(self):
        gpus = tf.config.list_logical_devices("GPU")
        self.assertEqual(tf.test.is_gpu_available(), bool(gpus))
        self.assertEqual(tf.test.gpu_device_name(), gpus[0].name if gpus else "")
        with self.assertRaises(TypeError):
            tf.test.is_gpu_available(min_cuda_compute_capability=7)


class DeviceScopeTest(unittest.TestCase):
    def test_scope_places_ops_and_nests(self):
        with tf.device("/CPU:0"):
            self.assertEqual(tf.random.normal((2,)).device, CPU0)
            with tf.device("/job:localhost"):
                self.assertEqual(tf.current_device_scope(), "/job:localhost/device:CPU:0")
        self.assertEqual(tf.current_device_scope(), "")

    def test_soft_placement_and_strict_mode(self):
        with tf.device("/GPU:0"):
            self.assertEqual(tf.constant([1.0]).device, CPU0)  # soft placement: no GPU here
        tf.config.set_soft_device_placement(False)
        try:
            self.assertFalse(tf.config.get_soft_device_placement())
            with tf.device("/CPU:7"):
                with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
                    tf.ones((2,)) + 1
            self.assertTrue(cm.exception.message.startswith("Could not satisfy device specification"),
                            cm.exception.message)
        finally:
            tf.config.set_soft_device_placement(True)
        self.assertTrue(tf.config.get_soft_device_placement())

    def test_malformed_spec_and_bad_nesting(self):
        with self.assertRaises(ValueError):
            with tf.device("/gpu:x"):
                pass
        self.assertEqual(tf.current_device_scope(), "")
        outer, inner = tf.device("/CPU:0"), tf.device("/CPU:0")
        outer.__enter__()
        inner.__enter__()
        with self.assertRaises(RuntimeError) as cm:
            outer.__exit__(None, None, None)
        self.assertEqual(str(cm.exception), "Exiting device scope without proper scope nesting")
        inner.__exit__(None, None, None)
        outer.__exit__(None, None, None)
        self.assertEqual(tf.current_device_scope(), "")
        with self.assertRaises(RuntimeError):
            tf.device(lambda op: "/CPU:0")

    def test_scopes_are_per_thread(self):
        seen = {}

        def worker(name, spec):
            if spec:
                with tf.device(spec):
                    seen[name] = (tf.current_device_scope(), tf.matmul(tf.ones((8, 8)), tf.ones((8, 8))).device)
            else:
                seen[name] = (tf.current_device_scope(), tf.ones(()).device)

        with tf.device("/CPU:0"):
            threads = [threading.Thread(target=worker, args=("bare", None))]
            threads += [threading.Thread(target=worker, args=("t%d" % i, "/job:localhost/device:CPU:0"))
                        for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(seen["bare"], ("", CPU0))  # a new thread has no scope
        for i in range(4):
            self.assertEqual(seen["t%d" % i], ("/job:localhost/device:CPU:0", CPU0))

    def test_ops_from_many_threads(self):
        results = []

        def worker(seed):
            a = tf.random.normal((64, 64), seed=seed)
            sums = {tf.reduce_sum(tf.matmul(a, a)).tolist() for _ in range(20)}
            results.append(sums.pop() if len(sums) == 1 else None)

        threads = [threading.Thread(target=worker, args=(i % 2,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 6)
        self.assertNotIn(None, results)
        self.assertEqual(len(set(results)), 2)  # same seed, same answer


class PolicyAndLoggingTest(SubprocessTestCase):
    def test_device_policies(self):
        out, err = self.run_ok("""
            import ctensor as tf
            cpu = tf.config.list_physical_devices('CPU')[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
            with tf.device('/CPU:1'):
                x = tf.constant([1.0, 2.0])
            print(tf.config.experimental.get_device_policy())
            tf.config.experimental.set_device_policy('explicit')
            with tf.device('/CPU:0'):
                try:
                    x + x
                except tf.errors.InvalidArgumentError as e:
                    print(e.message.split(' as input')[0])
                print(tf.identity(x).device)  # the explicit copy is always allowed
            tf.config.experimental.set_device_policy('warn')
            tf.debugging.set_log_device_placement(True)
            with tf.device('/CPU:0'):
                print((x + x).device)
            tf.config.experimental.set_device_policy(None)
            print(tf.config.experimental.get_device_policy())
            try:
                tf.config.experimental.set_device_policy('loud')
            except ValueError as e:
                print(e)
        """)
        self.assertEqual(out.splitlines(), [
            "silent",
            "Tensors on conflicting devices: cannot compute AddV2",
            CPU0,
            CPU0,
            "silent",
            "Invalid argument `device_policy`: 'loud'. Please refer to "
            "https://www.tensorflow.org/api_docs/python/tf/config/experimental/set_device_policy for valid "
            "`device_policy` arguments.",
        ])
        self.assertRegex(err, r"W0000 00:00:\d+\.\d{6} +\d+ ctensor\] before computing AddV2 input #0 was "
                              r"expected to be on " + re.escape(CPU0))


class LogPlacementTest(unittest.TestCase):
    def test_log_lines_go_to_sys_stderr_in_tensorflow_format(self):
        captured = io.StringIO()
        old = sys.stderr
        sys.stderr = captured
        try:
            tf.debugging.set_log_device_placement(True)
            self.assertTrue(tf.debugging.get_log_device_placement())
            tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
            t = threading.Thread(target=lambda: tf.exp(tf.ones((3,))))
            t.start()
            t.join()
        finally:
            tf.debugging.set_log_device_placement(False)
            sys.stderr = old
        lines = captured.getvalue().splitlines()
        pattern = r"I0000 00:00:\d+\.\d{6} +\d+ ctensor\] Executing op %s in device " + re.escape(CPU0)
        self.assertTrue(any(re.fullmatch(pattern % "MatMul", l) for l in lines), lines)
        self.assertTrue(any(re.fullmatch(pattern % "Exp", l) for l in lines), lines)
        n = len(lines)
        tf.ones((2,)) + 1
        self.assertEqual(len(captured.getvalue().splitlines()), n)  # off again

    def test_placement_report(self):
        tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
        report = tf.placement_report()
        self.assertTrue(report.startswith("ctensor placement report: "), report)
        self.assertIn(CPU0, report)
        self.assertGreater(tf.op_count("CPU:0"), 0)


if __name__ == "__main__":
    unittest.main()
