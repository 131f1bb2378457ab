"""Device configuration, as ``tf.config``.

Physical devices are listed without starting the runtime. The runtime
starts (and the device configuration freezes) on the first op or tensor,
the first ``list_logical_devices`` call, or the first ``ctensor.device``
scope entered. After that a setter that would change something raises
``RuntimeError`` with TensorFlow's message; repeating the current value is
allowed. Bad values raise ``ValueError``.
"""

import collections
import types

from . import _ctensor
from . import errors as _errors

__all__ = ["PhysicalDevice", "LogicalDevice", "LogicalDeviceConfiguration", "list_physical_devices",
           "list_logical_devices", "get_visible_devices", "set_visible_devices",
           "set_logical_device_configuration", "get_logical_device_configuration",
           "set_soft_device_placement", "get_soft_device_placement", "experimental"]

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])


class LogicalDeviceConfiguration(collections.namedtuple(
        "LogicalDeviceConfiguration", ["memory_limit", "experimental_priority", "experimental_device_ordinal"])):
    """One logical device carved out of a physical one. ``memory_limit`` is
    in MB (GPU: required; CPU: must be None)."""

    __slots__ = ()

    def __new__(cls, memory_limit=None, experimental_priority=None, experimental_device_ordinal=None):
        return super().__new__(cls, memory_limit, experimental_priority, experimental_device_ordinal)


_TYPES = ("CPU", "GPU")


def _config_error(e):
    """The tf.config exception for a library status: FAILED_PRECONDITION
    (configuring after initialisation) is a RuntimeError, the rest ValueError."""
    if isinstance(e, _errors.FailedPreconditionError):
        return RuntimeError(e.message)
    return ValueError(e.message)


def _call(fn, *args):
    try:
        return fn(*args)
    except _errors.OpError as e:
        raise _config_error(e) from None


def list_physical_devices(device_type=None):
    """``[PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU'), ...]``;
    the type filter is exact and case-sensitive. Does not start the runtime."""
    if device_type is not None and device_type not in _TYPES:
        return []
    return [PhysicalDevice(n, t) for n, t in _call(_ctensor.physical_devices, device_type)]


def list_logical_devices(device_type=None):
    """``[LogicalDevice(name='/device:CPU:0', device_type='CPU'), ...]``;
    starts the runtime."""
    if device_type is not None and device_type not in _TYPES:
        _call(_ctensor.initialize)
        return []
    return [LogicalDevice(n, t) for n, t in _call(_ctensor.logical_devices, device_type)]


def _check_physical(device):
    if not isinstance(device, PhysicalDevice) or device not in list_physical_devices():
        raise ValueError("Unrecognized device: %r" % (device,))
    return device


def _index(device):
    return int(device.name.rsplit(":", 1)[1])


def get_visible_devices(device_type=None):
    """The physical devices the runtime uses (all of them unless
    ``set_visible_devices`` said otherwise)."""
    out = []
    for d in list_physical_devices(device_type):
        if _index(d) in _call(_ctensor.get_visible_devices, d.device_type):
            out.append(d)
    return out


def set_visible_devices(devices, device_type=None):
    """Which physical devices the runtime uses: ``devices`` is one
    PhysicalDevice or a list. With ``device_type``, only that type's
    visibility changes (``set_visible_devices([], 'GPU')`` hides every GPU).
    The CPU cannot be hidden: without it in the list it stays visible."""
    if not isinstance(devices, list):
        devices = [devices]
    for d in devices:
        _check_physical(d)
        if device_type is not None and d.device_type != device_type:
            raise ValueError("Unrecognized device: %r" % (d,))
    types_ = [device_type] if device_type is not None else [t for t in _TYPES if list_physical_devices(t)]
    for t in types_:
        if t not in _TYPES:
            raise ValueError("Unrecognized device type: %r" % (t,))
        chosen = sorted({_index(d) for d in devices if d.device_type == t})
        if t == "CPU" and not chosen:
            if device_type == "CPU":
                _call(_ctensor.set_visible_devices, t, chosen)  # refused: the CPU cannot be hidden
            continue
        _call(_ctensor.set_visible_devices, t, chosen)


