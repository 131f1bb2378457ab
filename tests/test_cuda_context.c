/*
 * Context etiquette (issue 16, item 6): a ctensor op never changes the
 * calling thread's current CUDA context, and teardown leaves the previous
 * one current. "Another library" here is this test, driving the fake
 * driver directly: it makes a context current (the primary context of the
 * other GPU, as the runtime API of PyTorch or CuPy would; a context of its
 * own from cuCtxCreate; or none), then ctensor runs ops on GPU:0.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

typedef void *fake_ctx;
static char driver[1024], nvrtc[1024], cublas[1024], cublaslt[1024];
static int (*GetCurrent)(fake_ctx *);
static int (*SetCurrent)(fake_ctx);
static int (*PrimaryRetain)(fake_ctx *, int);
static int (*PrimaryRelease)(int);
static int (*Create)(fake_ctx *, unsigned, int);
static int (*Destroy)(fake_ctx);
static long (*Switches)(void);

static fake_ctx current(void) {
  fake_ctx c = NULL;
  GetCurrent(&c);
  return c;
}

static ct_context *two_gpus(void) {
  static const char *const vars[] = {"CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB", "CT_FAKE_CUDA_LAUNCH_FAULT",
                                     "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_CC", "CT_FAKE_CUDA_COMPUTE_MODE",
                                     "CT_FAKE_CUDA_CTX_ERROR"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", driver, 1);
  setenv("CT_NVRTC_PATH", nvrtc, 1);
  setenv("CT_CUBLAS_PATH", cublas, 1);
  setenv("CT_CUBLASLT_PATH", cublaslt, 1);
  setenv("CT_FAKE_CUDA_DEVICES", "2", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK || ct_config_set_soft_placement(ctx, false) != CT_OK ||
      ct_context_initialize(ctx) != CT_OK || ct_logical_device_count(ctx, "GPU") != 2) {
    fprintf(stderr, "two fake GPUs: %s\n", ct_last_error());
    ct_context_free(ctx);
    return NULL;
  }
  return ctx;
}

/* Every kind of entry into the GPU backend, each followed by a look at
 * the current context: copies in and out, a kernel (NVRTC), a matmul
 * (cuBLAS, which checks that its handle's context is current), a copy to
 * the other GPU, a synchronisation, frees. */
static void ops_keep(ct_context *ctx, fake_ctx want, const char *what) {
  float v[4] = {1, 2, 3, 4}, r[4] = {0};
  int64_t shape[2] = {2, 2};
  ct_tensor *a = NULL, *b = NULL, *m = NULL, *g1 = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, v, &a));
  CHECK(current() == want);
  CHECK_OK(ct_add(ctx, a, a, &b));
  CHECK(current() == want);
  CHECK_OK(ct_matmul(ctx, a, a, false, false, &m));
  CHECK(current() == want);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_tensor_copy_to(m, "/GPU:1", &g1));
  CHECK(current() == want);
  CHECK_OK(ct_tensor_to_host(b, r, sizeof r));
  CHECK(r[0] == 2 && r[3] == 8);
  CHECK_OK(ct_tensor_to_host(g1, r, sizeof r));
  CHECK(r[0] == 7 && r[3] == 22);
  CHECK_OK(ct_context_synchronize(ctx));
  CHECK(current() == want);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(m);
  ct_tensor_release(g1);
  CHECK(current() == want);
  if (current() != want) fprintf(stderr, "  (%s)\n", what);
}

/* PyTorch's runtime API made GPU 1's primary context current. */
TEST(other_gpus_primary_context_stays_current) {
  ct_context *ctx = two_gpus();
  CHECK(ctx != NULL);
  if (!ctx) return;
  fake_ctx theirs = NULL;
  CHECK(PrimaryRetain(&theirs, 1) == 0);
  CHECK(SetCurrent(theirs) == 0);
  ops_keep(ctx, theirs, "primary context of GPU 1");
  ct_context_free(ctx); /* teardown too */
  CHECK(current() == theirs);
  SetCurrent(NULL);
  PrimaryRelease(1);
}

