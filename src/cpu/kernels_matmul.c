/*
 * CPU matmul. float32/float64 go straight to cblas_sgemm/dgemm on the
 * tensors' own memory (the transpose flags become BLAS's, no copies;
 * OpenBLAS does its own threading). A batch is one gemm per matrix, or a
 * single taller gemm when a rank-3 `a` meets a shared matrix `b`.
 * float16/bfloat16 are widened to float32, multiplied, rounded back once
 * (round to nearest even). int32/int64 use an exact loop that wraps on
 * overflow (two's complement, as TensorFlow's int32 MatMul).
 */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_kernels.h"

typedef struct mm_dims {
  int64_t batch, m, n, k;
  int64_t stride_a, stride_b; /* elements between batch matrices; 0 = broadcast */
  bool ta, tb;
} mm_dims;

static mm_dims mm_dims_of(const ct_tensor *a, const ct_tensor *b, const ct_tensor *out, const ct_matmul_attrs *at) {
  mm_dims d;
  int ra = a->rank, rb = b->rank;
  d.ta = at->transpose_a;
  d.tb = at->transpose_b;
  d.m = out->shape[out->rank - 2];
  d.n = out->shape[out->rank - 1];
  d.k = d.ta ? a->shape[ra - 2] : a->shape[ra - 1];
  d.batch = out->rank == 3 ? out->shape[0] : 1;
  d.stride_a = (ra == 3 && a->shape[0] > 1) ? d.m * d.k : 0;
  d.stride_b = (rb == 3 && b->shape[0] > 1) ? d.k * d.n : 0;
  return d;
}

static ct_status blas_range_check(const mm_dims *d) {
  int64_t big = d->m > d->n ? d->m : d->n;
  if (d->k > big) big = d->k;
  if (d->batch * d->m > big && d->stride_b == 0 && !d->ta) big = d->batch * d->m;
  if (big > INT_MAX)
    return ct_error(CT_UNIMPLEMENTED, "matmul: dimension %lld exceeds the BLAS integer range", (long long)big);
  return CT_OK;
}

static void gemm_f32(const mm_dims *d, const float *a, const float *b, float *c) {
  enum CBLAS_TRANSPOSE ta = d->ta ? CblasTrans : CblasNoTrans, tb = d->tb ? CblasTrans : CblasNoTrans;
  int m = (int)d->m, n = (int)d->n, k = (int)d->k;
  int lda = d->ta ? m : k, ldb = d->tb ? k : n;
  if (d->batch == 1 || (d->stride_b == 0 && !d->ta && d->stride_a != 0)) {
    /* one matrix, or a stack of a's matrices times one b: a single gemm
     * with batch*m rows (a batch > 1 always has a non-zero stride_a here) */
    int rows = (int)(d->m * d->batch);
    cblas_sgemm(CblasRowMajor, ta, tb, rows, n, k, 1.0f, a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1, 0.0f, c,
                n > 0 ? n : 1);
    return;
  }
  for (int64_t i = 0; i < d->batch; i++)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a + i * d->stride_a, lda > 0 ? lda : 1, b + i * d->stride_b,
                ldb > 0 ? ldb : 1, 0.0f, c + i * d->m * d->n, n > 0 ? n : 1);
}

static void gemm_f64(const mm_dims *d, const double *a, const double *b, double *c) {
  enum CBLAS_TRANSPOSE ta = d->ta ? CblasTrans : CblasNoTrans, tb = d->tb ? CblasTrans : CblasNoTrans;
  int m = (int)d->m, n = (int)d->n, k = (int)d->k;
  int lda = d->ta ? m : k, ldb = d->tb ? k : n;
  if (d->batch == 1 || (d->stride_b == 0 && !d->ta && d->stride_a != 0)) {
    int rows = (int)(d->m * d->batch);
    cblas_dgemm(CblasRowMajor, ta, tb, rows, n, k, 1.0, a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1, 0.0, c,
                n > 0 ? n : 1);
    return;
  }
  for (int64_t i = 0; i < d->batch; i++)
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a + i * d->stride_a, lda > 0 ? lda : 1, b + i * d->stride_b,
                ldb > 0 ? ldb : 1, 0.0, c + i * d->m * d->n, n > 0 ? n : 1);
}

/* Exact integer matmul; unsigned arithmetic gives the wrap-around without
 * undefined behaviour. i-p-j order keeps the inner loop contiguous in c
 * (and in b when it is not transposed). */
