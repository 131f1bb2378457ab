/*
 * NumPy broadcasting, shared by the op front-ends (output shape) and the
 * kernels of every backend (how to walk the inputs).
 *
 * Shapes are aligned at their last axis; two dims are compatible when they
 * are equal or one of them is 1; the output takes the larger. A missing
 * leading dim counts as 1.
 */
#ifndef CT_OPS_BROADCAST_H
#define CT_OPS_BROADCAST_H

#include <stdbool.h>
#include <stdint.h>

#include "ctensor.h"

/* The broadcast shape of a and b into out (rank max(ra, rb)); false when
 * the shapes are not compatible (out is then unspecified). */
bool ct_broadcast_shape(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *out, int *out_rank);

/* Element strides of a contiguous row-major input of shape in[0..in_rank)
 * as seen through the output shape out[0..out_rank): one stride per output
 * axis, 0 on axes where the input is broadcast (missing or of size 1). */
void ct_broadcast_strides(const int64_t *in, int in_rank, const int64_t *out, int out_rank, int64_t *strides);

/* A binary elementwise walk reduced to its simplest form: output axes of
 * size 1 are dropped and neighbouring axes merged wherever both inputs are
 * contiguous (or both broadcast) across them. Same-shape inputs become one
 * axis; a scalar operand has stride 0 everywhere. The innermost stride of
 * each input is always 0 or 1, so the inner loop is one of three: vector
 * op vector, scalar op vector, vector op scalar. */
typedef struct ct_bcast_plan {
  int rank;                         /* >= 1 */
  int64_t dims[CT_MAX_RANK];
  int64_t stride[2][CT_MAX_RANK];   /* element strides of input 0 (a) and 1 (b) */
  int64_t numel;
} ct_bcast_plan;

/* `out` must be ct_broadcast_shape(a, b). */
void ct_bcast_plan_make(const int64_t *a, int ra, const int64_t *b, int rb, const int64_t *out, int out_rank,
                        ct_bcast_plan *plan);

#endif
