/*
 * GPU matmul end to end without a GPU: the fake driver (device memory is
 * host memory) and the fake cuBLAS (tests/fake_cuda/fake_libcublas.c),
 * which computes GEMMs with plain column-major loops, rejects a leading
 * dimension, transpose, type or pointer the real library would not accept
 * or a GPU would fault on, and records its last call.
 *
 * Every case runs ct_matmul under /GPU:0 with soft placement off and
 * compares with the CPU's result for the same inputs; it also checks that
 * cuBLAS was called exactly once and that every byte range it touched lies
 * inside the tensor it belongs to (the caching allocator shares one driver
 * allocation between small tensors, so the fake's own check is coarser).
 * NVRTC is pointed at a file that does not exist: matmul must not need it.
 *
 * Exits 77 (skipped) when the fakes were not built.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/cuda_device.h"
#include "cuda/loader.h"
#include "testutil.h"
#include "ops_helpers.h"

typedef struct ct_fake_cublas_call { /* tests/fake_cuda/fake_libcublas.c */
  long count, rejected;
  int live_handles, status;
  char func[32];
  int transa, transb, m, n, k;
  int atype, btype, ctype, compute_type, algo;
  int lda, ldb, ldc;
  long long stride_a, stride_b, stride_c;
  int batch;
  double alpha, beta;
  void *stream;
  const void *a, *b, *c;
  long long a_lo, a_hi, b_lo, b_hi, c_lo, c_hi;
  char error[200];
} ct_fake_cublas_call;

typedef struct ct_fake_cuda_counters { /* tests/fake_cuda/fake_libcuda.c */
  long ctx_retains, allocs;
  int live_allocs;
  long streams, proc_lookups;
  size_t used[16];
} ct_fake_cuda_counters;

enum { COMPUTE_32F = 68, COMPUTE_64F = 70, COMPUTE_32F_FAST_TF32 = 77 };

static char fake_driver[1024], fake_cublas[1024], fake_cublaslt[1024];
static ct_context *ctx;

static void *fake_sym(const char *lib, const char *name, void **handle) {
  *handle = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
  return *handle ? dlsym(*handle, name) : NULL;
}

static void last_call(ct_fake_cublas_call *out) {
  memset(out, 0, sizeof *out);
  void *h;
  void (*fn)(ct_fake_cublas_call *) =
      (void (*)(ct_fake_cublas_call *))fake_sym(fake_cublas, "ct_fake_cublas_last_call", &h);
  if (fn) fn(out);
  if (h) dlclose(h);
}

static void driver_counters(ct_fake_cuda_counters *out) {
  memset(out, 0, sizeof *out);
  void *h;
  void (*fn)(ct_fake_cuda_counters *) =
      (void (*)(ct_fake_cuda_counters *))fake_sym(fake_driver, "ct_fake_cuda_get_counters", &h);
  if (fn) fn(out);
  if (h) dlclose(h);
}

static bool on_gpu(const ct_tensor *t) { return t && strstr(ct_tensor_device(t), "GPU:0") != NULL; }

static ct_tensor *make_on(const char *spec, ct_dtype dt, const int64_t *shape, int rank, const double *v) {
  ct_tensor *t = NULL;
  CHECK_OK(ct_device_scope_push(ctx, spec));
  t = oh_make(ctx, dt, shape, rank, v);
  ct_device_scope_pop(ctx);
  return t;
}

static ct_status matmul_on(const char *spec, const ct_tensor *a, const ct_tensor *b, bool ta, bool tb,
                           ct_tensor **out) {
  *out = NULL;
  ct_status s = ct_device_scope_push(ctx, spec);
  if (s != CT_OK) return s;
  s = ct_matmul(ctx, a, b, ta, tb, out);
  ct_device_scope_pop(ctx);
  return s;
}

/* [p + lo, p + hi) inside tensor t's bytes. */
static bool inside(const void *p, long long lo, long long hi, const ct_tensor *t) {
  const char *base = t->data, *q = p;
  return q + lo >= base && q + hi <= base + t->nbytes && lo <= hi;
}

