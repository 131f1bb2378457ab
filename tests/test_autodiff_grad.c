/*
 * Every gradient ctensor has, checked against finite differences in
 * float64 on the CPU; then TensorFlow's exact answers where a formula has
 * to choose (ties, kinks, x == 0), higher orders, and the float32 path.
 *
 * The checker: f(inputs) -> y. The analytic gradient of sum(w * y), for a
 * random weight w of y's shape (so every gradient function sees an
 * upstream gradient that is not all ones), is ct_tape_gradient with w as
 * the output gradient and every float input watched. The numeric one
 * perturbs each input element by +-h (central differences, h = 1e-6
 * scaled by the element) and evaluates sum(w * f) again with no tape. In
 * float64 the two agree to about 1e-9 for the smooth, small functions used
 * here; the tolerance (1e-6 absolute + 1e-6 relative) is far inside what a
 * wrong formula -- a missing factor 2, a wrong sign, a gradient sent to
 * the wrong broadcast axis -- would produce.
 */
#include "ops_helpers.h"

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define MAX_IN 8

#define FD_H 1e-6
#define FD_ATOL 1e-6
#define FD_RTOL 1e-6

static ct_context *ctx;
/* Second-order checks: a gradient that does not depend on an input comes
 * back NULL (unconnected, TensorFlow's None); it is then checked as zeros. */
static bool fd_null_is_zero;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* ---- making inputs ------------------------------------------------------ */

static int64_t numel(int rank, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  return n;
}

/* Uniform in [lo, hi). */
static ct_tensor *rnd(int rank, const int64_t *shape, double lo, double hi) {
  int64_t n = numel(rank, shape);
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = oh_rand(&rng, lo, hi);
  ct_tensor *t = oh_make(ctx, CT_FLOAT64, shape, rank, v);
  free(v);
  return t;
}

/* |v| uniform in [lo, hi), random sign: away from a kink at 0. */
static ct_tensor *rnd_away(int rank, const int64_t *shape, double lo, double hi) {
  int64_t n = numel(rank, shape);
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = oh_rand(&rng, lo, hi) * (oh_rand(&rng, 0, 1) < 0.5 ? -1 : 1);
  ct_tensor *t = oh_make(ctx, CT_FLOAT64, shape, rank, v);
  free(v);
  return t;
}

static ct_tensor *vals(ct_dtype dt, int rank, const int64_t *shape, const double *v) {
  return oh_make(ctx, dt, shape, rank, v);
}

static void release_all(ct_tensor **t, int n) {
  for (int i = 0; i < n; i++) ct_tensor_release(t[i]);
}

/* ---- the checker ---------------------------------------------------------- */

typedef ct_status (*fd_fn)(ct_tensor *const *in, const void *user, ct_tensor **out);

/* sum(w * f(in with in[k] replaced by x)); NAN when f fails. */
static double weighted_eval(fd_fn f, const void *user, ct_tensor *const *in, int n_in, int k, const double *x,
                            const double *w) {
  ct_tensor *args[MAX_IN], *xt = NULL, *y = NULL;
  for (int i = 0; i < n_in; i++) args[i] = in[i];
  if (k >= 0) {
    xt = vals(CT_FLOAT64, ct_tensor_rank(in[k]), ct_tensor_shape(in[k]), x);
    args[k] = xt;
  }
  ct_status st = f(args, user, &y);
  ct_tensor_release(xt);
  if (st != CT_OK) return NAN;
  double *yv = oh_read(y), sum = 0;
  for (int64_t i = 0; i < ct_tensor_num_elements(y); i++) sum += w[i] * yv[i];
  free(yv);
  ct_tensor_release(y);
  return sum;
}

/* Checks the gradient of every float64 input of f at `in` (borrowed). */
static void fd_check(const char *what, fd_fn f, const void *user, ct_tensor *const *in, int n_in) {
  for (int i = 0; i < n_in; i++) CHECK(in[i] != NULL);
  for (int i = 0; i < n_in; i++)
    if (in[i] == NULL) return;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, false, false, &tape));
  if (!tape) return;
  ct_gradient_source src[MAX_IN];
  int which[MAX_IN], ns = 0;
  for (int i = 0; i < n_in; i++) {
    if (ct_tensor_dtype(in[i]) != CT_FLOAT64) continue;
    CHECK_OK(ct_tape_watch(tape, in[i]));
    src[ns] = (ct_gradient_source){in[i], NULL};
    which[ns++] = i;
  }
  ct_tensor *y = NULL;
  ct_status st = f(in, user, &y);
  CHECK_OK(st);
  if (st != CT_OK) {
    fprintf(stderr, "  [%s] the function failed\n", what);
    ct_tape_free(tape);
    return;
  }
  CHECK_EQ_INT(ct_tensor_dtype(y), CT_FLOAT64);
  int64_t ny = ct_tensor_num_elements(y);
  double *w = malloc((size_t)(ny > 0 ? ny : 1) * sizeof *w);
  for (int64_t i = 0; i < ny; i++) w[i] = oh_rand(&rng, -1.5, 1.5);
  ct_tensor *wt = vals(CT_FLOAT64, ct_tensor_rank(y), ct_tensor_shape(y), w);
  ct_tensor *g[MAX_IN] = {NULL};
  const ct_tensor *targets[1] = {y}, *ogs[1] = {wt};
  st = ct_tape_gradient(tape, targets, 1, ogs, src, ns, CT_UNCONNECTED_NONE, g);
  CHECK_OK(st);
  ct_tape_free(tape);
  ct_tensor_release(wt);
  ct_tensor_release(y);
  for (int s = 0; s < ns && st == CT_OK; s++) {
    int k = which[s];
    const ct_tensor *x = in[k];
    if (g[s] == NULL && fd_null_is_zero) CHECK_OK(ct_zeros_like(ctx, x, &g[s]));
    bool ok = g[s] != NULL && ct_tensor_dtype(g[s]) == CT_FLOAT64 &&
              oh_same_shape(g[s], ct_tensor_shape(x), ct_tensor_rank(x));
    CHECK(ok);
    if (!ok) {
      fprintf(stderr, "  [%s] input %d: gradient %s\n", what, k, g[s] ? "of the wrong shape or dtype" : "is NULL");
      continue;
    }
    int64_t n = ct_tensor_num_elements(x);
    double *ga = oh_read(g[s]), *xv = oh_read(x), *xp = malloc((size_t)(n > 0 ? n : 1) * sizeof *xp);
    memcpy(xp, xv, (size_t)n * sizeof *xp);
    int bad = 0;
    double worst = 0;
    for (int64_t j = 0; j < n; j++) {
      double h = FD_H * fmax(1.0, fabs(xv[j]));
      xp[j] = xv[j] + h;
      double fp = weighted_eval(f, user, in, n_in, k, xp, w);
      xp[j] = xv[j] - h;
      double fm = weighted_eval(f, user, in, n_in, k, xp, w);
      xp[j] = xv[j];
      double num = (fp - fm) / (2 * h), err = fabs(ga[j] - num);
      if (err > worst || err != err) worst = err;
      if (!(err <= FD_ATOL + FD_RTOL * fmax(fabs(num), fabs(ga[j])))) {
        if (bad++ < 4)
          fprintf(stderr, "  [%s] input %d element %lld: analytic %.12g, numeric %.12g\n", what, k, (long long)j,
                  ga[j], num);
      }
    }
    tu_checks++;
    if (bad) {
      tu_failures++;
      fprintf(stderr, "%s:%d: [%s] %s: input %d: %d of %lld elements off (worst error %.3g)\n", __FILE__, __LINE__,
              tu_current, what, k, bad, (long long)n, worst);
    }
    free(ga);
    free(xv);
    free(xp);
  }
  release_all(g, ns);
  free(w);
}

