/*
 * CPU kernels of the ops for gradients and training: sparse and dense
 * softmax cross-entropy, one_hot, where (SelectV2), broadcast_to and
 * unsorted_segment_sum (log_softmax shares softmax's kernel, in
 * kernels_reduce.c).
 *
 * The cross-entropies compute in float64 for every float dtype (as
 * softmax does), subtracting the row's maximum first so that exp
 * never overflows; 16-bit results are rounded once. A cross-entropy row is
 * read twice (maximum, then the sum of exponentials) and written once:
 * loss and backprop come out of the same pass.
 *
 * where and broadcast_to move bytes only, so they work on every dtype by
 * element size; their broadcasting walks a plan with size-1 axes dropped
 * and axes merged where every operand is contiguous (or broadcast) across
 * them, so that the inner loop is as long as possible.
 */
#include <stdlib.h>

#include "cpu/kernels_common.h"
#include "ops/broadcast.h"
#include "ops/nn_check.h"

/* ---- softmax cross-entropy ---------------------------------------------------- */

typedef struct xent_job {
  const ct_tensor *logits, *labels;
  ct_tensor *loss, *backprop;
  int64_t classes;
  bool sparse;
} xent_job;

static void xent_rows(void *ctx, int64_t begin, int64_t end) {
  const xent_job *j = ctx;
  const ct_dtype dt = j->logits->dtype;
  const void *px = j->logits->data, *pl = j->labels->data;
  void *pb = j->backprop->data;
  const int64_t n = j->classes;
  for (int64_t r = begin; r < end; r++) {
    const int64_t base = r * n;
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < n; c++) {
      const double v = ct_k_load_f64(px, dt, base + c);
      m = v > m ? v : m;
    }
    for (int64_t c = 0; c < n; c++) s += exp(ct_k_load_f64(px, dt, base + c) - m);
    const double lse = log(s), inv = 1.0 / s;
    double loss = 0;
    if (j->sparse) {
      /* labels were checked: in [0, classes) */
      const int64_t label =
          j->labels->dtype == CT_INT32 ? ((const int32_t *)pl)[r] : ((const int64_t *)pl)[r];
      for (int64_t c = 0; c < n; c++) {
        const double z = ct_k_load_f64(px, dt, base + c) - m;
        ct_k_store_f64(pb, dt, base + c, exp(z) * inv - (c == label ? 1.0 : 0.0));
        if (c == label) loss = lse - z;
      }
    } else {
      /* TensorFlow's formula: sum(labels * (log(sum(exp(z))) - z)) */
      for (int64_t c = 0; c < n; c++) {
        const double z = ct_k_load_f64(px, dt, base + c) - m, p = ct_k_load_f64(pl, dt, base + c);
        ct_k_store_f64(pb, dt, base + c, exp(z) * inv - p);
        loss += p * (lse - z);
      }
    }
    ct_k_store_f64(j->loss->data, dt, r, loss);
  }
}

static ct_status xent_kernel(const ct_kernel_args *args) {
  const ct_xent_attrs *at = args->attrs;
  const ct_tensor *logits = args->in[0], *labels = args->in[1];
  xent_job j = {logits, labels, args->out, at->backprop, logits->shape[1], args->op == CT_OP_SPARSE_XENT};
  /* nothing is written before the labels are known to be good */
  if (j.sparse) {
    ct_status st = ct_sparse_xent_check_labels(labels, labels->data, j.classes);
    if (st != CT_OK) return st;
  }
  ct_k_parallel(logits->shape[0], ct_cpu_threads_for(logits->numel * 32), 1, xent_rows, &j);
  return CT_OK;
}

/* ---- one_hot -------------------------------------------------------------------- */

/* Fills n elements of size esz at p with the bytes of *v. */
static void fill_bytes(void *p, const void *v, size_t esz, int64_t n) {
  switch (esz) {
  case 1: memset(p, *(const unsigned char *)v, (size_t)n); break;
  case 2: {
    uint16_t x, *q = p;
    memcpy(&x, v, 2);
    for (int64_t i = 0; i < n; i++) q[i] = x;
    break;
  }
  case 4: {
    uint32_t x, *q = p;
    memcpy(&x, v, 4);
    for (int64_t i = 0; i < n; i++) q[i] = x;
    break;
  }
  default: {
    uint64_t x, *q = p;
    memcpy(&x, v, 8);
    for (int64_t i = 0; i < n; i++) q[i] = x;
    break;
  }
  }
}

typedef struct one_hot_job {
  const ct_tensor *ix;
  ct_tensor *out;
  int64_t depth, inner;
  _Alignas(8) unsigned char on[8], off[8]; /* ct_k_store_f64 stores a whole element */
  size_t esz;
} one_hot_job;

