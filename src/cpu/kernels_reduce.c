/*
 * CPU kernels: sum, mean, max, min over any set of axes, argmax, softmax
 * and log_softmax.
 *
 * A reduction first collapses the input's axes: size-1 axes are dropped and
 * neighbouring axes of the same kind (reduced or kept) merged, leaving an
 * alternation such as [R], [K,R], [R,K] or [K,R,K]. Then:
 *  - [R] (everything): the row is split over threads, each producing a
 *    partial result, combined in a fixed order;
 *  - [K,R]: one contiguous row per output, rows split over threads;
 *  - last axis reduced otherwise: rows reduced one by one into accumulators;
 *  - last axis kept: every row is added into a row of accumulators, the
 *    columns split over threads (so each accumulator has one owner).
 *
 * Accumulators are float64 for the float dtypes and int64 for the integer
 * ones. A contiguous float32 (or 16-bit float) row is summed in blocks of
 * 512 elements with 16 float32 partial sums, which the compiler turns into
 * vector adds with independent dependency chains; blocks are combined in
 * float64. The error is therefore that of a 32-term float32 sum per lane
 * plus a 16-term one, independent of the row length (relative error about
 * 1e-7 for 64Mi equal values, where a naive float32 loop is off by 70%). Integer sums wrap modulo 2^64 and are then
 * narrowed to the output type, which is the same as wrapping in that type.
 */
#include <stdlib.h>

#include "cpu/kernels_common.h"

enum { K_SUM, K_MEAN, K_MAX, K_MIN };

typedef union acc {
  double f;
  int64_t i;
} acc;

static int kind_of(ct_op op) {
  switch (op) {
  case CT_OP_MEAN: return K_MEAN;
  case CT_OP_MAX: return K_MAX;
  case CT_OP_MIN: return K_MIN;
  default: return K_SUM;
  }
}

static bool is_int(ct_dtype d) { return d == CT_INT32 || d == CT_INT64; }

static acc identity(int kind, bool integer) {
  acc a;
  if (integer)
    a.i = kind == K_MAX ? INT64_MIN : kind == K_MIN ? INT64_MAX : 0;
  else
    a.f = kind == K_MAX ? -INFINITY : kind == K_MIN ? INFINITY : 0.0;
  return a;
}

static acc combine(int kind, bool integer, acc a, acc b) {
  if (integer) {
    if (kind == K_MAX) a.i = a.i > b.i ? a.i : b.i;
    else if (kind == K_MIN) a.i = a.i < b.i ? a.i : b.i;
    else a.i = (int64_t)((uint64_t)a.i + (uint64_t)b.i);
  } else {
    if (kind == K_MAX) a.f = (b.f != b.f || b.f > a.f) ? b.f : a.f;
    else if (kind == K_MIN) a.f = (b.f != b.f || b.f < a.f) ? b.f : a.f;
    else a.f += b.f;
  }
  return a;
}

/* ---- contiguous rows ---------------------------------------------------- */

#define F32(x) (x)
#define SUM_BLOCK 512
#define SUM_ROW(name, T, LOAD)                                    \
  static double name(const T *restrict p, int64_t n) {          \
    double total = 0;                                            \
    for (int64_t b = 0; b < n; b += SUM_BLOCK) {                 \
      const int64_t m = n - b < SUM_BLOCK ? n - b : SUM_BLOCK;   \
      const T *restrict q = p + b;                               \
      float part[16] = {0};                                      \
      int64_t i = 0;                                             \
      for (; i + 16 <= m; i += 16)                               \
        for (int k = 0; k < 16; k++) part[k] += LOAD(q[i + k]);  \
      float s = 0;                                               \
      for (int k = 0; k < 16; k++) s += part[k];                 \
      for (; i < m; i++) s += LOAD(q[i]);                        \
      total += s;                                                \
    }                                                            \
    return total;                                                \
  }

SUM_ROW(sum_row_f32, float, F32)
SUM_ROW(sum_row_f16, uint16_t, ct_k_f16_to_f32)
SUM_ROW(sum_row_bf16, uint16_t, ct_k_bf16_to_f32)

static double sum_row_f64(const double *restrict p, int64_t n) {
  double part[8] = {0}, s = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) part[k] += p[i + k];
  for (int k = 0; k < 8; k++) s += part[k];
  for (; i < n; i++) s += p[i];
  return s;
}