static int64_t numel(const int64_t *s, int r) {
  int64_t n = 1;
  for (int i = 0; i < r; i++) n *= s[i];
  return n;
}

/* Small integers (exact in every dtype and in every sum here), or
 * fractions in [-0.5, 0.5). */
static void fill(double *v, int64_t n, int seed, bool fractional) {
  for (int64_t i = 0; i < n; i++)
    v[i] = fractional ? (double)((i * 37 + seed * 11) % 101) / 101.0 - 0.5 : (double)((i * 7 + seed) % 9) - 4.0;
}

/* ct_matmul(a, b) on /GPU:0 against /CPU:0. */
static void compare(ct_dtype dt, const int64_t *sa, int ra, const int64_t *sb, int rb, bool ta, bool tb,
                    bool fractional) {
  int64_t na = numel(sa, ra), nb = numel(sb, rb);
  double *va = malloc((size_t)(na + 1) * sizeof *va), *vb = malloc((size_t)(nb + 1) * sizeof *vb);
  fill(va, na, 1, fractional);
  fill(vb, nb, 4, fractional);
  ct_tensor *a = make_on("/CPU:0", dt, sa, ra, va), *b = make_on("/CPU:0", dt, sb, rb, vb);
  ct_tensor *ga = NULL, *gb = NULL, *gc = NULL, *cc = NULL;
  free(va), free(vb);
  if (!a || !b) goto out;
  CHECK_OK(ct_tensor_copy_to(a, "/GPU:0", &ga));
  CHECK_OK(ct_tensor_copy_to(b, "/GPU:0", &gb));
  if (!ga || !gb) goto out;
  CHECK(on_gpu(ga) && on_gpu(gb));

  ct_fake_cublas_call before, after;
  last_call(&before);
  CHECK_OK(matmul_on("/GPU:0", ga, gb, ta, tb, &gc));
  last_call(&after);
  CHECK_OK(matmul_on("/CPU:0", a, b, ta, tb, &cc));
  if (!gc || !cc) goto out;
  CHECK(on_gpu(gc));
  CHECK(strstr(ct_tensor_device(cc), "CPU:0") != NULL);
  CHECK_EQ_INT(ct_tensor_dtype(gc), dt);
  CHECK_EQ_INT(ct_tensor_rank(gc), ct_tensor_rank(cc));
  for (int i = 0; i < ct_tensor_rank(cc); i++) CHECK_EQ_INT(ct_tensor_dim(gc, i), ct_tensor_dim(cc, i));

  /* cuBLAS runs once unless there is nothing to compute (no output, or
   * k == 0, which is a memset), and touches only its operands' bytes. */
  int64_t k = ta ? sa[ra - 2] : sa[ra - 1];
  bool calls = ct_tensor_num_elements(gc) > 0 && k > 0;
  CHECK_EQ_INT(after.count - before.count, calls ? 1 : 0);
  CHECK_EQ_INT(after.rejected, before.rejected);
  if (after.rejected != before.rejected) fprintf(stderr, "  fake cuBLAS refused: %s\n", after.error);
  if (calls && after.count == before.count + 1) {
    CHECK(after.a == gb->data && after.b == ga->data && after.c == gc->data); /* the operands swap */
    CHECK(inside(after.a, after.a_lo, after.a_hi, gb));
    CHECK(inside(after.b, after.b_lo, after.b_hi, ga));
    CHECK(inside(after.c, after.c_lo, after.c_hi, gc));
    CHECK(after.stream != NULL); /* ctensor's stream, not the legacy default one */
    CHECK(after.alpha == 1.0 && after.beta == 0.0);
  }

  double *g = oh_read(gc), *c = oh_read(cc);
  double tol = fractional ? oh_tol(dt) : 0.0;
  int64_t n = ct_tensor_num_elements(cc);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; i++) {
    if (!(fabs(g[i] - c[i]) <= tol + tol * fabs(c[i]))) {
      bad++;
      CHECK_CLOSE(g[i], c[i], tol, tol);
      fprintf(stderr, "  %s element %lld, ta=%d tb=%d\n", ct_dtype_name(dt), (long long)i, ta, tb);
    }
  }
  tu_checks++;
  free(g), free(c);
