/*
 * Placement on a CPU-only machine, through the public API: device scopes
 * (nested, per thread), automatic and soft placement, strict mode,
 * fallback counting, the device policies and their messages, placement
 * logging, configuration after initialisation, two logical CPUs end to end,
 * copies between devices and the placement report.
 *
 * Two logical CPUs stand in for a second device wherever one is needed, as
 * the conformance scenarios do under TensorFlow.
 */
#include <pthread.h>
#include <stdlib.h>

#include "testutil.h"

#define CPU0 "/job:localhost/replica:0/task:0/device:CPU:0"
#define CPU1 "/job:localhost/replica:0/task:0/device:CPU:1"

/* ---- helpers ------------------------------------------------------------ */

/* Log lines captured through ct_context_set_log_callback. */
typedef struct {
  int n;
  char lines[64][1024];
  ct_log_level levels[64];
} log_capture;

static void capture(void *user, ct_log_level level, const char *message) {
  log_capture *c = user;
  if (c->n < 64) {
    snprintf(c->lines[c->n], sizeof c->lines[c->n], "%s", message);
    c->levels[c->n] = level;
    c->n++;
  }
}

static int count_lines(const log_capture *c, const char *needle) {
  int k = 0;
  for (int i = 0; i < c->n; i++) k += strstr(c->lines[i], needle) != NULL;
  return k;
}

static int has_line(const log_capture *c, const char *exact) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->lines[i], exact) == 0) return 1;
  return 0;
}

/* A context with the CPU split into two logical devices, initialised. */
static ct_context *two_cpus(void) {
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2));
  CHECK_OK(ct_context_initialize(ctx));
  return ctx;
}

static ct_tensor *vec(ct_context *ctx, ct_dtype dtype, int n) {
  float f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int32_t i32[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t shape[1] = {n};
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, dtype, shape, 1, dtype == CT_INT32 ? (const void *)i32 : (const void *)f, &t));
  return t;
}

static ct_tensor *vec_on(ct_context *ctx, const char *spec, ct_dtype dtype, int n) {
  CHECK_OK(ct_device_scope_push(ctx, spec));
  ct_tensor *t = vec(ctx, dtype, n);
  CHECK_OK(ct_device_scope_pop(ctx));
  return t;
}

static void scope_is(ct_context *ctx, const char *want) {
  char buf[CT_DEVICE_NAME_MAX];
  CHECK_OK(ct_device_scope_current(ctx, buf, sizeof buf));
  CHECK_EQ_STR(buf, want);
}

/* ---- scopes ------------------------------------------------------------- */

TEST(nested_scopes_merge_inner_wins) {
  ct_context *ctx = two_cpus();
  scope_is(ctx, "");
  CHECK_OK(ct_device_scope_push(ctx, "/job:localhost"));
  scope_is(ctx, "/job:localhost");
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  scope_is(ctx, "/job:localhost/device:CPU:1");
  CHECK_OK(ct_device_scope_push(ctx, "/replica:0/task:0/device:CPU:0"));
  scope_is(ctx, "/job:localhost/replica:0/task:0/device:CPU:0");
  ct_tensor *t = vec(ctx, CT_FLOAT32, 2);
  CHECK_EQ_STR(ct_tensor_device(t), CPU0);
  ct_tensor_release(t);
  CHECK_OK(ct_device_scope_pop(ctx));
  t = vec(ctx, CT_FLOAT32, 2);
  CHECK_EQ_STR(ct_tensor_device(t), CPU1);
  ct_tensor_release(t);
  /* A partial inner spec keeps the outer fields it does not name. */
  CHECK_OK(ct_device_scope_push(ctx, "/task:0"));
  scope_is(ctx, "/job:localhost/task:0/device:CPU:1");
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_pop(ctx));
  scope_is(ctx, "");
  CHECK_ERR(ct_device_scope_pop(ctx), CT_FAILED_PRECONDITION, "no device scope is open on this thread");
  ct_context_free(ctx);
}

TEST(inner_type_without_index_is_a_wildcard) {
  /* TensorFlow inherits the outer index here (CPU under /CPU:1 is CPU:1);
   * ctensor treats the missing index as "any" (docs/tf-differences.md). */
  ct_context *ctx = two_cpus();
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_OK(ct_device_scope_push(ctx, "CPU"));
  scope_is(ctx, "/device:CPU:*");
  ct_tensor *t = vec(ctx, CT_FLOAT32, 1);
  CHECK_EQ_STR(ct_tensor_device(t), CPU0);
  ct_tensor_release(t);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/device:CPU:*"));
  t = vec(ctx, CT_FLOAT32, 1);
  CHECK_EQ_STR(ct_tensor_device(t), CPU0);
  ct_tensor_release(t);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
  ct_context_free(ctx);
}

