/*
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC'11) and the conversions ctensor builds on it: uniform float32 and
 * float64, Box–Muller normals. docs/random.md is the specification; this
 * header is its one implementation.
 *
 * The same text compiles as C11 (the CPU kernels) and as CUDA C under NVRTC
 * (the GPU backend embeds this file into its kernel sources), so that both
 * devices produce the same bits. Hence: no libc in the algorithm part,
 * plain `unsigned int` / `unsigned long long`, host-only parts guarded by
 * __CUDACC_RTC__, and float32 transcendental functions written here with
 * nothing but IEEE +, -, *, / and sqrt — each correctly rounded on both
 * devices — instead of libm's logf/sinf/cosf, which differ between glibc
 * and CUDA. Bit identity of the float32 paths needs the GPU to compile with
 * --fmad=false (the CPU build never contracts: -std=c11 implies
 * -ffp-contract=off for GCC, and x86-64's baseline has no FMA).
 */
#ifndef CT_CORE_PHILOX_H
#define CT_CORE_PHILOX_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define CT_PHILOX_FN static __host__ __device__ __forceinline__
#else
#define CT_PHILOX_FN static inline
#endif

#ifndef __CUDACC_RTC__
#include <math.h>
#endif

/* clang fuses a*b+c by default wherever the target has FMA (-march=native);
 * the specification rounds each operation, so forbid it here. GCC never
 * fuses in ISO C mode. */
#if defined(__clang__) && !defined(__CUDACC__)
#pragma STDC FP_CONTRACT OFF
#endif

typedef unsigned int ct_philox_u32;
typedef unsigned long long ct_philox_u64;

#if !defined(__CUDACC_RTC__) && !defined(__cplusplus)
_Static_assert(sizeof(ct_philox_u32) == 4, "Philox needs a 32-bit unsigned int");
_Static_assert(sizeof(ct_philox_u64) == 8, "Philox needs a 64-bit unsigned long long");
#endif

/* Random123's constants: round multipliers and the Weyl key increments. */
#define CT_PHILOX_M0 0xD2511F53u
#define CT_PHILOX_M1 0xCD9E8D57u
#define CT_PHILOX_W0 0x9E3779B9u
#define CT_PHILOX_W1 0xBB67AE85u

/* One block: 4 counter words in, 4 random words out. */
typedef struct ct_philox_block {
  ct_philox_u32 v[4];
} ct_philox_block;

/* Philox4x32 with `rounds` rounds (10 is Philox4x32-10; other counts exist
 * for Random123's known-answer vectors). ctr and key in Random123's word
 * order. */
CT_PHILOX_FN ct_philox_block ct_philox4x32_rounds(ct_philox_block ctr, ct_philox_u32 k0, ct_philox_u32 k1,
                                                  int rounds) {
  ct_philox_u32 c0 = ctr.v[0], c1 = ctr.v[1], c2 = ctr.v[2], c3 = ctr.v[3];
  for (int r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 += CT_PHILOX_W0;
      k1 += CT_PHILOX_W1;
    }
    ct_philox_u64 p0 = (ct_philox_u64)CT_PHILOX_M0 * c0;
    ct_philox_u64 p1 = (ct_philox_u64)CT_PHILOX_M1 * c2;
    ct_philox_u32 n0 = (ct_philox_u32)(p1 >> 32) ^ c1 ^ k0;
    ct_philox_u32 n2 = (ct_philox_u32)(p0 >> 32) ^ c3 ^ k1;
    c1 = (ct_philox_u32)p1;
    c3 = (ct_philox_u32)p0;
    c0 = n0;
    c2 = n2;
  }
  ct_philox_block out;
  out.v[0] = c0;
  out.v[1] = c1;
  out.v[2] = c2;
  out.v[3] = c3;
  return out;
}

