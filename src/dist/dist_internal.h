/*
 * Internals of the process group shared by process_group.c (the group,
 * the plugin, waiting, the agreement check) and collectives.c (the ops).
 */
#ifndef CT_DIST_INTERNAL_H
#define CT_DIST_INTERNAL_H

#include "core/internal.h"
#include "dist/mpi_plugin.h"

/* A process of the group, as it introduced itself at creation: enough to
 * tell, when a collective stalls, whether a process on this node died. */
typedef struct ct_nccl ct_nccl; /* nccl.c */

typedef struct ct_peer {
  int64_t pid;
  char host[64];
} ct_peer;

struct ct_process_group {
  ct_context *ctx;               /* one reference */
  const ct_mpi_plugin *mpi;
  void *comm;
  int rank, size, local_rank, local_size;
  char job[CT_DEVICE_FIELD_MAX];
  char mpi_version[256];
  double timeout;                /* seconds */
  pthread_mutex_t lock;          /* one collective at a time: they are ordered */
  uint64_t seq;                  /* collectives issued */
  bool broken;                   /* a collective timed out or failed in MPI */
  char broken_why[512];
  ct_peer *peers;                /* size entries */
  bool devices_known;            /* the other tasks' devices were exchanged */
  ct_logical_device_info *remote;
  int n_remote;
  ct_nccl *nccl;                 /* NULL until a collective on a GPU tensor */
  int tag_hash_mask;             /* 2^k - 1: the agreement's hash bits in a tag */
  void *agree_buf;               /* the agreement's two messages (process_group.c) */
  ct_mpi_request next_recv;      /* the next agreement's first receive, posted early */
  bool next_recv_posted;
  void *scratch;                 /* an all_reduce's received data (allreduce.c) */
  size_t scratch_bytes;
  int algorithm;                 /* ct_dist_algorithm: CT_COLLECTIVE_ALGORITHM, or automatic */
};

/* An all_reduce of at most this many bytes of a CPU tensor travels inside
 * the agreement exchange: one round of messages instead of two. Larger,
 * the message would pass Open MPI's shared-memory eager limit (4096 bytes
 * with its own 64-byte header) and wait for a rendezvous round trip:
 * splitting the data over Rabenseifner's steps is then faster. */
#define AGREE_FUSE_MAX 4000

/* Recursive doubling over any number of processes, as MPI's own small
 * all-reduces do it: p is the largest power of two <= size; the first
 * 2*rem ranks (rem = size - p) fold in pairs -- the even one hands its
 * part to the odd one and takes the result back at the end -- and the p
 * processes left, renumbered 0..p-1 ("newrank"), exchange in `steps`
 * rounds with newrank ^ mask. Used by the agreement (process_group.c) and
 * the all-reduce's data (allreduce.c). */
typedef struct ct_dist_fold {
  int p, rem, steps;
  int newrank; /* -1 for the even rank of a folded pair */
} ct_dist_fold;

static inline ct_dist_fold ct_dist_fold_of(int size, int rank) {
  ct_dist_fold f = {1, 0, 0, -1};
  while (f.p * 2 <= size) {
    f.p *= 2;
    f.steps++;
  }
  f.rem = size - f.p;
  if (rank >= 2 * f.rem) f.newrank = rank - f.rem;
  else if (rank % 2 == 1) f.newrank = rank / 2;
  return f;
}

/* The rank of the process numbered `newrank` among the p. */
static inline int ct_dist_fold_rank(const ct_dist_fold *f, int newrank) {
  return newrank < f->rem ? newrank * 2 + 1 : newrank + f->rem;
}

/* How an all_reduce's data moves over point-to-point messages
 * (allreduce.c): chosen per call by a cost model, or forced by
 * CT_COLLECTIVE_ALGORITHM. */
typedef enum ct_dist_algorithm {
  CT_ALGO_AUTO = 0,
  CT_ALGO_RECURSIVE_DOUBLING,
  CT_ALGO_RABENSEIFNER
} ct_dist_algorithm;

/* What every process says about the collective it is about to run. */
typedef enum ct_collective_kind {
  CT_COLL_ERROR = 0, /* this process failed before it could take part */
  CT_COLL_ALL_REDUCE, CT_COLL_BROADCAST, CT_COLL_ALL_GATHER, CT_COLL_REDUCE_SCATTER, CT_COLL_BARRIER,
  CT_COLL_ALL_REDUCE_N /* a group of all_reduces under one agreement (count, members) */
} ct_collective_kind;

/* How the data moves; part of the agreement, since a process moving it
 * over NCCL would wait forever for one moving it over MPI. */
typedef enum ct_collective_path { CT_PATH_MPI = 0, CT_PATH_NCCL = 1 } ct_collective_path;