TEST(bad_scope_spec_is_rejected_and_changes_nothing) {
  ct_context *ctx = two_cpus();
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_ERR(ct_device_scope_push(ctx, "/gpu:x"), CT_INVALID_ARGUMENT, "/gpu:x");
  CHECK_ERR(ct_device_scope_push(ctx, "JOB:a"), CT_INVALID_ARGUMENT, "JOB:a");
  CHECK_ERR(ct_device_scope_push(ctx, NULL), CT_INVALID_ARGUMENT, "spec is NULL");
  scope_is(ctx, "/device:CPU:1");
  CHECK_OK(ct_device_scope_pop(ctx));
  scope_is(ctx, "");
  ct_context_free(ctx);
}

TEST(scope_push_initialises_and_freezes_configuration) {
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK(!ct_context_is_initialized(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK(ct_context_is_initialized(ctx));
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2), CT_FAILED_PRECONDITION,
            "Virtual devices cannot be modified after being initialized");
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_context_free(ctx);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct {
  ct_context *ctx;
  char scope_at_start[CT_DEVICE_NAME_MAX];
  char device_unscoped[CT_DEVICE_NAME_MAX];
  char device_scoped[CT_DEVICE_NAME_MAX];
  ct_device_policy policy_at_start;
  ct_status push_status;
} thread_result;

static void *thread_body(void *p) {
  thread_result *r = p;
  ct_device_scope_current(r->ctx, r->scope_at_start, sizeof r->scope_at_start);
  r->policy_at_start = ct_config_get_device_policy(r->ctx);
  int64_t shape[1] = {1};
  float one = 1.0f;
  ct_tensor *t = NULL;
  if (ct_tensor_from_host(r->ctx, CT_FLOAT32, shape, 1, &one, &t) == CT_OK) {
    snprintf(r->device_unscoped, sizeof r->device_unscoped, "%s", ct_tensor_device(t));
    ct_tensor_release(t);
  }
  r->push_status = ct_device_scope_push(r->ctx, "/CPU:1");
  if (ct_tensor_from_host(r->ctx, CT_FLOAT32, shape, 1, &one, &t) == CT_OK) {
    snprintf(r->device_scoped, sizeof r->device_scoped, "%s", ct_tensor_device(t));
    ct_tensor_release(t);
  }
  /* Left open on purpose: the thread's stack dies with the thread. */
  return NULL;
}

TEST(threads_have_separate_scopes_and_policies) {
  ct_context *ctx = two_cpus();
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_EXPLICIT));
  thread_result r[2];
  memset(r, 0, sizeof r);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    r[i].ctx = ctx;
    CHECK(pthread_create(&th[i], NULL, thread_body, &r[i]) == 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ_STR(r[i].scope_at_start, "");
    CHECK_EQ_INT(r[i].policy_at_start, CT_POLICY_SILENT);
    CHECK_EQ_STR(r[i].device_unscoped, CPU0);
    CHECK_EQ_INT(r[i].push_status, CT_OK);
    CHECK_EQ_STR(r[i].device_scoped, CPU1);
  }
  /* The threads' pushes did not touch this thread's stack or policy. */
  scope_is(ctx, "/device:CPU:1");
  CHECK_EQ_INT(ct_config_get_device_policy(ctx), CT_POLICY_EXPLICIT);
  CHECK_OK(ct_device_scope_pop(ctx));
  scope_is(ctx, "");
  ct_context_free(ctx);
}

/* ---- automatic placement and logical CPUs ------------------------------- */

