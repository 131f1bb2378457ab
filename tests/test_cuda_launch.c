/*
 * What the GPU ops hand to cuLaunchKernel, checked without a GPU: the fake
 * driver (tests/fake_cuda) runs with a compute capability newer than
 * anything NVRTC knows, so ctensor compiles real kernels to PTX, and the
 * fake parses the PTX of each module. cuModuleGetFunction then fails for a
 * kernel name the source does not define, and cuLaunchKernel reads every
 * parameter with the size the kernel declares (under AddressSanitizer a
 * host argument of the wrong width is an overflow), requires every pointer
 * parameter to lie in a live allocation, enforces the real grid and block
 * limits, and records the last launch, which the tests below decode.
 *
 * Kernels do not run, so values are not checked here (bench/gpu/gpu_check
 * does that on a GPU). Needs NVRTC: exits 77 (skipped) without it.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/cuda_device.h"
#include "cuda/jit.h"
#include "testutil.h"

#define FAKE_MAX_PARAMS 32
typedef struct ct_fake_cuda_launch { /* tests/fake_cuda/fake_libcuda.c */
  long count, rejected;
  char name[96];
  unsigned grid[3], block[3], shared;
  int n_params;
  unsigned size[FAKE_MAX_PARAMS];
  unsigned offset[FAKE_MAX_PARAMS];
  unsigned char bytes[4096];
  char last_error[160];
} ct_fake_cuda_launch;

static char fake_lib[1024];
static char cache_dir[256];
static ct_context *ctx;

static void last_launch(ct_fake_cuda_launch *out) {
  memset(out, 0, sizeof *out);
  void *h = dlopen(fake_lib, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return;
  void (*fn)(ct_fake_cuda_launch *) = (void (*)(ct_fake_cuda_launch *))dlsym(h, "ct_fake_cuda_get_last_launch");
  if (fn) fn(out);
  dlclose(h);
}

static int64_t p_i64(const ct_fake_cuda_launch *l, int i) {
  int64_t v = 0;
  if (i < l->n_params && l->size[i] == 8) memcpy(&v, l->bytes + l->offset[i], 8);
  return v;
}
static int32_t p_i32(const ct_fake_cuda_launch *l, int i) {
  int32_t v = 0;
  if (i < l->n_params && l->size[i] == 4) memcpy(&v, l->bytes + l->offset[i], 4);
  return v;
}
static double p_f64(const ct_fake_cuda_launch *l, int i) {
  double v = 0;
  if (i < l->n_params && l->size[i] == 8) memcpy(&v, l->bytes + l->offset[i], 8);
  return v;
}
/* 64-bit field k of a struct parameter that starts with two ints. */
static int64_t p_field(const ct_fake_cuda_launch *l, int i, int k) {
  int64_t v = 0;
  if (i < l->n_params && (unsigned)(8 + 8 * k + 8) <= l->size[i]) memcpy(&v, l->bytes + l->offset[i] + 8 + 8 * k, 8);
  return v;
}
static int p_int_field(const ct_fake_cuda_launch *l, int i, int k) {
  int v = 0;
  if (i < l->n_params && l->size[i] >= 8) memcpy(&v, l->bytes + l->offset[i] + 4 * k, 4);
  return v;
}

static ct_tensor *gpu_tensor(ct_dtype dt, const int64_t *shape, int rank) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  void *buf = calloc((size_t)(n > 0 ? n : 1), 8);
  ct_tensor *t = NULL;
  if (ct_device_scope_push(ctx, "/GPU:0") == CT_OK) {
    if (ct_tensor_from_host(ctx, dt, shape, rank, buf, &t) != CT_OK) t = NULL;
    ct_device_scope_pop(ctx);
  }
  free(buf);
  return t;
}

static bool on_gpu(const ct_tensor *t) { return t && strstr(ct_tensor_device(t), "GPU:0") != NULL; }

/* Every launch of the test must have been accepted. */
static void no_rejections(void) {
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_INT(l.rejected, 0);
  if (l.rejected) fprintf(stderr, "  last rejected launch: %s\n", l.last_error);
}

#define GPU(call)                                  \
  do {                                             \
    CHECK_OK(ct_device_scope_push(ctx, "/GPU:0")); \
    CHECK_OK(call);                                \
    ct_device_scope_pop(ctx);                      \
  } while (0)

