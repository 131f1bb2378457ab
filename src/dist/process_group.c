/*
 * The process group: MPI through the plugin, this process's name in the
 * cluster, and the two things that keep a wrong program from hanging --
 * the agreement check before every collective and the timeout while
 * waiting for one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist_internal.h"

#define DEFAULT_TIMEOUT_SECONDS 300.0
#define PLUGIN_FILE "libctensor_mpi.so"

/* ---- the plugin: loaded once per process, MPI initialised once ---------- */

static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static const ct_mpi_plugin *plugin;
static bool mpi_ours; /* ctensor called MPI_Init: it finalises at exit */

static void finalize_at_exit(void) {
  if (plugin && mpi_ours) plugin->finalize();
}

/* The directory of the file holding this code: libctensor.so, the Python
 * extension, or the executable when linked statically. */
static void self_dir(char *out, size_t size) {
  Dl_info info;
  out[0] = '\0';
  if (dladdr((void *)&ct_process_group_new, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
    char real[PATH_MAX];
    snprintf(out, size, "%s", realpath(info.dli_fname, real) ? real : info.dli_fname);
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
  }
}

static ct_status load_plugin_locked(void) {
  if (plugin) return CT_OK;
  char paths[2][PATH_MAX + 32];
  int n = 0;
  const char *env = getenv("CT_MPI_PLUGIN");
  if (env && env[0]) {
    snprintf(paths[n++], sizeof paths[0], "%s", env);
  } else {
    char dir[PATH_MAX];
    self_dir(dir, sizeof dir);
    if (dir[0]) snprintf(paths[n++], sizeof paths[0], "%s/%s", dir, PLUGIN_FILE);
    snprintf(paths[n++], sizeof paths[0], "%s", PLUGIN_FILE); /* the loader's own search */
  }
  char tried[2048] = "";
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    /* RTLD_GLOBAL: Open MPI opens its components with dlopen and they
     * expect libmpi's symbols to be global (mpi4py does the same). */
    void *h = dlopen(paths[i], RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      const char *e = dlerror();
      used += (size_t)snprintf(tried + used, used < sizeof tried ? sizeof tried - used : 0, "%s%s", used ? "; " : "",
                               e ? e : paths[i]);
      continue;
    }
    ct_mpi_plugin_fn get = (ct_mpi_plugin_fn)dlsym(h, CT_MPI_PLUGIN_SYMBOL);
    const ct_mpi_plugin *p = get ? get() : NULL;
    if (!p || p->abi != CT_MPI_PLUGIN_ABI) {
      dlclose(h);
      return ct_error(CT_UNAVAILABLE, "process_group: %s is not a ctensor MPI plugin of ABI %d (%s %d)", paths[i],
                      CT_MPI_PLUGIN_ABI, p ? "it has ABI" : "no symbol " CT_MPI_PLUGIN_SYMBOL, p ? p->abi : 0);
    }
    plugin = p; /* never closed: MPI cannot be unloaded and loaded again */
    return CT_OK;
  }
  return ct_error(CT_UNAVAILABLE,
                  "process_group: the MPI plugin %s could not be loaded (%s); it is built only when CMake finds an MPI "
                  "(Debian: apt-get install libopenmpi-dev openmpi-bin), or set CT_MPI_PLUGIN to its path",
                  PLUGIN_FILE, tried);
}

static ct_status start_mpi(void) {
  pthread_mutex_lock(&plugin_lock);
  ct_status st = load_plugin_locked();
  static bool started;
  if (st == CT_OK && !started) {
    int ours = 0, rc = plugin->init(&ours);
    if (rc != 0) {
      char text[256];
      plugin->error_string(rc, text, sizeof text);
      st = ct_error(CT_UNAVAILABLE, "process_group: MPI_Init_thread failed: %s", text);
    } else {
      started = true;
      mpi_ours = ours != 0;
      if (mpi_ours) atexit(finalize_at_exit);
    }
  }
  pthread_mutex_unlock(&plugin_lock);
  return st;
}

