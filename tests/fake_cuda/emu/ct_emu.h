/*
 * CUDA on the host, for tests: the fake NVRTC (fake_libnvrtc.c)
 * force-includes this header when it compiles a kernel source with the
 * host's C++ compiler, so that the fake driver can run ctensor's own
 * kernels, unchanged, on a machine without a GPU.
 *
 * What a kernel sees: threadIdx/blockIdx/blockDim/gridDim, __syncthreads,
 * __shfl_down_sync, __shared__ (one instance per launch: blocks run one
 * after another), the bit-cast intrinsics and atomics ctensor uses, and the C math
 * library. Each CUDA thread of a block is a fiber (ucontext) with its own
 * stack; the scheduler runs the fibers of one block in turn, each until it
 * finishes or waits at a barrier:
 *   - __syncthreads() releases the block once every unfinished thread of
 *     it waits at one;
 *   - a shuffle is a barrier of the warp only (32 consecutive linear
 *     thread ids), so warp-synchronous code inside one branch works while
 *     the other warps wait at a __syncthreads further on.
 * A block that can make no progress (a barrier not every thread reaches)
 * is reported as a deadlock: the launch fails instead of hanging. A
 * program whose text, with the headers it includes, has no barrier is
 * compiled with CT_EMU_NO_BARRIERS:
 * its threads are plain calls, one after another (context switches cost
 * a system call each).
 *
 * The fake NVRTC appends CT_EMU_ENTRY(name) for each kernel it finds; that
 * defines name__ct_emu(void **params), which unpacks cuLaunchKernel's
 * parameter array into the kernel's own parameter types. The fake driver
 * calls ct_emu_launch with it.
 *
 * This is a test double, not a simulator: float arithmetic follows the
 * host (IEEE, no contraction: the fake NVRTC passes -ffp-contract=off),
 * transcendental functions are glibc's, not CUDA's, and there is no
 * concurrency between threads, so it finds indexing, launch-geometry and
 * synchronisation-structure bugs, not races.
 */
#ifndef CT_EMU_H
#define CT_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <type_traits>
#include <utility>

/* What NVRTC defines, so sources take their device-compiler branches. */
#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#ifndef __CUDA_ARCH__ /* the fake NVRTC defines it from -arch */
#define __CUDA_ARCH__ 860
#endif

#define __host__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) alignas(n)
#ifndef CT_EMU_SCAN /* the fake NVRTC's first pass looks for the word */
#define __global__ __attribute__((visibility("default")))
#endif

struct ct_emu_dim3 {
  unsigned x, y, z;
};
static ct_emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
static const int warpSize = 32;

static inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}
static inline int __float_as_int(float f) {
  int i;
  memcpy(&i, &f, sizeof i);
  return i;
}
static inline float __uint_as_float(unsigned i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}
static inline unsigned __float_as_uint(float f) {
  unsigned i;
  memcpy(&i, &f, sizeof i);
  return i;
}
static inline double __longlong_as_double(long long i) {
  double d;
  memcpy(&d, &i, sizeof d);
  return d;
}
static inline long long __double_as_longlong(double d) {
  long long i;
  memcpy(&i, &d, sizeof i);
  return i;
}

/* Atomics, with CUDA's overloads (no templates: a call that converts its
 * arguments on a GPU must convert here too). Threads never run
 * concurrently, so a plain read-modify-write is atomic; integer adds wrap
 * as the hardware's do. */
static inline int atomicAdd(int *p, int v) {
  int old = *p;
  *p = (int)((unsigned)old + (unsigned)v);
  return old;
}
static inline unsigned atomicAdd(unsigned *p, unsigned v) {
  unsigned old = *p;
  *p = old + v;
  return old;
}
static inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
  unsigned long long old = *p;
  *p = old + v;
  return old;
}
static inline float atomicAdd(float *p, float v) {
  float old = *p;
  *p = old + v;
  return old;
}
static inline double atomicAdd(double *p, double v) {
  double old = *p;
  *p = old + v;
  return old;
}
static inline unsigned atomicCAS(unsigned *p, unsigned cmp, unsigned v) {
  unsigned old = *p;
  if (old == cmp) *p = v;
  return old;
}
static inline unsigned long long atomicCAS(unsigned long long *p, unsigned long long cmp, unsigned long long v) {
  unsigned long long old = *p;
  if (old == cmp) *p = v;
  return old;
}
static inline unsigned long long atomicMin(unsigned long long *p, unsigned long long v) {
  unsigned long long old = *p;
  if (v < old) *p = v;
  return old;
}

