/*
 * The optimizer updates: one fused pass over a variable (ct_apply_attrs in
 * src/core/ops_internal.h has the formulas, Keras 3's). T is a float
 * dtype; float32 and float64 compute in their own type, the 16-bit floats
 * in float. Scalars come as double and are converted to the compute type
 * first, as the CPU converts them; every slot is stored (rounded to T)
 * before the variable's update reads it back, as on the CPU. Compiled with
 * --fmad=false so that the GPU rounds each product as the CPU does.
 *
 * ct_apply_sgd_<dt>(T *out, const T *var, const T *g, i64 n, double lr):
 *   out = var - g*lr.
 * ct_apply_momentum_<dt>(T *out, T *m, const T *var, const T *g, i64 n,
 *                        double lr, double momentum, int nesterov):
 *   m = m*momentum - g*lr (in place);
 *   out = var + (nesterov ? m*momentum - g*lr : m).
 * ct_apply_adam_<dt>(T *out, T *m, T *v, T *vhat, const T *var, const T *g,
 *                    i64 n, double alpha, double c1, double c2, double eps):
 *   m += (g - m)*c1; v += (g*g - v)*c2 (in place); vhat (NULL: no amsgrad)
 *   = max(vhat, v), read instead of v; out = var - m*alpha/(sqrt(v) + eps).
 *
 * Instantiation lines: CT_APPLY_SGD(float, f32)   CT_APPLY_MOMENTUM(f16, f16)
 *   CT_APPLY_ADAM(double, f64)
 */
#include "common.cuh"

/* x stored as T and read back: the value a slot holds. */
template <class T> CT_DEV typename Acc<T>::type stored(typename Acc<T>::type x) { return to_acc(conv<T>(x)); }

#define CT_APPLY_SGD(T, sfx)                                                                            \
  extern "C" __global__ void ct_apply_sgd_##sfx(T *out, const T *var, const T *g, i64 n, double lr_) { \
    typedef Acc<T>::type A;                                                                             \
    const A lr = (A)lr_;                                                                                \
    CT_GRID_STRIDE(i, n) out[i] = conv<T>(to_acc(var[i]) - to_acc(g[i]) * lr);                          \
  }

#define CT_APPLY_MOMENTUM(T, sfx)                                                                       \
  extern "C" __global__ void ct_apply_momentum_##sfx(T *out, T *m, const T *var, const T *g, i64 n,    \
                                                     double lr_, double mu_, int nesterov) {            \
    typedef Acc<T>::type A;                                                                             \
    const A lr = (A)lr_, mu = (A)mu_;                                                                   \
    CT_GRID_STRIDE(i, n) {                                                                              \
      const A gl = to_acc(g[i]) * lr, mi = stored<T>(to_acc(m[i]) * mu - gl);                           \
      m[i] = conv<T>(mi);                                                                               \
      out[i] = conv<T>(to_acc(var[i]) + (nesterov ? mi * mu - gl : mi));                                \
    }                                                                                                   \
  }

#define CT_APPLY_ADAM(T, sfx)                                                                           \
  extern "C" __global__ void ct_apply_adam_##sfx(T *out, T *m, T *v, T *vhat, const T *var, const T *g, \
                                                 i64 n, double alpha_, double c1_, double c2_,          \
                                                 double eps_) {                                         \
    typedef Acc<T>::type A;                                                                             \
    const A alpha = (A)alpha_, c1 = (A)c1_, c2 = (A)c2_, eps = (A)eps_;                                 \
    CT_GRID_STRIDE(i, n) {                                                                              \
      const A gi = to_acc(g[i]), m0 = to_acc(m[i]), v0 = to_acc(v[i]);                                  \
      const A mi = stored<T>(m0 + (gi - m0) * c1);                                                      \
      A vi = stored<T>(v0 + (gi * gi - v0) * c2);                                                       \
      m[i] = conv<T>(mi);                                                                               \
      v[i] = conv<T>(vi);                                                                               \
      if (vhat) {                                                                                       \
        const A h0 = to_acc(vhat[i]);                                                                   \
        vi = h0 > vi ? h0 : vi;                                                                         \
        vhat[i] = conv<T>(vi);                                                                          \
      }                                                                                                 \
      out[i] = conv<T>(to_acc(var[i]) - (mi * alpha) / (ct_sqrt(vi) + eps));                            \
    }                                                                                                   \
  }
