/* Shape ops: reshape (a view), transpose, concat, slice, gather — values against index arithmetic, every element size, errors. */
#include <stdint.h>

#include "core/internal.h"
#include "testutil.h"

static ct_context *ctx;

/* A tensor whose element i holds i (in its dtype; bool holds i & 1). */
static ct_tensor *iota(ct_dtype dt, const int64_t *shape, int rank) {
  int64_t n = ct_shape_numel(shape, rank);
  size_t es = ct_dtype_size(dt);
  unsigned char *buf = malloc((size_t)n * es + 1);
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
      case CT_FLOAT32: ((float *)buf)[i] = (float)i; break;
      case CT_FLOAT64: ((double *)buf)[i] = (double)i; break;
      case CT_FLOAT16: ((uint16_t *)buf)[i] = (uint16_t)i; break; /* bit patterns: only moved */
      case CT_BFLOAT16: ((uint16_t *)buf)[i] = (uint16_t)(i * 3); break;
      case CT_INT32: ((int32_t *)buf)[i] = (int32_t)i; break;
      case CT_INT64: ((int64_t *)buf)[i] = i * 1000003; break;
      default: buf[i] = (unsigned char)(i & 1); break;
    }
  }
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, dt, shape, rank, buf, &t));
  free(buf);
  return t;
}

/* Element i of iota(dt) as an integer, to compare bytes read back. */
static int64_t iota_at(ct_dtype dt, int64_t i) {
  switch (dt) {
    case CT_FLOAT16: return (uint16_t)i;
    case CT_BFLOAT16: return (uint16_t)(i * 3);
    case CT_INT64: return i * 1000003;
    case CT_BOOL: return i & 1;
    default: return i;
  }
}

static int64_t *read_ints(const ct_tensor *t) {
  int64_t n = ct_tensor_num_elements(t);
  size_t bytes = ct_tensor_nbytes(t);
  unsigned char *raw = malloc(bytes + 1);
  int64_t *v = malloc((size_t)(n + 1) * sizeof *v);
  CHECK_OK(ct_tensor_to_host(t, raw, bytes));
  for (int64_t i = 0; i < n; i++) {
    switch (ct_tensor_dtype(t)) {
      case CT_FLOAT32: v[i] = (int64_t)((float *)raw)[i]; break;
      case CT_FLOAT64: v[i] = (int64_t)((double *)raw)[i]; break;
      case CT_FLOAT16:
      case CT_BFLOAT16: v[i] = ((uint16_t *)raw)[i]; break;
      case CT_INT32: v[i] = ((int32_t *)raw)[i]; break;
      case CT_INT64: v[i] = ((int64_t *)raw)[i]; break;
      default: v[i] = raw[i]; break;
    }
  }
  free(raw);
  return v;
}

/* ---- reshape ------------------------------------------------------------- */

TEST(reshape_is_a_view) {
  /* 480 bytes: past the size that small tensors keep inline */
  int64_t s[2] = {4, 30}, ns[3] = {3, -1, 2};
  ct_tensor *x = iota(CT_FLOAT32, s, 2), *y = NULL, *z = NULL;
  if (!x) return;
  CHECK_OK(ct_reshape(ctx, x, ns, 3, &y));
  if (y) {
    CHECK_EQ_INT(ct_tensor_rank(y), 3);
    CHECK_EQ_INT(ct_tensor_dim(y, 1), 20);
    CHECK(y->data == x->data); /* no copy */
    CHECK_EQ_STR(ct_tensor_device(y), ct_tensor_device(x));
    int64_t flat[1] = {120};
    CHECK_OK(ct_reshape(ctx, y, flat, 1, &z));
  }
  /* the views keep the bytes alive after x goes */
  ct_tensor_release(x);
  if (z) {
    int64_t *v = read_ints(z);
    for (int i = 0; i < 120; i++) CHECK_EQ_INT(v[i], i);
    free(v);
  }
  ct_tensor_release(y);
  ct_tensor_release(z);
  /* to and from a scalar */
  int64_t one[1] = {1};
  x = iota(CT_INT64, one, 1);
  y = NULL;
  if (x) CHECK_OK(ct_reshape(ctx, x, NULL, 0, &y));
  if (y) CHECK_EQ_INT(ct_tensor_rank(y), 0);
  ct_tensor_release(x);
  ct_tensor_release(y);
}

