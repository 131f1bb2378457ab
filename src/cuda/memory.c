/*
 * The caching allocator of one logical GPU.
 *
 * cuMemAlloc and cuMemFree are slow (they may synchronise the device), so
 * freed blocks are kept and reused, best fit first, split when much larger
 * than asked and merged with free neighbours of the same segment.
 *
 * Two pools, as in PyTorch's caching allocator: requests of at most 1 MiB
 * come from 2 MiB segments that only small requests share; larger requests
 * from segments of their own (rounded up to 2 MiB), whose pieces serve
 * only large requests. So a 16-byte temporary never splits a
 * large cached segment, which then could neither serve the next large
 * request nor be returned to the driver (issue 16: with limit L, 0.6 L
 * freed, 16 B, 0.6 L again used to fail).
 *
 * Memory growth (the default): segments are obtained from the driver on
 * demand. When the driver is out of memory, or the next segment would pass
 * the logical device's limit, the wholly free cached segments of both
 * pools are returned and the request retried; a small request that still
 * finds no room takes a piece of a free large block rather than fail.
 * Growth off: the whole limit is reserved in one segment when the device
 * is created (TensorFlow's behaviour without allow_growth) and every
 * request is carved from it.
 *
 * The limit counts bytes handed out (as TensorFlow's memory_limit); going
 * past it is RESOURCE_EXHAUSTED with requested/used/limit in the message,
 * never a crash. ct_memory_info.fragmented_bytes reports the free bytes
 * stuck in partly used segments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_device.h"

#define ALIGN 256u
#define SMALL_SEGMENT ((size_t)2 << 20)
#define SMALL_REQUEST ((size_t)1 << 20)
/* Large segments are rounded to this, so that a slightly bigger request
 * later can reuse them. */
#define LARGE_ROUND ((size_t)2 << 20)

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static void fmt_bytes(uint64_t b, char *out, size_t size) {
  if (b >= ((uint64_t)1 << 30)) {
    snprintf(out, size, "%.2f GiB", (double)b / (double)((uint64_t)1 << 30));
  } else if (b >= ((uint64_t)1 << 20)) {
    snprintf(out, size, "%.1f MiB", (double)b / (double)((uint64_t)1 << 20));
  } else {
    snprintf(out, size, "%" PRIu64 " B", b);
  }
}

static ct_cuda_block *new_block(CUdeviceptr ptr, size_t size, CUdeviceptr seg_base, size_t seg_size, bool small) {
  ct_cuda_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->ptr = ptr;
  b->size = size;
  b->free = true;
  b->small = small;
  b->seg_base = seg_base;
  b->seg_size = seg_size;
  return b;
}

static bool whole_segment(const ct_cuda_block *b) { return b->ptr == b->seg_base && b->size == b->seg_size; }

static void list_remove(ct_cuda_allocator *a, ct_cuda_block *b) {
  if (b->prev) {
    b->prev->next = b->next;
  } else {
    a->blocks = b->next;
  }
  if (b->next) b->next->prev = b->prev;
}

static void list_insert_after(ct_cuda_allocator *a, ct_cuda_block *pos, ct_cuda_block *b) {
  if (!pos) {
    b->prev = NULL;
    b->next = a->blocks;
    if (a->blocks) a->blocks->prev = b;
    a->blocks = b;
    return;
  }
  b->prev = pos;
  b->next = pos->next;
  if (pos->next) pos->next->prev = b;
  pos->next = b;
}

static bool same_segment_adjacent(const ct_cuda_block *a, const ct_cuda_block *b) {
  return a && b && a->seg_base == b->seg_base && a->ptr + a->size == b->ptr;
}

