/*
 * What DLPack needs to know of a logical GPU (src/core/dlpack.c): its
 * driver ordinal, the number DLPack's kDLCUDA device_id means (after
 * CUDA_VISIBLE_DEVICES, as every CUDA program counts). Several logical
 * devices split from one GPU share its ordinal.
 */
#include "core/internal.h"
#include "cuda/cuda_device.h"

int ct_cuda_dlpack_ordinal(const ct_device *dev);

int ct_cuda_dlpack_ordinal(const ct_device *dev) {
  if (dev == NULL || dev->type != CT_DEV_GPU || dev->impl == NULL) return -1;
  return ((const ct_cuda_device *)dev->impl)->ordinal;
}

/* The stream ctensor's work on `dev` runs on (a CUstream), for a DLPack
 * producer to make it wait; 0 if `dev` is not a GPU. */
uintptr_t ct_cuda_dlpack_stream(const ct_device *dev);

uintptr_t ct_cuda_dlpack_stream(const ct_device *dev) {
  if (dev == NULL || dev->type != CT_DEV_GPU || dev->impl == NULL) return 0;
  return (uintptr_t)((const ct_cuda_device *)dev->impl)->stream;
}
