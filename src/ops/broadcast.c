/* NumPy broadcasting: output shapes, input strides and collapsed walks. */
#include "ops/broadcast.h"

bool ct_broadcast_shape(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *out, int *out_rank) {
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    /* i counts from the last axis */
    int64_t da = i < ra ? a[ra - 1 - i] : 1;
    int64_t db = i < rb ? b[rb - 1 - i] : 1;
    int64_t d;
    if (da == db || db == 1)
      d = da;
    else if (da == 1)
      d = db;
    else
      return false;
    out[r - 1 - i] = d;
  }
  *out_rank = r;
  return true;
}

void ct_broadcast_strides(const int64_t *in, int in_rank, const int64_t *out, int out_rank, int64_t *strides) {
  int64_t s = 1;
  for (int i = out_rank - 1; i >= 0; i--) {
    int k = i - (out_rank - in_rank); /* matching input axis, < 0 if missing */
    strides[i] = (k < 0 || in[k] == 1) ? 0 : s;
    if (k >= 0) s *= in[k];
  }
}

void ct_bcast_plan_make(const int64_t *a, int ra, const int64_t *b, int rb, const int64_t *out, int out_rank,
                        ct_bcast_plan *plan) {
  int64_t sa[CT_MAX_RANK], sb[CT_MAX_RANK];
  ct_broadcast_strides(a, ra, out, out_rank, sa);
  ct_broadcast_strides(b, rb, out, out_rank, sb);
  int r = 0;
  int64_t numel = 1;
  for (int i = 0; i < out_rank; i++) {
    numel *= out[i];
    if (out[i] == 1) continue;
    if (r > 0 && sa[i] * out[i] == plan->stride[0][r - 1] && sb[i] * out[i] == plan->stride[1][r - 1]) {
      /* contiguous (or broadcast) across the boundary: merge into axis r-1 */
      plan->dims[r - 1] *= out[i];
      plan->stride[0][r - 1] = sa[i];
      plan->stride[1][r - 1] = sb[i];
      continue;
    }
    plan->dims[r] = out[i];
    plan->stride[0][r] = sa[i];
    plan->stride[1][r] = sb[i];
    r++;
  }
  if (r == 0) { /* one element (or a rank-0 output): both inputs are one element too */
    plan->dims[0] = 1;
    plan->stride[0][0] = plan->stride[1][0] = 1;
    r = 1;
  }
  if (numel == 0) {
    plan->dims[0] = 0;
    plan->stride[0][0] = plan->stride[1][0] = 1;
    r = 1;
  }
  plan->rank = r;
  plan->numel = numel;
}
