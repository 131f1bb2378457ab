/*
 * One gradient function per differentiable op, and the table that names
 * them (what each needs the tape to hold, how many attribute bytes).
 *
 * Every function is written with public ops, never kernels: it runs under
 * a scope naming the forward op's device, so each op below is placed
 * there, logged and counted, and recorded by any other tape that watches
 * its inputs. The formulas are TensorFlow's (the _grad.py files of python/ops), cited
 * by op where the choice matters (ties, x == 0, broadcasting).
 */
#include <string.h>

#include "autodiff/internal.h"

/* Temporaries of a gradient function: released together at the end. */
typedef struct scratch {
  ct_tensor *t[16];
  int n;
} scratch;

static ct_tensor *keep(scratch *s, ct_tensor *t) {
  if (s->n < (int)CT_ARRAY_LEN(s->t)) s->t[s->n++] = t;
  return t;
}

static void scratch_free(scratch *s) {
  for (int i = 0; i < s->n; i++) ct_tensor_release(s->t[i]);
  s->n = 0;
}

/* TRY(expr producing into &tmp): on failure, jump to `done`. */
#define TRY(expr)           \
  do {                      \
    st = (expr);            \
    if (st != CT_OK) goto done; \
  } while (0)

/* A temporary: the op's result is kept in the scratch list. */
#define TMP(var, call)      \
  do {                      \
    ct_tensor *_r = NULL;   \
    st = (call);            \
    if (st != CT_OK) goto done; \
    var = keep(&s, _r);     \
  } while (0)

static ct_status scalar(ct_context *ctx, ct_dtype dt, double v, ct_tensor **out) {
  return ct_fill(ctx, dt, NULL, 0, v, out);
}

static ct_status zeros_of(ct_context *ctx, const ct_tensor *like, ct_tensor **out) {
  return ct_fill(ctx, like->dtype, like->shape, like->rank, 0.0, out);
}

/* Sums g over the axes broadcasting added to `m` (TensorFlow's
 * BroadcastGradientArgs + reduce_sum + reshape). */
static ct_status unbroadcast(ct_context *ctx, ct_tensor *g, const ct_tape_meta *m, ct_tensor **out) {
  bool same = g->rank == m->rank;
  for (int i = 0; same && i < m->rank; i++) same = g->shape[i] == m->shape[i];
  if (same) {
    *out = ct_tensor_retain(g);
    return CT_OK;
  }
  int axes[CT_MAX_RANK], n = 0, lead = g->rank - m->rank;
  for (int i = 0; i < g->rank; i++)
    if (i < lead || (m->shape[i - lead] == 1 && g->shape[i] != 1)) axes[n++] = i;
  ct_tensor *sum;
  ct_status st = ct_reduce_sum(ctx, g, axes, n, false, &sum);
  if (st != CT_OK) return st;
  st = ct_reshape(ctx, sum, m->shape, m->rank, out);
  ct_tensor_release(sum);
  return st;
}

/* x's shape with the reduced axes kept as 1. */
static void kept_shape(const ct_tape_meta *x, const ct_reduce_attrs *a, int64_t *shape) {
  for (int i = 0; i < x->rank; i++) shape[i] = a->reduce[i] ? 1 : x->shape[i];
}

#define GRAD(name) static ct_status name(ct_context *ctx, const ct_tape_op *op, ct_tensor *const *dy, ct_tensor **dx)

/* ---- elementwise binary -------------------------------------------------- */

GRAD(grad_add) {
  ct_status st = unbroadcast(ctx, dy[0], &op->in[0], &dx[0]);
  if (st == CT_OK) st = unbroadcast(ctx, dy[0], &op->in[1], &dx[1]);
  return st;
}

GRAD(grad_sub) {
  scratch s = {0};
  ct_tensor *neg;
  ct_status st;
  TRY(unbroadcast(ctx, dy[0], &op->in[0], &dx[0]));
  TMP(neg, ct_neg(ctx, dy[0], &_r));
  TRY(unbroadcast(ctx, neg, &op->in[1], &dx[1]));
done:
  scratch_free(&s);
  return st;
}

GRAD(grad_mul) {
  scratch s = {0};
  ct_tensor *gx, *gy;
  ct_status st;
  TMP(gx, ct_mul(ctx, dy[0], op->saved_in[1], &_r));
  TMP(gy, ct_mul(ctx, dy[0], op->saved_in[0], &_r));
  TRY(unbroadcast(ctx, gx, &op->in[0], &dx[0]));
  TRY(unbroadcast(ctx, gy, &op->in[1], &dx[1]));
done:
  scratch_free(&s);
  return st;
}

