"""The placement scenarios under real TensorFlow (tensorflow-cpu).

Prints one line per observation, `scenario<TAB>key<TAB>value`, in the same
form as scenarios.c prints ctensor's; compare.py puts them side by side.
Run one group per process (configuration freezes at initialisation):
    python scenarios.py two_cpus | log | config | seed1 | seed2 | seed3
Keys: device (a tensor's .device), log (placement log lines, in order),
status + error (an exception's canonical status and message), output (a
line an example prints).
"""
import contextlib
import io
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
# oneDNN renames MatMul to _MklMatMul in logs and messages; the plain
# kernels give TensorFlow's canonical op names.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf  # noqa: E402

STATUS = {
    "InvalidArgumentError": "INVALID_ARGUMENT",
    "NotFoundError": "NOT_FOUND",
    "ResourceExhaustedError": "RESOURCE_EXHAUSTED",
    "FailedPreconditionError": "FAILED_PRECONDITION",
    # tf.config raises these; ctensor returns the matching status codes.
    "RuntimeError": "FAILED_PRECONDITION",
    "ValueError": "INVALID_ARGUMENT",
}


def emit(scenario, key, value):
    print(f"{scenario}\t{key}\t{value}", flush=True)


def error(scenario, exc):
    emit(scenario, "status", STATUS.get(type(exc).__name__, type(exc).__name__))
    msg = getattr(exc, "message", None) or str(exc)
    msg = re.sub(r" name: $", "", msg.strip() + " ").strip()
    emit(scenario, "error", msg)


def attempt(scenario, fn):
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - any failure is an observation
        error(scenario, exc)
        return None
    emit(scenario, "status", "OK")
    if out is not None and hasattr(out, "device"):
        emit(scenario, "device", out.device)
    return out


