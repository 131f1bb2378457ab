/* Ops for gradients and training: square, log_softmax, sparse and dense
 * softmax cross-entropy, one_hot, where, zeros_like/ones_like,
 * broadcast_to and unsorted_segment_sum — values against float64
 * references computed here, every dtype, empty tensors, and every error
 * path (after which the context must still work). */
#include <math.h>
#include <stdint.h>

#include "ops_helpers.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static ct_context *ctx;

static const ct_dtype floats[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
static const ct_dtype all_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64, CT_BOOL};

/* After an error the context must still run ops. */
static void still_usable(void) {
  int64_t s[1] = {2};
  double v[2] = {1, 2};
  ct_tensor *a = oh_make(ctx, CT_FLOAT32, s, 1, v), *b = NULL;
  if (!a) return;
  CHECK_OK(ct_add(ctx, a, a, &b));
  if (b) {
    double *r = oh_read(b);
    CHECK(r[0] == 2 && r[1] == 4);
    free(r);
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
}

/* Tolerance for a result in dt whose magnitude is about `scale`. */
static void check_close_dt(double got, double want, ct_dtype dt, double scale) {
  double tol = 4 * oh_tol(dt);
  CHECK_CLOSE(got, want, tol * (scale > 1 ? scale : 1), tol);
}

static ct_tensor *make_index(ct_dtype dt, const int64_t *shape, int rank, const double *v) {
  return oh_make(ctx, dt, shape, rank, v);
}

/* ---- square ------------------------------------------------------------------ */

TEST(square_values_and_wrapping) {
  int64_t s[1] = {5};
  double v[5] = {-3, -0.5, 0, 1.5, 7};
  for (size_t k = 0; k < N_OF(numeric); k++) {
    ct_dtype dt = numeric[k];
    ct_tensor *x = oh_make(ctx, dt, s, 1, v), *y = NULL;
    if (!x) continue;
    CHECK_OK(ct_square(ctx, x, &y));
    if (y) {
      CHECK(ct_tensor_dtype(y) == dt);
      double *r = oh_read(y);
      for (int i = 0; i < 5; i++) {
        double xi = oh_round(dt, v[i]);
        CHECK_CLOSE(r[i], oh_round(dt, xi * xi), 0, oh_tol(dt));
      }
      free(r);
    }
    ct_tensor_release(x);
    ct_tensor_release(y);
  }
  /* integers wrap like mul: 65536^2 = 2^32 is 0 in int32 */
  double w[2] = {65536, 46341};
  int64_t s2[1] = {2};
  ct_tensor *x = oh_make(ctx, CT_INT32, s2, 1, w), *y = NULL;
  CHECK_OK(ct_square(ctx, x, &y));
  if (y) {
    double *r = oh_read(y);
    CHECK(r[0] == 0);
    CHECK(r[1] == (double)(int32_t)(uint32_t)(46341u * 46341u));
    free(r);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_tensor *b = oh_make(ctx, CT_BOOL, s2, 1, w);
  y = NULL;
  CHECK_ERR(ct_square(ctx, b, &y), CT_INVALID_ARGUMENT, "square: dtype bool is not supported");
  CHECK(y == NULL);
  CHECK_ERR(ct_square(ctx, NULL, &y), CT_INVALID_ARGUMENT, "square: NULL x");
  ct_tensor_release(b);
  still_usable();
}

/* ---- log_softmax ----------------------------------------------------------------- */

/* Reference along `axis` of v (shape, rank), from values rounded to dt. */
static void log_softmax_ref(ct_dtype dt, const double *v, const int64_t *shape, int rank, int axis, double *want) {
  int64_t outer = 1, inner = 1, len = shape[axis];
  for (int d = 0; d < axis; d++) outer *= shape[d];
  for (int d = axis + 1; d < rank; d++) inner *= shape[d];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double m = -INFINITY, s = 0;
      for (int64_t l = 0; l < len; l++) m = fmax(m, oh_round(dt, v[(o * len + l) * inner + i]));
      for (int64_t l = 0; l < len; l++) s += exp(oh_round(dt, v[(o * len + l) * inner + i]) - m);
      for (int64_t l = 0; l < len; l++) {
        int64_t e = (o * len + l) * inner + i;
        want[e] = oh_round(dt, v[e]) - m - log(s);
      }
    }
}

TEST(log_softmax_large_logits_every_axis) {
  /* exp(1000) overflows every float type: a naive log(sum(exp(x))) is inf */
  int64_t s[3] = {3, 4, 5};
  double v[60];
  uint64_t seed = 7;
  for (int i = 0; i < 60; i++) v[i] = 1000 + oh_rand(&seed, -8, 8);
  for (size_t k = 0; k < N_OF(floats); k++) {
    ct_dtype dt = floats[k];
    /* 16-bit floats cannot tell 1000 + small apart well: smaller offsets */
    double vv[60];
    for (int i = 0; i < 60; i++) vv[i] = ct_dtype_size(dt) == 2 ? v[i] - 1000 + 60 : v[i];
    ct_tensor *x = oh_make(ctx, dt, s, 3, vv);
    if (!x) continue;
    for (int axis = -3; axis < 3; axis++) {
      ct_tensor *y = NULL;
      CHECK_OK(ct_log_softmax(ctx, x, axis, &y));
      if (!y) continue;
      CHECK(oh_same_shape(y, s, 3));
      CHECK(ct_tensor_dtype(y) == dt);
      double want[60], *r = oh_read(y);
      log_softmax_ref(dt, vv, s, 3, axis < 0 ? axis + 3 : axis, want);
      for (int i = 0; i < 60; i++) {
        CHECK(isfinite(r[i]));
        check_close_dt(r[i], want[i], dt, fabs(want[i]));
      }
      free(r);
      ct_tensor_release(y);
    }
    ct_tensor_release(x);
  }
}

TEST(log_softmax_infinities_and_big_rows) {
  int64_t s[2] = {2, 3};
  double v[6] = {-INFINITY, 0, 1, -INFINITY, -INFINITY, -INFINITY};
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, s, 2, v), *y = NULL;
  CHECK_OK(ct_log_softmax(ctx, x, -1, &y));
  if (y) {
    double *r = oh_read(y);
    CHECK(r[0] == -INFINITY);
    CHECK_CLOSE(r[1], -log(1 + exp(1.0)), 1e-6, 1e-6);
    CHECK_CLOSE(r[2], 1 - log(1 + exp(1.0)), 1e-6, 1e-6);
    CHECK(isnan(r[3]) && isnan(r[4]) && isnan(r[5])); /* all -inf: 0/0, as softmax */
    free(r);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
  /* a large input (threads): rows of 300 */
  int64_t b[2] = {600, 300};
  double *big = malloc(600 * 300 * sizeof(double)), *want = malloc(600 * 300 * sizeof(double));
  uint64_t seed = 3;
  for (int i = 0; i < 600 * 300; i++) big[i] = oh_rand(&seed, -50, 50);
  x = oh_make(ctx, CT_FLOAT64, b, 2, big);
  y = NULL;
  CHECK_OK(ct_log_softmax(ctx, x, 1, &y));
  if (y) {
    double *r = oh_read(y);
    log_softmax_ref(CT_FLOAT64, big, b, 2, 1, want);
    int bad = 0;
    for (int i = 0; i < 600 * 300; i++) bad += !(fabs(r[i] - want[i]) <= 1e-12 * (1 + fabs(want[i])));
    CHECK_EQ_INT(bad, 0);
    free(r);
  }
  free(big);
  free(want);
  ct_tensor_release(x);
  ct_tensor_release(y);
}

TEST(log_softmax_empty_and_errors) {
  int64_t e1[2] = {0, 3}, e2[2] = {2, 0};
  const int64_t *es[2] = {e1, e2};
  for (int k = 0; k < 2; k++) {
    ct_tensor *x = oh_make(ctx, CT_FLOAT32, es[k], 2, NULL), *y = NULL;
    CHECK_OK(ct_log_softmax(ctx, x, -1, &y));
    if (y) CHECK(oh_same_shape(y, es[k], 2));
    ct_tensor_release(x);
    ct_tensor_release(y);
  }
  int64_t s[2] = {2, 2};
  double v[4] = {1, 2, 3, 4};
  ct_tensor *xi = oh_make(ctx, CT_INT32, s, 2, v), *xf = oh_make(ctx, CT_FLOAT32, s, 2, v), *y = NULL;
  ct_tensor *sc = oh_make(ctx, CT_FLOAT32, NULL, 0, v);
  CHECK_ERR(ct_log_softmax(ctx, xi, -1, &y), CT_INVALID_ARGUMENT, "log_softmax: dtype int32 is not supported");
  CHECK_ERR(ct_log_softmax(ctx, xf, 2, &y), CT_INVALID_ARGUMENT, "log_softmax: axis 2 is out of range for shape [2,2]");
  CHECK_ERR(ct_log_softmax(ctx, xf, -3, &y), CT_INVALID_ARGUMENT, "axis -3 is out of range");
  CHECK_ERR(ct_log_softmax(ctx, sc, 0, &y), CT_INVALID_ARGUMENT, "log_softmax: logits must have at least 1 dimension");
  CHECK_ERR(ct_log_softmax(ctx, NULL, 0, &y), CT_INVALID_ARGUMENT, "log_softmax: NULL x");
  CHECK_ERR(ct_log_softmax(ctx, xf, 0, NULL), CT_INVALID_ARGUMENT, "log_softmax: NULL out");
  CHECK(y == NULL);
  ct_tensor_release(xi);
  ct_tensor_release(xf);
  ct_tensor_release(sc);
  still_usable();
}

/* ---- softmax cross-entropy ---------------------------------------------------- */

/* Direct formulas from rounded logits: loss = -sum(p * log_softmax),
 * backprop = softmax - p, p a row of probabilities. */
static void xent_ref(ct_dtype dt, const double *logits, const double *p, int64_t batch, int64_t classes,
                     double *loss, double *bp) {
  for (int64_t r = 0; r < batch; r++) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < classes; c++) m = fmax(m, oh_round(dt, logits[r * classes + c]));
    for (int64_t c = 0; c < classes; c++) s += exp(oh_round(dt, logits[r * classes + c]) - m);
    loss[r] = 0;
    for (int64_t c = 0; c < classes; c++) {
      double z = oh_round(dt, logits[r * classes + c]);
      double ls = z - m - log(s);
      loss[r] -= p[r * classes + c] * ls;
      bp[r * classes + c] = exp(ls) - p[r * classes + c];
    }
  }
}

