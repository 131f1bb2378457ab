/*
 * Collectives on GPU tensors through NCCL (libnccl.so.2, opened at run time
 * like cuBLAS: src/cuda/loader.c finds it). The process group's MPI
 * carries NCCL's unique id from rank 0 to the others; after that the data
 * never leaves the GPU: every call is enqueued on the tensor's stream and
 * returns, ordered with the ops before and after it like any GPU kernel.
 *
 * One communicator per process group, bound to the GPU of the group's first
 * NCCL collective (NCCL's model: one GPU per rank). The agreement check
 * (process_group.c) has already made every process ask for the same NCCL
 * collective before anything here runs, so the collective calls below
 * match on every rank.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_device.h"
#include "dist/dist_internal.h"

/* From nccl.h (2.x), not included: ctensor builds without NVIDIA headers. */
typedef struct nccl_unique_id {
  char internal[128];
} nccl_unique_id;
enum { NCCL_INT32 = 2, NCCL_INT64 = 4, NCCL_UINT8 = 1, NCCL_FLOAT16 = 6, NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8,
       NCCL_BFLOAT16 = 9 };
enum { NCCL_SUM = 0, NCCL_PROD = 1, NCCL_MAX = 2, NCCL_MIN = 3, NCCL_AVG = 4 };
/* ncclAvg and ncclBfloat16 appeared in NCCL 2.10 (version code 21000). */
#define NCCL_2_10 21000

typedef struct nccl_api {
  int (*get_version)(int *version);
  int (*get_unique_id)(nccl_unique_id *id);
  int (*comm_init_rank)(void **comm, int nranks, nccl_unique_id id, int rank);
  int (*comm_destroy)(void *comm);
  int (*comm_abort)(void *comm);
  const char *(*get_error_string)(int result);
  int (*all_reduce)(const void *send, void *recv, size_t count, int type, int op, void *comm, void *stream);
  int (*broadcast)(const void *send, void *recv, size_t count, int type, int root, void *comm, void *stream);
  int (*all_gather)(const void *send, void *recv, size_t count, int type, void *comm, void *stream);
  int (*reduce_scatter)(const void *send, void *recv, size_t count, int type, int op, void *comm, void *stream);
  int (*group_start)(void);
  int (*group_end)(void);
} nccl_api;

struct ct_nccl {
  bool tried;                 /* loading was attempted (once per group) */
  bool loaded;
  char why[CT_INFO_TEXT_MAX]; /* why not, when not loaded */
  int version;                /* ncclGetVersion's code: 22105 for 2.21.5 */
  nccl_api api;
  void *comm;                 /* NULL until the first NCCL collective */
  ct_device *dev;             /* the GPU the communicator is bound to */
};

static const char *nccl_error(const ct_nccl *n, int rc) {
  const char *s = n->api.get_error_string ? n->api.get_error_string(rc) : NULL;
  return s ? s : "unknown NCCL error";
}

static void load(ct_process_group *pg, ct_nccl *n) {
  n->tried = true;
  void *h = NULL;
  if (ct_cuda_load_nccl(pg->ctx, &h) != CT_OK) {
    snprintf(n->why, sizeof n->why, "%s", ct_last_error());
    return;
  }
  static const struct {
    const char *name;
    size_t offset;
  } syms[] = {
#define SYM(f, s) {s, offsetof(nccl_api, f)}
      SYM(get_version, "ncclGetVersion"),       SYM(get_unique_id, "ncclGetUniqueId"),
      SYM(comm_init_rank, "ncclCommInitRank"),  SYM(comm_destroy, "ncclCommDestroy"),
      SYM(comm_abort, "ncclCommAbort"),         SYM(get_error_string, "ncclGetErrorString"),
      SYM(all_reduce, "ncclAllReduce"),         SYM(broadcast, "ncclBroadcast"),
      SYM(all_gather, "ncclAllGather"),         SYM(reduce_scatter, "ncclReduceScatter"),
      SYM(group_start, "ncclGroupStart"),       SYM(group_end, "ncclGroupEnd"),
#undef SYM
  };
  for (size_t i = 0; i < CT_ARRAY_LEN(syms); i++) {
    void *fn = dlsym(h, syms[i].name);
    if (!fn) {
      snprintf(n->why, sizeof n->why, "libnccl.so.2 lacks %s (NCCL 2.x expected)", syms[i].name);
      return;
    }
    memcpy((char *)&n->api + syms[i].offset, &fn, sizeof fn);
  }
  if (n->api.get_version(&n->version) != 0 || n->version < 2000) {
    snprintf(n->why, sizeof n->why, "ncclGetVersion failed or reported %d (NCCL 2.x expected)", n->version);
    return;
  }
  /* 2.9 and later: major*10000 + minor*100 + patch; before: major*1000 + ... */
  int major = n->version >= 10000 ? n->version / 10000 : n->version / 1000;
  int minor = n->version >= 10000 ? n->version / 100 % 100 : n->version / 100 % 10;
  ct_cuda_set_nccl_version(pg->ctx, major, minor);
  n->loaded = true;
}

