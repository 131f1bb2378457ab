/*
 * Checks of index values that only a kernel can see (they live in device
 * memory), shared by the kernels of every device so that the message is
 * the same everywhere, like ct_gather_check_indices. `data` holds the
 * tensor's elements in host memory (the CPU kernel passes t->data, a GPU
 * kernel a copy it read back).
 */
#ifndef CT_OPS_NN_CHECK_H
#define CT_OPS_NN_CHECK_H

#include "core/ops_internal.h"

/* Sparse softmax cross-entropy labels (int32/int64, rank 1) against
 * [0, classes): CT_OK, or INVALID_ARGUMENT with TensorFlow's text naming
 * the first bad label and listing the labels. */
ct_status ct_sparse_xent_check_labels(const ct_tensor *labels, const void *data, int64_t classes);

/* unsorted_segment_sum ids (int32/int64, any rank): negative ids are
 * allowed (dropped); an id >= num_segments is INVALID_ARGUMENT naming its
 * position in ids' shape, TensorFlow's "segment_ids[1,2] = 7 is out of
 * range [0, 5)". */
ct_status ct_segment_check_ids(const ct_tensor *ids, const void *data, int64_t num_segments);

#endif