/* NaN-propagating max/min: any NaN in the row makes the result NaN. */
#define EXT_ROW(name, T, CT, LOAD, CMP, INIT)           \
  static double name(const T *restrict p, int64_t n) { \
    CT m = INIT;                                        \
    int nan = 0;                                        \
    for (int64_t i = 0; i < n; i++) {                   \
      const CT x = LOAD(p[i]);                          \
      nan |= x != x;                                    \
      m = x CMP m ? x : m;                              \
    }                                                   \
    return nan ? (double)NAN : (double)m;               \
  }

EXT_ROW(max_row_f32, float, float, F32, >, -INFINITY)
EXT_ROW(min_row_f32, float, float, F32, <, INFINITY)
EXT_ROW(max_row_f64, double, double, F32, >, -INFINITY)
EXT_ROW(min_row_f64, double, double, F32, <, INFINITY)
EXT_ROW(max_row_f16, uint16_t, float, ct_k_f16_to_f32, >, -INFINITY)
EXT_ROW(min_row_f16, uint16_t, float, ct_k_f16_to_f32, <, INFINITY)
EXT_ROW(max_row_bf16, uint16_t, float, ct_k_bf16_to_f32, >, -INFINITY)
EXT_ROW(min_row_bf16, uint16_t, float, ct_k_bf16_to_f32, <, INFINITY)

#define INT_ROWS(sfx, T)                                                   \
  static int64_t sum_row_##sfx(const T *restrict p, int64_t n) {          \
    uint64_t s = 0;                                                        \
    for (int64_t i = 0; i < n; i++) s += (uint64_t)(int64_t)p[i];          \
    return (int64_t)s;                                                     \
  }                                                                        \
  static int64_t max_row_##sfx(const T *restrict p, int64_t n) {          \
    T m = p[0];                                                            \
    for (int64_t i = 1; i < n; i++) m = p[i] > m ? p[i] : m;               \
    return m;                                                              \
  }                                                                        \
  static int64_t min_row_##sfx(const T *restrict p, int64_t n) {          \
    T m = p[0];                                                            \
    for (int64_t i = 1; i < n; i++) m = p[i] < m ? p[i] : m;               \
    return m;                                                              \
  }

INT_ROWS(i32, int32_t)
INT_ROWS(i64, int64_t)

/* Reduces n >= 1 contiguous elements. */
static acc row_reduce(const void *p, ct_dtype dt, int kind, int64_t n) {
  acc a;
  const bool mx = kind == K_MAX, mn = kind == K_MIN;
  switch (dt) {
  case CT_FLOAT32: a.f = mx ? max_row_f32(p, n) : mn ? min_row_f32(p, n) : sum_row_f32(p, n); break;
  case CT_FLOAT64: a.f = mx ? max_row_f64(p, n) : mn ? min_row_f64(p, n) : sum_row_f64(p, n); break;
  case CT_FLOAT16: a.f = mx ? max_row_f16(p, n) : mn ? min_row_f16(p, n) : sum_row_f16(p, n); break;
  case CT_BFLOAT16: a.f = mx ? max_row_bf16(p, n) : mn ? min_row_bf16(p, n) : sum_row_bf16(p, n); break;
  case CT_INT32: a.i = mx ? max_row_i32(p, n) : mn ? min_row_i32(p, n) : sum_row_i32(p, n); break;
  default: a.i = mx ? max_row_i64(p, n) : mn ? min_row_i64(p, n) : sum_row_i64(p, n); break;
  }
  return a;
}

/* ---- a row added into a row of accumulators ------------------------------ */

#define COL_FLOAT(sfx, T, LOAD)                                                        \
  static void col_sum_##sfx(const T *restrict p, double *restrict a, int64_t n) {     \
    for (int64_t j = 0; j < n; j++) a[j] += (double)LOAD(p[j]);                        \
  }                                                                                    \
  static void col_max_##sfx(const T *restrict p, double *restrict a, int64_t n) {     \
    for (int64_t j = 0; j < n; j++) {                                                  \
      const double x = (double)LOAD(p[j]);                                             \
      a[j] = (x != x || x > a[j]) ? x : a[j];                                          \
    }                                                                                  \
  }                                                                                    \
  static void col_min_##sfx(const T *restrict p, double *restrict a, int64_t n) {     \
    for (int64_t j = 0; j < n; j++) {                                                  \
      const double x = (double)LOAD(p[j]);                                             \
      a[j] = (x != x || x < a[j]) ? x : a[j];                                          \
    }                                                                                  \
  }

