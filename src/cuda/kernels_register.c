/*
 * GPU kernels: one ct_kernel_fn per op family, each turning the op's
 * tensors and attributes into a launch of an NVRTC-compiled kernel
 * (the sources in src/cuda/kernels/) on the device's stream. Nothing here waits for
 * the GPU, except the integer pow check (negative exponents are an error,
 * as on the CPU, and finding one needs the values).
 *
 * Tensors' data pointers are device addresses (CUdeviceptr as void *).
 * Kernel parameter structs below mirror the ones in the .cu files.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels_common.h"
#include "cuda/cuda_kernels.h"
#include "cuda/jit.h"
#include "ops/broadcast.h"

#define BLOCK 256

typedef struct gpu_strided { /* common.cuh: Strided */
  int rank, pad_;
  int64_t dims[CT_MAX_RANK];
  int64_t stride[CT_MAX_RANK];
} gpu_strided;

typedef struct gpu_bcast { /* binary.cu: Bcast */
  int rank, pad_;
  int64_t dims[CT_MAX_RANK];
  int64_t sa[CT_MAX_RANK];
  int64_t sb[CT_MAX_RANK];
} gpu_bcast;

typedef struct gpu_reduce { /* reduce.cu: Reduce */
  int out_rank, red_rank;
  int64_t out_dims[CT_MAX_RANK];
  int64_t out_stride[CT_MAX_RANK];
  int64_t red_dims[CT_MAX_RANK];
  int64_t red_stride[CT_MAX_RANK];
} gpu_reduce;

ct_status ct_cuda_kernel_for(ct_device *dev, ct_op op, bool found, const ct_cuda_kref *k, CUfunction fn[2]) {
  if (!found)
    return ct_error(CT_INTERNAL, "%s: no GPU kernel for this dtype on %s", ct_op_name(op), dev->short_name);
  return ct_cuda_kernel_get(ct_cuda_device_of(dev), k, fn);
}

static int64_t vec_width(size_t elem_size) { return (int64_t)(16 / elem_size); }

/* ---- elementwise ---------------------------------------------------------- */

