/* Reductions (sum mean max min over axis sets, keepdims), argmax and
 * softmax: values against a float64 reference, shapes, empty inputs, NaN,
 * and every error path. */
#include <math.h>
#include <stdint.h>

#include "ops_helpers.h"

static ct_context *ctx;

typedef ct_status (*redop)(ct_context *, const ct_tensor *, const int *, int, bool, ct_tensor **);
enum { SUM, MEAN, MAX, MIN };
static const redop redops[] = {ct_reduce_sum, ct_reduce_mean, ct_reduce_max, ct_reduce_min};
static const char *const rednames[] = {"sum", "mean", "max", "min"};
static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};

/* Reduces v (shape, rank) over the axes marked in red[] in float64 and
 * writes the expected result for dtype dt into want (output order). */
static void reference(int kind, ct_dtype dt, const double *v, const int64_t *shape, int rank, const bool *red,
                      double *want, int64_t nout) {
  int64_t n = 1, count = 1;
  for (int i = 0; i < rank; i++) {
    n *= shape[i];
    if (red[i]) count *= shape[i];
  }
  bool integer = dt == CT_INT32 || dt == CT_INT64;
  for (int64_t o = 0; o < nout; o++)
    want[o] = kind == MAX ? -INFINITY : kind == MIN ? INFINITY : 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, o = 0, ostride = 1;
    for (int d = rank - 1; d >= 0; d--) {
      int64_t c = rem % shape[d];
      rem /= shape[d];
      if (!red[d]) {
        o += c * ostride;
        ostride *= shape[d];
      }
    }
    double x = v[i];
    if (kind == MAX) want[o] = (x != x || x > want[o]) ? x : want[o];
    else if (kind == MIN) want[o] = (x != x || x < want[o]) ? x : want[o];
    else want[o] += x;
  }
  for (int64_t o = 0; o < nout; o++) {
    if (kind == MEAN) want[o] = integer ? trunc(want[o] / (double)count) : want[o] / (double)count;
    if (count == 0 && integer) { /* TensorFlow's identities: lowest, highest, 0 */
      if (kind == MAX) want[o] = dt == CT_INT32 ? (double)INT32_MIN : (double)INT64_MIN;
      if (kind == MIN) want[o] = dt == CT_INT32 ? (double)INT32_MAX : (double)INT64_MAX;
      if (kind == MEAN) want[o] = 0;
      continue;
    }
    want[o] = oh_round(dt, want[o]);
  }
}

static void check_reduce(int kind, ct_dtype dt, const int64_t *shape, int rank, const int *axes, int n_axes,
                         bool keepdims, uint64_t seed) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  double *v = malloc((size_t)(n + 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) v[i] = oh_round(dt, floor(oh_rand(&seed, -100, 100)));
  bool red[CT_MAX_RANK] = {false};
  if (axes == NULL)
    for (int i = 0; i < rank; i++) red[i] = true;
  else
    for (int k = 0; k < n_axes; k++) red[axes[k] < 0 ? axes[k] + rank : axes[k]] = true;
  int64_t oshape[CT_MAX_RANK], nout = 1;
  int orank = 0;
  for (int i = 0; i < rank; i++) {
    if (!red[i]) {
      oshape[orank++] = shape[i];
      nout *= shape[i];
    } else if (keepdims) {
      oshape[orank++] = 1;
    }
  }
  ct_tensor *x = oh_make(ctx, dt, shape, rank, v), *o = NULL;
  CHECK_OK(redops[kind](ctx, x, axes, n_axes, keepdims, &o));
  if (o) {
    CHECK(oh_same_shape(o, oshape, orank));
    CHECK_EQ_INT(ct_tensor_dtype(o), dt);
    double *want = malloc((size_t)(nout + 1) * sizeof(double));
    reference(kind, dt, v, shape, rank, red, want, nout);
    double *got = oh_read(o);
    int bad = 0;
    for (int64_t i = 0; i < nout && bad < 3; i++) {
      double tol = oh_tol(dt) * fabs(want[i]) + (dt == CT_FLOAT16 || dt == CT_BFLOAT16 ? 2 * oh_tol(dt) : 1e-9);
      if (!(oh_eq(got[i], want[i]) || fabs(got[i] - want[i]) <= tol)) {
        bad++;
        CHECK(fabs(got[i] - want[i]) <= tol);
        fprintf(stderr, "  reduce_%s %s rank %d element %lld: %.9g, want %.9g\n", rednames[kind], ct_dtype_name(dt),
                rank, (long long)i, got[i], want[i]);
      }
    }
    free(got);
    free(want);
  }
  ct_tensor_release(x);
  ct_tensor_release(o);
  free(v);
}

