/*
 * Front-ends of the ops that gradients and training need: log_softmax,
 * the two softmax cross-entropies, one_hot, where (SelectV2), zeros_like,
 * ones_like, broadcast_to and unsorted_segment_sum. They check arguments
 * with TensorFlow's messages (prefixed by the op's name), infer the output
 * and dispatch; semantics are in docs/ops.md. Also the index checks every
 * device's kernels share (ops/nn_check.h).
 */
#include <string.h>

#include "ops/broadcast.h"
#include "ops/nn_check.h"
#include "ops/op_check.h"

#define IS_INDEX(d) ((d) == CT_INT32 || (d) == CT_INT64)

/* ---- log_softmax ----------------------------------------------------------- */

ct_status ct_log_softmax(ct_context *ctx, const ct_tensor *x, int axis, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "log_softmax: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  ct_status st = ct_check_dtype("log_softmax", x->dtype, CT_DTS_FLOAT);
  if (st != CT_OK) return st;
  if (x->rank == 0)
    return ct_error(CT_INVALID_ARGUMENT, "log_softmax: logits must have at least 1 dimension, got shape []");
  if (axis < -x->rank || axis >= x->rank) {
    char buf[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "log_softmax: axis %d is out of range for shape %s (rank %d)", axis,
                    ct_shape_str(x->shape, x->rank, buf, sizeof buf), x->rank);
  }
  ct_axis_attrs at = {axis < 0 ? axis + x->rank : axis};
  return ct_op_run(ctx, CT_OP_LOG_SOFTMAX, x->dtype, &x, 1, x->shape, x->rank, x->dtype, &at, out);
}

/* ---- softmax cross-entropy ----------------------------------------------- */

/* TensorFlow's op has two outputs; ctensor's dispatch makes one. The
 * front-end therefore places the op itself and allocates the second output
 * (backprop) on the chosen device before running the kernel there. */
static ct_status xent_run(ct_context *ctx, ct_op op, const ct_tensor *labels, const ct_tensor *logits,
                          ct_tensor **loss, ct_tensor **backprop) {
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  const ct_tensor *in[2] = {logits, labels};
  ct_device *dev;
  st = ct_place(ctx, op, logits->dtype, in, 2, &dev);
  if (st != CT_OK) return st;
  ct_tensor *bp = NULL;
  st = ct_tensor_alloc(dev, logits->dtype, logits->shape, 2, &bp);
  if (st != CT_OK) return ct_error_prefix(st, "%s on %s", ct_op_name(op), dev->name);
  ct_xent_attrs at = {bp};
  ct_tensor *l = NULL;
  st = ct_op_run_on(ctx, dev, op, logits->dtype, in, 2, logits->shape, 1, logits->dtype, &at, &l);
  if (st != CT_OK) {
    ct_tensor_release(bp);
    return st;
  }
  *loss = l;
  if (backprop != NULL)
    *backprop = bp;
  else
    ct_tensor_release(bp);
  return CT_OK;
}

/* Checks shared by both forms: pointers, logits' dtype and rank. */
static ct_status xent_check_logits(const char *name, ct_context *ctx, const ct_tensor *labels,
                                   const ct_tensor *logits, ct_tensor **loss) {
  if (ctx == NULL || labels == NULL || logits == NULL || loss == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name,
                    ctx == NULL ? "context" : labels == NULL ? "labels" : logits == NULL ? "logits" : "loss");
  ct_status st = ct_check_dtype(name, logits->dtype, CT_DTS_FLOAT);
  if (st != CT_OK) return st;
  if (logits->rank != 2) {
    char buf[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "%s: logits must be 2-D, but got shape %s", name,
                    ct_shape_str(logits->shape, logits->rank, buf, sizeof buf));
  }
  return CT_OK;
}