TEST(reshape_errors) {
  int64_t s[2] = {2, 3}, bad[2] = {4, 2}, two[2] = {-1, -1}, neg[2] = {-2, 3}, odd[2] = {4, -1};
  ct_tensor *x = iota(CT_FLOAT32, s, 2), *y = NULL;
  if (!x) return;
  CHECK_ERR(ct_reshape(ctx, x, bad, 2, &y), CT_INVALID_ARGUMENT,
            "reshape: cannot reshape x of shape [2,3] (6 elements) into [4,2] (8 elements)");
  CHECK_ERR(ct_reshape(ctx, x, two, 2, &y), CT_INVALID_ARGUMENT, "more than one -1");
  CHECK_ERR(ct_reshape(ctx, x, neg, 2, &y), CT_INVALID_ARGUMENT, "negative dimension -2");
  CHECK_ERR(ct_reshape(ctx, x, odd, 2, &y), CT_INVALID_ARGUMENT, "[2,3] (6 elements) into [4,-1]");
  CHECK_ERR(ct_reshape(ctx, x, s, CT_MAX_RANK + 1, &y), CT_INVALID_ARGUMENT, "rank 9");
  CHECK(y == NULL);
  ct_tensor_release(x);
}

/* ---- transpose ----------------------------------------------------------- */

/* Checks transpose(x, perm) element by element from the index arithmetic. */
static void check_transpose(ct_dtype dt, const int64_t *shape, int rank, const int *perm) {
  ct_tensor *x = iota(dt, shape, rank), *y = NULL;
  if (!x) return;
  CHECK_OK(ct_transpose(ctx, x, perm, &y));
  if (y) {
    int p[CT_MAX_RANK];
    for (int i = 0; i < rank; i++) p[i] = perm ? perm[i] : rank - 1 - i;
    for (int i = 0; i < rank; i++) CHECK_EQ_INT(ct_tensor_dim(y, i), shape[p[i]]);
    int64_t in_stride[CT_MAX_RANK], s = 1;
    for (int d = rank - 1; d >= 0; d--) {
      in_stride[d] = s;
      s *= shape[d];
    }
    int64_t *v = read_ints(y);
    int64_t n = ct_tensor_num_elements(y), bad = 0;
    for (int64_t o = 0; o < n; o++) {
      int64_t rem = o, src = 0;
      for (int i = rank - 1; i >= 0; i--) {
        int64_t dim = shape[p[i]];
        src += (rem % dim) * in_stride[p[i]];
        rem /= dim;
      }
      bad += v[o] != iota_at(dt, src);
    }
    CHECK_EQ_INT(bad, 0);
    free(v);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
}

TEST(transpose_2d_tiles_and_element_sizes) {
  const int64_t shapes[][2] = {{1, 1}, {2, 3}, {33, 31}, {300, 170}, {1, 77}, {64, 64}};
  const ct_dtype types[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BOOL, CT_INT64};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) check_transpose(types[t], shapes[s], 2, NULL);
  /* big enough to run on several threads */
  int64_t big[2] = {700, 513};
  check_transpose(CT_FLOAT32, big, 2, NULL);
}

TEST(transpose_every_permutation_of_rank_3_and_4) {
  const int perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  int64_t s3[3] = {3, 4, 5}, s3b[3] = {40, 1, 37};
  for (int i = 0; i < 6; i++) {
    check_transpose(CT_INT32, s3, 3, perms3[i]);
    check_transpose(CT_BFLOAT16, s3b, 3, perms3[i]);
  }
  int64_t s4[4] = {2, 3, 4, 5};
  int p4[4];
  /* all 24 permutations of rank 4 */
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 4; c++) {
        int d = 6 - a - b - c;
        if (a == b || a == c || b == c || d < 0 || d > 3 || d == a || d == b || d == c) continue;
        p4[0] = a, p4[1] = b, p4[2] = c, p4[3] = d;
        check_transpose(CT_FLOAT64, s4, 4, p4);
      }
  int64_t s5[5] = {3, 1, 50, 2, 60};
  int p5[5] = {4, 2, 0, 3, 1};
  check_transpose(CT_FLOAT32, s5, 5, p5);
  /* scalars and empty tensors */
  check_transpose(CT_FLOAT32, NULL, 0, NULL);
  int64_t e[2] = {0, 4};
  check_transpose(CT_FLOAT32, e, 2, NULL);
}

