/*
 * NVRTC through dlopen: the few entry points ctensor uses, the choice of
 * compilation target for a device, and compilation of one kernel.
 *
 * Target: NVRTC is asked for CUBIN for the device's own architecture
 * (-arch=sm_XY), so the driver never has to JIT PTX — an older driver
 * cannot read PTX from a newer NVRTC (CUDA_ERROR_UNSUPPORTED_PTX_VERSION),
 * but it always runs a cubin. When NVRTC does not know the exact
 * architecture, a cubin for an older minor revision of the same major is
 * binary compatible; when the device is newer than every architecture
 * NVRTC knows, PTX for the newest one is the only choice (and safe, since
 * the driver of a newer GPU is newer than the PTX).
 */
#ifndef CT_CUDA_NVRTC_H
#define CT_CUDA_NVRTC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/internal.h"

typedef struct _nvrtcProgram *ct_nvrtcProgram;
typedef int ct_nvrtcResult;

typedef struct ct_nvrtc {
  void *handle; /* dlopen handle, not owned */
  int major, minor;
  /* More than major.minor can tell: the library file actually loaded, its
   * size and modification time ("13.0 /path/libnvrtc.so.13.0.88 1234 17..."),
   * so that a patch release or a rebuilt library changes the cache key. */
  char build_id[400];
  int archs[64]; /* supported sm numbers (75, 80, ...); n_archs 0: unknown */
  int n_archs;
  const char *(*GetErrorString)(ct_nvrtcResult r);
  ct_nvrtcResult (*Version)(int *major, int *minor);
  ct_nvrtcResult (*CreateProgram)(ct_nvrtcProgram *prog, const char *src, const char *name, int n_headers,
                                  const char *const *headers, const char *const *include_names);
  ct_nvrtcResult (*DestroyProgram)(ct_nvrtcProgram *prog);
  ct_nvrtcResult (*CompileProgram)(ct_nvrtcProgram prog, int n_options, const char *const *options);
  ct_nvrtcResult (*GetProgramLogSize)(ct_nvrtcProgram prog, size_t *size);
  ct_nvrtcResult (*GetProgramLog)(ct_nvrtcProgram prog, char *log);
  ct_nvrtcResult (*GetPTXSize)(ct_nvrtcProgram prog, size_t *size);
  ct_nvrtcResult (*GetPTX)(ct_nvrtcProgram prog, char *ptx);
  ct_nvrtcResult (*GetCUBINSize)(ct_nvrtcProgram prog, size_t *size); /* NULL before CUDA 11.1 */
  ct_nvrtcResult (*GetCUBIN)(ct_nvrtcProgram prog, char *cubin);
} ct_nvrtc;

/* Resolves the entry points from an opened libnvrtc and reads its version
 * and architectures. UNAVAILABLE names the missing symbol. */
ct_status ct_nvrtc_bind(void *handle, ct_nvrtc *out);

typedef struct ct_nvrtc_target {
  char option[32]; /* "-arch=sm_90" or "-arch=compute_120" */
  char arch[16];   /* "sm_90" / "compute_120": cache key, messages */
  bool cubin;      /* false: PTX, JIT-compiled by the driver */
} ct_nvrtc_target;

/* Picks the target for a device of compute capability major.minor (see the
 * comment at the top). UNAVAILABLE when NVRTC cannot serve the device. */
ct_status ct_nvrtc_pick_target(const ct_nvrtc *nv, int cc_major, int cc_minor, ct_nvrtc_target *out);

/* The embedded headers a kernel may include (.cuh, .h), as NVRTC gets
 * them: fills up to cap names and texts, returns the count. */
int ct_nvrtc_headers(const char **texts, const char **names, int cap);

/* Compiles `src` (named `name` in messages) with the embedded .cuh/.h files
 * available as headers. options: extra options besides the target (may be
 * NULL/0). On success *image is a malloc'ed cubin or NUL-terminated PTX of
 * *size bytes. A compile failure is INTERNAL with the start of NVRTC's
 * log. */
ct_status ct_nvrtc_compile(const ct_nvrtc *nv, const ct_nvrtc_target *t, const char *name, const char *src,
                           const char *const *options, int n_options, void **image, size_t *size);

#endif
