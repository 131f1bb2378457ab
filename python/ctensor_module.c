/*
 * _ctensor: the C half of the `ctensor` Python package.
 *
 * This file is a thin, strict wrapper of include/ctensor.h. It owns the
 * process's one ct_context (TensorFlow has one global eager context too),
 * defines the tensor base type (a ct_tensor reference plus a lazily made
 * host copy for the buffer protocol), and exposes each C call with
 * already-normalised arguments (tuples of ints, dtype numbers). Everything
 * TensorFlow-shaped — argument conversion, dtype inference, reprs, config
 * errors as ValueError/RuntimeError — lives in the Python files, where it
 * is short to write and easy to read.
 *
 * Reference rules: a TensorBase owns exactly one ct_tensor reference,
 * dropped in dealloc. Ops release the GIL while the library works; a log
 * line produced meanwhile re-acquires it in log_to_python().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include <ctensor.h>

/* The process's context (created at import, freed by _shutdown at exit). */
static ct_context *g_ctx;
/* Ops running with the GIL released; _shutdown frees the context only when
 * none is. Changed only while holding the GIL. */
static int g_in_flight;
/* Set by ctensor/__init__.py: the class ops instantiate (a subclass of
 * TensorBase), DType objects by ct_dtype number, {status code: exception
 * class}, and the callable log lines go to. */
static PyTypeObject *g_tensor_type;
static PyObject *g_dtypes;
static PyObject *g_error_classes;
static PyObject *g_log_sink;

#define OP_BEGIN                                                                                              \
  g_in_flight++;                                                                                              \
  Py_BEGIN_ALLOW_THREADS
#define OP_END                                                                                                \
  Py_END_ALLOW_THREADS;                                                                                       \
  g_in_flight--
/* Any call that may discover or initialise devices runs without the GIL
 * too: initialisation may log, the log callback takes the GIL, and another
 * thread holding the GIL may be waiting for initialisation to finish. */
#define UNLOCKED(stmt)                                                                                        \
  do {                                                                                                        \
    OP_BEGIN;                                                                                                 \
    stmt;                                                                                                     \
    OP_END;                                                                                                   \
  } while (0)

/* ---- errors ------------------------------------------------------------- */

/* Raises the exception registered for `st` with this thread's message. */
static PyObject *raise_status(ct_status st) {
  const char *msg = ct_last_error();
  PyObject *cls = NULL;
  if (g_error_classes) {
    PyObject *key = PyLong_FromLong((long)st);
    if (!key) return NULL;
    cls = PyDict_GetItemWithError(g_error_classes, key);
    Py_DECREF(key);
    if (!cls && PyErr_Occurred()) return NULL;
  }
  if (!cls) {
    PyErr_Format(PyExc_RuntimeError, "%s: %s", ct_status_name(st), msg);
    return NULL;
  }
  PyObject *exc = PyObject_CallFunction(cls, "OOs", Py_None, Py_None, msg);
  if (!exc) return NULL;
  PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
  Py_DECREF(exc);
  return NULL;
}

static ct_context *ctx_or_raise(void) {
  if (!g_ctx) PyErr_SetString(PyExc_RuntimeError, "ctensor: the context was shut down (interpreter exit)");
  return g_ctx;
}

/* ---- the tensor base type ------------------------------------------------ */

typedef struct {
  PyObject_HEAD
  ct_tensor *t;
  void *host;                       /* host copy for the buffer protocol */
  Py_ssize_t shape[CT_MAX_RANK];    /* Py_buffer views of t's shape */
  Py_ssize_t strides[CT_MAX_RANK];
  PyObject *weakrefs;
} TensorObject;

static PyTypeObject TensorBase_Type;

static int is_tensor(PyObject *o) { return PyObject_TypeCheck(o, &TensorBase_Type); }

/* Takes ownership of `t` whatever happens. */
static PyObject *wrap(ct_tensor *t) {
  PyTypeObject *type = g_tensor_type ? g_tensor_type : &TensorBase_Type;
  TensorObject *self = (TensorObject *)type->tp_alloc(type, 0);
  if (!self) {
    ct_tensor_release(t);
    return NULL;
  }
  self->t = t;
  return (PyObject *)self;
}

static PyObject *wrap_result(ct_status st, ct_tensor *t) {
  if (st != CT_OK) return raise_status(st);
  return wrap(t);
}

static void tensor_dealloc(PyObject *o) {
  TensorObject *self = (TensorObject *)o;
  if (self->weakrefs) PyObject_ClearWeakRefs(o);
  ct_tensor_release(self->t);
  free(self->host);
  Py_TYPE(o)->tp_free(o);
}

static PyObject *tensor_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  PyErr_SetString(PyExc_TypeError, "tensors are made by ops: use ctensor.constant(value) to make one");
  return NULL;
}

static ct_tensor *tensor_of(PyObject *o, const char *what) {
  if (!is_tensor(o)) {
    PyErr_Format(PyExc_TypeError, "%s: expected a ctensor.Tensor, got %.100s", what, Py_TYPE(o)->tp_name);
    return NULL;
  }
  return ((TensorObject *)o)->t;
}

static PyObject *tensor_get_device(PyObject *o, void *closure) {
  return PyUnicode_FromString(ct_tensor_device(((TensorObject *)o)->t));
}

static PyObject *tensor_get_backing_device(PyObject *o, void *closure) {
  return PyUnicode_FromString(ct_tensor_backing_device(((TensorObject *)o)->t));
}

static PyObject *tensor_get_shape(PyObject *o, void *closure) {
  const ct_tensor *t = ((TensorObject *)o)->t;
  int rank = ct_tensor_rank(t);
  const int64_t *shape = ct_tensor_shape(t);
  PyObject *tuple = PyTuple_New(rank);
  if (!tuple) return NULL;
  for (int i = 0; i < rank; i++) {
    PyObject *d = PyLong_FromLongLong((long long)shape[i]);
    if (!d) {
      Py_DECREF(tuple);
      return NULL;
    }
    PyTuple_SET_ITEM(tuple, i, d);
  }
  return tuple;
}

static PyObject *tensor_get_dtype(PyObject *o, void *closure) {
  int dt = (int)ct_tensor_dtype(((TensorObject *)o)->t);
  if (g_dtypes && PyTuple_Check(g_dtypes) && dt < PyTuple_GET_SIZE(g_dtypes)) {
    PyObject *d = PyTuple_GET_ITEM(g_dtypes, dt);
    Py_INCREF(d);
    return d;
  }
  return PyUnicode_FromString(ct_dtype_name((ct_dtype)dt));
}

static PyObject *tensor_get_dtype_enum(PyObject *o, void *closure) {
  return PyLong_FromLong((long)ct_tensor_dtype(((TensorObject *)o)->t));
}

static PyObject *tensor_get_ndim(PyObject *o, void *closure) {
  return PyLong_FromLong(ct_tensor_rank(((TensorObject *)o)->t));
}

static PyObject *tensor_get_size(PyObject *o, void *closure) {
  return PyLong_FromLongLong((long long)ct_tensor_num_elements(((TensorObject *)o)->t));
}

static PyGetSetDef tensor_getset[] = {
    {"device", tensor_get_device, NULL, "the device the op that made this tensor ran on", NULL},
    {"backing_device", tensor_get_backing_device, NULL, "the device holding the bytes", NULL},
    {"shape", tensor_get_shape, NULL, "the shape, a tuple of ints", NULL},
    {"dtype", tensor_get_dtype, NULL, "the element type, a ctensor.DType", NULL},
    {"_dtype_enum", tensor_get_dtype_enum, NULL, "the ct_dtype number", NULL},
    {"ndim", tensor_get_ndim, NULL, "the rank", NULL},
    {"_size", tensor_get_size, NULL, "the number of elements", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

/* The host copy, made once: tensors are immutable, so it never goes stale. */
static int ensure_host(TensorObject *self) {
  if (self->host) return 0;
  size_t n = ct_tensor_nbytes(self->t);
  void *buf = malloc(n ? n : 1);
  if (!buf) {
    PyErr_NoMemory();
    return -1;
  }
  ct_status st;
  OP_BEGIN;
  st = ct_tensor_to_host(self->t, buf, n);
  OP_END;
  if (st != CT_OK) {
    free(buf);
    raise_status(st);
    return -1;
  }
  self->host = buf;
  return 0;
}

static PyObject *scalar_at(ct_dtype dt, const unsigned char *p) {
  switch (dt) {
    case CT_FLOAT32: {
      float v;
      memcpy(&v, p, sizeof v);
      return PyFloat_FromDouble(v);
    }
    case CT_FLOAT64: {
      double v;
      memcpy(&v, p, sizeof v);
      return PyFloat_FromDouble(v);
    }
    case CT_FLOAT16: {
      uint16_t v;
      memcpy(&v, p, sizeof v);
      return PyFloat_FromDouble(ct_half_to_float(v));
    }
    case CT_BFLOAT16: {
      uint16_t v;
      memcpy(&v, p, sizeof v);
      return PyFloat_FromDouble(ct_bfloat16_to_float(v));
    }
    case CT_INT32: {
      int32_t v;
      memcpy(&v, p, sizeof v);
      return PyLong_FromLong(v);
    }
    case CT_INT64: {
      int64_t v;
      memcpy(&v, p, sizeof v);
      return PyLong_FromLongLong((long long)v);
    }
    case CT_BOOL:
      return PyBool_FromLong(*p != 0);
  }
  PyErr_Format(PyExc_TypeError, "unknown dtype %d", (int)dt);
  return NULL;
}

/* Nested lists of axis `axis` onwards, starting at element *pos. */
static PyObject *to_list_rec(const ct_tensor *t, const unsigned char *host, int axis, int64_t *pos) {
  ct_dtype dt = ct_tensor_dtype(t);
  if (axis == ct_tensor_rank(t)) {
    PyObject *v = scalar_at(dt, host + (size_t)*pos * ct_dtype_size(dt));
    (*pos)++;
    return v;
  }
  int64_t n = ct_tensor_dim(t, axis);
  PyObject *list = PyList_New((Py_ssize_t)n);
  if (!list) return NULL;
  for (int64_t i = 0; i < n; i++) {
    PyObject *item = to_list_rec(t, host, axis + 1, pos);
    if (!item) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, item);
  }
  return list;
}

static PyObject *tensor_tolist(PyObject *o, PyObject *unused) {
  TensorObject *self = (TensorObject *)o;
  if (ensure_host(self) < 0) return NULL;
  int64_t pos = 0;
  return to_list_rec(self->t, self->host, 0, &pos);
}

static PyMethodDef tensor_methods[] = {
    {"tolist", tensor_tolist, METH_NOARGS, "The elements as (nested) Python lists; a scalar as a number."},
    {NULL, NULL, 0, NULL}};

static const char *buffer_format(ct_dtype dt) {
  switch (dt) {
    case CT_FLOAT32: return "f";
    case CT_FLOAT64: return "d";
    case CT_FLOAT16: return "e";
    case CT_INT32: return "i";
    case CT_INT64: return "q";
    case CT_BOOL: return "?";
    case CT_BFLOAT16: break;
  }
  return NULL;
}

/* Read-only, C-contiguous export of the host copy. */
static int tensor_getbuffer(PyObject *o, Py_buffer *view, int flags) {
  TensorObject *self = (TensorObject *)o;
  view->obj = NULL;
  ct_dtype dt = ct_tensor_dtype(self->t);
  const char *fmt = buffer_format(dt);
  if (!fmt) {
    PyErr_Format(PyExc_BufferError, "a %s tensor has no buffer format; use .numpy() (float32 values) or .tolist()",
                 ct_dtype_name(dt));
    return -1;
  }
  if (flags & PyBUF_WRITABLE) {
    PyErr_SetString(PyExc_BufferError, "tensors are immutable: their buffer is read-only");
    return -1;
  }
  if (ensure_host(self) < 0) return -1;
  int rank = ct_tensor_rank(self->t);
  const int64_t *shape = ct_tensor_shape(self->t);
  Py_ssize_t item = (Py_ssize_t)ct_dtype_size(dt);
  Py_ssize_t stride = item;
  for (int i = rank - 1; i >= 0; i--) {
    self->shape[i] = (Py_ssize_t)shape[i];
    self->strides[i] = stride;
    stride *= (Py_ssize_t)shape[i];
  }
  view->buf = self->host;
  view->obj = o;
  Py_INCREF(o);
  view->len = (Py_ssize_t)ct_tensor_nbytes(self->t);
  view->readonly = 1;
  view->itemsize = item;
  view->format = (flags & PyBUF_FORMAT) ? (char *)fmt : NULL;
  view->ndim = rank;
  view->shape = (flags & PyBUF_ND) == PyBUF_ND ? self->shape : NULL;
  view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  return 0;
}

static PyBufferProcs tensor_as_buffer = {tensor_getbuffer, NULL};

static PyTypeObject TensorBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ctensor.TensorBase",
    .tp_basicsize = sizeof(TensorObject),
    .tp_dealloc = tensor_dealloc,
    .tp_as_buffer = &tensor_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A ctensor tensor: one reference to an immutable ct_tensor on one device.",
    .tp_weaklistoffset = offsetof(TensorObject, weakrefs),
    .tp_methods = tensor_methods,
    .tp_getset = tensor_getset,
    .tp_new = tensor_new,
};

