/*
 * A fake cuBLAS (libcublas.so.13) for tests on machines without a GPU.
 *
 * It exports the entry points src/cuda/cublas.c resolves (cublasCreate_v2,
 * cublasDestroy_v2, cublasSetStream_v2, cublasGemmEx,
 * cublasGemmStridedBatchedEx) and computes GEMMs with plain column-major
 * host loops, since the fake driver's device memory is host memory. It
 * follows cuBLAS's documented semantics: C = alpha op(A) op(B) + beta C,
 * op(X) = X or X^T, leading dimensions checked as the real library does
 * (CUBLAS_STATUS_INVALID_VALUE, so a wrong one fails a test instead of
 * reading garbage), beta == 0 overwrites C without reading it, k == 0
 * scales C by beta, the supported (data type, compute type) pairs, and the
 * input rounding of the FAST compute types (TF32: 10-bit mantissa).
 *
 * Stricter than the real library, because a GPU would fault or race
 * instead of reporting: every matrix range (over all batches) must lie in
 * one live allocation of the fake driver (CUBLAS_STATUS_EXECUTION_FAILED
 * otherwise), the output must not overlap an input or, in a batch, itself
 * (INVALID_VALUE), alpha and beta must be host pointers, and the context
 * current at the call must be the one current at cublasCreate.
 *
 * The last call's parameters, status and the byte ranges it touched are
 * kept for tests: ct_fake_cublas_last_call(). Configuration (environment,
 * read at each call): CT_FAKE_CUBLAS_CREATE_ERROR=<status> makes
 * cublasCreate_v2 fail, CT_FAKE_CUBLAS_GEMM_ERROR=<status> every GEMM.
 * CT_FAKE_CUBLAS_FAIL=<entry>@<N>[=<status>] fails one call
 * (fake_fail.h), counted from the fake driver's last configuring cuInit;
 * ct_fake_cublas_calls() returns the counts.
 *
 * Built with CT_FAKE_CUBLASLT as libcublasLt.so.13, which ctensor's loader
 * opens before cuBLAS; it only exports cublasLtGetVersion.
 *
 * The fake driver is found among the loaded libraries through
 * CT_CUDA_DRIVER_PATH (a file or a directory), else as libcuda.so.1.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake_fail.h"

#define EXPORT __attribute__((visibility("default")))

#ifdef CT_FAKE_CUBLASLT

EXPORT size_t cublasLtGetVersion(void) { return 130000; /* 13.0.0: major * 10000 + minor * 100 + patch */ }

#else

/* Values from cublas_api.h and library_types.h (CUDA 13), not included:
 * the fake, like ctensor, builds without CUDA headers. */
enum {
  ST_SUCCESS = 0,
  ST_NOT_INITIALIZED = 1,
  ST_INVALID_VALUE = 7,
  ST_EXECUTION_FAILED = 13,
  ST_NOT_SUPPORTED = 15
};
enum { OP_N = 0, OP_T = 1, OP_C = 2 };
enum { R_32F = 0, R_64F = 1, R_16F = 2, R_16BF = 14 };
enum {
  COMPUTE_16F = 64,
  COMPUTE_16F_PEDANTIC = 65,
  COMPUTE_32F = 68,
  COMPUTE_32F_PEDANTIC = 69,
  COMPUTE_64F = 70,
  COMPUTE_64F_PEDANTIC = 71,
  COMPUTE_32F_FAST_16F = 74,
  COMPUTE_32F_FAST_16BF = 75,
  COMPUTE_32F_FAST_TF32 = 77
};
enum { ALGO_DEFAULT = -1, ALGO_LAST = 23, ALGO_TENSOR_OP_FIRST = 99, ALGO_TENSOR_OP_LAST = 115 };

#define HANDLE_MAGIC 0xcb1a5u

typedef struct fake_handle {
  unsigned magic;
  void *driver;                       /* dlopen handle of the fake driver */
  int (*valid_range)(unsigned long long, size_t);
  int (*ctx_get_current)(void **);
  void *ctx;                          /* current at cublasCreate */
  void *stream;
} fake_handle;

