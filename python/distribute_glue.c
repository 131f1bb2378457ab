/*
 * ctensor.distribute's C half: the process's one process group (made by
 * distribute.init(), freed at exit) and its collectives. Included at the
 * end of ctensor_module.c, whose helpers (tensor_of, wrap_result, OP_BEGIN)
 * it uses.
 */

static ct_process_group *g_group;

static ct_process_group *group_or_raise(void) {
  if (!g_group)
    PyErr_SetString(PyExc_RuntimeError,
                    "ctensor.distribute: not initialised; call ctensor.distribute.init() first (under mpirun)");
  return g_group;
}

static PyObject *m_dist_init(PyObject *m, PyObject *args) {
  const char *job;
  double timeout;
  if (!PyArg_ParseTuple(args, "sd", &job, &timeout)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  if (g_group) Py_RETURN_NONE; /* init() twice is harmless, as in Horovod */
  ct_process_group_options opts = {job, timeout};
  ct_process_group *pg = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_process_group_new(ctx, &opts, &pg);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  g_group = pg;
  Py_RETURN_NONE;
}

static PyObject *m_dist_info(PyObject *m, PyObject *unused) {
  if (!g_group) Py_RETURN_NONE;
  return Py_BuildValue("(iiiissd)", ct_process_group_rank(g_group), ct_process_group_size(g_group),
                       ct_process_group_local_rank(g_group), ct_process_group_local_size(g_group),
                       ct_process_group_job(g_group), ct_process_group_mpi_version(g_group),
                       ct_process_group_timeout(g_group));
}

/* kind: 0 all_reduce(op), 1 broadcast(root), 2 all_gather, 3 reduce_scatter(op). */
static PyObject *m_dist_collective(PyObject *m, PyObject *args) {
  int kind, arg;
  PyObject *xo;
  if (!PyArg_ParseTuple(args, "iOi", &kind, &xo, &arg)) return NULL;
  ct_process_group *pg = group_or_raise();
  ct_tensor *x = pg ? tensor_of(xo, "collective") : NULL;
  if (!x) return NULL;
  if (kind < 0 || kind > 3) {
    PyErr_Format(PyExc_ValueError, "unknown collective %d", kind);
    return NULL;
  }
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  switch (kind) {
    case 0: st = ct_process_group_all_reduce(pg, x, (ct_reduce_op)arg, &t); break;
    case 1: st = ct_process_group_broadcast(pg, x, arg, &t); break;
    case 2: st = ct_process_group_all_gather(pg, x, &t); break;
    default: st = ct_process_group_reduce_scatter(pg, x, (ct_reduce_op)arg, &t); break;
  }
  OP_END;
  return wrap_result(st, t);
}

/* all_reduce_n over a sequence of tensors: a list of the results, in
 * order. The C call writes nothing on an error, so nothing leaks. */
static PyObject *m_dist_all_reduce_n(PyObject *m, PyObject *args) {
  PyObject *seq_in;
  int op;
  if (!PyArg_ParseTuple(args, "Oi", &seq_in, &op)) return NULL;
  ct_process_group *pg = group_or_raise();
  if (!pg) return NULL;
  PyObject *seq = PySequence_Fast(seq_in, "dist_all_reduce_n: expected a list of tensors");
  if (!seq) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  if (n > INT_MAX) {
    Py_DECREF(seq);
    PyErr_Format(PyExc_ValueError, "dist_all_reduce_n: %zd tensors, at most %d", n, INT_MAX);
    return NULL;
  }
  const ct_tensor **xs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *xs);
  ct_tensor **outs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *outs);
  PyObject *list = NULL;
  if (!xs || !outs) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < n; i++)
    if (!(xs[i] = tensor_of(PySequence_Fast_GET_ITEM(seq, i), "all_reduce_n"))) goto done;
  ct_status st;
  /* the tensors stay referenced by seq while the GIL is released */
  OP_BEGIN;
  st = ct_process_group_all_reduce_n(pg, xs, (int)n, (ct_reduce_op)op, outs);
  OP_END;
  if (st != CT_OK) {
    raise_status(st);
    goto done;
  }
  list = PyList_New(n);
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *t = list ? wrap(outs[i]) : NULL;
    if (!t) {
      /* wrap() owns what it was given; the rest are released here */
      for (Py_ssize_t k = i + 1; k < n; k++) ct_tensor_release(outs[k]);
      if (!list) ct_tensor_release(outs[i]);
      Py_CLEAR(list);
      break;
    }
    PyList_SET_ITEM(list, i, t);
  }
done:
  PyMem_Free(xs);
  PyMem_Free(outs);
  Py_DECREF(seq);
  return list;
}

static PyObject *m_dist_barrier(PyObject *m, PyObject *unused) {
  ct_process_group *pg = group_or_raise();
  if (!pg) return NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_process_group_barrier(pg);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_dist_set_timeout(PyObject *m, PyObject *args) {
  double seconds;
  if (!PyArg_ParseTuple(args, "d", &seconds)) return NULL;
  ct_process_group *pg = group_or_raise();
  if (!pg) return NULL;
  ct_status st = ct_process_group_set_timeout(pg, seconds);
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

/* [(name, device_type, remote), ...]: this task's devices, then the others'. */
static PyObject *m_dist_devices(PyObject *m, PyObject *unused) {
  ct_process_group *pg = group_or_raise();
  if (!pg) return NULL;
  int n;
  OP_BEGIN;
  n = ct_process_group_device_count(pg);
  OP_END;
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n; i++) {
    ct_logical_device_info info;
    bool remote = false;
    ct_status st = ct_process_group_device_get(pg, i, &info, &remote);
    if (st != CT_OK) {
      Py_DECREF(list);
      return raise_status(st);
    }
    PyObject *row = Py_BuildValue("(ssO)", info.name, info.device_type, remote ? Py_True : Py_False);
    if (!row || PyList_Append(list, row) < 0) Py_CLEAR(list);
    Py_XDECREF(row);
  }
  return list;
}

static PyObject *m_dist_shutdown(PyObject *m, PyObject *unused) {
  ct_process_group *pg = g_group;
  g_group = NULL;
  ct_process_group_free(pg);
  Py_RETURN_NONE;
}

static PyMethodDef dist_methods[] = {
    {"dist_init", m_dist_init, METH_VARARGS, NULL},
    {"dist_info", m_dist_info, METH_NOARGS, NULL},
    {"dist_collective", m_dist_collective, METH_VARARGS, NULL},
    {"dist_all_reduce_n", m_dist_all_reduce_n, METH_VARARGS, NULL},
    {"dist_barrier", m_dist_barrier, METH_NOARGS, NULL},
    {"dist_set_timeout", m_dist_set_timeout, METH_VARARGS, NULL},
    {"dist_devices", m_dist_devices, METH_NOARGS, NULL},
    {"dist_shutdown", m_dist_shutdown, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static int add_distribute(PyObject *m) { return PyModule_AddFunctions(m, dist_methods); }