/* ---- errors and waiting -------------------------------------------------- */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ct_status broken(ct_process_group *pg, ct_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ct_status broken(ct_process_group *pg, ct_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pg->broken_why, sizeof pg->broken_why, fmt, ap);
  va_end(ap);
  pg->broken = true;
  return ct_error(status, "%s", pg->broken_why);
}

ct_status ct_dist_mpi_error(ct_process_group *pg, int rc, const char *what) {
  char text[256];
  pg->mpi->error_string(rc, text, sizeof text);
  return broken(pg, CT_UNAVAILABLE, "%s: MPI failed on rank %d: %s", what, pg->rank, text);
}

/* A process on this node that no longer exists. Processes on other nodes
 * cannot be probed from here: their death shows as MPI's error or as the
 * timeout. Returns the rank, or -1. */
static int dead_peer(const ct_process_group *pg) {
  const char *me = pg->peers[pg->rank].host;
  for (int r = 0; r < pg->size; r++) {
    if (r == pg->rank || strcmp(pg->peers[r].host, me) != 0) continue;
    if (kill((pid_t)pg->peers[r].pid, 0) != 0 && errno == ESRCH) return r;
  }
  return -1;
}

ct_status ct_dist_wait(ct_process_group *pg, void *req, const char *what) {
  double start = 0, next_probe = 0;
  for (unsigned long spins = 0;; spins++) {
    int done = 0, rc = pg->mpi->test(req, &done);
    if (rc != 0) return ct_dist_mpi_error(pg, rc, what);
    if (done) return CT_OK;
    /* Spin first (a collective among live processes is usually done in
     * microseconds), then yield the core to the processes it waits for:
     * ranks often outnumber cores. The clock is read only then. */
    if (spins < 2000) continue;
    sched_yield();
    if (spins % 64 != 0) continue;
    double now = now_seconds();
    if (start == 0) {
      start = now;
      next_probe = now + 0.1;
      continue;
    }
    if (now >= next_probe) {
      next_probe = now + 0.25;
      int dead = pg->peers ? dead_peer(pg) : -1;
      if (dead >= 0) {
        pg->mpi->abandon(req);
        return broken(pg, CT_UNAVAILABLE,
                      "%s: rank %d (pid %lld on %s) has exited; the process group is unusable (collective #%llu)",
                      what, dead, (long long)pg->peers[dead].pid, pg->peers[dead].host, (unsigned long long)pg->seq);
      }
    }
    if (now - start >= pg->timeout) {
      pg->mpi->abandon(req);
      return broken(pg, CT_DEADLINE_EXCEEDED,
                    "%s: collective #%llu did not complete within %g s on rank %d: another process did not take part "
                    "(stuck, busy elsewhere, or dead on another node); the process group is unusable",
                    what, (unsigned long long)pg->seq, pg->timeout, pg->rank);
    }
  }
}

ct_status ct_dist_begin(ct_process_group *pg, const char *what) {
  pthread_mutex_lock(&pg->lock);
  if (pg->broken) {
    pthread_mutex_unlock(&pg->lock);
    return ct_error(CT_FAILED_PRECONDITION, "%s: the process group is broken by an earlier failure: %s", what,
                    pg->broken_why);
  }
  return CT_OK;
}

void ct_dist_end(ct_process_group *pg) { pthread_mutex_unlock(&pg->lock); }

/* ---- the agreement check -------------------------------------------------- */

/* A call as numbers. The first step of every collective, whatever its
 * kind, is the same exchange of a hash of these (below), which yields its
 * maximum and minimum over the processes. They are equal everywhere
 * exactly when every process asked for the same thing -- so a mismatch is
 * found by every process from the same numbers, and they all fail
 * together, after exchanging the fields themselves to say how they differ.
 * It doubles as the check that the others are alive and as the barrier. */
