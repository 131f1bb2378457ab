"""Trains a small MLP on scikit-learn's handwritten digits with a plain
eager GradientTape loop -- TensorFlow code, run by ctensor or TensorFlow.

    python train_digits.py [--framework ctensor|tensorflow] [--epochs 15] [--quick]
                           [--seed 0] [--device /GPU:0] [--min-accuracy 0.95]

The framework is imported as `tf`: `import ctensor as tf` (the default) or
`import tensorflow as tf` (`--framework tensorflow`, or the environment
variable CT_TRAIN_FRAMEWORK=tensorflow). Everything below the import is the
same code for both, which is the point: it is TensorFlow code.

Data: `sklearn.datasets.load_digits` (1,797 8x8 images shipped inside
scikit-learn: no download), pixels scaled to [0, 1], a fixed 75/25
train/test split from the seed. Model: 64 -> 128 -> 64 -> 10, ReLU,
Glorot-uniform weights and zero biases, as tf.Variables whose initial
values come from the script's own seeded generator (NumPy's RandomState),
so both frameworks start from the same numbers and see the same batches.
Loss: sparse softmax cross-entropy; optimizer: Adam (Keras's defaults);
mini-batches of 32, reshuffled every epoch.

It runs on the best device (the first GPU when one is usable, else the
CPU), prints one line per epoch (loss, train and test accuracy, time) with
a progress line on a terminal, and ends with the placement report: how many
ops ran on which device and whether any fell back (under TensorFlow, what
TensorFlow can tell). With 15 epochs or more it checks that the test
accuracy reaches 0.95 (`--min-accuracy` sets another bar) and exits 1 if not.

The pieces are importable (bench/ and the tests use them): load_data,
initial_weights, build_model, forward, make_train_step, evaluate, train.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

SIZES = (64, 128, 64, 10)
BATCH_SIZE = 32
DEFAULT_EPOCHS = 15
QUICK_EPOCHS = 4
DEFAULT_MIN_ACCURACY = 0.95


# ---- the framework -----------------------------------------------------------

def import_framework(name=None):
    """`import ctensor as tf` or `import tensorflow as tf`."""
    name = name or os.environ.get("CT_TRAIN_FRAMEWORK", "ctensor")
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf
    elif name == "ctensor":
        import ctensor as tf
    else:
        raise SystemExit("train_digits.py: --framework must be ctensor or tensorflow, not %r" % name)
    return tf


# ---- data and initial values (framework-independent) -----------------------

def load_data(seed=0, test_fraction=0.25):
    """(x_train, y_train, x_test, y_test): float32 pixels in [0, 1] and
    int32 labels, split by a permutation drawn from `seed`."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    order = np.random.RandomState(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def initial_weights(seed=0, sizes=SIZES):
    """[(w, b), ...] as NumPy float32 arrays: Glorot-uniform weights
    (limit sqrt(6 / (fan_in + fan_out)), Keras's GlorotUniform) and zero
    biases, from the script's own generator so that every framework starts
    from the same numbers."""
    rng = np.random.RandomState(seed + 1)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)
        layers.append((w, np.zeros((fan_out,), dtype=np.float32)))
    return layers


def batches(n, epoch, seed=0, batch_size=BATCH_SIZE):
    """The index arrays of one epoch's mini-batches (a seeded reshuffle per
    epoch; the last batch may be smaller)."""
    order = np.random.RandomState(seed * 1000 + epoch + 7).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


# ---- the model: the code a TensorFlow user writes ----------------------------

def build_model(tf, weights):
    """The trainable variables [w1, b1, w2, b2, ...] from initial_weights()."""
    params = []
    for i, (w, b) in enumerate(weights):
        params.append(tf.Variable(w, name="dense_%d/kernel" % i))
        params.append(tf.Variable(b, name="dense_%d/bias" % i))
    return params


