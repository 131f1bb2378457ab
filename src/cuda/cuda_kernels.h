/* GPU kernel entry points shared between the files of src/cuda. */
#ifndef CT_CUDA_KERNELS_H
#define CT_CUDA_KERNELS_H

#include "core/ops_internal.h"

/* matmul through cuBLAS (cublas.c): float32 (TF32 when ctx->tf32),
 * float64, float16, bfloat16; rank 2 or 3 with batch broadcasting. */
ct_status ct_cuda_matmul_kernel(const ct_kernel_args *args);

#endif
