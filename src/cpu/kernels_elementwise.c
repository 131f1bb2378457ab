/*
 * CPU kernels: elementwise binary ops (with NumPy broadcasting), comparisons
 * and unary ops.
 *
 * Every (op, dtype) pair is one small loop written three ways (vector op
 * vector, scalar op vector, vector op scalar) so that the compiler
 * vectorises the same-shape and scalar-broadcast cases; any other broadcast
 * is a walk over the collapsed plan of ops/broadcast.h that calls the same
 * loops on contiguous runs. float16 and bfloat16 go through the float32
 * loops in blocks converted on the stack: computed in float32, rounded once.
 *
 * Integer add/sub/mul/neg/abs/square wrap modulo 2^bits, as TensorFlow and NumPy
 * do on their two's-complement machines; the arithmetic is done on unsigned
 * types so that wrapping is defined behaviour in C.
 */
#include "cpu/kernels_common.h"
#include "ops/broadcast.h"

enum { MODE_VV = 0, MODE_SV = 1, MODE_VS = 2 };

typedef void (*bin_fn)(const void *a, const void *b, void *o, int64_t n, int mode);
typedef void (*un_fn)(const void *x, void *o, int64_t n);

#define BIN_LOOP(name, T, OT, EXPR)                                                   \
  static void name(const void *va, const void *vb, void *vo, int64_t n, int mode) { \
    const T *restrict a = va;                                                       \
    const T *restrict b = vb;                                                       \
    OT *restrict o = vo;                                                            \
    if (mode == MODE_VV) {                                                          \
      for (int64_t i = 0; i < n; i++) {                                             \
        const T x = a[i], y = b[i];                                                 \
        o[i] = (OT)(EXPR);                                                          \
      }                                                                             \
    } else if (mode == MODE_SV) {                                                   \
      const T x = a[0];                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        const T y = b[i];                                                           \
        o[i] = (OT)(EXPR);                                                          \
      }                                                                             \
    } else {                                                                        \
      const T y = b[0];                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        const T x = a[i];                                                           \
        o[i] = (OT)(EXPR);                                                          \
      }                                                                             \
    }                                                                               \
  }

#define UN_LOOP(name, T, EXPR)                                  \
  static void name(const void *vx, void *vo, int64_t n) {      \
    const T *restrict p = vx;                                   \
    T *restrict o = vo;                                         \
    for (int64_t i = 0; i < n; i++) {                           \
      const T x = p[i];                                         \
      o[i] = (T)(EXPR);                                         \
    }                                                           \
  }

typedef unsigned char u8;

/* NaN-propagating maximum and minimum (NumPy's np.maximum/np.minimum). */
#define FMAX(x, y) (((x) != (x) || (x) > (y)) ? (x) : (y))
#define FMIN(x, y) (((x) != (x) || (x) < (y)) ? (x) : (y))
#define IMAX(x, y) ((x) > (y) ? (x) : (y))
#define IMIN(x, y) ((x) < (y) ? (x) : (y))

/* x^y for y >= 0 (the kernel rejects negative exponents first), by
 * squaring, wrapping on overflow like the other integer ops. */
static int32_t ipow32(int32_t x, int32_t y) {
  uint32_t r = 1, base = (uint32_t)x;
  for (uint32_t e = (uint32_t)y; e; e >>= 1) {
    if (e & 1) r *= base;
    base *= base;
  }
  return (int32_t)r;
}

static int64_t ipow64(int64_t x, int64_t y) {
  uint64_t r = 1, base = (uint64_t)x;
  for (uint64_t e = (uint64_t)y; e; e >>= 1) {
    if (e & 1) r *= base;
    base *= base;
  }
  return (int64_t)r;
}

/* Floor division and modulo (TensorFlow's FloorDiv/FloorMod). The integer
 * forms are only reached with non-zero divisors (the kernel checks first);
 * a divisor of -1 is handled apart because INT_MIN / -1 traps on x86. */