/* Checks f and releases the inputs. */
static void fd_check_owned(const char *what, fd_fn f, const void *user, ct_tensor **in, int n_in) {
  fd_check(what, f, user, in, n_in);
  release_all(in, n_in);
}

/* ---- ops as fd_fn --------------------------------------------------------- */

typedef ct_status (*unary_op)(ct_context *, const ct_tensor *, ct_tensor **);
typedef ct_status (*binary_op)(ct_context *, const ct_tensor *, const ct_tensor *, ct_tensor **);
typedef ct_status (*reduce_op)(ct_context *, const ct_tensor *, const int *, int, bool, ct_tensor **);

typedef struct unary_case {
  const char *name;
  unary_op fn;
} unary_case;

typedef struct binary_case {
  const char *name;
  binary_op fn;
} binary_case;

static ct_status f_unary(ct_tensor *const *in, const void *user, ct_tensor **out) {
  return ((const unary_case *)user)->fn(ctx, in[0], out);
}

static ct_status f_binary(ct_tensor *const *in, const void *user, ct_tensor **out) {
  return ((const binary_case *)user)->fn(ctx, in[0], in[1], out);
}

/* ---- elementwise ---------------------------------------------------------- */

/* Binary ops under every broadcasting pattern, both directions. */
TEST(binary_broadcasting) {
  static const binary_case ops[] = {{"add", ct_add},   {"sub", ct_sub},         {"mul", ct_mul},
                                    {"div", ct_div},   {"pow", ct_pow},         {"maximum", ct_maximum},
                                    {"minimum", ct_minimum}};
  struct {
    int ra;
    int64_t a[3];
    int rb;
    int64_t b[3];
  } shapes[] = {
      {2, {2, 3}, 2, {2, 3}}, {2, {2, 3}, 1, {3}},       {1, {3}, 2, {2, 3}}, {3, {2, 1, 3}, 2, {4, 1}},
      {2, {4, 1}, 3, {2, 1, 3}}, {0, {0}, 2, {2, 2}}, {2, {2, 2}, 0, {0}},
  };
  for (int o = 0; o < LEN(ops); o++) {
    for (int s = 0; s < LEN(shapes); s++) {
      const char *name = ops[o].name;
      ct_tensor *in[2];
      if (strcmp(name, "pow") == 0) {
        in[0] = rnd(shapes[s].ra, shapes[s].a, 0.5, 2.0); /* a positive base */
        in[1] = rnd(shapes[s].rb, shapes[s].b, -2.0, 2.0);
      } else if (strcmp(name, "div") == 0) {
        in[0] = rnd(shapes[s].ra, shapes[s].a, -2.0, 2.0);
        in[1] = rnd_away(shapes[s].rb, shapes[s].b, 0.5, 2.0);
      } else {
        /* maximum/minimum: independent draws, so no pair is within h of a tie */
        in[0] = rnd(shapes[s].ra, shapes[s].a, -2.0, 2.0);
        in[1] = rnd(shapes[s].rb, shapes[s].b, -2.0, 2.0);
      }
      char what[64];
      snprintf(what, sizeof what, "%s #%d", name, s);
      fd_check_owned(what, f_binary, &ops[o], in, 2);
    }
  }
}

TEST(unary) {
  static const unary_case smooth[] = {{"neg", ct_neg},   {"exp", ct_exp},         {"tanh", ct_tanh},
                                      {"sigmoid", ct_sigmoid}, {"square", ct_square}};
  static const unary_case positive[] = {{"log", ct_log}, {"sqrt", ct_sqrt}};
  static const unary_case kinked[] = {{"abs", ct_abs}, {"relu", ct_relu}};
  for (int o = 0; o < LEN(smooth); o++) {
    ct_tensor *in[1] = {rnd(2, SH(2, 3), -2, 2)};
    fd_check_owned(smooth[o].name, f_unary, &smooth[o], in, 1);
  }
  for (int o = 0; o < LEN(positive); o++) {
    ct_tensor *in[1] = {rnd(2, SH(2, 3), 0.3, 3)};
    fd_check_owned(positive[o].name, f_unary, &positive[o], in, 1);
  }
  for (int o = 0; o < LEN(kinked); o++) {
    ct_tensor *in[1] = {rnd_away(2, SH(2, 3), 0.1, 2)};
    fd_check_owned(kinked[o].name, f_unary, &kinked[o], in, 1);
  }
}

/* clip_by_value(x, lo, hi) as minimum(maximum(x, lo), hi): x below, inside
 * and above the range, lo and hi tensors watched too. */
static ct_status f_clip(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *m = NULL;
  ct_status st = ct_maximum(ctx, in[0], in[1], &m);
  if (st == CT_OK) st = ct_minimum(ctx, m, in[2], out);
  ct_tensor_release(m);
  return st;
}

TEST(clip_by_value) {
  double xv[6] = {-2.0, -0.7, 0.1, 0.45, 0.9, 3.0}, lo = -0.5, hi = 0.5;
  ct_tensor *in[3] = {vals(CT_FLOAT64, 2, SH(2, 3), xv), vals(CT_FLOAT64, 0, NULL, &lo), vals(CT_FLOAT64, 0, NULL, &hi)};
  fd_check_owned("clip_by_value", f_clip, NULL, in, 3);
}

/* float64 -> float32 -> float64: the gradient comes back unchanged, exactly
 * (w exact in float32), and the default seed gives exactly ones. */
TEST(cast_round_trip) {
  ct_tensor *x = rnd(2, SH(2, 3), -2, 2), *c32 = NULL, *c64 = NULL, *g = NULL;
  double wv[6] = {1, -0.5, 2.25, 0.125, -3, 7};
  ct_tensor *w = vals(CT_FLOAT64, 2, SH(2, 3), wv);
  for (int pass = 0; pass < 2; pass++) {
    ct_tape *tape = NULL;
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_cast(ctx, x, CT_FLOAT32, &c32));
    CHECK_OK(ct_cast(ctx, c32, CT_FLOAT64, &c64));
    ct_gradient_source s = {x, NULL};
    const ct_tensor *t[1] = {c64}, *og[1] = {w};
    CHECK_OK(ct_tape_gradient(tape, t, 1, pass ? og : NULL, &s, 1, CT_UNCONNECTED_NONE, &g));
    CHECK(g != NULL);
    if (g) {
      CHECK_EQ_INT(ct_tensor_dtype(g), CT_FLOAT64);
      double *v = oh_read(g);
      for (int i = 0; i < 6; i++) CHECK(v[i] == (pass ? wv[i] : 1.0));
      free(v);
    }
    ct_tape_free(tape);
    ct_tensor_release(c32);
    ct_tensor_release(c64);
    ct_tensor_release(g);
    c32 = c64 = g = NULL;
  }
  ct_tensor_release(x);
  ct_tensor_release(w);
}

/* ---- matmul ----------------------------------------------------------------- */

typedef struct mm_case {
  bool ta, tb;
} mm_case;

