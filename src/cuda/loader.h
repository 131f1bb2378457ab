/*
 * Run-time loading of the CUDA driver, cuBLAS(Lt) and NVRTC.
 *
 * The driver (libcuda.so.1) is opened at discovery; cuBLAS, cuBLASLt and
 * NVRTC are only *located* then (a few stat() calls, to report versions and
 * check the driver against them) and opened on first use, because opening
 * cuBLAS costs 55-400 ms while `ctensor devices` must stay in milliseconds.
 *
 * All of it lives in one ct_cuda_state per context (ctx->cuda), created by
 * discovery and freed by ct_cuda_state_free() at context teardown. Every
 * dlopen attempt and every file located is recorded, in order, with the
 * stage that produced it and the dlerror() text, for `ctensor doctor`.
 */
#ifndef CT_CUDA_LOADER_H
#define CT_CUDA_LOADER_H

#include <pthread.h>
#include <stdbool.h>

#include "core/internal.h"
#include "cuda/cuda_api.h"

typedef enum ct_cuda_lib {
  CT_CUDA_LIB_DRIVER = 0, /* libcuda.so.1 */
  CT_CUDA_LIB_CUBLAS = 1, /* libcublas.so.N */
  CT_CUDA_LIB_CUBLASLT = 2,
  CT_CUDA_LIB_NVRTC = 3,
  CT_CUDA_LIB_NCCL = 4,   /* libnccl.so.2, for collectives on GPU tensors (src/dist) */
  CT_CUDA_LIB_COUNT = 5
} ct_cuda_lib;

/* "driver", "cublas", "cublasLt", "nvrtc", "nccl". */
const char *ct_cuda_lib_name(ct_cuda_lib lib);

/* One attempt to find or open a library. */
typedef struct ct_cuda_load_record {
  ct_cuda_lib lib;
  /* Where the candidate came from: "override" (CT_*_PATH), "system"
   * (the dynamic loader's own search: LD_LIBRARY_PATH, ld.so.cache),
   * "libdir" (directory of libctensor.so), "pip" (site-packages/nvidia/
   * * /lib), "cuda_path" ($CUDA_PATH), "usr_local" (/usr/local/cuda*),
   * "ldpath" (a directory of LD_LIBRARY_PATH, when locating),
   * "sysdir" (/usr/lib/..., when locating), "symbol" (resolving entry
   * points), "init" (cuInit). */
  char stage[16];
  bool opened;        /* true: dlopen was called; false: only located/stat'ed */
  bool ok;
  char name[64];      /* file name tried, "libcuda.so.1" */
  char path[512];     /* the path tried or, on success, the resolved path */
  char error[256];    /* dlerror() text or why the candidate was rejected */
} ct_cuda_load_record;

/* What is known about one library in this context. */
typedef struct ct_cuda_library {
  void *handle;          /* dlopen handle; NULL until opened */
  bool tried;            /* an open was attempted (done once per context) */
  ct_status status;      /* result of that attempt */
  char error[CT_INFO_TEXT_MAX];
  char path[512];        /* resolved path once opened, else the located one */
  bool located;          /* a candidate file was found at discovery */
  int version_major;     /* from the file name (-1 unknown) */
  int version_minor;     /* from a "cuda-X.Y" directory or a full soname (-1 unknown) */
  /* Only versions newer than the driver supports were found: path and
   * version describe the newest of them, located stays false. */
  bool too_new;
} ct_cuda_library;

/* Environment, read once per context (at discovery). */
typedef struct ct_cuda_env {
  bool has_cuda_visible;
  char cuda_visible[128];     /* CUDA_VISIBLE_DEVICES */
  bool has_nvidia_visible;
  char nvidia_visible[128];   /* NVIDIA_VISIBLE_DEVICES */
  char driver_path[512];      /* CT_CUDA_DRIVER_PATH */
  char cublas_path[512];      /* CT_CUBLAS_PATH */
  char cublaslt_path[512];    /* CT_CUBLASLT_PATH */
  char nvrtc_path[512];       /* CT_NVRTC_PATH */
  char nccl_path[512];        /* CT_NCCL_PATH (a file only, not a directory) */
  char cuda_path[512];        /* CUDA_PATH */
  char ld_library_path[1024]; /* LD_LIBRARY_PATH (only echoed and searched when locating) */
  char virtual_env[512];      /* VIRTUAL_ENV, CONDA_PREFIX, HOME: pip prefixes */
  char conda_prefix[512];
  char home[512];
} ct_cuda_env;

