/*
 * NVRTC and cuBLAS count as usable only once they have been opened and
 * tried (issue 16, item 7). A library that is found but cannot be opened
 * (here: a file that exists and is not a shared library, as a wheel built
 * for a newer glibc or a damaged file looks to dlopen) or that opens but
 * does not work (the fake NVRTC's CT_FAKE_NVRTC_NO_BUILTINS=1: compiling
 * fails as without libnvrtc-builtins) prunes its GPU kernels like a
 * missing one: ops fall back softly, the GPU's reason is NO_NVRTC /
 * NO_CUBLAS with the dlopen error, and listing devices opens neither.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

static char driver[1024], nvrtc[1024], cublas[1024], cublaslt[1024], bogus_nvrtc[1100], bogus_cublas[1100];

static ct_context *fresh(const char *nvrtc_path, const char *cublas_path) {
  static const char *const vars[] = {"CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB", "CT_FAKE_CUDA_LAUNCH_FAULT",
                                     "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_CC", "CT_FAKE_CUDA_COMPUTE_MODE",
                                     "CT_FAKE_CUDA_CTX_ERROR", "CT_FAKE_NVRTC_NO_BUILTINS"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", driver, 1);
  setenv("CT_FAKE_CUDA_DEVICES", "1", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  setenv("CT_NVRTC_PATH", nvrtc_path, 1);
  setenv("CT_CUBLAS_PATH", cublas_path, 1);
  setenv("CT_CUBLASLT_PATH", cublaslt, 1);
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) return NULL;
  return ctx;
}

static ct_tensor *vec(ct_context *ctx, const char *spec, float a, float b) {
  float v[2] = {a, b};
  int64_t shape[1] = {2};
  ct_tensor *t = NULL;
  if (spec) ct_device_scope_push(ctx, spec);
  ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, v, &t);
  if (spec) ct_device_scope_pop(ctx);
  return t;
}

static bool gpu_reason(ct_context *ctx, ct_gpu_reason want, const char *needle) {
  ct_physical_device_info g;
  if (ct_physical_device_get(ctx, "GPU", 0, &g) != CT_OK) return false;
  if (g.reason != want || !g.usable) {
    fprintf(stderr, "  GPU reason %s: %s\n", ct_gpu_reason_name(g.reason), g.reason_detail);
    return false;
  }
  if (needle && !strstr(g.reason_detail, needle)) {
    fprintf(stderr, "  detail lacks '%s': %s\n", needle, g.reason_detail);
    return false;
  }
  return true;
}

/* An add where `spec` asks (NULL: unscoped): right values, and where it ran. */
static bool add_runs_on(ct_context *ctx, const char *spec, const char *where) {
  ct_tensor *a = vec(ctx, spec, 1, 2), *b = vec(ctx, spec, 3, 4), *c = NULL;
  if (spec) ct_device_scope_push(ctx, spec);
  ct_status s = a && b ? ct_add(ctx, a, b, &c) : CT_INTERNAL;
  if (spec) ct_device_scope_pop(ctx);
  float r[2] = {0, 0};
  bool ok = s == CT_OK && ct_tensor_to_host(c, r, sizeof r) == CT_OK && r[0] == 4 && r[1] == 6 &&
            strstr(ct_tensor_device(c), where) != NULL;
  if (!ok) fprintf(stderr, "  add on %s: %s (%s)\n", spec ? spec : "(unscoped)", c ? ct_tensor_device(c) : "-",
                   s == CT_OK ? "ok" : ct_last_error());
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  return ok;
}

static bool matmul_runs_on(ct_context *ctx, const char *spec, const char *where) {
  float v[4] = {1, 2, 3, 4}, r[4];
  int64_t shape[2] = {2, 2};
  ct_tensor *a = NULL, *c = NULL;
  if (spec) ct_device_scope_push(ctx, spec);
  ct_status s = ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, v, &a);
  if (s == CT_OK) s = ct_matmul(ctx, a, a, false, false, &c);
  if (spec) ct_device_scope_pop(ctx);
  bool ok = s == CT_OK && ct_tensor_to_host(c, r, sizeof r) == CT_OK && r[0] == 7 && r[3] == 22 &&
            strstr(ct_tensor_device(c), where) != NULL;
  if (!ok) fprintf(stderr, "  matmul on %s: %s (%s)\n", spec ? spec : "(unscoped)", c ? ct_tensor_device(c) : "-",
                   s == CT_OK ? "ok" : ct_last_error());
  ct_tensor_release(a);
  ct_tensor_release(c);
  return ok;
}

/* Listing and initialising open neither library: they are opened when an
 * op first needs them. */
