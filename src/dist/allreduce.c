/*
 * The data of an all_reduce of host memory too large to ride in the
 * agreement exchange (process_group.c), moved over point-to-point messages
 * rather than MPI_Iallreduce: Open MPI's non-blocking collectives (libnbc)
 * take up to twice its blocking ones' time, and a blocking call cannot be
 * given up on after a timeout. Two algorithms, those MPICH chooses between
 * (Thakur, Rabenseifner and Gropp, "Optimization of collective
 * communication operations in MPICH", 2005):
 *
 * - recursive doubling: log2(p) steps, each exchanging the whole vector
 *   with one partner and combining it;
 * - Rabenseifner's: a reduce-scatter by recursive halving (each step
 *   exchanges half of what is left and combines it), then an all-gather by
 *   recursive doubling: twice the steps, but only 2(p-1)/p of the vector
 *   moved and (p-1)/p of it combined.
 *
 * A cost model picks one per call (below); CT_COLLECTIVE_ALGORITHM forces
 * one. With a process count that is not a power of two, the first 2r ranks
 * fold in pairs first (the even one hands its vector to the odd one and
 * gets the result back at the end). Every element is computed by the same
 * expression on every process that computes it -- the lower ranks'
 * contribution on the left -- so all processes end with the same bits.
 * Data is received only into the group's scratch buffer, which a broken
 * group never frees: a request given up after a timeout can still land
 * there, never in a tensor that was released.
 */
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"

/* A vector is moved in segments of at most this many bytes: the scratch
 * buffer's size. Past a few MiB a segment's time is all bandwidth. */
#define SEGMENT_BYTES ((int64_t)8 << 20)
/* Tag of the data messages; the agreement's tags are 0 or at least 2. */
#define DATA_TAG 1

/* ---- combining ------------------------------------------------------------ */

#define OP_SUM(a, b) ((a) + (b))
#define OP_PROD(a, b) ((a) * (b))
/* NaN wins, as MPI's MAX and MIN do on every implementation we know */
#define OP_MAX(a, b) ((a) > (b) || (a) != (a) ? (a) : (b))
#define OP_MIN(a, b) ((a) < (b) || (a) != (a) ? (a) : (b))

/* One loop per aliasing case, so that each vectorises: out is lo (the
 * steps after the first), hi, or a third buffer (the first step). */
#define DEFINE_COMBINE(name, T, OP)                                     \
  static void name(T *o, const T *a, const T *b, int64_t n) {           \
    if (o == a) {                                                       \
      for (int64_t i = 0; i < n; i++) o[i] = OP(o[i], b[i]);            \
    } else if (o == b) {                                                \
      for (int64_t i = 0; i < n; i++) o[i] = OP(a[i], o[i]);            \
    } else {                                                            \
      for (int64_t i = 0; i < n; i++) o[i] = OP(a[i], b[i]);            \
    }                                                                   \
  }
