/*
 * The caching allocator under a memory limit (issue 16, item 4): small and
 * large pools, cached segments released before a request fails, and the
 * fragmentation ct_device_memory_info reports. On the fake driver, whose
 * device memory is host memory.
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

#define MiB ((size_t)1 << 20)

/* One logical GPU with `limit_mb` (0: none) on a fake GPU of `gpu_mb`. */
static ct_context *make_ctx(int64_t limit_mb, const char *gpu_mb, ct_device **dev) {
  static const char *const vars[] = {"CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",
                                     "CT_FAKE_CUDA_LAUNCH_FAULT", "CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_CTX_ERROR",
                                     "CT_FAKE_CUDA_COMPUTE_MODE"};
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", gpu_mb, 1);
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) return NULL;
  if (limit_mb > 0) {
    ct_logical_device_config cfg = {.memory_limit_mb = limit_mb};
    if (ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", &cfg, 1) != CT_OK) goto fail;
  }
  if (ct_context_initialize(ctx) != CT_OK || ct_context_find_device(ctx, "GPU:0", dev) != CT_OK) goto fail;
  return ctx;
fail:
  fprintf(stderr, "setup: %s\n", ct_last_error());
  ct_context_free(ctx);
  return NULL;
}

/* The exact sequence of the issue: limit L, allocate 0.6 L, free, allocate
 * 16 B, allocate 0.6 L. Best fit over one pool let the 16 bytes split the
 * cached 0.6 L segment, which then fit neither request nor could go back. */
TEST(temporary_does_not_split_a_large_cached_segment) {
  ct_device *dev = NULL;
  ct_context *ctx = make_ctx(100, "512", &dev);
  CHECK(ctx != NULL);
  if (!ctx) return;
  const size_t L = 100 * MiB, big = L / 10 * 6;
  void *a = NULL, *t = NULL, *b = NULL;
  CHECK_OK(dev->backend->alloc(dev, big, &a));
  dev->backend->free(dev, a, big);
  CHECK_OK(dev->backend->alloc(dev, 16, &t));
  CHECK_OK(dev->backend->alloc(dev, big, &b));
  CHECK(b == a); /* the cached segment served it */
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK(mi.reserved_bytes <= L);
  CHECK(mi.current_bytes >= big + 16);
  dev->backend->free(dev, t, 16);
  dev->backend->free(dev, b, big);
  ct_context_free(ctx);
}

/* Cached segments go back to the driver before a request under the limit
 * fails, and fragmentation is reported. */
TEST(cached_segments_are_released_before_failing) {
  ct_device *dev = NULL;
  ct_context *ctx = make_ctx(64, "512", &dev);
  CHECK(ctx != NULL);
  if (!ctx) return;
  void *p[6];
  for (int i = 0; i < 6; i++) CHECK_OK(dev->backend->alloc(dev, 10 * MiB, &p[i]));
  for (int i = 0; i < 6; i++) dev->backend->free(dev, p[i], 10 * MiB);
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.current_bytes, 0);
  CHECK(mi.reserved_bytes >= 60 * MiB);
  CHECK_EQ_INT(mi.fragmented_bytes, 0); /* whole cached segments can go back */
  /* 50 MiB fits no cached segment and not beside them: they are returned. */
  void *big = NULL;
  CHECK_OK(dev->backend->alloc(dev, 50 * MiB, &big));
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK(mi.reserved_bytes <= 64 * MiB);
  /* Split a 50 MiB block: 20 MiB used, 30 MiB free but stuck beside it. */
  dev->backend->free(dev, big, 50 * MiB);
  void *part = NULL;
  CHECK_OK(dev->backend->alloc(dev, 20 * MiB, &part));
  CHECK(part == big);
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.fragmented_bytes, 30 * MiB);
  dev->backend->free(dev, part, 20 * MiB);
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.fragmented_bytes, 0);
  ct_context_free(ctx);
}

