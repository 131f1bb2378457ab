/*
 * CPU kernels of the optimizer updates (ResourceApplyGradientDescent,
 * ResourceApplyKerasMomentum, ResourceApplyAdam): one pass over the
 * variable that reads its value and gradient, updates the optimizer's
 * slots in place and writes the new value (see ct_apply_attrs in
 * core/ops_internal.h for the formulas, Keras 3's).
 *
 * float32 and float64 compute in their own type, with the operations in
 * Keras's order so that a float32 step matches TensorFlow's to the last
 * bit where the compiler does not contract (no FMA on baseline x86-64);
 * their loops are plain and vectorise (sqrt too: this file is built with
 * -fno-math-errno, cmake/parts/optim.cmake). The 16-bit floats compute in
 * float32 and round every slot to its dtype before the variable's update
 * reads it, as Keras reads its float16 slot variables back.
 */
#include "cpu/kernels_common.h"

typedef struct apply_job {
  const ct_kernel_args *args;
  const ct_apply_attrs *at;
} apply_job;

/* ---- float32 and float64 ----------------------------------------------------- */

/* Adam's loop (a square root and a division per element: a fifth of the
 * digits MLP's training step on baseline SSE2) gets an AVX2 clone chosen
 * at load time, as kernels_random.c's loops: eight lanes instead of four.
 * The target adds no FMA and vector sqrt/div round like scalar ones, so
 * the results are the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ADAM_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define ADAM_LOOP
#endif

/* One set of loops per compute type T (float, double), over [b, e). */
#define DEFINE_APPLY(T, SQRT, sfx)                                                                                   \
  static void sgd_##sfx(T *restrict out, const T *restrict var, const T *restrict g, int64_t b, int64_t e, T lr) { \
    for (int64_t i = b; i < e; i++) out[i] = var[i] - g[i] * lr;                                                    \
  }                                                                                                                  \
  static void momentum_##sfx(T *restrict out, T *restrict m, const T *restrict var, const T *restrict g,           \
                             int64_t b, int64_t e, T lr, T mu, bool nesterov) {                                      \
    if (nesterov) {                                                                                                  \
      for (int64_t i = b; i < e; i++) {                                                                              \
        const T gl = g[i] * lr, mi = m[i] * mu - gl;                                                                 \
        m[i] = mi;                                                                                                   \
        out[i] = var[i] + (mi * mu - gl);                                                                            \
      }                                                                                                              \
    } else {                                                                                                         \
      for (int64_t i = b; i < e; i++) {                                                                              \
        const T mi = m[i] * mu - g[i] * lr;                                                                          \
        m[i] = mi;                                                                                                   \
        out[i] = var[i] + mi;                                                                                        \
      }                                                                                                              \
    }                                                                                                                \
  }                                                                                                                  \
  ADAM_LOOP                                                                                                          \
  static void adam_##sfx(T *restrict out, T *restrict m, T *restrict v, T *restrict vhat, const T *restrict var,     \
                         const T *restrict g, int64_t b, int64_t e, T alpha, T c1, T c2, T eps) {                    \
    if (vhat) {                                                                                                      \
      for (int64_t i = b; i < e; i++) {                                                                              \
        const T gi = g[i], mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;                          \
        const T hi = vhat[i] > vi ? vhat[i] : vi;                                                                    \
        m[i] = mi;                                                                                                   \
        v[i] = vi;                                                                                                   \
        vhat[i] = hi;                                                                                                \
        out[i] = var[i] - (mi * alpha) / (SQRT(hi) + eps);                                                           \
      }                                                                                                              \
    } else {                                                                                                         \
      for (int64_t i = b; i < e; i++) {                                                                              \
        const T gi = g[i], mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;                          \
        m[i] = mi;                                                                                                   \
        v[i] = vi;                                                                                                   \
        out[i] = var[i] - (mi * alpha) / (SQRT(vi) + eps);                                                           \
      }                                                                                                              \
    }                                                                                                                \
  }                                                                                                                  \
  static void apply_range_##sfx(void *ctx, int64_t b, int64_t e) {                                                  \
    const apply_job *j = ctx;                                                                                        \
    const ct_kernel_args *a = j->args;                                                                               \
    const ct_apply_attrs *at = j->at;                                                                                \
    T *out = a->out->data;                                                                                           \
    const T *var = a->in[0]->data, *g = a->in[1]->data;                                                              \
    switch (a->op) {                                                                                                 \
    case CT_OP_APPLY_GRADIENT_DESCENT: sgd_##sfx(out, var, g, b, e, (T)at->lr); break;                              \
    case CT_OP_APPLY_MOMENTUM:                                                                                       \
      momentum_##sfx(out, a->in[2]->data, var, g, b, e, (T)at->lr, (T)at->momentum, at->nesterov);                  \
      break;                                                                                                         \
    default:                                                                                                         \
      adam_##sfx(out, a->in[2]->data, a->in[3]->data, at->amsgrad ? a->in[4]->data : NULL, var, g, b, e,           \
                 (T)at->lr, (T)at->one_minus_beta_1, (T)at->one_minus_beta_2, (T)at->epsilon);                       \
      break;                                                                                                         \
    }                                                                                                                \
  }