TEST(transpose_errors) {
  int64_t s[2] = {2, 3};
  int dup[2] = {0, 0}, out_of_range[2] = {0, 2};
  ct_tensor *x = iota(CT_FLOAT32, s, 2), *y = NULL;
  if (!x) return;
  CHECK_ERR(ct_transpose(ctx, x, dup, &y), CT_INVALID_ARGUMENT,
            "transpose: perm [0,0] is not a permutation of the axes of x of shape [2,3]");
  CHECK_ERR(ct_transpose(ctx, x, out_of_range, &y), CT_INVALID_ARGUMENT, "perm [0,2]");
  CHECK(y == NULL);
  ct_tensor_release(x);
}

/* ---- concat -------------------------------------------------------------- */

TEST(concat_values) {
  /* [2,3] ++ [2,1] ++ [2,0] ++ [2,2] along axis 1 (given as -1) */
  int64_t sa[2] = {2, 3}, sb[2] = {2, 1}, sc[2] = {2, 0}, sd[2] = {2, 2};
  const ct_tensor *xs[4] = {iota(CT_INT32, sa, 2), iota(CT_INT32, sb, 2), iota(CT_INT32, sc, 2), iota(CT_INT32, sd, 2)};
  ct_tensor *y = NULL;
  if (xs[0] && xs[1] && xs[2] && xs[3]) CHECK_OK(ct_concat(ctx, xs, 4, -1, &y));
  if (y) {
    CHECK_EQ_INT(ct_tensor_dim(y, 0), 2);
    CHECK_EQ_INT(ct_tensor_dim(y, 1), 6);
    int64_t want[12] = {0, 1, 2, 0, 0, 1, 3, 4, 5, 1, 2, 3};
    int64_t *v = read_ints(y);
    for (int i = 0; i < 12; i++) CHECK_EQ_INT(v[i], want[i]);
    free(v);
    ct_tensor_release(y);
  }
  /* along axis 0 */
  y = NULL;
  const ct_tensor *two[2] = {xs[0], xs[0]};
  if (xs[0]) CHECK_OK(ct_concat(ctx, two, 2, 0, &y));
  if (y) {
    CHECK_EQ_INT(ct_tensor_dim(y, 0), 4);
    int64_t *v = read_ints(y);
    for (int i = 0; i < 12; i++) CHECK_EQ_INT(v[i], i % 6);
    free(v);
    ct_tensor_release(y);
  }
  for (int i = 0; i < 4; i++) ct_tensor_release((ct_tensor *)xs[i]);
}

TEST(concat_middle_axis_large) {
  /* [8,300,64] ++ [8,100,64] along axis 1, float64: several threads */
  int64_t sa[3] = {8, 300, 64}, sb[3] = {8, 100, 64};
  const ct_tensor *xs[2] = {iota(CT_FLOAT64, sa, 3), iota(CT_FLOAT64, sb, 3)};
  ct_tensor *y = NULL;
  if (xs[0] && xs[1]) CHECK_OK(ct_concat(ctx, xs, 2, 1, &y));
  if (y) {
    int64_t *v = read_ints(y);
    int64_t bad = 0;
    for (int64_t o = 0; o < 8; o++)
      for (int64_t r = 0; r < 400; r++)
        for (int64_t c = 0; c < 64; c++) {
          int64_t want = r < 300 ? (o * 300 + r) * 64 + c : (o * 100 + r - 300) * 64 + c;
          bad += v[(o * 400 + r) * 64 + c] != want;
        }
    CHECK_EQ_INT(bad, 0);
    free(v);
    ct_tensor_release(y);
  }
  ct_tensor_release((ct_tensor *)xs[0]);
  ct_tensor_release((ct_tensor *)xs[1]);
}

