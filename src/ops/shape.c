/*
 * Front-ends of the shape ops. reshape makes a view (no copy, no kernel:
 * the result lives where its input lives); transpose, concat, slice and
 * gather check their arguments, infer the output shape and dispatch.
 */
#include <stdio.h>

#include "core/ops_internal.h"

static const char *ints_str(const int *v, int n, char *buf, size_t size) {
  int64_t tmp[CT_MAX_RANK];
  for (int i = 0; i < n && i < CT_MAX_RANK; i++) tmp[i] = v[i];
  return ct_shape_str(tmp, n < CT_MAX_RANK ? n : CT_MAX_RANK, buf, size);
}

ct_status ct_reshape(ct_context *ctx, const ct_tensor *x, const int64_t *shape, int rank, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "reshape: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  if (rank < 0 || rank > CT_MAX_RANK)
    return ct_error(CT_INVALID_ARGUMENT, "reshape: rank %d is outside 0..%d", rank, CT_MAX_RANK);
  if (rank > 0 && shape == NULL) return ct_error(CT_INVALID_ARGUMENT, "reshape: NULL shape with rank %d", rank);
  char sx[CT_SHAPE_STR_MAX], ss[CT_SHAPE_STR_MAX];
  ct_shape_str(x->shape, x->rank, sx, sizeof sx);
  ct_shape_str(shape, rank, ss, sizeof ss);
  int64_t resolved[CT_MAX_RANK];
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < rank; i++) {
    resolved[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) return ct_error(CT_INVALID_ARGUMENT, "reshape: more than one -1 in shape %s", ss);
      infer = i;
    } else if (shape[i] < 0) {
      return ct_error(CT_INVALID_ARGUMENT, "reshape: negative dimension %lld in shape %s", (long long)shape[i], ss);
    } else {
      if (shape[i] != 0 && known > INT64_MAX / shape[i])
        return ct_error(CT_INVALID_ARGUMENT, "reshape: shape %s has too many elements", ss);
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x->numel % known != 0)
      return ct_error(CT_INVALID_ARGUMENT, "reshape: cannot reshape x of shape %s (%lld elements) into %s", sx,
                      (long long)x->numel, ss);
    resolved[infer] = x->numel / known;
    known = x->numel;
  }
  if (known != x->numel)
    return ct_error(CT_INVALID_ARGUMENT, "reshape: cannot reshape x of shape %s (%lld elements) into %s (%lld elements)",
                    sx, (long long)x->numel, ss, (long long)known);
  ct_status s = ct_tensor_view(x, resolved, rank, out);
  /* A view runs no kernel, so dispatch never sees it: offered to the
   * thread's tapes here (its gradient reshapes back). */
  if (s == CT_OK && ct_tl_tapes != NULL) {
    s = ct_tape_record_op(ctx, x->device, CT_OP_RESHAPE, &x, 1, *out, NULL);
    if (s != CT_OK) {
      ct_tensor_release(*out);
      *out = NULL;
    }
  }
  if (s == CT_OK) ct_error_clear();
  return s;
}

ct_status ct_transpose(ct_context *ctx, const ct_tensor *x, const int *perm, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "transpose: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  int rank = x->rank;
  ct_transpose_attrs attrs;
  unsigned seen = 0;
  for (int i = 0; i < rank; i++) {
    int p = perm ? perm[i] : rank - 1 - i;
    if (p < 0 || p >= rank || (seen & (1u << p))) {
      char sp[CT_SHAPE_STR_MAX], sx[CT_SHAPE_STR_MAX];
      return ct_error(CT_INVALID_ARGUMENT, "transpose: perm %s is not a permutation of the axes of x of shape %s",
                      ints_str(perm, rank, sp, sizeof sp), ct_shape_str(x->shape, rank, sx, sizeof sx));
    }
    seen |= 1u << p;
    attrs.perm[i] = p;
  }
  int64_t shape[CT_MAX_RANK];
  for (int i = 0; i < rank; i++) shape[i] = x->shape[attrs.perm[i]];
  const ct_tensor *in[1] = {x};
  return ct_op_run(ctx, CT_OP_TRANSPOSE, x->dtype, in, 1, shape, rank, x->dtype, &attrs, out);
}

ct_status ct_concat(ct_context *ctx, const ct_tensor *const *xs, int n, int axis, ct_tensor **out) {
  if (ctx == NULL || xs == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "concat: NULL %s", ctx == NULL ? "context" : xs == NULL ? "xs" : "out");
  if (n < 1 || n > CT_MAX_INPUTS)
    return ct_error(CT_INVALID_ARGUMENT, "concat: needs 1 to %d tensors, got %d", CT_MAX_INPUTS, n);
  for (int i = 0; i < n; i++)
    if (xs[i] == NULL) return ct_error(CT_INVALID_ARGUMENT, "concat: xs[%d] is NULL", i);
  const ct_tensor *x0 = xs[0];
  int rank = x0->rank;
  char s0[CT_SHAPE_STR_MAX], si[CT_SHAPE_STR_MAX];
  ct_shape_str(x0->shape, rank, s0, sizeof s0);
  if (rank == 0) return ct_error(CT_INVALID_ARGUMENT, "concat: cannot concatenate scalars (xs[0] has shape [])");
  int ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank)
    return ct_error(CT_INVALID_ARGUMENT, "concat: axis %d is out of range for rank %d (shape %s)", axis, rank, s0);
  int64_t shape[CT_MAX_RANK];
  for (int d = 0; d < rank; d++) shape[d] = x0->shape[d];
  for (int i = 1; i < n; i++) {
    const ct_tensor *xi = xs[i];
    ct_shape_str(xi->shape, xi->rank, si, sizeof si);
    if (xi->dtype != x0->dtype)
      return ct_error(CT_INVALID_ARGUMENT, "concat: dtypes differ: xs[0] is %s, xs[%d] is %s",
                      ct_dtype_name(x0->dtype), i, ct_dtype_name(xi->dtype));
    if (xi->rank != rank)
      return ct_error(CT_INVALID_ARGUMENT, "concat: ranks differ: xs[0] is %s, xs[%d] is %s", s0, i, si);
    for (int d = 0; d < rank; d++)
      if (d != ax && xi->shape[d] != x0->shape[d])
        return ct_error(CT_INVALID_ARGUMENT, "concat: shapes differ outside axis %d: xs[0] is %s, xs[%d] is %s", ax,
                        s0, i, si);
    shape[ax] += xi->shape[ax];
  }
  ct_axis_attrs attrs = {ax};
  return ct_op_run(ctx, CT_OP_CONCAT, x0->dtype, xs, n, shape, rank, x0->dtype, &attrs, out);
}

