/* matmul: values against a float64 triple loop, transposes, batches with broadcasting, 16-bit and integer types, errors. */
#include <stdint.h>

#include "testutil.h"

static ct_context *ctx;

/* Deterministic values in [-1, 1) on a 1/64 grid (exact in every float type
 * for the small sizes the 16-bit tests use). */
static double val(int64_t i, int salt) { return (double)((i * 37 + salt * 101) % 128 - 64) / 64.0; }

static ct_tensor *make(ct_dtype dt, const int64_t *shape, int rank, int salt) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  size_t es = ct_dtype_size(dt);
  unsigned char *buf = malloc((size_t)n * es + 1);
  for (int64_t i = 0; i < n; i++) {
    double v = val(i, salt);
    switch (dt) {
      case CT_FLOAT32: ((float *)buf)[i] = (float)v; break;
      case CT_FLOAT64: ((double *)buf)[i] = v; break;
      case CT_FLOAT16: ((uint16_t *)buf)[i] = ct_float_to_half((float)v); break;
      case CT_BFLOAT16: ((uint16_t *)buf)[i] = ct_float_to_bfloat16((float)v); break;
      case CT_INT32: ((int32_t *)buf)[i] = (int32_t)(v * 64); break;
      case CT_INT64: ((int64_t *)buf)[i] = (int64_t)(v * 64); break;
      default: buf[i] = 1; break;
    }
  }
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, dt, shape, rank, buf, &t));
  free(buf);
  return t;
}

static double *to_f64(const ct_tensor *t) {
  int64_t n = ct_tensor_num_elements(t);
  size_t bytes = ct_tensor_nbytes(t);
  unsigned char *raw = malloc(bytes + 1);
  double *v = malloc((size_t)(n + 1) * sizeof *v);
  CHECK_OK(ct_tensor_to_host(t, raw, bytes));
  for (int64_t i = 0; i < n; i++) {
    switch (ct_tensor_dtype(t)) {
      case CT_FLOAT32: v[i] = ((float *)raw)[i]; break;
      case CT_FLOAT64: v[i] = ((double *)raw)[i]; break;
      case CT_FLOAT16: v[i] = ct_half_to_float(((uint16_t *)raw)[i]); break;
      case CT_BFLOAT16: v[i] = ct_bfloat16_to_float(((uint16_t *)raw)[i]); break;
      case CT_INT32: v[i] = ((int32_t *)raw)[i]; break;
      case CT_INT64: v[i] = (double)((int64_t *)raw)[i]; break;
      default: v[i] = raw[i]; break;
    }
  }
  free(raw);
  return v;
}

/* The reference: a (rank ra) times b (rank rb) in float64, with NumPy
 * batch broadcasting, written the obvious way. */
static void reference(const double *a, const int64_t *sa, int ra, const double *b, const int64_t *sb, int rb, bool ta,
                      bool tb, double *c, int64_t *batch_out, int64_t *m_out, int64_t *n_out) {
  int64_t m = ta ? sa[ra - 1] : sa[ra - 2], k = ta ? sa[ra - 2] : sa[ra - 1];
  int64_t n = tb ? sb[rb - 2] : sb[rb - 1];
  int64_t ba = ra == 3 ? sa[0] : 1, bb = rb == 3 ? sb[0] : 1, batch = ba > bb ? ba : bb;
  for (int64_t t = 0; t < batch; t++) {
    const double *A = a + (ba == 1 ? 0 : t) * m * k, *B = b + (bb == 1 ? 0 : t) * k * n;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++) s += (ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
        c[(t * m + i) * n + j] = s;
      }
  }
  *batch_out = batch;
  *m_out = m;
  *n_out = n;
}