enum { F_MAGIC, F_SEQ, F_KIND, F_OP, F_ROOT, F_PATH, F_DTYPE, F_RANK, F_DIM0, F_COUNT = F_DIM0 + CT_MAX_RANK };
#define CALL_MAGIC 0x63744331 /* "ctC1" */

static void encode(const ct_process_group *pg, const ct_collective_call *c, int64_t *f) {
  memset(f, 0, sizeof(int64_t) * F_COUNT);
  f[F_MAGIC] = CALL_MAGIC;
  f[F_SEQ] = (int64_t)pg->seq;
  f[F_KIND] = c->kind;
  f[F_OP] = c->op;
  f[F_ROOT] = c->root;
  f[F_PATH] = c->path;
  f[F_DTYPE] = c->dtype;
  f[F_RANK] = c->rank;
  for (int i = 0; i < c->rank && i < CT_MAX_RANK; i++) f[F_DIM0 + i] = c->shape[i];
}

static const char *kind_name(int64_t k) {
  static const char *const names[] = {"(failed before the collective)", "all_reduce", "broadcast", "all_gather",
                                      "reduce_scatter", "barrier"};
  return k >= 0 && k < (int64_t)CT_ARRAY_LEN(names) ? names[k] : "(not a ctensor collective)";
}

static void describe(const int64_t *f, char *out, size_t size) {
  if (f[F_MAGIC] != CALL_MAGIC) {
    snprintf(out, size, "(not a ctensor collective)");
    return;
  }
  char shape[CT_SHAPE_STR_MAX] = "";
  int rank = (int)(f[F_RANK] < 0 ? 0 : f[F_RANK] > CT_MAX_RANK ? CT_MAX_RANK : f[F_RANK]);
  ct_shape_str(f + F_DIM0, rank, shape, sizeof shape);
  char extra[48] = "";
  if (f[F_KIND] == CT_COLL_ALL_REDUCE || f[F_KIND] == CT_COLL_REDUCE_SCATTER)
    snprintf(extra, sizeof extra, "(%s)", ct_reduce_op_name((ct_reduce_op)f[F_OP]));
  else if (f[F_KIND] == CT_COLL_BROADCAST)
    snprintf(extra, sizeof extra, "(root %lld)", (long long)f[F_ROOT]);
  if (f[F_KIND] == CT_COLL_BARRIER || f[F_KIND] == CT_COLL_ERROR)
    snprintf(out, size, "#%lld %s", (long long)f[F_SEQ], kind_name(f[F_KIND]));
  else
    snprintf(out, size, "#%lld %s%s %s %s%s", (long long)f[F_SEQ], kind_name(f[F_KIND]), extra,
             ct_dtype_name((ct_dtype)f[F_DTYPE]), shape, f[F_PATH] == CT_PATH_NCCL ? " over NCCL" : "");
}

/* Every process sends its fields; the message groups ranks that asked
 * for the same thing: "ranks 0,2: #3 all_reduce(sum) float32 [4]; rank 1:
 * #3 all_reduce(sum) float32 [5]". */
