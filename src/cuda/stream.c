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
         r == CUDA_ERROR_ASSERT || r == CUDA_ERROR_ECC_UNCORRECTABLE || r == CUDA_ERROR_CONTEXT_IS_DESTROYED ||
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

/* ---- an error that destroys the context ------------------------------------
 *
 * The context is the physical GPU's primary context, shared by every logical
 * device on that GPU, and a sticky error is the context's, not one stream's:
 * whichever logical device waits first sees it, although the faulting kernel
 * may have been queued by a sibling. So the report names every logical
 * device of the GPU that had unsynchronised work, with its ops, and the GPU
 * becomes unusable (CT_GPU_DEVICE_FAILED) while the other GPUs and the CPU
 * go on. Building the report needs the siblings' pending lists, each under
 * its own async_lock: the caller holds none, and they are taken one at a
 * time under fail_lock, so two devices failing together cannot deadlock. */

/* Whether the device is fully created and not being torn down: only then
 * does a sticky error mark its GPU (during creation the core holds
 * ctx->lock, and teardown has nothing left to report to). */
static bool device_live(const ct_cuda_device *cd) { return cd->dev && cd->dev->impl == cd && !cd->closing; }

/* Builds the GPU's report once (later calls keep the first). `found_by`
 * names the call that saw error r on cd. Every logical device's pending
 * list, cd's included, is taken here and only here: a sibling waiting at
 * the same time cannot carry its ops off into a report that loses. */
static void record_failure(ct_cuda_device *cd, CUresult r, const char *found_by) {
  ct_cuda_state *st = cd->state;
  ct_context *ctx = cd->ctx;
  int phys = cd->dev->physical_index;
  pthread_mutex_lock(&st->fail_lock);
  if (st->fail_msg[phys][0]) {
    pthread_mutex_unlock(&st->fail_lock);
    return;
  }
  char culprits[400], first[160], devices[200];
  size_t nc = 0, nd = 0;
  culprits[0] = first[0] = devices[0] = '\0';
  for (int i = 0; i < ctx->n_by_type[CT_DEV_GPU]; i++) {
    ct_device *dev = ctx->by_type[CT_DEV_GPU][i];
    ct_cuda_device *sc = dev->impl;
    if (!sc || dev->physical_index != phys) continue;
    /* What each device queued is lost with the context: take it, so that
     * a later wait does not report the same fault again. */
    char ops[256];
    pthread_mutex_lock(&sc->async_lock);
    pending_list(sc, ops, sizeof ops);
    sc->n_pending_ops = 0;
    sc->deferred = CT_OK;
    pthread_mutex_unlock(&sc->async_lock);
    if (nd < sizeof devices) {
      int w = snprintf(devices + nd, sizeof devices - nd, "%s%s", nd ? ", " : "", dev->short_name);
      if (w > 0) nd += (size_t)w;
    }
    if (!ops[0] || nc >= sizeof culprits) continue;
    if (!first[0]) snprintf(first, sizeof first, "%s (%s)", dev->short_name, ops);
    int w = snprintf(culprits + nc, sizeof culprits - nc, "%s%s: %s", nc ? "; on " : "", dev->short_name, ops);
    if (w > 0) nc += (size_t)w;
  }
  const char *name = ct_cuda_error_name(cd->drv, r);
  snprintf(st->fail_msg[phys], sizeof st->fail_msg[phys],
           "%s: %s failed with %s (%d): asynchronous work destroyed the GPU's CUDA context; the fault is in %s%s; "
           "physical GPU %d (CUDA device %d) is unusable until the process restarts: its logical devices (%s) "
           "refuse ops, the other devices and the CPU keep working",
           cd->dev->short_name, found_by, name, r,
           nc ? "work queued since the last synchronisation on " : "work no ctensor op queued (copies, or another "
                                                                   "library's kernels in the same context)",
           nc ? culprits : "", phys, cd->ordinal, devices);
  char why[CT_INFO_TEXT_MAX];
  snprintf(why, sizeof why, "%s (%d) in work queued on %s destroyed its CUDA context; restart the process to use it",
           name, r, first[0] ? first : cd->dev->short_name);
  ct_context_gpu_failed(ctx, phys, why);
  pthread_mutex_unlock(&st->fail_lock);
}

