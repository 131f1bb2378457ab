/*
 * Placement with GPUs, through the fake CUDA driver (tests/fake_cuda): a
 * GPU that exists but is hidden, a GPU without a kernel for an op, a memory
 * limit reached, automatic placement on GPU:0, TensorFlow's soft-placement
 * rule (/GPU:7 runs on GPU:0) and the device policy across device types.
 *
 * Only ops that need no JIT kernel run on the fake GPU (constants and
 * copies: its memory is host memory, so data round trips are real; matmul
 * with the fake cuBLAS); without NVRTC the others have no GPU kernel and
 * are placed on the CPU by the rules under test. Exits 77 (skipped)
 * when the fake driver was not built.
 */
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

#define CPU0 "/job:localhost/replica:0/task:0/device:CPU:0"
#define GPU0 "/job:localhost/replica:0/task:0/device:GPU:0"
#define GPU1 "/job:localhost/replica:0/task:0/device:GPU:1"

static char fake_lib[1024];

static void fake_env(int devices, const char *cuda_visible) {
  static const char *const vars[] = {"CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_MEMORY_MB", "CT_FAKE_CUDA_INIT_ERROR",
                                     "CT_FAKE_CUDA_STUB", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
                                     "CT_LOG_DEVICE_PLACEMENT", "CT_PLACEMENT_REPORT"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  /* No cuBLAS/NVRTC: the GPUs are usable for constants and copies. */
  setenv("CT_CUBLAS_PATH", "/nonexistent", 1);
  setenv("CT_CUBLASLT_PATH", "/nonexistent", 1);
  setenv("CT_NVRTC_PATH", "/nonexistent", 1);
  char n[16];
  snprintf(n, sizeof n, "%d", devices);
  setenv("CT_FAKE_CUDA_DEVICES", n, 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  if (cuda_visible) setenv("CUDA_VISIBLE_DEVICES", cuda_visible, 1);
}

static ct_context *context(void) {
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  return ctx;
}

static ct_tensor *ints(ct_context *ctx, const char *scope, int64_t rows, int64_t cols) {
  int32_t v[16];
  for (int i = 0; i < 16; i++) v[i] = i + 1;
  int64_t shape[2] = {rows, cols};
  if (scope) CHECK_OK(ct_device_scope_push(ctx, scope));
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, shape, 2, v, &t));
  if (scope) CHECK_OK(ct_device_scope_pop(ctx));
  return t;
}

static const ct_fallback_record *find_fallback(ct_context *ctx, const char *op, ct_fallback_record *r) {
  for (int i = 0; i < ct_fallback_count(ctx); i++)
    if (ct_fallback_get(ctx, i, r) == CT_OK && strcmp(r->op, op) == 0) return r;
  return NULL;
}

TEST(automatic_placement_prefers_gpu0) {
  fake_env(2, NULL);
  ct_context *ctx = context();
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2);
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 2);
  ct_tensor *t = ints(ctx, NULL, 2, 2);
  CHECK_EQ_STR(ct_tensor_device(t), GPU0);
  CHECK_EQ_STR(ct_tensor_backing_device(t), GPU0);
  int32_t got[4] = {0};
  CHECK_OK(ct_tensor_to_host(t, got, sizeof got));
  CHECK_EQ_INT(got[3], 4);
  ct_tensor *u = ints(ctx, "/GPU:1", 2, 2);
  CHECK_EQ_STR(ct_tensor_device(u), GPU1);
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
  ct_tensor_release(t);
  ct_tensor_release(u);
  ct_context_free(ctx);
}

TEST(soft_placement_of_a_missing_gpu_goes_to_gpu0) {
  fake_env(1, NULL);
  ct_context *ctx = context();
  ct_tensor *t = ints(ctx, "/GPU:7", 1, 2);
  CHECK_EQ_STR(ct_tensor_device(t), GPU0); /* TensorFlow's rule, not CPU */
  ct_fallback_record r;
  CHECK(find_fallback(ctx, "_EagerConst", &r) != NULL);
  CHECK_EQ_STR(r.requested, "/job:localhost/replica:0/task:0/device:GPU:7");
  CHECK_EQ_STR(r.placed, GPU0);
  CHECK_EQ_INT(r.reason, CT_FALLBACK_NO_SUCH_DEVICE);
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:7"));
  ct_tensor *u = NULL;
  int64_t shape[1] = {1};
  int32_t one = 1;
  CHECK_ERR(ct_tensor_from_host(ctx, CT_INT32, shape, 1, &one, &u), CT_INVALID_ARGUMENT,
            "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:GPU:7'. "
            "enable_soft_placement=0. Supported device types [GPU, CPU]. All available devices [" CPU0 ", " GPU0
            "]. [Op:_EagerConst] NO_SUCH_DEVICE");
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(t);
  ct_context_free(ctx);
}

