/*
 * Errors that destroy a CUDA context (issue 16, item 8): an illegal
 * address (700), a device-side assert (710), an uncorrectable ECC error
 * (214), a destroyed context (709). On the fake driver, CT_FAKE_CUDA_STICKY
 * =<error>@<N> makes launch N break its GPU's primary context for good.
 *
 * GPU 0 is split into two logical devices (/GPU:0, /GPU:1) sharing that
 * context; GPU 1 is /GPU:2. The faulting kernel is queued on /GPU:0 and the
 * fault is found by /GPU:1, which must name /GPU:0 and its op, not itself.
 * Afterwards physical GPU 0 is unusable (DEVICE_FAILED), ops placed on
 * /GPU:0 or /GPU:1 fail at once with UNAVAILABLE, unscoped ops go to
 * /GPU:2, the CPU works, and the fault is reported once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/cuda_device.h"
#include "testutil.h"

static char fake_lib[1024], cublas[1024], cublaslt[1024];

static ct_context *make_ctx(const char *sticky) {
  static const char *const vars[] = {"CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",  "CT_FAKE_CUDA_LAUNCH_FAULT",
                                     "CUDA_VISIBLE_DEVICES",    "CT_FAKE_CUDA_CC",    "CT_FAKE_CUDA_COMPUTE_MODE",
                                     "CT_FAKE_CUDA_CTX_ERROR",  "CT_FAKE_CUDA_ASYNC_COPY"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_CUBLAS_PATH", cublas, 1);
  setenv("CT_CUBLASLT_PATH", cublaslt, 1);
  setenv("CT_NVRTC_PATH", "/nonexistent/libnvrtc.so.13", 1); /* copies and matmul only */
  setenv("CT_FAKE_CUDA_DEVICES", "2", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  setenv("CT_FAKE_CUDA_STICKY", sticky, 1);
  ct_context *ctx = NULL;
  ct_logical_device_config two[2] = {{.memory_limit_mb = 8}, {.memory_limit_mb = 8}};
  if (ct_context_new(&ctx) != CT_OK || ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", two, 2) != CT_OK ||
      ct_config_set_soft_placement(ctx, false) != CT_OK || ct_context_initialize(ctx) != CT_OK ||
      ct_logical_device_count(ctx, "GPU") != 3) {
    fprintf(stderr, "three logical fake GPUs: %s\n", ct_last_error());
    ct_context_free(ctx);
    return NULL;
  }
  return ctx;
}

static ct_cuda_device *cuda_dev(ct_context *ctx, const char *spec) {
  ct_device *dev = NULL;
  return ct_context_find_device(ctx, spec, &dev) == CT_OK ? ct_cuda_device_of(dev) : NULL;
}

/* A kernel launch as the JIT kernels make it (the fake driver accepts any
 * name of an ELF image), recorded under `op`. */
typedef struct launcher {
  ct_cuda_device *cd;
  CUmodule mod;
  CUfunction fn;
} launcher;

static void unload(launcher *l) {
  if (l->mod) l->cd->drv->cuModuleUnload(l->mod);
}

static CUresult launch(ct_cuda_device *cd, launcher *l, const char *op) {
  static const char image[] = "\x7f" "ELF: a cubin in name only";
  CUcontext prev;
  if (ct_cuda_enter(cd, &prev) != CT_OK) return CUDA_ERROR_UNKNOWN;
  CUresult r = CUDA_SUCCESS;
  if (!l->fn) {
    l->cd = cd;
    r = cd->drv->cuModuleLoadData(&l->mod, image);
    if (r == CUDA_SUCCESS) r = cd->drv->cuModuleGetFunction(&l->fn, l->mod, "k");
  }
  if (r == CUDA_SUCCESS) r = cd->drv->cuLaunchKernel(l->fn, 1, 1, 1, 32, 1, 1, 0, cd->stream, NULL, NULL);
  if (r == CUDA_SUCCESS) ct_cuda_note_enqueued(cd, op);
  ct_cuda_leave(cd, prev);
  return r;
}

