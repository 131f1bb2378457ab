/* Elementwise ops: binary arithmetic with broadcasting, comparisons, unary
 * math and cast — values against a float64 reference, shapes, dtypes and
 * every error path. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "ops_helpers.h"

static ct_context *ctx;

typedef ct_status (*binop)(ct_context *, const ct_tensor *, const ct_tensor *, ct_tensor **);
typedef ct_status (*unop)(ct_context *, const ct_tensor *, ct_tensor **);
typedef double (*ref2)(double, double);
typedef double (*ref1)(double);

static double r_add(double x, double y) { return x + y; }
static double r_sub(double x, double y) { return x - y; }
static double r_mul(double x, double y) { return x * y; }
static double r_div(double x, double y) { return x / y; }
static double r_max(double x, double y) { return x > y ? x : y; }
static double r_min(double x, double y) { return x < y ? x : y; }
static double r_pow(double x, double y) { return pow(x, y); }
/* Python's // and % on floats, written from their definitions */
static double r_floordiv(double x, double y) { return floor(x / y); }
static double r_floormod(double x, double y) { return x - floor(x / y) * y; }
static double r_eq(double x, double y) { return x == y; }
static double r_ne(double x, double y) { return x != y; }
static double r_lt(double x, double y) { return x < y; }
static double r_le(double x, double y) { return x <= y; }
static double r_gt(double x, double y) { return x > y; }
static double r_ge(double x, double y) { return x >= y; }

/* Expected output index -> input index under NumPy broadcasting, written
 * independently of the library's plan. */
static int64_t bidx(int64_t o, const int64_t *oshape, int orank, const int64_t *ishape, int irank) {
  int64_t idx = 0, stride = 1;
  for (int d = orank - 1; d >= 0; d--) {
    int64_t c = o % oshape[d];
    o /= oshape[d];
    int k = d - (orank - irank);
    if (k < 0) continue;
    if (ishape[k] != 1) idx += c * stride;
    stride *= ishape[k];
  }
  return idx;
}

/* Runs f on random inputs of the given shapes and dtype and compares every
 * element with ref computed in float64 on the same (rounded) inputs. */
static void check_binary(binop f, ref2 ref, ct_dtype dt, ct_dtype odt, const int64_t *sa, int ra, const int64_t *sb,
                         int rb, const int64_t *so, int ro, double lo, double hi, uint64_t seed) {
  int64_t na = 1, nb = 1, no = 1;
  for (int i = 0; i < ra; i++) na *= sa[i];
  for (int i = 0; i < rb; i++) nb *= sb[i];
  for (int i = 0; i < ro; i++) no *= so[i];
  double *va = malloc((size_t)(na + 1) * sizeof(double)), *vb = malloc((size_t)(nb + 1) * sizeof(double));
  for (int64_t i = 0; i < na; i++) va[i] = oh_round(dt, floor(oh_rand(&seed, lo, hi) * 4) / 4);
  for (int64_t i = 0; i < nb; i++) vb[i] = oh_round(dt, floor(oh_rand(&seed, lo, hi) * 4) / 4);
  if (dt == CT_INT32 || dt == CT_INT64) {
    for (int64_t i = 0; i < na; i++) va[i] = trunc(va[i]);
    for (int64_t i = 0; i < nb; i++) vb[i] = trunc(vb[i]);
  }
  ct_tensor *a = oh_make(ctx, dt, sa, ra, va), *b = oh_make(ctx, dt, sb, rb, vb), *o = NULL;
  CHECK_OK(f(ctx, a, b, &o));
  if (o) {
    CHECK(oh_same_shape(o, so, ro));
    CHECK_EQ_INT(ct_tensor_dtype(o), odt);
    double *got = oh_read(o);
    int bad = 0;
    for (int64_t i = 0; i < no && bad < 5; i++) {
      double x = va[bidx(i, so, ro, sa, ra)], y = vb[bidx(i, so, ro, sb, rb)];
      double want = oh_round(odt, ref(x, y));
      double tol = oh_tol(odt) * fabs(want) + (odt == CT_FLOAT16 || odt == CT_BFLOAT16 ? 1e-3 : 1e-30);
      if (!(oh_eq(got[i], want) || fabs(got[i] - want) <= tol)) {
        bad++;
        CHECK(fabs(got[i] - want) <= tol);
        fprintf(stderr, "  %s element %lld: f(%g, %g) = %.9g, want %.9g\n", ct_dtype_name(dt), (long long)i, x, y,
                got[i], want);
      }
    }
    free(got);
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(o);
  free(va);
  free(vb);
}

static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};

