/* Random ops: Philox known answers, the documented counter layout, statistics, errors. */
#include <stdint.h>

#include "core/philox.h"
#include "testutil.h"

static ct_context *ctx;

/* Random123 tests/kat_vectors (github.com/DEShawResearch/random123, commit
 * 9545ff6413f258be2f04c1d319d99aaef7521150), the philox4x32 lines:
 * rounds, counter[4], key[2], expected[4]. */
static const struct {
  int rounds;
  ct_philox_u32 ctr[4], key[2], out[4];
} kat[] = {
    {7, {0, 0, 0, 0}, {0, 0}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    {7, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
    {7, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
    {10, {0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {10, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {10, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(philox_known_answers) {
  for (size_t t = 0; t < sizeof kat / sizeof kat[0]; t++) {
    ct_philox_block c = {{kat[t].ctr[0], kat[t].ctr[1], kat[t].ctr[2], kat[t].ctr[3]}};
    ct_philox_block x = ct_philox4x32_rounds(c, kat[t].key[0], kat[t].key[1], kat[t].rounds);
    for (int j = 0; j < 4; j++) CHECK_EQ_INT(x.v[j], kat[t].out[j]);
    if (kat[t].rounds == 10) {
      x = ct_philox4x32_10(c, kat[t].key[0], kat[t].key[1]);
      CHECK_EQ_INT(x.v[0], kat[t].out[0]);
      /* the same through the seed/offset entry point */
      uint64_t seed = (uint64_t)kat[t].key[1] << 32 | kat[t].key[0];
      if (c.v[2] == 0 && c.v[3] == 0) {
        x = ct_philox_at(seed, (uint64_t)c.v[1] << 32 | c.v[0], 0, 0);
        CHECK_EQ_INT(x.v[3], kat[t].out[3]);
      }
    }
  }
}

TEST(counter_layout_carries_into_word_2) {
  ct_philox_block c = ct_philox_counter(UINT64_MAX, 1, 0);
  CHECK_EQ_INT(c.v[0], 0);
  CHECK_EQ_INT(c.v[1], 0);
  CHECK_EQ_INT(c.v[2], 1);
  CHECK_EQ_INT(c.v[3], 0);
  c = ct_philox_counter(0x00000001ffffffffULL, 1, 7);
  CHECK_EQ_INT(c.v[0], 0);
  CHECK_EQ_INT(c.v[1], 2);
  CHECK_EQ_INT(c.v[2], 0);
  CHECK_EQ_INT(c.v[3], 7);
}

/* The float32 log and sincos of philox.h against libm's double versions,
 * on a stride through every input Box–Muller can give them. */
TEST(fast_log_and_sincos_accuracy) {
  double worst_log = 0, worst_trig = 0;
  for (uint32_t k = 0; k < (1u << 24); k += 13) {
    float u = (float)(k + 1) * CT_PHILOX_2POW_M24;
    double ref = log((double)u);
    if (ref != 0) {
      double ulp = ldexp(1.0, ilogb((float)ref) - 23);
      double e = fabs(ct_philox_log_f32(u) - ref) / ulp;
      if (e > worst_log) worst_log = e;
    } else {
      CHECK(ct_philox_log_f32(u) == 0.0f);
    }
    float s, c;
    ct_philox_sincos_turn_f32(k, &s, &c);
    double a = 6.283185307179586 * k / 16777216.0;
    double e = fmax(fabs(s - sin(a)), fabs(c - cos(a)));
    if (e > worst_trig) worst_trig = e;
  }
  CHECK(worst_log <= 2.0);
  CHECK(worst_trig <= 1.2e-7);
}


/* Reference bits of the first two blocks for seed 42, offset 0 (also in
 * docs/random.md): another device reproducing the layout must print these.
 * They pin the float32 Box–Muller down to the last bit, so a change in
 * rounding (a fused multiply-add, a libm call) fails here. */
TEST(reference_bits_seed_42) {
  static const uint32_t words[8] = {0x9ceaf053, 0x77f5493b, 0x12bf50ad, 0x5742b3d7,
                                    0xfcdb2127, 0x53ba6cfd, 0x838f5a6e, 0x744e06fb};
  static const uint32_t normal_bits[8] = {0xbf785e59, 0x3e46acec, 0xbf9e28cd, 0x3ff6433e,
                                          0xbd95e015, 0x3e0e79fe, 0xbf8da732, 0x3ea7430b};
  int64_t n = 8;
  ct_tensor *t = NULL;
  CHECK_OK(ct_random_normal(ctx, CT_FLOAT32, &n, 1, 0, 1, 42, 0, &t));
  if (t) {
    uint32_t got[8];
    CHECK_OK(ct_tensor_to_host(t, got, sizeof got));
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(got[i], normal_bits[i]);
    ct_tensor_release(t);
  }
  t = NULL;
  CHECK_OK(ct_random_uniform(ctx, CT_FLOAT32, &n, 1, 0, 1, 42, 0, &t));
  if (t) {
    float got[8];
    CHECK_OK(ct_tensor_to_host(t, got, sizeof got));
    for (int i = 0; i < 8; i++) CHECK(got[i] == (float)(words[i] >> 8) / 16777216.0f);
    ct_tensor_release(t);
  }
}

enum { UNIFORM, NORMAL, TRUNCATED };

typedef ct_status (*random_fn)(ct_context *, ct_dtype, const int64_t *, int, double, double, uint64_t, uint64_t,
                               ct_tensor **);
static const random_fn fns[3] = {ct_random_uniform, ct_random_normal, ct_truncated_normal};

/* Draws n values as float64 (whatever the dtype); NULL on failure. */
static double *draw(int kind, ct_dtype dt, int64_t n, double a, double b, uint64_t seed, uint64_t offset) {
  ct_tensor *t = NULL;
  CHECK_OK(fns[kind](ctx, dt, &n, 1, a, b, seed, offset, &t));
  if (!t) return NULL;
  CHECK_EQ_INT(ct_tensor_num_elements(t), n);
  CHECK_EQ_INT(ct_tensor_dtype(t), dt);
  size_t bytes = ct_tensor_nbytes(t);
  void *raw = malloc(bytes + 1);
  double *v = malloc((size_t)(n + 1) * sizeof *v);
  CHECK_OK(ct_tensor_to_host(t, raw, bytes));
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
      case CT_FLOAT32: v[i] = ((float *)raw)[i]; break;
      case CT_FLOAT64: v[i] = ((double *)raw)[i]; break;
      case CT_FLOAT16: v[i] = ct_half_to_float(((uint16_t *)raw)[i]); break;
      default: v[i] = ct_bfloat16_to_float(((uint16_t *)raw)[i]); break;
    }
  }
  free(raw);
  ct_tensor_release(t);
  return v;
}

/* Element i of a standard draw, straight from docs/random.md. */
static float ref_f32(int kind, uint64_t seed, uint64_t offset, int64_t i) {
  int lane = (int)(i % 4);
  for (ct_philox_u32 attempt = 0;; attempt++) {
    ct_philox_block x = ct_philox_at(seed, offset, (uint64_t)(i / 4), attempt);
    if (kind == UNIFORM) return (float)(x.v[lane] >> 8) * (1.0f / 16777216.0f);
    float z[2];
    ct_philox_box_muller_f32(x.v[lane & 2], x.v[(lane & 2) + 1], &z[0], &z[1]);
    if (kind == NORMAL || fabsf(z[lane & 1]) < 2.0f) return z[lane & 1];
  }
}

static double ref_f64(int kind, uint64_t seed, uint64_t offset, int64_t i) {
  int lane = (int)(i % 2);
  for (ct_philox_u32 attempt = 0;; attempt++) {
    ct_philox_block x = ct_philox_at(seed, offset, (uint64_t)(i / 2), attempt);
    if (kind == UNIFORM) {
      uint64_t w = (uint64_t)x.v[2 * lane + 1] << 32 | x.v[2 * lane];
      return (double)(w >> 11) * 0x1p-53;
    }
    double z[2];
    ct_philox_box_muller_f64(x, &z[0], &z[1]);
    if (kind == NORMAL || fabs(z[lane]) < 2.0) return z[lane];
  }
}

TEST(values_follow_the_documented_layout) {
  /* big enough for several threads and chunks, odd so the last block is partial */
  const int64_t n = 300001;
  for (int kind = UNIFORM; kind <= TRUNCATED; kind++) {
    double a = 0.0, b = 1.0;
    double *v = draw(kind, CT_FLOAT32, n, a, b, 1234, 77);
    double *w = draw(kind, CT_FLOAT64, n, a, b, 1234, 77);
    if (!v || !w) {
      free(v);
      free(w);
      continue;
    }
    int bad32 = 0, bad64 = 0;
    for (int64_t i = 0; i < n; i++) {
      /* every element near a chunk edge, a stride elsewhere */
      if (i % 1024 > 8 && i % 1024 < 1016 && i % 97 != 0) continue;
      if (v[i] != (double)ref_f32(kind, 1234, 77, i)) bad32++;
      if (w[i] != ref_f64(kind, 1234, 77, i)) bad64++;
    }
    CHECK_EQ_INT(bad32, 0);
    CHECK_EQ_INT(bad64, 0);
    free(v);
    free(w);
  }
}

TEST(same_seed_same_bits_other_offset_or_seed_differs) {
  for (int kind = UNIFORM; kind <= TRUNCATED; kind++) {
    double *a = draw(kind, CT_FLOAT32, 1000, 0, 1, 5, 9);
    double *b = draw(kind, CT_FLOAT32, 1000, 0, 1, 5, 9);
    double *c = draw(kind, CT_FLOAT32, 1000, 0, 1, 5, 10000);
    double *d = draw(kind, CT_FLOAT32, 1000, 0, 1, 6, 9);
    if (a && b && c && d) {
      CHECK(memcmp(a, b, 1000 * sizeof *a) == 0);
      int same_c = 0, same_d = 0;
      for (int i = 0; i < 1000; i++) {
        same_c += a[i] == c[i];
        same_d += a[i] == d[i];
      }
      CHECK(same_c < 5);
      CHECK(same_d < 5);
    }
    free(a);
    free(b);
    free(c);
    free(d);
  }
}

/* A draw at offset k is the tail of the draw at offset 0 after k blocks. */
TEST(offset_composes) {
  const int64_t n = 5000, k = 37;
  for (int kind = UNIFORM; kind <= TRUNCATED; kind++) {
    for (int f64 = 0; f64 <= 1; f64++) {
      ct_dtype dt = f64 ? CT_FLOAT64 : CT_FLOAT32;
      int64_t per_block = f64 ? 2 : 4;
      double *whole = draw(kind, dt, n, 0, 1, 99, 0);
      double *tail = draw(kind, dt, n - k * per_block, 0, 1, 99, (uint64_t)k);
      if (whole && tail)
        CHECK(memcmp(whole + k * per_block, tail, (size_t)(n - k * per_block) * sizeof *tail) == 0);
      free(whole);
      free(tail);
    }
  }
}

/* Kolmogorov–Smirnov statistic of v (sorted in place) against cdf. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double ks_stat(double *v, int64_t n, double (*cdf)(double)) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double d = 0;
  for (int64_t i = 0; i < n; i++) {
    double f = cdf(v[i]);
    double lo = f - (double)i / (double)n, hi = (double)(i + 1) / (double)n - f;
    if (lo > d) d = lo;
    if (hi > d) d = hi;
  }
  return d;
}

static double cdf_uniform(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
static double cdf_normal(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double cdf_truncated(double x) {
  double lo = cdf_normal(-2.0), hi = cdf_normal(2.0);
  if (x <= -2) return 0;
  if (x >= 2) return 1;
  return (cdf_normal(x) - lo) / (hi - lo);
}

static void moments(const double *v, int64_t n, double *mean, double *var) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) s += v[i];
  *mean = s / (double)n;
  for (int64_t i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
  *var = s2 / (double)(n - 1);
}

/* A million draws each. The KS bound 1.95/sqrt(n) is the 0.1 % critical
 * value; mean and variance bounds are 5 standard errors. */
TEST(statistics_of_a_million_draws) {
  const int64_t n = 1000000;
  const double ks_crit = 1.95 / 1000.0;
  double mean, var;
  double *u = draw(UNIFORM, CT_FLOAT32, n, 0, 1, 2024, 0);
  if (u) {
    double lo = 1, hi = 0;
    for (int64_t i = 0; i < n; i++) {
      if (u[i] < lo) lo = u[i];
      if (u[i] > hi) hi = u[i];
    }
    CHECK(lo >= 0 && hi < 1);
    moments(u, n, &mean, &var);
    CHECK_CLOSE(mean, 0.5, 5 * 0.2887 / 1000, 0);
    CHECK_CLOSE(var, 1.0 / 12, 5 * 0.0745 / 1000, 0);
    CHECK(ks_stat(u, n, cdf_uniform) < ks_crit);
    free(u);
  }
  for (int f64 = 0; f64 <= 1; f64++) {
    double *z = draw(NORMAL, f64 ? CT_FLOAT64 : CT_FLOAT32, n, 0, 1, 7, 0);
    if (!z) continue;
    moments(z, n, &mean, &var);
    CHECK_CLOSE(mean, 0.0, 5.0 / 1000, 0);
    CHECK_CLOSE(var, 1.0, 5 * 1.4142 / 1000, 0);
    CHECK(ks_stat(z, n, cdf_normal) < ks_crit);
    free(z);
  }
  double *t = draw(TRUNCATED, CT_FLOAT32, n, 0, 1, 11, 0);
  if (t) {
    int outside = 0;
    for (int64_t i = 0; i < n; i++) outside += fabs(t[i]) > 2.0;
    CHECK_EQ_INT(outside, 0);
    moments(t, n, &mean, &var);
    /* variance of N(0,1) truncated to [-2, 2]: 1 - 4 phi(2) / (Phi(2) - Phi(-2)) */
    double tv = 1.0 - 4.0 * exp(-2.0) / sqrt(2 * M_PI) / (cdf_normal(2) - cdf_normal(-2));
    CHECK_CLOSE(mean, 0.0, 5 * 0.88 / 1000, 0);
    CHECK_CLOSE(var, tv, 0.005, 0);
    CHECK(ks_stat(t, n, cdf_truncated) < ks_crit);
    free(t);
  }
}

TEST(parameters_scale_and_shift) {
  const int64_t n = 200000;
  double mean, var;
  double *u = draw(UNIFORM, CT_FLOAT64, n, -3, 5, 1, 0);
  if (u) {
    moments(u, n, &mean, &var);
    CHECK_CLOSE(mean, 1.0, 0.05, 0);
    int outside = 0;
    for (int64_t i = 0; i < n; i++) outside += u[i] < -3 || u[i] >= 5;
    CHECK_EQ_INT(outside, 0);
    free(u);
  }
  double *z = draw(NORMAL, CT_FLOAT32, n, 3, 2, 1, 0);
  if (z) {
    moments(z, n, &mean, &var);
    CHECK_CLOSE(mean, 3.0, 0.03, 0);
    CHECK_CLOSE(sqrt(var), 2.0, 0.02, 0);
    free(z);
  }
  double *t = draw(TRUNCATED, CT_FLOAT64, n, 10, 0.5, 1, 0);
  if (t) {
    int outside = 0;
    for (int64_t i = 0; i < n; i++) outside += t[i] < 9.0 || t[i] > 11.0;
    CHECK_EQ_INT(outside, 0);
    moments(t, n, &mean, &var);
    CHECK_CLOSE(mean, 10.0, 0.01, 0);
    free(t);
  }
  /* stddev 0 gives the mean exactly */
  double *c = draw(NORMAL, CT_FLOAT32, 100, 1.5, 0, 1, 0);
  if (c)
    for (int i = 0; i < 100; i++) CHECK(c[i] == 1.5);
  free(c);
}

/* maxval stays excluded even where lo + (hi - lo) * u rounds up to it. */
TEST(uniform_never_reaches_maxval) {
  double *u = draw(UNIFORM, CT_FLOAT32, 4000, 1.0, 1.0000001, 3, 0);
  if (u) {
    int bad = 0;
    for (int i = 0; i < 4000; i++) bad += !(u[i] >= 1.0 && u[i] < 1.0000001);
    CHECK_EQ_INT(bad, 0);
    free(u);
  }
  for (int bf = 0; bf <= 1; bf++) {
    double *h = draw(UNIFORM, bf ? CT_BFLOAT16 : CT_FLOAT16, 20000, 0, 1, 8, 0);
    if (!h) continue;
    int bad = 0;
    double mean, var;
    for (int i = 0; i < 20000; i++) bad += !(h[i] >= 0 && h[i] < 1);
    CHECK_EQ_INT(bad, 0);
    moments(h, 20000, &mean, &var);
    CHECK_CLOSE(mean, 0.5, 0.015, 0);
    free(h);
  }
  /* minval == maxval: every value is minval */
  double *e = draw(UNIFORM, CT_FLOAT32, 10, 2, 2, 3, 0);
  if (e)
    for (int i = 0; i < 10; i++) CHECK(e[i] == 2.0);
  free(e);
}

/* 16-bit outputs are the float32 values rounded to nearest even. */
TEST(half_types_round_the_float32_stream) {
  double *f = draw(NORMAL, CT_FLOAT32, 999, 0.25, 3, 4, 2);
  double *h = draw(NORMAL, CT_FLOAT16, 999, 0.25, 3, 4, 2);
  double *b = draw(NORMAL, CT_BFLOAT16, 999, 0.25, 3, 4, 2);
  if (f && h && b) {
    int bad = 0;
    for (int i = 0; i < 999; i++) {
      bad += h[i] != ct_half_to_float(ct_float_to_half((float)f[i]));
      bad += b[i] != ct_bfloat16_to_float(ct_float_to_bfloat16((float)f[i]));
    }
    CHECK_EQ_INT(bad, 0);
  }
  free(f);
  free(h);
  free(b);
}

TEST(shapes_and_placement) {
  ct_tensor *t = NULL;
  CHECK_OK(ct_random_normal(ctx, CT_FLOAT32, NULL, 0, 0, 1, 1, 0, &t));
  if (t) {
    CHECK_EQ_INT(ct_tensor_rank(t), 0);
    CHECK_EQ_INT(ct_tensor_num_elements(t), 1);
    CHECK(strstr(ct_tensor_device(t), "CPU:0") != NULL);
    float v = 0, r = ref_f32(NORMAL, 1, 0, 0);
    CHECK_OK(ct_tensor_to_host(t, &v, sizeof v));
    CHECK(v == r);
    ct_tensor_release(t);
  }
  int64_t shape[3] = {2, 0, 3};
  t = NULL;
  CHECK_OK(ct_truncated_normal(ctx, CT_FLOAT64, shape, 3, 0, 1, 1, 0, &t));
  if (t) {
    CHECK_EQ_INT(ct_tensor_num_elements(t), 0);
    CHECK_EQ_INT(ct_tensor_dim(t, 2), 3);
    ct_tensor_release(t);
  }
  /* a [3,5] draw is the flat 15-element draw in row-major order */
  int64_t s2[2] = {3, 5};
  t = NULL;
  CHECK_OK(ct_random_uniform(ctx, CT_FLOAT32, s2, 2, 0, 1, 21, 4, &t));
  if (t) {
    float v[15];
    CHECK_OK(ct_tensor_to_host(t, v, sizeof v));
    for (int i = 0; i < 15; i++) CHECK(v[i] == ref_f32(UNIFORM, 21, 4, i));
    ct_tensor_release(t);
  }
  /* offsets near the top of the range carry into counter word 2 */
  double *w = draw(UNIFORM, CT_FLOAT32, 12, 0, 1, 3, UINT64_MAX - 1);
  if (w)
    for (int i = 0; i < 12; i++) CHECK(w[i] == ref_f32(UNIFORM, 3, UINT64_MAX - 1, i));
  free(w);
}

TEST(errors) {
  int64_t shape[1] = {4};
  ct_tensor *t = NULL;
  CHECK_ERR(ct_random_uniform(ctx, CT_INT32, shape, 1, 0, 1, 1, 0, &t), CT_INVALID_ARGUMENT, "dtype int32");
  CHECK_ERR(ct_random_normal(ctx, CT_BOOL, shape, 1, 0, 1, 1, 0, &t), CT_INVALID_ARGUMENT, "random_normal: dtype bool");
  CHECK_ERR(ct_random_uniform(ctx, CT_FLOAT32, shape, 1, 2, 1, 1, 0, &t), CT_INVALID_ARGUMENT,
            "minval 2 is greater than maxval 1");
  CHECK_ERR(ct_random_uniform(ctx, CT_FLOAT32, shape, 1, 0, INFINITY, 1, 0, &t), CT_INVALID_ARGUMENT, "finite");
  CHECK_ERR(ct_random_normal(ctx, CT_FLOAT32, shape, 1, 0, -1, 1, 0, &t), CT_INVALID_ARGUMENT, "stddev -1");
  CHECK_ERR(ct_truncated_normal(ctx, CT_FLOAT32, shape, 1, NAN, 1, 1, 0, &t), CT_INVALID_ARGUMENT, "mean nan");
  int64_t bad[2] = {2, -3};
  CHECK_ERR(ct_random_normal(ctx, CT_FLOAT32, bad, 2, 0, 1, 1, 0, &t), CT_INVALID_ARGUMENT, "-3");
  CHECK_ERR(ct_random_normal(ctx, CT_FLOAT32, shape, 1, 0, 1, 1, 0, NULL), CT_INVALID_ARGUMENT, "NULL");
  CHECK(t == NULL);
}

int main(void) {
  RUN(philox_known_answers);
  RUN(counter_layout_carries_into_word_2);
  RUN(fast_log_and_sincos_accuracy);
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "cannot create a context: %s\n", ct_last_error());
    return 1;
  }
  RUN(reference_bits_seed_42);
  RUN(values_follow_the_documented_layout);
  RUN(same_seed_same_bits_other_offset_or_seed_differs);
  RUN(offset_composes);
  RUN(statistics_of_a_million_draws);
  RUN(parameters_scale_and_shift);
  RUN(uniform_never_reaches_maxval);
  RUN(half_types_round_the_float32_stream);
  RUN(shapes_and_placement);
  RUN(errors);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
