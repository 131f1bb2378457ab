/*
 * The collectives as ops: argument checks and output shapes here, the
 * agreement check (process_group.c), then the op runs through dispatch --
 * on the input's device, or where the thread's scope says; logged, counted
 * -- and its kernel moves the data: with MPI on the CPU, with NCCL on a GPU
 * (nccl.c). A GPU tensor NCCL cannot take (no NCCL, a dtype it lacks) is
 * staged through host memory over MPI, which is counted and logged as a
 * soft-placement fallback (reason NO_NCCL) and refused when soft placement
 * is off. A process that fails before the data moves still takes part in
 * the agreement check, as "failed", so that the others fail with it
 * instead of waiting for it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"

/* ---- CPU kernels ------------------------------------------------------------ */

static int elem_count(const ct_tensor *t) { return (int)t->numel; }

/* mean = sum / size, in the output's dtype (integers truncate, as
 * TensorFlow's integer division of a mean does). */
static void divide_by(ct_tensor *t, int n) {
  int64_t k = t->numel;
  switch (t->dtype) {
    case CT_FLOAT32: {
      float *p = t->data;
      for (int64_t i = 0; i < k; i++) p[i] /= (float)n;
      break;
    }
    case CT_FLOAT64: {
      double *p = t->data;
      for (int64_t i = 0; i < k; i++) p[i] /= (double)n;
      break;
    }
    case CT_FLOAT16: {
      uint16_t *p = t->data;
      for (int64_t i = 0; i < k; i++) p[i] = ct_float_to_half(ct_half_to_float(p[i]) / (float)n);
      break;
    }
    case CT_BFLOAT16: {
      uint16_t *p = t->data;
      for (int64_t i = 0; i < k; i++) p[i] = ct_float_to_bfloat16(ct_bfloat16_to_float(p[i]) / (float)n);
      break;
    }
    case CT_INT32: {
      int32_t *p = t->data;
      for (int64_t i = 0; i < k; i++) p[i] /= n;
      break;
    }
    case CT_INT64: {
      int64_t *p = t->data;
      for (int64_t i = 0; i < k; i++) p[i] /= n;
      break;
    }
    default: break;
  }
}

static ct_status cpu_collective(const ct_kernel_args *args) {
  const ct_collective_attrs *a = args->attrs;
  ct_process_group *pg = a->pg;
  const ct_tensor *x = args->in[0];
  ct_tensor *out = args->out;
  const char *what = ct_op_name(args->op);
  void *req = NULL;
  int rc = 0;
  ct_status st = CT_OK;
  switch (args->op) {
    case CT_OP_ALL_REDUCE:
      if (x->numel == 0) return CT_OK;
      if (a->fused) {
        memcpy(out->data, a->fused, out->nbytes);
        if (a->op == CT_REDUCE_MEAN) divide_by(out, pg->size);
        return CT_OK;
      }
      /* point to point, not MPI's collective (allreduce.c says why) */
      st = ct_dist_allreduce_host(pg, x->data, out->data, x->numel, x->dtype, a->op, what);
      break;
    case CT_OP_BROADCAST:
      if (x->numel == 0) return CT_OK;
      if (pg->rank == a->root) memcpy(out->data, x->data, x->nbytes);
      rc = pg->mpi->ibcast(pg->comm, out->data, elem_count(x), x->dtype, a->root, &req);
      break;
    case CT_OP_ALL_GATHER:
      if (out->numel == 0) return CT_OK;
      rc = pg->mpi->iallgatherv(pg->comm, x->data, elem_count(x), out->data, a->counts, a->displs, x->dtype, &req);
      break;
    case CT_OP_REDUCE_SCATTER:
      if (x->numel == 0) return CT_OK;
      rc = pg->mpi->ireduce_scatter(pg->comm, x->data, out->data, a->counts, x->dtype, a->op, &req);
      break;
    default: return ct_error(CT_INTERNAL, "collective kernel called for op %s", what);
  }
  if (rc != 0) return ct_dist_mpi_error(pg, rc, what);
  if (req) st = ct_dist_wait(pg, req, what);
  if (st == CT_OK && a->op == CT_REDUCE_MEAN && (args->op == CT_OP_ALL_REDUCE || args->op == CT_OP_REDUCE_SCATTER))
    divide_by(out, pg->size);
  return st;
}