namespace ct_emu {

enum { READY, AT_BLOCK, AT_WARP, DONE };

struct fiber {
  ucontext_t uc;
  int state;
};

/* The fibers and their stacks belong to the fake driver (one set for every
 * module it loads); ct_emu_launch receives them. */
static size_t stack_bytes;
static ucontext_t scheduler;
static fiber *fibers;
static char *stacks;
static int n_fibers, current;
static void (*entry)(void **);
static void **entry_params;
static unsigned long long lanes[1024]; /* shuffle exchange, by linear thread id */

static void set_thread(int t) {
  threadIdx.x = (unsigned)t % blockDim.x;
  threadIdx.y = ((unsigned)t / blockDim.x) % blockDim.y;
  threadIdx.z = (unsigned)t / (blockDim.x * blockDim.y);
}

static void fiber_main() {
  entry(entry_params);
  fibers[current].state = DONE; /* returning resumes the scheduler (uc_link) */
}

static void wait_at(int state) {
  int me = current;
  fibers[me].state = state;
  swapcontext(&fibers[me].uc, &scheduler);
}

/* Runs one block; 0, or -1 when its threads deadlock at barriers. */
static int run_block(int n) {
  for (int t = 0; t < n; t++) {
    getcontext(&fibers[t].uc);
    fibers[t].uc.uc_stack.ss_sp = stacks + stack_bytes * (size_t)t;
    fibers[t].uc.uc_stack.ss_size = stack_bytes;
    fibers[t].uc.uc_link = &scheduler;
    makecontext(&fibers[t].uc, fiber_main, 0);
    fibers[t].state = READY;
  }
  for (;;) {
    for (int t = 0; t < n; t++) {
      if (fibers[t].state != READY) continue;
      current = t;
      set_thread(t);
      swapcontext(&scheduler, &fibers[t].uc);
    }
    int live = 0, at_block = 0;
    bool released = false;
    for (int w = 0; w < n; w += 32) {
      int end = w + 32 < n ? w + 32 : n, wl = 0, ww = 0;
      for (int t = w; t < end; t++) {
        if (fibers[t].state == DONE) continue;
        wl++;
        if (fibers[t].state == AT_WARP) ww++;
        if (fibers[t].state == AT_BLOCK) at_block++;
      }
      live += wl;
      if (wl > 0 && ww == wl) {
        for (int t = w; t < end; t++)
          if (fibers[t].state == AT_WARP) fibers[t].state = READY;
        released = true;
      }
    }
    if (live == 0) return 0;
    if (released) continue;
    if (at_block != live) return -1;
    for (int t = 0; t < n; t++)
      if (fibers[t].state == AT_BLOCK) fibers[t].state = READY;
  }
}

} // namespace ct_emu

#ifndef CT_EMU_NO_BARRIERS
static inline void __syncthreads() { ct_emu::wait_at(ct_emu::AT_BLOCK); }

template <class T> static inline T __shfl_down_sync(unsigned mask, T v, int delta) {
  static_assert(sizeof(T) <= sizeof(unsigned long long), "shuffle of a value wider than 8 bytes");
  (void)mask;
  int me = ct_emu::current;
  memcpy(&ct_emu::lanes[me], &v, sizeof v);
  ct_emu::wait_at(ct_emu::AT_WARP); /* every lane has published its value */
  T r = v;
  if ((me & 31) + delta < 32 && me + delta < ct_emu::n_fibers) memcpy(&r, &ct_emu::lanes[me + delta], sizeof r);
  ct_emu::wait_at(ct_emu::AT_WARP); /* every lane has read before the slots are reused */
  return r;
}
#endif

/* Bytes the driver provides per thread for the bookkeeping of a fiber. */
extern "C" __attribute__((visibility("default"))) size_t ct_emu_fiber_size(void) { return sizeof(ct_emu::fiber); }

/* Runs the grid, blocks in order (x fastest), with the caller's fiber
 * records (block threads * ct_emu_fiber_size() bytes) and stacks (block
 * threads * stack_bytes). 0: done; 1: a block deadlocked at its barriers. */
extern "C" __attribute__((visibility("default"))) int ct_emu_launch(void (*fn)(void **), void **params,
                                                                   const unsigned grid[3], const unsigned block[3],
                                                                   void *fiber_records, char *stacks,
                                                                   size_t stack_bytes) {
  int n = (int)(block[0] * block[1] * block[2]);
  if (n > 1024) return 1;
  ct_emu::fibers = (ct_emu::fiber *)fiber_records;
  ct_emu::stacks = stacks;
  ct_emu::stack_bytes = stack_bytes;
  ct_emu::entry = fn;
  ct_emu::entry_params = params;
  ct_emu::n_fibers = n;
  gridDim = {grid[0], grid[1], grid[2]};
  blockDim = {block[0], block[1], block[2]};
  for (unsigned z = 0; z < grid[2]; z++)
    for (unsigned y = 0; y < grid[1]; y++)
      for (unsigned x = 0; x < grid[0]; x++) {
        blockIdx = {x, y, z};
#ifdef CT_EMU_NO_BARRIERS
        for (int t = 0; t < n; t++) {
          ct_emu::set_thread(t);
          fn(params);
        }
#else
        if (ct_emu::run_block(n) != 0) return 1;
#endif
      }
  return 0;
}

template <class... A, size_t... I>
static inline void ct_emu_call(void (*f)(A...), void **p, std::index_sequence<I...>) {
  f(*(typename std::remove_cv<typename std::remove_reference<A>::type>::type *)p[I]...);
}
template <class... A> static inline void ct_emu_invoke(void (*f)(A...), void **p) {
  ct_emu_call(f, p, std::index_sequence_for<A...>{});
}

#define CT_EMU_ENTRY(name) \
  extern "C" __attribute__((visibility("default"))) void name##__ct_emu(void **p) { ct_emu_invoke(name, p); }

#endif