out:
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(ga), ct_tensor_release(gb);
  ct_tensor_release(gc), ct_tensor_release(cc);
}

static const ct_dtype float_types[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};

TEST(every_type_and_transpose_non_square) {
  /* [3,5] x [5,7], with each operand stored transposed when its flag is set */
  for (size_t d = 0; d < CT_ARRAY_LEN(float_types); d++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        int64_t sa[2] = {ta ? 5 : 3, ta ? 3 : 5}, sb[2] = {tb ? 7 : 5, tb ? 5 : 7};
        compare(float_types[d], sa, 2, sb, 2, ta, tb, false);
        compare(float_types[d], sa, 2, sb, 2, ta, tb, true);
      }
  /* vectors as matrices, and a long inner dimension */
  int64_t r[2] = {1, 9}, col[2] = {9, 1}, wide[2] = {2, 300}, tall[2] = {300, 3};
  compare(CT_FLOAT32, r, 2, col, 2, false, false, false);
  compare(CT_FLOAT32, col, 2, r, 2, false, false, false);
  compare(CT_FLOAT64, wide, 2, tall, 2, false, false, true);
  compare(CT_FLOAT16, wide, 2, tall, 2, false, false, true);
}

TEST(batched_and_broadcast_batches) {
  int64_t a3[3] = {4, 3, 5}, b3[3] = {4, 5, 2}, a1[3] = {1, 3, 5}, b1[3] = {1, 5, 2}, a2[2] = {3, 5}, b2[2] = {5, 2};
  int64_t a3t[3] = {4, 5, 3}, b3t[3] = {4, 2, 5};
  for (size_t d = 0; d < CT_ARRAY_LEN(float_types); d++) {
    ct_dtype dt = float_types[d];
    compare(dt, a3, 3, b3, 3, false, false, false); /* equal batches */
    compare(dt, a1, 3, b3, 3, false, false, false); /* 1 vs N */
    compare(dt, a3, 3, b1, 3, false, false, true);  /* N vs 1 */
    compare(dt, a2, 2, b3, 3, false, false, false); /* rank 2 x rank 3 */
    compare(dt, a3, 3, b2, 2, false, false, true);  /* rank 3 x rank 2 */
    compare(dt, a3t, 3, b3t, 3, true, true, false); /* transposed batches */
    compare(dt, a1, 3, b3t, 3, false, true, true);
    compare(dt, a3t, 3, b2, 2, true, false, false);
  }
}

