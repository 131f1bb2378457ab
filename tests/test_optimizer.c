/* Optimizers (ct_optimizer_*): the values after several steps against a
 * float64 reference of Keras 3's formulas written here (SGD plain, with
 * momentum, with Nesterov; Adam, with AMSGrad), every float dtype, a
 * learning rate changed between steps, iterations, NULL (None) gradients,
 * slots on the variable's device, the placement log line of the fused
 * op, no tape recording, and every error path with the variable, its
 * slots and the counter unchanged. */
#include <math.h>
#include <stdint.h>

#include "ops_helpers.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CPU1 "/job:localhost/replica:0/task:0/device:CPU:1"

static ct_context *ctx;

/* ---- the float64 reference ----------------------------------------------------- */

enum { SGD, ADAM };

typedef struct ref_opt {
  int kind;
  double lr, momentum, beta_1, beta_2, epsilon;
  bool nesterov, amsgrad;
  int64_t iterations;
} ref_opt;

/* One step over n elements. `dt` is the storage dtype: every stored value
 * (variable and slots) is rounded to it, as the kernels store them; the
 * arithmetic is float64 (the kernels': float32 or float64). */
static void ref_step(ref_opt *o, ct_dtype dt, double *var, double *m, double *v, double *vhat, const double *g,
                     int64_t n) {
  if (o->kind == SGD) {
    for (int64_t i = 0; i < n; i++) {
      if (o->momentum == 0) {
        var[i] = oh_round(dt, var[i] - g[i] * o->lr);
      } else {
        m[i] = oh_round(dt, m[i] * o->momentum - g[i] * o->lr);
        var[i] = oh_round(dt, var[i] + (o->nesterov ? m[i] * o->momentum - g[i] * o->lr : m[i]));
      }
    }
  } else {
    double t = (double)(o->iterations + 1);
    /* Keras raises float32 betas to the power t (src/autodiff/optimizer.c). */
    double alpha = o->lr * sqrt(1 - pow((double)(float)o->beta_2, t)) / (1 - pow((double)(float)o->beta_1, t));
    for (int64_t i = 0; i < n; i++) {
      m[i] = oh_round(dt, m[i] + (g[i] - m[i]) * (1 - o->beta_1));
      v[i] = oh_round(dt, v[i] + (g[i] * g[i] - v[i]) * (1 - o->beta_2));
      double vv = v[i];
      if (o->amsgrad) vv = vhat[i] = fmax(vhat[i], v[i]);
      var[i] = oh_round(dt, var[i] - m[i] * alpha / (sqrt(vv) + o->epsilon));
    }
  }
  o->iterations++;
}

static ct_optimizer *make_opt(const ref_opt *o) {
  ct_optimizer *opt = NULL;
  if (o->kind == SGD)
    CHECK_OK(ct_optimizer_sgd_new(ctx, o->lr, o->momentum, o->nesterov, &opt));
  else
    CHECK_OK(ct_optimizer_adam_new(ctx, o->lr, o->beta_1, o->beta_2, o->epsilon, o->amsgrad, &opt));
  return opt;
}

/* Checks t's n elements against want; tolerance per element relative to
 * max(1, |want|). */
static void check_against(const ct_tensor *t, const double *want, int64_t n, double tol, const char *what) {
  double *got = oh_read(t);
  int64_t bad = -1;
  for (int64_t i = 0; i < n && bad < 0; i++)
    if (!(fabs(got[i] - want[i]) <= tol * fmax(1, fabs(want[i])))) bad = i;
  CHECK(bad < 0);
  if (bad >= 0)
    fprintf(stderr, "  %s %s: element %lld is %.9g, the reference %.9g\n", what, ct_dtype_name(ct_tensor_dtype(t)),
            (long long)bad, got[bad], want[bad]);
  free(got);
}

static void check_var(ct_variable *var, const double *want, int64_t n, double tol, const char *what) {
  ct_tensor *r = NULL;
  CHECK_OK(ct_variable_read(var, &r));
  if (r) check_against(r, want, n, tol, what);
  ct_tensor_release(r);
}

