/*
 * Tapes and variables: what a user relies on beyond the gradient formulas
 * (those are checked by finite differences in test_autodiff_grad.c) --
 * TensorFlow's rules for watching, unconnected and integer sources,
 * non-persistent tapes, nested tapes; variables' read/assign contract;
 * gradient ops placed on their forward op's device; flat memory over a
 * long training loop; every error path leaving the runtime usable.
 */
#include <pthread.h>

#include "ops_helpers.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static ct_context *ctx;

static ct_tensor *vec(const double *v, int64_t n) { return oh_make(ctx, CT_FLOAT64, &n, 1, v); }

static ct_tensor *scalar(double v) { return oh_make(ctx, CT_FLOAT64, NULL, 0, &v); }

/* Checks a float tensor against expected values (NULL tensor fails). */
static void check_values(const ct_tensor *t, const double *want, int64_t n, double tol) {
  CHECK(t != NULL);
  if (!t) return;
  CHECK_EQ_INT(ct_tensor_num_elements(t), n);
  if (ct_tensor_num_elements(t) != n) return;
  double *v = oh_read(t);
  for (int64_t i = 0; i < n; i++) {
    bool ok = fabs(v[i] - want[i]) <= tol * (1 + fabs(want[i]));
    CHECK(ok);
    if (!ok) fprintf(stderr, "  element %lld: got %.17g, want %.17g\n", (long long)i, v[i], want[i]);
  }
  free(v);
}

static ct_gradient_source src_t(const ct_tensor *t) { return (ct_gradient_source){t, NULL}; }
static ct_gradient_source src_v(ct_variable *v) { return (ct_gradient_source){NULL, v}; }

/* d/dx of one target with respect to one source, default weights. */
static ct_status grad1(ct_tape *tape, const ct_tensor *y, ct_gradient_source s, ct_tensor **g) {
  return ct_tape_gradient(tape, &y, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, g);
}

TEST(square_and_sum) {
  double xv[3] = {1, -2, 3};
  ct_tensor *x = vec(xv, 3), *y = NULL, *s = NULL, *g = NULL;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, false, true, &tape));
  CHECK(ct_tape_is_recording(tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_mul(ctx, x, x, &y));
  CHECK_OK(ct_reduce_sum(ctx, y, NULL, 0, false, &s));
  CHECK_EQ_INT(ct_tape_recorded_op_count(tape), 2);
  CHECK_OK(ct_tape_stop_recording(tape));
  CHECK(!ct_tape_is_recording(tape));
  CHECK_OK(grad1(tape, s, src_t(x), &g));
  double want[3] = {2, -4, 6};
  check_values(g, want, 3, 1e-15);
  CHECK_EQ_STR(ct_tensor_device(g), ct_tensor_device(x));
  /* what the records held is gone once a non-persistent tape answered */
  CHECK_EQ_INT(ct_tape_held_tensor_count(tape), 0);
  ct_tensor_release(g);
  ct_tensor *g2 = (ct_tensor *)0x1;
  CHECK_ERR(grad1(tape, s, src_t(x), &g2), CT_FAILED_PRECONDITION,
            "A non-persistent GradientTape can only be used to compute one set of gradients");
  CHECK(g2 == (ct_tensor *)0x1); /* nothing written on failure */
  ct_tape_free(tape);
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_tensor_release(s);
}

TEST(persistent_tape_answers_twice) {
  double xv[2] = {0.5, 2};
  ct_tensor *x = vec(xv, 2), *e = NULL, *l = NULL, *g1 = NULL, *g2 = NULL;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_exp(ctx, x, &e));
  CHECK_OK(ct_log(ctx, x, &l));
  CHECK_OK(ct_tape_stop_recording(tape));
  CHECK_OK(grad1(tape, e, src_t(x), &g1));
  CHECK_OK(grad1(tape, l, src_t(x), &g2));
  double we[2] = {exp(0.5), exp(2.0)}, wl[2] = {2, 0.5};
  check_values(g1, we, 2, 1e-15);
  check_values(g2, wl, 2, 1e-15);
  CHECK(ct_tape_held_tensor_count(tape) > 0);
  ct_tape_free(tape);
  ct_tensor_release(x);
  ct_tensor_release(e);
  ct_tensor_release(l);
  ct_tensor_release(g1);
  ct_tensor_release(g2);
}

