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

/* Waits for a request of a collective (`p2p` false) or a point-to-point
 * one (then *tag and *bytes, when not NULL, say what a receive got). */
static ct_status wait_request(ct_process_group *pg, void *req, bool p2p, int *tag, int *bytes, const char *what) {
  double start = 0, next_probe = 0;
  for (unsigned long spins = 0;; spins++) {
    int done = 0;
    int rc = p2p ? pg->mpi->test_p2p(req, &done, tag, bytes) : pg->mpi->test(req, &done);
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
        if (!p2p) pg->mpi->abandon(req);
        return broken(pg, CT_UNAVAILABLE,
                      "%s: rank %d (pid %lld on %s) has exited; the process group is unusable (collective #%llu)",
                      what, dead, (long long)pg->peers[dead].pid, pg->peers[dead].host, (unsigned long long)pg->seq);
      }
    }
    if (now - start >= pg->timeout) {
      if (!p2p) pg->mpi->abandon(req);
      return broken(pg, CT_DEADLINE_EXCEEDED,
                    "%s: collective #%llu did not complete within %g s on rank %d: another process did not take part "
                    "(stuck, busy elsewhere, or dead on another node); the process group is unusable",
                    what, (unsigned long long)pg->seq, pg->timeout, pg->rank);
    }
  }
}

ct_status ct_dist_wait(ct_process_group *pg, void *req, const char *what) {
  return wait_request(pg, req, false, NULL, NULL, what);
}

/* ct_dist_exchange; `preposted`: the receive is the one ct_dist_end
 * posted (from peer, into the agreement's `in` buffer), recv is ignored. */
static ct_status exchange(ct_process_group *pg, int peer, const void *send, int send_bytes, int send_tag, void *recv,
                          bool preposted, int capacity, int recv_tag, int *got_tag, int *got_bytes, const char *what) {
  ct_mpi_request rreq, sreq;
  bool receiving = preposted || recv;
  int rc = 0;
  if (preposted) {
    rreq = pg->next_recv;
    pg->next_recv_posted = false;
  } else if (recv) {
    rc = pg->mpi->irecv(pg->comm, recv, capacity, peer, recv_tag, &rreq);
  }
  if (rc == 0 && send) rc = pg->mpi->isend(pg->comm, send, send_bytes, peer, send_tag, &sreq);
  /* A receive posted before a failed send is left to a broken group. */
  if (rc != 0) return ct_dist_mpi_error(pg, rc, what);
  ct_status st = receiving ? wait_request(pg, &rreq, true, got_tag, got_bytes, what) : CT_OK;
  if (st == CT_OK && send) st = wait_request(pg, &sreq, true, NULL, NULL, what);
  return st;
}

ct_status ct_dist_exchange(ct_process_group *pg, int peer, const void *send, int send_bytes, int send_tag, void *recv,
                           int capacity, int recv_tag, int *got_tag, int *got_bytes, const char *what) {
  return exchange(pg, peer, send, send_bytes, send_tag, recv, false, capacity, recv_tag, got_tag, got_bytes, what);
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

/* The process this one first hears from in an agreement: its partner in
 * the first step, or, for the even rank of a folded pair, the odd one
 * that sends it the result. -1 alone. */
static int first_peer(const ct_process_group *pg) {
  ct_dist_fold f = ct_dist_fold_of(pg->size, pg->rank);
  if (pg->rank < 2 * f.rem) return pg->rank % 2 == 0 ? pg->rank + 1 : pg->rank - 1;
  return f.p == 1 ? -1 : ct_dist_fold_rank(&f, f.newrank ^ 1);
}

void ct_dist_end(ct_process_group *pg) {
  /* The next agreement's first message can arrive into a receive that is
   * already posted -- matched as it lands instead of queued as unexpected
   * and copied again -- and posting it is off the critical path. Every
   * message of this collective has been received, so the next one from
   * that process is the next agreement's. */
  int peer = first_peer(pg);
  if (!pg->broken && !pg->next_recv_posted && peer >= 0 && pg->agree_buf) {
    void *in = (unsigned char *)pg->agree_buf + AGREE_FUSE_MAX;
    if (pg->mpi->irecv(pg->comm, in, AGREE_FUSE_MAX, peer, CT_MPI_ANY_TAG, &pg->next_recv) == 0)
      pg->next_recv_posted = true;
  }
  pthread_mutex_unlock(&pg->lock);
}

/* ---- the agreement check -------------------------------------------------- */

/* A call as numbers. The first step of every collective, whatever its
 * kind, is the same exchange of a hash of these (below), after which every
 * process knows whether all of them asked for the same thing -- so a
 * mismatch is found by every process in the same exchange, and they all
 * fail together, after exchanging the fields themselves to say how they
 * differ. It doubles as the check that the others are alive and as the
 * barrier. */
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
  if (c->kind == CT_COLL_ALL_REDUCE_N) {
    /* the group as two "dimensions": its size and its members' hash, so
     * that both enter the agreement's hash and the mismatch report */
    f[F_DTYPE] = 0;
    f[F_RANK] = 2;
    f[F_DIM0] = c->count;
    f[F_DIM0 + 1] = (int64_t)c->members;
  }
}

