/*
 * Helpers for the op tests: make tensors of any dtype from float64 values,
 * read any tensor back as float64, and round a float64 reference to what a
 * dtype can hold. Included after testutil.h by tests/test_ops_*.c.
 */
#ifndef CT_TESTS_OPS_HELPERS_H
#define CT_TESTS_OPS_HELPERS_H

#include <stdint.h>

#include "testutil.h"

/* Converts n doubles into dtype storage (ints truncate, bool is != 0). */
static inline void oh_pack(ct_dtype dt, const double *v, int64_t n, void *dst) {
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
    case CT_FLOAT32: ((float *)dst)[i] = (float)v[i]; break;
    case CT_FLOAT64: ((double *)dst)[i] = v[i]; break;
    case CT_FLOAT16: ((uint16_t *)dst)[i] = ct_float_to_half((float)v[i]); break;
    case CT_BFLOAT16: ((uint16_t *)dst)[i] = ct_float_to_bfloat16((float)v[i]); break;
    case CT_INT32: ((int32_t *)dst)[i] = (int32_t)v[i]; break;
    case CT_INT64: ((int64_t *)dst)[i] = (int64_t)v[i]; break;
    case CT_BOOL: ((unsigned char *)dst)[i] = v[i] != 0; break;
    }
  }
}

static inline double oh_elem(ct_dtype dt, const void *p, int64_t i) {
  switch (dt) {
  case CT_FLOAT32: return ((const float *)p)[i];
  case CT_FLOAT64: return ((const double *)p)[i];
  case CT_FLOAT16: return ct_half_to_float(((const uint16_t *)p)[i]);
  case CT_BFLOAT16: return ct_bfloat16_to_float(((const uint16_t *)p)[i]);
  case CT_INT32: return ((const int32_t *)p)[i];
  case CT_INT64: return (double)((const int64_t *)p)[i];
  case CT_BOOL: return ((const unsigned char *)p)[i];
  }
  return 0;
}

/* A tensor of dtype dt holding v (converted as oh_pack); NULL on failure
 * (the failure is counted). */
static inline ct_tensor *oh_make(ct_context *c, ct_dtype dt, const int64_t *shape, int rank, const double *v) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  void *buf = malloc((size_t)(n > 0 ? n : 1) * 8);
  oh_pack(dt, v, n, buf);
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(c, dt, shape, rank, buf, &t));
  free(buf);
  return t;
}

/* The tensor's elements as float64 in a malloc'ed array (caller frees). */
static inline double *oh_read(const ct_tensor *t) {
  int64_t n = ct_tensor_num_elements(t);
  void *buf = malloc(ct_tensor_nbytes(t) + 8);
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  CHECK_OK(ct_tensor_to_host(t, buf, ct_tensor_nbytes(t)));
  for (int64_t i = 0; i < n; i++) v[i] = oh_elem(ct_tensor_dtype(t), buf, i);
  free(buf);
  return v;
}

/* What a float64 value becomes when stored in dt (round trip). */
static inline double oh_round(ct_dtype dt, double v) {
  unsigned char tmp[8];
  oh_pack(dt, &v, 1, tmp);
  return oh_elem(dt, tmp, 0);
}

/* Relative tolerance for results computed in dt. */
static inline double oh_tol(ct_dtype dt) {
  switch (dt) {
  case CT_FLOAT32: return 2e-6;
  case CT_FLOAT16: return 2e-3;
  case CT_BFLOAT16: return 1.6e-2;
  default: return 1e-12;
  }
}

static inline bool oh_same_shape(const ct_tensor *t, const int64_t *shape, int rank) {
  if (ct_tensor_rank(t) != rank) return false;
  for (int i = 0; i < rank; i++)
    if (ct_tensor_shape(t)[i] != shape[i]) return false;
  return true;
}

/* Deterministic pseudo-random doubles in [lo, hi). */
static inline double oh_rand(uint64_t *state, double lo, double hi) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return lo + (hi - lo) * (double)(*state >> 11) / 9007199254740992.0;
}

/* Values equal, NaN equal to NaN. */
static inline bool oh_eq(double a, double b) { return (a != a && b != b) || a == b; }

#endif
