/*
 * A fake NCCL (libnccl.so.2) for tests on machines without a GPU.
 *
 * It exports the entry points src/dist/nccl.c resolves and computes real
 * results over the fake driver's device memory, which is host memory: the
 * ranks exchange the bytes with MPI (the job is launched by mpirun anyway,
 * and ctensor has initialised MPI before any NCCL call), on a duplicate of
 * MPI_COMM_WORLD per communicator. Every exchange is an all-gather or a
 * broadcast of raw bytes; reductions are then computed locally in rank
 * order, so every rank gets bit-identical results, as NCCL's ring gives.
 *
 * Calls are synchronous, like the fake driver's streams. Stricter than
 * NCCL where a GPU would fault instead of reporting: every buffer must lie
 * in one live allocation of the fake driver (ncclInvalidArgument
 * otherwise), and a CUDA context must be current. ncclCommInitRank checks
 * that every rank passed the same unique id, the same nranks and its own
 * MPI rank -- what ctensor's broadcast of the id must achieve.
 *
 * ct_fake_nccl_counters() (exported) reports calls per entry point, the
 * last stream and live communicators, for tests. CT_FAKE_NCCL_VERSION sets
 * what ncclGetVersion reports (default 22105, 2.21.5; 20908 has no bfloat16
 * and no ncclAvg).
 */
#include <dlfcn.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_fail.h"

#define EXPORT __attribute__((visibility("default")))

enum { R_SUCCESS = 0, R_SYSTEM = 2, R_INTERNAL = 3, R_INVALID_ARGUMENT = 4, R_INVALID_USAGE = 5 };
enum { T_INT8, T_UINT8, T_INT32, T_UINT32, T_INT64, T_UINT64, T_FLOAT16, T_FLOAT32, T_FLOAT64, T_BFLOAT16 };
enum { OP_SUM, OP_PROD, OP_MAX, OP_MIN, OP_AVG };

typedef struct nccl_unique_id {
  char internal[128];
} nccl_unique_id;

#define COMM_MAGIC 0x6e63636cu

typedef struct fake_comm {
  unsigned magic;
  MPI_Comm mpi;
  int rank, nranks;
} fake_comm;

typedef struct ct_fake_nccl_counters {
  long init, destroy, abort, all_reduce, broadcast, all_gather, reduce_scatter, groups;
  int live_comms;
  void *last_stream;
} ct_fake_nccl_counters;

static ct_fake_nccl_counters counters;
static unsigned id_serial;

EXPORT void ct_fake_nccl_counters_get(ct_fake_nccl_counters *out) { *out = counters; }

static int version(void) {
  const char *v = getenv("CT_FAKE_NCCL_VERSION");
  return v && *v ? atoi(v) : 22105;
}

/* ---- the fake driver: which pointers are device memory ------------------ */

static int (*valid_range)(unsigned long long, size_t);
static int (*ctx_get_current)(void **);

static int find_driver(void) {
  if (valid_range && ctx_get_current) return 1;
  void *h = fake_driver_open();
  if (!h) return 0;
  valid_range = (int (*)(unsigned long long, size_t))dlsym(h, "ct_fake_cuda_valid_range");
  ctx_get_current = (int (*)(void **))dlsym(h, "cuCtxGetCurrent");
  dlclose(h); /* the driver stays loaded by ctensor */
  return valid_range && ctx_get_current;
}

static int device_ok(const void *p, size_t bytes) {
  void *ctx = NULL;
  if (!find_driver() || ctx_get_current(&ctx) != 0 || !ctx) return 0;
  return bytes == 0 || valid_range((unsigned long long)(uintptr_t)p, bytes);
}

static size_t type_size(int t) {
  switch (t) {
    case T_INT8:
    case T_UINT8: return 1;
    case T_FLOAT16:
    case T_BFLOAT16: return 2;
    case T_INT32:
    case T_UINT32:
    case T_FLOAT32: return 4;
    case T_INT64:
    case T_UINT64:
    case T_FLOAT64: return 8;
  }
  return 0;
}

static int type_ok(int t) { return type_size(t) && (t != T_BFLOAT16 || version() >= 21000); }

/* ---- 16-bit floats ------------------------------------------------------ */

static float f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float half_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (e == 0x1f) return f32(sign | 0x7f800000u | (man << 13));
  if (e == 0) {
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
  }
  return f32(sign | ((e + 112) << 23) | (man << 13));
}

static uint16_t f32_to_half(float f) {
  uint32_t u = bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
  if (a < 0x38800000u) { /* subnormal: round to nearest even at 2^-24 */
    float v = f32(a) * 0x1p24f;
    float r = (float)(long)v;
    float frac = v - r;
    if (frac > 0.5f || (frac == 0.5f && ((long)r & 1))) r += 1.0f;
    return (uint16_t)(sign | (uint32_t)r);
  }
  uint32_t v = a - 0x38000000u;
  v = (v + 0xfffu + ((v >> 13) & 1u)) >> 13;
  return (uint16_t)(sign | v);
}