#define COL_INT(sfx, T)                                                                 \
  static void col_sum_##sfx(const T *restrict p, int64_t *restrict a, int64_t n) {     \
    for (int64_t j = 0; j < n; j++) a[j] = (int64_t)((uint64_t)a[j] + (uint64_t)(int64_t)p[j]); \
  }                                                                                     \
  static void col_max_##sfx(const T *restrict p, int64_t *restrict a, int64_t n) {     \
    for (int64_t j = 0; j < n; j++) a[j] = p[j] > a[j] ? p[j] : a[j];                   \
  }                                                                                     \
  static void col_min_##sfx(const T *restrict p, int64_t *restrict a, int64_t n) {     \
    for (int64_t j = 0; j < n; j++) a[j] = p[j] < a[j] ? p[j] : a[j];                   \
  }

COL_FLOAT(f32, float, F32)
COL_FLOAT(f64, double, F32)
COL_FLOAT(f16, uint16_t, ct_k_f16_to_f32)
COL_FLOAT(bf16, uint16_t, ct_k_bf16_to_f32)
COL_INT(i32, int32_t)
COL_INT(i64, int64_t)

static void col_accum(const void *p, ct_dtype dt, int kind, acc *a, int64_t n) {
  const bool mx = kind == K_MAX, mn = kind == K_MIN;
  double *af = (double *)a;
  int64_t *ai = (int64_t *)a;
  switch (dt) {
  case CT_FLOAT32: mx ? col_max_f32(p, af, n) : mn ? col_min_f32(p, af, n) : col_sum_f32(p, af, n); break;
  case CT_FLOAT64: mx ? col_max_f64(p, af, n) : mn ? col_min_f64(p, af, n) : col_sum_f64(p, af, n); break;
  case CT_FLOAT16: mx ? col_max_f16(p, af, n) : mn ? col_min_f16(p, af, n) : col_sum_f16(p, af, n); break;
  case CT_BFLOAT16: mx ? col_max_bf16(p, af, n) : mn ? col_min_bf16(p, af, n) : col_sum_bf16(p, af, n); break;
  case CT_INT32: mx ? col_max_i32(p, ai, n) : mn ? col_min_i32(p, ai, n) : col_sum_i32(p, ai, n); break;
  default: mx ? col_max_i64(p, ai, n) : mn ? col_min_i64(p, ai, n) : col_sum_i64(p, ai, n); break;
  }
}

/* Writes one result: the mean divides by the number of reduced elements
 * (integer division, truncating toward zero, for integers, as TensorFlow). */
static void store_acc(ct_tensor *out, int64_t i, acc a, int kind, int64_t count) {
  if (is_int(out->dtype)) {
    int64_t v = kind == K_MEAN ? a.i / count : a.i;
    if (out->dtype == CT_INT32)
      ((int32_t *)out->data)[i] = (int32_t)v; /* wraps */
    else
      ((int64_t *)out->data)[i] = v;
  } else {
    ct_k_store_f64(out->data, out->dtype, i, kind == K_MEAN ? a.f / (double)count : a.f);
  }
}

/* ---- the plan ------------------------------------------------------------ */

typedef struct red_plan {
  int k;
  int64_t dims[CT_MAX_RANK];
  bool red[CT_MAX_RANK];
  int64_t ostride[CT_MAX_RANK]; /* element stride in the output; 0 on reduced axes */
  int64_t count;                /* input elements per output element */
  bool any_reduced;
} red_plan;

static void plan_make(const ct_tensor *x, const ct_reduce_attrs *at, red_plan *p) {
  p->k = 0;
  p->count = 1;
  p->any_reduced = false;
  for (int i = 0; i < x->rank; i++) {
    const int64_t d = x->shape[i];
    const bool r = at->reduce[i] != 0;
    if (r) p->count *= d;
    if (d == 1) continue;
    p->any_reduced |= r;
    if (p->k > 0 && p->red[p->k - 1] == r) {
      p->dims[p->k - 1] *= d;
    } else {
      p->dims[p->k] = d;
      p->red[p->k] = r;
      p->k++;
    }
  }
  int64_t s = 1;
  for (int i = p->k - 1; i >= 0; i--) {
    p->ostride[i] = p->red[i] ? 0 : s;
    if (!p->red[i]) s *= p->dims[i];
  }
}

/* Advances the multi-index over axes [0, k-1) by one row; *o follows the
 * output offset. */
