/*
 * Host-to-device copies have read their source when the call returns
 * (issue 16, item 3). The fake driver's CT_FAKE_CUDA_ASYNC_COPY=1 makes a
 * copy read its source only when the stream reaches it, as a copy from
 * pinned memory does on a GPU: a caller that returned early would read
 * the overwritten (or, under AddressSanitizer, freed) source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

static char fake_lib[1024];

static ct_context *gpu_ctx(void) {
  static const char *const vars[] = {"CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",
                                     "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_CTX_ERROR", "CT_FAKE_CUDA_COMPUTE_MODE"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  setenv("CT_FAKE_CUDA_ASYNC_COPY", "1", 1);
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK || ct_context_initialize(ctx) != CT_OK || ct_logical_device_count(ctx, "GPU") < 1) {
    ct_context_free(ctx);
    return NULL;
  }
  return ctx;
}

TEST(from_host_reads_the_source_before_returning) {
  ct_context *ctx = gpu_ctx();
  CHECK(ctx != NULL);
  if (!ctx) return;
  enum { N = 1000 };
  float *src = malloc(N * sizeof *src), back[N];
  for (int i = 0; i < N; i++) src[i] = (float)i;
  int64_t shape[1] = {N};
  ct_tensor *t = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, src, &t));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK(t && strstr(ct_tensor_device(t), "GPU:0") != NULL);
  memset(src, 0xff, N * sizeof *src); /* the caller reuses its buffer ... */
  free(src);                          /* ... or frees it */
  CHECK_OK(ct_tensor_to_host(t, back, sizeof back));
  int bad = 0;
  for (int i = 0; i < N; i++) bad += back[i] != (float)i;
  CHECK_EQ_INT(bad, 0);
  ct_tensor_release(t);
  ct_context_free(ctx);
}

/* An input moved from the CPU to the GPU, its CPU tensor released at once. */
TEST(input_moves_read_the_source_before_returning) {
  ct_context *ctx = gpu_ctx();
  CHECK(ctx != NULL);
  if (!ctx) return;
  enum { N = 512 };
  double v[N], back[N];
  for (int i = 0; i < N; i++) v[i] = 0.5 * i;
  int64_t shape[1] = {N};
  ct_tensor *cpu = NULL, *gpu = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, shape, 1, v, &cpu));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_tensor_copy_to(cpu, "/GPU:0", &gpu));
  ct_tensor_release(cpu); /* its host memory goes back now */
  /* Something else takes that memory and writes to it. */
  double *other = malloc(N * sizeof *other);
  for (int i = 0; i < N; i++) other[i] = -1;
  CHECK_OK(ct_tensor_to_host(gpu, back, sizeof back));
  free(other);
  int bad = 0;
  for (int i = 0; i < N; i++) bad += back[i] != 0.5 * i;
  CHECK_EQ_INT(bad, 0);
  ct_tensor_release(gpu);
  ct_context_free(ctx);
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
  RUN(from_host_reads_the_source_before_returning);
  RUN(input_moves_read_the_source_before_returning);
  TEST_MAIN_END();
}
