"""``ctensor.DeviceSpec``: a (possibly partial) device name as a value, as
TensorFlow 2's ``tf.DeviceSpec``.

Strings go through ctensor's own parser (the one ``tf.device`` scopes and
the C API use), so a DeviceSpec accepts exactly the strings a scope
accepts; docs/device-names.md lists where TensorFlow's C++ and Python
parsers disagree and which one ctensor follows. The fields given to the
constructor are checked the same way: every DeviceSpec prints as a name
that parses back to itself.
"""

import re

from . import _ctensor
from . import errors

__all__ = ["DeviceSpec"]

# The canonical form ct_device_name_format prints: fields in this order,
# each optional, a missing index written "*".
_CANONICAL = re.compile(r"(?:/job:([^/]+))?(?:/replica:(\d+))?(?:/task:(\d+))?(?:/device:([^/:]+):(\d+|\*))?")


def _canonical(spec):
    try:
        return _ctensor.canonical_device(spec)
    except errors.InvalidArgumentError as e:
        raise ValueError(e.message) from None


def _components(canonical):
    m = _CANONICAL.fullmatch(canonical)
    if m is None:  # the C formatter and this pattern disagree: a bug here
        raise AssertionError("unexpected canonical device name %r" % canonical)
    job, replica, task, dtype, index = m.groups()
    as_int = lambda v: None if v is None or v == "*" else int(v)
    return job, as_int(replica), as_int(task), dtype, as_int(index)


def _number(field, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value)  # "1" is accepted, as TensorFlow does
        except (TypeError, ValueError):
            raise ValueError("DeviceSpec: %s must be a non-negative integer, got %r" % (field, value)) from None
    if value < 0:
        raise ValueError("DeviceSpec: %s must be a non-negative integer, got %d" % (field, value))
    return value


class DeviceSpec:
    """A device name split into job, replica, task, device type and index;
    each may be None (unspecified). Immutable and hashable.

    ``DeviceSpec(job="worker", device_type="GPU", device_index=0)``;
    ``DeviceSpec.from_string("/gpu:0")``; ``spec.to_string()`` gives the
    canonical name (``/device:GPU:0``), which ``ctensor.device`` accepts, as
    it accepts the spec itself.
    """

    __slots__ = ("_job", "_replica", "_task", "_device_type", "_device_index", "_string")

    def __init__(self, job=None, replica=None, task=None, device_type=None, device_index=None):
        job = None if job is None else str(job)
        replica = _number("replica", replica)
        task = _number("task", task)
        if device_type is not None:
            device_type = str(device_type)
            if device_type in ("cpu", "gpu"):  # TensorFlow's lower-case aliases
                device_type = device_type.upper()
        # An index without a type is kept (a merge may supply the type) but
        # not printed, as in TensorFlow.
        device_index = _number("device_index", device_index)
        parts = []
        if job is not None:
            parts.append("/job:" + job)
        if replica is not None:
            parts.append("/replica:%d" % replica)
        if task is not None:
            parts.append("/task:%d" % task)
        if device_type is not None:
            parts.append("/device:%s:%s" % (device_type, "*" if device_index is None else device_index))
        text = "".join(parts)
        # the parser is the judge of what a valid name is (job names, types)
        canonical = _canonical(text)
        if canonical != text:
            raise ValueError("DeviceSpec: %r is not a valid device specification" % text)
        self._job, self._replica, self._task = job, replica, task
        self._device_type, self._device_index = device_type, device_index
        self._string = text

    @classmethod
    def from_string(cls, spec):
        """Parses a device name (``/job:w/task:1/device:GPU:0``, ``/gpu:0``,
        ``CPU``, ``""``); ValueError when it is malformed."""
        if not isinstance(spec, str):
            raise TypeError("DeviceSpec.from_string: expected a string, got %r" % (spec,))
        job, replica, task, device_type, device_index = _components(_canonical(spec))
        return cls(job, replica, task, device_type, device_index)

    def to_string(self):
        """The canonical name: set fields only, in the order job, replica,
        task, device; a missing index is ``*``."""
        return self._string

    def make_merged_spec(self, dev):
        """A new spec with the fields ``dev`` sets taking precedence."""
        if not isinstance(dev, DeviceSpec):
            raise TypeError("make_merged_spec: expected a DeviceSpec, got %r" % (dev,))
        pick = lambda mine, theirs: mine if theirs is None else theirs
        return self.__class__(pick(self._job, dev._job), pick(self._replica, dev._replica),
                              pick(self._task, dev._task), pick(self._device_type, dev._device_type),
                              pick(self._device_index, dev._device_index))

    def replace(self, **kwargs):
        """A new spec with the given fields (the constructor's keywords)
        replaced; None clears a field."""
        fields = dict(job=self._job, replica=self._replica, task=self._task, device_type=self._device_type,
                      device_index=self._device_index)
        unknown = sorted(set(kwargs) - set(fields))
        if unknown:
            raise TypeError("replace: unknown field%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)))
        fields.update(kwargs)
        return self.__class__(**fields)

    job = property(lambda self: self._job, doc="the job name, or None")
    replica = property(lambda self: self._replica, doc="the replica index, or None")
    task = property(lambda self: self._task, doc="the task index, or None")
    device_type = property(lambda self: self._device_type, doc='"CPU", "GPU", ..., or None')
    device_index = property(lambda self: self._device_index, doc="the device index, or None (any)")

    def __eq__(self, other):
        return isinstance(other, DeviceSpec) and self._string == other._string

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self._string)

    def __repr__(self):
        return "<DeviceSpec(job=%s, replica=%s, task=%s, device_type=%s, device_index=%s)>" % (
            self._job, self._replica, self._task, self._device_type, self._device_index)