static ct_status mismatch(ct_process_group *pg, const int64_t *mine, const char *local_error) {
  int64_t *all = calloc((size_t)pg->size, sizeof(int64_t) * F_COUNT);
  int *counts = calloc((size_t)pg->size, 2 * sizeof(int));
  if (!all || !counts) {
    free(all);
    free(counts);
    return broken(pg, CT_RESOURCE_EXHAUSTED, "collective: out of memory describing a mismatch");
  }
  int *displs = counts + pg->size;
  for (int r = 0; r < pg->size; r++) {
    counts[r] = F_COUNT;
    displs[r] = r * F_COUNT;
  }
  void *req;
  int rc = pg->mpi->iallgatherv(pg->comm, mine, F_COUNT, all, counts, displs, CT_INT64, &req);
  ct_status st = rc ? ct_dist_mpi_error(pg, rc, "collective") : ct_dist_wait(pg, req, "collective");
  if (st != CT_OK) {
    free(all);
    free(counts);
    return st;
  }
  char text[2048];
  size_t n = 0;
  bool *done = (bool *)counts; /* reused: one flag per rank */
  memset(done, 0, sizeof(int) * (size_t)pg->size);
  for (int r = 0; r < pg->size && n < sizeof text; r++) {
    if (done[r]) continue;
    char ranks[256];
    size_t rn = 0;
    int group = 0;
    for (int q = r; q < pg->size; q++) {
      if (done[q] || memcmp(all + (size_t)q * F_COUNT, all + (size_t)r * F_COUNT, sizeof(int64_t) * F_COUNT) != 0)
        continue;
      done[q] = true;
      group++;
      if (rn < sizeof ranks) rn += (size_t)snprintf(ranks + rn, sizeof ranks - rn, "%s%d", rn ? "," : "", q);
    }
    char what[CT_SHAPE_STR_MAX + 96];
    describe(all + (size_t)r * F_COUNT, what, sizeof what);
    n += (size_t)snprintf(text + n, sizeof text - n, "%s%s %s: %s", n ? "; " : "", group > 1 ? "ranks" : "rank", ranks,
                          what);
  }
  free(all);
  free(counts);
  if (local_error) return ct_error(CT_INVALID_ARGUMENT, "%s (the other processes were told: %s)", local_error, text);
  return ct_error(CT_INVALID_ARGUMENT,
                  "collectives differ between processes (every process must issue the same collectives in the same "
                  "order, with the same dtypes and shapes): %s",
                  text);
}

/* ---- the exchange: recursive doubling over point-to-point messages -------- */

/* The agreement goes point to point, not through MPI_Iallreduce: Open MPI's
 * non-blocking collectives (libnbc) take twice its blocking ones' time for
 * small messages, and a blocking call cannot be given up on after a
 * timeout. Non-blocking sends and receives in the pattern MPI itself uses
 * for small all-reduces (recursive doubling, with the ranks beyond the
 * largest power of two folded in first) cost what MPI_Allreduce does.
 *
 * A message is a 32-byte header -- a 64-bit hash of every field of the
 * call and the bytes of data that follow, each as (v, -v), combined with
 * max so that each rank ends with their maximum and minimum -- followed,
 * for a small all_reduce of a CPU tensor, by the data itself, reduced on
 * the way ("fused": one exchange moves the call and its data). The header
 * is a hash, not the fields, because the exchange's time grows with the
 * message from about 64 bytes on (shared memory, Open MPI 4.1); two
 * different calls agree only if their hashes collide (2^-64). Receives
 * take up to the largest message, so processes that disagree on the size
 * (a shape mismatch) still exchange headers without an MPI error, and
 * then fail together from the same numbers. */
#define AGREE_TAG 0x6354
enum { H_DESC, H_BYTES, H_NDESC, H_NBYTES, F_HEADER };
#define HEADER_BYTES (F_HEADER * (int)sizeof(int64_t))

/* Data is combined only between headers that agree on what it is; the
 * lower ranks' contribution always goes left, so every process computes
 * the same expression and gets the same bits. */
#define COMBINE_AS(T, n, lo, hi, out, op)                                        \
  do {                                                                           \
    const T *a_ = (const T *)(lo), *b_ = (const T *)(hi);                        \
    T *o_ = (T *)(out);                                                          \
    for (int64_t i_ = 0; i_ < (n); i_++) {                                       \
      T a = a_[i_], b = b_[i_];                                                  \
      switch (op) {                                                              \
        case CT_REDUCE_PROD: o_[i_] = a * b; break;                              \
        case CT_REDUCE_MAX: o_[i_] = a > b || a != a ? a : b; break;             \
        case CT_REDUCE_MIN: o_[i_] = a < b || a != a ? a : b; break;             \
        default: o_[i_] = a + b; break;                                          \
      }                                                                          \
    }                                                                            \
  } while (0)