/* Runs one case and compares with the reference within atol + rtol*|ref|. */
static void check_case(ct_dtype dt, const int64_t *sa, int ra, const int64_t *sb, int rb, bool ta, bool tb, double atol,
                       double rtol) {
  ct_tensor *a = make(dt, sa, ra, 1), *b = make(dt, sb, rb, 2), *c = NULL;
  if (!a || !b) goto done;
  CHECK_OK(ct_matmul(ctx, a, b, ta, tb, &c));
  if (!c) goto done;
  double *av = to_f64(a), *bv = to_f64(b), *cv = to_f64(c);
  int64_t batch, m, n;
  double *ref = malloc((size_t)(ct_tensor_num_elements(c) + 1) * sizeof *ref);
  reference(av, sa, ra, bv, sb, rb, ta, tb, ref, &batch, &m, &n);
  int out_rank = (ra == 3 || rb == 3) ? 3 : 2;
  CHECK_EQ_INT(ct_tensor_rank(c), out_rank);
  CHECK_EQ_INT(ct_tensor_dim(c, out_rank - 2), m);
  CHECK_EQ_INT(ct_tensor_dim(c, out_rank - 1), n);
  if (out_rank == 3) CHECK_EQ_INT(ct_tensor_dim(c, 0), batch);
  CHECK_EQ_INT(ct_tensor_dtype(c), dt);
  int bad = 0;
  for (int64_t i = 0; i < batch * m * n; i++)
    if (!(fabs(cv[i] - ref[i]) <= atol + rtol * fabs(ref[i]))) {
      if (bad++ < 3)
        fprintf(stderr, "  %s [%lld]: got %.9g want %.9g\n", ct_dtype_name(dt), (long long)i, cv[i], ref[i]);
    }
  CHECK_EQ_INT(bad, 0);
  free(av);
  free(bv);
  free(cv);
  free(ref);
done:
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
}

/* a's shape for [m,k] (or [k,m] when transposed), optionally batched. */
static void shape_of(int64_t batch, int64_t r, int64_t c, bool t, int64_t *out, int *rank) {
  int i = 0;
  if (batch) out[i++] = batch;
  out[i++] = t ? c : r;
  out[i++] = t ? r : c;
  *rank = i;
}

TEST(float_matrices_all_transposes) {
  const ct_dtype types[2] = {CT_FLOAT32, CT_FLOAT64};
  const int64_t dims[][3] = {{1, 1, 1}, {2, 3, 4}, {7, 5, 3}, {64, 33, 17}, {130, 70, 90}};
  for (int d = 0; d < 2; d++)
    for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++)
      for (int f = 0; f < 4; f++) {
        bool ta = f & 1, tb = f & 2;
        int64_t sa[3], sb[3];
        int ra, rb;
        shape_of(0, dims[s][0], dims[s][1], ta, sa, &ra);
        shape_of(0, dims[s][1], dims[s][2], tb, sb, &rb);
        check_case(types[d], sa, ra, sb, rb, ta, tb, 1e-12, types[d] == CT_FLOAT32 ? 1e-5 : 1e-12);
      }
}

TEST(batched_with_broadcasting) {
  /* {batch of a (0: rank 2), batch of b} */
  const int64_t batches[][2] = {{3, 3}, {1, 4}, {4, 1}, {0, 3}, {3, 0}, {1, 1}};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
    for (int f = 0; f < 4; f++) {
      bool ta = f & 1, tb = f & 2;
      int64_t sa[3], sb[3];
      int ra, rb;
      shape_of(batches[i][0], 5, 6, ta, sa, &ra);
      shape_of(batches[i][1], 6, 4, tb, sb, &rb);
      check_case(CT_FLOAT32, sa, ra, sb, rb, ta, tb, 1e-6, 1e-5);
      check_case(CT_FLOAT64, sa, ra, sb, rb, ta, tb, 1e-12, 1e-12);
      check_case(CT_INT32, sa, ra, sb, rb, ta, tb, 0, 0);
    }
}

/* 16-bit inputs are widened, multiplied in float32 and rounded once. */
/* More than one batch dimension, broadcast like NumPy's (TensorFlow's
 * BatchMatMulV2), against a reference that walks the batch index. */