/* The output is [outer, depth, inner] around the new axis; index element
 * (o, i) sets out[o, v, i]. Rows [begin, end) of outer are filled with
 * off_value, then their on_value written. */
static void one_hot_rows(void *ctx, int64_t begin, int64_t end) {
  const one_hot_job *j = ctx;
  const int64_t row = j->depth * j->inner;
  char *out = j->out->data;
  fill_bytes(out + begin * row * (int64_t)j->esz, j->off, j->esz, (end - begin) * row);
  const bool i32 = j->ix->dtype == CT_INT32;
  for (int64_t o = begin; o < end; o++)
    for (int64_t i = 0; i < j->inner; i++) {
      const int64_t k = o * j->inner + i;
      const int64_t v = i32 ? ((const int32_t *)j->ix->data)[k] : ((const int64_t *)j->ix->data)[k];
      if (v >= 0 && v < j->depth) memcpy(out + (o * row + v * j->inner + i) * (int64_t)j->esz, j->on, j->esz);
    }
}

static ct_status one_hot_kernel(const ct_kernel_args *args) {
  const ct_one_hot_attrs *at = args->attrs;
  const ct_tensor *ix = args->in[0];
  ct_tensor *out = args->out;
  if (out->numel == 0) return CT_OK;
  one_hot_job j;
  j.ix = ix;
  j.out = out;
  j.depth = at->depth;
  j.inner = ct_shape_numel(ix->shape + at->axis, ix->rank - at->axis);
  j.esz = ct_dtype_size(out->dtype);
  ct_k_store_f64(j.on, out->dtype, 0, at->on_value);
  ct_k_store_f64(j.off, out->dtype, 0, at->off_value);
  const int64_t outer = ct_shape_numel(ix->shape, at->axis);
  ct_k_parallel(outer, ct_cpu_threads_for(out->numel), 1, one_hot_rows, &j);
  return CT_OK;
}

/* ---- where and broadcast_to: a strided walk over up to three operands -------- */

#define MAX_OPS 3

typedef struct walk_plan {
  int rank; /* >= 1 */
  int n_ops;
  int64_t dims[CT_MAX_RANK];
  int64_t stride[MAX_OPS][CT_MAX_RANK]; /* element strides, 0 where broadcast */
} walk_plan;

/* Size-1 output axes dropped; an axis merged into the one before it when
 * every operand's stride there times its length is its stride before. */
static void walk_plan_make(const ct_tensor *const *ops, int n_ops, const ct_tensor *out, walk_plan *p) {
  int64_t st[MAX_OPS][CT_MAX_RANK];
  for (int k = 0; k < n_ops; k++) ct_broadcast_strides(ops[k]->shape, ops[k]->rank, out->shape, out->rank, st[k]);
  int r = 0;
  for (int i = 0; i < out->rank; i++) {
    if (out->shape[i] == 1) continue;
    bool merge = r > 0;
    for (int k = 0; k < n_ops && merge; k++) merge = st[k][i] * out->shape[i] == p->stride[k][r - 1];
    if (merge) {
      p->dims[r - 1] *= out->shape[i];
      for (int k = 0; k < n_ops; k++) p->stride[k][r - 1] = st[k][i];
      continue;
    }
    p->dims[r] = out->shape[i];
    for (int k = 0; k < n_ops; k++) p->stride[k][r] = st[k][i];
    r++;
  }
  if (r == 0) { /* one element */
    p->dims[0] = 1;
    for (int k = 0; k < n_ops; k++) p->stride[k][0] = 0;
    r = 1;
  }
  p->rank = r;
  p->n_ops = n_ops;
}

typedef struct walk_job {
  walk_plan plan;
  const unsigned char *cond; /* where: the bool condition, else NULL */
  const char *a, *b;         /* x and y (broadcast_to: x only) */
  char *o;
  size_t esz;
} walk_job;

/* One contiguous run of n output elements: where picks per element,
 * broadcast_to copies (memcpy for a contiguous input, a fill for a
 * broadcast one). off[] are the operands' element offsets, s[] their
 * strides along the run. */
/* Two common runs get loops without strides: all three operands
 * contiguous, and a contiguous condition and x with a scalar y (a ReLU's
 * gradient, where(y > 0, dy, 0), every training step). They select with a
 * bit mask, loading both values: a conditional load (c ? x[i] : y0) keeps
 * the compiler from vectorising. */