static void next_row(const red_plan *p, int64_t *idx, int64_t *o) {
  for (int d = p->k - 2; d >= 0; d--) {
    idx[d]++;
    *o += p->ostride[d];
    if (idx[d] < p->dims[d]) return;
    *o -= p->dims[d] * p->ostride[d];
    idx[d] = 0;
  }
}

typedef struct red_job {
  const red_plan *p;
  const char *x;
  ct_dtype dt;
  size_t esz;
  int kind;
  acc *accs;
  ct_tensor *out;
} red_job;

/* Last axis kept: accumulate columns [begin, end) of every row. */
static void klast_cols(void *ctx, int64_t begin, int64_t end) {
  const red_job *j = ctx;
  const red_plan *p = j->p;
  const int64_t len = p->dims[p->k - 1], rows = ct_shape_numel(p->dims, p->k) / len;
  int64_t idx[CT_MAX_RANK] = {0}, o = 0;
  for (int64_t r = 0; r < rows; r++) {
    col_accum(j->x + (r * len + begin) * (int64_t)j->esz, j->dt, j->kind, j->accs + o + begin, end - begin);
    next_row(p, idx, &o);
  }
}

/* [K,R]: rows [begin, end), one output each. */
static void rows_direct(void *ctx, int64_t begin, int64_t end) {
  const red_job *j = ctx;
  const int64_t len = j->p->dims[1];
  for (int64_t r = begin; r < end; r++)
    store_acc(j->out, r, row_reduce(j->x + r * len * (int64_t)j->esz, j->dt, j->kind, len), j->kind, j->p->count);
}

static void store_all(void *ctx, int64_t begin, int64_t end) {
  const red_job *j = ctx;
  for (int64_t i = begin; i < end; i++) store_acc(j->out, i, j->accs[i], j->kind, j->p->count);
}

#define MAX_PARTS 64

static acc reduce_all(const red_job *j, int64_t n) {
  int nt = ct_cpu_threads_for(n);
  if (nt > MAX_PARTS) nt = MAX_PARTS;
  if (nt <= 1) return row_reduce(j->x, j->dt, j->kind, n);
  const bool integer = is_int(j->dt);
  acc part[MAX_PARTS];
  int64_t per = ((n + nt - 1) / nt + SUM_BLOCK - 1) / SUM_BLOCK * SUM_BLOCK; /* whole blocks */
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; t++) {
    int64_t b = (int64_t)t * per, e = b + per < n ? b + per : n;
    part[t] = b < e ? row_reduce(j->x + b * (int64_t)j->esz, j->dt, j->kind, e - b) : identity(j->kind, integer);
  }
  acc a = part[0];
  for (int t = 1; t < nt; t++) a = combine(j->kind, integer, a, part[t]);
  return a;
}

static void fill_identity(ct_tensor *out, int kind) {
  for (int64_t i = 0; i < out->numel; i++) {
    switch (out->dtype) {
    case CT_INT32:
      ((int32_t *)out->data)[i] = kind == K_MAX ? INT32_MIN : kind == K_MIN ? INT32_MAX : 0;
      break;
    case CT_INT64:
      ((int64_t *)out->data)[i] = kind == K_MAX ? INT64_MIN : kind == K_MIN ? INT64_MAX : 0;
      break;
    default: /* the mean of nothing is 0/0 */
      ct_k_store_f64(out->data, out->dtype, i,
                     kind == K_MAX ? -INFINITY : kind == K_MIN ? INFINITY : kind == K_MEAN ? NAN : 0.0);
      break;
    }
  }
}

#define STACK_ACCS 256