static ct_tensor *on(ct_context *ctx, const char *spec) {
  float v[4] = {1, 2, 3, 4};
  int64_t shape[2] = {2, 2};
  ct_tensor *t = NULL;
  if (ct_device_scope_push(ctx, spec) != CT_OK) return NULL;
  if (ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, v, &t) != CT_OK) t = NULL;
  ct_device_scope_pop(ctx);
  return t;
}

static bool reason_is_failed(ct_context *ctx, const char *needle) {
  ct_physical_device_info u;
  for (int i = 0; i < ct_unusable_device_count(ctx); i++)
    if (ct_unusable_device_get(ctx, i, &u) == CT_OK && u.reason == CT_GPU_DEVICE_FAILED &&
        strstr(u.reason_detail, needle))
      return true;
  return false;
}

TEST(reason_has_a_stable_name) {
  CHECK_EQ_INT(CT_GPU_DEVICE_FAILED, 13);
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_DEVICE_FAILED), "DEVICE_FAILED");
}

/* After the fault: what every kind of later call does. */
static void check_after(ct_context *ctx, ct_tensor *cpu_a, const char *error_name) {
  /* Reported once: a later synchronisation has nothing more to say. */
  CHECK_OK(ct_context_synchronize(ctx));
  CHECK_OK(ct_context_synchronize(ctx));
  /* Physical GPU 0 is unusable with the reason; GPU 1 is not. */
  ct_physical_device_info p;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &p));
  CHECK(!p.usable);
  CHECK_EQ_INT(p.reason, CT_GPU_DEVICE_FAILED);
  CHECK(strstr(p.reason_detail, error_name) != NULL);
  CHECK(strstr(p.reason_detail, "/device:GPU:0") != NULL);
  CHECK(reason_is_failed(ctx, error_name));
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 1, &p));
  CHECK(p.usable);
  char detail[512];
  CHECK_EQ_INT(ct_gpu_availability(ctx, detail, sizeof detail), CT_GPU_USABLE);
  /* Ops placed on either logical device of GPU 0 fail at once. */
  ct_tensor *r = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:1"));
  CHECK_ERR(ct_matmul(ctx, cpu_a, cpu_a, false, false, &r), CT_UNAVAILABLE, "DEVICE_FAILED");
  CHECK(strstr(ct_last_error(), error_name) != NULL);
  CHECK(strstr(ct_last_error(), "MatMul") != NULL);
  float v[4] = {1, 2, 3, 4};
  int64_t shape[2] = {2, 2};
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, v, &r), CT_UNAVAILABLE, error_name);
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_ERR(ct_matmul(ctx, cpu_a, cpu_a, false, false, &r), CT_UNAVAILABLE, "DEVICE_FAILED");
  CHECK_OK(ct_device_scope_pop(ctx));
  /* Unscoped, the op goes to the GPU that works; the CPU works too. */
  CHECK_OK(ct_matmul(ctx, cpu_a, cpu_a, false, false, &r));
  if (r) CHECK(strstr(ct_tensor_device(r), "GPU:2") != NULL);
  float out[4] = {0};
  if (r) CHECK_OK(ct_tensor_to_host(r, out, sizeof out));
  CHECK(out[0] == 7 && out[3] == 22);
  ct_tensor_release(r);
  r = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK_OK(ct_matmul(ctx, cpu_a, cpu_a, false, false, &r));
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(r);
  CHECK_OK(ct_context_synchronize(ctx));
}