#define DEFINE_COMBINE_TYPE(T, suffix)             \
  DEFINE_COMBINE(sum_##suffix, T, OP_SUM)          \
  DEFINE_COMBINE(prod_##suffix, T, OP_PROD)        \
  DEFINE_COMBINE(max_##suffix, T, OP_MAX)          \
  DEFINE_COMBINE(min_##suffix, T, OP_MIN)
DEFINE_COMBINE_TYPE(float, f32)
DEFINE_COMBINE_TYPE(double, f64)
DEFINE_COMBINE_TYPE(int32_t, i32)
DEFINE_COMBINE_TYPE(int64_t, i64)

#define DISPATCH_OP(suffix, T)                                                  \
  switch (op) {                                                                 \
    case CT_REDUCE_PROD: prod_##suffix((T *)out, lo, hi, n); break;              \
    case CT_REDUCE_MAX: max_##suffix((T *)out, lo, hi, n); break;                \
    case CT_REDUCE_MIN: min_##suffix((T *)out, lo, hi, n); break;                \
    default: sum_##suffix((T *)out, lo, hi, n); break;                           \
  }

static float f16_load(uint16_t h, bool bf) { return bf ? ct_bfloat16_to_float(h) : ct_half_to_float(h); }

void ct_dist_combine(ct_dtype dtype, int op, const void *lo, const void *hi, void *out, int64_t n) {
  switch (dtype) {
    case CT_FLOAT32: DISPATCH_OP(f32, float); break;
    case CT_FLOAT64: DISPATCH_OP(f64, double); break;
    case CT_INT32: DISPATCH_OP(i32, int32_t); break;
    case CT_INT64: DISPATCH_OP(i64, int64_t); break;
    case CT_FLOAT16:
    case CT_BFLOAT16: {
      /* float per step, as the MPI plugin's user operations compute */
      bool bf = dtype == CT_BFLOAT16;
      const uint16_t *a_ = lo, *b_ = hi;
      uint16_t *o_ = out;
      for (int64_t i = 0; i < n; i++) {
        float a = f16_load(a_[i], bf), b = f16_load(b_[i], bf), r;
        switch (op) {
          case CT_REDUCE_PROD: r = a * b; break;
          case CT_REDUCE_MAX: r = OP_MAX(a, b); break;
          case CT_REDUCE_MIN: r = OP_MIN(a, b); break;
          default: r = a + b; break;
        }
        o_[i] = bf ? ct_float_to_bfloat16(r) : ct_float_to_half(r);
      }
      break;
    }
    default: break;
  }
}

/* ---- choosing ------------------------------------------------------------- */

ct_status ct_dist_algorithm_from_env(ct_dist_algorithm *out) {
  const char *v = getenv("CT_COLLECTIVE_ALGORITHM");
  *out = CT_ALGO_AUTO;
  if (!v || !v[0] || strcmp(v, "auto") == 0) return CT_OK;
  if (strcmp(v, "recursive_doubling") == 0) {
    *out = CT_ALGO_RECURSIVE_DOUBLING;
    return CT_OK;
  }
  if (strcmp(v, "rabenseifner") == 0) {
    *out = CT_ALGO_RABENSEIFNER;
    return CT_OK;
  }
  return ct_error(CT_INVALID_ARGUMENT,
                  "process_group_new: CT_COLLECTIVE_ALGORITHM='%s' is not one of auto, recursive_doubling, "
                  "rabenseifner",
                  v);
}

/* The model of one step, in microseconds, fitted to both algorithms
 * forced on 2 processes over shared memory (Open MPI 4.1, 16 KiB to
 * 16 MiB, docs/distributed.md): a message within the eager limit (4096
 * bytes with MPI's 64-byte header) costs a fixed latency; a larger one a
 * rendezvous round trip and a cold buffer. Then every byte moved, and
 * every byte combined or copied out of the receive buffer. Only the
 * crossing points matter: recursive doubling wins while its one message
 * stays eager, or while the latency of Rabenseifner's extra steps
 * outweighs the memory traffic it saves (to about 800 KB on 2 processes;
 * measured: 4.4 against 7.4 us at 16 KiB, even at 1 MiB, 0.87x at 4 MiB). */
#define ALPHA_EAGER 0.3
#define ALPHA_RENDEZVOUS 4.0
#define US_PER_BYTE_MOVED 6e-5
#define US_PER_BYTE_COMBINED 4e-5
#define US_PER_BYTE_COPIED 3e-5

static double message_cost(double bytes) {
  return (bytes + 64 <= 4096 ? ALPHA_EAGER : ALPHA_RENDEZVOUS) + bytes * US_PER_BYTE_MOVED;
}

static ct_dist_algorithm choose(double bytes, int steps) {
  double rd = steps * (message_cost(bytes) + bytes * US_PER_BYTE_COMBINED);
  double rab = 0, b = bytes;
  for (int k = 0; k < steps; k++) {
    b /= 2;
    rab += 2 * message_cost(b) + b * (US_PER_BYTE_COMBINED + US_PER_BYTE_COPIED);
  }
  return rd <= rab ? CT_ALGO_RECURSIVE_DOUBLING : CT_ALGO_RABENSEIFNER;
}

/* ---- moving --------------------------------------------------------------- */

typedef struct job {
  ct_process_group *pg;
  ct_dtype dtype;
  int op;
  size_t esize;
  const char *what;
} job;

static ct_status swap(const job *j, int peer, const char *send, int64_t send_n, char *recv, int64_t recv_n) {
  return ct_dist_exchange(j->pg, peer, send, (int)(send_n * (int64_t)j->esize), DATA_TAG, recv,
                          (int)(recv_n * (int64_t)j->esize), DATA_TAG, NULL, NULL, j->what);
}

static void combine(const job *j, char *out, const char *mine, const char *theirs, bool theirs_lower, int64_t n) {
  ct_dist_combine(j->dtype, j->op, theirs_lower ? theirs : mine, theirs_lower ? mine : theirs, out, n);
}

/* One segment of n elements: out = the reduction of every process's x. */
static ct_status segment(const job *j, const char *x, char *out, int64_t n, ct_dist_algorithm algo) {
  ct_process_group *pg = j->pg;
  char *scratch = pg->scratch;
  size_t es = j->esize;
  int me = pg->rank;
  ct_dist_fold f = ct_dist_fold_of(pg->size, me);
  if (algo == CT_ALGO_AUTO) algo = choose((double)n * (double)es, f.steps);
  ct_status st;
  const char *src = x; /* this process's vector: its input until a step writes out */
  if (me < 2 * f.rem) {
    if (me % 2 == 0) {
      st = swap(j, me + 1, x, n, NULL, 0);
      if (st == CT_OK) st = swap(j, me + 1, NULL, 0, scratch, n);
      if (st == CT_OK) memcpy(out, scratch, (size_t)n * es);
      return st;
    }
    st = swap(j, me - 1, NULL, 0, scratch, n);
    if (st != CT_OK) return st;
    combine(j, out, x, scratch, true, n);
    src = out;
  }
  int newrank = f.newrank, p = f.p;
#define RANK_OF(nr) ct_dist_fold_rank(&f, (nr))
  if (algo == CT_ALGO_RECURSIVE_DOUBLING) {
    for (int mask = 1; mask < p; mask <<= 1) {
      int partner_new = newrank ^ mask;
      st = swap(j, RANK_OF(partner_new), src, n, scratch, n);
      if (st != CT_OK) return st;
      combine(j, out, src, scratch, partner_new < newrank, n);
      src = out;
    }
  } else {
    /* Reduce-scatter by recursive halving: the partner furthest away
     * first; each step keeps the half of the current range that this
     * process's rank bit names and sends the other half. */
    int64_t lo = 0, hi = n, saved_lo[32], saved_hi[32];
    int k = 0;
    for (int mask = p >> 1; mask >= 1; mask >>= 1, k++) {
      bool upper = (newrank & mask) != 0;
      int64_t mid = lo + (hi - lo) / 2;
      int64_t keep_lo = upper ? mid : lo, keep_hi = upper ? hi : mid;
      int64_t send_lo = upper ? lo : mid, send_hi = upper ? mid : hi;
      st = swap(j, RANK_OF(newrank ^ mask), src + send_lo * (int64_t)es, send_hi - send_lo, scratch,
                keep_hi - keep_lo);
      if (st != CT_OK) return st;
      /* the partner's ranks come first exactly when this process is upper */
      combine(j, out + keep_lo * (int64_t)es, src + keep_lo * (int64_t)es, scratch, upper, keep_hi - keep_lo);
      src = out;
      saved_lo[k] = lo;
      saved_hi[k] = hi;
      lo = keep_lo;
      hi = keep_hi;
    }
    /* All-gather by recursive doubling: the steps in reverse, each
     * receiving the half this process gave away. */
    for (int mask = 1; mask < p; mask <<= 1) {
      k--;
      int64_t other_lo = lo == saved_lo[k] ? hi : saved_lo[k];
      int64_t other_hi = lo == saved_lo[k] ? saved_hi[k] : lo;
      st = swap(j, RANK_OF(newrank ^ mask), out + lo * (int64_t)es, hi - lo, scratch, other_hi - other_lo);
      if (st != CT_OK) return st;
      memcpy(out + other_lo * (int64_t)es, scratch, (size_t)(other_hi - other_lo) * es);
      lo = saved_lo[k];
      hi = saved_hi[k];
    }
  }
#undef RANK_OF
  if (src != out) memcpy(out, src, (size_t)n * es); /* one process: nothing to combine */
  if (me < 2 * f.rem) return swap(j, me - 1, out, n, NULL, 0);
  return CT_OK;
}

ct_status ct_dist_reserve_scratch(ct_process_group *pg, int64_t count, ct_dtype dtype) {
  int64_t bytes = count * (int64_t)ct_dtype_size(dtype);
  if (bytes > SEGMENT_BYTES) bytes = SEGMENT_BYTES;
  if ((size_t)bytes <= pg->scratch_bytes) return CT_OK;
  /* No request owns the old buffer: a group whose request was given up
   * is broken, and a broken group starts no collective. */
  void *p = malloc((size_t)bytes);
  if (!p)
    return ct_error(CT_RESOURCE_EXHAUSTED, "all_reduce: out of memory for a %lld-byte receive buffer",
                    (long long)bytes);
  free(pg->scratch);
  pg->scratch = p;
  pg->scratch_bytes = (size_t)bytes;
  return CT_OK;
}

ct_status ct_dist_allreduce_host(ct_process_group *pg, const void *in, void *out, int64_t count, ct_dtype dtype,
                                 int op, const char *what) {
  job j = {pg, dtype, op, ct_dtype_size(dtype), what};
  int64_t per = SEGMENT_BYTES / (int64_t)j.esize;
  if (pg->scratch_bytes < (size_t)((count < per ? count : per) * (int64_t)j.esize))
    return ct_error(CT_INTERNAL, "%s: no receive buffer reserved before the agreement", what);
  for (int64_t off = 0; off < count; off += per) {
    int64_t n = count - off < per ? count - off : per;
    int64_t at = off * (int64_t)j.esize;
    ct_status st = segment(&j, (const char *)in + at, (char *)out + at, n, (ct_dist_algorithm)pg->algorithm);
    if (st != CT_OK) return st;
  }
  return CT_OK;
}
