/*
 * The Python module's conversion of nested sequences and buffers, driven
 * from C: the module source is compiled into this harness (so that it is
 * instrumented), registered as ctensor._ctensor in an embedded interpreter,
 * and the package's convert_to_tensor (nested lists and tuples, leaves of
 * every Python number kind, buffers of every struct format) and the C
 * entry points from_values / from_buffer (with shapes the fuzzer picks)
 * are called on values decoded from the input. Any exception is an answer;
 * SystemError (a C function that broke the C API's contract) and a crash
 * are bugs.
 */
#define PY_SSIZE_T_CLEAN
#include "../../python/ctensor_module.c"

#include "fuzz_util.h"

static PyObject *g_convert, *g_from_values, *g_from_buffer, *g_dtype_objs[CT_DTYPE_COUNT];

/* The input, consumed a byte at a time; 0 once exhausted. */
typedef struct {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t byte(reader *r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

static uint64_t u64(reader *r) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | byte(r);
  return v;
}

static const struct {
  const char *fmt;
  Py_ssize_t size;
} formats[] = {{"b", 1}, {"B", 1}, {"h", 2}, {"H", 2}, {"i", 4}, {"I", 4}, {"l", 8}, {"L", 8}, {"q", 8},
               {"Q", 8}, {"f", 4}, {"d", 8}, {"e", 2}, {"?", 1}, {"c", 1}, {"n", 8}, {"N", 8}, {"P", 8}};

/* A buffer-protocol object: bytes of the input viewed with a struct format
 * and a shape, through memoryview.cast. */
static PyObject *decode_buffer(reader *r) {
  size_t which = byte(r) % (sizeof formats / sizeof formats[0]);
  const char *fmt = formats[which].fmt;
  Py_ssize_t isz = formats[which].size;
  int ndim = byte(r) % 4;
  Py_ssize_t dims[3], count = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = byte(r) % 5;
    count *= dims[i];
  }
  PyObject *mv = NULL, *shape = PyTuple_New(ndim);
  if (!shape) return NULL;
  for (int i = 0; i < ndim; i++) PyTuple_SET_ITEM(shape, i, PyLong_FromSsize_t(dims[i]));
  PyObject *raw = PyByteArray_FromStringAndSize(NULL, count * isz);
  if (raw) {
    char *b = PyByteArray_AS_STRING(raw);
    for (Py_ssize_t i = 0; i < count * isz; i++) b[i] = (char)byte(r);
    PyObject *base = PyMemoryView_FromObject(raw);
    if (base) {
      mv = ndim ? PyObject_CallMethod(base, "cast", "sO", fmt, shape) : PyObject_CallMethod(base, "cast", "s", fmt);
      Py_DECREF(base);
    }
    Py_DECREF(raw);
  }
  Py_DECREF(shape);
  PyErr_Clear();
  return mv;
}

/* One value: a leaf or a list/tuple of values, at most `depth` deep. */
static PyObject *decode(reader *r, int depth, int *budget) {
  if (--*budget < 0) return PyLong_FromLong(0);
  uint8_t op = byte(r);
  switch (op % 12) {
    case 0:
    case 1: {
      if (depth <= 0) return PyLong_FromLong(op);
      int len = byte(r) % 6;
      PyObject *list = PyList_New(0);
      for (int i = 0; list && i < len; i++) {
        PyObject *x = decode(r, depth - 1, budget);
        if (!x || PyList_Append(list, x) < 0) {
          Py_XDECREF(x);
          Py_DECREF(list);
          return NULL;
        }
        Py_DECREF(x);
      }
      if (list && op % 12 == 1) {
        PyObject *t = PyList_AsTuple(list);
        Py_DECREF(list);
        return t;
      }
      return list;
    }
    case 2: return PyLong_FromLong((int8_t)byte(r));
    case 3: return PyLong_FromLongLong((long long)u64(r));
    case 4: {
      /* beyond 64 bits, either sign */
      PyObject *one = PyLong_FromLong(byte(r) & 1 ? -1 : 1), *shift = PyLong_FromLong(byte(r) % 130);
      PyObject *v = one && shift ? PyNumber_Lshift(one, shift) : NULL;
      Py_XDECREF(one);
      Py_XDECREF(shift);
      return v;
    }
    case 5: {
      uint64_t bits = u64(r);
      double d;
      memcpy(&d, &bits, sizeof d);
      return PyFloat_FromDouble(d);
    }
    case 6: return PyBool_FromLong(byte(r) & 1);
    case 7: Py_RETURN_NONE;
    case 8: return byte(r) & 1 ? PyUnicode_FromString("x") : PyBytes_FromStringAndSize("ab", 2);
    case 9: {
      PyObject *b = decode_buffer(r);
      if (b) return b;
      return PyLong_FromLong(1);
    }
    case 10: return PyComplex_FromDoubles(1.0, (double)(int8_t)byte(r));
    default: return PyFloat_FromDouble((double)(int8_t)byte(r) / 4.0);
  }
}

/* Only these exceptions are answers; anything else is a bug in the C side
 * (SystemError) or a surprise worth a look. */