static void check_xent(bool sparse, ct_dtype dt, ct_dtype label_dt, int64_t batch, int64_t classes, double spread,
                       uint64_t seed) {
  int64_t n = batch * classes;
  double *lg = malloc((size_t)(n + 1) * sizeof(double)), *p = calloc((size_t)(n + 1), sizeof(double));
  double *lab = malloc((size_t)(batch + 1) * sizeof(double));
  double *want_loss = malloc((size_t)(batch + 1) * sizeof(double)), *want_bp = malloc((size_t)(n + 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) lg[i] = oh_rand(&seed, -spread, spread);
  for (int64_t r = 0; r < batch; r++) {
    if (sparse) {
      lab[r] = (double)(int64_t)oh_rand(&seed, 0, (double)classes);
      p[r * classes + (int64_t)lab[r]] = 1;
    } else {
      double tot = 0;
      for (int64_t c = 0; c < classes; c++) tot += p[r * classes + c] = oh_round(dt, oh_rand(&seed, 0, 1));
      for (int64_t c = 0; c < classes; c++) p[r * classes + c] = oh_round(dt, p[r * classes + c] / tot);
    }
  }
  int64_t ls[2] = {batch, classes};
  ct_tensor *logits = oh_make(ctx, dt, ls, 2, lg);
  ct_tensor *labels = sparse ? make_index(label_dt, ls, 1, lab) : oh_make(ctx, dt, ls, 2, p);
  ct_tensor *loss = NULL, *bp = NULL, *loss2 = NULL;
  if (sparse)
    CHECK_OK(ct_sparse_softmax_cross_entropy_with_logits(ctx, labels, logits, &loss, &bp));
  else
    CHECK_OK(ct_softmax_cross_entropy_with_logits(ctx, labels, logits, &loss, &bp));
  if (loss && bp) {
    CHECK(oh_same_shape(loss, ls, 1));
    CHECK(oh_same_shape(bp, ls, 2));
    CHECK(ct_tensor_dtype(loss) == dt && ct_tensor_dtype(bp) == dt);
    CHECK_EQ_STR(ct_tensor_device(bp), ct_tensor_device(loss));
    xent_ref(dt, lg, p, batch, classes, want_loss, want_bp);
    double *rl = oh_read(loss), *rb = oh_read(bp);
    int bad = 0;
    double tol = 4 * oh_tol(dt);
    for (int64_t r = 0; r < batch; r++)
      bad += !(fabs(rl[r] - want_loss[r]) <= tol * (1 + fabs(want_loss[r])));
    for (int64_t i = 0; i < n; i++) bad += !(fabs(rb[i] - want_bp[i]) <= tol);
    if (bad) fprintf(stderr, "xent %s %s %lldx%lld: %d bad values\n", sparse ? "sparse" : "dense", ct_dtype_name(dt),
                     (long long)batch, (long long)classes, bad);
    CHECK_EQ_INT(bad, 0);
    free(rl);
    free(rb);
  }
  /* backprop not wanted: the same loss */
  if (sparse)
    CHECK_OK(ct_sparse_softmax_cross_entropy_with_logits(ctx, labels, logits, &loss2, NULL));
  else
    CHECK_OK(ct_softmax_cross_entropy_with_logits(ctx, labels, logits, &loss2, NULL));
  if (loss && loss2) {
    double *a = oh_read(loss), *b = oh_read(loss2);
    for (int64_t r = 0; r < batch; r++) CHECK(oh_eq(a[r], b[r]));
    free(a);
    free(b);
  }
  ct_tensor_release(logits);
  ct_tensor_release(labels);
  ct_tensor_release(loss);
  ct_tensor_release(loss2);
  ct_tensor_release(bp);
  free(lg);
  free(p);
  free(lab);
  free(want_loss);
  free(want_bp);
}

TEST(sparse_xent_values) {
  for (size_t k = 0; k < N_OF(floats); k++) {
    ct_dtype dt = floats[k];
    double spread = ct_dtype_size(dt) == 2 ? 8 : 500; /* 500: exp overflows naively */
    check_xent(true, dt, CT_INT32, 4, 7, spread, 11 + k);
    check_xent(true, dt, CT_INT64, 3, 1, spread, 21 + k);
  }
  check_xent(true, CT_FLOAT32, CT_INT64, 700, 300, 20, 5); /* threads */
}

TEST(dense_xent_values) {
  for (size_t k = 0; k < N_OF(floats); k++) {
    ct_dtype dt = floats[k];
    double spread = ct_dtype_size(dt) == 2 ? 8 : 500;
    check_xent(false, dt, dt, 4, 7, spread, 31 + k);
  }
  check_xent(false, CT_FLOAT64, CT_FLOAT64, 700, 300, 20, 6);
}

TEST(xent_known_values) {
  /* logits [0, 0] against label 1: loss log 2, backprop [0.5, -0.5] */
  int64_t s[2] = {1, 2}, sb[1] = {1};
  double z[2] = {0, 0}, one[1] = {1};
  ct_tensor *lg = oh_make(ctx, CT_FLOAT32, s, 2, z), *lab = make_index(CT_INT32, sb, 1, one);
  ct_tensor *loss = NULL, *bp = NULL;
  CHECK_OK(ct_sparse_softmax_cross_entropy_with_logits(ctx, lab, lg, &loss, &bp));
  if (loss && bp) {
    double *l = oh_read(loss), *b = oh_read(bp);
    CHECK_CLOSE(l[0], log(2.0), 1e-7, 1e-7);
    CHECK_CLOSE(b[0], 0.5, 1e-7, 0);
    CHECK_CLOSE(b[1], -0.5, 1e-7, 0);
    free(l);
    free(b);
  }
  ct_tensor_release(lg);
  ct_tensor_release(lab);
  ct_tensor_release(loss);
  ct_tensor_release(bp);
}

TEST(xent_empty_batch) {
  int64_t s[2] = {0, 4}, sb[1] = {0};
  ct_tensor *lg = oh_make(ctx, CT_FLOAT32, s, 2, NULL), *lab = make_index(CT_INT64, sb, 1, NULL);
  ct_tensor *dl = oh_make(ctx, CT_FLOAT32, s, 2, NULL);
  ct_tensor *loss = NULL, *bp = NULL;
  CHECK_OK(ct_sparse_softmax_cross_entropy_with_logits(ctx, lab, lg, &loss, &bp));
  if (loss && bp) {
    CHECK(oh_same_shape(loss, sb, 1));
    CHECK(oh_same_shape(bp, s, 2));
  }
  ct_tensor_release(loss);
  ct_tensor_release(bp);
  loss = bp = NULL;
  CHECK_OK(ct_softmax_cross_entropy_with_logits(ctx, dl, lg, &loss, &bp));
  if (loss && bp) {
    CHECK(oh_same_shape(loss, sb, 1));
    CHECK(oh_same_shape(bp, s, 2));
  }
  ct_tensor_release(loss);
  ct_tensor_release(bp);
  ct_tensor_release(lg);
  ct_tensor_release(lab);
  ct_tensor_release(dl);
}

TEST(xent_errors) {
  static const char sn[] = "sparse_softmax_cross_entropy_with_logits: ";
  int64_t s2[2] = {3, 10}, s1[1] = {3}, s3[3] = {3, 10, 1}, s4[1] = {4}, s0[2] = {3, 0}, s22[2] = {3, 9};
  double v[30] = {0}, labs[3] = {1, 10, 3}, neg[3] = {0, -1, 2}, ok[3] = {0, 1, 2};
  ct_tensor *lg = oh_make(ctx, CT_FLOAT32, s2, 2, v), *lg1 = oh_make(ctx, CT_FLOAT32, s1, 1, v);
  ct_tensor *lg3 = oh_make(ctx, CT_FLOAT32, s3, 3, v), *lgi = oh_make(ctx, CT_INT32, s2, 2, v);
  ct_tensor *lg0 = oh_make(ctx, CT_FLOAT32, s0, 2, v);
  ct_tensor *bad = make_index(CT_INT32, s1, 1, labs), *bad64 = make_index(CT_INT64, s1, 1, labs);
  ct_tensor *negl = make_index(CT_INT64, s1, 1, neg), *okl = make_index(CT_INT32, s1, 1, ok);
  ct_tensor *fl = oh_make(ctx, CT_FLOAT32, s1, 1, ok), *l2 = make_index(CT_INT32, s2, 2, v);
  ct_tensor *l4 = make_index(CT_INT32, s4, 1, v);
  ct_tensor *dense_ok = oh_make(ctx, CT_FLOAT32, s2, 2, v), *dense64 = oh_make(ctx, CT_FLOAT64, s2, 2, v);
  ct_tensor *dense_bad = oh_make(ctx, CT_FLOAT32, s22, 2, v), *dense1 = oh_make(ctx, CT_FLOAT32, s1, 1, v);
  ct_tensor *sentinel = oh_make(ctx, CT_FLOAT32, s1, 1, v);
  ct_tensor *loss = sentinel, *bp = sentinel;
  char msg[256];

  snprintf(msg, sizeof msg,
           "%sReceived a label value of 10 which is outside the valid range of [0, 10).  Label values: 1 10 3", sn);
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, bad, lg, &loss, &bp), CT_INVALID_ARGUMENT, msg);
  CHECK(loss == sentinel && bp == sentinel); /* nothing written */
  still_usable();
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, bad64, lg, &loss, NULL), CT_INVALID_ARGUMENT,
            "Received a label value of 10 which is outside the valid range of [0, 10)");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, negl, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "Received a label value of -1 which is outside the valid range of [0, 10).  Label values: 0 -1 2");
  CHECK(loss == sentinel && bp == sentinel);
  still_usable();
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, okl, lg1, &loss, &bp), CT_INVALID_ARGUMENT,
            "sparse_softmax_cross_entropy_with_logits: logits must be 2-D, but got shape [3]");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, okl, lg3, &loss, &bp), CT_INVALID_ARGUMENT,
            "logits must be 2-D, but got shape [3,10,1]");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, okl, lgi, &loss, &bp), CT_INVALID_ARGUMENT,
            "sparse_softmax_cross_entropy_with_logits: dtype int32 is not supported");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, fl, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "labels must be int32 or int64, got float32");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, l2, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "labels must be 1-D, but got shape [3,10]");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, l4, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "logits and labels must have the same first dimension, got logits shape [3,10] and labels shape [4]");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, okl, lg0, &loss, &bp), CT_INVALID_ARGUMENT,
            "Must have at least one class, but got logits shape [3,0]");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, NULL, lg, &loss, &bp), CT_INVALID_ARGUMENT, "NULL labels");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, okl, NULL, &loss, &bp), CT_INVALID_ARGUMENT,
            "NULL logits");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, okl, lg, NULL, &bp), CT_INVALID_ARGUMENT, "NULL loss");
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(NULL, okl, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "NULL context");
  CHECK(loss == sentinel && bp == sentinel);
  still_usable();

  CHECK_ERR(ct_softmax_cross_entropy_with_logits(ctx, dense64, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "softmax_cross_entropy_with_logits: labels and logits must have one dtype, got float64 and float32");
  CHECK_ERR(ct_softmax_cross_entropy_with_logits(ctx, dense_bad, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "logits and labels must be same size: logits_size=[3,10] labels_size=[3,9]");
  CHECK_ERR(ct_softmax_cross_entropy_with_logits(ctx, dense1, lg, &loss, &bp), CT_INVALID_ARGUMENT,
            "logits and labels must be same size: logits_size=[3,10] labels_size=[3]");
  CHECK_ERR(ct_softmax_cross_entropy_with_logits(ctx, dense1, lg1, &loss, &bp), CT_INVALID_ARGUMENT,
            "softmax_cross_entropy_with_logits: logits must be 2-D, but got shape [3]");
  CHECK_ERR(ct_softmax_cross_entropy_with_logits(ctx, l2, lgi, &loss, &bp), CT_INVALID_ARGUMENT,
            "softmax_cross_entropy_with_logits: dtype int32 is not supported");
  CHECK_ERR(ct_softmax_cross_entropy_with_logits(ctx, NULL, lg, &loss, &bp), CT_INVALID_ARGUMENT, "NULL labels");
  CHECK(loss == sentinel && bp == sentinel);
  still_usable();
  /* the context still computes a good cross-entropy */
  loss = bp = NULL;
  CHECK_OK(ct_softmax_cross_entropy_with_logits(ctx, dense_ok, lg, &loss, &bp));
  ct_tensor_release(loss);
  ct_tensor_release(bp);

  ct_tensor *all[] = {lg, lg1, lg3, lgi, lg0, bad, bad64, negl, okl, fl, l2, l4, dense_ok, dense64, dense_bad,
                      dense1, sentinel};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
}

TEST(sparse_xent_long_label_list_is_cut) {
  int64_t s[2] = {100, 3}, sb[1] = {100};
  double *v = calloc(300, sizeof(double)), lab[100];
  for (int i = 0; i < 100; i++) lab[i] = i == 70 ? 3 : 1;
  ct_tensor *lg = oh_make(ctx, CT_FLOAT32, s, 2, v), *l = make_index(CT_INT32, sb, 1, lab), *loss = NULL;
  CHECK_ERR(ct_sparse_softmax_cross_entropy_with_logits(ctx, l, lg, &loss, NULL), CT_INVALID_ARGUMENT,
            "Received a label value of 3 which is outside the valid range of [0, 3).  Label values: 1 1 1");
  CHECK(strstr(ct_last_error(), "...") != NULL);
  CHECK(loss == NULL);
  ct_tensor_release(lg);
  ct_tensor_release(l);
  free(v);
  still_usable();
}

/* ---- one_hot -------------------------------------------------------------------- */

TEST(one_hot_every_axis_and_dtype) {
  /* indices [2,3] with out-of-range and negative values: rows of off */
  int64_t s[2] = {2, 3};
  double idx[6] = {0, 3, -1, 2, 4, 1};
  const int depth = 4;
  for (int it = 0; it < 2; it++) {
    ct_tensor *ix = make_index(it ? CT_INT64 : CT_INT32, s, 2, idx);
    for (size_t k = 0; k < N_OF(all_dtypes); k++) {
      ct_dtype dt = all_dtypes[k];
      double on = dt == CT_BOOL ? 1 : 5, off = dt == CT_BOOL ? 0 : -2;
      for (int axis = -1; axis < 3; axis++) {
        ct_tensor *y = NULL;
        CHECK_OK(ct_one_hot(ctx, ix, depth, on, off, axis, dt, &y));
        if (!y) continue;
        int ax = axis < 0 ? 2 : axis;
        int64_t want_shape[3];
        for (int d = 0, q = 0; d < 3; d++) want_shape[d] = d == ax ? depth : s[q++];
        CHECK(oh_same_shape(y, want_shape, 3));
        CHECK(ct_tensor_dtype(y) == dt);
        double *r = oh_read(y);
        int bad = 0;
        for (int64_t e = 0; e < 24; e++) {
          int64_t c[3], rem = e;
          for (int d = 2; d >= 0; d--) {
            c[d] = rem % want_shape[d];
            rem /= want_shape[d];
          }
          int64_t pos[2], q = 0, dv = 0;
          for (int d = 0; d < 3; d++) {
            if (d == ax) dv = c[d];
            else pos[q++] = c[d];
          }
          double want = idx[pos[0] * 3 + pos[1]] == (double)dv ? on : off;
          bad += r[e] != oh_round(dt, want);
        }
        CHECK_EQ_INT(bad, 0);
        free(r);
        ct_tensor_release(y);
      }
    }
    ct_tensor_release(ix);
  }
}

TEST(one_hot_scalar_empty_and_errors) {
  double three[1] = {3};
  ct_tensor *sc = make_index(CT_INT64, NULL, 0, three), *y = NULL;
  CHECK_OK(ct_one_hot(ctx, sc, 5, 1, 0, -1, CT_FLOAT32, &y));
  if (y) {
    int64_t w[1] = {5};
    CHECK(oh_same_shape(y, w, 1));
    double *r = oh_read(y);
    CHECK(r[0] == 0 && r[3] == 1 && r[4] == 0);
    free(r);
  }
  ct_tensor_release(y);
  y = NULL;
  CHECK_OK(ct_one_hot(ctx, sc, 0, 1, 0, 0, CT_INT32, &y)); /* depth 0: empty */
  if (y) CHECK_EQ_INT(ct_tensor_num_elements(y), 0);
  ct_tensor_release(y);
  int64_t e[1] = {0};
  ct_tensor *ei = make_index(CT_INT32, e, 1, NULL);
  y = NULL;
  CHECK_OK(ct_one_hot(ctx, ei, 3, 1, 0, -1, CT_FLOAT64, &y));
  if (y) {
    int64_t w[2] = {0, 3};
    CHECK(oh_same_shape(y, w, 2));
  }
  ct_tensor_release(y);
  y = NULL;
  int64_t s[2] = {2, 3};
  double v[6] = {0};
  ct_tensor *f = oh_make(ctx, CT_FLOAT32, s, 2, v), *ix = make_index(CT_INT32, s, 2, v);
  CHECK_ERR(ct_one_hot(ctx, f, 3, 1, 0, -1, CT_FLOAT32, &y), CT_INVALID_ARGUMENT,
            "one_hot: indices must be int32 or int64, got float32");
  CHECK_ERR(ct_one_hot(ctx, ix, -1, 1, 0, -1, CT_FLOAT32, &y), CT_INVALID_ARGUMENT,
            "one_hot: depth must be non-negative, got: -1");
  CHECK_ERR(ct_one_hot(ctx, ix, 3, 1, 0, 3, CT_FLOAT32, &y), CT_INVALID_ARGUMENT,
            "one_hot: Expected axis to be -1 or between [0, 3).  But received: 3");
  CHECK_ERR(ct_one_hot(ctx, ix, 3, 1, 0, -2, CT_FLOAT32, &y), CT_INVALID_ARGUMENT, "But received: -2");
  CHECK_ERR(ct_one_hot(ctx, ix, 3, 1, 0, -1, (ct_dtype)99, &y), CT_INVALID_ARGUMENT, "one_hot: invalid dtype 99");
  CHECK_ERR(ct_one_hot(ctx, ix, INT64_MAX / 2, 1, 0, -1, CT_FLOAT32, &y), CT_INVALID_ARGUMENT, "too many elements");
  CHECK_ERR(ct_one_hot(ctx, NULL, 3, 1, 0, -1, CT_FLOAT32, &y), CT_INVALID_ARGUMENT, "one_hot: NULL indices");
  int64_t s8[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  ct_tensor *r8 = make_index(CT_INT32, s8, 8, v);
  CHECK_ERR(ct_one_hot(ctx, r8, 3, 1, 0, -1, CT_FLOAT32, &y), CT_INVALID_ARGUMENT,
            "one_hot: the result would have rank 9");
  CHECK(y == NULL);
  ct_tensor_release(sc);
  ct_tensor_release(ei);
  ct_tensor_release(f);
  ct_tensor_release(ix);
  ct_tensor_release(r8);
  still_usable();
}

/* ---- where -------------------------------------------------------------------------- */

/* Index of output element e (shape out, rank r) in an input of shape in
 * (rank ri) broadcast to it. */
static int64_t bcast_index(int64_t e, const int64_t *out, int r, const int64_t *in, int ri) {
  int64_t idx = 0, stride = 1;
  for (int d = r - 1; d >= 0; d--) {
    int64_t c = e % out[d];
    e /= out[d];
    int k = d - (r - ri);
    if (k < 0) continue;
    if (in[k] != 1) idx += c * stride;
    stride *= in[k];
  }
  return idx;
}

static void check_where(ct_dtype dt, const int64_t *sc, int rc, const int64_t *sx, int rx, const int64_t *sy, int ry,
                        const int64_t *so, int ro, uint64_t seed) {
  int64_t nc = 1, nx = 1, ny = 1, no = 1;
  for (int i = 0; i < rc; i++) nc *= sc[i];
  for (int i = 0; i < rx; i++) nx *= sx[i];
  for (int i = 0; i < ry; i++) ny *= sy[i];
  for (int i = 0; i < ro; i++) no *= so[i];
  double *c = malloc((size_t)(nc + 1) * 8), *x = malloc((size_t)(nx + 1) * 8), *y = malloc((size_t)(ny + 1) * 8);
  for (int64_t i = 0; i < nc; i++) c[i] = oh_rand(&seed, 0, 1) < 0.5;
  for (int64_t i = 0; i < nx; i++) x[i] = dt == CT_BOOL ? 1 : (double)(int)oh_rand(&seed, 1, 100);
  for (int64_t i = 0; i < ny; i++) y[i] = dt == CT_BOOL ? 0 : -(double)(int)oh_rand(&seed, 1, 100);
  ct_tensor *tc = oh_make(ctx, CT_BOOL, sc, rc, c), *tx = oh_make(ctx, dt, sx, rx, x);
  ct_tensor *ty = oh_make(ctx, dt, sy, ry, y);
  ct_tensor *out = NULL;
  CHECK_OK(ct_where(ctx, tc, tx, ty, &out));
  if (out) {
    CHECK(oh_same_shape(out, so, ro));
    CHECK(ct_tensor_dtype(out) == dt);
    double *r = oh_read(out);
    int bad = 0;
    for (int64_t e = 0; e < no; e++) {
      double want = c[bcast_index(e, so, ro, sc, rc)] ? x[bcast_index(e, so, ro, sx, rx)]
                                                      : y[bcast_index(e, so, ro, sy, ry)];
      bad += r[e] != want;
    }
    CHECK_EQ_INT(bad, 0);
    free(r);
  }
  ct_tensor_release(tc);
  ct_tensor_release(tx);
  ct_tensor_release(ty);
  ct_tensor_release(out);
  free(c);
  free(x);
  free(y);
}

TEST(where_broadcasts_all_three) {
  int64_t c3[3] = {2, 1, 3}, x2[2] = {4, 1}, y1[1] = {3}, o3[3] = {2, 4, 3};
  int64_t s2[2] = {5, 7}, big[2] = {400, 500}, brow[2] = {1, 500}, bcol[2] = {400, 1};
  for (size_t k = 0; k < N_OF(all_dtypes); k++) {
    ct_dtype dt = all_dtypes[k];
    check_where(dt, c3, 3, x2, 2, y1, 1, o3, 3, 1 + k);
    check_where(dt, s2, 2, s2, 2, s2, 2, s2, 2, 2 + k);  /* same shapes */
    check_where(dt, NULL, 0, s2, 2, NULL, 0, s2, 2, 3 + k); /* scalar condition and y */
    check_where(dt, s2, 2, s2, 2, NULL, 0, s2, 2, 5 + k);   /* scalar y only: a ReLU's gradient */
    check_where(dt, y1, 1, NULL, 0, NULL, 0, y1, 1, 4 + k);
  }
  check_where(CT_FLOAT32, bcol, 2, brow, 2, big, 2, big, 2, 9); /* threads */
  int64_t e[2] = {0, 3};
  check_where(CT_FLOAT64, e, 2, y1, 1, NULL, 0, e, 2, 10);
}

TEST(where_errors) {
  int64_t s23[2] = {2, 3}, s4[1] = {4};
  double v[6] = {1, 0, 1, 0, 1, 0};
  ct_tensor *c = oh_make(ctx, CT_BOOL, s23, 2, v), *ci = oh_make(ctx, CT_INT32, s23, 2, v);
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, s23, 2, v), *y = oh_make(ctx, CT_FLOAT32, s23, 2, v);
  ct_tensor *yi = oh_make(ctx, CT_INT32, s23, 2, v), *x4 = oh_make(ctx, CT_FLOAT32, s4, 1, v), *out = NULL;
  CHECK_ERR(ct_where(ctx, ci, x, y, &out), CT_INVALID_ARGUMENT, "where: condition must be bool, got int32");
  CHECK_ERR(ct_where(ctx, c, x, yi, &out), CT_INVALID_ARGUMENT,
            "where: x and y must have one dtype, got float32 and int32");
  CHECK_ERR(ct_where(ctx, c, x4, y, &out), CT_INVALID_ARGUMENT,
            "where: condition [2,3], then [4], and else [2,3] must be broadcastable");
  CHECK_ERR(ct_where(ctx, c, x, x4, &out), CT_INVALID_ARGUMENT, "condition [2,3], then [2,3], and else [4] must be");
  CHECK_ERR(ct_where(ctx, c, x, NULL, &out), CT_INVALID_ARGUMENT, "where: NULL y");
  CHECK_ERR(ct_where(ctx, NULL, x, y, &out), CT_INVALID_ARGUMENT, "where: NULL condition");
  CHECK(out == NULL);
  ct_tensor *all[] = {c, ci, x, y, yi, x4};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
  still_usable();
}

/* ---- zeros_like, ones_like ------------------------------------------------------ */

TEST(zeros_like_and_ones_like) {
  int64_t s[3] = {2, 1, 3}, e[2] = {0, 4};
  double v[6] = {1, 2, 3, 4, 5, 6};
  for (size_t k = 0; k < N_OF(all_dtypes); k++) {
    ct_dtype dt = all_dtypes[k];
    ct_tensor *x = oh_make(ctx, dt, s, 3, v), *z = NULL, *o = NULL;
    CHECK_OK(ct_zeros_like(ctx, x, &z));
    CHECK_OK(ct_ones_like(ctx, x, &o));
    if (z && o) {
      CHECK(oh_same_shape(z, s, 3) && oh_same_shape(o, s, 3));
      CHECK(ct_tensor_dtype(z) == dt && ct_tensor_dtype(o) == dt);
      double *rz = oh_read(z), *ro = oh_read(o);
      for (int i = 0; i < 6; i++) CHECK(rz[i] == 0 && ro[i] == 1);
      free(rz);
      free(ro);
    }
    ct_tensor_release(x);
    ct_tensor_release(z);
    ct_tensor_release(o);
  }
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, e, 2, NULL), *z = NULL;
  CHECK_OK(ct_zeros_like(ctx, x, &z));
  if (z) CHECK(oh_same_shape(z, e, 2));
  ct_tensor_release(z);
  z = NULL;
  CHECK_ERR(ct_zeros_like(ctx, NULL, &z), CT_INVALID_ARGUMENT, "zeros_like: NULL x");
  CHECK_ERR(ct_ones_like(ctx, x, NULL), CT_INVALID_ARGUMENT, "ones_like: NULL out");
  CHECK(z == NULL);
  ct_tensor_release(x);
  still_usable();
}