TEST(unconnected_integer_and_unwatched_sources) {
  double xv[2] = {1, 2}, zv[2] = {3, 4};
  int32_t iv[2] = {1, 2};
  int64_t two = 2;
  ct_tensor *x = vec(xv, 2), *z = vec(zv, 2), *i = NULL, *y = NULL, *out[3] = {NULL, NULL, NULL};
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, &two, 1, iv, &i));
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_tape_watch(tape, i)); /* ignored, as TensorFlow ignores it */
  CHECK_OK(ct_mul(ctx, x, x, &y));
  ct_gradient_source srcs[3] = {src_t(x), src_t(z), src_t(i)};
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, NULL, srcs, 3, CT_UNCONNECTED_NONE, out));
  CHECK(out[0] != NULL);
  CHECK(out[1] == NULL); /* z: not connected (TensorFlow's None) */
  CHECK(out[2] == NULL); /* integer source: None */
  ct_tensor_release(out[0]);
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, NULL, srcs, 3, CT_UNCONNECTED_ZERO, out));
  double zeros[2] = {0, 0};
  check_values(out[1], zeros, 2, 0);
  CHECK(out[2] == NULL); /* still None: zeros apply to float sources only */
  ct_tensor_release(out[0]);
  ct_tensor_release(out[1]);
  /* A target the tape never saw: every gradient is None. */
  ct_tensor *g = (ct_tensor *)0x1;
  CHECK_OK(grad1(tape, z, src_t(x), &g));
  CHECK(g == NULL);
  /* The target is the source: ones. */
  CHECK_OK(grad1(tape, x, src_t(x), &g));
  double ones[2] = {1, 1};
  check_values(g, ones, 2, 0);
  ct_tensor_release(g);
  ct_tape_free(tape);
  ct_tensor_release(x);
  ct_tensor_release(z);
  ct_tensor_release(i);
  ct_tensor_release(y);
}

TEST(non_scalar_targets_and_output_gradients) {
  double xv[3] = {1, 2, 3}, wv[3] = {1, 2, 3}, ogv[3] = {10, 20, 30};
  ct_tensor *x = vec(xv, 3), *w = vec(wv, 3), *y = NULL, *y2 = NULL, *g = NULL, *og = vec(ogv, 3);
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_mul(ctx, x, w, &y));
  CHECK_OK(ct_add(ctx, x, x, &y2));
  /* a non-scalar target counts as its sum */
  CHECK_OK(grad1(tape, y, src_t(x), &g));
  check_values(g, wv, 3, 0);
  ct_tensor_release(g);
  /* two targets: the gradient of their sum */
  const ct_tensor *targets[2] = {y, y2};
  ct_gradient_source s = src_t(x);
  CHECK_OK(ct_tape_gradient(tape, targets, 2, NULL, &s, 1, CT_UNCONNECTED_NONE, &g));
  double want2[3] = {3, 4, 5};
  check_values(g, want2, 3, 0);
  ct_tensor_release(g);
  /* weighted by output_gradients */
  const ct_tensor *ogs[1] = {og};
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, ogs, &s, 1, CT_UNCONNECTED_NONE, &g));
  double want3[3] = {10, 40, 90};
  check_values(g, want3, 3, 0);
  ct_tensor_release(g);
  /* a wrong output gradient names both shapes */
  ct_tensor *bad = scalar(1);
  const ct_tensor *bads[1] = {bad};
  CHECK_ERR(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, bads, &s, 1, CT_UNCONNECTED_NONE, &g),
            CT_INVALID_ARGUMENT, "output_gradients[0] is float64 [] but target #0 is float64 [3]");
  ct_tensor_release(bad);
  /* sources of the wrong kind */
  ct_gradient_source neither = {NULL, NULL};
  CHECK_ERR(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, NULL, &neither, 1, CT_UNCONNECTED_NONE, &g),
            CT_INVALID_ARGUMENT, "source #0 must name exactly one tensor or one variable (it names neither)");
  CHECK_ERR(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 0, NULL, &s, 1, CT_UNCONNECTED_NONE, &g),
            CT_INVALID_ARGUMENT, "n_targets is 0");
  CHECK_ERR(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, NULL, &s, 1, (ct_unconnected_gradients)7, &g),
            CT_INVALID_ARGUMENT, "unconnected_gradients is 7");
  /* and the tape still answers */
  CHECK_OK(grad1(tape, y, src_t(x), &g));
  check_values(g, wv, 3, 0);
  ct_tensor_release(g);
  ct_tape_free(tape);
  ct_tensor_release(x);
  ct_tensor_release(w);
  ct_tensor_release(y);
  ct_tensor_release(y2);
  ct_tensor_release(og);
}

