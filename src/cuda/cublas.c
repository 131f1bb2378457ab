/*
 * matmul through cuBLAS, opened with dlopen on first use (loader.c).
 *
 * cuBLAS is column-major; ctensor is row-major. A row-major m x n matrix is
 * the column-major n x m matrix of the same bytes, its transpose, so
 * C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: the operands swap
 * places, keep their transpose flags, and every leading dimension is the
 * row length of the stored matrix.
 *
 * Types: float32 (compute 32F, or 32F_FAST_TF32 when ctx->tf32 is on),
 * float64 (64F), float16 and bfloat16 (stored 16-bit, computed in 32F, the
 * CPU's rule). Rank 3 is one strided-batched call; a broadcast batch
 * operand gets stride 0.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"

typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;
enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_GEMM_DEFAULT = -1 };
enum { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_64F = 70, CUBLAS_COMPUTE_32F_FAST_TF32 = 77 };

typedef cublasStatus_t (*pfn_create)(cublasHandle_t *);
typedef cublasStatus_t (*pfn_destroy)(cublasHandle_t);
typedef cublasStatus_t (*pfn_set_stream)(cublasHandle_t, CUstream);
typedef cublasStatus_t (*pfn_gemm_ex)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int,
                                      int, const void *, int, int, const void *, void *, int, int, int, int);
typedef cublasStatus_t (*pfn_gemm_sb_ex)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int,
                                         int, long long, const void *, int, int, long long, const void *, void *,
                                         int, int, long long, int, int, int);

typedef struct ct_cuda_blas {
  cublasHandle_t handle;
  pfn_destroy destroy;
  pfn_gemm_ex gemm;
  pfn_gemm_sb_ex gemm_batched;
  pthread_mutex_t lock; /* a cuBLAS handle is not for concurrent use */
} ct_cuda_blas;

static void blas_destroy(ct_cuda_device *cd) {
  ct_cuda_blas *b = cd->blas;
  if (b == NULL) return;
  if (b->handle) b->destroy(b->handle);
  pthread_mutex_destroy(&b->lock);
  free(b);
  cd->blas = NULL;
}