/* What the last GEMM was asked, what it touched and what it answered. */
typedef struct ct_fake_cublas_call {
  long count;          /* GEMM calls that succeeded */
  long rejected;       /* GEMM calls that returned an error */
  int live_handles;    /* cublasCreate minus cublasDestroy */
  int status;          /* of the last call */
  char func[32];       /* "cublasGemmEx" or "cublasGemmStridedBatchedEx" */
  int transa, transb, m, n, k;
  int atype, btype, ctype, compute_type, algo;
  int lda, ldb, ldc;
  long long stride_a, stride_b, stride_c;
  int batch;           /* 1 for cublasGemmEx */
  double alpha, beta;
  void *stream;        /* set by cublasSetStream_v2 (NULL: the legacy default stream) */
  /* Bytes read or written, over every batch: [ptr + lo, ptr + hi). */
  const void *a, *b, *c;
  long long a_lo, a_hi, b_lo, b_hi, c_lo, c_hi;
  char error[200];     /* why the last failed call failed */
} ct_fake_cublas_call;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ct_fake_cublas_call last_call;

static int env_int(const char *name, int dflt) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : dflt;
}

/* ---- CT_FAKE_CUBLAS_FAIL ------------------------------------------------ */

enum { F_cublasCreate, F_cublasDestroy, F_cublasSetStream, F_cublasGemmEx, F_cublasGemmStridedBatchedEx, F_COUNT };
/* By default: no memory for the handle's workspace (3,
 * CUBLAS_STATUS_ALLOC_FAILED), a GEMM that failed on the GPU (13,
 * CUBLAS_STATUS_EXECUTION_FAILED), anything else (14, INTERNAL_ERROR). */
static const fake_fail_entry fail_entries[F_COUNT] = {
    {"cublasCreate", 3}, {"cublasDestroy", 14}, {"cublasSetStream", 14}, {"cublasGemmEx", 13},
    {"cublasGemmStridedBatchedEx", 13},
};
static fake_fail fails = {"CT_FAKE_CUBLAS_FAIL", "fake libcublas", fail_entries, F_COUNT, {0}, {{0, 0, 0}}, 0, 0};
static long fails_epoch = -1;

/* Counts a call; returns the status it must fail with, or 0. */
static int inject(int e) { return fake_fail_inject(&fails, &fails_epoch, &lock, e); }

/* Calls of an entry point ("cublasGemmEx") since the count started; -1
 * for a name CT_FAKE_CUBLAS_FAIL does not know. */
EXPORT long ct_fake_cublas_calls(const char *entry) { return fake_fail_calls(&fails, &fails_epoch, &lock, entry); }

EXPORT void ct_fake_cublas_last_call(ct_fake_cublas_call *out) {
  pthread_mutex_lock(&lock);
  *out = last_call;
  pthread_mutex_unlock(&lock);
}

/* ---- handles ------------------------------------------------------------ */


EXPORT int cublasCreate_v2(fake_handle **out) {
  if (!out) return ST_INVALID_VALUE;
  *out = NULL;
  int forced = inject(F_cublasCreate);
  if (forced) return forced;
  forced = env_int("CT_FAKE_CUBLAS_CREATE_ERROR", 0);
  if (forced) return forced;
  fake_handle *h = calloc(1, sizeof *h);
  if (!h) return 3; /* CUBLAS_STATUS_ALLOC_FAILED */
  h->driver = fake_driver_open();
  if (h->driver) {
    h->valid_range = (int (*)(unsigned long long, size_t))dlsym(h->driver, "ct_fake_cuda_valid_range");
    h->ctx_get_current = (int (*)(void **))dlsym(h->driver, "cuCtxGetCurrent");
  }
  /* Works only with the fake driver loaded and a context current, as the
   * real one needs a CUDA context. */
  if (!h->valid_range || !h->ctx_get_current || h->ctx_get_current(&h->ctx) != 0 || !h->ctx) {
    if (h->driver) dlclose(h->driver);
    free(h);
    return ST_NOT_INITIALIZED;
  }
  h->magic = HANDLE_MAGIC;
  pthread_mutex_lock(&lock);
  last_call.live_handles++;
  pthread_mutex_unlock(&lock);
  *out = h;
  return ST_SUCCESS;
}

