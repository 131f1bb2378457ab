"""The same optimizer steps under TensorFlow (Keras 3) and under ctensor.

    python optimizers.py --framework tensorflow|ctensor [--only SUBSTRING]

imports that framework as `tf`, runs every case below from fixed inputs
and prints one line per observation,

    optimizers<TAB>CASE/KEY<TAB>JSON

in gradients.py's JSON forms (a tensor, None, an exception). KEY is a
variable's name after the steps (`w`, `b`), `iterations`, `learning_rate`,
a step's return value, or `error`. compare_optimizers.py sets the two
outputs side by side, within float tolerance.

Gradients are given (the same float32 numbers from Python's `random` on
both sides), so what is compared is the optimizer alone -- except in the
`train.*` cases, which take their gradients from a GradientTape over a
small softmax regression, as a training loop does.
"""
import json
import os
import random
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradients import SEED, count, describe, error_record, f32, nest  # noqa: E402

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


class Run:
    def __init__(self, tf, name, emit):
        self.tf = tf
        self.name = name
        self.rng = random.Random("%d:optimizers:%s" % (SEED, name))
        self._emit = emit

    def values(self, shape, lo=-1.0, hi=1.0):
        return nest([f32(self.rng.uniform(lo, hi)) for _ in range(count(shape))], list(shape))

    def const(self, shape, lo=-1.0, hi=1.0, dtype=None):
        return self.tf.constant(self.values(shape, lo, hi), dtype=dtype or self.tf.float32)

    def var(self, shape, dtype=None):
        return self.tf.Variable(self.const(shape, dtype=dtype))

    def record(self, key, value):
        self._emit("%s/%s" % (self.name, key), describe(self.tf, value))

    def record_number(self, key, value, dtype):
        self._emit("%s/%s" % (self.name, key), {"dtype": dtype, "shape": [], "values": [float(value)]})

    def finish(self, opt, **variables):
        for k, v in variables.items():
            self.record(k, v)
        self.record_number("iterations", int(opt.iterations), "int64")
        self.record_number("learning_rate", float(opt.learning_rate), "float32")


def steps_case(name, make, steps=5, dtype="float32", lr_schedule=None):
    """`steps` steps of make(tf) on two variables with given gradients;
    lr_schedule: {step: learning rate set before it}."""
    @case(name)
    def run(r):
        tf = r.tf
        dt = getattr(tf, dtype)
        w, b = r.var((3, 4), dt), r.var((4,), dt)
        opt = make(tf)
        for step in range(steps):
            if lr_schedule and step in lr_schedule:
                opt.learning_rate = lr_schedule[step]
            opt.apply_gradients([(r.const((3, 4), dtype=dt), w), (r.const((4,), dtype=dt), b)])
        r.finish(opt, w=w, b=b)


steps_case("sgd", lambda tf: tf.keras.optimizers.SGD(learning_rate=0.1))
steps_case("sgd.defaults", lambda tf: tf.keras.optimizers.SGD())
steps_case("sgd.momentum", lambda tf: tf.keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
steps_case("sgd.nesterov", lambda tf: tf.keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True))
steps_case("sgd.float64", lambda tf: tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.5), dtype="float64")
steps_case("adam.defaults", lambda tf: tf.keras.optimizers.Adam())
steps_case("adam", lambda tf: tf.keras.optimizers.Adam(learning_rate=0.01), steps=8)
steps_case("adam.betas", lambda tf: tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.5, beta_2=0.9,
                                                              epsilon=1e-3))
steps_case("adam.amsgrad", lambda tf: tf.keras.optimizers.Adam(learning_rate=0.01, amsgrad=True), steps=8)
steps_case("adam.float64", lambda tf: tf.keras.optimizers.Adam(learning_rate=0.01), dtype="float64")
steps_case("adam.learning_rate_set", lambda tf: tf.keras.optimizers.Adam(learning_rate=0.01), steps=6,
           lr_schedule={2: 0.05, 4: 0.001})
steps_case("sgd.learning_rate_set", lambda tf: tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), steps=6,
           lr_schedule={3: 0.01})