/* Returns whole free segments to the driver. Caller holds the lock. */
static void release_cached(ct_cuda_device *cd) {
  ct_cuda_allocator *a = &cd->alloc;
  if (!a->growth) return;
  bool waited = false;
  for (ct_cuda_block *b = a->blocks, *next; b; b = next) {
    next = b->next;
    if (!b->free || !whole_segment(b)) continue;
    if (!waited) {
      /* Queued kernels may still use memory that was freed on the host side. */
      ct_cuda_device_quiesce(cd);
      waited = true;
    }
    cd->drv->cuMemFree(b->ptr);
    a->reserved -= b->size;
    list_remove(a, b);
    free(b);
  }
}

static ct_status exhausted(ct_cuda_device *cd, size_t bytes, size_t rounded, const char *why) {
  ct_cuda_allocator *a = &cd->alloc;
  char req[32], used[32], lim[32], res[32];
  fmt_bytes(rounded, req, sizeof req);
  fmt_bytes(a->in_use, used, sizeof used);
  fmt_bytes(a->limit, lim, sizeof lim);
  fmt_bytes(a->reserved, res, sizeof res);
  char limit_text[96];
  if (a->limit) {
    snprintf(limit_text, sizeof limit_text, "limit %" PRIu64 " bytes (%s)", a->limit, lim);
  } else {
    snprintf(limit_text, sizeof limit_text, "no limit set");
  }
  return ct_error(CT_RESOURCE_EXHAUSTED,
                  "%s: out of memory: requested %zu bytes (%s), %" PRIu64 " bytes in use (%s), %s; %" PRIu64
                  " bytes reserved (%s)%s%s",
                  cd->dev ? cd->dev->short_name : "GPU", bytes, req, a->in_use, used, limit_text, a->reserved, res,
                  why ? "; " : "", why ? why : "");
}

/* TensorFlow's MinSystemMemory: 225 MiB below 2 GiB free, else by
 * generation -- newer GPUs' cuBLAS workspaces and module images are
 * larger. A GPU with less free than the headroom gets half of it. */
uint64_t ct_cuda_growth_off_headroom(uint64_t free_bytes, int cc_major) {
  const uint64_t mib = (uint64_t)1 << 20;
  if (free_bytes < ((uint64_t)2 << 30)) return 225 * mib;
  return cc_major <= 6 ? 500 * mib : cc_major == 7 ? 1050 * mib : 1536 * mib;
}

ct_status ct_cuda_allocator_init(ct_cuda_device *cd, uint64_t limit, bool growth) {
  ct_cuda_allocator *a = &cd->alloc;
  memset(a, 0, sizeof *a);
  pthread_mutex_init(&a->lock, NULL);
  a->limit = limit;
  a->growth = true;
  if (growth) return CT_OK;
  if (!a->limit) {
    /* No limit and no growth: take what is free now, as TensorFlow does
     * without allow_growth, less the headroom that cuBLAS's workspace,
     * modules loaded on a kernel's first use and the driver allocate
     * later, outside this arena. */
    size_t free_b = 0, total_b = 0;
    CUresult r = cd->drv->cuMemGetInfo(&free_b, &total_b);
    if (r != CUDA_SUCCESS) return ct_cuda_check(cd, r, "cuMemGetInfo");
    uint64_t keep = ct_cuda_growth_off_headroom(free_b, cd->cc_major);
    uint64_t take = free_b > keep ? free_b - keep : free_b / 2;
    a->limit = take / SMALL_SEGMENT * SMALL_SEGMENT;
  }
  size_t size = round_up((size_t)a->limit, ALIGN);
  CUdeviceptr p = 0;
  CUresult r = cd->drv->cuMemAlloc(&p, size);
  if (r != CUDA_SUCCESS) {
    char lim[32];
    fmt_bytes(a->limit, lim, sizeof lim);
    ct_status s = ct_cuda_check(cd, r, "cuMemAlloc");
    return ct_error_prefix(s, "%s: memory growth is off, so the whole limit of %" PRIu64
                              " bytes (%s) is reserved at start, and that failed",
                           cd->dev ? cd->dev->short_name : "GPU", a->limit, lim);
  }
  ct_cuda_block *b = new_block(p, size, p, size, false);
  if (!b) {
    cd->drv->cuMemFree(p);
    return ct_error(CT_RESOURCE_EXHAUSTED, "cuda allocator: out of host memory");
  }
  a->blocks = b;
  a->arena = p;
  a->reserved = size;
  a->growth = false;
  return CT_OK;
}