TEST(two_logical_cpus_end_to_end) {
  ct_context *ctx = two_cpus();
  CHECK_EQ_INT(ct_logical_device_count(ctx, "CPU"), 2);
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 0);
  CHECK_EQ_INT(ct_physical_device_count(ctx, "CPU"), 1);
  ct_logical_device_info info;
  CHECK_OK(ct_logical_device_get(ctx, "CPU", 1, &info));
  CHECK_EQ_STR(info.name, CPU1);
  CHECK_EQ_STR(info.short_name, "/device:CPU:1");
  CHECK_EQ_INT(info.physical_index, 0);

  /* Unscoped: the first device by priority, CPU:0. */
  ct_tensor *a = vec(ctx, CT_FLOAT32, 4);
  CHECK_EQ_STR(ct_tensor_device(a), CPU0);
  CHECK_EQ_STR(ct_tensor_backing_device(a), CPU0);

  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  ct_tensor *b = vec(ctx, CT_FLOAT32, 4);
  CHECK_EQ_STR(ct_tensor_device(b), CPU1);
  ct_tensor *sum = NULL;
  CHECK_OK(ct_add(ctx, a, b, &sum)); /* a is copied in silently */
  CHECK_EQ_STR(ct_tensor_device(sum), CPU1);
  float got[4];
  CHECK_OK(ct_tensor_to_host(sum, got, sizeof got));
  CHECK_CLOSE(got[0], 2.0, 0, 0);
  CHECK_CLOSE(got[3], 8.0, 0, 0);
  ct_tensor *mm = NULL;
  int64_t s22[2] = {2, 2};
  ct_tensor *m = NULL;
  CHECK_OK(ct_reshape(ctx, b, s22, 2, &m));
  CHECK_OK(ct_matmul(ctx, m, m, false, false, &mm));
  CHECK_EQ_STR(ct_tensor_device(mm), CPU1);
  CHECK_OK(ct_device_scope_pop(ctx));

  /* Unscoped op on CPU:1 inputs runs on CPU:0, as in TensorFlow. */
  ct_tensor *sum0 = NULL;
  CHECK_OK(ct_add(ctx, b, b, &sum0));
  CHECK_EQ_STR(ct_tensor_device(sum0), CPU0);

  uint64_t n0 = 0, n1 = 0;
  CHECK_OK(ct_device_op_count(ctx, "/CPU:0", &n0));
  CHECK_OK(ct_device_op_count(ctx, "CPU:1", &n1));
  CHECK(n0 >= 2); /* const + add */
  CHECK(n1 >= 3); /* const + add + matmul (reshape may count too) */
  CHECK_ERR(ct_device_op_count(ctx, "/CPU:2", &n0), CT_NOT_FOUND, "/CPU:2");
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(sum);
  ct_tensor_release(m);
  ct_tensor_release(mm);
  ct_tensor_release(sum0);
  ct_context_free(ctx);
}

TEST(copy_to_between_logical_cpus) {
  ct_context *ctx = two_cpus();
  ct_tensor *a = vec(ctx, CT_FLOAT32, 3);
  ct_tensor *b = NULL;
  CHECK_OK(ct_tensor_copy_to(a, "/CPU:1", &b));
  CHECK(a != b);
  CHECK_EQ_STR(ct_tensor_device(b), CPU1);
  float got[3];
  CHECK_OK(ct_tensor_to_host(b, got, sizeof got));
  CHECK_CLOSE(got[2], 3.0, 0, 0);
  /* To the device it is on: the same tensor, one more reference. */
  ct_tensor *same = NULL;
  CHECK_OK(ct_tensor_copy_to(b, "/job:localhost/replica:0/task:0/device:CPU:1", &same));
  CHECK(same == b);
  ct_tensor_release(same);
  ct_tensor *back = NULL;
  CHECK_OK(ct_tensor_copy_to(b, "cpu:0", &back));
  CHECK_EQ_STR(ct_tensor_device(back), CPU0);
  /* A copy is allowed under every policy (tf.identity is exempt). */
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_EXPLICIT));
  ct_tensor *c = NULL;
  CHECK_OK(ct_tensor_copy_to(a, "/CPU:1", &c));
  CHECK_EQ_STR(ct_tensor_device(c), CPU1);
  ct_tensor_release(c);
  CHECK_ERR(ct_tensor_copy_to(a, "/cpu:zero", &c), CT_INVALID_ARGUMENT, "/cpu:zero");
  /* The caller's scope is untouched by copy_to. */
  scope_is(ctx, "");
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(back);
  ct_context_free(ctx);
}

/* ---- soft placement, strict mode, fallbacks ------------------------------ */