ct_status ct_sparse_softmax_cross_entropy_with_logits(ct_context *ctx, const ct_tensor *labels,
                                                      const ct_tensor *logits, ct_tensor **loss,
                                                      ct_tensor **backprop) {
  static const char name[] = "sparse_softmax_cross_entropy_with_logits";
  ct_status st = xent_check_logits(name, ctx, labels, logits, loss);
  if (st != CT_OK) return st;
  char sl[CT_SHAPE_STR_MAX], sx[CT_SHAPE_STR_MAX];
  ct_shape_str(labels->shape, labels->rank, sl, sizeof sl);
  ct_shape_str(logits->shape, logits->rank, sx, sizeof sx);
  if (!IS_INDEX(labels->dtype))
    return ct_error(CT_INVALID_ARGUMENT, "%s: labels must be int32 or int64, got %s", name,
                    ct_dtype_name(labels->dtype));
  if (labels->rank != 1)
    return ct_error(CT_INVALID_ARGUMENT, "%s: labels must be 1-D, but got shape %s", name, sl);
  if (labels->shape[0] != logits->shape[0])
    return ct_error(CT_INVALID_ARGUMENT,
                    "%s: logits and labels must have the same first dimension, got logits shape %s and labels shape %s",
                    name, sx, sl);
  if (logits->shape[1] == 0)
    return ct_error(CT_INVALID_ARGUMENT, "%s: Must have at least one class, but got logits shape %s", name, sx);
  return xent_run(ctx, CT_OP_SPARSE_XENT, labels, logits, loss, backprop);
}

ct_status ct_softmax_cross_entropy_with_logits(ct_context *ctx, const ct_tensor *labels, const ct_tensor *logits,
                                               ct_tensor **loss, ct_tensor **backprop) {
  static const char name[] = "softmax_cross_entropy_with_logits";
  ct_status st = xent_check_logits(name, ctx, labels, logits, loss);
  if (st != CT_OK) return st;
  if (labels->dtype != logits->dtype)
    return ct_error(CT_INVALID_ARGUMENT, "%s: labels and logits must have one dtype, got %s and %s", name,
                    ct_dtype_name(labels->dtype), ct_dtype_name(logits->dtype));
  if (labels->rank != 2 || labels->shape[0] != logits->shape[0] || labels->shape[1] != logits->shape[1]) {
    char sl[CT_SHAPE_STR_MAX], sx[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "%s: logits and labels must be same size: logits_size=%s labels_size=%s",
                    name, ct_shape_str(logits->shape, logits->rank, sx, sizeof sx),
                    ct_shape_str(labels->shape, labels->rank, sl, sizeof sl));
  }
  return xent_run(ctx, CT_OP_SOFTMAX_XENT, labels, logits, loss, backprop);
}

/* ---- one_hot --------------------------------------------------------------- */

ct_status ct_one_hot(ct_context *ctx, const ct_tensor *indices, int64_t depth, double on_value, double off_value,
                     int axis, ct_dtype dtype, ct_tensor **out) {
  if (ctx == NULL || indices == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "one_hot: NULL %s",
                    ctx == NULL ? "context" : indices == NULL ? "indices" : "out");
  if (!IS_INDEX(indices->dtype))
    return ct_error(CT_INVALID_ARGUMENT, "one_hot: indices must be int32 or int64, got %s",
                    ct_dtype_name(indices->dtype));
  ct_status st = ct_check_dtype("one_hot", dtype, CT_DTS_ALL);
  if (st != CT_OK) return st;
  if (depth < 0)
    return ct_error(CT_INVALID_ARGUMENT, "one_hot: depth must be non-negative, got: %lld", (long long)depth);
  const int rank = indices->rank + 1;
  if (axis < -1 || axis >= rank)
    return ct_error(CT_INVALID_ARGUMENT, "one_hot: Expected axis to be -1 or between [0, %d).  But received: %d", rank,
                    axis);
  if (rank > CT_MAX_RANK) {
    char buf[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "one_hot: the result would have rank %d (indices %s); at most %d", rank,
                    ct_shape_str(indices->shape, indices->rank, buf, sizeof buf), CT_MAX_RANK);
  }
  const int ax = axis < 0 ? rank - 1 : axis;
  int64_t shape[CT_MAX_RANK];
  for (int d = 0, k = 0; d < rank; d++) shape[d] = d == ax ? depth : indices->shape[k++];
  st = ct_shape_check("one_hot", shape, rank);
  if (st != CT_OK) return st;
  ct_one_hot_attrs at = {ax, depth, on_value, off_value};
  return ct_op_run(ctx, CT_OP_ONE_HOT, dtype, &indices, 1, shape, rank, dtype, &at, out);
}

/* ---- where ------------------------------------------------------------------- */

