/*
 * A fake CUDA driver (libcuda.so.1) for tests on machines without a GPU.
 *
 * It exports the driver entry points ctensor resolves, under the same
 * versioned names as the real driver, and answers them from environment
 * variables (see README.md). Device memory is host memory from malloc, so
 * copies and the allocator's limits are real and checkable. Kernels do
 * nothing, except those of a module the fake NVRTC built for the host
 * (emu/ct_emu.h): those run, on the calling thread, at launch. It mimics
 * the driver where ctensor's behaviour depends on it: CUDA_VISIBLE_DEVICES
 * filters and renumbers devices at cuInit, an empty or "-1" value makes
 * cuInit fail with CUDA_ERROR_NO_DEVICE, allocations past the device's
 * memory fail with CUDA_ERROR_OUT_OF_MEMORY.
 *
 * Unlike the real driver it re-reads its configuration at every cuInit
 * while nothing is allocated, so that one test process can try many
 * configurations with fresh contexts.
 *
 * Built twice by cmake/parts/cuda.cmake: as fake_cuda/libcuda.so.1, and with
 * CT_FAKE_OMIT_SYMBOLS as fake_cuda_nosym/libcuda.so.1, a driver that lacks
 * cuMemAlloc_v2 and cuGetProcAddress (for the SYMBOL_MISSING reason).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_fail.h"

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

#define MAX_DEV 16

typedef struct fake_ctx {
  int device;
  int refs;
  int sticky; /* CT_FAKE_CUDA_STICKY: the error every later call in this context returns, until released */
} fake_ctx;

typedef struct fake_alloc {
  char *p;
  size_t size;
  int device;
  struct fake_alloc *next;
} fake_alloc;

typedef struct fake_device {
  char name[128];
  int cc_major, cc_minor;
  int sms;
  size_t memory;
  size_t used;
  int physical; /* index before CUDA_VISIBLE_DEVICES */
  int compute_mode; /* CU_COMPUTEMODE_*: 2 prohibited (no context can be created) */
  int ctx_error;    /* what cuDevicePrimaryCtxRetain returns (46, 2, 999, 214 ...) */
  fake_ctx ctx;
} fake_device;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fake_device devices[MAX_DEV];
static int n_devices;
static int initialized;
static fake_alloc *allocs;
static int n_allocs_live;
static long counter_ctx_retains, counter_allocs, counter_streams;
static int fault_pending; /* a CUresult the next stream synchronisation returns */
static int sticky_error, sticky_at; /* CT_FAKE_CUDA_STICKY=error@N */
static long launches;               /* cuLaunchKernel calls accepted since cuInit configured */
static __thread fake_ctx *current;
static long epoch;                  /* configurations read so far (cuInit) */
static int n_modules_live;
static void flush_copies(void);
static int stream_sticky(void *stream);

/* CT_FAKE_CUDA_FAIL (fake_fail.h): the entry points that can be failed,
 * counted from the cuInit that last read the configuration, and what a
 * failed call returns by default: what the real driver returns when that
 * call fails for want of a resource (2: CUDA_ERROR_OUT_OF_MEMORY), finds
 * the context destroyed by earlier work (700: CUDA_ERROR_ILLEGAL_ADDRESS,
 * for the calls that wait), or cannot say why (999: CUDA_ERROR_UNKNOWN). */
enum {
  F_cuInit, F_cuDeviceGetCount, F_cuDeviceGet, F_cuDeviceGetName, F_cuDeviceGetUuid, F_cuDeviceGetAttribute,
  F_cuDeviceTotalMem, F_cuDeviceGetPCIBusId, F_cuDevicePrimaryCtxRetain, F_cuDevicePrimaryCtxRelease,
  F_cuCtxSetCurrent, F_cuCtxGetCurrent, F_cuCtxSynchronize, F_cuMemAlloc, F_cuMemFree, F_cuMemGetInfo,
  F_cuMemcpyHtoDAsync, F_cuMemcpyDtoHAsync, F_cuMemcpyDtoDAsync, F_cuMemcpyPeerAsync, F_cuMemsetD8Async,
  F_cuMemsetD32Async, F_cuStreamCreate, F_cuStreamSynchronize, F_cuStreamQuery, F_cuStreamDestroy,
  F_cuModuleLoadData, F_cuModuleGetFunction, F_cuModuleUnload, F_cuLaunchKernel, F_COUNT
};
static const fake_fail_entry fail_entries[F_COUNT] = {
    {"cuInit", 999},
    {"cuDeviceGetCount", 999},
    {"cuDeviceGet", 999},
    {"cuDeviceGetName", 999},
    {"cuDeviceGetUuid", 999},
    {"cuDeviceGetAttribute", 999},
    {"cuDeviceTotalMem", 999},
    {"cuDeviceGetPCIBusId", 999},
    {"cuDevicePrimaryCtxRetain", 2},
    {"cuDevicePrimaryCtxRelease", 999},
    {"cuCtxSetCurrent", 999},
    {"cuCtxGetCurrent", 999},
    {"cuCtxSynchronize", 700},
    {"cuMemAlloc", 2},
    {"cuMemFree", 999},
    {"cuMemGetInfo", 999},
    {"cuMemcpyHtoDAsync", 999},
    {"cuMemcpyDtoHAsync", 999},
    {"cuMemcpyDtoDAsync", 999},
    {"cuMemcpyPeerAsync", 999},
    {"cuMemsetD8Async", 999},
    {"cuMemsetD32Async", 999},
    {"cuStreamCreate", 2},
    {"cuStreamSynchronize", 700},
    {"cuStreamQuery", 700},
    {"cuStreamDestroy", 999},
    {"cuModuleLoadData", 2},
    {"cuModuleGetFunction", 500},
    {"cuModuleUnload", 999},
    {"cuLaunchKernel", 701},
};
static fake_fail fails = {"CT_FAKE_CUDA_FAIL", "fake libcuda", fail_entries, F_COUNT, {0}, {{0, 0, 0}}, 0, 0};

/* Errors after which the real driver's context is unusable until it is
 * destroyed: an injected one breaks the context as CT_FAKE_CUDA_STICKY
 * does, so that every later call there returns it too. */
static int sticky_code(int r) {
  return r == 700 || r == 702 || r == 709 || r == 710 || r == 214 || r == 719 || (r >= 714 && r <= 718);
}