TEST(arithmetic_every_dtype_same_shape) {
  const binop fs[] = {ct_add, ct_sub, ct_mul, ct_maximum, ct_minimum};
  const ref2 rs[] = {r_add, r_sub, r_mul, r_max, r_min};
  int64_t s[2] = {3, 37};
  for (size_t d = 0; d < 6; d++)
    for (size_t k = 0; k < 5; k++) check_binary(fs[k], rs[k], numeric[d], numeric[d], s, 2, s, 2, s, 2, -50, 50, 1 + k);
}

TEST(div_floats_and_integer_true_division) {
  int64_t s[1] = {50};
  for (size_t d = 0; d < 4; d++) check_binary(ct_div, r_div, numeric[d], numeric[d], s, 1, s, 1, s, 1, 0.5, 9, 3);
  /* integer division is true division with a float64 result (tf.math.divide) */
  check_binary(ct_div, r_div, CT_INT32, CT_FLOAT64, s, 1, s, 1, s, 1, 1, 20, 4);
  check_binary(ct_div, r_div, CT_INT64, CT_FLOAT64, s, 1, s, 1, s, 1, 1, 20, 5);
  int64_t two[1] = {3};
  double a[3] = {7, -7, 0}, b[3] = {2, 0, 0};
  ct_tensor *ta = oh_make(ctx, CT_INT32, two, 1, a), *tb = oh_make(ctx, CT_INT32, two, 1, b), *o = NULL;
  CHECK_OK(ct_div(ctx, ta, tb, &o));
  double *v = oh_read(o);
  CHECK(v[0] == 3.5 && isinf(v[1]) && v[1] < 0 && isnan(v[2]));
  free(v);
  ct_tensor_release(o);
  ct_tensor_release(ta);
  ct_tensor_release(tb);
}

TEST(pow_floats_and_integers) {
  int64_t s[1] = {40};
  for (size_t d = 0; d < 4; d++) check_binary(ct_pow, r_pow, numeric[d], numeric[d], s, 1, s, 1, s, 1, 0.25, 3, 6);
  check_binary(ct_pow, r_pow, CT_INT32, CT_INT32, s, 1, s, 1, s, 1, 0, 7, 7);
  check_binary(ct_pow, r_pow, CT_INT64, CT_INT64, s, 1, s, 1, s, 1, 0, 7, 8);
  /* negative bases, 0^0 = 1 */
  int64_t four[1] = {4};
  double a[4] = {-3, 0, -2, 5}, b[4] = {3, 0, 4, 1};
  ct_tensor *ta = oh_make(ctx, CT_INT64, four, 1, a), *tb = oh_make(ctx, CT_INT64, four, 1, b), *o = NULL;
  CHECK_OK(ct_pow(ctx, ta, tb, &o));
  double *v = oh_read(o);
  CHECK(v[0] == -27 && v[1] == 1 && v[2] == 16 && v[3] == 5);
  free(v);
  ct_tensor_release(o);
  o = NULL;
  /* TensorFlow and NumPy refuse negative integer exponents */
  double nb[4] = {1, 2, -1, 0};
  ct_tensor *tn = oh_make(ctx, CT_INT64, four, 1, nb);
  CHECK_ERR(ct_pow(ctx, ta, tn, &o), CT_INVALID_ARGUMENT, "pow: integers to negative integer powers are not allowed");
  CHECK(o == NULL);
  /* ... only when there is an output (TensorFlow, NumPy and the GPU kernel:
   * an empty result is not an error; found by the property tests) */
  int64_t zero[1] = {0};
  double minus_one[1] = {-1};
  ct_tensor *te = oh_make(ctx, CT_INT64, zero, 1, NULL), *tm = oh_make(ctx, CT_INT64, NULL, 0, minus_one);
  CHECK_OK(ct_pow(ctx, te, tm, &o));
  CHECK(o != NULL && ct_tensor_num_elements(o) == 0);
  ct_tensor_release(o);
  o = NULL;
  ct_tensor_release(te);
  ct_tensor_release(tm);
  ct_tensor_release(ta);
  ct_tensor_release(tb);
  ct_tensor_release(tn);
}

/* The expected values are TensorFlow 2.21's (tf.math.floordiv/floormod on
 * the same inputs), which are Python's // and %. */