/* NCCL's type for a ctensor dtype, or -1 (with why) when this NCCL has none. */
static int nccl_type(const ct_nccl *n, ct_dtype d, char *why, size_t size) {
  switch (d) {
    case CT_FLOAT32: return NCCL_FLOAT32;
    case CT_FLOAT64: return NCCL_FLOAT64;
    case CT_FLOAT16: return NCCL_FLOAT16;
    case CT_INT32: return NCCL_INT32;
    case CT_INT64: return NCCL_INT64;
    case CT_BOOL: return NCCL_UINT8;
    case CT_BFLOAT16:
      if (n->version >= NCCL_2_10) return NCCL_BFLOAT16;
      snprintf(why, size, "NCCL %d has no bfloat16 (2.10 and later have)", n->version);
      return -1;
  }
  snprintf(why, size, "no NCCL type for dtype %s", ct_dtype_name(d));
  return -1;
}

static int nccl_op(ct_reduce_op op) {
  static const int ops[] = {NCCL_SUM, NCCL_AVG, NCCL_MAX, NCCL_MIN, NCCL_PROD};
  return ops[op];
}

ct_status ct_dist_nccl_choose(ct_process_group *pg, ct_device *dev, ct_op op, ct_dtype dtype, ct_reduce_op rop,
                              bool *use, char *why, size_t size) {
  *use = false;
  if (!pg->nccl) {
    pg->nccl = calloc(1, sizeof *pg->nccl);
    if (!pg->nccl) return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of memory for the NCCL state", ct_op_name(op));
  }
  ct_nccl *n = pg->nccl;
  if (!n->tried) load(pg, n);
  if (!n->loaded) {
    snprintf(why, size, "%s", n->why);
    return CT_OK;
  }
  if (nccl_type(n, dtype, why, size) < 0) return CT_OK;
  bool reduces = op == CT_OP_ALL_REDUCE || op == CT_OP_REDUCE_SCATTER;
  if (reduces && rop == CT_REDUCE_MEAN && n->version < NCCL_2_10) {
    snprintf(why, size, "NCCL %d has no ncclAvg for mean (2.10 and later have)", n->version);
    return CT_OK;
  }
  if (n->dev && n->dev != dev)
    return ct_error(CT_INVALID_ARGUMENT,
                    "%s on %s: this process group's NCCL communicator is bound to %s, the GPU of its first GPU "
                    "collective (NCCL: one GPU per process); copy the tensor there first",
                    ct_op_name(op), dev->name, n->dev->name);
  *use = true;
  return CT_OK;
}

/* Rank 0's unique id reaches every process over MPI, then each joins. The
 * outcome is agreed over MPI too, so that no process keeps a communicator
 * the others failed to make. */
static ct_status make_comm(ct_process_group *pg, ct_nccl *n, ct_device *dev, const char *what) {
  struct {
    int32_t rc;
    nccl_unique_id id;
  } msg;
  memset(&msg, 0, sizeof msg);
  if (pg->rank == 0) msg.rc = n->api.get_unique_id(&msg.id);
  void *req;
  int rc = pg->mpi->ibcast(pg->comm, &msg, (int)sizeof msg, CT_BOOL, 0, &req);
  ct_status st = rc ? ct_dist_mpi_error(pg, rc, what) : ct_dist_wait(pg, req, what);
  if (st != CT_OK) return st;
  if (msg.rc != 0)
    return ct_error(CT_UNAVAILABLE, "%s: ncclGetUniqueId failed on rank 0: %s", what, nccl_error(n, msg.rc));
  void *comm = NULL;
  int64_t mine[2] = {0, 0};
  mine[0] = n->api.comm_init_rank(&comm, pg->size, msg.id, pg->rank);
  mine[1] = mine[0] ? pg->rank : -1;
  rc = pg->mpi->iallreduce(pg->comm, NULL, mine, 2, CT_INT64, CT_REDUCE_MAX, &req);
  st = rc ? ct_dist_mpi_error(pg, rc, what) : ct_dist_wait(pg, req, what);
  if (st == CT_OK && mine[0] == 0) {
    n->comm = comm;
    n->dev = dev;
    return CT_OK;
  }
  if (comm) n->api.comm_destroy(comm);
  if (st != CT_OK) return st;
  return ct_error(CT_UNAVAILABLE, "%s: ncclCommInitRank failed on rank %lld of %d: %s", what, (long long)mine[1],
                  pg->size, nccl_error(n, (int)mine[0]));
}

static ct_status nccl_check(ct_process_group *pg, int rc, const char *what, const char *call) {
  if (rc == 0) return CT_OK;
  return ct_error(CT_INTERNAL, "%s: %s failed on rank %d: %s", what, call, pg->rank, nccl_error(pg->nccl, rc));
}