/* A non-persistent tape whose first request failed still answers once. */
TEST(failed_request_does_not_consume_the_tape) {
  double xv[1] = {3};
  ct_tensor *x = vec(xv, 1), *y = NULL, *g = NULL;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, false, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_mul(ctx, x, x, &y));
  ct_gradient_source both = {x, NULL};
  both.variable = (ct_variable *)0x1;
  CHECK_ERR(ct_tape_gradient(tape, (const ct_tensor *const *)&y, 1, NULL, &both, 1, CT_UNCONNECTED_NONE, &g),
            CT_INVALID_ARGUMENT, "(it names both)");
  CHECK_OK(grad1(tape, y, src_t(x), &g));
  double want[1] = {6};
  check_values(g, want, 1, 0);
  ct_tensor_release(g);
  ct_tape_free(tape);
  ct_tensor_release(x);
  ct_tensor_release(y);
}

TEST(stop_gradient_and_stop_recording) {
  double xv[2] = {2, 5};
  ct_tensor *x = vec(xv, 2), *sx = NULL, *y = NULL, *z = NULL, *w = NULL, *g = NULL;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_stop_gradient(ctx, x, &sx));
  CHECK_OK(ct_mul(ctx, x, sx, &y)); /* d/dx = sx = x, not 2x */
  CHECK_OK(ct_tape_stop_recording(tape));
  CHECK_OK(ct_mul(ctx, y, x, &z)); /* not recorded */
  CHECK_OK(ct_tape_resume_recording(tape));
  CHECK_OK(ct_add(ctx, y, x, &w));
  CHECK_EQ_INT(ct_tape_recorded_op_count(tape), 2);
  CHECK_OK(grad1(tape, y, src_t(x), &g));
  check_values(g, xv, 2, 0);
  ct_tensor_release(g);
  CHECK_OK(grad1(tape, z, src_t(x), &g));
  CHECK(g == NULL); /* z was made while the tape was stopped */
  CHECK_OK(grad1(tape, w, src_t(x), &g));
  double want[2] = {3, 6};
  check_values(g, want, 2, 0);
  ct_tensor_release(g);
  /* reset forgets everything */
  CHECK_OK(ct_tape_reset(tape));
  CHECK_EQ_INT(ct_tape_recorded_op_count(tape), 0);
  CHECK_OK(grad1(tape, w, src_t(x), &g));
  CHECK(g == NULL);
  ct_tape_free(tape);
  ct_tensor *vals[] = {x, sx, y, z, w};
  for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
}

TEST(nested_tapes_second_order) {
  double xv[2] = {1.5, -2};
  ct_tensor *x = vec(xv, 2), *x2 = NULL, *x3 = NULL, *g = NULL, *gg = NULL;
  ct_tape *outer = NULL, *inner = NULL;
  CHECK_OK(ct_tape_new(ctx, false, true, &outer));
  CHECK_OK(ct_tape_watch(outer, x));
  CHECK_OK(ct_tape_new(ctx, false, true, &inner));
  CHECK_OK(ct_tape_watch(inner, x));
  CHECK_OK(ct_mul(ctx, x, x, &x2));
  CHECK_OK(ct_mul(ctx, x2, x, &x3));
  CHECK_OK(ct_tape_stop_recording(inner));
  CHECK_OK(grad1(inner, x3, src_t(x), &g)); /* 3x^2, recorded by outer */
  double w1[2] = {3 * 1.5 * 1.5, 3 * 4};
  check_values(g, w1, 2, 1e-15);
  CHECK_OK(ct_tape_stop_recording(outer));
  CHECK_OK(grad1(outer, g, src_t(x), &gg)); /* 6x */
  double w2[2] = {9, -12};
  check_values(gg, w2, 2, 1e-15);
  ct_tape_free(inner);
  ct_tape_free(outer);
  ct_tensor *vals[] = {x, x2, x3, g, gg};
  for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
}