static ct_status f_matmul(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const mm_case *c = user;
  return ct_matmul(ctx, in[0], in[1], c->ta, c->tb, out);
}

TEST(matmul) {
  /* [2,3] x [3,4] in the four transpose forms */
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      mm_case c = {ta, tb};
      ct_tensor *in[2] = {ta ? rnd(2, SH(3, 2), -1, 1) : rnd(2, SH(2, 3), -1, 1),
                          tb ? rnd(2, SH(4, 3), -1, 1) : rnd(2, SH(3, 4), -1, 1)};
      char what[32];
      snprintf(what, sizeof what, "matmul ta=%d tb=%d", ta, tb);
      fd_check_owned(what, f_matmul, &c, in, 2);
    }
  mm_case plain = {false, false}, both = {true, true};
  ct_tensor *b3[2] = {rnd(3, SH(2, 2, 3), -1, 1), rnd(3, SH(2, 3, 4), -1, 1)};
  fd_check_owned("matmul batched", f_matmul, &plain, b3, 2);
  ct_tensor *b3t[2] = {rnd(3, SH(2, 3, 2), -1, 1), rnd(3, SH(2, 4, 3), -1, 1)};
  fd_check_owned("matmul batched, both transposed", f_matmul, &both, b3t, 2);
  ct_tensor *bb[2] = {rnd(3, SH(1, 3, 4), -1, 1), rnd(3, SH(2, 4, 5), -1, 1)};
  fd_check_owned("matmul [1,3,4]x[2,4,5]", f_matmul, &plain, bb, 2);
  ct_tensor *bb2[2] = {rnd(3, SH(2, 3, 4), -1, 1), rnd(3, SH(1, 4, 2), -1, 1)};
  fd_check_owned("matmul [2,3,4]x[1,4,2]", f_matmul, &plain, bb2, 2);
  ct_tensor *r32[2] = {rnd(3, SH(2, 3, 4), -1, 1), rnd(2, SH(4, 2), -1, 1)};
  fd_check_owned("matmul rank 3 x rank 2", f_matmul, &plain, r32, 2);
  ct_tensor *r23[2] = {rnd(2, SH(3, 4), -1, 1), rnd(3, SH(2, 4, 2), -1, 1)};
  fd_check_owned("matmul rank 2 x rank 3", f_matmul, &plain, r23, 2);
  mm_case tb_only = {false, true};
  ct_tensor *r32t[2] = {rnd(3, SH(2, 3, 4), -1, 1), rnd(2, SH(2, 4), -1, 1)};
  fd_check_owned("matmul rank 3 x rank 2, b transposed", f_matmul, &tb_only, r32t, 2);
  /* two batch dimensions, one broadcast inside a (made of broadcast_to,
   * reshape and the rank-3 matmul: differentiated through them) */
  ct_tensor *r43[2] = {rnd(4, SH(2, 1, 3, 4), -1, 1), rnd(3, SH(3, 4, 2), -1, 1)};
  fd_check_owned("matmul [2,1,3,4]x[3,4,2]", f_matmul, &plain, r43, 2);
  ct_tensor *r44[2] = {rnd(4, SH(2, 3, 4, 3), -1, 1), rnd(4, SH(1, 3, 2, 4), -1, 1)};
  fd_check_owned("matmul [2,3,4,3]x[1,3,2,4], both transposed", f_matmul, &both, r44, 2);
}

/* ---- reductions ------------------------------------------------------------------ */

typedef struct reduce_case {
  reduce_op fn;
  const int *axes;
  int n_axes;
  bool keepdims;
} reduce_case;

static ct_status f_reduce(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const reduce_case *c = user;
  return c->fn(ctx, in[0], c->axes, c->n_axes, c->keepdims, out);
}

TEST(reductions) {
  static const struct {
    const char *name;
    reduce_op fn;
  } ops[] = {{"reduce_sum", ct_reduce_sum}, {"reduce_mean", ct_reduce_mean}, {"reduce_max", ct_reduce_max},
             {"reduce_min", ct_reduce_min}};
  static const int a0[] = {0}, a12[] = {1, 2}, am1[] = {-1}, a0m1[] = {0, -1}, am2[] = {-2}, a1[] = {1};
  static const struct {
    const int *axes;
    int n;
  } sets[] = {{NULL, 0}, {a0, 1}, {a1, 1}, {a12, 2}, {am1, 1}, {a0m1, 2}, {am2, 1}};
  for (int o = 0; o < LEN(ops); o++)
    for (int s = 0; s < LEN(sets); s++)
      for (int k = 0; k < 2; k++) {
        reduce_case c = {ops[o].fn, sets[s].axes, sets[s].n, k == 1};
        /* independent uniform draws: no two elements within h of a tie */
        ct_tensor *in[1] = {rnd(3, SH(2, 3, 4), -2, 2)};
        char what[64];
        snprintf(what, sizeof what, "%s axes set %d keepdims=%d", ops[o].name, s, k);
        fd_check_owned(what, f_reduce, &c, in, 1);
      }
}

/* ---- softmax family --------------------------------------------------------------- */

typedef struct axis_case {
  ct_status (*fn)(ct_context *, const ct_tensor *, int, ct_tensor **);
  int axis;
} axis_case;

static ct_status f_axis(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const axis_case *c = user;
  return c->fn(ctx, in[0], c->axis, out);
}

TEST(softmax_and_log_softmax) {
  int axes[] = {0, -1, 1};
  for (int a = 0; a < LEN(axes); a++) {
    axis_case sm = {ct_softmax, axes[a]}, lsm = {ct_log_softmax, axes[a]};
    ct_tensor *x1[1] = {rnd(2, SH(3, 4), -2, 2)};
    fd_check_owned(a == 0 ? "softmax axis 0" : a == 1 ? "softmax axis -1" : "softmax axis 1", f_axis, &sm, x1, 1);
    ct_tensor *x2[1] = {rnd(2, SH(3, 4), -2, 2)};
    fd_check_owned(a == 0 ? "log_softmax axis 0" : a == 1 ? "log_softmax axis -1" : "log_softmax axis 1", f_axis,
                   &lsm, x2, 1);
  }
  axis_case sm3 = {ct_softmax, 1}, lsm3 = {ct_log_softmax, -2};
  ct_tensor *x3[1] = {rnd(3, SH(2, 3, 2), -2, 2)};
  fd_check_owned("softmax rank 3 axis 1", f_axis, &sm3, x3, 1);
  ct_tensor *x4[1] = {rnd(3, SH(2, 3, 2), -2, 2)};
  fd_check_owned("log_softmax rank 3 axis -2", f_axis, &lsm3, x4, 1);
}

/* in[0] logits, in[1] labels: the loss. */
static ct_status f_sparse_xent(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  return ct_sparse_softmax_cross_entropy_with_logits(ctx, in[1], in[0], out, NULL);
}

static ct_status f_dense_xent(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *bp = NULL;
  /* asking for backprop too must not change what the tape records */
  ct_status st = ct_softmax_cross_entropy_with_logits(ctx, in[1], in[0], out, &bp);
  ct_tensor_release(bp);
  return st;
}

/* The backprop output used as a value: softmax(logits) - labels. */
static ct_status f_sparse_backprop(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *loss = NULL;
  ct_status st = ct_sparse_softmax_cross_entropy_with_logits(ctx, in[1], in[0], &loss, out);
  ct_tensor_release(loss);
  return st;
}