EXPORT int cublasDestroy_v2(fake_handle *h) {
  int forced = inject(F_cublasDestroy);
  if (forced) return forced;
  if (!h || h->magic != HANDLE_MAGIC) return ST_NOT_INITIALIZED;
  h->magic = 0;
  dlclose(h->driver);
  free(h);
  pthread_mutex_lock(&lock);
  last_call.live_handles--;
  pthread_mutex_unlock(&lock);
  return ST_SUCCESS;
}

EXPORT int cublasSetStream_v2(fake_handle *h, void *stream) {
  int forced = inject(F_cublasSetStream);
  if (forced) return forced;
  if (!h || h->magic != HANDLE_MAGIC) return ST_NOT_INITIALIZED;
  h->stream = stream;
  return ST_SUCCESS;
}

/* ---- 16-bit floats (round to nearest even) ------------------------------ */

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float half_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));
  if (e == 0) { /* zero or subnormal: man * 2^-24 */
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((e + 112u) << 23) | (man << 13));
}

static uint16_t f32_to_half(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  float a = fabsf(f);
  if (a != a) return (uint16_t)(sign | 0x7e00u);
  if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
  if (a < 0x1p-14f) { /* subnormal half: a multiple of 2^-24, nearbyint rounds to even */
    return (uint16_t)(sign | (uint16_t)nearbyintf(a * 0x1p24f));
  }
  uint32_t ua = f32_bits(a);
  uint32_t rest = ua & 0x1fffu, h = ((ua >> 13) - (112u << 10)) & 0xffffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}

static float bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

static uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if (f != f) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* TF32 keeps 10 mantissa bits; the conversion rounds to nearest, ties away. */
static float round_tf32(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u) return f;
  return bits_f32((u + 0x1000u) & 0xffffe000u);
}

/* ---- element access ------------------------------------------------------ */

static size_t type_size(int t) { return t == R_64F ? 8 : t == R_32F ? 4 : 2; }

static double load(const void *p, int type, long long i) {
  switch (type) {
  case R_32F: return ((const float *)p)[i];
  case R_64F: return ((const double *)p)[i];
  case R_16F: return half_to_f32(((const uint16_t *)p)[i]);
  default: return bf16_to_f32(((const uint16_t *)p)[i]);
  }
}

static void store(void *p, int type, long long i, double v) {
  switch (type) {
  case R_32F: ((float *)p)[i] = (float)v; break;
  case R_64F: ((double *)p)[i] = v; break;
  case R_16F: ((uint16_t *)p)[i] = f32_to_half((float)v); break;
  default: ((uint16_t *)p)[i] = f32_to_bf16((float)v); break;
  }
}

/* ---- checks -------------------------------------------------------------- */

typedef struct gemm_call {
  const char *func;
  fake_handle *h;
  int transa, transb, m, n, k;
  const void *alpha, *beta;
  const void *a, *b;
  void *c;
  int atype, btype, ctype, lda, ldb, ldc;
  long long sa, sb, sc;
  int batch, compute, algo;
} gemm_call;

/* Which scale type (the type of alpha and beta) a compute type implies,
 * and whether the data types are a combination cuBLAS supports with it
 * (cublasGemmEx's table, real types only). -1: not supported. */
static int scale_type(int compute, int at, int bt, int ct) {
  if (at != bt) return -1;
  switch (compute) {
  case COMPUTE_16F:
  case COMPUTE_16F_PEDANTIC: return at == R_16F && ct == R_16F ? R_16F : -1;
  case COMPUTE_32F:
  case COMPUTE_32F_PEDANTIC:
    if (at == R_32F) return ct == R_32F ? R_32F : -1;
    if (at == R_16F || at == R_16BF) return ct == at || ct == R_32F ? R_32F : -1;
    return -1;
  case COMPUTE_32F_FAST_16F:
  case COMPUTE_32F_FAST_16BF:
  case COMPUTE_32F_FAST_TF32: return at == R_32F && ct == R_32F ? R_32F : -1;
  case COMPUTE_64F:
  case COMPUTE_64F_PEDANTIC: return at == R_64F && ct == R_64F ? R_64F : -1;
  default: return -1;
  }
}