/* Counts a call of entry point e and says whether it must fail (the
 * error, or 0). `ctx` is the context the call works in (NULL: none). */
static int inject_in(int e, fake_ctx *ctx) {
  pthread_mutex_lock(&lock);
  int r = fake_fail_call(&fails, e);
  if (r && sticky_code(r) && ctx && ctx->refs > 0 && !ctx->sticky) ctx->sticky = r;
  pthread_mutex_unlock(&lock);
  return r;
}
#define FAIL_POINT(e, ctx)         \
  do {                             \
    int f_ = inject_in((e), (ctx)); \
    if (f_) return f_;             \
  } while (0)

typedef struct fake_stream {
  int device;
} fake_stream;

/* The context a stream belongs to; the current one for the NULL stream. */
static fake_ctx *stream_ctx(const void *stream) {
  const fake_stream *s = stream;
  return s ? &devices[s->device].ctx : current;
}

static const char *env(const char *name) { return getenv(name); }

static int env_int(const char *name, int dflt) {
  const char *v = env(name);
  return v && *v ? atoi(v) : dflt;
}

static int stub_mode(void) { return env_int("CT_FAKE_CUDA_STUB", 0) != 0; }

/* The i-th comma-separated field of a list variable, or dflt. */
static void list_item(const char *var, int i, const char *dflt, char *out, size_t size) {
  const char *v = env(var);
  snprintf(out, size, "%s", dflt);
  if (!v || !*v) return;
  const char *p = v;
  for (int k = 0; k < i; k++) {
    const char *c = strchr(p, ',');
    if (!c) {
      /* fewer items than devices: the last one repeats */
      break;
    }
    p = c + 1;
  }
  size_t n = strcspn(p, ",");
  if (n >= size) n = size - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

/* Reads the configuration; returns the cuInit result. Caller holds lock. */
static CUresult configure(void) {
  epoch++;
  fake_fail_reset(&fails);
  int forced = env_int("CT_FAKE_CUDA_INIT_ERROR", 0);
  if (forced) return forced;
  int phys = env_int("CT_FAKE_CUDA_DEVICES", 1);
  if (phys > MAX_DEV) phys = MAX_DEV;
  fake_device all[MAX_DEV];
  memset(all, 0, sizeof all);
  for (int i = 0; i < phys; i++) {
    char item[128];
    list_item("CT_FAKE_CUDA_NAMES", i, "Fake GPU", item, sizeof item);
    snprintf(all[i].name, sizeof all[i].name, "%s", item);
    list_item("CT_FAKE_CUDA_CC", i, "8.6", item, sizeof item);
    if (sscanf(item, "%d.%d", &all[i].cc_major, &all[i].cc_minor) != 2) all[i].cc_major = 8, all[i].cc_minor = 6;
    list_item("CT_FAKE_CUDA_MEMORY_MB", i, "64", item, sizeof item);
    all[i].memory = (size_t)strtoull(item, NULL, 10) << 20;
    list_item("CT_FAKE_CUDA_SMS", i, "8", item, sizeof item);
    all[i].sms = atoi(item);
    list_item("CT_FAKE_CUDA_COMPUTE_MODE", i, "0", item, sizeof item);
    all[i].compute_mode = atoi(item);
    list_item("CT_FAKE_CUDA_CTX_ERROR", i, "0", item, sizeof item);
    all[i].ctx_error = atoi(item);
    all[i].physical = i;
  }
  /* CUDA_VISIBLE_DEVICES: indices (or GPU-uuid prefixes, not supported
   * here); the list stops at the first invalid entry, as the driver does. */
  const char *vis = env("CUDA_VISIBLE_DEVICES");
  n_devices = 0;
  if (!vis) {
    for (int i = 0; i < phys; i++) devices[n_devices++] = all[i];
  } else {
    const char *p = vis;
    while (*p) {
      char *end;
      long k = strtol(p, &end, 10);
      if (end == p || k < 0 || k >= phys) break;
      int dup = 0;
      for (int j = 0; j < n_devices; j++) dup |= devices[j].physical == (int)k;
      if (dup) break;
      devices[n_devices++] = all[k];
      p = end;
      while (*p == ' ') p++;
      if (*p != ',') break;
      p++;
    }
  }
  /* No visible device: CUDA_ERROR_NO_DEVICE, as the real driver. With
   * CT_FAKE_CUDA_DEVICES=0 and no filter, an initialised driver without
   * GPUs (a case the real driver reports as 100 too, kept for NO_DEVICE). */
  if (n_devices == 0) return (vis || phys > 0) ? 100 : 0;
  for (int i = 0; i < n_devices; i++) devices[i].ctx.device = i;
  /* "710@3": the third launch breaks its context for good, as a device-side
   * assert, an uncorrectable ECC error or a destroyed context does. */
  sticky_error = sticky_at = 0;
  launches = 0;
  const char *st = env("CT_FAKE_CUDA_STICKY");
  if (st && *st && (sscanf(st, "%d@%d", &sticky_error, &sticky_at) != 2 || sticky_at < 1)) sticky_error = 0;
  return 0;
}

EXPORT CUresult cuInit(unsigned int flags) {
  (void)flags;
  if (stub_mode()) return 34;
  pthread_mutex_lock(&lock);
  CUresult r = 0;
  if (!initialized || n_allocs_live == 0) {
    int any_ctx = 0;
    for (int i = 0; i < n_devices; i++) any_ctx |= devices[i].ctx.refs > 0;
    if (!any_ctx) {
      r = configure();
      initialized = r == 0;
    }
  }
  pthread_mutex_unlock(&lock);
  if (r == 0 && (r = inject_in(F_cuInit, NULL)) != 0) {
    /* as a failed first cuInit: nothing works until one succeeds */
    pthread_mutex_lock(&lock);
    int any_ctx = 0;
    for (int i = 0; i < n_devices; i++) any_ctx |= devices[i].ctx.refs > 0;
    if (!any_ctx) initialized = 0;
    pthread_mutex_unlock(&lock);
  }
  return r;
}

EXPORT CUresult cuDriverGetVersion(int *v) {
  if (stub_mode()) return 34;
  if (!v) return 1;
  *v = env_int("CT_FAKE_CUDA_DRIVER_VERSION", 13000);
  return 0;
}

static const char *err_name(CUresult r) {
  switch (r) {
    case 0: return "CUDA_SUCCESS";
    case 1: return "CUDA_ERROR_INVALID_VALUE";
    case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
    case 3: return "CUDA_ERROR_NOT_INITIALIZED";
    case 34: return "CUDA_ERROR_STUB_LIBRARY";
    case 46: return "CUDA_ERROR_DEVICE_UNAVAILABLE";
    case 100: return "CUDA_ERROR_NO_DEVICE";
    case 101: return "CUDA_ERROR_INVALID_DEVICE";
    case 200: return "CUDA_ERROR_INVALID_IMAGE";
    case 201: return "CUDA_ERROR_INVALID_CONTEXT";
    case 214: return "CUDA_ERROR_ECC_UNCORRECTABLE";
    case 218: return "CUDA_ERROR_INVALID_PTX";
    case 500: return "CUDA_ERROR_NOT_FOUND";
    case 700: return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case 701: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    case 702: return "CUDA_ERROR_LAUNCH_TIMEOUT";
    case 709: return "CUDA_ERROR_CONTEXT_IS_DESTROYED";
    case 710: return "CUDA_ERROR_ASSERT";
    case 719: return "CUDA_ERROR_LAUNCH_FAILED";
    case 803: return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case 999: return "CUDA_ERROR_UNKNOWN";
    default: return NULL;
  }
}

EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
  if (stub_mode()) return 34;
  *s = err_name(r);
  return *s ? 0 : 1;
}

EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
  if (stub_mode()) return 34;
  *s = err_name(r) ? "fake driver error" : NULL;
  return *s ? 0 : 1;
}

#define NEED_INIT()                          \
  do {                                       \
    if (stub_mode()) return 34;              \
    if (!initialized) return 3; /* NOT_INIT */ \
  } while (0)

static int valid_dev(CUdevice d) { return d >= 0 && d < n_devices; }

EXPORT CUresult cuDeviceGetCount(int *n) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceGetCount, NULL);
  *n = n_devices;
  return 0;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceGet, NULL);
  if (!valid_dev(ordinal)) return 101;
  *d = ordinal;
  return 0;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceGetName, NULL);
  if (!valid_dev(d) || len <= 0) return 101;
  snprintf(name, (size_t)len, "%s", devices[d].name);
  return 0;
}

EXPORT CUresult cuDeviceGetUuid(unsigned char *uuid, CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceGetUuid, NULL);
  if (!valid_dev(d)) return 101;
  for (int i = 0; i < 16; i++) uuid[i] = (unsigned char)(0x10 * (devices[d].physical + 1) + i);
  return 0;
}
EXPORT CUresult cuDeviceGetUuid_v2(unsigned char *uuid, CUdevice d) { return cuDeviceGetUuid(uuid, d); }

EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceGetAttribute, NULL);
  if (!valid_dev(d)) return 101;
  const fake_device *f = &devices[d];
  switch (attr) {
    case 75: *v = f->cc_major; break;
    case 76: *v = f->cc_minor; break;
    case 16: *v = f->sms; break;
    case 33: *v = 1 + f->physical; break; /* PCI bus */
    case 34: *v = 0; break;
    case 50: *v = 0; break;
    case 1: *v = 1024; break;
    case 10: *v = 32; break;
    case 20: *v = f->compute_mode; break;
    default: *v = 0;
  }
  return 0;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceTotalMem, NULL);
  if (!valid_dev(d)) return 101;
  *bytes = devices[d].memory;
  return 0;
}

EXPORT CUresult cuDeviceGetPCIBusId(char *bus, int len, CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDeviceGetPCIBusId, NULL);
  if (!valid_dev(d)) return 101;
  snprintf(bus, (size_t)len, "0000:%02X:00.0", 1 + devices[d].physical);
  return 0;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(fake_ctx **ctx, CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDevicePrimaryCtxRetain, NULL);
  if (!valid_dev(d)) return 101;
  /* A GPU in prohibited mode, held in exclusive-process mode by another
   * process, full, or fallen off the bus after an Xid error. */
  if (devices[d].ctx_error) return devices[d].ctx_error;
  if (devices[d].compute_mode == 2) return 46; /* CUDA_ERROR_DEVICE_UNAVAILABLE */
  pthread_mutex_lock(&lock);
  devices[d].ctx.refs++;
  counter_ctx_retains++;
  pthread_mutex_unlock(&lock);
  *ctx = &devices[d].ctx;
  return 0;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
  NEED_INIT();
  FAIL_POINT(F_cuDevicePrimaryCtxRelease, NULL);
  if (!valid_dev(d) || devices[d].ctx.refs <= 0) return 101;
  pthread_mutex_lock(&lock);
  /* The last release destroys the primary context: the next retain gets a
   * fresh one, without the sticky error. */
  if (--devices[d].ctx.refs == 0) devices[d].ctx.sticky = 0;
  pthread_mutex_unlock(&lock);
  return 0;
}

static long counter_ctx_switches; /* cuCtxSetCurrent calls since load */

EXPORT CUresult cuCtxSetCurrent(fake_ctx *c) {
  NEED_INIT();
  FAIL_POINT(F_cuCtxSetCurrent, NULL);
  current = c;
  pthread_mutex_lock(&lock);
  counter_ctx_switches++;
  pthread_mutex_unlock(&lock);
  return 0;
}

/* A context of its own, as another library (or an application using the
 * driver API) makes: current on the calling thread once created. */
EXPORT CUresult cuCtxCreate_v2(fake_ctx **ctx, unsigned int flags, CUdevice d) {
  (void)flags;
  NEED_INIT();
  if (!ctx) return 1;
  if (!valid_dev(d)) return 101;
  fake_ctx *c = calloc(1, sizeof *c);
  if (!c) return 2;
  c->device = d;
  c->refs = 1;
  *ctx = c;
  current = c;
  return 0;
}

EXPORT CUresult cuCtxDestroy_v2(fake_ctx *c) {
  NEED_INIT();
  if (!c) return 201;
  if (current == c) current = NULL;
  free(c);
  return 0;
}

/* For tests: cuCtxSetCurrent calls since the library was loaded (an op on
 * a context already current should make none). */
EXPORT long ct_fake_cuda_ctx_switches(void) {
  pthread_mutex_lock(&lock);
  long n = counter_ctx_switches;
  pthread_mutex_unlock(&lock);
  return n;
}