static ct_status launch_binary(ct_device *dev, ct_op op, const ct_tensor *a, const ct_tensor *b, ct_tensor *o) {
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(dev, op, ct_cuda_kref_binary(op, a->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  ct_bcast_plan plan;
  ct_bcast_plan_make(a->shape, a->rank, b->shape, b->rank, o->shape, o->rank, &plan);
  gpu_bcast d;
  memset(&d, 0, sizeof d);
  int64_t n = o->numel, work = n;
  if (plan.rank == 1 && plan.stride[0][0] == 1 && plan.stride[1][0] == 1) {
    d.rank = 0; /* same shapes: the vectorised path */
    work = n / vec_width(ct_dtype_size(a->dtype)) + 1;
  } else {
    d.rank = plan.rank;
    for (int i = 0; i < plan.rank; i++) {
      d.dims[i] = plan.dims[i];
      d.sa[i] = plan.stride[0][i];
      d.sb[i] = plan.stride[1][i];
    }
  }
  void *po = o->data, *pa = a->data, *pb = b->data;
  void *params[] = {&po, &pa, &pb, &n, &d};
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  return ct_cuda_launch(cd, op, fn[0], ct_cuda_grid_for(cd, work, BLOCK), 1, BLOCK, params);
}

static ct_status reduce_to(ct_device *dev, ct_op op, const ct_tensor *x, const unsigned char *reduce, void *dst);

/* The minimum and maximum of a non-empty int32/int64 tensor, on the host
 * (two reductions and one synchronisation): what the GPU's argument checks
 * need before a launch -- integer pow exponents, floor_div/floor_mod
 * divisors, gather indices -- so that they fail as on the CPU. */
static ct_status int_range(ct_device *dev, const ct_tensor *t, int64_t *lo, int64_t *hi) {
  unsigned char all[CT_MAX_RANK];
  memset(all, 1, sizeof all);
  void *tmp = NULL;
  ct_status s = dev->backend->alloc(dev, 16, &tmp);
  if (s != CT_OK) return s;
  int64_t v[2] = {0, 0};
  size_t es = ct_dtype_size(t->dtype);
  s = reduce_to(dev, CT_OP_MIN, t, all, tmp);
  if (s == CT_OK) s = reduce_to(dev, CT_OP_MAX, t, all, (char *)tmp + 8);
  if (s == CT_OK) s = dev->backend->copy_to_host(dev, &v[0], tmp, es);
  if (s == CT_OK) s = dev->backend->copy_to_host(dev, &v[1], (char *)tmp + 8, es);
  dev->backend->free(dev, tmp, 16);
  if (s != CT_OK) return s;
  /* int32 results were read into the low bytes of a zeroed int64 */
  *lo = t->dtype == CT_INT32 ? (int32_t)v[0] : v[0];
  *hi = t->dtype == CT_INT32 ? (int32_t)v[1] : v[1];
  return CT_OK;
}

/* A host copy of a device tensor's bytes (malloc'ed; the caller frees). */
static ct_status read_back(ct_device *dev, ct_op op, const ct_tensor *t, void **out) {
  *out = malloc(t->nbytes ? t->nbytes : 1);
  if (*out == NULL)
    return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory for %zu bytes", ct_op_name(op), t->nbytes);
  ct_status s = dev->backend->copy_to_host(dev, *out, t->data, t->nbytes);
  if (s != CT_OK) {
    free(*out);
    *out = NULL;
  }
  return s;
}

/* Integer pow: the CPU rejects negative exponents; so does the GPU. */
static ct_status check_int_exponents(ct_device *dev, const ct_tensor *b) {
  int64_t lo, hi;
  ct_status s = int_range(dev, b, &lo, &hi);
  if (s != CT_OK) return s;
  if (lo < 0) return ct_error(CT_INVALID_ARGUMENT, "pow: integers to negative integer powers are not allowed");
  return CT_OK;
}

/* Integer floor division and modulo: the CPU refuses a zero divisor; so
 * does the GPU. The range settles the usual cases (all divisors of one
 * sign); only when it straddles 0 is b read back and searched for a 0. */
static ct_status check_int_divisors(ct_device *dev, ct_op op, const ct_tensor *b) {
  int64_t lo, hi;
  ct_status s = int_range(dev, b, &lo, &hi);
  if (s != CT_OK) return s;
  bool zero = lo == 0 || hi == 0;
  if (!zero && lo < 0 && hi > 0) {
    void *host = NULL;
    s = read_back(dev, op, b, &host);
    if (s != CT_OK) return s;
    for (int64_t i = 0; i < b->numel && !zero; i++)
      zero = b->dtype == CT_INT32 ? ((const int32_t *)host)[i] == 0 : ((const int64_t *)host)[i] == 0;
    free(host);
  }
  if (zero)
    return ct_error(CT_INVALID_ARGUMENT, "%s: Integer division by zero (a divisor of %s is 0)", ct_op_name(op),
                    ct_dtype_name(b->dtype));
  return CT_OK;
}

static ct_status binary_kernel(const ct_kernel_args *args) {
  const ct_tensor *a = args->in[0], *b = args->in[1];
  if (args->out->numel == 0) return CT_OK;
  if (args->op == CT_OP_POW && (a->dtype == CT_INT32 || a->dtype == CT_INT64) && b->numel > 0) {
    ct_status s = check_int_exponents(args->device, b);
    if (s != CT_OK) return s;
  }
  if ((args->op == CT_OP_FLOOR_DIV || args->op == CT_OP_FLOOR_MOD) && (a->dtype == CT_INT32 || a->dtype == CT_INT64)) {
    ct_status s = check_int_divisors(args->device, args->op, b);
    if (s != CT_OK) return s;
  }
  return launch_binary(args->device, args->op, a, b, args->out);
}

static ct_status unary_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_unary(args->op, x->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  void *po = o->data, *px = x->data;
  void *params[] = {&po, &px, &n};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  int64_t work = n / vec_width(ct_dtype_size(x->dtype)) + 1;
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, work, BLOCK), 1, BLOCK, params);
}