TEST(floor_div_and_mod) {
  /* random operands: floats against floor(x / y) in float64, divisors kept
   * away from 0 (integers: |y| >= 1 after truncation) */
  for (size_t d = 0; d < sizeof numeric / sizeof numeric[0]; d++) {
    int64_t s[2] = {37, 29}, sb[1] = {29};
    bool half = numeric[d] == CT_FLOAT16 || numeric[d] == CT_BFLOAT16;
    /* 16-bit floats: operands exact in both, quotients far from integers'
     * rounding edges matter less than the floor itself; keep them small */
    double lo = half ? 1 : 1, hi = half ? 8 : 50;
    check_binary(ct_floor_div, r_floordiv, numeric[d], numeric[d], s, 2, sb, 1, s, 2, lo, hi, 11 + d);
    check_binary(ct_floor_div, r_floordiv, numeric[d], numeric[d], s, 2, sb, 1, s, 2, -hi, -lo, 21 + d);
    if (!half) check_binary(ct_floor_mod, r_floormod, numeric[d], numeric[d], s, 2, sb, 1, s, 2, -hi, -lo, 31 + d);
  }
  /* integers: signs, exact quotients, INT_MIN / -1 wrapping */
  int64_t s8[1] = {8};
  double xi[8] = {7, -7, 7, -7, 0, -2147483648.0, -2147483648.0, 5};
  double yi[8] = {2, 2, -2, -2, 3, -1, 2, 7};
  double want_div[8] = {3, -4, -4, 3, 0, -2147483648.0, -1073741824, 0};
  double want_mod[8] = {1, 1, -1, -1, 0, 0, 0, 5};
  static const ct_dtype ints[] = {CT_INT32, CT_INT64};
  for (int k = 0; k < 2; k++) {
    ct_tensor *a = oh_make(ctx, ints[k], s8, 1, xi), *b = oh_make(ctx, ints[k], s8, 1, yi), *q = NULL, *r = NULL;
    CHECK_OK(ct_floor_div(ctx, a, b, &q));
    CHECK_OK(ct_floor_mod(ctx, a, b, &r));
    double *gq = oh_read(q), *gr = oh_read(r);
    for (int i = 0; i < 8; i++) {
      /* -2^31 // -1 wraps in int32 only */
      double w = (i == 5 && ints[k] == CT_INT64) ? 2147483648.0 : want_div[i];
      CHECK(gq[i] == w);
      CHECK(gr[i] == want_mod[i]);
    }
    free(gq), free(gr);
    ct_tensor_release(q), ct_tensor_release(r);
    /* a zero divisor anywhere is an error naming the op; nothing is made */
    double yz[8] = {2, 2, 0, 2, 2, 2, 2, 2};
    ct_tensor *z = oh_make(ctx, ints[k], s8, 1, yz);
    q = NULL;
    CHECK_ERR(ct_floor_div(ctx, a, z, &q), CT_INVALID_ARGUMENT, "floor_div: Integer division by zero");
    CHECK(q == NULL);
    CHECK_ERR(ct_floor_mod(ctx, a, z, &q), CT_INVALID_ARGUMENT, "floor_mod: Integer division by zero");
    /* ...unless there is no output to compute (as TensorFlow) */
    int64_t s0[2] = {0, 8};
    ct_tensor *e = oh_make(ctx, ints[k], s0, 2, xi);
    CHECK_OK(ct_floor_div(ctx, e, z, &q));
    CHECK_EQ_INT(ct_tensor_num_elements(q), 0);
    ct_tensor_release(q), ct_tensor_release(e), ct_tensor_release(z);
    ct_tensor_release(a), ct_tensor_release(b);
  }
  { /* INT64_MIN // -1 wraps too, and % -1 is 0 (x86 would trap on both) */
    int64_t s1[1] = {1};
    double m = -9223372036854775808.0, n1 = -1;
    ct_tensor *a = oh_make(ctx, CT_INT64, s1, 1, &m), *b = oh_make(ctx, CT_INT64, s1, 1, &n1), *q = NULL, *r = NULL;
    CHECK_OK(ct_floor_div(ctx, a, b, &q));
    CHECK_OK(ct_floor_mod(ctx, a, b, &r));
    int64_t gq = 0, gr = 1;
    CHECK_OK(ct_tensor_to_host(q, &gq, sizeof gq));
    CHECK_OK(ct_tensor_to_host(r, &gr, sizeof gr));
    CHECK(gq == INT64_MIN && gr == 0);
    ct_tensor_release(q), ct_tensor_release(r), ct_tensor_release(a), ct_tensor_release(b);
  }
  /* floats: infinities, NaN, signed zeros (compared bit for bit) */
  double xf[8] = {5.5, -5.5, 5.5, 0.0, -0.0, 1.0, INFINITY, 3.0};
  double yf[8] = {-2.0, 2.0, -INFINITY, -2.0, 2.0, 0.0, 2.0, -INFINITY};
  double wdiv[8] = {-3.0, -3.0, -0.0, -0.0, -0.0, INFINITY, INFINITY, -0.0};
  double wmod[8] = {-0.5, 0.5, -INFINITY, 0.0, -0.0, NAN, NAN, -INFINITY};
  for (int k = 0; k < 2; k++) {
    ct_dtype dt = k ? CT_FLOAT64 : CT_FLOAT32;
    ct_tensor *a = oh_make(ctx, dt, s8, 1, xf), *b = oh_make(ctx, dt, s8, 1, yf), *q = NULL, *r = NULL;
    CHECK_OK(ct_floor_div(ctx, a, b, &q));
    CHECK_OK(ct_floor_mod(ctx, a, b, &r));
    double *gq = oh_read(q), *gr = oh_read(r);
    for (int i = 0; i < 8; i++) {
      CHECK(oh_eq(gq[i], wdiv[i]) && signbit(gq[i]) == signbit(wdiv[i]));
      CHECK(oh_eq(gr[i], wmod[i]) && (isnan(wmod[i]) || signbit(gr[i]) == signbit(wmod[i])));
    }
    free(gq), free(gr);
    ct_tensor_release(q), ct_tensor_release(r), ct_tensor_release(a), ct_tensor_release(b);
  }
  /* bool is not a numeric dtype here either */
  double tb[2] = {1, 1};
  int64_t s2[1] = {2};
  ct_tensor *t = oh_make(ctx, CT_BOOL, s2, 1, tb), *o = NULL;
  CHECK_ERR(ct_floor_div(ctx, t, t, &o), CT_INVALID_ARGUMENT, "bool");
  ct_tensor_release(t);
}