TEST(gpu_hidden_by_configuration) {
  fake_env(2, NULL);
  ct_context *ctx = context();
  int first = 0;
  CHECK_OK(ct_config_set_visible_devices(ctx, "GPU", &first, 1));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2); /* it exists... */
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 1);  /* ...but is not used */
  ct_tensor *t = ints(ctx, "/GPU:1", 1, 1);
  CHECK_EQ_STR(ct_tensor_device(t), GPU0);
  ct_fallback_record r;
  CHECK(find_fallback(ctx, "_EagerConst", &r) != NULL);
  CHECK_EQ_INT(r.reason, CT_FALLBACK_DEVICE_HIDDEN);
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:1"));
  ct_tensor *u = NULL;
  CHECK_ERR(ct_tensor_copy_to(t, "/GPU:1", &u), CT_INVALID_ARGUMENT, "DEVICE_HIDDEN: the requested device exists but is not visible");
  CHECK_OK(ct_device_scope_pop(ctx));
  int both[2] = {0, 1};
  CHECK_ERR(ct_config_set_visible_devices(ctx, "GPU", both, 2), CT_FAILED_PRECONDITION,
            "Visible devices cannot be modified after being initialized");
  CHECK_OK(ct_config_set_visible_devices(ctx, "GPU", &first, 1)); /* unchanged: fine */
  ct_tensor_release(t);
  ct_context_free(ctx);
}

TEST(gpu_hidden_by_cuda_visible_devices) {
  fake_env(1, "-1");
  ct_context *ctx = context();
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
  ct_tensor *t = ints(ctx, "/GPU:0", 1, 1);
  CHECK_EQ_STR(ct_tensor_device(t), CPU0);
  ct_fallback_record r;
  CHECK(find_fallback(ctx, "_EagerConst", &r) != NULL);
  CHECK_EQ_INT(r.reason, CT_FALLBACK_DEVICE_HIDDEN);
  CHECK_EQ_STR(r.placed, CPU0);
  ct_tensor_release(t);
  ct_context_free(ctx);

  /* Renumbering: CUDA_VISIBLE_DEVICES=1 of two makes that one GPU:0. */
  fake_env(2, "1");
  ctx = context();
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 1);
  t = ints(ctx, "/GPU:0", 1, 1);
  CHECK_EQ_STR(ct_tensor_device(t), GPU0);
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
  ct_tensor_release(t);
  ct_context_free(ctx);
}

TEST(gpu_without_a_kernel_for_the_op) {
  fake_env(1, NULL);
  ct_context *ctx = context();
  /* int32 MatMul has a CPU kernel only (as in TensorFlow). */
  CHECK(ctx->registry.kernels[CT_OP_MATMUL][CT_DEV_GPU][CT_INT32] == NULL);
  CHECK(ctx->registry.kernels[CT_OP_MATMUL][CT_DEV_CPU][CT_INT32] != NULL);
  ct_tensor *a = ints(ctx, "/GPU:0", 2, 2);
  CHECK_EQ_STR(ct_tensor_device(a), GPU0);
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  ct_tensor *m = NULL;
  CHECK_OK(ct_matmul(ctx, a, a, false, false, &m)); /* input copied GPU -> CPU silently */
  CHECK_EQ_STR(ct_tensor_device(m), CPU0);
  int32_t got[4] = {0};
  CHECK_OK(ct_tensor_to_host(m, got, sizeof got));
  CHECK_EQ_INT(got[0], 7);  /* [1 2;3 4]^2 = [7 10;15 22] */
  CHECK_EQ_INT(got[3], 22);
  ct_fallback_record r;
  CHECK(find_fallback(ctx, "MatMul", &r) != NULL);
  CHECK_EQ_INT(r.reason, CT_FALLBACK_NO_KERNEL);
  CHECK_EQ_STR(r.requested, "/job:localhost/replica:0/task:0/device:GPU:0");
  CHECK_EQ_INT(r.count, 1);
  ct_tensor_release(m);
  /* Strict: the same request is an error naming op, request, devices, reason. */
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  m = NULL;
  CHECK_ERR(ct_matmul(ctx, a, a, false, false, &m), CT_INVALID_ARGUMENT,
            "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:GPU:0'. "
            "enable_soft_placement=0. Supported device types [CPU]. All available devices [" CPU0 ", " GPU0
            "]. [Op:MatMul] NO_KERNEL: the requested device has no kernel for this op and dtype (dtype int32)");
  CHECK(m == NULL);
  CHECK_OK(ct_device_scope_pop(ctx));
  /* Unscoped, the op goes where its kernel is. */
  CHECK_OK(ct_matmul(ctx, a, a, false, false, &m));
  CHECK_EQ_STR(ct_tensor_device(m), CPU0);
  ct_tensor_release(m);
  /* The explicit policy refuses the GPU -> CPU move. */
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_EXPLICIT));
  m = NULL;
  CHECK_ERR(ct_matmul(ctx, a, a, false, false, &m), CT_INVALID_ARGUMENT,
            "cannot compute MatMul as input #0 was expected to be on " CPU0 " but is actually on " GPU0);
  CHECK_OK(ct_config_set_device_policy(ctx, CT_POLICY_SILENT_FOR_INT32));
  CHECK_OK(ct_matmul(ctx, a, a, false, false, &m)); /* int32: copied */
  ct_tensor_release(m);
  ct_tensor_release(a);
  ct_context_free(ctx);
}

