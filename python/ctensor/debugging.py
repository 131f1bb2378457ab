"""``tf.debugging``: placement logging."""

from . import _ctensor

__all__ = ["set_log_device_placement", "get_log_device_placement"]


def set_log_device_placement(enabled):
    """Logs every op as TensorFlow does, to ``sys.stderr``:
    ``I0000 00:00:<time> <thread> ctensor] Executing op MatMul in device
    /job:localhost/replica:0/task:0/device:CPU:0``. Takes effect for the
    next op, at any time."""
    _ctensor.set_flag(1, bool(enabled))


def get_log_device_placement():
    return _ctensor.get_flag(1)