EXPORT CUresult cuCtxGetCurrent(fake_ctx **c) {
  NEED_INIT();
  FAIL_POINT(F_cuCtxGetCurrent, NULL);
  *c = current;
  return 0;
}

EXPORT CUresult cuCtxSynchronize(void) {
  NEED_INIT();
  FAIL_POINT(F_cuCtxSynchronize, current);
  flush_copies();
  return current ? 0 : 201;
}

#ifndef CT_FAKE_OMIT_SYMBOLS
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  NEED_INIT();
  FAIL_POINT(F_cuMemAlloc, current);
  if (!current) return 201;
  if (bytes == 0) return 1;
  pthread_mutex_lock(&lock);
  fake_device *d = &devices[current->device];
  CUresult r = 0;
  if (d->used + bytes > d->memory) {
    r = 2;
  } else {
    fake_alloc *a = calloc(1, sizeof *a);
    char *mem = a ? malloc(bytes) : NULL;
    if (!mem) {
      free(a);
      r = 2;
    } else {
      a->p = mem;
      a->size = bytes;
      a->device = current->device;
      a->next = allocs;
      allocs = a;
      d->used += bytes;
      n_allocs_live++;
      counter_allocs++;
      *p = (CUdeviceptr)(uintptr_t)mem;
    }
  }
  pthread_mutex_unlock(&lock);
  return r;
}
#endif

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  NEED_INIT();
  FAIL_POINT(F_cuMemFree, current);
  flush_copies(); /* cuMemFree synchronises */
  pthread_mutex_lock(&lock);
  fake_alloc **pp = &allocs;
  while (*pp && (uintptr_t)(*pp)->p != p) pp = &(*pp)->next;
  CUresult r = 1;
  if (*pp) {
    fake_alloc *a = *pp;
    *pp = a->next;
    devices[a->device].used -= a->size;
    n_allocs_live--;
    free(a->p);
    free(a);
    r = 0;
  }
  pthread_mutex_unlock(&lock);
  return r;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total) {
  NEED_INIT();
  FAIL_POINT(F_cuMemGetInfo, current);
  if (!current) return 201;
  fake_device *d = &devices[current->device];
  *free_b = d->memory - d->used;
  *total = d->memory;
  return 0;
}

/* Is [p, p+n) inside one allocation? */
static int valid_range(CUdeviceptr p, size_t n) {
  int ok = 0;
  pthread_mutex_lock(&lock);
  for (fake_alloc *a = allocs; a && !ok; a = a->next)
    ok = p >= (uintptr_t)a->p && p + n <= (uintptr_t)a->p + a->size;
  pthread_mutex_unlock(&lock);
  return ok;
}

/* For the fake cuBLAS (fake_libcublas.c): it checks every matrix it reads
 * or writes against the live allocations, as a real GPU would fault. */
EXPORT int ct_fake_cuda_valid_range(CUdeviceptr p, size_t n) { return valid_range(p, n); }

/* CT_FAKE_CUDA_ASYNC_COPY=1: a host-to-device copy only reads its source
 * when the stream gets to it -- at the next stream operation or
 * synchronisation -- as a copy from pinned memory does on a GPU. A caller
 * that reuses or frees the source before that sees the bug. */
typedef struct pending_copy {
  CUdeviceptr dst;
  const void *src;
  size_t n;
  struct pending_copy *next;
} pending_copy;
static pending_copy *pending_head, **pending_tail = &pending_head;

static void flush_copies(void) {
  pthread_mutex_lock(&lock);
  pending_copy *p = pending_head;
  pending_head = NULL;
  pending_tail = &pending_head;
  pthread_mutex_unlock(&lock);
  while (p) {
    pending_copy *next = p->next;
    memcpy((void *)(uintptr_t)p->dst, p->src, p->n);
    free(p);
    p = next;
  }
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream) {
  NEED_INIT();
  FAIL_POINT(F_cuMemcpyHtoDAsync, stream_ctx(stream));
  if (stream_sticky(stream)) return stream_sticky(stream);
  if (!valid_range(dst, n)) return 1;
  if (env_int("CT_FAKE_CUDA_ASYNC_COPY", 0)) {
    pending_copy *p = calloc(1, sizeof *p);
    if (!p) return 2;
    p->dst = dst, p->src = src, p->n = n;
    pthread_mutex_lock(&lock);
    *pending_tail = p;
    pending_tail = &p->next;
    pthread_mutex_unlock(&lock);
    return 0;
  }
  flush_copies();
  memcpy((void *)(uintptr_t)dst, src, n);
  return 0;
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream) {
  NEED_INIT();
  FAIL_POINT(F_cuMemcpyDtoHAsync, stream_ctx(stream));
  if (stream_sticky(stream)) return stream_sticky(stream);
  flush_copies();
  if (!valid_range(src, n)) return 1;
  memcpy(dst, (const void *)(uintptr_t)src, n);
  return 0;
}

static CUresult copy_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream) {
  if (stream_sticky(stream)) return stream_sticky(stream);
  flush_copies();
  if (!valid_range(dst, n) || !valid_range(src, n)) return 1;
  memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
  return 0;
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream) {
  NEED_INIT();
  FAIL_POINT(F_cuMemcpyDtoDAsync, stream_ctx(stream));
  return copy_dtod(dst, src, n, stream);
}

EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, void *dc, CUdeviceptr src, void *sc, size_t n, void *stream) {
  (void)dc;
  (void)sc;
  NEED_INIT();
  FAIL_POINT(F_cuMemcpyPeerAsync, stream_ctx(stream));
  return copy_dtod(dst, src, n, stream);
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, void *stream) {
  NEED_INIT();
  FAIL_POINT(F_cuMemsetD8Async, stream_ctx(stream));
  if (stream_sticky(stream)) return stream_sticky(stream);
  flush_copies();
  if (!valid_range(dst, n)) return 1;
  memset((void *)(uintptr_t)dst, v, n);
  return 0;
}

EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, void *stream) {
  NEED_INIT();
  FAIL_POINT(F_cuMemsetD32Async, stream_ctx(stream));
  if (stream_sticky(stream)) return stream_sticky(stream);
  flush_copies();
  if (!valid_range(dst, n * 4)) return 1;
  unsigned int *q = (unsigned int *)(uintptr_t)dst;
  for (size_t i = 0; i < n; i++) q[i] = v;
  return 0;
}

