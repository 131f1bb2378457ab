"""``tf.GradientTape``, ``tf.UnconnectedGradients``: reverse-mode
automatic differentiation over the library's tape (``ct_tape``).

A tape records the ops of the thread that entered it (Python threads are
OS threads). The gradient is computed by the library with ops, each placed
on the device its forward op ran on; a tape that records while another
computes a gradient records those ops, which is how second derivatives
work (nested tapes).
"""

import contextlib as _contextlib
import enum as _enum

from . import _ctensor
from . import _ops
from ._variables import _python_variables

_NON_PERSISTENT_USED = ("A non-persistent GradientTape can only be used to compute one set of gradients "
                        "(or jacobians)")


class UnconnectedGradients(_enum.Enum):
    """What ``GradientTape.gradient`` returns for a source the target does
    not depend on: ``NONE`` (None) or ``ZERO`` (zeros of its shape)."""
    NONE = "none"
    ZERO = "zero"


# ---- nested structures (TensorFlow's nest: dicts by sorted key) -----------

def _flatten(structure):
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in _flatten(item)]
    return [structure]


def _pack(structure, flat):
    """`flat` (an iterator) in the shape of `structure`."""
    if isinstance(structure, dict):
        packed = {k: _pack(structure[k], flat) for k in sorted(structure)}
        try:
            return type(structure)((k, packed[k]) for k in structure)
        except TypeError:
            return dict((k, packed[k]) for k in structure)
    if isinstance(structure, (list, tuple)):
        items = [_pack(item, flat) for item in structure]
        if isinstance(structure, list):
            return items
        if hasattr(structure, "_fields"):  # a namedtuple
            return type(structure)(*items)
        return type(structure)(items)
    return next(flat)


def _is_tensor_or_variable(x):
    return isinstance(x, (_ctensor.TensorBase, _ctensor.VariableBase))


class GradientTape:
    """``with GradientTape() as tape:`` records the ops run inside, on this
    thread; ``tape.gradient(target, sources)`` differentiates ``target``
    (summed when not a scalar) with respect to each source. Tensors must be
    watched (``tape.watch``); trainable variables read inside are watched
    automatically unless ``watch_accessed_variables=False``. A tape that is
    not ``persistent`` answers one ``gradient`` call and then frees what it
    held."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed_variables = bool(watch_accessed_variables)
        self._tape = None  # the library's tape, made on first use
        self._recording = False
        self._watched_variables = ()

    def __enter__(self):
        self._push_tape()
        return self

    def __exit__(self, typ, value, traceback):
        if self._recording:
            self._pop_tape()

    def _new_tape(self):
        return _ctensor.Tape(self._persistent, self._watch_accessed_variables)

    def _push_tape(self):
        if self._recording:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter an already-active tape.")
        if self._tape is None:
            self._tape = self._new_tape()
        else:
            self._tape.resume()
        self._recording = True

    def _pop_tape(self):
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._tape.stop()
        self._recording = False

    def watch(self, tensor):
        """Watches a tensor, a variable, or a nested list/tuple/dict of them.
        Non-float tensors are accepted and ignored (their gradient is None)."""
        items = _flatten(tensor)
        for t in items:
            if not _is_tensor_or_variable(t):
                raise ValueError("Passed in object %s of type %r, not tf.Tensor or tf.Variable or ExtensionType."
                                 % (t, type(t).__name__))
        if self._tape is None:  # watched before the tape is entered: made now, not recording yet
            self._tape = self._new_tape()
            self._tape.stop()
        for t in items:
            self._tape.watch(t)

    @_contextlib.contextmanager
    def stop_recording(self):
        """``with tape.stop_recording():`` ops inside are not recorded."""
        if self._tape is None:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        self._pop_tape()
        try:
            yield
        finally:
            self._push_tape()

    def reset(self):
        """Forgets everything recorded and watched; the tape goes on
        recording (as exiting and re-entering with a new tape)."""
        self._pop_tape()
        self._tape.reset()
        self._push_tape()

    def watched_variables(self):
        """The variables this tape watches, in the order they were created."""
        if self._tape is not None:
            self._watched_variables = _python_variables(self._tape.watched_variables())
        return self._watched_variables

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=UnconnectedGradients.NONE):
        """d(target)/d(source) for each source, in the structure of
        ``sources`` (a tensor, a variable, or a nested list/tuple/dict).
        ``target`` may be a tensor or a (nested) list of them (their sum is
        differentiated); ``output_gradients`` weighs each target. A source
        the target does not depend on gets None (or zeros with
        ``UnconnectedGradients.ZERO``); integer and bool sources get None."""
        if self._tape is None:
            raise RuntimeError(_NON_PERSISTENT_USED)
        if self._recording and not self._persistent:
            self._pop_tape()
        try:
            unconnected = UnconnectedGradients(unconnected_gradients)
        except ValueError:
            raise ValueError("Unknown value for unconnected_gradients: %r" % (unconnected_gradients,)) from None
        flat_targets = []
        for t in _flatten(target):
            if isinstance(t, _ctensor.VariableBase):
                # TensorFlow reads a variable target under the tape.
                if self._recording:
                    t = t._read()
                else:
                    self._push_tape()
                    try:
                        t = t._read()
                    finally:
                        self._pop_tape()
            elif not isinstance(t, _ctensor.TensorBase):
                raise TypeError("GradientTape.gradient: target must be a Tensor, a Variable or a (nested) list of "
                                "them, got %r of type %r" % (t, type(t).__name__))
            flat_targets.append(t)
        flat_sources = _flatten(sources)
        for s in flat_sources:
            if not _is_tensor_or_variable(s):
                raise TypeError("GradientTape.gradient: sources must be Tensors or Variables (or nested "
                                "lists/tuples/dicts of them), got %r of type %r" % (s, type(s).__name__))
        if output_gradients is not None:
            output_gradients = [None if g is None else _ops.convert_to_tensor(g)
                                for g in _flatten(output_gradients)]
        grads = self._tape.gradient(flat_targets, output_gradients, flat_sources,
                                    1 if unconnected is UnconnectedGradients.ZERO else 0)
        if not self._persistent:
            self._watched_variables = self.watched_variables()
            self._tape = None  # frees what the tape held
        return _pack(sources, iter(grads))

    def _counts(self):
        """(ops recorded, tensors held) -- for tests of what a tape keeps."""
        return self._tape.counts() if self._tape is not None else (0, 0)
