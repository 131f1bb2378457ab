/*
 * DLPack export and import (include/ctensor_dlpack.h, docs/dlpack.md).
 *
 * Export hands out the tensor's own bytes: the managed tensor holds one
 * reference to the ctensor tensor, dropped by its deleter. ctensor tensors
 * are immutable and always compact row-major, so an export never copies
 * and is always marked read-only.
 *
 * Import borrows the producer's bytes when they are compact row-major and
 * aligned to the element size (strides NULL, or equal to the compact ones
 * for every dimension longer than 1). The imported tensor is a view (its
 * `base`) of a hidden "keeper" tensor whose release calls the producer's
 * deleter: the keeper's backing device is a private ct_device whose
 * backend has only a `free`, so ct_tensor_release needs no new field and
 * views of the import (reshape) keep the producer's memory alive through
 * the usual base reference. ctensor never writes into a tensor's bytes, so
 * a read-only producer is honoured by construction. Anything else is copied
 * on the CPU — counted (ct_dlpack_copy_count) and logged as a warning — or
 * refused with CT_DLPACK_NO_COPY.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ctensor_dlpack.h"

/* src/cuda/dlpack_cuda.c: the driver ordinal of a logical GPU (-1 if none). */
int ct_cuda_dlpack_ordinal(const ct_device *dev);
/* src/cuda/dlpack_cuda.c: the CUstream of a logical GPU (0 if none). */
uintptr_t ct_cuda_dlpack_stream(const ct_device *dev);

static _Atomic uint64_t g_copies;

uint64_t ct_dlpack_copy_count(void) { return atomic_load_explicit(&g_copies, memory_order_relaxed); }

/* ---- dtypes and devices ------------------------------------------------- */

static const struct {
  ct_dtype dtype;
  uint8_t code, bits;
} dtype_map[] = {
    {CT_FLOAT32, kDLFloat, 32}, {CT_FLOAT64, kDLFloat, 64}, {CT_FLOAT16, kDLFloat, 16}, {CT_BFLOAT16, kDLBfloat, 16},
    {CT_INT32, kDLInt, 32},     {CT_INT64, kDLInt, 64},     {CT_BOOL, kDLBool, 8},
};

static const char *code_name(unsigned code) {
  static const char *const names[] = {"int", "uint", "float", "opaque handle", "bfloat", "complex", "bool"};
  return code < sizeof names / sizeof names[0] ? names[code] : "float8/6/4";
}

static ct_status dtype_from_dl(DLDataType dt, ct_dtype *out) {
  if (dt.lanes != 1)
    return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: vector dtype %s%u x%u lanes has no ctensor dtype",
                    code_name(dt.code), dt.bits, dt.lanes);
  for (size_t i = 0; i < CT_ARRAY_LEN(dtype_map); i++)
    if (dtype_map[i].code == dt.code && dtype_map[i].bits == dt.bits) {
      *out = dtype_map[i].dtype;
      return CT_OK;
    }
  return ct_error(CT_INVALID_ARGUMENT,
                  "from_dlpack: DLPack dtype %s%u (code %u) has no ctensor dtype (ctensor has float16, float32, "
                  "float64, bfloat16, int32, int64 and bool)",
                  code_name(dt.code), dt.bits, dt.code);
}

static const char *device_type_name(int32_t t) {
  switch (t) {
    case kDLCPU: return "kDLCPU";
    case kDLCUDA: return "kDLCUDA";
    case kDLCUDAHost: return "kDLCUDAHost";
    case kDLOpenCL: return "kDLOpenCL";
    case kDLVulkan: return "kDLVulkan";
    case kDLMetal: return "kDLMetal";
    case kDLROCM: return "kDLROCM";
    case kDLROCMHost: return "kDLROCMHost";
    case kDLCUDAManaged: return "kDLCUDAManaged";
    case kDLOneAPI: return "kDLOneAPI";
    default: return "an unknown device type";
  }
}