TEST(concat_errors) {
  int64_t sa[2] = {2, 3}, sb[2] = {3, 3}, s1[1] = {3};
  ct_tensor *a = iota(CT_FLOAT32, sa, 2), *b = iota(CT_FLOAT32, sb, 2), *c = iota(CT_INT32, sa, 2);
  ct_tensor *v = iota(CT_FLOAT32, s1, 1), *s = iota(CT_FLOAT32, NULL, 0), *y = NULL;
  const ct_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *av[2] = {a, v}, *ss[2] = {s, s};
  CHECK_ERR(ct_concat(ctx, ab, 2, 1, &y), CT_INVALID_ARGUMENT,
            "concat: shapes differ outside axis 1: xs[0] is [2,3], xs[1] is [3,3]");
  CHECK_ERR(ct_concat(ctx, ac, 2, 0, &y), CT_INVALID_ARGUMENT, "concat: dtypes differ: xs[0] is float32, xs[1] is int32");
  CHECK_ERR(ct_concat(ctx, av, 2, 0, &y), CT_INVALID_ARGUMENT, "ranks differ: xs[0] is [2,3], xs[1] is [3]");
  CHECK_ERR(ct_concat(ctx, ab, 2, 2, &y), CT_INVALID_ARGUMENT, "axis 2 is out of range for rank 2");
  CHECK_ERR(ct_concat(ctx, ab, 2, -3, &y), CT_INVALID_ARGUMENT, "axis -3");
  CHECK_ERR(ct_concat(ctx, ss, 2, 0, &y), CT_INVALID_ARGUMENT, "scalars");
  CHECK_ERR(ct_concat(ctx, ab, 0, 0, &y), CT_INVALID_ARGUMENT, "got 0");
  CHECK(y == NULL);
  /* the shapes agree along axis 0 */
  CHECK_OK(ct_concat(ctx, ab, 2, 0, &y));
  if (y) CHECK_EQ_INT(ct_tensor_dim(y, 0), 5);
  ct_tensor_release(y);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  ct_tensor_release(v);
  ct_tensor_release(s);
}

/* ---- slice --------------------------------------------------------------- */

static void check_slice(ct_dtype dt, const int64_t *shape, int rank, const int64_t *begin, const int64_t *size) {
  ct_tensor *x = iota(dt, shape, rank), *y = NULL;
  if (!x) return;
  CHECK_OK(ct_slice(ctx, x, begin, size, &y));
  if (y) {
    int64_t out[CT_MAX_RANK], stride[CT_MAX_RANK], s = 1;
    for (int d = rank - 1; d >= 0; d--) {
      stride[d] = s;
      s *= shape[d];
      out[d] = size[d] == -1 ? shape[d] - begin[d] : size[d];
      CHECK_EQ_INT(ct_tensor_dim(y, d), out[d]);
    }
    int64_t *v = read_ints(y), n = ct_tensor_num_elements(y), bad = 0;
    for (int64_t o = 0; o < n; o++) {
      int64_t rem = o, src = 0;
      for (int d = rank - 1; d >= 0; d--) {
        src += (begin[d] + rem % out[d]) * stride[d];
        rem /= out[d];
      }
      bad += v[o] != iota_at(dt, src);
    }
    CHECK_EQ_INT(bad, 0);
    free(v);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
}

TEST(slice_values) {
  int64_t s2[2] = {4, 5};
  int64_t b1[2] = {1, 2}, z1[2] = {2, 3};
  check_slice(CT_FLOAT32, s2, 2, b1, z1);
  int64_t b2[2] = {1, 0}, z2[2] = {-1, -1}; /* whole rows: one contiguous run */
  check_slice(CT_INT64, s2, 2, b2, z2);
  int64_t b3[2] = {4, 5}, z3[2] = {0, 0}; /* empty, at the very end */
  check_slice(CT_BOOL, s2, 2, b3, z3);
  int64_t s4[4] = {3, 4, 5, 6}, b4[4] = {1, 0, 2, 1}, z4[4] = {2, 4, -1, 4};
  check_slice(CT_FLOAT16, s4, 4, b4, z4);
  int64_t b5[4] = {0, 1, 0, 0}, z5[4] = {3, 2, 5, 6};
  check_slice(CT_FLOAT64, s4, 4, b5, z5);
  int64_t big[2] = {600, 500}, bb[2] = {7, 3}, bz[2] = {590, 400}; /* several threads */
  check_slice(CT_FLOAT32, big, 2, bb, bz);
  check_slice(CT_INT32, NULL, 0, NULL, NULL);
}

TEST(slice_errors) {
  int64_t s[2] = {2, 3}, b[2] = {0, 2}, z[2] = {2, 2}, nb[2] = {-1, 0}, nz[2] = {1, -2};
  ct_tensor *x = iota(CT_FLOAT32, s, 2), *y = NULL;
  if (!x) return;
  CHECK_ERR(ct_slice(ctx, x, b, z, &y), CT_INVALID_ARGUMENT,
            "slice: begin [0,2] and size [2,2] are out of bounds for x of shape [2,3]");
  CHECK_ERR(ct_slice(ctx, x, nb, z, &y), CT_INVALID_ARGUMENT, "axis 0: begin -1");
  CHECK_ERR(ct_slice(ctx, x, b, nz, &y), CT_INVALID_ARGUMENT, "size -2");
  CHECK_ERR(ct_slice(ctx, x, NULL, z, &y), CT_INVALID_ARGUMENT, "NULL begin");
  CHECK(y == NULL);
  ct_tensor_release(x);
}

/* ---- gather ------------------------------------------------------------- */

static ct_tensor *index_tensor(ct_dtype dt, const int64_t *v, const int64_t *shape, int rank) {
  int64_t n = ct_shape_numel(shape, rank);
  int32_t v32[64];
  for (int64_t i = 0; i < n && i < 64; i++) v32[i] = (int32_t)v[i];
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, dt, shape, rank, dt == CT_INT32 ? (const void *)v32 : (const void *)v, &t));
  return t;
}

