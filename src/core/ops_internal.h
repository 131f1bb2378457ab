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

typedef struct ct_slice_attrs {
  int64_t begin[CT_MAX_RANK];
} ct_slice_attrs;

#endif
