/*
 * The GPU backend's memory, copies and stream errors, on the fake driver
 * (device memory is host memory there, so the bytes can be checked).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/cuda_device.h"
#include "testutil.h"

static char fake_lib[1024];

typedef struct ct_fake_cuda_counters {
  long ctx_retains, allocs;
  int live_allocs;
  long streams, proc_lookups;
  size_t used[16];
} ct_fake_cuda_counters;

static void fake_counters(ct_fake_cuda_counters *c) {
  memset(c, 0, sizeof *c);
  void *h = dlopen(fake_lib, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return;
  void (*fn)(ct_fake_cuda_counters *) = (void (*)(ct_fake_cuda_counters *))dlsym(h, "ct_fake_cuda_get_counters");
  if (fn) fn(c);
  dlclose(h);
}

static void fake_env(const char *memory_mb) {
  static const char *const vars[] = {"CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",
                                     "CT_FAKE_CUDA_LAUNCH_FAULT", "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_CC",
                                     "CT_FAKE_CUDA_DRIVER_VERSION"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", memory_mb, 1);
}

static ct_device *gpu(ct_context *ctx, const char *spec) {
  ct_device *dev = NULL;
  if (ct_context_find_device(ctx, spec, &dev) != CT_OK) return NULL;
  return dev;
}

/* A context with logical GPUs of the given limits (MiB) on GPU 0, or one
 * default logical GPU when n == 0. growth: -1 leave, 0 off, 1 on. */
static ct_context *make_ctx(const int64_t *limits_mb, int n, int growth) {
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) return NULL;
  if (ct_physical_device_count(ctx, "GPU") < 1) {
    ct_context_free(ctx);
    return NULL;
  }
  /* Growth first: TensorFlow refuses growth changes once logical devices
   * are configured. */
  if (growth >= 0 && ct_config_set_memory_growth(ctx, "/physical_device:GPU:0", growth == 1) != CT_OK) {
    ct_context_free(ctx);
    return NULL;
  }
  if (n > 0) {
    ct_logical_device_config cfg[4];
    memset(cfg, 0, sizeof cfg);
    for (int i = 0; i < n; i++) cfg[i].memory_limit_mb = limits_mb[i];
    if (ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", cfg, n) != CT_OK) {
      ct_context_free(ctx);
      return NULL;
    }
  }
  if (ct_context_initialize(ctx) != CT_OK) {
    fprintf(stderr, "initialize: %s\n", ct_last_error());
    ct_context_free(ctx);
    return NULL;
  }
  return ctx;
}

#define MiB ((size_t)1 << 20)

TEST(limit_is_enforced_with_a_clear_message) {
  fake_env("64");
  int64_t lim[] = {4};
  ct_context *ctx = make_ctx(lim, 1, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_device *dev = gpu(ctx, "GPU:0");
  CHECK(dev != NULL && dev->backend == &ct_cuda_backend);
  void *a = NULL, *b = NULL;
  CHECK_OK(dev->backend->alloc(dev, 3 * MiB, &a));
  CHECK(a != NULL);
  CHECK_ERR(dev->backend->alloc(dev, 2 * MiB, &b), CT_RESOURCE_EXHAUSTED, "requested 2097152 bytes");
  CHECK(strstr(ct_last_error(), "3145728 bytes in use") != NULL);
  CHECK(strstr(ct_last_error(), "limit 4194304 bytes") != NULL);
  CHECK(strstr(ct_last_error(), "/device:GPU:0") != NULL);
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.current_bytes, 3 * MiB);
  CHECK_EQ_INT(mi.limit_bytes, 4 * MiB);
  CHECK_EQ_INT(atomic_load(&dev->bytes_in_use), 3 * MiB);
  dev->backend->free(dev, a, 3 * MiB);
  CHECK_OK(dev->backend->alloc(dev, 2 * MiB, &b));
  dev->backend->free(dev, b, 2 * MiB);
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.current_bytes, 0);
  CHECK_EQ_INT(mi.peak_bytes, 3 * MiB);
  ct_context_free(ctx);
}