def set_logical_device_configuration(device, logical_devices):
    """Splits one physical device into logical devices, e.g. two CPUs:
    ``set_logical_device_configuration(cpus[0], [LogicalDeviceConfiguration()] * 2)``."""
    _check_physical(device)
    if logical_devices is None:
        logical_devices = []
    cfgs = []
    for c in logical_devices:
        mem, prio = getattr(c, "memory_limit", None), getattr(c, "experimental_priority", None)
        if device.device_type == "CPU":
            if mem is not None:
                raise ValueError("Setting memory limit on CPU virtual devices is currently not supported")
            if prio is not None:
                raise ValueError("Setting experimental_priority on CPU virtual devices is currently not supported")
        elif device.device_type == "GPU":
            if mem is None:
                raise ValueError("Setting memory limit is required for GPU virtual devices")
        else:
            raise ValueError("Virtual devices are not supported for %s" % device.device_type)
        cfgs.append((int(mem or 0), None if prio is None else int(prio)))
    _call(_ctensor.set_logical_devices, device.name, cfgs)


def get_logical_device_configuration(device):
    """The list given to ``set_logical_device_configuration``, or None."""
    _check_physical(device)
    cfgs = _call(_ctensor.get_logical_devices, device.name)
    if not cfgs:
        return None
    return [LogicalDeviceConfiguration(memory_limit=mem or None, experimental_priority=prio) for mem, prio in cfgs]


def set_soft_device_placement(enabled):
    """On (the default): an op that cannot run where it was asked runs on
    the best device that can run it; off: it fails."""
    _call(_ctensor.set_flag, 0, bool(enabled))


def get_soft_device_placement():
    return _call(_ctensor.get_flag, 0)


# ---- tf.config.experimental ------------------------------------------------

def set_memory_growth(device, enable):
    """GPU memory growth (ctensor always allocates on demand; with growth
    off a GPU's allocator reserves its whole limit at start)."""
    _check_physical(device)
    _call(_ctensor.set_memory_growth, device.name, bool(enable))


def get_memory_growth(device):
    """True, False, or None when never set."""
    _check_physical(device)
    return _call(_ctensor.get_memory_growth, device.name)


_POLICIES = {"silent": 0, "warn": 1, "explicit": 2, "silent_for_int32": 3, None: 0}
_POLICY_NAMES = {0: "silent", 1: "warn", 2: "explicit", 3: "silent_for_int32"}


def set_device_policy(device_policy):
    """What an op does with an input on another device, for the calling
    thread: 'silent' (copy; the default, also for None), 'warn' (copy and
    log once), 'explicit' (raise InvalidArgumentError), 'silent_for_int32'."""
    if device_policy not in _POLICIES:
        raise ValueError("Invalid argument `device_policy`: %r. Please refer to "
                         "https://www.tensorflow.org/api_docs/python/tf/config/experimental/set_device_policy "
                         "for valid `device_policy` arguments." % (device_policy,))
    _call(_ctensor.set_device_policy, _POLICIES[device_policy])


def get_device_policy():
    return _POLICY_NAMES[_ctensor.get_device_policy()]


def get_device_details(device):
    """GPU: ``{'device_name': ..., 'compute_capability': (major, minor)}``; ``{}`` otherwise."""
    _check_physical(device)
    d = _ctensor.physical_device_details(device.name)
    return {k: d[k] for k in ("device_name", "compute_capability") if k in d}


def get_memory_info(device):
    """``{'current': bytes, 'peak': bytes}`` of a logical device ('GPU:0', 'CPU:0')."""
    info = _call(_ctensor.memory_info, device)
    return {"current": info["current"], "peak": info["peak"]}


def enable_tensor_float_32_execution(enabled):
    _call(_ctensor.set_flag, 2, bool(enabled))


experimental = types.SimpleNamespace(
    set_memory_growth=set_memory_growth,
    get_memory_growth=get_memory_growth,
    set_device_policy=set_device_policy,
    get_device_policy=get_device_policy,
    get_device_details=get_device_details,
    get_memory_info=get_memory_info,
    list_physical_devices=list_physical_devices,
    list_logical_devices=list_logical_devices,
    get_visible_devices=get_visible_devices,
    set_visible_devices=set_visible_devices,
    set_virtual_device_configuration=set_logical_device_configuration,
    get_virtual_device_configuration=get_logical_device_configuration,
    VirtualDeviceConfiguration=LogicalDeviceConfiguration,
    enable_tensor_float_32_execution=enable_tensor_float_32_execution,
)
