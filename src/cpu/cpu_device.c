/*
 * The CPU device: discovery (model, cores, ISA features, memory), the
 * caching host allocator, and the CPU backend table.
 *
 * Allocator: blocks under 256 KiB come from malloc (glibc's per-thread
 * caches are already fast there), aligned to 64 bytes by hand: glibc's
 * aligned_alloc bypasses those caches (2.36) and took 20-50 ns where malloc
 * takes 5. Larger blocks are rounded up to one of
 * four size classes per power of two (at most 25 % slack) and kept on a
 * free list when released, so a loop that allocates a 256 MiB result each
 * iteration reuses warm pages instead of taking a page fault per 4 KiB —
 * the cost that makes a fresh allocation run at a fraction of memory
 * bandwidth. The cache holds at most a quarter of physical memory (8 GiB
 * at most) and is returned to the system when the context goes.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

#define CACHE_MIN_BYTES ((size_t)256 << 10)
#define CACHE_MIN_LOG2 18
#define N_CLASSES ((48 - CACHE_MIN_LOG2) * 4)

typedef struct free_block {
  struct free_block *next;
} free_block;

typedef struct cpu_allocator {
  pthread_mutex_t lock;
  free_block *free_lists[N_CLASSES];
  size_t cached_bytes;
  size_t cache_limit;
} cpu_allocator;

/* Size class of a large request: index and the rounded size. */
static int size_class(size_t bytes, size_t *rounded) {
  int k = 63 - __builtin_clzll((unsigned long long)bytes); /* 2^k <= bytes */
  size_t base = (size_t)1 << k;
  size_t step = base >> 2;
  size_t j = (bytes - base + step - 1) / step; /* 0..4 */
  if (j == 4) {
    k++;
    j = 0;
    base <<= 1;
    step <<= 1;
  }
  *rounded = base + j * step;
  int idx = (k - CACHE_MIN_LOG2) * 4 + (int)j;
  return idx < N_CLASSES ? idx : -1;
}

static void account_alloc(ct_device *dev, size_t bytes) {
  uint64_t now = atomic_fetch_add_explicit(&dev->bytes_in_use, bytes, memory_order_relaxed) + bytes;
  uint64_t peak = atomic_load_explicit(&dev->peak_bytes, memory_order_relaxed);
  while (now > peak &&
         !atomic_compare_exchange_weak_explicit(&dev->peak_bytes, &peak, now, memory_order_relaxed, memory_order_relaxed)) {
  }
}

/* A small block: malloc'ed with room to move the start up to the next
 * 64-byte boundary; the distance moved (16..64, malloc's blocks being
 * 16-aligned) is kept in the byte before the start. */
#define SMALL_ALIGN 64

static void *small_alloc(size_t bytes) {
  unsigned char *p = malloc(bytes + SMALL_ALIGN);
  if (!p) return NULL;
  unsigned char *q = (unsigned char *)(((uintptr_t)p + SMALL_ALIGN) & ~(uintptr_t)(SMALL_ALIGN - 1));
  q[-1] = (unsigned char)(q - p);
  return q;
}

static void small_free(void *ptr) {
  unsigned char *q = ptr;
  free(q - q[-1]);
}

static ct_status cpu_alloc(ct_device *dev, size_t bytes, void **out) {
  if (dev->memory_limit) {
    uint64_t used = atomic_load(&dev->bytes_in_use);
    if (used + bytes > dev->memory_limit)
      return ct_error(CT_RESOURCE_EXHAUSTED,
                      "out of memory on %s: requested %zu bytes, %llu in use, limit %llu", dev->name, bytes,
                      (unsigned long long)used, (unsigned long long)dev->memory_limit);
  }
  void *p = NULL;
  if (bytes < CACHE_MIN_BYTES) {
    p = small_alloc(bytes);
  } else {
    cpu_allocator *a = dev->impl;
    size_t rounded;
    int c = size_class(bytes, &rounded);
    if (c >= 0) {
      pthread_mutex_lock(&a->lock);
      free_block *b = a->free_lists[c];
      if (b) {
        a->free_lists[c] = b->next;
        a->cached_bytes -= rounded;
      }
      pthread_mutex_unlock(&a->lock);
      p = b;
      if (!p) p = aligned_alloc(4096, rounded);
    } else {
      p = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
    }
  }
  if (!p)
    return ct_error(CT_RESOURCE_EXHAUSTED, "out of memory on %s: requested %zu bytes, %llu in use", dev->name, bytes,
                    (unsigned long long)atomic_load(&dev->bytes_in_use));
  account_alloc(dev, bytes);
  *out = p;
  return CT_OK;
}

static void cpu_free(ct_device *dev, void *ptr, size_t bytes) {
  if (!ptr) return;
  atomic_fetch_sub_explicit(&dev->bytes_in_use, bytes, memory_order_relaxed);
  if (bytes < CACHE_MIN_BYTES) {
    small_free(ptr);
    return;
  }
  cpu_allocator *a = dev->impl;
  size_t rounded;
  int c = size_class(bytes, &rounded);
  if (c >= 0) {
    pthread_mutex_lock(&a->lock);
    if (a->cached_bytes + rounded <= a->cache_limit) {
      free_block *b = ptr;
      b->next = a->free_lists[c];
      a->free_lists[c] = b;
      a->cached_bytes += rounded;
      ptr = NULL;
    }
    pthread_mutex_unlock(&a->lock);
  }
  free(ptr);
}

static ct_status cpu_copy(ct_device *dev, void *dst, const void *src, size_t bytes) {
  CT_UNUSED(dev);
  memcpy(dst, src, bytes);
  return CT_OK;
}

