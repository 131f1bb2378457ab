/* Version and build facts, for `ctensor version` and bug reports. */
#include <cblas.h>
#include <stdio.h>

#include "core/internal.h"

const char *ct_version(void) { return CT_VERSION_FROM_BUILD; }

const char *ct_build_features(void) {
  /* GPU support is always compiled in: it costs nothing without a GPU,
   * since the driver and libraries are opened only at run time. */
  return "cpu openblas openmp cuda-dlopen cublas-dlopen nvrtc-dlopen philox4x32-10";
}

size_t ct_build_info(char *out, size_t out_size) {
  /* OpenBLAS reports the version and the kernel it chose for this CPU. */
  int n = snprintf(out, out_size, "compiler: %s; blas: %s; openmp: %d", CT_COMPILER_ID, openblas_get_config(),
                   (int)_OPENMP);
  return n < 0 ? 0 : (size_t)n;
}