TEST(every_axis_subset_every_dtype) {
  int64_t shape[3] = {2, 3, 4};
  for (int kind = 0; kind < 4; kind++)
    for (int d = 0; d < 6; d++)
      for (int mask = 0; mask < 8; mask++) {
        int axes[3], n = 0;
        for (int a = 0; a < 3; a++)
          if (mask & (1 << a)) axes[n++] = a;
        check_reduce(kind, numeric[d], shape, 3, axes, n, false, 1 + mask);
        check_reduce(kind, numeric[d], shape, 3, axes, n, true, 2 + mask);
      }
}

TEST(axes_null_negative_and_repeated) {
  int64_t shape[4] = {3, 1, 5, 2};
  int neg[2] = {-1, -3}, rep[3] = {1, 1, -3}, all[4] = {0, 1, 2, 3};
  for (int kind = 0; kind < 4; kind++) {
    check_reduce(kind, CT_FLOAT64, shape, 4, NULL, 0, false, 3);
    check_reduce(kind, CT_FLOAT64, shape, 4, NULL, 0, true, 3);
    check_reduce(kind, CT_INT32, shape, 4, neg, 2, true, 4);
    check_reduce(kind, CT_FLOAT32, shape, 4, rep, 3, false, 5);
    check_reduce(kind, CT_INT64, shape, 4, all, 4, false, 6);
    check_reduce(kind, CT_FLOAT32, shape, 4, all, 0, false, 7); /* n_axes == 0: nothing reduced */
    check_reduce(kind, CT_FLOAT32, shape, 4, all + 1, 1, false, 7); /* only a size-1 axis */
  }
  /* a scalar: axes NULL reduces nothing and keeps rank 0 */
  double five = 5;
  ct_tensor *s = oh_make(ctx, CT_FLOAT32, NULL, 0, &five), *o = NULL;
  CHECK_OK(ct_reduce_mean(ctx, s, NULL, 0, true, &o));
  CHECK(ct_tensor_rank(o) == 0);
  double *g = oh_read(o);
  CHECK(g[0] == 5);
  free(g);
  ct_tensor_release(o);
  ct_tensor_release(s);
}

TEST(layouts_and_threads) {
  /* [R], [K,R], [R,K], [K,R,K], [R,K,R], each big enough for threads */
  int64_t big[1] = {1 << 20}, kr[2] = {600, 1000}, rk[2] = {1000, 600}, krk[3] = {30, 200, 100}, rkr[3] = {20, 300, 50};
  int a0[1] = {0}, a1[1] = {1}, a02[2] = {0, 2};
  for (int kind = 0; kind < 4; kind++) {
    check_reduce(kind, CT_FLOAT32, big, 1, NULL, 0, false, 8);
    check_reduce(kind, CT_FLOAT64, kr, 2, a1, 1, false, 9);
    check_reduce(kind, CT_INT32, rk, 2, a0, 1, true, 10);
    check_reduce(kind, CT_FLOAT32, krk, 3, a1, 1, false, 11);
    check_reduce(kind, CT_INT64, rkr, 3, a02, 2, false, 12);
    check_reduce(kind, CT_BFLOAT16, kr, 2, a0, 1, false, 13);
  }
}

TEST(float32_sum_accuracy) {
  /* 4M values whose exact sum is known: 0.1 rounded to float, times n */
  int64_t n = 1 << 22, s[1] = {n};
  float *h = malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; i++) h[i] = 0.1f;
  ct_tensor *x = NULL, *o = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, s, 1, h, &x));
  CHECK_OK(ct_reduce_sum(ctx, x, NULL, 0, false, &o));
  float got = 0;
  CHECK_OK(ct_tensor_to_host(o, &got, sizeof got));
  double exact = (double)0.1f * (double)n;
  CHECK_CLOSE(got, exact, 0, 1e-6); /* a naive float32 loop is off by ~2% here */
  ct_tensor_release(o);
  CHECK_OK(ct_reduce_mean(ctx, x, NULL, 0, false, &o));
  CHECK_OK(ct_tensor_to_host(o, &got, sizeof got));
  CHECK_CLOSE(got, 0.1f, 0, 1e-6);
  ct_tensor_release(o);
  ct_tensor_release(x);
  free(h);
}

