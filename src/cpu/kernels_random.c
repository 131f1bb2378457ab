/*
 * CPU kernels for random_uniform, random_normal and truncated_normal.
 *
 * Every value is a pure function of (seed, offset, element index) through
 * the counter layout of docs/random.md, so any thread can start anywhere:
 * the output is cut into chunks of CHUNK Philox blocks and OpenMP hands the
 * chunks out. Inside a chunk the work runs in separate plain loops (Philox
 * into four word arrays, then Box–Muller, then the affine map) so that
 * GCC vectorises each of them; the float32 log/sincos come from philox.h
 * and contain no libm calls. This file is compiled with -fno-math-errno
 * (cmake/parts/random.cmake) so that sqrtf vectorises too.
 */
#include <math.h>
#include <string.h>

#include "core/philox.h"
#include "cpu/cpu_kernels.h"

#define CHUNK 256 /* Philox blocks per chunk: 1024 float32 values, 16 KiB of stack */

/* The two hot loops get an AVX2 clone chosen at load time (GCC's ifunc
 * dispatch): eight 32-bit lanes instead of four, about 1.4x the normals
 * per second. The target adds no FMA, so results are unchanged. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HOT_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define HOT_LOOP
#endif

typedef enum dist { DIST_UNIFORM, DIST_NORMAL, DIST_TRUNCATED } dist;

typedef struct rng {
  ct_philox_u32 k0, k1;
  ct_philox_u64 seed, offset;
} rng;

static rng rng_make(const ct_random_attrs *a) {
  rng g = {(ct_philox_u32)a->seed, (ct_philox_u32)(a->seed >> 32), a->seed, a->offset};
  return g;
}

/* Philox words for blocks b0 .. b0+nb-1 (nb <= CHUNK), one array per word.
 * The counters are formed in 32-bit arithmetic (equal to
 * ct_philox_counter(offset, b0 + j, 0)) because 64-bit lanes would stop
 * the vectoriser. */
HOT_LOOP static void philox_words(const rng *g, ct_philox_u64 b0, int nb, ct_philox_u32 *restrict w0,
                         ct_philox_u32 *restrict w1, ct_philox_u32 *restrict w2, ct_philox_u32 *restrict w3) {
  ct_philox_block base = ct_philox_counter(g->offset, b0, 0);
  ct_philox_u32 lo = base.v[0], hi = base.v[1], c2 = base.v[2];
  ct_philox_u32 k0 = g->k0, k1 = g->k1;
  for (int j = 0; j < nb; j++) {
    ct_philox_block c;
    c.v[0] = lo + (ct_philox_u32)j;
    ct_philox_u32 carry = c.v[0] < lo;
    c.v[1] = hi + carry;
    c.v[2] = c2 + (carry & (c.v[1] == 0));
    c.v[3] = 0;
    ct_philox_block x = ct_philox4x32_10(c, k0, k1);
    w0[j] = x.v[0];
    w1[j] = x.v[1];
    w2[j] = x.v[2];
    w3[j] = x.v[3];
  }
}

HOT_LOOP static void box_muller_words(int nb, const ct_philox_u32 *restrict wa, const ct_philox_u32 *restrict wb,
                             float *restrict z0, float *restrict z1) {
  for (int j = 0; j < nb; j++) ct_philox_box_muller_f32(wa[j], wb[j], &z0[j], &z1[j]);
}

/* Standard float32 values for blocks b0.. (4 per block, element order):
 * uniform in [0, 1) or standard normal; truncated normal re-draws the
 * values with |z| >= 2 (attempts 1, 2, ... in counter word 3). */