static ct_tensor *floats(ct_context *ctx, const char *scope) {
  float v[4] = {1, 2, 3, 4};
  int64_t shape[2] = {2, 2};
  if (scope) CHECK_OK(ct_device_scope_push(ctx, scope));
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, v, &t));
  if (scope) CHECK_OK(ct_device_scope_pop(ctx));
  return t;
}

/* A GPU on a machine without NVRTC (or cuBLAS) is usable for what needs
 * neither; placement sends the rest to the CPU instead of choosing the GPU
 * and failing when the op runs, and says why. */
TEST(gpu_without_nvrtc_runs_only_matmul_and_copies) {
  fake_env(1, NULL);
  char cublas[1024], cublaslt[1024];
  const char *bin = getenv("CT_BINARY_DIR");
  snprintf(cublas, sizeof cublas, "%s/fake_cublas/libcublas.so.13", bin ? bin : ".");
  snprintf(cublaslt, sizeof cublaslt, "%s/fake_cublas/libcublasLt.so.13", bin ? bin : ".");
  bool have_cublas = access(cublas, R_OK) == 0;
  if (have_cublas) {
    setenv("CT_CUBLAS_PATH", cublas, 1);
    setenv("CT_CUBLASLT_PATH", cublaslt, 1);
  }
  ct_context *ctx = context();
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 1);
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK_EQ_INT(info.reason, CT_GPU_NO_NVRTC);
  CHECK(ctx->registry.kernels[CT_OP_ADD][CT_DEV_GPU][CT_FLOAT32] == NULL);
  CHECK(ctx->registry.kernels[CT_OP_FILL][CT_DEV_GPU][CT_FLOAT32] == NULL);
  CHECK(ctx->registry.kernels[CT_OP_IDENTITY][CT_DEV_GPU][CT_FLOAT32] != NULL); /* copies need no JIT */
  CHECK((ctx->registry.kernels[CT_OP_MATMUL][CT_DEV_GPU][CT_FLOAT32] != NULL) == have_cublas);

  /* automatic placement: ops without a GPU kernel run on the CPU, unlogged
   * as fallbacks (nothing asked for the GPU) */
  int64_t shape[2] = {2, 2};
  ct_tensor *ones = NULL;
  CHECK_OK(ct_fill(ctx, CT_FLOAT32, shape, 2, 1.0, &ones));
  CHECK_EQ_STR(ct_tensor_device(ones), CPU0);
  ct_tensor *a = floats(ctx, NULL); /* a constant: on the GPU */
  CHECK_EQ_STR(ct_tensor_device(a), GPU0);
  ct_tensor *sum = NULL;
  CHECK_OK(ct_add(ctx, a, a, &sum)); /* the GPU input is copied to the CPU */
  CHECK_EQ_STR(ct_tensor_device(sum), CPU0);
  float got[4] = {0};
  CHECK_OK(ct_tensor_to_host(sum, got, sizeof got));
  CHECK(got[0] == 2 && got[3] == 8);
  if (have_cublas) { /* matmul still runs on the GPU, through cuBLAS */
    ct_tensor *m = NULL;
    CHECK_OK(ct_matmul(ctx, a, a, false, false, &m));
    CHECK_EQ_STR(ct_tensor_device(m), GPU0);
    CHECK_OK(ct_tensor_to_host(m, got, sizeof got));
    CHECK(got[0] == 7 && got[3] == 22);
    ct_tensor_release(m);
  }
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);

  /* asked for the GPU: a counted fallback, then a strict error naming NVRTC */
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  ct_tensor *s2 = NULL;
  CHECK_OK(ct_add(ctx, a, a, &s2));
  CHECK_EQ_STR(ct_tensor_device(s2), CPU0);
  ct_fallback_record r;
  CHECK(find_fallback(ctx, "AddV2", &r) != NULL);
  CHECK_EQ_INT(r.reason, CT_FALLBACK_NO_KERNEL);
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  ct_tensor *s3 = NULL;
  CHECK_ERR(ct_add(ctx, a, a, &s3), CT_INVALID_ARGUMENT,
            "[Op:AddV2] NO_KERNEL: the requested device has no kernel for this op and dtype (dtype float32); "
            "NVRTC not found (libnvrtc.so.13/.12/.11.2; set CT_NVRTC_PATH): only copies");
  /* int32 MatMul has no GPU kernel whatever the libraries: no NVRTC blame */
  ct_tensor *i = ints(ctx, NULL, 2, 2), *im = NULL;
  CHECK_ERR(ct_matmul(ctx, i, i, false, false, &im), CT_INVALID_ARGUMENT, "(dtype int32)");
  CHECK(strstr(ct_last_error(), "NVRTC") == NULL);
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(i);
  ct_tensor_release(s2);
  ct_tensor_release(sum);
  ct_tensor_release(a);
  ct_tensor_release(ones);
  ct_context_free(ctx);
}