TEST(soft_placement_falls_back_and_counts) {
  ct_context *ctx = two_cpus();
  CHECK(ct_config_get_soft_placement(ctx)); /* on by default */
  /* The last is the first one spelt out: the same request, one record. */
  const char *specs[] = {"/GPU:0", "/CPU:7", "/device:FOO:0", "/job:localhost/replica:0/device:GPU:0"};
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    CHECK_OK(ct_device_scope_push(ctx, specs[i]));
    ct_tensor *t = vec(ctx, CT_FLOAT32, 2);
    CHECK_EQ_STR(ct_tensor_device(t), CPU0);
    ct_tensor *u = NULL;
    CHECK_OK(ct_add(ctx, t, t, &u));
    CHECK_EQ_STR(ct_tensor_device(u), CPU0);
    ct_tensor_release(t);
    ct_tensor_release(u);
    CHECK_OK(ct_device_scope_pop(ctx));
  }
  /* (op, requested, reason): Const and AddV2 for three distinct requests. */
  CHECK_EQ_INT(ct_fallback_count(ctx), 6);
  int seen = 0;
  for (int i = 0; i < ct_fallback_count(ctx); i++) {
    ct_fallback_record r;
    CHECK_OK(ct_fallback_get(ctx, i, &r));
    CHECK_EQ_STR(r.placed, CPU0);
    if (strcmp(r.op, "AddV2") == 0 && strcmp(r.requested, "/job:localhost/replica:0/task:0/device:GPU:0") == 0) {
      CHECK_EQ_INT(r.count, 2);
      CHECK_EQ_INT(r.reason, CT_FALLBACK_NO_SUCH_DEVICE);
      seen |= 1;
    }
    if (strcmp(r.op, "_EagerConst") == 0 && strcmp(r.requested, "/job:localhost/replica:0/task:0/device:CPU:7") == 0) {
      CHECK_EQ_INT(r.count, 1);
      CHECK_EQ_INT(r.reason, CT_FALLBACK_NO_SUCH_DEVICE);
      seen |= 2;
    }
    if (strcmp(r.op, "AddV2") == 0 && strcmp(r.requested, "/job:localhost/replica:0/task:0/device:FOO:0") == 0) {
      CHECK_EQ_INT(r.reason, CT_FALLBACK_UNKNOWN_TYPE);
      seen |= 4;
    }
  }
  CHECK_EQ_INT(seen, 7);
  ct_fallback_record r;
  CHECK_ERR(ct_fallback_get(ctx, 6, &r), CT_OUT_OF_RANGE, "index 6 out of range: 6 fallback records");
  CHECK_ERR(ct_fallback_get(ctx, -1, &r), CT_OUT_OF_RANGE, "index -1");
  CHECK_EQ_STR(ct_fallback_reason_name(CT_FALLBACK_NO_SUCH_DEVICE), "NO_SUCH_DEVICE");
  CHECK_EQ_STR(ct_fallback_reason_name(CT_FALLBACK_NO_KERNEL), "NO_KERNEL");
  CHECK_EQ_STR(ct_fallback_reason_name(CT_FALLBACK_DEVICE_HIDDEN), "DEVICE_HIDDEN");
  CHECK_EQ_STR(ct_fallback_reason_name(CT_FALLBACK_UNKNOWN_TYPE), "UNKNOWN_TYPE");
  ct_context_free(ctx);
}

TEST(soft_placement_keeps_job_replica_task) {
  ct_context *ctx = two_cpus();
  /* Dropping type and index still leaves /job:foo, which matches nothing. */
  CHECK_OK(ct_device_scope_push(ctx, "/job:foo/device:GPU:0"));
  ct_tensor *t = NULL;
  int64_t shape[1] = {1};
  float one = 1;
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, &one, &t), CT_INVALID_ARGUMENT,
            "Could not satisfy device specification '/job:foo/replica:0/task:0/device:GPU:0'. enable_soft_placement=1.");
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
  ct_context_free(ctx);
}

TEST(strict_mode_errors_name_op_request_devices_and_reason) {
  ct_context *ctx = two_cpus();
  ct_tensor *a = vec(ctx, CT_FLOAT32, 2);
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK(!ct_config_get_soft_placement(ctx));
  ct_tensor *u = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_ERR(ct_add(ctx, a, a, &u), CT_INVALID_ARGUMENT,
            "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:GPU:0'. "
            "enable_soft_placement=0. Supported device types [CPU]. All available devices [" CPU0 ", " CPU1
            "]. [Op:AddV2] NO_SUCH_DEVICE: the requested device does not exist (dtype float32)");
  CHECK(u == NULL);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/device:FOO:0"));
  CHECK_ERR(ct_add(ctx, a, a, &u), CT_INVALID_ARGUMENT,
            "'/job:localhost/replica:0/task:0/device:FOO:0'. enable_soft_placement=0.");
  CHECK_ERR(ct_add(ctx, a, a, &u), CT_INVALID_ARGUMENT, "UNKNOWN_TYPE");
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_OK(ct_add(ctx, a, a, &u)); /* a device that exists is fine */
  CHECK_EQ_STR(ct_tensor_device(u), CPU1);
  ct_tensor_release(u);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
  /* Switching back at run time works (TensorFlow allows it too). */
  CHECK_OK(ct_config_set_soft_placement(ctx, true));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_OK(ct_add(ctx, a, a, &u));
  CHECK_EQ_STR(ct_tensor_device(u), CPU0);
  ct_tensor_release(u);
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(a);
  ct_context_free(ctx);
}