TEST(gather_values_every_axis_and_dtype) {
  int64_t ps[3] = {3, 4, 5};
  int64_t idx[6] = {2, 0, 3, 3, 1, 0}, is[2] = {2, 3};
  for (int dt = 0; dt < CT_DTYPE_COUNT; dt++)
    for (int it = 0; it < 2; it++)
      for (int axis = 0; axis < 3; axis++) {
        ct_dtype id = it ? CT_INT64 : CT_INT32;
        ct_tensor *p = iota((ct_dtype)dt, ps, 3), *ix = index_tensor(id, idx, is, 2), *y = NULL;
        /* every index must be valid on every axis: dims are 3, 4, 5 */
        int64_t lim = ps[axis];
        int64_t vals[6];
        for (int k = 0; k < 6; k++) vals[k] = idx[k] % lim;
        ct_tensor_release(ix);
        ix = index_tensor(id, vals, is, 2);
        CHECK_OK(ct_gather(ctx, p, ix, axis - 3, &y)); /* negative axis */
        if (y) {
          /* shape: params[:axis] + [2, 3] + params[axis+1:] */
          CHECK_EQ_INT(ct_tensor_rank(y), 4);
          int64_t want_shape[4], r = 0;
          for (int d = 0; d < axis; d++) want_shape[r++] = ps[d];
          want_shape[r++] = 2, want_shape[r++] = 3;
          for (int d = axis + 1; d < 3; d++) want_shape[r++] = ps[d];
          for (int d = 0; d < 4; d++) CHECK_EQ_INT(ct_tensor_shape(y)[d], want_shape[d]);
          CHECK_EQ_INT(ct_tensor_dtype(y), dt);
          int64_t *v = read_ints(y), bad = 0, n = ct_tensor_num_elements(y);
          int64_t inner = 1;
          for (int d = axis + 1; d < 3; d++) inner *= ps[d];
          for (int64_t i = 0; i < n; i++) {
            int64_t k = i % inner, j = (i / inner) % 6, o = i / inner / 6;
            bad += v[i] != iota_at((ct_dtype)dt, (o * lim + vals[j]) * inner + k);
          }
          CHECK_EQ_INT(bad, 0);
          free(v);
        }
        ct_tensor_release(y), ct_tensor_release(ix), ct_tensor_release(p);
      }
  /* a scalar index drops the axis */
  int64_t s2[2] = {3, 4}, one = 2;
  ct_tensor *p = iota(CT_INT32, s2, 2), *ix = index_tensor(CT_INT64, &one, NULL, 0), *y = NULL;
  CHECK_OK(ct_gather(ctx, p, ix, 1, &y));
  if (y) {
    CHECK_EQ_INT(ct_tensor_rank(y), 1);
    int64_t *v = read_ints(y);
    CHECK(v[0] == 2 && v[1] == 6 && v[2] == 10);
    free(v);
  }
  ct_tensor_release(y), ct_tensor_release(ix), ct_tensor_release(p);
}