CT_PHILOX_FN ct_philox_block ct_philox4x32_10(ct_philox_block ctr, ct_philox_u32 k0, ct_philox_u32 k1) {
  return ct_philox4x32_rounds(ctr, k0, k1, 10);
}

/* ctensor's counter layout (docs/random.md): block `b` of a draw at
 * `offset` uses the 128-bit counter offset + b in words 0..2 (word 2 takes
 * the carry) and `attempt` in word 3 (0 except for truncated-normal
 * re-draws); the key is the seed's low and high 32-bit halves. */
CT_PHILOX_FN ct_philox_block ct_philox_counter(ct_philox_u64 offset, ct_philox_u64 block, ct_philox_u32 attempt) {
  ct_philox_u64 s = offset + block;
  ct_philox_block c;
  c.v[0] = (ct_philox_u32)s;
  c.v[1] = (ct_philox_u32)(s >> 32);
  c.v[2] = s < offset ? 1u : 0u;
  c.v[3] = attempt;
  return c;
}

CT_PHILOX_FN ct_philox_block ct_philox_at(ct_philox_u64 seed, ct_philox_u64 offset, ct_philox_u64 block,
                                          ct_philox_u32 attempt) {
  return ct_philox4x32_10(ct_philox_counter(offset, block, attempt), (ct_philox_u32)seed,
                          (ct_philox_u32)(seed >> 32));
}

/* ---- uniform conversions ------------------------------------------------ */

#define CT_PHILOX_2POW_M24 5.9604644775390625e-08f /* 2^-24 */
#define CT_PHILOX_2POW_M53 1.1102230246251565404e-16 /* 2^-53 */

/* [0, 1): the top 24 bits as a multiple of 2^-24 (exact). */
/* (int casts: the values fit, and signed conversions vectorise on x86) */
CT_PHILOX_FN float ct_philox_uniform_f32(ct_philox_u32 x) { return (float)(int)(x >> 8) * CT_PHILOX_2POW_M24; }
/* (0, 1]: the same grid shifted by one step, safe for log. */
CT_PHILOX_FN float ct_philox_uniform_open0_f32(ct_philox_u32 x) {
  return (float)(int)((x >> 8) + 1u) * CT_PHILOX_2POW_M24;
}
/* [0, 1) from two words: the top 53 bits of (hi << 32 | lo). */
CT_PHILOX_FN double ct_philox_uniform_f64(ct_philox_u32 lo, ct_philox_u32 hi) {
  ct_philox_u64 u = ((ct_philox_u64)hi << 32) | lo;
  return (double)(u >> 11) * CT_PHILOX_2POW_M53;
}
CT_PHILOX_FN double ct_philox_uniform_open0_f64(ct_philox_u32 lo, ct_philox_u32 hi) {
  ct_philox_u64 u = ((ct_philox_u64)hi << 32) | lo;
  return (double)((u >> 11) + 1u) * CT_PHILOX_2POW_M53;
}

/* ---- float32 log and sincos, arithmetic only ---------------------------- */

CT_PHILOX_FN ct_philox_u32 ct_philox_f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  union {
    float f;
    ct_philox_u32 u;
  } c;
  c.f = f;
  return c.u;
#endif
}

CT_PHILOX_FN float ct_philox_bits_f32(ct_philox_u32 u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  union {
    float f;
    ct_philox_u32 u;
  } c;
  c.u = u;
  return c.f;
#endif
}

/* Natural log of a positive normal float (Box–Muller only feeds (0, 1]).
 * u = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s) with
 * s = (m-1)/(m+1), |s| <= 0.1716, summed to s^9 (the next term is below
 * 2^-30 relative); e*ln2 is added in two parts so that it stays exact.
 * Measured error over every input of the Box–Muller grid: see
 * tests/test_ops_random.c (within 2 ulp of the correctly rounded log). */