static ct_status cpu_copy_device(ct_device *dst_dev, void *dst, ct_device *src_dev, const void *src, size_t bytes) {
  CT_UNUSED(dst_dev);
  CT_UNUSED(src_dev);
  memcpy(dst, src, bytes);
  return CT_OK;
}

static ct_status cpu_synchronize(ct_device *dev) {
  CT_UNUSED(dev);
  return CT_OK;
}

static void cpu_device_destroy(ct_device *dev) {
  cpu_allocator *a = dev->impl;
  if (!a) return;
  for (int c = 0; c < N_CLASSES; c++) {
    free_block *b = a->free_lists[c];
    while (b) {
      free_block *next = b->next;
      free(b);
      b = next;
    }
  }
  pthread_mutex_destroy(&a->lock);
  free(a);
  dev->impl = NULL;
}

static ct_status cpu_memory_info(ct_device *dev, ct_memory_info *out) {
  cpu_allocator *a = dev->impl;
  memset(out, 0, sizeof *out);
  out->current_bytes = atomic_load(&dev->bytes_in_use);
  out->peak_bytes = atomic_load(&dev->peak_bytes);
  pthread_mutex_lock(&a->lock);
  out->reserved_bytes = out->current_bytes + a->cached_bytes;
  pthread_mutex_unlock(&a->lock);
  out->limit_bytes = dev->memory_limit;
  return CT_OK;
}

static const ct_backend cpu_backend = {
    .type = CT_DEV_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_from_host = cpu_copy,
    .copy_to_host = cpu_copy,
    .copy_device = cpu_copy_device,
    .synchronize = cpu_synchronize,
    .device_destroy = cpu_device_destroy,
    .memory_info = cpu_memory_info,
};

static uint64_t physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static ct_status cpu_device_init(ct_context *ctx, ct_device *dev) {
  CT_UNUSED(ctx);
  cpu_allocator *a = calloc(1, sizeof *a);
  if (!a) return ct_error(CT_RESOURCE_EXHAUSTED, "out of memory creating the CPU allocator");
  pthread_mutex_init(&a->lock, NULL);
  uint64_t quarter = physical_memory() / 4;
  uint64_t cap = (uint64_t)8 << 30;
  a->cache_limit = (size_t)(quarter && quarter < cap ? quarter : cap);
  dev->impl = a;
  return CT_OK;
}

/* Reads the CPU model and flags from /proc/cpuinfo (first processor). */
static void read_cpuinfo(char *model, size_t model_size, char *flags, size_t flags_size) {
  model[0] = flags[0] = '\0';
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    value[strcspn(value, "\n")] = '\0';
    if (!model[0] && strncmp(line, "model name", 10) == 0) snprintf(model, model_size, "%s", value);
    if (!flags[0] && strncmp(line, "flags", 5) == 0) snprintf(flags, flags_size, " %s ", value);
    if (model[0] && flags[0]) break;
  }
  fclose(f);
}

static ct_status cpu_discover(ct_context *ctx, ct_physical_device_info *usable, int *n_usable,
                              ct_physical_device_info *unusable, int *n_unusable, ct_gpu_reason *overall,
                              char *overall_detail, size_t detail_size) {
  CT_UNUSED(ctx);
  CT_UNUSED(unusable);
  CT_UNUSED(overall);
  CT_UNUSED(overall_detail);
  CT_UNUSED(detail_size);
  /* cpuinfo flag -> the name users know it by */
  static const char *const features[][2] = {
      {"sse4_2", "sse4.2"},       {"avx", "avx"},           {"avx2", "avx2"},           {"fma", "fma"},
      {"f16c", "f16c"},           {"avx512f", "avx512f"},   {"avx512dq", "avx512dq"},   {"avx512bw", "avx512bw"},
      {"avx512vl", "avx512vl"},   {"avx512_vnni", "avx512vnni"}, {"avx512_bf16", "avx512bf16"},
      {"avx512_fp16", "avx512fp16"}, {"amx_tile", "amx"}, {"asimd", "neon"},
  };
  ct_physical_device_info *d = &usable[0];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "/physical_device:CPU:0");
  snprintf(d->device_type, sizeof d->device_type, "CPU");
  char flags[8192];
  read_cpuinfo(d->model, sizeof d->model, flags, sizeof flags);
  if (!d->model[0]) snprintf(d->model, sizeof d->model, "unknown CPU");
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  d->cores = n > 0 ? (int)n : 1;
  d->memory_bytes = physical_memory();
  size_t used = 0;
  for (size_t i = 0; i < CT_ARRAY_LEN(features); i++) {
    char needle[32];
    snprintf(needle, sizeof needle, " %s ", features[i][0]);
    if (strstr(flags, needle) && used < sizeof d->features)
      used += (size_t)snprintf(d->features + used, sizeof d->features - used, "%s%s", used ? " " : "", features[i][1]);
  }
  d->usable = true;
  d->reason = CT_GPU_USABLE;
  *n_usable = 1;
  *n_unusable = 0;
  return CT_OK;
}

const ct_platform ct_cpu_platform = {
    .type = CT_DEV_CPU,
    .discover = cpu_discover,
    .device_init = cpu_device_init,
    .backend = &cpu_backend,
};

int ct_cpu_max_threads(void) { return omp_get_max_threads(); }

int ct_cpu_threads_for(int64_t work) {
  /* Below ~64K simple element operations a thread fork costs more than it
   * saves; above, each thread gets at least that much. */
  const int64_t grain = (int64_t)1 << 16;
  if (work < 2 * grain) return 1;
  int max = omp_get_max_threads();
  int64_t by_work = work / grain;
  return by_work < max ? (int)by_work : max;
}
