/* Per-device kernel table: compile or load once, then look up (jit.h). */
#include "cuda/jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jit_entry {
  char *key; /* "module\ninstantiation" */
  CUmodule module;
  CUfunction fn[2];
} jit_entry;

typedef struct ct_cuda_jit {
  pthread_mutex_t lock;
  bool nvrtc_tried;
  ct_status nvrtc_status;
  char nvrtc_error[CT_INFO_TEXT_MAX * 2];
  ct_nvrtc nvrtc;
  ct_nvrtc_target target;
  ct_kernel_cache cache;
  jit_entry *entries;
  int n, cap;
} ct_cuda_jit;

static void jit_destroy(ct_cuda_device *cd) {
  ct_cuda_jit *j = cd->module_cache;
  if (j == NULL) return;
  for (int i = 0; i < j->n; i++) {
    if (j->entries[i].module) cd->drv->cuModuleUnload(j->entries[i].module);
    free(j->entries[i].key);
  }
  free(j->entries);
  pthread_mutex_destroy(&j->lock);
  free(j);
  cd->module_cache = NULL;
}

/* The device's table, created on first use. The environment (cache
 * directory) is read here, once per device. */
static ct_cuda_jit *jit_of(ct_cuda_device *cd) {
  pthread_mutex_lock(&cd->state->lock);
  ct_cuda_jit *j = cd->module_cache;
  if (j == NULL) {
    j = calloc(1, sizeof *j);
    if (j != NULL) {
      pthread_mutex_init(&j->lock, NULL);
      ct_kernel_cache_init(&j->cache, NULL);
      cd->module_cache = j;
      cd->module_cache_destroy = jit_destroy;
    }
  }
  pthread_mutex_unlock(&cd->state->lock);
  return j;
}

/* Loads and binds NVRTC and picks the target, once; under j->lock. */
static ct_status ensure_nvrtc(ct_cuda_jit *j, ct_cuda_device *cd) {
  if (!j->nvrtc_tried) {
    j->nvrtc_tried = true;
    void *h = NULL;
    ct_status s = ct_cuda_load_nvrtc(cd->ctx, &h);
    if (s == CT_OK) s = ct_nvrtc_bind(h, &j->nvrtc);
    if (s == CT_OK) s = ct_nvrtc_pick_target(&j->nvrtc, cd->cc_major, cd->cc_minor, &j->target);
    j->nvrtc_status = s;
    if (s != CT_OK) snprintf(j->nvrtc_error, sizeof j->nvrtc_error, "%s", ct_last_error());
  }
  if (j->nvrtc_status != CT_OK)
    return ct_error(j->nvrtc_status, "%s: GPU kernels need NVRTC: %s", cd->dev->short_name, j->nvrtc_error);
  return CT_OK;
}

/* Whether the driver refused an image itself (damaged, for another GPU or
 * driver, lacking the kernel), as opposed to failing for want of memory
 * or with a destroyed context: only the first is cured by compiling again. */
static bool image_refused(CUresult r) {
  return r == 200 /* INVALID_IMAGE */ || r == 209 /* NO_BINARY_FOR_GPU */ || r == 218 /* INVALID_PTX */ ||
         r == 222 /* UNSUPPORTED_PTX_VERSION */ || r == 500 /* NOT_FOUND: a kernel missing from the image */;
}

/* Loads an image into the device's context and finds the kernel(s); the
 * driver's error, if any, in *refused_by (CUDA_SUCCESS otherwise). */
static ct_status load_image(ct_cuda_device *cd, const ct_cuda_kref *k, const void *image, jit_entry *e,
                            CUresult *result) {
  ct_status s = ct_cuda_make_current(cd);
  CUresult r = CUDA_SUCCESS;
  if (s == CT_OK) {
    r = cd->drv->cuModuleLoadData(&e->module, image);
    if (r != CUDA_SUCCESS) {
      e->module = NULL;
      s = ct_cuda_check(cd, r, "cuModuleLoadData");
    }
  }
  for (int i = 0; s == CT_OK && i < 2 && k->name[i][0]; i++) {
    r = cd->drv->cuModuleGetFunction(&e->fn[i], e->module, k->name[i]);
    if (r != CUDA_SUCCESS) s = ct_cuda_check(cd, r, "cuModuleGetFunction");
  }
  if (s != CT_OK && e->module) {
    cd->drv->cuModuleUnload(e->module);
    e->module = NULL;
  }
  *result = r;
  return s;
}