static ct_status copy_on_device(ct_device *dev, void *dst, const void *src, size_t bytes) {
  if (bytes == 0) return CT_OK;
  return dev->backend->copy_device(dev, dst, dev, src, bytes);
}

static ct_status cast_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  if (x->dtype == o->dtype) return copy_on_device(args->device, o->data, x->data, o->nbytes);
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_cast(x->dtype, o->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  void *po = o->data, *px = x->data;
  void *params[] = {&po, &px, &n};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

/* ---- creation ------------------------------------------------------------- */

static ct_status fill_kernel(const ct_kernel_args *args) {
  const ct_fill_attrs *at = args->attrs;
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  size_t esz = ct_dtype_size(o->dtype);
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_fill(esz, &k), &k, fn);
  if (s != CT_OK) return s;
  /* the value converts exactly as on the CPU (and as ct_cast a float64) */
  uint64_t pattern = 0;
  ct_k_store_f64(&pattern, o->dtype, 0, at->value);
  int64_t n = o->numel;
  void *po = o->data;
  void *params[] = {&po, &n, &pattern}; /* little-endian: the low bytes are the value */
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

static ct_status range_kernel(const ct_kernel_args *args) {
  const ct_range_attrs *at = args->attrs;
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_range(o->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  void *po = o->data;
  double fstart = at->start, fdelta = at->delta;
  int64_t istart = (int64_t)at->start, idelta = (int64_t)at->delta; /* the front-end checked they fit */
  bool integer = o->dtype == CT_INT32 || o->dtype == CT_INT64;
  void *params[] = {&po, &n, integer ? (void *)&istart : (void *)&fstart, integer ? (void *)&idelta : (void *)&fdelta};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

static ct_status random_kernel(const ct_kernel_args *args) {
  const ct_random_attrs *at = args->attrs;
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_random(args->op, o->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  uint64_t seed = at->seed, offset = at->offset;
  double a = at->a, b = at->b;
  void *po = o->data;
  void *params[] = {&po, &n, &seed, &offset, &a, &b};
  int64_t blocks = o->dtype == CT_FLOAT64 ? (n + 1) / 2 : (n + 3) / 4; /* Philox blocks */
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, blocks, BLOCK), 1, BLOCK, params);
}

/* ---- reductions ----------------------------------------------------------- */

/* Splits x's axes into kept and reduced runs, dropping size-1 axes and
 * merging neighbours of the same kind (x is contiguous). */
static void reduce_plan(const ct_tensor *x, const unsigned char *reduce, gpu_reduce *d, int64_t *n_out, int64_t *R) {
  memset(d, 0, sizeof *d);
  int64_t stride = 1;
  int last_kind = -1;
  *n_out = 1;
  *R = 1;
  /* walk from the innermost axis out so strides are known as we go */
  int64_t od[CT_MAX_RANK], os[CT_MAX_RANK], rd[CT_MAX_RANK], rs[CT_MAX_RANK];
  int no = 0, nr = 0;
  for (int i = x->rank - 1; i >= 0; i--) {
    int64_t dim = x->shape[i];
    int kind = reduce[i] ? 1 : 0;
    if (kind) *R *= dim;
    else *n_out *= dim;
    if (dim != 1) {
      int64_t *dims = kind ? rd : od, *strides = kind ? rs : os;
      int *cnt = kind ? &nr : &no;
      if (kind == last_kind && *cnt > 0 && strides[*cnt - 1] * dims[*cnt - 1] == stride) {
        dims[*cnt - 1] *= dim; /* contiguous with the previous run of its kind */
      } else {
        dims[*cnt] = dim;
        strides[*cnt] = stride;
        (*cnt)++;
      }
      last_kind = kind;
    }
    stride *= dim;
  }
  /* the lists were built innermost first; the kernel wants row-major order */
  d->out_rank = no;
  d->red_rank = nr;
  for (int i = 0; i < no; i++) d->out_dims[i] = od[no - 1 - i], d->out_stride[i] = os[no - 1 - i];
  for (int i = 0; i < nr; i++) d->red_dims[i] = rd[nr - 1 - i], d->red_stride[i] = rs[nr - 1 - i];
}

/* The shortest contiguous reduced run that gets a block of its own
 * (reduce.cu's "row" strategy); bench/gpu/gpu_check.c tests both sides. */
#define REDUCE_ROW_MIN 256

static ct_status reduce_to(ct_device *dev, ct_op op, const ct_tensor *x, const unsigned char *reduce, void *dst) {
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(dev, op, ct_cuda_kref_reduce(op, x->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  gpu_reduce d;
  int64_t n_out, R;
  reduce_plan(x, reduce, &d, &n_out, &R);
  if (n_out == 0) return CT_OK;
  /* mean: divide by R; the mean of nothing is 0/0 for floats (NaN, as on
   * the CPU) and 0 for integers (their sum) */
  int64_t divisor = op != CT_OP_MEAN ? 0 : R > 0 ? R : ct_k_is_float(x->dtype) ? -1 : 0;
  /* an empty GPU tensor's data is not device memory; R == 0 reads nothing */
  const void *in = x->numel > 0 ? x->data : NULL;
  int64_t sms = cd->sm_count > 0 ? cd->sm_count : 16;
  /* Few long reductions: several blocks per output, then a finishing pass. */
  if (R >= 4096 && n_out < sms * 8) {
    int64_t want_blocks = sms * 4;
    int64_t chunks = (want_blocks + n_out - 1) / n_out;
    int64_t max_chunks = (R + 4 * BLOCK - 1) / (4 * BLOCK); /* at least 4 elements per thread */
    if (chunks > max_chunks) chunks = max_chunks;
    if (chunks > 65535) chunks = 65535;
    if (chunks < 1) chunks = 1;
    int64_t chunk = (R + chunks - 1) / chunks;
    chunks = (R + chunk - 1) / chunk;
    size_t bytes = (size_t)(n_out * chunks) * 8; /* float64 or int64 partials */
    void *part = NULL;
    s = dev->backend->alloc(dev, bytes, &part);
    if (s != CT_OK) return s;
    void *p1[] = {&part, &in, &d, &n_out, &R, &chunk, &divisor};
    s = ct_cuda_launch(cd, op, fn[0], (unsigned)n_out, (unsigned)chunks, BLOCK, p1);
    if (s == CT_OK) {
      void *p2[] = {&dst, &part, &n_out, &chunks, &divisor};
      s = ct_cuda_launch(cd, op, fn[1], ct_cuda_grid_for(cd, n_out, BLOCK), 1, BLOCK, p2);
    }
    /* stream-ordered: whoever reuses the block next queues behind us */
    dev->backend->free(dev, part, bytes);
    return s;
  }
  /* Otherwise, when each output's elements are one contiguous run of at
   * least REDUCE_ROW_MIN: a block per output, so that warps read
   * consecutive addresses. Shorter runs, and strided ones (where a thread
   * per output reads neighbouring columns, which coalesces): a thread per
   * output. */
  if (R >= REDUCE_ROW_MIN && d.red_rank == 1 && d.red_stride[0] == 1) {
    int64_t row = -1;
    unsigned threads = R >= 4096 ? BLOCK : 128;
    void *p[] = {&dst, &in, &d, &n_out, &R, &row, &divisor};
    return ct_cuda_launch(cd, op, fn[0], ct_cuda_grid_for(cd, n_out * threads, threads), 1, threads, p);
  }
  int64_t zero = 0;
  void *p[] = {&dst, &in, &d, &n_out, &R, &zero, &divisor};
  return ct_cuda_launch(cd, op, fn[0], ct_cuda_grid_for(cd, n_out, 128), 1, 128, p);
}

static ct_status reduce_kernel(const ct_kernel_args *args) {
  const ct_reduce_attrs *at = args->attrs;
  return reduce_to(args->device, args->op, args->in[0], at->reduce, args->out->data);
}

void ct_cuda_axis_split(const ct_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
  *outer = 1;
  *inner = 1;
  for (int i = 0; i < axis; i++) *outer *= x->shape[i];
  for (int i = axis + 1; i < x->rank; i++) *inner *= x->shape[i];
  *len = x->shape[axis];
}

static ct_status argmax_kernel(const ct_kernel_args *args) {
  const ct_axis_attrs *at = args->attrs;
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_argmax(x->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t outer, len, inner;
  ct_cuda_axis_split(x, at->axis, &outer, &len, &inner);
  /* softmax's rule: a thread walking a long row alone (1M classes, a few
   * rows) leaves the GPU idle and reads one element per trip */
  int out64 = o->dtype == CT_INT64, per_row = inner == 1 && len >= CT_CUDA_ROW_PER_BLOCK;
  void *po = o->data, *px = x->data;
  void *params[] = {&po, &px, &outer, &len, &inner, &out64, &per_row};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  unsigned grid = per_row ? ct_cuda_grid_for(cd, outer * BLOCK, BLOCK) : ct_cuda_grid_for(cd, outer * inner, 128);
  return ct_cuda_launch(cd, args->op, fn[0], grid, 1, per_row ? BLOCK : 128, params);
}

static ct_status softmax_kernel(const ct_kernel_args *args) {
  const ct_axis_attrs *at = args->attrs;
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_softmax(x->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t outer, len, inner;
  ct_cuda_axis_split(x, at->axis, &outer, &len, &inner);
  int per_row = inner == 1 && len >= CT_CUDA_ROW_PER_BLOCK;
  void *po = o->data, *px = x->data;
  void *params[] = {&po, &px, &outer, &len, &inner, &per_row};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  unsigned grid = per_row ? (unsigned)(outer < 65535 ? outer : 65535) : ct_cuda_grid_for(cd, outer * inner, BLOCK);
  return ct_cuda_launch(cd, args->op, fn[0], grid, 1, BLOCK, params);
}

/* ---- shape ---------------------------------------------------------------- */

static void contiguous_strides(const int64_t *shape, int rank, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
}

static ct_status launch_gather(ct_device *dev, ct_op op, ct_tensor *o, const void *in, const gpu_strided *d) {
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(dev, op, ct_cuda_kref_gather(ct_dtype_size(o->dtype), &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  void *po = o->data;
  void *params[] = {&po, &in, &n, (void *)d};
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  return ct_cuda_launch(cd, op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

static ct_status transpose_kernel(const ct_kernel_args *args) {
  const ct_transpose_attrs *at = args->attrs;
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  int64_t in_strides[CT_MAX_RANK];
  contiguous_strides(x->shape, x->rank, in_strides);
  gpu_strided d;
  memset(&d, 0, sizeof d);
  d.rank = o->rank;
  for (int i = 0; i < o->rank; i++) {
    d.dims[i] = o->shape[i];
    d.stride[i] = in_strides[at->perm[i]];
  }
  if (d.rank == 0) d.rank = 1, d.dims[0] = 1, d.stride[0] = 1;
  return launch_gather(args->device, args->op, o, x->data, &d);
}

static ct_status slice_kernel(const ct_kernel_args *args) {
  const ct_slice_attrs *at = args->attrs;
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  int64_t in_strides[CT_MAX_RANK], first = 0;
  contiguous_strides(x->shape, x->rank, in_strides);
  gpu_strided d;
  memset(&d, 0, sizeof d);
  d.rank = o->rank;
  for (int i = 0; i < o->rank; i++) {
    d.dims[i] = o->shape[i];
    d.stride[i] = in_strides[i];
    first += at->begin[i] * in_strides[i];
  }
  if (d.rank == 0) d.rank = 1, d.dims[0] = 1, d.stride[0] = 1;
  const char *in = (const char *)x->data + first * (int64_t)ct_dtype_size(x->dtype);
  return launch_gather(args->device, args->op, o, in, &d);
}

static ct_status concat_kernel(const ct_kernel_args *args) {
  const ct_axis_attrs *at = args->attrs;
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  size_t esz = ct_dtype_size(o->dtype);
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_copy2d(esz, &k), &k, fn);
  if (s != CT_OK) return s;
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  int64_t outer, len, inner;
  ct_cuda_axis_split(o, at->axis, &outer, &len, &inner);
  int64_t dst_pitch = len * inner, col = 0;
  for (int i = 0; i < args->n_in; i++) {
    const ct_tensor *x = args->in[i];
    int64_t width = x->shape[at->axis] * inner;
    if (x->numel > 0) {
      void *dst = (char *)o->data + col * (int64_t)esz;
      void *src = x->data;
      int64_t rows = outer, src_pitch = width;
      void *params[] = {&dst, &dst_pitch, &src, &src_pitch, &rows, &width};
      s = ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, rows * width, BLOCK), 1, BLOCK, params);
      if (s != CT_OK) return s;
    }
    col += width;
  }
  return CT_OK;
}

/* tf.gather. Indices are checked as on the CPU: their range settles it;
 * only when it leaves [0, dim) are they read back, to name the first bad
 * one. */
static ct_status gather_kernel(const ct_kernel_args *args) {
  const ct_tensor *p = args->in[0], *ix = args->in[1];
  ct_tensor *o = args->out;
  const ct_gather_attrs *at = args->attrs;
  if (o->numel == 0) return CT_OK;
  ct_device *dev = args->device;
  int64_t outer = 1, inner = 1, dim = p->shape[at->axis], n_idx = ix->numel;
  for (int d = 0; d < at->axis; d++) outer *= p->shape[d];
  for (int d = at->axis + 1; d < p->rank; d++) inner *= p->shape[d];

  int64_t lo, hi;
  ct_status s = int_range(dev, ix, &lo, &hi);
  if (s != CT_OK) return s;
  if (lo < 0 || hi >= dim) {
    void *host = NULL;
    s = read_back(dev, args->op, ix, &host);
    if (s == CT_OK) s = ct_gather_check_indices(ix, host, dim);
    free(host);
    if (s == CT_OK) s = ct_error(CT_INTERNAL, "gather: index range [%lld, %lld] outside [0, %lld) but no bad index found",
                                 (long long)lo, (long long)hi, (long long)dim);
    return s;
  }

  ct_cuda_kref k;
  CUfunction fn[2];
  s = ct_cuda_kernel_for(dev, args->op, ct_cuda_kref_take(ct_dtype_size(p->dtype), ix->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  void *po = o->data, *pp = p->data, *pi = ix->data;
  void *params[] = {&po, &pp, &pi, &outer, &n_idx, &dim, &inner};
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, o->numel, BLOCK), 1, BLOCK, params);
}

/* ---- registration ----------------------------------------------------------- */

/* Every kernel above that needs NVRTC (all but matmul, which is cuBLAS's). */
static bool needs_jit(ct_kernel_fn fn) {
  if (ct_cuda_optim_needs_jit(fn)) return true;
  static const ct_kernel_fn jit[] = {binary_kernel, unary_kernel,  cast_kernel,    fill_kernel,
                                     range_kernel,  random_kernel, reduce_kernel,  argmax_kernel,
                                     softmax_kernel, transpose_kernel, slice_kernel, concat_kernel,
                                     gather_kernel};
  for (size_t i = 0; i < CT_ARRAY_LEN(jit); i++)
    if (fn == jit[i]) return true;
  return ct_cuda_nn_needs_jit(fn);
}

void ct_cuda_prune_kernels(ct_registry *r, bool have_nvrtc, bool have_cublas) {
  for (int op = 0; op < CT_OP_COUNT; op++)
    for (int d = 0; d < CT_DTYPE_COUNT; d++) {
      ct_kernel_fn *fn = &r->kernels[op][CT_DEV_GPU][d];
      if (*fn == NULL) continue;
      bool blas = *fn == ct_cuda_matmul_kernel, jit = !blas && needs_jit(*fn);
      if ((blas && !have_cublas) || (jit && !have_nvrtc)) {
        *fn = NULL;
        r->gpu_pruned[op][d] = true;
      } else {
        /* located, not yet opened: placement opens it before relying on it */
        r->gpu_needs[op][d] = blas ? CT_GPU_NEEDS_CUBLAS : jit ? CT_GPU_NEEDS_NVRTC : 0;
      }
    }
}

void ct_cuda_register_kernels(ct_registry *r) {
  ct_cuda_kref k;
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    ct_dtype dt = (ct_dtype)d;
    for (int op = CT_OP_ADD; op <= CT_OP_GREATER_EQUAL; op++)
      if (ct_cuda_kref_binary((ct_op)op, dt, &k)) ct_registry_add(r, (ct_op)op, CT_DEV_GPU, dt, binary_kernel);
    for (int op = CT_OP_NEG; op <= CT_OP_RELU; op++)
      if (ct_cuda_kref_unary((ct_op)op, dt, &k)) ct_registry_add(r, (ct_op)op, CT_DEV_GPU, dt, unary_kernel);
    ct_registry_add(r, CT_OP_CAST, CT_DEV_GPU, dt, cast_kernel);
    ct_registry_add(r, CT_OP_FILL, CT_DEV_GPU, dt, fill_kernel);
    if (ct_cuda_kref_range(dt, &k)) ct_registry_add(r, CT_OP_RANGE, CT_DEV_GPU, dt, range_kernel);
    for (int op = CT_OP_RANDOM_UNIFORM; op <= CT_OP_TRUNCATED_NORMAL; op++)
      if (ct_cuda_kref_random((ct_op)op, dt, &k)) ct_registry_add(r, (ct_op)op, CT_DEV_GPU, dt, random_kernel);
    static const ct_op reds[] = {CT_OP_SUM, CT_OP_MEAN, CT_OP_MAX, CT_OP_MIN};
    for (size_t i = 0; i < CT_ARRAY_LEN(reds); i++)
      if (ct_cuda_kref_reduce(reds[i], dt, &k)) ct_registry_add(r, reds[i], CT_DEV_GPU, dt, reduce_kernel);
    if (ct_cuda_kref_argmax(dt, &k)) ct_registry_add(r, CT_OP_ARGMAX, CT_DEV_GPU, dt, argmax_kernel);
    if (ct_cuda_kref_softmax(dt, &k)) ct_registry_add(r, CT_OP_SOFTMAX, CT_DEV_GPU, dt, softmax_kernel);
    ct_registry_add(r, CT_OP_TRANSPOSE, CT_DEV_GPU, dt, transpose_kernel);
    ct_registry_add(r, CT_OP_SLICE, CT_DEV_GPU, dt, slice_kernel);
    ct_registry_add(r, CT_OP_CONCAT, CT_DEV_GPU, dt, concat_kernel);
    ct_registry_add(r, CT_OP_GATHER, CT_DEV_GPU, dt, gather_kernel);
    if (dt == CT_FLOAT32 || dt == CT_FLOAT64 || dt == CT_FLOAT16 || dt == CT_BFLOAT16)
      ct_registry_add(r, CT_OP_MATMUL, CT_DEV_GPU, dt, ct_cuda_matmul_kernel);
  }
  ct_cuda_register_nn_kernels(r);
  ct_cuda_register_optim_kernels(r);
}