static ct_status f_dense_backprop(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *loss = NULL;
  ct_status st = ct_softmax_cross_entropy_with_logits(ctx, in[1], in[0], &loss, out);
  ct_tensor_release(loss);
  return st;
}

/* loss + sum(backprop^2): gradients through both outputs at once. */
static ct_status f_dense_both(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *loss = NULL, *bp = NULL, *sq = NULL, *ssq = NULL;
  int ax = 1;
  ct_status st = ct_softmax_cross_entropy_with_logits(ctx, in[1], in[0], &loss, &bp);
  if (st == CT_OK) st = ct_square(ctx, bp, &sq);
  if (st == CT_OK) st = ct_reduce_sum(ctx, sq, &ax, 1, false, &ssq);
  if (st == CT_OK) st = ct_add(ctx, loss, ssq, out);
  ct_tensor *all[4] = {loss, bp, sq, ssq};
  release_all(all, 4);
  return st;
}

TEST(softmax_cross_entropy) {
  double lab[4] = {1, 0, 3, 1};
  ct_tensor *s32[2] = {rnd(2, SH(4, 4), -2, 2), vals(CT_INT32, 1, SH(4), lab)};
  fd_check_owned("sparse xent, int32 labels", f_sparse_xent, NULL, s32, 2);
  ct_tensor *s64[2] = {rnd(2, SH(4, 3), -2, 2), vals(CT_INT64, 1, SH(4), (const double[]){2, 2, 0, 1})};
  fd_check_owned("sparse xent, int64 labels", f_sparse_xent, NULL, s64, 2);
  /* labels: rows of a distribution. The logits' gradient, softmax - labels
   * (TensorFlow's kernel), is the loss's derivative only for rows that sum
   * to 1; the labels' gradient, -log_softmax, holds anywhere. */
  double dl[12] = {0.2, 0.3, 0.5, 0, 1, 0, 0.1, 0.1, 0.8, 0.3, 0.6, 0.1};
  ct_tensor *d[2] = {rnd(2, SH(4, 3), -2, 2), vals(CT_FLOAT64, 2, SH(4, 3), dl)};
  fd_check_owned("dense xent (logits and labels)", f_dense_xent, NULL, d, 2);
  /* the second output is differentiable too (it is what second-order
   * gradients go through) */
  ct_tensor *sb[2] = {rnd(2, SH(3, 4), -2, 2), vals(CT_INT32, 1, SH(3), (const double[]){3, 0, 1})};
  fd_check_owned("sparse xent's backprop output", f_sparse_backprop, NULL, sb, 2);
  ct_tensor *db[2] = {rnd(2, SH(4, 3), -2, 2), vals(CT_FLOAT64, 2, SH(4, 3), dl)};
  fd_check_owned("dense xent's backprop output", f_dense_backprop, NULL, db, 2);
  ct_tensor *both[2] = {rnd(2, SH(4, 3), -2, 2), vals(CT_FLOAT64, 2, SH(4, 3), dl)};
  fd_check_owned("dense xent, loss and backprop used", f_dense_both, NULL, both, 2);
}

/* ---- shape ops ------------------------------------------------------------------------ */

typedef struct shape_case {
  int rank;
  int64_t shape[CT_MAX_RANK];
} shape_case;

static ct_status f_reshape(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const shape_case *c = user;
  return ct_reshape(ctx, in[0], c->shape, c->rank, out);
}

static ct_status f_broadcast_to(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const shape_case *c = user;
  return ct_broadcast_to(ctx, in[0], c->shape, c->rank, out);
}

/* Linear ops: with a random w the check still sees every value routed to
 * the right place. */
TEST(reshape_expand_dims_squeeze) {
  shape_case r = {2, {4, 3}}, inferred = {3, {2, -1, 2}}, expand = {3, {3, 1, 4}}, squeeze = {2, {3, 4}};
  ct_tensor *a[1] = {rnd(2, SH(3, 4), -2, 2)};
  fd_check_owned("reshape [3,4] -> [4,3]", f_reshape, &r, a, 1);
  ct_tensor *b[1] = {rnd(2, SH(3, 4), -2, 2)};
  fd_check_owned("reshape [3,4] -> [2,-1,2]", f_reshape, &inferred, b, 1);
  ct_tensor *c[1] = {rnd(2, SH(3, 4), -2, 2)};
  fd_check_owned("expand_dims as reshape", f_reshape, &expand, c, 1);
  ct_tensor *d[1] = {rnd(3, SH(3, 1, 4), -2, 2)};
  fd_check_owned("squeeze as reshape", f_reshape, &squeeze, d, 1);
}

TEST(broadcast_to) {
  shape_case to = {3, {2, 3, 4}};
  ct_tensor *a[1] = {rnd(2, SH(3, 1), -2, 2)};
  fd_check_owned("broadcast_to [3,1] -> [2,3,4]", f_broadcast_to, &to, a, 1);
  ct_tensor *b[1] = {rnd(1, SH(4), -2, 2)};
  fd_check_owned("broadcast_to [4] -> [2,3,4]", f_broadcast_to, &to, b, 1);
  ct_tensor *c[1] = {rnd(0, NULL, -2, 2)};
  fd_check_owned("broadcast_to [] -> [2,3,4]", f_broadcast_to, &to, c, 1);
}

static ct_status f_transpose(ct_tensor *const *in, const void *user, ct_tensor **out) {
  return ct_transpose(ctx, in[0], (const int *)user, out);
}

TEST(transpose) {
  static const int perms[][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int p = 0; p < LEN(perms); p++) {
    ct_tensor *in[1] = {rnd(3, SH(2, 3, 4), -2, 2)};
    char what[48];
    snprintf(what, sizeof what, "transpose perm {%d,%d,%d}", perms[p][0], perms[p][1], perms[p][2]);
    fd_check_owned(what, f_transpose, perms[p], in, 1);
  }
  ct_tensor *in[1] = {rnd(3, SH(2, 3, 4), -2, 2)};
  fd_check_owned("transpose perm NULL", f_transpose, NULL, in, 1);
}

static ct_status f_concat(ct_tensor *const *in, const void *user, ct_tensor **out) {
  return ct_concat(ctx, (const ct_tensor *const *)in, 3, *(const int *)user, out);
}

/* stack(xs, axis 1) as concat of xs reshaped to [2,1,3]. */
static ct_status f_stack(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *r[3] = {NULL, NULL, NULL};
  ct_status st = CT_OK;
  for (int i = 0; i < 3 && st == CT_OK; i++) st = ct_reshape(ctx, in[i], SH(2, 1, 3), 3, &r[i]);
  if (st == CT_OK) st = ct_concat(ctx, (const ct_tensor *const *)r, 3, 1, out);
  release_all(r, 3);
  return st;
}