static int valid_op(int op) { return op == OP_N || op == OP_T || op == OP_C; }
static int max1(int v) { return v > 1 ? v : 1; }

/* Byte range [lo, hi) a rows x cols column-major matrix with leading
 * dimension ld touches over `batch` matrices `stride` elements apart. */
static void extent(int rows, int cols, int ld, long long stride, int batch, size_t esize, long long *lo,
                   long long *hi) {
  long long one = ((long long)(cols - 1) * ld + rows) * (long long)esize;
  long long last = (long long)(batch - 1) * stride * (long long)esize;
  *lo = last < 0 ? last : 0;
  *hi = (last > 0 ? last : 0) + one;
}

static int overlap(const void *p, long long plo, long long phi, const void *q, long long qlo, long long qhi) {
  intptr_t a0 = (intptr_t)p + (intptr_t)plo, a1 = (intptr_t)p + (intptr_t)phi;
  intptr_t b0 = (intptr_t)q + (intptr_t)qlo, b1 = (intptr_t)q + (intptr_t)qhi;
  return a0 < b1 && b0 < a1;
}

static int in_device(const fake_handle *h, const void *p, long long lo, long long hi) {
  return h->valid_range((unsigned long long)((intptr_t)p + (intptr_t)lo), (size_t)(hi - lo));
}

static double scalar(const void *p, int scale) {
  if (scale == R_64F) return *(const double *)p;
  if (scale == R_16F) return half_to_f32(*(const uint16_t *)p);
  return *(const float *)p;
}

/* Records the call; returns `st` (with `why` as the error when failing). */
static int finish(ct_fake_cublas_call *rec, int st, const char *why) {
  rec->status = st;
  snprintf(rec->error, sizeof rec->error, "%s", st == ST_SUCCESS ? "" : why);
  pthread_mutex_lock(&lock);
  rec->count = last_call.count + (st == ST_SUCCESS);
  rec->rejected = last_call.rejected + (st != ST_SUCCESS);
  rec->live_handles = last_call.live_handles;
  if (st == ST_SUCCESS) memcpy(rec->error, last_call.error, sizeof rec->error);
  last_call = *rec;
  pthread_mutex_unlock(&lock);
  return st;
}

