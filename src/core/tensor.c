/*
 * Tensors: a refcounted header plus bytes on one device.
 *
 * Owner rule: whoever receives a ct_tensor* from an out-parameter owns one
 * reference. A view (reshape) owns a reference to its base, and every
 * tensor owns a reference to its context, so a context outlives its
 * tensors however the application orders the frees.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* Largest element count a tensor may have: its bytes and every partial
 * product of its dims stay far from overflowing. */
#define CT_MAX_NUMEL ((int64_t)1 << 56)

int64_t ct_shape_numel(const int64_t *shape, int rank) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  return n;
}

ct_status ct_shape_check(const char *what, const int64_t *shape, int rank) {
  if (rank < 0 || rank > CT_MAX_RANK)
    return ct_error(CT_INVALID_ARGUMENT, "%s: rank %d out of range (0..%d)", what, rank, CT_MAX_RANK);
  if (rank > 0 && shape == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: shape is NULL for rank %d", what, rank);
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0) {
      char buf[CT_SHAPE_STR_MAX];
      return ct_error(CT_INVALID_ARGUMENT, "%s: dimension %d is negative in shape %s", what, i,
                      ct_shape_str(shape, rank, buf, sizeof buf));
    }
    if (shape[i] != 0 && n > CT_MAX_NUMEL / shape[i]) {
      char buf[CT_SHAPE_STR_MAX];
      return ct_error(CT_INVALID_ARGUMENT, "%s: shape %s has too many elements", what,
                      ct_shape_str(shape, rank, buf, sizeof buf));
    }
    n *= shape[i];
  }
  return CT_OK;
}

/* Out of line: its message buffer would cost the hot path a stack frame. */
static __attribute__((noinline, cold)) ct_status too_many_elements(const int64_t *shape, int rank) {
  char buf[CT_SHAPE_STR_MAX];
  return ct_error(CT_INVALID_ARGUMENT, "shape %s has too many elements (at most 2^56)",
                  ct_shape_str(shape, rank, buf, sizeof buf));
}

/* An output shape computed by an op (matmul's [m,n] from a [m,0] and a
 * [0,n], a broadcast of [2^40,1,0] and [1,2^40,0], a concat) was never seen
 * by ct_shape_check: its element count is checked here, where every
 * tensor is made, so that numel and nbytes can never wrap around. Inlined
 * into both callers: a call here showed in the 1-element add. */
static inline __attribute__((always_inline)) ct_tensor *header_new(ct_device *dev, ct_dtype dtype,
                                                                   const int64_t *shape, int rank, ct_status *st) {
  ct_tensor *t = malloc(sizeof *t);
  if (!t) {
    *st = ct_error(CT_RESOURCE_EXHAUSTED, "out of memory allocating a tensor header");
    return NULL;
  }
  /* One pass, no branch per dim: this runs for every op. */
  int64_t n = 1;
  bool too_big = false;
  for (int i = 0; i < rank; i++) {
    t->shape[i] = shape[i];
    too_big |= __builtin_mul_overflow(n, shape[i], &n);
    too_big |= n > CT_MAX_NUMEL; /* as ct_shape_check: every partial product */
  }
  if (__builtin_expect(too_big, 0)) {
    free(t);
    *st = too_many_elements(shape, rank);
    return NULL;
  }
  atomic_init(&t->refcount, 1);
  t->dtype = dtype;
  t->rank = rank;
  t->numel = n;
  t->nbytes = (size_t)n * ct_dtype_size(dtype);
  t->device = dev;
  t->backing = dev;
  t->base = NULL;
  t->owns_data = false;
  t->data = NULL;
  atomic_init(&t->tape_id, 0);
  return t;
}

ct_status ct_tensor_alloc(ct_device *dev, ct_dtype dtype, const int64_t *shape, int rank, ct_tensor **out) {
  ct_status st;
  ct_tensor *t = header_new(dev, dtype, shape, rank, &st);
  if (!t) return st;
  if (dev->type == CT_DEV_CPU && t->nbytes <= CT_INLINE_BYTES) {
    t->data = t->inline_data;
  } else if (t->nbytes > 0) {
    st = dev->backend->alloc(dev, t->nbytes, &t->data);
    if (st != CT_OK) {
      free(t);
      return st;
    }
    t->owns_data = true;
  } else {
    t->data = t->inline_data;
  }
  ct_context_retain(dev->ctx);
  *out = t;
  return CT_OK;
}

