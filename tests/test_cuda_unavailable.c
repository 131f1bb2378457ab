/*
 * One GPU on which no CUDA context can be created (prohibited or
 * exclusive-process compute mode, a full GPU, a GPU after an Xid error)
 * becomes unusable with the reason DEVICE_UNAVAILABLE, while the other GPUs
 * and the CPU keep working (issue 16, item 2). On the fake driver:
 * CT_FAKE_CUDA_COMPUTE_MODE and CT_FAKE_CUDA_CTX_ERROR, one value per GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

static char fake_lib[1024];

static void fake_env(int n_gpus, const char *compute_mode, const char *ctx_error) {
  static const char *const vars[] = {"CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",   "CT_FAKE_CUDA_LAUNCH_FAULT",
                                     "CUDA_VISIBLE_DEVICES",    "CT_FAKE_CUDA_CC",     "CT_FAKE_CUDA_DRIVER_VERSION",
                                     "CT_FAKE_CUDA_COMPUTE_MODE", "CT_FAKE_CUDA_CTX_ERROR"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  char n[8];
  snprintf(n, sizeof n, "%d", n_gpus);
  setenv("CT_FAKE_CUDA_DEVICES", n, 1);
  if (compute_mode) setenv("CT_FAKE_CUDA_COMPUTE_MODE", compute_mode, 1);
  if (ctx_error) setenv("CT_FAKE_CUDA_CTX_ERROR", ctx_error, 1);
}

/* A tensor made on `spec` (NULL: unscoped) and read back; returns the
 * device it was placed on, or NULL. Copies need neither NVRTC nor cuBLAS. */
static const char *add_on(ct_context *ctx, const char *spec, char *where, size_t size) {
  if (spec && ct_device_scope_push(ctx, spec) != CT_OK) return NULL;
  float a[2] = {1, 2}, r[2] = {0, 0};
  int64_t shape[1] = {2};
  ct_tensor *ta = NULL;
  bool ok = ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, a, &ta) == CT_OK &&
            ct_tensor_to_host(ta, r, sizeof r) == CT_OK && r[0] == 1 && r[1] == 2;
  if (ok) snprintf(where, size, "%s", ct_tensor_device(ta));
  ct_tensor_release(ta);
  if (spec) ct_device_scope_pop(ctx);
  return ok ? where : NULL;
}

static bool has_reason(ct_context *ctx, const char *needle) {
  ct_physical_device_info u;
  for (int i = 0; i < ct_unusable_device_count(ctx); i++)
    if (ct_unusable_device_get(ctx, i, &u) == CT_OK && u.reason == CT_GPU_DEVICE_UNAVAILABLE &&
        strstr(u.reason_detail, needle))
      return true;
  return false;
}

TEST(reason_has_a_stable_name) {
  CHECK_EQ_INT(CT_GPU_DEVICE_UNAVAILABLE, 12);
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_DEVICE_UNAVAILABLE), "DEVICE_UNAVAILABLE");
}

/* Prohibited mode is an attribute: discovery sees it without a context. */
TEST(prohibited_gpu_is_unusable_at_discovery) {
  fake_env(2, "2,0", NULL);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 1);
  CHECK(has_reason(ctx, "prohibited compute mode"));
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 1);
  char where[256];
  CHECK(add_on(ctx, "/GPU:0", where, sizeof where) != NULL);
  CHECK(strstr(where, "GPU:0") != NULL);
  ct_context_free(ctx);
}

/* The other failures are only found when the context is created. */
static void check_context_failure(const char *ctx_error, const char *needle) {
  /* GPU 0 fails, GPU 1 works: GPU 1 becomes the logical /GPU:0. */
  fake_env(2, NULL, ctx_error);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2); /* discovery cannot tell */
  ct_logical_device_config two[2] = {{.memory_limit_mb = 8}, {.memory_limit_mb = 8}};
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", two, 2));
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 1);
  ct_logical_device_info li;
  CHECK_OK(ct_logical_device_get(ctx, "GPU", 0, &li));
  CHECK_EQ_INT(li.physical_index, 1);
  CHECK(has_reason(ctx, needle));
  CHECK(has_reason(ctx, "/physical_device:GPU:0") || has_reason(ctx, "GPU:0"));
  ct_physical_device_info p;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &p));
  CHECK(!p.usable);
  CHECK_EQ_INT(p.reason, CT_GPU_DEVICE_UNAVAILABLE);
  char detail[512];
  CHECK_EQ_INT(ct_gpu_availability(ctx, detail, sizeof detail), CT_GPU_USABLE);
  CHECK(strstr(detail, "1 usable GPU") != NULL);
  char where[256];
  CHECK(add_on(ctx, NULL, where, sizeof where) != NULL);
  CHECK(strstr(where, "GPU:0") != NULL);
  CHECK(add_on(ctx, "/CPU:0", where, sizeof where) != NULL);
  CHECK(strstr(where, "CPU:0") != NULL);
  ct_context_free(ctx);

  /* The only GPU fails: the CPU carries on, the reason says why. */
  fake_env(1, NULL, ctx_error);
  CHECK_OK(ct_context_new(&ctx));
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 0);
  CHECK_EQ_INT(ct_gpu_availability(ctx, detail, sizeof detail), CT_GPU_DEVICE_UNAVAILABLE);
  CHECK(strstr(detail, needle) != NULL);
  CHECK(add_on(ctx, NULL, where, sizeof where) != NULL);
  CHECK(strstr(where, "CPU:0") != NULL);
  ct_context_free(ctx);
}

TEST(exclusive_process_gpu_held_elsewhere) { check_context_failure("46,0", "exclusive-process"); }
TEST(gpu_without_memory_for_a_context) { check_context_failure("2,0", "no memory left"); }
TEST(gpu_after_an_xid_error) {
  check_context_failure("999,0", "Xid");
  check_context_failure("214,0", "CUDA_ERROR_ECC_UNCORRECTABLE");
}

/* `ctensor devices` lists the GPU as unusable with its reason. */
TEST(cli_lists_the_unavailable_gpu) {
  const char *cli = getenv("CT_CLI");
  if (!cli || access(cli, X_OK) != 0) {
    printf("  skipped: CT_CLI not set\n");
    return;
  }
  char cmd[2048], out[8192];
  snprintf(cmd, sizeof cmd,
           "CT_CUDA_DRIVER_PATH='%s' CT_FAKE_CUDA_DEVICES=2 CT_FAKE_CUDA_CTX_ERROR=46,0 '%s' devices 2>&1", fake_lib,
           cli);
  FILE *p = popen(cmd, "r");
  CHECK(p != NULL);
  if (!p) return;
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  CHECK_EQ_INT(pclose(p), 0);
  CHECK(strstr(out, "DEVICE_UNAVAILABLE") != NULL);
  CHECK(strstr(out, "GPU: usable (1 usable GPU)") != NULL);
  if (!strstr(out, "DEVICE_UNAVAILABLE")) fprintf(stderr, "%s\n", out);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin);
  if (access(fake_lib, R_OK) != 0) {
    fprintf(stderr, "fake driver %s not built\n", fake_lib);
    return 1;
  }
  unsetenv("CT_CUBLAS_PATH");
  unsetenv("CT_NVRTC_PATH");
  RUN(reason_has_a_stable_name);
  RUN(prohibited_gpu_is_unusable_at_discovery);
  RUN(exclusive_process_gpu_held_elsewhere);
  RUN(gpu_without_memory_for_a_context);
  RUN(gpu_after_an_xid_error);
  RUN(cli_lists_the_unavailable_gpu);
  TEST_MAIN_END();
}
