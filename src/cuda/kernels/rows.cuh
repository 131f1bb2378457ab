/*
 * Row walks shared by reduce.cu (softmax, argmax) and nn.cu (log_softmax,
 * the cross-entropies): one copy of the row machinery, so that the two
 * modules cannot drift apart (softmax and log_softmax were once two
 * copies of the same algorithm, with different block reductions).
 *
 * A row is the input seen as [outer, len, inner], walked along len.
 * block_per_row (only with inner == 1): one block per row (blockDim.x a
 * multiple of 32, at most 1024), else one thread per (outer, inner)
 * column. The host picks it (CT_CUDA_ROW_PER_BLOCK in
 * src/cuda/cuda_kernels.h).
 */
#ifndef CT_KERNELS_ROWS_CUH
#define CT_KERNELS_ROWS_CUH

#include "common.cuh"

CT_DEV float neg_inf(float) { return -__int_as_float(0x7f800000); }
CT_DEV double neg_inf(double) { return -__longlong_as_double(0x7ff0000000000000LL); }

/* A NaN anywhere makes the row's max NaN, so the whole row comes out NaN. */
struct RowMax { template <class A> static CT_DEV A f(A x, A y) { return (x > y || ct_isnan(x)) ? x : y; } };
struct RowSum { template <class A> static CT_DEV A f(A x, A y) { return x + y; } };

/* A value block_all combines crosses lanes by this; a module overloads it
 * for a struct (a shuffle moves at most 8 bytes). */
template <class A> CT_DEV A shfl_down_any(A v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }

/* v combined over the block; every thread receives the result. Warp
 * partials are combined by thread 0 in warp order, so the result does not
 * depend on timing. */
template <class Op, class A> CT_DEV A block_all(A v) {
  __shared__ A part[33];
  for (int o = 16; o > 0; o >>= 1) v = Op::f(v, shfl_down_any(v, o));
  __syncthreads(); /* the previous call's readers are done with part[32] */
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    A r = part[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) r = Op::f(r, part[w]);
    part[32] = r;
  }
  __syncthreads();
  return part[32];
}

/* The max and sum(exp(x - max)) of the row p[0], p[step], ... p[(len-1)*step],
 * by the calling thread alone, or by the whole block (k0 = threadIdx.x,
 * dk = blockDim.x). */
template <class T, class A> struct RowStats {
  A m, s;
  CT_DEV RowStats(const T *p, i64 len, i64 step, i64 k0, i64 dk, bool block) {
    m = neg_inf((A)0);
    for (i64 k = k0; k < len; k += dk) m = RowMax::f(m, (A)to_acc(p[k * step]));
    if (block) m = block_all<RowMax>(m);
    s = 0;
    for (i64 k = k0; k < len; k += dk) s += ct_exp((A)to_acc(p[k * step]) - m);
    if (block) s = block_all<RowSum>(s);
  }
};

/* Runs job.row(base, step, out_index, k0, dk, block) for every row of the
 * input seen as [outer, len, inner], by the strategy block_per_row picks;
 * out_index is the row's position in an output of one value per row. */
template <class Job> CT_DEV void each_row(Job &job, i64 outer, i64 len, i64 inner, int block_per_row) {
  if (block_per_row) {
    for (i64 row = blockIdx.x; row < outer; row += gridDim.x) job.row(row * len, 1, row, threadIdx.x, blockDim.x, true);
    return;
  }
  CT_GRID_STRIDE(o, outer * inner) {
    i64 a = o / inner, b = o - a * inner;
    job.row(a * len * inner + b, inner, o, 0, 1, false);
  }
}

/* softmax (Log false): exp(x - max) / sum; log_softmax (Log true):
 * x - max - log(sum), which never takes the log of a probability rounded
 * to 0. One walk for both, as on the CPU (src/cpu/kernels_reduce.c). */
template <class T, bool Log> struct Softmax {
  typedef typename Acc<T>::type A;
  T *out;
  const T *in;
  i64 len;
  CT_DEV void row(i64 base, i64 step, i64, i64 k0, i64 dk, bool block) {
    const T *p = in + base;
    RowStats<T, A> st(p, len, step, k0, dk, block);
    A ls = Log ? ct_log(st.s) : (A)0;
    for (i64 k = k0; k < len; k += dk) {
      A x = (A)to_acc(p[k * step]) - st.m;
      out[base + k * step] = conv<T>(Log ? x - ls : ct_exp(x) / st.s);
    }
  }
};

/* The body of ct_softmax_<dt> (reduce.cu) and ct_log_softmax_<dt> (nn.cu). */
template <class T, bool Log>
CT_DEV void softmax_rows(T *out, const T *in, i64 outer, i64 len, i64 inner, int block_per_row) {
  Softmax<T, Log> job = {out, in, len};
  each_row(job, outer, len, inner, block_per_row);
}

#endif
