/*
 * Example 2 of the seed article, in C: if there is a GPU, make only the
 * first one visible and list the logical GPUs (a configuration error, such
 * as configuring after initialisation, is printed, not fatal); then
 * multiply two random matrices and print where that ran.
 *
 *   gpus = tf.config.list_physical_devices('GPU')
 *   print("GPUs:", gpus)              # added: shows the (possibly empty) list
 *   if gpus:
 *     try:
 *       tf.config.set_visible_devices(gpus[0], 'GPU')
 *       logical_gpus = tf.config.list_logical_devices('GPU')
 *       print("Logical GPUs:", logical_gpus)
 *     except RuntimeError as e:
 *       print(e)
 *   a = tf.random.normal((1000, 1000)); b = tf.random.normal((1000, 1000))
 *   c = tf.matmul(a, b)
 *   print("Result tensor device:", c.device)
 *
 * Build: cc seed2.c $(pkg-config --cflags --libs ctensor)
 */
#include <stdio.h>

#include <ctensor.h>

static int fail(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", what, ct_status_name(ct_last_status()), ct_last_error());
  return 1;
}

int main(void) {
  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) return fail("context_new");

  int n_gpus = ct_physical_device_count(ctx, "GPU");
  printf("GPUs: [");
  for (int i = 0; i < n_gpus; i++) {
    ct_physical_device_info d;
    if (ct_physical_device_get(ctx, "GPU", i, &d) == CT_OK)
      printf("%sPhysicalDevice(name='%s', device_type='%s')", i ? ", " : "", d.name, d.device_type);
  }
  printf("]\n");
  if (n_gpus > 0) {
    int first = 0;
    if (ct_config_set_visible_devices(ctx, "GPU", &first, 1) != CT_OK) {
      printf("%s\n", ct_last_error()); /* e.g. configured after initialisation */
    } else {
      int n = ct_logical_device_count(ctx, "GPU");
      printf("Logical GPUs: [");
      for (int i = 0; i < n; i++) {
        ct_logical_device_info d;
        if (ct_logical_device_get(ctx, "GPU", i, &d) == CT_OK)
          printf("%sLogicalDevice(name='%s', device_type='%s')", i ? ", " : "", d.short_name, d.device_type);
      }
      printf("]\n");
    }
  }

  const int64_t shape[2] = {1000, 1000};
  ct_tensor *a = NULL, *b = NULL, *c = NULL;
  if (ct_random_normal(ctx, CT_FLOAT32, shape, 2, 0.0, 1.0, 1, 0, &a) != CT_OK) return fail("random_normal");
  if (ct_random_normal(ctx, CT_FLOAT32, shape, 2, 0.0, 1.0, 2, 0, &b) != CT_OK) return fail("random_normal");
  if (ct_matmul(ctx, a, b, false, false, &c) != CT_OK) return fail("matmul");
  printf("Result tensor device: %s\n", ct_tensor_device(c));

  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(c);
  ct_context_free(ctx);
  return 0;
}