static void check_many(const int64_t *sa, int ra, const int64_t *sb, int rb, bool ta, bool tb, const int64_t *want,
                       int want_rank) {
  ct_tensor *a = make(CT_FLOAT64, sa, ra, 3), *b = make(CT_FLOAT64, sb, rb, 4), *c = NULL;
  CHECK_OK(ct_matmul(ctx, a, b, ta, tb, &c));
  if (c) {
    CHECK_EQ_INT(ct_tensor_rank(c), want_rank);
    for (int i = 0; i < want_rank && i < ct_tensor_rank(c); i++) CHECK_EQ_INT(ct_tensor_dim(c, i), want[i]);
    double *av = to_f64(a), *bv = to_f64(b), *cv = to_f64(c);
    int nbd = want_rank - 2, bad = 0;
    int64_t m = want[nbd], n = want[nbd + 1], k = ta ? sa[ra - 2] : sa[ra - 1], nb = 1;
    for (int i = 0; i < nbd; i++) nb *= want[i];
    for (int64_t t = 0; t < nb; t++) {
      /* the batch index of c, then of a and b with broadcast dims at 0 */
      int64_t idx[CT_MAX_RANK], rest = t, oa = 0, ob = 0;
      for (int i = nbd - 1; i >= 0; i--) idx[i] = rest % want[i], rest /= want[i];
      for (int i = 0; i < ra - 2; i++) {
        int64_t d = sa[i], j = idx[i + nbd - (ra - 2)];
        oa = oa * d + (d == 1 ? 0 : j);
      }
      for (int i = 0; i < rb - 2; i++) {
        int64_t d = sb[i], j = idx[i + nbd - (rb - 2)];
        ob = ob * d + (d == 1 ? 0 : j);
      }
      const double *A = av + oa * m * k, *B = bv + ob * k * n;
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          double sum = 0;
          for (int64_t p = 0; p < k; p++) sum += (ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
          if (fabs(cv[(t * m + i) * n + j] - sum) > 1e-12 * (1 + fabs(sum))) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    free(av), free(bv), free(cv);
  }
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
}

TEST(many_batch_dimensions) {
  const int64_t a1[4] = {2, 1, 3, 4}, b1[3] = {3, 4, 2}, c1[4] = {2, 3, 3, 2};
  check_many(a1, 4, b1, 3, false, false, c1, 4);
  const int64_t a2[4] = {2, 3, 4, 3}, b2[3] = {3, 5, 4}, c2[4] = {2, 3, 3, 5};
  check_many(a2, 4, b2, 3, true, true, c2, 4);
  const int64_t a3[2] = {4, 3}, b3[4] = {2, 2, 3, 5}, c3[4] = {2, 2, 4, 5};
  check_many(a3, 2, b3, 4, false, false, c3, 4);
  const int64_t a4[5] = {1, 2, 1, 4, 3}, b4[4] = {1, 3, 3, 2}, c4[5] = {1, 2, 3, 4, 2};
  check_many(a4, 5, b4, 4, false, false, c4, 5);
  const int64_t a5[4] = {2, 3, 4, 6}, b5[4] = {2, 3, 6, 5}, c5[4] = {2, 3, 4, 5};
  check_many(a5, 4, b5, 4, false, false, c5, 4);
  ct_tensor *a = NULL, *b = NULL, *c = NULL;
  const int64_t ea[4] = {2, 3, 4, 4}, eb[3] = {4, 4, 4};
  a = make(CT_FLOAT32, ea, 4, 1), b = make(CT_FLOAT32, eb, 3, 2);
  CHECK_ERR(ct_matmul(ctx, a, b, false, false, &c), CT_INVALID_ARGUMENT,
            "matmul: batch dimensions are not broadcastable: a is [2,3,4,4], b is [4,4,4]");
  ct_tensor_release(a), ct_tensor_release(b);
}

TEST(half_types_computed_in_float32) {
  for (int f = 0; f < 4; f++) {
    bool ta = f & 1, tb = f & 2;
    int64_t sa[3], sb[3];
    int ra, rb;
    shape_of(2, 9, 16, ta, sa, &ra);
    shape_of(0, 16, 7, tb, sb, &rb);
    /* the inputs are exact; only the final rounding differs from float64 */
    check_case(CT_FLOAT16, sa, ra, sb, rb, ta, tb, 1e-3, 1.0 / 1024);
    check_case(CT_BFLOAT16, sa, ra, sb, rb, ta, tb, 1e-2, 1.0 / 128);
  }
  /* one rounding, of the float32 sum */
  int64_t s[2] = {1, 3};
  int64_t st[2] = {3, 1};
  uint16_t av[3], bv[3];
  float fa[3] = {1.0f, 1.0f / 2048, 1.0f / 2048}, fb[3] = {1, 1, 1};
  for (int i = 0; i < 3; i++) {
    av[i] = ct_float_to_half(fa[i]);
    bv[i] = ct_float_to_half(fb[i]);
  }
  ct_tensor *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT16, s, 2, av, &a));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT16, st, 2, bv, &b));
  if (a && b) CHECK_OK(ct_matmul(ctx, a, b, false, false, &c));
  if (c) {
    uint16_t out;
    CHECK_OK(ct_tensor_to_host(c, &out, sizeof out));
    /* float32 sums to 1 + 2^-10, exact in half; summing in half would
     * round each 1 + 2^-11 back to 1 (ties to even) */
    CHECK_EQ_INT(out, ct_float_to_half(1.0f + 1.0f / 1024));
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
}