static float f16_load(uint16_t h, bool bf) { return bf ? ct_bfloat16_to_float(h) : ct_half_to_float(h); }

static void combine_data(ct_dtype d, int op, const void *lo, const void *hi, void *out, int64_t n) {
  switch (d) {
    case CT_FLOAT32: COMBINE_AS(float, n, lo, hi, out, op); break;
    case CT_FLOAT64: COMBINE_AS(double, n, lo, hi, out, op); break;
    case CT_INT32: COMBINE_AS(int32_t, n, lo, hi, out, op); break;
    case CT_INT64: COMBINE_AS(int64_t, n, lo, hi, out, op); break;
    case CT_FLOAT16:
    case CT_BFLOAT16: {
      /* float per step, as the MPI plugin's user operations compute */
      bool bf = d == CT_BFLOAT16;
      const uint16_t *a_ = lo, *b_ = hi;
      uint16_t *o_ = out;
      for (int64_t i = 0; i < n; i++) {
        float a = f16_load(a_[i], bf), b = f16_load(b_[i], bf), r;
        switch (op) {
          case CT_REDUCE_PROD: r = a * b; break;
          case CT_REDUCE_MAX: r = a > b || a != a ? a : b; break;
          case CT_REDUCE_MIN: r = a < b || a != a ? a : b; break;
          default: r = a + b; break;
        }
        o_[i] = bf ? ct_float_to_bfloat16(r) : ct_float_to_half(r);
      }
      break;
    }
    default: break;
  }
}

/* mine = combine(mine, theirs); `theirs_lower`: the partner's ranks come
 * before this process's. Data is combined as this process's call says
 * (dtype, op): the partner's hash and size being equal, so is its call. */
static void combine(int64_t *mine, const int64_t *theirs, bool theirs_lower, const ct_collective_call *call) {
  bool same = mine[H_BYTES] && theirs[H_BYTES] == mine[H_BYTES] && theirs[H_NBYTES] == mine[H_NBYTES] &&
              theirs[H_DESC] == mine[H_DESC] && theirs[H_NDESC] == mine[H_NDESC];
  if (same) {
    int64_t n = mine[H_BYTES] / (int64_t)ct_dtype_size(call->dtype);
    const void *t = theirs + F_HEADER;
    void *m = mine + F_HEADER;
    combine_data(call->dtype, call->op, theirs_lower ? t : m, theirs_lower ? m : t, m, n);
  }
  for (int i = 0; i < F_HEADER; i++)
    if (theirs[i] > mine[i]) mine[i] = theirs[i];
  /* The size's maximum is not a promise that anyone combined: a partner
   * without data (or with other data) leaves none. */
  if (!same) mine[H_BYTES] = 0;
}

static ct_status exchange_step(ct_process_group *pg, int peer, bool send, bool recv, int64_t *mine, int64_t *in,
                               int bytes, const char *what) {
  void *rreq = NULL, *sreq = NULL;
  int rc = recv ? pg->mpi->irecv(pg->comm, in, HEADER_BYTES + AGREE_FUSE_MAX, peer, AGREE_TAG, &rreq) : 0;
  if (rc == 0 && send) rc = pg->mpi->isend(pg->comm, mine, bytes, peer, AGREE_TAG, &sreq);
  if (rc != 0) {
    if (rreq) pg->mpi->abandon(rreq);
    return ct_dist_mpi_error(pg, rc, what);
  }
  ct_status st = recv ? ct_dist_wait(pg, rreq, what) : CT_OK;
  if (sreq) {
    if (st == CT_OK) st = ct_dist_wait(pg, sreq, what);
    else pg->mpi->abandon(sreq);
  }
  return st;
}

