/*
 * DLPack for the Python module: capsules in and out (docs/dlpack.md).
 *
 * Included at the end of ctensor_module.c (it uses that file's statics:
 * the context, wrap(), tensor_of(), raise_status()), and kept in its own
 * file so that the protocol's rules sit together:
 *  - a producer's capsule is named "dltensor_versioned" (DLPack 1.x) or
 *    "dltensor" (older); the consumer renames it to "used_..." once it has
 *    taken ownership, and the capsule's destructor calls the deleter only
 *    when nobody took it;
 *  - consuming a "used_..." capsule again is an error, never a double free.
 * ctensor/experimental/dlpack.py builds Tensor.__dlpack__,
 * __dlpack_device__ and from_dlpack/to_dlpack on these four functions.
 */
#include "ctensor_dlpack.h"

static const char CAP_V[] = "dltensor_versioned", CAP_U[] = "dltensor";
static const char USED_V[] = "used_dltensor_versioned", USED_U[] = "used_dltensor";

static void capsule_destructor(PyObject *cap) {
  const char *name = PyCapsule_GetName(cap);
  if (name == NULL) {
    PyErr_Clear();
    return;
  }
  if (strcmp(name, CAP_V) != 0 && strcmp(name, CAP_U) != 0) return; /* consumed: the consumer owns it */
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  void *p = PyCapsule_GetPointer(cap, name);
  if (p == NULL) {
    PyErr_WriteUnraisable(cap);
  } else if (strcmp(name, CAP_V) == 0) {
    DLManagedTensorVersioned *m = p;
    if (m->deleter) m->deleter(m);
  } else {
    DLManagedTensor *m = p;
    if (m->deleter) m->deleter(m);
  }
  PyErr_Restore(type, value, tb);
}

/* dlpack_export(tensor, versioned) -> capsule */
static PyObject *m_dlpack_export(PyObject *mod, PyObject *args) {
  PyObject *o;
  int versioned;
  if (!PyArg_ParseTuple(args, "Op", &o, &versioned)) return NULL;
  ct_tensor *t = tensor_of(o, "__dlpack__");
  if (!t) return NULL;
  void *m = NULL;
  ct_status st;
  /* A GPU tensor's export waits for its stream: without the GIL. */
  if (versioned)
    UNLOCKED(st = ct_tensor_to_dlpack(t, (DLManagedTensorVersioned **)&m));
  else
    UNLOCKED(st = ct_tensor_to_dlpack_unversioned(t, (DLManagedTensor **)&m));
  if (st != CT_OK) return raise_status(st);
  PyObject *cap = PyCapsule_New(m, versioned ? CAP_V : CAP_U, capsule_destructor);
  if (!cap) {
    if (versioned)
      ((DLManagedTensorVersioned *)m)->deleter(m);
    else
      ((DLManagedTensor *)m)->deleter(m);
  }
  return cap;
}

/* dlpack_import(capsule, no_copy) -> Tensor */
static PyObject *m_dlpack_import(PyObject *mod, PyObject *args) {
  PyObject *cap;
  int no_copy;
  if (!PyArg_ParseTuple(args, "Op", &cap, &no_copy)) return NULL;
  if (!PyCapsule_CheckExact(cap)) {
    PyErr_Format(PyExc_TypeError, "from_dlpack: expected a DLPack capsule or an object with __dlpack__, got %.100s",
                 Py_TYPE(cap)->tp_name);
    return NULL;
  }
  const char *name = PyCapsule_GetName(cap);
  if (name == NULL && PyErr_Occurred()) return NULL;
  if (name && (strcmp(name, USED_V) == 0 || strcmp(name, USED_U) == 0)) {
    PyErr_Format(PyExc_ValueError, "from_dlpack: this DLPack capsule was already consumed (it is named '%s'); "
                 "a capsule can be read once: ask the producer for a new one", name);
    return NULL;
  }
  bool versioned = name && strcmp(name, CAP_V) == 0;
  if (!versioned && !(name && strcmp(name, CAP_U) == 0)) {
    PyErr_Format(PyExc_TypeError, "from_dlpack: a capsule named '%s' is not a DLPack tensor "
                 "(expected 'dltensor_versioned' or 'dltensor')", name ? name : "(null)");
    return NULL;
  }
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  void *p = PyCapsule_GetPointer(cap, name);
  if (!p) return NULL;
  ct_tensor *t = NULL;
  ct_status st;
  unsigned flags = no_copy ? CT_DLPACK_NO_COPY : 0;
  if (versioned)
    UNLOCKED(st = ct_tensor_from_dlpack(ctx, p, flags, &t));
  else
    UNLOCKED(st = ct_tensor_from_dlpack_unversioned(ctx, p, flags, &t));
  if (st != CT_OK) return raise_status(st);
  /* ctensor owns the managed tensor now: the capsule must not delete it. */
  if (PyCapsule_SetName(cap, versioned ? USED_V : USED_U) < 0) {
    ct_tensor_release(t);
    return NULL;
  }
  return wrap(t);
}

/* dlpack_device(tensor) -> (device_type, device_id) */
static PyObject *m_dlpack_device(PyObject *mod, PyObject *o) {
  ct_tensor *t = tensor_of(o, "__dlpack_device__");
  if (!t) return NULL;
  int32_t type = 0, id = 0;
  ct_status st = ct_tensor_dlpack_device(t, &type, &id);
  if (st != CT_OK) return raise_status(st);
  return Py_BuildValue("(ii)", (int)type, (int)id);
}

/* dlpack_stream(device_type, device_id) -> int: the stream to pass to a
 * producer's __dlpack__ (None for host memory). */
static PyObject *m_dlpack_stream(PyObject *mod, PyObject *args) {
  int type, id;
  if (!PyArg_ParseTuple(args, "ii", &type, &id)) return NULL;
  ct_context *ctx = ctx_or_raise();
  if (!ctx) return NULL;
  uintptr_t stream = 0;
  ct_status st;
  UNLOCKED(st = ct_dlpack_consumer_stream(ctx, type, id, &stream));
  if (st != CT_OK) return raise_status(st);
  if (stream == 0) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong((unsigned long long)stream);
}

static PyObject *m_dlpack_copy_count(PyObject *mod, PyObject *unused) {
  return PyLong_FromUnsignedLongLong((unsigned long long)ct_dlpack_copy_count());
}

static PyMethodDef dlpack_methods[] = {
    {"dlpack_export", m_dlpack_export, METH_VARARGS, NULL},
    {"dlpack_import", m_dlpack_import, METH_VARARGS, NULL},
    {"dlpack_device", m_dlpack_device, METH_O, NULL},
    {"dlpack_stream", m_dlpack_stream, METH_VARARGS, NULL},
    {"dlpack_copy_count", m_dlpack_copy_count, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static int add_dlpack(PyObject *m) { return PyModule_AddFunctions(m, dlpack_methods); }