#define IFLOORDIV(T, UT)                                                            \
  static T floordiv_##T(T x, T y) {                                               \
    if (y == -1) return (T)((UT)0 - (UT)x);                                       \
    T q = x / y;                                                                   \
    return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;                       \
  }                                                                                \
  static T floormod_##T(T x, T y) {                                               \
    if (y == -1) return 0;                                                         \
    T r = x % y;                                                                   \
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;                           \
  }
IFLOORDIV(int32_t, uint32_t)
IFLOORDIV(int64_t, uint64_t)

static inline float floormod_f(float x, float y) {
  float r = fmodf(x, y);
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline double floormod_d(double x, double y) {
  double r = fmod(x, y);
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

BIN_LOOP(add_f32, float, float, x + y)
BIN_LOOP(add_f64, double, double, x + y)
BIN_LOOP(add_i32, int32_t, int32_t, (uint32_t)x + (uint32_t)y)
BIN_LOOP(add_i64, int64_t, int64_t, (uint64_t)x + (uint64_t)y)
BIN_LOOP(sub_f32, float, float, x - y)
BIN_LOOP(sub_f64, double, double, x - y)
BIN_LOOP(sub_i32, int32_t, int32_t, (uint32_t)x - (uint32_t)y)
BIN_LOOP(sub_i64, int64_t, int64_t, (uint64_t)x - (uint64_t)y)
BIN_LOOP(mul_f32, float, float, x * y)
BIN_LOOP(mul_f64, double, double, x * y)
BIN_LOOP(mul_i32, int32_t, int32_t, (uint32_t)x * (uint32_t)y)
BIN_LOOP(mul_i64, int64_t, int64_t, (uint64_t)x * (uint64_t)y)
BIN_LOOP(div_f32, float, float, x / y)
BIN_LOOP(div_f64, double, double, x / y)
BIN_LOOP(div_i32, int32_t, double, (double)x / (double)y) /* true division */
BIN_LOOP(div_i64, int64_t, double, (double)x / (double)y)
BIN_LOOP(max_f32, float, float, FMAX(x, y))
BIN_LOOP(max_f64, double, double, FMAX(x, y))
BIN_LOOP(max_i32, int32_t, int32_t, IMAX(x, y))
BIN_LOOP(max_i64, int64_t, int64_t, IMAX(x, y))
BIN_LOOP(min_f32, float, float, FMIN(x, y))
BIN_LOOP(min_f64, double, double, FMIN(x, y))
BIN_LOOP(min_i32, int32_t, int32_t, IMIN(x, y))
BIN_LOOP(min_i64, int64_t, int64_t, IMIN(x, y))
BIN_LOOP(pow_f32, float, float, powf(x, y))
BIN_LOOP(pow_f64, double, double, pow(x, y))
BIN_LOOP(pow_i32, int32_t, int32_t, ipow32(x, y))
BIN_LOOP(pow_i64, int64_t, int64_t, ipow64(x, y))
BIN_LOOP(floordiv_f32, float, float, floorf(x / y))
BIN_LOOP(floordiv_f64, double, double, floor(x / y))
BIN_LOOP(floordiv_i32, int32_t, int32_t, floordiv_int32_t(x, y))
BIN_LOOP(floordiv_i64, int64_t, int64_t, floordiv_int64_t(x, y))
BIN_LOOP(floormod_f32, float, float, floormod_f(x, y))
BIN_LOOP(floormod_f64, double, double, floormod_d(x, y))
BIN_LOOP(floormod_i32, int32_t, int32_t, floormod_int32_t(x, y))
BIN_LOOP(floormod_i64, int64_t, int64_t, floormod_int64_t(x, y))

#define CMP_LOOPS(op, EXPR)                 \
  BIN_LOOP(op##_f32, float, u8, EXPR)       \
  BIN_LOOP(op##_f64, double, u8, EXPR)      \
  BIN_LOOP(op##_i32, int32_t, u8, EXPR)     \
  BIN_LOOP(op##_i64, int64_t, u8, EXPR)

CMP_LOOPS(eq, x == y)
CMP_LOOPS(ne, x != y)
CMP_LOOPS(lt, x < y)
CMP_LOOPS(le, x <= y)
CMP_LOOPS(gt, x > y)
CMP_LOOPS(ge, x >= y)
BIN_LOOP(eq_b, u8, u8, x == y)
BIN_LOOP(ne_b, u8, u8, x != y)

UN_LOOP(neg_f32, float, -x)
UN_LOOP(neg_f64, double, -x)
UN_LOOP(neg_i32, int32_t, 0u - (uint32_t)x)
UN_LOOP(neg_i64, int64_t, (uint64_t)0 - (uint64_t)x)
UN_LOOP(abs_f32, float, fabsf(x))
UN_LOOP(abs_f64, double, fabs(x))
UN_LOOP(abs_i32, int32_t, x < 0 ? 0u - (uint32_t)x : (uint32_t)x)
UN_LOOP(abs_i64, int64_t, x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x)
UN_LOOP(exp_f32, float, expf(x))
UN_LOOP(exp_f64, double, exp(x))
UN_LOOP(log_f32, float, logf(x))
UN_LOOP(log_f64, double, log(x))
UN_LOOP(sqrt_f32, float, sqrtf(x))
UN_LOOP(sqrt_f64, double, sqrt(x))
UN_LOOP(tanh_f32, float, tanhf(x))
UN_LOOP(tanh_f64, double, tanh(x))
/* exp(-x) overflows to inf for very negative x, giving the right limit 0 */
UN_LOOP(sigmoid_f32, float, 1.0f / (1.0f + expf(-x)))
UN_LOOP(sigmoid_f64, double, 1.0 / (1.0 + exp(-x)))
/* x < 0 is false for NaN, so NaN passes through as in NumPy's maximum */
UN_LOOP(relu_f32, float, x < 0 ? 0.0f : x)
UN_LOOP(relu_f64, double, x < 0 ? 0.0 : x)
UN_LOOP(relu_i32, int32_t, x < 0 ? 0 : x)
UN_LOOP(relu_i64, int64_t, x < 0 ? 0 : x)
UN_LOOP(square_f32, float, x * x)
UN_LOOP(square_f64, double, x * x)
UN_LOOP(square_i32, int32_t, (uint32_t)x * (uint32_t)x)
UN_LOOP(square_i64, int64_t, (uint64_t)x * (uint64_t)x)

#define N_BIN (CT_OP_GREATER_EQUAL - CT_OP_ADD + 1)
#define N_UN (CT_OP_RELU - CT_OP_NEG + 1)

/* float16 and bfloat16 entries are the float32 loops; the driver converts. */
#define FLOATS(op) \
  [CT_FLOAT32] = op##_f32, [CT_FLOAT64] = op##_f64, [CT_FLOAT16] = op##_f32, [CT_BFLOAT16] = op##_f32
#define NUMERIC(op) FLOATS(op), [CT_INT32] = op##_i32, [CT_INT64] = op##_i64

static const bin_fn bin_table[N_BIN][CT_DTYPE_COUNT] = {
    [CT_OP_ADD - CT_OP_ADD] = {NUMERIC(add)},
    [CT_OP_SUB - CT_OP_ADD] = {NUMERIC(sub)},
    [CT_OP_MUL - CT_OP_ADD] = {NUMERIC(mul)},
    [CT_OP_DIV - CT_OP_ADD] = {NUMERIC(div)},
    [CT_OP_MAXIMUM - CT_OP_ADD] = {NUMERIC(max)},
    [CT_OP_MINIMUM - CT_OP_ADD] = {NUMERIC(min)},
    [CT_OP_POW - CT_OP_ADD] = {NUMERIC(pow)},
    [CT_OP_FLOOR_DIV - CT_OP_ADD] = {NUMERIC(floordiv)},
    [CT_OP_FLOOR_MOD - CT_OP_ADD] = {NUMERIC(floormod)},
    [CT_OP_EQUAL - CT_OP_ADD] = {NUMERIC(eq), [CT_BOOL] = eq_b},
    [CT_OP_NOT_EQUAL - CT_OP_ADD] = {NUMERIC(ne), [CT_BOOL] = ne_b},
    [CT_OP_LESS - CT_OP_ADD] = {NUMERIC(lt)},
    [CT_OP_LESS_EQUAL - CT_OP_ADD] = {NUMERIC(le)},
    [CT_OP_GREATER - CT_OP_ADD] = {NUMERIC(gt)},
    [CT_OP_GREATER_EQUAL - CT_OP_ADD] = {NUMERIC(ge)},
};

static const un_fn un_table[N_UN][CT_DTYPE_COUNT] = {
    [CT_OP_NEG - CT_OP_NEG] = {NUMERIC(neg)},     [CT_OP_ABS - CT_OP_NEG] = {NUMERIC(abs)},
    [CT_OP_EXP - CT_OP_NEG] = {FLOATS(exp)},      [CT_OP_LOG - CT_OP_NEG] = {FLOATS(log)},
    [CT_OP_SQRT - CT_OP_NEG] = {FLOATS(sqrt)},    [CT_OP_TANH - CT_OP_NEG] = {FLOATS(tanh)},
    [CT_OP_SIGMOID - CT_OP_NEG] = {FLOATS(sigmoid)}, [CT_OP_RELU - CT_OP_NEG] = {NUMERIC(relu)},
    [CT_OP_SQUARE - CT_OP_NEG] = {NUMERIC(square)},
};

/* ---- 16-bit floats through float32 blocks ------------------------------ */

#define HBLOCK 256

static void half_to_f32(const uint16_t *src, float *dst, int64_t n, bool bf16) {
  if (bf16)
    for (int64_t i = 0; i < n; i++) dst[i] = ct_k_bf16_to_f32(src[i]);
  else
    for (int64_t i = 0; i < n; i++) dst[i] = ct_k_f16_to_f32(src[i]);
}

static void f32_to_half(const float *src, uint16_t *dst, int64_t n, bool bf16) {
  if (bf16)
    for (int64_t i = 0; i < n; i++) dst[i] = ct_k_f32_to_bf16(src[i]);
  else
    for (int64_t i = 0; i < n; i++) dst[i] = ct_k_f32_to_f16(src[i]);
}

/* ---- binary driver ------------------------------------------------------ */

typedef struct bin_job {
  ct_bcast_plan plan;
  bin_fn fn;
  const char *a, *b;
  char *o;
  size_t isz, osz;
  bool half, bf16, out_bool;
} bin_job;

/* n elements of output starting at element oo; inputs at element offsets oa, ob. */
static void bin_segment(const bin_job *j, int64_t oa, int64_t ob, int64_t oo, int64_t n, int mode) {
  if (!j->half) {
    j->fn(j->a + oa * (int64_t)j->isz, j->b + ob * (int64_t)j->isz, j->o + oo * (int64_t)j->osz, n, mode);
    return;
  }
  const uint16_t *a = (const uint16_t *)j->a + oa, *b = (const uint16_t *)j->b + ob;
  float ta[HBLOCK], tb[HBLOCK], to[HBLOCK];
  if (mode == MODE_SV) half_to_f32(a, ta, 1, j->bf16);
  if (mode == MODE_VS) half_to_f32(b, tb, 1, j->bf16);
  for (int64_t c = 0; c < n; c += HBLOCK) {
    int64_t m = n - c < HBLOCK ? n - c : HBLOCK;
    if (mode != MODE_SV) half_to_f32(a + c, ta, m, j->bf16);
    if (mode != MODE_VS) half_to_f32(b + c, tb, m, j->bf16);
    if (j->out_bool) {
      j->fn(ta, tb, (u8 *)j->o + oo + c, m, mode);
    } else {
      j->fn(ta, tb, to, m, mode);
      f32_to_half(to, (uint16_t *)j->o + oo + c, m, j->bf16);
    }
  }
}

/* Output elements [begin, end) in row-major order. */
static void bin_range(void *ctx, int64_t begin, int64_t end) {
  const bin_job *j = ctx;
  const ct_bcast_plan *p = &j->plan;
  const int r = p->rank;
  int64_t idx[CT_MAX_RANK], oa = 0, ob = 0, rem = begin;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = rem % p->dims[d];
    rem /= p->dims[d];
    oa += idx[d] * p->stride[0][d];
    ob += idx[d] * p->stride[1][d];
  }
  const int64_t len = p->dims[r - 1], sa = p->stride[0][r - 1], sb = p->stride[1][r - 1];
  const int mode = sa == 0 ? MODE_SV : sb == 0 ? MODE_VS : MODE_VV;
  int64_t pos = begin;
  while (pos < end) {
    int64_t n = len - idx[r - 1];
    if (n > end - pos) n = end - pos;
    bin_segment(j, oa, ob, pos, n, mode);
    pos += n;
    idx[r - 1] += n;
    oa += n * sa;
    ob += n * sb;
    if (idx[r - 1] < len) break; /* only the last segment ends mid-row */
    idx[r - 1] = 0;
    oa -= len * sa;
    ob -= len * sb;
    for (int d = r - 2; d >= 0; d--) {
      idx[d]++;
      oa += p->stride[0][d];
      ob += p->stride[1][d];
      if (idx[d] < p->dims[d]) break;
      idx[d] = 0;
      oa -= p->dims[d] * p->stride[0][d];
      ob -= p->dims[d] * p->stride[1][d];
    }
  }
}

/* Whether an int32/int64 tensor holds a negative value (a pow exponent) or
 * a zero (a floor_div/floor_mod divisor): the checks before integer ops. */
static void int_scan(const ct_tensor *t, bool *negative, bool *zero) {
  bool neg = false, z = false;
  if (t->dtype == CT_INT32) {
    const int32_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) neg |= p[i] < 0, z |= p[i] == 0;
  } else {
    const int64_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) neg |= p[i] < 0, z |= p[i] == 0;
  }
  *negative = neg;
  *zero = z;
}

static ct_status binary_kernel(const ct_kernel_args *args) {
  const ct_tensor *a = args->in[0], *b = args->in[1];
  ct_tensor *o = args->out;
  const ct_dtype dt = a->dtype;
  bin_fn fn = bin_table[args->op - CT_OP_ADD][dt];
  if (fn == NULL) return ct_error(CT_INTERNAL, "%s: no CPU loop for %s", ct_op_name(args->op), ct_dtype_name(dt));
  bool is_int = dt == CT_INT32 || dt == CT_INT64, negative = false, zero = false;
  bool floor_op = args->op == CT_OP_FLOOR_DIV || args->op == CT_OP_FLOOR_MOD;
  /* as TensorFlow (and the GPU kernels): a negative exponent or a zero
   * divisor is an error only when there is an output */
  if (o->numel == 0) return CT_OK;
  if (is_int && (args->op == CT_OP_POW || floor_op)) int_scan(b, &negative, &zero);
  if (args->op == CT_OP_POW && negative)
    return ct_error(CT_INVALID_ARGUMENT, "pow: integers to negative integer powers are not allowed");
  if (floor_op && zero)
    return ct_error(CT_INVALID_ARGUMENT, "%s: Integer division by zero (a divisor of %s is 0)", ct_op_name(args->op),
                    ct_dtype_name(dt));
  /* Small ops on same-shape or scalar operands: one call, no walk plan.
   * This is most of a tiny op's kernel time. */
  const int64_t n = o->numel;
  if (!ct_k_is_half(dt) && args->op != CT_OP_POW && ct_cpu_threads_for(n) == 1) {
    int mode = -1;
    if (a->numel == n && b->numel == n) mode = MODE_VV;
    else if (a->numel == 1 && b->numel == n) mode = MODE_SV;
    else if (b->numel == 1 && a->numel == n) mode = MODE_VS;
    if (mode >= 0) {
      fn(a->data, b->data, o->data, n, mode);
      return CT_OK;
    }
  }
  bin_job j;
  ct_bcast_plan_make(a->shape, a->rank, b->shape, b->rank, o->shape, o->rank, &j.plan);
  j.fn = fn;
  j.a = a->data;
  j.b = b->data;
  j.o = o->data;
  j.isz = ct_dtype_size(dt);
  j.osz = ct_dtype_size(o->dtype);
  j.half = ct_k_is_half(dt);
  j.bf16 = dt == CT_BFLOAT16;
  j.out_bool = o->dtype == CT_BOOL;
  int64_t cost = j.half ? 4 : 1;
  if (args->op == CT_OP_POW) cost *= 16;
  ct_k_parallel(j.plan.numel, ct_cpu_threads_for(j.plan.numel * cost), 64, bin_range, &j);
  return CT_OK;
}

/* ---- unary driver --------------------------------------------------------- */

typedef struct un_job {
  un_fn fn;
  const char *x;
  char *o;
  size_t sz;
  bool half, bf16;
} un_job;

static void un_range(void *ctx, int64_t begin, int64_t end) {
  const un_job *j = ctx;
  if (!j->half) {
    j->fn(j->x + begin * (int64_t)j->sz, j->o + begin * (int64_t)j->sz, end - begin);
    return;
  }
  float t[HBLOCK], u[HBLOCK];
  for (int64_t c = begin; c < end; c += HBLOCK) {
    int64_t m = end - c < HBLOCK ? end - c : HBLOCK;
    half_to_f32((const uint16_t *)j->x + c, t, m, j->bf16);
    j->fn(t, u, m);
    f32_to_half(u, (uint16_t *)j->o + c, m, j->bf16);
  }
}

static ct_status unary_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  const ct_dtype dt = x->dtype;
  un_fn fn = un_table[args->op - CT_OP_NEG][dt];
  if (fn == NULL) return ct_error(CT_INTERNAL, "%s: no CPU loop for %s", ct_op_name(args->op), ct_dtype_name(dt));
  un_job j = {fn, x->data, args->out->data, ct_dtype_size(dt), ct_k_is_half(dt), dt == CT_BFLOAT16};
  bool cheap = args->op == CT_OP_NEG || args->op == CT_OP_ABS || args->op == CT_OP_RELU || args->op == CT_OP_SQUARE;
  int64_t cost = (cheap ? 1 : 16) * (j.half ? 4 : 1);
  ct_k_parallel(x->numel, ct_cpu_threads_for(x->numel * cost), 64, un_range, &j);
  return CT_OK;
}

void ct_cpu_register_elementwise(ct_registry *r) {
  for (int k = 0; k < N_BIN; k++)
    for (int d = 0; d < CT_DTYPE_COUNT; d++)
      if (bin_table[k][d]) ct_registry_add(r, (ct_op)(CT_OP_ADD + k), CT_DEV_CPU, (ct_dtype)d, binary_kernel);
  for (int k = 0; k < N_UN; k++)
    for (int d = 0; d < CT_DTYPE_COUNT; d++)
      if (un_table[k][d]) ct_registry_add(r, (ct_op)(CT_OP_NEG + k), CT_DEV_CPU, (ct_dtype)d, unary_kernel);
  ct_cpu_register_cast(r);
}
