/* GPU kernel entry points shared between the files of src/cuda. */
#ifndef CT_CUDA_KERNELS_H
#define CT_CUDA_KERNELS_H

#include "core/ops_internal.h"

/* matmul through cuBLAS (cublas.c): float32 (TF32 when ctx->tf32),
 * float64, float16, bfloat16; rank 2 or 3 with batch broadcasting. */
ct_status ct_cuda_matmul_kernel(const ct_kernel_args *args);

/* Drops the GPU kernels the machine's libraries cannot run (all JIT kernels
 * without NVRTC, matmul without cuBLAS), so that placement sends those ops
 * to the CPU -- automatically, or as a counted NO_KERNEL fallback -- rather
 * than choosing the GPU and failing when the op runs. Called by discovery
 * when at least one GPU is usable; the registry is the context's. */
void ct_cuda_prune_kernels(ct_registry *r, bool have_nvrtc, bool have_cublas);

/* Found is not usable: the kernels kept by ct_cuda_prune_kernels are marked
 * with the library they need (registry gpu_needs), and placement has the
 * library opened and tried before it relies on one (library_check.c):
 * returns the libraries of `need` (CT_GPU_NEEDS_*) that cannot be used,
 * recorded as the GPUs' NO_NVRTC / NO_CUBLAS reason. The platform's
 * check_libraries. */
unsigned ct_cuda_check_libraries(ct_context *ctx, unsigned need);

/* x's shape around `axis`: the product of the dims before it, its own
 * extent, the product of the dims after it (argmax, softmax, log_softmax). */
void ct_cuda_axis_split(const ct_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner);

/* Rows along a contiguous axis (inner == 1) at least this long get a block
 * each (src/cuda/kernels/rows.cuh: softmax, log_softmax, the
 * cross-entropies, argmax); shorter ones a thread each, which then reads
 * with a stride of len, but a block's setup and reductions would cost more
 * than the row. */
#define CT_CUDA_ROW_PER_BLOCK 128

/* The ops for gradients and training (kernels_nn_register.c): registers
 * their GPU kernels; whether fn is one of them (all need NVRTC). */
void ct_cuda_register_nn_kernels(ct_registry *r);
bool ct_cuda_nn_needs_jit(ct_kernel_fn fn);

/* The optimizer updates (kernels_optim_register.c): registers their GPU
 * kernels; whether fn is one of them (all need NVRTC). */
void ct_cuda_register_optim_kernels(ct_registry *r);
bool ct_cuda_optim_needs_jit(ct_kernel_fn fn);

#endif