ct_status ct_slice(ct_context *ctx, const ct_tensor *x, const int64_t *begin, const int64_t *size, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "slice: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  int rank = x->rank;
  if (rank > 0 && (begin == NULL || size == NULL))
    return ct_error(CT_INVALID_ARGUMENT, "slice: NULL %s for x of rank %d", begin == NULL ? "begin" : "size", rank);
  ct_slice_attrs attrs;
  int64_t shape[CT_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    int64_t dim = x->shape[d], b = begin[d], s = size[d];
    if (s == -1 && b >= 0 && b <= dim) s = dim - b;
    if (b < 0 || b > dim || s < 0 || s > dim - b) {
      char sx[CT_SHAPE_STR_MAX], sb[CT_SHAPE_STR_MAX], ss[CT_SHAPE_STR_MAX];
      return ct_error(CT_INVALID_ARGUMENT,
                      "slice: begin %s and size %s are out of bounds for x of shape %s (axis %d: begin %lld, size %lld, "
                      "dimension %lld)",
                      ct_shape_str(begin, rank, sb, sizeof sb), ct_shape_str(size, rank, ss, sizeof ss),
                      ct_shape_str(x->shape, rank, sx, sizeof sx), d, (long long)b, (long long)size[d],
                      (long long)dim);
    }
    attrs.begin[d] = b;
    shape[d] = s;
  }
  const ct_tensor *in[1] = {x};
  return ct_op_run(ctx, CT_OP_SLICE, x->dtype, in, 1, shape, rank, x->dtype, &attrs, out);
}

ct_status ct_gather(ct_context *ctx, const ct_tensor *params, const ct_tensor *indices, int axis, ct_tensor **out) {
  if (ctx == NULL || params == NULL || indices == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "gather: NULL %s",
                    ctx == NULL ? "context" : params == NULL ? "params" : indices == NULL ? "indices" : "out");
  char sp[CT_SHAPE_STR_MAX], si[CT_SHAPE_STR_MAX];
  ct_shape_str(params->shape, params->rank, sp, sizeof sp);
  ct_shape_str(indices->shape, indices->rank, si, sizeof si);
  if (indices->dtype != CT_INT32 && indices->dtype != CT_INT64)
    return ct_error(CT_INVALID_ARGUMENT, "gather: indices must be int32 or int64, got %s",
                    ct_dtype_name(indices->dtype));
  if (params->rank == 0) return ct_error(CT_INVALID_ARGUMENT, "gather: params must be at least rank 1, got shape []");
  int ax = axis < 0 ? axis + params->rank : axis;
  if (ax < 0 || ax >= params->rank)
    return ct_error(CT_INVALID_ARGUMENT, "gather: axis %d is out of range for params of shape %s (rank %d)", axis, sp,
                    params->rank);
  int rank = params->rank - 1 + indices->rank;
  if (rank > CT_MAX_RANK)
    return ct_error(CT_INVALID_ARGUMENT, "gather: the result would have rank %d (params %s, indices %s); at most %d",
                    rank, sp, si, CT_MAX_RANK);
  int64_t shape[CT_MAX_RANK];
  int r = 0;
  for (int d = 0; d < ax; d++) shape[r++] = params->shape[d];
  for (int d = 0; d < indices->rank; d++) shape[r++] = indices->shape[d];
  for (int d = ax + 1; d < params->rank; d++) shape[r++] = params->shape[d];
  ct_gather_attrs attrs = {ax};
  const ct_tensor *in[2] = {params, indices};
  return ct_op_run(ctx, CT_OP_GATHER, params->dtype, in, 2, shape, rank, params->dtype, &attrs, out);
}

ct_status ct_gather_check_indices(const ct_tensor *indices, const void *data, int64_t dim) {
  for (int64_t i = 0; i < indices->numel; i++) {
    int64_t v = indices->dtype == CT_INT32 ? ((const int32_t *)data)[i] : ((const int64_t *)data)[i];
    if (v >= 0 && v < dim) continue;
    /* the position as TensorFlow prints it: indices[2,1] */
    char pos[CT_MAX_RANK * 22 + 2] = "";
    size_t n = 0;
    int64_t rem = i, coord[CT_MAX_RANK];
    for (int d = indices->rank - 1; d >= 0; d--) {
      coord[d] = indices->shape[d] ? rem % indices->shape[d] : 0;
      rem = indices->shape[d] ? rem / indices->shape[d] : 0;
    }
    for (int d = 0; d < indices->rank; d++)
      n += (size_t)snprintf(pos + n, sizeof pos - n, "%s%lld", d ? "," : "", (long long)coord[d]);
    return ct_error(CT_INVALID_ARGUMENT, "gather: indices%s%s%s = %lld is not in [0, %lld)", n ? "[" : "", pos,
                    n ? "]" : "", (long long)v, (long long)dim);
  }
  return CT_OK;
}