/* Best fit among the cached blocks of one pool (growth off: the arena,
 * whatever the size). */
static ct_cuda_block *find_free(ct_cuda_allocator *a, size_t rounded, bool small) {
  ct_cuda_block *best = NULL;
  for (ct_cuda_block *b = a->blocks; b; b = b->next)
    if (b->free && b->size >= rounded && (!a->growth || b->small == small) && (!best || b->size < best->size))
      best = b;
  return best;
}

/* Gets a new segment from the driver big enough for `rounded`. */
static ct_status grow(ct_cuda_device *cd, size_t bytes, size_t rounded, bool small, ct_cuda_block **out) {
  ct_cuda_allocator *a = &cd->alloc;
  size_t seg = small ? SMALL_SEGMENT : round_up(rounded, LARGE_ROUND);
  if (seg < rounded) seg = rounded; /* the rounding overflowed */
  if (a->limit && a->reserved + seg > a->limit) {
    /* Under the limit, first give back what nobody uses, then settle for
     * a segment of exactly the request. */
    release_cached(cd);
    if (a->reserved + seg > a->limit) seg = rounded;
    if (a->reserved + seg > a->limit)
      return exhausted(cd, bytes, rounded, "the free memory under the limit is fragmented");
  }
  CUdeviceptr p = 0;
  CUresult r = cd->drv->cuMemAlloc(&p, seg);
  if (r == CUDA_ERROR_OUT_OF_MEMORY && seg != rounded) {
    seg = rounded;
    r = cd->drv->cuMemAlloc(&p, seg);
  }
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    release_cached(cd);
    r = cd->drv->cuMemAlloc(&p, seg);
  }
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t free_b = 0, total_b = 0;
    char why[128] = "the GPU is full";
    if (cd->drv->cuMemGetInfo(&free_b, &total_b) == CUDA_SUCCESS) {
      char f[32], t[32];
      fmt_bytes(free_b, f, sizeof f);
      fmt_bytes(total_b, t, sizeof t);
      snprintf(why, sizeof why, "the GPU is full: %s free of %s (other processes may hold the rest)", f, t);
    }
    return exhausted(cd, bytes, rounded, why);
  }
  if (r != CUDA_SUCCESS) return ct_cuda_check(cd, r, "cuMemAlloc");
  ct_cuda_block *b = new_block(p, seg, p, seg, small);
  if (!b) {
    cd->drv->cuMemFree(p);
    return ct_error(CT_RESOURCE_EXHAUSTED, "cuda allocator: out of host memory");
  }
  /* Keep the list ordered by address so that neighbours can merge. */
  ct_cuda_block *pos = NULL;
  for (ct_cuda_block *c = a->blocks; c && c->ptr < p; c = c->next) pos = c;
  list_insert_after(a, pos, b);
  a->reserved += seg;
  *out = b;
  return CT_OK;
}

