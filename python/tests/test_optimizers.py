"""tf.keras.optimizers.SGD and Adam (ctensor/optimizers.py over the
library's ct_optimizer): values after several steps against Keras 3's
formulas written out below in float64 (the kernels compute in float32, so
the tolerance is float32's), and what Keras does around the update --
building on the first step's variables, skipping None gradients with its
warning, its errors, `iterations`, `learning_rate` set between steps.
tests/conformance/optimizers.py compares the same steps with TensorFlow's.
"""
import math
import struct
import unittest
import warnings

import ctensor as tf
from ctutil import run_python


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def flat(v):
    if hasattr(v, "read_value"):
        v = v.read_value()
    v = v.tolist() if hasattr(v, "tolist") else v
    return [y for x in v for y in flat(x)] if isinstance(v, list) else [v]


# ---- Keras 3's update_step, in float64 -------------------------------------

def keras_sgd(var, grads_per_step, lrs, momentum=0.0, nesterov=False):
    """keras/src/optimizers/sgd.py: m = -g*lr + m*momentum; var += m
    (nesterov: var += -g*lr + m*momentum); momentum 0: var -= g*lr."""
    var, m = list(var), [0.0] * len(var)
    for g, lr in zip(grads_per_step, lrs):
        lr = f32(lr)  # Keras's learning rate is a float32 variable
        for i in range(len(var)):
            if momentum == 0:
                var[i] -= g[i] * lr
            else:
                m[i] = -g[i] * lr + m[i] * momentum
                var[i] += (-g[i] * lr + m[i] * momentum) if nesterov else m[i]
    return var, m