/* ---- GPU kernel: NCCL, or staged through the host ------------------------ */

/* The MPI kernel on host copies of the input and the output. The output
 * stays on the GPU, where the caller asked for it. */
static ct_status staged_collective(const ct_kernel_args *args) {
  const ct_collective_attrs *a = args->attrs;
  ct_context *ctx = args->ctx;
  ct_tensor *hx = NULL, *hout = NULL;
  ct_status st = ct_tensor_copy_bytes_to(args->in[0], ctx->host, &hx);
  if (st == CT_OK) st = ct_tensor_alloc(ctx->host, args->out->dtype, args->out->shape, args->out->rank, &hout);
  if (st == CT_OK) {
    const ct_tensor *in = hx;
    ct_kernel_args h = *args;
    h.device = ctx->host;
    h.in = &in;
    h.out = hout;
    st = cpu_collective(&h);
  }
  if (st == CT_OK && hout->nbytes > 0)
    st = args->device->backend->copy_from_host(args->device, args->out->data, hout->data, hout->nbytes);
  ct_tensor_release(hx);
  ct_tensor_release(hout);
  if (st != CT_OK) return st;
  ct_placement_note_fallback(ctx, args->op, args->in[0]->dtype, args->device, ctx->host, CT_FALLBACK_NO_NCCL);
  if (atomic_load_explicit(&ctx->log_placement, memory_order_relaxed)) {
    char key[48];
    snprintf(key, sizeof key, "nccl-staged|%d|%d", (int)args->op, (int)args->in[0]->dtype);
    ct_logf_once(ctx, key, CT_LOG_WARNING, "%s (%s) of a %s tensor on %s went through host memory over MPI: %s",
                 ct_op_tf_name(args->op), ct_op_name(args->op), ct_dtype_name(args->in[0]->dtype), args->device->name,
                 a->staged_why ? a->staged_why : "NCCL cannot take it");
  }
  return CT_OK;
}

static ct_status gpu_collective(const ct_kernel_args *args) {
  const ct_collective_attrs *a = args->attrs;
  return a->path == CT_PATH_NCCL ? ct_dist_nccl_run(args) : staged_collective(args);
}

void ct_dist_register_kernels(ct_registry *r) {
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    bool numeric = d != CT_BOOL;
    for (int t = 0; t < CT_DEVTYPE_COUNT; t++) {
      ct_kernel_fn fn = t == CT_DEV_GPU ? gpu_collective : cpu_collective;
      if (numeric) ct_registry_add(r, CT_OP_ALL_REDUCE, (ct_devtype)t, (ct_dtype)d, fn);
      if (numeric) ct_registry_add(r, CT_OP_REDUCE_SCATTER, (ct_devtype)t, (ct_dtype)d, fn);
      ct_registry_add(r, CT_OP_BROADCAST, (ct_devtype)t, (ct_dtype)d, fn);
      ct_registry_add(r, CT_OP_ALL_GATHER, (ct_devtype)t, (ct_dtype)d, fn);
    }
  }
}

/* ---- the remote devices: learnt in the first collective ------------------- */

/* Every task says how many logical CPUs and GPUs it has; their names follow
 * from the job and the task index. */
