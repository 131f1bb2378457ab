/*
 * Ops for gradients and training. T is a float dtype (16-bit floats
 * compute in float, float64 in double); U an element of 1, 2, 4 or 8 bytes
 * (one kernel serves every dtype of that size); I an index type (int, i64).
 *
 * Rows: the input is seen as [outer, len, inner], softmax along len;
 * block_per_row and the row walk are rows.cuh's, shared with reduce.cu.
 *
 * ct_log_softmax_<dt>(T *out, const T *in, i64 outer, i64 len, i64 inner,
 *                     int block_per_row): x - max - log(sum(exp(x - max))),
 *   the same body as reduce.cu's ct_softmax_<dt> (rows.cuh, softmax_rows).
 * ct_sxent_<dt>_<it>(T *loss, T *backprop, const T *logits, const I *labels,
 *                    i64 batch, i64 classes, int block_per_row): sparse
 *   softmax cross-entropy of rows [batch, classes]; loss[r] = log(sum) -
 *   (x[label] - max); backprop (NULL: not written) = softmax - one_hot.
 *   The host has checked every label against [0, classes); a label outside
 *   it would give a NaN loss, never an out-of-bounds read.
 * ct_dxent_<dt>(T *loss, T *backprop, const T *logits, const T *labels,
 *               i64 batch, i64 classes, int block_per_row): the same with
 *   a distribution per row; loss = sum(labels * (log(sum) - (x - max))),
 *   backprop = softmax - labels.
 * ct_one_hot_<U>_<it>(U *out, const I *idx, i64 outer, i64 depth, i64 inner,
 *                     U on, U off): out [outer, depth, inner] is on where
 *   idx[outer, inner] equals the depth position, off elsewhere (an index
 *   outside [0, depth) matches nothing).
 * ct_select_<U>(U *out, const u8 *cond, const U *x, const U *y, i64 n,
 *               Select d): out[i] = cond ? x : y. d.rank == 0: all three
 *   have n contiguous elements; else out is contiguous with dims d.dims and
 *   each input is read at the dot product of the position with its strides
 *   (0 on broadcast axes), like binary.cu's Bcast with a third operand.
 * ct_segsum_<dt>_<it>(Sum *out, const T *data, const I *ids, i64 n_ids,
 *                     i64 inner, i64 num_segments): out[ids[i], k] +=
 *   data[i, k] with atomics, over a zeroed out; negative ids are dropped.
 *   Sum is T, except float for the 16-bit floats: they accumulate in a
 *   float32 buffer the host then casts once (no 16-bit rounding per add).
 * ct_find_bad_<it>(u64 *first, const I *v, i64 n, i64 lo, i64 hi): the
 *   smallest i with v[i] outside [lo, hi) into *first (atomicMin over a
 *   host-initialised ~0): the label and id checks before a launch.
 *
 * Instantiation lines: CT_LOG_SOFTMAX(float, f32)   CT_SXENT(float, f32, int, i32)
 *   CT_DXENT(float, f32)   CT_ONE_HOT(u32, int, i32)   CT_SELECT(u32)
 *   CT_SEGSUM(f16, f16, i64, i64)   CT_FIND_BAD(int, i32)
 */
#include "rows.cuh"

CT_DEV float quiet_nan(float) { return __int_as_float(0x7fc00000); }
CT_DEV double quiet_nan(double) { return __longlong_as_double(0x7ff8000000000000LL); }

#define CT_LOG_SOFTMAX(T, sfx)                                                                        \
  extern "C" __global__ void ct_log_softmax_##sfx(T *out, const T *in, i64 outer, i64 len, i64 inner, \
                                                  int block_per_row) {                                \
    softmax_rows<T, true>(out, in, outer, len, inner, block_per_row);                                 \
  }

template <class T, class I> struct SparseXent {
  typedef typename Acc<T>::type A;
  T *loss, *backprop;
  const T *logits;
  const I *labels;
  i64 classes;
  CT_DEV void row(i64 base, i64, i64 r, i64 k0, i64 dk, bool block) {
    const T *p = logits + base;
    RowStats<T, A> st(p, classes, 1, k0, dk, block);
    i64 label = (i64)labels[r];
    bool ok = label >= 0 && label < classes;
    if (k0 == 0) loss[r] = conv<T>(ok ? ct_log(st.s) - ((A)to_acc(p[label]) - st.m) : quiet_nan((A)0));
    if (backprop == 0) return;
    for (i64 k = k0; k < classes; k += dk) {
      A sm = ct_exp((A)to_acc(p[k]) - st.m) / st.s;
      backprop[base + k] = conv<T>(ok ? sm - (k == label ? (A)1 : (A)0) : quiet_nan((A)0));
    }
  }
};

#define CT_SXENT(T, sfx, I, isfx)                                                                            \
  extern "C" __global__ void ct_sxent_##sfx##_##isfx(T *loss, T *backprop, const T *logits, const I *labels, \
                                                    i64 batch, i64 classes, int block_per_row) {             \
    SparseXent<T, I> job = {loss, backprop, logits, labels, classes};                                        \
    each_row(job, batch, classes, 1, block_per_row);                                                         \
  }

