/*
 * Data movement by element size (u8, u16, u32, u64), so one kernel serves
 * every dtype of that size.
 *
 * ct_gather_<U>(U *out, const U *in, i64 n, Strided d): out is contiguous
 *   with dims d.dims; out[i] = in[offset of i under d.stride]. transpose
 *   (strides permuted) and slice (in advanced to the first element, the
 *   source's strides) are both this.
 * ct_copy2d_<U>(U *dst, i64 dst_pitch, const U *src, i64 src_pitch,
 *   i64 rows, i64 width): dst[r*dst_pitch + j] = src[r*src_pitch + j];
 *   concat copies each input into its column band with it.
 *
 * ct_take_<U>_<I>(U *out, const U *in, const I *idx, i64 outer, i64 n_idx,
 *   i64 dim, i64 inner): tf.gather along an axis, the input seen as
 *   [outer, dim, inner] and the output as [outer, n_idx, inner];
 *   out[o][j][k] = in[o][idx[j]][k]. The host has checked every index
 *   against [0, dim).
 *
 * Instantiation lines: CT_GATHER(u32)   CT_COPY2D(u16)   CT_TAKE(u32, i64, i64)
 */
#include "common.cuh"

#define CT_GATHER(U)                                                                   \
  extern "C" __global__ void ct_gather_##U(U *out, const U *in, i64 n, Strided d) {    \
    CT_GRID_STRIDE(i, n) out[i] = in[strided_offset(d, i)];                            \
  }

#define CT_COPY2D(U)                                                                          \
  extern "C" __global__ void ct_copy2d_##U(U *dst, i64 dst_pitch, const U *src, i64 src_pitch, \
                                           i64 rows, i64 width) {                             \
    i64 n = rows * width;                                                                     \
    CT_GRID_STRIDE(i, n) {                                                                    \
      i64 r = i / width, j = i - r * width;                                                   \
      dst[r * dst_pitch + j] = src[r * src_pitch + j];                                        \
    }                                                                                         \
  }

#define CT_TAKE(U, I, isfx)                                                                          \
  extern "C" __global__ void ct_take_##U##_##isfx(U *out, const U *in, const I *idx, i64 outer, i64 n_idx, \
                                                 i64 dim, i64 inner) {                                \
    i64 n = outer * n_idx * inner;                                                                   \
    CT_GRID_STRIDE(i, n) {                                                                           \
      i64 row = i / inner, k = i - row * inner;                                                      \
      i64 o = row / n_idx, j = row - o * n_idx;                                                      \
      out[i] = in[(o * dim + (i64)idx[j]) * inner + k];                                              \
    }                                                                                                \
  }