/* Every process ends with the combination of every process's buffer. */
static ct_status exchange_all(ct_process_group *pg, int64_t *mine, int64_t *in, const ct_collective_call *call,
                              const char *what) {
  int n = pg->size, me = pg->rank, p = 1;
  while (p * 2 <= n) p *= 2;
  int rem = n - p;
#define BYTES(b) (HEADER_BYTES + (int)(b)[H_BYTES])
  /* The first 2*rem ranks pair up; the even one of each pair hands its
   * buffer to the odd one and waits for the result. */
  int newrank;
  if (me < 2 * rem) {
    if (me % 2 == 0) {
      ct_status st = exchange_step(pg, me + 1, true, false, mine, in, BYTES(mine), what);
      if (st == CT_OK) st = exchange_step(pg, me + 1, false, true, mine, mine, 0, what);
      return st;
    }
    ct_status st = exchange_step(pg, me - 1, false, true, mine, in, 0, what);
    if (st != CT_OK) return st;
    combine(mine, in, true, call);
    newrank = me / 2;
  } else {
    newrank = me - rem;
  }
  for (int mask = 1; mask < p; mask <<= 1) {
    int partner_new = newrank ^ mask;
    int partner = partner_new < rem ? partner_new * 2 + 1 : partner_new + rem;
    ct_status st = exchange_step(pg, partner, true, true, mine, in, BYTES(mine), what);
    if (st != CT_OK) return st;
    combine(mine, in, partner_new < newrank, call);
  }
  if (me < 2 * rem) return exchange_step(pg, me - 1, true, false, mine, in, BYTES(mine), what);
#undef BYTES
  return CT_OK;
}

ct_status ct_dist_agree(ct_process_group *pg, const ct_collective_call *call, const char *local_error,
                        int64_t *dims0, const void *data, size_t nbytes, const void **fused) {
  if (fused) *fused = NULL;
  const char *what = kind_name(call->kind);
  if (!pg->agree_buf) {
    /* Two messages: this process's and the partner's. Never freed while a
     * request may still own it (see ct_process_group_free). */
    pg->agree_buf = malloc(2 * (size_t)(HEADER_BYTES + AGREE_FUSE_MAX));
    if (!pg->agree_buf) return broken(pg, CT_RESOURCE_EXHAUSTED, "%s: out of memory for the agreement", what);
  }
  int64_t *buf = pg->agree_buf, *in = buf + (HEADER_BYTES + AGREE_FUSE_MAX) / (int)sizeof(int64_t);
  int64_t mine[F_COUNT];
  pg->seq++;
  encode(pg, call, mine);
  /* all_gather's first dimension may differ: compared as 0, sent after. */
  int64_t dim0 = mine[F_DIM0];
  if (call->kind == CT_COLL_ALL_GATHER) mine[F_DIM0] = 0;
  /* FNV-1a over the fields; the sign bit is dropped so that -hash exists */
  uint64_t h = 14695981039346656037ull;
  for (int i = 0; i < F_COUNT; i++) h = (h ^ (uint64_t)mine[i]) * 1099511628211ull;
  buf[H_DESC] = (int64_t)(h >> 1);
  buf[H_BYTES] = data && nbytes > 0 && nbytes <= AGREE_FUSE_MAX ? (int64_t)nbytes : 0;
  buf[H_NDESC] = -buf[H_DESC];
  buf[H_NBYTES] = -buf[H_BYTES];
  if (buf[H_BYTES]) memcpy(buf + F_HEADER, data, nbytes);
  ct_status st = exchange_all(pg, buf, in, call, what);
  if (st != CT_OK) return st;
  if (buf[H_DESC] != -buf[H_NDESC]) {
    mine[F_DIM0] = dim0;
    return mismatch(pg, mine, local_error);
  }
  /* Every process combined the data exactly when every process sent it. */
  if (fused && buf[H_BYTES] && -buf[H_NBYTES] == buf[H_BYTES]) *fused = buf + F_HEADER;
  if (call->kind != CT_COLL_ALL_GATHER) return CT_OK;
  int *counts = malloc(2 * sizeof(int) * (size_t)pg->size);
  if (!counts) return broken(pg, CT_RESOURCE_EXHAUSTED, "all_gather: out of memory");
  for (int r = 0; r < pg->size; r++) {
    counts[r] = 1;
    counts[pg->size + r] = r;
  }
  void *req;
  int rc = pg->mpi->iallgatherv(pg->comm, &dim0, 1, dims0, counts, counts + pg->size, CT_INT64, &req);
  st = rc ? ct_dist_mpi_error(pg, rc, "all_gather") : ct_dist_wait(pg, req, "all_gather");
  free(counts);
  return st;
}