TEST(concat_and_stack) {
  int mid = 1, neg = -2, last = 2;
  ct_tensor *a[3] = {rnd(3, SH(2, 1, 3), -2, 2), rnd(3, SH(2, 2, 3), -2, 2), rnd(3, SH(2, 3, 3), -2, 2)};
  fd_check_owned("concat 3 inputs, axis 1", f_concat, &mid, a, 3);
  ct_tensor *b[3] = {rnd(3, SH(2, 1, 3), -2, 2), rnd(3, SH(2, 2, 3), -2, 2), rnd(3, SH(2, 3, 3), -2, 2)};
  fd_check_owned("concat 3 inputs, axis -2", f_concat, &neg, b, 3);
  ct_tensor *c[3] = {rnd(3, SH(2, 2, 1), -2, 2), rnd(3, SH(2, 2, 3), -2, 2), rnd(3, SH(2, 2, 2), -2, 2)};
  fd_check_owned("concat 3 inputs, last axis", f_concat, &last, c, 3);
  ct_tensor *d[3] = {rnd(2, SH(2, 3), -2, 2), rnd(2, SH(2, 3), -2, 2), rnd(2, SH(2, 3), -2, 2)};
  fd_check_owned("stack as reshape + concat", f_stack, NULL, d, 3);
}

typedef struct slice_case {
  int64_t begin[3], size[3];
} slice_case;

static ct_status f_slice(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const slice_case *c = user;
  return ct_slice(ctx, in[0], c->begin, c->size, out);
}

TEST(slice) {
  slice_case inside = {{1, 1, 1}, {1, 2, 3}}, to_end = {{1, 0, 2}, {-1, 3, -1}}, front = {{0, 0, 0}, {2, 1, 5}};
  ct_tensor *a[1] = {rnd(3, SH(3, 4, 5), -2, 2)};
  fd_check_owned("slice inside every axis", f_slice, &inside, a, 1);
  ct_tensor *b[1] = {rnd(3, SH(3, 4, 5), -2, 2)};
  fd_check_owned("slice with size -1", f_slice, &to_end, b, 1);
  ct_tensor *c[1] = {rnd(3, SH(3, 4, 5), -2, 2)};
  fd_check_owned("slice at the front", f_slice, &front, c, 1);
}

static ct_status f_gather(ct_tensor *const *in, const void *user, ct_tensor **out) {
  return ct_gather(ctx, in[0], in[1], *(const int *)user, out);
}

TEST(gather) {
  int ax0 = 0, ax1 = 1, axm1 = -1;
  /* repeated indices: their gradients add up */
  ct_tensor *a[2] = {rnd(2, SH(4, 3), -2, 2), vals(CT_INT32, 1, SH(5), (const double[]){2, 0, 2, 3, 2})};
  fd_check_owned("gather axis 0, repeated", f_gather, &ax0, a, 2);
  ct_tensor *b[2] = {rnd(2, SH(4, 3), -2, 2), vals(CT_INT64, 1, SH(4), (const double[]){1, 1, 0, 1})};
  fd_check_owned("gather axis 1, repeated", f_gather, &ax1, b, 2);
  ct_tensor *c[2] = {rnd(3, SH(2, 4, 3), -2, 2), vals(CT_INT32, 2, SH(2, 2), (const double[]){3, 0, 3, 1})};
  fd_check_owned("gather axis 1, rank-2 indices", f_gather, &ax1, c, 2);
  ct_tensor *d[2] = {rnd(3, SH(2, 2, 3), -2, 2), vals(CT_INT32, 2, SH(3, 1), (const double[]){2, 2, 0})};
  fd_check_owned("gather axis -1, rank-2 indices", f_gather, &axm1, d, 2);
}

static ct_status f_where(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  return ct_where(ctx, in[0], in[1], in[2], out);
}

TEST(where) {
  ct_tensor *a[3] = {vals(CT_BOOL, 2, SH(2, 3), (const double[]){1, 0, 1, 0, 0, 1}), rnd(2, SH(2, 3), -2, 2),
                     rnd(2, SH(2, 3), -2, 2)};
  fd_check_owned("where, same shapes", f_where, NULL, a, 3);
  /* cond [2,1,3], x [3], y [4,1]: every operand broadcast */
  ct_tensor *b[3] = {vals(CT_BOOL, 3, SH(2, 1, 3), (const double[]){1, 0, 1, 0, 1, 1}), rnd(1, SH(3), -2, 2),
                     rnd(2, SH(4, 1), -2, 2)};
  fd_check_owned("where, broadcast cond/x/y", f_where, NULL, b, 3);
  ct_tensor *c[3] = {vals(CT_BOOL, 0, NULL, (const double[]){1}), rnd(2, SH(2, 2), -2, 2), rnd(0, NULL, -2, 2)};
  fd_check_owned("where, scalar cond and y", f_where, NULL, c, 3);
}

typedef struct segment_case {
  int64_t num_segments;
} segment_case;

static ct_status f_segment_sum(ct_tensor *const *in, const void *user, ct_tensor **out) {
  return ct_unsorted_segment_sum(ctx, in[0], in[1], ((const segment_case *)user)->num_segments, out);
}

TEST(unsorted_segment_sum) {
  segment_case three = {3}, four = {4};
  ct_tensor *a[2] = {rnd(2, SH(5, 3), -2, 2), vals(CT_INT32, 1, SH(5), (const double[]){0, 2, -1, 0, 1})};
  fd_check_owned("unsorted_segment_sum with a negative id", f_segment_sum, &three, a, 2);
  ct_tensor *b[2] = {rnd(3, SH(2, 3, 2), -2, 2),
                     vals(CT_INT64, 2, SH(2, 3), (const double[]){3, 0, -1, 3, 1, 1})};
  fd_check_owned("unsorted_segment_sum, rank-2 ids", f_segment_sum, &four, b, 2);

  /* the dropped row's gradient is exactly 0, the others the segment's */
  ct_tensor *data = rnd(2, SH(3, 2), -2, 2), *ids = vals(CT_INT32, 1, SH(3), (const double[]){1, -1, 0}), *y = NULL,
            *g = NULL;
  ct_tensor *w = vals(CT_FLOAT64, 2, SH(2, 2), (const double[]){1, 2, 3, 4});
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, false, false, &tape));
  CHECK_OK(ct_tape_watch(tape, data));
  CHECK_OK(ct_unsorted_segment_sum(ctx, data, ids, 2, &y));
  ct_gradient_source s = {data, NULL};
  const ct_tensor *t[1] = {y}, *og[1] = {w};
  CHECK_OK(ct_tape_gradient(tape, t, 1, og, &s, 1, CT_UNCONNECTED_NONE, &g));
  if (g) {
    double *v = oh_read(g), want[6] = {3, 4, 0, 0, 1, 2};
    for (int i = 0; i < 6; i++) CHECK(v[i] == want[i]);
    free(v);
  }
  CHECK(g != NULL);
  ct_tape_free(tape);
  ct_tensor *all[5] = {data, ids, y, g, w};
  release_all(all, 5);
}

/* ---- second order, checked the same way -------------------------------------------------- */

/* f'(x) (by an inner tape, w.r.t. in[0]) as a function of the inputs: the
 * checker's tape records the inner tape's gradient ops, so checking it
 * checks the gradients of the gradients. */
typedef struct grad_of {
  fd_fn f;
  const void *user;
} grad_of;

static ct_status f_grad_of(ct_tensor *const *in, const void *user, ct_tensor **out) {
  const grad_of *c = user;
  ct_tape *tape = NULL;
  ct_status st = ct_tape_new(ctx, false, false, &tape);
  if (st != CT_OK) return st;
  st = ct_tape_watch(tape, in[0]);
  ct_tensor *y = NULL;
  if (st == CT_OK) st = c->f(in, c->user, &y);
  ct_gradient_source s = {in[0], NULL};
  const ct_tensor *t[1] = {y};
  if (st == CT_OK) st = ct_tape_gradient(tape, t, 1, NULL, &s, 1, CT_UNCONNECTED_ZERO, out);
  ct_tape_free(tape);
  ct_tensor_release(y);
  return st;
}

