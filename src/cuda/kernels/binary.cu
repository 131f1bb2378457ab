/*
 * Elementwise binary ops and comparisons with NumPy broadcasting.
 *
 * Kernel ct_<op>_<dt>(TO *out, const T *a, const T *b, i64 n, Bcast d):
 *   d.rank == 0: a, b and out all have n contiguous elements (fast path,
 *                16-byte vector loads when every pointer allows it);
 *   d.rank > 0:  out is contiguous with dims d.dims, and the element of
 *                a (b) for an output position is at the dot product of the
 *                position with d.sa (d.sb); broadcast axes have stride 0.
 * The host merges adjacent axes first, so d.rank is usually 1 to 3.
 *
 * Instantiation lines (appended by the host, one kernel per compile):
 *   CT_BIN(add, OpAdd, float, f32)   CT_CMP(less, OpLt, int, i32)   CT_TRUEDIV(int, i32)
 */
#include "common.cuh"

struct Bcast {
  int rank;
  int pad_;
  i64 dims[CT_MAX_RANK];
  i64 sa[CT_MAX_RANK];
  i64 sb[CT_MAX_RANK];
};

struct OpAdd { template <class A> static CT_DEV A f(A x, A y) { return x + y; } };
struct OpSub { template <class A> static CT_DEV A f(A x, A y) { return x - y; } };
struct OpMul { template <class A> static CT_DEV A f(A x, A y) { return x * y; } };
struct OpDiv { template <class A> static CT_DEV A f(A x, A y) { return x / y; } };
/* Integer division is true division with a float64 result, as on the CPU. */
struct OpTrueDiv { template <class A> static CT_DEV double f(A x, A y) { return (double)x / (double)y; } };
/* NaN propagates through maximum and minimum. */
struct OpMax { template <class A> static CT_DEV A f(A x, A y) { return (x > y || ct_isnan(x)) ? x : y; } };
struct OpMin { template <class A> static CT_DEV A f(A x, A y) { return (x < y || ct_isnan(x)) ? x : y; } };
struct OpPow {
  static CT_DEV float f(float x, float y) { return ct_pow(x, y); }
  static CT_DEV double f(double x, double y) { return ct_pow(x, y); }
  /* Integer power by squaring, wrapping; the host rejects negative
   * exponents before launching (as the CPU kernel does). */
  template <class I> static CT_DEV I f(I x, I y) {
    unsigned long long r = 1, base = (unsigned long long)x;
    if (y < 0) return 0;
    while (y) {
      if (y & 1) r *= base;
      base *= base;
      y >>= 1;
    }
    return (I)r;
  }
};
/* Floor division and modulo, as the CPU computes them (TensorFlow's
 * FloorDiv/FloorMod). Integer divisors are never 0 here (the host checks);
 * -1 is apart because INT_MIN / -1 overflows. */
struct OpFloorDiv {
  static CT_DEV float f(float x, float y) { return floorf(x / y); }
  static CT_DEV double f(double x, double y) { return floor(x / y); }
  template <class I> static CT_DEV I f(I x, I y) {
    if (y == -1) return (I)(0 - (unsigned long long)x);
    I q = x / y;
    return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
  }
};
struct OpFloorMod {
  static CT_DEV float f(float x, float y) {
    float r = fmodf(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
  }
  static CT_DEV double f(double x, double y) {
    double r = fmod(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
  }
  template <class I> static CT_DEV I f(I x, I y) {
    if (y == -1) return 0;
    I r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
  }
};
struct OpEq { template <class A> static CT_DEV u8 f(A x, A y) { return x == y; } };
struct OpNe { template <class A> static CT_DEV u8 f(A x, A y) { return x != y; } };
struct OpLt { template <class A> static CT_DEV u8 f(A x, A y) { return x < y; } };
struct OpLe { template <class A> static CT_DEV u8 f(A x, A y) { return x <= y; } };
struct OpGt { template <class A> static CT_DEV u8 f(A x, A y) { return x > y; } };
struct OpGe { template <class A> static CT_DEV u8 f(A x, A y) { return x >= y; } };

/* Out: the output type (T, u8 for comparisons, double for integer division). */
template <class T, class Op, class Out> struct Apply {
  static CT_DEV Out f(T x, T y) { return conv<Out>(Op::f(to_acc(x), to_acc(y))); }
};
template <class T, class Op> struct Apply<T, Op, u8> {
  static CT_DEV u8 f(T x, T y) { return Op::f(to_acc(x), to_acc(y)); }
};

template <class T, int N> struct __align__(sizeof(T) * N) Pack { T v[N]; };

template <class T, class Op, class TO> CT_DEV void binary(TO *out, const T *a, const T *b, i64 n, const Bcast &d) {
  if (d.rank == 0) {
    const int V = 16 / sizeof(T);
    i64 done = 0;
    if ((((u64)a | (u64)b) & 15) == 0 && ((u64)out & (sizeof(TO) * V - 1)) == 0) {
      i64 nv = n / V;
      const Pack<T, V> *pa = (const Pack<T, V> *)a, *pb = (const Pack<T, V> *)b;
      Pack<TO, V> *po = (Pack<TO, V> *)out;
      CT_GRID_STRIDE(i, nv) {
        Pack<T, V> x = pa[i], y = pb[i];
        Pack<TO, V> r;
#pragma unroll
        for (int k = 0; k < V; k++) r.v[k] = Apply<T, Op, TO>::f(x.v[k], y.v[k]);
        po[i] = r;
      }
      done = nv * V;
    }
    CT_GRID_STRIDE(j, n - done) {
      i64 i = done + j;
      out[i] = Apply<T, Op, TO>::f(a[i], b[i]);
    }
    return;
  }
  CT_GRID_STRIDE(i, n) {
    i64 rem = i, oa = 0, ob = 0;
    for (int k = d.rank - 1; k >= 0; k--) {
      i64 q = rem / d.dims[k], c = rem - q * d.dims[k];
      oa += c * d.sa[k];
      ob += c * d.sb[k];
      rem = q;
    }
    out[i] = Apply<T, Op, TO>::f(a[oa], b[ob]);
  }
}

#define CT_BIN(name, Op, T, sfx)                                                                 \
  extern "C" __global__ void ct_##name##_##sfx(T *out, const T *a, const T *b, i64 n, Bcast d) {   \
    binary<T, Op, T>(out, a, b, n, d);                                                            \
  }
#define CT_CMP(name, Op, T, sfx)                                                                 \
  extern "C" __global__ void ct_##name##_##sfx(u8 *out, const T *a, const T *b, i64 n, Bcast d) {  \
    binary<T, Op, u8>(out, a, b, n, d);                                                           \
  }
#define CT_TRUEDIV(T, sfx)                                                                       \
  extern "C" __global__ void ct_div_##sfx(double *out, const T *a, const T *b, i64 n, Bcast d) {   \
    binary<T, OpTrueDiv, double>(out, a, b, n, d);                                                \
  }