TEST(binary_same_shape_and_broadcast) {
  int64_t s[1] = {1000};
  ct_tensor *a = gpu_tensor(CT_FLOAT32, s, 1), *b = gpu_tensor(CT_FLOAT32, s, 1), *c = NULL;
  CHECK(on_gpu(a) && on_gpu(b));
  GPU(ct_add(ctx, a, b, &c));
  CHECK(on_gpu(c));
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_add_f32");
  CHECK_EQ_INT(l.n_params, 5);
  CHECK_EQ_INT(p_i64(&l, 3), 1000);
  CHECK_EQ_INT(l.size[4], 200); /* Bcast: 2 ints + 3 x 8 int64 */
  CHECK_EQ_INT(p_int_field(&l, 4, 0), 0); /* same shapes: the vector path */
  CHECK_EQ_INT(l.block[0], 256);
  ct_tensor_release(c);
  ct_tensor_release(a), ct_tensor_release(b);

  int64_t sa[2] = {3, 1}, sb[2] = {1, 4};
  a = gpu_tensor(CT_INT64, sa, 2), b = gpu_tensor(CT_INT64, sb, 2);
  GPU(ct_less(ctx, a, b, &c));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_less_i64");
  CHECK_EQ_INT(p_i64(&l, 3), 12);
  CHECK_EQ_INT(p_int_field(&l, 4, 0), 2);
  /* dims, then a's strides, then b's */
  CHECK_EQ_INT(p_field(&l, 4, 0), 3);
  CHECK_EQ_INT(p_field(&l, 4, 1), 4);
  CHECK_EQ_INT(p_field(&l, 4, 8), 1);
  CHECK_EQ_INT(p_field(&l, 4, 9), 0);
  CHECK_EQ_INT(p_field(&l, 4, 16), 0);
  CHECK_EQ_INT(p_field(&l, 4, 17), 1);
  ct_tensor_release(c);
  GPU(ct_div(ctx, a, b, &c)); /* integer true division: float64 out */
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_div_i64");
  CHECK(c && ct_tensor_dtype(c) == CT_FLOAT64);
  ct_tensor_release(c);
  ct_tensor_release(a), ct_tensor_release(b);
  no_rejections();
}