/* x * x * x: d2/dx2 = 6x, exactly. */
static ct_status f_cube(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *sq = NULL;
  ct_status st = ct_mul(ctx, in[0], in[0], &sq);
  if (st == CT_OK) st = ct_mul(ctx, sq, in[0], out);
  ct_tensor_release(sq);
  return st;
}

static ct_status f_sum_tanh(ct_tensor *const *in, const void *user, ct_tensor **out) {
  (void)user;
  ct_tensor *t = NULL;
  ct_status st = ct_tanh(ctx, in[0], &t);
  if (st == CT_OK) st = ct_reduce_sum(ctx, t, NULL, 0, false, out);
  ct_tensor_release(t);
  return st;
}

/* A nested tape by hand: the outer tape differentiates the inner one's
 * answer; exact values. */
static void second_derivative(fd_fn f, const double *x, int n, const double *want, const char *what) {
  ct_tensor *xt = vals(CT_FLOAT64, 1, SH(n), x), *g1 = NULL, *g2 = NULL;
  ct_tape *outer = NULL;
  CHECK_OK(ct_tape_new(ctx, false, false, &outer));
  CHECK_OK(ct_tape_watch(outer, xt));
  grad_of c = {f, NULL};
  ct_tensor *in[1] = {xt};
  CHECK_OK(f_grad_of(in, &c, &g1));
  ct_gradient_source s = {xt, NULL};
  const ct_tensor *t[1] = {g1};
  CHECK_OK(ct_tape_gradient(outer, t, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, &g2));
  CHECK(g2 != NULL);
  if (g2) {
    double *v = oh_read(g2);
    for (int i = 0; i < n; i++) {
      bool ok = fabs(v[i] - want[i]) <= 1e-12 * (1 + fabs(want[i]));
      CHECK(ok);
      if (!ok) fprintf(stderr, "  [%s] element %d: got %.17g, want %.17g\n", what, i, v[i], want[i]);
    }
    free(v);
  }
  ct_tape_free(outer);
  ct_tensor_release(xt);
  ct_tensor_release(g1);
  ct_tensor_release(g2);
}

TEST(second_order_exact) {
  double x[4] = {-1.5, 0.25, 1, 2};
  double want_cube[4], want_tanh[4];
  for (int i = 0; i < 4; i++) {
    want_cube[i] = 6 * x[i];
    double t = tanh(x[i]);
    want_tanh[i] = -2 * t * (1 - t * t);
  }
  second_derivative(f_cube, x, 4, want_cube, "d2/dx2 x^3");
  second_derivative(f_sum_tanh, x, 4, want_tanh, "d2/dx2 sum(tanh(x))");
}

TEST(second_order_fd) {
  fd_null_is_zero = true;
  static const unary_case un[] = {{"exp", ct_exp},         {"log", ct_log},   {"sqrt", ct_sqrt},
                                  {"tanh", ct_tanh},       {"sigmoid", ct_sigmoid}, {"square", ct_square},
                                  {"abs", ct_abs},         {"relu", ct_relu}, {"neg", ct_neg}};
  for (int o = 0; o < LEN(un); o++) {
    grad_of c = {f_unary, &un[o]};
    ct_tensor *in[1] = {rnd(2, SH(2, 3), 0.3, 2)};
    char what[48];
    snprintf(what, sizeof what, "second order %s", un[o].name);
    fd_check_owned(what, f_grad_of, &c, in, 1);
  }
  static const binary_case bin[] = {{"mul", ct_mul}, {"div", ct_div},         {"pow", ct_pow},
                                    {"sub", ct_sub}, {"maximum", ct_maximum}, {"minimum", ct_minimum}};
  for (int o = 0; o < LEN(bin); o++) {
    grad_of c = {f_binary, &bin[o]};
    ct_tensor *in[2] = {rnd(2, SH(2, 3), 0.5, 2), rnd(1, SH(3), 0.5, 2)};
    char what[48];
    snprintf(what, sizeof what, "second order %s (broadcast)", bin[o].name);
    fd_check_owned(what, f_grad_of, &c, in, 2);
  }
  mm_case plain = {false, false}, tt = {true, true};
  grad_of mm = {f_matmul, &plain}, mmt = {f_matmul, &tt};
  ct_tensor *m1[2] = {rnd(2, SH(2, 3), -1, 1), rnd(2, SH(3, 4), -1, 1)};
  fd_check_owned("second order matmul", f_grad_of, &mm, m1, 2);
  ct_tensor *m2[2] = {rnd(2, SH(3, 2), -1, 1), rnd(2, SH(4, 3), -1, 1)};
  fd_check_owned("second order matmul, both transposed", f_grad_of, &mmt, m2, 2);
  axis_case sm = {ct_softmax, -1}, lsm = {ct_log_softmax, 0};
  grad_of gsm = {f_axis, &sm}, glsm = {f_axis, &lsm};
  ct_tensor *s1[1] = {rnd(2, SH(2, 3), -2, 2)};
  fd_check_owned("second order softmax", f_grad_of, &gsm, s1, 1);
  ct_tensor *s2[1] = {rnd(2, SH(2, 3), -2, 2)};
  fd_check_owned("second order log_softmax", f_grad_of, &glsm, s2, 1);
  static const int a1[] = {1};
  reduce_case rmean = {ct_reduce_mean, a1, 1, false};
  grad_of gmean = {f_reduce, &rmean};
  ct_tensor *r1[1] = {rnd(2, SH(2, 3), -2, 2)};
  fd_check_owned("second order reduce_mean", f_grad_of, &gmean, r1, 1);
  grad_of gcube = {f_cube, NULL};
  ct_tensor *c1[1] = {rnd(1, SH(4), -2, 2)};
  fd_check_owned("second order x*x*x", f_grad_of, &gcube, c1, 1);
  fd_null_is_zero = false;
}

/* TensorFlow differentiates the cross-entropy's gradient too
 * (_SoftmaxCrossEntropyWithLogitsGrad has a second-order term). */
TEST(second_order_xent) {
  fd_null_is_zero = true;
  grad_of gs = {f_sparse_xent, NULL}, gd = {f_dense_xent, NULL};
  ct_tensor *s[2] = {rnd(2, SH(2, 3), -2, 2), vals(CT_INT32, 1, SH(2), (const double[]){2, 0})};
  fd_check_owned("second order sparse xent", f_grad_of, &gs, s, 2);
  ct_tensor *d[2] = {rnd(2, SH(2, 3), -2, 2), vals(CT_FLOAT64, 2, SH(2, 3), (const double[]){.2, .3, .5, 1, 0, 0})};
  fd_check_owned("second order dense xent", f_grad_of, &gd, d, 2);
  fd_null_is_zero = false;
}

/* ---- TensorFlow's exact answers ---------------------------------------------------------- */