typedef struct ct_collective_call {
  ct_collective_kind kind;
  ct_collective_path path;
  int op;        /* ct_reduce_op, or -1 */
  int root;      /* broadcast, or -1 */
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
  /* CT_COLL_ALL_REDUCE_N: how many tensors, and a hash of every one's
   * dtype, shape and path (dtype, rank and shape above are unused) */
  int64_t count;
  uint64_t members;
} ct_collective_call;

/* Attributes of the collective ops (ct_kernel_args.attrs). */
typedef struct ct_collective_attrs {
  ct_process_group *pg;
  ct_reduce_op op;
  int root;
  const int *counts; /* all_gather, reduce_scatter: elements per process */
  const int *displs; /* all_gather */
  ct_collective_path path;
  const char *staged_why; /* a GPU tensor over MPI: why not NCCL */
  const void *fused;      /* all_reduce: the result, reduced by the agreement */
} ct_collective_attrs;

/* Takes pg->lock and fails if the group is broken. */
ct_status ct_dist_begin(ct_process_group *pg, const char *what);
void ct_dist_end(ct_process_group *pg);
/* The agreement check (see process_group.c); call with pg->lock held. On
 * a mismatch every process returns INVALID_ARGUMENT naming them all. With
 * all_gather, dims0 (size entries) receives every process's first
 * dimension. `local` is this process's failure, if any (kind ERROR). An
 * all_reduce may pass its host data (nbytes <= AGREE_FUSE_MAX): when every
 * process did, *fused points to the reduced result (valid until the next
 * collective of the group), else NULL and the data moves separately.
 * data non-NULL with nbytes 0 is a flag only: this process could take part
 * in a fused move (all_reduce_n: its tensors can be packed) and sends no
 * data; *fused is then non-NULL exactly when every process set it. */
ct_status ct_dist_agree(ct_process_group *pg, const ct_collective_call *call, const char *local_error,
                        int64_t *dims0, const void *data, size_t nbytes, const void **fused);
/* Waits for a request of a collective within the group's timeout. */
ct_status ct_dist_wait(ct_process_group *pg, void *req, const char *what);
/* One point-to-point exchange with `peer` within the group's timeout:
 * send (when not NULL) and receive (when not NULL, up to `capacity` bytes,
 * tag `recv_tag` or CT_MPI_ANY_TAG; *got_tag and *got_bytes, when not
 * NULL, say what arrived). */
ct_status ct_dist_exchange(ct_process_group *pg, int peer, const void *send, int send_bytes, int send_tag, void *recv,
                           int capacity, int recv_tag, int *got_tag, int *got_bytes, const char *what);
/* out[i] = lo[i] (op) hi[i] for n elements of dtype; out may be lo or hi.
 * Mean combines as sum. Float16 and bfloat16 compute in float. */
void ct_dist_combine(ct_dtype dtype, int op, const void *lo, const void *hi, void *out, int64_t n);
/* The data of an all_reduce of host memory (allreduce.c): out = the
 * reduction of every process's `in` (count elements), mean as sum; out may
 * be in (every step sends before it combines into out). Call with pg->lock
 * held, after the agreement. */
ct_status ct_dist_allreduce_host(ct_process_group *pg, const void *in, void *out, int64_t count, ct_dtype dtype,
                                 int op, const char *what);
/* Makes the scratch buffer big enough for an all_reduce of count elements
 * (before the agreement, so that running out of memory is a local failure
 * every process hears about). */
ct_status ct_dist_reserve_scratch(ct_process_group *pg, int64_t count, ct_dtype dtype);
/* CT_COLLECTIVE_ALGORITHM's value as an algorithm; INVALID_ARGUMENT naming
 * a value that is none. */
ct_status ct_dist_algorithm_from_env(ct_dist_algorithm *out);
/* An MPI error code as a status (the group is broken afterwards). */
ct_status ct_dist_mpi_error(ct_process_group *pg, int rc, const char *what);

/* NCCL (nccl.c). Whether the collective `op` of a `dtype` tensor on GPU
 * `dev` can go through NCCL: loads NCCL on first use; *use false with
 * `why` when it cannot (not loaded, no such type, too old). An error only
 * for a call that must fail: a GPU other than the communicator's. */
ct_status ct_dist_nccl_choose(ct_process_group *pg, ct_device *dev, ct_op op, ct_dtype dtype, ct_reduce_op rop,
                              bool *use, char *why, size_t size);
/* The GPU kernel of the collectives over NCCL; makes the communicator at
 * the group's first call. */
ct_status ct_dist_nccl_run(const ct_kernel_args *args);
void ct_dist_nccl_free(ct_process_group *pg);

#endif /* CT_DIST_INTERNAL_H */