TEST(variables_read_assign_and_errors) {
  double v0[3] = {1, 2, 3}, v1[3] = {4, 5, 6};
  ct_tensor *a = vec(v0, 3), *b = vec(v1, 3), *r0 = NULL, *r1 = NULL;
  ct_variable *v = NULL;
  CHECK_OK(ct_variable_new(ctx, a, true, "w", &v));
  CHECK_EQ_STR(ct_variable_name(v), "w");
  CHECK_EQ_STR(ct_variable_device(v), "/job:localhost/replica:0/task:0/device:CPU:0");
  CHECK(ct_variable_dtype(v) == CT_FLOAT64 && ct_variable_rank(v) == 1 && ct_variable_shape(v)[0] == 3);
  CHECK(ct_variable_trainable(v));
  CHECK_OK(ct_variable_read(v, &r0));
  CHECK_OK(ct_variable_assign(v, b));
  check_values(r0, v0, 3, 0); /* a value already read never changes */
  CHECK_OK(ct_variable_read(v, &r1));
  check_values(r1, v1, 3, 0);
  ct_tensor_release(r1);
  CHECK_OK(ct_variable_assign_add(v, a));
  CHECK_OK(ct_variable_read(v, &r1));
  double sum[3] = {5, 7, 9};
  check_values(r1, sum, 3, 0);
  ct_tensor_release(r1);
  CHECK_OK(ct_variable_assign_sub(v, b));
  CHECK_OK(ct_variable_read(v, &r1));
  check_values(r1, v0, 3, 0);
  ct_tensor_release(r1);
  /* mismatches name both sides and leave the variable as it was */
  double two[2] = {1, 2};
  ct_tensor *short_ = vec(two, 2), *f32 = NULL;
  CHECK_ERR(ct_variable_assign(v, short_), CT_INVALID_ARGUMENT,
            "variable 'w' of dtype float64 and shape [3] with a value of dtype float64 and shape [2]");
  CHECK_OK(ct_cast(ctx, b, CT_FLOAT32, &f32));
  CHECK_ERR(ct_variable_assign_add(v, f32), CT_INVALID_ARGUMENT,
            "variable 'w' of dtype float64 and shape [3] with a value of dtype float32 and shape [3]");
  CHECK_ERR(ct_variable_assign(v, NULL), CT_INVALID_ARGUMENT, "NULL value");
  CHECK_OK(ct_variable_read(v, &r1));
  check_values(r1, v0, 3, 0);
  ct_tensor_release(r1);
  CHECK_ERR(ct_variable_new(ctx, NULL, true, NULL, &v), CT_INVALID_ARGUMENT, "NULL initial value");
  ct_variable *anon = NULL;
  CHECK_OK(ct_variable_new(ctx, a, false, NULL, &anon));
  CHECK_EQ_STR(ct_variable_name(anon), "Variable");
  CHECK(!ct_variable_trainable(anon));
  ct_variable_release(anon);
  ct_variable_release(v);
  ct_variable_release(NULL);
  ct_tensor *vals[] = {a, b, r0, short_, f32};
  for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
}