static ct_status device_to_dl(const ct_device *dev, DLDevice *out) {
  if (dev->type == CT_DEV_CPU) {
    out->device_type = kDLCPU;
    out->device_id = 0;
    return CT_OK;
  }
  int ordinal = ct_cuda_dlpack_ordinal(dev);
  if (ordinal < 0) return ct_error(CT_INTERNAL, "to_dlpack: %s has no CUDA device ordinal", dev->name);
  out->device_type = kDLCUDA;
  out->device_id = ordinal;
  return CT_OK;
}

ct_status ct_tensor_dlpack_device(const ct_tensor *t, int32_t *device_type, int32_t *device_id) {
  if (t == NULL || device_type == NULL || device_id == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "tensor_dlpack_device: %s is NULL", t ? "an output" : "tensor");
  DLDevice d = {kDLCPU, 0};
  ct_status st = device_to_dl(t->backing, &d);
  if (st != CT_OK) return st;
  *device_type = (int32_t)d.device_type;
  *device_id = d.device_id;
  return CT_OK;
}

/* The logical device that owns DLPack device `d`: CPU:0 for host memory
 * (kDLCUDAHost and kDLCUDAManaged are host-accessible too), the first
 * logical GPU on driver ordinal device_id for kDLCUDA. */
static ct_status device_from_dl(ct_context *ctx, DLDevice d, ct_device **out) {
  if (d.device_type == kDLCPU || d.device_type == kDLCUDAHost || d.device_type == kDLCUDAManaged) {
    *out = ctx->host;
    return CT_OK;
  }
  if (d.device_type == kDLCUDA) {
    for (int i = 0; i < ctx->n_by_type[CT_DEV_GPU]; i++)
      if (ct_cuda_dlpack_ordinal(ctx->by_type[CT_DEV_GPU][i]) == d.device_id) {
        *out = ctx->by_type[CT_DEV_GPU][i];
        return CT_OK;
      }
    char list[1024];
    ct_context_device_list(ctx, list, sizeof list);
    return ct_error(CT_NOT_FOUND, "from_dlpack: the tensor is on CUDA device %d, which ctensor does not have "
                    "(its devices: %s)", (int)d.device_id, list);
  }
  return ct_error(CT_NOT_FOUND, "from_dlpack: the tensor is on %s (DLPack device type %d, id %d), a device "
                  "ctensor does not have; ctensor reads kDLCPU and kDLCUDA memory",
                  device_type_name((int32_t)d.device_type), (int)d.device_type, (int)d.device_id);
}

/* ---- export ------------------------------------------------------------- */

typedef struct export_block {
  union {
    DLManagedTensorVersioned v;
    DLManagedTensor u;
  } m;
  ct_tensor *t;
  int64_t shape[CT_MAX_RANK];
  int64_t strides[CT_MAX_RANK];
} export_block;

static void deleter_versioned(DLManagedTensorVersioned *self) {
  if (!self) return;
  export_block *b = self->manager_ctx;
  ct_tensor_release(b->t);
  free(b);
}

static void deleter_unversioned(DLManagedTensor *self) {
  if (!self) return;
  export_block *b = self->manager_ctx;
  ct_tensor_release(b->t);
  free(b);
}