/* ---- the group ------------------------------------------------------------- */

static ct_status exchange_peers(ct_process_group *pg) {
  pg->peers = calloc((size_t)pg->size, sizeof *pg->peers);
  int *counts = malloc(2 * sizeof(int) * (size_t)pg->size);
  if (!pg->peers || !counts) {
    free(counts);
    return ct_error(CT_RESOURCE_EXHAUSTED, "process_group: out of memory for %d processes", pg->size);
  }
  ct_peer me = {(int64_t)getpid(), ""};
  if (gethostname(me.host, sizeof me.host - 1) != 0) snprintf(me.host, sizeof me.host, "unknown");
  for (int r = 0; r < pg->size; r++) {
    counts[r] = (int)sizeof me;
    counts[pg->size + r] = r * (int)sizeof me;
  }
  void *req;
  int rc = pg->mpi->iallgatherv(pg->comm, &me, (int)sizeof me, pg->peers, counts, counts + pg->size, CT_BOOL, &req);
  ct_status st = rc ? ct_dist_mpi_error(pg, rc, "process_group") : ct_dist_wait(pg, req, "process_group");
  free(counts);
  return st;
}

static double env_timeout(void) {
  const char *v = getenv("CT_COLLECTIVE_TIMEOUT");
  char *end;
  double t = v ? strtod(v, &end) : 0;
  return v && end != v && t > 0 ? t : DEFAULT_TIMEOUT_SECONDS;
}

ct_status ct_process_group_new(ct_context *ctx, const ct_process_group_options *opts, ct_process_group **out) {
  if (ctx == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "process_group_new: NULL %s", ctx ? "out" : "context");
  const char *job = opts && opts->job ? opts->job : "worker";
  ct_device_name check;
  char spec[CT_DEVICE_FIELD_MAX + 8];
  snprintf(spec, sizeof spec, "/job:%s", job);
  if (strlen(job) == 0 || strlen(job) >= CT_DEVICE_FIELD_MAX || ct_device_name_parse(spec, &check) != CT_OK)
    return ct_error(CT_INVALID_ARGUMENT, "process_group_new: '%s' is not a valid job name (letters, digits, _ and -)",
                    job);
  if (opts && !(opts->timeout_seconds >= 0))
    return ct_error(CT_INVALID_ARGUMENT, "process_group_new: timeout_seconds = %g (expected > 0, or 0: the default)",
                    opts->timeout_seconds);
  if (ct_context_is_initialized(ctx))
    return ct_error(CT_FAILED_PRECONDITION,
                    "process_group_new: the context is initialised already, and its devices are named; make the "
                    "process group before the first op, tensor or device query");
  if (ctx->group)
    return ct_error(CT_FAILED_PRECONDITION, "process_group_new: the context already has a process group (job '%s')",
                    ctx->job);
  ct_status st = start_mpi();
  if (st != CT_OK) return st;
  ct_process_group *pg = calloc(1, sizeof *pg);
  if (!pg) return ct_error(CT_RESOURCE_EXHAUSTED, "process_group_new: out of memory");
  pg->mpi = plugin;
  pg->timeout = opts && opts->timeout_seconds > 0 ? opts->timeout_seconds : env_timeout();
  snprintf(pg->job, sizeof pg->job, "%s", job);
  plugin->library_version(pg->mpi_version, sizeof pg->mpi_version);
  pthread_mutex_init(&pg->lock, NULL);
  int rc = plugin->comm_new(&pg->comm);
  if (rc == 0) rc = plugin->comm_info(pg->comm, &pg->rank, &pg->size, &pg->local_rank, &pg->local_size);
  if (rc != 0) {
    char text[256];
    plugin->error_string(rc, text, sizeof text);
    st = ct_error(CT_UNAVAILABLE, "process_group_new: MPI failed: %s", text);
  } else {
    st = exchange_peers(pg);
  }
  if (st == CT_OK) {
    pthread_mutex_lock(&ctx->lock);
    if (atomic_load(&ctx->initialized) || ctx->group)
      st = ct_error(CT_FAILED_PRECONDITION, "process_group_new: the context was initialised meanwhile");
    else {
      snprintf(ctx->job, sizeof ctx->job, "%s", pg->job);
      ctx->task = pg->rank;
      ctx->n_tasks = pg->size;
      ctx->group = pg;
    }
    pthread_mutex_unlock(&ctx->lock);
  }
  if (st != CT_OK) {
    if (pg->comm) plugin->comm_free(pg->comm);
    pthread_mutex_destroy(&pg->lock);
    free(pg->peers);
    free(pg);
    return st;
  }
  ct_context_retain(ctx);
  pg->ctx = ctx;
  *out = pg;
  ct_error_clear();
  return CT_OK;
}