/* ---- argument helpers ---------------------------------------------------- */

/* A sequence of ints into out[0..*n), at most cap entries. */
static int int64_seq(PyObject *seq, const char *what, int64_t *out, int cap, int *n) {
  PyObject *fast = PySequence_Fast(seq, what);
  if (!fast) return -1;
  Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
  if (len > cap) {
    PyErr_Format(PyExc_ValueError, "%s: %zd entries, at most %d allowed", what, len, cap);
    Py_DECREF(fast);
    return -1;
  }
  for (Py_ssize_t i = 0; i < len; i++) {
    long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
    if (v == -1 && PyErr_Occurred()) {
      Py_DECREF(fast);
      return -1;
    }
    out[i] = (int64_t)v;
  }
  *n = (int)len;
  Py_DECREF(fast);
  return 0;
}

static int int_seq(PyObject *seq, const char *what, int *out, int cap, int *n) {
  int64_t tmp[CT_MAX_RANK];
  if (int64_seq(seq, what, tmp, cap < CT_MAX_RANK ? cap : CT_MAX_RANK, n) < 0) return -1;
  for (int i = 0; i < *n; i++) {
    if (tmp[i] < -CT_MAX_RANK || tmp[i] > 1000000) {
      PyErr_Format(PyExc_ValueError, "%s: %lld is out of range", what, (long long)tmp[i]);
      return -1;
    }
    out[i] = (int)tmp[i];
  }
  return 0;
}

static int valid_dtype(int dt) {
  if (dt < 0 || dt >= CT_DTYPE_COUNT) {
    PyErr_Format(PyExc_ValueError, "unknown dtype number %d", dt);
    return 0;
  }
  return 1;
}

/* ---- tensor creation ----------------------------------------------------- */

/* Writes one Python number as dtype `dt` at p. Integer dtypes take only
 * integers (TensorFlow refuses to truncate 1.5 into an int32). */
static int store_value(ct_dtype dt, PyObject *v, unsigned char *p) {
  switch (dt) {
    case CT_FLOAT32:
    case CT_FLOAT64:
    case CT_FLOAT16:
    case CT_BFLOAT16: {
      double d = PyFloat_AsDouble(v);
      if (d == -1.0 && PyErr_Occurred()) return -1;
      if (dt == CT_FLOAT64) {
        memcpy(p, &d, sizeof d);
      } else if (dt == CT_FLOAT32) {
        float f = (float)d;
        memcpy(p, &f, sizeof f);
      } else {
        uint16_t h = dt == CT_FLOAT16 ? ct_float_to_half((float)d) : ct_float_to_bfloat16((float)d);
        memcpy(p, &h, sizeof h);
      }
      return 0;
    }
    case CT_INT32:
    case CT_INT64: {
      if (PyFloat_Check(v)) {
        PyErr_Format(PyExc_TypeError, "Cannot convert %R to EagerTensor of dtype %s", v, ct_dtype_name(dt));
        return -1;
      }
      PyObject *idx = PyNumber_Index(v);
      if (!idx) return -1;
      long long x = PyLong_AsLongLong(idx);
      Py_DECREF(idx);
      if (x == -1 && PyErr_Occurred()) return -1;
      if (dt == CT_INT32) {
        if (x < INT32_MIN || x > INT32_MAX) {
          PyErr_Format(PyExc_OverflowError, "Can't convert Python int %lld to int32 (out of range)", x);
          return -1;
        }
        int32_t y = (int32_t)x;
        memcpy(p, &y, sizeof y);
      } else {
        int64_t y = (int64_t)x;
        memcpy(p, &y, sizeof y);
      }
      return 0;
    }
    case CT_BOOL: {
      int b = PyObject_IsTrue(v);
      if (b < 0) return -1;
      *p = (unsigned char)b;
      return 0;
    }
  }
  PyErr_SetString(PyExc_TypeError, "unknown dtype");
  return -1;
}

static PyObject *place_host_data(int dtype, const int64_t *shape, int rank, const void *data) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_tensor_from_host(ctx, (ct_dtype)dtype, shape, rank, data, &t);
  OP_END;
  return wrap_result(st, t);
}

/* from_values(dtype, shape, flat_sequence_of_numbers) */
static PyObject *m_from_values(PyObject *m, PyObject *args) {
  int dtype;
  PyObject *shape_obj, *values;
  if (!PyArg_ParseTuple(args, "iOO", &dtype, &shape_obj, &values)) return NULL;
  if (!valid_dtype(dtype)) return NULL;
  int64_t shape[CT_MAX_RANK];
  int rank;
  if (int64_seq(shape_obj, "shape", shape, CT_MAX_RANK, &rank) < 0) return NULL;
  PyObject *fast = PySequence_Fast(values, "values must be a sequence");
  if (!fast) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  int64_t want = 1;
  bool overflow = false; /* the shape is the caller's: no wrapped count may match */
  for (int i = 0; i < rank; i++) overflow |= shape[i] < 0 || __builtin_mul_overflow(want, shape[i], &want);
  if (overflow) {
    PyErr_Format(PyExc_ValueError, "%zd values for a shape with a negative or too large size", n);
    Py_DECREF(fast);
    return NULL;
  }
  if (rank >= 0 && want != (int64_t)n) {
    PyErr_Format(PyExc_ValueError, "%zd values for a shape of %lld elements", n, (long long)want);
    Py_DECREF(fast);
    return NULL;
  }
  size_t item = ct_dtype_size((ct_dtype)dtype);
  unsigned char *buf = malloc(n ? (size_t)n * item : 1);
  if (!buf) {
    Py_DECREF(fast);
    return PyErr_NoMemory();
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    if (store_value((ct_dtype)dtype, PySequence_Fast_GET_ITEM(fast, i), buf + (size_t)i * item) < 0) {
      free(buf);
      Py_DECREF(fast);
      return NULL;
    }
  }
  Py_DECREF(fast);
  PyObject *r = place_host_data(dtype, shape, rank, buf);
  free(buf);
  return r;
}

/* from_buffer(dtype, shape, obj): obj exports a C-contiguous buffer whose
 * bytes are already dtype's (the Python side checked the format). */
static PyObject *m_from_buffer(PyObject *m, PyObject *args) {
  int dtype;
  PyObject *shape_obj, *obj;
  if (!PyArg_ParseTuple(args, "iOO", &dtype, &shape_obj, &obj)) return NULL;
  if (!valid_dtype(dtype)) return NULL;
  int64_t shape[CT_MAX_RANK];
  int rank;
  if (int64_seq(shape_obj, "shape", shape, CT_MAX_RANK, &rank) < 0) return NULL;
  Py_buffer view;
  if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
  /* The shape comes from the caller: a negative or overflowing product
   * must be an error, not a wrapped count that happens to match. */
  int64_t want = (int64_t)ct_dtype_size((ct_dtype)dtype);
  bool overflow = false;
  for (int i = 0; i < rank; i++) overflow |= shape[i] < 0 || __builtin_mul_overflow(want, shape[i], &want);
  if (overflow) {
    PyErr_Format(PyExc_ValueError, "a %s tensor of this shape has a negative or too large size (%zd bytes given)",
                 ct_dtype_name((ct_dtype)dtype), view.len);
    PyBuffer_Release(&view);
    return NULL;
  }
  if (want != (int64_t)view.len) {
    PyErr_Format(PyExc_ValueError, "buffer has %zd bytes, a %s tensor of this shape needs %lld", view.len,
                 ct_dtype_name((ct_dtype)dtype), (long long)want);
    PyBuffer_Release(&view);
    return NULL;
  }
  PyObject *r = place_host_data(dtype, shape, rank, view.len ? view.buf : NULL);
  PyBuffer_Release(&view);
  return r;
}