static ct_status reduce_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *out = args->out;
  const int kind = kind_of(args->op);
  if (out->numel == 0) return CT_OK;
  if (x->numel == 0) {
    fill_identity(out, kind);
    return CT_OK;
  }
  red_plan p;
  plan_make(x, args->attrs, &p);
  if (!p.any_reduced) { /* only size-1 axes reduced: every mean divides by 1 */
    memcpy(out->data, x->data, out->nbytes);
    return CT_OK;
  }
  red_job j = {&p, x->data, x->dtype, ct_dtype_size(x->dtype), kind, NULL, out};
  const int64_t len = p.dims[p.k - 1];
  if (p.k == 1) {
    store_acc(out, 0, reduce_all(&j, len), kind, p.count);
    return CT_OK;
  }
  if (p.k == 2 && p.red[1]) {
    ct_k_parallel(p.dims[0], ct_cpu_threads_for(x->numel), 1, rows_direct, &j);
    return CT_OK;
  }
  /* accumulators, on the stack when small so that small ops do not allocate */
  acc stack_accs[STACK_ACCS];
  acc *accs = stack_accs;
  if (out->numel > STACK_ACCS) {
    accs = malloc((size_t)out->numel * sizeof *accs);
    if (accs == NULL)
      return ct_error(CT_RESOURCE_EXHAUSTED, "%s: cannot allocate %lld accumulators", ct_op_name(args->op),
                      (long long)out->numel);
  }
  const acc id = identity(kind, is_int(x->dtype));
  for (int64_t i = 0; i < out->numel; i++) accs[i] = id;
  j.accs = accs;
  if (p.red[p.k - 1]) {
    int64_t idx[CT_MAX_RANK] = {0}, o = 0;
    const int64_t rows = x->numel / len;
    for (int64_t r = 0; r < rows; r++) {
      accs[o] = combine(kind, is_int(x->dtype), accs[o], row_reduce(j.x + r * len * (int64_t)j.esz, j.dt, kind, len));
      next_row(&p, idx, &o);
    }
  } else {
    int nt = ct_cpu_threads_for(x->numel);
    if (len < 64 * (int64_t)nt) nt = 1;
    ct_k_parallel(len, nt, 16, klast_cols, &j);
  }
  ct_k_parallel(out->numel, ct_cpu_threads_for(out->numel), 64, store_all, &j);
  if (accs != stack_accs) free(accs);
  return CT_OK;
}

/* ---- argmax ---------------------------------------------------------------- */

typedef struct axis_job {
  const ct_tensor *x;
  ct_tensor *out;
  int64_t outer, len, inner;
  bool log; /* softmax_range: log_softmax instead */
} axis_job;

/* First maximum; for floats the first NaN counts as the maximum (NumPy). */
#define BETTER_F(v, b) ((b) == (b) && ((v) > (b) || (v) != (v)))
#define BETTER_I(v, b) ((v) > (b))

