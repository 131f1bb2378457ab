/*
 * Example 3 of the seed article, in C: one tensor made inside an explicit
 * '/CPU:0' device scope, one placed automatically, and where each landed.
 *
 *   print("Devices:", tf.config.list_physical_devices())
 *   def create_on_device():
 *     with tf.device('/CPU:0'):
 *       cpu_tensor = tf.random.normal((100, 100))
 *       print(f"CPU tensor created on: {cpu_tensor.device}")
 *     gpu_tensor = tf.random.normal((100, 100))
 *     print(f"GPU or CPU tensor created on: {gpu_tensor.device}")
 *     return gpu_tensor
 *   my_tensor = create_on_device()
 *
 * Build: cc seed3.c $(pkg-config --cflags --libs ctensor)
 */
#include <stdio.h>

#include <ctensor.h>

static int fail(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", what, ct_status_name(ct_last_status()), ct_last_error());
  return 1;
}

/* Returns the automatically placed tensor (the caller releases it). */
static ct_status create_on_device(ct_context *ctx, ct_tensor **out) {
  const int64_t shape[2] = {100, 100};
  ct_tensor *cpu_tensor = NULL;
  ct_status st = ct_device_scope_push(ctx, "/CPU:0"); /* with tf.device('/CPU:0'): */
  if (st != CT_OK) return st;
  st = ct_random_normal(ctx, CT_FLOAT32, shape, 2, 0.0, 1.0, 1, 0, &cpu_tensor);
  if (st == CT_OK) printf("CPU tensor created on: %s\n", ct_tensor_device(cpu_tensor));
  ct_device_scope_pop(ctx);
  ct_tensor_release(cpu_tensor);
  if (st != CT_OK) return st;

  st = ct_random_normal(ctx, CT_FLOAT32, shape, 2, 0.0, 1.0, 2, 0, out);
  if (st == CT_OK) printf("GPU or CPU tensor created on: %s\n", ct_tensor_device(*out));
  return st;
}

int main(void) {
  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) return fail("context_new");
  printf("Devices: [");
  int n = ct_physical_device_count(ctx, NULL);
  for (int i = 0; i < n; i++) {
    ct_physical_device_info d;
    if (ct_physical_device_get(ctx, NULL, i, &d) == CT_OK)
      printf("%sPhysicalDevice(name='%s', device_type='%s')", i ? ", " : "", d.name, d.device_type);
  }
  printf("]\n");

  ct_tensor *my_tensor = NULL;
  if (create_on_device(ctx, &my_tensor) != CT_OK) return fail("create_on_device");
  ct_tensor_release(my_tensor);
  ct_context_free(ctx);
  return 0;
}
