/*
 * Example 1 of the seed article, in C: list the physical devices, multiply
 * two random 1000x1000 matrices with automatic placement, and print where
 * the result was computed.
 *
 *   import tensorflow as tf
 *   print("Devices:", tf.config.list_physical_devices())
 *   a = tf.random.normal((1000, 1000))
 *   b = tf.random.normal((1000, 1000))
 *   c = tf.matmul(a, b)
 *   print("Result tensor device:", c.device)
 *
 * Build: cc seed1.c $(pkg-config --cflags --libs ctensor)
 */
#include <stdio.h>

#include <ctensor.h>

static int fail(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", what, ct_status_name(ct_last_status()), ct_last_error());
  return 1;
}

/* Prints the list as TensorFlow's repr does. */
static void print_physical_devices(ct_context *ctx, const char *label, const char *type) {
  printf("%s [", label);
  int n = ct_physical_device_count(ctx, type);
  for (int i = 0; i < n; i++) {
    ct_physical_device_info d;
    if (ct_physical_device_get(ctx, type, i, &d) != CT_OK) continue;
    printf("%sPhysicalDevice(name='%s', device_type='%s')", i ? ", " : "", d.name, d.device_type);
  }
  printf("]\n");
}

int main(void) {
  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) return fail("context_new");
  print_physical_devices(ctx, "Devices:", NULL);

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
