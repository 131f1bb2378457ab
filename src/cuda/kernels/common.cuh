/*
 * Shared by every ctensor kernel module. Compiled by NVRTC only, with no
 * toolkit header: the types and helpers below are all a module needs.
 *
 * dtype suffixes in kernel names: f32 f64 f16 bf16 i32 i64 b8. Kernel
 * arguments are documented beside each kernel; the host side
 * (src/cuda/kernels_register.c) mirrors every struct declared here, so a
 * change on one side needs the same change on the other.
 */
#ifndef CT_KERNELS_COMMON_CUH
#define CT_KERNELS_COMMON_CUH

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#define CT_MAX_RANK 8
#define CT_DEV __device__ __forceinline__

/* 16-bit floats are plain bit patterns; arithmetic happens in float. */
struct f16 { u16 x; };
struct bf16 { u16 x; };

CT_DEV float bits_to_float(u32 u) { return __int_as_float((int)u); }
CT_DEV u32 float_to_bits(float f) { return (u32)__float_as_int(f); }

/* Round to nearest even, the same rule as ct_float_to_half on the CPU. */
CT_DEV u16 float_to_half_bits(float f) {
  u32 u = float_to_bits(f);
  u32 sign = (u >> 16) & 0x8000u, exp = (u >> 23) & 0xffu, man = u & 0x7fffffu;
  if (exp == 0xffu) return (u16)(sign | 0x7c00u | (man ? 0x200u : 0u));
  int e = (int)exp - 127 + 15;
  if (e >= 31) return (u16)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (u16)sign;
    man |= 0x800000u;
    int shift = 14 - e;
    u32 hm = man >> shift, rem = man & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (hm & 1u))) hm++;
    return (u16)(sign | hm);
  }
  u32 h = sign | ((u32)e << 10) | (man >> 13), rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  return (u16)h;
}

CT_DEV float half_bits_to_float(u16 h) {
  u32 sign = (u32)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return bits_to_float(sign);
    float v = (float)man * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_float(sign | 0x7f800000u | (man << 13));
  return bits_to_float(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

CT_DEV u16 float_to_bf16_bits(float f) {
  u32 u = float_to_bits(f);
  if (f != f) return (u16)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (u16)(u >> 16);
}
CT_DEV float bf16_bits_to_float(u16 b) { return bits_to_float((u32)b << 16); }

/* Acc<T>::type is the type arithmetic on T happens in. */
template <class T> struct Acc { typedef T type; };
template <> struct Acc<f16> { typedef float type; };
template <> struct Acc<bf16> { typedef float type; };
template <> struct Acc<u8> { typedef int type; }; /* bool */

CT_DEV float to_acc(f16 v) { return half_bits_to_float(v.x); }
CT_DEV float to_acc(bf16 v) { return bf16_bits_to_float(v.x); }
CT_DEV float to_acc(float v) { return v; }
CT_DEV double to_acc(double v) { return v; }
CT_DEV int to_acc(int v) { return v; }
CT_DEV i64 to_acc(i64 v) { return v; }
CT_DEV int to_acc(u8 v) { return v != 0; }

/* Conversion of any arithmetic value to a storage type, C semantics except
 * bool (non-zero is true) and the 16-bit floats (through float, as the CPU
 * does). */
template <class T> struct Conv;
template <> struct Conv<float> {
  template <class S> static CT_DEV float from(S v) { return (float)v; }
};
template <> struct Conv<double> {
  template <class S> static CT_DEV double from(S v) { return (double)v; }
};
/* Float to integer: truncate toward zero, saturate, NaN gives 0 (the CPU's
 * rule; a plain conversion of an out-of-range value is undefined). */
CT_DEV int f64_to_i32(double x) {
  if (x != x) return 0;
  if (x >= 2147483647.0) return 2147483647;
  if (x <= -2147483648.0) return -2147483647 - 1;
  return (int)x;
}
CT_DEV i64 f64_to_i64(double x) {
  if (x != x) return 0;
  if (x >= 9223372036854775807.0) return 9223372036854775807LL;
  if (x <= -9223372036854775808.0) return -9223372036854775807LL - 1;
  return (i64)x;
}
template <> struct Conv<int> {
  template <class S> static CT_DEV int from(S v) { return (int)v; }
  static CT_DEV int from(float v) { return f64_to_i32(v); }
  static CT_DEV int from(double v) { return f64_to_i32(v); }
};
template <> struct Conv<i64> {
  template <class S> static CT_DEV i64 from(S v) { return (i64)v; }
  static CT_DEV i64 from(float v) { return f64_to_i64(v); }
  static CT_DEV i64 from(double v) { return f64_to_i64(v); }
};
template <> struct Conv<u8> {
  template <class S> static CT_DEV u8 from(S v) { return v != (S)0 ? 1 : 0; }
};
template <> struct Conv<f16> {
  template <class S> static CT_DEV f16 from(S v) { f16 r; r.x = float_to_half_bits((float)v); return r; }
};
template <> struct Conv<bf16> {
  template <class S> static CT_DEV bf16 from(S v) { bf16 r; r.x = float_to_bf16_bits((float)v); return r; }
};
template <class T, class S> CT_DEV T conv(S v) { return Conv<T>::from(v); }

/* Float helpers overloaded for float and double. */
CT_DEV float ct_exp(float x) { return expf(x); }
CT_DEV double ct_exp(double x) { return exp(x); }
CT_DEV float ct_log(float x) { return logf(x); }
CT_DEV double ct_log(double x) { return log(x); }
CT_DEV float ct_sqrt(float x) { return sqrtf(x); }
CT_DEV double ct_sqrt(double x) { return sqrt(x); }
CT_DEV float ct_tanh(float x) { return tanhf(x); }
CT_DEV double ct_tanh(double x) { return tanh(x); }
CT_DEV float ct_pow(float x, float y) { return powf(x, y); }
CT_DEV double ct_pow(double x, double y) { return pow(x, y); }
template <class T> CT_DEV bool ct_isnan(T x) { return x != x; }

/* Shape descriptor for strided access: element strides (not bytes). */
struct Strided {
  int rank;
  int pad_;
  i64 dims[CT_MAX_RANK];
  i64 stride[CT_MAX_RANK];
};

/* Offset of the element with row-major linear index i over `dims`. */
CT_DEV i64 strided_offset(const Strided &d, i64 i) {
  i64 off = 0;
  for (int k = d.rank - 1; k >= 0; k--) {
    i64 q = i / d.dims[k];
    off += (i - q * d.dims[k]) * d.stride[k];
    i = q;
  }
  return off;
}

#define CT_GRID_STRIDE(i, n) \
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

#endif