/* Gradients of y (default seed: ones) w.r.t. n sources, checked exactly. */
static void exact_grads(const char *what, ct_tape *tape, const ct_tensor *y, ct_tensor *const *src, int n,
                        const double *const *want) {
  ct_gradient_source s[4];
  ct_tensor *g[4] = {NULL};
  for (int i = 0; i < n; i++) s[i] = (ct_gradient_source){src[i], NULL};
  const ct_tensor *t[1] = {y};
  CHECK_OK(ct_tape_gradient(tape, t, 1, NULL, s, n, CT_UNCONNECTED_NONE, g));
  for (int i = 0; i < n; i++) {
    CHECK(g[i] != NULL);
    if (!g[i]) continue;
    int64_t m = ct_tensor_num_elements(g[i]);
    double *v = oh_read(g[i]);
    for (int64_t j = 0; j < m; j++) {
      bool ok = oh_eq(v[j], want[i][j]);
      CHECK(ok);
      if (!ok) fprintf(stderr, "  [%s] source %d element %lld: got %.17g, want %.17g\n", what, i, (long long)j, v[j],
                       want[i][j]);
    }
    free(v);
  }
  release_all(g, n);
}

TEST(tie_rules) {
  ct_tape *tape = NULL;
  ct_tensor *y = NULL;
  /* reduce_max with ties: the gradient is shared evenly (_MinOrMaxGrad) */
  {
    ct_tensor *x = vals(CT_FLOAT64, 1, SH(3), (const double[]){1, 3, 3});
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_reduce_max(ctx, x, NULL, 0, false, &y));
    exact_grads("reduce_max [1,3,3]", tape, y, &x, 1, (const double *const[]){(const double[]){0, .5, .5}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    ct_tensor_release(x);
  }
  {
    ct_tensor *x = vals(CT_FLOAT64, 2, SH(2, 4), (const double[]){2, 2, 1, 2, -1, -1, 0, 5});
    int ax = 1;
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_reduce_max(ctx, x, &ax, 1, false, &y));
    exact_grads("reduce_max rows with ties", tape, y, &x, 1,
                (const double *const[]){(const double[]){1. / 3, 1. / 3, 0, 1. / 3, 0, 0, 0, 1}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_reduce_min(ctx, x, &ax, 1, true, &y));
    exact_grads("reduce_min rows with ties", tape, y, &x, 1,
                (const double *const[]){(const double[]){0, 0, 1, 0, .5, .5, 0, 0}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    ct_tensor_release(x);
  }
  /* maximum at x == y: all to x (x >= y); minimum likewise (x <= y) */
  {
    ct_tensor *xy[2] = {vals(CT_FLOAT64, 1, SH(3), (const double[]){1, 2, 3}),
                        vals(CT_FLOAT64, 1, SH(3), (const double[]){1, 0, 5})};
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, xy[0]));
    CHECK_OK(ct_tape_watch(tape, xy[1]));
    CHECK_OK(ct_maximum(ctx, xy[0], xy[1], &y));
    exact_grads("maximum ties", tape, y, xy, 2,
                (const double *const[]){(const double[]){1, 1, 0}, (const double[]){0, 0, 1}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, xy[0]));
    CHECK_OK(ct_tape_watch(tape, xy[1]));
    CHECK_OK(ct_minimum(ctx, xy[0], xy[1], &y));
    exact_grads("minimum ties", tape, y, xy, 2,
                (const double *const[]){(const double[]){1, 0, 1}, (const double[]){0, 1, 0}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    release_all(xy, 2);
  }
  /* relu and abs at 0: 0 */
  {
    ct_tensor *x = vals(CT_FLOAT64, 1, SH(3), (const double[]){-1, 0, 2});
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_relu(ctx, x, &y));
    exact_grads("relu at 0", tape, y, &x, 1, (const double *const[]){(const double[]){0, 0, 1}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_abs(ctx, x, &y));
    exact_grads("abs at 0", tape, y, &x, 1, (const double *const[]){(const double[]){-1, 0, 1}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    ct_tensor_release(x);
  }
  /* pow at x == 0: d/dy is 0, not NaN (log(0) masked); d/dx = y x^(y-1) */
  {
    ct_tensor *xy[2] = {vals(CT_FLOAT64, 1, SH(3), (const double[]){0, 2, 0}),
                        vals(CT_FLOAT64, 1, SH(3), (const double[]){2, 3, 1})};
    CHECK_OK(ct_tape_new(ctx, false, false, &tape));
    CHECK_OK(ct_tape_watch(tape, xy[0]));
    CHECK_OK(ct_tape_watch(tape, xy[1]));
    CHECK_OK(ct_pow(ctx, xy[0], xy[1], &y));
    exact_grads("pow at 0", tape, y, xy, 2,
                (const double *const[]){(const double[]){0, 12, 1}, (const double[]){0, 8 * log(2.0), 0}});
    ct_tape_free(tape);
    ct_tensor_release(y);
    release_all(xy, 2);
  }
}

/* ---- targets, unconnected ops ---------------------------------------------------------------- */

/* A non-scalar target counts as the sum of its elements: y = [x, 2x] -> 3;
 * two targets x and 2x -> 3 too. */
TEST(non_scalar_target_is_summed) {
  double one = 1.5, two = 2;
  ct_tensor *x = vals(CT_FLOAT64, 0, NULL, &one), *c2 = vals(CT_FLOAT64, 0, NULL, &two);
  ct_tensor *x2 = NULL, *r1 = NULL, *r2 = NULL, *y = NULL, *g = NULL;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, false, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_mul(ctx, c2, x, &x2));
  CHECK_OK(ct_reshape(ctx, x, SH(1), 1, &r1));
  CHECK_OK(ct_reshape(ctx, x2, SH(1), 1, &r2));
  const ct_tensor *parts[2] = {r1, r2};
  CHECK_OK(ct_concat(ctx, parts, 2, 0, &y));
  ct_gradient_source s = {x, NULL};
  const ct_tensor *t1[1] = {y}, *t2[2] = {x, x2};
  CHECK_OK(ct_tape_gradient(tape, t1, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, &g));
  CHECK(g != NULL);
  if (g) {
    double *v = oh_read(g);
    CHECK(ct_tensor_rank(g) == 0 && v[0] == 3);
    free(v);
  }
  ct_tensor_release(g);
  g = NULL;
  CHECK_OK(ct_tape_gradient(tape, t2, 2, NULL, &s, 1, CT_UNCONNECTED_NONE, &g));
  CHECK(g != NULL);
  if (g) {
    double *v = oh_read(g);
    CHECK(v[0] == 3);
    free(v);
  }
  ct_tape_free(tape);
  ct_tensor *all[7] = {x, c2, x2, r1, r2, y, g};
  release_all(all, 7);
}

/* Ops without a gradient cut the path: NULL (TensorFlow's None), zeros
 * with CT_UNCONNECTED_ZERO. Each result is cast back to float64 and used,
 * so the target is a float that does depend on x by value. */
TEST(ops_without_gradient_are_unconnected) {
  ct_tensor *x = rnd(2, SH(2, 3), 0.5, 3), *one = NULL;
  double ov = 1;
  one = vals(CT_FLOAT64, 0, NULL, &ov);
  for (int k = 0; k < 5; k++) {
    ct_tape *tape = NULL;
    ct_tensor *mid = NULL, *y = NULL, *z = NULL, *g = NULL;
    CHECK_OK(ct_tape_new(ctx, true, false, &tape));
    CHECK_OK(ct_tape_watch(tape, x));
    switch (k) {
    case 0: CHECK_OK(ct_argmax(ctx, x, 1, CT_INT64, &mid)); break;
    case 1: CHECK_OK(ct_equal(ctx, x, one, &mid)); break;
    case 2: CHECK_OK(ct_floor_div(ctx, x, one, &mid)); break;
    case 3: CHECK_OK(ct_cast(ctx, x, CT_INT32, &mid)); break;
    case 4: CHECK_OK(ct_stop_gradient(ctx, x, &mid)); break;
    }
    if (mid && ct_tensor_dtype(mid) != CT_FLOAT64)
      CHECK_OK(ct_cast(ctx, mid, CT_FLOAT64, &y));
    else
      y = ct_tensor_retain(mid);
    CHECK_OK(ct_mul(ctx, y, y, &z));
    ct_gradient_source s = {x, NULL};
    const ct_tensor *t[1] = {z};
    g = (ct_tensor *)1;
    CHECK_OK(ct_tape_gradient(tape, t, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, &g));
    CHECK(g == NULL);
    if (g != NULL) fprintf(stderr, "  case %d: a gradient flowed\n", k);
    if (g == (ct_tensor *)1) g = NULL;
    ct_tensor_release(g);
    g = NULL;
    CHECK_OK(ct_tape_gradient(tape, t, 1, NULL, &s, 1, CT_UNCONNECTED_ZERO, &g));
    CHECK(g != NULL && oh_same_shape(g, SH(2, 3), 2));
    if (g) {
      double *v = oh_read(g);
      for (int i = 0; i < 6; i++) CHECK(v[i] == 0);
      free(v);
    }
    ct_tape_free(tape);
    ct_tensor *all[4] = {mid, y, z, g};
    release_all(all, 4);
  }
  ct_tensor_release(x);
  ct_tensor_release(one);
}

/* ---- float32 against float64: a small MLP ------------------------------------------------------- */

/* loss = mean(sparse_xent(labels, relu(x W1 + b1) W2 + b2)); gradients of
 * the four variables (read under a tape that watches what it reads). */
static void mlp_grads(ct_dtype dt, const double *const *init, const int64_t (*shapes)[2], const int *ranks,
                      double **out) {
  ct_variable *v[4] = {NULL};
  for (int i = 0; i < 4; i++) {
    ct_tensor *t = vals(dt, ranks[i], shapes[i], init[i]);
    CHECK_OK(ct_variable_new(ctx, t, true, NULL, &v[i]));
    ct_tensor_release(t);
  }
  static const double xv[12] = {0.5, -1.2, 0.3, 1.1, 0.7, -0.4, -0.9, 0.2, 1.5, 0.05, -0.6, 0.8};
  ct_tensor *x = vals(dt, 2, SH(4, 3), xv), *labels = vals(CT_INT32, 1, SH(4), (const double[]){0, 2, 1, 2});
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, false, true, &tape));
  ct_tensor *w1 = NULL, *b1 = NULL, *w2 = NULL, *b2 = NULL, *h = NULL, *hb = NULL, *a = NULL, *o = NULL, *logits = NULL,
            *loss = NULL, *mean = NULL;
  CHECK_OK(ct_variable_read(v[0], &w1));
  CHECK_OK(ct_variable_read(v[1], &b1));
  CHECK_OK(ct_variable_read(v[2], &w2));
  CHECK_OK(ct_variable_read(v[3], &b2));
  CHECK_OK(ct_matmul(ctx, x, w1, false, false, &h));
  CHECK_OK(ct_add(ctx, h, b1, &hb));
  CHECK_OK(ct_relu(ctx, hb, &a));
  CHECK_OK(ct_matmul(ctx, a, w2, false, false, &o));
  CHECK_OK(ct_add(ctx, o, b2, &logits));
  CHECK_OK(ct_sparse_softmax_cross_entropy_with_logits(ctx, labels, logits, &loss, NULL));
  CHECK_OK(ct_reduce_mean(ctx, loss, NULL, 0, false, &mean));
  ct_gradient_source s[4];
  for (int i = 0; i < 4; i++) s[i] = (ct_gradient_source){NULL, v[i]};
  ct_tensor *g[4] = {NULL};
  const ct_tensor *t[1] = {mean};
  CHECK_OK(ct_tape_gradient(tape, t, 1, NULL, s, 4, CT_UNCONNECTED_NONE, g));
  for (int i = 0; i < 4; i++) {
    CHECK(g[i] != NULL && ct_tensor_dtype(g[i]) == dt);
    out[i] = g[i] ? oh_read(g[i]) : NULL;
  }
  ct_tape_free(tape);
  release_all(g, 4);
  ct_tensor *all[13] = {x, labels, w1, b1, w2, b2, h, hb, a, o, logits, loss, mean};
  release_all(all, 13);
  for (int i = 0; i < 4; i++) ct_variable_release(v[i]);
}

TEST(float32_mlp_matches_float64) {
  static const int64_t shapes[4][2] = {{3, 5}, {5, 0}, {5, 3}, {3, 0}};
  static const int ranks[4] = {2, 1, 2, 1};
  double *init[4];
  for (int i = 0; i < 4; i++) {
    int64_t n = numel(ranks[i], shapes[i]);
    init[i] = malloc((size_t)n * sizeof(double));
    /* values float32 holds exactly, so both runs start from the same point */
    for (int64_t j = 0; j < n; j++) init[i][j] = oh_round(CT_FLOAT32, oh_rand(&rng, -1, 1));
  }
  double *g64[4] = {NULL}, *g32[4] = {NULL};
  mlp_grads(CT_FLOAT64, (const double *const *)init, shapes, ranks, g64);
  mlp_grads(CT_FLOAT32, (const double *const *)init, shapes, ranks, g32);
  for (int i = 0; i < 4; i++) {
    if (!g64[i] || !g32[i]) continue;
    int64_t n = numel(ranks[i], shapes[i]);
    double scale = 0;
    for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(g64[i][j]));
    CHECK(scale > 1e-3); /* the gradient is not trivially zero */
    for (int64_t j = 0; j < n; j++) {
      bool ok = fabs(g32[i][j] - g64[i][j]) <= 1e-5 * (scale + fabs(g64[i][j]));
      CHECK(ok);
      if (!ok) fprintf(stderr, "  variable %d element %lld: float32 %.9g, float64 %.9g\n", i, (long long)j, g32[i][j],
                       g64[i][j]);
    }
  }
  for (int i = 0; i < 4; i++) {
    free(init[i]);
    free(g64[i]);
    free(g32[i]);
  }
}

int main(void) {
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "no context: %s\n", ct_last_error());
    return 1;
  }
  /* float64 on the CPU, whatever else the machine has */
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  RUN(binary_broadcasting);
  RUN(unary);
  RUN(clip_by_value);
  RUN(cast_round_trip);
  RUN(matmul);
  RUN(reductions);
  RUN(softmax_and_log_softmax);
  RUN(softmax_cross_entropy);
  RUN(reshape_expand_dims_squeeze);
  RUN(broadcast_to);
  RUN(transpose);
  RUN(concat_and_stack);
  RUN(slice);
  RUN(gather);
  RUN(where);
  RUN(unsorted_segment_sum);
  RUN(second_order_exact);
  RUN(second_order_fd);
  RUN(second_order_xent);
  RUN(tie_rules);
  RUN(non_scalar_target_is_summed);
  RUN(ops_without_gradient_are_unconnected);
  RUN(float32_mlp_matches_float64);
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_context_free(ctx);
  TEST_MAIN_END();
}