static void raw_f32(const rng *g, dist d, ct_philox_u64 b0, int nb, float *restrict out) {
  ct_philox_u32 w0[CHUNK], w1[CHUNK], w2[CHUNK], w3[CHUNK];
  philox_words(g, b0, nb, w0, w1, w2, w3);
  if (d == DIST_UNIFORM) {
    for (int j = 0; j < nb; j++) {
      out[4 * j + 0] = ct_philox_uniform_f32(w0[j]);
      out[4 * j + 1] = ct_philox_uniform_f32(w1[j]);
      out[4 * j + 2] = ct_philox_uniform_f32(w2[j]);
      out[4 * j + 3] = ct_philox_uniform_f32(w3[j]);
    }
    return;
  }
  float za[CHUNK], zb[CHUNK], zc[CHUNK], zd[CHUNK];
  box_muller_words(nb, w0, w1, za, zb);
  box_muller_words(nb, w2, w3, zc, zd);
  for (int j = 0; j < nb; j++) {
    out[4 * j + 0] = za[j];
    out[4 * j + 1] = zb[j];
    out[4 * j + 2] = zc[j];
    out[4 * j + 3] = zd[j];
  }
  if (d != DIST_TRUNCATED) return;
  for (int i = 0; i < 4 * nb; i++) {
    if (fabsf(out[i]) < 2.0f) continue;
    /* about 4.6% of values; the loop ends with probability 1 and never
     * needs more than a handful of attempts in practice */
    int lane = i & 3;
    for (ct_philox_u32 attempt = 1;; attempt++) {
      ct_philox_block x = ct_philox_at(g->seed, g->offset, b0 + (ct_philox_u64)(i >> 2), attempt);
      float z0, z1;
      ct_philox_box_muller_f32(x.v[lane & 2], x.v[(lane & 2) + 1], &z0, &z1);
      float z = (lane & 1) ? z1 : z0;
      if (fabsf(z) < 2.0f) {
        out[i] = z;
        break;
      }
    }
  }
}

/* Two float64 values per block (element order). */
static void raw_f64(const rng *g, dist d, ct_philox_u64 b0, int nb, double *restrict out) {
  for (int j = 0; j < nb; j++) {
    ct_philox_block x = ct_philox_at(g->seed, g->offset, b0 + (ct_philox_u64)j, 0);
    if (d == DIST_UNIFORM) {
      out[2 * j] = ct_philox_uniform_f64(x.v[0], x.v[1]);
      out[2 * j + 1] = ct_philox_uniform_f64(x.v[2], x.v[3]);
    } else {
      ct_philox_box_muller_f64(x, &out[2 * j], &out[2 * j + 1]);
    }
  }
  if (d != DIST_TRUNCATED) return;
  for (int i = 0; i < 2 * nb; i++) {
    if (fabs(out[i]) < 2.0) continue;
    for (ct_philox_u32 attempt = 1;; attempt++) {
      ct_philox_block x = ct_philox_at(g->seed, g->offset, b0 + (ct_philox_u64)(i >> 1), attempt);
      double z0, z1;
      ct_philox_box_muller_f64(x, &z0, &z1);
      double z = (i & 1) ? z1 : z0;
      if (fabs(z) < 2.0) {
        out[i] = z;
        break;
      }
    }
  }
}

/* One step towards minus infinity for IEEE half and bfloat16 bit patterns
 * (both sign-magnitude). */
static uint16_t step_down16(uint16_t h) {
  if ((h & 0x7FFF) == 0) return 0x8001;
  return (h & 0x8000) ? (uint16_t)(h + 1) : (uint16_t)(h - 1);
}

/* The affine map, per dtype. Uniform: lo + (hi - lo) * u in the output's
 * arithmetic (float32 for the 16-bit types), kept below maxval as rounded
 * to the output type. Normal: mean + stddev * z. */
typedef struct affine {
  dist d;
  double a, b; /* minval/maxval or mean/stddev */
} affine;

static void store_f32(const affine *m, const float *restrict raw, int n, float *restrict out) {
  float a = (float)m->a, b = (float)m->b;
  if (m->d != DIST_UNIFORM) {
    for (int i = 0; i < n; i++) out[i] = a + b * raw[i];
    return;
  }
  float width = b - a;
  float below = nextafterf(b, -INFINITY);
  if (b > a) {
    for (int i = 0; i < n; i++) {
      float r = a + width * raw[i];
      out[i] = r < b ? r : below;
    }
  } else {
    for (int i = 0; i < n; i++) out[i] = a + width * raw[i];
  }
}

