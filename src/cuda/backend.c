/*
 * The CUDA platform: logical GPU creation and the backend table (memory,
 * copies, synchronisation) the core calls through.
 *
 * A logical device gets the primary context of its physical GPU (shared
 * by every logical device on that GPU, and with other libraries in the
 * process that use the runtime API), one non-blocking stream, and its own
 * caching allocator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"

static CUdeviceptr dptr(const void *p) { return (CUdeviceptr)(uintptr_t)p; }

static void release_device(ct_cuda_device *cd, bool allocator_ready) {
  const ct_cuda_driver *d = cd->drv;
  cd->closing = true;
  if (cd->cu_ctx) {
    CUcontext prev = NULL;
    d->cuCtxGetCurrent(&prev);
    if (prev != cd->cu_ctx) d->cuCtxSetCurrent(cd->cu_ctx);
    if (cd->stream) ct_cuda_device_quiesce(cd);
    if (cd->module_cache_destroy) cd->module_cache_destroy(cd);
    if (cd->blas_destroy) cd->blas_destroy(cd);
    if (allocator_ready) ct_cuda_allocator_destroy(cd);
    if (cd->stream) d->cuStreamDestroy(cd->stream);
    d->cuDevicePrimaryCtxRelease(cd->cu_device);
    /* The caller's current context is current again (ctensor leaves its
     * own current nowhere, so a current primary context here was made
     * current by someone else, who holds it). */
    if (prev != cd->cu_ctx) d->cuCtxSetCurrent(prev);
  }
  pthread_mutex_destroy(&cd->async_lock);
  free(cd);
}

/* Why `call` (cuDeviceGet, cuDevicePrimaryCtxRetain, a query of the compute
 * capability) failed, as the fix a person can make. */
static ct_status context_failure(ct_cuda_device *cd, const char *call, CUresult r) {
  const char *name = ct_cuda_error_name(cd->drv, r);
  const char *hint;
  switch (r) {
    case CUDA_ERROR_DEVICE_UNAVAILABLE:
      hint = "the GPU is in exclusive-process compute mode and another process holds it, or in prohibited "
             "mode (nvidia-smi -q -d COMPUTE shows the mode; nvidia-smi -c DEFAULT resets it)";
      break;
    case CUDA_ERROR_OUT_OF_MEMORY:
      hint = "the GPU has no memory left for a context (other processes hold it: nvidia-smi lists them)";
      break;
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_UNKNOWN:
    case CUDA_ERROR_LAUNCH_FAILED:
      hint = "the GPU may have failed (an Xid error in the kernel log: dmesg | grep -i xid); a GPU reset or a "
             "reboot brings it back";
      break;
    default: hint = "the driver refused to create a context on this GPU";
  }
  return ct_error(CT_UNAVAILABLE, "%s (CUDA device %d): cannot create a CUDA context: %s failed with %s (%d): %s; "
                  "the other devices are used",
                  cd->dev->short_name, cd->ordinal, call, name, r, hint);
}

ct_status ct_cuda_device_init(ct_context *ctx, ct_device *dev) {
  ct_cuda_state *st = (ct_cuda_state *)ctx->cuda;
  if (!st || !st->cu_initialized || dev->physical_index < 0 || dev->physical_index >= st->n_usable)
    return ct_error(CT_FAILED_PRECONDITION, "%s: physical GPU %d was not discovered as usable", dev->short_name,
                    dev->physical_index);
  ct_cuda_device *cd = calloc(1, sizeof *cd);
  if (!cd) return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory", dev->short_name);
  pthread_mutex_init(&cd->async_lock, NULL);
  cd->ctx = ctx;
  cd->dev = dev;
  cd->state = st;
  cd->drv = &st->drv;
  cd->ordinal = st->ordinals[dev->physical_index];
  const ct_cuda_driver *d = cd->drv;

  const char *call = "cuDeviceGet";
  CUresult r = d->cuDeviceGet(&cd->cu_device, cd->ordinal);
  if (r == CUDA_SUCCESS) {
    call = "cuDevicePrimaryCtxRetain";
    r = d->cuDevicePrimaryCtxRetain(&cd->cu_ctx, cd->cu_device);
    if (r != CUDA_SUCCESS) cd->cu_ctx = NULL;
  }
  /* The compute capability picks the kernels' architecture: unknown, it
   * would be read as 0.0 and every kernel would fail to build. */
  if (r == CUDA_SUCCESS) {
    call = "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)";
    r = d->cuDeviceGetAttribute(&cd->cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cd->cu_device);
  }
  if (r == CUDA_SUCCESS) {
    call = "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)";
    r = d->cuDeviceGetAttribute(&cd->cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cd->cu_device);
  }
  if (r != CUDA_SUCCESS) {
    /* CT_UNAVAILABLE tells the core that this GPU, not the configuration,
     * is the problem: it marks the GPU unusable (DEVICE_UNAVAILABLE) and
     * keeps the other devices. */
    ct_status s = context_failure(cd, call, r);
    release_device(cd, false);
    return s;
  }
  CUcontext prev = NULL;
  ct_status s = ct_cuda_enter(cd, &prev);
  if (s == CT_OK) {
    r = d->cuStreamCreate(&cd->stream, CU_STREAM_NON_BLOCKING);
    if (r != CUDA_SUCCESS) cd->stream = NULL;
    s = ct_cuda_check(cd, r, "cuStreamCreate");
  }
  if (s == CT_OK) {
    /* 0 when unknown: grids are then sized for 16 multiprocessors */
    if (d->cuDeviceGetAttribute(&cd->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, cd->cu_device) !=
        CUDA_SUCCESS)
      cd->sm_count = 0;
    snprintf(cd->arch, sizeof cd->arch, "sm_%d%d", cd->cc_major, cd->cc_minor);
    int g = ctx->cfg[CT_DEV_GPU].memory_growth[dev->physical_index];
    s = ct_cuda_allocator_init(cd, dev->memory_limit, g != 0);
    if (s == CT_OK) {
      ct_cuda_leave(cd, prev);
      dev->impl = cd;
      return CT_OK;
    }
  }
  ct_cuda_leave(cd, prev);
  release_device(cd, false);
  return s;
}

