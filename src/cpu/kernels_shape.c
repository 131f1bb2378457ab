/*
 * CPU kernels for transpose, concat and slice. They move bytes and never
 * look at values, so one kernel per op serves every dtype by element size.
 *
 * transpose first simplifies the permutation (drops size-1 axes, merges
 * axes that stay neighbours), so that e.g. [2,3,4] -> perm [0,2,1] becomes
 * a batch of 2-D transposes and [a,b,c] -> perm [1,2,0] a single one.
 * 2-D transposes run tile by tile (TILE x TILE elements, both tiles in L1)
 * instead of reading one side with a large stride.
 */
#include <string.h>

#include "cpu/cpu_kernels.h"

#define TILE 32

/* ---- transpose ---------------------------------------------------------- */

/* The permutation after simplification: output axis i reads input axis
 * perm[i]; dims are the input's. */
typedef struct perm_plan {
  int rank;
  int64_t dims[CT_MAX_RANK];
  int perm[CT_MAX_RANK];
} perm_plan;

static perm_plan simplify_perm(const int64_t *dims, const int *perm, int rank) {
  /* keep the axes of size > 1, in output order, renumbered among
   * themselves so that axes that were separated only by size-1 axes
   * count as neighbours */
  int compact[CT_MAX_RANK], nc = 0;
  int64_t cdims[CT_MAX_RANK];
  for (int a = 0; a < rank; a++) {
    compact[a] = dims[a] != 1 ? nc : -1;
    if (dims[a] != 1) cdims[nc++] = dims[a];
  }
  int keep[CT_MAX_RANK], nk = 0;
  for (int i = 0; i < rank; i++)
    if (compact[perm[i]] >= 0) keep[nk++] = compact[perm[i]];
  /* merge runs of consecutive input axes; group g covers input axes
   * start[g] .. start[g]+len[g]-1 */
  int start[CT_MAX_RANK], len[CT_MAX_RANK], ng = 0;
  for (int i = 0; i < nk; i++) {
    if (ng > 0 && keep[i] == start[ng - 1] + len[ng - 1]) {
      len[ng - 1]++;
    } else {
      start[ng] = keep[i];
      len[ng] = 1;
      ng++;
    }
  }
  /* renumber groups by their input order */
  perm_plan p;
  p.rank = ng;
  for (int g = 0; g < ng; g++) {
    int rank_in = 0;
    for (int h = 0; h < ng; h++)
      if (start[h] < start[g]) rank_in++;
    p.perm[g] = rank_in;
    int64_t size = 1;
    for (int a = start[g]; a < start[g] + len[g]; a++) size *= cdims[a];
    p.dims[rank_in] = size;
  }
  return p;
}

/* dst[c][r] = src[r][c] for `batch` matrices of rows x cols, tile by tile. */
#define TRANSPOSE_2D(NAME, T)                                                                        \
  static void NAME(const T *restrict src, T *restrict dst, int64_t batch, int64_t rows, int64_t cols, \
                   int threads) {                                                                    \
    int64_t tr = (rows + TILE - 1) / TILE, tc = (cols + TILE - 1) / TILE;                            \
    int64_t tiles = batch * tr * tc;                                                                 \
    _Pragma("omp parallel for num_threads(threads) if (threads > 1) schedule(static)")               \
    for (int64_t t = 0; t < tiles; t++) {                                                            \
      int64_t b = t / (tr * tc), r0 = (t / tc % tr) * TILE, c0 = (t % tc) * TILE;                    \
      int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;    \
      const T *s = src + b * rows * cols;                                                            \
      T *d = dst + b * rows * cols;                                                                  \
      for (int64_t c = c0; c < c1; c++)                                                              \
        for (int64_t r = r0; r < r1; r++) d[c * rows + r] = s[r * cols + c];                         \
    }                                                                                                \
  }
TRANSPOSE_2D(transpose2d_u8, uint8_t)
TRANSPOSE_2D(transpose2d_u16, uint16_t)
TRANSPOSE_2D(transpose2d_u32, uint32_t)
TRANSPOSE_2D(transpose2d_u64, uint64_t)

/* Any permutation: one output row (the last output axis) at a time, read
 * with the input stride of the axis it comes from. */