/* The parameters of the call: the swap trick, leading dimensions, strides. */
TEST(cublas_sees_the_swapped_column_major_problem) {
  double v[64] = {0};
  ct_fake_cublas_call l;
  ct_tensor *a, *b, *c = NULL;

  int64_t sa[2] = {3, 5}, sb[2] = {5, 7};
  a = make_on("/GPU:0", CT_FLOAT32, sa, 2, v), b = make_on("/GPU:0", CT_FLOAT32, sb, 2, v);
  CHECK_OK(matmul_on("/GPU:0", a, b, false, false, &c));
  last_call(&l);
  CHECK_EQ_STR(l.func, "cublasGemmEx");
  CHECK_EQ_INT(l.transa, 0); CHECK_EQ_INT(l.transb, 0);
  CHECK_EQ_INT(l.m, 7); CHECK_EQ_INT(l.n, 3); CHECK_EQ_INT(l.k, 5);
  CHECK_EQ_INT(l.lda, 7); CHECK_EQ_INT(l.ldb, 5); CHECK_EQ_INT(l.ldc, 7);
  CHECK_EQ_INT(l.atype, 0); CHECK_EQ_INT(l.ctype, 0);
  CHECK_EQ_INT(l.compute_type, COMPUTE_32F); CHECK_EQ_INT(l.algo, -1);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);

  /* a stored [5,3] (transpose_a), b stored [7,5] (transpose_b) */
  int64_t ta[2] = {5, 3}, tb[2] = {7, 5};
  a = make_on("/GPU:0", CT_FLOAT64, ta, 2, v), b = make_on("/GPU:0", CT_FLOAT64, tb, 2, v);
  CHECK_OK(matmul_on("/GPU:0", a, b, true, true, &c));
  last_call(&l);
  CHECK_EQ_INT(l.transa, 1); CHECK_EQ_INT(l.transb, 1);
  CHECK_EQ_INT(l.m, 7); CHECK_EQ_INT(l.n, 3); CHECK_EQ_INT(l.k, 5);
  CHECK_EQ_INT(l.lda, 5); CHECK_EQ_INT(l.ldb, 3); CHECK_EQ_INT(l.ldc, 7);
  CHECK_EQ_INT(l.atype, 1); CHECK_EQ_INT(l.compute_type, COMPUTE_64F);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);

  /* [4,3,5] x [1,5,2]: b broadcast with stride 0 */
  int64_t ba[3] = {4, 3, 5}, bb[3] = {1, 5, 2};
  a = make_on("/GPU:0", CT_BFLOAT16, ba, 3, v), b = make_on("/GPU:0", CT_BFLOAT16, bb, 3, v);
  CHECK_OK(matmul_on("/GPU:0", a, b, false, false, &c));
  last_call(&l);
  CHECK_EQ_STR(l.func, "cublasGemmStridedBatchedEx");
  CHECK_EQ_INT(l.batch, 4);
  CHECK_EQ_INT(l.stride_a, 0); CHECK_EQ_INT(l.stride_b, 15); CHECK_EQ_INT(l.stride_c, 6);
  CHECK_EQ_INT(l.atype, 14); CHECK_EQ_INT(l.ctype, 14); CHECK_EQ_INT(l.compute_type, COMPUTE_32F);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
}

TEST(empty_dimensions) {
  double v[64];
  for (int i = 0; i < 64; i++) v[i] = 1.0;
  for (size_t d = 0; d < CT_ARRAY_LEN(float_types); d++) {
    ct_dtype dt = float_types[d];
    int64_t a30[2] = {3, 0}, b04[2] = {0, 4}, a05[2] = {0, 5}, b54[2] = {5, 4}, a35[2] = {3, 5}, b50[2] = {5, 0};
    compare(dt, a30, 2, b04, 2, false, false, false); /* k = 0 */
    compare(dt, a05, 2, b54, 2, false, false, false); /* m = 0 */
    compare(dt, a35, 2, b50, 2, false, false, false); /* n = 0 */
    int64_t k0a[3] = {2, 3, 0}, k0b[3] = {2, 0, 4}, z0a[3] = {0, 3, 5}, z0b[3] = {0, 5, 4}, z1b[3] = {1, 5, 4};
    compare(dt, k0a, 3, k0b, 3, false, false, false); /* k = 0, batched */
    compare(dt, z0a, 3, z0b, 3, false, false, false); /* no batches */
    compare(dt, z0a, 3, z1b, 3, false, false, false); /* 0 vs 1 broadcast */
  }
  /* k = 0 gives zeros even where the allocator hands back used memory */
  int64_t s34[2] = {3, 4};
  ct_tensor *junk = make_on("/GPU:0", CT_FLOAT32, s34, 2, v);
  ct_tensor_release(junk);
  int64_t a30[2] = {3, 0}, b04[2] = {0, 4};
  ct_tensor *a = make_on("/GPU:0", CT_FLOAT32, a30, 2, NULL), *b = make_on("/GPU:0", CT_FLOAT32, b04, 2, NULL);
  ct_tensor *c = NULL;
  CHECK_OK(matmul_on("/GPU:0", a, b, false, false, &c));
  if (c) {
    CHECK(on_gpu(c));
    double *r = oh_read(c);
    for (int i = 0; i < 12; i++) CHECK(r[i] == 0.0);
    free(r);
  }
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
}

