/*
 * Attribute structs passed from op front-ends (src/ops) to kernels
 * (src/cpu, src/cuda) through ct_kernel_args.attrs. Shapes and dtypes are
 * already checked by the front-end; kernels only compute.
 */
#ifndef CT_CORE_OPS_INTERNAL_H
#define CT_CORE_OPS_INTERNAL_H

#include "core/internal.h"

typedef struct ct_matmul_attrs {
  bool transpose_a, transpose_b;
} ct_matmul_attrs;

typedef struct ct_fill_attrs {
  double value;
} ct_fill_attrs;

typedef struct ct_range_attrs {
  double start, delta;
} ct_range_attrs;

/* uniform: a = minval, b = maxval; normal and truncated: a = mean, b = stddev */
typedef struct ct_random_attrs {
  double a, b;
  uint64_t seed, offset;
} ct_random_attrs;

/* reduce[i] != 0: input axis i is reduced. */
typedef struct ct_reduce_attrs {
  unsigned char reduce[CT_MAX_RANK];
  bool keepdims;
} ct_reduce_attrs;

/* argmax, softmax, concat: a non-negative axis of the input. */
typedef struct ct_axis_attrs {
  int axis;
} ct_axis_attrs;

typedef struct ct_transpose_attrs {
  int perm[CT_MAX_RANK];
} ct_transpose_attrs;

/* gather: the axis of params the indices select along */
typedef struct ct_gather_attrs {
  int axis;
} ct_gather_attrs;

/* Checks gather indices held in host memory (`data`, indices' dtype and
 * element count) against [0, dim): CT_OK, or INVALID_ARGUMENT naming the
 * first bad one by its position in indices' shape. Every device's kernel
 * uses it, so the message is the same everywhere. */
ct_status ct_gather_check_indices(const ct_tensor *indices, const void *data, int64_t dim);

/* one_hot: the output has indices' shape with `depth` inserted at `axis`
 * (already non-negative); kernel dtype = output dtype, indices int32/int64;
 * an index outside [0, depth) gives a row of off_value (TensorFlow's rule). */
typedef struct ct_one_hot_attrs {
  int axis;
  int64_t depth;
  double on_value, off_value;
} ct_one_hot_attrs;

/* sparse and dense softmax cross-entropy: in[0] = logits [batch, classes],
 * in[1] = labels ([batch] int32/int64, or [batch, classes] like logits);
 * out = loss [batch]; the kernel also writes d loss / d logits into
 * `backprop` ([batch, classes], logits' dtype, on the op's device),
 * allocated by the front-end (TensorFlow's op has both outputs). */
typedef struct ct_xent_attrs {
  ct_tensor *backprop;
} ct_xent_attrs;

/* unsorted_segment_sum: in[0] = data, in[1] = segment_ids (int32/int64,
 * a prefix of data's shape); out = [num_segments] + data.shape[ids.rank:].
 * Negative ids are dropped (TensorFlow's rule); ids >= num_segments are
 * INVALID_ARGUMENT on every device. */
typedef struct ct_segment_attrs {
  int64_t num_segments;
} ct_segment_attrs;

/* log_softmax uses ct_axis_attrs; where (SelectV2) has in[0] = condition
 * (bool), in[1] = x, in[2] = y, broadcast together, kernel dtype x's;
 * broadcast_to has one input and the output shape, no attributes. */

typedef struct ct_slice_attrs {
  int64_t begin[CT_MAX_RANK];
} ct_slice_attrs;

/* The optimizer updates (ResourceApply*, src/autodiff/optimizer.c): in[0]
 * = the variable's current value, in[1] = the gradient (same dtype and
 * shape), in[2..] = the optimizer's slots (momentum: m; Adam: m, v, and
 * vhat with amsgrad), all on the op's device; out = the variable's new
 * value. The kernel updates the slots IN PLACE: they belong to the
 * optimizer and are never handed out. Kernel dtype = the variable's;
 * 16-bit floats compute in float32, and a slot is rounded to its dtype
 * before the variable's update reads it (as Keras reads its slot
 * variables back). Scalars are converted to the compute type first.
 *   gradient descent: out = var - g*lr
 *   momentum: m = m*momentum - g*lr; out = var + (nesterov ? m*momentum - g*lr : m)
 *   Adam: m += (g - m)*one_minus_beta_1; v += (g*g - v)*one_minus_beta_2;
 *         amsgrad: vhat = max(vhat, v), read instead of v;
 *         out = var - m*lr/(sqrt(v) + epsilon), lr being alpha =
 *         lr*sqrt(1 - beta_2^t)/(1 - beta_1^t) (the host computes it). */
typedef struct ct_apply_attrs {
  double lr, momentum;
  double one_minus_beta_1, one_minus_beta_2, epsilon;
  bool nesterov, amsgrad;
} ct_apply_attrs;

#endif