template <class T> struct DenseXent {
  typedef typename Acc<T>::type A;
  T *loss, *backprop;
  const T *logits, *labels;
  i64 classes;
  CT_DEV void row(i64 base, i64, i64 r, i64 k0, i64 dk, bool block) {
    const T *p = logits + base, *q = labels + base;
    RowStats<T, A> st(p, classes, 1, k0, dk, block);
    A ls = ct_log(st.s), acc = 0;
    for (i64 k = k0; k < classes; k += dk) {
      A x = (A)to_acc(p[k]) - st.m, y = (A)to_acc(q[k]);
      acc += y * (ls - x);
      if (backprop) backprop[base + k] = conv<T>(ct_exp(x) / st.s - y);
    }
    if (block) acc = block_all<RowSum>(acc);
    if (k0 == 0) loss[r] = conv<T>(acc);
  }
};

#define CT_DXENT(T, sfx)                                                                            \
  extern "C" __global__ void ct_dxent_##sfx(T *loss, T *backprop, const T *logits, const T *labels, \
                                            i64 batch, i64 classes, int block_per_row) {            \
    DenseXent<T> job = {loss, backprop, logits, labels, classes};                                   \
    each_row(job, batch, classes, 1, block_per_row);                                                \
  }

#define CT_ONE_HOT(U, I, isfx)                                                                   \
  extern "C" __global__ void ct_one_hot_##U##_##isfx(U *out, const I *idx, i64 outer, i64 depth, \
                                                    i64 inner, U on, U off) {                    \
    CT_GRID_STRIDE(i, outer * depth * inner) {                                                   \
      i64 r = i / inner, k = i - r * inner, o = r / depth, d = r - o * depth;                    \
      out[i] = (i64)idx[o * inner + k] == d ? on : off;                                          \
    }                                                                                            \
  }

struct Select {
  int rank;
  int pad_;
  i64 dims[CT_MAX_RANK];
  i64 sc[CT_MAX_RANK];
  i64 sx[CT_MAX_RANK];
  i64 sy[CT_MAX_RANK];
};

template <class U> CT_DEV void select_where(U *out, const u8 *c, const U *x, const U *y, i64 n, const Select &d) {
  if (d.rank == 0) {
    CT_GRID_STRIDE(i, n) out[i] = c[i] ? x[i] : y[i];
    return;
  }
  CT_GRID_STRIDE(i, n) {
    i64 rem = i, oc = 0, ox = 0, oy = 0;
    for (int k = d.rank - 1; k >= 0; k--) {
      i64 q = rem / d.dims[k], j = rem - q * d.dims[k];
      oc += j * d.sc[k];
      ox += j * d.sx[k];
      oy += j * d.sy[k];
      rem = q;
    }
    out[i] = c[oc] ? x[ox] : y[oy];
  }
}

#define CT_SELECT(U)                                                                                          \
  extern "C" __global__ void ct_select_##U(U *out, const u8 *cond, const U *x, const U *y, i64 n, Select d) { \
    select_where<U>(out, cond, x, y, n, d);                                                                   \
  }

template <class T> struct SegSum { typedef T type; };
template <> struct SegSum<f16> { typedef float type; };
template <> struct SegSum<bf16> { typedef float type; };

CT_DEV void atomic_add(float *p, f16 v) { atomicAdd(p, half_bits_to_float(v.x)); }
CT_DEV void atomic_add(float *p, bf16 v) { atomicAdd(p, bf16_bits_to_float(v.x)); }
CT_DEV void atomic_add(float *p, float v) { atomicAdd(p, v); }
CT_DEV void atomic_add(double *p, double v) { atomicAdd(p, v); }
CT_DEV void atomic_add(int *p, int v) { atomicAdd(p, v); }
/* two's complement: an unsigned add is a signed one that wraps */
CT_DEV void atomic_add(i64 *p, i64 v) { atomicAdd((unsigned long long *)p, (unsigned long long)v); }

#define CT_SEGSUM(T, sfx, I, isfx)                                                                       \
  extern "C" __global__ void ct_segsum_##sfx##_##isfx(SegSum<T>::type *out, const T *data, const I *ids, \
                                                     i64 n_ids, i64 inner, i64 num_segments) {           \
    CT_GRID_STRIDE(i, n_ids * inner) {                                                                   \
      i64 r = i / inner, k = i - r * inner, s = (i64)ids[r];                                             \
      if (s >= 0 && s < num_segments) atomic_add(out + s * inner + k, data[i]);                          \
    }                                                                                                    \
  }

#define CT_FIND_BAD(I, isfx)                                                                     \
  extern "C" __global__ void ct_find_bad_##isfx(u64 *first, const I *v, i64 n, i64 lo, i64 hi) { \
    CT_GRID_STRIDE(i, n) {                                                                       \
      i64 x = (i64)v[i];                                                                         \
      if (x < lo || x >= hi) atomicMin((unsigned long long *)first, (unsigned long long)i);      \
    }                                                                                            \
  }