TEST(variables_on_the_tape) {
  double v0[2] = {3, 4};
  ct_tensor *init = vec(v0, 2), *r = NULL, *r2 = NULL, *y = NULL, *y2 = NULL, *s = NULL, *g = NULL;
  ct_variable *w = NULL, *frozen = NULL, *other = NULL;
  CHECK_OK(ct_variable_new(ctx, init, true, "w", &w));
  CHECK_OK(ct_variable_new(ctx, init, false, "frozen", &frozen));
  CHECK_OK(ct_variable_new(ctx, init, true, "other", &other));
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_variable_read(w, &r));
  CHECK_OK(ct_variable_read(w, &r2)); /* two reads: both count */
  CHECK_OK(ct_mul(ctx, r, r2, &y));   /* w^2: 2w */
  ct_tensor *rf = NULL;
  CHECK_OK(ct_variable_read(frozen, &rf));
  CHECK_OK(ct_mul(ctx, y, rf, &y2));
  CHECK_OK(ct_reduce_sum(ctx, y2, NULL, 0, false, &s));
  CHECK_OK(ct_tape_stop_recording(tape));
  /* only the trainable variable that was read is watched */
  CHECK_EQ_INT(ct_tape_watched_variable_count(tape), 1);
  ct_variable *got = NULL;
  CHECK_OK(ct_tape_watched_variable_get(tape, 0, &got));
  CHECK(got == w);
  ct_variable_release(got);
  CHECK_ERR(ct_tape_watched_variable_get(tape, 1, &got), CT_OUT_OF_RANGE, "index 1 out of range");
  ct_gradient_source srcs[3] = {src_v(w), src_v(frozen), src_v(other)};
  ct_tensor *out[3];
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&s, 1, NULL, srcs, 3, CT_UNCONNECTED_NONE, out));
  double want[2] = {2 * 3 * 3, 2 * 4 * 4}; /* d/dw sum(w*w*frozen) = 2 w frozen */
  check_values(out[0], want, 2, 0);
  CHECK(out[1] == NULL); /* not trainable: not watched */
  CHECK(out[2] == NULL); /* never read under the tape */
  ct_tensor_release(out[0]);
  /* the user drops the variable; the tape keeps it */
  ct_variable_release(w);
  CHECK_OK(ct_tape_watched_variable_get(tape, 0, &got));
  CHECK_EQ_STR(ct_variable_name(got), "w");
  ct_gradient_source sg = src_v(got);
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&s, 1, NULL, &sg, 1, CT_UNCONNECTED_NONE, out));
  check_values(out[0], want, 2, 0);
  ct_tensor_release(out[0]);
  ct_variable_release(got);
  ct_tape_free(tape);
  /* watch_accessed_variables = false: only explicit watches */
  CHECK_OK(ct_tape_new(ctx, false, false, &tape));
  ct_tensor *ro = NULL, *o2 = NULL;
  CHECK_OK(ct_variable_read(other, &ro));
  CHECK_OK(ct_mul(ctx, ro, ro, &o2));
  CHECK_EQ_INT(ct_tape_watched_variable_count(tape), 0);
  ct_gradient_source so = src_v(other);
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&o2, 1, NULL, &so, 1, CT_UNCONNECTED_NONE, &g));
  CHECK(g == NULL);
  ct_tape_free(tape);
  CHECK_OK(ct_tape_new(ctx, false, false, &tape));
  CHECK_OK(ct_tape_watch_variable(tape, other));
  ct_tensor *ro2 = NULL, *o3 = NULL;
  CHECK_OK(ct_variable_read(other, &ro2));
  CHECK_OK(ct_mul(ctx, ro2, ro2, &o3));
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&o3, 1, NULL, &so, 1, CT_UNCONNECTED_NONE, &g));
  double want2[2] = {6, 8};
  check_values(g, want2, 2, 0);
  ct_tensor_release(g);
  ct_tape_free(tape);
  ct_variable_release(frozen);
  ct_variable_release(other);
  ct_tensor *vals[] = {init, r, r2, y, y2, s, rf, ro, o2, ro2, o3};
  for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
}

/* Placement: with two logical CPUs, ops scoped to CPU:1 have their
 * gradient ops run on CPU:1 too, logged in TensorFlow's format. */
typedef struct log_capture {
  int lines, on_cpu1;
  char last[512];
} log_capture;

static void capture(void *user, ct_log_level level, const char *message) {
  log_capture *c = user;
  (void)level;
  if (strncmp(message, "Executing op ", 13) != 0) return;
  c->lines++;
  if (strstr(message, "device:CPU:1")) c->on_cpu1++;
  snprintf(c->last, sizeof c->last, "%s", message);
}

