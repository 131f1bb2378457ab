/*
 * Every GPU kernel ctensor can launch, by name. A kernel is one compile
 * unit: an embedded module source (binary.cu, ...) followed by one
 * instantiation line ("CT_BIN(add, OpAdd, float, f32)") that defines the
 * extern "C" kernel(s). Compiling one kernel at a time keeps the first use
 * of an op at about 0.1 s of NVRTC time instead of seconds for a whole
 * module.
 *
 * The launch code and the NVRTC test both build their references here, so
 * the test compiles exactly the kernels that can be launched.
 */
#ifndef CT_CUDA_KERNEL_CATALOG_H
#define CT_CUDA_KERNEL_CATALOG_H

#include <stdbool.h>

#include "core/internal.h"

typedef struct ct_cuda_kref {
  const char *module;  /* embedded source, "binary.cu" */
  const char *option;  /* one extra NVRTC option or NULL ("--fmad=false") */
  char inst[96];       /* instantiation line */
  char name[2][40];    /* kernel names; name[1][0] == 0 when only one */
} ct_cuda_kref;

/* Each returns false when the GPU has no such kernel. */
bool ct_cuda_kref_binary(ct_op op, ct_dtype dt, ct_cuda_kref *k);   /* add .. greater_equal */
bool ct_cuda_kref_unary(ct_op op, ct_dtype dt, ct_cuda_kref *k);    /* neg .. relu */
bool ct_cuda_kref_cast(ct_dtype from, ct_dtype to, ct_cuda_kref *k);
bool ct_cuda_kref_fill(size_t elem_size, ct_cuda_kref *k);
bool ct_cuda_kref_range(ct_dtype dt, ct_cuda_kref *k);
bool ct_cuda_kref_random(ct_op op, ct_dtype dt, ct_cuda_kref *k);
bool ct_cuda_kref_reduce(ct_op op, ct_dtype dt, ct_cuda_kref *k);   /* sum mean max min: name[1] = finish */
bool ct_cuda_kref_argmax(ct_dtype dt, ct_cuda_kref *k);
bool ct_cuda_kref_softmax(ct_dtype dt, ct_cuda_kref *k);
bool ct_cuda_kref_gather(size_t elem_size, ct_cuda_kref *k);
bool ct_cuda_kref_copy2d(size_t elem_size, ct_cuda_kref *k);
/* tf.gather along an axis: elements of elem_size bytes, int32/int64 indices */
bool ct_cuda_kref_take(size_t elem_size, ct_dtype index_dtype, ct_cuda_kref *k);
/* ops for gradients and training (nn.cu) */
bool ct_cuda_kref_log_softmax(ct_dtype dt, ct_cuda_kref *k);
/* CT_OP_SPARSE_XENT (int32/int64 labels) or CT_OP_SOFTMAX_XENT (label_dtype unused) */
bool ct_cuda_kref_xent(ct_op op, ct_dtype dt, ct_dtype label_dtype, ct_cuda_kref *k);
bool ct_cuda_kref_one_hot(size_t elem_size, ct_dtype index_dtype, ct_cuda_kref *k);
bool ct_cuda_kref_select(size_t elem_size, ct_cuda_kref *k);  /* where (SelectV2) */
bool ct_cuda_kref_segment_sum(ct_dtype dt, ct_dtype index_dtype, ct_cuda_kref *k);
/* the first int32/int64 value outside a range (labels and ids checks) */
bool ct_cuda_kref_find_bad(ct_dtype index_dtype, ct_cuda_kref *k);

/* the optimizer updates (optim.cu): CT_OP_APPLY_GRADIENT_DESCENT,
 * CT_OP_APPLY_MOMENTUM, CT_OP_APPLY_ADAM; float dtypes */
bool ct_cuda_kref_apply(ct_op op, ct_dtype dt, ct_cuda_kref *k);

/* Every kernel: fills up to cap entries, returns the total count. */
int ct_cuda_kernel_catalog(ct_cuda_kref *out, int cap);

/* The full source of a kernel (module text + instantiation line), malloc'ed;
 * NULL when out of memory or the module is not embedded. */
char *ct_cuda_kref_source(const ct_cuda_kref *k);

#endif