static void check_slot(ct_optimizer *opt, ct_variable *var, const char *slot, const double *want, int64_t n,
                       double tol) {
  ct_tensor *s = NULL;
  CHECK_OK(ct_optimizer_get_slot(opt, var, slot, &s));
  if (s == NULL) return;
  CHECK(ct_tensor_dtype(s) == ct_variable_dtype(var));
  CHECK(oh_same_shape(s, ct_variable_shape(var), ct_variable_rank(var)));
  CHECK_EQ_STR(ct_tensor_device(s), ct_variable_device(var));
  check_against(s, want, n, tol, slot);
  ct_tensor_release(s);
}

/* Runs `steps` steps of o on a [rows, cols] variable of dtype dt with
 * pseudo-random gradients, the learning rate changed before every other
 * step, and compares the variable and every slot with the reference. */
static void run_case(ref_opt o, ct_dtype dt, int64_t rows, int64_t cols, int steps, double tol) {
  int64_t shape[2] = {rows, cols}, n = rows * cols;
  double *var = malloc((size_t)n * sizeof(double)), *g = malloc((size_t)n * sizeof(double));
  double *m = calloc((size_t)n, sizeof(double)), *v = calloc((size_t)n, sizeof(double));
  double *vhat = calloc((size_t)n, sizeof(double));
  uint64_t seed = 42 + (uint64_t)dt;
  for (int64_t i = 0; i < n; i++) var[i] = oh_round(dt, oh_rand(&seed, -2, 2));
  ct_tensor *init = oh_make(ctx, dt, shape, 2, var);
  ct_variable *w = NULL;
  CHECK_OK(ct_variable_new(ctx, init, true, "w", &w));
  ct_optimizer *opt = make_opt(&o);
  if (!opt || !w) goto done;
  for (int s = 0; s < steps; s++) {
    if (s % 2 == 1) {
      o.lr *= 0.5;
      CHECK_OK(ct_optimizer_set_learning_rate(opt, o.lr));
      CHECK(ct_optimizer_learning_rate(opt) == o.lr);
    }
    /* gradients of either sign, some exactly 0, stored in dt */
    for (int64_t i = 0; i < n; i++) g[i] = i % 7 == 3 ? 0 : oh_round(dt, oh_rand(&seed, -1.5, 1.5));
    ct_tensor *gt = oh_make(ctx, dt, shape, 2, g);
    CHECK_OK(ct_optimizer_apply_gradients(opt, &w, (const ct_tensor *const *)&gt, 1));
    ct_tensor_release(gt);
    ref_step(&o, dt, var, m, v, vhat, g, n);
    CHECK_EQ_INT(ct_optimizer_iterations(opt), s + 1);
  }
  char what[96];
  snprintf(what, sizeof what, "%s momentum=%g nesterov=%d amsgrad=%d", o.kind == SGD ? "SGD" : "Adam", o.momentum,
           o.nesterov, o.amsgrad);
  check_var(w, var, n, tol, what);
  if (o.kind == SGD && o.momentum != 0) check_slot(opt, w, "momentum", m, n, tol);
  if (o.kind == ADAM) {
    check_slot(opt, w, "m", m, n, tol);
    check_slot(opt, w, "v", v, n, tol);
    if (o.amsgrad) check_slot(opt, w, "vhat", vhat, n, tol);
  }
done:
  ct_optimizer_free(opt);
  ct_variable_release(w);
  ct_tensor_release(init);
  free(var), free(g), free(m), free(v), free(vhat);
}

static const ref_opt cases[] = {
    {SGD, 0.1, 0, 0, 0, 0, false, false, 0},
    {SGD, 0.1, 0.9, 0, 0, 0, false, false, 0},
    {SGD, 0.1, 0.9, 0, 0, 0, true, false, 0},
    {SGD, 0.05, 1.0, 0, 0, 0, true, false, 0},
    {ADAM, 0.01, 0, 0.9, 0.999, 1e-7, false, false, 0},
    {ADAM, 0.01, 0, 0.9, 0.999, 1e-7, false, true, 0},
    {ADAM, 0.02, 0, 0.5, 0.75, 1e-3, false, true, 0},
};

TEST(values_float32_and_float64) {
  for (size_t c = 0; c < LEN(cases); c++) {
    run_case(cases[c], CT_FLOAT64, 3, 5, 7, 1e-12);
    /* float32 arithmetic against float64: a few ulps per step */
    run_case(cases[c], CT_FLOAT32, 3, 5, 7, 2e-5);
  }
}