TEST(integer_semantics) {
  int64_t s[1] = {2};
  int32_t v[2] = {-1, -2}, big[2] = {INT32_MAX, 1}, got = 0;
  ct_tensor *x = NULL, *o = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, s, 1, v, &x));
  CHECK_OK(ct_reduce_mean(ctx, x, NULL, 0, false, &o));
  CHECK_OK(ct_tensor_to_host(o, &got, sizeof got));
  CHECK_EQ_INT(got, -1); /* -1.5 truncated toward zero, as TensorFlow */
  ct_tensor_release(o);
  ct_tensor_release(x);
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, s, 1, big, &x));
  CHECK_OK(ct_reduce_sum(ctx, x, NULL, 0, false, &o));
  CHECK_OK(ct_tensor_to_host(o, &got, sizeof got));
  CHECK_EQ_INT(got, INT32_MIN); /* wraps */
  ct_tensor_release(o);
  ct_tensor_release(x);
}

TEST(empty_inputs_give_identities) {
  int64_t shape[2] = {0, 3};
  int a0[1] = {0}, a1[1] = {1};
  for (int kind = 0; kind < 4; kind++)
    for (int d = 0; d < 6; d++) {
      check_reduce(kind, numeric[d], shape, 2, a0, 1, false, 1); /* [3] of identities */
      check_reduce(kind, numeric[d], shape, 2, a1, 1, true, 1);  /* [0,1]: nothing */
      check_reduce(kind, numeric[d], shape, 2, NULL, 0, false, 1);
    }
  /* spelled out once */
  double dummy = 0;
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, shape, 2, &dummy), *o = NULL;
  CHECK_OK(ct_reduce_max(ctx, x, NULL, 0, false, &o));
  double *g = oh_read(o);
  CHECK(isinf(g[0]) && g[0] < 0);
  free(g);
  ct_tensor_release(o);
  CHECK_OK(ct_reduce_mean(ctx, x, NULL, 0, false, &o));
  g = oh_read(o);
  CHECK(isnan(g[0]));
  free(g);
  ct_tensor_release(o);
  ct_tensor_release(x);
}

TEST(nan_propagates) {
  int64_t s[2] = {2, 3};
  double v[6] = {1, NAN, 3, 4, 5, 6};
  int a1[1] = {1}, a0[1] = {0};
  for (int d = 0; d < 4; d++) {
    ct_tensor *x = oh_make(ctx, numeric[d], s, 2, v), *o = NULL;
    for (int kind = 0; kind < 4; kind++) {
      CHECK_OK(redops[kind](ctx, x, a1, 1, false, &o));
      double *g = oh_read(o);
      CHECK(isnan(g[0]) && !isnan(g[1]));
      free(g);
      ct_tensor_release(o);
      CHECK_OK(redops[kind](ctx, x, a0, 1, false, &o));
      g = oh_read(o);
      CHECK(!isnan(g[0]) && isnan(g[1]) && !isnan(g[2]));
      free(g);
      ct_tensor_release(o);
    }
    ct_tensor_release(x);
  }
}

TEST(argmax_values) {
  int64_t s[3] = {2, 3, 4};
  double v[24];
  uint64_t seed = 77;
  for (int i = 0; i < 24; i++) v[i] = floor(oh_rand(&seed, 0, 5)); /* ties on purpose */
  const ct_dtype dts[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64, CT_BOOL};
  for (int d = 0; d < 7; d++)
    for (int axis = -3; axis < 3; axis++) {
      int ax = axis < 0 ? axis + 3 : axis;
      ct_tensor *x = oh_make(ctx, dts[d], s, 3, v), *o = NULL;
      ct_dtype odt = axis & 1 ? CT_INT32 : CT_INT64;
      CHECK_OK(ct_argmax(ctx, x, axis, odt, &o));
      if (o) {
        CHECK_EQ_INT(ct_tensor_dtype(o), odt);
        CHECK_EQ_INT(ct_tensor_rank(o), 2);
        double *g = oh_read(o);
        int64_t outer = 1, inner = 1, len = s[ax];
        for (int i = 0; i < ax; i++) outer *= s[i];
        for (int i = ax + 1; i < 3; i++) inner *= s[i];
        for (int64_t a = 0; a < outer; a++)
          for (int64_t c = 0; c < inner; c++) {
            int64_t best = 0;
            double bv = oh_round(dts[d], v[a * len * inner + c]);
            for (int64_t l = 1; l < len; l++) {
              double x2 = oh_round(dts[d], v[(a * len + l) * inner + c]);
              if (x2 > bv) {
                bv = x2;
                best = l;
              }
            }
            CHECK_EQ_INT(g[a * inner + c], best);
          }
        free(g);
      }
      ct_tensor_release(o);
      ct_tensor_release(x);
    }
  /* the first NaN is the maximum (NumPy); a large tensor over threads */
  int64_t s1[1] = {5};
  double nv[5] = {1, 9, NAN, 9, NAN};
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, s1, 1, nv), *o = NULL;
  int64_t idx = -1;
  CHECK_OK(ct_argmax(ctx, x, 0, CT_INT64, &o));
  CHECK_OK(ct_tensor_to_host(o, &idx, sizeof idx));
  CHECK_EQ_INT(idx, 2);
  ct_tensor_release(o);
  ct_tensor_release(x);
  int64_t sb[2] = {4000, 300};
  double *bv = malloc(4000 * 300 * sizeof(double));
  for (int i = 0; i < 4000 * 300; i++) bv[i] = (i % 300 == (i / 300) % 300) ? 2 : 1;
  x = oh_make(ctx, CT_FLOAT32, sb, 2, bv);
  CHECK_OK(ct_argmax(ctx, x, 1, CT_INT32, &o));
  double *g = oh_read(o);
  int bad = 0;
  for (int i = 0; i < 4000; i++) bad += g[i] != i % 300;
  CHECK_EQ_INT(bad, 0);
  free(g);
  free(bv);
  ct_tensor_release(o);
  ct_tensor_release(x);
}

