/*
 * Front-ends of the reductions (sum, mean, max, min over a set of axes),
 * argmax and softmax: axis checks, output shapes, dispatch. Semantics are
 * in docs/ops.md.
 */
#include <string.h>

#include "ops/op_check.h"

static ct_status axis_error(const char *name, int axis, const ct_tensor *x) {
  char buf[CT_SHAPE_STR_MAX];
  return ct_error(CT_INVALID_ARGUMENT, "%s: axis %d is out of range for shape %s (rank %d)", name, axis,
                  ct_shape_str(x->shape, x->rank, buf, sizeof buf), x->rank);
}

static ct_status reduce(ct_context *ctx, ct_op op, const ct_tensor *x, const int *axes, int n_axes, bool keepdims,
                        ct_tensor **out) {
  const char *name = ct_op_name(op);
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name, ctx == NULL ? "context" : x == NULL ? "x" : "out");
  ct_status st = ct_check_dtype(name, x->dtype, CT_DTS_NUMERIC);
  if (st != CT_OK) return st;
  ct_reduce_attrs at;
  memset(&at, 0, sizeof at);
  at.keepdims = keepdims;
  if (axes == NULL) {
    for (int i = 0; i < x->rank; i++) at.reduce[i] = 1;
  } else {
    if (n_axes < 0) return ct_error(CT_INVALID_ARGUMENT, "%s: n_axes is negative (%d)", name, n_axes);
    /* a repeated axis is reduced once, as in TensorFlow */
    for (int k = 0; k < n_axes; k++) {
      int a = axes[k];
      if (a < -x->rank || a >= x->rank) return axis_error(name, a, x);
      at.reduce[a < 0 ? a + x->rank : a] = 1;
    }
  }
  int64_t shape[CT_MAX_RANK];
  int rank = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!at.reduce[i])
      shape[rank++] = x->shape[i];
    else if (keepdims)
      shape[rank++] = 1;
  }
  return ct_op_run(ctx, op, x->dtype, &x, 1, shape, rank, x->dtype, &at, out);
}

ct_status ct_reduce_sum(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes, bool keepdims,
                        ct_tensor **out) {
  return reduce(ctx, CT_OP_SUM, x, axes, n_axes, keepdims, out);
}

ct_status ct_reduce_mean(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes, bool keepdims,
                         ct_tensor **out) {
  return reduce(ctx, CT_OP_MEAN, x, axes, n_axes, keepdims, out);
}

ct_status ct_reduce_max(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes, bool keepdims,
                        ct_tensor **out) {
  return reduce(ctx, CT_OP_MAX, x, axes, n_axes, keepdims, out);
}

ct_status ct_reduce_min(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes, bool keepdims,
                        ct_tensor **out) {
  return reduce(ctx, CT_OP_MIN, x, axes, n_axes, keepdims, out);
}

ct_status ct_argmax(ct_context *ctx, const ct_tensor *x, int axis, ct_dtype out_dtype, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "argmax: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  if (out_dtype != CT_INT32 && out_dtype != CT_INT64)
    return ct_error(CT_INVALID_ARGUMENT, "argmax: output dtype must be int32 or int64, not %s",
                    ct_dtype_name(out_dtype));
  if (axis < -x->rank || axis >= x->rank) return axis_error("argmax", axis, x);
  if (axis < 0) axis += x->rank;
  char buf[CT_SHAPE_STR_MAX];
  if (x->shape[axis] == 0)
    return ct_error(CT_INVALID_ARGUMENT, "argmax: reduction axis %d is empty in shape %s", axis,
                    ct_shape_str(x->shape, x->rank, buf, sizeof buf));
  if (out_dtype == CT_INT32 && x->shape[axis] > INT32_MAX)
    return ct_error(CT_INVALID_ARGUMENT, "argmax: axis %d of shape %s is too long for int32 indices", axis,
                    ct_shape_str(x->shape, x->rank, buf, sizeof buf));
  int64_t shape[CT_MAX_RANK];
  int rank = 0;
  for (int i = 0; i < x->rank; i++)
    if (i != axis) shape[rank++] = x->shape[i];
  ct_axis_attrs at = {axis};
  return ct_op_run(ctx, CT_OP_ARGMAX, x->dtype, &x, 1, shape, rank, out_dtype, &at, out);
}

ct_status ct_softmax(ct_context *ctx, const ct_tensor *x, int axis, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "softmax: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  ct_status st = ct_check_dtype("softmax", x->dtype, CT_DTS_FLOAT);
  if (st != CT_OK) return st;
  if (x->rank == 0) return ct_error(CT_INVALID_ARGUMENT, "softmax: logits must have at least 1 dimension, got shape []");
  if (axis < -x->rank || axis >= x->rank) return axis_error("softmax", axis, x);
  ct_axis_attrs at = {axis < 0 ? axis + x->rank : axis};
  return ct_op_run(ctx, CT_OP_SOFTMAX, x->dtype, &x, 1, x->shape, x->rank, x->dtype, &at, out);
}
