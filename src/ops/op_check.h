/*
 * Argument checks shared by the elementwise, creation and reduction
 * front-ends: which dtypes an op accepts (its TensorFlow op definition's
 * type list; a dtype outside it is INVALID_ARGUMENT, while a dtype inside
 * it without a kernel on the chosen device is the core's UNIMPLEMENTED).
 */
#ifndef CT_OPS_OP_CHECK_H
#define CT_OPS_OP_CHECK_H

#include <stdio.h>

#include "core/ops_internal.h"

#define CT_DT_BIT(d) (1u << (d))
#define CT_DTS_FLOAT (CT_DT_BIT(CT_FLOAT32) | CT_DT_BIT(CT_FLOAT64) | CT_DT_BIT(CT_FLOAT16) | CT_DT_BIT(CT_BFLOAT16))
#define CT_DTS_NUMERIC (CT_DTS_FLOAT | CT_DT_BIT(CT_INT32) | CT_DT_BIT(CT_INT64))
#define CT_DTS_ALL (CT_DTS_NUMERIC | CT_DT_BIT(CT_BOOL))

/* "float32, float64 or int32" for a set of dtypes. */
static inline const char *ct_dtypes_str(unsigned set, char *buf, size_t size) {
  int total = 0, seen = 0;
  size_t n = 0;
  for (int d = 0; d < CT_DTYPE_COUNT; d++) total += (set >> d) & 1;
  buf[0] = '\0';
  for (int d = 0; d < CT_DTYPE_COUNT && n < size; d++) {
    if (!((set >> d) & 1)) continue;
    const char *sep = seen == 0 ? "" : seen == total - 1 ? " or " : ", ";
    n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, ct_dtype_name((ct_dtype)d));
    seen++;
  }
  return buf;
}

static inline ct_status ct_check_dtype(const char *op, ct_dtype dtype, unsigned allowed) {
  if ((unsigned)dtype < CT_DTYPE_COUNT && ((allowed >> dtype) & 1)) return CT_OK;
  char buf[128];
  if ((unsigned)dtype >= CT_DTYPE_COUNT)
    return ct_error(CT_INVALID_ARGUMENT, "%s: invalid dtype %d (expected %s)", op, (int)dtype,
                    ct_dtypes_str(allowed, buf, sizeof buf));
  return ct_error(CT_INVALID_ARGUMENT, "%s: dtype %s is not supported (expected %s)", op, ct_dtype_name(dtype),
                  ct_dtypes_str(allowed, buf, sizeof buf));
}

#endif