ct_status ct_where(ct_context *ctx, const ct_tensor *condition, const ct_tensor *x, const ct_tensor *y,
                   ct_tensor **out) {
  if (ctx == NULL || condition == NULL || x == NULL || y == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "where: NULL %s",
                    ctx == NULL         ? "context"
                    : condition == NULL ? "condition"
                    : x == NULL         ? "x"
                    : y == NULL         ? "y"
                                        : "out");
  if (condition->dtype != CT_BOOL)
    return ct_error(CT_INVALID_ARGUMENT, "where: condition must be bool, got %s", ct_dtype_name(condition->dtype));
  if (x->dtype != y->dtype)
    return ct_error(CT_INVALID_ARGUMENT, "where: x and y must have one dtype, got %s and %s", ct_dtype_name(x->dtype),
                    ct_dtype_name(y->dtype));
  int64_t s1[CT_MAX_RANK], shape[CT_MAX_RANK];
  int r1, rank;
  if (!ct_broadcast_shape(condition->shape, condition->rank, x->shape, x->rank, s1, &r1) ||
      !ct_broadcast_shape(s1, r1, y->shape, y->rank, shape, &rank)) {
    char sc[CT_SHAPE_STR_MAX], sx[CT_SHAPE_STR_MAX], sy[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "where: condition %s, then %s, and else %s must be broadcastable",
                    ct_shape_str(condition->shape, condition->rank, sc, sizeof sc),
                    ct_shape_str(x->shape, x->rank, sx, sizeof sx), ct_shape_str(y->shape, y->rank, sy, sizeof sy));
  }
  const ct_tensor *in[3] = {condition, x, y};
  return ct_op_run(ctx, CT_OP_SELECT, x->dtype, in, 3, shape, rank, x->dtype, NULL, out);
}

/* ---- zeros_like, ones_like --------------------------------------------------- */

static ct_status fill_like(const char *name, ct_context *ctx, const ct_tensor *x, double value, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name, ctx == NULL ? "context" : x == NULL ? "x" : "out");
  return ct_fill(ctx, x->dtype, x->shape, x->rank, value, out);
}

ct_status ct_zeros_like(ct_context *ctx, const ct_tensor *x, ct_tensor **out) {
  return fill_like("zeros_like", ctx, x, 0.0, out);
}

ct_status ct_ones_like(ct_context *ctx, const ct_tensor *x, ct_tensor **out) {
  return fill_like("ones_like", ctx, x, 1.0, out);
}

/* ---- broadcast_to -------------------------------------------------------------- */

ct_status ct_broadcast_to(ct_context *ctx, const ct_tensor *x, const int64_t *shape, int rank, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "broadcast_to: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  ct_status st = ct_shape_check("broadcast_to", shape, rank);
  if (st != CT_OK) return st;
  char sx[CT_SHAPE_STR_MAX], ss[CT_SHAPE_STR_MAX];
  ct_shape_str(x->shape, x->rank, sx, sizeof sx);
  ct_shape_str(shape, rank, ss, sizeof ss);
  if (x->rank > rank)
    return ct_error(CT_INVALID_ARGUMENT,
                    "broadcast_to: Rank of input (%d) must be no greater than rank of output shape (%d) (input %s, "
                    "shape %s)",
                    x->rank, rank, sx, ss);
  /* One-way NumPy rules: each input dim equals the target's or is 1. */
  for (int i = 0; i < x->rank; i++) {
    int64_t d = x->shape[x->rank - 1 - i], t = shape[rank - 1 - i];
    if (d != t && d != 1)
      return ct_error(CT_INVALID_ARGUMENT, "broadcast_to: Unable to broadcast tensor of shape %s to tensor of shape %s",
                      sx, ss);
  }
  return ct_op_run(ctx, CT_OP_BROADCAST_TO, x->dtype, &x, 1, shape, rank, x->dtype, NULL, out);
}

/* ---- unsorted_segment_sum ----------------------------------------------------- */