static int gemm(const gemm_call *g) {
  ct_fake_cublas_call rec;
  memset(&rec, 0, sizeof rec);
  snprintf(rec.func, sizeof rec.func, "%s", g->func);
  rec.transa = g->transa, rec.transb = g->transb;
  rec.m = g->m, rec.n = g->n, rec.k = g->k;
  rec.atype = g->atype, rec.btype = g->btype, rec.ctype = g->ctype;
  rec.compute_type = g->compute, rec.algo = g->algo;
  rec.lda = g->lda, rec.ldb = g->ldb, rec.ldc = g->ldc;
  rec.stride_a = g->sa, rec.stride_b = g->sb, rec.stride_c = g->sc;
  rec.batch = g->batch;
  rec.a = g->a, rec.b = g->b, rec.c = g->c;
  char why[200];

  fake_handle *h = g->h;
  if (!h || h->magic != HANDLE_MAGIC) return finish(&rec, ST_NOT_INITIALIZED, "invalid handle");
  rec.stream = h->stream;
  int forced = inject(strcmp(g->func, "cublasGemmEx") == 0 ? F_cublasGemmEx : F_cublasGemmStridedBatchedEx);
  if (forced) return finish(&rec, forced, "CT_FAKE_CUBLAS_FAIL");
  forced = env_int("CT_FAKE_CUBLAS_GEMM_ERROR", 0);
  if (forced) return finish(&rec, forced, "CT_FAKE_CUBLAS_GEMM_ERROR");

  /* cuBLAS's CUBLAS_STATUS_INVALID_VALUE conditions, in its order */
  int rows_a = g->transa == OP_N ? g->m : g->k, cols_a = g->transa == OP_N ? g->k : g->m;
  int rows_b = g->transb == OP_N ? g->k : g->n, cols_b = g->transb == OP_N ? g->n : g->k;
  if (g->m < 0 || g->n < 0 || g->k < 0) {
    snprintf(why, sizeof why, "negative size m=%d n=%d k=%d", g->m, g->n, g->k);
    return finish(&rec, ST_INVALID_VALUE, why);
  }
  if (!valid_op(g->transa) || !valid_op(g->transb)) {
    snprintf(why, sizeof why, "bad transa=%d or transb=%d", g->transa, g->transb);
    return finish(&rec, ST_INVALID_VALUE, why);
  }
  if (g->lda < max1(rows_a) || g->ldb < max1(rows_b) || g->ldc < max1(g->m)) {
    snprintf(why, sizeof why, "leading dimension too small: lda=%d (needs %d), ldb=%d (needs %d), ldc=%d (needs %d)",
             g->lda, max1(rows_a), g->ldb, max1(rows_b), g->ldc, max1(g->m));
    return finish(&rec, ST_INVALID_VALUE, why);
  }
  if (!g->alpha || !g->beta) return finish(&rec, ST_INVALID_VALUE, "alpha or beta is NULL");
  if (g->batch < 0) return finish(&rec, ST_INVALID_VALUE, "negative batchCount");
  if (!(g->algo >= ALGO_DEFAULT && g->algo <= ALGO_LAST) &&
      !(g->algo >= ALGO_TENSOR_OP_FIRST && g->algo <= ALGO_TENSOR_OP_LAST)) {
    snprintf(why, sizeof why, "unknown algo %d", g->algo);
    return finish(&rec, ST_INVALID_VALUE, why);
  }
  int scale = scale_type(g->compute, g->atype, g->btype, g->ctype);
  if (scale < 0) {
    snprintf(why, sizeof why, "types A=%d B=%d C=%d not supported with compute type %d", g->atype, g->btype,
             g->ctype, g->compute);
    return finish(&rec, ST_NOT_SUPPORTED, why);
  }
  /* Pointer mode is host (the default, and cublasSetPointerMode is not
   * exported): alpha and beta in device memory would be read on the host. */
  if (h->valid_range((unsigned long long)(uintptr_t)g->alpha, 1) ||
      h->valid_range((unsigned long long)(uintptr_t)g->beta, 1))
    return finish(&rec, ST_INVALID_VALUE, "alpha or beta is a device pointer in host pointer mode");
  double alpha = scalar(g->alpha, scale), beta = scalar(g->beta, scale);
  rec.alpha = alpha, rec.beta = beta;
  if (g->m == 0 || g->n == 0 || g->batch == 0) return finish(&rec, ST_SUCCESS, "");

  void *cur = NULL;
  if (h->ctx_get_current(&cur) != 0 || cur != h->ctx)
    return finish(&rec, ST_EXECUTION_FAILED, "called with another CUDA context current than at cublasCreate");
  int reads = g->k > 0 && alpha != 0.0; /* quick return: A and B are not read */
  extent(g->m, g->n, g->ldc, g->sc, g->batch, type_size(g->ctype), &rec.c_lo, &rec.c_hi);
  if (!in_device(h, g->c, rec.c_lo, rec.c_hi))
    return finish(&rec, ST_EXECUTION_FAILED, "C lies outside every device allocation");
  if (g->batch > 1 && g->sc < (long long)g->ldc * g->n && g->sc > -(long long)g->ldc * g->n)
    return finish(&rec, ST_INVALID_VALUE, "the C matrices of the batch overlap (strideC < ldc * n)");
  if (reads) {
    extent(rows_a, cols_a, g->lda, g->sa, g->batch, type_size(g->atype), &rec.a_lo, &rec.a_hi);
    extent(rows_b, cols_b, g->ldb, g->sb, g->batch, type_size(g->btype), &rec.b_lo, &rec.b_hi);
    if (!in_device(h, g->a, rec.a_lo, rec.a_hi))
      return finish(&rec, ST_EXECUTION_FAILED, "A lies outside every device allocation");
    if (!in_device(h, g->b, rec.b_lo, rec.b_hi))
      return finish(&rec, ST_EXECUTION_FAILED, "B lies outside every device allocation");
    if (overlap(g->c, rec.c_lo, rec.c_hi, g->a, rec.a_lo, rec.a_hi) ||
        overlap(g->c, rec.c_lo, rec.c_hi, g->b, rec.b_lo, rec.b_hi))
      return finish(&rec, ST_INVALID_VALUE, "C overlaps A or B");
  }

  /* C = alpha op(A) op(B) + beta C, column-major */
  int half_acc = g->compute == COMPUTE_16F || g->compute == COMPUTE_16F_PEDANTIC;
  for (int bi = 0; bi < g->batch; bi++) {
    const char *A = (const char *)g->a + (long long)bi * g->sa * (long long)type_size(g->atype);
    const char *B = (const char *)g->b + (long long)bi * g->sb * (long long)type_size(g->btype);
    char *C = (char *)g->c + (long long)bi * g->sc * (long long)type_size(g->ctype);
    for (int j = 0; j < g->n; j++)
      for (int i = 0; i < g->m; i++) {
        double acc64 = 0.0;
        float acc32 = 0.0f;
        for (int l = 0; reads && l < g->k; l++) {
          long long ia = g->transa == OP_N ? i + (long long)l * g->lda : l + (long long)i * g->lda;
          long long ib = g->transb == OP_N ? l + (long long)j * g->ldb : j + (long long)l * g->ldb;
          double x = load(A, g->atype, ia), y = load(B, g->btype, ib);
          if (scale == R_64F) {
            acc64 += x * y;
            continue;
          }
          float fx = (float)x, fy = (float)y;
          if (g->compute == COMPUTE_32F_FAST_TF32) {
            fx = round_tf32(fx), fy = round_tf32(fy);
          } else if (g->compute == COMPUTE_32F_FAST_16BF) {
            fx = bf16_to_f32(f32_to_bf16(fx)), fy = bf16_to_f32(f32_to_bf16(fy));
          } else if (g->compute == COMPUTE_32F_FAST_16F) {
            fx = half_to_f32(f32_to_half(fx)), fy = half_to_f32(f32_to_half(fy));
          }
          acc32 += fx * fy;
          if (half_acc) acc32 = half_to_f32(f32_to_half(acc32));
        }
        long long ic = i + (long long)j * g->ldc;
        double v;
        if (scale == R_64F) {
          v = alpha * acc64 + (beta != 0.0 ? beta * load(C, g->ctype, ic) : 0.0);
        } else {
          float fv = (float)alpha * acc32;
          if (beta != 0.0) fv += (float)beta * (float)load(C, g->ctype, ic);
          v = fv;
        }
        store(C, g->ctype, ic, v);
      }
  }
  return finish(&rec, ST_SUCCESS, "");
}

EXPORT int cublasGemmEx(fake_handle *h, int transa, int transb, int m, int n, int k, const void *alpha,
                        const void *a, int atype, int lda, const void *b, int btype, int ldb, const void *beta,
                        void *c, int ctype, int ldc, int compute, int algo) {
  gemm_call g = {"cublasGemmEx", h, transa, transb, m, n, k, alpha, beta, a, b, c, atype, btype, ctype,
                 lda, ldb, ldc, 0, 0, 0, 1, compute, algo};
  return gemm(&g);
}

EXPORT int cublasGemmStridedBatchedEx(fake_handle *h, int transa, int transb, int m, int n, int k,
                                      const void *alpha, const void *a, int atype, int lda, long long stride_a,
                                      const void *b, int btype, int ldb, long long stride_b, const void *beta,
                                      void *c, int ctype, int ldc, long long stride_c, int batch, int compute,
                                      int algo) {
  gemm_call g = {"cublasGemmStridedBatchedEx", h, transa, transb, m, n, k, alpha, beta, a, b, c, atype, btype,
                 ctype, lda, ldb, ldc, stride_a, stride_b, stride_c, batch, compute, algo};
  return gemm(&g);
}

#endif /* CT_FAKE_CUBLASLT */
