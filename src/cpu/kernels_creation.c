/* CPU kernels for fill and range. */
#include "cpu/kernels_common.h"

typedef struct fill_job {
  char *dst;
  size_t size;
  unsigned char pattern[8]; /* one element of the output dtype */
} fill_job;

static void fill_range(void *ctx, int64_t begin, int64_t end) {
  const fill_job *j = ctx;
  switch (j->size) {
  case 1:
    memset(j->dst + begin, j->pattern[0], (size_t)(end - begin));
    break;
  case 2: {
    uint16_t v, *d = (uint16_t *)j->dst;
    memcpy(&v, j->pattern, 2);
    for (int64_t i = begin; i < end; i++) d[i] = v;
    break;
  }
  case 4: {
    uint32_t v, *d = (uint32_t *)j->dst;
    memcpy(&v, j->pattern, 4);
    for (int64_t i = begin; i < end; i++) d[i] = v;
    break;
  }
  default: {
    uint64_t v, *d = (uint64_t *)j->dst;
    memcpy(&v, j->pattern, 8);
    for (int64_t i = begin; i < end; i++) d[i] = v;
    break;
  }
  }
}

static ct_status fill_kernel(const ct_kernel_args *args) {
  const ct_fill_attrs *a = args->attrs;
  ct_tensor *o = args->out;
  fill_job j = {o->data, ct_dtype_size(o->dtype), {0}};
  /* the value converts exactly as ct_cast converts a float64 */
  ct_k_store_f64(j.pattern, o->dtype, 0, a->value);
  ct_k_parallel(o->numel, ct_cpu_threads_for(o->numel), 64, fill_range, &j);
  return CT_OK;
}

typedef struct range_job {
  const ct_range_attrs *a;
  ct_tensor *o;
} range_job;

static void range_range(void *ctx, int64_t begin, int64_t end) {
  const range_job *j = ctx;
  const double start = j->a->start, delta = j->a->delta;
  switch (j->o->dtype) {
  case CT_INT32: {
    /* The front-end checked that every value fits; unsigned arithmetic
     * keeps i * delta defined where it alone would overflow. */
    int32_t *d = j->o->data;
    const uint64_t s = (uint64_t)(int64_t)start, dl = (uint64_t)(int64_t)delta;
    for (int64_t i = begin; i < end; i++) d[i] = (int32_t)(int64_t)(s + (uint64_t)i * dl);
    break;
  }
  case CT_INT64: {
    int64_t *d = j->o->data;
    const uint64_t s = (uint64_t)(int64_t)start, dl = (uint64_t)(int64_t)delta;
    for (int64_t i = begin; i < end; i++) d[i] = (int64_t)(s + (uint64_t)i * dl);
    break;
  }
  case CT_FLOAT32: {
    float *d = j->o->data;
    for (int64_t i = begin; i < end; i++) d[i] = (float)(start + (double)i * delta);
    break;
  }
  default:
    for (int64_t i = begin; i < end; i++) ct_k_store_f64(j->o->data, j->o->dtype, i, start + (double)i * delta);
    break;
  }
}

static ct_status range_kernel(const ct_kernel_args *args) {
  range_job j = {args->attrs, args->out};
  ct_k_parallel(j.o->numel, ct_cpu_threads_for(j.o->numel), 64, range_range, &j);
  return CT_OK;
}

void ct_cpu_register_creation(ct_registry *r) {
  for (int d = 0; d < CT_DTYPE_COUNT; d++) ct_registry_add(r, CT_OP_FILL, CT_DEV_CPU, (ct_dtype)d, fill_kernel);
  static const ct_dtype range_types[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
  for (size_t i = 0; i < CT_ARRAY_LEN(range_types); i++)
    ct_registry_add(r, CT_OP_RANGE, CT_DEV_CPU, range_types[i], range_kernel);
}
