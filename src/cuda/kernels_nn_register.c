/*
 * GPU kernels of the ops for gradients and training: log_softmax, the two
 * softmax cross-entropies, one_hot, where (SelectV2), broadcast_to and
 * unsorted_segment_sum. Each turns the op's tensors into launches of the
 * kernels in kernels/nn.cu (broadcast_to: shape.cu's strided gather, with
 * stride 0 on broadcast axes) on the device's stream.
 *
 * Labels and segment ids are values in device memory, and a bad one must
 * fail as on the CPU, before anything is written. One kernel finds the
 * first value outside the allowed range and one 8-byte read brings its
 * position back (a single wait for the stream, cheaper than a min and max
 * reduction); only when there is one is the whole tensor read back, for
 * the CPU's own check (ops/nn_check.h) to word the error.
 *
 * Kernel parameter structs below mirror the ones in the .cu files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels_common.h"
#include "cuda/cuda_kernels.h"
#include "cuda/jit.h"
#include "ops/broadcast.h"
#include "ops/nn_check.h"

#define BLOCK 256

typedef struct gpu_strided { /* common.cuh: Strided */
  int rank, pad_;
  int64_t dims[CT_MAX_RANK];
  int64_t stride[CT_MAX_RANK];
} gpu_strided;

typedef struct gpu_select { /* nn.cu: Select */
  int rank, pad_;
  int64_t dims[CT_MAX_RANK];
  int64_t stride[3][CT_MAX_RANK]; /* condition, x, y */
} gpu_select;

/* An empty GPU tensor's data is not device memory: kernels get NULL. */
static void *dptr(const ct_tensor *t) { return t->numel > 0 ? t->data : NULL; }

static ct_status memset_async(ct_device *dev, ct_op op, void *p, unsigned char byte, size_t bytes) {
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  ct_status s = ct_cuda_make_current(cd);
  if (s != CT_OK || bytes == 0) return s;
  CUresult r = cd->drv->cuMemsetD8Async((CUdeviceptr)(uintptr_t)p, byte, bytes, cd->stream);
  if (r != CUDA_SUCCESS) return ct_cuda_check(cd, r, ct_op_tf_name(op));
  ct_cuda_note_enqueued(cd, ct_op_tf_name(op));
  return CT_OK;
}

/* ---- the label and id checks ---------------------------------------------- */

/* *first: the flat position of the first value of v (int32/int64, not
 * empty) outside [lo, hi), or -1. Waits for the stream. */
