/*
 * Reductions (sum, mean, max, min over any set of axes), argmax and
 * softmax.
 *
 * The host merges adjacent axes of the same kind, so an input is seen as
 * kept dims (d.out_dims, input strides d.out_stride) and reduced dims
 * (d.red_dims, strides d.red_stride); n_out and R are their products.
 *
 * ct_<op>_<dt>(void *dst, const T *in, Reduce d, i64 n_out, i64 R,
 *              i64 chunk, i64 divisor), two strategies chosen by blockDim.y:
 *   blockDim.y == 1 ("serial"): one thread per output loops over all of R;
 *     writes the final value (divided by `divisor` when it is non-zero,
 *     the count for mean) to dst as T.
 *   blockDim.y == 0 is impossible, so the "parallel" strategy is told by
 *     chunk > 0: block (x = output, y = chunk) reduces elements
 *     [y*chunk, min(R, (y+1)*chunk)) of its output with every thread and
 *     writes the partial, in the accumulation type, to
 *     dst[x * gridDim.y + y]; ct_<op>fin_<dt> then combines the gridDim.y
 *     partials of each output.
 *   chunk < 0 ("row"): block x reduces all of R for outputs x, x +
 *     gridDim.x, ... with every thread and writes the final value as the
 *     serial strategy does. The host takes it when the reduced elements
 *     of an output are one contiguous run, so that a warp reads
 *     consecutive addresses (the serial strategy has each thread walk its
 *     own row, 32 rows per warp load).
 * ct_<op>fin_<dt>(T *out, const A *part, i64 n_out, i64 parts, i64 divisor)
 *
 * ct_argmax_<dt>(void *out, const T *in, i64 outer, i64 len, i64 inner,
 *                int out_is_64, int block_per_row): first index of the
 *   maximum along the middle axis; NaN counts as larger than anything (the
 *   first NaN wins). block_per_row as softmax: a block's threads each take
 *   every blockDim.x-th element of the row, then combine (value, index)
 *   candidates in shared memory.
 * ct_softmax_<dt>(T *out, const T *in, i64 outer, i64 len, i64 inner,
 *                 int block_per_row): exp(x - max) / sum along the middle
 *   axis, in float (float64 for float64); the body of nn.cu's
 *   ct_log_softmax_<dt> too (rows.cuh). block_per_row (only with
 *   inner == 1): one block per row, else one thread per (outer, inner)
 *   column (rows.cuh's each_row, for argmax too).
 *
 * Instantiation lines: CT_REDUCE(sum, OpSum, float, f32)
 *   CT_ARGMAX(float, f32)   CT_SOFTMAX(float, f32)
 */
#include "rows.cuh"

struct Reduce {
  int out_rank;
  int red_rank;
  i64 out_dims[CT_MAX_RANK];
  i64 out_stride[CT_MAX_RANK];
  i64 red_dims[CT_MAX_RANK];
  i64 red_stride[CT_MAX_RANK];
};

/* Reductions accumulate in float64 (floats) or int64 (integers), as the
 * CPU kernels do, so both devices round once at the end. */
template <class T> struct RAcc { typedef double type; };
template <> struct RAcc<int> { typedef i64 type; };
template <> struct RAcc<i64> { typedef i64 type; };
template <class T> CT_DEV typename RAcc<T>::type load_racc(T v) { return (typename RAcc<T>::type)to_acc(v); }

template <class A> struct Limits;
template <> struct Limits<float> {
  static CT_DEV float lowest() { return -__int_as_float(0x7f800000); }
  static CT_DEV float highest() { return __int_as_float(0x7f800000); }
};
template <> struct Limits<double> {
  static CT_DEV double lowest() { return -__longlong_as_double(0x7ff0000000000000LL); }
  static CT_DEV double highest() { return __longlong_as_double(0x7ff0000000000000LL); }
};
template <> struct Limits<int> {
  static CT_DEV int lowest() { return -2147483647 - 1; }
  static CT_DEV int highest() { return 2147483647; }
};
template <> struct Limits<i64> {
  static CT_DEV i64 lowest() { return -9223372036854775807LL - 1; }
  static CT_DEV i64 highest() { return 9223372036854775807LL; }
};

/* init<A>() is the identity in the accumulation type (for padding lanes);
 * empty<T, A>() is what a reduction over no element gives, in A: the
 * identity of T itself, so that an int32 max over an empty axis is
 * INT32_MIN (as on the CPU) rather than INT64_MIN wrapped to 0. */