TEST(values_16_bit) {
  /* the reference rounds every stored value as the kernels do; the
   * arithmetic between (float32 vs float64) can land a rounding on the
   * other side now and then: two units in the last place */
  for (size_t c = 0; c < LEN(cases); c++) {
    run_case(cases[c], CT_FLOAT16, 2, 9, 4, 2 * 9.8e-4);
    run_case(cases[c], CT_BFLOAT16, 2, 9, 4, 2 * 7.9e-3);
  }
}

TEST(values_large_threaded) {
  /* enough elements for several OpenMP threads, an odd count for tails */
  run_case(cases[1], CT_FLOAT32, 1, 300001, 3, 2e-5);
  run_case(cases[5], CT_FLOAT32, 1, 300001, 3, 2e-5);
  run_case(cases[5], CT_FLOAT16, 1, 100003, 2, 2 * 9.8e-4);
}

TEST(empty_variable) {
  int64_t shape[2] = {0, 3};
  ct_tensor *z = oh_make(ctx, CT_FLOAT32, shape, 2, NULL);
  ct_variable *w = NULL;
  CHECK_OK(ct_variable_new(ctx, z, true, "empty", &w));
  ct_optimizer *opt = make_opt(&cases[5]);
  CHECK_OK(ct_optimizer_apply_gradients(opt, &w, (const ct_tensor *const *)&z, 1));
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 1);
  ct_tensor *s = NULL;
  CHECK_OK(ct_optimizer_get_slot(opt, w, "vhat", &s));
  CHECK(s && ct_tensor_num_elements(s) == 0);
  ct_tensor_release(s);
  ct_optimizer_free(opt);
  ct_variable_release(w);
  ct_tensor_release(z);
}

/* Keras 3's defaults, and what the getters say. */
TEST(defaults_and_getters) {
  ct_optimizer *opt = NULL;
  CHECK_OK(ct_optimizer_adam_new(ctx, 0.001, 0.9, 0.999, 1e-7, false, &opt));
  CHECK(ct_optimizer_learning_rate(opt) == 0.001);
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 0);
  CHECK_OK(ct_optimizer_set_learning_rate(opt, 0)); /* 0 is allowed: no update */
  CHECK(ct_optimizer_learning_rate(opt) == 0);
  ct_optimizer_free(opt);
  CHECK_EQ_INT(ct_optimizer_iterations(NULL), 0);
  CHECK(ct_optimizer_learning_rate(NULL) == 0);
  ct_optimizer_free(NULL);
}

/* ---- NULL gradients, several variables, retained variables --------------------- */

typedef struct log_capture {
  int executing, on_cpu1, warnings;
  char apply_line[256], warning[512];
} log_capture;

static void capture(void *user, ct_log_level level, const char *message) {
  log_capture *c = user;
  if (level == CT_LOG_WARNING) {
    c->warnings++;
    snprintf(c->warning, sizeof c->warning, "%s", message);
  }
  if (strncmp(message, "Executing op ", 13) != 0) return;
  c->executing++;
  if (strstr(message, "device:CPU:1")) c->on_cpu1++;
  if (strstr(message, "ResourceApply")) snprintf(c->apply_line, sizeof c->apply_line, "%s", message);
}

