/*
 * random_uniform, random_normal and truncated_normal: the CPU's algorithm
 * (src/cpu/kernels_random.c) on the GPU, with the Philox code shared
 * through philox.h, so that the bits agree. Must be compiled with
 * --fmad=false (float32 paths are then bit-identical to the CPU; float64
 * normals use the device's log/sin/cos and agree to about an ulp).
 *
 * Element i of a float32/float16/bfloat16 output is word i % 4 of Philox
 * block i / 4; float64 uses two words per value, two values per block.
 *
 * ct_<dist>_<dt>(T *out, i64 n, u64 seed, u64 offset, double a, double b)
 *   dist: uniform (a = minval, b = maxval), normal and truncated
 *   (a = mean, b = stddev). One thread per Philox block.
 *
 * Instantiation line: CT_RANDOM(normal, DIST_NORMAL, float, f32)
 */
#include "common.cuh"
#include "philox.h"

enum { DIST_UNIFORM, DIST_NORMAL, DIST_TRUNCATED };

/* The four standard float32 values of block `blk` (element order). */
template <int D> CT_DEV void raw_f32(u64 seed, u64 offset, u64 blk, float out[4]) {
  ct_philox_block x = ct_philox_at(seed, offset, blk, 0);
  if (D == DIST_UNIFORM) {
    for (int k = 0; k < 4; k++) out[k] = ct_philox_uniform_f32(x.v[k]);
    return;
  }
  ct_philox_box_muller_f32(x.v[0], x.v[1], &out[0], &out[1]);
  ct_philox_box_muller_f32(x.v[2], x.v[3], &out[2], &out[3]);
  for (int lane = 0; D == DIST_TRUNCATED && lane < 4; lane++) {
    if (fabsf(out[lane]) < 2.0f) continue;
    for (ct_philox_u32 attempt = 1;; attempt++) {
      ct_philox_block y = ct_philox_at(seed, offset, blk, attempt);
      float z0, z1;
      ct_philox_box_muller_f32(y.v[lane & 2], y.v[(lane & 2) + 1], &z0, &z1);
      float z = (lane & 1) ? z1 : z0;
      if (fabsf(z) < 2.0f) {
        out[lane] = z;
        break;
      }
    }
  }
}

template <int D> CT_DEV void raw_f64(u64 seed, u64 offset, u64 blk, double out[2]) {
  ct_philox_block x = ct_philox_at(seed, offset, blk, 0);
  if (D == DIST_UNIFORM) {
    out[0] = ct_philox_uniform_f64(x.v[0], x.v[1]);
    out[1] = ct_philox_uniform_f64(x.v[2], x.v[3]);
    return;
  }
  ct_philox_box_muller_f64(x, &out[0], &out[1]);
  for (int k = 0; D == DIST_TRUNCATED && k < 2; k++) {
    if (fabs(out[k]) < 2.0) continue;
    for (ct_philox_u32 attempt = 1;; attempt++) {
      double z0, z1;
      ct_philox_box_muller_f64(ct_philox_at(seed, offset, blk, attempt), &z0, &z1);
      double z = k ? z1 : z0;
      if (fabs(z) < 2.0) {
        out[k] = z;
        break;
      }
    }
  }
}

/* The affine map in float32, as the CPU's store_f32: uniform values are
 * kept strictly below maxval. */
template <int D> CT_DEV float affine_f32(float raw, float a, float b) {
  if (D != DIST_UNIFORM) return a + b * raw;
  float r = a + (b - a) * raw;
  if (b > a && !(r < b)) r = nextafterf(b, -__int_as_float(0x7f800000));
  return r;
}

/* One step towards minus infinity of a sign-magnitude 16-bit float. */
CT_DEV u16 step_down16(u16 h) {
  if ((h & 0x7fffu) == 0) return 0x8001u;
  return (h & 0x8000u) ? (u16)(h + 1) : (u16)(h - 1);
}

template <int D> CT_DEV void store(float *out, i64 i, float v, double) { out[i] = v; }
template <int D> CT_DEV void store(f16 *out, i64 i, float v, double maxval) {
  u16 h = float_to_half_bits(v);
  if (D == DIST_UNIFORM && (double)half_bits_to_float(h) >= maxval) h = step_down16(h);
  out[i].x = h;
}
template <int D> CT_DEV void store(bf16 *out, i64 i, float v, double maxval) {
  u16 h = float_to_bf16_bits(v);
  if (D == DIST_UNIFORM && (double)bf16_bits_to_float(h) >= maxval) h = step_down16(h);
  out[i].x = h;
}

template <int D, class T> CT_DEV void random_f32(T *out, i64 n, u64 seed, u64 offset, double a, double b) {
  float fa = (float)a, fb = (float)b;
  /* the 16-bit stores only step down when the uniform range is not empty */
  double maxval = (D == DIST_UNIFORM && b > a) ? b : __longlong_as_double(0x7ff0000000000000LL);
  i64 nb = (n + 3) / 4;
  CT_GRID_STRIDE(blk, nb) {
    float raw[4];
    raw_f32<D>(seed, offset, (u64)blk, raw);
    for (int k = 0; k < 4; k++) {
      i64 i = blk * 4 + k;
      if (i < n) store<D>(out, i, affine_f32<D>(raw[k], fa, fb), maxval);
    }
  }
}

template <int D> CT_DEV void random_f64(double *out, i64 n, u64 seed, u64 offset, double a, double b) {
  i64 nb = (n + 1) / 2;
  double width = b - a, below = nextafter(b, -__longlong_as_double(0x7ff0000000000000LL));
  CT_GRID_STRIDE(blk, nb) {
    double raw[2];
    raw_f64<D>(seed, offset, (u64)blk, raw);
    for (int k = 0; k < 2; k++) {
      i64 i = blk * 2 + k;
      if (i >= n) break;
      double r;
      if (D != DIST_UNIFORM) {
        r = a + b * raw[k];
      } else {
        r = a + width * raw[k];
        if (b > a && !(r < b)) r = below;
      }
      out[i] = r;
    }
  }
}

template <int D> CT_DEV void random_any(float *o, i64 n, u64 s, u64 f, double a, double b) { random_f32<D>(o, n, s, f, a, b); }
template <int D> CT_DEV void random_any(f16 *o, i64 n, u64 s, u64 f, double a, double b) { random_f32<D>(o, n, s, f, a, b); }
template <int D> CT_DEV void random_any(bf16 *o, i64 n, u64 s, u64 f, double a, double b) { random_f32<D>(o, n, s, f, a, b); }
template <int D> CT_DEV void random_any(double *o, i64 n, u64 s, u64 f, double a, double b) { random_f64<D>(o, n, s, f, a, b); }

#define CT_RANDOM(name, D, T, sfx)                                                                   \
  extern "C" __global__ void ct_##name##_##sfx(T *out, i64 n, u64 seed, u64 offset, double a, double b) { \
    random_any<D>(out, n, seed, offset, a, b);                                                        \
  }