static ct_status exchange_devices(ct_process_group *pg) {
  ct_context *ctx = pg->ctx;
  int64_t mine[2] = {ctx->n_by_type[CT_DEV_CPU], ctx->n_by_type[CT_DEV_GPU]};
  int64_t *all = calloc((size_t)pg->size, 2 * sizeof(int64_t));
  int *counts = malloc(2 * sizeof(int) * (size_t)pg->size);
  if (!all || !counts) {
    free(all);
    free(counts);
    return ct_error(CT_RESOURCE_EXHAUSTED, "process_group: out of memory listing devices");
  }
  for (int r = 0; r < pg->size; r++) {
    counts[r] = 2;
    counts[pg->size + r] = 2 * r;
  }
  void *req;
  int rc = pg->mpi->iallgatherv(pg->comm, mine, 2, all, counts, counts + pg->size, CT_INT64, &req);
  ct_status st = rc ? ct_dist_mpi_error(pg, rc, "process_group") : ct_dist_wait(pg, req, "process_group");
  free(counts);
  int total = 0;
  for (int r = 0; st == CT_OK && r < pg->size; r++)
    if (r != pg->rank) total += (int)(all[2 * r] + all[2 * r + 1]);
  ct_logical_device_info *remote = st == CT_OK ? calloc((size_t)(total ? total : 1), sizeof *remote) : NULL;
  if (st == CT_OK && !remote) st = ct_error(CT_RESOURCE_EXHAUSTED, "process_group: out of memory listing devices");
  int n = 0;
  for (int r = 0; st == CT_OK && r < pg->size; r++) {
    if (r == pg->rank) continue;
    for (int t = 0; t < 2; t++)
      for (int i = 0; i < all[2 * r + t]; i++, n++) {
        ct_logical_device_info *d = &remote[n];
        const char *type = ct_devtype_name((ct_devtype)t);
        snprintf(d->name, sizeof d->name, "/job:%s/replica:0/task:%d/device:%s:%d", pg->job, r, type, i);
        snprintf(d->short_name, sizeof d->short_name, "/device:%s:%d", type, i);
        snprintf(d->device_type, sizeof d->device_type, "%s", type);
        d->index = i;
        d->physical_index = -1; /* not known here */
      }
  }
  free(all);
  if (st == CT_OK) {
    pg->remote = remote;
    pg->n_remote = n;
    pg->devices_known = true;
  }
  return st;
}

int ct_process_group_device_count(ct_process_group *pg) {
  if (pg == NULL) return 0;
  int local = ct_logical_device_count(pg->ctx, NULL);
  pthread_mutex_lock(&pg->lock);
  int n = local + pg->n_remote;
  pthread_mutex_unlock(&pg->lock);
  return n;
}

ct_status ct_process_group_device_get(ct_process_group *pg, int i, ct_logical_device_info *out, bool *remote) {
  if (pg == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "process_group_device_get: NULL argument");
  int local = ct_logical_device_count(pg->ctx, NULL);
  if (i >= 0 && i < local) {
    if (remote) *remote = false;
    return ct_logical_device_get(pg->ctx, NULL, i, out);
  }
  pthread_mutex_lock(&pg->lock);
  int n_remote = pg->n_remote;
  if (i >= local && i < local + n_remote) *out = pg->remote[i - local];
  pthread_mutex_unlock(&pg->lock);
  if (i < 0 || i >= local + n_remote)
    return ct_error(CT_OUT_OF_RANGE, "process_group_device_get: index %d out of range: %d devices (%d local, %d remote)",
                    i, local + n_remote, local, n_remote);
  if (remote) *remote = true;
  return CT_OK;
}

/* ---- the front ends ----------------------------------------------------------- */

