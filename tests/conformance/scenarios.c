/*
 * The placement scenarios of scenarios.py, run by ctensor. Prints the same
 * `scenario<TAB>key<TAB>value` lines; compare.py sets them side by side.
 * Usage: scenarios two_cpus | log | config
 * Uses the public header only; built by run.sh against the library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctensor.h>

static const char *current; /* scenario whose log lines are being captured */

static void emit(const char *scenario, const char *key, const char *value) {
  printf("%s\t%s\t%s\n", scenario, key, value);
  fflush(stdout);
}

/* TensorFlow's log shows the op lines and the policy warnings; ctensor's
 * extra lines (soft-placement notes) are not part of the comparison. */
static void on_log(void *user, ct_log_level level, const char *message) {
  (void)user;
  (void)level;
  if (current && (strncmp(message, "Executing op ", 13) == 0 || strncmp(message, "before computing ", 17) == 0))
    emit(current, "log", message);
}

/* Reports an op's outcome: status, then the device or the error. */
static void outcome(const char *scenario, ct_status st, ct_tensor *t) {
  emit(scenario, "status", ct_status_name(st));
  if (st != CT_OK) emit(scenario, "error", ct_last_error());
  else if (t) emit(scenario, "device", ct_tensor_device(t));
  ct_tensor_release(t);
}

static void status_only(const char *scenario, ct_status st) {
  emit(scenario, "status", ct_status_name(st));
  if (st != CT_OK) emit(scenario, "error", ct_last_error());
}

static ct_tensor *tensor(ct_context *ctx, const char *scope, ct_dtype dtype, int64_t rows, int64_t cols) {
  float f[4] = {1, 2, 3, 4};
  int32_t i[4] = {1, 2, 3, 4};
  int64_t shape[2] = {rows, cols};
  ct_tensor *t = NULL;
  if (scope) ct_device_scope_push(ctx, scope);
  if (ct_tensor_from_host(ctx, dtype, shape, 2, dtype == CT_INT32 ? (const void *)i : (const void *)f, &t) != CT_OK) {
    fprintf(stderr, "tensor: %s\n", ct_last_error());
    exit(2);
  }
  if (scope) ct_device_scope_pop(ctx);
  return t;
}

static ct_context *two_cpu_context(void) {
  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) exit(2);
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  if (ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2) != CT_OK) exit(2);
  ct_context_set_log_callback(ctx, on_log, NULL);
  return ctx;
}

/* Pushes each spec of a NULL-terminated list; returns how many it pushed. */
static int push_all(ct_context *ctx, const char *const *specs) {
  int n = 0;
  for (; specs && specs[n]; n++)
    if (ct_device_scope_push(ctx, specs[n]) != CT_OK) break;
  return n;
}

static void pop_n(ct_context *ctx, int n) {
  while (n-- > 0) ct_device_scope_pop(ctx);
}

typedef enum { OP_CONST, OP_MATMUL_AB, OP_MATMUL_BA1, OP_MATMUL_A1B, OP_IDENTITY_B, OP_IDENTITY_A1, OP_ADD_AA1 } which_op;

typedef struct {
  ct_context *ctx;
  ct_tensor *a, *b, *a1;
} world;

static ct_status run_op(world *w, which_op op, ct_tensor **out) {
  float one = 1.0f;
  int64_t shape[1] = {1};
  switch (op) {
    case OP_CONST: return ct_tensor_from_host(w->ctx, CT_FLOAT32, shape, 1, &one, out);
    case OP_MATMUL_AB: return ct_matmul(w->ctx, w->a, w->b, false, false, out);
    case OP_MATMUL_BA1: return ct_matmul(w->ctx, w->b, w->a1, false, false, out);
    case OP_MATMUL_A1B: return ct_matmul(w->ctx, w->a1, w->b, false, false, out);
    case OP_IDENTITY_B: {
      char scope[CT_DEVICE_NAME_MAX];
      ct_device_scope_current(w->ctx, scope, sizeof scope);
      return ct_tensor_copy_to(w->b, scope, out);
    }
    case OP_IDENTITY_A1: {
      char scope[CT_DEVICE_NAME_MAX];
      ct_device_scope_current(w->ctx, scope, sizeof scope);
      return ct_tensor_copy_to(w->a1, scope, out);
    }
    case OP_ADD_AA1: return ct_add(w->ctx, w->a, w->a1, out);
  }
  return CT_INTERNAL;
}

