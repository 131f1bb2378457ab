/*
 * fill and range.
 *
 * ct_fill_u<bits>(U *out, i64 n, U value): writes a bit pattern the host
 *   converted from the fill value with the CPU's rules, so one kernel per
 *   element size serves every dtype.
 * ct_range_<dt>(T *out, i64 n, double start, double delta):
 *   out[i] = start + i * delta, computed in double (int64 in int64) and
 *   converted like cast.
 *
 * Instantiation lines: CT_FILL(u32)   CT_RANGE(float, f32)   CT_RANGE_INT(i64, i64)
 */
#include "common.cuh"

#define CT_FILL(U) \
  extern "C" __global__ void ct_fill_##U(U *out, i64 n, U value) { CT_GRID_STRIDE(i, n) out[i] = value; }

#define CT_RANGE(T, sfx)                                                                   \
  extern "C" __global__ void ct_range_##sfx(T *out, i64 n, double start, double delta) {    \
    CT_GRID_STRIDE(i, n) out[i] = conv<T>(start + (double)i * delta);                        \
  }
/* Integer ranges step in integers so that large int64 values stay exact. */
#define CT_RANGE_INT(T, sfx)                                                                \
  extern "C" __global__ void ct_range_##sfx(T *out, i64 n, i64 start, i64 delta) {          \
    CT_GRID_STRIDE(i, n) out[i] = (T)((u64)start + (u64)i * (u64)delta);                      \
  }