static const char *kind_name(int64_t k) {
  static const char *const names[] = {"(failed before the collective)", "all_reduce", "broadcast", "all_gather",
                                      "reduce_scatter", "barrier", "all_reduce_n"};
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
  if (f[F_KIND] == CT_COLL_ALL_REDUCE_N) {
    /* The members differ only by their hash here: it shows which ranks
     * passed the same group (a second exchange could name the member). */
    snprintf(out, size, "#%lld all_reduce_n(%s) of %lld tensors (dtypes, shapes and paths hashed: %08llx)",
             (long long)f[F_SEQ], ct_reduce_op_name((ct_reduce_op)f[F_OP]), (long long)f[F_DIM0],
             (unsigned long long)((uint64_t)f[F_DIM0 + 1] >> 32));
    return;
  }
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
 * A message has no header: what the sender asks for travels in its MPI
 * tag -- a hash of every field of the call, and one bit saying that the
 * message carries data -- and for a small all_reduce of a CPU tensor the
 * message is the data itself, reduced on the way ("fused": one exchange
 * moves the call and its data, in messages exactly as long as
 * MPI_Allreduce's; a single byte more would cross Open MPI's 256-byte
 * inline limit or its 4 KiB eager limit on shared memory, and take twice
 * the time). Tag 0 says that some process seen so far asked for something
 * else; it spreads through the remaining steps, so that every process ends
 * knowing, and they all fail together. Two different calls agree only if
 * their hashes collide (one in 2^30 with the tag range of Open MPI and
 * MPICH, 2^31 - 1; one in 2^14 with the least MPI allows, 32767). Receives take up to AGREE_FUSE_MAX bytes, the most anyone
 * sends, so processes that disagree on the size (a shape mismatch) still
 * exchange without an MPI error. */
#define TAG_DISAGREE 0

typedef struct agree_state {
  int hash;   /* this process's call, as the tag's upper bits (never 0) */
  bool agree; /* every process heard from so far asked for the same */
  bool fused; /* ... and every one sent its data */
  int nbytes; /* the data's size when fused */
} agree_state;

static int state_tag(const agree_state *s) { return s->agree ? s->hash << 1 | (s->fused ? 1 : 0) : TAG_DISAGREE; }

/* What arrived (tag, bytes in `in`) merged into this process's state; the
 * partner's data goes left when its ranks come before this process's, so
 * every process computes the same expression and gets the same bits. */
static void merge(agree_state *s, int tag, int bytes, void *mine, const void *in, bool theirs_lower,
                  const ct_collective_call *call) {
  if (!s->agree) return;
  if (tag == TAG_DISAGREE || tag >> 1 != s->hash) {
    s->agree = false;
    return;
  }
  /* Same call, so same size: a different count is a process that did not
   * send its data (it holds the tensor elsewhere) -- not a mismatch, the
   * data then moves after the agreement. */
  if (s->fused && (tag & 1) && bytes == s->nbytes) {
    int64_t n = s->nbytes / (int64_t)ct_dtype_size(call->dtype);
    if (n > 0) ct_dist_combine(call->dtype, call->op, theirs_lower ? in : mine, theirs_lower ? mine : in, mine, n);
  } else {
    s->fused = false;
  }
}

static ct_status step(ct_process_group *pg, agree_state *s, int peer, bool send, bool recv, void *mine, void *in,
                      bool theirs_lower, const ct_collective_call *call, const char *what) {
  int tag = 0, bytes = 0;
  /* The first receive of an agreement is the one posted early, into `in`. */
  ct_status st = exchange(pg, peer, send ? mine : NULL, s->fused ? s->nbytes : 0, state_tag(s), recv ? in : NULL,
                          recv && pg->next_recv_posted, AGREE_FUSE_MAX, CT_MPI_ANY_TAG, &tag, &bytes, what);
  if (st == CT_OK && recv) merge(s, tag, bytes, mine, in, theirs_lower, call);
  return st;
}

/* Every process ends with the merge of every process's state. */
static ct_status exchange_all(ct_process_group *pg, agree_state *s, void *mine, void *in,
                              const ct_collective_call *call, const char *what) {
  int me = pg->rank;
  ct_dist_fold f = ct_dist_fold_of(pg->size, me);
  /* A folded pair: the result's tag and data replace the even one's own. */
  if (me < 2 * f.rem) {
    if (me % 2 == 0) {
      ct_status st = step(pg, s, me + 1, true, false, mine, in, false, call, what);
      if (st != CT_OK) return st;
      int tag = 0, bytes = 0;
      st = exchange(pg, me + 1, NULL, 0, 0, in, pg->next_recv_posted, AGREE_FUSE_MAX, CT_MPI_ANY_TAG, &tag, &bytes,
                    what);
      if (st != CT_OK) return st;
      if (bytes > 0) memcpy(mine, in, (size_t)bytes);
      if (tag == TAG_DISAGREE || tag >> 1 != s->hash) s->agree = false;
      else if (!(tag & 1) || bytes != s->nbytes) s->fused = false;
      return CT_OK;
    }
    ct_status st = step(pg, s, me - 1, false, true, mine, in, true, call, what);
    if (st != CT_OK) return st;
  }
  for (int mask = 1; mask < f.p; mask <<= 1) {
    int partner_new = f.newrank ^ mask;
    ct_status st =
        step(pg, s, ct_dist_fold_rank(&f, partner_new), true, true, mine, in, partner_new < f.newrank, call, what);
    if (st != CT_OK) return st;
  }
  if (me < 2 * f.rem) return step(pg, s, me - 1, true, false, mine, in, false, call, what);
  return CT_OK;
}

ct_status ct_dist_agree(ct_process_group *pg, const ct_collective_call *call, const char *local_error,
                        int64_t *dims0, const void *data, size_t nbytes, const void **fused) {
  if (fused) *fused = NULL;
  const char *what = kind_name(call->kind);
  if (!pg->agree_buf) {
    /* Two messages: this process's and the partner's. Never freed while a
     * request may still own it (see ct_process_group_free). */
    pg->agree_buf = malloc(2 * (size_t)AGREE_FUSE_MAX);
    if (!pg->agree_buf) return broken(pg, CT_RESOURCE_EXHAUSTED, "%s: out of memory for the agreement", what);
  }
  unsigned char *buf = (unsigned char *)pg->agree_buf, *in = buf + AGREE_FUSE_MAX;
  int64_t mine[F_COUNT];
  pg->seq++;
  encode(pg, call, mine);
  /* all_gather's first dimension may differ: compared as 0, sent after. */
  int64_t dim0 = mine[F_DIM0];
  if (call->kind == CT_COLL_ALL_GATHER) mine[F_DIM0] = 0;
  /* A hash of the fields: a sum of independent products (one multiply's
   * latency, not one per field), then MurmurHash3's finaliser so that
   * every field reaches the tag's bits. Dimensions past the rank are 0. */
  static const uint64_t k[F_COUNT] = {
      0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull, 0xd6e8feb86659fd93ull,
      0xa0761d6478bd642full, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull,
      0x1d8e4e27c47d124full, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull, 0x85ebca77c2b2ae63ull,
      0x27d4eb2f165667c5ull, 0xff51afd7ed558ccdull, 0xc4ceb9fe1a85ec53ull, 0x87c37b91114253d5ull};
  _Static_assert(F_COUNT <= 16, "one multiplier per field");
  int n_fields = F_DIM0 + (mine[F_RANK] > 0 && mine[F_RANK] <= CT_MAX_RANK ? (int)mine[F_RANK] : 0);
  uint64_t h = 0;
  for (int i = 0; i < n_fields; i++) h += (uint64_t)mine[i] * k[i];
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  agree_state s;
  s.hash = (int)(h & (uint64_t)pg->tag_hash_mask);
  if (s.hash == 0) s.hash = 1;
  s.agree = true;
  /* nbytes 0 with data: the data bit alone (all_reduce_n's "I can pack") */
  s.fused = data && nbytes <= AGREE_FUSE_MAX;
  s.nbytes = s.fused ? (int)nbytes : 0;
  if (s.fused) memcpy(buf, data, nbytes);
  ct_status st = exchange_all(pg, &s, buf, in, call, what);
  if (st != CT_OK) return st;
  if (!s.agree) {
    mine[F_DIM0] = dim0;
    return mismatch(pg, mine, local_error);
  }
  /* Every process combined the data exactly when every process sent it. */
  if (fused && s.fused) *fused = buf;
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
  ct_dist_algorithm algorithm;
  ct_status st = ct_dist_algorithm_from_env(&algorithm);
  if (st == CT_OK) st = start_mpi();
  if (st != CT_OK) return st;
  ct_process_group *pg = calloc(1, sizeof *pg);
  if (!pg) return ct_error(CT_RESOURCE_EXHAUSTED, "process_group_new: out of memory");
  pg->mpi = plugin;
  pg->algorithm = (int)algorithm;
  pg->timeout = opts && opts->timeout_seconds > 0 ? opts->timeout_seconds : env_timeout();
  snprintf(pg->job, sizeof pg->job, "%s", job);
  plugin->library_version(pg->mpi_version, sizeof pg->mpi_version);
  pthread_mutex_init(&pg->lock, NULL);
  int rc = plugin->comm_new(&pg->comm);
  if (rc == 0) rc = plugin->comm_info(pg->comm, &pg->rank, &pg->size, &pg->local_rank, &pg->local_size);
  if (rc == 0) {
    /* The hash takes every bit of the tag but the lowest (data or not). */
    int half = plugin->tag_max(pg->comm) >> 1;
    pg->tag_hash_mask = 1;
    while (pg->tag_hash_mask * 2 + 1 <= half) pg->tag_hash_mask = pg->tag_hash_mask * 2 + 1;
  }
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
  if (!pg->broken && pg->next_recv_posted) pg->mpi->cancel_p2p(&pg->next_recv);
  if (!pg->broken) pg->mpi->comm_free(pg->comm);
  if (!pg->broken) free(pg->agree_buf);
  if (!pg->broken) free(pg->scratch);
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