struct OpSum {
  template <class A> static CT_DEV A init() { return (A)0; }
  template <class T, class A> static CT_DEV A empty() { return (A)0; }
  template <class A> static CT_DEV A f(A x, A y) { return x + y; }
};
/* NaN propagates: once an operand is NaN the result is NaN. */
struct OpMax {
  template <class A> static CT_DEV A init() { return Limits<A>::lowest(); }
  template <class T, class A> static CT_DEV A empty() { return (A)Limits<typename Acc<T>::type>::lowest(); }
  template <class A> static CT_DEV A f(A x, A y) { return (x > y || ct_isnan(x)) ? x : y; }
};
struct OpMin {
  template <class A> static CT_DEV A init() { return Limits<A>::highest(); }
  template <class T, class A> static CT_DEV A empty() { return (A)Limits<typename Acc<T>::type>::highest(); }
  template <class A> static CT_DEV A f(A x, A y) { return (x < y || ct_isnan(x)) ? x : y; }
};

/* divisor > 0: mean; 0: no division; < 0: the mean of no element, 0/0
 * (NaN for floats; the host passes it for floats only). */
CT_DEV double mean_of_nothing(double) { return __longlong_as_double(0x7ff8000000000000LL); }
CT_DEV i64 mean_of_nothing(i64) { return 0; }
template <class A> CT_DEV A finish(A v, i64 divisor) {
  if (divisor < 0) return mean_of_nothing(v);
  return divisor ? v / (A)divisor : v;
}

CT_DEV i64 offset_of(const i64 *dims, const i64 *stride, int rank, i64 i) {
  i64 off = 0;
  for (int k = rank - 1; k >= 0; k--) {
    i64 q = i / dims[k];
    off += (i - q * dims[k]) * stride[k];
    i = q;
  }
  return off;
}

template <class A> CT_DEV A shfl_down(A v, int delta) { return __shfl_down_sync(0xffffffffu, v, delta); }

/* Reduces v over the block (blockDim.x a multiple of 32, at most 1024);
 * the result is valid in thread 0. */
template <class Op, class A> CT_DEV A block_reduce(A v) {
  __shared__ A warp_part[32];
  for (int o = 16; o > 0; o >>= 1) v = Op::f(v, shfl_down(v, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < nwarps ? warp_part[lane] : Op::template init<A>();
    for (int o = 16; o > 0; o >>= 1) v = Op::f(v, shfl_down(v, o));
  }
  __syncthreads();
  return v;
}

/* Op over base[r * s] for r in [begin, end), the block's threads
 * interleaved. Eight loads per trip are issued before any is combined, so
 * that each thread keeps several reads in flight (one at a time leaves a
 * long row far from the memory's bandwidth). */
template <class T, class Op>
CT_DEV typename RAcc<T>::type strided_part(const T *base, i64 s, i64 begin, i64 end) {
  typedef typename RAcc<T>::type A;
  A acc = Op::template init<A>();
  i64 step = blockDim.x, r = begin + threadIdx.x;
  for (; r + 7 * step < end; r += 8 * step) {
    T v[8];
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = base[(r + k * step) * s];
#pragma unroll
    for (int k = 0; k < 8; k++) acc = Op::f(acc, load_racc(v[k]));
  }
  for (; r < end; r += step) acc = Op::f(acc, load_racc(base[r * s]));
  return acc;
}

template <class T, class Op>
CT_DEV void reduce_kernel(void *dst, const T *in, const Reduce &d, i64 n_out, i64 R, i64 chunk, i64 divisor) {
  typedef typename RAcc<T>::type A;
  if (chunk == 0) {
    CT_GRID_STRIDE(o, n_out) {
      const T *base = in + offset_of(d.out_dims, d.out_stride, d.out_rank, o);
      A acc = Op::template empty<T, A>();
      if (d.red_rank == 1) {
        i64 s = d.red_stride[0];
        for (i64 r = 0; r < R; r++) acc = Op::f(acc, load_racc(base[r * s]));
      } else {
        for (i64 r = 0; r < R; r++)
          acc = Op::f(acc, load_racc(base[offset_of(d.red_dims, d.red_stride, d.red_rank, r)]));
      }
      ((T *)dst)[o] = conv<T>(finish(acc, divisor));
    }
    return;
  }
  if (chunk < 0) {
    /* R > 0 here, so the identity padding idle lanes never reaches dst */
    for (i64 o = blockIdx.x; o < n_out; o += gridDim.x) {
      const T *base = in + offset_of(d.out_dims, d.out_stride, d.out_rank, o);
      A acc = block_reduce<Op>(strided_part<T, Op>(base, d.red_stride[0], 0, R));
      if (threadIdx.x == 0) ((T *)dst)[o] = conv<T>(finish(acc, divisor));
    }
    return;
  }
  i64 o = blockIdx.x;
  const T *base = in + offset_of(d.out_dims, d.out_stride, d.out_rank, o);
  i64 begin = (i64)blockIdx.y * chunk, end = begin + chunk < R ? begin + chunk : R;
  A acc = Op::template init<A>();
  if (d.red_rank == 1) {
    acc = strided_part<T, Op>(base, d.red_stride[0], begin, end);
  } else {
    for (i64 r = begin + threadIdx.x; r < end; r += blockDim.x)
      acc = Op::f(acc, load_racc(base[offset_of(d.red_dims, d.red_stride, d.red_rank, r)]));
  }
  acc = block_reduce<Op>(acc);
  if (threadIdx.x == 0) ((A *)dst)[o * gridDim.y + blockIdx.y] = acc;
}

template <class T, class Op>
CT_DEV void reduce_finish(T *out, const typename RAcc<T>::type *part, i64 n_out, i64 parts, i64 divisor) {
  typedef typename RAcc<T>::type A;
  CT_GRID_STRIDE(o, n_out) {
    A acc = Op::template init<A>();
    for (i64 p = 0; p < parts; p++) acc = Op::f(acc, part[o * parts + p]);
    out[o] = conv<T>(finish(acc, divisor));
  }
}

#define CT_REDUCE(name, Op, T, sfx)                                                                  \
  extern "C" __global__ void ct_##name##_##sfx(void *dst, const T *in, Reduce d, i64 n_out, i64 R,  \
                                               i64 chunk, i64 divisor) {                             \
    reduce_kernel<T, Op>(dst, in, d, n_out, R, chunk, divisor);                                      \
  }                                                                                                  \
  extern "C" __global__ void ct_##name##fin_##sfx(T *out, const RAcc<T>::type *part, i64 n_out,      \
                                                  i64 parts, i64 divisor) {                          \
    reduce_finish<T, Op>(out, part, n_out, parts, divisor);                                          \
  }

