/*
 * CPU kernel registration, split by family so that each file registers
 * what it defines. ct_cpu_register_kernels() (register.c) calls them all.
 */
#ifndef CT_CPU_KERNELS_H
#define CT_CPU_KERNELS_H

#include "core/ops_internal.h"

void ct_cpu_register_creation(ct_registry *r);    /* fill, range */
void ct_cpu_register_elementwise(ct_registry *r); /* binary, unary, comparisons, cast */
void ct_cpu_register_reduce(ct_registry *r);      /* sum mean max min argmax softmax */
void ct_cpu_register_random(ct_registry *r);      /* uniform, normal, truncated normal */
void ct_cpu_register_matmul(ct_registry *r);      /* matmul */
void ct_cpu_register_shape(ct_registry *r);       /* transpose, concat, slice */
/* log_softmax, softmax cross-entropies, one_hot, where, broadcast_to, unsorted_segment_sum */
void ct_cpu_register_nn(ct_registry *r);
/* the optimizer updates: ResourceApplyGradientDescent, ResourceApplyKerasMomentum, ResourceApplyAdam */
void ct_cpu_register_optim(ct_registry *r);

#endif