static void check_softmax(ct_dtype dt, const int64_t *s, int rank, int axis, double lo, double hi) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= s[i];
  double *v = malloc((size_t)n * sizeof(double)), *want = malloc((size_t)n * sizeof(double));
  uint64_t seed = 5;
  for (int64_t i = 0; i < n; i++) v[i] = oh_round(dt, oh_rand(&seed, lo, hi));
  int ax = axis < 0 ? axis + rank : axis;
  int64_t outer = 1, inner = 1, len = s[ax];
  for (int i = 0; i < ax; i++) outer *= s[i];
  for (int i = ax + 1; i < rank; i++) inner *= s[i];
  for (int64_t a = 0; a < outer; a++)
    for (int64_t c = 0; c < inner; c++) {
      double m = -INFINITY, sum = 0;
      for (int64_t l = 0; l < len; l++) m = fmax(m, v[(a * len + l) * inner + c]);
      for (int64_t l = 0; l < len; l++) sum += exp(v[(a * len + l) * inner + c] - m);
      for (int64_t l = 0; l < len; l++)
        want[(a * len + l) * inner + c] = exp(v[(a * len + l) * inner + c] - m) / sum;
    }
  ct_tensor *x = oh_make(ctx, dt, s, rank, v), *o = NULL;
  CHECK_OK(ct_softmax(ctx, x, axis, &o));
  if (o) {
    CHECK(oh_same_shape(o, s, rank));
    double *g = oh_read(o);
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 3; i++) {
      double tol = 2 * oh_tol(dt) * want[i] + 1e-12;
      if (!(fabs(g[i] - want[i]) <= tol)) {
        bad++;
        CHECK(fabs(g[i] - want[i]) <= tol);
        fprintf(stderr, "  softmax %s axis %d element %lld: %.9g want %.9g\n", ct_dtype_name(dt), axis, (long long)i,
                g[i], want[i]);
      }
    }
    free(g);
  }
  ct_tensor_release(o);
  ct_tensor_release(x);
  free(v);
  free(want);
}

TEST(softmax_values) {
  int64_t s[3] = {3, 4, 5};
  for (int d = 0; d < 4; d++)
    for (int axis = -3; axis < 3; axis++) check_softmax(numeric[d], s, 3, axis, -3, 3);
  /* large logits do not overflow: the max is subtracted first */
  int64_t row[2] = {2, 6};
  check_softmax(CT_FLOAT32, row, 2, -1, 1000, 1010);
  check_softmax(CT_FLOAT64, row, 2, 0, -1010, -1000);
  int64_t big[2] = {5000, 64};
  check_softmax(CT_FLOAT32, big, 2, 1, -5, 5);
  check_softmax(CT_FLOAT32, big, 2, 0, -5, 5);
  /* -inf logits get probability 0 */
  int64_t s3[1] = {3};
  double v[3] = {-INFINITY, 0, 0};
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, s3, 1, v), *o = NULL;
  CHECK_OK(ct_softmax(ctx, x, 0, &o));
  double *g = oh_read(o);
  CHECK(g[0] == 0 && g[1] == 0.5 && g[2] == 0.5);
  free(g);
  ct_tensor_release(o);
  ct_tensor_release(x);
}