TEST(null_gradients_are_skipped) {
  log_capture cap = {0};
  ct_context_set_log_callback(ctx, capture, &cap);
  int64_t s = 4;
  double a[4] = {1, 2, 3, 4}, b[3] = {5, 6, 7}, ga[4] = {1, 1, 1, 1};
  int64_t s3 = 3;
  ct_tensor *ta = oh_make(ctx, CT_FLOAT32, &s, 1, a), *tb = oh_make(ctx, CT_FLOAT32, &s3, 1, b);
  ct_tensor *tg = oh_make(ctx, CT_FLOAT32, &s, 1, ga);
  ct_variable *va = NULL, *vb = NULL;
  CHECK_OK(ct_variable_new(ctx, ta, true, "kernel", &va));
  CHECK_OK(ct_variable_new(ctx, tb, true, "bias", &vb));
  ct_optimizer *opt = NULL;
  CHECK_OK(ct_optimizer_sgd_new(ctx, 0.5, 0.5, false, &opt));
  ct_variable *vars[2] = {va, vb};
  const ct_tensor *grads[2] = {tg, NULL};
  CHECK_OK(ct_optimizer_apply_gradients(opt, vars, grads, 2));
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 1);
  double wa[4] = {0.5, 1.5, 2.5, 3.5};
  check_var(va, wa, 4, 0, "updated");
  check_var(vb, b, 3, 0, "skipped");
  /* Keras's warning, once */
  CHECK(cap.warnings == 1 && strstr(cap.warning, "'bias'") && strstr(cap.warning, "Gradients do not exist"));
  CHECK_OK(ct_optimizer_apply_gradients(opt, vars, grads, 2));
  CHECK(cap.warnings == 1);
  /* no slots for the skipped variable */
  ct_tensor *sl = NULL;
  CHECK_ERR(ct_optimizer_get_slot(opt, vb, "momentum", &sl), CT_NOT_FOUND, "'bias'");
  /* m = -0.5, then -0.75: w = 0.5 - 0.75 */
  double wa2[4] = {-0.25, 0.75, 1.75, 2.75}, m2[4] = {-0.75, -0.75, -0.75, -0.75};
  check_var(va, wa2, 4, 0, "second step");
  check_slot(opt, va, "momentum", m2, 4, 0);
  /* all NULL: Keras's ValueError; n = 0: a no-op; neither counts */
  const ct_tensor *none[2] = {NULL, NULL};
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, none, 2), CT_INVALID_ARGUMENT,
            "No gradients provided for any variable.");
  CHECK_OK(ct_optimizer_apply_gradients(opt, NULL, NULL, 0));
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 2);
  /* the optimizer holds the variables it has slots for: releasing ours
   * leaves its reference (ASan: nothing freed twice or leaked) */
  ct_variable_release(va);
  va = NULL;
  ct_optimizer_free(opt);
  ct_variable_release(vb);
  ct_tensor_release(ta), ct_tensor_release(tb), ct_tensor_release(tg);
  ct_context_set_log_callback(ctx, NULL, NULL);
}

/* The same variable twice in one call is updated twice (two ops). */
TEST(same_variable_twice) {
  int64_t s = 2;
  double a[2] = {1, 2}, g[2] = {1, -1};
  ct_tensor *ta = oh_make(ctx, CT_FLOAT64, &s, 1, a), *tg = oh_make(ctx, CT_FLOAT64, &s, 1, g);
  ct_variable *va = NULL;
  CHECK_OK(ct_variable_new(ctx, ta, true, "twice", &va));
  ct_optimizer *opt = NULL;
  CHECK_OK(ct_optimizer_sgd_new(ctx, 0.25, 0, false, &opt));
  ct_variable *vars[2] = {va, va};
  const ct_tensor *grads[2] = {tg, tg};
  CHECK_OK(ct_optimizer_apply_gradients(opt, vars, grads, 2));
  double want[2] = {0.5, 2.5};
  check_var(va, want, 2, 0, "twice");
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 1);
  ct_optimizer_free(opt);
  ct_variable_release(va);
  ct_tensor_release(ta), ct_tensor_release(tg);
}

/* A step is an update, not an op to differentiate: no tape records it. */
TEST(no_tape_records_an_update) {
  int64_t s = 3;
  double a[3] = {1, 2, 3};
  ct_tensor *ta = oh_make(ctx, CT_FLOAT32, &s, 1, a);
  ct_variable *va = NULL;
  CHECK_OK(ct_variable_new(ctx, ta, true, "taped", &va));
  ct_optimizer *opt = make_opt(&cases[4]);
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_tape_watch(tape, ta));
  CHECK_OK(ct_optimizer_apply_gradients(opt, &va, (const ct_tensor *const *)&ta, 1));
  CHECK_EQ_INT(ct_tape_recorded_op_count(tape), 0);
  CHECK_EQ_INT(ct_tape_watched_variable_count(tape), 0);
  ct_tensor *sl = NULL;
  CHECK_OK(ct_optimizer_get_slot(opt, va, "m", &sl));
  CHECK_EQ_INT(ct_tape_recorded_op_count(tape), 0);
  ct_tensor_release(sl);
  ct_tape_free(tape);
  ct_optimizer_free(opt);
  ct_variable_release(va);
  ct_tensor_release(ta);
}

/* ---- devices ----------------------------------------------------------------------- */

