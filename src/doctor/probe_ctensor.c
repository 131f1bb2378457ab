/* ctensor's own view of the machine, through the public API only: the same
 * answers an application gets. */
#include <string.h>

#include "doctor/doctor.h"

void ct_doctor_probe_ctensor(ct_doctor_report *r) {
  ct_doctor_ctensor *c = &r->ct;
  ct_dr_strlcpy(c->version, ct_version(), sizeof c->version);
  ct_dr_strlcpy(c->features, ct_build_features(), sizeof c->features);
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) {
    c->reason = CT_GPU_NO_DRIVER_LIBRARY;
    snprintf(c->detail, sizeof c->detail, "could not create a context: %s", ct_last_error());
    return;
  }
  c->probed = true;
  /* A GPU on which no CUDA context can be created is only found when the
   * context initialises (DEVICE_UNAVAILABLE); its failure is in the lists. */
  (void)ct_context_initialize(ctx);
  c->reason = ct_gpu_availability(ctx, c->detail, sizeof c->detail);
  c->n_cpu = ct_physical_device_count(ctx, "CPU");
  if (c->n_cpu > 0) ct_physical_device_get(ctx, "CPU", 0, &c->cpu0);
  int n = ct_physical_device_count(ctx, "GPU");
  for (int i = 0; i < n && c->n_gpus < CT_DR_MAX_GPUS; i++)
    if (ct_physical_device_get(ctx, "GPU", i, &c->gpus[c->n_gpus]) == CT_OK && c->gpus[c->n_gpus].usable)
      c->n_gpus++;
  n = ct_unusable_device_count(ctx);
  for (int i = 0; i < n && c->n_unusable < CT_DR_MAX_GPUS; i++)
    if (ct_unusable_device_get(ctx, i, &c->unusable[c->n_unusable]) == CT_OK) c->n_unusable++;
  /* Where an op without a scope lands: the first GPU if there is one (GPU
   * outranks CPU in placement), else CPU:0. */
  ct_logical_device_info li;
  if (ct_logical_device_count(ctx, "GPU") > 0 && ct_logical_device_get(ctx, "GPU", 0, &li) == CT_OK)
    ct_dr_strlcpy(c->default_device, li.name, sizeof c->default_device);
  else if (ct_logical_device_count(ctx, "CPU") > 0 && ct_logical_device_get(ctx, "CPU", 0, &li) == CT_OK)
    ct_dr_strlcpy(c->default_device, li.name, sizeof c->default_device);
  ct_context_free(ctx);
}