TEST(integers_exact_and_wrapping) {
  int64_t s22[2] = {2, 2};
  check_case(CT_INT64, s22, 2, s22, 2, false, true, 0, 0);
  int32_t big[4] = {65536, 0, 0, 1};
  ct_tensor *a = NULL, *c = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, s22, 2, big, &a));
  if (a) CHECK_OK(ct_matmul(ctx, a, a, false, false, &c));
  if (c) {
    int32_t out[4];
    CHECK_OK(ct_tensor_to_host(c, out, sizeof out));
    CHECK_EQ_INT(out[0], 0); /* 2^32 wraps to 0, as TensorFlow's int32 MatMul */
    CHECK_EQ_INT(out[3], 1);
  }
  ct_tensor_release(a);
  ct_tensor_release(c);
}

TEST(empty_dimensions) {
  int64_t s03[2] = {0, 3}, s34[2] = {3, 4}, s20[2] = {2, 0}, s05[2] = {0, 5};
  ct_tensor *a = make(CT_FLOAT32, s03, 2, 1), *b = make(CT_FLOAT32, s34, 2, 2), *c = NULL;
  if (a && b) CHECK_OK(ct_matmul(ctx, a, b, false, false, &c));
  if (c) {
    CHECK_EQ_INT(ct_tensor_dim(c, 0), 0);
    CHECK_EQ_INT(ct_tensor_dim(c, 1), 4);
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  /* k == 0: a [2,5] matrix of zeros */
  a = make(CT_FLOAT64, s20, 2, 1);
  b = make(CT_FLOAT64, s05, 2, 2);
  c = NULL;
  if (a && b) CHECK_OK(ct_matmul(ctx, a, b, false, false, &c));
  if (c) {
    double out[10];
    for (int i = 0; i < 10; i++) out[i] = 1;
    CHECK_EQ_INT(ct_tensor_num_elements(c), 10);
    CHECK_OK(ct_tensor_to_host(c, out, sizeof out));
    for (int i = 0; i < 10; i++) CHECK(out[i] == 0);
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
}

TEST(errors_name_both_operands) {
  int64_t s23[2] = {2, 3}, s45[2] = {4, 5}, s3[1] = {3}, s234[3] = {2, 3, 4}, s345[3] = {3, 4, 5};
  ct_tensor *a = make(CT_FLOAT32, s23, 2, 1), *b = make(CT_FLOAT32, s45, 2, 2);
  ct_tensor *d = make(CT_FLOAT64, s45, 2, 2), *v = make(CT_FLOAT32, s3, 1, 3);
  ct_tensor *x = make(CT_FLOAT32, s234, 3, 1), *y = make(CT_FLOAT32, s345, 3, 1);
  ct_tensor *bo = make(CT_BOOL, s23, 2, 1);
  ct_tensor *c = NULL;
  CHECK_ERR(ct_matmul(ctx, a, b, false, false, &c), CT_INVALID_ARGUMENT,
            "matmul: inner dimensions differ: a is [2,3], b is [4,5]");
  CHECK_ERR(ct_matmul(ctx, a, b, true, false, &c), CT_INVALID_ARGUMENT, "a is [2,3] (transposed), b is [4,5]");
  CHECK_ERR(ct_matmul(ctx, a, d, false, false, &c), CT_INVALID_ARGUMENT,
            "matmul: dtypes differ: a is float32, b is float64");
  CHECK_ERR(ct_matmul(ctx, v, a, false, false, &c), CT_INVALID_ARGUMENT, "rank 2 or more: a is [3], b is [2,3]");
  CHECK_ERR(ct_matmul(ctx, x, y, false, false, &c), CT_INVALID_ARGUMENT,
            "matmul: batch dimensions differ: a is [2,3,4], b is [3,4,5]");
  CHECK_ERR(ct_matmul(ctx, bo, bo, false, true, &c), CT_INVALID_ARGUMENT, "dtype bool");
  CHECK_ERR(ct_matmul(ctx, a, NULL, false, false, &c), CT_INVALID_ARGUMENT, "NULL b");
  CHECK(c == NULL);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(d);
  ct_tensor_release(v);
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_tensor_release(bo);
}

int main(void) {
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "cannot create a context: %s\n", ct_last_error());
    return 1;
  }
  RUN(float_matrices_all_transposes);
  RUN(batched_with_broadcasting);
  RUN(many_batch_dimensions);
  RUN(half_types_computed_in_float32);
  RUN(integers_exact_and_wrapping);
  RUN(empty_dimensions);
  RUN(errors_name_both_operands);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
