/*
 * The one stream of a logical GPU, and how errors of asynchronous work get
 * back to the caller.
 *
 * Work is queued on the stream and the host goes on; a kernel that faults
 * is only noticed by the next call that waits (a copy to the host,
 * ct_context_synchronize). That call returns the error and names the ops
 * queued since the previous wait, so that "illegal address" comes with
 * "after AddV2, MatMul" rather than with the innocent copy that noticed it.
 * Errors the driver returns when work is queued (launch configuration,
 * out of resources) are returned by the op itself, at once.
 */
#include <stdio.h>
#include <string.h>

#include "cuda/cuda_device.h"

ct_status ct_cuda_enter(ct_cuda_device *cd, CUcontext *prev) {
  CUcontext cur = NULL;
  *prev = cd->cu_ctx; /* nothing to restore */
  if (cd->drv->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == cd->cu_ctx) return CT_OK;
  CUresult r = cd->drv->cuCtxSetCurrent(cd->cu_ctx);
  if (r != CUDA_SUCCESS) return ct_cuda_check(cd, r, "cuCtxSetCurrent");
  *prev = cur;
  return CT_OK;
}

ct_status ct_cuda_make_current(ct_cuda_device *cd) {
  CUcontext cur = NULL;
  if (cd->drv->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == cd->cu_ctx) return CT_OK;
  CUresult r = cd->drv->cuCtxSetCurrent(cd->cu_ctx);
  return r == CUDA_SUCCESS ? CT_OK : ct_cuda_check(cd, r, "cuCtxSetCurrent");
}

/* Errors after which the context is unusable until it is destroyed. */
static bool is_sticky(CUresult r) {
  return r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_FAILED || r == CUDA_ERROR_LAUNCH_TIMEOUT ||
         r == 714 /* hardware stack error */ || r == 715 /* illegal instruction */ ||
         r == 716 /* misaligned address */ || r == 717 /* invalid address space */ || r == 718 /* invalid pc */;
}

static ct_status status_for(CUresult r) {
  switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY: return CT_RESOURCE_EXHAUSTED;
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_INVALID_HANDLE: return CT_INVALID_ARGUMENT;
    case CUDA_ERROR_NOT_SUPPORTED:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return CT_FAILED_PRECONDITION;
    case CUDA_ERROR_DEVICE_UNAVAILABLE:
    case CUDA_ERROR_LAUNCH_TIMEOUT: return CT_UNAVAILABLE;
    default: return CT_INTERNAL;
  }
}

/* "AddV2, MatMul" (the last CT_CUDA_PENDING_OPS, with a count of the rest).
 * Caller holds async_lock. */
static void pending_list(const ct_cuda_device *cd, char *out, size_t size) {
  size_t n = 0;
  out[0] = '\0';
  int total = cd->n_pending_ops;
  int kept = total < CT_CUDA_PENDING_OPS ? total : CT_CUDA_PENDING_OPS;
  if (total > kept) {
    int w = snprintf(out, size, "%d earlier ops, ", total - kept);
    if (w > 0 && (size_t)w < size) n = (size_t)w;
  }
  for (int i = total - kept; i < total; i++) {
    int w = snprintf(out + n, size - n, "%s%s", i > total - kept ? ", " : "",
                     cd->pending_ops[i % CT_CUDA_PENDING_OPS]);
    if (w < 0 || (size_t)w >= size - n) break;
    n += (size_t)w;
  }
}

ct_status ct_cuda_check(ct_cuda_device *cd, CUresult r, const char *what) {
  if (r == CUDA_SUCCESS) return CT_OK;
  const char *name = ct_cuda_error_name(cd->drv, r);
  const char *text = NULL;
  if (cd->drv->cuGetErrorString && cd->drv->cuGetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
  const char *devname = cd->dev ? cd->dev->short_name : "GPU";
  if (is_sticky(r)) {
    /* The failure belongs to earlier asynchronous work, not to `what`. */
    char ops[256];
    pthread_mutex_lock(&cd->async_lock);
    pending_list(cd, ops, sizeof ops);
    pthread_mutex_unlock(&cd->async_lock);
    return ct_error(CT_INTERNAL,
                    "%s: %s failed with %s (%d): an earlier asynchronous operation failed%s%s; the GPU context "
                    "is unusable until the process restarts",
                    devname, what, name, r, ops[0] ? ", queued since the last synchronisation: " : "", ops);
  }
  return ct_error(status_for(r), "%s: %s failed with %s (%d)%s%s", devname, what, name, r, text ? ": " : "",
                  text ? text : "");
}

void ct_cuda_note_enqueued(ct_cuda_device *cd, const char *op) {
  pthread_mutex_lock(&cd->async_lock);
  cd->pending_ops[cd->n_pending_ops % CT_CUDA_PENDING_OPS] = op ? op : "?";
  cd->n_pending_ops++;
  pthread_mutex_unlock(&cd->async_lock);
}

/* Waits; on failure formats the message into cd->deferred*. Caller holds
 * async_lock. Returns whether the wait failed. */
static bool wait_stream(ct_cuda_device *cd) {
  CUresult r = cd->drv->cuStreamSynchronize(cd->stream);
  if (r == CUDA_SUCCESS) {
    cd->n_pending_ops = 0;
    return false;
  }
  char ops[256];
  pending_list(cd, ops, sizeof ops);
  const char *text = NULL;
  if (cd->drv->cuGetErrorString && cd->drv->cuGetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
  if (cd->deferred == CT_OK) {
    cd->deferred = is_sticky(r) ? CT_INTERNAL : status_for(r);
    snprintf(cd->deferred_msg, sizeof cd->deferred_msg,
             "%s: asynchronous error %s (%d)%s%s in work queued since the last synchronisation: %s",
             cd->dev ? cd->dev->short_name : "GPU", ct_cuda_error_name(cd->drv, r), r, text ? ": " : "",
             text ? text : "", ops[0] ? ops : "(no op recorded; copies only)");
  }
  cd->n_pending_ops = 0;
  return true;
}

void ct_cuda_device_quiesce(ct_cuda_device *cd) {
  pthread_mutex_lock(&cd->async_lock);
  wait_stream(cd);
  pthread_mutex_unlock(&cd->async_lock);
}

ct_status ct_cuda_device_synchronize(ct_cuda_device *cd) {
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK) return s;
  pthread_mutex_lock(&cd->async_lock);
  wait_stream(cd);
  s = cd->deferred;
  char msg[sizeof cd->deferred_msg];
  memcpy(msg, cd->deferred_msg, sizeof msg);
  cd->deferred = CT_OK;
  cd->deferred_msg[0] = '\0';
  pthread_mutex_unlock(&cd->async_lock);
  if (s != CT_OK) return ct_error(s, "%s", msg);
  return CT_OK;
}