#define TRANSPOSE_ND(NAME, T)                                                                       \
  static void NAME(const T *restrict src, T *restrict dst, const perm_plan *p, int threads) {       \
    int r = p->rank;                                                                                \
    int64_t istride[CT_MAX_RANK], odims[CT_MAX_RANK];                                               \
    int64_t s = 1;                                                                                  \
    for (int a = r - 1; a >= 0; a--) {                                                              \
      istride[a] = s;                                                                               \
      s *= p->dims[a];                                                                              \
    }                                                                                               \
    for (int i = 0; i < r; i++) odims[i] = p->dims[p->perm[i]];                                     \
    int64_t inner = odims[r - 1], step = istride[p->perm[r - 1]], rows = s / inner;                 \
    _Pragma("omp parallel for num_threads(threads) if (threads > 1) schedule(static)")              \
    for (int64_t row = 0; row < rows; row++) {                                                      \
      int64_t rem = row, off = 0;                                                                   \
      for (int i = r - 2; i >= 0; i--) {                                                            \
        off += (rem % odims[i]) * istride[p->perm[i]];                                              \
        rem /= odims[i];                                                                            \
      }                                                                                             \
      T *d = dst + row * inner;                                                                     \
      for (int64_t j = 0; j < inner; j++) d[j] = src[off + j * step];                               \
    }                                                                                               \
  }
TRANSPOSE_ND(transpose_nd_u8, uint8_t)
TRANSPOSE_ND(transpose_nd_u16, uint16_t)
TRANSPOSE_ND(transpose_nd_u32, uint32_t)
TRANSPOSE_ND(transpose_nd_u64, uint64_t)

static ct_status transpose_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *y = args->out;
  const ct_transpose_attrs *at = args->attrs;
  if (y->numel == 0) return CT_OK;
  perm_plan p = simplify_perm(x->shape, at->perm, x->rank);
  size_t esize = ct_dtype_size(x->dtype);
  if (p.rank <= 1) { /* the order of the elements does not change */
    memcpy(y->data, x->data, y->nbytes);
    return CT_OK;
  }
  int threads = ct_cpu_threads_for(y->numel);
  bool batched2d = p.rank == 2 || (p.rank == 3 && p.perm[0] == 0 && p.perm[1] == 2 && p.perm[2] == 1);
  if (batched2d) {
    int64_t batch = p.rank == 3 ? p.dims[0] : 1;
    int64_t rows = p.dims[p.rank - 2], cols = p.dims[p.rank - 1];
    switch (esize) {
      case 1: transpose2d_u8(x->data, y->data, batch, rows, cols, threads); break;
      case 2: transpose2d_u16(x->data, y->data, batch, rows, cols, threads); break;
      case 4: transpose2d_u32(x->data, y->data, batch, rows, cols, threads); break;
      default: transpose2d_u64(x->data, y->data, batch, rows, cols, threads); break;
    }
    return CT_OK;
  }
  switch (esize) {
    case 1: transpose_nd_u8(x->data, y->data, &p, threads); break;
    case 2: transpose_nd_u16(x->data, y->data, &p, threads); break;
    case 4: transpose_nd_u32(x->data, y->data, &p, threads); break;
    default: transpose_nd_u64(x->data, y->data, &p, threads); break;
  }
  return CT_OK;
}

/* ---- concat ------------------------------------------------------------- */

static ct_status concat_kernel(const ct_kernel_args *args) {
  ct_tensor *y = args->out;
  const ct_axis_attrs *at = args->attrs;
  if (y->numel == 0) return CT_OK;
  int ax = at->axis;
  size_t esize = ct_dtype_size(y->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; d++) outer *= y->shape[d];
  for (int d = ax + 1; d < y->rank; d++) inner *= y->shape[d];
  size_t out_row = (size_t)(y->shape[ax] * inner) * esize;
  int n = args->n_in;
  size_t offsets[CT_MAX_INPUTS], widths[CT_MAX_INPUTS];
  size_t pos = 0;
  for (int i = 0; i < n; i++) {
    offsets[i] = pos;
    widths[i] = (size_t)(args->in[i]->shape[ax] * inner) * esize;
    pos += widths[i];
  }
  int threads = outer > 1 ? ct_cpu_threads_for(y->numel) : 1;
  unsigned char *dst = y->data;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t o = 0; o < outer; o++) {
    for (int i = 0; i < n; i++) {
      if (widths[i] == 0) continue;
      const unsigned char *src = args->in[i]->data;
      memcpy(dst + (size_t)o * out_row + offsets[i], src + (size_t)o * widths[i], widths[i]);
    }
  }
  return CT_OK;
}

