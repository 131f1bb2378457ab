/*
 * Elementwise unary ops on contiguous tensors.
 *
 * Kernel ct_<op>_<dt>(T *out, const T *x, i64 n). 16-bit floats compute in
 * float; integers support neg, abs, square and relu.
 *
 * Instantiation line: CT_UNARY(exp, OpExp, float, f32)
 */
#include "common.cuh"

struct OpNeg {
  static CT_DEV float f(float x) { return -x; }
  static CT_DEV double f(double x) { return -x; }
  template <class I> static CT_DEV I f(I x) { return (I)(0 - (unsigned long long)x); }
};
struct OpAbs {
  static CT_DEV float f(float x) { return fabsf(x); }
  static CT_DEV double f(double x) { return fabs(x); }
  template <class I> static CT_DEV I f(I x) { return x < 0 ? (I)(0 - (unsigned long long)x) : x; }
};
struct OpExp { template <class A> static CT_DEV A f(A x) { return ct_exp(x); } };
struct OpLog { template <class A> static CT_DEV A f(A x) { return ct_log(x); } };
struct OpSqrt { template <class A> static CT_DEV A f(A x) { return ct_sqrt(x); } };
struct OpTanh { template <class A> static CT_DEV A f(A x) { return ct_tanh(x); } };
struct OpSigmoid { template <class A> static CT_DEV A f(A x) { return (A)1 / ((A)1 + ct_exp(-x)); } };
/* Integers wrap, as on the CPU (a signed overflow would be undefined). */
struct OpSquare {
  static CT_DEV float f(float x) { return x * x; }
  static CT_DEV double f(double x) { return x * x; }
  template <class I> static CT_DEV I f(I x) { return (I)((unsigned long long)x * (unsigned long long)x); }
};
/* NaN stays NaN (x > 0 is false for NaN, so test for zero the other way). */
struct OpRelu { template <class A> static CT_DEV A f(A x) { return x < (A)0 ? (A)0 : x; } };

template <class T, int N> struct __align__(sizeof(T) * N) Pack { T v[N]; };

template <class T, class Op> CT_DEV T apply1(T x) { return conv<T>(Op::f(to_acc(x))); }

template <class T, class Op> CT_DEV void unary(T *out, const T *x, i64 n) {
  const int V = 16 / sizeof(T);
  i64 done = 0;
  if ((((u64)x | (u64)out) & 15) == 0) {
    i64 nv = n / V;
    const Pack<T, V> *px = (const Pack<T, V> *)x;
    Pack<T, V> *po = (Pack<T, V> *)out;
    CT_GRID_STRIDE(i, nv) {
      Pack<T, V> a = px[i], r;
#pragma unroll
      for (int k = 0; k < V; k++) r.v[k] = apply1<T, Op>(a.v[k]);
      po[i] = r;
    }
    done = nv * V;
  }
  CT_GRID_STRIDE(j, n - done) out[done + j] = apply1<T, Op>(x[done + j]);
}

#define CT_UNARY(name, Op, T, sfx) \
  extern "C" __global__ void ct_##name##_##sfx(T *out, const T *x, i64 n) { unary<T, Op>(out, x, n); }