TEST(slots_and_update_on_the_variables_device) {
  ct_context *c2 = NULL;
  CHECK_OK(ct_context_new(&c2));
  ct_logical_device_config cfg[2] = {{0}, {0}};
  CHECK_OK(ct_config_set_logical_devices(c2, "/physical_device:CPU:0", cfg, 2));
  log_capture cap = {0};
  ct_context_set_log_callback(c2, capture, &cap);
  int64_t s = 5;
  double a[5] = {1, 2, 3, 4, 5}, g[5] = {0.5, -0.5, 1, -1, 0};
  ct_tensor *ta = NULL, *tg = NULL;
  CHECK_OK(ct_tensor_from_host(c2, CT_FLOAT64, &s, 1, a, &ta));
  CHECK_OK(ct_tensor_from_host(c2, CT_FLOAT64, &s, 1, g, &tg)); /* on CPU:0 */
  ct_variable *w = NULL;
  CHECK_OK(ct_device_scope_push(c2, "/CPU:1"));
  CHECK_OK(ct_variable_new(c2, ta, true, "on1", &w));
  CHECK_OK(ct_device_scope_pop(c2));
  CHECK_EQ_STR(ct_variable_device(w), CPU1);
  ct_optimizer *opt = NULL;
  CHECK_OK(ct_optimizer_adam_new(c2, 0.1, 0.9, 0.999, 1e-7, true, &opt));
  /* the explicit policy refuses the gradient on CPU:0: nothing changes */
  CHECK_OK(ct_config_set_device_policy(c2, CT_POLICY_EXPLICIT));
  CHECK_ERR(ct_optimizer_apply_gradients(opt, &w, (const ct_tensor *const *)&tg, 1), CT_INVALID_ARGUMENT,
            "Tensors on conflicting devices");
  CHECK(strstr(ct_last_error(), "ResourceApplyAdam") != NULL);
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 0);
  ct_tensor *sl = NULL;
  CHECK_ERR(ct_optimizer_get_slot(opt, w, "m", &sl), CT_NOT_FOUND, "first update");
  check_var(w, a, 5, 0, "refused");
  /* the silent policy moves it; the op runs on CPU:1 and says so */
  CHECK_OK(ct_config_set_device_policy(c2, CT_POLICY_SILENT));
  uint64_t before = 0, after = 0;
  CHECK_OK(ct_device_op_count(c2, "CPU:1", &before));
  CHECK_OK(ct_config_set_log_placement(c2, true));
  CHECK_OK(ct_optimizer_apply_gradients(opt, &w, (const ct_tensor *const *)&tg, 1));
  CHECK_OK(ct_config_set_log_placement(c2, false));
  CHECK_OK(ct_device_op_count(c2, "CPU:1", &after));
  CHECK(after >= before + 1);
  CHECK_EQ_STR(cap.apply_line, "Executing op ResourceApplyAdam in device " CPU1);
  CHECK(cap.executing > 0 && cap.on_cpu1 == cap.executing); /* slots (Fill) too */
  const char *slots[3] = {"m", "v", "vhat"};
  for (int k = 0; k < 3; k++) {
    sl = NULL;
    CHECK_OK(ct_optimizer_get_slot(opt, w, slots[k], &sl));
    if (sl) CHECK_EQ_STR(ct_tensor_device(sl), CPU1);
    ct_tensor_release(sl);
  }
  ct_tensor *r = NULL;
  CHECK_OK(ct_variable_read(w, &r));
  if (r) CHECK_EQ_STR(ct_tensor_device(r), CPU1);
  /* first Adam step: m = 0.1 g, v = 0.001 g^2, alpha = 0.1 sqrt(0.001)/0.1:
   * w -= 0.1 sign(g) (up to epsilon) */
  double want[5];
  for (int i = 0; i < 5; i++) want[i] = a[i] - (g[i] > 0 ? 0.1 : g[i] < 0 ? -0.1 : 0);
  if (r) check_against(r, want, 5, 1e-5, "on CPU:1");
  ct_tensor_release(r);
  ct_optimizer_free(opt);
  ct_variable_release(w);
  ct_tensor_release(ta), ct_tensor_release(tg);
  ct_context_free(c2);
}

/* ---- errors --------------------------------------------------------------------------- */