typedef struct ct_cuda_state {
  pthread_mutex_t lock;        /* lazy loads and the record list */
  ct_cuda_env env;
  ct_cuda_load_record *records;
  int n_records, cap_records;
  ct_cuda_library libs[CT_CUDA_LIB_COUNT];
  struct ct_cuda_search_dir *dirs; /* search directories (loader.c), built once */
  int n_dirs;
  bool located_done;

  ct_cuda_driver drv;
  bool driver_loaded;          /* every required entry point resolved */
  bool used_proc_address;      /* symbols came through cuGetProcAddress */
  bool cu_initialized;         /* cuInit(0) succeeded */
  CUresult init_result;
  int driver_version;          /* cuDriverGetVersion, 0 if unknown */

  /* Usable physical GPU i is driver ordinal ordinals[i]. */
  int ordinals[CT_MAX_PHYSICAL];
  int n_usable;

  /* Usable GPU i whose context an error destroyed at run time (stream.c):
   * fail_msg[i] is what the first call to report it returns, "" while the
   * GPU works. Order: fail_lock, then one device's async_lock at a time,
   * then ctx->lock; fail_lock is never taken while an async_lock is held. */
  pthread_mutex_t fail_lock;
  char fail_msg[CT_MAX_PHYSICAL][768];
} ct_cuda_state;

/* The context's CUDA state, created on first call (NULL + error if out of
 * memory). Reads the environment when it creates it. */
ct_cuda_state *ct_cuda_state_get(ct_context *ctx);
/* Closes the libraries and frees the state (ctx->cuda); NULL-safe. */
void ct_cuda_state_free(ct_context *ctx);

/* Opens libcuda.so.1 and resolves the driver table. Idempotent. Returns
 * OK when every required entry point resolved; otherwise st->libs[DRIVER]
 * holds the error. Does not call cuInit. */
ct_status ct_cuda_load_driver(ct_cuda_state *st);
/* Stats the candidates for cuBLAS, cuBLASLt and NVRTC without opening them
 * (fills libs[].located/path/version/too_new). Skips versions whose major is
 * above the driver's CUDA major when the driver version is known, so call
 * it after ct_cuda_load_driver(). Idempotent. */
void ct_cuda_locate_libraries(ct_cuda_state *st);

/* Opens a library on first call (thread-safe, once per context) and
 * returns its dlopen handle. Failure: NOT_FOUND / UNAVAILABLE naming every
 * path tried. For the kernels: nvrtc.c and cublas.c call these. */
ct_status ct_cuda_load_nvrtc(ct_context *ctx, void **handle);
ct_status ct_cuda_load_cublas(ct_context *ctx, void **cublas, void **cublaslt);
/* NCCL, for src/dist: the same search as cuBLAS (override CT_NCCL_PATH,
 * system, libdir, pip's nvidia/nccl/lib, CUDA_PATH, /usr/local/cuda). The
 * version is not known here (ncclGetVersion is the caller's to ask):
 * ct_cuda_set_nccl_version records it for the library listing. */
ct_status ct_cuda_load_nccl(ct_context *ctx, void **handle);
void ct_cuda_set_nccl_version(ct_context *ctx, int major, int minor);

/* Every attempt recorded so far, in order (the pointer stays valid until
 * the next load call or the context is freed). Returns the count. */
int ct_cuda_loader_records(ct_context *ctx, const ct_cuda_load_record **out);
/* The library's state (NULL before discovery). */
const ct_cuda_library *ct_cuda_library_get(ct_context *ctx, ct_cuda_lib lib);

/* "CUDA_ERROR_NO_DEVICE" (through cuGetErrorName when loaded, else the
 * project's own table; "CUDA_ERROR_<n>" for an unknown value). */
const char *ct_cuda_error_name(const ct_cuda_driver *drv, CUresult r);

/* Internal, exposed for tests: the version found in a library's file name
 * ("libcublas.so.12.4.5.8" -> 12, 4; "libnvrtc.so.13" -> 13, -1). */
void ct_cuda_version_from_name(const char *file, int *major, int *minor);

#endif /* CT_CUDA_LOADER_H */