TEST(two_logical_devices_have_separate_limits) {
  fake_env("64");
  int64_t lim[] = {2, 6};
  ct_context *ctx = make_ctx(lim, 2, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  CHECK_EQ_INT(ct_logical_device_count(ctx, "GPU"), 2);
  ct_device *d0 = gpu(ctx, "GPU:0"), *d1 = gpu(ctx, "GPU:1");
  CHECK(d0 && d1);
  void *a = NULL, *b = NULL;
  CHECK_ERR(d0->backend->alloc(d0, 4 * MiB, &a), CT_RESOURCE_EXHAUSTED, "limit 2097152 bytes");
  CHECK_OK(d1->backend->alloc(d1, 4 * MiB, &b));
  d1->backend->free(d1, b, 4 * MiB);
  ct_context_free(ctx);
}

TEST(freed_blocks_are_reused) {
  fake_env("64");
  ct_context *ctx = make_ctx(NULL, 0, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_device *dev = gpu(ctx, "GPU:0");
  ct_fake_cuda_counters c0, c1;
  void *p[8];
  CHECK_OK(dev->backend->alloc(dev, 3 * MiB, &p[0]));
  dev->backend->free(dev, p[0], 3 * MiB);
  fake_counters(&c0);
  CHECK_OK(dev->backend->alloc(dev, 3 * MiB, &p[1]));
  CHECK(p[1] == p[0]);
  /* Small requests share one segment. */
  for (int i = 2; i < 8; i++) CHECK_OK(dev->backend->alloc(dev, 1000, &p[i]));
  fake_counters(&c1);
  CHECK(c1.allocs - c0.allocs <= 1);
  for (int i = 1; i < 8; i++) dev->backend->free(dev, p[i], 0);
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.current_bytes, 0);
  CHECK(mi.reserved_bytes >= 3 * MiB); /* cached, not returned */
  CHECK_EQ_INT(mi.limit_bytes, 0);
  ct_context_free(ctx);
  /* Everything went back to the driver at teardown. */
  fake_counters(&c1);
  CHECK_EQ_INT(c1.live_allocs, 0);
  CHECK_EQ_INT(c1.streams, 0);
}

TEST(growth_without_limit_stops_at_the_gpu_size) {
  fake_env("16");
  ct_context *ctx = make_ctx(NULL, 0, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_device *dev = gpu(ctx, "GPU:0");
  void *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(dev->backend->alloc(dev, 10 * MiB, &a));
  CHECK_ERR(dev->backend->alloc(dev, 8 * MiB, &b), CT_RESOURCE_EXHAUSTED, "the GPU is full");
  CHECK(strstr(ct_last_error(), "no limit set") != NULL);
  /* Cached memory is given back to satisfy a request that needs it. */
  dev->backend->free(dev, a, 10 * MiB);
  CHECK_OK(dev->backend->alloc(dev, 12 * MiB, &c));
  dev->backend->free(dev, c, 12 * MiB);
  ct_context_free(ctx);
}

TEST(growth_off_reserves_the_limit_up_front) {
  fake_env("64");
  ct_fake_cuda_counters c0, c1;
  int64_t lim[] = {8};
  ct_context *ctx = make_ctx(lim, 1, 0);
  CHECK(ctx != NULL);
  if (!ctx) return;
  fake_counters(&c0);
  CHECK_EQ_INT(c0.used[0], 8 * MiB);
  ct_device *dev = gpu(ctx, "GPU:0");
  void *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(dev->backend->alloc(dev, 5 * MiB, &a));
  CHECK_OK(dev->backend->alloc(dev, 3 * MiB, &b));
  CHECK_ERR(dev->backend->alloc(dev, 1, &c), CT_RESOURCE_EXHAUSTED, "limit 8388608 bytes");
  fake_counters(&c1);
  CHECK_EQ_INT(c1.allocs, c0.allocs); /* carved from the reservation */
  dev->backend->free(dev, a, 5 * MiB);
  dev->backend->free(dev, b, 3 * MiB);
  CHECK_OK(dev->backend->alloc(dev, 8 * MiB, &c)); /* merged back into one block */
  dev->backend->free(dev, c, 8 * MiB);
  ct_context_free(ctx);

  /* A limit larger than the GPU cannot be reserved: initialisation says so. */
  fake_env("4");
  ct_context *ctx2 = NULL;
  CHECK_OK(ct_context_new(&ctx2));
  ct_logical_device_config cfg = {.memory_limit_mb = 8};
  CHECK_OK(ct_config_set_memory_growth(ctx2, "/physical_device:GPU:0", false));
  CHECK_OK(ct_config_set_logical_devices(ctx2, "/physical_device:GPU:0", &cfg, 1));
  CHECK_ERR(ct_context_initialize(ctx2), CT_RESOURCE_EXHAUSTED, "memory growth is off");
  ct_context_free(ctx2);
}

/* Growth off with no limit: the arena takes what is free less TensorFlow's
 * headroom, which stays free for what allocates outside it (cuBLAS's
 * workspace, modules), so the first matmul after such a start works. */
TEST(growth_off_leaves_headroom) {
  const uint64_t mib = (uint64_t)1 << 20;
  CHECK_EQ_INT(ct_cuda_growth_off_headroom(1024 * mib, 9), 225 * mib);
  CHECK_EQ_INT(ct_cuda_growth_off_headroom(8192 * mib, 6), 500 * mib);
  CHECK_EQ_INT(ct_cuda_growth_off_headroom(16384 * mib, 7), 1050 * mib);
  CHECK_EQ_INT(ct_cuda_growth_off_headroom((uint64_t)80 << 30, 9), 1536 * mib);
  CHECK_EQ_INT(ct_cuda_growth_off_headroom(100 * mib, 8), 225 * mib);
  fake_env("512");
  ct_context *ctx = make_ctx(NULL, 0, 0);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_memory_info info;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &info));
  CHECK_EQ_INT(info.limit_bytes, 286 * mib); /* 512 - 225 MiB, in 2 MiB segments */
  CHECK_EQ_INT(info.reserved_bytes, 286 * mib);
  ct_device *dev = gpu(ctx, "GPU:0");
  ct_cuda_device *cd = dev ? ct_cuda_device_of(dev) : NULL;
  CHECK(cd != NULL);
  if (cd) {
    /* what cuBLAS would take for its workspace, from the driver directly */
    size_t free_b = 0, total_b = 0;
    CUdeviceptr ws = 0;
    CUcontext prev = NULL;
    CHECK_OK(ct_cuda_enter(cd, &prev));
    CHECK(cd->drv->cuMemGetInfo(&free_b, &total_b) == CUDA_SUCCESS);
    CHECK(free_b >= 225 * mib);
    CHECK(cd->drv->cuMemAlloc(&ws, 64 * mib) == CUDA_SUCCESS);
    if (ws) cd->drv->cuMemFree(ws);
    ct_cuda_leave(cd, prev);
  }
  ct_context_free(ctx);
}

