/* Creation ops: fill, zeros, ones, range — values in every dtype, shapes,
 * conversion of the value, and every error path. */
#include <math.h>
#include <stdint.h>

#include "ops_helpers.h"

static ct_context *ctx;

TEST(fill_every_dtype) {
  int64_t s[3] = {2, 3, 5};
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    ct_tensor *t = NULL;
    CHECK_OK(ct_fill(ctx, (ct_dtype)d, s, 3, 3.0, &t));
    if (!t) continue;
    CHECK_EQ_INT(ct_tensor_dtype(t), d);
    CHECK(oh_same_shape(t, s, 3));
    double *v = oh_read(t);
    double want = d == CT_BOOL ? 1 : 3;
    for (int i = 0; i < 30; i++) CHECK(v[i] == want);
    free(v);
    ct_tensor_release(t);
    CHECK_OK(ct_zeros(ctx, (ct_dtype)d, s, 2, &t));
    v = oh_read(t);
    for (int i = 0; i < 6; i++) CHECK(v[i] == 0 && !signbit(v[i]));
    free(v);
    ct_tensor_release(t);
    CHECK_OK(ct_ones(ctx, (ct_dtype)d, s + 1, 2, &t));
    v = oh_read(t);
    for (int i = 0; i < 15; i++) CHECK(v[i] == 1);
    free(v);
    ct_tensor_release(t);
  }
}

TEST(fill_value_conversion) {
  int64_t s[1] = {1};
  struct {
    ct_dtype dt;
    double value, want;
  } cases[] = {
      {CT_INT32, 2.7, 2},           {CT_INT32, -2.7, -2},        {CT_INT32, 1e20, INT32_MAX},
      {CT_INT32, -1e20, INT32_MIN}, {CT_INT32, NAN, 0},          {CT_INT64, 1e30, 9223372036854775807.0},
      {CT_BOOL, 0.5, 1},            {CT_BOOL, 0, 0},             {CT_BOOL, NAN, 1},
      {CT_FLOAT16, 1e6, INFINITY},  {CT_FLOAT32, 0.1, (double)0.1f},
      {CT_BFLOAT16, 3.14159, (double)ct_bfloat16_to_float(ct_float_to_bfloat16(3.14159f))},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ct_tensor *t = NULL;
    CHECK_OK(ct_fill(ctx, cases[c].dt, s, 1, cases[c].value, &t));
    double *v = oh_read(t);
    if (!oh_eq(v[0], cases[c].want)) {
      CHECK(oh_eq(v[0], cases[c].want));
      fprintf(stderr, "  fill %s with %g gave %.17g, want %.17g\n", ct_dtype_name(cases[c].dt), cases[c].value, v[0],
              cases[c].want);
    }
    free(v);
    ct_tensor_release(t);
  }
  /* NaN fills floats */
  ct_tensor *t = NULL;
  CHECK_OK(ct_fill(ctx, CT_FLOAT64, s, 1, NAN, &t));
  double *v = oh_read(t);
  CHECK(isnan(v[0]));
  free(v);
  ct_tensor_release(t);
}

TEST(fill_shapes) {
  ct_tensor *t = NULL;
  CHECK_OK(ct_fill(ctx, CT_FLOAT32, NULL, 0, 7, &t)); /* scalar */
  CHECK_EQ_INT(ct_tensor_rank(t), 0);
  CHECK_EQ_INT(ct_tensor_num_elements(t), 1);
  float f = 0;
  CHECK_OK(ct_tensor_to_host(t, &f, sizeof f));
  CHECK(f == 7);
  ct_tensor_release(t);
  int64_t empty[2] = {4, 0};
  CHECK_OK(ct_zeros(ctx, CT_INT64, empty, 2, &t));
  CHECK(oh_same_shape(t, empty, 2));
  CHECK_EQ_INT(ct_tensor_num_elements(t), 0);
  ct_tensor_release(t);
  /* large: split over threads, every element written */
  int64_t big[2] = {1024, 1027};
  CHECK_OK(ct_fill(ctx, CT_FLOAT16, big, 2, -1.5, &t));
  double *v = oh_read(t);
  int bad = 0;
  for (int64_t i = 0; i < 1024 * 1027; i++) bad += v[i] != -1.5;
  CHECK_EQ_INT(bad, 0);
  free(v);
  ct_tensor_release(t);
}

static void check_range(ct_dtype dt, double start, double limit, double delta, int64_t n) {
  ct_tensor *t = NULL;
  CHECK_OK(ct_range(ctx, dt, start, limit, delta, &t));
  if (!t) return;
  CHECK_EQ_INT(ct_tensor_rank(t), 1);
  CHECK_EQ_INT(ct_tensor_num_elements(t), n);
  CHECK_EQ_INT(ct_tensor_dtype(t), dt);
  double *v = oh_read(t);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; i++) {
    double want = oh_round(dt, start + (double)i * delta);
    if (v[i] != want) {
      bad++;
      CHECK(v[i] == want);
      fprintf(stderr, "  range %s (%g, %g, %g)[%lld] = %.17g, want %.17g\n", ct_dtype_name(dt), start, limit, delta,
              (long long)i, v[i], want);
    }
  }
  free(v);
  ct_tensor_release(t);
}