TEST(bad_hyperparameters) {
  ct_optimizer *opt = NULL;
  CHECK_ERR(ct_optimizer_sgd_new(ctx, NAN, 0, false, &opt), CT_INVALID_ARGUMENT, "learning_rate");
  CHECK_ERR(ct_optimizer_sgd_new(ctx, INFINITY, 0, false, &opt), CT_INVALID_ARGUMENT, "learning_rate");
  CHECK_ERR(ct_optimizer_sgd_new(ctx, -0.1, 0, false, &opt), CT_INVALID_ARGUMENT, "learning_rate");
  CHECK_ERR(ct_optimizer_sgd_new(ctx, 0.1, -0.1, false, &opt), CT_INVALID_ARGUMENT, "`momentum` must be a float");
  CHECK_ERR(ct_optimizer_sgd_new(ctx, 0.1, 1.5, false, &opt), CT_INVALID_ARGUMENT, "between [0, 1]");
  CHECK_ERR(ct_optimizer_sgd_new(ctx, 0.1, NAN, false, &opt), CT_INVALID_ARGUMENT, "momentum");
  CHECK_ERR(ct_optimizer_adam_new(ctx, NAN, 0.9, 0.999, 1e-7, false, &opt), CT_INVALID_ARGUMENT, "learning_rate");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, 1.0, 0.999, 1e-7, false, &opt), CT_INVALID_ARGUMENT, "beta_1");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, -0.5, 0.999, 1e-7, false, &opt), CT_INVALID_ARGUMENT, "beta_1");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, 0.9, 1.0, 1e-7, false, &opt), CT_INVALID_ARGUMENT, "beta_2");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, 0.9, NAN, 1e-7, false, &opt), CT_INVALID_ARGUMENT, "beta_2");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, 0.9, 0.999, -1e-7, false, &opt), CT_INVALID_ARGUMENT, "epsilon");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, 0.9, 0.999, INFINITY, false, &opt), CT_INVALID_ARGUMENT, "epsilon");
  CHECK(opt == NULL);
  CHECK_ERR(ct_optimizer_sgd_new(NULL, 0.1, 0, false, &opt), CT_INVALID_ARGUMENT, "NULL context");
  CHECK_ERR(ct_optimizer_adam_new(ctx, 0.1, 0.9, 0.999, 1e-7, false, NULL), CT_INVALID_ARGUMENT, "NULL out");
  CHECK_OK(ct_optimizer_sgd_new(ctx, 0.1, 0, false, &opt));
  CHECK_ERR(ct_optimizer_set_learning_rate(opt, NAN), CT_INVALID_ARGUMENT, "learning_rate");
  CHECK_ERR(ct_optimizer_set_learning_rate(opt, -1), CT_INVALID_ARGUMENT, "learning_rate");
  CHECK(ct_optimizer_learning_rate(opt) == 0.1);
  CHECK_ERR(ct_optimizer_set_learning_rate(NULL, 0.1), CT_INVALID_ARGUMENT, "NULL optimizer");
  ct_optimizer_free(opt);
}

/* A pair that fails its checks stops the step before anything changed:
 * not the good pair before it, not its slots, not the counter. */
static void expect_nothing_changed(ct_optimizer *opt, ct_variable *good, const double *good_value, int64_t n,
                                   int64_t iterations) {
  check_var(good, good_value, n, 0, "unchanged");
  CHECK_EQ_INT(ct_optimizer_iterations(opt), iterations);
  ct_tensor *sl = NULL;
  CHECK_ERR(ct_optimizer_get_slot(opt, good, "m", &sl), CT_NOT_FOUND, "first update");
}