/* ---- broadcast_to ---------------------------------------------------------------- */

static void check_broadcast_to(ct_dtype dt, const int64_t *sx, int rx, const int64_t *so, int ro) {
  int64_t nx = 1, no = 1;
  for (int i = 0; i < rx; i++) nx *= sx[i];
  for (int i = 0; i < ro; i++) no *= so[i];
  double *v = malloc((size_t)(nx + 1) * 8);
  for (int64_t i = 0; i < nx; i++) v[i] = dt == CT_BOOL ? (double)(i % 3 == 0) : (double)(i % 1000) - 300;
  ct_tensor *x = oh_make(ctx, dt, sx, rx, v), *y = NULL;
  CHECK_OK(ct_broadcast_to(ctx, x, so, ro, &y));
  if (y) {
    CHECK(oh_same_shape(y, so, ro));
    CHECK(ct_tensor_dtype(y) == dt);
    double *r = oh_read(y);
    int bad = 0;
    for (int64_t e = 0; e < no; e++) bad += r[e] != oh_round(dt, v[bcast_index(e, so, ro, sx, rx)]);
    CHECK_EQ_INT(bad, 0);
    free(r);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
  free(v);
}

TEST(broadcast_to_values) {
  int64_t a[1] = {3}, a_o[2] = {2, 3}, b[2] = {2, 1}, b_o[2] = {2, 4}, c[3] = {2, 1, 3}, c_o[4] = {4, 2, 5, 3};
  int64_t one[1] = {1}, zero[1] = {0}, same[2] = {2, 3};
  for (size_t k = 0; k < N_OF(all_dtypes); k++) {
    ct_dtype dt = all_dtypes[k];
    check_broadcast_to(dt, a, 1, a_o, 2);
    check_broadcast_to(dt, b, 2, b_o, 2);
    check_broadcast_to(dt, c, 3, c_o, 4);
    check_broadcast_to(dt, NULL, 0, c_o, 4); /* a scalar */
    check_broadcast_to(dt, same, 2, same, 2);
    check_broadcast_to(dt, one, 1, zero, 1); /* 1 -> 0, as NumPy */
  }
  int64_t row[2] = {1, 700}, col[2] = {300, 1}, big[2] = {300, 700};
  check_broadcast_to(CT_FLOAT32, row, 2, big, 2); /* threads */
  check_broadcast_to(CT_INT64, col, 2, big, 2);
}

TEST(broadcast_to_errors) {
  int64_t s23[2] = {2, 3}, s43[2] = {4, 3}, s3[1] = {3}, neg[2] = {2, -1}, z[1] = {0};
  double v[6] = {0};
  ct_tensor *x = oh_make(ctx, CT_FLOAT32, s23, 2, v), *zx = oh_make(ctx, CT_FLOAT32, z, 1, v), *y = NULL;
  CHECK_ERR(ct_broadcast_to(ctx, x, s43, 2, &y), CT_INVALID_ARGUMENT,
            "broadcast_to: Unable to broadcast tensor of shape [2,3] to tensor of shape [4,3]");
  CHECK_ERR(ct_broadcast_to(ctx, x, s3, 1, &y), CT_INVALID_ARGUMENT,
            "broadcast_to: Rank of input (2) must be no greater than rank of output shape (1)");
  CHECK_ERR(ct_broadcast_to(ctx, zx, s3, 1, &y), CT_INVALID_ARGUMENT, "tensor of shape [0] to tensor of shape [3]");
  CHECK_ERR(ct_broadcast_to(ctx, x, neg, 2, &y), CT_INVALID_ARGUMENT,
            "broadcast_to: dimension 1 is negative in shape [2,-1]");
  CHECK_ERR(ct_broadcast_to(ctx, x, NULL, 2, &y), CT_INVALID_ARGUMENT, "broadcast_to: shape is NULL for rank 2");
  CHECK_ERR(ct_broadcast_to(ctx, x, s23, 9, &y), CT_INVALID_ARGUMENT, "broadcast_to: rank 9 out of range");
  CHECK_ERR(ct_broadcast_to(ctx, NULL, s23, 2, &y), CT_INVALID_ARGUMENT, "broadcast_to: NULL x");
  CHECK(y == NULL);
  ct_tensor_release(x);
  ct_tensor_release(zx);
  still_usable();
}

/* ---- unsorted_segment_sum ------------------------------------------------------- */

static void check_segment_sum(ct_dtype dt, ct_dtype it, const int64_t *sd, int rd, const double *ids,
                              const int64_t *si, int ri, int64_t num_segments, uint64_t seed) {
  int64_t nd = 1, ni = 1;
  for (int i = 0; i < rd; i++) nd *= sd[i];
  for (int i = 0; i < ri; i++) ni *= si[i];
  int64_t inner = 1;
  for (int i = ri; i < rd; i++) inner *= sd[i];
  double *v = malloc((size_t)(nd + 1) * 8), *want = calloc((size_t)(num_segments * (inner ? inner : 1) + 1), 8);
  const double step = dt == CT_INT32 || dt == CT_INT64 ? 1 : 4; /* quarters: exact sums in every float dtype */
  for (int64_t i = 0; i < nd; i++) v[i] = (double)(int)oh_rand(&seed, -20, 20) / step;
  for (int64_t r = 0; r < ni; r++)
    if (ids[r] >= 0)
      for (int64_t c = 0; c < inner; c++) want[(int64_t)ids[r] * inner + c] += oh_round(dt, v[r * inner + c]);
  ct_tensor *d = oh_make(ctx, dt, sd, rd, v), *ix = make_index(it, si, ri, ids), *y = NULL;
  CHECK_OK(ct_unsorted_segment_sum(ctx, d, ix, num_segments, &y));
  if (y) {
    int64_t so[CT_MAX_RANK];
    so[0] = num_segments;
    for (int i = ri; i < rd; i++) so[1 + i - ri] = sd[i];
    CHECK(oh_same_shape(y, so, 1 + rd - ri));
    CHECK(ct_tensor_dtype(y) == dt);
    double *r = oh_read(y);
    int bad = 0;
    /* the values are multiples of 1/4 with small sums: exact in every dtype
     * except where bfloat16 rounds a sum */
    for (int64_t e = 0; e < num_segments * inner; e++)
      bad += !(fabs(r[e] - want[e]) <= (dt == CT_BFLOAT16 ? 1e-2 * fabs(want[e]) : 0));
    CHECK_EQ_INT(bad, 0);
    free(r);
  }
  ct_tensor_release(d);
  ct_tensor_release(ix);
  ct_tensor_release(y);
  free(v);
  free(want);
}

TEST(unsorted_segment_sum_values) {
  int64_t sd[2] = {6, 2}, si[1] = {6};
  double ids[6] = {0, 2, -1, 2, 4, -3}; /* segments 1 and 3 get nothing; two rows dropped */
  int64_t sd3[3] = {2, 3, 2}, si2[2] = {2, 3};
  double ids2[6] = {1, 0, 1, -1, 0, 2};
  int64_t sd1[1] = {4};
  double ids0[1] = {1};
  for (size_t k = 0; k < N_OF(numeric); k++) {
    ct_dtype dt = numeric[k];
    for (int t = 0; t < 2; t++) {
      ct_dtype it = t ? CT_INT64 : CT_INT32;
      check_segment_sum(dt, it, sd, 2, ids, si, 1, 5, 1 + k);
      check_segment_sum(dt, it, sd3, 3, ids2, si2, 2, 3, 2 + k);
      check_segment_sum(dt, it, sd1, 1, ids0, NULL, 0, 3, 4 + k);     /* scalar id: one row of 4 */
      check_segment_sum(dt, it, sd, 2, ids, si, 1, 9, 5 + k); /* more segments than ids */
    }
  }
  /* every id negative, no segments: an empty result */
  double negs[6] = {-1, -1, -2, -1, -5, -1};
  check_segment_sum(CT_FLOAT32, CT_INT32, sd, 2, negs, si, 1, 0, 9);
  /* empty data: zeros, and ids are not even looked at (TensorFlow's CPU) */
  int64_t e[2] = {0, 2}, ei[1] = {0};
  check_segment_sum(CT_FLOAT32, CT_INT64, e, 2, NULL, ei, 1, 3, 10);
  /* wide rows (threads split the columns) */
  int64_t wd[2] = {64, 4096}, wi[1] = {64};
  double wids[64];
  for (int i = 0; i < 64; i++) wids[i] = (i * 7) % 11 - 1;
  check_segment_sum(CT_FLOAT32, CT_INT32, wd, 2, wids, wi, 1, 10, 11);
  check_segment_sum(CT_FLOAT16, CT_INT64, wd, 2, wids, wi, 1, 10, 12);
}

TEST(unsorted_segment_sum_errors) {
  int64_t sd[2] = {6, 2}, si[1] = {6}, s23[2] = {2, 3}, s5[1] = {5};
  double ids[6] = {0, 1, 2, 7, 0, 1}, v[12] = {0};
  double ids2[6] = {0, 1, 2, 0, 1, 7};
  ct_tensor *d = oh_make(ctx, CT_FLOAT32, sd, 2, v), *ix = make_index(CT_INT32, si, 1, ids);
  ct_tensor *ix64 = make_index(CT_INT64, si, 1, ids);
  ct_tensor *d23 = oh_make(ctx, CT_FLOAT32, s23, 2, v), *ix23 = make_index(CT_INT64, s23, 2, ids2);
  ct_tensor *fx = oh_make(ctx, CT_FLOAT32, si, 1, v), *ix5 = make_index(CT_INT32, s5, 1, v);
  ct_tensor *db = oh_make(ctx, CT_BOOL, sd, 2, v), *y = NULL;
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, ix, 5, &y), CT_INVALID_ARGUMENT,
            "unsorted_segment_sum: segment_ids[3] = 7 is out of range [0, 5)");
  still_usable();
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, ix64, 5, &y), CT_INVALID_ARGUMENT,
            "segment_ids[3] = 7 is out of range [0, 5)");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d23, ix23, 5, &y), CT_INVALID_ARGUMENT,
            "segment_ids[1,2] = 7 is out of range [0, 5)");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, ix, 0, &y), CT_INVALID_ARGUMENT,
            "segment_ids[0] = 0 is out of range [0, 0)");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, ix, -1, &y), CT_INVALID_ARGUMENT,
            "unsorted_segment_sum: Input num_segments == -1 must not be negative.");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, ix5, 8, &y), CT_INVALID_ARGUMENT,
            "unsorted_segment_sum: data.shape = [6,2] does not start with segment_ids.shape = [5]");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, ix23, 8, &y), CT_INVALID_ARGUMENT,
            "data.shape = [6,2] does not start with segment_ids.shape = [2,3]");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, fx, 8, &y), CT_INVALID_ARGUMENT,
            "unsorted_segment_sum: segment_ids must be int32 or int64, got float32");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, db, ix, 8, &y), CT_INVALID_ARGUMENT,
            "unsorted_segment_sum: dtype bool is not supported");
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d, NULL, 8, &y), CT_INVALID_ARGUMENT,
            "unsorted_segment_sum: NULL segment_ids");
  CHECK(y == NULL);
  int64_t s8[8] = {1, 1, 1, 1, 1, 1, 1, 2};
  double one[1] = {0};
  ct_tensor *d8 = oh_make(ctx, CT_FLOAT32, s8, 8, v), *sc = make_index(CT_INT32, NULL, 0, one);
  CHECK_ERR(ct_unsorted_segment_sum(ctx, d8, sc, 2, &y), CT_INVALID_ARGUMENT, "the result would have rank 9");
  ct_tensor *all[] = {d, ix, ix64, d23, ix23, fx, ix5, db, d8, sc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
  still_usable();
}

int main(void) {
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "cannot create a context: %s\n", ct_last_error());
    return 1;
  }
  RUN(square_values_and_wrapping);
  RUN(log_softmax_large_logits_every_axis);
  RUN(log_softmax_infinities_and_big_rows);
  RUN(log_softmax_empty_and_errors);
  RUN(sparse_xent_values);
  RUN(dense_xent_values);
  RUN(xent_known_values);
  RUN(xent_empty_batch);
  RUN(xent_errors);
  RUN(sparse_xent_long_label_list_is_cut);
  RUN(one_hot_every_axis_and_dtype);
  RUN(one_hot_scalar_empty_and_errors);
  RUN(where_broadcasts_all_three);
  RUN(where_errors);
  RUN(zeros_like_and_ones_like);
  RUN(broadcast_to_values);
  RUN(broadcast_to_errors);
  RUN(unsorted_segment_sum_values);
  RUN(unsorted_segment_sum_errors);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
