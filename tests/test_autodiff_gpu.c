/*
 * Gradients on a GPU through the fake CUDA driver and the fake cuBLAS
 * (no NVRTC: only copies and matmul run on the GPU). The forward matmul
 * runs on GPU:0, so its gradient ops are asked for on GPU:0 too; the sum
 * that folds the broadcast batch axis back has no GPU kernel there. Soft
 * placement runs it on the CPU and counts the fallback, strict placement
 * refuses it naming the forward op and its device -- as TensorFlow places
 * gradients. Exits 77 (skipped) when the fakes were not built.
 */
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#define CPU0 "/job:localhost/replica:0/task:0/device:CPU:0"
#define GPU0 "/job:localhost/replica:0/task:0/device:GPU:0"

TEST(matmul_gradient_placed_on_its_forward_gpu) {
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  float xv[24], wv[20];
  for (int i = 0; i < 24; i++) xv[i] = (float)(i % 7) - 3;
  for (int i = 0; i < 20; i++) wv[i] = (float)(i % 5) * 0.5f;
  int64_t xs[3] = {2, 3, 4}, ws[2] = {4, 5};
  ct_tensor *x = NULL, *w = NULL, *y = NULL, *loss = NULL, *g = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/GPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, xs, 3, xv, &x));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, ws, 2, wv, &w));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_EQ_STR(ct_tensor_device(w), GPU0);
  ct_tape *tape = NULL;
  CHECK_OK(ct_tape_new(ctx, true, true, &tape));
  CHECK_OK(ct_tape_watch(tape, w));
  CHECK_OK(ct_matmul(ctx, x, w, false, false, &y));
  CHECK_EQ_STR(ct_tensor_device(y), GPU0);
  CHECK_OK(ct_reduce_sum(ctx, y, NULL, 0, false, &loss)); /* no GPU kernel: the CPU */
  CHECK_EQ_STR(ct_tensor_device(loss), CPU0);
  CHECK_OK(ct_tape_stop_recording(tape));
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);

  /* strict: the batch sum of the matmul gradient cannot run on GPU:0 */
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  ct_gradient_source s = {w, NULL};
  g = (ct_tensor *)0x1;
  CHECK_ERR(ct_tape_gradient(tape, (const ct_tensor *const *)&loss, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, &g),
            CT_INVALID_ARGUMENT, "gradient of MatMul (its forward op ran on " GPU0 "): ");
  CHECK(strstr(ct_last_error(), "[Op:Sum] NO_KERNEL") != NULL);
  CHECK(g == (ct_tensor *)0x1);

  /* soft: the same gradient, with the sum counted as a fallback */
  CHECK_OK(ct_config_set_soft_placement(ctx, true));
  uint64_t gpu_before = 0, gpu_after = 0;
  CHECK_OK(ct_device_op_count(ctx, "GPU:0", &gpu_before));
  CHECK_OK(ct_tape_gradient(tape, (const ct_tensor *const *)&loss, 1, NULL, &s, 1, CT_UNCONNECTED_NONE, &g));
  CHECK_OK(ct_device_op_count(ctx, "GPU:0", &gpu_after));
  CHECK(gpu_after >= gpu_before + 1); /* w's gradient matmul ran on the GPU (x is no source: none for it) */
  bool sum_fell_back = false;
  for (int i = 0; i < ct_fallback_count(ctx); i++) {
    ct_fallback_record r;
    CHECK_OK(ct_fallback_get(ctx, i, &r));
    if (strcmp(r.op, "Sum") == 0 && r.reason == CT_FALLBACK_NO_KERNEL && strcmp(r.placed, CPU0) == 0)
      sum_fell_back = true;
  }
  CHECK(sum_fell_back);
  /* d sum(x w) / dw[k][n] = sum over batch and rows of x[..][k] */
  float got[20];
  CHECK(g != NULL && ct_tensor_num_elements(g) == 20);
  if (g) {
    CHECK_OK(ct_tensor_to_host(g, got, sizeof got));
    for (int k = 0; k < 4; k++) {
      float want = 0;
      for (int r = 0; r < 6; r++) want += xv[r * 4 + k];
      for (int n = 0; n < 5; n++) CHECK(got[k * 5 + n] == want);
    }
  }
  ct_tape_free(tape);
  ct_tensor *vals[] = {x, w, y, loss, g};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) ct_tensor_release(vals[i]);
  ct_context_free(ctx);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  char lib[1024], cublas[1024], cublaslt[1024];
  snprintf(lib, sizeof lib, "%s/fake_cuda/libcuda.so.1", bin ? bin : ".");
  snprintf(cublas, sizeof cublas, "%s/fake_cublas/libcublas.so.13", bin ? bin : ".");
  snprintf(cublaslt, sizeof cublaslt, "%s/fake_cublas/libcublasLt.so.13", bin ? bin : ".");
  if (access(lib, R_OK) != 0 || access(cublas, R_OK) != 0) {
    printf("SKIP: the fake CUDA driver or cuBLAS was not built (%s, %s)\n", lib, cublas);
    return 77;
  }
  setenv("CT_CUDA_DRIVER_PATH", lib, 1);
  setenv("CT_CUBLAS_PATH", cublas, 1);
  setenv("CT_CUBLASLT_PATH", cublaslt, 1);
  setenv("CT_NVRTC_PATH", "/nonexistent", 1);
  setenv("CT_FAKE_CUDA_DEVICES", "1", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  unsetenv("CUDA_VISIBLE_DEVICES");
  RUN(matmul_gradient_placed_on_its_forward_gpu);
  TEST_MAIN_END();
}