/* An argmax candidate: value and index; k < 0 stands for no element (a
 * thread past the end of a short row). */
template <class A> struct ArgBest {
  A v;
  i64 k;
};

template <class A> CT_DEV ArgBest<A> shfl_down_any(ArgBest<A> b, int o) {
  ArgBest<A> r;
  r.v = __shfl_down_sync(0xffffffffu, b.v, o);
  r.k = __shfl_down_sync(0xffffffffu, b.k, o);
  return r;
}

/* NaN above every number (the first NaN wins, as on the CPU), then the
 * larger value, then the smaller index. A total order: the block may
 * combine its threads' candidates in any order and still find what the
 * serial walk finds, the first maximum. */
struct ArgBetter {
  template <class A> static CT_DEV ArgBest<A> f(ArgBest<A> a, ArgBest<A> b) {
    if (b.k < 0) return a;
    if (a.k < 0) return b;
    bool an = ct_isnan(a.v), bn = ct_isnan(b.v);
    if (an != bn) return an ? a : b;
    if (!an && a.v != b.v) return a.v > b.v ? a : b;
    return a.k < b.k ? a : b;
  }
};

/* Each thread walks its share of the row in rising index order, so a
 * strictly greater value keeps its first maximum; once it holds a NaN
 * nothing later can win and it stops reading. */
template <class A> CT_DEV void arg_take(ArgBest<A> &b, A v, i64 k) {
  if (!ct_isnan(b.v) && (b.k < 0 || v > b.v || ct_isnan(v))) {
    b.v = v;
    b.k = k;
  }
}

template <class T> struct Argmax {
  typedef typename Acc<T>::type A;
  void *out;
  const T *in;
  i64 len;
  int out_is_64;
  CT_DEV void row(i64 base, i64 step, i64 o, i64 k0, i64 dk, bool block) {
    const T *p = in + base;
    ArgBest<A> b;
    b.v = (A)0;
    b.k = -1;
    i64 k = k0;
    /* eight loads in flight per trip, as strided_part */
    for (; k + 7 * dk < len && !ct_isnan(b.v); k += 8 * dk) {
      T v[8];
#pragma unroll
      for (int j = 0; j < 8; j++) v[j] = p[(k + j * dk) * step];
#pragma unroll
      for (int j = 0; j < 8; j++) arg_take(b, (A)to_acc(v[j]), k + j * dk);
    }
    for (; k < len && !ct_isnan(b.v); k += dk) arg_take(b, (A)to_acc(p[k * step]), k);
    if (block) b = block_all<ArgBetter>(b);
    if (k0 != 0) return;
    i64 best = b.k < 0 ? 0 : b.k;
    if (out_is_64)
      ((i64 *)out)[o] = best;
    else
      ((int *)out)[o] = (int)best;
  }
};

#define CT_ARGMAX(T, sfx)                                                                         \
  extern "C" __global__ void ct_argmax_##sfx(void *out, const T *in, i64 outer, i64 len, i64 inner, \
                                             int out_is_64, int block_per_row) {                   \
    Argmax<T> job = {out, in, len, out_is_64};                                                     \
    each_row(job, outer, len, inner, block_per_row);                                               \
  }

#define CT_SOFTMAX(T, sfx)                                                                         \
  extern "C" __global__ void ct_softmax_##sfx(T *out, const T *in, i64 outer, i64 len, i64 inner,  \
                                              int block_per_row) {                                 \
    softmax_rows<T, false>(out, in, outer, len, inner, block_per_row);                             \
  }