/* The fault queued by /GPU:0 is found by /GPU:1's copy to the host. */
static void fault_found_by_sibling_copy(const char *sticky, const char *error_name) {
  ct_context *ctx = make_ctx(sticky);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_cuda_device *g0 = cuda_dev(ctx, "GPU:0"), *g1 = cuda_dev(ctx, "GPU:1");
  ct_tensor *cpu_a = on(ctx, "/CPU:0"), *t1 = on(ctx, "/GPU:1");
  CHECK(cpu_a && t1);
  launcher l0 = {0}, l1 = {0};
  CHECK_EQ_INT(launch(g1, &l1, "AddV2"), CUDA_SUCCESS); /* launch 1: fine */
  CHECK_OK(ct_context_synchronize(ctx));
  CHECK_EQ_INT(launch(g0, &l0, "Relu"), CUDA_SUCCESS); /* launch 2: breaks the context, asynchronously */
  float out[4];
  CHECK_ERR(ct_tensor_to_host(t1, out, sizeof out), CT_INTERNAL, error_name);
  const char *msg = ct_last_error();
  CHECK(strncmp(msg, "/device:GPU:1: ", 15) == 0);           /* found by GPU:1 ... */
  CHECK(strstr(msg, "on /device:GPU:0: Relu") != NULL);      /* ... caused by GPU:0's Relu */
  CHECK(strstr(msg, "on /device:GPU:1:") == NULL);
  CHECK(strstr(msg, "until the process restarts") != NULL);
  if (!strstr(msg, "on /device:GPU:0: Relu")) fprintf(stderr, "  message: %s\n", msg);
  /* Later copies on the failed GPU: UNAVAILABLE with the reason. */
  CHECK_ERR(ct_tensor_to_host(t1, out, sizeof out), CT_UNAVAILABLE, "DEVICE_FAILED");
  check_after(ctx, cpu_a, error_name);
  ct_tensor_release(t1);
  ct_tensor_release(cpu_a);
  unload(&l0);
  unload(&l1);
  ct_context_free(ctx);
}

TEST(assert_is_attributed_to_the_device_that_queued_it) { fault_found_by_sibling_copy("710@2", "CUDA_ERROR_ASSERT"); }
TEST(ecc_uncorrectable_destroys_the_context) { fault_found_by_sibling_copy("214@2", "CUDA_ERROR_ECC_UNCORRECTABLE"); }
TEST(destroyed_context_destroys_the_context) {
  fault_found_by_sibling_copy("709@2", "CUDA_ERROR_CONTEXT_IS_DESTROYED");
}
TEST(illegal_address_too) { fault_found_by_sibling_copy("700@2", "CUDA_ERROR_ILLEGAL_ADDRESS"); }

/* The next launch returns the error at once: the op that queued it is not
 * the cause, the sibling's earlier kernel is. */
TEST(found_by_a_later_launch) {
  ct_context *ctx = make_ctx("710@1");
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_cuda_device *g0 = cuda_dev(ctx, "GPU:0"), *g1 = cuda_dev(ctx, "GPU:1");
  ct_tensor *cpu_a = on(ctx, "/CPU:0");
  launcher l0 = {0}, l1 = {0};
  CHECK_EQ_INT(launch(g0, &l0, "Softmax"), CUDA_SUCCESS);
  CUresult r = launch(g1, &l1, "AddV2");
  CHECK_EQ_INT(r, CUDA_ERROR_ASSERT);
  CHECK_ERR(ct_cuda_check(g1, r, "AddV2"), CT_INTERNAL, "on /device:GPU:0: Softmax");
  CHECK(strstr(ct_last_error(), "/device:GPU:1: AddV2 failed with CUDA_ERROR_ASSERT (710)") != NULL);
  check_after(ctx, cpu_a, "CUDA_ERROR_ASSERT");
  ct_tensor_release(cpu_a);
  unload(&l0);
  unload(&l1);
  ct_context_free(ctx);
}

/* An internal wait (before memory is reused) finds it: marked at once,
 * reported by the next ct_context_synchronize, once. */
TEST(found_by_an_internal_wait_reported_once) {
  ct_context *ctx = make_ctx("214@1");
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_cuda_device *g0 = cuda_dev(ctx, "GPU:0"), *g1 = cuda_dev(ctx, "GPU:1");
  ct_tensor *cpu_a = on(ctx, "/CPU:0");
  launcher l0 = {0};
  CHECK_EQ_INT(launch(g0, &l0, "MatMul"), CUDA_SUCCESS);
  ct_cuda_device_quiesce(g1);
  ct_tensor *r = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_ERR(ct_matmul(ctx, cpu_a, cpu_a, false, false, &r), CT_UNAVAILABLE, "CUDA_ERROR_ECC_UNCORRECTABLE");
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_ERR(ct_context_synchronize(ctx), CT_INTERNAL, "on /device:GPU:0: MatMul");
  check_after(ctx, cpu_a, "CUDA_ERROR_ECC_UNCORRECTABLE");
  ct_tensor_release(cpu_a);
  unload(&l0);
  ct_context_free(ctx);
}

