/* The public view of the loader: which GPU libraries were found, at what
 * version, and every attempt made to find or open them. */
#include <stdio.h>
#include <string.h>

#include "cuda/loader.h"

int ct_gpu_library_count(ct_context *ctx) {
  if (ctx == NULL || ct_context_discover(ctx) != CT_OK) return 0;
  return CT_CUDA_LIB_COUNT;
}

ct_status ct_gpu_library_get(ct_context *ctx, int i, ct_gpu_library_info *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "gpu_library_get: NULL argument");
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  if (i < 0 || i >= CT_CUDA_LIB_COUNT)
    return ct_error(CT_OUT_OF_RANGE, "gpu_library_get: index %d out of range: %d libraries", i, CT_CUDA_LIB_COUNT);
  ct_cuda_state *cs = ct_cuda_state_get(ctx);
  if (cs == NULL) return ct_last_status();
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", ct_cuda_lib_name((ct_cuda_lib)i));
  pthread_mutex_lock(&cs->lock);
  const ct_cuda_library *lib = &cs->libs[i];
  out->loaded = lib->handle != NULL;
  out->found = out->loaded || lib->located;
  snprintf(out->path, sizeof out->path, "%s", lib->path);
  out->version_major = lib->version_major;
  out->version_minor = lib->version_minor;
  if (i == CT_CUDA_LIB_DRIVER && cs->driver_version > 0) {
    /* The driver's own answer beats any file name. */
    out->version_major = cs->driver_version / 1000;
    out->version_minor = cs->driver_version % 1000 / 10;
  }
  if (lib->too_new)
    snprintf(out->detail, sizeof out->detail, "only versions newer than the driver supports were found");
  else if (!out->found)
    snprintf(out->detail, sizeof out->detail, "%s", lib->error[0] ? lib->error : "not found");
  else if (lib->tried && lib->status != CT_OK)
    snprintf(out->detail, sizeof out->detail, "%s", lib->error);
  pthread_mutex_unlock(&cs->lock);
  return CT_OK;
}

int ct_gpu_load_attempt_count(ct_context *ctx) {
  if (ctx == NULL || ct_context_discover(ctx) != CT_OK) return 0;
  const ct_cuda_load_record *recs;
  return ct_cuda_loader_records(ctx, &recs);
}

ct_status ct_gpu_load_attempt_get(ct_context *ctx, int i, ct_gpu_load_attempt *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "gpu_load_attempt_get: NULL argument");
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  ct_cuda_state *cs = ct_cuda_state_get(ctx);
  if (cs == NULL) return ct_last_status();
  pthread_mutex_lock(&cs->lock);
  if (i < 0 || i >= cs->n_records) {
    int n = cs->n_records;
    pthread_mutex_unlock(&cs->lock);
    return ct_error(CT_OUT_OF_RANGE, "gpu_load_attempt_get: index %d out of range: %d attempts", i, n);
  }
  const ct_cuda_load_record *r = &cs->records[i];
  memset(out, 0, sizeof *out);
  snprintf(out->library, sizeof out->library, "%s", ct_cuda_lib_name(r->lib));
  snprintf(out->stage, sizeof out->stage, "%s", r->stage);
  out->opened = r->opened;
  out->ok = r->ok;
  snprintf(out->name, sizeof out->name, "%s", r->name);
  snprintf(out->path, sizeof out->path, "%s", r->path);
  snprintf(out->error, sizeof out->error, "%s", r->error);
  pthread_mutex_unlock(&cs->lock);
  return CT_OK;
}