TEST(comparisons_return_bool) {
  const binop fs[] = {ct_equal, ct_not_equal, ct_less, ct_less_equal, ct_greater, ct_greater_equal};
  const ref2 rs[] = {r_eq, r_ne, r_lt, r_le, r_gt, r_ge};
  int64_t s[2] = {4, 9}, row[1] = {9};
  for (size_t d = 0; d < 6; d++)
    for (size_t k = 0; k < 6; k++) {
      /* a narrow value range so that equal values occur */
      check_binary(fs[k], rs[k], numeric[d], CT_BOOL, s, 2, s, 2, s, 2, -2, 2, 10 + k);
      check_binary(fs[k], rs[k], numeric[d], CT_BOOL, s, 2, row, 1, s, 2, -2, 2, 20 + k);
    }
  check_binary(ct_equal, r_eq, CT_BOOL, CT_BOOL, s, 2, row, 1, s, 2, 0, 2, 30);
  check_binary(ct_not_equal, r_ne, CT_BOOL, CT_BOOL, s, 2, s, 2, s, 2, 0, 2, 31);
}

TEST(nan_semantics) {
  int64_t s[1] = {4};
  double a[4] = {NAN, 1, NAN, 2}, b[4] = {1, NAN, NAN, 3};
  for (int d = 0; d < 4; d++) {
    ct_tensor *ta = oh_make(ctx, numeric[d], s, 1, a), *tb = oh_make(ctx, numeric[d], s, 1, b), *o = NULL;
    /* maximum/minimum propagate NaN from either side, like NumPy */
    CHECK_OK(ct_maximum(ctx, ta, tb, &o));
    double *v = oh_read(o);
    CHECK(isnan(v[0]) && isnan(v[1]) && isnan(v[2]) && v[3] == 3);
    free(v);
    ct_tensor_release(o);
    CHECK_OK(ct_minimum(ctx, ta, tb, &o));
    v = oh_read(o);
    CHECK(isnan(v[0]) && isnan(v[1]) && isnan(v[2]) && v[3] == 2);
    free(v);
    ct_tensor_release(o);
    /* NaN compares unequal to everything, itself included */
    CHECK_OK(ct_equal(ctx, ta, ta, &o));
    v = oh_read(o);
    CHECK(v[0] == 0 && v[1] == 1 && v[2] == 0 && v[3] == 1);
    free(v);
    ct_tensor_release(o);
    CHECK_OK(ct_not_equal(ctx, ta, tb, &o));
    v = oh_read(o);
    CHECK(v[0] == 1 && v[1] == 1 && v[2] == 1 && v[3] == 1);
    free(v);
    ct_tensor_release(o);
    ct_tensor_release(ta);
    ct_tensor_release(tb);
  }
}