TEST(unary_and_cast) {
  int64_t s[2] = {7, 9};
  ct_tensor *x = gpu_tensor(CT_FLOAT16, s, 2), *y = NULL;
  GPU(ct_exp(ctx, x, &y));
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_exp_f16");
  CHECK_EQ_INT(l.n_params, 3);
  CHECK_EQ_INT(p_i64(&l, 2), 63);
  ct_tensor_release(y);
  GPU(ct_cast(ctx, x, CT_BFLOAT16, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_cast_f16_bf16");
  CHECK_EQ_INT(p_i64(&l, 2), 63);
  ct_tensor_release(y);
  GPU(ct_cast(ctx, x, CT_BOOL, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_cast_f16_b8");
  ct_tensor_release(y);
  ct_tensor_release(x);
  no_rejections();
}

TEST(fill_range_random) {
  int64_t s[1] = {10};
  ct_tensor *t = NULL;
  GPU(ct_fill(ctx, CT_INT64, s, 1, -2.75, &t));
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_fill_u64");
  CHECK_EQ_INT(p_i64(&l, 1), 10);
  CHECK_EQ_INT(p_i64(&l, 2), -2); /* truncated like the CPU */
  ct_tensor_release(t);
  GPU(ct_fill(ctx, CT_FLOAT16, s, 1, 1.0, &t));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_fill_u16");
  CHECK_EQ_INT(l.size[2], 2);
  uint16_t h = 0;
  memcpy(&h, l.bytes + l.offset[2], 2);
  CHECK_EQ_INT(h, 0x3c00);
  ct_tensor_release(t);

  GPU(ct_range(ctx, CT_INT32, -5, 25, 3, &t));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_range_i32");
  CHECK_EQ_INT(p_i64(&l, 1), 10);
  CHECK_EQ_INT(p_i64(&l, 2), -5);
  CHECK_EQ_INT(p_i64(&l, 3), 3);
  ct_tensor_release(t);
  GPU(ct_range(ctx, CT_FLOAT64, 0.5, 3, 0.25, &t));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_range_f64");
  CHECK(p_f64(&l, 2) == 0.5 && p_f64(&l, 3) == 0.25);
  ct_tensor_release(t);

  int64_t big[1] = {4097};
  GPU(ct_random_normal(ctx, CT_FLOAT32, big, 1, 1.0, 2.0, 123456789012345ull, 77, &t));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_normal_f32");
  CHECK_EQ_INT(l.n_params, 6);
  CHECK_EQ_INT(p_i64(&l, 1), 4097);
  CHECK_EQ_INT(p_i64(&l, 2), 123456789012345ll);
  CHECK_EQ_INT(p_i64(&l, 3), 77);
  CHECK(p_f64(&l, 4) == 1.0 && p_f64(&l, 5) == 2.0);
  CHECK_EQ_INT(l.grid[0], (1025 + 255) / 256); /* one thread per Philox block */
  ct_tensor_release(t);
  GPU(ct_random_uniform(ctx, CT_FLOAT64, big, 1, 0, 1, 1, 0, &t));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_uniform_f64");
  CHECK_EQ_INT(l.grid[0], (2049 + 255) / 256);
  ct_tensor_release(t);
  no_rejections();
}

TEST(reductions_serial_and_parallel) {
  int64_t s[2] = {4, 5};
  ct_tensor *x = gpu_tensor(CT_FLOAT32, s, 2), *y = NULL;
  int ax = 1;
  GPU(ct_reduce_sum(ctx, x, &ax, 1, false, &y));
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_sum_f32");
  CHECK_EQ_INT(l.n_params, 7);
  CHECK_EQ_INT(l.size[2], 264); /* Reduce: 2 ints + 4 x 8 int64 */
  CHECK_EQ_INT(p_i64(&l, 3), 4);  /* n_out */
  CHECK_EQ_INT(p_i64(&l, 4), 5);  /* R */
  CHECK_EQ_INT(p_i64(&l, 5), 0);  /* chunk: one thread per output */
  CHECK_EQ_INT(p_i64(&l, 6), 0);  /* sum: no divisor */
  CHECK_EQ_INT(l.grid[1], 1);
  ct_tensor_release(y);
  ct_tensor_release(x);

  /* few long rows: blocks per row, then the finishing kernel */
  int64_t t[2] = {2, 100000};
  x = gpu_tensor(CT_INT32, t, 2);
  GPU(ct_reduce_mean(ctx, x, &ax, 1, true, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_sumfin_i32");
  CHECK_EQ_INT(l.n_params, 5);
  CHECK_EQ_INT(p_i64(&l, 2), 2);
  CHECK(p_i64(&l, 3) > 1);
  CHECK_EQ_INT(p_i64(&l, 4), 100000);
  ct_tensor_release(y);
  GPU(ct_reduce_max(ctx, x, NULL, 0, false, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_maxfin_i32");
  CHECK_EQ_INT(p_i64(&l, 2), 1);
  ct_tensor_release(y);
  ct_tensor_release(x);

  /* many contiguous rows: a block per row (chunk < 0) from 256 elements
   * on, 256 threads from 4096; below 256, or strided, a thread per row */
  static const struct {
    int64_t shape[3];
    int64_t chunk;
    unsigned block;
  } rows[] = {{{200, 255, 1}, 0, 128}, {{200, 256, 1}, -1, 128}, {{200, 4096, 1}, -1, 256}, {{64, 300, 2}, 0, 128}};
  for (int i = 0; i < 4; i++) {
    x = gpu_tensor(CT_FLOAT32, rows[i].shape, 3);
    GPU(ct_reduce_sum(ctx, x, &ax, 1, false, &y));
    last_launch(&l);
    CHECK_EQ_STR(l.name, "ct_sum_f32");
    CHECK_EQ_INT(p_i64(&l, 5), rows[i].chunk);
    CHECK_EQ_INT(l.block[0], rows[i].block);
    if (rows[i].chunk < 0) CHECK(l.grid[0] >= 1 && l.grid[0] <= 200);
    ct_tensor_release(y);
    ct_tensor_release(x);
  }

  /* a mean over an empty axis is 0/0 for floats (the CPU's NaN) */
  int64_t e[2] = {3, 0};
  x = gpu_tensor(CT_FLOAT32, e, 2);
  GPU(ct_reduce_mean(ctx, x, &ax, 1, false, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_sum_f32");
  CHECK_EQ_INT(p_i64(&l, 4), 0);
  CHECK(p_i64(&l, 6) < 0);
  ct_tensor_release(y);
  ct_tensor_release(x);
  no_rejections();
}

TEST(argmax_and_softmax) {
  int64_t s[3] = {3, 300, 2};
  ct_tensor *x = gpu_tensor(CT_BFLOAT16, s, 3), *y = NULL;
  GPU(ct_argmax(ctx, x, 1, CT_INT32, &y));
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_argmax_bf16");
  CHECK_EQ_INT(l.n_params, 7);
  CHECK_EQ_INT(p_i64(&l, 2), 3);
  CHECK_EQ_INT(p_i64(&l, 3), 300);
  CHECK_EQ_INT(p_i64(&l, 4), 2);
  CHECK_EQ_INT(l.size[5], 4);
  CHECK_EQ_INT(p_i32(&l, 5), 0);
  CHECK_EQ_INT(l.size[6], 4);
  CHECK_EQ_INT(p_i32(&l, 6), 0); /* strided rows: a thread per output */
  ct_tensor_release(y);
  GPU(ct_argmax(ctx, x, 2, CT_INT64, &y));
  last_launch(&l);
  CHECK_EQ_INT(p_i32(&l, 5), 1);
  CHECK_EQ_INT(p_i32(&l, 6), 0); /* rows of 2 */
  ct_tensor_release(y);
  ct_tensor_release(x);
  /* contiguous rows switch to a block each at softmax's length */
  static const struct {
    int64_t len;
    int per_row;
    unsigned block;
  } am[] = {{127, 0, 128}, {128, 1, 256}, {100000, 1, 256}};
  for (int i = 0; i < 3; i++) {
    int64_t rs[2] = {5, am[i].len};
    x = gpu_tensor(CT_FLOAT32, rs, 2);
    GPU(ct_argmax(ctx, x, 1, CT_INT64, &y));
    last_launch(&l);
    CHECK_EQ_STR(l.name, "ct_argmax_f32");
    CHECK_EQ_INT(p_i32(&l, 6), am[i].per_row);
    CHECK_EQ_INT(l.block[0], am[i].block);
    if (am[i].per_row) CHECK(l.grid[0] >= 1 && l.grid[0] <= 5);
    ct_tensor_release(y);
    ct_tensor_release(x);
  }

  int64_t r[2] = {5, 1000};
  x = gpu_tensor(CT_FLOAT32, r, 2);
  GPU(ct_softmax(ctx, x, 1, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_softmax_f32");
  CHECK_EQ_INT(p_i32(&l, 5), 1); /* a block per row */
  CHECK_EQ_INT(l.grid[0], 5);
  ct_tensor_release(y);
  GPU(ct_softmax(ctx, x, 0, &y));
  last_launch(&l);
  CHECK_EQ_INT(p_i32(&l, 5), 0);
  CHECK_EQ_INT(p_i64(&l, 2), 1);
  CHECK_EQ_INT(p_i64(&l, 3), 5);
  CHECK_EQ_INT(p_i64(&l, 4), 1000);
  ct_tensor_release(y);
  ct_tensor_release(x);
  no_rejections();
}

TEST(transpose_slice_concat) {
  int64_t s[3] = {2, 3, 4};
  ct_tensor *x = gpu_tensor(CT_FLOAT64, s, 3), *y = NULL;
  int perm[3] = {2, 0, 1};
  GPU(ct_transpose(ctx, x, perm, &y));
  ct_fake_cuda_launch l;
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_gather_u64");
  CHECK_EQ_INT(p_i64(&l, 2), 24);
  CHECK_EQ_INT(l.size[3], 136); /* Strided: 2 ints + 2 x 8 int64 */
  CHECK_EQ_INT(p_int_field(&l, 3, 0), 3);
  CHECK_EQ_INT(p_field(&l, 3, 0), 4);
  CHECK_EQ_INT(p_field(&l, 3, 1), 2);
  CHECK_EQ_INT(p_field(&l, 3, 2), 3);
  CHECK_EQ_INT(p_field(&l, 3, 8), 1);
  CHECK_EQ_INT(p_field(&l, 3, 9), 12);
  CHECK_EQ_INT(p_field(&l, 3, 10), 4);
  ct_tensor_release(y);

  int64_t begin[3] = {1, 1, 2}, size[3] = {1, 2, -1};
  GPU(ct_slice(ctx, x, begin, size, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_gather_u64");
  uint64_t in = 0;
  memcpy(&in, l.bytes + l.offset[1], 8);
  CHECK_EQ_INT(in - (uint64_t)(uintptr_t)x->data, (12 + 4 + 2) * 8);
  CHECK_EQ_INT(p_i64(&l, 2), 4);
  ct_tensor_release(y);

  const ct_tensor *xs[2] = {x, x};
  GPU(ct_concat(ctx, xs, 2, 1, &y));
  last_launch(&l);
  CHECK_EQ_STR(l.name, "ct_copy2d_u64");
  CHECK_EQ_INT(l.n_params, 6);
  CHECK_EQ_INT(p_i64(&l, 1), 24); /* dst pitch: 6 x 4 */
  CHECK_EQ_INT(p_i64(&l, 3), 12); /* src pitch */
  CHECK_EQ_INT(p_i64(&l, 4), 2);  /* rows */
  CHECK_EQ_INT(p_i64(&l, 5), 12); /* width */
  uint64_t dst = 0;
  memcpy(&dst, l.bytes + l.offset[0], 8);
  CHECK_EQ_INT(dst - (uint64_t)(uintptr_t)y->data, 12 * 8); /* the second band */
  ct_tensor_release(y);
  ct_tensor_release(x);
  no_rejections();
}

TEST(grid_is_capped_and_never_zero) {
  ct_cuda_device cd;
  memset(&cd, 0, sizeof cd);
  cd.sm_count = 132;
  CHECK_EQ_INT(ct_cuda_grid_for(&cd, (int64_t)1 << 40, 256), 132 * 32);
  CHECK_EQ_INT(ct_cuda_grid_for(&cd, 1, 256), 1);
  CHECK_EQ_INT(ct_cuda_grid_for(&cd, 0, 256), 1);
  CHECK_EQ_INT(ct_cuda_grid_for(&cd, 257, 256), 2);
  cd.sm_count = 0;
  CHECK_EQ_INT(ct_cuda_grid_for(&cd, (int64_t)1 << 40, 128), 16 * 32);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin);
  if (access(fake_lib, R_OK) != 0) {
    fprintf(stderr, "fake driver %s not built\n", fake_lib);
    return 1;
  }
  static const char *const vars[] = {"CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",
                                     "CT_FAKE_CUDA_LAUNCH_FAULT", "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_DRIVER_VERSION",
                                     "CT_FAKE_CUDA_NO_PROC_ADDRESS", "CT_CUBLAS_PATH", "CT_KERNEL_CACHE"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  /* newer than every architecture NVRTC knows: ctensor asks for PTX, which the fake can read */
  setenv("CT_FAKE_CUDA_CC", "99.0", 1);
  snprintf(cache_dir, sizeof cache_dir, "/tmp/ct_launch_test.XXXXXX");
  if (mkdtemp(cache_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  setenv("CT_KERNEL_CACHE_DIR", cache_dir, 1);

  int rc = 0;
  if (ct_context_new(&ctx) != CT_OK || ct_context_initialize(ctx) != CT_OK) {
    fprintf(stderr, "context: %s\n", ct_last_error());
    rc = 1;
  } else if (ct_cuda_load_nvrtc(ctx, NULL) != CT_OK) {
    printf("SKIP: no NVRTC library on this machine: %s\n", ct_last_error());
    rc = 77;
  } else if (ct_logical_device_count(ctx, "GPU") < 1) {
    fprintf(stderr, "the fake GPU is not usable: %s\n", ct_last_error());
    rc = 1;
  }
  if (rc == 0) {
    ct_config_set_soft_placement(ctx, false);
    RUN(binary_same_shape_and_broadcast);
    RUN(unary_and_cast);
    RUN(fill_range_random);
    RUN(reductions_serial_and_parallel);
    RUN(argmax_and_softmax);
    RUN(transpose_slice_concat);
    RUN(grid_is_capped_and_never_zero);
  }
  ct_context_free(ctx);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cache_dir);
  if (rc) return rc;
  TEST_MAIN_END();
}