/* NVRTC present, cuBLAS missing: matmul alone leaves the GPU. */
TEST(gpu_without_cublas_keeps_jit_kernels) {
  fake_env(1, NULL);
  char nvrtc[1024];
  const char *bin = getenv("CT_BINARY_DIR");
  snprintf(nvrtc, sizeof nvrtc, "%s/fake_nvrtc/libnvrtc.so.13", bin ? bin : ".");
  if (access(nvrtc, R_OK) != 0) {
    printf("  (skipped: %s not built)\n", nvrtc);
    return;
  }
  setenv("CT_NVRTC_PATH", nvrtc, 1);
  ct_context *ctx = context();
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK_EQ_INT(info.reason, CT_GPU_NO_CUBLAS);
  CHECK(ctx->registry.kernels[CT_OP_ADD][CT_DEV_GPU][CT_FLOAT32] != NULL);
  CHECK(ctx->registry.kernels[CT_OP_MATMUL][CT_DEV_GPU][CT_FLOAT32] == NULL);
  ct_tensor *a = floats(ctx, NULL), *m = NULL;
  CHECK_EQ_STR(ct_tensor_device(a), GPU0);
  CHECK_OK(ct_matmul(ctx, a, a, false, false, &m));
  CHECK_EQ_STR(ct_tensor_device(m), CPU0);
  ct_tensor_release(m);
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  m = NULL;
  CHECK_ERR(ct_matmul(ctx, a, a, false, false, &m), CT_INVALID_ARGUMENT,
            "(dtype float32); cuBLAS not found (libcublas.so.13/.12/.11; set CT_CUBLAS_PATH): matmul cannot run");
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(a);
  ct_context_free(ctx);
}

TEST(memory_limit_reached_on_a_logical_gpu) {
  fake_env(1, NULL);
  ct_context *ctx = context();
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", cfg, 2), CT_INVALID_ARGUMENT,
            "Setting memory limit is required for GPU virtual devices");
  cfg[0].memory_limit_mb = 1;
  cfg[1].memory_limit_mb = 2;
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", cfg, 2));
  CHECK_ERR(ct_config_set_memory_growth(ctx, "/physical_device:GPU:0", true), CT_INVALID_ARGUMENT,
            "Cannot set memory growth on device when virtual devices configured");
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 2);
  ct_logical_device_info info;
  CHECK_OK(ct_logical_device_get(ctx, "GPU", 1, &info));
  CHECK_EQ_STR(info.name, GPU1);
  CHECK_EQ_INT(info.memory_limit_bytes, 2u << 20);

  /* 1.5 MiB fits GPU:1 (2 MiB) but not GPU:0 (1 MiB). */
  int64_t shape[1] = {(3 << 20) / 8};
  float *data = calloc((size_t)shape[0], sizeof(float));
  ct_tensor *t = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, data, &t), CT_RESOURCE_EXHAUSTED, "GPU:0");
  CHECK(t == NULL);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:1"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, data, &t));
  CHECK_EQ_STR(ct_tensor_device(t), GPU1);
  ct_tensor *t2 = NULL;
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, data, &t2), CT_RESOURCE_EXHAUSTED, "GPU:1");
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:1", &mi));
  CHECK_EQ_INT(mi.limit_bytes, 2u << 20);
  CHECK(mi.current_bytes >= (uint64_t)shape[0] * 4);
  /* The context survives: copies back to the CPU still work. */
  ct_tensor *h = NULL;
  CHECK_OK(ct_tensor_copy_to(t, "/CPU:0", &h));
  CHECK_EQ_STR(ct_tensor_device(h), CPU0);
  CHECK_ERR(ct_config_set_memory_growth(ctx, "/physical_device:GPU:0", false), CT_INVALID_ARGUMENT,
            "virtual devices configured");
  ct_tensor_release(h);
  ct_tensor_release(t);
  free(data);
  ct_context_free(ctx);
}