/* RealDiv: dx = dy / y, dy_y = dy * (-x / y) / y. */
GRAD(grad_div) {
  scratch s = {0};
  ct_tensor *x = op->saved_in[0], *y = op->saved_in[1], *gx, *nx, *q, *q2, *gy;
  ct_status st;
  TMP(gx, ct_div(ctx, dy[0], y, &_r));
  TMP(nx, ct_neg(ctx, x, &_r));
  TMP(q, ct_div(ctx, nx, y, &_r));
  TMP(q2, ct_div(ctx, q, y, &_r));
  TMP(gy, ct_mul(ctx, dy[0], q2, &_r));
  TRY(unbroadcast(ctx, gx, &op->in[0], &dx[0]));
  TRY(unbroadcast(ctx, gy, &op->in[1], &dx[1]));
done:
  scratch_free(&s);
  return st;
}

/* Pow: dx = dy * y * x^(y-1); dy_y = dy * z * log(x) where x > 0, else 0
 * (TensorFlow's _PowGrad, which keeps log(0) from making a NaN). */
GRAD(grad_pow) {
  scratch s = {0};
  ct_tensor *x = op->saved_in[0], *y = op->saved_in[1], *z = op->saved_out[0];
  ct_tensor *one, *zero, *ym1, *p, *t, *gx, *mask, *ones, *safe, *lg, *zx, *logx, *t2, *gy;
  ct_status st;
  TMP(one, scalar(ctx, x->dtype, 1.0, &_r));
  TMP(zero, scalar(ctx, x->dtype, 0.0, &_r));
  TMP(ym1, ct_sub(ctx, y, one, &_r));
  TMP(p, ct_pow(ctx, x, ym1, &_r));
  TMP(t, ct_mul(ctx, y, p, &_r));
  TMP(gx, ct_mul(ctx, dy[0], t, &_r));
  TRY(unbroadcast(ctx, gx, &op->in[0], &dx[0]));
  TMP(mask, ct_greater(ctx, x, zero, &_r));
  TMP(ones, ct_fill(ctx, x->dtype, x->shape, x->rank, 1.0, &_r));
  TMP(safe, ct_where(ctx, mask, x, ones, &_r));
  TMP(lg, ct_log(ctx, safe, &_r));
  TMP(zx, zeros_of(ctx, x, &_r));
  TMP(logx, ct_where(ctx, mask, lg, zx, &_r));
  TMP(t2, ct_mul(ctx, z, logx, &_r));
  TMP(gy, ct_mul(ctx, dy[0], t2, &_r));
  TRY(unbroadcast(ctx, gy, &op->in[1], &dx[1]));
done:
  scratch_free(&s);
  return st;
}

/* Maximum/Minimum: the whole gradient goes to x where x >= y (<= y for
 * minimum), ties included, as TensorFlow's _MaximumMinimumGrad. */
static ct_status grad_maxmin(ct_context *ctx, const ct_tape_op *op, ct_tensor *const *dy, ct_tensor **dx,
                             bool is_max) {
  scratch s = {0};
  ct_tensor *mask, *zeros, *gx, *gy;
  ct_status st;
  if (is_max)
    TMP(mask, ct_greater_equal(ctx, op->saved_in[0], op->saved_in[1], &_r));
  else
    TMP(mask, ct_less_equal(ctx, op->saved_in[0], op->saved_in[1], &_r));
  TMP(zeros, zeros_of(ctx, dy[0], &_r));
  TMP(gx, ct_where(ctx, mask, dy[0], zeros, &_r));
  TMP(gy, ct_where(ctx, mask, zeros, dy[0], &_r));
  TRY(unbroadcast(ctx, gx, &op->in[0], &dx[0]));
  TRY(unbroadcast(ctx, gy, &op->in[1], &dx[1]));
done:
  scratch_free(&s);
  return st;
}
GRAD(grad_maximum) { return grad_maxmin(ctx, op, dy, dx, true); }
GRAD(grad_minimum) { return grad_maxmin(ctx, op, dy, dx, false); }

/* SelectV2: the gradient goes to x where the condition holds, to y
 * elsewhere; none to the condition. */