/* Fills everything but the managed struct's own fields. */
static ct_status export_prepare(const ct_tensor *t, DLTensor *dl, export_block **out_block) {
  if (t == NULL) return ct_error(CT_INVALID_ARGUMENT, "to_dlpack: tensor is NULL");
  DLDevice dev = {kDLCPU, 0};
  ct_status st = device_to_dl(t->backing, &dev);
  if (st != CT_OK) return st;
  /* GPU work is asynchronous: whoever reads the bytes next, on whatever
   * stream, must see the op that wrote them finished. */
  if (t->backing->type != CT_DEV_CPU && t->backing->backend->synchronize) {
    st = t->backing->backend->synchronize(t->backing);
    if (st != CT_OK) return st;
  }
  export_block *b = calloc(1, sizeof *b);
  if (!b) return ct_error(CT_RESOURCE_EXHAUSTED, "to_dlpack: out of memory");
  b->t = ct_tensor_retain((ct_tensor *)t);
  int64_t stride = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    b->shape[i] = t->shape[i];
    b->strides[i] = stride;
    stride *= t->shape[i] > 0 ? t->shape[i] : 1;
  }
  memset(dl, 0, sizeof *dl);
  dl->data = t->data;
  dl->device = dev;
  dl->ndim = t->rank;
  for (size_t i = 0; i < CT_ARRAY_LEN(dtype_map); i++)
    if (dtype_map[i].dtype == t->dtype) dl->dtype = (DLDataType){dtype_map[i].code, dtype_map[i].bits, 1};
  dl->shape = b->shape;
  dl->strides = b->strides;
  dl->byte_offset = 0;
  *out_block = b;
  return CT_OK;
}

ct_status ct_tensor_to_dlpack(const ct_tensor *t, struct DLManagedTensorVersioned **out) {
  if (out == NULL) return ct_error(CT_INVALID_ARGUMENT, "to_dlpack: out is NULL");
  DLTensor dl;
  export_block *b = NULL;
  ct_status st = export_prepare(t, &dl, &b);
  if (st != CT_OK) return st;
  DLManagedTensorVersioned *m = &b->m.v;
  m->version.major = DLPACK_MAJOR_VERSION;
  m->version.minor = DLPACK_MINOR_VERSION;
  m->manager_ctx = b;
  m->deleter = deleter_versioned;
  m->flags = DLPACK_FLAG_BITMASK_READ_ONLY; /* tensors are immutable */
  m->dl_tensor = dl;
  *out = m;
  return CT_OK;
}

ct_status ct_tensor_to_dlpack_unversioned(const ct_tensor *t, struct DLManagedTensor **out) {
  if (out == NULL) return ct_error(CT_INVALID_ARGUMENT, "to_dlpack: out is NULL");
  DLTensor dl;
  export_block *b = NULL;
  ct_status st = export_prepare(t, &dl, &b);
  if (st != CT_OK) return st;
  DLManagedTensor *m = &b->m.u;
  m->dl_tensor = dl;
  m->manager_ctx = b;
  m->deleter = deleter_unversioned;
  *out = m;
  return CT_OK;
}

/* ---- import ------------------------------------------------------------- */

/* The keeper's private device: its backend's free calls the producer's
 * deleter (see the top of the file). */
typedef struct keeper_device {
  ct_device dev;
  void (*deleter)(void *managed);
  void *managed;
} keeper_device;

static void keeper_free(ct_device *dev, void *ptr, size_t bytes) {
  keeper_device *k = (keeper_device *)dev;
  if (k->deleter) k->deleter(k->managed);
  free(k);
}

static const ct_backend keeper_backend = {.type = CT_DEV_CPU, .free = keeper_free};

static void call_versioned(void *m) {
  DLManagedTensorVersioned *v = m;
  if (v->deleter) v->deleter(v);
}

static void call_unversioned(void *m) {
  DLManagedTensor *u = m;
  if (u->deleter) u->deleter(u);
}

/* A tensor header on `dev` over foreign bytes, as ct_tensor_alloc would
 * make it (one reference, one context reference). */
static ct_tensor *header_over(ct_device *dev, ct_device *backing, ct_dtype dtype, const int64_t *shape, int rank,
                              void *data) {
  ct_tensor *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  atomic_init(&t->refcount, 1);
  t->dtype = dtype;
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
  t->numel = ct_shape_numel(shape, rank);
  t->nbytes = (size_t)t->numel * ct_dtype_size(dtype);
  t->device = dev;
  t->backing = backing;
  t->data = data;
  atomic_init(&t->tape_id, 0);
  ct_context_retain(dev->ctx);
  return t;
}