TEST(listing_opens_nothing) {
  ct_context *ctx = fresh(bogus_nvrtc, bogus_cublas);
  CHECK(ctx != NULL);
  if (!ctx) return;
  CHECK_OK(ct_context_initialize(ctx));
  CHECK(gpu_reason(ctx, CT_GPU_USABLE, NULL)); /* found: not known to be broken yet */
  for (int i = 0; i < ct_gpu_library_count(ctx); i++) {
    ct_gpu_library_info L;
    CHECK_OK(ct_gpu_library_get(ctx, i, &L));
    if (strcmp(L.name, "driver") != 0) CHECK(!L.loaded);
  }
  ct_context_free(ctx);
}

/* NVRTC exists but dlopen refuses it: JIT ops fall back, matmul stays. */
TEST(unopenable_nvrtc_falls_back) {
  ct_context *ctx = fresh(bogus_nvrtc, cublas);
  CHECK(ctx != NULL);
  if (!ctx) return;
  CHECK(add_runs_on(ctx, NULL, "CPU:0"));    /* unscoped: the CPU */
  CHECK(gpu_reason(ctx, CT_GPU_NO_NVRTC, "only copies and matmul"));
  CHECK(gpu_reason(ctx, CT_GPU_NO_NVRTC, bogus_nvrtc)); /* dlopen's error names the file */
  CHECK(add_runs_on(ctx, "/GPU:0", "CPU:0")); /* scoped: a counted soft fallback */
  ct_fallback_record f;
  bool counted = false;
  for (int i = 0; i < ct_fallback_count(ctx); i++)
    if (ct_fallback_get(ctx, i, &f) == CT_OK && strcmp(f.op, "AddV2") == 0 && f.reason == CT_FALLBACK_NO_KERNEL)
      counted = true;
  CHECK(counted);
  CHECK(matmul_runs_on(ctx, "/GPU:0", "GPU:0")); /* cuBLAS works */
  /* Strict placement refuses, naming the library. */
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  ct_tensor *a = vec(ctx, "/CPU:0", 1, 2), *c = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_ERR(ct_add(ctx, a, a, &c), CT_INVALID_ARGUMENT, "NVRTC found but unusable");
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(a);
  ct_tensor_release(c);
  ct_context_free(ctx);
}

/* NVRTC opens but cannot compile (no libnvrtc-builtins). */
TEST(nvrtc_without_builtins_falls_back) {
  ct_context *ctx = fresh(nvrtc, cublas);
  CHECK(ctx != NULL);
  if (!ctx) return;
  setenv("CT_FAKE_NVRTC_NO_BUILTINS", "1", 1);
  setenv("CT_KERNEL_CACHE", "0", 1); /* the probe must really compile */
  CHECK(add_runs_on(ctx, "/GPU:0", "CPU:0"));
  CHECK(gpu_reason(ctx, CT_GPU_NO_NVRTC, "libnvrtc-builtins"));
  unsetenv("CT_FAKE_NVRTC_NO_BUILTINS");
  unsetenv("CT_KERNEL_CACHE");
  ct_context_free(ctx);
}

/* cuBLAS exists but dlopen refuses it: matmul falls back, the rest stays. */
TEST(unopenable_cublas_falls_back) {
  ct_context *ctx = fresh(nvrtc, bogus_cublas);
  CHECK(ctx != NULL);
  if (!ctx) return;
  setenv("CT_CUBLASLT_PATH", bogus_cublas, 1);
  CHECK(matmul_runs_on(ctx, NULL, "CPU:0"));
  CHECK(matmul_runs_on(ctx, "/GPU:0", "CPU:0"));
  CHECK(gpu_reason(ctx, CT_GPU_NO_CUBLAS, "matmul cannot run"));
  CHECK(add_runs_on(ctx, "/GPU:0", "GPU:0")); /* NVRTC works */
  CHECK(gpu_reason(ctx, CT_GPU_NO_CUBLAS, bogus_cublas));
  ct_context_free(ctx);
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
  /* Libraries that exist as regular files (absolute paths) but are not
   * shared libraries. */
  char dir[] = "/tmp/ct_libcheck_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(bogus_nvrtc, sizeof bogus_nvrtc, "%s/libnvrtc.so.13", dir);
  snprintf(bogus_cublas, sizeof bogus_cublas, "%s/libcublas.so.13", dir);
  const char *files[] = {bogus_nvrtc, bogus_cublas};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "w");
    if (!f) return 1;
    fputs("not a shared library: as dlopen sees a damaged file or one built for a newer glibc\n", f);
    fclose(f);
  }
  RUN(listing_opens_nothing);
  RUN(unopenable_nvrtc_falls_back);
  RUN(nvrtc_without_builtins_falls_back);
  RUN(unopenable_cublas_falls_back);
  for (int i = 0; i < 2; i++) unlink(files[i]);
  rmdir(dir);
  TEST_MAIN_END();
}