TEST(errors) {
  int64_t s[3] = {2, 3, 4}, e[2] = {0, 3};
  double z[24] = {0};
  ct_tensor *f = oh_make(ctx, CT_FLOAT32, s, 3, z), *b = oh_make(ctx, CT_BOOL, s, 3, z);
  ct_tensor *i = oh_make(ctx, CT_INT32, s, 3, z), *empty = oh_make(ctx, CT_FLOAT32, e, 2, z);
  double one = 1;
  ct_tensor *scalar = oh_make(ctx, CT_FLOAT32, NULL, 0, &one);
  ct_tensor *o = NULL;
  int bad_axis[2] = {0, 3}, neg_axis[1] = {-4};
  CHECK_ERR(ct_reduce_sum(ctx, f, bad_axis, 2, false, &o), CT_INVALID_ARGUMENT,
            "reduce_sum: axis 3 is out of range for shape [2,3,4] (rank 3)");
  CHECK_ERR(ct_reduce_max(ctx, f, neg_axis, 1, true, &o), CT_INVALID_ARGUMENT,
            "reduce_max: axis -4 is out of range for shape [2,3,4] (rank 3)");
  CHECK_ERR(ct_reduce_mean(ctx, scalar, bad_axis, 1, false, &o), CT_INVALID_ARGUMENT,
            "reduce_mean: axis 0 is out of range for shape [] (rank 0)");
  CHECK_ERR(ct_reduce_min(ctx, f, bad_axis, -1, false, &o), CT_INVALID_ARGUMENT, "reduce_min: n_axes is negative (-1)");
  CHECK_ERR(ct_reduce_sum(ctx, b, NULL, 0, false, &o), CT_INVALID_ARGUMENT,
            "reduce_sum: dtype bool is not supported (expected float32, float64, float16, bfloat16, int32 or int64)");
  CHECK_ERR(ct_reduce_sum(NULL, f, NULL, 0, false, &o), CT_INVALID_ARGUMENT, "reduce_sum: NULL context");
  CHECK_ERR(ct_reduce_sum(ctx, f, NULL, 0, false, NULL), CT_INVALID_ARGUMENT, "reduce_sum: NULL out");
  CHECK_ERR(ct_argmax(ctx, f, 3, CT_INT64, &o), CT_INVALID_ARGUMENT,
            "argmax: axis 3 is out of range for shape [2,3,4] (rank 3)");
  CHECK_ERR(ct_argmax(ctx, scalar, 0, CT_INT64, &o), CT_INVALID_ARGUMENT, "argmax: axis 0 is out of range for shape []");
  CHECK_ERR(ct_argmax(ctx, f, 0, CT_FLOAT32, &o), CT_INVALID_ARGUMENT,
            "argmax: output dtype must be int32 or int64, not float32");
  CHECK_ERR(ct_argmax(ctx, empty, 0, CT_INT64, &o), CT_INVALID_ARGUMENT,
            "argmax: reduction axis 0 is empty in shape [0,3]");
  CHECK_ERR(ct_argmax(ctx, NULL, 0, CT_INT64, &o), CT_INVALID_ARGUMENT, "argmax: NULL x");
  CHECK_ERR(ct_softmax(ctx, i, -1, &o), CT_INVALID_ARGUMENT,
            "softmax: dtype int32 is not supported (expected float32, float64, float16 or bfloat16)");
  CHECK_ERR(ct_softmax(ctx, scalar, 0, &o), CT_INVALID_ARGUMENT, "softmax: logits must have at least 1 dimension");
  CHECK_ERR(ct_softmax(ctx, f, -4, &o), CT_INVALID_ARGUMENT, "softmax: axis -4 is out of range for shape [2,3,4]");
  CHECK(o == NULL);
  /* argmax over a non-empty axis of an empty tensor is an empty result */
  CHECK_OK(ct_argmax(ctx, empty, 1, CT_INT32, &o));
  CHECK_EQ_INT(ct_tensor_num_elements(o), 0);
  ct_tensor_release(o);
  CHECK_OK(ct_softmax(ctx, empty, 0, &o));
  CHECK(oh_same_shape(o, e, 2));
  ct_tensor_release(o);
  ct_tensor_release(f);
  ct_tensor_release(b);
  ct_tensor_release(i);
  ct_tensor_release(empty);
  ct_tensor_release(scalar);
}

int main(void) {
  CHECK_OK(ct_context_new(&ctx));
  RUN(every_axis_subset_every_dtype);
  RUN(axes_null_negative_and_repeated);
  RUN(layouts_and_threads);
  RUN(float32_sum_accuracy);
  RUN(integer_semantics);
  RUN(empty_inputs_give_identities);
  RUN(nan_propagates);
  RUN(argmax_values);
  RUN(softmax_values);
  RUN(errors);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