TEST(tf32_is_opt_in_and_float32_only) {
  /* 1 + 2^-20 needs 20 mantissa bits; TF32 keeps 10 */
  double va[1] = {1.0 + 0x1p-20}, vb[1] = {1.0};
  int64_t s[2] = {1, 1};
  ct_fake_cublas_call l;
  for (int on = 0; on < 2; on++) {
    CHECK_OK(ct_config_set_tf32(ctx, on));
    for (size_t d = 0; d < CT_ARRAY_LEN(float_types); d++) {
      ct_dtype dt = float_types[d];
      ct_tensor *a = make_on("/GPU:0", dt, s, 2, va), *b = make_on("/GPU:0", dt, s, 2, vb), *c = NULL;
      CHECK_OK(matmul_on("/GPU:0", a, b, false, false, &c));
      last_call(&l);
      int want = dt == CT_FLOAT64 ? COMPUTE_64F : (dt == CT_FLOAT32 && on) ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F;
      CHECK_EQ_INT(l.compute_type, want);
      if (c && dt == CT_FLOAT32) {
        float r = 0;
        CHECK_OK(ct_tensor_to_host(c, &r, sizeof r));
        CHECK(r == (on ? 1.0f : (float)(1.0 + 0x1p-20)));
      }
      ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
    }
  }
  CHECK_OK(ct_config_set_tf32(ctx, false));
}

TEST(shape_errors_name_the_shapes) {
  double v[64] = {0};
  int64_t sa[2] = {2, 3}, sb[2] = {4, 5}, ba[3] = {2, 3, 4}, bb[3] = {3, 4, 5};
  ct_tensor *a = make_on("/GPU:0", CT_FLOAT32, sa, 2, v), *b = make_on("/GPU:0", CT_FLOAT32, sb, 2, v), *c = NULL;
  CHECK_ERR(matmul_on("/GPU:0", a, b, false, false, &c), CT_INVALID_ARGUMENT, "[2,3]");
  CHECK(c == NULL);
  ct_tensor_release(a), ct_tensor_release(b);
  a = make_on("/GPU:0", CT_FLOAT32, ba, 3, v), b = make_on("/GPU:0", CT_FLOAT32, bb, 3, v);
  CHECK_ERR(matmul_on("/GPU:0", a, b, false, false, &c), CT_INVALID_ARGUMENT, "matmul");
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
}

TEST(a_failing_gemm_is_reported_with_its_status) {
  double v[4] = {1, 2, 3, 4};
  int64_t s[2] = {2, 2};
  ct_tensor *a = make_on("/GPU:0", CT_FLOAT32, s, 2, v), *c = NULL;
  setenv("CT_FAKE_CUBLAS_GEMM_ERROR", "13", 1);
  CHECK_ERR(matmul_on("/GPU:0", a, a, false, false, &c), CT_INTERNAL,
            "MatMul: cuBLAS gemm failed: CUBLAS_STATUS_EXECUTION_FAILED (13)");
  unsetenv("CT_FAKE_CUBLAS_GEMM_ERROR");
  CHECK(c == NULL);
  CHECK_OK(matmul_on("/GPU:0", a, a, false, false, &c)); /* the handle still works */
  ct_tensor_release(a), ct_tensor_release(c);
}

/* A second context whose cuBLAS handle cannot be created: the error names
 * the status, and a later matmul creates the handle. */