#define SELECT_RUN(T)                                                                         \
  do {                                                                                       \
    const T *x = (const T *)j->a + off[1], *y = (const T *)j->b + off[2];                    \
    const unsigned char *c = j->cond + off[0];                                               \
    T *o = (T *)j->o + pos;                                                                  \
    if (s[0] == 1 && s[1] == 1 && s[2] == 0) {                                               \
      const T y0 = *y;                                                                       \
      for (int64_t i = 0; i < n; i++) {                                                      \
        const T m = (T)0 - (T)(c[i] != 0);                                                   \
        o[i] = (T)((x[i] & m) | (y0 & (T)~m));                                               \
      }                                                                                      \
    } else if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                        \
      for (int64_t i = 0; i < n; i++) {                                                      \
        const T m = (T)0 - (T)(c[i] != 0);                                                   \
        o[i] = (T)((x[i] & m) | (y[i] & (T)~m));                                             \
      }                                                                                      \
    } else {                                                                                 \
      for (int64_t i = 0; i < n; i++) o[i] = c[i * s[0]] ? x[i * s[1]] : y[i * s[2]];        \
    }                                                                                        \
  } while (0)

static void run_segment(const walk_job *j, const int64_t *off, const int64_t *s, int64_t pos, int64_t n) {
  if (j->cond != NULL) {
    switch (j->esz) {
    case 1: SELECT_RUN(uint8_t); break;
    case 2: SELECT_RUN(uint16_t); break;
    case 4: SELECT_RUN(uint32_t); break;
    default: SELECT_RUN(uint64_t); break;
    }
    return;
  }
  char *o = j->o + pos * (int64_t)j->esz;
  const char *x = j->a + off[0] * (int64_t)j->esz;
  if (s[0] == 0)
    fill_bytes(o, x, j->esz, n);
  else
    memcpy(o, x, (size_t)n * j->esz);
}

/* Output elements [begin, end) in row-major order. */
static void walk_range(void *ctx, int64_t begin, int64_t end) {
  const walk_job *j = ctx;
  const walk_plan *p = &j->plan;
  const int r = p->rank, k_n = p->n_ops;
  int64_t idx[CT_MAX_RANK], off[MAX_OPS] = {0, 0, 0}, s[MAX_OPS] = {0, 0, 0}, rem = begin;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = rem % p->dims[d];
    rem /= p->dims[d];
    for (int k = 0; k < k_n; k++) off[k] += idx[d] * p->stride[k][d];
  }
  for (int k = 0; k < k_n; k++) s[k] = p->stride[k][r - 1];
  const int64_t len = p->dims[r - 1];
  int64_t pos = begin;
  while (pos < end) {
    int64_t n = len - idx[r - 1];
    if (n > end - pos) n = end - pos;
    run_segment(j, off, s, pos, n);
    pos += n;
    idx[r - 1] += n;
    for (int k = 0; k < k_n; k++) off[k] += n * s[k];
    if (idx[r - 1] < len) break; /* only the last run ends mid-row */
    idx[r - 1] = 0;
    for (int k = 0; k < k_n; k++) off[k] -= len * s[k];
    for (int d = r - 2; d >= 0; d--) {
      idx[d]++;
      for (int k = 0; k < k_n; k++) off[k] += p->stride[k][d];
      if (idx[d] < p->dims[d]) break;
      idx[d] = 0;
      for (int k = 0; k < k_n; k++) off[k] -= p->dims[d] * p->stride[k][d];
    }
  }
}

static ct_status select_kernel(const ct_kernel_args *args) {
  ct_tensor *out = args->out;
  if (out->numel == 0) return CT_OK;
  walk_job j;
  walk_plan_make(args->in, 3, out, &j.plan);
  j.cond = args->in[0]->data;
  j.a = args->in[1]->data;
  j.b = args->in[2]->data;
  j.o = out->data;
  j.esz = ct_dtype_size(out->dtype);
  ct_k_parallel(out->numel, ct_cpu_threads_for(out->numel), 64, walk_range, &j);
  return CT_OK;
}

static ct_status broadcast_to_kernel(const ct_kernel_args *args) {
  ct_tensor *out = args->out;
  if (out->numel == 0) return CT_OK;
  walk_job j;
  walk_plan_make(args->in, 1, out, &j.plan);
  j.cond = NULL;
  j.a = args->in[0]->data;
  j.b = NULL;
  j.o = out->data;
  j.esz = ct_dtype_size(out->dtype);
  ct_k_parallel(out->numel, ct_cpu_threads_for(out->numel), 64, walk_range, &j);
  return CT_OK;
}

/* ---- unsorted_segment_sum ------------------------------------------------------ */

typedef struct segment_job {
  const ct_tensor *data, *ids;
  ct_tensor *out;
  float *acc; /* 16-bit floats: float32 accumulators, [num_segments, inner] */
  int64_t n, inner;
} segment_job;