CT_PHILOX_FN float ct_philox_log_f32(float u) {
  ct_philox_u32 bits = ct_philox_f32_bits(u);
  ct_philox_u32 mant = bits & 0x007FFFFFu;
  /* mantissas above sqrt(2)'s (0x3504F3) are halved: m in [sqrt(.5), sqrt(2)) */
  ct_philox_u32 big = mant > 0x003504F3u ? 1u : 0u;
  float m = ct_philox_bits_f32(mant | (big ? 0x3F000000u : 0x3F800000u));
  float e = (float)((int)(bits >> 23) - 127 + (int)big);
  float s = (m - 1.0f) / (m + 1.0f);
  float z = s * s;
  float p = 0.11111111f;        /* 1/9 */
  p = p * z + 0.14285715f;      /* 1/7 */
  p = p * z + 0.2f;             /* 1/5 */
  p = p * z + 0.33333334f;      /* 1/3 */
  p = p * z;
  float lm = 2.0f * s + 2.0f * s * p;
  return e * 0.693145751953125f + (lm + e * 1.428606820309417e-06f);
}

/* sin and cos of 2*pi*k/2^24 for an integer k in [0, 2^24). The quadrant
 * comes from k's top bits (exact), the rest is an angle in [-pi/4, pi/4)
 * where Taylor polynomials to degree 9 (sin) and 10 (cos) are accurate to
 * better than 2^-28. */
CT_PHILOX_FN void ct_philox_sincos_turn_f32(ct_philox_u32 k, float *s_out, float *c_out) {
  ct_philox_u32 qq = (k + (1u << 21)) >> 22;              /* 0..4 */
  int r = (int)k - (int)(qq << 22);                       /* [-2^21, 2^21) */
  ct_philox_u32 q = qq & 3u;
  float t = (float)r * 3.7450702829239286e-07f;           /* 2*pi / 2^24 */
  float t2 = t * t;
  float sp = -2.7557319e-06f;                             /* 1/9! ... */
  sp = sp * t2 + 1.9841270e-04f;
  sp = sp * t2 - 8.3333333e-03f;
  sp = sp * t2 + 1.6666667e-01f;
  float sn = t - t * t2 * sp;
  float cp = 2.7557319e-07f;                              /* 1/10! ... */
  cp = cp * t2 - 2.4801587e-05f;
  cp = cp * t2 + 1.3888889e-03f;
  cp = cp * t2 - 4.1666667e-02f;
  cp = cp * t2 + 0.5f;
  float cs = 1.0f - t2 * cp;
  /* rotate by q quarter turns */
  float so = (q & 1u) ? cs : sn;
  float co = (q & 1u) ? sn : cs;
  *s_out = (q & 2u) ? -so : so;
  *c_out = ((q + 1u) & 2u) ? -co : co;
}

/* Box–Muller on two words: r = sqrt(-2 log u1) with u1 in (0, 1] from x0,
 * angle 2*pi*u2 with u2 in [0, 1) from x1; z0 = r cos, z1 = r sin. */
CT_PHILOX_FN void ct_philox_box_muller_f32(ct_philox_u32 x0, ct_philox_u32 x1, float *z0, float *z1) {
  float r = sqrtf(-2.0f * ct_philox_log_f32(ct_philox_uniform_open0_f32(x0)));
  float s, c;
  ct_philox_sincos_turn_f32(x1 >> 8, &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

/* float64: u1 from (x0, x1), u2 from (x2, x3), the device's double log,
 * sqrt, sin and cos (these agree between CPU and GPU to about 1 ulp, not
 * bit for bit). */
CT_PHILOX_FN void ct_philox_box_muller_f64(ct_philox_block x, double *z0, double *z1) {
  double r = sqrt(-2.0 * log(ct_philox_uniform_open0_f64(x.v[0], x.v[1])));
  double a = 6.283185307179586476925 * ct_philox_uniform_f64(x.v[2], x.v[3]);
  *z0 = r * cos(a);
  *z1 = r * sin(a);
}

#endif /* CT_CORE_PHILOX_H */