TEST(bad_pairs_change_nothing) {
  int64_t s3 = 3, s4 = 4, s22[2] = {2, 2};
  double a[4] = {1, 2, 3, 4};
  ct_tensor *f32_3 = oh_make(ctx, CT_FLOAT32, &s3, 1, a), *f32_4 = oh_make(ctx, CT_FLOAT32, &s4, 1, a);
  ct_tensor *f64_3 = oh_make(ctx, CT_FLOAT64, &s3, 1, a), *f32_22 = oh_make(ctx, CT_FLOAT32, s22, 2, a);
  ct_tensor *i32_3 = oh_make(ctx, CT_INT32, &s3, 1, a), *b_3 = oh_make(ctx, CT_BOOL, &s3, 1, a);
  ct_variable *good = NULL, *vi = NULL, *vb = NULL;
  CHECK_OK(ct_variable_new(ctx, f32_3, true, "good", &good));
  CHECK_OK(ct_variable_new(ctx, i32_3, true, "counter", &vi));
  CHECK_OK(ct_variable_new(ctx, b_3, true, "flag", &vb));
  ct_optimizer *opt = make_opt(&cases[4]);
  ct_variable *vars[2] = {good, good};
  const ct_tensor *grads[2] = {f32_3, NULL};

  grads[1] = f64_3; /* dtype */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT,
            "the gradient of variable 'good' (#1) has dtype float64 and shape [3]; the variable has dtype float32 "
            "and shape [3]");
  expect_nothing_changed(opt, good, a, 3, 0);
  grads[1] = f32_4; /* shape */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT, "shape [4]; the variable");
  expect_nothing_changed(opt, good, a, 3, 0);
  grads[1] = f32_22; /* rank */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT, "[2,2]");
  expect_nothing_changed(opt, good, a, 3, 0);
  vars[1] = vi, grads[1] = i32_3; /* integer variable */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT,
            "variable 'counter' (#1) has dtype int32; Adam updates float variables only");
  expect_nothing_changed(opt, good, a, 3, 0);
  vars[1] = vb, grads[1] = b_3; /* bool variable */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT, "dtype bool");
  expect_nothing_changed(opt, good, a, 3, 0);
  vars[1] = NULL, grads[1] = f32_3; /* NULL variable */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT, "variable #1 is NULL");
  expect_nothing_changed(opt, good, a, 3, 0);
  /* NULL arrays, negative count, NULL optimizer */
  CHECK_ERR(ct_optimizer_apply_gradients(opt, NULL, grads, 1), CT_INVALID_ARGUMENT, "NULL variable array");
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, NULL, 1), CT_INVALID_ARGUMENT, "NULL gradient array");
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, -1), CT_INVALID_ARGUMENT, "negative");
  CHECK_ERR(ct_optimizer_apply_gradients(NULL, vars, grads, 1), CT_INVALID_ARGUMENT, "NULL optimizer");
  expect_nothing_changed(opt, good, a, 3, 0);

  /* another context's variable, and another context's gradient */
  ct_context *c2 = NULL;
  CHECK_OK(ct_context_new(&c2));
  ct_tensor *other = NULL;
  CHECK_OK(ct_tensor_from_host(c2, CT_FLOAT32, &s3, 1, (float[]){1, 2, 3}, &other));
  ct_variable *vother = NULL;
  CHECK_OK(ct_variable_new(c2, other, true, "foreign", &vother));
  vars[1] = vother, grads[1] = f32_3;
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT,
            "variable 'foreign' (#1) belongs to another context");
  expect_nothing_changed(opt, good, a, 3, 0);
  vars[1] = good, grads[1] = other;
  CHECK_ERR(ct_optimizer_apply_gradients(opt, vars, grads, 2), CT_INVALID_ARGUMENT,
            "the gradient of variable 'good' (#1, on");
  expect_nothing_changed(opt, good, a, 3, 0);
  ct_variable_release(vother);
  ct_tensor_release(other);
  ct_context_free(c2);

  /* and after all that, a good step works and counts once */
  log_capture cap = {0};
  ct_context_set_log_callback(ctx, capture, &cap);
  CHECK_OK(ct_optimizer_apply_gradients(opt, vars, (const ct_tensor *[]){f32_3, NULL}, 2));
  CHECK_EQ_INT(ct_optimizer_iterations(opt), 1);
  CHECK(cap.warnings == 1);
  ct_context_set_log_callback(ctx, NULL, NULL);
  ct_optimizer_free(opt);
  ct_variable_release(good), ct_variable_release(vi), ct_variable_release(vb);
  ct_tensor *all[] = {f32_3, f32_4, f64_3, f32_22, i32_3, b_3};
  for (size_t i = 0; i < LEN(all); i++) ct_tensor_release(all[i]);
}