void ct_process_group_free(ct_process_group *pg) {
  if (pg == NULL) return;
  pthread_mutex_lock(&pg->ctx->lock);
  pg->ctx->group = NULL;
  pthread_mutex_unlock(&pg->ctx->lock);
  /* A broken group may have a request MPI still owns: leave its
   * communicator alone rather than free it under MPI's feet. */
  ct_dist_nccl_free(pg);
  if (!pg->broken) pg->mpi->comm_free(pg->comm);
  if (!pg->broken) free(pg->agree_buf);
  ct_context_release(pg->ctx);
  pthread_mutex_destroy(&pg->lock);
  free(pg->peers);
  free(pg->remote);
  free(pg);
}

int ct_process_group_rank(const ct_process_group *pg) { return pg ? pg->rank : -1; }
int ct_process_group_size(const ct_process_group *pg) { return pg ? pg->size : 0; }
int ct_process_group_local_rank(const ct_process_group *pg) { return pg ? pg->local_rank : -1; }
int ct_process_group_local_size(const ct_process_group *pg) { return pg ? pg->local_size : 0; }
const char *ct_process_group_job(const ct_process_group *pg) { return pg ? pg->job : ""; }
const char *ct_process_group_mpi_version(const ct_process_group *pg) { return pg ? pg->mpi_version : ""; }
double ct_process_group_timeout(const ct_process_group *pg) { return pg ? pg->timeout : 0; }

uint64_t ct_process_group_collective_count(const ct_process_group *pg) {
  if (pg == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&pg->lock);
  uint64_t n = pg->seq;
  pthread_mutex_unlock((pthread_mutex_t *)&pg->lock);
  return n;
}

ct_status ct_process_group_set_timeout(ct_process_group *pg, double seconds) {
  if (pg == NULL) return ct_error(CT_INVALID_ARGUMENT, "process_group_set_timeout: group is NULL");
  if (!(seconds > 0) || seconds > 1e9)
    return ct_error(CT_INVALID_ARGUMENT, "process_group_set_timeout: %g seconds (expected > 0 and <= 1e9)", seconds);
  pthread_mutex_lock(&pg->lock);
  pg->timeout = seconds;
  pthread_mutex_unlock(&pg->lock);
  return CT_OK;
}

const char *ct_reduce_op_name(ct_reduce_op op) {
  switch (op) {
    case CT_REDUCE_SUM: return "sum";
    case CT_REDUCE_MEAN: return "mean";
    case CT_REDUCE_MAX: return "max";
    case CT_REDUCE_MIN: return "min";
    case CT_REDUCE_PROD: return "prod";
  }
  return "invalid";
}
