/*
 * Regression tests for bugs found in review of the core and the CPU ops.
 * Each test names the failure it guards against.
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

#define CPU0 "/job:localhost/replica:0/task:0/device:CPU:0"

static ct_tensor *const SENTINEL = (ct_tensor *)(uintptr_t)0x5eed;

static ct_tensor *zeros(ct_context *ctx, int64_t d0, int64_t d1, int64_t d2, int rank) {
  int64_t shape[3] = {d0, d1, d2};
  ct_tensor *t = NULL;
  CHECK_OK(ct_zeros(ctx, CT_FLOAT32, shape, rank, &t));
  return t;
}

/* The context must still run ops after a failure. */
static void check_usable(ct_context *ctx) {
  float one = 1, back = 0;
  int64_t shape[1] = {1};
  ct_tensor *a = NULL, *b = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, &one, &a));
  CHECK_OK(ct_add(ctx, a, a, &b));
  if (b) CHECK_OK(ct_tensor_to_host(b, &back, sizeof back));
  CHECK(back == 2.0f);
  ct_tensor_release(a);
  ct_tensor_release(b);
}

/* matmul of [m,0] and [0,n] made an [m,n] output whose element count
 * wrapped around int64: [2^56,0] x [0,256] gave a tensor of shape
 * [72057594037927936,256] with numel 0, and later ops indexed it out of
 * bounds. */
TEST(matmul_output_shape_cannot_overflow) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_tensor *a = zeros(ctx, (int64_t)1 << 56, 0, 0, 2), *b = zeros(ctx, 0, 256, 0, 2);
  ct_tensor *c = SENTINEL;
  CHECK_ERR(ct_matmul(ctx, a, b, false, false, &c), CT_INVALID_ARGUMENT,
            "shape [72057594037927936,256] has too many elements");
  CHECK(c == SENTINEL);
  CHECK(strstr(ct_last_error(), "matmul on " CPU0) != NULL);
  ct_tensor_release(a);
  ct_tensor_release(b);
  a = zeros(ctx, (int64_t)1 << 33, 0, 0, 2);
  b = zeros(ctx, 0, (int64_t)1 << 33, 0, 2);
  CHECK_ERR(ct_matmul(ctx, a, b, false, false, &c), CT_INVALID_ARGUMENT, "[8589934592,8589934592] has too many");
  CHECK(c == SENTINEL);
  ct_tensor_release(a);
  ct_tensor_release(b);
  /* Within the limit, an empty contraction is a zero matrix. */
  a = zeros(ctx, 2, 0, 0, 2);
  b = zeros(ctx, 0, 3, 0, 2);
  c = NULL;
  CHECK_OK(ct_matmul(ctx, a, b, false, false, &c));
  if (c) {
    float v[6] = {1, 1, 1, 1, 1, 1};
    CHECK_OK(ct_tensor_to_host(c, v, sizeof v));
    for (int i = 0; i < 6; i++) CHECK(v[i] == 0.0f);
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  check_usable(ctx);
  ct_context_free(ctx);
}

/* Broadcasting two empty tensors multiplied out-of-range dims into a
 * signed overflow (undefined behaviour) before reaching the 0. */
TEST(broadcast_output_shape_cannot_overflow) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_tensor *a = zeros(ctx, (int64_t)1 << 40, 1, 0, 3), *b = zeros(ctx, 1, (int64_t)1 << 40, 0, 3);
  ct_tensor *c = SENTINEL;
  CHECK_ERR(ct_add(ctx, a, b, &c), CT_INVALID_ARGUMENT, "add on " CPU0 ": shape [1099511627776,1099511627776,0] has too many");
  CHECK(c == SENTINEL);
  ct_tensor_release(a);
  ct_tensor_release(b);
  /* [2^28,2^28,0] is within the limit: an empty result. */
  a = zeros(ctx, (int64_t)1 << 28, 1, 0, 3);
  b = zeros(ctx, 1, (int64_t)1 << 28, 0, 3);
  c = NULL;
  CHECK_OK(ct_mul(ctx, a, b, &c));
  if (c) {
    CHECK_EQ_INT(ct_tensor_num_elements(c), 0);
    CHECK_EQ_INT(ct_tensor_dim(c, 1), (int64_t)1 << 28);
  }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  check_usable(ctx);
  ct_context_free(ctx);
}