TEST(broadcasting) {
  struct {
    int ra, rb, ro;
    int64_t a[4], b[4], o[4];
  } cases[] = {
      {0, 2, 2, {0}, {3, 4}, {3, 4}},                /* scalar op tensor */
      {2, 0, 2, {3, 4}, {0}, {3, 4}},                /* tensor op scalar */
      {2, 1, 2, {3, 4}, {4}, {3, 4}},                /* rank mismatch, row */
      {2, 2, 2, {3, 1}, {1, 4}, {3, 4}},             /* both sides */
      {3, 2, 3, {2, 1, 5}, {3, 1}, {2, 3, 5}},       /* both sides, rank mismatch */
      {3, 3, 3, {1, 3, 1}, {2, 1, 5}, {2, 3, 5}},    /* outer and inner broadcast */
      {4, 1, 4, {2, 3, 1, 5}, {1}, {2, 3, 1, 5}},    /* size-1 axes everywhere */
      {1, 1, 1, {1}, {7}, {7}},
      {2, 2, 2, {0, 3}, {1, 3}, {0, 3}},             /* empty */
      {2, 1, 2, {2, 0}, {1}, {2, 0}},
      {1, 2, 2, {1}, {0, 1}, {0, 1}},
      {0, 0, 0, {0}, {0}, {0}},                      /* scalars */
      {3, 2, 3, {300, 1, 33}, {70, 1}, {300, 70, 33}}, /* large, threaded, inner runs */
      {2, 1, 2, {1024, 512}, {512}, {1024, 512}},    /* large row broadcast */
      {2, 2, 2, {1000, 1}, {1, 700}, {1000, 700}},   /* large outer product */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    check_binary(ct_add, r_add, CT_FLOAT32, CT_FLOAT32, cases[c].a, cases[c].ra, cases[c].b, cases[c].rb, cases[c].o,
                 cases[c].ro, -10, 10, 40 + c);
    check_binary(ct_sub, r_sub, CT_INT64, CT_INT64, cases[c].a, cases[c].ra, cases[c].b, cases[c].rb, cases[c].o,
                 cases[c].ro, -10, 10, 60 + c);
    check_binary(ct_less, r_lt, CT_FLOAT16, CT_BOOL, cases[c].a, cases[c].ra, cases[c].b, cases[c].rb, cases[c].o,
                 cases[c].ro, -10, 10, 80 + c);
  }
  int64_t big[1] = {1 << 20};
  check_binary(ct_add, r_add, CT_FLOAT32, CT_FLOAT32, big, 1, big, 1, big, 1, -10, 10, 99);
  check_binary(ct_mul, r_mul, CT_BFLOAT16, CT_BFLOAT16, big, 1, big, 0, big, 1, -10, 10, 98);
}

TEST(integer_wraparound) {
  int64_t s[1] = {3};
  int32_t a[3] = {INT32_MAX, INT32_MIN, 65536}, b[3] = {1, 1, 65536}, got[3];
  ct_tensor *ta = NULL, *tb = NULL, *o = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, s, 1, a, &ta));
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, s, 1, b, &tb));
  CHECK_OK(ct_add(ctx, ta, tb, &o));
  CHECK_OK(ct_tensor_to_host(o, got, sizeof got));
  CHECK(got[0] == INT32_MIN && got[1] == INT32_MIN + 1);
  ct_tensor_release(o);
  CHECK_OK(ct_sub(ctx, tb, ta, &o));
  CHECK_OK(ct_tensor_to_host(o, got, sizeof got));
  CHECK(got[0] == INT32_MIN + 2 && got[1] == INT32_MIN + 1);
  ct_tensor_release(o);
  CHECK_OK(ct_mul(ctx, ta, tb, &o));
  CHECK_OK(ct_tensor_to_host(o, got, sizeof got));
  CHECK(got[2] == 0); /* 2^32 wraps to 0 */
  ct_tensor_release(o);
  CHECK_OK(ct_neg(ctx, ta, &o));
  CHECK_OK(ct_tensor_to_host(o, got, sizeof got));
  CHECK(got[0] == -INT32_MAX && got[1] == INT32_MIN && got[2] == -65536);
  ct_tensor_release(o);
  CHECK_OK(ct_abs(ctx, ta, &o));
  CHECK_OK(ct_tensor_to_host(o, got, sizeof got));
  CHECK(got[0] == INT32_MAX && got[1] == INT32_MIN && got[2] == 65536);
  ct_tensor_release(o);
  ct_tensor_release(ta);
  ct_tensor_release(tb);
}

static double r_neg(double x) { return -x; }
static double r_abs(double x) { return fabs(x); }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_relu(double x) { return x < 0 ? 0 : x; }