/* A context of the application's own on GPU 0, where ctensor runs. */
TEST(created_context_on_the_same_gpu_stays_current) {
  ct_context *ctx = two_gpus();
  CHECK(ctx != NULL);
  if (!ctx) return;
  fake_ctx mine = NULL;
  CHECK(Create(&mine, 0, 0) == 0);
  CHECK(current() == mine);
  ops_keep(ctx, mine, "cuCtxCreate on GPU 0");
  ct_context_free(ctx);
  CHECK(current() == mine);
  Destroy(mine);
}

/* Nothing current before: nothing current after, teardown included. */
TEST(no_context_stays_none) {
  SetCurrent(NULL);
  ct_context *ctx = two_gpus();
  CHECK(ctx != NULL);
  if (!ctx) return;
  CHECK(current() == NULL); /* initialisation made contexts, left none current */
  ops_keep(ctx, NULL, "none");
  ct_context_free(ctx);
  CHECK(current() == NULL);
}

/* The hot path: when the caller's current context already is ctensor's
 * (the same primary context), an op switches nothing at all. */
TEST(no_switch_when_already_current) {
  ct_context *ctx = two_gpus();
  CHECK(ctx != NULL);
  if (!ctx) return;
  fake_ctx primary0 = NULL;
  CHECK(PrimaryRetain(&primary0, 0) == 0);
  CHECK(SetCurrent(primary0) == 0);
  float v[4] = {1, 2, 3, 4};
  int64_t shape[1] = {4};
  ct_tensor *a = NULL, *b = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, v, &a));
  CHECK_OK(ct_add(ctx, a, a, &b)); /* compiled (or loaded) once */
  ct_tensor_release(b);
  long before = Switches();
  for (int i = 0; i < 100; i++) {
    CHECK_OK(ct_add(ctx, a, a, &b));
    ct_tensor_release(b);
  }
  CHECK_EQ_INT(Switches() - before, 0);
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(a);
  CHECK(current() == primary0);
  ct_context_free(ctx);
  CHECK(current() == primary0);
  SetCurrent(NULL);
  PrimaryRelease(0);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(driver, sizeof driver, "%s/fake_cuda/libcuda.so.1", bin);
  snprintf(nvrtc, sizeof nvrtc, "%s/fake_nvrtc/libnvrtc.so.13", bin);
  snprintf(cublas, sizeof cublas, "%s/fake_cublas/libcublas.so.13", bin);
  snprintf(cublaslt, sizeof cublaslt, "%s/fake_cublas/libcublasLt.so.13", bin);
  if (access(driver, R_OK) != 0 || access(nvrtc, R_OK) != 0 || access(cublas, R_OK) != 0) {
    fprintf(stderr, "fake driver, NVRTC or cuBLAS not built\n");
    return 77;
  }
  void *h = dlopen(driver, RTLD_NOW | RTLD_LOCAL); /* the same copy ctensor opens */
  if (!h) return 1;
  GetCurrent = (int (*)(fake_ctx *))dlsym(h, "cuCtxGetCurrent");
  SetCurrent = (int (*)(fake_ctx))dlsym(h, "cuCtxSetCurrent");
  PrimaryRetain = (int (*)(fake_ctx *, int))dlsym(h, "cuDevicePrimaryCtxRetain");
  PrimaryRelease = (int (*)(int))dlsym(h, "cuDevicePrimaryCtxRelease_v2");
  Create = (int (*)(fake_ctx *, unsigned, int))dlsym(h, "cuCtxCreate_v2");
  Destroy = (int (*)(fake_ctx))dlsym(h, "cuCtxDestroy_v2");
  Switches = (long (*)(void))dlsym(h, "ct_fake_cuda_ctx_switches");
  if (!GetCurrent || !SetCurrent || !PrimaryRetain || !PrimaryRelease || !Create || !Destroy || !Switches) return 1;
  RUN(other_gpus_primary_context_stays_current);
  RUN(created_context_on_the_same_gpu_stays_current);
  RUN(no_context_stays_none);
  RUN(no_switch_when_already_current);
  TEST_MAIN_END();
}