DEFINE_APPLY(float, sqrtf, f32)
DEFINE_APPLY(double, sqrt, f64)

/* ---- float16 and bfloat16 ------------------------------------------------------- */

static inline float ld16(const uint16_t *p, int64_t i, bool bf) {
  return bf ? ct_k_bf16_to_f32(p[i]) : ct_k_f16_to_f32(p[i]);
}
static inline uint16_t st16(float x, bool bf) { return bf ? ct_k_f32_to_bf16(x) : ct_k_f32_to_f16(x); }

/* Stores x into p[i] and returns the stored value, as float. */
static inline float put16(uint16_t *p, int64_t i, float x, bool bf) {
  p[i] = st16(x, bf);
  return ld16(p, i, bf);
}

static void apply_range_16(void *ctx, int64_t b, int64_t e) {
  const apply_job *j = ctx;
  const ct_kernel_args *a = j->args;
  const ct_apply_attrs *at = j->at;
  const bool bf = a->out->dtype == CT_BFLOAT16;
  uint16_t *out = a->out->data;
  const uint16_t *var = a->in[0]->data, *g = a->in[1]->data;
  const float lr = (float)at->lr;
  switch (a->op) {
  case CT_OP_APPLY_GRADIENT_DESCENT:
    for (int64_t i = b; i < e; i++) out[i] = st16(ld16(var, i, bf) - ld16(g, i, bf) * lr, bf);
    break;
  case CT_OP_APPLY_MOMENTUM: {
    uint16_t *m = a->in[2]->data;
    const float mu = (float)at->momentum;
    for (int64_t i = b; i < e; i++) {
      const float gl = ld16(g, i, bf) * lr, mi = put16(m, i, ld16(m, i, bf) * mu - gl, bf);
      out[i] = st16(ld16(var, i, bf) + (at->nesterov ? mi * mu - gl : mi), bf);
    }
    break;
  }
  default: {
    uint16_t *m = a->in[2]->data, *v = a->in[3]->data, *vhat = at->amsgrad ? a->in[4]->data : NULL;
    const float c1 = (float)at->one_minus_beta_1, c2 = (float)at->one_minus_beta_2, eps = (float)at->epsilon;
    for (int64_t i = b; i < e; i++) {
      const float gi = ld16(g, i, bf), m0 = ld16(m, i, bf), v0 = ld16(v, i, bf);
      const float mi = put16(m, i, m0 + (gi - m0) * c1, bf);
      float vi = put16(v, i, v0 + (gi * gi - v0) * c2, bf);
      if (vhat) {
        const float h0 = ld16(vhat, i, bf);
        vi = put16(vhat, i, h0 > vi ? h0 : vi, bf);
      }
      out[i] = st16(ld16(var, i, bf) - (mi * lr) / (sqrtf(vi) + eps), bf);
    }
    break;
  }
  }
}

/* ---- the kernel -------------------------------------------------------------------- */

static ct_status apply_kernel(const ct_kernel_args *args) {
  const int64_t n = args->out->numel;
  if (n == 0) return CT_OK;
  apply_job j = {args, args->attrs};
  ct_k_range_fn body = args->out->dtype == CT_FLOAT32   ? apply_range_f32
                       : args->out->dtype == CT_FLOAT64 ? apply_range_f64
                                                        : apply_range_16;
  /* a few loads, stores and flops per element; Adam a division and a root */
  const int64_t cost = args->op == CT_OP_APPLY_ADAM ? 8 : 3;
  ct_k_parallel(n, ct_cpu_threads_for(n * cost), 64, body, &j);
  return CT_OK;
}

void ct_cpu_register_optim(ct_registry *r) {
  static const ct_dtype floats[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
  for (size_t d = 0; d < CT_ARRAY_LEN(floats); d++) {
    ct_registry_add(r, CT_OP_APPLY_GRADIENT_DESCENT, CT_DEV_CPU, floats[d], apply_kernel);
    ct_registry_add(r, CT_OP_APPLY_MOMENTUM, CT_DEV_CPU, floats[d], apply_kernel);
    ct_registry_add(r, CT_OP_APPLY_ADAM, CT_DEV_CPU, floats[d], apply_kernel);
  }
}