static void check_unary(unop f, ref1 ref, ct_dtype dt, double lo, double hi, int64_t n, uint64_t seed) {
  int64_t s[1] = {n};
  double *v = malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    v[i] = oh_round(dt, oh_rand(&seed, lo, hi));
    if (dt == CT_INT32 || dt == CT_INT64) v[i] = trunc(v[i]);
  }
  ct_tensor *x = oh_make(ctx, dt, s, 1, v), *o = NULL;
  CHECK_OK(f(ctx, x, &o));
  if (o) {
    CHECK(oh_same_shape(o, s, 1));
    CHECK_EQ_INT(ct_tensor_dtype(o), dt);
    double *got = oh_read(o);
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 5; i++) {
      double want = oh_round(dt, ref(v[i]));
      double tol = oh_tol(dt) * 2 * fabs(want) + (dt == CT_FLOAT16 || dt == CT_BFLOAT16 ? 1e-4 : 1e-30);
      if (!(oh_eq(got[i], want) || fabs(got[i] - want) <= tol)) {
        bad++;
        CHECK(fabs(got[i] - want) <= tol);
        fprintf(stderr, "  %s: f(%.9g) = %.9g, want %.9g\n", ct_dtype_name(dt), v[i], got[i], want);
      }
    }
    free(got);
  }
  ct_tensor_release(x);
  ct_tensor_release(o);
  free(v);
}

TEST(unary_values) {
  for (int d = 0; d < 6; d++) {
    check_unary(ct_neg, r_neg, numeric[d], -100, 100, 1000, 1);
    check_unary(ct_abs, r_abs, numeric[d], -100, 100, 1000, 2);
    check_unary(ct_relu, r_relu, numeric[d], -100, 100, 1000, 3);
  }
  for (int d = 0; d < 4; d++) {
    check_unary(ct_exp, exp, numeric[d], -10, 10, 1000, 4);
    check_unary(ct_log, log, numeric[d], 1e-3, 1e3, 1000, 5);
    check_unary(ct_sqrt, sqrt, numeric[d], 0, 1e4, 1000, 6);
    check_unary(ct_tanh, tanh, numeric[d], -5, 5, 1000, 7);
    check_unary(ct_sigmoid, r_sigmoid, numeric[d], -30, 30, 1000, 8);
  }
  /* large enough to be split over threads */
  check_unary(ct_exp, exp, CT_FLOAT32, -5, 5, 300000, 9);
  check_unary(ct_neg, r_neg, CT_FLOAT16, -5, 5, 300000, 10);
}

TEST(unary_special_values) {
  int64_t s[1] = {6};
  double v[6] = {0, -0.0, INFINITY, -INFINITY, NAN, -1};
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, s, 1, v), *o = NULL;
  double *g;
  CHECK_OK(ct_sigmoid(ctx, x, &o));
  g = oh_read(o);
  CHECK(g[0] == 0.5 && g[2] == 1 && g[3] == 0 && isnan(g[4]));
  free(g);
  ct_tensor_release(o);
  CHECK_OK(ct_log(ctx, x, &o));
  g = oh_read(o);
  CHECK(isinf(g[0]) && g[0] < 0 && isinf(g[2]) && isnan(g[4]) && isnan(g[5]));
  free(g);
  ct_tensor_release(o);
  CHECK_OK(ct_sqrt(ctx, x, &o));
  g = oh_read(o);
  CHECK(g[0] == 0 && isinf(g[2]) && isnan(g[5]));
  free(g);
  ct_tensor_release(o);
  CHECK_OK(ct_relu(ctx, x, &o));
  g = oh_read(o);
  CHECK(g[2] == INFINITY && g[3] == 0 && isnan(g[4]) && g[5] == 0);
  free(g);
  ct_tensor_release(o);
  CHECK_OK(ct_exp(ctx, x, &o));
  g = oh_read(o);
  CHECK(g[0] == 1 && isinf(g[2]) && g[3] == 0 && isnan(g[4]));
  free(g);
  ct_tensor_release(o);
  ct_tensor_release(x);
  /* empty and scalar inputs keep their shape */
  int64_t e[2] = {0, 5};
  x = oh_make(ctx, CT_FLOAT64, e, 2, v);
  CHECK_OK(ct_tanh(ctx, x, &o));
  CHECK(oh_same_shape(o, e, 2));
  ct_tensor_release(o);
  ct_tensor_release(x);
  double three = 3;
  x = oh_make(ctx, CT_BFLOAT16, NULL, 0, &three);
  CHECK_OK(ct_neg(ctx, x, &o));
  CHECK(ct_tensor_rank(o) == 0);
  g = oh_read(o);
  CHECK(g[0] == -3);
  free(g);
  ct_tensor_release(o);
  ct_tensor_release(x);
}