ct_status ct_cuda_failed_check(ct_cuda_device *cd, const char *what) {
  if (!cd->dev || !atomic_load_explicit(&cd->dev->failed, memory_order_acquire)) return CT_OK;
  ct_cuda_state *st = cd->state;
  ct_context *ctx = cd->ctx;
  int phys = cd->dev->physical_index;
  pthread_mutex_lock(&st->fail_lock);
  if (atomic_load(&cd->dev->failed) == CT_DEVICE_FAILED_REPORTED) {
    pthread_mutex_unlock(&st->fail_lock);
    return ct_device_failed_error(cd->dev, what);
  }
  /* Reported once, here, for every logical device of the GPU. */
  for (int i = 0; i < ctx->n_by_type[CT_DEV_GPU]; i++)
    if (ctx->by_type[CT_DEV_GPU][i]->physical_index == phys)
      atomic_store(&ctx->by_type[CT_DEV_GPU][i]->failed, CT_DEVICE_FAILED_REPORTED);
  ct_status s = ct_error(CT_INTERNAL, "%s", st->fail_msg[phys]);
  pthread_mutex_unlock(&st->fail_lock);
  return s;
}

ct_status ct_cuda_check(ct_cuda_device *cd, CUresult r, const char *what) {
  if (r == CUDA_SUCCESS) return CT_OK;
  const char *name = ct_cuda_error_name(cd->drv, r);
  const char *text = NULL;
  if (cd->drv->cuGetErrorString && cd->drv->cuGetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
  const char *devname = cd->dev ? cd->dev->short_name : "GPU";
  if (is_sticky(r)) {
    /* The failure belongs to earlier asynchronous work, not to `what`. */
    if (device_live(cd)) {
      record_failure(cd, r, what);
      return ct_cuda_failed_check(cd, what);
    }
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

/* Waits; on failure formats the message into cd->deferred*, except for an
 * error that destroys the context of a live device: that is left to
 * record_failure, which the caller calls once it has released async_lock.
 * Caller holds async_lock. Returns the wait's result. */
static CUresult wait_stream(ct_cuda_device *cd) {
  CUresult r = cd->drv->cuStreamSynchronize(cd->stream);
  if (r == CUDA_SUCCESS) {
    cd->n_pending_ops = 0;
    return r;
  }
  if (is_sticky(r) && device_live(cd)) return r;
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
  return r;
}

static const char sync_what[] = "stream synchronisation (cuStreamSynchronize)";

void ct_cuda_device_quiesce(ct_cuda_device *cd) {
  pthread_mutex_lock(&cd->async_lock);
  CUresult r = wait_stream(cd);
  pthread_mutex_unlock(&cd->async_lock);
  /* Marked now, reported by the next call that can return an error. */
  if (is_sticky(r) && device_live(cd)) record_failure(cd, r, sync_what);
}

ct_status ct_cuda_device_synchronize(ct_cuda_device *cd) {
  ct_status s = ct_cuda_failed_check(cd, sync_what);
  if (s != CT_OK) return s;
  if ((s = ct_cuda_make_current(cd)) != CT_OK) return s;
  pthread_mutex_lock(&cd->async_lock);
  CUresult r = wait_stream(cd);
  if (is_sticky(r) && device_live(cd)) {
    pthread_mutex_unlock(&cd->async_lock);
    record_failure(cd, r, sync_what);
    return ct_cuda_failed_check(cd, sync_what);
  }
  s = cd->deferred;
  char msg[sizeof cd->deferred_msg];
  memcpy(msg, cd->deferred_msg, sizeof msg);
  cd->deferred = CT_OK;
  cd->deferred_msg[0] = '\0';
  pthread_mutex_unlock(&cd->async_lock);
  if (s != CT_OK) return ct_error(s, "%s", msg);
  return CT_OK;
}