static ct_status find_bad(ct_device *dev, ct_op op, const ct_tensor *v, int64_t lo, int64_t hi, int64_t *first) {
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(dev, op, ct_cuda_kref_find_bad(v->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  void *slot = NULL;
  s = dev->backend->alloc(dev, 8, &slot);
  if (s != CT_OK) return s;
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  int64_t n = v->numel;
  void *pv = v->data;
  void *params[] = {&slot, &pv, &n, &lo, &hi};
  uint64_t pos = 0;
  s = memset_async(dev, op, slot, 0xff, 8); /* no bad value: ~0 */
  if (s == CT_OK) s = ct_cuda_launch(cd, op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
  if (s == CT_OK) s = dev->backend->copy_to_host(dev, &pos, slot, 8);
  dev->backend->free(dev, slot, 8);
  *first = pos == UINT64_MAX ? -1 : (int64_t)pos;
  return s;
}

/* After find_bad found a bad value: the whole of v read back and handed
 * to the CPU's check, so that the message is the CPU's word for word. */
static ct_status report_bad(ct_device *dev, ct_op op, const ct_tensor *v, int64_t first, int64_t limit) {
  void *host = malloc(v->nbytes);
  if (host == NULL)
    return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of host memory for %zu bytes", ct_op_name(op), v->nbytes);
  ct_status s = dev->backend->copy_to_host(dev, host, v->data, v->nbytes);
  if (s == CT_OK)
    s = op == CT_OP_SPARSE_XENT ? ct_sparse_xent_check_labels(v, host, limit) : ct_segment_check_ids(v, host, limit);
  free(host);
  if (s == CT_OK)
    s = ct_error(CT_INTERNAL, "%s: the GPU found value #%lld out of range (limit %lld), the host found none",
                 ct_op_name(op), (long long)first, (long long)limit);
  return s;
}

/* ---- rows: log_softmax and the cross-entropies ------------------------------ */

static unsigned rows_grid(ct_cuda_device *cd, int per_row, int64_t rows, int64_t columns) {
  return per_row ? ct_cuda_grid_for(cd, rows * BLOCK, BLOCK) : ct_cuda_grid_for(cd, rows * columns, BLOCK);
}

static ct_status log_softmax_kernel(const ct_kernel_args *args) {
  const ct_axis_attrs *at = args->attrs;
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_log_softmax(x->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t outer, len, inner;
  ct_cuda_axis_split(x, at->axis, &outer, &len, &inner);
  int per_row = inner == 1 && len >= CT_CUDA_ROW_PER_BLOCK;
  void *po = o->data, *px = x->data;
  void *params[] = {&po, &px, &outer, &len, &inner, &per_row};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], rows_grid(cd, per_row, outer, inner), 1, BLOCK, params);
}

/* Sparse and dense: in[0] logits [batch, classes], in[1] labels; the loss
 * is the output, backprop the tensor the front-end allocated. */
static ct_status xent_kernel(const ct_kernel_args *args) {
  const ct_xent_attrs *at = args->attrs;
  const ct_tensor *logits = args->in[0], *labels = args->in[1];
  ct_device *dev = args->device;
  int64_t batch = logits->shape[0], classes = logits->shape[1];
  if (batch == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(dev, args->op, ct_cuda_kref_xent(args->op, logits->dtype, labels->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  if (args->op == CT_OP_SPARSE_XENT) {
    int64_t first;
    s = find_bad(dev, args->op, labels, 0, classes, &first);
    if (s == CT_OK && first >= 0) s = report_bad(dev, args->op, labels, first, classes);
    if (s != CT_OK) return s;
  }
  int per_row = classes >= CT_CUDA_ROW_PER_BLOCK;
  void *pl = args->out->data, *pb = at->backprop ? dptr(at->backprop) : NULL;
  void *px = dptr(logits), *py = dptr(labels);
  void *params[] = {&pl, &pb, &px, &py, &batch, &classes, &per_row};
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  return ct_cuda_launch(cd, args->op, fn[0], rows_grid(cd, per_row, batch, 1), 1, BLOCK, params);
}

/* ---- one_hot, where, broadcast_to ------------------------------------------- */

static ct_status one_hot_kernel(const ct_kernel_args *args) {
  const ct_one_hot_attrs *at = args->attrs;
  const ct_tensor *ix = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s =
      ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_one_hot(ct_dtype_size(o->dtype), ix->dtype, &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t outer = 1, inner = 1, depth = at->depth;
  for (int i = 0; i < at->axis; i++) outer *= ix->shape[i];
  for (int i = at->axis; i < ix->rank; i++) inner *= ix->shape[i];
  /* the values convert exactly as on the CPU; little-endian: the kernel's
   * parameter is the low bytes */
  uint64_t on = 0, off = 0;
  ct_k_store_f64(&on, o->dtype, 0, at->on_value);
  ct_k_store_f64(&off, o->dtype, 0, at->off_value);
  void *po = o->data, *pi = ix->data;
  void *params[] = {&po, &pi, &outer, &depth, &inner, &on, &off};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, o->numel, BLOCK), 1, BLOCK, params);
}

/* The walk of out's elements over n_ops broadcast operands: size-1 axes
 * dropped, and an axis merged into the one before it where every
 * operand's stride there times its length is its stride before (all
 * contiguous, or broadcast, across both). Returns the rank, >= 1. */
static int walk_make(const ct_tensor *const *ops, int n_ops, const ct_tensor *out, int64_t *dims,
                     int64_t stride[][CT_MAX_RANK]) {
  int64_t st[3][CT_MAX_RANK];
  for (int j = 0; j < n_ops; j++) ct_broadcast_strides(ops[j]->shape, ops[j]->rank, out->shape, out->rank, st[j]);
  int r = 0;
  for (int i = 0; i < out->rank; i++) {
    if (out->shape[i] == 1) continue;
    bool merge = r > 0;
    for (int j = 0; j < n_ops && merge; j++) merge = st[j][i] * out->shape[i] == stride[j][r - 1];
    if (!merge) dims[r++] = 1;
    dims[r - 1] *= out->shape[i];
    for (int j = 0; j < n_ops; j++) stride[j][r - 1] = st[j][i];
  }
  if (r == 0) { /* one element */
    dims[0] = 1;
    for (int j = 0; j < n_ops; j++) stride[j][0] = 0;
    r = 1;
  }
  return r;
}

static ct_status select_kernel(const ct_kernel_args *args) {
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(args->device, args->op, ct_cuda_kref_select(ct_dtype_size(o->dtype), &k), &k, fn);
  if (s != CT_OK) return s;
  gpu_select d;
  memset(&d, 0, sizeof d);
  d.rank = walk_make(args->in, 3, o, d.dims, d.stride);
  if (d.rank == 1 && d.stride[0][0] == 1 && d.stride[1][0] == 1 && d.stride[2][0] == 1) d.rank = 0; /* same shapes */
  int64_t n = o->numel;
  void *po = o->data, *pc = args->in[0]->data, *px = args->in[1]->data, *py = args->in[2]->data;
  void *params[] = {&po, &pc, &px, &py, &n, &d};
  ct_cuda_device *cd = ct_cuda_device_of(args->device);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

static ct_status broadcast_to_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK;
  ct_device *dev = args->device;
  gpu_strided d;
  memset(&d, 0, sizeof d);
  d.rank = walk_make(args->in, 1, o, d.dims, &d.stride);
  if (d.rank == 1 && d.stride[0] == 1) return dev->backend->copy_device(dev, o->data, dev, x->data, o->nbytes);
  ct_cuda_kref k;
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_for(dev, args->op, ct_cuda_kref_gather(ct_dtype_size(o->dtype), &k), &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  void *po = o->data, *px = x->data;
  void *params[] = {&po, &px, &n, &d};
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

/* ---- unsorted_segment_sum ---------------------------------------------------- */

/* Atomics into a zeroed output: float32, float64, int32 and int64 add in
 * their own type (integers wrap, as on the CPU); float16 and bfloat16 add
 * in a float32 buffer cast once at the end, as the CPU accumulates them,
 * so no sum is rounded to 16 bits more than once. Float sums come out in
 * an order that varies from run to run (within rounding of the CPU's). */
static ct_status segment_sum_kernel(const ct_kernel_args *args) {
  const ct_segment_attrs *at = args->attrs;
  const ct_tensor *data = args->in[0], *ids = args->in[1];
  ct_tensor *o = args->out;
  ct_device *dev = args->device;
  /* as on the CPU: with no data nothing is read, nothing checked */
  if (data->numel == 0) return o->numel ? memset_async(dev, args->op, o->data, 0, o->nbytes) : CT_OK;
  int64_t first;
  ct_status s = find_bad(dev, args->op, ids, INT64_MIN, at->num_segments, &first);
  if (s == CT_OK && first >= 0) s = report_bad(dev, args->op, ids, first, at->num_segments);
  if (s != CT_OK || o->numel == 0) return s;
  ct_cuda_kref k, kc;
  CUfunction fn[2], fc[2];
  s = ct_cuda_kernel_for(dev, args->op, ct_cuda_kref_segment_sum(data->dtype, ids->dtype, &k), &k, fn);
  bool half = data->dtype == CT_FLOAT16 || data->dtype == CT_BFLOAT16;
  if (s == CT_OK && half) s = ct_cuda_kernel_for(dev, args->op, ct_cuda_kref_cast(CT_FLOAT32, data->dtype, &kc), &kc, fc);
  if (s != CT_OK) return s;
  int64_t n_ids = ids->numel, inner = data->numel / n_ids, n = o->numel, num_segments = at->num_segments;
  size_t bytes = half ? (size_t)n * sizeof(float) : o->nbytes;
  void *acc = o->data;
  if (half) {
    s = dev->backend->alloc(dev, bytes, &acc);
    if (s != CT_OK) return s;
  }
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  void *pd = data->data, *pi = ids->data, *po = o->data;
  void *params[] = {&acc, &pd, &pi, &n_ids, &inner, &num_segments};
  void *pcast[] = {&po, &acc, &n};
  s = memset_async(dev, args->op, acc, 0, bytes); /* all-zero bytes are 0 in every numeric dtype */
  if (s == CT_OK) s = ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, data->numel, BLOCK), 1, BLOCK, params);
  if (s == CT_OK && half) s = ct_cuda_launch(cd, args->op, fc[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, pcast);
  /* stream-ordered: whoever reuses the buffer next queues behind us */
  if (half) dev->backend->free(dev, acc, bytes);
  return s;
}

/* ---- registration ------------------------------------------------------------- */

bool ct_cuda_nn_needs_jit(ct_kernel_fn fn) {
  return fn == log_softmax_kernel || fn == xent_kernel || fn == one_hot_kernel || fn == select_kernel ||
         fn == broadcast_to_kernel || fn == segment_sum_kernel;
}

void ct_cuda_register_nn_kernels(ct_registry *r) {
  ct_cuda_kref k;
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    ct_dtype dt = (ct_dtype)d;
    if (ct_cuda_kref_log_softmax(dt, &k)) ct_registry_add(r, CT_OP_LOG_SOFTMAX, CT_DEV_GPU, dt, log_softmax_kernel);
    if (ct_cuda_kref_xent(CT_OP_SOFTMAX_XENT, dt, dt, &k)) {
      ct_registry_add(r, CT_OP_SOFTMAX_XENT, CT_DEV_GPU, dt, xent_kernel);
      ct_registry_add(r, CT_OP_SPARSE_XENT, CT_DEV_GPU, dt, xent_kernel);
    }
    if (ct_cuda_kref_segment_sum(dt, CT_INT32, &k))
      ct_registry_add(r, CT_OP_UNSORTED_SEGMENT_SUM, CT_DEV_GPU, dt, segment_sum_kernel);
    ct_registry_add(r, CT_OP_ONE_HOT, CT_DEV_GPU, dt, one_hot_kernel);
    ct_registry_add(r, CT_OP_SELECT, CT_DEV_GPU, dt, select_kernel);
    ct_registry_add(r, CT_OP_BROADCAST_TO, CT_DEV_GPU, dt, broadcast_to_kernel);
  }
}