TEST(cast_rules) {
  int64_t s[1] = {9};
  double v[9] = {2.7, -2.7, 1e20, -1e20, NAN, 0.5, 0, -0.0, 65520};
  ct_tensor *x = oh_make(ctx, CT_FLOAT64, s, 1, v), *o = NULL;
  /* float -> int: truncate toward zero, saturate, NaN -> 0 */
  CHECK_OK(ct_cast(ctx, x, CT_INT32, &o));
  int32_t i32[9];
  CHECK_OK(ct_tensor_to_host(o, i32, sizeof i32));
  CHECK(i32[0] == 2 && i32[1] == -2 && i32[2] == INT32_MAX && i32[3] == INT32_MIN && i32[4] == 0 && i32[5] == 0);
  ct_tensor_release(o);
  CHECK_OK(ct_cast(ctx, x, CT_INT64, &o));
  int64_t i64[9];
  CHECK_OK(ct_tensor_to_host(o, i64, sizeof i64));
  CHECK(i64[0] == 2 && i64[1] == -2 && i64[2] == INT64_MAX && i64[3] == INT64_MIN && i64[4] == 0);
  ct_tensor_release(o);
  /* anything -> bool is x != 0, NaN included */
  CHECK_OK(ct_cast(ctx, x, CT_BOOL, &o));
  unsigned char b[9];
  CHECK_OK(ct_tensor_to_host(o, b, sizeof b));
  CHECK(b[0] == 1 && b[1] == 1 && b[4] == 1 && b[5] == 1 && b[6] == 0 && b[7] == 0);
  ct_tensor_release(o);
  /* 16-bit floats round to nearest even; 65520 overflows half to inf */
  CHECK_OK(ct_cast(ctx, x, CT_FLOAT16, &o));
  double *g = oh_read(o);
  CHECK(g[0] == (double)ct_half_to_float(ct_float_to_half(2.7f)) && isinf(g[2]) && isnan(g[4]) && isinf(g[8]));
  CHECK(signbit(g[7]));
  free(g);
  ct_tensor_release(o);
  CHECK_OK(ct_cast(ctx, x, CT_BFLOAT16, &o));
  g = oh_read(o);
  CHECK(g[0] == (double)ct_bfloat16_to_float(ct_float_to_bfloat16(2.7f)) && g[8] == 65536 && isnan(g[4]));
  free(g);
  ct_tensor_release(o);
  ct_tensor_release(x);
  /* int64 -> int32 keeps the low 32 bits; int -> float rounds */
  int64_t big[2] = {((int64_t)1 << 32) + 5, ((int64_t)1 << 53) + 1};
  int64_t s2[1] = {2};
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT64, s2, 1, big, &x));
  CHECK_OK(ct_cast(ctx, x, CT_INT32, &o));
  CHECK_OK(ct_tensor_to_host(o, i32, 2 * sizeof(int32_t)));
  CHECK(i32[0] == 5 && i32[1] == 1);
  ct_tensor_release(o);
  CHECK_OK(ct_cast(ctx, x, CT_FLOAT64, &o));
  double d2[2];
  CHECK_OK(ct_tensor_to_host(o, d2, sizeof d2));
  CHECK(d2[0] == 4294967301.0 && d2[1] == 9007199254740992.0);
  ct_tensor_release(o);
  ct_tensor_release(x);
}

TEST(cast_every_pair_roundtrips_small_integers) {
  int64_t s[2] = {2, 3};
  double v[6] = {0, 1, 2, 3, 100, 7};
  double vb[6] = {0, 1, 1, 0, 1, 1};
  for (int from = 0; from < CT_DTYPE_COUNT; from++)
    for (int to = 0; to < CT_DTYPE_COUNT; to++) {
      const double *src = (from == CT_BOOL || to == CT_BOOL) ? vb : v;
      ct_tensor *x = oh_make(ctx, (ct_dtype)from, s, 2, src), *o = NULL;
      CHECK_OK(ct_cast(ctx, x, (ct_dtype)to, &o));
      if (o) {
        CHECK_EQ_INT(ct_tensor_dtype(o), to);
        CHECK(oh_same_shape(o, s, 2));
        double *g = oh_read(o);
        for (int i = 0; i < 6; i++) CHECK(g[i] == src[i]);
        free(g);
      }
      ct_tensor_release(o);
      ct_tensor_release(x);
    }
  /* a large cast, split over threads */
  int64_t n[1] = {400000};
  double *big = malloc(400000 * sizeof(double));
  for (int i = 0; i < 400000; i++) big[i] = i - 200000;
  ct_tensor *x = oh_make(ctx, CT_INT32, n, 1, big), *o = NULL;
  CHECK_OK(ct_cast(ctx, x, CT_FLOAT32, &o));
  double *g = oh_read(o);
  int bad = 0;
  for (int i = 0; i < 400000; i++) bad += g[i] != big[i];
  CHECK_EQ_INT(bad, 0);
  free(g);
  free(big);
  ct_tensor_release(o);
  ct_tensor_release(x);
}

