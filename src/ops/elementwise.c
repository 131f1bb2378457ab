/*
 * Front-ends of the elementwise ops: binary arithmetic with NumPy
 * broadcasting, comparisons (bool results), unary math, and cast. They check
 * dtypes and shapes, infer the output and dispatch; semantics are in
 * docs/ops.md.
 */
#include "ops/broadcast.h"
#include "ops/op_check.h"

static ct_status binary(ct_context *ctx, ct_op op, unsigned allowed, const ct_tensor *a, const ct_tensor *b,
                        ct_tensor **out) {
  const char *name = ct_op_name(op);
  if (ctx == NULL || a == NULL || b == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name,
                    ctx == NULL ? "context" : a == NULL ? "a" : b == NULL ? "b" : "out");
  if (a->dtype != b->dtype)
    return ct_error(CT_INVALID_ARGUMENT, "%s: dtypes differ: %s and %s", name, ct_dtype_name(a->dtype),
                    ct_dtype_name(b->dtype));
  ct_status st = ct_check_dtype(name, a->dtype, allowed);
  if (st != CT_OK) return st;
  int64_t shape[CT_MAX_RANK];
  int rank;
  if (!ct_broadcast_shape(a->shape, a->rank, b->shape, b->rank, shape, &rank)) {
    char sa[CT_SHAPE_STR_MAX], sb[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT, "%s: shapes %s and %s are not broadcastable", name,
                    ct_shape_str(a->shape, a->rank, sa, sizeof sa), ct_shape_str(b->shape, b->rank, sb, sizeof sb));
  }
  ct_dtype odt = a->dtype;
  if (op >= CT_OP_EQUAL && op <= CT_OP_GREATER_EQUAL)
    odt = CT_BOOL;
  else if (op == CT_OP_DIV && (odt == CT_INT32 || odt == CT_INT64))
    odt = CT_FLOAT64; /* true division, as tf.math.divide */
  const ct_tensor *in[2] = {a, b};
  return ct_op_run(ctx, op, a->dtype, in, 2, shape, rank, odt, NULL, out);
}

#define BINARY(fn, op, allowed)                                                           \
  ct_status fn(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out) { \
    return binary(ctx, op, allowed, a, b, out);                                           \
  }

BINARY(ct_add, CT_OP_ADD, CT_DTS_NUMERIC)
BINARY(ct_sub, CT_OP_SUB, CT_DTS_NUMERIC)
BINARY(ct_mul, CT_OP_MUL, CT_DTS_NUMERIC)
BINARY(ct_div, CT_OP_DIV, CT_DTS_NUMERIC)
BINARY(ct_maximum, CT_OP_MAXIMUM, CT_DTS_NUMERIC)
BINARY(ct_minimum, CT_OP_MINIMUM, CT_DTS_NUMERIC)
BINARY(ct_pow, CT_OP_POW, CT_DTS_NUMERIC)
BINARY(ct_floor_div, CT_OP_FLOOR_DIV, CT_DTS_NUMERIC)
BINARY(ct_floor_mod, CT_OP_FLOOR_MOD, CT_DTS_NUMERIC)
BINARY(ct_equal, CT_OP_EQUAL, CT_DTS_ALL)
BINARY(ct_not_equal, CT_OP_NOT_EQUAL, CT_DTS_ALL)
BINARY(ct_less, CT_OP_LESS, CT_DTS_NUMERIC)
BINARY(ct_less_equal, CT_OP_LESS_EQUAL, CT_DTS_NUMERIC)
BINARY(ct_greater, CT_OP_GREATER, CT_DTS_NUMERIC)
BINARY(ct_greater_equal, CT_OP_GREATER_EQUAL, CT_DTS_NUMERIC)

static ct_status unary(ct_context *ctx, ct_op op, unsigned allowed, const ct_tensor *x, ct_tensor **out) {
  const char *name = ct_op_name(op);
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", name, ctx == NULL ? "context" : x == NULL ? "x" : "out");
  ct_status st = ct_check_dtype(name, x->dtype, allowed);
  if (st != CT_OK) return st;
  return ct_op_run(ctx, op, x->dtype, &x, 1, x->shape, x->rank, x->dtype, NULL, out);
}

#define UNARY(fn, op, allowed) \
  ct_status fn(ct_context *ctx, const ct_tensor *x, ct_tensor **out) { return unary(ctx, op, allowed, x, out); }

UNARY(ct_neg, CT_OP_NEG, CT_DTS_NUMERIC)
UNARY(ct_abs, CT_OP_ABS, CT_DTS_NUMERIC)
UNARY(ct_exp, CT_OP_EXP, CT_DTS_FLOAT)
UNARY(ct_log, CT_OP_LOG, CT_DTS_FLOAT)
UNARY(ct_sqrt, CT_OP_SQRT, CT_DTS_FLOAT)
UNARY(ct_tanh, CT_OP_TANH, CT_DTS_FLOAT)
UNARY(ct_sigmoid, CT_OP_SIGMOID, CT_DTS_FLOAT)
UNARY(ct_relu, CT_OP_RELU, CT_DTS_NUMERIC)
UNARY(ct_square, CT_OP_SQUARE, CT_DTS_NUMERIC)

ct_status ct_cast(ct_context *ctx, const ct_tensor *x, ct_dtype dtype, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "cast: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  ct_status st = ct_check_dtype("cast", dtype, CT_DTS_ALL);
  if (st != CT_OK) return st;
  return ct_op_run(ctx, CT_OP_CAST, x->dtype, &x, 1, x->shape, x->rank, dtype, NULL, out);
}