TEST(handle_creation_failure_is_reported_and_retried) {
  ct_context *c2 = NULL;
  CHECK_OK(ct_context_new(&c2));
  if (!c2) return;
  ct_config_set_soft_placement(c2, false);
  double v[4] = {1, 2, 3, 4};
  int64_t s[2] = {2, 2};
  ct_tensor *a = NULL, *c = NULL;
  CHECK_OK(ct_device_scope_push(c2, "/GPU:0"));
  a = oh_make(c2, CT_FLOAT32, s, 2, v);
  setenv("CT_FAKE_CUBLAS_CREATE_ERROR", "3", 1);
  CHECK_ERR(ct_matmul(c2, a, a, false, false, &c), CT_UNAVAILABLE,
            "cuBLAS initialisation failed: CUBLAS_STATUS_ALLOC_FAILED (3)");
  unsetenv("CT_FAKE_CUBLAS_CREATE_ERROR");
  CHECK_OK(ct_matmul(c2, a, a, false, false, &c));
  ct_device_scope_pop(c2);
  if (c) {
    CHECK(on_gpu(c));
    float r[4];
    CHECK_OK(ct_tensor_to_host(c, r, sizeof r));
    CHECK(r[0] == 7 && r[1] == 10 && r[2] == 15 && r[3] == 22);
  }
  ct_tensor_release(a), ct_tensor_release(c);
  ct_context_free(c2);
}

/* The fake itself refuses what the real cuBLAS (or a GPU) would: without
 * this, the tests above could pass on a fake that reads anything. */