TEST(no_kernel_for_dtype_anywhere_is_an_error_even_when_soft) {
  ct_context *ctx = two_cpus();
  bool flags[2] = {true, false};
  int64_t s11[2] = {1, 1};
  ct_tensor *a = NULL, *m = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_BOOL, s11, 2, flags, &a));
  ct_status st = ct_matmul(ctx, a, a, false, false, &m);
  CHECK(st != CT_OK);
  CHECK(m == NULL);
  ct_tensor_release(a);
  ct_context_free(ctx);
}

/* ---- device policies ------------------------------------------------------ */

#define EXPLICIT_MSG(op, i, want, have)                                                                         \
  "Tensors on conflicting devices: cannot compute " op " as input #" #i " was expected to be on " want          \
  " but is actually on " have " (operation running on " want ") Tensors can be copied explicitly using: "       \
  "`ct_tensor_copy_to(x, device_name, &y)` or transparently copied by using "                                   \
  "ct_config_set_device_policy(ctx, CT_POLICY_SILENT). Copying tensors between devices may slow down your model"

TEST(policy_silent_copies_without_a_word) {
  ct_context *ctx = two_cpus();
  log_capture log = {0};
  ct_context_set_log_callback(ctx, capture, &log);
  CHECK_EQ_INT(ct_config_get_device_policy(ctx), CT_POLICY_SILENT);
  ct_tensor *a = vec_on(ctx, "/CPU:1", CT_FLOAT32, 2), *b = vec(ctx, CT_FLOAT32, 2), *c = NULL;
  CHECK_OK(ct_add(ctx, a, b, &c));
  CHECK_EQ_STR(ct_tensor_device(c), CPU0);
  CHECK_EQ_INT(log.n, 0);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  ct_context_free(ctx);
}

TEST(policy_explicit_refuses_with_tensorflows_message) {
  ct_context *ctx = two_cpus();
  ct_tensor *a = vec_on(ctx, "/CPU:1", CT_FLOAT32, 2), *b = vec(ctx, CT_FLOAT32, 2), *c = NULL;
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_EXPLICIT));
  CHECK_EQ_INT(ct_config_get_device_policy(ctx), CT_POLICY_EXPLICIT);
  CHECK_ERR(ct_add(ctx, b, a, &c), CT_INVALID_ARGUMENT, EXPLICIT_MSG("AddV2", 1, CPU0, CPU1));
  CHECK(c == NULL);
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_ERR(ct_add(ctx, b, a, &c), CT_INVALID_ARGUMENT, EXPLICIT_MSG("AddV2", 0, CPU1, CPU0));
  CHECK_OK(ct_device_scope_pop(ctx));
  /* Inputs already on the op's device need nothing. */
  CHECK_OK(ct_add(ctx, b, b, &c));
  ct_tensor_release(c);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_context_free(ctx);
}

TEST(policy_warn_copies_and_logs_once) {
  ct_context *ctx = two_cpus();
  log_capture log = {0};
  ct_context_set_log_callback(ctx, capture, &log);
  ct_tensor *a = vec_on(ctx, "/CPU:1", CT_FLOAT32, 2), *b = vec(ctx, CT_FLOAT32, 2), *c = NULL;
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_WARN));
  for (int i = 0; i < 3; i++) {
    CHECK_OK(ct_add(ctx, b, a, &c));
    CHECK_EQ_STR(ct_tensor_device(c), CPU0);
    ct_tensor_release(c);
  }
  const char *want = "before computing AddV2 input #1 was expected to be on " CPU0 " but is actually on " CPU1
                     " (operation running on " CPU0 "). This triggers a copy which can be a performance bottleneck.";
  CHECK_EQ_INT(log.n, 1);
  CHECK(has_line(&log, want));
  CHECK_EQ_INT(log.levels[0], CT_LOG_WARNING);
  /* Another op is another key. */
  CHECK_OK(ct_sub(ctx, b, a, &c));
  ct_tensor_release(c);
  CHECK_EQ_INT(log.n, 2);
  CHECK_EQ_INT(count_lines(&log, "before computing Sub input #1"), 1);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_context_free(ctx);
}

