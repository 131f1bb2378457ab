/* Front-ends of the creation ops: fill, zeros, ones, range. */
#include <math.h>

#include "ops/op_check.h"

static ct_status fill(ct_context *ctx, const char *name, ct_dtype dtype, const int64_t *shape, int rank, double value,
                      ct_tensor **out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name, ctx == NULL ? "context" : "out");
  ct_status st = ct_check_dtype(name, dtype, CT_DTS_ALL);
  if (st != CT_OK) return st;
  st = ct_shape_check(name, shape, rank);
  if (st != CT_OK) return st;
  ct_fill_attrs at = {value};
  return ct_op_run(ctx, CT_OP_FILL, dtype, NULL, 0, shape, rank, dtype, &at, out);
}

ct_status ct_fill(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, double value, ct_tensor **out) {
  return fill(ctx, "fill", dtype, shape, rank, value, out);
}

ct_status ct_zeros(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, ct_tensor **out) {
  return fill(ctx, "zeros", dtype, shape, rank, 0.0, out);
}

ct_status ct_ones(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, ct_tensor **out) {
  return fill(ctx, "ones", dtype, shape, rank, 1.0, out);
}

/* Largest element count range accepts (as ct_shape_check). */
#define RANGE_MAX_SIZE ((double)((int64_t)1 << 56))

ct_status ct_range(ct_context *ctx, ct_dtype dtype, double start, double limit, double delta, ct_tensor **out) {
  if (ctx == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "range: NULL %s", ctx == NULL ? "context" : "out");
  ct_status st = ct_check_dtype("range", dtype, CT_DTS_NUMERIC);
  if (st != CT_OK) return st;
  if (!isfinite(start) || !isfinite(limit) || !isfinite(delta))
    return ct_error(CT_INVALID_ARGUMENT, "range: start, limit and delta must be finite, got %g, %g, %g", start, limit,
                    delta);
  if (delta == 0) return ct_error(CT_INVALID_ARGUMENT, "range: delta must not be 0");
  if (delta > 0 && start > limit)
    return ct_error(CT_INVALID_ARGUMENT, "range: requires start <= limit when delta > 0: %g/%g", start, limit);
  if (delta < 0 && start < limit)
    return ct_error(CT_INVALID_ARGUMENT, "range: requires start >= limit when delta < 0: %g/%g", start, limit);
  double size;
  if (dtype == CT_INT32 || dtype == CT_INT64) {
        const double bound = dtype == CT_INT32 ? 2147483647.0 : 4611686018427387904.0;
    const double v[3] = {start, limit, delta};
    for (int i = 0; i < 3; i++)
      if (v[i] != floor(v[i]) || fabs(v[i]) > bound)
        return ct_error(CT_INVALID_ARGUMENT, "range: %s %g is not a whole number in the range of %s",
                        i == 0 ? "start" : i == 1 ? "limit" : "delta", v[i], ct_dtype_name(dtype));
    /* exact: every value is a whole number below 2^62 in magnitude */
    const int64_t s = (int64_t)start, l = (int64_t)limit;
    const uint64_t span = l >= s ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
    const uint64_t step = (uint64_t)(int64_t)fabs(delta);
    size = (double)((span + step - 1) / step);
  } else {
    size = ceil(fabs((limit - start) / delta));
  }
  if (!(size <= RANGE_MAX_SIZE))
    return ct_error(CT_INVALID_ARGUMENT, "range: %g elements are too many (start %g, limit %g, delta %g)", size, start,
                    limit, delta);
  int64_t shape[1] = {(int64_t)size};
  ct_range_attrs at = {start, delta};
  return ct_op_run(ctx, CT_OP_RANGE, dtype, NULL, 0, shape, 1, dtype, &at, out);
}