static float bf16_to_f32(uint16_t b) { return f32((uint32_t)b << 16); }
static uint16_t f32_to_bf16(float f) {
  uint32_t u = bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* ---- reductions over the ranks' contributions ---------------------------- */

#define COMBINE(acc, v, op)                                    \
  do {                                                         \
    switch (op) {                                              \
      case OP_SUM:                                             \
      case OP_AVG: acc = acc + v; break;                       \
      case OP_PROD: acc = acc * v; break;                      \
      case OP_MAX: acc = v > acc ? v : acc; break;             \
      default: acc = v < acc ? v : acc; break;                 \
    }                                                          \
  } while (0)

#define REDUCE_AS(T, load, store)                                                  \
  for (size_t i = 0; i < count; i++) {                                             \
    T acc = load(((const T##_raw *)all)[i]);                                       \
    for (int r = 1; r < nranks; r++) {                                             \
      T v = load(((const T##_raw *)(all + (size_t)r * stride))[i]);                \
      COMBINE(acc, v, op);                                                         \
    }                                                                              \
    if (op == OP_AVG) acc = acc / (T)nranks;                                       \
    ((T##_raw *)out)[i] = store(acc);                                              \
  }

typedef float float_raw;
typedef double double_raw;
typedef int32_t int32_t_raw;
typedef int64_t int64_t_raw;
typedef uint8_t uint8_t_raw;
#define ID(x) (x)

/* 16-bit floats: accumulated in float, rounded once, as NCCL's kernels
 * round per step -- close enough for the tests' tolerance. */
static void reduce16(const char *all, size_t stride, int nranks, size_t count, int op, void *out, int bf) {
  for (size_t i = 0; i < count; i++) {
    uint16_t h;
    memcpy(&h, all + 2 * i, 2);
    float acc = bf ? bf16_to_f32(h) : half_to_f32(h);
    for (int r = 1; r < nranks; r++) {
      memcpy(&h, all + (size_t)r * stride + 2 * i, 2);
      float v = bf ? bf16_to_f32(h) : half_to_f32(h);
      COMBINE(acc, v, op);
    }
    if (op == OP_AVG) acc /= (float)nranks;
    h = bf ? f32_to_bf16(acc) : f32_to_half(acc);
    memcpy((char *)out + 2 * i, &h, 2);
  }
}

static int reduce(const char *all, size_t stride, int nranks, size_t count, int type, int op, void *out) {
  switch (type) {
    case T_FLOAT32: REDUCE_AS(float, ID, ID) break;
    case T_FLOAT64: REDUCE_AS(double, ID, ID) break;
    case T_INT32: REDUCE_AS(int32_t, ID, ID) break;
    case T_INT64: REDUCE_AS(int64_t, ID, ID) break;
    case T_UINT8: REDUCE_AS(uint8_t, ID, ID) break;
    case T_FLOAT16: reduce16(all, stride, nranks, count, op, out, 0); break;
    case T_BFLOAT16: reduce16(all, stride, nranks, count, op, out, 1); break;
    default: return R_INVALID_ARGUMENT;
  }
  return R_SUCCESS;
}

/* Every rank's `bytes` from send, concatenated in rank order. */
static int gather(fake_comm *c, const void *send, size_t bytes, char **all) {
  *all = malloc(bytes * (size_t)c->nranks + 1);
  if (!*all) return R_SYSTEM;
  if (MPI_Allgather(send, (int)bytes, MPI_BYTE, *all, (int)bytes, MPI_BYTE, c->mpi) != MPI_SUCCESS) {
    free(*all);
    return R_SYSTEM;
  }
  return R_SUCCESS;
}

static int comm_ok(const fake_comm *c) { return c && c->magic == COMM_MAGIC; }

/* ---- the API ------------------------------------------------------------ */

EXPORT int ncclGetVersion(int *v) {
  if (!v) return R_INVALID_ARGUMENT;
  *v = version();
  return R_SUCCESS;
}

EXPORT const char *ncclGetErrorString(int r) {
  switch (r) {
    case R_SUCCESS: return "no error";
    case R_SYSTEM: return "unhandled system error (fake NCCL: MPI failed)";
    case R_INTERNAL: return "internal error";
    case R_INVALID_ARGUMENT: return "invalid argument (fake NCCL: see its checks)";
    case R_INVALID_USAGE: return "invalid usage";
  }
  return "unknown result code";
}

EXPORT int ncclGetUniqueId(nccl_unique_id *id) {
  if (!id) return R_INVALID_ARGUMENT;
  memset(id, 0, sizeof *id);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  snprintf(id->internal, sizeof id->internal, "fake-nccl:%d:%d:%u", (int)getpid(), rank, ++id_serial);
  return R_SUCCESS;
}

EXPORT int ncclCommInitRank(fake_comm **out, int nranks, nccl_unique_id id, int rank) {
  if (!out) return R_INVALID_ARGUMENT;
  *out = NULL;
  int init = 0, world = 0, me = -1;
  MPI_Initialized(&init);
  if (!init || !device_ok(NULL, 0)) return R_INVALID_USAGE;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  fake_comm *c = calloc(1, sizeof *c);
  if (!c) return R_SYSTEM;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi) != MPI_SUCCESS) {
    free(c);
    return R_SYSTEM;
  }
  /* Same id everywhere: the max and the min of its hash agree. */
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < sizeof id.internal; i++) h = (h ^ (unsigned char)id.internal[i]) * 1099511628211ull;
  long long mine[4] = {(long long)(h >> 1), -(long long)(h >> 1), nranks, rank == me ? 0 : 1}, agg[4];
  MPI_Allreduce(mine, agg, 4, MPI_LONG_LONG, MPI_MAX, c->mpi);
  if (agg[0] != -agg[1] || nranks != world || agg[2] != world || agg[3] != 0 || !id.internal[0]) {
    MPI_Comm_free(&c->mpi);
    free(c);
    return R_INVALID_ARGUMENT;
  }
  c->magic = COMM_MAGIC;
  c->rank = rank;
  c->nranks = nranks;
  counters.init++;
  counters.live_comms++;
  *out = c;
  return R_SUCCESS;
}

static int release(fake_comm *c, long *counter) {
  if (!comm_ok(c)) return R_INVALID_ARGUMENT;
  c->magic = 0;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&c->mpi);
  free(c);
  (*counter)++;
  counters.live_comms--;
  return R_SUCCESS;
}

EXPORT int ncclCommDestroy(fake_comm *c) { return release(c, &counters.destroy); }
EXPORT int ncclCommAbort(fake_comm *c) { return release(c, &counters.abort); }

EXPORT int ncclGroupStart(void) {
  counters.groups++;
  return R_SUCCESS;
}
EXPORT int ncclGroupEnd(void) { return R_SUCCESS; }

static int check(fake_comm *c, int type, const void *send, size_t send_bytes, const void *recv, size_t recv_bytes,
                 void *stream) {
  if (!comm_ok(c) || !type_ok(type)) return R_INVALID_ARGUMENT;
  if (!device_ok(send, send_bytes) || !device_ok(recv, recv_bytes)) return R_INVALID_ARGUMENT;
  counters.last_stream = stream;
  return R_SUCCESS;
}

EXPORT int ncclAllReduce(const void *send, void *recv, size_t count, int type, int op, fake_comm *c, void *stream) {
  size_t bytes = count * type_size(type);
  int r = check(c, type, send, bytes, recv, bytes, stream);
  if (r != R_SUCCESS) return r;
  if (op < OP_SUM || op > OP_AVG || (op == OP_AVG && version() < 21000)) return R_INVALID_ARGUMENT;
  char *all;
  if ((r = gather(c, send, bytes, &all)) != R_SUCCESS) return r;
  r = reduce(all, bytes, c->nranks, count, type, op, recv);
  free(all);
  counters.all_reduce++;
  return r;
}

EXPORT int ncclBroadcast(const void *send, void *recv, size_t count, int type, int root, fake_comm *c,
                         void *stream) {
  size_t bytes = count * type_size(type);
  int r = check(c, type, c && c->rank == root ? send : recv, bytes, recv, bytes, stream);
  if (r != R_SUCCESS) return r;
  if (root < 0 || root >= c->nranks) return R_INVALID_ARGUMENT;
  if (c->rank == root && send != recv) memmove(recv, send, bytes);
  if (MPI_Bcast(recv, (int)bytes, MPI_BYTE, root, c->mpi) != MPI_SUCCESS) return R_SYSTEM;
  counters.broadcast++;
  return R_SUCCESS;
}

EXPORT int ncclAllGather(const void *send, void *recv, size_t count, int type, fake_comm *c, void *stream) {
  size_t bytes = count * type_size(type);
  int r = check(c, type, send, bytes, recv, c ? bytes * (size_t)c->nranks : 0, stream);
  if (r != R_SUCCESS) return r;
  char *all;
  if ((r = gather(c, send, bytes, &all)) != R_SUCCESS) return r;
  memcpy(recv, all, bytes * (size_t)c->nranks);
  free(all);
  counters.all_gather++;
  return R_SUCCESS;
}

EXPORT int ncclReduceScatter(const void *send, void *recv, size_t count, int type, int op, fake_comm *c,
                             void *stream) {
  size_t bytes = count * type_size(type);
  int r = check(c, type, send, c ? bytes * (size_t)c->nranks : 0, recv, bytes, stream);
  if (r != R_SUCCESS) return r;
  if (op < OP_SUM || op > OP_AVG || (op == OP_AVG && version() < 21000)) return R_INVALID_ARGUMENT;
  size_t total = bytes * (size_t)c->nranks;
  char *all, *full = malloc(total + 1);
  if (!full) return R_SYSTEM;
  if ((r = gather(c, send, total, &all)) != R_SUCCESS) {
    free(full);
    return r;
  }
  r = reduce(all, total, c->nranks, count * (size_t)c->nranks, type, op, full);
  if (r == R_SUCCESS) memcpy(recv, full + (size_t)c->rank * bytes, bytes);
  free(all);
  free(full);
  counters.reduce_scatter++;
  return r;
}
