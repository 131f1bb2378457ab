"""Keras 3's optimizers ``SGD`` and ``Adam`` (``tf.keras.optimizers``), over
the library's ``ct_optimizer``.

Each step is one call into the library (``ct_optimizer_apply_gradients``,
without the GIL): one fused op per variable (``ResourceApplyAdam``, ...) on
the variable's device, its slots (momentum, m, v) on that device too.
What Keras does in Python around the update is done here the way Keras 3
does it: the optimizer is built on the variables of its first step and
refuses others afterwards, pairs whose gradient is None are skipped with
Keras's warning, ``iterations`` counts steps and ``learning_rate`` may be
set between them. The update formulas are Keras's (docs/autodiff.md).
"""

import re as _re
import struct as _struct
import warnings as _warnings

from . import _ctensor
from . import _ops
from . import dtypes as _dt

__all__ = ["Optimizer", "SGD", "Adam"]

_UIDS = {}


def _auto_name(class_name):
    """Keras's names: 'adam', then 'adam_1', 'adam_2', ... per process."""
    base = _re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", class_name).lower()
    n = _UIDS.get(base, 0)
    _UIDS[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def _float32(x):
    """x rounded to float32: Keras keeps the learning rate in a float32
    variable, so that is the value its updates use."""
    return _struct.unpack("f", _struct.pack("f", float(x)))[0]


class _OptimizerVariable:
    """What Keras 3 hands out as ``optimizer.iterations`` and
    ``optimizer.learning_rate``: a scalar variable (int64 or float32) that
    prints as Keras's ``<Variable path=adam/iteration, shape=(), dtype=int64,
    value=3>`` and converts to a number or a tensor wherever one is
    expected (``int(opt.iterations)``, ``opt.iterations.numpy()``,
    ``tf.cast(opt.iterations, tf.float32)``, ``opt.iterations + 1``). Its
    value lives in the library's optimizer and is read on each use."""

    __array_priority__ = 100

    def __init__(self, path, dtype, read, write=None):
        self._path = path
        self._dtype = dtype
        self._get = read
        self._set = write

    # -- the value ----------------------------------------------------------
    @property
    def path(self):
        return self._path

    @property
    def name(self):
        return self._path.rsplit("/", 1)[-1]

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return ()

    @property
    def ndim(self):
        return 0

    @property
    def trainable(self):
        return False

    def _python(self):
        v = self._get()
        return int(v) if self._dtype.is_integer else _float32(v)

    def _as_ctensor(self):
        return _ops.convert_to_tensor(self._python(), dtype=self._dtype)

    def value(self):
        return self._as_ctensor()

    read_value = value

    def numpy(self):
        np = _ops._numpy()
        v = self._python()
        return v if np is None else np.array(v, dtype=self._dtype.name)[()]

    def assign(self, value):
        if self._set is None:
            raise AttributeError("%s is read-only: the optimizer counts its steps" % self._path)
        self._set(value)
        return self

    # -- Python protocols -----------------------------------------------------
    def __int__(self):
        return int(self._python())

    def __float__(self):
        return float(self._python())

    def __index__(self):
        if not self._dtype.is_integer:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._python())

    def __bool__(self):
        return bool(self._python())

    def __array__(self, dtype=None, copy=None):
        np = _ops._numpy()
        return np.asarray(self.numpy(), dtype=dtype)

    def __repr__(self):
        return "<Variable path=%s, shape=(), dtype=%s, value=%r>" % (self._path, self._dtype.name, self._python())

    __str__ = __repr__

    def __hash__(self):
        return id(self)

    def __eq__(self, other): return _ops.equal(self._as_ctensor(), other)
    def __ne__(self, other): return _ops.not_equal(self._as_ctensor(), other)
    def __lt__(self, other): return _ops.less(self._as_ctensor(), other)
    def __le__(self, other): return _ops.less_equal(self._as_ctensor(), other)
    def __gt__(self, other): return _ops.greater(self._as_ctensor(), other)
    def __ge__(self, other): return _ops.greater_equal(self._as_ctensor(), other)
    def __add__(self, other): return _ops.add(self._as_ctensor(), other)
    def __radd__(self, other): return _ops.add(other, self._as_ctensor())
    def __sub__(self, other): return _ops.subtract(self._as_ctensor(), other)
    def __rsub__(self, other): return _ops.subtract(other, self._as_ctensor())
    def __mul__(self, other): return _ops.multiply(self._as_ctensor(), other)
    def __rmul__(self, other): return _ops.multiply(other, self._as_ctensor())
    def __truediv__(self, other): return _ops.divide(self._as_ctensor(), other)
    def __rtruediv__(self, other): return _ops.divide(other, self._as_ctensor())
    def __floordiv__(self, other): return _ops.floordiv(self._as_ctensor(), other)
    def __mod__(self, other): return _ops.floormod(self._as_ctensor(), other)
    def __pow__(self, other): return _ops.pow(self._as_ctensor(), other)
    def __neg__(self): return _ops.negative(self._as_ctensor())