static const char *status_name(cublasStatus_t s) {
  switch (s) {
  case 0: return "CUBLAS_STATUS_SUCCESS";
  case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
  case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
  case 7: return "CUBLAS_STATUS_INVALID_VALUE";
  case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
  case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
  case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
  case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
  case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
  default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

/* The device's cuBLAS handle, created on first use (cuBLAS is only opened
 * then: loading it costs 55-400 ms). Called with the context current. */
static ct_status blas_of(ct_cuda_device *cd, ct_cuda_blas **out) {
  ct_status s = CT_OK;
  pthread_mutex_lock(&cd->state->lock);
  ct_cuda_blas *b = cd->blas;
  pthread_mutex_unlock(&cd->state->lock);
  if (b) {
    *out = b;
    return CT_OK;
  }
  void *lib = NULL;
  s = ct_cuda_load_cublas(cd->ctx, &lib, NULL);
  if (s != CT_OK) return s;
  b = calloc(1, sizeof *b);
  if (b == NULL) return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory for cuBLAS", cd->dev->short_name);
  pfn_create create = (pfn_create)dlsym(lib, "cublasCreate_v2");
  pfn_set_stream set_stream = (pfn_set_stream)dlsym(lib, "cublasSetStream_v2");
  b->destroy = (pfn_destroy)dlsym(lib, "cublasDestroy_v2");
  b->gemm = (pfn_gemm_ex)dlsym(lib, "cublasGemmEx");
  b->gemm_batched = (pfn_gemm_sb_ex)dlsym(lib, "cublasGemmStridedBatchedEx");
  if (!create || !set_stream || !b->destroy || !b->gemm || !b->gemm_batched) {
    free(b);
    return ct_error(CT_UNAVAILABLE, "%s: the cuBLAS library lacks cublasGemmEx or a function it needs",
                    cd->dev->short_name);
  }
  const char *call = "cublasCreate_v2";
  cublasStatus_t r = create(&b->handle);
  if (r == CUBLAS_STATUS_SUCCESS) {
    call = "cublasSetStream_v2";
    r = set_stream(b->handle, cd->stream);
  }
  if (r != CUBLAS_STATUS_SUCCESS) {
    if (b->handle) b->destroy(b->handle);
    free(b);
    return ct_error(CT_UNAVAILABLE, "%s: MatMul: cuBLAS initialisation failed: %s (%d) from %s", cd->dev->short_name,
                    status_name(r), r, call);
  }
  pthread_mutex_init(&b->lock, NULL);
  pthread_mutex_lock(&cd->state->lock);
  if (cd->blas == NULL) {
    cd->blas = b;
    cd->blas_destroy = blas_destroy;
  } else { /* another thread won the race */
    b->destroy(b->handle);
    pthread_mutex_destroy(&b->lock);
    free(b);
  }
  *out = cd->blas;
  pthread_mutex_unlock(&cd->state->lock);
  return CT_OK;
}

ct_status ct_cuda_matmul_kernel(const ct_kernel_args *args) {
  const ct_matmul_attrs *at = args->attrs;
  const ct_tensor *a = args->in[0], *b = args->in[1];
  ct_tensor *c = args->out;
  if (c->numel == 0) return CT_OK;
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  int ra = a->rank, rb = b->rank;
  int64_t m = c->shape[c->rank - 2], n = c->shape[c->rank - 1];
  int64_t k = at->transpose_a ? a->shape[ra - 2] : a->shape[ra - 1];
  int64_t batch = c->rank == 3 ? c->shape[0] : 1;
  int64_t ba = ra == 3 ? a->shape[0] : 1, bb = rb == 3 ? b->shape[0] : 1;
  int64_t lda = a->shape[ra - 1], ldb = b->shape[rb - 1];
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX || batch > INT_MAX)
    return ct_error(CT_UNIMPLEMENTED, "matmul: dimensions above %d are not supported on the GPU", INT_MAX);

  int type, compute;
  float alpha32 = 1.0f, beta32 = 0.0f;
  double alpha64 = 1.0, beta64 = 0.0;
  const void *alpha = &alpha32, *beta = &beta32;
  switch (a->dtype) {
  case CT_FLOAT32:
    type = CUDA_R_32F;
    compute = atomic_load(&args->ctx->tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    break;
  case CT_FLOAT64:
    type = CUDA_R_64F;
    compute = CUBLAS_COMPUTE_64F;
    alpha = &alpha64;
    beta = &beta64;
    break;
  case CT_FLOAT16: type = CUDA_R_16F, compute = CUBLAS_COMPUTE_32F; break;
  case CT_BFLOAT16: type = CUDA_R_16BF, compute = CUBLAS_COMPUTE_32F; break;
  default: return ct_error(CT_INTERNAL, "matmul: no GPU kernel for %s", ct_dtype_name(a->dtype));
  }
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK) return s;
  if (k == 0) { /* cuBLAS would leave C alone; a sum of no products is 0 */
    CUresult cr = cd->drv->cuMemsetD8Async((CUdeviceptr)(uintptr_t)c->data, 0, c->nbytes, cd->stream);
    if (cr != CUDA_SUCCESS) return ct_cuda_check(cd, cr, "MatMul");
    ct_cuda_note_enqueued(cd, ct_op_tf_name(CT_OP_MATMUL));
    return CT_OK;
  }
  ct_cuda_blas *bl = NULL;
  s = blas_of(cd, &bl);
  if (s != CT_OK) return s;
  /* swapped operands: C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m) */
  int opb = at->transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N, opa = at->transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t r;
  pthread_mutex_lock(&bl->lock);
  if (batch == 1 && c->rank == 2) {
    r = bl->gemm(bl->handle, opb, opa, (int)n, (int)m, (int)k, alpha, b->data, type, (int)ldb, a->data, type,
                 (int)lda, beta, c->data, type, (int)n, compute, CUBLAS_GEMM_DEFAULT);
  } else {
    long long stride_a = ba == 1 ? 0 : (long long)(a->shape[ra - 2] * a->shape[ra - 1]);
    long long stride_b = bb == 1 ? 0 : (long long)(b->shape[rb - 2] * b->shape[rb - 1]);
    long long stride_c = (long long)(m * n);
    r = bl->gemm_batched(bl->handle, opb, opa, (int)n, (int)m, (int)k, alpha, b->data, type, (int)ldb, stride_b,
                         a->data, type, (int)lda, stride_a, beta, c->data, type, (int)n, stride_c, (int)batch,
                         compute, CUBLAS_GEMM_DEFAULT);
  }
  pthread_mutex_unlock(&bl->lock);
  if (r != CUBLAS_STATUS_SUCCESS)
    return ct_error(CT_INTERNAL, "%s: MatMul: cuBLAS gemm failed: %s (%d)", cd->dev->short_name, status_name(r), r);
  ct_cuda_note_enqueued(cd, ct_op_tf_name(CT_OP_MATMUL));
  return CT_OK;
}
