/* Version and build features, for `ctensor version` and bug reports. */
#include "core/internal.h"

const char *ct_version(void) { return CT_VERSION_FROM_BUILD; }

const char *ct_build_features(void) {
  /* GPU support is always compiled in: it costs nothing without a GPU,
   * since the driver and libraries are opened only at run time. */
  return "cpu openblas openmp cuda-dlopen cublas-dlopen nvrtc-dlopen philox4x32-10";
}