ct_status ct_tensor_view(const ct_tensor *base, const int64_t *shape, int rank, ct_tensor **out) {
  ct_tensor *root = (ct_tensor *)base;
  while (root->base) root = root->base;
  ct_status st;
  ct_tensor *t = header_new(base->device, base->dtype, shape, rank, &st);
  if (!t) return st;
  t->backing = base->backing;
  t->data = base->data;
  if (base->data == base->inline_data) {
    /* Inline bytes move with the header: copy them instead of pointing in. */
    memcpy(t->inline_data, base->inline_data, CT_INLINE_BYTES);
    t->data = t->inline_data;
  } else {
    t->base = ct_tensor_retain(root);
  }
  ct_context_retain(t->device->ctx);
  *out = t;
  return CT_OK;
}

ct_tensor *ct_tensor_retain(ct_tensor *t) {
  if (t) atomic_fetch_add_explicit(&t->refcount, 1, memory_order_relaxed);
  return t;
}

void ct_tensor_release(ct_tensor *t) {
  if (t == NULL) return;
  if (atomic_fetch_sub_explicit(&t->refcount, 1, memory_order_acq_rel) != 1) return;
  ct_context *ctx = t->device->ctx;
  if (t->base) ct_tensor_release(t->base);
  else if (t->owns_data) t->backing->backend->free(t->backing, t->data, t->nbytes);
  free(t);
  ct_context_release(ctx);
}

ct_dtype ct_tensor_dtype(const ct_tensor *t) { return t->dtype; }
int ct_tensor_rank(const ct_tensor *t) { return t->rank; }
const int64_t *ct_tensor_shape(const ct_tensor *t) { return t->shape; }
int64_t ct_tensor_dim(const ct_tensor *t, int axis) {
  if (axis < 0) axis += t->rank;
  return axis >= 0 && axis < t->rank ? t->shape[axis] : -1;
}
int64_t ct_tensor_num_elements(const ct_tensor *t) { return t->numel; }
size_t ct_tensor_nbytes(const ct_tensor *t) { return t->nbytes; }
const char *ct_tensor_device(const ct_tensor *t) { return t ? t->device->name : ""; }
const char *ct_tensor_backing_device(const ct_tensor *t) { return t ? t->backing->name : ""; }

ct_status ct_tensor_to_host(const ct_tensor *t, void *dst, size_t dst_bytes) {
  if (t == NULL || (dst == NULL && t->nbytes > 0))
    return ct_error(CT_INVALID_ARGUMENT, "tensor_to_host: %s is NULL", t == NULL ? "tensor" : "destination");
  if (dst_bytes < t->nbytes) {
    char buf[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "tensor_to_host: destination has %zu bytes, the %s tensor of shape %s needs %zu",
                    dst_bytes, ct_dtype_name(t->dtype), ct_shape_str(t->shape, t->rank, buf, sizeof buf), t->nbytes);
  }
  if (t->nbytes == 0) return CT_OK;
  if (t->backing->type == CT_DEV_CPU) {
    memcpy(dst, t->data, t->nbytes);
    return CT_OK;
  }
  return t->backing->backend->copy_to_host(t->backing, dst, t->data, t->nbytes);
}

/* The Const kernel: the host bytes arrive through attrs. */
static ct_status const_kernel(const ct_kernel_args *a) {
  ct_tensor *out = a->out;
  if (out->nbytes == 0) return CT_OK;
  const void *src = a->attrs;
  unsigned char *scratch = NULL;
  /* Every kernel may assume a bool is 0 or 1: any other byte becomes 1. */
  if (out->dtype == CT_BOOL) {
    const unsigned char *in = src;
    unsigned char *dst = out->data;
    if (out->backing->type != CT_DEV_CPU) {
      dst = scratch = malloc(out->nbytes);
      if (!scratch) return ct_error(CT_RESOURCE_EXHAUSTED, "const: out of memory staging %zu bool bytes", out->nbytes);
    }
    for (size_t i = 0; i < out->nbytes; i++) dst[i] = in[i] != 0;
    if (out->backing->type == CT_DEV_CPU) return CT_OK;
    src = scratch;
  } else if (out->backing->type == CT_DEV_CPU) {
    memcpy(out->data, src, out->nbytes);
    return CT_OK;
  }
  ct_status st = out->backing->backend->copy_from_host(out->backing, out->data, src, out->nbytes);
  /* copy_from_host may be asynchronous: wait before the staging goes. */
  if (st == CT_OK && scratch && out->backing->backend->synchronize) st = out->backing->backend->synchronize(out->backing);
  free(scratch);
  return st;
}

