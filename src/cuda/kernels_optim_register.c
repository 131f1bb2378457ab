/*
 * GPU kernels of the optimizer updates (ResourceApplyGradientDescent,
 * ResourceApplyKerasMomentum, ResourceApplyAdam): one launch of
 * kernels/optim.cu per variable on the device's stream, reading the value
 * and the gradient, updating the optimizer's slots in place and writing
 * the new value (ct_apply_attrs in core/ops_internal.h). Every scalar is
 * passed as a double, whatever the dtype; the kernels convert it to their
 * compute type as the CPU does.
 */
#include "cuda/cuda_kernels.h"
#include "cuda/jit.h"

#define BLOCK 256

static ct_status apply_kernel(const ct_kernel_args *args) {
  const ct_apply_attrs *at = args->attrs;
  ct_tensor *o = args->out;
  if (o->numel == 0) return CT_OK; /* an empty GPU tensor's data is not device memory */
  ct_device *dev = args->device;
  ct_cuda_kref k;
  if (!ct_cuda_kref_apply(args->op, o->dtype, &k))
    return ct_error(CT_INTERNAL, "%s: no GPU kernel for dtype %s on %s", ct_op_name(args->op),
                    ct_dtype_name(o->dtype), dev->short_name);
  ct_cuda_device *cd = ct_cuda_device_of(dev);
  CUfunction fn[2];
  ct_status s = ct_cuda_kernel_get(cd, &k, fn);
  if (s != CT_OK) return s;
  int64_t n = o->numel;
  void *po = o->data, *pv = args->in[0]->data, *pg = args->in[1]->data;
  double lr = at->lr, mu = at->momentum, c1 = at->one_minus_beta_1, c2 = at->one_minus_beta_2, eps = at->epsilon;
  int nesterov = at->nesterov;
  void *pm = args->n_in > 2 ? args->in[2]->data : NULL, *pv2 = args->n_in > 3 ? args->in[3]->data : NULL;
  void *ph = at->amsgrad && args->n_in > 4 ? args->in[4]->data : NULL;
  void *p_sgd[] = {&po, &pv, &pg, &n, &lr};
  void *p_momentum[] = {&po, &pm, &pv, &pg, &n, &lr, &mu, &nesterov};
  void *p_adam[] = {&po, &pm, &pv2, &ph, &pv, &pg, &n, &lr, &c1, &c2, &eps};
  void **params = args->op == CT_OP_APPLY_GRADIENT_DESCENT ? p_sgd
                  : args->op == CT_OP_APPLY_MOMENTUM       ? p_momentum
                                                           : p_adam;
  return ct_cuda_launch(cd, args->op, fn[0], ct_cuda_grid_for(cd, n, BLOCK), 1, BLOCK, params);
}

bool ct_cuda_optim_needs_jit(ct_kernel_fn fn) { return fn == apply_kernel; }

void ct_cuda_register_optim_kernels(ct_registry *r) {
  ct_cuda_kref k;
  for (int d = 0; d < CT_DTYPE_COUNT; d++)
    for (int op = CT_OP_APPLY_GRADIENT_DESCENT; op <= CT_OP_APPLY_ADAM; op++)
      if (ct_cuda_kref_apply((ct_op)op, (ct_dtype)d, &k)) ct_registry_add(r, (ct_op)op, CT_DEV_GPU, (ct_dtype)d, apply_kernel);
}