/* ---- backend table ------------------------------------------------------ */

static ct_status cuda_alloc(ct_device *dev, size_t bytes, void **out) {
  if (bytes == 0) {
    *out = NULL;
    return CT_OK;
  }
  CUdeviceptr p = 0;
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUcontext prev;
  ct_status s = ct_cuda_failed_check(cd, "allocation");
  if (s != CT_OK) return s;
  s = ct_cuda_enter(cd, &prev);
  if (s != CT_OK) return s;
  s = ct_cuda_allocator_alloc(cd, bytes, &p);
  ct_cuda_leave(cd, prev);
  if (s == CT_OK) *out = (void *)(uintptr_t)p;
  return s;
}

static void cuda_free(ct_device *dev, void *ptr, size_t bytes) {
  CT_UNUSED(bytes);
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUcontext prev;
  if (ct_cuda_enter(cd, &prev) != CT_OK) prev = cd->cu_ctx;
  ct_cuda_allocator_free(cd, dptr(ptr));
  ct_cuda_leave(cd, prev);
}

/* One op, bracketed (see ct_cuda_enter): the allocations, kernel and
 * frees inside find the context current and switch nothing. A failed
 * switch is left for the kernel's own ct_cuda_make_current to report. */
static void *cuda_enter(ct_device *dev) {
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUcontext prev;
  if (ct_cuda_enter(cd, &prev) != CT_OK) {
    ct_error_clear();
    return cd->cu_ctx;
  }
  return prev;
}

static void cuda_leave(ct_device *dev, void *token) { ct_cuda_leave(ct_cuda_device_of(dev), (CUcontext)token); }

static ct_status copy_from_host_in(ct_device *dev, void *dst, const void *src, size_t bytes) {
  if (bytes == 0) return CT_OK;
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK) return s;
  s = ct_cuda_check(cd, cd->drv->cuMemcpyHtoDAsync(dptr(dst), src, bytes, cd->stream),
                    "copy from host (cuMemcpyHtoDAsync)");
  /* The driver only promises that a copy from pageable memory "might be"
   * synchronous; from pinned or registered memory it is not. Callers
   * (ct_tensor_from_host, the Python buffer path, input moves) free or
   * reuse `src` as soon as this returns, so wait until the copy has read
   * it. An earlier asynchronous error found by the wait is kept for the
   * next synchronising call. */
  if (s == CT_OK) ct_cuda_device_quiesce(cd);
  return s;
}

static ct_status copy_to_host_in(ct_device *dev, void *dst, const void *src, size_t bytes) {
  if (bytes == 0) return CT_OK;
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK) return s;
  s = ct_cuda_check(cd, cd->drv->cuMemcpyDtoHAsync(dst, dptr(src), bytes, cd->stream),
                    "copy to host (cuMemcpyDtoHAsync)");
  /* Not queued: the error is the copy's (a wait would overwrite its
   * message, and an error of earlier work stays for the next wait). */
  if (s != CT_OK) return s;
  /* The host reads dst next: wait, and report what the queue did. */
  return ct_cuda_device_synchronize(cd);
}