static void scoped(world *w, const char *scenario, const char *const *specs, which_op op) {
  int n = push_all(w->ctx, specs);
  ct_tensor *t = NULL;
  ct_status st = run_op(w, op, &t);
  pop_n(w->ctx, n);
  outcome(scenario, st, t);
}

#define SPECS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void list_devices(ct_context *ctx) {
  char line[1024] = "";
  size_t n = 0;
  for (int i = 0; i < ct_physical_device_count(ctx, NULL); i++) {
    ct_physical_device_info d;
    if (ct_physical_device_get(ctx, NULL, i, &d) == CT_OK)
      n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", d.name);
  }
  emit("devices.physical", "output", line);
  n = 0;
  line[0] = '\0';
  for (int i = 0; i < ct_logical_device_count(ctx, NULL); i++) {
    ct_logical_device_info d;
    if (ct_logical_device_get(ctx, NULL, i, &d) == CT_OK)
      n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", d.short_name);
  }
  emit("devices.logical", "output", line);
}

static void group_two_cpus(void) {
  world w = {two_cpu_context(), NULL, NULL, NULL};
  ct_context *ctx = w.ctx;
  list_devices(ctx);
  w.a = tensor(ctx, NULL, CT_FLOAT32, 1, 2);
  w.b = tensor(ctx, NULL, CT_FLOAT32, 2, 1);
  scoped(&w, "auto.const", NULL, OP_CONST);
  scoped(&w, "auto.matmul", NULL, OP_MATMUL_AB);
  scoped(&w, "scope.cpu1.const", SPECS("/CPU:1"), OP_CONST);
  scoped(&w, "scope.cpu1.matmul", SPECS("/CPU:1"), OP_MATMUL_AB);
  scoped(&w, "scope.nested.job_then_cpu1", SPECS("/job:localhost", "/CPU:1"), OP_CONST);
  scoped(&w, "scope.nested.cpu1_then_full_cpu0", SPECS("/CPU:1", "/job:localhost/replica:0/task:0/device:CPU:0"),
         OP_CONST);
  scoped(&w, "scope.nested.cpu1_then_task", SPECS("/CPU:1", "/task:0"), OP_CONST);
  scoped(&w, "scope.nested.cpu1_then_bare_cpu", SPECS("/CPU:1", "CPU"), OP_CONST);
  scoped(&w, "scope.toplevel_job", SPECS("/job:localhost"), OP_CONST);
  scoped(&w, "scope.lowercase_short", SPECS("cpu:1"), OP_CONST);
  w.a1 = tensor(ctx, "/CPU:1", CT_FLOAT32, 1, 2);
  scoped(&w, "auto.mixed_inputs", NULL, OP_MATMUL_A1B);
  scoped(&w, "scope.cpu1.mixed_inputs", SPECS("/CPU:1"), OP_MATMUL_BA1);

  scoped(&w, "soft.gpu0", SPECS("/GPU:0"), OP_MATMUL_AB);
  scoped(&w, "soft.gpu7", SPECS("/GPU:7"), OP_MATMUL_AB);
  scoped(&w, "soft.cpu7", SPECS("/CPU:7"), OP_MATMUL_AB);
  scoped(&w, "soft.unknown_type", SPECS("/device:FOO:0"), OP_MATMUL_AB);
  ct_config_set_soft_placement(ctx, false);
  scoped(&w, "strict.gpu0", SPECS("/GPU:0"), OP_MATMUL_AB);
  scoped(&w, "strict.cpu7", SPECS("/CPU:7"), OP_MATMUL_AB);
  scoped(&w, "strict.unknown_type", SPECS("/device:FOO:0"), OP_MATMUL_AB);
  scoped(&w, "strict.job_foo", SPECS("/job:foo"), OP_MATMUL_AB);
  scoped(&w, "strict.cpu1_exists", SPECS("/CPU:1"), OP_MATMUL_AB);
  ct_config_set_soft_placement(ctx, true);

  scoped(&w, "copy.identity_to_cpu1", SPECS("/CPU:1"), OP_IDENTITY_B);
  scoped(&w, "copy.identity_same_device", SPECS("/CPU:1"), OP_IDENTITY_A1);

  static const struct {
    const char *name;
    ct_device_policy p;
  } policies[] = {{"explicit", CT_POLICY_EXPLICIT}, {"silent_for_int32", CT_POLICY_SILENT_FOR_INT32}};
  for (int i = 0; i < 2; i++) {
    char id[96];
    ct_config_set_device_policy(ctx, policies[i].p);
    snprintf(id, sizeof id, "policy.%s.float_unscoped", policies[i].name);
    scoped(&w, id, NULL, OP_ADD_AA1);
    snprintf(id, sizeof id, "policy.%s.float_scoped", policies[i].name);
    scoped(&w, id, SPECS("/CPU:1"), OP_MATMUL_BA1);
    snprintf(id, sizeof id, "policy.%s.identity_allowed", policies[i].name);
    scoped(&w, id, SPECS("/CPU:1"), OP_IDENTITY_B);
  }
  ct_config_set_device_policy(ctx, CT_POLICY_SILENT);
  ct_tensor *i1 = tensor(ctx, "/CPU:1", CT_INT32, 1, 2), *i0 = tensor(ctx, NULL, CT_INT32, 1, 2), *t = NULL;
  ct_config_set_device_policy(ctx, CT_POLICY_SILENT_FOR_INT32);
  ct_status st = ct_add(ctx, i0, i1, &t);
  outcome("policy.silent_for_int32.int32", st, t);
  ct_config_set_device_policy(ctx, CT_POLICY_WARN);
  current = "policy.warn.twice";
  ct_tensor *t1 = NULL, *t2 = NULL;
  st = ct_add(ctx, w.a, w.a1, &t1);
  if (st == CT_OK) st = ct_add(ctx, w.a, w.a1, &t2);
  current = NULL;
  outcome("policy.warn.twice", st, t2);
  ct_tensor_release(t1);
  ct_config_set_device_policy(ctx, CT_POLICY_SILENT);
  ct_tensor_release(i0);
  ct_tensor_release(i1);
  ct_tensor_release(w.a);
  ct_tensor_release(w.b);
  ct_tensor_release(w.a1);
  ct_context_free(ctx);
}