ct_status ct_cuda_allocator_alloc(ct_cuda_device *cd, size_t bytes, CUdeviceptr *out) {
  ct_cuda_allocator *a = &cd->alloc;
  size_t rounded = round_up(bytes ? bytes : 1, ALIGN);
  if (rounded < bytes) return exhausted(cd, bytes, bytes, "the size overflows");
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK) return s;
  pthread_mutex_lock(&a->lock);
  if (a->limit && a->in_use + rounded > a->limit) {
    s = exhausted(cd, bytes, rounded, "the memory limit of this logical device would be exceeded");
    pthread_mutex_unlock(&a->lock);
    return s;
  }
  bool small = rounded <= SMALL_REQUEST;
  ct_cuda_block *b = find_free(a, rounded, small);
  if (!b) {
    if (!a->growth) {
      s = exhausted(cd, bytes, rounded, "memory growth is off and the reserved memory is fragmented");
      pthread_mutex_unlock(&a->lock);
      return s;
    }
    s = grow(cd, bytes, rounded, small, &b);
    /* Rather than fail a small request, cut it from a free large block. */
    if (s != CT_OK && small && (b = find_free(a, rounded, false)) != NULL) {
      ct_error_clear();
      s = CT_OK;
    }
    if (s != CT_OK) {
      pthread_mutex_unlock(&a->lock);
      return s;
    }
  }
  /* The remainder stays in the block's pool: a piece of a large segment
   * serves only large requests (or, as a last resort, a small one). */
  if (b->size - rounded >= ALIGN) {
    ct_cuda_block *rest = new_block(b->ptr + rounded, b->size - rounded, b->seg_base, b->seg_size, b->small);
    if (rest) {
      b->size = rounded;
      list_insert_after(a, b, rest);
    }
  }
  b->free = false;
  a->in_use += b->size;
  if (a->in_use > a->peak) a->peak = a->in_use;
  if (cd->dev) {
    atomic_store(&cd->dev->bytes_in_use, a->in_use);
    if (a->in_use > atomic_load(&cd->dev->peak_bytes)) atomic_store(&cd->dev->peak_bytes, a->in_use);
  }
  *out = b->ptr;
  pthread_mutex_unlock(&a->lock);
  return CT_OK;
}

void ct_cuda_allocator_free(ct_cuda_device *cd, CUdeviceptr ptr) {
  if (!ptr) return;
  ct_cuda_allocator *a = &cd->alloc;
  pthread_mutex_lock(&a->lock);
  ct_cuda_block *b = a->blocks;
  while (b && !(b->ptr == ptr && !b->free)) b = b->next;
  if (b) {
    b->free = true;
    a->in_use -= b->size;
    if (cd->dev) atomic_store(&cd->dev->bytes_in_use, a->in_use);
    /* Merge with free neighbours of the same segment. */
    ct_cuda_block *n = b->next;
    if (n && n->free && same_segment_adjacent(b, n)) {
      b->size += n->size;
      list_remove(a, n);
      free(n);
    }
    ct_cuda_block *p = b->prev;
    if (p && p->free && same_segment_adjacent(p, b)) {
      p->size += b->size;
      list_remove(a, b);
      free(b);
    }
  }
  pthread_mutex_unlock(&a->lock);
}

void ct_cuda_allocator_trim(ct_cuda_device *cd) {
  if (ct_cuda_make_current(cd) != CT_OK) return;
  pthread_mutex_lock(&cd->alloc.lock);
  release_cached(cd);
  pthread_mutex_unlock(&cd->alloc.lock);
}

void ct_cuda_allocator_destroy(ct_cuda_device *cd) {
  ct_cuda_allocator *a = &cd->alloc;
  pthread_mutex_lock(&a->lock);
  /* Every segment goes back, live blocks included: the context is gone. */
  for (ct_cuda_block *b = a->blocks, *next; b; b = next) {
    next = b->next;
    if (b->ptr == b->seg_base) cd->drv->cuMemFree(b->seg_base);
    free(b);
  }
  a->blocks = NULL;
  a->reserved = a->in_use = 0;
  pthread_mutex_unlock(&a->lock);
  pthread_mutex_destroy(&a->lock);
}

void ct_cuda_allocator_stats(ct_cuda_device *cd, ct_memory_info *out) {
  ct_cuda_allocator *a = &cd->alloc;
  pthread_mutex_lock(&a->lock);
  out->current_bytes = a->in_use;
  out->peak_bytes = a->peak;
  out->reserved_bytes = a->reserved;
  out->limit_bytes = a->limit;
  uint64_t fragmented = 0;
  for (const ct_cuda_block *b = a->blocks; b; b = b->next)
    if (b->free && !whole_segment(b)) fragmented += b->size;
  out->fragmented_bytes = fragmented;
  pthread_mutex_unlock(&a->lock);
}