EXPORT CUresult cuStreamCreate(fake_stream **s, unsigned int flags) {
  (void)flags;
  NEED_INIT();
  FAIL_POINT(F_cuStreamCreate, stream_ctx(NULL));
  if (!current) return 201;
  fake_stream *f = calloc(1, sizeof *f);
  if (!f) return 2;
  f->device = current->device;
  pthread_mutex_lock(&lock);
  counter_streams++;
  pthread_mutex_unlock(&lock);
  *s = f;
  return 0;
}

/* The sticky error of the context a stream belongs to (the current one
 * for the NULL stream), 0 if none. */
static int stream_sticky(void *stream) {
  fake_stream *s = stream;
  pthread_mutex_lock(&lock);
  int r = s ? devices[s->device].ctx.sticky : current ? current->sticky : 0;
  pthread_mutex_unlock(&lock);
  return r;
}

EXPORT CUresult cuStreamSynchronize(fake_stream *s) {
  NEED_INIT();
  FAIL_POINT(F_cuStreamSynchronize, stream_ctx(s));
  flush_copies();
  if (!s) return 400;
  if (stream_sticky(s)) return stream_sticky(s);
  pthread_mutex_lock(&lock);
  int fault = fault_pending;
  fault_pending = 0;
  pthread_mutex_unlock(&lock);
  return fault;
}

EXPORT CUresult cuStreamQuery(fake_stream *s) {
  NEED_INIT();
  FAIL_POINT(F_cuStreamQuery, stream_ctx(s));
  return s ? 0 : 400;
}

EXPORT CUresult cuStreamDestroy_v2(fake_stream *s) {
  NEED_INIT();
  FAIL_POINT(F_cuStreamDestroy, stream_ctx(s));
  if (!s) return 400;
  pthread_mutex_lock(&lock);
  counter_streams--;
  pthread_mutex_unlock(&lock);
  free(s);
  return 0;
}

/* Modules. A PTX image is parsed for its entry points and their
 * parameter lists (sizes, and which are pointers), so that
 * cuModuleGetFunction fails for a name the module does not define (as the
 * real driver does) and cuLaunchKernel reads exactly the bytes the kernel
 * declares from each params[i] -- under AddressSanitizer, a host argument
 * of the wrong size or a missing one is then a reported overflow. A cubin
 * is not parsed: any name is accepted and the parameters are not read.
 * An image of the fake NVRTC ("CTEMU-SO", size, a shared library) is
 * loaded with dlopen: its functions are the library's kernels, which
 * cuLaunchKernel runs. */
#define FAKE_MAX_PARAMS 32
#define FAKE_MODULE_MAGIC 0x6d6f64
#define FAKE_FUNC_MAGIC 0x66756e

typedef struct fake_func {
  int magic;
  char name[96];
  int n_params; /* -1: unknown (cubin) */
  unsigned size[FAKE_MAX_PARAMS];
  int is_ptr[FAKE_MAX_PARAMS];
  void (*emu_entry)(void **); /* a host kernel: the trampoline of ct_emu.h */
  void *emu_lib;
} fake_func;

#define FAKE_MAX_EMU_FUNCS 16

typedef struct fake_module {
  int magic;
  int n_funcs; /* -1: not PTX, every name is accepted */
  fake_func *funcs;
  fake_func any;
  void *emu_lib; /* dlopen handle of a host-kernel image */
  fake_func *emu_funcs[FAKE_MAX_EMU_FUNCS];
  int n_emu_funcs;
} fake_module;

/* Loads a fake-NVRTC image. The library goes through a file whose name is
 * never reused in this process (dlopen matches loaded objects by name). */
static void *load_emu_image(const unsigned char *image) {
  static long serial;
  uint64_t size = 0;
  for (int i = 7; i >= 0; i--) size = size << 8 | image[8 + i];
  const char *tmp = getenv("TMPDIR");
  char path[4096];
  pthread_mutex_lock(&lock);
  long id = ++serial;
  pthread_mutex_unlock(&lock);
  snprintf(path, sizeof path, "%s/ct-fake-kernel-%ld-%ld-XXXXXX", tmp && *tmp ? tmp : "/tmp", (long)getpid(), id);
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, image + 16 + done, (size_t)(size - done));
    if (w <= 0) break;
    done += (size_t)w;
  }
  close(fd);
  void *lib = done == size ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  if (!lib) fprintf(stderr, "fake libcuda: cannot load a host-kernel image: %s\n", dlerror());
  unlink(path);
  return lib;
}

static unsigned ptx_type_size(const char *t, size_t n) {
  if (n < 3) return 0;
  char c = t[n - 1], d = t[n - 2];
  if (c == '8') return 1;
  if (d == '1' && c == '6') return 2;
  if (d == '3' && c == '2') return 4;
  if (d == '6' && c == '4') return 8;
  return 0;
}