def forward(tf, params, x):
    """Logits: dense layers with ReLU between them."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = tf.matmul(h, params[2 * i]) + params[2 * i + 1]
        if i < n_layers - 1:
            h = tf.nn.relu(h)
    return h


def make_train_step(tf, params, optimizer):
    """train_step(x, y) -> the batch's mean loss: one forward pass under a
    GradientTape, its gradient, one optimizer step."""
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = forward(tf, params, x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))
        return loss
    return train_step


def evaluate(tf, params, x, y):
    """Accuracy (a Python float) of the model on (x, y)."""
    logits = forward(tf, params, x)
    predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
    return float(tf.reduce_mean(tf.cast(tf.equal(predicted, y), tf.float32)))


def best_device(tf):
    """'/GPU:0' when the framework has a usable GPU, else '/CPU:0'."""
    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


# ---- the loop ----------------------------------------------------------------

class Progress:
    """A progress line rewritten in place, on a terminal only."""

    def __init__(self, stream, enabled):
        self.stream = stream
        self.enabled = enabled

    def update(self, epoch, epochs, done, total):
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / total)
        self.stream.write("\repoch %d/%d [%s%s] %d/%d" % (epoch, epochs, "=" * filled, "." * (width - filled),
                                                          done, total))
        self.stream.flush()

    def clear(self):
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def train(tf, epochs=DEFAULT_EPOCHS, seed=0, device=None, out=sys.stdout, progress=None, data=None):
    """Trains the model; prints one line per epoch to `out`. Returns a dict
    with the final test accuracy, per-epoch records, the device, the total
    training time, the variables and the optimizer."""
    x_train, y_train, x_test, y_test = data if data is not None else load_data(seed)
    device = device or best_device(tf)
    progress = progress or Progress(sys.stderr, False)
    history = []
    start = time.perf_counter()
    with tf.device(device):
        params = build_model(tf, initial_weights(seed))
        optimizer = tf.keras.optimizers.Adam()
        train_step = make_train_step(tf, params, optimizer)
        xs_train, ys_train = tf.constant(x_train), tf.constant(y_train)
        xs_test, ys_test = tf.constant(x_test), tf.constant(y_test)
        n = len(x_train)
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            epoch_batches = batches(n, epoch, seed)
            loss_sum = 0.0
            for i, idx in enumerate(epoch_batches):
                loss = train_step(tf.constant(x_train[idx]), tf.constant(y_train[idx]))
                loss_sum = loss_sum + loss * float(len(idx))
                progress.update(epoch, epochs, i + 1, len(epoch_batches))
            mean_loss = float(loss_sum) / n  # waits for the epoch's last step
            train_time = time.perf_counter() - t0
            train_acc = evaluate(tf, params, xs_train, ys_train)
            test_acc = evaluate(tf, params, xs_test, ys_test)
            progress.clear()
            history.append({"epoch": epoch, "loss": mean_loss, "train_accuracy": train_acc,
                            "test_accuracy": test_acc, "seconds": train_time})
            out.write("epoch %2d/%d  loss %.4f  train accuracy %.4f  test accuracy %.4f  time %.2fs (%.2f ms/step)\n"
                      % (epoch, epochs, mean_loss, train_acc, test_acc, train_time,
                         1000.0 * train_time / len(epoch_batches)))
            out.flush()
    total = time.perf_counter() - start
    return {"test_accuracy": history[-1]["test_accuracy"] if history else evaluate(tf, params, xs_test, ys_test),
            "history": history, "device": device, "seconds": total, "params": params, "optimizer": optimizer,
            "steps": int(optimizer.iterations)}


def placement_summary(tf, framework, result):
    """The placement report: ctensor's own; under TensorFlow what it can
    tell (it counts no ops per device)."""
    if framework == "ctensor":
        return tf.placement_report().rstrip("\n")
    lines = ["TensorFlow keeps no per-device op counts and reports no fallbacks (soft placement is silent); "
             "what it can tell:"]
    lines.append("  logical devices: %s" % ", ".join(d.name for d in tf.config.list_logical_devices()))
    for v in result["params"]:
        lines.append("  variable %-20s on %s" % (v.name, v.device))
    lines.append("  (tf.debugging.set_log_device_placement(True) logs every op's device)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train an MLP on scikit-learn's digits with ctensor or TensorFlow.")
    parser.add_argument("--framework", choices=("ctensor", "tensorflow"),
                        default=os.environ.get("CT_TRAIN_FRAMEWORK", "ctensor"),
                        help="the framework imported as tf (default: ctensor, or $CT_TRAIN_FRAMEWORK)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default %d)" % DEFAULT_EPOCHS)
    parser.add_argument("--quick", action="store_true", help="a short run: %d epochs" % QUICK_EPOCHS)
    parser.add_argument("--seed", type=int, default=0, help="split, initial weights and batch order (default 0)")
    parser.add_argument("--device", default=None, help="the device to train on (default: the best one)")
    parser.add_argument("--min-accuracy", type=float, default=None,
                        help="exit 1 below this test accuracy (default %.2f after %d epochs or more)"
                        % (DEFAULT_MIN_ACCURACY, DEFAULT_EPOCHS))
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="the in-place progress line (auto: when stderr is a terminal)")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS)

    tf = import_framework(args.framework)
    data = load_data(args.seed)
    device = args.device or best_device(tf)
    print("%s %s: training a %s MLP on %d digits (%d held out) on %s, %d epochs, batch %d"
          % (args.framework, tf.__version__, "-".join(str(s) for s in SIZES), len(data[0]), len(data[2]), device,
             epochs, BATCH_SIZE))
    sys.stdout.flush()
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    result = train(tf, epochs=epochs, seed=args.seed, device=device, progress=Progress(sys.stderr, show),
                   data=data)
    acc = result["test_accuracy"]
    print("test accuracy %.4f after %d epochs (%d steps) in %.2fs on %s"
          % (acc, epochs, result["steps"], result["seconds"], device))
    print()
    print(placement_summary(tf, args.framework, result))
    bar = args.min_accuracy if args.min_accuracy is not None else (
        DEFAULT_MIN_ACCURACY if epochs >= DEFAULT_EPOCHS else None)
    if bar is not None:
        if acc < bar:
            print("FAIL: test accuracy %.4f is below %.2f" % (acc, bar))
            return 1
        print("check: test accuracy %.4f >= %.2f" % (acc, bar))
    return 0


if __name__ == "__main__":
    sys.exit(main())