def keras_adam(var, grads_per_step, lrs, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    """keras/src/optimizers/adam.py: at t = iterations + 1,
    alpha = lr*sqrt(1 - beta_2^t)/(1 - beta_1^t) (Keras raises its betas,
    cast to float32, to the power t); m += (g - m)*(1 - beta_1);
    v += (g^2 - v)*(1 - beta_2); amsgrad: vhat = max(vhat, v) replaces v;
    var -= m*alpha/(sqrt(v) + epsilon)."""
    var, m, v, vhat = list(var), [0.0] * len(var), [0.0] * len(var), [0.0] * len(var)
    for t, (g, lr) in enumerate(zip(grads_per_step, lrs), start=1):
        alpha = f32(lr) * math.sqrt(1 - f32(beta_2) ** t) / (1 - f32(beta_1) ** t)
        for i in range(len(var)):
            m[i] += (g[i] - m[i]) * (1 - beta_1)
            v[i] += (g[i] * g[i] - v[i]) * (1 - beta_2)
            vv = v[i]
            if amsgrad:
                vhat[i] = max(vhat[i], v[i])
                vv = vhat[i]
            var[i] -= m[i] * alpha / (math.sqrt(vv) + epsilon)
    return var, m, v, vhat


def gradients(n, steps, seed):
    """Deterministic float32 gradients of both signs (no RNG library)."""
    out = []
    for s in range(steps):
        out.append([f32(math.sin(seed * 7.1 + s * 3.3 + i * 1.7) * (1 + (i % 3))) for i in range(n)])
    return out


class OptimizerValuesTest(unittest.TestCase):
    TOL = 2e-6  # relative to max(1, |value|); float32 steps

    def assertClose(self, got, want, what=""):
        got = flat(got)
        self.assertEqual(len(got), len(want), what)
        for i, (a, b) in enumerate(zip(got, want)):
            self.assertLessEqual(abs(a - b), self.TOL * max(1.0, abs(b)),
                                 "%s element %d: got %r, Keras's formula %r" % (what, i, a, b))

    def run_steps(self, opt, steps=6, lr_changes=None, n=7, seed=1):
        init = [f32(0.1 * i - 0.3) for i in range(n)]
        var = tf.Variable(init)
        grads = gradients(n, steps, seed)
        lrs = []
        for s, g in enumerate(grads):
            if lr_changes and s in lr_changes:
                opt.learning_rate = lr_changes[s]
            lrs.append(float(opt.learning_rate))
            opt.apply_gradients([(tf.constant(g), var)])
        self.assertEqual(int(opt.iterations), steps)
        return var, init, grads, lrs

    def test_sgd(self):
        opt = tf.keras.optimizers.SGD(learning_rate=0.1)
        var, init, grads, lrs = self.run_steps(opt)
        self.assertClose(var, keras_sgd(init, grads, lrs)[0], "sgd")

    def test_sgd_defaults(self):
        opt = tf.keras.optimizers.SGD()
        self.assertEqual((opt.momentum, opt.nesterov), (0.0, False))
        self.assertAlmostEqual(float(opt.learning_rate), 0.01, places=7)
        var, init, grads, lrs = self.run_steps(opt)
        self.assertClose(var, keras_sgd(init, grads, lrs)[0], "sgd defaults")

    def test_sgd_momentum_and_nesterov(self):
        for nesterov in (False, True):
            opt = tf.keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=nesterov)
            var, init, grads, lrs = self.run_steps(opt, lr_changes={3: 0.2})
            want, m = keras_sgd(init, grads, lrs, momentum=0.9, nesterov=nesterov)
            self.assertClose(var, want, "nesterov=%s" % nesterov)
            self.assertClose(opt._get_slot(var, "momentum"), m, "momentum slot")

    def test_adam(self):
        opt = tf.keras.optimizers.Adam(learning_rate=0.01)
        var, init, grads, lrs = self.run_steps(opt, steps=8)
        want, m, v, _ = keras_adam(init, grads, lrs)
        self.assertClose(var, want, "adam")
        self.assertClose(opt._get_slot(var, "m"), m, "m")
        self.assertClose(opt._get_slot(var, "v"), v, "v")

    def test_adam_defaults_and_settings(self):
        opt = tf.keras.optimizers.Adam()
        self.assertEqual((opt.beta_1, opt.beta_2, opt.epsilon, opt.amsgrad), (0.9, 0.999, 1e-7, False))
        var, init, grads, lrs = self.run_steps(opt)
        self.assertClose(var, keras_adam(init, grads, lrs)[0], "adam defaults")
        opt = tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.5, beta_2=0.9, epsilon=1e-3)
        var, init, grads, lrs = self.run_steps(opt, seed=3)
        self.assertClose(var, keras_adam(init, grads, lrs, 0.5, 0.9, 1e-3)[0], "adam betas")

    def test_adam_amsgrad(self):
        opt = tf.keras.optimizers.Adam(learning_rate=0.01, amsgrad=True)
        var, init, grads, lrs = self.run_steps(opt, steps=8, seed=2)
        want, _, _, vhat = keras_adam(init, grads, lrs, amsgrad=True)
        self.assertClose(var, want, "amsgrad")
        self.assertClose(opt._get_slot(var, "vhat"), vhat, "vhat")

    def test_learning_rate_set_between_steps(self):
        opt = tf.keras.optimizers.Adam(learning_rate=0.01)
        var, init, grads, lrs = self.run_steps(opt, steps=6, lr_changes={2: 0.05, 4: 0.001})
        self.assertEqual(lrs, [f32(0.01)] * 2 + [f32(0.05)] * 2 + [f32(0.001)] * 2)
        self.assertClose(var, keras_adam(init, grads, lrs)[0], "learning rate changed")
        # assign() as on Keras's variable, and a callable learning rate
        opt.learning_rate.assign(0.5)
        self.assertEqual(float(opt.learning_rate), 0.5)
        opt.learning_rate = lambda: 0.25
        self.assertEqual(float(opt.learning_rate), 0.25)

    def test_several_variables_and_a_float64_one(self):
        opt = tf.keras.optimizers.Adam(learning_rate=0.01)
        w = tf.Variable([[0.5, -0.5], [0.25, 1.0]])
        d = tf.Variable(tf.constant([1.0, 2.0, 3.0], dtype=tf.float64))
        gw, gd = [[0.1, -0.2], [0.3, 0.4]], [0.5, -0.25, 0.125]
        for _ in range(3):
            opt.apply_gradients(zip([tf.constant(gw), tf.constant(gd, dtype=tf.float64)], [w, d]))
        self.assertClose(w, keras_adam([0.5, -0.5, 0.25, 1.0], [flat(gw)] * 3, [0.01] * 3)[0], "w")
        self.assertEqual(d.dtype, tf.float64)
        want = keras_adam([1.0, 2.0, 3.0], [gd] * 3, [0.01] * 3)[0]
        for a, b in zip(flat(d), want):
            self.assertAlmostEqual(a, b, places=12)  # float64 computes in float64

    def test_gradient_of_another_dtype_is_cast(self):
        # Keras casts each gradient to its variable's dtype.
        opt = tf.keras.optimizers.SGD(learning_rate=0.5)
        v = tf.Variable([1.0, 2.0])
        opt.apply_gradients([(tf.constant([1.0, 2.0], dtype=tf.float64), v)])
        self.assertEqual(v.read_value().tolist(), [0.5, 1.0])
        opt.apply_gradients([([2.0, 2.0], v)])  # a Python list converts too
        self.assertEqual(v.read_value().tolist(), [-0.5, 0.0])

    def test_training_loop_with_a_tape(self):
        # the loop of python/examples/train_digits.py, in miniature
        x = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
        labels = tf.constant([0, 1, 1, 0])
        w = tf.Variable([[0.1, -0.1], [0.2, 0.3]])
        b = tf.Variable([0.0, 0.0])
        opt = tf.keras.optimizers.Adam(learning_rate=0.1)
        losses = []
        for _ in range(30):
            with tf.GradientTape() as tape:
                logits = tf.matmul(x, w) + b
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            grads = tape.gradient(loss, [w, b])
            opt.apply_gradients(zip(grads, [w, b]))
            losses.append(float(loss))
        self.assertLess(losses[-1], 0.5 * losses[0])
        self.assertEqual(int(opt.iterations), 30)