TEST(the_fake_refuses_bad_arguments) {
  void *lib = dlopen(fake_cublas, RTLD_NOW | RTLD_NOLOAD);
  CHECK(lib != NULL);
  if (!lib) return;
  typedef int (*create_fn)(void **);
  typedef int (*destroy_fn)(void *);
  typedef int (*gemm_fn)(void *, int, int, int, int, int, const void *, const void *, int, int, const void *, int,
                         int, const void *, void *, int, int, int, int);
  create_fn create = (create_fn)dlsym(lib, "cublasCreate_v2");
  destroy_fn destroy = (destroy_fn)dlsym(lib, "cublasDestroy_v2");
  gemm_fn gemm = (gemm_fn)dlsym(lib, "cublasGemmEx");
  CHECK(create && destroy && gemm);
  ct_device *dev = NULL;
  CHECK_OK(ct_context_find_device(ctx, "GPU:0", &dev));
  if (!create || !destroy || !gemm || !dev) {
    dlclose(lib);
    return;
  }
  CHECK_OK(ct_cuda_make_current(ct_cuda_device_of(dev)));
  double v[16] = {0};
  int64_t s[2] = {4, 4};
  ct_tensor *t = make_on("/GPU:0", CT_FLOAT32, s, 2, v), *u = make_on("/GPU:0", CT_FLOAT32, s, 2, v);
  void *h = NULL;
  CHECK_EQ_INT(create(&h), 0);
  float one = 1, zero = 0, host[16] = {0};
  ct_fake_cublas_call l;
  if (h && t && u) {
    CHECK_EQ_INT(gemm(h, 0, 0, 4, 4, 4, &one, t->data, 0, 4, t->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 0);
    /* lda < m for op N */
    CHECK_EQ_INT(gemm(h, 0, 0, 4, 4, 4, &one, t->data, 0, 3, t->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 7);
    last_call(&l);
    CHECK(strstr(l.error, "leading dimension") != NULL);
    /* ldb < n for op T */
    CHECK_EQ_INT(gemm(h, 0, 1, 4, 5, 2, &one, t->data, 0, 4, t->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 7);
    /* a matrix past the end of every allocation */
    CHECK_EQ_INT(gemm(h, 0, 0, 4, 4, 4, &one, host, 0, 4, t->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 13);
    last_call(&l);
    CHECK(strstr(l.error, "A lies outside") != NULL);
    /* float64 data with a float32 compute type */
    CHECK_EQ_INT(gemm(h, 0, 0, 2, 2, 2, &one, t->data, 1, 2, t->data, 1, 2, &zero, u->data, 1, 2, 68, -1), 15);
    /* output on top of an input */
    CHECK_EQ_INT(gemm(h, 0, 0, 4, 4, 4, &one, t->data, 0, 4, u->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 7);
    CHECK_EQ_INT(gemm(h, 3, 0, 4, 4, 4, &one, t->data, 0, 4, t->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 7);
    CHECK_EQ_INT(gemm(h, 0, 0, -1, 4, 4, &one, t->data, 0, 4, t->data, 0, 4, &zero, u->data, 0, 4, 68, -1), 7);
  }
  if (h) CHECK_EQ_INT(destroy(h), 0);
  ct_tensor_release(t), ct_tensor_release(u);
  dlclose(lib);
}

static bool exists(const char *p) { return access(p, R_OK) == 0; }

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(fake_driver, sizeof fake_driver, "%s/fake_cuda/libcuda.so.1", bin);
  snprintf(fake_cublas, sizeof fake_cublas, "%s/fake_cublas/libcublas.so.13", bin);
  snprintf(fake_cublaslt, sizeof fake_cublaslt, "%s/fake_cublas/libcublasLt.so.13", bin);
  if (!exists(fake_driver) || !exists(fake_cublas) || !exists(fake_cublaslt)) {
    printf("SKIP: the fake driver or fake cuBLAS is not built (%s, %s)\n", fake_driver, fake_cublas);
    return 77;
  }
  static const char *const vars[] = {"CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",
                                     "CT_FAKE_CUDA_LAUNCH_FAULT", "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_CC",
                                     "CT_FAKE_CUDA_DRIVER_VERSION", "CT_FAKE_CUDA_NO_PROC_ADDRESS",
                                     "CT_FAKE_CUBLAS_CREATE_ERROR", "CT_FAKE_CUBLAS_GEMM_ERROR"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_driver, 1);
  setenv("CT_CUBLAS_PATH", fake_cublas, 1);
  setenv("CT_CUBLASLT_PATH", fake_cublaslt, 1);
  setenv("CT_NVRTC_PATH", "/nonexistent/libnvrtc.so.13", 1); /* matmul must not need it */
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);

  int rc = 0;
  if (ct_context_new(&ctx) != CT_OK || ct_context_initialize(ctx) != CT_OK) {
    fprintf(stderr, "context: %s\n", ct_last_error());
    rc = 1;
  } else if (ct_logical_device_count(ctx, "GPU") < 1) {
    fprintf(stderr, "the fake GPU is not usable: %s\n", ct_last_error());
    rc = 1;
  }
  if (rc == 0) {
    ct_config_set_soft_placement(ctx, false);
    RUN(every_type_and_transpose_non_square);
    RUN(batched_and_broadcast_batches);
    RUN(cublas_sees_the_swapped_column_major_problem);
    RUN(empty_dimensions);
    RUN(tf32_is_opt_in_and_float32_only);
    RUN(shape_errors_name_the_shapes);
    RUN(a_failing_gemm_is_reported_with_its_status);
    RUN(handle_creation_failure_is_reported_and_retried);
    RUN(the_fake_refuses_bad_arguments);
    tu_current = "nvrtc_untouched";
    const ct_cuda_library *nv = ct_cuda_library_get(ctx, CT_CUDA_LIB_NVRTC);
    CHECK(nv && !nv->tried); /* nothing here opened NVRTC */
    ct_fake_cublas_call l;
    last_call(&l);
    CHECK_EQ_INT(l.live_handles, 1);
  }
  ct_context_free(ctx);
  if (rc) return rc;
  tu_current = "teardown";
  int before = tu_failures;
  ct_fake_cublas_call l;
  last_call(&l);
  CHECK_EQ_INT(l.live_handles, 0); /* cublasDestroy at teardown */
  ct_fake_cuda_counters fc;
  driver_counters(&fc);
  CHECK_EQ_INT(fc.live_allocs, 0);
  CHECK_EQ_INT(fc.streams, 0);
  printf("%s teardown\n", tu_failures > before ? "FAIL" : "ok  ");
  TEST_MAIN_END();
}
