"""ctensor.distribute: data-parallel training over processes, Horovod's way.

Launch one process per device with MPI and call :func:`init` first::

    mpirun -np 4 python train.py

    import ctensor as tf
    import ctensor.distribute as dist

    dist.init()                      # before the first op: names the devices
    print(dist.rank(), dist.size())  # /job:worker/replica:0/task:<rank>/...
    dist.broadcast_variables(model_variables, root=0)
    with tf.GradientTape() as tape:
        loss = ...
    tape = dist.DistributedGradientTape(tape)
    grads = tape.gradient(loss, model_variables)   # averaged over processes,
                                                   # in one grouped all-reduce

Collectives are ops: placed, logged and counted like the others. Every
process must issue the same collectives in the same order with the same
dtypes and shapes; one that does not makes every process raise
InvalidArgumentError naming the ranks and what each asked for. A collective
that waits longer than the timeout raises DeadlineExceededError, and one
whose peer died raises UnavailableError (docs/distributed.md).

MPI comes from libctensor_mpi.so, next to the extension; importing mpi4py
before or after :func:`init` is fine (whoever initialises MPI finalises it).
"""

import atexit as _atexit

from . import _ctensor
from . import _ops

_OPS = {"sum": 0, "mean": 1, "max": 2, "min": 3, "prod": 4}
_DEFAULT_TIMEOUT = 0.0  # 0: $CT_COLLECTIVE_TIMEOUT, else 300 s


def init(job="worker", timeout=None):
    """Joins the MPI job (initialising MPI unless mpi4py or the program did):
    this process becomes task ``rank()`` of ``job``. Call it before any op
    or device query; a second call does nothing. ``timeout``: seconds a
    collective may wait for the others (default $CT_COLLECTIVE_TIMEOUT or
    300)."""
    _ctensor.dist_init(job, float(timeout) if timeout is not None else _DEFAULT_TIMEOUT)


def is_initialized():
    return _ctensor.dist_info() is not None


def _info(i):
    info = _ctensor.dist_info()
    if info is None:
        raise ValueError("ctensor.distribute has not been initialized; call ctensor.distribute.init().")
    return info[i]


def rank():
    """This process's rank in the job (its task index)."""
    return _info(0)


def size():
    """The number of processes in the job."""
    return _info(1)


def local_rank():
    """This process's rank among the processes on its node (pick a GPU by it)."""
    return _info(2)


def local_size():
    return _info(3)


def job_name():
    return _info(4)


def mpi_library_version():
    return _info(5)


def set_timeout(seconds):
    _ctensor.dist_set_timeout(float(seconds))


def list_devices():
    """[(name, device_type, is_remote)]: this task's logical devices, then
    the other tasks' (known after the first collective)."""
    return _ctensor.dist_devices()


def _op(op):
    try:
        return _OPS[op]
    except (KeyError, TypeError):
        raise ValueError("op must be one of %s, got %r" % (", ".join(sorted(_OPS)), op)) from None


def all_reduce(tensor, op="sum"):
    """The elementwise ``op`` ("sum", "mean", "max", "min", "prod") of every
    process's ``tensor``, on every process."""
    return _ctensor.dist_collective(0, _ops.convert_to_tensor(tensor), _op(op))


def grouped_all_reduce(tensors, op="sum"):
    """``[all_reduce(t, op) for t in tensors]`` -- the same results -- in one
    collective ("tensor fusion", as Horovod does for gradients): one check
    that every process passes the same group, and when every tensor of every
    process is on the CPU, the tensors of each dtype packed and moved
    together. Dtypes and shapes may differ within the group; every process
    must pass the same dtypes and shapes in the same order."""
    return _ctensor.dist_all_reduce_n([_ops.convert_to_tensor(t) for t in tensors], _op(op))


def broadcast(tensor, root=0):
    """``root``'s tensor, on every process."""
    return _ctensor.dist_collective(1, _ops.convert_to_tensor(tensor), int(root))


def all_gather(tensor):
    """Every process's tensor, concatenated along axis 0 in rank order; the
    first dimension may differ between processes."""
    return _ctensor.dist_collective(2, _ops.convert_to_tensor(tensor), 0)


def reduce_scatter(tensor, op="sum"):
    """all_reduce, then this process's share of axis 0 (the first
    ``n % size()`` ranks get one row more)."""
    return _ctensor.dist_collective(3, _ops.convert_to_tensor(tensor), _op(op))


def barrier():
    """Returns when every process has called it."""
    _ctensor.dist_barrier()


def broadcast_variables(variables, root=0):
    """Assigns ``root``'s value to each variable on every process (start of
    training: every replica begins from the same weights)."""
    for v in variables:
        v.assign(broadcast(v.read_value(), root))


def _leaves(grads, out):
    if grads is None:
        return
    if isinstance(grads, (list, tuple)):
        for g in grads:
            _leaves(g, out)
    elif isinstance(grads, dict):
        for g in grads.values():
            _leaves(g, out)
    else:
        out.append(grads)


def _rebuild(grads, reduced):
    if grads is None:
        return None
    if isinstance(grads, (list, tuple)):
        return type(grads)(_rebuild(g, reduced) for g in grads)
    if isinstance(grads, dict):
        return {k: _rebuild(g, reduced) for k, g in grads.items()}
    return next(reduced)


def _reduce_structure(grads, op):
    """Every non-None leaf reduced in one grouped all-reduce; the structure
    kept, None left None (the same on every process, so every process
    issues the same group, or none when there is no gradient at all)."""
    leaves = []
    _leaves(grads, leaves)
    reduced = iter(grouped_all_reduce(leaves, op) if leaves else [])
    return _rebuild(grads, reduced)


class DistributedGradientTape:
    """Wraps a GradientTape: ``gradient()`` returns the gradients averaged
    (``op="mean"``) or summed over every process, all of them in one
    :func:`grouped_all_reduce`. A source without a gradient (None) must be
    None on every process."""

    def __init__(self, tape, op="mean"):
        _op(op)
        self._tape = tape
        self._reduce = op

    def gradient(self, target, sources, output_gradients=None, **kwargs):
        grads = self._tape.gradient(target, sources, output_gradients, **kwargs)
        return _reduce_structure(grads, self._reduce)

    def __getattr__(self, name):
        return getattr(self._tape, name)

    def __enter__(self):
        self._tape.__enter__()
        return self

    def __exit__(self, *exc):
        return self._tape.__exit__(*exc)


@_atexit.register
def _shutdown():
    _ctensor.dist_shutdown()


__all__ = ["init", "is_initialized", "rank", "size", "local_rank", "local_size", "job_name", "mpi_library_version",
           "set_timeout", "list_devices", "all_reduce", "grouped_all_reduce", "broadcast", "all_gather", "reduce_scatter", "barrier",
           "broadcast_variables", "DistributedGradientTape"]
