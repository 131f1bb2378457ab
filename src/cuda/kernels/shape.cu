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
 * Instantiation lines: CT_GATHER(u32)   CT_COPY2D(u16)
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