#define ARGMAX_BODY(T, CT, LOAD, BETTER)                                                 \
  do {                                                                                   \
    const T *px = j->x->data;                                                            \
    for (int64_t o = begin; o < end; o++) {                                              \
      const T *base = px + o * j->len * j->inner;                                        \
      for (int64_t i0 = 0; i0 < j->inner; i0 += TILE) {                                  \
        const int64_t w = j->inner - i0 < TILE ? j->inner - i0 : TILE;                   \
        CT best[TILE];                                                                   \
        int64_t at[TILE];                                                                \
        for (int64_t c = 0; c < w; c++) {                                                \
          best[c] = LOAD(base[i0 + c]);                                                  \
          at[c] = 0;                                                                     \
        }                                                                                \
        for (int64_t l = 1; l < j->len; l++) {                                           \
          const T *row = base + l * j->inner + i0;                                       \
          for (int64_t c = 0; c < w; c++) {                                              \
            const CT v = LOAD(row[c]);                                                   \
            if (BETTER(v, best[c])) {                                                    \
              best[c] = v;                                                               \
              at[c] = l;                                                                 \
            }                                                                            \
          }                                                                              \
        }                                                                                \
        for (int64_t c = 0; c < w; c++) put_index(j->out, o * j->inner + i0 + c, at[c]); \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define TILE 256

static void put_index(ct_tensor *out, int64_t i, int64_t v) {
  if (out->dtype == CT_INT32)
    ((int32_t *)out->data)[i] = (int32_t)v;
  else
    ((int64_t *)out->data)[i] = v;
}

static void argmax_range(void *ctx, int64_t begin, int64_t end) {
  const axis_job *j = ctx;
  switch (j->x->dtype) {
  case CT_FLOAT32: ARGMAX_BODY(float, float, F32, BETTER_F); break;
  case CT_FLOAT64: ARGMAX_BODY(double, double, F32, BETTER_F); break;
  case CT_FLOAT16: ARGMAX_BODY(uint16_t, float, ct_k_f16_to_f32, BETTER_F); break;
  case CT_BFLOAT16: ARGMAX_BODY(uint16_t, float, ct_k_bf16_to_f32, BETTER_F); break;
  case CT_INT32: ARGMAX_BODY(int32_t, int32_t, F32, BETTER_I); break;
  case CT_INT64: ARGMAX_BODY(int64_t, int64_t, F32, BETTER_I); break;
  case CT_BOOL: ARGMAX_BODY(unsigned char, unsigned char, F32, BETTER_I); break;
  }
}

static void axis_split(const ct_tensor *x, int axis, axis_job *j) {
  j->outer = ct_shape_numel(x->shape, axis);
  j->len = x->shape[axis];
  j->inner = ct_shape_numel(x->shape + axis + 1, x->rank - axis - 1);
}

static ct_status argmax_kernel(const ct_kernel_args *args) {
  const ct_axis_attrs *at = args->attrs;
  axis_job j = {args->in[0], args->out, 0, 0, 0, false};
  if (args->out->numel == 0) return CT_OK;
  axis_split(j.x, at->axis, &j);
  ct_k_parallel(j.outer, ct_cpu_threads_for(j.x->numel), 1, argmax_range, &j);
  return CT_OK;
}

/* ---- softmax ---------------------------------------------------------------- */

/* Computed in float64 for every float dtype, max subtracted first so that
 * exp never overflows; a NaN anywhere along the axis makes that slice NaN,
 * and a slice of all -inf is NaN (0/0), as in TensorFlow. log_softmax is
 * the same walk with a different last step: x - max - log(sum), which
 * never takes the log of a rounded-to-zero probability. */
static void softmax_range(void *ctx, int64_t begin, int64_t end) {
  const axis_job *j = ctx;
  const ct_dtype dt = j->x->dtype;
  const void *px = j->x->data;
  void *po = j->out->data;
  for (int64_t o = begin; o < end; o++) {
    const int64_t base = o * j->len * j->inner;
    for (int64_t i0 = 0; i0 < j->inner; i0 += TILE) {
      const int64_t w = j->inner - i0 < TILE ? j->inner - i0 : TILE;
      double m[TILE], s[TILE];
      for (int64_t c = 0; c < w; c++) {
        m[c] = -INFINITY;
        s[c] = 0;
      }
      for (int64_t l = 0; l < j->len; l++)
        for (int64_t c = 0; c < w; c++) {
          const double v = ct_k_load_f64(px, dt, base + l * j->inner + i0 + c);
          m[c] = v > m[c] ? v : m[c];
        }
      for (int64_t l = 0; l < j->len; l++)
        for (int64_t c = 0; c < w; c++) s[c] += exp(ct_k_load_f64(px, dt, base + l * j->inner + i0 + c) - m[c]);
      for (int64_t c = 0; c < w; c++) s[c] = j->log ? log(s[c]) : 1.0 / s[c];
      for (int64_t l = 0; l < j->len; l++)
        for (int64_t c = 0; c < w; c++) {
          const int64_t e = base + l * j->inner + i0 + c;
          const double v = ct_k_load_f64(px, dt, e) - m[c];
          ct_k_store_f64(po, dt, e, j->log ? v - s[c] : exp(v) * s[c]);
        }
    }
  }
}

static ct_status softmax_kernel(const ct_kernel_args *args) {
  const ct_axis_attrs *at = args->attrs;
  axis_job j = {args->in[0], args->out, 0, 0, 0, args->op == CT_OP_LOG_SOFTMAX};
  if (args->out->numel == 0) return CT_OK;
  axis_split(j.x, at->axis, &j);
  ct_k_parallel(j.outer, ct_cpu_threads_for(j.x->numel * 32), 1, softmax_range, &j);
  return CT_OK;
}

void ct_cpu_register_reduce(ct_registry *r) {
  static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
  static const ct_op ops[] = {CT_OP_SUM, CT_OP_MEAN, CT_OP_MAX, CT_OP_MIN};
  for (size_t k = 0; k < CT_ARRAY_LEN(ops); k++)
    for (size_t d = 0; d < CT_ARRAY_LEN(numeric); d++) ct_registry_add(r, ops[k], CT_DEV_CPU, numeric[d], reduce_kernel);
  for (int d = 0; d < CT_DTYPE_COUNT; d++) ct_registry_add(r, CT_OP_ARGMAX, CT_DEV_CPU, (ct_dtype)d, argmax_kernel);
  for (size_t d = 0; d < 4; d++) {
    ct_registry_add(r, CT_OP_SOFTMAX, CT_DEV_CPU, numeric[d], softmax_kernel);
    ct_registry_add(r, CT_OP_LOG_SOFTMAX, CT_DEV_CPU, numeric[d], softmax_kernel);
  }
}
