/*
 * Front-ends of random_uniform, random_normal and truncated_normal: check
 * the arguments, then dispatch. The values depend only on (seed, offset,
 * element index) — docs/random.md — so the op has no state to keep.
 */
#include <math.h>

#include "core/ops_internal.h"

static ct_status random_op(ct_context *ctx, ct_op op, ct_dtype dtype, const int64_t *shape, int rank,
                           double a, double b, uint64_t seed, uint64_t offset, ct_tensor **out) {
  const char *name = ct_op_name(op);
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name, ctx ? "out" : "context");
  if (dtype != CT_FLOAT32 && dtype != CT_FLOAT64 && dtype != CT_FLOAT16 && dtype != CT_BFLOAT16)
    return ct_error(CT_INVALID_ARGUMENT, "%s: dtype %s is not supported (float32, float64, float16 or bfloat16)",
                    name, ct_dtype_name(dtype));
  ct_status s = ct_shape_check(name, shape, rank);
  if (s != CT_OK) return s;
  if (op == CT_OP_RANDOM_UNIFORM) {
    if (!isfinite(a) || !isfinite(b))
      return ct_error(CT_INVALID_ARGUMENT, "%s: minval %g and maxval %g must be finite", name, a, b);
    if (a > b) return ct_error(CT_INVALID_ARGUMENT, "%s: minval %g is greater than maxval %g", name, a, b);
  } else {
    if (!isfinite(a)) return ct_error(CT_INVALID_ARGUMENT, "%s: mean %g must be finite", name, a);
    if (!isfinite(b) || b < 0)
      return ct_error(CT_INVALID_ARGUMENT, "%s: stddev %g must be finite and non-negative", name, b);
  }
  ct_random_attrs attrs = {a, b, seed, offset};
  return ct_op_run(ctx, op, dtype, NULL, 0, shape, rank, dtype, &attrs, out);
}

ct_status ct_random_uniform(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, double minval,
                            double maxval, uint64_t seed, uint64_t offset, ct_tensor **out) {
  return random_op(ctx, CT_OP_RANDOM_UNIFORM, dtype, shape, rank, minval, maxval, seed, offset, out);
}

ct_status ct_random_normal(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, double mean,
                           double stddev, uint64_t seed, uint64_t offset, ct_tensor **out) {
  return random_op(ctx, CT_OP_RANDOM_NORMAL, dtype, shape, rank, mean, stddev, seed, offset, out);
}

ct_status ct_truncated_normal(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, double mean,
                              double stddev, uint64_t seed, uint64_t offset, ct_tensor **out) {
  return random_op(ctx, CT_OP_TRUNCATED_NORMAL, dtype, shape, rank, mean, stddev, seed, offset, out);
}