TEST(gradient_ops_run_on_the_forward_device) {
  ct_context *c2 = NULL;
  CHECK_OK(ct_context_new(&c2));
  ct_logical_device_config cfg[2] = {{0}, {0}};
  CHECK_OK(ct_config_set_logical_devices(c2, "/physical_device:CPU:0", cfg, 2));
  log_capture cap = {0};
  ct_context_set_log_callback(c2, capture, &cap);
  double xv[4] = {1, 2, 3, 4};
  int64_t shape[2] = {2, 2};
  ct_tensor *x = NULL, *y = NULL, *s = NULL, *g = NULL;
  CHECK_OK(ct_tensor_from_host(c2, CT_FLOAT64, shape, 2, xv, &x));
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(c2, false, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  CHECK_OK(ct_device_scope_push(c2, "/CPU:1"));
  CHECK_OK(ct_matmul(c2, x, x, false, false, &y));
  CHECK_OK(ct_reduce_sum(c2, y, NULL, 0, false, &s));
  CHECK_OK(ct_device_scope_pop(c2));
  CHECK_EQ_STR(ct_tensor_device(y), "/job:localhost/replica:0/task:0/device:CPU:1");
  uint64_t before = 0, after = 0;
  CHECK_OK(ct_device_op_count(c2, "CPU:1", &before));
  CHECK_OK(ct_config_set_log_placement(c2, true));
  CHECK_OK(ct_tape_stop_recording(tape));
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&s, 1, NULL, &(ct_gradient_source){x, NULL}, 1,
                            CT_UNCONNECTED_NONE, &g));
  CHECK_OK(ct_config_set_log_placement(c2, false));
  CHECK_OK(ct_device_op_count(c2, "CPU:1", &after));
  CHECK(after >= before + 3); /* seed, broadcast, two matmuls */
  CHECK(cap.lines > 0 && cap.on_cpu1 == cap.lines);
  CHECK(strstr(cap.last, "Executing op ") != NULL);
  CHECK_EQ_STR(ct_tensor_device(g), "/job:localhost/replica:0/task:0/device:CPU:1");
  /* d sum(x x) / dx = 1 x^T + x^T 1 */
  double want[4] = {1 + 2 + 1 + 3, 3 + 4 + 1 + 3, 1 + 2 + 2 + 4, 3 + 4 + 2 + 4};
  check_values(g, want, 4, 0);
  ct_tape_free(tape);
  ct_tensor *vals[] = {x, y, s, g};
  for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
  ct_context_free(c2);
}

/* A matmul input the tape does not track gets no gradient product: y = x w
 * with only w watched runs one matmul backwards (x^T dy), with both
 * watched two -- and w's gradient is the same either way. */
TEST(matmul_gradient_skips_an_untracked_input) {
  double xv[6] = {1, 2, 3, 4, 5, 6}, wv[6] = {0.5, -1, 2, 0.25, -3, 1};
  int64_t xs[2] = {2, 3}, ws[2] = {3, 2};
  ct_tensor *x = oh_make(ctx, CT_FLOAT64, xs, 2, xv), *w = oh_make(ctx, CT_FLOAT64, ws, 2, wv);
  uint64_t ops[2] = {0, 0};
  for (int both = 0; both < 2; both++) {
    ct_tensor *y = NULL, *s = NULL, *g[2] = {NULL, NULL};
    ct_tape *tape = NULL;
    CHECK_OK(ct_tape_new(ctx, false, true, &tape));
    CHECK_OK(ct_tape_watch(tape, w));
    if (both) CHECK_OK(ct_tape_watch(tape, x));
    CHECK_OK(ct_matmul(ctx, x, w, false, false, &y));
    CHECK_OK(ct_reduce_sum(ctx, y, NULL, 0, false, &s));
    CHECK_OK(ct_tape_stop_recording(tape));
    uint64_t before = 0, after = 0;
    CHECK_OK(ct_device_op_count(ctx, "CPU:0", &before));
    ct_gradient_source src[2] = {src_t(w), src_t(x)};
    CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&s, 1, NULL, src, 2, CT_UNCONNECTED_NONE, g));
    CHECK_OK(ct_device_op_count(ctx, "CPU:0", &after));
    ops[both] = after - before;
    /* d sum(x w) / dw[k][n] = sum over rows of x[.][k] */
    double want_w[6] = {5, 5, 7, 7, 9, 9};
    check_values(g[0], want_w, 6, 0);
    if (both) {
      double want_x[6] = {-0.5, 2.25, -2, -0.5, 2.25, -2};
      check_values(g[1], want_x, 6, 0);
    } else {
      CHECK(g[1] == NULL);
    }
    ct_tape_free(tape);
    ct_tensor *vals[] = {y, s, g[0], g[1]};
    for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
  }
  CHECK_EQ_INT((int64_t)ops[1], (int64_t)ops[0] + 1);
  ct_tensor_release(x);
  ct_tensor_release(w);
}

