/*
 * Front-end of matmul: rank 2 or 3 operands, transpose flags, NumPy batch
 * broadcasting of the leading dimension ([B,m,k] x [k,n], [1,m,k] x
 * [B,k,n], ...). The output is [m,n] for two matrices, else [B,m,n].
 * Dtypes: float32 and float64 (BLAS), float16 and bfloat16 (computed in
 * float32), int32 and int64 (exact, wrapping on overflow like TensorFlow's
 * int32 MatMul).
 */
#include "core/ops_internal.h"

static bool matmul_dtype_ok(ct_dtype d) { return d != CT_BOOL && (unsigned)d < CT_DTYPE_COUNT; }

ct_status ct_matmul(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, bool transpose_a, bool transpose_b,
                    ct_tensor **out) {
  if (ctx == NULL || a == NULL || b == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "matmul: NULL %s", ctx == NULL ? "context" : a == NULL ? "a" : b == NULL ? "b" : "out");
  char sa[CT_SHAPE_STR_MAX], sb[CT_SHAPE_STR_MAX];
  ct_shape_str(a->shape, a->rank, sa, sizeof sa);
  ct_shape_str(b->shape, b->rank, sb, sizeof sb);
  if (a->dtype != b->dtype)
    return ct_error(CT_INVALID_ARGUMENT, "matmul: dtypes differ: a is %s, b is %s", ct_dtype_name(a->dtype),
                    ct_dtype_name(b->dtype));
  if (!matmul_dtype_ok(a->dtype))
    return ct_error(CT_INVALID_ARGUMENT, "matmul: dtype %s is not supported", ct_dtype_name(a->dtype));
  if (a->rank < 2 || a->rank > 3 || b->rank < 2 || b->rank > 3)
    return ct_error(CT_INVALID_ARGUMENT, "matmul: operands must have rank 2 or 3: a is %s, b is %s", sa, sb);

  int ra = a->rank, rb = b->rank;
  int64_t m = transpose_a ? a->shape[ra - 1] : a->shape[ra - 2];
  int64_t ka = transpose_a ? a->shape[ra - 2] : a->shape[ra - 1];
  int64_t kb = transpose_b ? b->shape[rb - 1] : b->shape[rb - 2];
  int64_t n = transpose_b ? b->shape[rb - 2] : b->shape[rb - 1];
  if (ka != kb)
    return ct_error(CT_INVALID_ARGUMENT, "matmul: inner dimensions differ: a is %s%s, b is %s%s", sa,
                    transpose_a ? " (transposed)" : "", sb, transpose_b ? " (transposed)" : "");

  int64_t shape[3];
  int rank = 2;
  if (ra == 3 || rb == 3) {
    int64_t ba = ra == 3 ? a->shape[0] : 1, bb = rb == 3 ? b->shape[0] : 1;
    if (ba != bb && ba != 1 && bb != 1)
      return ct_error(CT_INVALID_ARGUMENT, "matmul: batch dimensions differ: a is %s, b is %s", sa, sb);
    shape[0] = ba == 1 ? bb : ba;
    rank = 3;
  }
  shape[rank - 2] = m;
  shape[rank - 1] = n;
  ct_matmul_attrs attrs = {transpose_a, transpose_b};
  const ct_tensor *in[2] = {a, b};
  return ct_op_run(ctx, CT_OP_MATMUL, a->dtype, in, 2, shape, rank, a->dtype, &attrs, out);
}