static PyObject *m_fill(PyObject *m, PyObject *args) {
  int dtype;
  PyObject *shape_obj;
  double value;
  if (!PyArg_ParseTuple(args, "iOd", &dtype, &shape_obj, &value)) return NULL;
  if (!valid_dtype(dtype)) return NULL;
  int64_t shape[CT_MAX_RANK];
  int rank;
  if (int64_seq(shape_obj, "shape", shape, CT_MAX_RANK, &rank) < 0) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  if (value == 0.0)
    st = ct_zeros(ctx, (ct_dtype)dtype, shape, rank, &t);
  else if (value == 1.0)
    st = ct_ones(ctx, (ct_dtype)dtype, shape, rank, &t);
  else
    st = ct_fill(ctx, (ct_dtype)dtype, shape, rank, value, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_range(PyObject *m, PyObject *args) {
  int dtype;
  double start, limit, delta;
  if (!PyArg_ParseTuple(args, "iddd", &dtype, &start, &limit, &delta)) return NULL;
  if (!valid_dtype(dtype)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_range(ctx, (ct_dtype)dtype, start, limit, delta, &t);
  OP_END;
  return wrap_result(st, t);
}

/* random(kind, dtype, shape, a, b, seed, offset): kind 0 uniform [a, b),
 * 1 normal (mean a, stddev b), 2 truncated normal. */
static PyObject *m_random(PyObject *m, PyObject *args) {
  int kind, dtype;
  PyObject *shape_obj;
  double a, b;
  unsigned long long seed, offset;
  if (!PyArg_ParseTuple(args, "iiOddKK", &kind, &dtype, &shape_obj, &a, &b, &seed, &offset)) return NULL;
  if (!valid_dtype(dtype)) return NULL;
  if (kind < 0 || kind > 2) {
    PyErr_Format(PyExc_ValueError, "unknown random kind %d", kind);
    return NULL;
  }
  int64_t shape[CT_MAX_RANK];
  int rank;
  if (int64_seq(shape_obj, "shape", shape, CT_MAX_RANK, &rank) < 0) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  if (kind == 0)
    st = ct_random_uniform(ctx, (ct_dtype)dtype, shape, rank, a, b, seed, offset, &t);
  else if (kind == 1)
    st = ct_random_normal(ctx, (ct_dtype)dtype, shape, rank, a, b, seed, offset, &t);
  else
    st = ct_truncated_normal(ctx, (ct_dtype)dtype, shape, rank, a, b, seed, offset, &t);
  OP_END;
  return wrap_result(st, t);
}

/* ---- ops ------------------------------------------------------------------ */

typedef ct_status (*binary_fn)(ct_context *, const ct_tensor *, const ct_tensor *, ct_tensor **);
typedef ct_status (*unary_fn)(ct_context *, const ct_tensor *, ct_tensor **);

/* Indexed by the numbers ctensor/_ops.py uses (BINARY_* there). */
static const binary_fn binary_ops[] = {ct_add,     ct_sub,      ct_mul,       ct_div,       ct_maximum,
                                       ct_minimum, ct_pow,      ct_equal,     ct_not_equal, ct_less,
                                       ct_less_equal, ct_greater, ct_greater_equal, ct_floor_div,
                                       ct_floor_mod};
static const unary_fn unary_ops[] = {ct_neg,  ct_abs,     ct_exp,       ct_log,      ct_sqrt,         ct_tanh,
                                     ct_sigmoid, ct_relu, ct_square, ct_zeros_like, ct_ones_like, ct_stop_gradient};

static PyObject *m_binary(PyObject *m, PyObject *args) {
  int op;
  PyObject *ao, *bo;
  if (!PyArg_ParseTuple(args, "iOO", &op, &ao, &bo)) return NULL;
  if (op < 0 || op >= (int)(sizeof binary_ops / sizeof binary_ops[0])) {
    PyErr_Format(PyExc_ValueError, "unknown binary op %d", op);
    return NULL;
  }
  ct_tensor *a = tensor_of(ao, "binary op"), *b = a ? tensor_of(bo, "binary op") : NULL;
  ct_context *ctx = b ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = binary_ops[op](ctx, a, b, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_unary(PyObject *m, PyObject *args) {
  int op;
  PyObject *xo;
  if (!PyArg_ParseTuple(args, "iO", &op, &xo)) return NULL;
  if (op < 0 || op >= (int)(sizeof unary_ops / sizeof unary_ops[0])) {
    PyErr_Format(PyExc_ValueError, "unknown unary op %d", op);
    return NULL;
  }
  ct_tensor *x = tensor_of(xo, "unary op");
  ct_context *ctx = x ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = unary_ops[op](ctx, x, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_matmul(PyObject *m, PyObject *args) {
  PyObject *ao, *bo;
  int ta, tb;
  if (!PyArg_ParseTuple(args, "OOpp", &ao, &bo, &ta, &tb)) return NULL;
  ct_tensor *a = tensor_of(ao, "matmul"), *b = a ? tensor_of(bo, "matmul") : NULL;
  ct_context *ctx = b ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_matmul(ctx, a, b, ta != 0, tb != 0, &t);
  OP_END;
  return wrap_result(st, t);
}

typedef ct_status (*reduce_fn)(ct_context *, const ct_tensor *, const int *, int, bool, ct_tensor **);
static const reduce_fn reduce_ops[] = {ct_reduce_sum, ct_reduce_mean, ct_reduce_max, ct_reduce_min};

/* reduce(op, x, axes_or_None, keepdims) */
static PyObject *m_reduce(PyObject *m, PyObject *args) {
  int op, keepdims;
  PyObject *xo, *axes_obj;
  if (!PyArg_ParseTuple(args, "iOOp", &op, &xo, &axes_obj, &keepdims)) return NULL;
  if (op < 0 || op >= (int)(sizeof reduce_ops / sizeof reduce_ops[0])) {
    PyErr_Format(PyExc_ValueError, "unknown reduction %d", op);
    return NULL;
  }
  ct_tensor *x = tensor_of(xo, "reduce");
  if (!x) return NULL;
  int axes[CT_MAX_RANK];
  int n = 0;
  if (axes_obj != Py_None && int_seq(axes_obj, "axis", axes, CT_MAX_RANK, &n) < 0) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = reduce_ops[op](ctx, x, axes_obj == Py_None ? NULL : axes, n, keepdims != 0, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_argmax(PyObject *m, PyObject *args) {
  PyObject *xo;
  int axis, dtype;
  if (!PyArg_ParseTuple(args, "Oii", &xo, &axis, &dtype)) return NULL;
  ct_tensor *x = tensor_of(xo, "argmax");
  ct_context *ctx = x ? ctx_or_raise() : NULL;
  if (!ctx || !valid_dtype(dtype)) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_argmax(ctx, x, axis, (ct_dtype)dtype, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_cast(PyObject *m, PyObject *args) {
  PyObject *xo;
  int dtype;
  if (!PyArg_ParseTuple(args, "Oi", &xo, &dtype)) return NULL;
  ct_tensor *x = tensor_of(xo, "cast");
  ct_context *ctx = x ? ctx_or_raise() : NULL;
  if (!ctx || !valid_dtype(dtype)) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_cast(ctx, x, (ct_dtype)dtype, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_reshape(PyObject *m, PyObject *args) {
  PyObject *xo, *shape_obj;
  if (!PyArg_ParseTuple(args, "OO", &xo, &shape_obj)) return NULL;
  ct_tensor *x = tensor_of(xo, "reshape");
  if (!x) return NULL;
  int64_t shape[CT_MAX_RANK];
  int rank;
  if (int64_seq(shape_obj, "shape", shape, CT_MAX_RANK, &rank) < 0) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_reshape(ctx, x, shape, rank, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_transpose(PyObject *m, PyObject *args) {
  PyObject *xo, *perm_obj;
  if (!PyArg_ParseTuple(args, "OO", &xo, &perm_obj)) return NULL;
  ct_tensor *x = tensor_of(xo, "transpose");
  if (!x) return NULL;
  int perm[CT_MAX_RANK];
  int n = 0;
  if (perm_obj != Py_None) {
    if (int_seq(perm_obj, "perm", perm, CT_MAX_RANK, &n) < 0) return NULL;
    if (n != ct_tensor_rank(x)) {
      PyErr_Format(PyExc_ValueError, "transpose: perm has %d entries, the tensor has rank %d", n, ct_tensor_rank(x));
      return NULL;
    }
  }
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_transpose(ctx, x, perm_obj == Py_None ? NULL : perm, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_concat(PyObject *m, PyObject *args) {
  PyObject *list;
  int axis;
  if (!PyArg_ParseTuple(args, "Oi", &list, &axis)) return NULL;
  PyObject *fast = PySequence_Fast(list, "concat: values must be a sequence of tensors");
  if (!fast) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  if (n > INT_MAX) {
    Py_DECREF(fast);
    return PyErr_Format(PyExc_ValueError, "concat: too many tensors");
  }
  const ct_tensor **xs = malloc((size_t)(n ? n : 1) * sizeof *xs);
  if (!xs) {
    Py_DECREF(fast);
    return PyErr_NoMemory();
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    xs[i] = tensor_of(PySequence_Fast_GET_ITEM(fast, i), "concat");
    if (!xs[i]) {
      free(xs);
      Py_DECREF(fast);
      return NULL;
    }
  }
  ct_context *ctx = ctx_or_raise();
  ct_tensor *t = NULL;
  ct_status st = CT_OK;
  if (ctx) {
    /* `fast` keeps every input alive while the GIL is released. */
    OP_BEGIN;
    st = ct_concat(ctx, (const ct_tensor *const *)xs, (int)n, axis, &t);
    OP_END;
  }
  free(xs);
  Py_DECREF(fast);
  if (!ctx) return NULL;
  return wrap_result(st, t);
}

static PyObject *m_slice(PyObject *m, PyObject *args) {
  PyObject *xo, *begin_obj, *size_obj;
  if (!PyArg_ParseTuple(args, "OOO", &xo, &begin_obj, &size_obj)) return NULL;
  ct_tensor *x = tensor_of(xo, "slice");
  if (!x) return NULL;
  int64_t begin[CT_MAX_RANK], size[CT_MAX_RANK];
  int nb, ns;
  if (int64_seq(begin_obj, "begin", begin, CT_MAX_RANK, &nb) < 0) return NULL;
  if (int64_seq(size_obj, "size", size, CT_MAX_RANK, &ns) < 0) return NULL;
  int rank = ct_tensor_rank(x);
  if (nb != rank || ns != rank) {
    PyErr_Format(PyExc_ValueError, "slice: begin has %d and size %d entries, the tensor has rank %d", nb, ns, rank);
    return NULL;
  }
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_slice(ctx, x, begin, size, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_gather(PyObject *m, PyObject *args) {
  PyObject *po, *io;
  int axis;
  if (!PyArg_ParseTuple(args, "OOi", &po, &io, &axis)) return NULL;
  ct_tensor *p = tensor_of(po, "gather"), *ix = p ? tensor_of(io, "gather") : NULL;
  ct_context *ctx = ix ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_gather(ctx, p, ix, axis, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *m_copy_to(PyObject *m, PyObject *args) {
  PyObject *xo;
  const char *spec;
  if (!PyArg_ParseTuple(args, "Os", &xo, &spec)) return NULL;
  ct_tensor *x = tensor_of(xo, "identity");
  if (!x || !ctx_or_raise()) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_tensor_copy_to(x, spec, &t);
  OP_END;
  return wrap_result(st, t);
}

/* ---- ops by signature: one row per op -------------------------------------- */

/* Ops whose C signature is not one of the families above (binary, unary,
 * reduce). Each row names the op (it becomes _ctensor.<name>), its
 * signature and its C function; m_row_op parses the arguments the
 * signature says, calls the function without the GIL and wraps the result.
 * A new op with an existing signature is one more row. */
typedef enum {
  SIG_X_INT,   /* (x, int axis) */
  SIG_X_SHAPE, /* (x, shape) */
  SIG_XYZ,     /* (a, b, c) */
  SIG_XY_LOSS, /* (labels, logits) -> the loss; the backprop output is not asked for */
  SIG_XY_I64,  /* (a, b, int64) */
  SIG_ONE_HOT  /* (indices, depth, on_value, off_value, axis, dtype) */
} op_sig;

typedef struct {
  const char *name;
  op_sig sig;
  ct_status (*x_int)(ct_context *, const ct_tensor *, int, ct_tensor **);
  ct_status (*x_shape)(ct_context *, const ct_tensor *, const int64_t *, int, ct_tensor **);
  ct_status (*xyz)(ct_context *, const ct_tensor *, const ct_tensor *, const ct_tensor *, ct_tensor **);
  ct_status (*xy_loss)(ct_context *, const ct_tensor *, const ct_tensor *, ct_tensor **, ct_tensor **);
  ct_status (*xy_i64)(ct_context *, const ct_tensor *, const ct_tensor *, int64_t, ct_tensor **);
  ct_status (*one_hot)(ct_context *, const ct_tensor *, int64_t, double, double, int, ct_dtype, ct_tensor **);
} op_row;

static const op_row op_rows[] = {
    {"softmax", SIG_X_INT, .x_int = ct_softmax},
    {"log_softmax", SIG_X_INT, .x_int = ct_log_softmax},
    {"broadcast_to", SIG_X_SHAPE, .x_shape = ct_broadcast_to},
    {"where", SIG_XYZ, .xyz = ct_where},
    {"sparse_softmax_cross_entropy_with_logits", SIG_XY_LOSS, .xy_loss = ct_sparse_softmax_cross_entropy_with_logits},
    {"softmax_cross_entropy_with_logits", SIG_XY_LOSS, .xy_loss = ct_softmax_cross_entropy_with_logits},
    {"unsorted_segment_sum", SIG_XY_I64, .xy_i64 = ct_unsorted_segment_sum},
    {"one_hot", SIG_ONE_HOT, .one_hot = ct_one_hot},
};
#define N_OP_ROWS ((int)(sizeof op_rows / sizeof op_rows[0]))
/* Filled at import: one method per row, whose `self` is the row number. */
static PyMethodDef op_row_defs[N_OP_ROWS];

static PyObject *m_row_op(PyObject *self, PyObject *args) {
  long i = PyLong_AsLong(self);
  if (i < 0 || i >= N_OP_ROWS) return PyErr_Format(PyExc_SystemError, "op row %ld out of range", i);
  const op_row *r = &op_rows[i];
  PyObject *o[3] = {NULL, NULL, NULL}, *shape_obj = NULL;
  int ia = 0, dt = 0, ok = 0;
  long long i64 = 0;
  double d1 = 0, d2 = 0;
  switch (r->sig) {
    case SIG_X_INT: ok = PyArg_ParseTuple(args, "Oi", &o[0], &ia); break;
    case SIG_X_SHAPE: ok = PyArg_ParseTuple(args, "OO", &o[0], &shape_obj); break;
    case SIG_XYZ: ok = PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2]); break;
    case SIG_XY_LOSS: ok = PyArg_ParseTuple(args, "OO", &o[0], &o[1]); break;
    case SIG_XY_I64: ok = PyArg_ParseTuple(args, "OOL", &o[0], &o[1], &i64); break;
    case SIG_ONE_HOT: ok = PyArg_ParseTuple(args, "OLddii", &o[0], &i64, &d1, &d2, &ia, &dt); break;
  }
  if (!ok) return NULL;
  const ct_tensor *t[3] = {NULL, NULL, NULL};
  for (int k = 0; k < 3; k++)
    if (o[k] && !(t[k] = tensor_of(o[k], r->name))) return NULL;
  int64_t shape[CT_MAX_RANK];
  int rank = 0;
  if (shape_obj && int64_seq(shape_obj, "shape", shape, CT_MAX_RANK, &rank) < 0) return NULL;
  if (r->sig == SIG_ONE_HOT && !valid_dtype(dt)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_tensor *out = NULL;
  ct_status st = CT_OK;
  OP_BEGIN;
  switch (r->sig) {
    case SIG_X_INT: st = r->x_int(ctx, t[0], ia, &out); break;
    case SIG_X_SHAPE: st = r->x_shape(ctx, t[0], shape, rank, &out); break;
    case SIG_XYZ: st = r->xyz(ctx, t[0], t[1], t[2], &out); break;
    case SIG_XY_LOSS: st = r->xy_loss(ctx, t[0], t[1], &out, NULL); break;
    case SIG_XY_I64: st = r->xy_i64(ctx, t[0], t[1], (int64_t)i64, &out); break;
    case SIG_ONE_HOT: st = r->one_hot(ctx, t[0], (int64_t)i64, d1, d2, ia, (ct_dtype)dt, &out); break;
  }
  OP_END;
  return wrap_result(st, out);
}

/* Adds one function per row to the module. */
static int add_op_rows(PyObject *m) {
  PyObject *modname = PyModule_GetNameObject(m);
  if (!modname) return -1;
  for (int i = 0; i < N_OP_ROWS; i++) {
    op_row_defs[i] = (PyMethodDef){op_rows[i].name, m_row_op, METH_VARARGS, NULL};
    PyObject *self = PyLong_FromLong(i);
    PyObject *fn = self ? PyCFunction_NewEx(&op_row_defs[i], self, modname) : NULL;
    Py_XDECREF(self);
    if (!fn || PyModule_AddObject(m, op_rows[i].name, fn) < 0) {
      Py_XDECREF(fn);
      Py_DECREF(modname);
      return -1;
    }
  }
  Py_DECREF(modname);
  return 0;
}

/* ---- variables ---------------------------------------------------------------- */

/* A VariableBase owns one ct_variable reference, dropped in dealloc. */
typedef struct {
  PyObject_HEAD
  ct_variable *v;
  PyObject *weakrefs;
} VariableObject;

static PyTypeObject VariableBase_Type;
/* Set by ctensor/__init__.py: the class variables handed out by C
 * (watched_variables) are made of. */
static PyTypeObject *g_variable_type;

static int is_variable(PyObject *o) { return PyObject_TypeCheck(o, &VariableBase_Type); }

/* Takes ownership of `v` whatever happens. */
static PyObject *wrap_variable(PyTypeObject *type, ct_variable *v) {
  VariableObject *self = (VariableObject *)type->tp_alloc(type, 0);
  if (!self) {
    ct_variable_release(v);
    return NULL;
  }
  self->v = v;
  return (PyObject *)self;
}

/* VariableBase(initial_tensor, trainable, name_or_None): the value is
 * copied to the variable's device (placed like an op). */
static PyObject *variable_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  PyObject *to;
  int trainable;
  const char *name = NULL;
  if (!PyArg_ParseTuple(args, "Opz", &to, &trainable, &name)) return NULL;
  ct_tensor *t = tensor_of(to, "Variable");
  ct_context *ctx = t ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  ct_variable *v = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_variable_new(ctx, t, trainable != 0, name, &v);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  return wrap_variable(type, v);
}

static void variable_dealloc(PyObject *o) {
  VariableObject *self = (VariableObject *)o;
  if (self->weakrefs) PyObject_ClearWeakRefs(o);
  ct_variable_release(self->v);
  Py_TYPE(o)->tp_free(o);
}

static ct_variable *variable_of(PyObject *o) {
  ct_variable *v = ((VariableObject *)o)->v;
  if (!v) PyErr_SetString(PyExc_ValueError, "the variable was never initialised");
  return v;
}

/* _read(): the current value (a new tensor; a tape that records notes it). */
static PyObject *variable_read(PyObject *o, PyObject *unused) {
  ct_variable *v = variable_of(o);
  if (!v || !ctx_or_raise()) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_variable_read(v, &t);
  OP_END;
  return wrap_result(st, t);
}

typedef ct_status (*variable_update_fn)(ct_variable *, const ct_tensor *);
/* Indexed by the numbers ctensor/_variables.py uses: assign, add, sub. */
static const variable_update_fn variable_updates[] = {ct_variable_assign, ct_variable_assign_add,
                                                      ct_variable_assign_sub};

/* _update(kind, tensor) */
static PyObject *variable_update(PyObject *o, PyObject *args) {
  int kind;
  PyObject *to;
  if (!PyArg_ParseTuple(args, "iO", &kind, &to)) return NULL;
  if (kind < 0 || kind >= (int)(sizeof variable_updates / sizeof variable_updates[0]))
    return PyErr_Format(PyExc_ValueError, "unknown variable update %d", kind);
  ct_variable *v = variable_of(o);
  ct_tensor *t = v ? tensor_of(to, "assign") : NULL;
  if (!t || !ctx_or_raise()) return NULL;
  ct_status st;
  OP_BEGIN;
  st = variable_updates[kind](v, t);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *variable_get_device(PyObject *o, void *closure) {
  ct_variable *v = variable_of(o);
  return v ? PyUnicode_FromString(ct_variable_device(v)) : NULL;
}

static PyObject *variable_get_shape(PyObject *o, void *closure) {
  ct_variable *v = variable_of(o);
  if (!v) return NULL;
  int rank = ct_variable_rank(v);
  const int64_t *shape = ct_variable_shape(v);
  PyObject *tuple = PyTuple_New(rank);
  for (int i = 0; tuple && i < rank; i++) {
    PyObject *d = PyLong_FromLongLong((long long)shape[i]);
    if (!d) {
      Py_CLEAR(tuple);
      break;
    }
    PyTuple_SET_ITEM(tuple, i, d);
  }
  return tuple;
}

static PyObject *variable_get_dtype(PyObject *o, void *closure) {
  ct_variable *v = variable_of(o);
  if (!v) return NULL;
  int dt = (int)ct_variable_dtype(v);
  if (g_dtypes && PyTuple_Check(g_dtypes) && dt < PyTuple_GET_SIZE(g_dtypes)) {
    PyObject *d = PyTuple_GET_ITEM(g_dtypes, dt);
    Py_INCREF(d);
    return d;
  }
  return PyUnicode_FromString(ct_dtype_name((ct_dtype)dt));
}

static PyObject *variable_get_c_name(PyObject *o, void *closure) {
  ct_variable *v = variable_of(o);
  return v ? PyUnicode_FromString(ct_variable_name(v)) : NULL;
}

static PyObject *variable_get_trainable(PyObject *o, void *closure) {
  ct_variable *v = variable_of(o);
  return v ? PyBool_FromLong(ct_variable_trainable(v)) : NULL;
}

/* The ct_variable's address: the same for every wrapper of one variable. */
static PyObject *variable_get_handle_id(PyObject *o, void *closure) {
  ct_variable *v = variable_of(o);
  return v ? PyLong_FromVoidPtr(v) : NULL;
}

static PyGetSetDef variable_getset[] = {
    {"device", variable_get_device, NULL, "the device holding the value (full name)", NULL},
    {"shape", variable_get_shape, NULL, "the shape, a tuple of ints", NULL},
    {"dtype", variable_get_dtype, NULL, "the element type, a ctensor.DType", NULL},
    {"_c_name", variable_get_c_name, NULL, "the library's name (without ':0')", NULL},
    {"trainable", variable_get_trainable, NULL, "whether tapes watch it when it is read", NULL},
    {"_handle_id", variable_get_handle_id, NULL, "the same number for every wrapper of one variable", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef variable_methods[] = {
    {"_read", variable_read, METH_NOARGS, "The current value, a new tensor."},
    {"_update", variable_update, METH_VARARGS, "_update(kind, tensor): 0 assign, 1 assign_add, 2 assign_sub."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject VariableBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ctensor.VariableBase",
    .tp_basicsize = sizeof(VariableObject),
    .tp_dealloc = variable_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A ctensor variable: one reference to a ct_variable (a mutable value on one device).",
    .tp_weaklistoffset = offsetof(VariableObject, weakrefs),
    .tp_methods = variable_methods,
    .tp_getset = variable_getset,
    .tp_new = variable_new,
};

/* ---- gradient tapes --------------------------------------------------------------- */

/* A Tape owns one ct_tape, freed in dealloc (from another thread than the
 * one that made it, the library defers the free to that thread). */
typedef struct {
  PyObject_HEAD
  ct_tape *tape;
} TapeObject;

static PyTypeObject Tape_Type;

/* Tape(persistent, watch_accessed_variables): records this thread's ops
 * from now on. */
static PyObject *tape_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  int persistent, watch_accessed;
  if (!PyArg_ParseTuple(args, "pp", &persistent, &watch_accessed)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  TapeObject *self = (TapeObject *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_tape_new(ctx, persistent != 0, watch_accessed != 0, &self->tape);
  OP_END;
  if (st != CT_OK) {
    Py_DECREF(self);
    return raise_status(st);
  }
  return (PyObject *)self;
}

static void tape_dealloc(PyObject *o) {
  ct_tape_free(((TapeObject *)o)->tape);
  Py_TYPE(o)->tp_free(o);
}

typedef ct_status (*tape_fn)(ct_tape *);
/* stop(), resume(), reset(): no arguments, a status. */
static PyObject *tape_call(PyObject *o, tape_fn fn) {
  ct_status st = fn(((TapeObject *)o)->tape);
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}
static PyObject *tape_stop(PyObject *o, PyObject *unused) { return tape_call(o, ct_tape_stop_recording); }
static PyObject *tape_resume(PyObject *o, PyObject *unused) { return tape_call(o, ct_tape_resume_recording); }
static PyObject *tape_reset(PyObject *o, PyObject *unused) { return tape_call(o, ct_tape_reset); }

/* watch(tensor_or_variable) */
static PyObject *tape_watch(PyObject *o, PyObject *x) {
  ct_tape *tape = ((TapeObject *)o)->tape;
  ct_status st;
  if (is_variable(x)) {
    ct_variable *v = variable_of(x);
    if (!v) return NULL;
    st = ct_tape_watch_variable(tape, v);
  } else {
    ct_tensor *t = tensor_of(x, "watch");
    if (!t) return NULL;
    st = ct_tape_watch(tape, t);
  }
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

/* watched_variables() -> [VariableBase, ...] (new wrappers; the Python side
 * maps them to the variables it made) */
static PyObject *tape_watched_variables(PyObject *o, PyObject *unused) {
  ct_tape *tape = ((TapeObject *)o)->tape;
  PyTypeObject *type = g_variable_type ? g_variable_type : &VariableBase_Type;
  int n = ct_tape_watched_variable_count(tape);
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n; i++) {
    ct_variable *v = NULL;
    ct_status st = ct_tape_watched_variable_get(tape, i, &v);
    if (st != CT_OK) {
      Py_DECREF(list);
      return raise_status(st);
    }
    PyObject *item = wrap_variable(type, v);
    if (!item || PyList_Append(list, item) < 0) Py_CLEAR(list);
    Py_XDECREF(item);
  }
  return list;
}

static PyObject *tape_counts(PyObject *o, PyObject *unused) {
  const ct_tape *tape = ((TapeObject *)o)->tape;
  return Py_BuildValue("(LL)", (long long)ct_tape_recorded_op_count(tape), (long long)ct_tape_held_tensor_count(tape));
}

static PyObject *tape_get_recording(PyObject *o, void *closure) {
  return PyBool_FromLong(ct_tape_is_recording(((TapeObject *)o)->tape));
}

/* gradient(targets, output_gradients_or_None, sources, unconnected) ->
 * [tensor or None per source]. targets: tensors; output_gradients: one
 * tensor or None per target; sources: tensors and variables. */
static PyObject *tape_gradient(PyObject *o, PyObject *args) {
  PyObject *targets_obj, *og_obj, *sources_obj;
  int unconnected;
  if (!PyArg_ParseTuple(args, "OOOi", &targets_obj, &og_obj, &sources_obj, &unconnected)) return NULL;
  /* Tuples (copies) hold every argument alive while the GIL is released. */
  PyObject *targets = PySequence_Tuple(targets_obj);
  PyObject *og = targets && og_obj != Py_None ? PySequence_Tuple(og_obj) : NULL;
  PyObject *sources = targets && (og || og_obj == Py_None) ? PySequence_Tuple(sources_obj) : NULL;
  PyObject *result = NULL;
  const ct_tensor **tt = NULL, **ogt = NULL;
  ct_gradient_source *src = NULL;
  ct_tensor **out = NULL;
  if (!sources) goto done;
  Py_ssize_t nt = PyTuple_GET_SIZE(targets), ns = PyTuple_GET_SIZE(sources);
  if (nt > INT_MAX || ns > INT_MAX) {
    PyErr_SetString(PyExc_ValueError, "gradient: too many targets or sources");
    goto done;
  }
  if (og && PyTuple_GET_SIZE(og) != nt) {
    PyErr_Format(PyExc_ValueError, "gradient: %zd output_gradients for %zd targets; give one per target (or None)",
                 PyTuple_GET_SIZE(og), nt);
    goto done;
  }
  tt = calloc((size_t)(nt ? nt : 1), sizeof *tt);
  ogt = calloc((size_t)(nt ? nt : 1), sizeof *ogt);
  src = calloc((size_t)(ns ? ns : 1), sizeof *src);
  out = calloc((size_t)(ns ? ns : 1), sizeof *out);
  if (!tt || !ogt || !src || !out) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < nt; i++) {
    if (!(tt[i] = tensor_of(PyTuple_GET_ITEM(targets, i), "gradient target"))) goto done;
    PyObject *g = og ? PyTuple_GET_ITEM(og, i) : Py_None;
    if (g != Py_None && !(ogt[i] = tensor_of(g, "gradient output_gradients"))) goto done;
  }
  for (Py_ssize_t i = 0; i < ns; i++) {
    PyObject *s = PyTuple_GET_ITEM(sources, i);
    if (is_variable(s)) {
      if (!(src[i].variable = variable_of(s))) goto done;
    } else if (!(src[i].tensor = tensor_of(s, "gradient source"))) {
      goto done;
    }
  }
  ct_context *ctx = ctx_or_raise();
  if (!ctx) goto done;
  ct_status st;
  ct_tape *tape = ((TapeObject *)o)->tape;
  OP_BEGIN;
  st = ct_tape_gradient(tape, tt, (int)nt, og ? ogt : NULL, src, (int)ns, (ct_unconnected_gradients)unconnected, out);
  OP_END;
  if (st != CT_OK) {
    raise_status(st);
    goto done;
  }
  result = PyList_New(ns);
  for (Py_ssize_t i = 0; i < ns; i++) {
    PyObject *item = NULL;
    if (out[i] == NULL) {
      item = Py_None;
      Py_INCREF(item);
    } else {
      item = wrap(out[i]);
    }
    out[i] = NULL;
    if (result && item) {
      PyList_SET_ITEM(result, i, item);
    } else {
      Py_XDECREF(item);
      Py_CLEAR(result);
    }
  }
done:
  if (out)
    for (Py_ssize_t i = 0; sources && i < PyTuple_GET_SIZE(sources); i++) ct_tensor_release(out[i]);
  free(tt);
  free(ogt);
  free(src);
  free(out);
  Py_XDECREF(targets);
  Py_XDECREF(og);
  Py_XDECREF(sources);
  return result;
}

static PyMethodDef tape_methods[] = {
    {"stop", tape_stop, METH_NOARGS, "Stops recording (the thread that made the tape only)."},
    {"resume", tape_resume, METH_NOARGS, "Resumes recording (the thread that made the tape only)."},
    {"reset", tape_reset, METH_NOARGS, "Forgets everything recorded and watched."},
    {"watch", tape_watch, METH_O, "Watches a tensor or a variable."},
    {"watched_variables", tape_watched_variables, METH_NOARGS, "The watched variables, in the order first watched."},
    {"counts", tape_counts, METH_NOARGS, "(recorded ops, held tensors)"},
    {"gradient", tape_gradient, METH_VARARGS, "gradient(targets, output_gradients, sources, unconnected)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef tape_getset[] = {
    {"recording", tape_get_recording, NULL, "whether the tape records now", NULL}, {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject Tape_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ctensor.Tape",
    .tp_basicsize = sizeof(TapeObject),
    .tp_dealloc = tape_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A ct_tape: records the ops of the thread that made it (ctensor.GradientTape wraps it).",
    .tp_methods = tape_methods,
    .tp_getset = tape_getset,
    .tp_new = tape_new,
};

/* ---- optimizers ------------------------------------------------------------------ */

/* An Optimizer owns one ct_optimizer, freed in dealloc (which releases its
 * slots and the variables it holds). Made through a table of constructors,
 * one row per kind; the Python side (ctensor/optimizers.py) checks
 * arguments as Keras does and passes numbers only. */
typedef struct {
  PyObject_HEAD
  ct_optimizer *opt;
} OptimizerObject;

static PyTypeObject Optimizer_Type;

typedef struct {
  const char *kind;
  /* (ctx, learning_rate, p[0..2], flag, out): each row maps the shared
   * parameter list onto its constructor. */
  ct_status (*make)(ct_context *, double, const double *, bool, ct_optimizer **);
} optimizer_row;

static ct_status make_sgd(ct_context *ctx, double lr, const double *p, bool flag, ct_optimizer **out) {
  return ct_optimizer_sgd_new(ctx, lr, p[0], flag, out); /* momentum, nesterov */
}
static ct_status make_adam(ct_context *ctx, double lr, const double *p, bool flag, ct_optimizer **out) {
  return ct_optimizer_adam_new(ctx, lr, p[0], p[1], p[2], flag, out); /* beta_1, beta_2, epsilon, amsgrad */
}

static const optimizer_row optimizer_rows[] = {{"sgd", make_sgd}, {"adam", make_adam}};

/* Optimizer(kind, learning_rate, (p0, p1, p2), flag): kind names a row. */
static PyObject *optimizer_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  const char *kind;
  double lr, p[3] = {0, 0, 0};
  int flag;
  if (!PyArg_ParseTuple(args, "sd(ddd)p", &kind, &lr, &p[0], &p[1], &p[2], &flag)) return NULL;
  const optimizer_row *row = NULL;
  for (size_t i = 0; i < sizeof optimizer_rows / sizeof optimizer_rows[0]; i++)
    if (strcmp(optimizer_rows[i].kind, kind) == 0) row = &optimizer_rows[i];
  if (!row) return PyErr_Format(PyExc_ValueError, "unknown optimizer kind %s", kind);
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  OptimizerObject *self = (OptimizerObject *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  ct_status st;
  OP_BEGIN;
  st = row->make(ctx, lr, p, flag != 0, &self->opt);
  OP_END;
  if (st != CT_OK) {
    Py_DECREF(self);
    return raise_status(st);
  }
  return (PyObject *)self;
}

static void optimizer_dealloc(PyObject *o) {
  OptimizerObject *self = (OptimizerObject *)o;
  /* The optimizer holds a reference to the context, so this is safe
   * after _shutdown too. */
  ct_optimizer_free(self->opt);
  Py_TYPE(o)->tp_free(o);
}

/* apply(variables, gradients): two sequences of one length; every
 * gradient a tensor (None was filtered out in Python). */
static PyObject *optimizer_apply(PyObject *o, PyObject *args) {
  PyObject *vars_obj, *grads_obj;
  if (!PyArg_ParseTuple(args, "OO", &vars_obj, &grads_obj)) return NULL;
  /* Tuples (copies) hold every argument alive while the GIL is released. */
  PyObject *vars = PySequence_Tuple(vars_obj);
  PyObject *grads = vars ? PySequence_Tuple(grads_obj) : NULL;
  PyObject *result = NULL;
  ct_variable **vs = NULL;
  const ct_tensor **gs = NULL;
  if (!grads) goto done;
  Py_ssize_t n = PyTuple_GET_SIZE(vars);
  if (PyTuple_GET_SIZE(grads) != n || n > INT_MAX) {
    PyErr_Format(PyExc_ValueError, "apply: %zd variables and %zd gradients", n, PyTuple_GET_SIZE(grads));
    goto done;
  }
  vs = calloc((size_t)(n ? n : 1), sizeof *vs);
  gs = calloc((size_t)(n ? n : 1), sizeof *gs);
  if (!vs || !gs) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *v = PyTuple_GET_ITEM(vars, i);
    if (!is_variable(v)) {
      PyErr_Format(PyExc_TypeError, "apply_gradients: expected a ctensor.Variable, got %.100s", Py_TYPE(v)->tp_name);
      goto done;
    }
    if (!(vs[i] = variable_of(v)) || !(gs[i] = tensor_of(PyTuple_GET_ITEM(grads, i), "apply_gradients"))) goto done;
  }
  if (!ctx_or_raise()) goto done;
  ct_status st;
  ct_optimizer *opt = ((OptimizerObject *)o)->opt;
  OP_BEGIN;
  st = ct_optimizer_apply_gradients(opt, vs, gs, (int)n);
  OP_END;
  if (st != CT_OK) {
    raise_status(st);
    goto done;
  }
  result = Py_None;
  Py_INCREF(result);
done:
  free(vs);
  free(gs);
  Py_XDECREF(vars);
  Py_XDECREF(grads);
  return result;
}

/* get_slot(variable, name) -> a copy of the slot, on the variable's device */
static PyObject *optimizer_get_slot(PyObject *o, PyObject *args) {
  PyObject *vo;
  const char *name;
  if (!PyArg_ParseTuple(args, "O!s", &VariableBase_Type, &vo, &name)) return NULL;
  ct_variable *v = variable_of(vo);
  if (!v || !ctx_or_raise()) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  ct_optimizer *opt = ((OptimizerObject *)o)->opt;
  OP_BEGIN;
  st = ct_optimizer_get_slot(opt, v, name, &t);
  OP_END;
  return wrap_result(st, t);
}

static PyObject *optimizer_get_iterations(PyObject *o, void *closure) {
  return PyLong_FromLongLong((long long)ct_optimizer_iterations(((OptimizerObject *)o)->opt));
}

static PyObject *optimizer_get_learning_rate(PyObject *o, void *closure) {
  return PyFloat_FromDouble(ct_optimizer_learning_rate(((OptimizerObject *)o)->opt));
}

static int optimizer_set_learning_rate(PyObject *o, PyObject *value, void *closure) {
  if (!value) {
    PyErr_SetString(PyExc_AttributeError, "the learning rate cannot be deleted");
    return -1;
  }
  double lr = PyFloat_AsDouble(value);
  if (lr == -1.0 && PyErr_Occurred()) return -1;
  ct_status st = ct_optimizer_set_learning_rate(((OptimizerObject *)o)->opt, lr);
  if (st != CT_OK) {
    raise_status(st);
    return -1;
  }
  return 0;
}

static PyMethodDef optimizer_methods[] = {
    {"apply", optimizer_apply, METH_VARARGS, "apply(variables, gradients): one step (ct_optimizer_apply_gradients)."},
    {"get_slot", optimizer_get_slot, METH_VARARGS, "get_slot(variable, name): a copy of a slot."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef optimizer_getset[] = {
    {"iterations", optimizer_get_iterations, NULL, "completed steps", NULL},
    {"learning_rate", optimizer_get_learning_rate, optimizer_set_learning_rate, "the next step's learning rate", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject Optimizer_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_ctensor.Optimizer",
    .tp_basicsize = sizeof(OptimizerObject),
    .tp_dealloc = optimizer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A ct_optimizer: SGD or Adam (ctensor.keras.optimizers wraps it).",
    .tp_methods = optimizer_methods,
    .tp_getset = optimizer_getset,
    .tp_new = optimizer_new,
};

/* ---- devices and configuration -------------------------------------------- */

static const char *type_arg(PyObject *o, int *ok) {
  *ok = 1;
  if (o == Py_None) return NULL;
  const char *s = PyUnicode_AsUTF8(o);
  if (!s) *ok = 0;
  return s;
}

/* physical_devices(type_or_None) -> [(name, device_type), ...] */
static PyObject *m_physical_devices(PyObject *m, PyObject *args) {
  PyObject *type_obj;
  if (!PyArg_ParseTuple(args, "O", &type_obj)) return NULL;
  int ok;
  const char *type = type_arg(type_obj, &ok);
  ct_context *ctx = ok ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  int n;
  UNLOCKED(n = ct_physical_device_count(ctx, type));
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n; i++) {
    ct_physical_device_info info;
    ct_status st;
    UNLOCKED(st = ct_physical_device_get(ctx, type, i, &info));
    if (st != CT_OK) {
      Py_DECREF(list);
      return raise_status(st);
    }
    PyObject *item = Py_BuildValue("(ss)", info.name, info.device_type);
    if (!item || PyList_Append(list, item) < 0) Py_CLEAR(list);
    Py_XDECREF(item);
  }
  return list;
}

/* physical_device_details(name) -> dict (model, cores, memory, ...) */
static PyObject *m_physical_device_details(PyObject *m, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  int n;
  UNLOCKED(n = ct_physical_device_count(ctx, NULL));
  for (int i = 0; i < n; i++) {
    ct_physical_device_info d;
    ct_status st;
    UNLOCKED(st = ct_physical_device_get(ctx, NULL, i, &d));
    if (st != CT_OK) return raise_status(st);
    if (strcmp(d.name, name) != 0) continue;
    if (strcmp(d.device_type, "GPU") == 0)
      return Py_BuildValue("{s:s,s:(ii),s:K,s:s}", "device_name", d.model, "compute_capability", d.compute_major,
                           d.compute_minor, "memory_bytes", (unsigned long long)d.memory_bytes, "pci_bus_id",
                           d.pci_bus_id);
    return PyDict_New();
  }
  PyErr_Format(PyExc_ValueError, "Unrecognized device: %s", name);
  return NULL;
}

/* logical_devices(type_or_None) -> [(short_name, device_type), ...] */
static PyObject *m_logical_devices(PyObject *m, PyObject *args) {
  PyObject *type_obj;
  if (!PyArg_ParseTuple(args, "O", &type_obj)) return NULL;
  int ok;
  const char *type = type_arg(type_obj, &ok);
  ct_context *ctx = ok ? ctx_or_raise() : NULL;
  if (!ctx) return NULL;
  int n;
  ct_status init;
  UNLOCKED(init = ct_context_initialize(ctx); n = ct_logical_device_count(ctx, type));
  if (init != CT_OK) return raise_status(init);
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n; i++) {
    ct_logical_device_info info;
    ct_status st = ct_logical_device_get(ctx, type, i, &info);
    if (st != CT_OK) {
      Py_DECREF(list);
      return raise_status(st);
    }
    PyObject *item = Py_BuildValue("(ss)", info.short_name, info.device_type);
    if (!item || PyList_Append(list, item) < 0) Py_CLEAR(list);
    Py_XDECREF(item);
  }
  return list;
}

static PyObject *m_set_visible_devices(PyObject *m, PyObject *args) {
  const char *type;
  PyObject *idx_obj;
  if (!PyArg_ParseTuple(args, "sO", &type, &idx_obj)) return NULL;
  int64_t tmp[64];
  int n;
  if (int64_seq(idx_obj, "visible devices", tmp, 64, &n) < 0) return NULL;
  int idx[64];
  for (int i = 0; i < n; i++) idx[i] = (int)tmp[i];
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st;
  UNLOCKED(st = ct_config_set_visible_devices(ctx, type, idx, n));
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_get_visible_devices(PyObject *m, PyObject *args) {
  const char *type;
  if (!PyArg_ParseTuple(args, "s", &type)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  int idx[64], n = 0;
  ct_status st;
  UNLOCKED(st = ct_config_get_visible_devices(ctx, type, idx, 64, &n));
  if (st != CT_OK) return raise_status(st);
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n && i < 64; i++) {
    PyObject *v = PyLong_FromLong(idx[i]);
    if (!v || PyList_Append(list, v) < 0) Py_CLEAR(list);
    Py_XDECREF(v);
  }
  return list;
}

/* set_logical_devices(physical_name, [(memory_limit_mb, priority_or_None), ...]) */
static PyObject *m_set_logical_devices(PyObject *m, PyObject *args) {
  const char *name;
  PyObject *list;
  if (!PyArg_ParseTuple(args, "sO", &name, &list)) return NULL;
  PyObject *fast = PySequence_Fast(list, "logical device configurations must be a list");
  if (!fast) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  if (n > 64) {
    Py_DECREF(fast);
    return PyErr_Format(PyExc_ValueError, "%zd logical devices for %s: at most 64", n, name);
  }
  ct_logical_device_config cfg[64];
  memset(cfg, 0, sizeof cfg);
  for (Py_ssize_t i = 0; i < n; i++) {
    long long mb;
    PyObject *prio;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "LO", &mb, &prio)) {
      Py_DECREF(fast);
      return NULL;
    }
    cfg[i].memory_limit_mb = (int64_t)mb;
    if (prio != Py_None) {
      long p = PyLong_AsLong(prio);
      if (p == -1 && PyErr_Occurred()) {
        Py_DECREF(fast);
        return NULL;
      }
      cfg[i].priority = (int)p;
      cfg[i].has_priority = true;
    }
  }
  Py_DECREF(fast);
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st;
  UNLOCKED(st = ct_config_set_logical_devices(ctx, name, cfg, (int)n));
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

/* get_logical_devices(physical_name) -> [(memory_limit_mb, priority_or_None), ...] */
static PyObject *m_get_logical_devices(PyObject *m, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_logical_device_config cfg[64];
  int n = 0;
  ct_status st;
  UNLOCKED(st = ct_config_get_logical_devices(ctx, name, cfg, 64, &n));
  if (st != CT_OK) return raise_status(st);
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n && i < 64; i++) {
    PyObject *item = cfg[i].has_priority
                         ? Py_BuildValue("(Li)", (long long)cfg[i].memory_limit_mb, cfg[i].priority)
                         : Py_BuildValue("(LO)", (long long)cfg[i].memory_limit_mb, Py_None);
    if (!item || PyList_Append(list, item) < 0) Py_CLEAR(list);
    Py_XDECREF(item);
  }
  return list;
}

static PyObject *m_set_memory_growth(PyObject *m, PyObject *args) {
  const char *name;
  int on;
  if (!PyArg_ParseTuple(args, "sp", &name, &on)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st;
  UNLOCKED(st = ct_config_set_memory_growth(ctx, name, on != 0));
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_get_memory_growth(PyObject *m, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  int v;
  ct_status st;
  UNLOCKED(st = ct_config_get_memory_growth(ctx, name, &v));
  if (st != CT_OK) return raise_status(st);
  if (v < 0) Py_RETURN_NONE;
  return PyBool_FromLong(v);
}

/* set_flag(which, on): 0 soft placement, 1 placement logging, 2 TF32,
 * 3 report at exit. get_flag(which) for 0 and 1. */
static PyObject *m_set_flag(PyObject *m, PyObject *args) {
  int which, on;
  if (!PyArg_ParseTuple(args, "ip", &which, &on)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st = CT_OK;
  switch (which) {
    case 0: st = ct_config_set_soft_placement(ctx, on != 0); break;
    case 1: st = ct_config_set_log_placement(ctx, on != 0); break;
    case 2: st = ct_config_set_tf32(ctx, on != 0); break;
    case 3: ct_context_set_report_at_exit(ctx, on != 0); break;
    default: return PyErr_Format(PyExc_ValueError, "unknown flag %d", which);
  }
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_get_flag(PyObject *m, PyObject *args) {
  int which;
  if (!PyArg_ParseTuple(args, "i", &which)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  switch (which) {
    case 0: return PyBool_FromLong(ct_config_get_soft_placement(ctx));
    case 1: return PyBool_FromLong(ct_config_get_log_placement(ctx));
    default: return PyErr_Format(PyExc_ValueError, "unknown flag %d", which);
  }
}

static PyObject *m_set_device_policy(PyObject *m, PyObject *args) {
  int policy;
  if (!PyArg_ParseTuple(args, "i", &policy)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st = ct_config_set_device_policy(ctx, (ct_device_policy)policy);
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_get_device_policy(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  return PyLong_FromLong((long)ct_config_get_device_policy(ctx));
}

static PyObject *m_scope_push(PyObject *m, PyObject *args) {
  const char *spec;
  if (!PyArg_ParseTuple(args, "s", &spec)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st;
  /* The first push initialises the context, which may load GPU drivers. */
  OP_BEGIN;
  st = ct_device_scope_push(ctx, spec);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_scope_pop(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st = ct_device_scope_pop(ctx);
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_scope_current(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  char buf[CT_DEVICE_NAME_MAX];
  ct_status st = ct_device_scope_current(ctx, buf, sizeof buf);
  if (st != CT_OK) return raise_status(st);
  return PyUnicode_FromString(buf);
}

static PyObject *m_canonical_device(PyObject *m, PyObject *args) {
  const char *spec;
  if (!PyArg_ParseTuple(args, "s", &spec)) return NULL;
  char buf[CT_DEVICE_NAME_MAX];
  ct_status st = ct_device_name_canonicalize(spec, buf, sizeof buf);
  if (st != CT_OK) return raise_status(st);
  return PyUnicode_FromString(buf);
}

static PyObject *m_initialize(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_context_initialize(ctx);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_is_initialized(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  return PyBool_FromLong(ct_context_is_initialized(ctx));
}

static PyObject *m_synchronize(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_status st;
  OP_BEGIN;
  st = ct_context_synchronize(ctx);
  OP_END;
  if (st != CT_OK) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *m_placement_report(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  /* Sized twice: ops in other threads may lengthen it in between. */
  size_t need;
  UNLOCKED(need = ct_placement_report(ctx, NULL, 0));
  size_t cap = need + 4096;
  char *buf = malloc(cap);
  if (!buf) return PyErr_NoMemory();
  UNLOCKED(ct_placement_report(ctx, buf, cap));
  PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
  free(buf);
  return s;
}

static PyObject *m_memory_info(PyObject *m, PyObject *args) {
  const char *spec;
  if (!PyArg_ParseTuple(args, "s", &spec)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  ct_memory_info info;
  ct_status st;
  UNLOCKED(st = ct_device_memory_info(ctx, spec, &info));
  if (st != CT_OK) return raise_status(st);
  return Py_BuildValue("{s:K,s:K,s:K,s:K}", "current", (unsigned long long)info.current_bytes, "peak",
                       (unsigned long long)info.peak_bytes, "reserved", (unsigned long long)info.reserved_bytes,
                       "limit", (unsigned long long)info.limit_bytes);
}

static PyObject *m_op_count(PyObject *m, PyObject *args) {
  const char *spec;
  if (!PyArg_ParseTuple(args, "s", &spec)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  uint64_t n = 0;
  ct_status st;
  UNLOCKED(st = ct_device_op_count(ctx, spec, &n));
  if (st != CT_OK) return raise_status(st);
  return PyLong_FromUnsignedLongLong((unsigned long long)n);
}

static PyObject *m_gpu_availability(PyObject *m, PyObject *unused) {
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  char detail[CT_INFO_TEXT_MAX];
  ct_gpu_reason r;
  UNLOCKED(r = ct_gpu_availability(ctx, detail, sizeof detail));
  return Py_BuildValue("(ss)", ct_gpu_reason_name(r), detail);
}

/* ---- logging ---------------------------------------------------------------- */

/* Called by the library, from any thread, with or without the GIL. */
static void log_to_python(void *user, ct_log_level level, const char *message) {
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject *sink = g_log_sink;
  if (sink) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    Py_INCREF(sink);
    PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    PyObject *r = text ? PyObject_CallFunction(sink, "iO", (int)level, text) : NULL;
    if (!r) PyErr_WriteUnraisable(sink);
    Py_XDECREF(r);
    Py_XDECREF(text);
    Py_DECREF(sink);
    PyErr_Restore(type, value, tb);
  }
  PyGILState_Release(gil);
}

static PyObject *m_set_log_sink(PyObject *m, PyObject *args) {
  PyObject *sink;
  if (!PyArg_ParseTuple(args, "O", &sink)) return NULL;
  if (sink != Py_None && !PyCallable_Check(sink)) return PyErr_Format(PyExc_TypeError, "log sink must be callable");
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  PyObject *old = g_log_sink;
  if (sink == Py_None) {
    ct_context_set_log_callback(ctx, NULL, NULL);
    g_log_sink = NULL;
  } else {
    Py_INCREF(sink);
    g_log_sink = sink;
    ct_context_set_log_callback(ctx, log_to_python, NULL);
  }
  Py_XDECREF(old);
  Py_RETURN_NONE;
}

/* ---- set-up and shut-down ----------------------------------------------------- */

/* _set_classes(tensor_type, dtypes_tuple, {code: exception class}[, variable_type]) */
static PyObject *m_set_classes(PyObject *m, PyObject *args) {
  PyObject *type, *dtypes, *errors, *vtype = NULL;
  if (!PyArg_ParseTuple(args, "O!O!O!|O!", &PyType_Type, &type, &PyTuple_Type, &dtypes, &PyDict_Type, &errors,
                        &PyType_Type, &vtype))
    return NULL;
  if (vtype && !PyType_IsSubtype((PyTypeObject *)vtype, &VariableBase_Type))
    return PyErr_Format(PyExc_TypeError, "the variable class must derive from _ctensor.VariableBase");
  if (!PyType_IsSubtype((PyTypeObject *)type, &TensorBase_Type))
    return PyErr_Format(PyExc_TypeError, "the tensor class must derive from _ctensor.TensorBase");
  if (((PyTypeObject *)type)->tp_basicsize != TensorBase_Type.tp_basicsize)
    return PyErr_Format(PyExc_TypeError, "the tensor class must declare __slots__ = ()");
  Py_INCREF(type);
  Py_INCREF(dtypes);
  Py_INCREF(errors);
  Py_XSETREF(g_tensor_type, (PyTypeObject *)type);
  Py_XSETREF(g_dtypes, dtypes);
  Py_XSETREF(g_error_classes, errors);
  if (vtype) {
    Py_INCREF(vtype);
    Py_XSETREF(g_variable_type, (PyTypeObject *)vtype);
  }
  Py_RETURN_NONE;
}

/* At interpreter exit (atexit, while Python still works): stop calling into
 * Python, then free the context unless an op is still running in another
 * thread (a daemon thread); the placement report, if asked for, prints now. */
static PyObject *m_shutdown(PyObject *m, PyObject *unused) {
  if (!g_ctx) Py_RETURN_NONE;
  ct_context_set_log_callback(g_ctx, NULL, NULL);
  Py_CLEAR(g_log_sink);
  if (g_in_flight == 0) {
    ct_context *ctx = g_ctx;
    g_ctx = NULL;
    ct_context_free(ctx);
  }
  Py_RETURN_NONE;
}

static PyObject *m_version(PyObject *m, PyObject *unused) { return PyUnicode_FromString(ct_version()); }

static PyObject *m_build_features(PyObject *m, PyObject *unused) {
  return PyUnicode_FromString(ct_build_features());
}

static PyObject *m_dtype_info(PyObject *m, PyObject *args) {
  int dt;
  if (!PyArg_ParseTuple(args, "i", &dt)) return NULL;
  if (!valid_dtype(dt)) return NULL;
  return Py_BuildValue("(sn)", ct_dtype_name((ct_dtype)dt), (Py_ssize_t)ct_dtype_size((ct_dtype)dt));
}

static PyMethodDef module_methods[] = {
    {"_set_classes", m_set_classes, METH_VARARGS, NULL},
    {"_shutdown", m_shutdown, METH_NOARGS, NULL},
    {"set_log_sink", m_set_log_sink, METH_VARARGS, NULL},
    {"version", m_version, METH_NOARGS, NULL},
    {"build_features", m_build_features, METH_NOARGS, NULL},
    {"dtype_info", m_dtype_info, METH_VARARGS, NULL},
    {"from_values", m_from_values, METH_VARARGS, NULL},
    {"from_buffer", m_from_buffer, METH_VARARGS, NULL},
    {"fill", m_fill, METH_VARARGS, NULL},
    {"range", m_range, METH_VARARGS, NULL},
    {"random", m_random, METH_VARARGS, NULL},
    {"binary", m_binary, METH_VARARGS, NULL},
    {"unary", m_unary, METH_VARARGS, NULL},
    {"matmul", m_matmul, METH_VARARGS, NULL},
    {"reduce", m_reduce, METH_VARARGS, NULL},
    {"argmax", m_argmax, METH_VARARGS, NULL},
    {"cast", m_cast, METH_VARARGS, NULL},
    {"reshape", m_reshape, METH_VARARGS, NULL},
    {"transpose", m_transpose, METH_VARARGS, NULL},
    {"concat", m_concat, METH_VARARGS, NULL},
    {"slice", m_slice, METH_VARARGS, NULL},
    {"gather", m_gather, METH_VARARGS, NULL},
    {"copy_to", m_copy_to, METH_VARARGS, NULL},
    {"physical_devices", m_physical_devices, METH_VARARGS, NULL},
    {"physical_device_details", m_physical_device_details, METH_VARARGS, NULL},
    {"logical_devices", m_logical_devices, METH_VARARGS, NULL},
    {"set_visible_devices", m_set_visible_devices, METH_VARARGS, NULL},
    {"get_visible_devices", m_get_visible_devices, METH_VARARGS, NULL},
    {"set_logical_devices", m_set_logical_devices, METH_VARARGS, NULL},
    {"get_logical_devices", m_get_logical_devices, METH_VARARGS, NULL},
    {"set_memory_growth", m_set_memory_growth, METH_VARARGS, NULL},
    {"get_memory_growth", m_get_memory_growth, METH_VARARGS, NULL},
    {"set_flag", m_set_flag, METH_VARARGS, NULL},
    {"get_flag", m_get_flag, METH_VARARGS, NULL},
    {"set_device_policy", m_set_device_policy, METH_VARARGS, NULL},
    {"get_device_policy", m_get_device_policy, METH_NOARGS, NULL},
    {"scope_push", m_scope_push, METH_VARARGS, NULL},
    {"scope_pop", m_scope_pop, METH_NOARGS, NULL},
    {"scope_current", m_scope_current, METH_NOARGS, NULL},
    {"canonical_device", m_canonical_device, METH_VARARGS, NULL},
    {"initialize", m_initialize, METH_NOARGS, NULL},
    {"is_initialized", m_is_initialized, METH_NOARGS, NULL},
    {"synchronize", m_synchronize, METH_NOARGS, NULL},
    {"placement_report", m_placement_report, METH_NOARGS, NULL},
    {"memory_info", m_memory_info, METH_VARARGS, NULL},
    {"op_count", m_op_count, METH_VARARGS, NULL},
    {"gpu_availability", m_gpu_availability, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef ctensor_module = {
    PyModuleDef_HEAD_INIT, "_ctensor", "The C half of the ctensor package (see ctensor/__init__.py).", -1,
    module_methods,        NULL,       NULL,                                                           NULL,
    NULL};

/* DLPack capsules: python/dlpack_glue.c, included at the end of this file. */
static int add_dlpack(PyObject *m);

/* ctensor.distribute: python/distribute_glue.c, included at the end. */
static int add_distribute(PyObject *m);

PyMODINIT_FUNC PyInit__ctensor(void);

PyMODINIT_FUNC PyInit__ctensor(void) {
  if (PyType_Ready(&TensorBase_Type) < 0 || PyType_Ready(&VariableBase_Type) < 0 || PyType_Ready(&Tape_Type) < 0 ||
      PyType_Ready(&Optimizer_Type) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&ctensor_module);
  if (!m) return NULL;
  static const struct {
    const char *name;
    PyTypeObject *type;
  } types[] = {{"TensorBase", &TensorBase_Type}, {"VariableBase", &VariableBase_Type}, {"Tape", &Tape_Type},
               {"Optimizer", &Optimizer_Type}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    Py_INCREF(types[i].type);
    if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].type) < 0) {
      Py_DECREF(types[i].type);
      Py_DECREF(m);
      return NULL;
    }
  }
  if (add_dlpack(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  if (add_distribute(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  if (add_op_rows(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  if (!g_ctx && ct_context_new(&g_ctx) != CT_OK) {
    PyErr_Format(PyExc_RuntimeError, "ctensor: cannot create the context: %s", ct_last_error());
    Py_DECREF(m);
    return NULL;
  }
  if (PyModule_AddIntConstant(m, "MAX_RANK", CT_MAX_RANK) < 0 ||
      PyModule_AddIntConstant(m, "DTYPE_COUNT", CT_DTYPE_COUNT) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}

#include "dlpack_glue.c"
#include "distribute_glue.c"
