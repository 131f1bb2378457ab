"""GradientTape: gradients of small functions against hand-derived values,
TensorFlow 2's tape rules, and bad input (the exception, then a runtime
that still works)."""

import math
import threading
import unittest

import ctensor as tf

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


def close(test, got, want, tol=1e-5):
    if isinstance(got, tf.Tensor):
        got = got.tolist()
    if isinstance(want, list):
        test.assertEqual(len(got), len(want), "%r vs %r" % (got, want))
        for g, w in zip(got, want):
            close(test, g, w, tol)
    else:
        test.assertTrue(abs(got - want) <= tol * max(1.0, abs(want)), "%r != %r" % (got, want))


def softmax(row):
    m = max(row)
    e = [math.exp(v - m) for v in row]
    return [v / sum(e) for v in e]


class GradientValuesTest(unittest.TestCase):
    def grad(self, f, *xs):
        xs = [tf.constant(x) for x in xs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y = f(*xs)
        return tape.gradient(y, xs)

    def test_square_and_pow(self):
        close(self, self.grad(lambda x: x ** 2, 3.0)[0], 6.0)
        close(self, self.grad(lambda x: tf.square(x), [1.0, -2.0])[0], [2.0, -4.0])
        close(self, self.grad(lambda x: tf.math.square(x) * 3.0, 2.0)[0], 12.0)

    def test_matmul(self):
        a, b = [[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]
        da, db = self.grad(lambda a, b: tf.reduce_sum(a @ b), a, b)
        # d/da sum(a b) = ones b^T, d/db = a^T ones
        close(self, da, [[11.0, 15.0], [11.0, 15.0]])
        close(self, db, [[4.0, 4.0], [6.0, 6.0]])

    def test_relu_and_elementwise(self):
        close(self, self.grad(tf.nn.relu, [-1.0, 2.0, 0.0])[0], [0.0, 1.0, 0.0])
        close(self, self.grad(tf.exp, [0.0, 1.0])[0], [1.0, math.e])
        close(self, self.grad(lambda x: tf.math.log(x), [2.0, 4.0])[0], [0.5, 0.25])
        close(self, self.grad(lambda x: 1.0 / x, 2.0)[0], -0.25)
        close(self, self.grad(lambda x: -x + abs(x), -3.0)[0], -2.0)
        gx, gy = self.grad(lambda x, y: x * y + x - y, [1.0, 2.0], [3.0, 4.0])
        close(self, gx, [4.0, 5.0])
        close(self, gy, [0.0, 1.0])

    def test_broadcasting_sums_back(self):
        gx, gy = self.grad(lambda x, y: x + y, [[1.0, 2.0], [3.0, 4.0]], [10.0, 20.0])
        close(self, gx, [[1.0, 1.0], [1.0, 1.0]])
        close(self, gy, [2.0, 2.0])

    def test_reduce_max_splits_ties(self):
        close(self, self.grad(tf.reduce_max, [1.0, 3.0, 3.0])[0], [0.0, 0.5, 0.5])
        close(self, self.grad(lambda x: tf.reduce_min(x, axis=1), [[2.0, 1.0], [5.0, 5.0]])[0],
              [[0.0, 1.0], [0.5, 0.5]])
        close(self, self.grad(lambda x: tf.reduce_mean(x), [1.0, 2.0, 3.0, 4.0])[0], [0.25] * 4)

    def test_sparse_softmax_cross_entropy(self):
        logits = [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]
        labels = [2, 0]
        g = self.grad(lambda z: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z), logits)[0]
        want = [softmax(r) for r in logits]
        want[0][2] -= 1.0
        want[1][0] -= 1.0
        close(self, g, want)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        close(self, loss, [-math.log(softmax(logits[0])[2]), math.log(3.0)])

    def test_sparse_softmax_cross_entropy_rank_3(self):
        logits = tf.constant([[[1.0, 2.0], [0.0, 0.0]], [[3.0, 1.0], [2.0, 2.0]]])
        labels = tf.constant([[1, 0], [0, 1]])
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        self.assertEqual(loss.shape, (2, 2))
        g = tape.gradient(loss, logits)
        self.assertEqual(g.shape, (2, 2, 2))
        s = softmax([1.0, 2.0])
        close(self, g.tolist()[0][0], [s[0], s[1] - 1.0])
        close(self, loss.tolist()[1][1], math.log(2.0))

    def test_softmax_cross_entropy_dense_labels(self):
        logits = tf.constant([[1.0, 2.0, 3.0]])
        labels = tf.constant([[0.2, 0.3, 0.5]])
        with tf.GradientTape() as tape:
            tape.watch([logits, labels])
            loss = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        g_logits, g_labels = tape.gradient(loss, [logits, labels])
        s = softmax([1.0, 2.0, 3.0])
        close(self, g_logits, [[s[0] - 0.2, s[1] - 0.3, s[2] - 0.5]])
        # TensorFlow 2 (v2 op): labels get -log_softmax(logits)
        close(self, g_labels, [[-math.log(p) for p in s]])

    def test_softmax_cross_entropy_axis_0(self):
        logits = tf.constant([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])  # classes along axis 0
        labels = tf.constant([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
        loss = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits, axis=0)
        close(self, loss, [-math.log(softmax([1.0, 2.0, 3.0])[2]), math.log(3.0)])

    def test_softmax_and_log_softmax(self):
        x = [1.0, 2.0, 3.0]
        s = softmax(x)
        close(self, self.grad(lambda z: tf.nn.log_softmax(z), x)[0], [1.0 - 3.0 * p for p in s])
        # d softmax_0 / dx = s0 (delta - s)
        close(self, self.grad(lambda z: tf.nn.softmax(z)[0], x)[0], [s[0] * (1 - s[0]), -s[0] * s[1], -s[0] * s[2]])

    def test_clip_by_value_at_the_bounds(self):
        # TensorFlow composes maximum(minimum(t, max), min): at a bound the
        # whole gradient passes (ties go to the first argument).
        close(self, self.grad(lambda x: tf.clip_by_value(x, 0.0, 1.0), [-1.0, 0.0, 0.5, 1.0, 2.0])[0],
              [0.0, 1.0, 1.0, 1.0, 0.0])

    def test_shape_compositions(self):
        close(self, self.grad(lambda x: tf.reduce_sum(tf.stack([x, 2.0 * x], axis=1)), [1.0, 2.0])[0], [3.0, 3.0])
        close(self, self.grad(lambda x: tf.squeeze(tf.expand_dims(x, 0)) * [1.0, 2.0], [5.0, 6.0])[0], [1.0, 2.0])
        close(self, self.grad(lambda x: x[1] * 3.0, [5.0, 6.0])[0], [0.0, 3.0])
        close(self, self.grad(lambda x: tf.reshape(tf.transpose(x), (4,)) * [1.0, 2.0, 3.0, 4.0],
                              [[0.0, 0.0], [0.0, 0.0]])[0], [[1.0, 3.0], [2.0, 4.0]])
        close(self, self.grad(lambda x: tf.concat([x, x * x], 0), [3.0])[0], [7.0])
        close(self, self.grad(lambda x: tf.gather(x, [0, 0, 2]), [1.0, 1.0, 1.0])[0], [2.0, 0.0, 1.0])
        close(self, self.grad(lambda x: tf.cast(x, tf.float64) * 2.0, [1.0])[0], [2.0])

    def test_new_ops(self):
        gx, gy = self.grad(lambda x, y: tf.where([True, False], x, y), [1.0, 2.0], [3.0, 4.0])
        close(self, gx, [1.0, 0.0])
        close(self, gy, [0.0, 1.0])
        close(self, self.grad(lambda x: tf.broadcast_to(x, (3, 2)), [1.0, 2.0])[0], [3.0, 3.0])
        close(self, self.grad(lambda x: tf.math.unsorted_segment_sum(x, [1, 0, 1], 2) * [10.0, 100.0],
                              [1.0, 2.0, 3.0])[0], [100.0, 10.0, 100.0])
        close(self, self.grad(lambda x: x * tf.zeros_like(x) + tf.ones_like(x), [1.0])[0], [0.0])

    def test_stop_gradient(self):
        close(self, self.grad(lambda x: x * tf.stop_gradient(x), 3.0)[0], 3.0)
        self.assertIsNone(self.grad(lambda x: tf.stop_gradient(x * x), 3.0)[0])

    def test_output_gradients(self):
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * 2.0
        # one output gradient per target: a tensor (a list would be flattened, as TensorFlow's nest does)
        close(self, tape.gradient(y, x, output_gradients=tf.constant([3.0, 4.0])), [6.0, 8.0])

    def test_list_of_targets_is_summed(self):
        x = tf.constant(2.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y1, y2 = x * x, x * 3.0
        close(self, tape.gradient([y1, y2], x), 7.0)


class TapeRulesTest(unittest.TestCase):
    def test_source_structures(self):
        a, b, c = tf.constant(1.0), tf.constant(2.0), tf.constant(3.0)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([a, b, c])
            y = a * 1.0 + b * 2.0 + c * 3.0
        self.assertEqual([g.tolist() for g in tape.gradient(y, [a, b])], [1.0, 2.0])
        t = tape.gradient(y, (c, a))
        self.assertIsInstance(t, tuple)
        self.assertEqual([g.tolist() for g in t], [3.0, 1.0])
        d = tape.gradient(y, {"z": a, "b": [b, {"c": c}]})
        self.assertEqual(sorted(d), ["b", "z"])
        self.assertEqual(d["z"].tolist(), 1.0)
        self.assertEqual(d["b"][0].tolist(), 2.0)
        self.assertEqual(d["b"][1]["c"].tolist(), 3.0)
        self.assertEqual(tape.gradient(y, a).tolist(), 1.0)

    def test_second_derivative_with_nested_tapes(self):
        x = tf.constant(3.0)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = x ** 3
            dy = inner.gradient(y, x)
        d2y = outer.gradient(dy, x)
        self.assertEqual(dy.tolist(), 27.0)
        close(self, d2y, 18.0)

    def test_persistent_tape_answers_twice(self):
        x = tf.constant(2.0)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            z = y * y
        self.assertEqual(tape.gradient(y, x).tolist(), 4.0)
        self.assertEqual(tape.gradient(z, x).tolist(), 32.0)
        self.assertEqual(tape.gradient(z, y).tolist(), 8.0)

    def test_non_persistent_tape_answers_once(self):
        x = tf.constant(2.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        tape.gradient(y, x)
        with self.assertRaises(RuntimeError) as cm:
            tape.gradient(y, x)
        self.assertEqual(str(cm.exception),
                         "A non-persistent GradientTape can only be used to compute one set of gradients "
                         "(or jacobians)")
        self.assertEqual((x * 3.0).tolist(), 6.0)  # the runtime works on
        with self.assertRaises(RuntimeError):
            tf.GradientTape().gradient(y, x)  # never entered

    def test_gradient_inside_the_context_stops_a_non_persistent_tape(self):
        x = tf.constant(2.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
            g = tape.gradient(y, x)
            z = y * 2.0  # not recorded, no error leaving the block
        self.assertEqual(g.tolist(), 4.0)
        self.assertEqual(z.tolist(), 8.0)

    def test_unconnected_none_and_zero(self):
        x, u = tf.constant([1.0, 2.0]), tf.constant([[5.0]])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, u])
            y = tf.reduce_sum(x * 2.0)
        self.assertEqual(tape.gradient(y, [x, u])[1], None)
        g = tape.gradient(y, [x, u], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        self.assertEqual(g[1].tolist(), [[0.0]])
        self.assertEqual(g[1].dtype, tf.float32)
        g = tape.gradient(y, u, unconnected_gradients="zero")
        self.assertEqual(g.tolist(), [[0.0]])
        self.assertEqual(tf.UnconnectedGradients.NONE.value, "none")
        self.assertEqual(tf.UnconnectedGradients.ZERO.value, "zero")

    def test_integer_sources_get_none(self):
        i = tf.constant([1, 2])
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch([i, x])
            y = tf.cast(i, tf.float32) * x
        gi, gx = tape.gradient(y, [i, x], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        self.assertIsNone(gi)
        self.assertEqual(gx.tolist(), [1.0, 2.0])

    def test_unwatched_tensor_gets_none(self):
        x = tf.constant(1.0)
        with tf.GradientTape() as tape:
            y = x * x
        self.assertIsNone(tape.gradient(y, x))

    def test_stop_recording(self):
        x = tf.constant(4.0)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            with tape.stop_recording():
                y = x ** 2
            z = x * 3.0
        self.assertIsNone(tape.gradient(y, x))
        self.assertEqual(tape.gradient(z, x).tolist(), 3.0)

    def test_reset(self):
        x = tf.constant(2.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
            tape.reset()
            tape.watch(x)
            z = x * 5.0
        self.assertIsNone(tape.gradient(y, x))  # forgotten; and the tape is spent
        with tf.GradientTape() as tape:
            tape.reset()
            tape.watch(x)
            z = x * 5.0
        self.assertEqual(tape.gradient(z, x).tolist(), 5.0)

    def test_watch_before_entering(self):
        x = tf.constant(3.0)
        tape = tf.GradientTape()
        tape.watch(x)
        with tape:
            y = x * x
        self.assertEqual(tape.gradient(y, x).tolist(), 6.0)

    def test_reentering_a_persistent_tape_resumes_it(self):
        x = tf.constant(3.0)
        tape = tf.GradientTape(persistent=True)
        with tape:
            tape.watch(x)
            y = x * x
        w = y * 10.0  # not recorded
        with tape:
            z = y * 2.0
        self.assertEqual(tape.gradient(z, x).tolist(), 12.0)
        self.assertIsNone(tape.gradient(w, x))

    def test_tapes_are_per_thread(self):
        x = tf.constant(3.0)
        out = {}
        with tf.GradientTape() as tape:
            tape.watch(x)
            th = threading.Thread(target=lambda: out.setdefault("y", x * x))
            th.start()
            th.join()
        self.assertIsNone(tape.gradient(out["y"], x))

    def test_a_non_persistent_tape_frees_what_it_held(self):
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.exp(x) * x)
        ops, held = tape._counts()
        self.assertGreaterEqual(ops, 3)
        self.assertGreater(held, 0)
        tape.gradient(y, x)
        self.assertEqual(tape._counts(), (0, 0))


class VariableGradientTest(unittest.TestCase):
    def test_trainable_variables_are_watched(self):
        w = tf.Variable([[1.0], [2.0]], name="w")
        b = tf.Variable(0.5, name="b")
        x = tf.constant([[3.0, 4.0]])
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(x @ w + b)
        gw, gb = tape.gradient(y, [w, b])
        self.assertEqual(gw.tolist(), [[3.0], [4.0]])
        self.assertEqual(gb.tolist(), 1.0)
        self.assertEqual([v.name for v in tape.watched_variables()], ["w:0", "b:0"])
        self.assertIs(tape.watched_variables()[0], w)

    def test_watched_variables_in_creation_order(self):
        a, b = tf.Variable(1.0), tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = b * a
        got = tape.watched_variables()  # b was read first; TensorFlow lists them as created
        self.assertTrue(got[0] is a and got[1] is b)

    def test_dict_of_variables(self):
        params = {"w": tf.Variable(2.0), "b": tf.Variable(1.0)}
        with tf.GradientTape() as tape:
            y = params["w"] * 3.0 + params["b"]
        g = tape.gradient(y, params)
        self.assertEqual({k: v.tolist() for k, v in g.items()}, {"w": 3.0, "b": 1.0})

    def test_variable_read_twice_sums(self):
        v = tf.Variable(3.0)
        with tf.GradientTape() as tape:
            y = v * v + v
        self.assertEqual(tape.gradient(y, v).tolist(), 7.0)

    def test_non_trainable_not_watched(self):
        v = tf.Variable(3.0, trainable=False)
        with tf.GradientTape() as tape:
            y = v * v
        self.assertIsNone(tape.gradient(y, v))
        self.assertEqual(tape.watched_variables(), ())
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = v * v
        self.assertEqual(tape.gradient(y, v).tolist(), 6.0)

    def test_watch_accessed_variables_false(self):
        v, u = tf.Variable(3.0), tf.Variable(5.0)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(u)
            y = v * u
        gv, gu = tape.gradient(y, [v, u])
        self.assertIsNone(gv)
        self.assertEqual(gu.tolist(), 3.0)
        self.assertEqual(tape.watched_variables(), (u,))

    def test_training_loop(self):
        w = tf.Variable([0.0, 0.0])
        x = tf.constant([[1.0, 0.0], [1.0, 1.0]])
        target = tf.constant([1.0, 3.0])  # w = [1, 2]
        for _ in range(200):
            with tf.GradientTape() as tape:
                pred = tf.reshape(x @ tf.reshape(w, (2, 1)), (2,))
                loss = tf.reduce_mean(tf.square(pred - target))
            w.assign_sub(0.2 * tape.gradient(loss, w))
        close(self, w.read_value(), [1.0, 2.0], 1e-3)

    def test_assign_is_not_recorded(self):
        v = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = v * 1.0
            v.assign(10.0)
        self.assertEqual(tape.gradient(y, v).tolist(), 1.0)

    def test_variable_target(self):
        v = tf.Variable([1.0, 2.0])
        with tf.GradientTape() as tape:
            pass
        g = tape.gradient(v, v)
        self.assertEqual(g.tolist(), [1.0, 1.0])


class BadInputTest(unittest.TestCase):
    def assert_runtime_works(self):
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(x * x)
        self.assertEqual(tape.gradient(y, x).tolist(), [2.0, 4.0])

    def test_watch_a_non_tensor(self):
        with tf.GradientTape() as tape:
            with self.assertRaises(ValueError) as cm:
                tape.watch([tf.constant(1.0), 3.0])
        self.assertIn("Passed in object 3.0 of type 'float', not tf.Tensor or tf.Variable", str(cm.exception))
        self.assert_runtime_works()

    def test_sources_of_the_wrong_kind(self):
        x = tf.constant(1.0)
        for bad in ([x, None], "x", [x, [1.0]]):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = x * x
            with self.assertRaises(TypeError) as cm:
                tape.gradient(y, bad)
            self.assertIn("sources must be Tensors or Variables", str(cm.exception))
            self.assertEqual(tape.gradient(y, x).tolist(), 2.0)  # nothing was used up
        self.assert_runtime_works()

    def test_target_of_the_wrong_kind(self):
        x = tf.constant(1.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
        with self.assertRaises(TypeError):
            tape.gradient(None, x)
        self.assert_runtime_works()

    def test_output_gradients_of_the_wrong_shape(self):
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * 2.0
        with self.assertRaises(tf.errors.InvalidArgumentError) as cm:
            tape.gradient(y, x, output_gradients=[tf.constant([1.0, 2.0, 3.0])])
        self.assertIn("output_gradients[0] is float32 [3] but target #0 is float32 [2]", str(cm.exception))
        with self.assertRaises(ValueError) as cm:  # two for one target
            tape.gradient(y, x, output_gradients=[tf.constant([1.0, 1.0])] * 2)
        self.assertIn("2 output_gradients for 1 targets", str(cm.exception))
        self.assertEqual(tape.gradient(y, x, output_gradients=[tf.constant([1.0, 2.0])]).tolist(), [2.0, 4.0])
        self.assert_runtime_works()

    def test_unknown_unconnected_gradients(self):
        x = tf.constant(1.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        with self.assertRaises(ValueError) as cm:
            tape.gradient(y, x, unconnected_gradients="zeros")
        self.assertEqual(str(cm.exception), "Unknown value for unconnected_gradients: 'zeros'")
        self.assert_runtime_works()

    def test_tape_state_errors(self):
        tape = tf.GradientTape()
        with self.assertRaises(RuntimeError) as cm:
            with tape.stop_recording():
                pass
        self.assertEqual(str(cm.exception), "Trying to stop recording a tape which is not recording.")
        with tape:
            with self.assertRaises(ValueError) as cm:
                tape.__enter__()
            self.assertIn("Tape is still recording", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            tape.reset()
        self.assertEqual(str(cm.exception), "Tape is not recording.")
        self.assert_runtime_works()

    def test_variable_released_while_a_tape_holds_it(self):
        with tf.GradientTape() as tape:
            v = tf.Variable([1.0, 2.0])
            y = tf.reduce_sum(v * v)
        del v  # the tape keeps the library's variable alive
        (held,) = tape.watched_variables()
        self.assertEqual(held.read_value().tolist(), [1.0, 2.0])
        self.assertEqual(tape.gradient(y, held).tolist(), [2.0, 4.0])
        self.assert_runtime_works()

    def test_op_error_inside_a_tape(self):
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            with self.assertRaises(tf.errors.InvalidArgumentError):
                x + tf.constant([1.0, 2.0, 3.0])
            y = x * 3.0
        self.assertEqual(tape.gradient(y, x).tolist(), [3.0, 3.0])
        self.assert_runtime_works()


class NewOpsTest(unittest.TestCase):
    def test_one_hot_dtypes(self):
        self.assertEqual(tf.one_hot([0, 2], 3).dtype, tf.float32)
        self.assertEqual(tf.one_hot([0, 2], 3).tolist(), [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        t = tf.one_hot([1, -1], 2, on_value=5, off_value=-1)
        self.assertEqual(t.dtype, tf.int32)
        self.assertEqual(t.tolist(), [[-1, 5], [-1, -1]])
        self.assertEqual(tf.one_hot([1], 2, axis=0).tolist(), [[0.0], [1.0]])
        self.assertEqual(tf.one_hot([0], 2, dtype=tf.float64).dtype, tf.float64)
        self.assertEqual(tf.one_hot([0], 2, off_value=2.0).tolist(), [[1.0, 2.0]])
        with self.assertRaises(TypeError) as cm:
            tf.one_hot([0], 2, on_value=1.0, dtype=tf.int32)
        self.assertEqual(str(cm.exception), "dtype <dtype: 'float32'> of on_value does not match dtype parameter "
                                            "<dtype: 'int32'>")
        with self.assertRaises(TypeError) as cm:
            tf.one_hot([0], 2, on_value=1, off_value=0.0)
        self.assertEqual(str(cm.exception), "dtype <dtype: 'int32'> of on_value does not match dtype "
                                            "<dtype: 'float32'> of off_value")

    def test_where(self):
        self.assertEqual(tf.where([True, False, True], [1.0, 2.0, 3.0], 0.0).tolist(), [1.0, 0.0, 3.0])
        self.assertEqual(tf.where([[True], [False]], [1, 2], [3, 4]).tolist(), [[1, 2], [3, 4]])
        c = tf.where([[True, False], [False, True]])
        self.assertEqual((c.dtype, c.tolist()), (tf.int64, [[0, 0], [1, 1]]))
        self.assertEqual(tf.where([False, False]).shape, (0, 1))
        self.assertEqual(tf.where([0, 3, 0, 1]).tolist(), [[1], [3]])
        with self.assertRaises(ValueError) as cm:
            tf.where([True], [1.0])
        self.assertEqual(str(cm.exception), "x and y must both be non-None or both be None.")
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.where(tf.constant([1, 0]), [1.0, 2.0], [3.0, 4.0])  # condition must be bool

    def test_zeros_ones_like_broadcast_to_segment_sum(self):
        x = tf.constant([[1, 2]])
        self.assertEqual((tf.zeros_like(x).dtype, tf.zeros_like(x).tolist()), (tf.int32, [[0, 0]]))
        self.assertEqual(tf.ones_like(x, dtype=tf.float32).tolist(), [[1.0, 1.0]])
        self.assertEqual(tf.broadcast_to([1, 2], [3, 2]).tolist(), [[1, 2]] * 3)
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.broadcast_to([1, 2, 3], [3, 2])
        s = tf.math.unsorted_segment_sum([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [1, -1, 1], 3)
        self.assertEqual(s.tolist(), [[0.0, 0.0], [6.0, 8.0], [0.0, 0.0]])
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.math.unsorted_segment_sum([1.0], [3], 2)

    def test_log_softmax_and_losses(self):
        close(self, tf.nn.log_softmax([1.0, 2.0, 3.0]), [math.log(p) for p in softmax([1.0, 2.0, 3.0])])
        close(self, tf.math.log_softmax([[1.0, 1.0]], axis=0), [[0.0, 0.0]])
        with self.assertRaises(ValueError) as cm:
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[[0]], logits=[[1.0, 2.0]])
        self.assertIn("`labels.shape.rank` must equal `logits.shape.rank - 1`", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1, 0], logits=[[1.0, 2.0]])
        self.assertIn("`labels.shape` must equal `logits.shape` except for the last dimension", str(cm.exception))
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[5], logits=[[1.0, 2.0]])
        half = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0], logits=tf.constant([[0.0, 0.0]], tf.float16))
        self.assertEqual(half.dtype, tf.float16)
        close(self, half, [math.log(2.0)], 1e-3)
        one = tf.nn.softmax_cross_entropy_with_logits(labels=[0.0, 1.0], logits=[0.0, 0.0])
        self.assertEqual(one.shape, ())
        close(self, one, math.log(2.0))


if __name__ == "__main__":
    unittest.main()