class OptimizerBehaviourTest(unittest.TestCase):
    def test_namespaces(self):
        self.assertIs(tf.keras.optimizers.Adam, tf.optimizers.Adam)
        self.assertIs(tf.keras.optimizers.SGD, tf.optimizers.SGD)
        import ctensor.keras.optimizers as ko
        self.assertIs(ko.Adam, tf.optimizers.Adam)
        self.assertTrue(issubclass(tf.keras.optimizers.SGD, tf.keras.optimizers.Optimizer))

    def test_names_count_like_keras(self):
        a, b = tf.keras.optimizers.Adam(), tf.keras.optimizers.Adam()
        self.assertTrue(a.name.startswith("adam"))
        self.assertNotEqual(a.name, b.name)
        self.assertEqual(tf.keras.optimizers.SGD(name="mine").name, "mine")

    def test_iterations_reads_like_keras(self):
        opt = tf.keras.optimizers.Adam(name="adam_t")
        self.assertEqual(repr(opt.iterations), "<Variable path=adam_t/iteration, shape=(), dtype=int64, value=0>")
        v = tf.Variable([1.0])
        ret = opt.apply_gradients([(tf.constant([1.0]), v)])
        self.assertIs(ret, opt.iterations)  # Keras returns the iterations variable
        self.assertEqual(int(opt.iterations), 1)
        self.assertEqual(opt.iterations.dtype, tf.int64)
        self.assertEqual(opt.iterations.shape, ())
        self.assertEqual(repr(opt.iterations), "<Variable path=adam_t/iteration, shape=(), dtype=int64, value=1>")
        self.assertEqual((opt.iterations + 1).tolist(), 2)
        self.assertEqual((opt.iterations + 1).dtype, tf.int64)
        self.assertEqual(tf.cast(opt.iterations, tf.float32).tolist(), 1.0)
        self.assertEqual(tf.convert_to_tensor(opt.iterations).dtype, tf.int64)
        self.assertTrue(bool(opt.iterations == 1))
        self.assertEqual(list(range(5))[opt.iterations], 1)  # __index__
        with self.assertRaises(AttributeError):
            opt.iterations.assign(5)

    def test_learning_rate_reads_like_keras(self):
        opt = tf.keras.optimizers.Adam(name="adam_lr")
        self.assertEqual(repr(opt.learning_rate),
                         "<Variable path=adam_lr/learning_rate, shape=(), dtype=float32, value=0.0010000000474974513>")
        self.assertEqual(opt.learning_rate.dtype, tf.float32)
        opt.learning_rate = 0.01
        self.assertEqual(float(opt.learning_rate), f32(0.01))
        opt.learning_rate = tf.constant(0.5)
        self.assertEqual(float(opt.learning_rate), 0.5)
        self.assertEqual(len(opt.variables), 2)

    def test_none_gradient_is_skipped_with_keras_warning(self):
        opt = tf.keras.optimizers.SGD(learning_rate=1.0)
        a, b = tf.Variable([1.0], name="a"), tf.Variable([2.0], name="b")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opt.apply_gradients([(None, a), (tf.constant([0.5]), b)])
        self.assertEqual([str(w.message) for w in caught],
                         ["Gradients do not exist for variables ['a:0'] when minimizing the loss. If using "
                          "`model.compile()`, did you forget to provide a `loss` argument?"])
        self.assertEqual(caught[0].category, UserWarning)
        self.assertEqual(a.read_value().tolist(), [1.0])
        self.assertEqual(b.read_value().tolist(), [1.5])
        self.assertEqual(int(opt.iterations), 1)

    def test_errors_are_keras_errors_and_change_nothing(self):
        opt = tf.keras.optimizers.Adam()
        v = tf.Variable([1.0, 2.0])
        with self.assertRaisesRegex(ValueError, "^No gradients provided for any variable.$"):
            opt.apply_gradients([(None, v)])
        with self.assertRaisesRegex(ValueError, "not enough values to unpack"):
            opt.apply_gradients([])
        self.assertEqual(int(opt.iterations), 0)
        opt.apply_gradients([(tf.constant([1.0, 1.0]), v)])
        other = tf.Variable([5.0])
        with self.assertRaisesRegex(ValueError, "^Unknown variable: <ctensor.Variable 'Variable:0' shape=\\(1,\\).*"
                                    "This optimizer can only be called for the variables it was originally built "
                                    "with. When working with a new set of variables, you should recreate a new "
                                    "optimizer instance.$"):
            opt.apply_gradients([(tf.constant([1.0]), other)])
        before = v.read_value().tolist()
        with self.assertRaises(tf.errors.InvalidArgumentError):  # TensorFlow: InvalidArgumentError too
            opt.apply_gradients([(tf.constant([1.0, 2.0, 3.0]), v)])
        self.assertEqual(v.read_value().tolist(), before)
        self.assertEqual(int(opt.iterations), 1)
        self.assertEqual(other.read_value().tolist(), [5.0])

    def test_apply_without_variables_uses_the_built_ones(self):
        opt = tf.keras.optimizers.SGD(learning_rate=1.0)
        with self.assertRaisesRegex(ValueError, "must already be built"):
            opt.apply([tf.constant([1.0])])
        v = tf.Variable([1.0])
        opt.build([v])
        opt.apply([tf.constant([0.25])])
        self.assertEqual(v.read_value().tolist(), [0.75])
        with self.assertRaisesRegex(ValueError, "Received a list of 2 gradients"):
            opt.apply([tf.constant([1.0]), tf.constant([1.0])])

    def test_constructor_errors(self):
        with self.assertRaisesRegex(ValueError, "^Argument `learning_rate` should be float"):
            tf.keras.optimizers.Adam(learning_rate=1)
        for momentum in (1, 2.0, -0.5):
            with self.assertRaisesRegex(ValueError, "^`momentum` must be a float between \\[0, 1\\].$"):
                tf.keras.optimizers.SGD(momentum=momentum)
        with self.assertRaisesRegex(ValueError, "^Argument\\(s\\) not recognized: \\{'bogus': 1\\}$"):
            tf.keras.optimizers.SGD(bogus=1)
        with self.assertRaisesRegex(NotImplementedError, "clipnorm"):
            tf.keras.optimizers.Adam(clipnorm=1.0)
        with self.assertRaises(tf.errors.InvalidArgumentError):  # the library's range checks
            tf.keras.optimizers.Adam(beta_1=1.0)
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.keras.optimizers.SGD(learning_rate=-1.0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tf.keras.optimizers.SGD(decay=0.1)
        self.assertIn("`decay` is no longer supported", str(caught[0].message))

    def test_get_config(self):
        cfg = tf.keras.optimizers.Adam(learning_rate=0.5, amsgrad=True).get_config()
        self.assertEqual((cfg["learning_rate"], cfg["beta_1"], cfg["amsgrad"]), (0.5, 0.9, True))
        self.assertEqual(tf.keras.optimizers.SGD(momentum=0.5).get_config()["momentum"], 0.5)

    def test_variables_outlive_and_are_held_by_the_optimizer(self):
        import gc
        opt = tf.keras.optimizers.Adam()
        v = tf.Variable([1.0, 2.0])
        opt.apply_gradients([(tf.constant([1.0, 1.0]), v)])
        del opt
        gc.collect()
        v.assign_add([1.0, 1.0])  # the variable lives on
        opt = tf.keras.optimizers.SGD(momentum=0.5)
        w = tf.Variable([3.0])
        opt.apply_gradients([(tf.constant([1.0]), w)])
        del w
        gc.collect()
        self.assertEqual(int(opt.iterations), 1)

    def test_initializers(self):
        init = tf.keras.initializers.GlorotUniform(seed=3)
        a, b = init((20, 30)), init((20, 30))
        self.assertEqual(a.tolist(), b.tolist())  # seeded: the same values at every call, as Keras 3
        limit = math.sqrt(6.0 / 50)
        self.assertTrue(all(-limit <= x < limit for x in flat(a)))
        n = tf.keras.initializers.GlorotNormal(seed=1)((64, 128))
        std = math.sqrt(sum(x * x for x in flat(n)) / (64 * 128))
        self.assertLess(abs(std - math.sqrt(2.0 / 192)), 0.01)
        self.assertEqual(tf.keras.initializers.Zeros()((2,)).tolist(), [0.0, 0.0])
        self.assertIsInstance(tf.keras.initializers.get("glorot_uniform"), tf.keras.initializers.GlorotUniform)


class OptimizerPlacementTest(unittest.TestCase):
    def test_updates_run_on_the_variables_device_and_are_logged(self):
        # Two logical CPUs (configured before the context starts: a fresh process).
        rc, out, err = run_python("""
            import ctensor as tf
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
            tf.debugging.set_log_device_placement(True)
            with tf.device("/CPU:1"):
                v = tf.Variable([1.0, 2.0])
            opt = tf.keras.optimizers.Adam()
            opt.apply_gradients([(tf.constant([0.5, 0.5]), v)])
            print(opt._get_slot(v, "m").device)
            print(tf.op_count("CPU:1"))
        """)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "/job:localhost/replica:0/task:0/device:CPU:1")
        self.assertIn("Executing op ResourceApplyAdam in device /job:localhost/replica:0/task:0/device:CPU:1", err)


if __name__ == "__main__":
    unittest.main()