/* concat adds up dims: four [2^55,0] along axis 0 are [2^57,0], beyond
 * what ct_shape_check lets any tensor have. */
TEST(concat_output_shape_is_checked) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_tensor *x = zeros(ctx, (int64_t)1 << 55, 0, 0, 2);
  const ct_tensor *xs[4] = {x, x, x, x};
  ct_tensor *c = SENTINEL;
  CHECK_ERR(ct_concat(ctx, xs, 4, 0, &c), CT_INVALID_ARGUMENT, "[144115188075855872,0] has too many elements");
  CHECK(c == SENTINEL);
  c = NULL;
  CHECK_OK(ct_concat(ctx, xs, 2, 0, &c));
  if (c) CHECK_EQ_INT(ct_tensor_dim(c, 0), (int64_t)1 << 56);
  ct_tensor_release(c);
  ct_tensor_release(x);
  ct_context_free(ctx);
}

/* ---- per-thread state lifetime ------------------------------------------ */

static ct_context *shared_ctx;
static pthread_barrier_t barrier;

/* Worker threads report through these (the CHECK counters are not
 * thread-safe); the main thread checks them after pthread_join. */
static ct_status worker_status[4];
static char worker_scope[64];
static ct_device_policy worker_policy;

static void *push_scope_then_exit(void *arg) {
  (void)arg;
  worker_status[0] = ct_device_scope_push(shared_ctx, "/CPU:0");
  pthread_barrier_wait(&barrier);
  return NULL; /* exits while the main thread frees the context */
}

/* A thread exiting while another thread destroyed the context it had used:
 * its state's destructor locked the context's mutex and unlinked its node
 * from a list that context_destroy was freeing at the same moment (a data
 * race, a double free or a use after free, depending on timing; found by
 * ThreadSanitizer). Run many times so that ASan sees a bad interleaving. */
TEST(thread_exit_racing_context_destruction) {
  CHECK_EQ_INT(pthread_barrier_init(&barrier, NULL, 2), 0);
  for (int i = 0; i < 200; i++) {
    CHECK_OK(ct_context_new(&shared_ctx));
    CHECK_OK(ct_context_initialize(shared_ctx));
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, push_scope_then_exit, NULL), 0);
    pthread_barrier_wait(&barrier);
    for (volatile int k = 0, n = (i * 7919) % 20000; k < n; k++) {
    }
    ct_context_free(shared_ctx);
    pthread_join(th, NULL);
    CHECK_EQ_INT(worker_status[0], CT_OK);
  }
  pthread_barrier_destroy(&barrier);
}

static void *use_then_wait(void *arg) {
  (void)arg;
  worker_status[0] = ct_device_scope_push(shared_ctx, "/CPU:0");
  worker_status[1] = ct_config_set_device_policy(shared_ctx, CT_POLICY_EXPLICIT);
  pthread_barrier_wait(&barrier); /* main destroys shared_ctx ... */
  pthread_barrier_wait(&barrier); /* ... and makes a new one, likely at the same address */
  snprintf(worker_scope, sizeof worker_scope, "unchanged");
  worker_status[2] = ct_device_scope_current(shared_ctx, worker_scope, sizeof worker_scope);
  worker_policy = ct_config_get_device_policy(shared_ctx);
  return NULL;
}

/* A thread that outlives a context must not carry that context's scopes
 * and policy into a new context allocated at the same address, and its
 * old state must be freed (LeakSanitizer checks) once the thread exits. */
