/*
 * Kernels on a device: compiled by NVRTC on first use (or read from the
 * disk cache), loaded as CUmodules into the device's context, and kept in
 * a per-device table (ct_cuda_device.module_cache) until teardown.
 */
#ifndef CT_CUDA_JIT_H
#define CT_CUDA_JIT_H

#include "cuda/cuda_device.h"
#include "cuda/kernel_cache.h"
#include "cuda/kernel_catalog.h"
#include "cuda/nvrtc.h"

/* The kernel's function(s) on cd (fn[1] NULL when k has one name).
 * UNAVAILABLE without NVRTC, INTERNAL when a kernel fails to compile or
 * load. Thread-safe. */
ct_status ct_cuda_kernel_get(ct_cuda_device *cd, const ct_cuda_kref *k, CUfunction fn[2]);
/* The same on an op's device, for the launch code of kernels_*register.c:
 * found is whether the catalog has a kernel for the op and dtype
 * (INTERNAL naming both when not). */
ct_status ct_cuda_kernel_for(ct_device *dev, ct_op op, bool found, const ct_cuda_kref *k, CUfunction fn[2]);

/* Queues f on the device's stream; the error names the op. */
ct_status ct_cuda_launch(ct_cuda_device *cd, ct_op op, CUfunction f, unsigned grid_x, unsigned grid_y,
                         unsigned block, void **params);

/* Blocks for `work` independent items of `block` threads: enough to fill
 * the GPU a few times over, grid-stride loops do the rest. */
unsigned ct_cuda_grid_for(const ct_cuda_device *cd, int64_t work, unsigned block);

/* The device's kernel-cache counters (zeros before the first kernel). */
void ct_cuda_jit_cache_stats(ct_cuda_device *cd, ct_kernel_cache *out);

#endif
