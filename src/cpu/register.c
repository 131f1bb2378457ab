#include "cpu/cpu_kernels.h"

void ct_cpu_register_kernels(ct_registry *r) {
  ct_cpu_register_creation(r);
  ct_cpu_register_elementwise(r);
  ct_cpu_register_reduce(r);
  ct_cpu_register_random(r);
  ct_cpu_register_matmul(r);
  ct_cpu_register_shape(r);
  ct_cpu_register_nn(r);
  ct_cpu_register_optim(r);
}