/* Variables are placed like ops: the scope's device. */
TEST(variable_placed_by_scope) {
  ct_context *c2 = NULL;
  CHECK_OK(ct_context_new(&c2));
  ct_logical_device_config cfg[2] = {{0}, {0}};
  CHECK_OK(ct_config_set_logical_devices(c2, "/physical_device:CPU:0", cfg, 2));
  double v[70];
  for (int i = 0; i < 70; i++) v[i] = i;
  int64_t n = 70;
  ct_tensor *init = NULL, *r = NULL;
  CHECK_OK(ct_tensor_from_host(c2, CT_FLOAT64, &n, 1, v, &init));
  ct_variable *var = NULL;
  CHECK_OK(ct_device_scope_push(c2, "/device:CPU:1"));
  CHECK_OK(ct_variable_new(c2, init, true, "on1", &var));
  CHECK_OK(ct_device_scope_pop(c2));
  CHECK_EQ_STR(ct_variable_device(var), "/job:localhost/replica:0/task:0/device:CPU:1");
  CHECK_OK(ct_variable_read(var, &r));
  CHECK_EQ_STR(ct_tensor_device(r), "/job:localhost/replica:0/task:0/device:CPU:1");
  ct_tensor_release(r);
  /* an update from CPU:0 is refused under the explicit device policy,
   * with TensorFlow's message, and the variable keeps its value */
  CHECK_OK(ct_config_set_device_policy(c2, CT_POLICY_EXPLICIT));
  CHECK_ERR(ct_variable_assign_add(var, init), CT_INVALID_ARGUMENT, "Tensors on conflicting devices");
  CHECK_OK(ct_config_set_device_policy(c2, CT_POLICY_SILENT));
  CHECK_OK(ct_variable_assign_add(var, init));
  CHECK_OK(ct_variable_read(var, &r));
  CHECK_EQ_STR(ct_tensor_device(r), "/job:localhost/replica:0/task:0/device:CPU:1");
  double *got = oh_read(r);
  CHECK(got[69] == 138);
  free(got);
  ct_tensor_release(r);
  ct_variable_release(var);
  ct_tensor_release(init);
  ct_context_free(c2);
}

/* A training loop of 10,000 steps: forward, gradient, update. Memory in
 * use and its peak must not grow after the first steps. */
TEST(long_training_loop_has_flat_memory) {
  int64_t xs[2] = {8, 16}, ws[2] = {16, 8};
  ct_tensor *x = NULL, *w0 = NULL, *lr = NULL;
  CHECK_OK(ct_random_normal(ctx, CT_FLOAT32, xs, 2, 0, 1, 1, 0, &x));
  CHECK_OK(ct_random_normal(ctx, CT_FLOAT32, ws, 2, 0, 0.1, 2, 0, &w0));
  CHECK_OK(ct_fill(ctx, CT_FLOAT32, NULL, 0, 0.01, &lr));
  ct_variable *w = NULL;
  CHECK_OK(ct_variable_new(ctx, w0, true, "w", &w));
  ct_memory_info at100 = {0}, at_end = {0};
  int failures = 0;
  for (int step = 0; step < 10000 && failures == 0; step++) {
    ct_tape *tape = NULL;
    ct_tensor *r = NULL, *y = NULL, *t = NULL, *loss = NULL, *g = NULL, *upd = NULL;
    ct_status st = ct_tape_new(ctx, false, true, &tape);
    if (st == CT_OK) st = ct_variable_read(w, &r);
    if (st == CT_OK) st = ct_matmul(ctx, x, r, false, false, &y);
    if (st == CT_OK) st = ct_tanh(ctx, y, &t);
    if (st == CT_OK) st = ct_reduce_mean(ctx, t, NULL, 0, false, &loss);
    if (st == CT_OK) st = ct_tape_stop_recording(tape);
    ct_gradient_source s = {NULL, w};
    if (st == CT_OK) st = ct_tape_gradient(tape, (const ct_tensor *const *)&loss, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, &g);
    if (st == CT_OK) st = ct_mul(ctx, g, lr, &upd);
    if (st == CT_OK) st = ct_variable_assign_sub(w, upd);
    if (st != CT_OK) {
      failures++;
      fprintf(stderr, "step %d: %s: %s\n", step, ct_status_name(st), ct_last_error());
    }
    ct_tape_free(tape);
    ct_tensor *vals[] = {r, y, t, loss, g, upd};
    for (size_t i = 0; i < LEN(vals); i++) ct_tensor_release(vals[i]);
    if (step == 100) CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &at100));
  }
  CHECK_EQ_INT(failures, 0);
  CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &at_end));
  CHECK_EQ_INT(at_end.current_bytes, at100.current_bytes);
  CHECK_EQ_INT(at_end.peak_bytes, at100.peak_bytes);
  CHECK(at100.current_bytes > 0);
  ct_variable_release(w);
  ct_tensor_release(x);
  ct_tensor_release(w0);
  ct_tensor_release(lr);
}