/* ---- slice -------------------------------------------------------------- */

static ct_status slice_kernel(const ct_kernel_args *args) {
  const ct_tensor *x = args->in[0];
  ct_tensor *y = args->out;
  const ct_slice_attrs *at = args->attrs;
  if (y->numel == 0) return CT_OK;
  size_t esize = ct_dtype_size(x->dtype);
  int rank = x->rank;
  if (rank == 0) {
    memcpy(y->data, x->data, esize);
    return CT_OK;
  }
  int64_t istride[CT_MAX_RANK], s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    istride[d] = s;
    s *= x->shape[d];
  }
  /* axes q+1.. are taken whole, so each output run along axis q and
   * below is one contiguous span of the input */
  int q = rank - 1;
  while (q > 0 && y->shape[q] == x->shape[q]) q--;
  size_t run = (size_t)(y->shape[q] * istride[q]) * esize;
  int64_t runs = y->numel / (y->shape[q] * istride[q]);
  const unsigned char *src = x->data;
  unsigned char *dst = y->data;
  int threads = runs > 1 ? ct_cpu_threads_for(y->numel) : 1;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t k = 0; k < runs; k++) {
    int64_t rem = k, off = at->begin[q] * istride[q];
    for (int d = q - 1; d >= 0; d--) {
      off += (at->begin[d] + rem % y->shape[d]) * istride[d];
      rem /= y->shape[d];
    }
    memcpy(dst + (size_t)k * run, src + (size_t)off * esize, run);
  }
  return CT_OK;
}

/* params seen as [outer, dim, inner] around the axis: each output row
 * (outer o, index j) is one contiguous copy of `inner` elements. */
static ct_status gather_kernel(const ct_kernel_args *args) {
  const ct_tensor *p = args->in[0], *ix = args->in[1];
  ct_tensor *y = args->out;
  const ct_gather_attrs *at = args->attrs;
  int64_t outer = 1, inner = 1, dim = p->shape[at->axis];
  for (int d = 0; d < at->axis; d++) outer *= p->shape[d];
  for (int d = at->axis + 1; d < p->rank; d++) inner *= p->shape[d];
  if (y->numel == 0) return CT_OK; /* nothing read, nothing checked (as TensorFlow) */
  ct_status st = ct_gather_check_indices(ix, ix->data, dim);
  if (st != CT_OK) return st;
  size_t row = (size_t)inner * ct_dtype_size(p->dtype);
  const unsigned char *src = p->data;
  unsigned char *dst = y->data;
  int64_t n_idx = ix->numel, rows = outer * n_idx;
  bool i32 = ix->dtype == CT_INT32;
  int threads = rows > 1 ? ct_cpu_threads_for(y->numel) : 1;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r / n_idx, j = r - o * n_idx;
    int64_t v = i32 ? ((const int32_t *)ix->data)[j] : ((const int64_t *)ix->data)[j];
    memcpy(dst + (size_t)r * row, src + (size_t)(o * dim + v) * row, row);
  }
  return CT_OK;
}

void ct_cpu_register_shape(ct_registry *r) {
  for (int t = 0; t < CT_DTYPE_COUNT; t++) {
    ct_registry_add(r, CT_OP_TRANSPOSE, CT_DEV_CPU, (ct_dtype)t, transpose_kernel);
    ct_registry_add(r, CT_OP_CONCAT, CT_DEV_CPU, (ct_dtype)t, concat_kernel);
    ct_registry_add(r, CT_OP_SLICE, CT_DEV_CPU, (ct_dtype)t, slice_kernel);
    ct_registry_add(r, CT_OP_GATHER, CT_DEV_CPU, (ct_dtype)t, gather_kernel);
  }
}