GRAD(grad_select) {
  scratch s = {0};
  ct_tensor *zeros, *gx, *gy;
  ct_status st;
  TMP(zeros, zeros_of(ctx, dy[0], &_r));
  TMP(gx, ct_where(ctx, op->saved_in[0], dy[0], zeros, &_r));
  TMP(gy, ct_where(ctx, op->saved_in[0], zeros, dy[0], &_r));
  TRY(unbroadcast(ctx, gx, &op->in[1], &dx[1]));
  TRY(unbroadcast(ctx, gy, &op->in[2], &dx[2]));
done:
  scratch_free(&s);
  return st;
}

/* ---- elementwise unary ---------------------------------------------------- */

GRAD(grad_neg) {
  CT_UNUSED(op);
  return ct_neg(ctx, dy[0], &dx[0]);
}

/* Abs: dy * sign(x), sign(0) = 0. */
GRAD(grad_abs) {
  scratch s = {0};
  ct_tensor *x = op->saved_in[0], *zero, *pos, *negm, *pf, *nf, *sign;
  ct_status st;
  TMP(zero, scalar(ctx, x->dtype, 0.0, &_r));
  TMP(pos, ct_greater(ctx, x, zero, &_r));
  TMP(negm, ct_less(ctx, x, zero, &_r));
  TMP(pf, ct_cast(ctx, pos, x->dtype, &_r));
  TMP(nf, ct_cast(ctx, negm, x->dtype, &_r));
  TMP(sign, ct_sub(ctx, pf, nf, &_r));
  TRY(ct_mul(ctx, dy[0], sign, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

GRAD(grad_exp) { return ct_mul(ctx, dy[0], op->saved_out[0], &dx[0]); }
GRAD(grad_log) { return ct_div(ctx, dy[0], op->saved_in[0], &dx[0]); }

/* Sqrt: dy * 0.5 / y (TensorFlow's SqrtGrad). */
GRAD(grad_sqrt) {
  scratch s = {0};
  ct_tensor *half, *h;
  ct_status st;
  TMP(half, scalar(ctx, dy[0]->dtype, 0.5, &_r));
  TMP(h, ct_mul(ctx, dy[0], half, &_r));
  TRY(ct_div(ctx, h, op->saved_out[0], &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Tanh: dy * (1 - y^2). */
GRAD(grad_tanh) {
  scratch s = {0};
  ct_tensor *y = op->saved_out[0], *one, *y2, *d;
  ct_status st;
  TMP(one, scalar(ctx, y->dtype, 1.0, &_r));
  TMP(y2, ct_mul(ctx, y, y, &_r));
  TMP(d, ct_sub(ctx, one, y2, &_r));
  TRY(ct_mul(ctx, dy[0], d, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Sigmoid: dy * y * (1 - y). */
GRAD(grad_sigmoid) {
  scratch s = {0};
  ct_tensor *y = op->saved_out[0], *one, *d, *t;
  ct_status st;
  TMP(one, scalar(ctx, y->dtype, 1.0, &_r));
  TMP(d, ct_sub(ctx, one, y, &_r));
  TMP(t, ct_mul(ctx, y, d, &_r));
  TRY(ct_mul(ctx, dy[0], t, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Square: dy * 2x. */
GRAD(grad_square) {
  scratch s = {0};
  ct_tensor *two, *t;
  ct_status st;
  TMP(two, scalar(ctx, dy[0]->dtype, 2.0, &_r));
  TMP(t, ct_mul(ctx, op->saved_in[0], two, &_r));
  TRY(ct_mul(ctx, dy[0], t, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Relu: dy where y > 0 (TensorFlow's ReluGrad reads the output the same
 * way), 0 elsewhere -- a where, not a multiply, so a NaN in dy does not
 * leak into the zeros. */
GRAD(grad_relu) {
  scratch s = {0};
  ct_tensor *y = op->saved_out[0], *zero, *mask;
  ct_status st;
  TMP(zero, scalar(ctx, y->dtype, 0.0, &_r));
  TMP(mask, ct_greater(ctx, y, zero, &_r));
  /* the scalar broadcasts: no tensor of zeros to fill per step */
  TRY(ct_where(ctx, mask, dy[0], zero, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Cast: float to float casts the gradient back; anything else, none. */
GRAD(grad_cast) {
  if (!ct_dtype_is_float(op->in[0].dtype) || !ct_dtype_is_float(op->out[0].dtype)) return CT_OK;
  return ct_cast(ctx, dy[0], op->in[0].dtype, &dx[0]);
}

GRAD(grad_identity) {
  CT_UNUSED(ctx);
  CT_UNUSED(op);
  dx[0] = ct_tensor_retain(dy[0]);
  return CT_OK;
}

/* ---- matmul ------------------------------------------------------------------ */

/* TensorFlow's _BatchMatMulV2 gradient, by the four transpose cases, then
 * the broadcast batch axes summed away. */
GRAD(grad_matmul) {
  scratch s = {0};
  ct_tensor *a = op->saved_in[0], *b = op->saved_in[1], *g = dy[0], *ga = NULL, *gb = NULL;
  bool ta = op->attrs.matmul.transpose_a, tb = op->attrs.matmul.transpose_b;
  /* A product the backward pass would drop is not computed (a layer's
   * input batch is no source: its gradient is a third of the layer's
   * backward work). */
  bool want_a = !(op->skip_in & 1u), want_b = !(op->skip_in & 2u);
  ct_status st = CT_OK;
  if (!ta && !tb) {
    if (want_a) TMP(ga, ct_matmul(ctx, g, b, false, true, &_r));
    if (want_b) TMP(gb, ct_matmul(ctx, a, g, true, false, &_r));
  } else if (!ta && tb) {
    if (want_a) TMP(ga, ct_matmul(ctx, g, b, false, false, &_r));
    if (want_b) TMP(gb, ct_matmul(ctx, g, a, true, false, &_r));
  } else if (ta && !tb) {
    if (want_a) TMP(ga, ct_matmul(ctx, b, g, false, true, &_r));
    if (want_b) TMP(gb, ct_matmul(ctx, a, g, false, false, &_r));
  } else {
    if (want_a) TMP(ga, ct_matmul(ctx, b, g, true, true, &_r));
    if (want_b) TMP(gb, ct_matmul(ctx, g, a, true, true, &_r));
  }
  if (want_a) TRY(unbroadcast(ctx, ga, &op->in[0], &dx[0]));
  if (want_b) TRY(unbroadcast(ctx, gb, &op->in[1], &dx[1]));
done:
  scratch_free(&s);
  return st;
}

/* ---- reductions ---------------------------------------------------------------- */

/* dy broadcast back over the reduced axes. */
static ct_status spread(ct_context *ctx, const ct_tape_op *op, ct_tensor *g, ct_tensor **out) {
  int64_t ks[CT_MAX_RANK];
  kept_shape(&op->in[0], &op->attrs.reduce, ks);
  ct_tensor *gk;
  ct_status st = ct_reshape(ctx, g, ks, op->in[0].rank, &gk);
  if (st != CT_OK) return st;
  st = ct_broadcast_to(ctx, gk, op->in[0].shape, op->in[0].rank, out);
  ct_tensor_release(gk);
  return st;
}

GRAD(grad_sum) { return spread(ctx, op, dy[0], &dx[0]); }

GRAD(grad_mean) {
  scratch s = {0};
  ct_tensor *count, *g;
  ct_status st;
  int64_t n = 1;
  for (int i = 0; i < op->in[0].rank; i++)
    if (op->attrs.reduce.reduce[i]) n *= op->in[0].shape[i];
  TMP(count, scalar(ctx, dy[0]->dtype, (double)n, &_r));
  TMP(g, ct_div(ctx, dy[0], count, &_r));
  TRY(spread(ctx, op, g, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Max/Min: the gradient is shared evenly by the elements equal to the
 * result (TensorFlow's _MinOrMaxGrad). */
GRAD(grad_reduce_extreme) {
  scratch s = {0};
  ct_tensor *x = op->saved_in[0], *yk, *gk, *eq, *ind, *num, *share;
  int64_t ks[CT_MAX_RANK];
  int axes[CT_MAX_RANK], n = 0;
  ct_status st;
  kept_shape(&op->in[0], &op->attrs.reduce, ks);
  for (int i = 0; i < x->rank; i++)
    if (op->attrs.reduce.reduce[i]) axes[n++] = i;
  TMP(yk, ct_reshape(ctx, op->saved_out[0], ks, x->rank, &_r));
  TMP(gk, ct_reshape(ctx, dy[0], ks, x->rank, &_r));
  TMP(eq, ct_equal(ctx, x, yk, &_r));
  TMP(ind, ct_cast(ctx, eq, x->dtype, &_r));
  TMP(num, ct_reduce_sum(ctx, ind, axes, n, true, &_r));
  TMP(share, ct_div(ctx, ind, num, &_r));
  TRY(ct_mul(ctx, share, gk, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* Softmax: (dy - sum(dy * y)) * y along the axis. */
GRAD(grad_softmax) {
  scratch s = {0};
  ct_tensor *y = op->saved_out[0], *p, *sum, *d;
  int axis = op->attrs.axis.axis;
  ct_status st;
  TMP(p, ct_mul(ctx, dy[0], y, &_r));
  TMP(sum, ct_reduce_sum(ctx, p, &axis, 1, true, &_r));
  TMP(d, ct_sub(ctx, dy[0], sum, &_r));
  TRY(ct_mul(ctx, d, y, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* LogSoftmax: dy - exp(y) * sum(dy) along the axis. */
GRAD(grad_log_softmax) {
  scratch s = {0};
  ct_tensor *e, *sum, *t;
  int axis = op->attrs.axis.axis;
  ct_status st;
  TMP(e, ct_exp(ctx, op->saved_out[0], &_r));
  TMP(sum, ct_reduce_sum(ctx, dy[0], &axis, 1, true, &_r));
  TMP(t, ct_mul(ctx, e, sum, &_r));
  TRY(ct_sub(ctx, dy[0], t, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* *acc += t (*acc NULL: t). */
static ct_status add_into(ct_context *ctx, ct_tensor **acc, ct_tensor *t) {
  if (*acc == NULL) {
    *acc = ct_tensor_retain(t);
    return CT_OK;
  }
  ct_tensor *sum;
  ct_status st = ct_add(ctx, *acc, t, &sum);
  if (st != CT_OK) return st;
  ct_tensor_release(*acc);
  *acc = sum;
  return CT_OK;
}

/* Cross-entropy: the kernel's backprop scaled by each row's loss
 * gradient; dense labels get -log_softmax(logits) * dloss.
 * The backprop output (softmax(logits) - labels) gets a gradient g of its
 * own when something used it -- above all the mul above, differentiated by
 * an outer tape (second order): logits then get (g - sum(g * p)) * p,
 * p = softmax(logits), as TensorFlow's _SoftmaxCrossEntropyWithLogitsGrad;
 * dense labels get -g (TensorFlow leaves that term out). */
GRAD(grad_xent) {
  scratch s = {0};
  ct_tensor *bp = op->saved_out[1], *logits = op->saved_in[0], *dl, *ls, *nls, *p, *gp, *sum, *d, *t, *ng;
  int64_t col[2] = {op->out[0].shape[0], 1};
  int axis = -1;
  ct_status st = CT_OK;
  if (dy[0]) {
    TMP(dl, ct_reshape(ctx, dy[0], col, 2, &_r));
    TRY(ct_mul(ctx, dl, bp, &dx[0]));
    if (op->op == CT_OP_SOFTMAX_XENT) {
      TMP(ls, ct_log_softmax(ctx, logits, -1, &_r));
      TMP(nls, ct_neg(ctx, ls, &_r));
      TRY(ct_mul(ctx, dl, nls, &dx[1]));
    }
  }
  if (dy[1]) {
    TMP(p, ct_softmax(ctx, logits, -1, &_r));
    TMP(gp, ct_mul(ctx, dy[1], p, &_r));
    TMP(sum, ct_reduce_sum(ctx, gp, &axis, 1, true, &_r));
    TMP(d, ct_sub(ctx, dy[1], sum, &_r));
    TMP(t, ct_mul(ctx, d, p, &_r));
    TRY(add_into(ctx, &dx[0], t));
    if (op->op == CT_OP_SOFTMAX_XENT) {
      TMP(ng, ct_neg(ctx, dy[1], &_r));
      TRY(add_into(ctx, &dx[1], ng));
    }
  }
done:
  scratch_free(&s);
  return st;
}

/* ---- shape ops ------------------------------------------------------------------ */

GRAD(grad_reshape) { return ct_reshape(ctx, dy[0], op->in[0].shape, op->in[0].rank, &dx[0]); }

GRAD(grad_broadcast_to) { return unbroadcast(ctx, dy[0], &op->in[0], &dx[0]); }

GRAD(grad_transpose) {
  int inv[CT_MAX_RANK];
  for (int i = 0; i < op->in[0].rank; i++) inv[op->attrs.transpose.perm[i]] = i;
  return ct_transpose(ctx, dy[0], inv, &dx[0]);
}

/* Concat: each input's gradient is its slice of dy. */
GRAD(grad_concat) {
  int axis = op->attrs.axis.axis, rank = op->out[0].rank;
  int64_t begin[CT_MAX_RANK] = {0}, size[CT_MAX_RANK];
  for (int d = 0; d < rank; d++) size[d] = -1;
  for (int i = 0; i < op->n_in; i++) {
    size[axis] = op->in[i].shape[axis];
    ct_status st = ct_slice(ctx, dy[0], begin, size, &dx[i]);
    if (st != CT_OK) return st;
    begin[axis] += size[axis];
  }
  return CT_OK;
}

/* Slice: dy padded with zeros back to x's shape, one axis at a time. */
GRAD(grad_slice) {
  const ct_tape_meta *x = &op->in[0];
  ct_tensor *cur = ct_tensor_retain(dy[0]);
  ct_status st = CT_OK;
  for (int d = 0; d < x->rank && st == CT_OK; d++) {
    int64_t before = op->attrs.slice.begin[d], after = x->shape[d] - before - cur->shape[d];
    if (before == 0 && after == 0) continue;
    ct_tensor *parts[3];
    int np = 0;
    int64_t shape[CT_MAX_RANK];
    memcpy(shape, cur->shape, sizeof(int64_t) * (size_t)cur->rank);
    ct_tensor *zb = NULL, *za = NULL;
    if (before > 0) {
      shape[d] = before;
      st = ct_fill(ctx, cur->dtype, shape, cur->rank, 0.0, &zb);
      parts[np++] = zb;
    }
    parts[np++] = cur;
    if (st == CT_OK && after > 0) {
      shape[d] = after;
      st = ct_fill(ctx, cur->dtype, shape, cur->rank, 0.0, &za);
      parts[np++] = za;
    }
    ct_tensor *next = NULL;
    if (st == CT_OK) st = ct_concat(ctx, (const ct_tensor *const *)parts, np, d, &next);
    ct_tensor_release(zb);
    ct_tensor_release(za);
    ct_tensor_release(cur);
    cur = next;
  }
  if (st != CT_OK) {
    ct_tensor_release(cur);
    return st;
  }
  dx[0] = cur;
  return CT_OK;
}

/* Gather: the rows of dy summed into the rows of params they came from
 * (a dense unsorted_segment_sum along the axis, moved to the front and
 * back when it is not axis 0). */
GRAD(grad_gather) {
  scratch s = {0};
  const ct_tape_meta *p = &op->in[0];
  ct_tensor *idx = op->saved_in[1], *g, *ids, *summed;
  int a = op->attrs.gather.axis;
  int64_t shape[CT_MAX_RANK], n_idx = idx->numel;
  int perm[CT_MAX_RANK], inv[CT_MAX_RANK];
  ct_status st;
  for (int i = 0; i < p->rank; i++) shape[i] = i == a ? n_idx : p->shape[i];
  TMP(g, ct_reshape(ctx, dy[0], shape, p->rank, &_r));
  TMP(ids, ct_reshape(ctx, idx, &n_idx, 1, &_r));
  if (a != 0) {
    perm[0] = a;
    for (int i = 0, k = 1; i < p->rank; i++)
      if (i != a) perm[k++] = i;
    for (int i = 0; i < p->rank; i++) inv[perm[i]] = i;
    TMP(g, ct_transpose(ctx, g, perm, &_r));
  }
  TMP(summed, ct_unsorted_segment_sum(ctx, g, ids, p->shape[a], &_r));
  if (a != 0)
    TRY(ct_transpose(ctx, summed, inv, &dx[0]));
  else
    dx[0] = ct_tensor_retain(summed);
done:
  scratch_free(&s);
  return st;
}

/* UnsortedSegmentSum: each row of data gets its segment's gradient; rows
 * with a negative id were dropped, so they get zeros (TensorFlow's
 * _UnsortedSegmentSumGrad, which gathers with the ids clipped at 0). */
GRAD(grad_segment_sum) {
  scratch s = {0};
  ct_tensor *ids = op->saved_in[1], *zero, *clipped, *g, *mask, *mk, *zeros;
  int64_t shape[CT_MAX_RANK];
  ct_status st;
  TMP(zero, scalar(ctx, ids->dtype, 0.0, &_r));
  TMP(clipped, ct_maximum(ctx, ids, zero, &_r));
  TMP(g, ct_gather(ctx, dy[0], clipped, 0, &_r));
  TMP(mask, ct_greater_equal(ctx, ids, zero, &_r));
  for (int i = 0; i < g->rank; i++) shape[i] = i < ids->rank ? ids->shape[i] : 1;
  TMP(mk, ct_reshape(ctx, mask, shape, g->rank, &_r));
  TMP(zeros, zeros_of(ctx, g, &_r));
  TRY(ct_where(ctx, mk, g, zeros, &dx[0]));
done:
  scratch_free(&s);
  return st;
}

/* ---- the table ------------------------------------------------------------------ */

#define IN0 CT_SAVE_IN(0)
#define IN1 CT_SAVE_IN(1)
#define OUT CT_SAVE_OUT

static const ct_grad_entry table[CT_OP_COUNT] = {
    [CT_OP_IDENTITY] = {grad_identity, 0, 0},
    [CT_OP_MATMUL] = {grad_matmul, IN0 | IN1, sizeof(ct_matmul_attrs)},
    [CT_OP_ADD] = {grad_add, 0, 0},
    [CT_OP_SUB] = {grad_sub, 0, 0},
    [CT_OP_MUL] = {grad_mul, IN0 | IN1, 0},
    [CT_OP_DIV] = {grad_div, IN0 | IN1, 0},
    [CT_OP_MAXIMUM] = {grad_maximum, IN0 | IN1, 0},
    [CT_OP_MINIMUM] = {grad_minimum, IN0 | IN1, 0},
    [CT_OP_POW] = {grad_pow, IN0 | IN1 | OUT, 0},
    [CT_OP_NEG] = {grad_neg, 0, 0},
    [CT_OP_ABS] = {grad_abs, IN0, 0},
    [CT_OP_EXP] = {grad_exp, OUT, 0},
    [CT_OP_LOG] = {grad_log, IN0, 0},
    [CT_OP_SQRT] = {grad_sqrt, OUT, 0},
    [CT_OP_TANH] = {grad_tanh, OUT, 0},
    [CT_OP_SIGMOID] = {grad_sigmoid, OUT, 0},
    [CT_OP_SQUARE] = {grad_square, IN0, 0},
    [CT_OP_RELU] = {grad_relu, OUT, 0},
    [CT_OP_SUM] = {grad_sum, 0, sizeof(ct_reduce_attrs)},
    [CT_OP_MEAN] = {grad_mean, 0, sizeof(ct_reduce_attrs)},
    [CT_OP_MAX] = {grad_reduce_extreme, IN0 | OUT, sizeof(ct_reduce_attrs)},
    [CT_OP_MIN] = {grad_reduce_extreme, IN0 | OUT, sizeof(ct_reduce_attrs)},
    [CT_OP_CAST] = {grad_cast, 0, 0},
    [CT_OP_RESHAPE] = {grad_reshape, 0, 0},
    [CT_OP_TRANSPOSE] = {grad_transpose, 0, sizeof(ct_transpose_attrs)},
    [CT_OP_CONCAT] = {grad_concat, 0, sizeof(ct_axis_attrs)},
    [CT_OP_SLICE] = {grad_slice, 0, sizeof(ct_slice_attrs)},
    [CT_OP_SOFTMAX] = {grad_softmax, OUT, sizeof(ct_axis_attrs)},
    [CT_OP_GATHER] = {grad_gather, IN1, sizeof(ct_gather_attrs)},
    [CT_OP_LOG_SOFTMAX] = {grad_log_softmax, OUT, sizeof(ct_axis_attrs)},
    [CT_OP_SPARSE_XENT] = {grad_xent, IN0 | CT_SAVE_AUX, 0}, /* logits: for the second order */
    [CT_OP_SOFTMAX_XENT] = {grad_xent, IN0 | CT_SAVE_AUX, 0},
    [CT_OP_SELECT] = {grad_select, IN0, 0},
    [CT_OP_BROADCAST_TO] = {grad_broadcast_to, 0, 0},
    [CT_OP_UNSORTED_SEGMENT_SUM] = {grad_segment_sum, IN1, sizeof(ct_segment_attrs)},
};

const ct_grad_entry *ct_grad_entry_for(ct_op op) {
  return (unsigned)op < CT_OP_COUNT && table[op].fn ? &table[op] : NULL;
}
