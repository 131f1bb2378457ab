/*
 * Helpers shared by the CPU kernel files of the elementwise, cast, creation
 * and reduction families: 16-bit float conversions that inline into loops,
 * float-to-integer conversion without undefined behaviour, and a way to
 * split a range of work over OpenMP threads only when it pays.
 */
#ifndef CT_CPU_KERNELS_COMMON_H
#define CT_CPU_KERNELS_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu_kernels.h"

/* Registered by ct_cpu_register_elementwise (kernels_cast.c). */
void ct_cpu_register_cast(ct_registry *r);

static inline float ct_k_bf16_to_f32(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline uint16_t ct_k_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
  return (uint16_t)(u >> 16);
}

static inline float ct_k_f16_to_f32(uint16_t h) { return ct_half_to_float(h); }
static inline uint16_t ct_k_f32_to_f16(float f) { return ct_float_to_half(f); }

/* Float to integer as ctensor's cast defines it: truncate toward zero,
 * saturate at the type's range, NaN becomes 0. (A plain C conversion of an
 * out-of-range value is undefined behaviour.) */
static inline int32_t ct_k_f64_to_i32(double x) {
  if (x != x) return 0;
  if (x >= 2147483647.0) return INT32_MAX;
  if (x <= -2147483648.0) return INT32_MIN;
  return (int32_t)x;
}

static inline int64_t ct_k_f64_to_i64(double x) {
  if (x != x) return 0;
  if (x >= 9223372036854775807.0) return INT64_MAX; /* the literal is 2^63 */
  if (x <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)x;
}

/* Splits [0, n) into `nt` contiguous chunks, each a multiple of `align`
 * elements except the last, and calls body(ctx, begin, end) for each, in
 * parallel when nt > 1. With nt <= 1 no OpenMP region is entered at all,
 * so tiny ops pay nothing for threading. */
typedef void (*ct_k_range_fn)(void *ctx, int64_t begin, int64_t end);

static inline void ct_k_parallel(int64_t n, int nt, int64_t align, ct_k_range_fn body, void *ctx) {
  if (n <= 0) return;
  if (nt <= 1 || n < 2 * align) {
    body(ctx, 0, n);
    return;
  }
  int64_t per = (n + nt - 1) / nt;
  per = (per + align - 1) / align * align;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; t++) {
    int64_t b = (int64_t)t * per, e = b + per;
    if (e > n) e = n;
    if (b < e) body(ctx, b, e);
  }
}

static inline int ct_k_is_half(ct_dtype d) { return d == CT_FLOAT16 || d == CT_BFLOAT16; }
static inline int ct_k_is_float(ct_dtype d) {
  return d == CT_FLOAT32 || d == CT_FLOAT64 || d == CT_FLOAT16 || d == CT_BFLOAT16;
}

/* Loads element i of a contiguous buffer of dtype d as a double (floats)
 * or int64 (integers, bool). Used by the slower generic paths. */
static inline double ct_k_load_f64(const void *p, ct_dtype d, int64_t i) {
  switch (d) {
  case CT_FLOAT32: return ((const float *)p)[i];
  case CT_FLOAT64: return ((const double *)p)[i];
  case CT_FLOAT16: return ct_k_f16_to_f32(((const uint16_t *)p)[i]);
  case CT_BFLOAT16: return ct_k_bf16_to_f32(((const uint16_t *)p)[i]);
  case CT_INT32: return ((const int32_t *)p)[i];
  case CT_INT64: return (double)((const int64_t *)p)[i];
  case CT_BOOL: return ((const unsigned char *)p)[i];
  }
  return 0;
}

static inline void ct_k_store_f64(void *p, ct_dtype d, int64_t i, double v) {
  switch (d) {
  case CT_FLOAT32: ((float *)p)[i] = (float)v; break;
  case CT_FLOAT64: ((double *)p)[i] = v; break;
  case CT_FLOAT16: ((uint16_t *)p)[i] = ct_k_f32_to_f16((float)v); break;
  case CT_BFLOAT16: ((uint16_t *)p)[i] = ct_k_f32_to_bf16((float)v); break;
  case CT_INT32: ((int32_t *)p)[i] = ct_k_f64_to_i32(v); break;
  case CT_INT64: ((int64_t *)p)[i] = ct_k_f64_to_i64(v); break;
  case CT_BOOL: ((unsigned char *)p)[i] = v != 0; break;
  }
}

#endif