static ct_status copy_device_in(ct_device *dst_dev, void *dst, ct_device *src_dev, const void *src,
                                size_t bytes) {
  if (bytes == 0) return CT_OK;
  ct_cuda_device *dc = ct_cuda_device_of(dst_dev), *sc = ct_cuda_device_of(src_dev);
  ct_status s;
  /* The source may still be being written on its own stream. */
  if (sc != dc && (s = ct_cuda_device_synchronize(sc)) != CT_OK) return s;
  if ((s = ct_cuda_make_current(dc)) != CT_OK) return s;
  if (sc == dc)
    return ct_cuda_check(dc, dc->drv->cuMemcpyDtoDAsync(dptr(dst), dptr(src), bytes, dc->stream),
                         "copy on the device (cuMemcpyDtoDAsync)");
  /* Across logical devices the copy runs on the destination's stream but
   * reads memory of the source's allocator, which hands a freed block to
   * the source's next op at once (its reuse is ordered on the source's
   * stream only): wait for the copy before returning. */
  if (sc->cu_ctx == dc->cu_ctx) {
    s = ct_cuda_check(dc, dc->drv->cuMemcpyDtoDAsync(dptr(dst), dptr(src), bytes, dc->stream),
                      "copy between devices (cuMemcpyDtoDAsync)");
    return s != CT_OK ? s : ct_cuda_device_synchronize(dc);
  }
  if (dc->drv->cuMemcpyPeerAsync) {
    s = ct_cuda_check(dc,
                      dc->drv->cuMemcpyPeerAsync(dptr(dst), dc->cu_ctx, dptr(src), sc->cu_ctx, bytes, dc->stream),
                      "copy between GPUs (cuMemcpyPeerAsync)");
    return s != CT_OK ? s : ct_cuda_device_synchronize(dc);
  }
  /* No peer copy: through the host. */
  void *tmp = malloc(bytes);
  if (!tmp) return ct_error(CT_RESOURCE_EXHAUSTED, "copy between GPUs: no host memory for %zu bytes", bytes);
  s = copy_to_host_in(src_dev, tmp, src, bytes);
  if (s == CT_OK) s = copy_from_host_in(dst_dev, dst, tmp, bytes);
  if (s == CT_OK) s = ct_cuda_device_synchronize(dc);
  free(tmp);
  return s;
}

/* The backend's entry points that touch the driver, bracketed so that the
 * caller's current context is current again when they return. A copy
 * between GPUs may make either device's context current. */
static ct_status cuda_copy_from_host(ct_device *dev, void *dst, const void *src, size_t bytes) {
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUcontext prev;
  ct_status s = ct_cuda_failed_check(cd, "copy from host");
  if (s != CT_OK) return s;
  s = ct_cuda_enter(cd, &prev);
  if (s != CT_OK) return s;
  s = copy_from_host_in(dev, dst, src, bytes);
  ct_cuda_leave(cd, prev);
  return s;
}

static ct_status cuda_copy_to_host(ct_device *dev, void *dst, const void *src, size_t bytes) {
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUcontext prev;
  ct_status s = ct_cuda_failed_check(cd, "copy to host");
  if (s != CT_OK) return s;
  s = ct_cuda_enter(cd, &prev);
  if (s != CT_OK) return s;
  s = copy_to_host_in(dev, dst, src, bytes);
  ct_cuda_leave(cd, prev);
  return s;
}

static ct_status cuda_copy_device(ct_device *dst_dev, void *dst, ct_device *src_dev, const void *src,
                                  size_t bytes) {
  ct_cuda_device *dc = ct_cuda_device_of(dst_dev);
  CUcontext prev = NULL, now = NULL;
  ct_status s = ct_cuda_failed_check(ct_cuda_device_of(src_dev), "copy between devices");
  if (s == CT_OK) s = ct_cuda_failed_check(dc, "copy between devices");
  if (s != CT_OK) return s;
  dc->drv->cuCtxGetCurrent(&prev);
  s = copy_device_in(dst_dev, dst, src_dev, src, bytes);
  if (dc->drv->cuCtxGetCurrent(&now) == CUDA_SUCCESS && now != prev) dc->drv->cuCtxSetCurrent(prev);
  return s;
}

static ct_status cuda_synchronize(ct_device *dev) {
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUcontext prev;
  /* Before switching: a failed GPU's context is not touched again. */
  ct_status s = ct_cuda_failed_check(cd, "synchronize");
  if (s != CT_OK) return s;
  s = ct_cuda_enter(cd, &prev);
  if (s != CT_OK) return s;
  s = ct_cuda_device_synchronize(cd);
  ct_cuda_leave(cd, prev);
  return s;
}

static void cuda_device_destroy(ct_device *dev) {
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  if (!cd) return;
  release_device(cd, true);
  dev->impl = NULL;
}

static ct_status cuda_memory_info(ct_device *dev, ct_memory_info *out) {
  ct_cuda_allocator_stats(ct_cuda_device_of(dev), out);
  return CT_OK;
}

const ct_backend ct_cuda_backend = {
    .type = CT_DEV_GPU,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy_from_host = cuda_copy_from_host,
    .copy_to_host = cuda_copy_to_host,
    .copy_device = cuda_copy_device,
    .synchronize = cuda_synchronize,
    .device_destroy = cuda_device_destroy,
    .memory_info = cuda_memory_info,
    .enter = cuda_enter,
    .leave = cuda_leave,
};

static const ct_platform cuda_platform = {
    .type = CT_DEV_GPU,
    .discover = ct_cuda_discover,
    .device_init = ct_cuda_device_init,
    .backend = &ct_cuda_backend,
    .context_release = ct_cuda_state_free,
    .check_libraries = ct_cuda_check_libraries,
};

const ct_platform *const ct_cuda_platform_ptr = &cuda_platform;
