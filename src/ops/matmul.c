/*
 * Front-end of matmul: rank 2 or more, transpose flags, NumPy batch
 * broadcasting ([B,m,k] x [k,n], [1,m,k] x [B,k,n], [2,1,m,k] x [3,k,n]
 * ...). Rank 3 is the kernels' form; more batch dimensions are flattened
 * to one around it. The output is [m,n] for two matrices, else the
 * broadcast batch shape + [m,n].
 * Dtypes: float32 and float64 (BLAS), float16 and bfloat16 (computed in
 * float32), int32 and int64 (exact, wrapping on overflow like TensorFlow's
 * int32 MatMul).
 */
#include <string.h>

#include "core/ops_internal.h"

static bool matmul_dtype_ok(ct_dtype d) { return d != CT_BOOL && (unsigned)d < CT_DTYPE_COUNT; }

/* One operand brought to rank 3 [nb, r, c] (or rank 2 when its batch is
 * all ones: a matrix shared by the whole batch). A batch that is the
 * output's batch is only a view; one that broadcasts inside (a [2,1]
 * batch against [2,3]) is copied out to the output's batch first. */
static ct_status flatten_batch(ct_context *ctx, const ct_tensor *x, const int64_t *batch, int nbd, int64_t nb,
                               ct_tensor **out) {
  int lead = nbd - (x->rank - 2);
  int64_t own = 1;
  bool same = true;
  for (int i = 0; i < nbd; i++) {
    int64_t d = i < lead ? 1 : x->shape[i - lead];
    own *= d;
    same &= d == batch[i];
  }
  int64_t r = x->shape[x->rank - 2], c = x->shape[x->rank - 1];
  if (own == 1 && !same) {
    int64_t shape[2] = {r, c};
    return ct_reshape(ctx, x, shape, 2, out);
  }
  int64_t shape3[3] = {nb, r, c};
  if (same) return ct_reshape(ctx, x, shape3, 3, out);
  int64_t full[CT_MAX_RANK];
  memcpy(full, batch, sizeof(int64_t) * (size_t)nbd);
  full[nbd] = r;
  full[nbd + 1] = c;
  ct_tensor *wide;
  ct_status st = ct_broadcast_to(ctx, x, full, nbd + 2, &wide);
  if (st != CT_OK) return st;
  st = ct_reshape(ctx, wide, shape3, 3, out);
  ct_tensor_release(wide);
  return st;
}

/* More than one batch dimension (TensorFlow's BatchMatMulV2): the batch
 * dimensions broadcast like NumPy's, the operands are flattened to one
 * batch dimension, the rank-3 matmul runs, and its result is given the
 * broadcast batch shape back. Made of ops, so the tape differentiates it
 * with no gradient of its own. */
static ct_status matmul_batched(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, bool ta, bool tb,
                                const char *sa, const char *sb, ct_tensor **out) {
  int nba = a->rank - 2, nbb = b->rank - 2, nbd = nba > nbb ? nba : nbb;
  int64_t batch[CT_MAX_RANK], nb = 1;
  for (int i = 0; i < nbd; i++) {
    int ia = i - (nbd - nba), ib = i - (nbd - nbb);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return ct_error(CT_INVALID_ARGUMENT, "matmul: batch dimensions are not broadcastable: a is %s, b is %s", sa, sb);
    batch[i] = da == 1 ? db : da;
    nb *= batch[i];
  }
  ct_tensor *a3 = NULL, *b3 = NULL, *y3 = NULL;
  ct_status st = flatten_batch(ctx, a, batch, nbd, nb, &a3);
  if (st == CT_OK) st = flatten_batch(ctx, b, batch, nbd, nb, &b3);
  if (st == CT_OK) st = ct_matmul(ctx, a3, b3, ta, tb, &y3);
  if (st == CT_OK) {
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, batch, sizeof(int64_t) * (size_t)nbd);
    shape[nbd] = y3->shape[y3->rank - 2];
    shape[nbd + 1] = y3->shape[y3->rank - 1];
    st = ct_reshape(ctx, y3, shape, nbd + 2, out);
  }
  ct_tensor_release(a3);
  ct_tensor_release(b3);
  ct_tensor_release(y3);
  return st;
}

/* Both shapes as text, for an error message only: formatting them on every
 * call cost two snprintf loops per matmul, a few percent of a small
 * training step (bench/train.py's digits MLP). */
static void shapes_str(const ct_tensor *a, const ct_tensor *b, char *sa, char *sb) {
  ct_shape_str(a->shape, a->rank, sa, CT_SHAPE_STR_MAX);
  ct_shape_str(b->shape, b->rank, sb, CT_SHAPE_STR_MAX);
}

ct_status ct_matmul(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, bool transpose_a, bool transpose_b,
                    ct_tensor **out) {
  if (ctx == NULL || a == NULL || b == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "matmul: NULL %s", ctx == NULL ? "context" : a == NULL ? "a" : b == NULL ? "b" : "out");
  char sa[CT_SHAPE_STR_MAX], sb[CT_SHAPE_STR_MAX];
  if (a->dtype != b->dtype)
    return ct_error(CT_INVALID_ARGUMENT, "matmul: dtypes differ: a is %s, b is %s", ct_dtype_name(a->dtype),
                    ct_dtype_name(b->dtype));
  if (!matmul_dtype_ok(a->dtype))
    return ct_error(CT_INVALID_ARGUMENT, "matmul: dtype %s is not supported", ct_dtype_name(a->dtype));
  if (a->rank < 2 || b->rank < 2) {
    shapes_str(a, b, sa, sb);
    return ct_error(CT_INVALID_ARGUMENT, "matmul: operands must have rank 2 or more: a is %s, b is %s", sa, sb);
  }
  if (a->rank > 3 || b->rank > 3) {
    shapes_str(a, b, sa, sb);
    return matmul_batched(ctx, a, b, transpose_a, transpose_b, sa, sb, out);
  }

  int ra = a->rank, rb = b->rank;
  int64_t m = transpose_a ? a->shape[ra - 1] : a->shape[ra - 2];
  int64_t ka = transpose_a ? a->shape[ra - 2] : a->shape[ra - 1];
  int64_t kb = transpose_b ? b->shape[rb - 1] : b->shape[rb - 2];
  int64_t n = transpose_b ? b->shape[rb - 2] : b->shape[rb - 1];
  if (ka != kb) {
    shapes_str(a, b, sa, sb);
    return ct_error(CT_INVALID_ARGUMENT, "matmul: inner dimensions differ: a is %s%s, b is %s%s", sa,
                    transpose_a ? " (transposed)" : "", sb, transpose_b ? " (transposed)" : "");
  }

  int64_t shape[3];
  int rank = 2;
  if (ra == 3 || rb == 3) {
    int64_t ba = ra == 3 ? a->shape[0] : 1, bb = rb == 3 ? b->shape[0] : 1;
    if (ba != bb && ba != 1 && bb != 1) {
      shapes_str(a, b, sa, sb);
      return ct_error(CT_INVALID_ARGUMENT, "matmul: batch dimensions differ: a is %s, b is %s", sa, sb);
    }
    shape[0] = ba == 1 ? bb : ba;
    rank = 3;
  }
  shape[rank - 2] = m;
  shape[rank - 1] = n;
  ct_matmul_attrs attrs = {transpose_a, transpose_b};
  const ct_tensor *in[2] = {a, b};
  return ct_op_run(ctx, CT_OP_MATMUL, a->dtype, in, 2, shape, rank, a->dtype, &attrs, out);
}