TEST(memory_growth_is_frozen_after_initialisation) {
  fake_env(1, NULL);
  ct_context *ctx = context();
  int g = 7;
  CHECK_OK(ct_config_get_memory_growth(ctx, "/physical_device:GPU:0", &g));
  CHECK_EQ_INT(g, -1); /* never set: TensorFlow's None */
  CHECK_OK(ct_config_set_memory_growth(ctx, "/physical_device:GPU:0", true));
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_ERR(ct_config_set_memory_growth(ctx, "/physical_device:GPU:0", false), CT_FAILED_PRECONDITION,
            "Physical devices cannot be modified after being initialized");
  CHECK_OK(ct_config_set_memory_growth(ctx, "/physical_device:GPU:0", true));
  ct_context_free(ctx);
}

static void count_identity_gpu1(void *user, ct_log_level level, const char *message) {
  if (level == CT_LOG_INFO && strcmp(message, "Executing op Identity in device " GPU1) == 0) ++*(int *)user;
}

TEST(copies_between_gpu_and_cpu_and_logging) {
  fake_env(2, NULL);
  ct_context *ctx = context();
  int identity_on_gpu1 = 0;
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  ct_context_set_log_callback(ctx, count_identity_gpu1, &identity_on_gpu1);
  ct_tensor *c = ints(ctx, "/CPU:0", 2, 2);
  CHECK_EQ_STR(ct_tensor_device(c), CPU0);
  ct_tensor *g0 = NULL, *g1 = NULL, *back = NULL;
  CHECK_OK(ct_tensor_copy_to(c, "/GPU:0", &g0));
  CHECK_EQ_STR(ct_tensor_device(g0), GPU0);
  CHECK_OK(ct_tensor_copy_to(g0, "/device:GPU:1", &g1));
  CHECK_EQ_STR(ct_tensor_device(g1), GPU1);
  CHECK_OK(ct_tensor_copy_to(g1, "/CPU:0", &back));
  int32_t got[4] = {0};
  CHECK_OK(ct_tensor_to_host(back, got, sizeof got));
  CHECK_EQ_INT(got[0] + got[1] + got[2] + got[3], 10);
  ct_tensor *same = NULL;
  CHECK_OK(ct_tensor_copy_to(g0, "gpu:0", &same));
  CHECK(same == g0);
  ct_tensor_release(same);
  uint64_t ops = 0;
  CHECK_OK(ct_device_op_count(ctx, "/GPU:1", &ops));
  CHECK_EQ_INT(ops, 1);
  size_t need = ct_placement_report(ctx, NULL, 0);
  char *text = malloc(need + 1);
  ct_placement_report(ctx, text, need + 1);
  CHECK(strstr(text, GPU0) != NULL && strstr(text, GPU1) != NULL);
  CHECK(strstr(text, "no GPU was used") == NULL);
  free(text);
  CHECK_OK(ct_config_set_log_placement(ctx, false));
  ct_tensor_release(c);
  ct_tensor_release(g0);
  ct_tensor_release(g1);
  ct_tensor_release(back);
  ct_context_free(ctx);
  CHECK_EQ_INT(identity_on_gpu1, 1);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin ? bin : ".");
  if (access(fake_lib, R_OK) != 0) {
    printf("SKIP: the fake CUDA driver %s was not built (cmake/parts/cuda.cmake builds it)\n", fake_lib);
    return 77;
  }
  RUN(automatic_placement_prefers_gpu0);
  RUN(soft_placement_of_a_missing_gpu_goes_to_gpu0);
  RUN(gpu_hidden_by_configuration);
  RUN(gpu_hidden_by_cuda_visible_devices);
  RUN(gpu_without_a_kernel_for_the_op);
  RUN(gpu_without_nvrtc_runs_only_matmul_and_copies);
  RUN(gpu_without_cublas_keeps_jit_kernels);
  RUN(memory_limit_reached_on_a_logical_gpu);
  RUN(memory_growth_is_frozen_after_initialisation);
  RUN(copies_between_gpu_and_cpu_and_logging);
  TEST_MAIN_END();
}