@contextlib.contextmanager
def captured_log(scenario, patterns=("Executing op ", "before computing ")):
    """Captures what TensorFlow's C++ side writes to fd 2 and emits the
    placement lines (the text after "] ")."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            for raw in tmp.read().decode(errors="replace").splitlines():
                m = re.search(r"\] (.*)$", raw)
                text = m.group(1) if m else raw
                if text.startswith(patterns):
                    emit(scenario, "log", text)


def matmul_pair():
    return tf.constant([[1.0, 2.0]]), tf.constant([[3.0], [4.0]])


def group_two_cpus():
    cpu = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    emit("devices.physical", "output", " ".join(d.name for d in tf.config.list_physical_devices()))
    emit("devices.logical", "output", " ".join(d.name for d in tf.config.list_logical_devices()))
    a, b = matmul_pair()
    attempt("auto.const", lambda: tf.constant([1.0]))
    attempt("auto.matmul", lambda: tf.matmul(a, b))

    def scoped(specs, fn):
        def run():
            with contextlib.ExitStack() as stack:
                for s in specs:
                    stack.enter_context(tf.device(s))
                return fn()
        return run

    const = lambda: tf.constant([1.0])  # noqa: E731
    attempt("scope.cpu1.const", scoped(["/CPU:1"], const))
    attempt("scope.cpu1.matmul", scoped(["/CPU:1"], lambda: tf.matmul(a, b)))
    attempt("scope.nested.job_then_cpu1", scoped(["/job:localhost", "/CPU:1"], const))
    attempt("scope.nested.cpu1_then_full_cpu0", scoped(["/CPU:1", "/job:localhost/replica:0/task:0/device:CPU:0"], const))
    attempt("scope.nested.cpu1_then_task", scoped(["/CPU:1", "/task:0"], const))
    attempt("scope.nested.cpu1_then_bare_cpu", scoped(["/CPU:1", "CPU"], const))
    attempt("scope.toplevel_job", scoped(["/job:localhost"], const))
    attempt("scope.lowercase_short", scoped(["cpu:1"], const))
    with tf.device("/CPU:1"):
        a1 = tf.constant([[1.0, 2.0]])
    attempt("auto.mixed_inputs", lambda: tf.matmul(a1, b))
    attempt("scope.cpu1.mixed_inputs", scoped(["/CPU:1"], lambda: tf.matmul(b, a1)))

    for sid, spec in [("soft.gpu0", "/GPU:0"), ("soft.gpu7", "/GPU:7"), ("soft.cpu7", "/CPU:7"),
                      ("soft.unknown_type", "/device:FOO:0")]:
        attempt(sid, scoped([spec], lambda: tf.matmul(a, b)))
    tf.config.set_soft_device_placement(False)
    for sid, spec in [("strict.gpu0", "/GPU:0"), ("strict.cpu7", "/CPU:7"), ("strict.unknown_type", "/device:FOO:0"),
                      ("strict.job_foo", "/job:foo"), ("strict.cpu1_exists", "/CPU:1")]:
        attempt(sid, scoped([spec], lambda: tf.matmul(a, b)))
    tf.config.set_soft_device_placement(True)

    attempt("copy.identity_to_cpu1", scoped(["/CPU:1"], lambda: tf.identity(b)))
    attempt("copy.identity_same_device", scoped(["/CPU:1"], lambda: tf.identity(a1)))

    for policy in ["explicit", "silent_for_int32"]:
        tf.config.experimental.set_device_policy(policy)
        attempt(f"policy.{policy}.float_unscoped", lambda: tf.add(a, a1))
        attempt(f"policy.{policy}.float_scoped", scoped(["/CPU:1"], lambda: tf.matmul(b, a1)))
        attempt(f"policy.{policy}.identity_allowed", scoped(["/CPU:1"], lambda: tf.identity(b)))
    tf.config.experimental.set_device_policy(None)
    with tf.device("/CPU:1"):
        i1 = tf.constant([1, 2], dtype=tf.int32)
    i0 = tf.constant([3, 4], dtype=tf.int32)
    tf.config.experimental.set_device_policy("silent_for_int32")
    attempt("policy.silent_for_int32.int32", lambda: tf.add(i0, i1))
    tf.config.experimental.set_device_policy("warn")
    with captured_log("policy.warn.twice"):
        attempt("policy.warn.twice", lambda: [tf.add(a, a1), tf.add(a, a1)][1])
    tf.config.experimental.set_device_policy(None)


def group_log():
    """Placement logging, switched on before the runtime starts: TensorFlow
    2.x ignores set_log_device_placement(True) once ops have run."""
    cpu = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    tf.debugging.set_log_device_placement(True)
    with captured_log("log.const_matmul"):
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        tf.matmul(x, x)
        with tf.device("/CPU:1"):
            tf.matmul(x, x)
            tf.identity(x)
        with tf.device("/GPU:0"):
            tf.matmul(x, x)


def group_config():
    cpu = tf.config.list_physical_devices("CPU")
    attempt("config.cpu_memory_limit",
            lambda: tf.config.set_logical_device_configuration(cpu[0], [tf.config.LogicalDeviceConfiguration(100)]))
    attempt("config.growth_on_cpu", lambda: tf.config.experimental.set_memory_growth(cpu[0], True))
    two = [tf.config.LogicalDeviceConfiguration()] * 2
    tf.config.set_logical_device_configuration(cpu[0], two)
    attempt("config.growth_with_virtual", lambda: tf.config.experimental.set_memory_growth(cpu[0], True))
    emit("config.initialised_by_first_tensor", "device", tf.constant([1.0]).device)
    attempt("config.logical_after_init",
            lambda: tf.config.set_logical_device_configuration(cpu[0], [tf.config.LogicalDeviceConfiguration()] * 3))
    attempt("config.logical_same_after_init", lambda: tf.config.set_logical_device_configuration(cpu[0], two))
    attempt("config.visible_same_after_init", lambda: tf.config.set_visible_devices(cpu, "CPU"))
    attempt("config.hide_gpus_none_exist", lambda: tf.config.set_visible_devices([], "GPU"))
    emit("config.logical_count", "output", str(len(tf.config.list_logical_devices())))


def seed(n):
    """The seed article's examples as written, plus Example 2 printing its
    GPU list (the C version prints it too)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if n == 1:
            print("Devices:", tf.config.list_physical_devices())
            a = tf.random.normal((1000, 1000))
            b = tf.random.normal((1000, 1000))
            c = tf.matmul(a, b)
            print("Result tensor device:", c.device)
        elif n == 2:
            gpus = tf.config.list_physical_devices("GPU")
            print("GPUs:", gpus)
            if gpus:
                try:
                    tf.config.set_visible_devices(gpus[0], "GPU")
                    logical_gpus = tf.config.list_logical_devices("GPU")
                    print("Logical GPUs:", logical_gpus)
                except RuntimeError as e:
                    print(e)
            a = tf.random.normal((1000, 1000))
            b = tf.random.normal((1000, 1000))
            c = tf.matmul(a, b)
            print("Result tensor device:", c.device)
        else:
            print("Devices:", tf.config.list_physical_devices())

            def create_on_device():
                with tf.device("/CPU:0"):
                    cpu_tensor = tf.random.normal((100, 100))
                    print(f"CPU tensor created on: {cpu_tensor.device}")
                gpu_tensor = tf.random.normal((100, 100))
                print(f"GPU or CPU tensor created on: {gpu_tensor.device}")
                return gpu_tensor

            create_on_device()
    for i, line in enumerate(out.getvalue().splitlines()):
        emit(f"seed{n}", f"output{i}", line)


if __name__ == "__main__":
    group = sys.argv[1]
    if group == "two_cpus":
        group_two_cpus()
    elif group == "log":
        group_log()
    elif group == "config":
        group_config()
    elif group.startswith("seed"):
        seed(int(group[4:]))
    else:
        sys.exit(f"unknown group {group}")