/* Both logical devices wait at the same time: each builds nothing while
 * holding its own lock and reaching for the other's, so neither blocks,
 * and exactly one of them reports the fault. */
typedef struct waiter {
  ct_tensor *t;
  ct_status s;
  char msg[1024];
} waiter;

static void *wait_thread(void *arg) {
  waiter *w = arg;
  float out[4];
  w->s = ct_tensor_to_host(w->t, out, sizeof out);
  snprintf(w->msg, sizeof w->msg, "%s", w->s == CT_OK ? "" : ct_last_error());
  return NULL;
}

TEST(siblings_waiting_together_report_once) {
  for (int round = 0; round < 20; round++) {
    ct_context *ctx = make_ctx("710@2");
    CHECK(ctx != NULL);
    if (!ctx) return;
    ct_cuda_device *g0 = cuda_dev(ctx, "GPU:0"), *g1 = cuda_dev(ctx, "GPU:1");
    waiter w[2] = {{.t = on(ctx, "/GPU:0")}, {.t = on(ctx, "/GPU:1")}};
    launcher l0 = {0}, l1 = {0};
    CHECK_EQ_INT(launch(g1, &l1, "AddV2"), CUDA_SUCCESS);
    CHECK_EQ_INT(launch(g0, &l0, "Relu"), CUDA_SUCCESS);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, wait_thread, &w[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    int internal = 0, unavailable = 0;
    for (int i = 0; i < 2; i++) {
      internal += w[i].s == CT_INTERNAL;
      unavailable += w[i].s == CT_UNAVAILABLE;
      /* Both queued work: the report names both, each with its op. */
      if (w[i].s == CT_INTERNAL)
        CHECK(strstr(w[i].msg, "on /device:GPU:0: Relu") && strstr(w[i].msg, "on /device:GPU:1: AddV2"));
    }
    CHECK_EQ_INT(internal, 1);
    CHECK_EQ_INT(unavailable, 1);
    CHECK_OK(ct_context_synchronize(ctx));
    for (int i = 0; i < 2; i++) ct_tensor_release(w[i].t);
    unload(&l0);
    unload(&l1);
    ct_context_free(ctx);
  }
}

/* The fake driver destroys the broken primary context when the last user
 * releases it, as the real one does: a new ctensor context works again. */
TEST(a_new_context_works_again) {
  ct_context *ctx = make_ctx("0@0");
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_cuda_device *g0 = cuda_dev(ctx, "GPU:0");
  launcher l0 = {0};
  CHECK_EQ_INT(launch(g0, &l0, "Relu"), CUDA_SUCCESS);
  CHECK_OK(ct_context_synchronize(ctx));
  ct_physical_device_info p;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &p));
  CHECK(p.usable);
  unload(&l0);
  ct_context_free(ctx);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin);
  snprintf(cublas, sizeof cublas, "%s/fake_cublas/libcublas.so.13", bin);
  snprintf(cublaslt, sizeof cublaslt, "%s/fake_cublas/libcublasLt.so.13", bin);
  if (access(fake_lib, R_OK) != 0 || access(cublas, R_OK) != 0) {
    fprintf(stderr, "fake driver or cuBLAS not built\n");
    return 77;
  }
  RUN(reason_has_a_stable_name);
  RUN(assert_is_attributed_to_the_device_that_queued_it);
  RUN(ecc_uncorrectable_destroys_the_context);
  RUN(destroyed_context_destroys_the_context);
  RUN(illegal_address_too);
  RUN(found_by_a_later_launch);
  RUN(found_by_an_internal_wait_reported_once);
  RUN(siblings_waiting_together_report_once);
  RUN(a_new_context_works_again);
  TEST_MAIN_END();
}