/* Small requests share 2 MiB segments of their own. */
TEST(small_requests_share_small_segments) {
  ct_device *dev = NULL;
  ct_context *ctx = make_ctx(0, "256", &dev);
  CHECK(ctx != NULL);
  if (!ctx) return;
  void *big = NULL, *s[16];
  CHECK_OK(dev->backend->alloc(dev, 8 * MiB, &big));
  dev->backend->free(dev, big, 8 * MiB);
  ct_fake_cuda_counters c0, c1;
  fake_counters(&c0);
  for (int i = 0; i < 16; i++) CHECK_OK(dev->backend->alloc(dev, 1000 + (size_t)i * 4000, &s[i]));
  fake_counters(&c1);
  CHECK_EQ_INT(c1.allocs - c0.allocs, 1); /* one 2 MiB segment, the 8 MiB one untouched */
  for (int i = 0; i < 16; i++) CHECK(s[i] < big || (char *)s[i] >= (char *)big + 8 * MiB);
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.reserved_bytes, 10 * MiB);
  for (int i = 0; i < 16; i++) dev->backend->free(dev, s[i], 0);
  ct_context_free(ctx);
}

/* A seeded random workload of mixed sizes (16 B temporaries to 12 MiB
 * activations) whose live bytes stay under half the limit: every request
 * must succeed, the books must balance, and teardown returns everything. */
TEST(random_workload_against_the_limit) {
  ct_device *dev = NULL;
  ct_context *ctx = make_ctx(64, "512", &dev);
  CHECK(ctx != NULL);
  if (!ctx) return;
  const size_t limit = 64 * MiB, budget = limit / 2;
  enum { SLOTS = 64, STEPS = 20000 };
  void *ptr[SLOTS] = {0};
  size_t size[SLOTS] = {0}, live = 0;
  unsigned long long x = 0x9e3779b97f4a7c15ull;
  int failures = 0;
  uint64_t worst_frag = 0;
  for (int step = 0; step < STEPS && failures < 5; step++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int i = (int)(x % SLOTS);
    if (ptr[i]) {
      dev->backend->free(dev, ptr[i], size[i]);
      live -= (size[i] + 255) / 256 * 256;
      ptr[i] = NULL;
      continue;
    }
    unsigned kind = (unsigned)(x >> 32) % 10;
    size_t n = kind < 5   ? 16 + (x >> 40) % 4096               /* temporaries */
               : kind < 8 ? 64 * 1024 + (x >> 40) % (960 * 1024) /* small tensors */
                          : 2 * MiB + (x >> 40) % (10 * MiB);  /* activations */
    size_t r = (n + 255) / 256 * 256;
    if (live + r > budget) continue;
    if (dev->backend->alloc(dev, n, &ptr[i]) != CT_OK) {
      fprintf(stderr, "step %d: %zu bytes with %zu live: %s\n", step, n, live, ct_last_error());
      failures++;
      ptr[i] = NULL;
      continue;
    }
    size[i] = n;
    live += r;
    ct_memory_info mi;
    CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
    CHECK(mi.reserved_bytes <= limit);
    CHECK(mi.current_bytes <= mi.reserved_bytes);
    CHECK(mi.fragmented_bytes <= mi.reserved_bytes - mi.current_bytes);
    if (mi.fragmented_bytes > worst_frag) worst_frag = mi.fragmented_bytes;
  }
  CHECK_EQ_INT(failures, 0);
  printf("  worst fragmentation: %.1f MiB of a %.0f MiB limit\n", (double)worst_frag / MiB, (double)limit / MiB);
  for (int i = 0; i < SLOTS; i++)
    if (ptr[i]) dev->backend->free(dev, ptr[i], size[i]);
  ct_memory_info mi;
  CHECK_OK(ct_device_memory_info(ctx, "GPU:0", &mi));
  CHECK_EQ_INT(mi.current_bytes, 0);
  CHECK_EQ_INT(mi.fragmented_bytes, 0);
  ct_fake_cuda_counters c;
  fake_counters(&c);
  CHECK_EQ_INT(c.used[0], mi.reserved_bytes); /* the books match the driver's */
  ct_cuda_allocator_trim(ct_cuda_device_of(dev));
  fake_counters(&c);
  CHECK_EQ_INT(c.used[0], 0);
  ct_context_free(ctx);
  fake_counters(&c);
  CHECK_EQ_INT(c.live_allocs, 0);
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
  RUN(temporary_does_not_split_a_large_cached_segment);
  RUN(cached_segments_are_released_before_failing);
  RUN(small_requests_share_small_segments);
  RUN(random_workload_against_the_limit);
  TEST_MAIN_END();
}