ct_status ct_dist_nccl_run(const ct_kernel_args *args) {
  const ct_collective_attrs *a = args->attrs;
  ct_process_group *pg = a->pg;
  ct_nccl *n = pg->nccl;
  const ct_tensor *x = args->in[0];
  ct_tensor *out = args->out;
  const char *what = ct_op_name(args->op);
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  ct_status st = ct_cuda_make_current(cd);
  if (st != CT_OK) return st;
  if (!n->comm && (st = make_comm(pg, n, args->device, what)) != CT_OK) return st;
  char why[128];
  int type = nccl_type(n, x->dtype, why, sizeof why);
  size_t esize = ct_dtype_size(x->dtype);
  void *stream = cd->stream;
  int rc = 0;
  const char *call = "";
  switch (args->op) {
    case CT_OP_ALL_REDUCE:
      if (x->numel == 0) return CT_OK;
      call = "ncclAllReduce";
      rc = n->api.all_reduce(x->data, out->data, (size_t)x->numel, type, nccl_op(a->op), n->comm, stream);
      break;
    case CT_OP_BROADCAST:
      if (x->numel == 0) return CT_OK;
      call = "ncclBroadcast";
      rc = n->api.broadcast(x->data, out->data, (size_t)x->numel, type, a->root, n->comm, stream);
      break;
    case CT_OP_ALL_GATHER: {
      if (out->numel == 0) return CT_OK;
      bool even = true;
      for (int r = 1; r < pg->size; r++) even &= a->counts[r] == a->counts[0];
      if (even) {
        call = "ncclAllGather";
        rc = n->api.all_gather(x->data, out->data, (size_t)a->counts[0], type, n->comm, stream);
        break;
      }
      /* Uneven first dimensions: NCCL's all-gather takes one count, so
       * every rank broadcasts its part into place, fused by a group. */
      call = "ncclBroadcast (grouped)";
      rc = n->api.group_start();
      for (int r = 0; r < pg->size && rc == 0; r++) {
        if (a->counts[r] == 0) continue;
        char *dst = (char *)out->data + (size_t)a->displs[r] * esize;
        rc = n->api.broadcast(r == pg->rank ? x->data : dst, dst, (size_t)a->counts[r], type, r, n->comm, stream);
      }
      int end = n->api.group_end();
      if (rc == 0) rc = end;
      break;
    }
    case CT_OP_REDUCE_SCATTER: {
      if (x->numel == 0) return CT_OK;
      bool even = true;
      for (int r = 1; r < pg->size; r++) even &= a->counts[r] == a->counts[0];
      if (even) {
        call = "ncclReduceScatter";
        rc = n->api.reduce_scatter(x->data, out->data, (size_t)a->counts[0], type, nccl_op(a->op), n->comm, stream);
        break;
      }
      /* Uneven rows: all-reduce into scratch, keep this rank's rows. The
       * scratch block goes back to the allocator after the copy is queued;
       * its reuse is ordered on the same stream. */
      ct_tensor *full = NULL;
      st = ct_tensor_alloc(args->device, x->dtype, x->shape, x->rank, &full);
      if (st != CT_OK) return st;
      call = "ncclAllReduce";
      rc = n->api.all_reduce(x->data, full->data, (size_t)x->numel, type, nccl_op(a->op), n->comm, stream);
      size_t offset = 0;
      for (int r = 0; r < pg->rank; r++) offset += (size_t)a->counts[r];
      if (rc == 0 && out->nbytes > 0)
        st = ct_cuda_check(cd,
                           cd->drv->cuMemcpyDtoDAsync((CUdeviceptr)(uintptr_t)out->data,
                                                      (CUdeviceptr)(uintptr_t)full->data + offset * esize,
                                                      out->nbytes, stream),
                           "reduce_scatter: copy of this rank's rows (cuMemcpyDtoDAsync)");
      ct_tensor_release(full);
      if (st != CT_OK) return st;
      break;
    }
    default: return ct_error(CT_INTERNAL, "NCCL kernel called for op %s", what);
  }
  st = nccl_check(pg, rc, what, call);
  if (st == CT_OK) ct_cuda_note_enqueued(cd, ct_op_tf_name(args->op));
  return st;
}

void ct_dist_nccl_free(ct_process_group *pg) {
  ct_nccl *n = pg->nccl;
  if (!n) return;
  if (n->comm) {
    /* A broken group may have a collective that never completes: abort
     * rather than wait for it in ncclCommDestroy. */
    if (ct_cuda_make_current(ct_cuda_device_of(n->dev)) == CT_OK) {
      if (pg->broken) n->api.comm_abort(n->comm);
      else n->api.comm_destroy(n->comm);
    }
  }
  free(n);
  pg->nccl = NULL;
}