static void store_f16(const affine *m, const float *restrict raw, int n, uint16_t *restrict out, bool bf16) {
  float tmp[4 * CHUNK];
  store_f32(m, raw, n, tmp);
  for (int i = 0; i < n; i++) out[i] = bf16 ? ct_float_to_bfloat16(tmp[i]) : ct_float_to_half(tmp[i]);
  if (m->d != DIST_UNIFORM || !(m->b > m->a)) return;
  for (int i = 0; i < n; i++) {
    double v = bf16 ? ct_bfloat16_to_float(out[i]) : ct_half_to_float(out[i]);
    if (v >= m->b) out[i] = step_down16(out[i]);
  }
}

static void store_f64(const affine *m, const double *restrict raw, int n, double *restrict out) {
  double a = m->a, b = m->b;
  if (m->d != DIST_UNIFORM) {
    for (int i = 0; i < n; i++) out[i] = a + b * raw[i];
    return;
  }
  double width = b - a, below = nextafter(b, -INFINITY);
  for (int i = 0; i < n; i++) {
    double r = a + width * raw[i];
    out[i] = (b > a && !(r < b)) ? below : r;
  }
}

static ct_status random_kernel(const ct_kernel_args *args, dist d) {
  const ct_random_attrs *at = args->attrs;
  ct_tensor *t = args->out;
  rng g = rng_make(at);
  affine m = {d, at->a, at->b};
  int64_t n = t->numel;
  if (n == 0) return CT_OK;
  ct_dtype dt = t->dtype;
  int per_block = dt == CT_FLOAT64 ? 2 : 4;
  int64_t per_chunk = (int64_t)per_block * CHUNK;
  int64_t n_chunks = (n + per_chunk - 1) / per_chunk;
  /* a normal costs some 20 simple operations: weigh the work accordingly */
  int threads = ct_cpu_threads_for(d == DIST_UNIFORM ? n * 4 : n * 16);
  if (threads > n_chunks) threads = (int)n_chunks;
  unsigned char *base = t->data;
  size_t esize = ct_dtype_size(dt);

#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t c = 0; c < n_chunks; c++) {
    int64_t first = c * per_chunk;
    int count = (int)(n - first < per_chunk ? n - first : per_chunk);
    int nb = (count + per_block - 1) / per_block;
    ct_philox_u64 b0 = (ct_philox_u64)(c * CHUNK);
    void *dst = base + (size_t)first * esize;
    if (dt == CT_FLOAT64) {
      double raw[2 * CHUNK];
      raw_f64(&g, d, b0, nb, raw);
      store_f64(&m, raw, count, dst);
    } else {
      float raw[4 * CHUNK];
      raw_f32(&g, d, b0, nb, raw);
      if (dt == CT_FLOAT32)
        store_f32(&m, raw, count, dst);
      else
        store_f16(&m, raw, count, dst, dt == CT_BFLOAT16);
    }
  }
  return CT_OK;
}

static ct_status uniform_kernel(const ct_kernel_args *args) { return random_kernel(args, DIST_UNIFORM); }
static ct_status normal_kernel(const ct_kernel_args *args) { return random_kernel(args, DIST_NORMAL); }
static ct_status truncated_kernel(const ct_kernel_args *args) { return random_kernel(args, DIST_TRUNCATED); }

void ct_cpu_register_random(ct_registry *r) {
  static const ct_dtype floats[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
  for (size_t i = 0; i < CT_ARRAY_LEN(floats); i++) {
    ct_registry_add(r, CT_OP_RANDOM_UNIFORM, CT_DEV_CPU, floats[i], uniform_kernel);
    ct_registry_add(r, CT_OP_RANDOM_NORMAL, CT_DEV_CPU, floats[i], normal_kernel);
    ct_registry_add(r, CT_OP_TRUNCATED_NORMAL, CT_DEV_CPU, floats[i], truncated_kernel);
  }
}