TEST(policy_silent_for_int32_copies_int32_only) {
  ct_context *ctx = two_cpus();
  ct_tensor *i1 = vec_on(ctx, "/CPU:1", CT_INT32, 2), *i0 = vec(ctx, CT_INT32, 2);
  ct_tensor *f1 = vec_on(ctx, "/CPU:1", CT_FLOAT32, 2), *f0 = vec(ctx, CT_FLOAT32, 2), *c = NULL;
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_SILENT_FOR_INT32));
  CHECK_OK(ct_add(ctx, i0, i1, &c));
  CHECK_EQ_STR(ct_tensor_device(c), CPU0);
  int32_t got[2];
  CHECK_OK(ct_tensor_to_host(c, got, sizeof got));
  CHECK_EQ_INT(got[1], 4);
  ct_tensor_release(c);
  c = NULL;
  CHECK_ERR(ct_add(ctx, f0, f1, &c), CT_INVALID_ARGUMENT, EXPLICIT_MSG("AddV2", 1, CPU0, CPU1));
  CHECK(c == NULL);
  /* Back to the default. */
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_SILENT));
  CHECK_OK(ct_add(ctx, f0, f1, &c));
  ct_tensor_release(c);
  CHECK_ERR(ct_config_set_device_policy(ctx, (ct_device_policy)7), CT_INVALID_ARGUMENT, "Not a valid device policy: 7");
  CHECK_EQ_INT(ct_config_get_device_policy(ctx), CT_POLICY_SILENT);
  ct_tensor_release(i0);
  ct_tensor_release(i1);
  ct_tensor_release(f0);
  ct_tensor_release(f1);
  ct_context_free(ctx);
}

/* ---- logging -------------------------------------------------------------- */

TEST(placement_logging_uses_tensorflows_format) {
  ct_context *ctx = two_cpus();
  log_capture log = {0};
  ct_context_set_log_callback(ctx, capture, &log);
  CHECK(!ct_config_get_log_placement(ctx)); /* off by default */
  ct_tensor *a = vec(ctx, CT_FLOAT32, 4), *m = NULL, *p = NULL;
  CHECK_EQ_INT(log.n, 0);
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  CHECK(ct_config_get_log_placement(ctx));
  int64_t s22[2] = {2, 2};
  float v[4] = {1, 2, 3, 4};
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, s22, 2, v, &m));
  CHECK_OK(ct_matmul(ctx, m, m, false, false, &p));
  CHECK(has_line(&log, "Executing op _EagerConst in device /job:localhost/replica:0/task:0/device:CPU:0"));
  CHECK(has_line(&log, "Executing op MatMul in device /job:localhost/replica:0/task:0/device:CPU:0"));
  CHECK_EQ_INT(log.levels[0], CT_LOG_INFO);
  ct_tensor_release(p);
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_OK(ct_matmul(ctx, m, m, false, false, &p));
  CHECK(has_line(&log, "Executing op MatMul in device /job:localhost/replica:0/task:0/device:CPU:1"));
  ct_tensor_release(p);
  CHECK_OK(ct_device_scope_pop(ctx));
  int before = log.n;
  CHECK_OK(ct_config_set_log_placement(ctx, false));
  CHECK_OK(ct_matmul(ctx, m, m, false, false, &p));
  CHECK_EQ_INT(log.n, before);
  ct_tensor_release(p);
  ct_tensor_release(a);
  ct_tensor_release(m);
  ct_context_free(ctx);
}

TEST(fallbacks_are_logged_once_per_op_and_reason) {
  ct_context *ctx = two_cpus();
  log_capture log = {0};
  ct_context_set_log_callback(ctx, capture, &log);
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  ct_tensor *a = vec(ctx, CT_FLOAT32, 2), *c = NULL;
  for (int i = 0; i < 3; i++) {
    CHECK_OK(ct_device_scope_push(ctx, i == 2 ? "/GPU:1" : "/GPU:0"));
    CHECK_OK(ct_add(ctx, a, a, &c));
    ct_tensor_release(c);
    CHECK_OK(ct_device_scope_pop(ctx));
  }
  CHECK_EQ_INT(count_lines(&log, "Soft placement: op AddV2"), 1);
  CHECK(has_line(&log, "Soft placement: op AddV2 (dtype float32) requested on "
                       "/job:localhost/replica:0/task:0/device:GPU:0 runs on " CPU0
                       " instead: NO_SUCH_DEVICE (the requested device does not exist)"));
  CHECK_EQ_INT(count_lines(&log, "Executing op AddV2 in device " CPU0), 3);
  /* ...but every one of them is counted. */
  uint64_t total = 0;
  for (int i = 0; i < ct_fallback_count(ctx); i++) {
    ct_fallback_record r;
    CHECK_OK(ct_fallback_get(ctx, i, &r));
    total += r.count;
  }
  CHECK_EQ_INT(total, 3);
  CHECK_EQ_INT(ct_fallback_count(ctx), 2); /* GPU:0 and GPU:1 are two requests */
  ct_tensor_release(a);
  ct_context_free(ctx);
}

