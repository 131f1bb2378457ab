/*
 * Cast between every pair of dtypes, contiguous.
 *
 * Kernel ct_cast_<from>_<to>(TO *out, const TI *x, i64 n). The value goes
 * through the source's arithmetic type (float for 16-bit floats, 0/1 for
 * bool) and is converted with the CPU's rules: floats to integers truncate,
 * saturate and map NaN to 0; anything to bool is "non-zero"; integers and
 * doubles reach 16-bit floats through float.
 *
 * Instantiation line: CT_CAST(float, f32, f16, f16)
 */
#include "common.cuh"

template <class TO, class TI> CT_DEV void cast_kernel(TO *out, const TI *x, i64 n) {
  CT_GRID_STRIDE(i, n) out[i] = conv<TO>(to_acc(x[i]));
}

#define CT_CAST(TI, si, TO, so) \
  extern "C" __global__ void ct_cast_##si##_##so(TO *out, const TI *x, i64 n) { cast_kernel<TO, TI>(out, x, n); }