@case("adam.none_gradient")
def _none_gradient(r):
    tf = r.tf
    w, b = r.var((3, 4)), r.var((4,))
    opt = tf.keras.optimizers.Adam(learning_rate=0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            opt.apply_gradients([(r.const((3, 4)), w), (None, b)])
    messages = sorted({str(c.message).replace("ctensor", "tf") for c in caught})
    r._emit("%s/warnings" % r.name, {"structure": json.dumps(messages)})
    r.finish(opt, w=w, b=b)


@case("adam.returns_iterations")
def _returns(r):
    tf = r.tf
    w = r.var((2,))
    opt = tf.keras.optimizers.Adam()
    ret = opt.apply_gradients([(r.const((2,)), w)])
    r.record_number("returned", int(ret), "int64")
    # Names count per process (adam, adam_1, ...): equal when both sides ran the same cases before.
    r._emit("%s/repr" % r.name, {"structure": repr(ret)})
    r.record_number("iterations_plus_one", int(opt.iterations + 1), "int64")


def _error(name, fn):
    @case(name)
    def run(r):
        try:
            fn(r, r.tf)
        except Exception as exc:  # noqa: BLE001 - the exception is the observation
            r.record("error", error_record(exc))
        else:
            r.record("error", None)


def _no_gradients(r, tf):
    w = r.var((2,))
    tf.keras.optimizers.SGD().apply_gradients([(None, w)])


def _empty(r, tf):
    tf.keras.optimizers.SGD().apply_gradients([])


def _lr_int(r, tf):
    tf.keras.optimizers.Adam(learning_rate=1)


def _momentum_int(r, tf):
    tf.keras.optimizers.SGD(momentum=1)


def _unknown_argument(r, tf):
    tf.keras.optimizers.Adam(bogus=1)


def _unknown_variable(r, tf):
    opt = tf.keras.optimizers.SGD()
    opt.apply_gradients([(r.const((2,)), r.var((2,)))])
    v = r.var((2,))
    try:
        opt.apply_gradients([(r.const((2,)), v)])
    except ValueError as exc:
        # The message starts with the variable's repr, which names the framework.
        text = str(exc)
        raise ValueError(text[text.index(". This optimizer"):]) from None


_error("errors.no_gradients", _no_gradients)
_error("errors.empty", _empty)
_error("errors.learning_rate_int", _lr_int)
_error("errors.momentum_int", _momentum_int)
_error("errors.unknown_argument", _unknown_argument)
_error("errors.unknown_variable", _unknown_variable)


def train_case(name, make, steps=4):
    """Softmax regression on 8 examples: gradients from a GradientTape."""
    @case(name)
    def run(r):
        tf = r.tf
        x = r.const((8, 5))
        labels = tf.constant([r.rng.randrange(3) for _ in range(8)])
        w, b = r.var((5, 3)), tf.Variable(tf.zeros((3,)))
        opt = make(tf)
        for _ in range(steps):
            with tf.GradientTape() as tape:
                logits = tf.matmul(x, w) + b
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            grads = tape.gradient(loss, [w, b])
            opt.apply_gradients(zip(grads, [w, b]))
        r.record("loss", loss)
        r.finish(opt, w=w, b=b)


train_case("train.adam", lambda tf: tf.keras.optimizers.Adam(learning_rate=0.05))
train_case("train.sgd_momentum", lambda tf: tf.keras.optimizers.SGD(learning_rate=0.5, momentum=0.9))


def main(argv):
    framework = None
    only = None
    i = 0
    while i < len(argv):
        if argv[i] == "--framework":
            framework = argv[i + 1]
            i += 2
        elif argv[i] == "--only":
            only = argv[i + 1]
            i += 2
        else:
            sys.exit("usage: optimizers.py --framework tensorflow|ctensor [--only SUBSTRING]")
    if framework == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
    elif framework == "ctensor":
        import ctensor as tf
    else:
        sys.exit("optimizers.py: --framework tensorflow or ctensor")

    def emit(key, value):
        print("optimizers\t%s\t%s" % (key, json.dumps(value, sort_keys=True)), flush=True)

    for name, fn in CASES:
        if only and only not in name:
            continue
        r = Run(tf, name, emit)
        try:
            fn(r)
        except Exception as exc:  # noqa: BLE001 - a failing case is an observation
            r.record("error", error_record(exc))


if __name__ == "__main__":
    main(sys.argv[1:])
