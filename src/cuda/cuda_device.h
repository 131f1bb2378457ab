/*
 * One logical GPU device: what the CUDA backend keeps in ct_device.impl.
 *
 * Every logical device has its own stream and its own caching allocator
 * (the memory limit is per logical device); logical devices on the same
 * physical GPU share the GPU's primary context.
 *
 * Kernels (nvrtc*.c, cublas*.c) use it like this:
 *
 *   ct_cuda_device *cd = ct_cuda_device_of(args->device);
 *   ct_status s = ct_cuda_make_current(cd);            // before any driver call
 *   ...
 *   CUresult r = cd->drv->cuLaunchKernel(fn, ..., cd->stream, params, NULL);
 *   if (r != CUDA_SUCCESS) return ct_cuda_check(cd, r, "AddV2");
 *   ct_cuda_note_enqueued(cd, "AddV2");                // for deferred errors
 *
 * The two slots module_cache and blas belong to the kernels: whatever they
 * put there is released by the destroy callback they set, called once at
 * device teardown with the device's context current, before the stream and
 * the context go.
 */
#ifndef CT_CUDA_DEVICE_H
#define CT_CUDA_DEVICE_H

#include <pthread.h>

#include "core/internal.h"
#include "cuda/cuda_api.h"
#include "cuda/loader.h"

/* Ops queued since the last synchronisation that are remembered by name, so
 * that an asynchronous failure can say which work caused it. */
#define CT_CUDA_PENDING_OPS 8

/* One range of device memory: handed out or cached. Blocks of the same
 * cuMemAlloc'ed segment are neighbours in the list, by address. */
typedef struct ct_cuda_block {
  CUdeviceptr ptr;
  size_t size;
  bool free;
  bool small;              /* from the small pool (requests <= 1 MiB, 2 MiB segments) */
  CUdeviceptr seg_base;
  size_t seg_size;
  struct ct_cuda_block *prev, *next;
} ct_cuda_block;

/* The caching allocator of one logical device (memory.c). */
typedef struct ct_cuda_allocator {
  pthread_mutex_t lock;
  uint64_t limit;          /* bytes; 0: none (growth until the GPU is full) */
  bool growth;             /* false: the whole limit was reserved at start */
  uint64_t reserved;       /* bytes obtained from cuMemAlloc and not yet returned */
  uint64_t in_use;         /* bytes handed out to tensors (rounded sizes) */
  uint64_t peak;
  ct_cuda_block *blocks;   /* every block, sorted by address within each segment */
  CUdeviceptr arena;       /* growth off: the single up-front reservation */
} ct_cuda_allocator;

typedef struct ct_cuda_device {
  ct_context *ctx;
  ct_device *dev;              /* back pointer (name for messages) */
  ct_cuda_state *state;        /* the context's loader state */
  const ct_cuda_driver *drv;   /* == &state->drv */
  int ordinal;                 /* driver ordinal (after CUDA_VISIBLE_DEVICES) */
  CUdevice cu_device;
  CUcontext cu_ctx;            /* the primary context, retained */
  CUstream stream;             /* this logical device's one stream */
  int cc_major, cc_minor;
  int sm_count;
  char arch[16];               /* "sm_86", for NVRTC and the kernel cache key */
  ct_cuda_allocator alloc;

  /* Asynchronous errors: the first one seen is kept and returned by the next
   * synchronising call, which also clears it. */
  pthread_mutex_t async_lock;
  const char *pending_ops[CT_CUDA_PENDING_OPS]; /* static strings (TF op names) */
  int n_pending_ops;           /* may exceed the array: counts every op */
  ct_status deferred;          /* an error found by an internal wait, kept */
  char deferred_msg[512];      /* for the next synchronising call */
  bool closing;                /* teardown: a sticky error found now marks nothing */

  /* Owned by the kernels (see above). */
  void *module_cache;
  void (*module_cache_destroy)(struct ct_cuda_device *cd);
  void *blas;
  void (*blas_destroy)(struct ct_cuda_device *cd);
} ct_cuda_device;

static inline ct_cuda_device *ct_cuda_device_of(ct_device *dev) { return (ct_cuda_device *)dev->impl; }
static inline const ct_cuda_driver *ct_cuda_driver_of(ct_device *dev) { return ct_cuda_device_of(dev)->drv; }
static inline CUcontext ct_cuda_context_of(ct_device *dev) { return ct_cuda_device_of(dev)->cu_ctx; }
static inline CUstream ct_cuda_stream_of(ct_device *dev) { return ct_cuda_device_of(dev)->stream; }