TEST(thread_state_does_not_outlive_its_context) {
  CHECK_EQ_INT(pthread_barrier_init(&barrier, NULL, 2), 0);
  CHECK_OK(ct_context_new(&shared_ctx));
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, use_then_wait, NULL), 0);
  pthread_barrier_wait(&barrier);
  ct_context *old = shared_ctx;
  ct_context_free(old);
  CHECK_OK(ct_context_new(&shared_ctx));
  pthread_barrier_wait(&barrier);
  pthread_join(th, NULL);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(worker_status[i], CT_OK);
  CHECK_EQ_STR(worker_scope, "");
  CHECK_EQ_INT(worker_policy, CT_POLICY_SILENT);
  check_usable(shared_ctx);
  ct_context_free(shared_ctx);
  pthread_barrier_destroy(&barrier);
}

static ct_tensor *handed_over;

static void *make_tensor_then_exit(void *arg) {
  (void)arg;
  int64_t shape[1] = {1000};
  handed_over = NULL;
  worker_status[0] = ct_device_scope_push(shared_ctx, "/CPU:0");
  worker_status[1] = ct_ones(shared_ctx, CT_FLOAT32, shape, 1, &handed_over);
  return NULL;
}

/* Many short-lived threads on one long-lived context: the state of each
 * exited thread is freed instead of piling up until the context goes. A
 * thread that made a tensor may exit before and after ct_context_free. */
TEST(short_lived_threads_do_not_accumulate_state) {
  CHECK_OK(ct_context_new(&shared_ctx));
  for (int i = 0; i < 50; i++) {
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, make_tensor_then_exit, NULL), 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(worker_status[0], CT_OK);
    CHECK_EQ_INT(worker_status[1], CT_OK);
    ct_tensor_release(handed_over);
  }
  /* Creating this thread's state frees the exited threads' ones. */
  CHECK_OK(ct_device_scope_push(shared_ctx, "/CPU:0"));
  CHECK_OK(ct_device_scope_pop(shared_ctx));
  CHECK_EQ_INT(ct_thread_state_count(shared_ctx), 1);
  /* The tensor made on a thread keeps the context alive after
   * ct_context_free, and the thread exits in between. */
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, make_tensor_then_exit, NULL), 0);
  pthread_join(th, NULL);
  CHECK(handed_over != NULL);
  ct_context_free(shared_ctx);
  if (handed_over == NULL) return;
  float v[1000];
  CHECK_OK(ct_tensor_to_host(handed_over, v, sizeof v));
  CHECK(v[999] == 1.0f);
  ct_tensor *copy = NULL;
  CHECK_OK(ct_tensor_copy_to(handed_over, "/CPU:0", &copy));
  CHECK(copy == handed_over);
  ct_tensor_release(copy);
  ct_tensor_release(handed_over);
}

/* ---- contexts ------------------------------------------------------------ */

/* A tensor of one context given to an op of another was silently read
 * through the other context's devices (and, for GPU tensors, copied with
 * the wrong context's streams). */
TEST(inputs_from_another_context_are_rejected) {
  ct_context *c1, *c2;
  CHECK_OK(ct_context_new(&c1));
  CHECK_OK(ct_context_new(&c2));
  int64_t shape[1] = {3};
  ct_tensor *a = NULL, *b = NULL, *out = SENTINEL;
  CHECK_OK(ct_ones(c1, CT_FLOAT32, shape, 1, &a));
  CHECK_OK(ct_ones(c2, CT_FLOAT32, shape, 1, &b));
  CHECK_ERR(ct_add(c1, a, b, &out), CT_INVALID_ARGUMENT, "add: input #1 (on " CPU0 ") belongs to another context");
  CHECK(out == SENTINEL);
  CHECK_ERR(ct_neg(c1, b, &out), CT_INVALID_ARGUMENT, "neg: input #0");
  CHECK(out == SENTINEL);
  check_usable(c1);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_context_free(c1);
  ct_context_free(c2);
}

TEST(logical_device_index_message) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_logical_device_info info;
  CHECK_ERR(ct_logical_device_get(ctx, NULL, 5, &info), CT_OUT_OF_RANGE, "index 5 out of range: 1 logical device");
  CHECK_ERR(ct_logical_device_get(ctx, "CPU", 5, &info), CT_OUT_OF_RANGE, "index 5 out of range: 1 CPU logical device");
  ct_context_free(ctx);
}