ct_status ct_tensor_copy_bytes_to(const ct_tensor *t, ct_device *dst, ct_tensor **out) {
  ct_tensor *r = NULL;
  ct_status st = ct_tensor_alloc(dst, t->dtype, t->shape, t->rank, &r);
  if (st != CT_OK) return st;
  if (t->nbytes > 0) {
    ct_device *src = t->backing;
    if (src->type == CT_DEV_CPU && dst->type == CT_DEV_CPU)
      memcpy(r->data, t->data, t->nbytes);
    else if (src->type == CT_DEV_CPU)
      st = dst->backend->copy_from_host(dst, r->data, t->data, t->nbytes);
    else if (dst->type == CT_DEV_CPU)
      st = src->backend->copy_to_host(src, r->data, t->data, t->nbytes);
    else if (src->type == dst->type)
      st = dst->backend->copy_device(dst, r->data, src, t->data, t->nbytes);
    else
      st = ct_error(CT_UNIMPLEMENTED, "no copy path from %s to %s", src->name, dst->name);
  }
  if (st != CT_OK) {
    ct_tensor_release(r);
    return st;
  }
  *out = r;
  return CT_OK;
}

/* Identity copies between any two devices; inputs are never moved by the
 * device policy for it (TensorFlow exempts Identity too). */
static ct_status identity_kernel(const ct_kernel_args *a) {
  const ct_tensor *in = a->in[0];
  ct_tensor *out = a->out;
  if (out->nbytes == 0) return CT_OK;
  ct_device *src = in->backing, *dst = out->backing;
  if (src->type == CT_DEV_CPU && dst->type == CT_DEV_CPU) {
    memcpy(out->data, in->data, out->nbytes);
    return CT_OK;
  }
  if (src->type == CT_DEV_CPU) return dst->backend->copy_from_host(dst, out->data, in->data, out->nbytes);
  if (dst->type == CT_DEV_CPU) return src->backend->copy_to_host(src, out->data, in->data, out->nbytes);
  return dst->backend->copy_device(dst, out->data, src, in->data, out->nbytes);
}

void ct_core_register_kernels(ct_registry *r) {
  for (int t = 0; t < CT_DEVTYPE_COUNT; t++) {
    for (int d = 0; d < CT_DTYPE_COUNT; d++) {
      ct_registry_add(r, CT_OP_CONST, (ct_devtype)t, (ct_dtype)d, const_kernel);
      ct_registry_add(r, CT_OP_IDENTITY, (ct_devtype)t, (ct_dtype)d, identity_kernel);
    }
  }
}

ct_status ct_tensor_from_host(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, const void *data,
                              ct_tensor **out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "tensor_from_host: %s is NULL", ctx ? "out" : "context");
  if ((unsigned)dtype >= CT_DTYPE_COUNT)
    return ct_error(CT_INVALID_ARGUMENT, "tensor_from_host: invalid dtype %d", (int)dtype);
  ct_status st = ct_shape_check("tensor_from_host", shape, rank);
  if (st != CT_OK) return st;
  if (data == NULL && ct_shape_numel(shape, rank) > 0)
    return ct_error(CT_INVALID_ARGUMENT, "tensor_from_host: data is NULL for %lld elements",
                    (long long)ct_shape_numel(shape, rank));
  return ct_op_run(ctx, CT_OP_CONST, dtype, NULL, 0, shape, rank, dtype, data, out);
}

ct_status ct_tensor_copy_to(const ct_tensor *t, const char *device_spec, ct_tensor **out) {
  if (t == NULL || device_spec == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "tensor_copy_to: NULL argument");
  ct_context *ctx = ct_tensor_context(t);
  ct_device *dev;
  ct_status st = ct_place_in_scope(ctx, CT_OP_IDENTITY, t->dtype, device_spec, &dev);
  if (st != CT_OK) return st;
  if (dev == t->device) {
    *out = ct_tensor_retain((ct_tensor *)t);
    return CT_OK;
  }
  return ct_op_run_on(ctx, dev, CT_OP_IDENTITY, t->dtype, &t, 1, t->shape, t->rank, t->dtype, NULL, out);
}