static void group_log(void) {
  ct_context *ctx = two_cpu_context();
  ct_config_set_log_placement(ctx, true);
  current = "log.const_matmul";
  ct_tensor *x = tensor(ctx, NULL, CT_FLOAT32, 2, 2), *y = NULL;
  ct_matmul(ctx, x, x, false, false, &y);
  ct_tensor_release(y);
  ct_device_scope_push(ctx, "/CPU:1");
  ct_matmul(ctx, x, x, false, false, &y);
  ct_tensor_release(y);
  ct_tensor_copy_to(x, "/CPU:1", &y);
  ct_tensor_release(y);
  ct_device_scope_pop(ctx);
  ct_device_scope_push(ctx, "/GPU:0");
  ct_matmul(ctx, x, x, false, false, &y);
  ct_tensor_release(y);
  ct_device_scope_pop(ctx);
  current = NULL;
  ct_tensor_release(x);
  ct_context_free(ctx);
}

static void group_config(void) {
  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) exit(2);
  ct_logical_device_config limited = {100, 0, false}, two[3];
  memset(two, 0, sizeof two);
  const char *cpu = "/physical_device:CPU:0";
  status_only("config.cpu_memory_limit", ct_config_set_logical_devices(ctx, cpu, &limited, 1));
  status_only("config.growth_on_cpu", ct_config_set_memory_growth(ctx, cpu, true));
  ct_config_set_logical_devices(ctx, cpu, two, 2);
  status_only("config.growth_with_virtual", ct_config_set_memory_growth(ctx, cpu, true));
  float one = 1.0f;
  int64_t shape[1] = {1};
  ct_tensor *t = NULL;
  ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, &one, &t);
  emit("config.initialised_by_first_tensor", "device", t ? ct_tensor_device(t) : "(none)");
  ct_tensor_release(t);
  status_only("config.logical_after_init", ct_config_set_logical_devices(ctx, cpu, two, 3));
  status_only("config.logical_same_after_init", ct_config_set_logical_devices(ctx, cpu, two, 2));
  int zero = 0;
  status_only("config.visible_same_after_init", ct_config_set_visible_devices(ctx, "CPU", &zero, 1));
  status_only("config.hide_gpus_none_exist", ct_config_set_visible_devices(ctx, "GPU", NULL, 0));
  char n[16];
  snprintf(n, sizeof n, "%d", ct_logical_device_count(ctx, NULL));
  emit("config.logical_count", "output", n);
  ct_context_free(ctx);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s two_cpus|log|config\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "two_cpus") == 0) group_two_cpus();
  else if (strcmp(argv[1], "log") == 0) group_log();
  else if (strcmp(argv[1], "config") == 0) group_config();
  else return 2;
  return 0;
}