TEST(errors) {
  int64_t s23[2] = {2, 3}, s43[2] = {4, 3};
  double z[12] = {0};
  ct_tensor *f23 = oh_make(ctx, CT_FLOAT32, s23, 2, z), *f43 = oh_make(ctx, CT_FLOAT32, s43, 2, z);
  ct_tensor *i23 = oh_make(ctx, CT_INT32, s23, 2, z), *b23 = oh_make(ctx, CT_BOOL, s23, 2, z);
  ct_tensor *o = NULL;
  CHECK_ERR(ct_add(ctx, f23, f43, &o), CT_INVALID_ARGUMENT, "add: shapes [2,3] and [4,3] are not broadcastable");
  CHECK_ERR(ct_less(ctx, f43, f23, &o), CT_INVALID_ARGUMENT, "less: shapes [4,3] and [2,3] are not broadcastable");
  CHECK_ERR(ct_add(ctx, f23, i23, &o), CT_INVALID_ARGUMENT, "add: dtypes differ: float32 and int32");
  CHECK_ERR(ct_equal(ctx, i23, b23, &o), CT_INVALID_ARGUMENT, "equal: dtypes differ: int32 and bool");
  CHECK_ERR(ct_mul(ctx, b23, b23, &o), CT_INVALID_ARGUMENT,
            "mul: dtype bool is not supported (expected float32, float64, float16, bfloat16, int32 or int64)");
  CHECK_ERR(ct_greater(ctx, b23, b23, &o), CT_INVALID_ARGUMENT, "greater: dtype bool is not supported");
  CHECK_ERR(ct_sqrt(ctx, i23, &o), CT_INVALID_ARGUMENT,
            "sqrt: dtype int32 is not supported (expected float32, float64, float16 or bfloat16)");
  CHECK_ERR(ct_exp(ctx, b23, &o), CT_INVALID_ARGUMENT, "exp: dtype bool is not supported");
  CHECK_ERR(ct_neg(ctx, b23, &o), CT_INVALID_ARGUMENT, "neg: dtype bool is not supported");
  CHECK_ERR(ct_cast(ctx, f23, (ct_dtype)9, &o), CT_INVALID_ARGUMENT, "cast: invalid dtype 9");
  CHECK_ERR(ct_add(NULL, f23, f23, &o), CT_INVALID_ARGUMENT, "add: NULL context");
  CHECK_ERR(ct_add(ctx, f23, NULL, &o), CT_INVALID_ARGUMENT, "add: NULL b");
  CHECK_ERR(ct_add(ctx, f23, f23, NULL), CT_INVALID_ARGUMENT, "add: NULL out");
  CHECK_ERR(ct_tanh(ctx, NULL, &o), CT_INVALID_ARGUMENT, "tanh: NULL x");
  CHECK_ERR(ct_cast(ctx, NULL, CT_INT32, &o), CT_INVALID_ARGUMENT, "cast: NULL x");
  CHECK(o == NULL); /* failed calls write no output */
  ct_tensor_release(f23);
  ct_tensor_release(f43);
  ct_tensor_release(i23);
  ct_tensor_release(b23);
}

TEST(result_lives_on_cpu) {
  int64_t s[1] = {2};
  double v[2] = {1, 2};
  ct_tensor *a = oh_make(ctx, CT_FLOAT32, s, 1, v), *o = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK_OK(ct_add(ctx, a, a, &o));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_EQ_STR(ct_tensor_device(o), "/job:localhost/replica:0/task:0/device:CPU:0");
  ct_tensor_release(o);
  ct_tensor_release(a);
}

int main(void) {
  CHECK_OK(ct_context_new(&ctx));
  RUN(arithmetic_every_dtype_same_shape);
  RUN(div_floats_and_integer_true_division);
  RUN(pow_floats_and_integers);
  RUN(floor_div_and_mod);
  RUN(comparisons_return_bool);
  RUN(nan_semantics);
  RUN(broadcasting);
  RUN(integer_wraparound);
  RUN(unary_values);
  RUN(unary_special_values);
  RUN(cast_rules);
  RUN(cast_every_pair_roundtrips_small_integers);
  RUN(errors);
  RUN(result_lives_on_cpu);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