static bool is_compact(const DLTensor *dl) {
  if (dl->strides == NULL) return true;
  int64_t expected = 1;
  for (int i = dl->ndim - 1; i >= 0; i--) {
    if (dl->shape[i] != 1 && dl->strides[i] != expected) return false;
    expected *= dl->shape[i];
  }
  return true;
}

/* Copies a strided host tensor into a new compact one on the CPU. */
static ct_status copy_strided(ct_device *host, const DLTensor *dl, ct_dtype dtype, const unsigned char *src,
                              ct_tensor **out) {
  ct_tensor *t = NULL;
  ct_status st = ct_tensor_alloc(host, dtype, dl->shape, dl->ndim, &t);
  if (st != CT_OK) return st;
  size_t esize = ct_dtype_size(dtype);
  int64_t idx[CT_MAX_RANK] = {0}, strides[CT_MAX_RANK];
  int64_t compact = 1;
  for (int i = dl->ndim - 1; i >= 0; i--) {
    strides[i] = dl->strides ? dl->strides[i] : compact;
    compact *= dl->shape[i];
  }
  unsigned char *dst = t->data;
  for (int64_t n = 0; n < t->numel; n++) {
    int64_t off = 0;
    for (int i = 0; i < dl->ndim; i++) off += idx[i] * strides[i];
    memcpy(dst + (size_t)n * esize, src + off * (int64_t)esize, esize);
    for (int i = dl->ndim - 1; i >= 0; i--) {
      if (++idx[i] < dl->shape[i]) break;
      idx[i] = 0;
    }
  }
  if (dtype == CT_BOOL) /* every kernel may assume a bool is 0 or 1 */
    for (int64_t n = 0; n < t->numel; n++) dst[n] = dst[n] != 0;
  *out = t;
  return CT_OK;
}