static ct_status build(ct_cuda_jit *j, ct_cuda_device *cd, const ct_cuda_kref *k, jit_entry *e) {
  ct_status s = ensure_nvrtc(j, cd);
  if (s != CT_OK) return s;
  char *src = ct_cuda_kref_source(k);
  if (src == NULL)
    return ct_error(CT_INTERNAL, "%s: kernel source %s is not embedded (or out of memory)", k->name[0], k->module);
  /* The key covers exactly what NVRTC gets: the program, every header it
   * may include, every option, the library and the target. */
  const char *htexts[32], *hnames[32];
  const char *opts[2] = {j->target.option, k->option};
  ct_kernel_cache_inputs in = {.arch = j->target.arch,
                               .options = opts,
                               .n_options = k->option ? 2 : 1,
                               .nvrtc_version = j->nvrtc.build_id,
                               .source = src,
                               .header_names = hnames,
                               .header_texts = htexts,
                               .n_headers = ct_nvrtc_headers(htexts, hnames, 32)};
  char key[CT_KCACHE_KEY_HEX];
  ct_kernel_cache_key_of(&in, key);
  void *image = NULL;
  size_t size = 0;
  ct_kernel_cache_set_target(&j->cache, j->target.arch, cd->state ? cd->state->driver_version : 0,
                             j->nvrtc.build_id);
  bool cached = ct_kernel_cache_load(&j->cache, key, &image, &size);
  if (!cached && j->cache.why[0]) {
    /* an unsafe directory stays so for the process: said once; a bad entry
     * is said each time, as it names the kernel */
    if (j->cache.dir_refused)
      ct_logf_once(cd->ctx, "kernel-cache-dir", CT_LOG_WARNING, "%s", j->cache.why);
    else
      ct_logf(cd->ctx, CT_LOG_WARNING, "%s (%s)", j->cache.why, k->name[0]);
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!cached) {
      s = ct_nvrtc_compile(&j->nvrtc, &j->target, k->name[0], src, opts + 1, k->option ? 1 : 0, &image, &size);
      if (s == CT_OK && ct_kernel_cache_store(&j->cache, key, image, size) != CT_OK) {
        /* a read-only or full cache directory costs only the next compile */
        ct_logf_once(cd->ctx, "kernel-cache-store", CT_LOG_WARNING, "%s", ct_last_error());
      }
      if (s != CT_OK) break;
    }
    CUresult r = CUDA_SUCCESS;
    s = load_image(cd, k, image, e, &r);
    free(image);
    image = NULL;
    /* Out of memory, or a context destroyed by earlier work: a fresh
     * compile would fail the same way and the entry is good. */
    if (s == CT_OK || !cached || !image_refused(r)) break;
    /* The driver refused a cached image (written by another driver, cut
     * short by a full disk, ...): it would be refused forever, so it goes
     * and the kernel is compiled again. */
    ct_logf(cd->ctx, CT_LOG_WARNING, "kernel cache: %s; evicting the cached %s and compiling it again",
            ct_last_error(), k->name[0]);
    ct_kernel_cache_evict(&j->cache, key);
    cached = false;
  }
  free(src);
  if (s != CT_OK)
    return ct_error_prefix(s, "%s: kernel %s (%s for %s)", cd->dev->short_name, k->name[0], k->module, j->target.arch);
  return CT_OK;
}

ct_status ct_cuda_kernel_get(ct_cuda_device *cd, const ct_cuda_kref *k, CUfunction fn[2]) {
  ct_cuda_jit *j = jit_of(cd);
  if (j == NULL) return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory for the kernel table", cd->dev->short_name);
  char key[160];
  snprintf(key, sizeof key, "%s\n%s", k->module, k->inst);
  pthread_mutex_lock(&j->lock);
  for (int i = 0; i < j->n; i++) {
    if (strcmp(j->entries[i].key, key) == 0) {
      fn[0] = j->entries[i].fn[0];
      fn[1] = j->entries[i].fn[1];
      pthread_mutex_unlock(&j->lock);
      return CT_OK;
    }
  }
  ct_status s = CT_OK;
  if (j->n == j->cap) {
    int cap = j->cap ? 2 * j->cap : 32;
    jit_entry *grown = realloc(j->entries, (size_t)cap * sizeof *grown);
    if (grown == NULL) s = ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory for the kernel table", cd->dev->short_name);
    else j->entries = grown, j->cap = cap;
  }
  jit_entry e = {0};
  if (s == CT_OK) s = build(j, cd, k, &e);
  if (s == CT_OK) {
    e.key = strdup(key);
    if (e.key == NULL) {
      cd->drv->cuModuleUnload(e.module);
      s = ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory for the kernel table", cd->dev->short_name);
    } else {
      j->entries[j->n++] = e;
      fn[0] = e.fn[0];
      fn[1] = e.fn[1];
    }
  }
  pthread_mutex_unlock(&j->lock);
  return s;
}

ct_status ct_cuda_launch(ct_cuda_device *cd, ct_op op, CUfunction f, unsigned grid_x, unsigned grid_y,
                         unsigned block, void **params) {
  const char *name = ct_op_tf_name(op);
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK) return s;
  if (grid_x == 0 || grid_y == 0) return CT_OK; /* nothing to do */
  CUresult r = cd->drv->cuLaunchKernel(f, grid_x, grid_y, 1, block, 1, 1, 0, cd->stream, params, NULL);
  if (r != CUDA_SUCCESS) return ct_cuda_check(cd, r, name);
  ct_cuda_note_enqueued(cd, name);
  return CT_OK;
}

unsigned ct_cuda_grid_for(const ct_cuda_device *cd, int64_t work, unsigned block) {
  if (work <= 0) return 1;
  int64_t blocks = (work + block - 1) / block;
  int64_t cap = (int64_t)(cd->sm_count > 0 ? cd->sm_count : 16) * 32;
  return (unsigned)(blocks < cap ? blocks : cap);
}

void ct_cuda_jit_cache_stats(ct_cuda_device *cd, ct_kernel_cache *out) {
  memset(out, 0, sizeof *out);
  ct_cuda_jit *j = cd->module_cache;
  if (j == NULL) return;
  pthread_mutex_lock(&j->lock);
  *out = j->cache;
  pthread_mutex_unlock(&j->lock);
}