#define INT_GEMM(NAME, T, U)                                                                    \
  static void NAME(const mm_dims *d, const T *a, const T *b, T *c) {                            \
    int64_t m = d->m, n = d->n, k = d->k;                                                       \
    for (int64_t bi = 0; bi < d->batch; bi++) {                                                 \
      const T *A = a + bi * d->stride_a, *B = b + bi * d->stride_b;                             \
      U *C = (U *)(c + bi * m * n);                                                             \
      for (int64_t i = 0; i < m; i++) {                                                         \
        U *row = C + i * n;                                                                     \
        for (int64_t j = 0; j < n; j++) row[j] = 0;                                             \
        for (int64_t p = 0; p < k; p++) {                                                       \
          U x = (U)(d->ta ? A[p * m + i] : A[i * k + p]);                                       \
          if (d->tb)                                                                            \
            for (int64_t j = 0; j < n; j++) row[j] += x * (U)B[j * k + p];                      \
          else                                                                                  \
            for (int64_t j = 0; j < n; j++) row[j] += x * (U)B[p * n + j];                      \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }
INT_GEMM(gemm_i32, int32_t, uint32_t)
INT_GEMM(gemm_i64, int64_t, uint64_t)

static void widen16(const uint16_t *src, float *dst, int64_t n, bool bf16) {
  int threads = ct_cpu_threads_for(n);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) dst[i] = bf16 ? ct_bfloat16_to_float(src[i]) : ct_half_to_float(src[i]);
}

static void narrow16(const float *src, uint16_t *dst, int64_t n, bool bf16) {
  int threads = ct_cpu_threads_for(n);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) dst[i] = bf16 ? ct_float_to_bfloat16(src[i]) : ct_float_to_half(src[i]);
}

static ct_status gemm_16(const mm_dims *d, const ct_tensor *a, const ct_tensor *b, ct_tensor *c, bool bf16) {
  size_t na = (size_t)a->numel, nb = (size_t)b->numel, nc = (size_t)c->numel;
  float *buf = malloc((na + nb + nc) * sizeof(float));
  if (buf == NULL)
    return ct_error(CT_RESOURCE_EXHAUSTED, "matmul: cannot allocate %zu bytes of float32 scratch for %s",
                    (na + nb + nc) * sizeof(float), ct_dtype_name(a->dtype));
  widen16(a->data, buf, (int64_t)na, bf16);
  widen16(b->data, buf + na, (int64_t)nb, bf16);
  gemm_f32(d, buf, buf + na, buf + na + nb);
  narrow16(buf + na + nb, c->data, (int64_t)nc, bf16);
  free(buf);
  return CT_OK;
}

static ct_status matmul_kernel(const ct_kernel_args *args) {
  const ct_tensor *a = args->in[0], *b = args->in[1];
  ct_tensor *c = args->out;
  mm_dims d = mm_dims_of(a, b, c, args->attrs);
  if (c->numel == 0) return CT_OK;
  if (d.k == 0) {
    memset(c->data, 0, c->nbytes);
    return CT_OK;
  }
  switch (c->dtype) {
    case CT_FLOAT32:
    case CT_FLOAT64:
    case CT_FLOAT16:
    case CT_BFLOAT16: {
      ct_status s = blas_range_check(&d);
      if (s != CT_OK) return s;
      if (c->dtype == CT_FLOAT32) gemm_f32(&d, a->data, b->data, c->data);
      else if (c->dtype == CT_FLOAT64) gemm_f64(&d, a->data, b->data, c->data);
      else return gemm_16(&d, a, b, c, c->dtype == CT_BFLOAT16);
      return CT_OK;
    }
    case CT_INT32: gemm_i32(&d, a->data, b->data, c->data); return CT_OK;
    case CT_INT64: gemm_i64(&d, a->data, b->data, c->data); return CT_OK;
    default: return ct_error(CT_INTERNAL, "matmul: no CPU kernel for %s", ct_dtype_name(c->dtype));
  }
}

void ct_cpu_register_matmul(ct_registry *r) {
  static const ct_dtype types[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
  for (size_t i = 0; i < CT_ARRAY_LEN(types); i++) ct_registry_add(r, CT_OP_MATMUL, CT_DEV_CPU, types[i], matmul_kernel);
}