static ct_status import_dl(ct_context *ctx, const DLTensor *dl, unsigned flags, void (*call)(void *), void *managed,
                           ct_tensor **out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: %s is NULL", ctx ? "out" : "context");
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  ct_dtype dtype = CT_FLOAT32;
  if ((st = dtype_from_dl(dl->dtype, &dtype)) != CT_OK) return st;
  if (dl->ndim < 0 || dl->ndim > CT_MAX_RANK)
    return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: ndim %d out of range (0..%d)", (int)dl->ndim, CT_MAX_RANK);
  if ((st = ct_shape_check("from_dlpack", dl->shape, dl->ndim)) != CT_OK) return st;
  ct_device *dev = NULL;
  if ((st = device_from_dl(ctx, dl->device, &dev)) != CT_OK) return st;
  int64_t numel = ct_shape_numel(dl->shape, dl->ndim);
  unsigned char *data = (unsigned char *)dl->data + dl->byte_offset;
  size_t esize = ct_dtype_size(dtype);
  if (numel > 0 && dl->data == NULL) return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: data is NULL");

  bool compact = is_compact(dl), aligned = ((uintptr_t)data % esize) == 0;
  const char *why = !compact ? "not compact row-major" : !aligned ? "not aligned to its element size" : NULL;
  /* Every kernel may assume a bool byte is 0 or 1: other bytes are copied
   * (and normalised). Host memory only; GPU bools are trusted. */
  if (!why && dtype == CT_BOOL && dev->type == CT_DEV_CPU)
    for (int64_t i = 0; i < numel && !why; i++)
      if (data[i] > 1) why = "a bool tensor with bytes other than 0 and 1";
  if (numel > 0 && why) {
    char sbuf[CT_SHAPE_STR_MAX];
    if (flags & CT_DLPACK_NO_COPY)
      return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: the %s tensor of shape %s is %s, and CT_DLPACK_NO_COPY "
                      "forbids the copy that would fix it", ct_dtype_name(dtype),
                      ct_shape_str(dl->shape, dl->ndim, sbuf, sizeof sbuf), why);
    if (dev->type != CT_DEV_CPU)
      return ct_error(CT_UNIMPLEMENTED, "from_dlpack: the CUDA tensor of shape %s is %s; ctensor copies only "
                      "host tensors on import (make it contiguous first)",
                      ct_shape_str(dl->shape, dl->ndim, sbuf, sizeof sbuf), why);
    ct_tensor *t = NULL;
    if ((st = copy_strided(dev, dl, dtype, data, &t)) != CT_OK) return st;
    atomic_fetch_add_explicit(&g_copies, 1, memory_order_relaxed);
    ct_logf(ctx, CT_LOG_WARNING, "from_dlpack: copied a %s tensor of shape %s (%zu bytes): it is %s",
            ct_dtype_name(dtype), ct_shape_str(dl->shape, dl->ndim, sbuf, sizeof sbuf), t->nbytes, why);
    call(managed); /* the producer's bytes are no longer needed */
    *out = t;
    return CT_OK;
  }
  if (numel == 0) {
    ct_tensor *t = NULL;
    if ((st = ct_tensor_alloc(dev, dtype, dl->shape, dl->ndim, &t)) != CT_OK) return st;
    call(managed);
    *out = t;
    return CT_OK;
  }
  keeper_device *k = calloc(1, sizeof *k);
  if (!k) return ct_error(CT_RESOURCE_EXHAUSTED, "from_dlpack: out of memory");
  k->dev.ctx = ctx;
  k->dev.backend = &keeper_backend;
  k->dev.type = dev->type;
  snprintf(k->dev.name, sizeof k->dev.name, "%s", dev->name);
  k->deleter = call;
  k->managed = managed;
  ct_tensor *keeper = header_over(dev, &k->dev, dtype, dl->shape, dl->ndim, data);
  if (!keeper) {
    free(k);
    return ct_error(CT_RESOURCE_EXHAUSTED, "from_dlpack: out of memory");
  }
  keeper->owns_data = true; /* its release runs keeper_free */
  ct_tensor *t = header_over(dev, dev, dtype, dl->shape, dl->ndim, data);
  if (!t) {
    k->deleter = NULL; /* a failed call leaves the producer's tensor to the caller */
    ct_tensor_release(keeper);
    return ct_error(CT_RESOURCE_EXHAUSTED, "from_dlpack: out of memory");
  }
  t->base = keeper;
  *out = t;
  return CT_OK;
}

ct_status ct_tensor_from_dlpack(ct_context *ctx, struct DLManagedTensorVersioned *src, unsigned flags,
                                ct_tensor **out) {
  if (src == NULL) return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: the managed tensor is NULL");
  if (src->version.major != DLPACK_MAJOR_VERSION)
    return ct_error(CT_UNIMPLEMENTED, "from_dlpack: DLPack version %u.%u; ctensor reads %d.x",
                    (unsigned)src->version.major, (unsigned)src->version.minor, DLPACK_MAJOR_VERSION);
  return import_dl(ctx, &src->dl_tensor, flags, call_versioned, src, out);
}

ct_status ct_tensor_from_dlpack_unversioned(ct_context *ctx, struct DLManagedTensor *src, unsigned flags,
                                            ct_tensor **out) {
  if (src == NULL) return ct_error(CT_INVALID_ARGUMENT, "from_dlpack: the managed tensor is NULL");
  return import_dl(ctx, &src->dl_tensor, flags, call_unversioned, src, out);
}

ct_status ct_dlpack_consumer_stream(ct_context *ctx, int32_t device_type, int32_t device_id, uintptr_t *stream) {
  if (ctx == NULL || stream == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "dlpack_consumer_stream: %s is NULL", ctx ? "stream" : "context");
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  ct_device *dev = NULL;
  if ((st = device_from_dl(ctx, (DLDevice){(DLDeviceType)device_type, device_id}, &dev)) != CT_OK) return st;
  *stream = ct_cuda_dlpack_stream(dev);
  return CT_OK;
}