TEST(copies_round_trip) {
  fake_env("64");
  int64_t lim[] = {8, 8};
  ct_context *ctx = make_ctx(lim, 2, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_device *d0 = gpu(ctx, "GPU:0"), *d1 = gpu(ctx, "GPU:1");
  enum { N = 4096 };
  static float src[N], dst[N];
  for (int i = 0; i < N; i++) src[i] = (float)i * 0.5f;
  void *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(d0->backend->alloc(d0, sizeof src, &a));
  CHECK_OK(d0->backend->alloc(d0, sizeof src, &b));
  CHECK_OK(d1->backend->alloc(d1, sizeof src, &c));
  CHECK_OK(d0->backend->copy_from_host(d0, a, src, sizeof src));
  CHECK_OK(d0->backend->copy_device(d0, b, d0, a, sizeof src));
  CHECK_OK(d1->backend->copy_device(d1, c, d0, b, sizeof src));
  memset(dst, 0, sizeof dst);
  CHECK_OK(d1->backend->copy_to_host(d1, dst, c, sizeof dst));
  CHECK(memcmp(src, dst, sizeof src) == 0);
  CHECK_OK(d0->backend->copy_from_host(d0, a, src, 0)); /* empty copies are fine */
  CHECK_OK(ct_context_synchronize(ctx));
  d0->backend->free(d0, a, 0);
  d0->backend->free(d0, b, 0);
  d1->backend->free(d1, c, 0);
  ct_context_free(ctx);
}

TEST(async_errors_surface_at_the_next_sync_naming_the_op) {
  fake_env("64");
  ct_context *ctx = make_ctx(NULL, 0, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  ct_device *dev = gpu(ctx, "GPU:0");
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CHECK(strcmp(cd->arch, "sm_86") == 0);
  CHECK_OK(ct_cuda_make_current(cd));
  CUmodule mod = NULL;
  CUfunction fn = NULL;
  static const char image[] = "\x7f" "ELF: a cubin in name only";
  CHECK_EQ_INT(cd->drv->cuModuleLoadData(&mod, image), CUDA_SUCCESS);
  CHECK_EQ_INT(cd->drv->cuModuleGetFunction(&fn, mod, "add"), CUDA_SUCCESS);
  /* A launch that works: nothing to report. */
  CHECK_EQ_INT(cd->drv->cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, cd->stream, NULL, NULL), CUDA_SUCCESS);
  ct_cuda_note_enqueued(cd, "AddV2");
  CHECK_OK(ct_context_synchronize(ctx));
  /* A launch whose kernel faults: the launch itself returns success. */
  setenv("CT_FAKE_CUDA_LAUNCH_FAULT", "1", 1);
  CHECK_EQ_INT(cd->drv->cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, cd->stream, NULL, NULL), CUDA_SUCCESS);
  unsetenv("CT_FAKE_CUDA_LAUNCH_FAULT");
  ct_cuda_note_enqueued(cd, "Relu");
  ct_cuda_note_enqueued(cd, "MatMul");
  float host[4] = {0};
  void *buf = NULL;
  CHECK_OK(dev->backend->alloc(dev, sizeof host, &buf));
  CHECK_ERR(dev->backend->copy_to_host(dev, host, buf, sizeof host), CT_INTERNAL, "CUDA_ERROR_ILLEGAL_ADDRESS");
  CHECK(strstr(ct_last_error(), "Relu, MatMul") != NULL);
  CHECK(strstr(ct_last_error(), "/device:GPU:0") != NULL);
  /* Reported once. */
  CHECK_OK(ct_context_synchronize(ctx));
  /* An illegal address destroys the context: the GPU is unusable from now
   * on (tests/test_cuda_sticky.c has the rest), so the next case starts a
   * fresh context. */
  CHECK_ERR(dev->backend->alloc(dev, 16, &buf), CT_UNAVAILABLE, "DEVICE_FAILED");
  CHECK_EQ_INT(cd->drv->cuModuleUnload(mod), CUDA_SUCCESS);
  ct_context_free(ctx);
  ctx = make_ctx(NULL, 0, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  dev = gpu(ctx, "GPU:0");
  cd = ct_cuda_device_of(dev);
  CHECK_OK(ct_cuda_make_current(cd));
  CHECK_EQ_INT(cd->drv->cuModuleLoadData(&mod, image), CUDA_SUCCESS);
  CHECK_EQ_INT(cd->drv->cuModuleGetFunction(&fn, mod, "add"), CUDA_SUCCESS);
  CHECK_OK(dev->backend->alloc(dev, sizeof host, &buf));
  /* An internal wait (before memory goes back) keeps the error for the
   * next synchronising call. */
  setenv("CT_FAKE_CUDA_LAUNCH_FAULT", "1", 1);
  CHECK_EQ_INT(cd->drv->cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, cd->stream, NULL, NULL), CUDA_SUCCESS);
  unsetenv("CT_FAKE_CUDA_LAUNCH_FAULT");
  ct_cuda_note_enqueued(cd, "Softmax");
  dev->backend->free(dev, buf, sizeof host);
  ct_cuda_allocator_trim(cd);
  CHECK_ERR(ct_context_synchronize(ctx), CT_INTERNAL, "Softmax");
  CHECK_EQ_INT(cd->drv->cuModuleUnload(mod), CUDA_SUCCESS);
  /* Errors of queued calls come back at once, naming the call. */
  CHECK_ERR(ct_cuda_check(cd, CUDA_ERROR_INVALID_VALUE, "AddV2 launch"), CT_INVALID_ARGUMENT,
            "AddV2 launch failed with CUDA_ERROR_INVALID_VALUE (1)");
  CHECK_ERR(ct_cuda_check(cd, CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc"), CT_RESOURCE_EXHAUSTED,
            "CUDA_ERROR_OUT_OF_MEMORY");
  ct_context_free(ctx);
}

static int slots_destroyed;
static bool slot_context_current;

static void destroy_slot(ct_cuda_device *cd) {
  CUcontext cur = NULL;
  slot_context_current = cd->drv->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == cd->cu_ctx;
  slots_destroyed++;
}

TEST(kernel_slots_are_released_at_teardown) {
  fake_env("64");
  ct_context *ctx = make_ctx(NULL, 0, -1);
  CHECK(ctx != NULL);
  if (!ctx) return;
  slots_destroyed = 0;
  ct_cuda_device *cd = ct_cuda_device_of(gpu(ctx, "GPU:0"));
  cd->module_cache = &slots_destroyed;
  cd->module_cache_destroy = destroy_slot;
  cd->blas = &slots_destroyed;
  cd->blas_destroy = destroy_slot;
  ct_context_free(ctx);
  CHECK_EQ_INT(slots_destroyed, 2);
  CHECK(slot_context_current);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin);
  if (access(fake_lib, R_OK) != 0) {
    fprintf(stderr, "fake driver %s not built\n", fake_lib);
    return 1;
  }
  unsetenv("CT_CUBLAS_PATH");
  unsetenv("CT_NVRTC_PATH");
  RUN(limit_is_enforced_with_a_clear_message);
  RUN(two_logical_devices_have_separate_limits);
  RUN(freed_blocks_are_reused);
  RUN(growth_without_limit_stops_at_the_gpu_size);
  RUN(growth_off_reserves_the_limit_up_front);
  RUN(growth_off_leaves_headroom);
  RUN(copies_round_trip);
  RUN(async_errors_surface_at_the_next_sync_naming_the_op);
  RUN(kernel_slots_are_released_at_teardown);
  TEST_MAIN_END();
}
