/*
 * Whether NVRTC and cuBLAS work, decided by opening them.
 *
 * Discovery only *locates* them (a few stat calls, so that listing devices
 * stays in milliseconds), and drops the kernels of a library it did not
 * find. A library that is found can still be unusable: a file dlopen
 * refuses (a wheel built for a newer glibc, a missing dependency, a damaged
 * file), or an NVRTC that opens but cannot compile (libnvrtc-builtins
 * missing: NVRTC opens it only when it compiles). So placement asks, before
 * it relies on a GPU kernel that needs one (ct_gpu_kernel_ready), and this
 * opens the library, once per context:
 *
 *   NVRTC   dlopen, the entry points ctensor binds, and one tiny program
 *           compiled to PTX (its result kept in the kernel cache like any
 *           kernel, so a warm process pays no compile for it);
 *   cuBLAS  dlopen of cuBLASLt and cuBLAS, and the entry points.
 *
 * A library that fails is recorded as the GPUs' NO_NVRTC / NO_CUBLAS reason
 * with the dlopen (or NVRTC) error, and its kernels count as absent from
 * then on: unscoped ops run on the CPU, scoped ones fall back softly
 * (NO_KERNEL) or, in strict mode, fail naming the library.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"
#include "cuda/kernel_cache.h"
#include "cuda/nvrtc.h"

static const char probe_source[] =
    "extern \"C\" __global__ void ct_library_probe(float *p) { if (p) p[threadIdx.x] = 1.0f; }\n";

/* NVRTC opens, binds and compiles the probe. */
static ct_status nvrtc_works(ct_context *ctx) {
  void *h = NULL;
  ct_status s = ct_cuda_load_nvrtc(ctx, &h);
  if (s != CT_OK) return s;
  ct_nvrtc nv;
  s = ct_nvrtc_bind(h, &nv);
  if (s != CT_OK) return s;
  /* PTX for the oldest architecture NVRTC knows: valid for every GPU, and
   * the same probe (the same cache entry) whatever the GPUs. */
  int arch = 0;
  for (int i = 0; i < nv.n_archs; i++)
    if (arch == 0 || nv.archs[i] < arch) arch = nv.archs[i];
  if (arch == 0) arch = nv.major >= 13 ? 75 : 52;
  ct_nvrtc_target t;
  memset(&t, 0, sizeof t);
  snprintf(t.arch, sizeof t.arch, "compute_%d", arch);
  snprintf(t.option, sizeof t.option, "-arch=%s", t.arch);
  t.cubin = false;
  const char *htexts[32], *hnames[32];
  const char *opts[1] = {t.option};
  ct_kernel_cache_inputs in = {.arch = t.arch,
                               .options = opts,
                               .n_options = 1,
                               .nvrtc_version = nv.build_id,
                               .source = probe_source,
                               .header_names = hnames,
                               .header_texts = htexts,
                               .n_headers = ct_nvrtc_headers(htexts, hnames, 32)};
  char key[CT_KCACHE_KEY_HEX];
  ct_kernel_cache_key_of(&in, key);
  ct_kernel_cache cache;
  ct_kernel_cache_init(&cache, NULL);
  ct_cuda_state *st = ct_cuda_state_get(ctx);
  ct_kernel_cache_set_target(&cache, t.arch, st ? st->driver_version : 0, nv.build_id);
  void *image = NULL;
  size_t size = 0;
  if (ct_kernel_cache_load(&cache, key, &image, &size)) {
    free(image); /* this very NVRTC compiled it before */
    return CT_OK;
  }
  s = ct_nvrtc_compile(&nv, &t, "ct_library_probe", probe_source, NULL, 0, &image, &size);
  if (s == CT_OK) {
    ct_kernel_cache_store(&cache, key, image, size); /* a failed store only costs the next probe */
    free(image);
  }
  return s;
}