static void check_error(const char *what) {
  if (!PyErr_Occurred()) {
    fprintf(stderr, "%s returned NULL without an exception\n", what);
    abort();
  }
  if (PyErr_ExceptionMatches(PyExc_SystemError)) {
    PyErr_Print();
    fprintf(stderr, "%s raised SystemError\n", what);
    abort();
  }
  PyErr_Clear();
}

/* tolist() builds one Python list per row even when the tensor has no
 * elements: an empty [8160, 8160, 0] tensor is 66 million lists, the
 * expected answer and an out-of-memory for the fuzzer. Such shapes are
 * checked for their rank and size, not turned into lists. */
static bool small_lists(PyObject *t) {
  PyObject *shape = PyObject_GetAttrString(t, "shape");
  PyObject *dims = shape ? PySequence_Tuple(shape) : NULL;
  Py_XDECREF(shape);
  if (!dims) {
    PyErr_Clear();
    return false;
  }
  double rows = 1;
  for (Py_ssize_t i = 0; i + 1 < PyTuple_GET_SIZE(dims); i++) {
    long long d = PyLong_AsLongLong(PyTuple_GET_ITEM(dims, i));
    if (d > 0) rows *= (double)d;
  }
  Py_DECREF(dims);
  PyErr_Clear();
  return rows <= 100000;
}

static void use_result(PyObject *t) {
  if (small_lists(t)) {
    PyObject *l = PyObject_CallMethod(t, "tolist", NULL);
    if (!l) check_error("tolist");
    Py_XDECREF(l);
  }
  Py_DECREF(t);
}

static int init(void) {
  Py_InitializeEx(0);
  PyObject *m = PyInit__ctensor();
  PyObject *modules = PyImport_GetModuleDict();
  if (!m || PyDict_SetItemString(modules, "ctensor._ctensor", m) < 0) return -1;
  PyObject *path = PySys_GetObject("path"), *dir = PyUnicode_FromString(CT_PY_SOURCE_DIR);
  if (!path || !dir || PyList_Insert(path, 0, dir) < 0) return -1;
  Py_DECREF(dir);
  PyObject *pkg = PyImport_ImportModule("ctensor");
  if (!pkg) {
    PyErr_Print();
    return -1;
  }
  g_convert = PyObject_GetAttrString(pkg, "convert_to_tensor");
  g_from_values = PyObject_GetAttrString(m, "from_values");
  g_from_buffer = PyObject_GetAttrString(m, "from_buffer");
  static const char *const names[CT_DTYPE_COUNT] = {"float32", "float64", "float16", "bfloat16", "int32", "int64", "bool"};
  for (int i = 0; i < CT_DTYPE_COUNT; i++) g_dtype_objs[i] = PyObject_GetAttrString(pkg, names[i]);
  PyErr_Clear();
  return g_convert && g_from_values && g_from_buffer ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready = -2;
  if (ready == -2) ready = init();
  if (ready != 0) {
    fprintf(stderr, "fuzz_python_convert: cannot start the interpreter with ctensor\n");
    abort();
  }
  reader r = {data, size};
  uint8_t mode = byte(&r), dt = byte(&r);
  int budget = 200;
  PyObject *value = decode(&r, 5, &budget);
  if (!value) {
    PyErr_Clear();
    return 0;
  }
  PyObject *dtype = dt % 8 < CT_DTYPE_COUNT ? g_dtype_objs[dt % 8] : Py_None;
  if (!dtype) dtype = Py_None;
  PyObject *t = NULL;
  switch (mode % 3) {
    case 0: /* the package's conversion: nested sequences and buffers */
      t = PyObject_CallFunctionObjArgs(g_convert, value, dtype, NULL);
      if (t) use_result(t);
      else check_error("convert_to_tensor");
      break;
    case 1: { /* from_values with any shape against a flat list */
      int rank = byte(&r) % 5;
      PyObject *shape = PyTuple_New(rank);
      for (int i = 0; shape && i < rank; i++) {
        uint8_t b = byte(&r);
        long long d = b < 200 ? b % 7 : (b < 230 ? -(long long)(b % 3) : (long long)(u64(&r) >> (b % 64)));
        PyTuple_SET_ITEM(shape, i, PyLong_FromLongLong(d));
      }
      PyObject *flat = PySequence_Check(value) && !PyUnicode_Check(value) ? value : NULL;
      if (shape && flat) {
        t = PyObject_CallFunction(g_from_values, "iOO", (int)(dt % 9) - 1, shape, flat);
        if (t) use_result(t);
        else check_error("from_values");
      }
      Py_XDECREF(shape);
      break;
    }
    default: { /* from_buffer with any shape against any buffer */
      int rank = byte(&r) % 5;
      PyObject *shape = PyTuple_New(rank);
      for (int i = 0; shape && i < rank; i++) {
        uint8_t b = byte(&r);
        long long d = b < 200 ? b % 9 : (b < 230 ? -(long long)(b % 3) : (long long)(u64(&r) >> (b % 64)));
        PyTuple_SET_ITEM(shape, i, PyLong_FromLongLong(d));
      }
      if (shape) {
        t = PyObject_CallFunction(g_from_buffer, "iOO", (int)(dt % 9) - 1, shape, value);
        if (t) use_result(t);
        else check_error("from_buffer");
      }
      Py_XDECREF(shape);
      break;
    }
  }
  Py_DECREF(value);
  PyErr_Clear();
  return 0;
}