/* Parses ".param .u64 .ptr .align 1 name," / ".param .align 8 .b8 name[264]". */
static int parse_params(const char *p, const char *end, fake_func *f) {
  f->n_params = 0;
  while (p < end) {
    const char *q = strstr(p, ".param");
    if (!q || q >= end) break;
    q += 6;
    const char *line_end = q;
    while (line_end < end && *line_end != ',' && *line_end != ')') line_end++;
    unsigned size = 0, count = 1;
    int is_ptr = 0;
    const char *t = q;
    while (t < line_end) {
      while (t < line_end && (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')) t++;
      const char *w = t;
      while (t < line_end && !(*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')) t++;
      size_t wn = (size_t)(t - w);
      if (wn == 0) break;
      if (wn == 4 && strncmp(w, ".ptr", 4) == 0) {
        is_ptr = 1;
      } else if (wn == 6 && strncmp(w, ".align", 6) == 0) {
        while (t < line_end && (*t == ' ' || *t == '\t')) t++;
        while (t < line_end && *t >= '0' && *t <= '9') t++;
      } else if (w[0] == '.' && size == 0) {
        size = ptx_type_size(w, wn);
      } else if (w[0] != '.') {
        const char *br = memchr(w, '[', wn);
        if (br) count = (unsigned)strtoul(br + 1, NULL, 10);
      }
    }
    if (f->n_params >= FAKE_MAX_PARAMS || size == 0) return -1;
    f->size[f->n_params] = size * count;
    f->is_ptr[f->n_params] = is_ptr;
    f->n_params++;
    p = line_end + 1;
  }
  return 0;
}

static void parse_ptx(fake_module *m, const char *ptx) {
  m->n_funcs = 0;
  for (const char *p = ptx; (p = strstr(p, ".entry ")) != NULL;) {
    p += 7;
    const char *open = strchr(p, '(');
    const char *close = open ? strchr(open, ')') : NULL;
    if (!close) break;
    fake_func *grown = realloc(m->funcs, (size_t)(m->n_funcs + 1) * sizeof *grown);
    if (!grown) break;
    m->funcs = grown;
    fake_func *f = &m->funcs[m->n_funcs];
    memset(f, 0, sizeof *f);
    f->magic = FAKE_FUNC_MAGIC;
    size_t n = strcspn(p, "( \t\n");
    if (n >= sizeof f->name) n = sizeof f->name - 1;
    memcpy(f->name, p, n);
    if (parse_params(open + 1, close, f) == 0) m->n_funcs++;
    p = close;
  }
}

static void module_loaded(int delta) {
  pthread_mutex_lock(&lock);
  n_modules_live += delta;
  pthread_mutex_unlock(&lock);
}

EXPORT CUresult cuModuleLoadData(void **m, const void *image) {
  NEED_INIT();
  FAIL_POINT(F_cuModuleLoadData, current);
  if (!image || !m) return 1;
  fake_module *mod = calloc(1, sizeof *mod);
  if (!mod) return 2;
  mod->magic = FAKE_MODULE_MAGIC;
  mod->n_funcs = -1;
  mod->any.magic = FAKE_FUNC_MAGIC;
  mod->any.n_params = -1;
  snprintf(mod->any.name, sizeof mod->any.name, "(cubin)");
  const char *text = image;
  if (memcmp(image, "CTEMU-SO", 8) == 0) {
    mod->emu_lib = load_emu_image(image);
    if (!mod->emu_lib) {
      free(mod);
      return 218; /* CUDA_ERROR_INVALID_PTX */
    }
    mod->n_funcs = 0;
    *m = mod;
    module_loaded(1);
    return 0;
  }
  /* PTX is text with entry points; a cubin is ELF. Anything else the real
   * driver refuses (a cache entry from elsewhere, a truncated file). */
  if (text[0] != 0x7f && strstr(text, ".entry ")) {
    parse_ptx(mod, text);
  } else if (memcmp(image, "\x7f" "ELF", 4) != 0) {
    free(mod);
    return 200; /* CUDA_ERROR_INVALID_IMAGE */
  }
  *m = mod;
  module_loaded(1);
  return 0;
}

EXPORT CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  NEED_INIT();
  FAIL_POINT(F_cuModuleGetFunction, current);
  fake_module *mod = m;
  if (!mod || mod->magic != FAKE_MODULE_MAGIC || !name || !f) return 400;
  if (mod->emu_lib) {
    for (int i = 0; i < mod->n_emu_funcs; i++)
      if (strcmp(mod->emu_funcs[i]->name, name) == 0) {
        *f = mod->emu_funcs[i];
        return 0;
      }
    char entry[160];
    snprintf(entry, sizeof entry, "%s__ct_emu", name);
    void *sym = dlsym(mod->emu_lib, entry);
    if (!dlsym(mod->emu_lib, name) || !sym) return 500; /* CUDA_ERROR_NOT_FOUND */
    if (mod->n_emu_funcs == FAKE_MAX_EMU_FUNCS) return 2;
    fake_func *fn = calloc(1, sizeof *fn);
    if (!fn) return 2;
    fn->magic = FAKE_FUNC_MAGIC;
    snprintf(fn->name, sizeof fn->name, "%s", name);
    fn->n_params = -1;
    fn->emu_entry = (void (*)(void **))sym;
    fn->emu_lib = mod->emu_lib;
    mod->emu_funcs[mod->n_emu_funcs++] = fn;
    *f = fn;
    return 0;
  }
  if (mod->n_funcs < 0) {
    *f = &mod->any;
    return 0;
  }
  for (int i = 0; i < mod->n_funcs; i++)
    if (strcmp(mod->funcs[i].name, name) == 0) {
      *f = &mod->funcs[i];
      return 0;
    }
  return 500; /* CUDA_ERROR_NOT_FOUND */
}

EXPORT CUresult cuModuleUnload(void *m) {
  NEED_INIT();
  FAIL_POINT(F_cuModuleUnload, current);
  fake_module *mod = m;
  if (!mod || mod->magic != FAKE_MODULE_MAGIC) return 400;
  mod->magic = 0;
  free(mod->funcs);
  for (int i = 0; i < mod->n_emu_funcs; i++) {
    mod->emu_funcs[i]->magic = 0;
    free(mod->emu_funcs[i]);
  }
  if (mod->emu_lib) dlclose(mod->emu_lib);
  free(mod);
  module_loaded(-1);
  return 0;
}

/* What the last successful launch was given (for tests). */
typedef struct ct_fake_cuda_launch {
  long count;                     /* launches so far */
  long rejected;                  /* launches refused (bad configuration, pointer or parameters) */
  char name[96];
  unsigned grid[3], block[3], shared;
  int n_params;                   /* -1: unknown (cubin) */
  unsigned size[FAKE_MAX_PARAMS]; /* bytes of each parameter */
  unsigned offset[FAKE_MAX_PARAMS];
  unsigned char bytes[4096];      /* the parameters, back to back */
  char last_error[160];           /* why the last rejected launch was refused */
} ct_fake_cuda_launch;

static ct_fake_cuda_launch last_launch;

static CUresult reject(const char *name, const char *why, long detail) {
  pthread_mutex_lock(&lock);
  last_launch.rejected++;
  snprintf(last_launch.last_error, sizeof last_launch.last_error, "%s: %s (%ld)", name, why, detail);
  pthread_mutex_unlock(&lock);
  return 1; /* CUDA_ERROR_INVALID_VALUE */
}

/* Runs a host kernel, one launch at a time (the modules' CUDA-thread state
 * is static), with fiber records and stacks shared by every module. A block
 * whose threads deadlock at barriers is what a watchdog would kill: the
 * next synchronisation fails with CUDA_ERROR_LAUNCH_TIMEOUT. */
#define EMU_STACK_BYTES ((size_t)64 * 1024)
static pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
static void *emu_records;
static char *emu_stacks;

static CUresult run_emulated(fake_func *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                             unsigned bz, void **params) {
  size_t (*fiber_size)(void) = (size_t(*)(void))dlsym(fn->emu_lib, "ct_emu_fiber_size");
  int (*launch)(void (*)(void **), void **, const unsigned *, const unsigned *, void *, char *, size_t) =
      (int (*)(void (*)(void **), void **, const unsigned *, const unsigned *, void *, char *, size_t))dlsym(
          fn->emu_lib, "ct_emu_launch");
  if (!fiber_size || !launch) return 200; /* CUDA_ERROR_INVALID_IMAGE */
  pthread_mutex_lock(&emu_lock);
  if (!emu_stacks) {
    void *m = mmap(NULL, EMU_STACK_BYTES * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    emu_records = calloc(1024, fiber_size());
    if (m == MAP_FAILED || !emu_records) {
      if (m != MAP_FAILED) munmap(m, EMU_STACK_BYTES * 1024);
      free(emu_records);
      emu_records = NULL;
      pthread_mutex_unlock(&emu_lock);
      return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    }
    emu_stacks = m;
  }
  unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  int r = launch(fn->emu_entry, params, grid, block, emu_records, emu_stacks, EMU_STACK_BYTES);
  pthread_mutex_unlock(&emu_lock);
  if (r != 0) {
    fprintf(stderr, "fake libcuda: the threads of a block of %s deadlocked at barriers\n", fn->name);
    pthread_mutex_lock(&lock);
    fault_pending = 702; /* CUDA_ERROR_LAUNCH_TIMEOUT */
    pthread_mutex_unlock(&lock);
  }
  return 0;
}

/* Kernels do nothing (host kernels excepted), but the launch is checked as
 * the real driver would (grid and block limits) and, for PTX modules,
 * every parameter is read with its declared size and every pointer
 * parameter must lie inside a live allocation. CT_FAKE_CUDA_LAUNCH_FAULT=1 makes the next stream
 * synchronisation after a launch fail with CUDA_ERROR_ILLEGAL_ADDRESS. */
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared, void *stream, void **params, void **extra) {
  (void)extra;
  NEED_INIT();
  FAIL_POINT(F_cuLaunchKernel, stream_ctx(stream));
  fake_func *fn = f;
  if (!fn || fn->magic != FAKE_FUNC_MAGIC) return 400;
  if (stream_sticky(stream)) return stream_sticky(stream);
  if (!gx || !gy || !gz || !bx || !by || !bz) return reject(fn->name, "zero grid or block dimension", 0);
  if (gx > 2147483647u || gy > 65535u || gz > 65535u) return reject(fn->name, "grid too large", (long)gx);
  if (bx > 1024u || by > 1024u || bz > 64u || (unsigned long long)bx * by * bz > 1024u)
    return reject(fn->name, "block too large", (long)bx * by * bz);
  if (shared > 48u * 1024u) return reject(fn->name, "dynamic shared memory above 48 KiB", (long)shared);
  ct_fake_cuda_launch rec;
  memset(&rec, 0, sizeof rec);
  snprintf(rec.name, sizeof rec.name, "%s", fn->name);
  rec.grid[0] = gx, rec.grid[1] = gy, rec.grid[2] = gz;
  rec.block[0] = bx, rec.block[1] = by, rec.block[2] = bz;
  rec.shared = shared;
  rec.n_params = fn->n_params;
  unsigned off = 0;
  for (int i = 0; i < fn->n_params; i++) {
    if (!params || !params[i]) return reject(fn->name, "missing parameter", i);
    unsigned sz = fn->size[i], al = sz >= 8 ? 8 : sz;
    off = (off + al - 1) / al * al;
    if (off + sz > sizeof rec.bytes) return reject(fn->name, "parameters above 4 KiB", off + sz);
    memcpy(rec.bytes + off, params[i], sz); /* reads exactly what the kernel declares */
    rec.size[i] = sz;
    rec.offset[i] = off;
    if (fn->is_ptr[i]) {
      CUdeviceptr v = 0;
      memcpy(&v, rec.bytes + off, sizeof v);
      /* NULL is fine for a pointer the kernel does not use (empty inputs) */
      if (v && !valid_range(v, 1)) return reject(fn->name, "pointer parameter outside every allocation", i);
    }
    off += sz;
  }
  pthread_mutex_lock(&lock);
  rec.count = last_launch.count + 1;
  rec.rejected = last_launch.rejected;
  memcpy(rec.last_error, last_launch.last_error, sizeof rec.last_error);
  last_launch = rec;
  pthread_mutex_unlock(&lock);
  flush_copies(); /* stream order: earlier copies land before the kernel runs */
  if (fn->emu_entry) {
    CUresult r = run_emulated(fn, gx, gy, gz, bx, by, bz, params);
    if (r != 0) return r;
  }
  if (env_int("CT_FAKE_CUDA_LAUNCH_FAULT", 0)) {
    pthread_mutex_lock(&lock);
    fault_pending = 700; /* CUDA_ERROR_ILLEGAL_ADDRESS */
    pthread_mutex_unlock(&lock);
  }
  /* CT_FAKE_CUDA_STICKY: this launch is accepted (the fault is
   * asynchronous), and from now on its context returns the error. */
  pthread_mutex_lock(&lock);
  fake_ctx *broken = stream ? &devices[((fake_stream *)stream)->device].ctx : current;
  if (++launches == sticky_at && sticky_error && broken) broken->sticky = sticky_error;
  pthread_mutex_unlock(&lock);
  return 0;
}

EXPORT void ct_fake_cuda_get_last_launch(ct_fake_cuda_launch *out) {
  pthread_mutex_lock(&lock);
  *out = last_launch;
  pthread_mutex_unlock(&lock);
}

/* ---- cuGetProcAddress ---------------------------------------------------- */

#ifndef CT_FAKE_OMIT_SYMBOLS
static const struct {
  const char *name;
  void *fn;
} procs[] = {
    {"cuInit", (void *)cuInit},
    {"cuDriverGetVersion", (void *)cuDriverGetVersion},
    {"cuDeviceGetCount", (void *)cuDeviceGetCount},
    {"cuDeviceGet", (void *)cuDeviceGet},
    {"cuDeviceGetName", (void *)cuDeviceGetName},
    {"cuDeviceGetUuid", (void *)cuDeviceGetUuid_v2},
    {"cuDeviceGetAttribute", (void *)cuDeviceGetAttribute},
    {"cuDeviceTotalMem", (void *)cuDeviceTotalMem_v2},
    {"cuDeviceGetPCIBusId", (void *)cuDeviceGetPCIBusId},
    {"cuDevicePrimaryCtxRetain", (void *)cuDevicePrimaryCtxRetain},
    {"cuDevicePrimaryCtxRelease", (void *)cuDevicePrimaryCtxRelease_v2},
    {"cuCtxSetCurrent", (void *)cuCtxSetCurrent},
    {"cuCtxGetCurrent", (void *)cuCtxGetCurrent},
    {"cuCtxSynchronize", (void *)cuCtxSynchronize},
    {"cuMemAlloc", (void *)cuMemAlloc_v2},
    {"cuMemFree", (void *)cuMemFree_v2},
    {"cuMemGetInfo", (void *)cuMemGetInfo_v2},
    {"cuMemcpyHtoDAsync", (void *)cuMemcpyHtoDAsync_v2},
    {"cuMemcpyDtoHAsync", (void *)cuMemcpyDtoHAsync_v2},
    {"cuMemcpyDtoDAsync", (void *)cuMemcpyDtoDAsync_v2},
    {"cuMemcpyPeerAsync", (void *)cuMemcpyPeerAsync},
    {"cuMemsetD8Async", (void *)cuMemsetD8Async},
    {"cuMemsetD32Async", (void *)cuMemsetD32Async},
    {"cuStreamCreate", (void *)cuStreamCreate},
    {"cuStreamSynchronize", (void *)cuStreamSynchronize},
    {"cuStreamQuery", (void *)cuStreamQuery},
    {"cuStreamDestroy", (void *)cuStreamDestroy_v2},
    {"cuModuleLoadData", (void *)cuModuleLoadData},
    {"cuModuleGetFunction", (void *)cuModuleGetFunction},
    {"cuModuleUnload", (void *)cuModuleUnload},
    {"cuLaunchKernel", (void *)cuLaunchKernel},
};

static long counter_proc_lookups;

/* CT_FAKE_CUDA_NO_PROC_ADDRESS=1 answers "not found" for every symbol, so
 * that the loader's dlsym fallback is exercised. */
EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags,
                                    int *status) {
  (void)flags;
  if (stub_mode()) return 34;
  *pfn = NULL;
  if (status) *status = 1;
  if (version > env_int("CT_FAKE_CUDA_DRIVER_VERSION", 13000)) return 1;
  if (env_int("CT_FAKE_CUDA_NO_PROC_ADDRESS", 0)) return 500;
  for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++)
    if (strcmp(procs[i].name, symbol) == 0) {
      *pfn = procs[i].fn;
      if (status) *status = 0;
      pthread_mutex_lock(&lock);
      counter_proc_lookups++;
      pthread_mutex_unlock(&lock);
      return 0;
    }
  return 500;
}
#else
static long counter_proc_lookups;
#endif

/* ---- for tests: what the library has done -------------------------------- */

typedef struct ct_fake_cuda_counters {
  long ctx_retains;   /* cuDevicePrimaryCtxRetain calls since load */
  long allocs;        /* cuMemAlloc calls that succeeded since load */
  int live_allocs;    /* allocations not yet freed */
  long streams;       /* streams alive */
  long proc_lookups;  /* symbols served by cuGetProcAddress */
  size_t used[MAX_DEV];
} ct_fake_cuda_counters;

EXPORT void ct_fake_cuda_get_counters(ct_fake_cuda_counters *out) {
  pthread_mutex_lock(&lock);
  out->ctx_retains = counter_ctx_retains;
  out->allocs = counter_allocs;
  out->live_allocs = n_allocs_live;
  out->streams = counter_streams;
  out->proc_lookups = counter_proc_lookups;
  for (int i = 0; i < MAX_DEV; i++) out->used[i] = i < n_devices ? devices[i].used : 0;
  pthread_mutex_unlock(&lock);
}

/* What is alive now: a test checks that teardown after a failure gave
 * everything back. */
typedef struct ct_fake_cuda_live {
  int allocs;   /* cuMemAlloc without cuMemFree */
  int modules;  /* cuModuleLoadData without cuModuleUnload */
  long streams; /* cuStreamCreate without cuStreamDestroy */
  int ctx_refs; /* primary-context retains without release, over all GPUs */
} ct_fake_cuda_live;

EXPORT void ct_fake_cuda_get_live(ct_fake_cuda_live *out) {
  pthread_mutex_lock(&lock);
  out->allocs = n_allocs_live;
  out->modules = n_modules_live;
  out->streams = counter_streams;
  out->ctx_refs = 0;
  for (int i = 0; i < n_devices; i++) out->ctx_refs += devices[i].ctx.refs;
  pthread_mutex_unlock(&lock);
}

/* CT_FAKE_CUDA_FAIL's counts: calls of an entry point (a name of
 * fail_entries, such as "cuMemAlloc") since the cuInit that last read the
 * configuration; -1 for a name the fake cannot fail. */
EXPORT long ct_fake_cuda_calls(const char *entry) {
  pthread_mutex_lock(&lock);
  long n = entry ? fake_fail_count(&fails, entry) : -1;
  pthread_mutex_unlock(&lock);
  return n;
}

/* The i-th entry point CT_FAKE_CUDA_FAIL knows, NULL past the last. */
EXPORT const char *ct_fake_cuda_fail_entry(int i) { return i >= 0 && i < F_COUNT ? fail_entries[i].name : NULL; }

/* Failures injected since the configuration was read. */
EXPORT long ct_fake_cuda_injected(void) {
  pthread_mutex_lock(&lock);
  long n = fails.injected;
  pthread_mutex_unlock(&lock);
  return n;
}

/* How many times cuInit has read the configuration: the fake cuBLAS and
 * NVRTC start counting their calls again when it changes, so that all
 * three count from the same cuInit. */
EXPORT long ct_fake_cuda_epoch(void) {
  pthread_mutex_lock(&lock);
  long e = epoch;
  pthread_mutex_unlock(&lock);
  return e;
}