TEST(gather_errors_and_empty_cases) {
  int64_t ps[2] = {3, 4}, is[2] = {2, 2};
  ct_tensor *p = iota(CT_FLOAT32, ps, 2), *y = NULL;
  int64_t bad_hi[4] = {0, 1, 2, 3}, bad_lo[4] = {0, -1, 2, 1};
  ct_tensor *hi = index_tensor(CT_INT32, bad_hi, is, 2), *lo = index_tensor(CT_INT64, bad_lo, is, 2);
  CHECK_ERR(ct_gather(ctx, p, hi, 0, &y), CT_INVALID_ARGUMENT, "gather: indices[1,1] = 3 is not in [0, 3)");
  CHECK(y == NULL);
  CHECK_OK(ct_gather(ctx, p, hi, 1, &y)); /* 3 is fine along the axis of 4 */
  ct_tensor_release(y);
  y = NULL;
  CHECK_ERR(ct_gather(ctx, p, lo, 1, &y), CT_INVALID_ARGUMENT, "gather: indices[0,1] = -1 is not in [0, 4)");
  int64_t five = 5;
  ct_tensor *sc = index_tensor(CT_INT64, &five, NULL, 0);
  CHECK_ERR(ct_gather(ctx, p, sc, 0, &y), CT_INVALID_ARGUMENT, "gather: indices = 5 is not in [0, 3)");
  CHECK_ERR(ct_gather(ctx, p, hi, 2, &y), CT_INVALID_ARGUMENT, "gather: axis 2 is out of range for params of shape [3,4]");
  CHECK_ERR(ct_gather(ctx, p, hi, -3, &y), CT_INVALID_ARGUMENT, "axis -3 is out of range");
  CHECK_ERR(ct_gather(ctx, p, p, 0, &y), CT_INVALID_ARGUMENT, "gather: indices must be int32 or int64, got float32");
  CHECK_ERR(ct_gather(ctx, sc, hi, 0, &y), CT_INVALID_ARGUMENT, "params must be at least rank 1");
  CHECK_ERR(ct_gather(ctx, NULL, hi, 0, &y), CT_INVALID_ARGUMENT, "gather: NULL params");
  int64_t big[8] = {1, 1, 1, 1, 1, 1, 1, 2};
  ct_tensor *p8 = NULL;
  CHECK_OK(ct_fill(ctx, CT_INT32, big, 8, 1, &p8));
  CHECK_ERR(ct_gather(ctx, p8, hi, 0, &y), CT_INVALID_ARGUMENT, "the result would have rank 9");
  /* nothing to compute: no index is checked (as TensorFlow) */
  int64_t zs[2] = {2, 0};
  ct_tensor *z = iota(CT_FLOAT32, zs, 2);
  int64_t far = 7, is1[1] = {1};
  ct_tensor *fi = index_tensor(CT_INT32, &far, is1, 1);
  CHECK_OK(ct_gather(ctx, z, fi, 0, &y));
  CHECK_EQ_INT(ct_tensor_num_elements(y), 0);
  ct_tensor_release(y);
  y = NULL;
  /* ...but an empty axis with indices to take is an error */
  CHECK_ERR(ct_gather(ctx, z, fi, 1, &y), CT_INVALID_ARGUMENT, "gather: indices[0] = 7 is not in [0, 0)");
  ct_tensor_release(fi), ct_tensor_release(z), ct_tensor_release(p8), ct_tensor_release(sc);
  ct_tensor_release(hi), ct_tensor_release(lo), ct_tensor_release(p);
}

int main(void) {
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "cannot create a context: %s\n", ct_last_error());
    return 1;
  }
  RUN(reshape_is_a_view);
  RUN(reshape_errors);
  RUN(transpose_2d_tiles_and_element_sizes);
  RUN(transpose_every_permutation_of_rank_3_and_4);
  RUN(transpose_errors);
  RUN(concat_values);
  RUN(concat_middle_axis_large);
  RUN(concat_errors);
  RUN(slice_values);
  RUN(slice_errors);
  RUN(gather_values_every_axis_and_dtype);
  RUN(gather_errors_and_empty_cases);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