TEST(get_slot_errors) {
  int64_t s = 2;
  double a[2] = {1, 2};
  ct_tensor *t = oh_make(ctx, CT_FLOAT32, &s, 1, a);
  ct_variable *w = NULL;
  CHECK_OK(ct_variable_new(ctx, t, true, "w", &w));
  ct_optimizer *plain = NULL, *adam = make_opt(&cases[4]);
  CHECK_OK(ct_optimizer_sgd_new(ctx, 0.1, 0, false, &plain));
  CHECK_OK(ct_optimizer_apply_gradients(plain, &w, (const ct_tensor *const *)&t, 1));
  CHECK_OK(ct_optimizer_apply_gradients(adam, &w, (const ct_tensor *const *)&t, 1));
  ct_tensor *sl = NULL;
  CHECK_ERR(ct_optimizer_get_slot(plain, w, "momentum", &sl), CT_INVALID_ARGUMENT, "SGD without momentum has no slots");
  CHECK_ERR(ct_optimizer_get_slot(adam, w, "vhat", &sl), CT_INVALID_ARGUMENT,
            "Adam without amsgrad has no slot 'vhat' (its slots: m, v)");
  CHECK_ERR(ct_optimizer_get_slot(adam, w, "momentum", &sl), CT_INVALID_ARGUMENT, "no slot 'momentum'");
  CHECK_ERR(ct_optimizer_get_slot(adam, NULL, "m", &sl), CT_INVALID_ARGUMENT, "NULL variable");
  CHECK_ERR(ct_optimizer_get_slot(adam, w, NULL, &sl), CT_INVALID_ARGUMENT, "NULL slot name");
  CHECK_ERR(ct_optimizer_get_slot(adam, w, "m", NULL), CT_INVALID_ARGUMENT, "NULL out");
  CHECK_ERR(ct_optimizer_get_slot(NULL, w, "m", &sl), CT_INVALID_ARGUMENT, "NULL optimizer");
  CHECK(sl == NULL);
  /* a slot handed out is a copy: the next step does not change it */
  CHECK_OK(ct_optimizer_get_slot(adam, w, "m", &sl));
  double *before = sl ? oh_read(sl) : NULL;
  CHECK_OK(ct_optimizer_apply_gradients(adam, &w, (const ct_tensor *const *)&t, 1));
  if (sl && before) check_against(sl, before, 2, 0, "copy");
  free(before);
  ct_tensor_release(sl);
  ct_optimizer_free(plain), ct_optimizer_free(adam);
  ct_variable_release(w);
  ct_tensor_release(t);
}

/* Memory: steps allocate only the new values; freeing the optimizer
 * returns its slots. */
TEST(memory_is_returned) {
  int64_t s = 1000;
  double *a = calloc(1000, sizeof(double));
  ct_tensor *t = oh_make(ctx, CT_FLOAT32, &s, 1, a);
  ct_variable *w = NULL;
  CHECK_OK(ct_variable_new(ctx, t, true, "w", &w));
  ct_memory_info m0 = {0}, m1 = {0}, m2 = {0};
  CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &m0));
  ct_optimizer *opt = make_opt(&cases[5]);
  for (int i = 0; i < 50; i++) CHECK_OK(ct_optimizer_apply_gradients(opt, &w, (const ct_tensor *const *)&t, 1));
  CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &m1));
  /* three slots of 4000 bytes, the value swapped (same size) */
  CHECK(m1.current_bytes >= m0.current_bytes + 3 * 4000 && m1.current_bytes <= m0.current_bytes + 3 * 4000 + 4096);
  ct_optimizer_free(opt);
  CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &m2));
  CHECK(m1.current_bytes - m2.current_bytes >= 3 * 4000);
  CHECK(m2.current_bytes <= m0.current_bytes + 4096); /* the new value only */
  ct_variable_release(w);
  ct_tensor_release(t);
  free(a);
}

int main(void) {
  CHECK_OK(ct_context_new(&ctx));
  RUN(values_float32_and_float64);
  RUN(values_16_bit);
  RUN(values_large_threaded);
  RUN(empty_variable);
  RUN(defaults_and_getters);
  RUN(null_gradients_are_skipped);
  RUN(same_variable_twice);
  RUN(no_tape_records_an_update);
  RUN(slots_and_update_on_the_variables_device);
  RUN(bad_hyperparameters);
  RUN(bad_pairs_change_nothing);
  RUN(get_slot_errors);
  RUN(memory_is_returned);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
