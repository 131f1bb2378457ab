/*
 * The CUDA C sources of the GPU kernels, embedded into the library at
 * build time (cmake/parts/cuda_kernels.cmake generates the table from
 * src/cuda/kernels/ and src/core/philox.h). NVRTC compiles them on first
 * use; see docs/gpu.md.
 */
#ifndef CT_CUDA_KERNEL_SOURCES_H
#define CT_CUDA_KERNEL_SOURCES_H

#include <stddef.h>

typedef struct ct_cuda_source {
  const char *name; /* file name: "binary.cu", "common.cuh", "philox.h" */
  const char *text; /* NUL-terminated */
  size_t len;       /* bytes, without the terminator */
} ct_cuda_source;

extern const ct_cuda_source ct_cuda_sources[];
extern const int ct_cuda_source_count;

/* The embedded file called `name`, or NULL. */
const ct_cuda_source *ct_cuda_source_find(const char *name);

#endif
