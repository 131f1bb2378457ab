/*
 * CPU cast kernels between all seven dtypes.
 *
 * Rules (docs/ops.md): float to integer truncates toward zero, saturates at
 * the integer's range and maps NaN to 0; int64 to int32 wraps (keeps the low
 * 32 bits); anything to bool is `x != 0` (NaN is true); bool is 0 or 1;
 * float16/bfloat16 round to nearest even, float64 to a 16-bit float goes
 * through float32.
 */
#include "cpu/kernels_common.h"

typedef unsigned char u8;
typedef void (*cast_fn)(const void *src, void *dst, int64_t n);

#define ID(x) (x)
#define TO_F32(x) ((float)(x))
#define TO_F64(x) ((double)(x))
#define TO_F16(x) ct_k_f32_to_f16((float)(x))
#define TO_BF16(x) ct_k_f32_to_bf16((float)(x))
#define TO_BOOL(x) ((u8)((x) != 0))
#define F_TO_I32(x) ct_k_f64_to_i32((double)(x))
#define F_TO_I64(x) ct_k_f64_to_i64((double)(x))
#define I_TO_I32(x) ((int32_t)(x))
#define I_TO_I64(x) ((int64_t)(x))

#define CAST(name, ST, LOAD, DT, STORE)                       \
  static void name(const void *vs, void *vd, int64_t n) {    \
    const ST *restrict s = vs;                               \
    DT *restrict d = vd;                                     \
    for (int64_t i = 0; i < n; i++) d[i] = STORE(LOAD(s[i])); \
  }

/* One source type to all seven destinations; K is F or I (float-like or
 * integer source), choosing the integer conversions. */
#define CAST_FROM(src, ST, LOAD, K)                           \
  CAST(src##_to_f32, ST, LOAD, float, TO_F32)                 \
  CAST(src##_to_f64, ST, LOAD, double, TO_F64)                \
  CAST(src##_to_f16, ST, LOAD, uint16_t, TO_F16)              \
  CAST(src##_to_bf16, ST, LOAD, uint16_t, TO_BF16)            \
  CAST(src##_to_i32, ST, LOAD, int32_t, K##_TO_I32)           \
  CAST(src##_to_i64, ST, LOAD, int64_t, K##_TO_I64)           \
  CAST(src##_to_b, ST, LOAD, u8, TO_BOOL)

CAST_FROM(f32, float, ID, F)
CAST_FROM(f64, double, ID, F)
CAST_FROM(f16, uint16_t, ct_k_f16_to_f32, F)
CAST_FROM(bf16, uint16_t, ct_k_bf16_to_f32, F)
CAST_FROM(i32, int32_t, ID, I)
CAST_FROM(i64, int64_t, ID, I)
CAST_FROM(b, u8, ID, I)

#define ROW(src)                                                                   \
  {[CT_FLOAT32] = src##_to_f32, [CT_FLOAT64] = src##_to_f64, [CT_FLOAT16] = src##_to_f16, \
   [CT_BFLOAT16] = src##_to_bf16, [CT_INT32] = src##_to_i32, [CT_INT64] = src##_to_i64,  \
   [CT_BOOL] = src##_to_b}

static const cast_fn cast_table[CT_DTYPE_COUNT][CT_DTYPE_COUNT] = {
    [CT_FLOAT32] = ROW(f32), [CT_FLOAT64] = ROW(f64), [CT_FLOAT16] = ROW(f16), [CT_BFLOAT16] = ROW(bf16),
    [CT_INT32] = ROW(i32),   [CT_INT64] = ROW(i64),   [CT_BOOL] = ROW(b),
};

typedef struct cast_job {
  cast_fn fn;
  const char *src;
  char *dst;
  size_t ssz, dsz;
} cast_job;

static void cast_range(void *ctx, int64_t begin, int64_t end) {
  const cast_job *j = ctx;
  if (j->fn == NULL)
    memcpy(j->dst + begin * (int64_t)j->dsz, j->src + begin * (int64_t)j->ssz, (size_t)(end - begin) * j->dsz);
  else
    j->fn(j->src + begin * (int64_t)j->ssz, j->dst + begin * (int64_t)j->dsz, end - begin);
}

static ct_status cast_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  cast_job j = {x->dtype == o->dtype ? NULL : cast_table[x->dtype][o->dtype], x->data, o->data,
                ct_dtype_size(x->dtype), ct_dtype_size(o->dtype)};
  int64_t cost = ct_k_is_half(x->dtype) || ct_k_is_half(o->dtype) ? 4 : 1;
  ct_k_parallel(x->numel, ct_cpu_threads_for(x->numel * cost), 64, cast_range, &j);
  return CT_OK;
}

void ct_cpu_register_cast(ct_registry *r) {
  for (int d = 0; d < CT_DTYPE_COUNT; d++) ct_registry_add(r, CT_OP_CAST, CT_DEV_CPU, (ct_dtype)d, cast_kernel);
}