TEST(environment_switches_logging_at_initialisation_only) {
  setenv("CT_LOG_DEVICE_PLACEMENT", "1", 1);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  log_capture log = {0};
  ct_context_set_log_callback(ctx, capture, &log);
  ct_tensor *a = vec(ctx, CT_FLOAT32, 1);
  CHECK(ct_config_get_log_placement(ctx));
  CHECK(has_line(&log, "Executing op _EagerConst in device " CPU0));
  ct_tensor_release(a);
  ct_context_free(ctx);
  unsetenv("CT_LOG_DEVICE_PLACEMENT");

  /* Set after initialisation: not read. */
  CHECK_OK(ct_context_new(&ctx));
  CHECK_OK(ct_context_initialize(ctx));
  setenv("CT_LOG_DEVICE_PLACEMENT", "1", 1);
  log.n = 0;
  ct_context_set_log_callback(ctx, capture, &log);
  a = vec(ctx, CT_FLOAT32, 1);
  CHECK_EQ_INT(log.n, 0);
  CHECK(!ct_config_get_log_placement(ctx));
  ct_tensor_release(a);
  ct_context_free(ctx);
  unsetenv("CT_LOG_DEVICE_PLACEMENT");
}

/* ---- configuration after initialisation ----------------------------------- */

TEST(configuration_after_initialisation) {
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  ct_logical_device_config cfg[3];
  memset(cfg, 0, sizeof cfg);
  cfg[0].memory_limit_mb = 100;
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2), CT_INVALID_ARGUMENT,
            "Setting memory limit on CPU virtual devices is currently not supported");
  cfg[0].memory_limit_mb = 0;
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:GPU:9", cfg, 2), CT_INVALID_ARGUMENT,
            "/physical_device:GPU:9");
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2));
  CHECK_ERR(ct_config_set_memory_growth(ctx, "/physical_device:CPU:0", true), CT_INVALID_ARGUMENT,
            "Cannot set memory growth on device when virtual devices configured");
  CHECK_ERR(ct_config_set_visible_devices(ctx, "CPU", NULL, 0), CT_INVALID_ARGUMENT, "the CPU cannot be hidden");
  int zero = 0;
  CHECK_OK(ct_config_set_visible_devices(ctx, "CPU", &zero, 1));
  CHECK(!ct_context_is_initialized(ctx)); /* configuring does not initialise */

  ct_tensor *t = vec(ctx, CT_FLOAT32, 1); /* the first tensor initialises */
  CHECK(ct_context_is_initialized(ctx));

  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 3), CT_FAILED_PRECONDITION,
            "Virtual devices cannot be modified after being initialized");
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2)); /* unchanged: fine */
  CHECK_OK(ct_config_set_visible_devices(ctx, "CPU", &zero, 1));
  CHECK_OK(ct_config_set_visible_devices(ctx, "GPU", NULL, 0)); /* no GPU: hiding none changes nothing */
  int bad = 3;
  CHECK_ERR(ct_config_set_visible_devices(ctx, "CPU", &bad, 1), CT_INVALID_ARGUMENT, "/physical_device:CPU:3");
  CHECK_ERR(ct_config_set_visible_devices(ctx, "TPU", &zero, 1), CT_INVALID_ARGUMENT, "'TPU'");
  int n = -1, vis[4];
  CHECK_OK(ct_config_get_visible_devices(ctx, "CPU", vis, 4, &n));
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(vis[0], 0);
  CHECK_OK(ct_config_get_logical_devices(ctx, "/physical_device:CPU:0", cfg, 3, &n));
  CHECK_EQ_INT(n, 2);
  /* Soft placement and logging may change at any time. */
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  CHECK_OK(ct_config_set_log_placement(ctx, false));
  CHECK_OK(ct_config_set_soft_placement(ctx, true));
  CHECK_EQ_INT(ct_logical_device_count(ctx, NULL), 2);
  ct_tensor_release(t);
  ct_context_free(ctx);
}

/* ---- the placement report -------------------------------------------------- */