/* Makes the device's context current on the calling thread (cheap when it
 * already is). Inside ct_cuda_enter/leave only: on its own it would leave
 * the context current for whatever the caller's thread does next. */
ct_status ct_cuda_make_current(ct_cuda_device *cd);

/* Context etiquette: ctensor never changes the calling thread's current
 * CUDA context as seen by its caller (PyTorch, CuPy, JAX or the
 * application may have made one current). Every entry into the backend --
 * a kernel run, an allocation or free, a copy, a synchronisation, device
 * creation and teardown -- is bracketed by these: enter makes the device's
 * context current and remembers the caller's in *prev; leave puts it back.
 * When the caller's current context already is the device's (the common
 * case: the same primary context, or nested entries) there is one
 * cuCtxGetCurrent and no switch at all. cuCtxSetCurrent replaces the top of
 * the caller's context stack and restores it, so a stack pushed by another
 * library is left as it was. */
ct_status ct_cuda_enter(ct_cuda_device *cd, CUcontext *prev);
static inline void ct_cuda_leave(ct_cuda_device *cd, CUcontext prev) {
  if (prev != cd->cu_ctx) cd->drv->cuCtxSetCurrent(prev);
}

/* Turns a failed driver call into a ctensor error naming the device, the
 * operation and the CUDA error ("GPU:0: MatMul: cuLaunchKernel failed:
 * CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES (701) ..."). CUDA_ERROR_OUT_OF_MEMORY
 * maps to RESOURCE_EXHAUSTED, sticky context errors to INTERNAL. Returns
 * CT_OK for CUDA_SUCCESS. */
ct_status ct_cuda_check(ct_cuda_device *cd, CUresult r, const char *what);

/* OK while the device's GPU works. Once an error destroyed its CUDA
 * context (an illegal address, a device-side assert, an uncorrectable ECC
 * error): the fault's report the first time it is asked on any logical
 * device of that GPU (INTERNAL, naming the device and ops that queued the
 * faulting work), UNAVAILABLE with the reason after that. For the backend's
 * entries that would touch the context (allocation, copies, waits). */
ct_status ct_cuda_failed_check(ct_cuda_device *cd, const char *what);

/* Records that `op` (a static string such as "AddV2") was queued on the
 * stream, so that an error found at the next synchronisation names it. */
void ct_cuda_note_enqueued(ct_cuda_device *cd, const char *op);

/* Waits for the stream; on failure returns the error naming the ops queued
 * since the last synchronisation. Clears the pending list. */
ct_status ct_cuda_device_synchronize(ct_cuda_device *cd);
/* Waits for the stream without reporting: an error found is kept for the
 * next ct_cuda_device_synchronize() (used before freeing memory). */
void ct_cuda_device_quiesce(ct_cuda_device *cd);

/* Allocator (memory.c), used by the backend table. */
ct_status ct_cuda_allocator_init(ct_cuda_device *cd, uint64_t limit, bool growth);
/* Bytes growth-off (with no limit) leaves free for cuBLAS's workspace,
 * lazily loaded modules and the driver, given the free bytes and the
 * compute capability's major number (TensorFlow's MinSystemMemory). */
uint64_t ct_cuda_growth_off_headroom(uint64_t free_bytes, int cc_major);
ct_status ct_cuda_allocator_alloc(ct_cuda_device *cd, size_t bytes, CUdeviceptr *out);
void ct_cuda_allocator_free(ct_cuda_device *cd, CUdeviceptr ptr);
/* Returns cached, unused blocks to the driver (all of them). */
void ct_cuda_allocator_trim(ct_cuda_device *cd);
void ct_cuda_allocator_destroy(ct_cuda_device *cd);
void ct_cuda_allocator_stats(ct_cuda_device *cd, ct_memory_info *out);

/* The backend table of the CUDA platform (backend.c). */
extern const ct_backend ct_cuda_backend;

/* The platform's entry points (discover.c, backend.c); see ct_platform. */
ct_status ct_cuda_discover(ct_context *ctx, ct_physical_device_info *usable, int *n_usable,
                           ct_physical_device_info *unusable, int *n_unusable, ct_gpu_reason *overall,
                           char *detail, size_t detail_size);
ct_status ct_cuda_device_init(ct_context *ctx, ct_device *dev);

#endif /* CT_CUDA_DEVICE_H */