_UNSUPPORTED = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor",
                "gradient_accumulation_steps", "ema_overwrite_frequency")


class Optimizer:
    """The part of Keras 3's ``keras.optimizers.Optimizer`` that SGD and
    Adam share: naming, the learning rate, the step counter, building on
    the first step's variables, and ``apply_gradients``."""

    _KIND = None  # the row of _ctensor.Optimizer's table

    def __init__(self, learning_rate, name=None, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            _warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError("Argument(s) not recognized: %s" % (kwargs,))
        given = dict(weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                     global_clipnorm=global_clipnorm, loss_scale_factor=loss_scale_factor,
                     gradient_accumulation_steps=gradient_accumulation_steps,
                     ema_overwrite_frequency=ema_overwrite_frequency)
        for arg in _UNSUPPORTED:
            if given[arg] is not None:
                raise NotImplementedError("ctensor's optimizers do not implement `%s` (docs/python.md)" % arg)
        if use_ema:
            raise NotImplementedError("ctensor's optimizers do not implement `use_ema` (docs/python.md)")
        self.name = _auto_name(type(self).__name__) if name is None else name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._lr_fn = None
        if callable(learning_rate):
            self._lr_fn = learning_rate
            initial = 0.0
        elif not isinstance(learning_rate, float):
            raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
                             "or a callable (that takes in the current iteration value and returns the "
                             "corresponding learning rate value). Received instead: learning_rate=%s"
                             % (learning_rate,))
        else:
            initial = _float32(learning_rate)
        self._initial_learning_rate = initial
        self._c = None  # made by _make(), once the subclass has checked its arguments
        self._iterations = _OptimizerVariable(self.name + "/iteration", _dt.int64, self._read_iterations)
        self._learning_rate = _OptimizerVariable(self.name + "/learning_rate", _dt.float32,
                                                 self._read_learning_rate, self._write_learning_rate)
        self.built = False
        self._trainable_variables = []
        self._known = {}

    def _make(self):
        self._c = _ctensor.Optimizer(self._KIND, self._initial_learning_rate, self._parameters(), self._flag())

    # Subclasses: the three numbers and the flag of their table row.
    def _parameters(self):
        raise NotImplementedError

    def _flag(self):
        raise NotImplementedError

    # -- iterations and the learning rate ----------------------------------
    def _read_iterations(self):
        return self._c.iterations

    def _read_learning_rate(self):
        return self._lr_fn() if self._lr_fn is not None else self._c.learning_rate

    def _write_learning_rate(self, value):
        if isinstance(value, _OptimizerVariable):
            value = value._python()
        if isinstance(value, (_ctensor.TensorBase, _ctensor.VariableBase)):
            value = float(value)
        self._c.learning_rate = _float32(value)
        self._lr_fn = None

    @property
    def iterations(self):
        """Steps taken: Keras's int64 ``iteration`` variable."""
        return self._iterations

    @property
    def learning_rate(self):
        """The learning rate (a float32 variable, as in Keras); assign a
        number (``opt.learning_rate = 0.01``) between steps to change it,
        or a callable taking no arguments, called at each step."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value) and not isinstance(value, (_ctensor.TensorBase, _ctensor.VariableBase,
                                                      _OptimizerVariable)):
            self._lr_fn = value
        else:
            self._write_learning_rate(value)

    @property
    def variables(self):
        """The optimizer's own variables: ``iteration`` and
        ``learning_rate`` (the slots live in the library; see
        ``_get_slot``)."""
        return [self._iterations, self._learning_rate]

    # -- steps ----------------------------------------------------------------
    def build(self, variables):
        """Fixes the variables this optimizer updates (Keras builds on the
        first ``apply_gradients``; a later step with another variable is a
        ValueError)."""
        variables = list(variables)
        for v in variables:
            if not isinstance(v, _ctensor.VariableBase):
                raise TypeError("%s: expected ctensor.Variable objects to optimize, got %r of type %s"
                                % (type(self).__name__, v, type(v).__name__))
        self._known = {v._handle_id: i for i, v in enumerate(variables)}
        self._trainable_variables = variables[:]  # keeps them (and so their keys) alive
        self.built = True

    def apply_gradients(self, grads_and_vars):
        """One step: ``grads_and_vars`` is an iterable of (gradient,
        variable) pairs. A None gradient skips its variable (with Keras's
        warning); all None is a ValueError. Returns ``iterations``."""
        grads, trainable_variables = zip(*grads_and_vars)
        self.apply(grads, trainable_variables)
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """``apply(grads, variables)``; without ``variables``, the
        gradients are for the variables the optimizer was built with, in
        order."""
        if len(grads) == 0:
            return None
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built "
                                 "on a list of variables. Call `optimizer.build(trainable_variables)` first. ")
            if len(grads) != len(self._known):
                raise ValueError("When passing `grads` as a list of gradient tensors, the gradients must match "
                                 "`optimizer.variables` one-to-on. Received a list of %d gradients, but the "
                                 "optimizer is tracking %d trainable variables."
                                 % (len(grads), len(self._trainable_variables)))
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
            known = self._known
            for v in trainable_variables:
                if not isinstance(v, _ctensor.VariableBase) or v._handle_id not in known:
                    raise ValueError("Unknown variable: %s. This optimizer can only be called for the variables it "
                                     "was originally built with. When working with a new set of variables, you "
                                     "should recreate a new optimizer instance." % (v,))
        tensor = _ctensor.TensorBase
        gs, vs, missing = [], [], []
        for g, v in zip(grads, trainable_variables):
            if g is None:
                missing.append(v.name)
                continue
            if not isinstance(g, tensor):
                g = _ops.convert_to_tensor(g)
            if g.dtype is not v.dtype:  # Keras casts the gradient to the variable's dtype
                g = _ops.cast(g, v.dtype)
            gs.append(g)
            vs.append(v)
        if not gs:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            _warnings.warn("Gradients do not exist for variables %s when minimizing the loss. If using "
                           "`model.compile()`, did you forget to provide a `loss` argument?" % (missing,),
                           stacklevel=3)
        if self._lr_fn is not None:
            self._c.learning_rate = _float32(self._lr_fn())
        self._c.apply(vs, gs)
        return self._iterations

    def _get_slot(self, variable, slot):
        """A copy of one slot of a variable ('momentum'; 'm', 'v', 'vhat'),
        on the variable's device (ctensor's own: Keras keeps them in
        ``variables``)."""
        return self._c.get_slot(variable, slot)

    def get_config(self):
        return {"name": self.name, "learning_rate": float(self._learning_rate), "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    def __repr__(self):
        return "<ctensor.keras.optimizers.%s name=%s>" % (type(self).__name__, self.name)


class SGD(Optimizer):
    """``SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``: with
    momentum 0, ``var -= lr * g``; otherwise ``m = momentum * m - lr * g``
    and ``var += m`` (nesterov: ``var += momentum * m - lr * g``)."""

    _KIND = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov
        self._make()

    def _parameters(self):
        return (float(self.momentum), 0.0, 0.0)

    def _flag(self):
        return bool(self.nesterov)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class Adam(Optimizer):
    """``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
    amsgrad=False)``, Keras 3's formulas: at step t = iterations + 1,
    ``m += (g - m) * (1 - beta_1)``, ``v += (g*g - v) * (1 - beta_2)``,
    ``var -= m * lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) / (sqrt(v) +
    epsilon)`` (AMSGrad: the running maximum of v)."""

    _KIND = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self._make()

    def _parameters(self):
        return (float(self.beta_1), float(self.beta_2), float(self.epsilon))

    def _flag(self):
        return bool(self.amsgrad)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config