TEST(placement_report_counts_ops_and_fallbacks) {
  ct_context *ctx = two_cpus();
  ct_tensor *a = vec(ctx, CT_FLOAT32, 2), *c = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:1"));
  CHECK_OK(ct_add(ctx, a, a, &c));
  ct_tensor_release(c);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  for (int i = 0; i < 2; i++) {
    CHECK_OK(ct_add(ctx, a, a, &c));
    ct_tensor_release(c);
  }
  CHECK_OK(ct_device_scope_pop(ctx));
  size_t need = ct_placement_report(ctx, NULL, 0);
  CHECK(need > 0);
  char *text = malloc(need + 1);
  CHECK(ct_placement_report(ctx, text, need + 1) == need);
  CHECK(strlen(text) == need);
  CHECK(strstr(text, "4 ops") != NULL);
  CHECK(strstr(text, CPU0) != NULL && strstr(text, CPU1) != NULL);
  CHECK(strstr(text, "2 ops fell back") != NULL);
  CHECK(strstr(text, "AddV2") != NULL && strstr(text, "NO_SUCH_DEVICE") != NULL);
  CHECK(strstr(text, "/job:localhost/replica:0/task:0/device:GPU:0") != NULL);
  CHECK(strstr(text, "no GPU was used") != NULL);
  /* A short buffer is truncated, terminated, and the full length is still returned. */
  char small[16];
  CHECK(ct_placement_report(ctx, small, sizeof small) == need);
  CHECK(strlen(small) == sizeof small - 1);
  free(text);
  ct_tensor_release(a);
  ct_context_free(ctx);
}

TEST(placement_report_at_exit_by_api_and_by_environment) {
  log_capture log = {0};
  ct_context *ctx = two_cpus();
  ct_context_set_log_callback(ctx, capture, &log);
  ct_context_set_report_at_exit(ctx, true);
  ct_tensor *a = vec(ctx, CT_FLOAT32, 2);
  ct_tensor_release(a);
  CHECK_EQ_INT(log.n, 0);
  ct_context_free(ctx);
  CHECK_EQ_INT(count_lines(&log, "ctensor placement report: 1 op"), 1);

  setenv("CT_PLACEMENT_REPORT", "1", 1);
  log.n = 0;
  CHECK_OK(ct_context_new(&ctx));
  ct_context_set_log_callback(ctx, capture, &log);
  a = vec(ctx, CT_FLOAT32, 2);
  ct_tensor_release(a);
  ct_context_free(ctx);
  unsetenv("CT_PLACEMENT_REPORT");
  CHECK_EQ_INT(count_lines(&log, "ctensor placement report"), 1);

  /* Not asked: nothing printed. */
  log.n = 0;
  CHECK_OK(ct_context_new(&ctx));
  ct_context_set_log_callback(ctx, capture, &log);
  a = vec(ctx, CT_FLOAT32, 2);
  ct_tensor_release(a);
  ct_context_free(ctx);
  CHECK_EQ_INT(log.n, 0);
}

int main(void) {
  /* The environment must not decide these tests. */
  unsetenv("CT_LOG_DEVICE_PLACEMENT");
  unsetenv("CT_PLACEMENT_REPORT");
  RUN(nested_scopes_merge_inner_wins);
  RUN(inner_type_without_index_is_a_wildcard);
  RUN(bad_scope_spec_is_rejected_and_changes_nothing);
  RUN(scope_push_initialises_and_freezes_configuration);
  RUN(threads_have_separate_scopes_and_policies);
  RUN(two_logical_cpus_end_to_end);
  RUN(copy_to_between_logical_cpus);
  RUN(soft_placement_falls_back_and_counts);
  RUN(soft_placement_keeps_job_replica_task);
  RUN(strict_mode_errors_name_op_request_devices_and_reason);
  RUN(no_kernel_for_dtype_anywhere_is_an_error_even_when_soft);
  RUN(policy_silent_copies_without_a_word);
  RUN(policy_explicit_refuses_with_tensorflows_message);
  RUN(policy_warn_copies_and_logs_once);
  RUN(policy_silent_for_int32_copies_int32_only);
  RUN(placement_logging_uses_tensorflows_format);
  RUN(fallbacks_are_logged_once_per_op_and_reason);
  RUN(environment_switches_logging_at_initialisation_only);
  RUN(configuration_after_initialisation);
  RUN(placement_report_counts_ops_and_fallbacks);
  RUN(placement_report_at_exit_by_api_and_by_environment);
  TEST_MAIN_END();
}