static ct_status cublas_works(ct_context *ctx) {
  void *lib = NULL;
  ct_status s = ct_cuda_load_cublas(ctx, &lib, NULL);
  if (s != CT_OK) return s;
  static const char *const needed[] = {"cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasGemmEx",
                                       "cublasGemmStridedBatchedEx"};
  for (size_t i = 0; i < CT_ARRAY_LEN(needed); i++)
    if (dlsym(lib, needed[i]) == NULL)
      return ct_error(CT_UNAVAILABLE, "the cuBLAS library lacks %s", needed[i]);
  return CT_OK;
}

/* The part of the error worth a reason line: the loader's own summary of
 * its attempts ("override: <dlerror>") when the open failed, else the
 * error text. */
static void why(ct_context *ctx, ct_cuda_lib lib, char *out, size_t size) {
  const ct_cuda_library *L = ct_cuda_library_get(ctx, lib);
  /* cuBLASLt is opened first, for cuBLAS */
  const ct_cuda_library *LT = lib == CT_CUDA_LIB_CUBLAS ? ct_cuda_library_get(ctx, CT_CUDA_LIB_CUBLASLT) : NULL;
  if (LT && LT->tried && LT->status != CT_OK && LT->error[0])
    snprintf(out, size, "cuBLASLt: %s", LT->error);
  else if (L && L->tried && L->status != CT_OK && L->error[0])
    snprintf(out, size, "%s", L->error);
  else
    snprintf(out, size, "%s", ct_last_error());
}

/* Every usable GPU gets the reason; NO_NVRTC (only copies run) outranks
 * NO_CUBLAS (all but matmul runs). Caller holds ctx->lock. */
static void mark_gpus(ct_context *ctx, ct_gpu_reason reason, const char *detail) {
  for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++) {
    ct_physical_device_info *g = &ctx->phys[CT_DEV_GPU][p];
    if (!g->usable || g->reason == CT_GPU_NO_NVRTC) continue;
    g->reason = reason;
    snprintf(g->reason_detail, sizeof g->reason_detail, "%s", detail);
  }
}

unsigned ct_cuda_check_libraries(ct_context *ctx, unsigned need) {
  unsigned bad = 0;
  char err[CT_INFO_TEXT_MAX * 2], detail[CT_INFO_TEXT_MAX];
  if (need & CT_GPU_NEEDS_CUBLAS) {
    if (cublas_works(ctx) != CT_OK) {
      bad |= CT_GPU_NEEDS_CUBLAS;
      why(ctx, CT_CUDA_LIB_CUBLAS, err, sizeof err);
      snprintf(detail, sizeof detail, "cuBLAS found but unusable (set CT_CUBLAS_PATH): matmul cannot run on this "
               "GPU: %s", err);
      ct_logf(ctx, CT_LOG_WARNING, "GPU: %s", detail);
      pthread_mutex_lock(&ctx->lock);
      mark_gpus(ctx, CT_GPU_NO_CUBLAS, detail);
      pthread_mutex_unlock(&ctx->lock);
    }
  }
  if (need & CT_GPU_NEEDS_NVRTC) {
    if (nvrtc_works(ctx) != CT_OK) {
      bad |= CT_GPU_NEEDS_NVRTC;
      why(ctx, CT_CUDA_LIB_NVRTC, err, sizeof err);
      bool matmul = (atomic_load(&ctx->gpu_libs_bad) & CT_GPU_NEEDS_CUBLAS) == 0 && !(bad & CT_GPU_NEEDS_CUBLAS);
      snprintf(detail, sizeof detail, "NVRTC found but unusable (set CT_NVRTC_PATH): only copies%s run on this "
               "GPU: %s", matmul ? " and matmul" : "", err);
      ct_logf(ctx, CT_LOG_WARNING, "GPU: %s", detail);
      pthread_mutex_lock(&ctx->lock);
      for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++)
        if (ctx->phys[CT_DEV_GPU][p].reason == CT_GPU_NO_CUBLAS) ctx->phys[CT_DEV_GPU][p].reason = CT_GPU_USABLE;
      mark_gpus(ctx, CT_GPU_NO_NVRTC, detail);
      pthread_mutex_unlock(&ctx->lock);
    }
  }
  ct_error_clear(); /* placement goes on: the failure is a reason, not an error */
  return bad;
}