/* A tape records the ops of its own thread only. */
typedef struct thread_job {
  ct_tensor *x;
  ct_tensor *y;
  ct_tape *tape;
  ct_status st, watch_st;
  char watch_err[256];
} thread_job;

static void *other_thread(void *arg) {
  thread_job *j = arg;
  j->st = ct_mul(ctx, j->x, j->x, &j->y);
  /* another thread's tape is not this thread's to touch */
  j->watch_st = ct_tape_watch(j->tape, j->x);
  snprintf(j->watch_err, sizeof j->watch_err, "%s", ct_last_error());
  return NULL;
}

TEST(tapes_are_per_thread) {
  double xv[2] = {1, 2};
  ct_tensor *x = vec(xv, 2), *g = NULL;
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, false, true, &tape));
  CHECK_OK(ct_tape_watch(tape, x));
  thread_job job = {x, NULL, tape, CT_OK, CT_OK, ""};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, other_thread, &job) == 0);
  pthread_join(th, NULL);
  CHECK_OK(job.st);
  CHECK_EQ_INT(job.watch_st, CT_FAILED_PRECONDITION);
  CHECK(strstr(job.watch_err, "call this from that thread") != NULL);
  CHECK_EQ_INT(ct_tape_recorded_op_count(tape), 0);
  CHECK_OK(grad1(tape, job.y, src_t(x), &g));
  CHECK(g == NULL);
  ct_tape_free(tape);
  ct_tensor_release(job.y);
  ct_tensor_release(x);
}

/* Freeing a recording tape unlinks it: later ops run as before. */
TEST(freeing_a_recording_tape) {
  double xv[2] = {1, 2};
  ct_tensor *x = vec(xv, 2), *y = NULL, *z = NULL;
  ct_tape *a = NULL, *b = NULL;
  CHECK_OK(ct_tape_new(ctx, false, true, &a));
  CHECK_OK(ct_tape_new(ctx, false, true, &b));
  CHECK_OK(ct_tape_watch(a, x));
  CHECK_OK(ct_tape_watch(b, x));
  CHECK_OK(ct_mul(ctx, x, x, &y));
  ct_tape_free(b);
  CHECK_OK(ct_add(ctx, y, x, &z));
  CHECK_EQ_INT(ct_tape_recorded_op_count(a), 2);
  ct_tape_free(a);
  ct_tape_free(NULL);
  ct_tensor_release(z);
  z = NULL;
  CHECK_OK(ct_add(ctx, y, x, &z));
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_tensor_release(z);
  CHECK_ERR(ct_tape_new(ctx, false, true, NULL), CT_INVALID_ARGUMENT, "NULL out");
  CHECK_ERR(ct_tape_watch(NULL, NULL), CT_INVALID_ARGUMENT, "NULL tape");
}

int main(void) {
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "cannot create a context: %s\n", ct_last_error());
    return 1;
  }
  RUN(square_and_sum);
  RUN(persistent_tape_answers_twice);
  RUN(unconnected_integer_and_unwatched_sources);
  RUN(non_scalar_targets_and_output_gradients);
  RUN(failed_request_does_not_consume_the_tape);
  RUN(stop_gradient_and_stop_recording);
  RUN(nested_tapes_second_order);
  RUN(variables_read_assign_and_errors);
  RUN(variables_on_the_tape);
  RUN(gradient_ops_run_on_the_forward_device);
  RUN(matmul_gradient_skips_an_untracked_input);
  RUN(variable_placed_by_scope);
  RUN(long_training_loop_has_flat_memory);
  RUN(tapes_are_per_thread);
  RUN(freeing_a_recording_tape);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