/* A GPU memory limit in MB is kept in bytes: 2^44 MB and more wrapped
 * around (2^44 << 20 == 2^64 == 0, "no limit"). Needs the fake driver. */
TEST(gpu_memory_limit_cannot_wrap) {
  const char *bin = getenv("CT_BINARY_DIR");
  char lib[1024];
  snprintf(lib, sizeof lib, "%s/fake_cuda/libcuda.so.1", bin ? bin : ".");
  if (access(lib, R_OK) != 0) {
    printf("skipped: no fake CUDA driver at %s\n", lib);
    return;
  }
  setenv("CT_CUDA_DRIVER_PATH", lib, 1);
  setenv("CT_CUBLAS_PATH", "/nonexistent", 1);
  setenv("CT_CUBLASLT_PATH", "/nonexistent", 1);
  setenv("CT_NVRTC_PATH", "/nonexistent", 1);
  setenv("CT_FAKE_CUDA_DEVICES", "1", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_logical_device_config cfg[1] = {{(int64_t)1 << 44, 0, false}};
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", cfg, 1), CT_INVALID_ARGUMENT,
            "configuration 0 of /physical_device:GPU:0 has memory_limit_mb = 17592186044416");
  int n = -1;
  CHECK_OK(ct_config_get_logical_devices(ctx, "/physical_device:GPU:0", NULL, 0, &n));
  CHECK_EQ_INT(n, 0);
  cfg[0].memory_limit_mb = 32;
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", cfg, 1));
  ct_context_free(ctx);
  unsetenv("CT_CUDA_DRIVER_PATH");
  unsetenv("CT_FAKE_CUDA_DEVICES");
  unsetenv("CT_FAKE_CUDA_MEMORY_MB");
}

TEST(copy_to_works_at_full_scope_depth) {
  ct_context *c;
  CHECK_OK(ct_context_new(&c));
  int64_t shape[1] = {2};
  float v[2] = {1, 2};
  ct_tensor *t = NULL, *u = NULL;
  CHECK_OK(ct_tensor_from_host(c, CT_FLOAT32, shape, 1, v, &t));
  int pushed = 0;
  while (ct_device_scope_push(c, "/device:CPU:0") == CT_OK) pushed++;
  CHECK(pushed > 0);
  /* copying needs no level of the caller's scope stack */
  CHECK_OK(ct_tensor_copy_to(t, "/device:CPU:0", &u));
  CHECK(u == t);
  ct_tensor_release(u);
  while (pushed-- > 0) CHECK_OK(ct_device_scope_pop(c));
  ct_tensor_release(t);
  ct_context_free(c);
}

TEST(bool_tensors_hold_zero_or_one) {
  ct_context *c;
  CHECK_OK(ct_context_new(&c));
  int64_t shape[1] = {4};
  unsigned char bytes[4] = {0, 1, 2, 255}, back[4] = {9, 9, 9, 9};
  ct_tensor *t = NULL, *eq = NULL;
  CHECK_OK(ct_tensor_from_host(c, CT_BOOL, shape, 1, bytes, &t));
  CHECK_OK(ct_tensor_to_host(t, back, sizeof back));
  CHECK(back[0] == 0 && back[1] == 1 && back[2] == 1 && back[3] == 1);
  /* so that 2 and 255 compare equal to true */
  CHECK_OK(ct_equal(c, t, t, &eq));
  ct_tensor_release(eq);
  ct_tensor_release(t);
  ct_context_free(c);
}

int main(void) {
  RUN(matmul_output_shape_cannot_overflow);
  RUN(broadcast_output_shape_cannot_overflow);
  RUN(concat_output_shape_is_checked);
  RUN(thread_exit_racing_context_destruction);
  RUN(thread_state_does_not_outlive_its_context);
  RUN(short_lived_threads_do_not_accumulate_state);
  RUN(inputs_from_another_context_are_rejected);
  RUN(logical_device_index_message);
  RUN(gpu_memory_limit_cannot_wrap);
  RUN(copy_to_works_at_full_scope_depth);
  RUN(bool_tensors_hold_zero_or_one);
  TEST_MAIN_END();
}