#define SEGMENT_COLS(T, UT, ACC, LOAD)                                                    \
  do {                                                                                   \
    const T *x = j->data->data;                                                          \
    ACC *o = j->acc != NULL ? (ACC *)(void *)j->acc : (ACC *)j->out->data;               \
    for (int64_t r = 0; r < j->n; r++) {                                                 \
      const int64_t v = i32 ? ((const int32_t *)j->ids->data)[r] : ((const int64_t *)j->ids->data)[r]; \
      if (v < 0) continue; /* dropped, as TensorFlow */                                  \
      const T *src = x + r * j->inner;                                                   \
      ACC *dst = o + v * j->inner;                                                       \
      for (int64_t c = begin; c < end; c++) dst[c] = (ACC)((UT)dst[c] + (UT)LOAD(src[c])); \
    }                                                                                    \
  } while (0)

#define ID(x) (x)

/* Columns [begin, end) of every row: each thread owns its columns, so the
 * sums need no atomics and come out the same for any thread count. */
static void segment_cols(void *ctx, int64_t begin, int64_t end) {
  const segment_job *j = ctx;
  const bool i32 = j->ids->dtype == CT_INT32;
  switch (j->data->dtype) {
  case CT_FLOAT32: SEGMENT_COLS(float, float, float, ID); break;
  case CT_FLOAT64: SEGMENT_COLS(double, double, double, ID); break;
  case CT_FLOAT16: SEGMENT_COLS(uint16_t, float, float, ct_k_f16_to_f32); break;
  case CT_BFLOAT16: SEGMENT_COLS(uint16_t, float, float, ct_k_bf16_to_f32); break;
  case CT_INT32: SEGMENT_COLS(int32_t, uint32_t, int32_t, ID); break; /* wraps */
  default: SEGMENT_COLS(int64_t, uint64_t, int64_t, ID); break;
  }
}

static ct_status segment_sum_kernel(const ct_kernel_args *args) {
  const ct_segment_attrs *at = args->attrs;
  const ct_tensor *data = args->in[0], *ids = args->in[1];
  ct_tensor *out = args->out;
  /* As TensorFlow's CPU kernel: with no data nothing is read, nothing checked. */
  if (data->numel == 0) {
    memset(out->data, 0, out->nbytes);
    return CT_OK;
  }
  ct_status st = ct_segment_check_ids(ids, ids->data, at->num_segments);
  if (st != CT_OK) return st;
  segment_job j = {data, ids, out, NULL, ids->numel, data->numel / ids->numel};
  if (ct_k_is_half(out->dtype)) {
    j.acc = calloc((size_t)out->numel, sizeof(float));
    if (j.acc == NULL)
      return ct_error(CT_RESOURCE_EXHAUSTED, "unsorted_segment_sum: cannot allocate %lld float32 accumulators",
                      (long long)out->numel);
  } else {
    memset(out->data, 0, out->nbytes); /* all-zero bytes are 0 in every numeric dtype */
  }
  int nt = ct_cpu_threads_for(data->numel);
  if (j.inner < 64 * (int64_t)nt) nt = 1;
  ct_k_parallel(j.inner, nt, 16, segment_cols, &j);
  if (j.acc != NULL) {
    uint16_t *o = out->data;
    const bool bf16 = out->dtype == CT_BFLOAT16;
    for (int64_t i = 0; i < out->numel; i++) o[i] = bf16 ? ct_k_f32_to_bf16(j.acc[i]) : ct_k_f32_to_f16(j.acc[i]);
    free(j.acc);
  }
  return CT_OK;
}

void ct_cpu_register_nn(ct_registry *r) {
  static const ct_dtype floats[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
  static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
  for (size_t d = 0; d < CT_ARRAY_LEN(floats); d++) {
    ct_registry_add(r, CT_OP_SPARSE_XENT, CT_DEV_CPU, floats[d], xent_kernel);
    ct_registry_add(r, CT_OP_SOFTMAX_XENT, CT_DEV_CPU, floats[d], xent_kernel);
  }
  for (size_t d = 0; d < CT_ARRAY_LEN(numeric); d++)
    ct_registry_add(r, CT_OP_UNSORTED_SEGMENT_SUM, CT_DEV_CPU, numeric[d], segment_sum_kernel);
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    ct_registry_add(r, CT_OP_ONE_HOT, CT_DEV_CPU, (ct_dtype)d, one_hot_kernel);
    ct_registry_add(r, CT_OP_SELECT, CT_DEV_CPU, (ct_dtype)d, select_kernel);
    ct_registry_add(r, CT_OP_BROADCAST_TO, CT_DEV_CPU, (ct_dtype)d, broadcast_to_kernel);
  }
}