TEST(range_values) {
  check_range(CT_FLOAT32, 0, 5, 1, 5);
  check_range(CT_INT32, 0, 5, 1, 5);
  check_range(CT_INT64, 3, 18, 3, 5);       /* limit excluded */
  check_range(CT_INT64, 3, 19, 3, 6);       /* ceil */
  check_range(CT_INT32, 10, -10, -3, 7);    /* negative delta */
  check_range(CT_FLOAT64, 0, 1, 0.1, 10);   /* ceil(1/0.1) = 10 */
  check_range(CT_FLOAT32, 1, 2.05, 0.25, 5);
  check_range(CT_FLOAT16, -2, 2, 0.5, 8);
  check_range(CT_BFLOAT16, 0, 100, 7, 15);
  check_range(CT_FLOAT32, 5, 5, 1, 0);      /* empty */
  check_range(CT_INT32, 5, 5, -2, 0);
  check_range(CT_FLOAT32, 0, 300000, 1, 300000); /* threaded */
  check_range(CT_INT64, -4611686018427387904.0, 4611686018427387904.0, 1152921504606846976.0, 8);
}

TEST(errors) {
  int64_t neg[2] = {2, -1}, s[1] = {2};
  ct_tensor *t = NULL;
  CHECK_ERR(ct_fill(ctx, CT_FLOAT32, neg, 2, 1, &t), CT_INVALID_ARGUMENT, "fill: dimension 1 is negative in shape [2,-1]");
  CHECK_ERR(ct_zeros(ctx, CT_FLOAT32, neg, 2, &t), CT_INVALID_ARGUMENT, "zeros:");
  CHECK_ERR(ct_ones(ctx, CT_FLOAT32, s, CT_MAX_RANK + 1, &t), CT_INVALID_ARGUMENT, "ones:");
  CHECK_ERR(ct_fill(ctx, CT_FLOAT32, NULL, 2, 1, &t), CT_INVALID_ARGUMENT, "fill:");
  CHECK_ERR(ct_fill(ctx, (ct_dtype)42, s, 1, 1, &t), CT_INVALID_ARGUMENT, "fill: invalid dtype 42");
  CHECK_ERR(ct_fill(NULL, CT_FLOAT32, s, 1, 1, &t), CT_INVALID_ARGUMENT, "fill: NULL context");
  CHECK_ERR(ct_fill(ctx, CT_FLOAT32, s, 1, 1, NULL), CT_INVALID_ARGUMENT, "fill: NULL out");
  CHECK_ERR(ct_range(ctx, CT_FLOAT32, 0, 5, 0, &t), CT_INVALID_ARGUMENT, "range: delta must not be 0");
  CHECK_ERR(ct_range(ctx, CT_FLOAT32, 5, 0, 1, &t), CT_INVALID_ARGUMENT,
            "range: requires start <= limit when delta > 0: 5/0");
  CHECK_ERR(ct_range(ctx, CT_INT32, 0, 5, -1, &t), CT_INVALID_ARGUMENT,
            "range: requires start >= limit when delta < 0: 0/5");
  CHECK_ERR(ct_range(ctx, CT_INT32, 0.5, 5, 1, &t), CT_INVALID_ARGUMENT,
            "range: start 0.5 is not a whole number in the range of int32");
  CHECK_ERR(ct_range(ctx, CT_INT32, 0, 5e9, 1, &t), CT_INVALID_ARGUMENT, "range: limit 5e+09 is not a whole number");
  CHECK_ERR(ct_range(ctx, CT_BOOL, 0, 2, 1, &t), CT_INVALID_ARGUMENT, "range: dtype bool is not supported");
  CHECK_ERR(ct_range(ctx, CT_FLOAT64, 0, INFINITY, 1, &t), CT_INVALID_ARGUMENT, "range: start, limit and delta must be finite");
  CHECK_ERR(ct_range(ctx, CT_FLOAT64, 0, 1e300, 1e-300, &t), CT_INVALID_ARGUMENT, "elements are too many");
  CHECK_ERR(ct_range(ctx, CT_FLOAT64, 0, 1, 1, NULL), CT_INVALID_ARGUMENT, "range: NULL out");
  CHECK(t == NULL);
}

int main(void) {
  CHECK_OK(ct_context_new(&ctx));
  RUN(fill_every_dtype);
  RUN(fill_value_conversion);
  RUN(fill_shapes);
  RUN(range_values);
  RUN(errors);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