/* Checks that need no other process: the group, the tensor, the op. */
static ct_status check_local(ct_process_group *pg, const char *what, const ct_tensor *x, bool numeric, bool axis0,
                             ct_reduce_op op) {
  if (x == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: tensor is NULL", what);
  if (x->device->ctx != pg->ctx)
    return ct_error(CT_INVALID_ARGUMENT, "%s: the tensor (on %s) belongs to another context than the process group",
                    what, x->device->name);
  if (numeric && x->dtype == CT_BOOL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: dtype bool cannot be reduced (numeric dtypes only)", what);
  if (numeric && (unsigned)op > CT_REDUCE_PROD)
    return ct_error(CT_INVALID_ARGUMENT, "%s: reduction %d is not one of sum, mean, max, min, prod (0..4)", what,
                    (int)op);
  if (axis0 && x->rank == 0)
    return ct_error(CT_INVALID_ARGUMENT, "%s: a scalar has no axis 0 to split or concatenate (rank >= 1 needed)", what);
  if (x->numel > INT_MAX)
    return ct_error(CT_UNIMPLEMENTED, "%s: %lld elements, more than MPI's count limit of %d in one call", what,
                    (long long)x->numel, INT_MAX);
  return CT_OK;
}

typedef struct coll {
  ct_process_group *pg;
  ct_op op;
  ct_collective_call call;
  ct_device *dev;
  char staged_why[CT_INFO_TEXT_MAX]; /* a GPU tensor over MPI: why */
  const void *fused;                 /* all_reduce: reduced in the agreement */
} coll;

/* Where the collective runs -- the input's device, unless the thread's
 * scope names one (then the device policy moves the input there, as for
 * any op) -- and, on a GPU, whether NCCL moves the data. Without NCCL the
 * data is staged through the host, unless soft placement is off. */
static ct_status place_collective(coll *c, const ct_tensor *x) {
  ct_context *ctx = c->pg->ctx;
  ct_thread_state *ts = ct_thread_state_peek(ctx);
  if (ts && ts->scope_active) {
    ct_status st = ct_place(ctx, c->op, x->dtype, &x, 1, &c->dev);
    if (st != CT_OK) return st;
  } else {
    c->dev = x->device;
  }
  c->call.path = CT_PATH_MPI;
  if (c->dev->type != CT_DEV_GPU) return CT_OK;
  bool nccl = false;
  ct_status st = ct_dist_nccl_choose(c->pg, c->dev, c->op, x->dtype, (ct_reduce_op)c->call.op, &nccl, c->staged_why,
                                     sizeof c->staged_why);
  if (st != CT_OK) return st;
  if (nccl) {
    c->call.path = CT_PATH_NCCL;
    return CT_OK;
  }
  if (!atomic_load_explicit(&ctx->soft_placement, memory_order_relaxed))
    return ct_error(CT_INVALID_ARGUMENT,
                    "%s (%s) of a %s tensor on %s: NCCL cannot run it (%s), and soft placement is off, so it is not "
                    "staged through host memory over MPI; install NCCL (pip install nvidia-nccl-cu12, or set "
                    "CT_NCCL_PATH), copy the tensor to the CPU, or turn soft placement on",
                    ct_op_name(c->op), ct_op_tf_name(c->op), ct_dtype_name(x->dtype), c->dev->name, c->staged_why);
  return CT_OK;
}

/* Local checks and placement, then the agreement check, in which a local
 * failure is announced to the others. With pg->lock held on CT_OK. */
static ct_status begin(coll *c, const ct_tensor *x, bool numeric, bool axis0, int64_t *dims0) {
  ct_process_group *pg = c->pg;
  const char *what = ct_op_name(c->op);
  ct_status st = ct_dist_begin(pg, what);
  if (st != CT_OK) return st;
  ct_status local = check_local(pg, what, x, numeric, axis0, (ct_reduce_op)c->call.op);
  if (local == CT_OK) local = ct_context_ensure(pg->ctx);
  /* Every process's first collective lists devices, even a process whose
   * call fails: the others are in that exchange too. */
  if (!pg->devices_known) {
    st = exchange_devices(pg);
    if (st != CT_OK) {
      ct_dist_end(pg);
      return st;
    }
  }
  if (local == CT_OK) local = place_collective(c, x);
  char local_error[1024];
  local_error[0] = '\0';
  if (local != CT_OK) {
    snprintf(local_error, sizeof local_error, "%s", ct_last_error());
    c->call.kind = CT_COLL_ERROR;
  } else {
    c->call.dtype = x->dtype;
    c->call.rank = x->rank;
    memcpy(c->call.shape, x->shape, sizeof(int64_t) * (size_t)x->rank);
  }
  /* A small all_reduce of host memory that needs no move rides in the
   * agreement exchange itself. */
  bool fuse = local == CT_OK && c->op == CT_OP_ALL_REDUCE && c->dev == x->device && x->backing->type == CT_DEV_CPU &&
              x->nbytes <= AGREE_FUSE_MAX;
  /* Otherwise the data moves after the agreement, through host memory,
   * arriving in the group's buffer -- also when this process could fuse
   * but another cannot (its tensor is on a GPU, staged). */
  if (local == CT_OK && c->op == CT_OP_ALL_REDUCE && c->call.path == CT_PATH_MPI) {
    local = ct_dist_reserve_scratch(pg, x->numel, x->dtype);
    if (local != CT_OK) {
      snprintf(local_error, sizeof local_error, "%s", ct_last_error());
      c->call.kind = CT_COLL_ERROR;
    }
  }
  st = ct_dist_agree(pg, &c->call, local != CT_OK ? local_error : NULL, dims0, fuse ? x->data : NULL,
                     fuse ? x->nbytes : 0, &c->fused);
  if (st == CT_OK && local != CT_OK) st = ct_error(local, "%s", local_error);
  if (st != CT_OK) ct_dist_end(pg);
  return st;
}

static ct_status run(coll *c, const ct_tensor *x, const int64_t *shape, const ct_collective_attrs *attrs,
                     ct_tensor **out) {
  ct_collective_attrs a = *attrs;
  a.path = c->call.path;
  a.staged_why = c->staged_why;
  a.fused = c->fused;
  ct_status st = ct_op_run_on(c->pg->ctx, c->dev, c->op, x->dtype, &x, 1, shape, x->rank, x->dtype, &a, out);
  ct_dist_end(c->pg);
  return st;
}

/* Only the fields every collective reads are set: the struct holds text
 * buffers that clearing would cost more than the rest of a small
 * all_reduce's own work. */
static void coll_init(coll *c, ct_process_group *pg, ct_op op, ct_collective_kind kind, int rop, int root) {
  c->pg = pg;
  c->op = op;
  memset(&c->call, 0, sizeof c->call);
  c->call.kind = kind;
  c->call.op = rop;
  c->call.root = root;
  c->dev = NULL;
  c->staged_why[0] = '\0';
  c->fused = NULL;
}

ct_status ct_process_group_all_reduce(ct_process_group *pg, const ct_tensor *x, ct_reduce_op op, ct_tensor **out) {
  if (pg == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "all_reduce: NULL %s", pg ? "out" : "group");
  coll c;
  coll_init(&c, pg, CT_OP_ALL_REDUCE, CT_COLL_ALL_REDUCE, (int)op, -1);
  ct_status st = begin(&c, x, true, false, NULL);
  if (st != CT_OK) return st;
  ct_collective_attrs attrs = {pg, op, -1, NULL, NULL, CT_PATH_MPI, NULL, NULL};
  return run(&c, x, x->shape, &attrs, out);
}

/* ---- all_reduce_n: a group of all_reduces under one agreement ------------- */

/* Folds one number into the members' hash (the agreement compares it, so
 * processes passing different groups fail together). */
static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

/* What one all_reduce_n call holds until its outputs are handed over. */
typedef struct group {
  coll *cs;         /* n: each member's device, path, why staged */
  int64_t *offset;  /* n: each member's byte offset in pack */
  ct_tensor **made; /* n: the outputs so far */
  unsigned char *pack;
} group;

static void group_free(group *g, int n) {
  for (int i = 0; g->made && i < n; i++) ct_tensor_release(g->made[i]);
  free(g->cs);
  free(g->offset);
  free(g->made);
  free(g->pack);
}

/* Packing (can_pack true): every member of dtype d goes, in call order,
 * into one vector at pack + doff[d] of total[d] elements, so that one
 * ct_dist_allreduce_host per dtype moves them all. Reserves the receive
 * buffer for whichever way the data will move. */
static ct_status group_prepare(ct_process_group *pg, group *g, const ct_tensor *const *xs, int n, bool can_pack,
                               int64_t *total, int64_t *doff) {
  if (!can_pack) {
    for (int i = 0; i < n; i++) {
      if (g->cs[i].call.path != CT_PATH_MPI) continue;
      ct_status st = ct_dist_reserve_scratch(pg, xs[i]->numel, xs[i]->dtype);
      if (st != CT_OK) return st;
    }
    return CT_OK;
  }
  for (int i = 0; i < n; i++) total[xs[i]->dtype] += xs[i]->numel;
  int64_t bytes = 0;
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    doff[d] = bytes;
    bytes += (total[d] * (int64_t)ct_dtype_size((ct_dtype)d) + 7) & ~(int64_t)7; /* each vector 8-byte aligned */
    if (total[d] > 0) {
      ct_status st = ct_dist_reserve_scratch(pg, total[d], (ct_dtype)d);
      if (st != CT_OK) return st;
    }
  }
  g->pack = malloc((size_t)(bytes > 0 ? bytes : 1));
  if (!g->pack)
    return ct_error(CT_RESOURCE_EXHAUSTED, "all_reduce_n: out of memory for a %lld-byte packing buffer",
                    (long long)bytes);
  int64_t at[CT_DTYPE_COUNT];
  memcpy(at, doff, sizeof at);
  for (int i = 0; i < n; i++) {
    const ct_tensor *x = xs[i];
    g->offset[i] = at[x->dtype];
    if (x->nbytes > 0) memcpy(g->pack + at[x->dtype], x->data, x->nbytes);
    at[x->dtype] += (int64_t)x->nbytes;
  }
  return CT_OK;
}

ct_status ct_process_group_all_reduce_n(ct_process_group *pg, const ct_tensor *const *xs, int n, ct_reduce_op op,
                                        ct_tensor **outs) {
  if (pg == NULL) return ct_error(CT_INVALID_ARGUMENT, "all_reduce_n: NULL group");
  /* One tensor is the single call, whose data may ride in the agreement. */
  if (n == 1 && xs && outs) return ct_process_group_all_reduce(pg, xs[0], op, outs);
  const char *what = "all_reduce_n";
  ct_status st = ct_dist_begin(pg, what);
  if (st != CT_OK) return st;
  group g = {NULL, NULL, NULL, NULL};
  ct_status local = CT_OK;
  if (n <= 0) local = ct_error(CT_INVALID_ARGUMENT, "all_reduce_n: n = %d (at least one tensor)", n);
  else if (!xs || !outs) local = ct_error(CT_INVALID_ARGUMENT, "all_reduce_n: NULL %s array", xs ? "output" : "tensor");
  if (local == CT_OK) {
    g.cs = malloc((size_t)n * sizeof *g.cs);
    g.offset = calloc((size_t)n, sizeof *g.offset);
    g.made = calloc((size_t)n, sizeof *g.made);
    if (!g.cs || !g.offset || !g.made) local = ct_error(CT_RESOURCE_EXHAUSTED, "all_reduce_n: out of memory");
  }
  for (int i = 0; local == CT_OK && i < n; i++) {
    local = check_local(pg, what, xs[i], true, false, op);
    if (local != CT_OK) {
      /* which member, added only on failure: formatting it per member
       * would cost more than a small member's own work */
      char why[1024];
      snprintf(why, sizeof why, "%s", ct_last_error());
      local = ct_error(local, "%s (tensor %d of %d)", why, i, n);
    }
  }
  if (local == CT_OK) local = ct_context_ensure(pg->ctx);
  /* Every process's first collective lists devices (see begin()). */
  if (!pg->devices_known) {
    st = exchange_devices(pg);
    if (st != CT_OK) {
      ct_dist_end(pg);
      group_free(&g, n); /* nothing made yet */
      return st;
    }
  }
  /* Each member placed as the single call places it; the group packs only
   * when every member is host memory that needs no move (begin()'s
   * condition for riding in the agreement). */
  uint64_t members = (uint64_t)n;
  bool can_pack = local == CT_OK;
  for (int i = 0; local == CT_OK && i < n; i++) {
    const ct_tensor *x = xs[i];
    coll_init(&g.cs[i], pg, CT_OP_ALL_REDUCE, CT_COLL_ALL_REDUCE, (int)op, -1);
    local = place_collective(&g.cs[i], x);
    if (local != CT_OK) break;
    can_pack = can_pack && g.cs[i].dev == x->device && x->backing->type == CT_DEV_CPU;
    members = mix(mix(mix(members, (uint64_t)x->dtype), (uint64_t)g.cs[i].call.path), (uint64_t)x->rank);
    for (int k = 0; k < x->rank; k++) members = mix(members, (uint64_t)x->shape[k]);
  }
  int64_t total[CT_DTYPE_COUNT] = {0}, doff[CT_DTYPE_COUNT] = {0};
  if (local == CT_OK) local = group_prepare(pg, &g, xs, n, can_pack, total, doff);
  char local_error[1024];
  local_error[0] = '\0';
  ct_collective_call call;
  memset(&call, 0, sizeof call);
  call.kind = CT_COLL_ALL_REDUCE_N;
  call.op = (int)op;
  call.root = -1;
  call.count = n;
  call.members = members;
  if (local != CT_OK) {
    snprintf(local_error, sizeof local_error, "%s", ct_last_error());
    call.kind = CT_COLL_ERROR;
    can_pack = false;
  }
  /* Whether every process packs is the AND of the data bit: a flag with no
   * data. No second agreement either way. */
  const void *all_pack = NULL;
  st = ct_dist_agree(pg, &call, local != CT_OK ? local_error : NULL, NULL, can_pack ? (const void *)xs : NULL, 0,
                     &all_pack);
  if (st == CT_OK && local != CT_OK) st = ct_error(local, "%s", local_error);
  /* One move per dtype of the packed vectors, reduced in place; each output
   * then takes its slice through the kernel's `fused` copy (and divides
   * for mean). Unpacked, each member moves by itself, in call order. */
  for (int d = 0; st == CT_OK && all_pack && d < CT_DTYPE_COUNT; d++)
    if (total[d] > 0)
      st = ct_dist_allreduce_host(pg, g.pack + doff[d], g.pack + doff[d], total[d], (ct_dtype)d, (int)op, what);
  for (int i = 0; st == CT_OK && i < n; i++) {
    const ct_tensor *x = xs[i];
    ct_collective_attrs a = {pg, op, -1, NULL, NULL, g.cs[i].call.path, g.cs[i].staged_why,
                             all_pack ? g.pack + g.offset[i] : NULL};
    st = ct_op_run_on(pg->ctx, g.cs[i].dev, CT_OP_ALL_REDUCE, x->dtype, &x, 1, x->shape, x->rank, x->dtype, &a,
                      &g.made[i]);
  }
  ct_dist_end(pg);
  if (st == CT_OK) {
    memcpy(outs, g.made, (size_t)n * sizeof *outs);
    free(g.made);
    g.made = NULL; /* handed over */
  }
  group_free(&g, n);
  return st;
}

ct_status ct_process_group_broadcast(ct_process_group *pg, const ct_tensor *x, int root, ct_tensor **out) {
  if (pg == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "broadcast: NULL %s", pg ? "out" : "group");
  if (root < 0 || root >= pg->size) {
    /* Every process sees the same bad root: no need to tell the others. */
    return ct_error(CT_INVALID_ARGUMENT, "broadcast: root %d is not a rank of the group (0..%d)", root, pg->size - 1);
  }
  coll c;
  coll_init(&c, pg, CT_OP_BROADCAST, CT_COLL_BROADCAST, -1, root);
  ct_status st = begin(&c, x, false, false, NULL);
  if (st != CT_OK) return st;
  ct_collective_attrs attrs = {pg, CT_REDUCE_SUM, root, NULL, NULL, CT_PATH_MPI, NULL, NULL};
  return run(&c, x, x->shape, &attrs, out);
}

ct_status ct_process_group_all_gather(ct_process_group *pg, const ct_tensor *x, ct_tensor **out) {
  if (pg == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "all_gather: NULL %s", pg ? "out" : "group");
  int64_t *dims0 = calloc((size_t)pg->size, sizeof(int64_t));
  int *counts = calloc((size_t)pg->size, 2 * sizeof(int));
  if (!dims0 || !counts) {
    free(dims0);
    free(counts);
    return ct_error(CT_RESOURCE_EXHAUSTED, "all_gather: out of memory");
  }
  coll c;
  coll_init(&c, pg, CT_OP_ALL_GATHER, CT_COLL_ALL_GATHER, -1, -1);
  ct_status st = begin(&c, x, false, true, dims0);
  if (st == CT_OK) {
    int64_t inner = 1, total = 0;
    for (int i = 1; i < x->rank; i++) inner *= x->shape[i];
    for (int r = 0; r < pg->size; r++) {
      if (dims0[r] * inner > INT_MAX - total) {
        st = ct_error(CT_UNIMPLEMENTED, "all_gather: the result has more than %d elements, MPI's count limit", INT_MAX);
        break;
      }
      counts[r] = (int)(dims0[r] * inner);
      counts[pg->size + r] = (int)total;
      total += counts[r];
    }
    if (st != CT_OK) {
      /* Every process computed the same total from the same dims0. */
      ct_dist_end(pg);
    } else {
      int64_t shape[CT_MAX_RANK];
      memcpy(shape, x->shape, sizeof shape);
      shape[0] = 0;
      for (int r = 0; r < pg->size; r++) shape[0] += dims0[r];
      ct_collective_attrs attrs = {pg, CT_REDUCE_SUM, -1, counts, counts + pg->size, CT_PATH_MPI, NULL, NULL};
      st = run(&c, x, shape, &attrs, out);
    }
  }
  free(dims0);
  free(counts);
  return st;
}

ct_status ct_process_group_reduce_scatter(ct_process_group *pg, const ct_tensor *x, ct_reduce_op op,
                                          ct_tensor **out) {
  if (pg == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "reduce_scatter: NULL %s", pg ? "out" : "group");
  int *counts = calloc((size_t)pg->size, sizeof(int));
  if (!counts) return ct_error(CT_RESOURCE_EXHAUSTED, "reduce_scatter: out of memory");
  coll c;
  coll_init(&c, pg, CT_OP_REDUCE_SCATTER, CT_COLL_REDUCE_SCATTER, (int)op, -1);
  ct_status st = begin(&c, x, true, true, NULL);
  if (st == CT_OK) {
    int64_t inner = 1, n = x->shape[0];
    for (int i = 1; i < x->rank; i++) inner *= x->shape[i];
    int64_t q = n / pg->size, m = n % pg->size;
    for (int r = 0; r < pg->size; r++) counts[r] = (int)((q + (r < m)) * inner);
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = q + (pg->rank < m);
    ct_collective_attrs attrs = {pg, op, -1, counts, NULL, CT_PATH_MPI, NULL, NULL};
    st = run(&c, x, shape, &attrs, out);
  }
  free(counts);
  return st;
}

ct_status ct_process_group_barrier(ct_process_group *pg) {
  if (pg == NULL) return ct_error(CT_INVALID_ARGUMENT, "barrier: group is NULL");
  ct_status st = ct_dist_begin(pg, "barrier");
  if (st != CT_OK) return st;
  ct_context *ctx = pg->ctx;
  ct_status local = ct_context_ensure(ctx);
  if (!pg->devices_known) st = exchange_devices(pg);
  ct_collective_call call;
  memset(&call, 0, sizeof call);
  call.kind = local == CT_OK ? CT_COLL_BARRIER : CT_COLL_ERROR;
  call.op = call.root = -1;
  char local_error[1024];
  local_error[0] = '\0';
  if (local != CT_OK) snprintf(local_error, sizeof local_error, "%s", ct_last_error());
  /* The agreement check is itself an all-reduce: when it completes, every
   * process has reached this barrier. */
  if (st == CT_OK) st = ct_dist_agree(pg, &call, local != CT_OK ? local_error : NULL, NULL, NULL, 0, NULL);
  if (st == CT_OK && local != CT_OK) st = ct_error(local, "%s", local_error);
  if (st == CT_OK) {
    if (atomic_load_explicit(&ctx->log_placement, memory_order_relaxed))
      ct_logf(ctx, CT_LOG_INFO, "Executing op CollectiveBarrier in device %s", ctx->host->name);
    atomic_fetch_add_explicit(&ctx->host->op_count, 1, memory_order_relaxed);
  }
  ct_dist_end(pg);
  return st;
}