ct_status ct_unsorted_segment_sum(ct_context *ctx, const ct_tensor *data, const ct_tensor *segment_ids,
                                  int64_t num_segments, ct_tensor **out) {
  static const char name[] = "unsorted_segment_sum";
  if (ctx == NULL || data == NULL || segment_ids == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name,
                    ctx == NULL ? "context" : data == NULL ? "data" : segment_ids == NULL ? "segment_ids" : "out");
  ct_status st = ct_check_dtype(name, data->dtype, CT_DTS_NUMERIC);
  if (st != CT_OK) return st;
  if (!IS_INDEX(segment_ids->dtype))
    return ct_error(CT_INVALID_ARGUMENT, "%s: segment_ids must be int32 or int64, got %s", name,
                    ct_dtype_name(segment_ids->dtype));
  if (num_segments < 0)
    return ct_error(CT_INVALID_ARGUMENT, "%s: Input num_segments == %lld must not be negative.", name,
                    (long long)num_segments);
  bool prefix = segment_ids->rank <= data->rank;
  for (int d = 0; prefix && d < segment_ids->rank; d++) prefix = segment_ids->shape[d] == data->shape[d];
  if (!prefix) {
    char sd[CT_SHAPE_STR_MAX], si[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "%s: data.shape = %s does not start with segment_ids.shape = %s", name,
                    ct_shape_str(data->shape, data->rank, sd, sizeof sd),
                    ct_shape_str(segment_ids->shape, segment_ids->rank, si, sizeof si));
  }
  const int rank = 1 + data->rank - segment_ids->rank;
  if (rank > CT_MAX_RANK) {
    char sd[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "%s: the result would have rank %d (data %s, scalar segment_ids); at most %d",
                    name, rank, ct_shape_str(data->shape, data->rank, sd, sizeof sd), CT_MAX_RANK);
  }
  int64_t shape[CT_MAX_RANK];
  shape[0] = num_segments;
  for (int d = 1; d < rank; d++) shape[d] = data->shape[segment_ids->rank + d - 1];
  st = ct_shape_check(name, shape, rank);
  if (st != CT_OK) return st;
  ct_segment_attrs at = {num_segments};
  const ct_tensor *in[2] = {data, segment_ids};
  return ct_op_run(ctx, CT_OP_UNSORTED_SEGMENT_SUM, data->dtype, in, 2, shape, rank, data->dtype, &at, out);
}

/* ---- index checks shared by the kernels -------------------------------------- */

static int64_t index_at(const ct_tensor *t, const void *data, int64_t i) {
  return t->dtype == CT_INT32 ? ((const int32_t *)data)[i] : ((const int64_t *)data)[i];
}

ct_status ct_sparse_xent_check_labels(const ct_tensor *labels, const void *data, int64_t classes) {
  int64_t bad = -1;
  for (int64_t i = 0; i < labels->numel && bad < 0; i++) {
    int64_t v = index_at(labels, data, i);
    if (v < 0 || v >= classes) bad = i;
  }
  if (bad < 0) return CT_OK;
  /* TensorFlow lists every label; a long batch is cut so that the message
   * still names the bad one first and fits. */
  enum { SHOWN = 32 };
  char list[SHOWN * 21 + 8];
  size_t n = 0;
  for (int64_t i = 0; i < labels->numel && i < SHOWN; i++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%lld", i ? " " : "", (long long)index_at(labels, data, i));
  if (labels->numel > SHOWN) snprintf(list + n, sizeof list - n, "...");
  return ct_error(CT_INVALID_ARGUMENT,
                  "sparse_softmax_cross_entropy_with_logits: Received a label value of %lld which is outside the "
                  "valid range of [0, %lld).  Label values: %s",
                  (long long)index_at(labels, data, bad), (long long)classes, list);
}

ct_status ct_segment_check_ids(const ct_tensor *ids, const void *data, int64_t num_segments) {
  for (int64_t i = 0; i < ids->numel; i++) {
    int64_t v = index_at(ids, data, i);
    if (v < num_segments) continue;
    /* the position as TensorFlow prints it: segment_ids[2,1] */
    char pos[CT_MAX_RANK * 22 + 2] = "";
    size_t n = 0;
    int64_t rem = i, coord[CT_MAX_RANK];
    for (int d = ids->rank - 1; d >= 0; d--) {
      coord[d] = ids->shape[d] ? rem % ids->shape[d] : 0;
      rem = ids->shape[d] ? rem / ids->shape[d] : 0;
    }
    for (int d = 0; d < ids->rank; d++)
      n += (size_t)snprintf(pos + n, sizeof pos - n, "%s%lld", d ? "," : "", (long long)coord[d]);
    return ct_error(CT_INVALID_ARGUMENT, "unsorted_segment_sum: segment_ids%s%s%s = %lld is out of range [0, %lld)",
                    n ? "[" : "", pos, n ? "]" : "", (long long)v, (long long)num_segments);
  }
  return CT_OK;
}
