/* Context, discovery, configuration before/after initialisation, logical devices. */
#include <pthread.h>

#include "testutil.h"

TEST(physical_devices_without_initialising) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "CPU"), 1);
  CHECK_EQ_INT(ct_physical_device_count(ctx, "cpu"), 0); /* exact, case-sensitive filter */
  CHECK(ct_physical_device_count(ctx, NULL) >= 1);
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "CPU", 0, &info));
  CHECK_EQ_STR(info.name, "/physical_device:CPU:0");
  CHECK_EQ_STR(info.device_type, "CPU");
  CHECK(info.cores >= 1);
  CHECK(info.memory_bytes > 0);
  CHECK(strlen(info.model) > 0);
  CHECK(info.usable);
  CHECK(!ct_context_is_initialized(ctx));
  CHECK_ERR(ct_physical_device_get(ctx, "CPU", 1, &info), CT_OUT_OF_RANGE, "index 1");
  CHECK_ERR(ct_physical_device_get(ctx, "TPU", 0, &info), CT_INVALID_ARGUMENT, "'TPU'");
  CHECK_ERR(ct_physical_device_get(ctx, "CPU", 0, NULL), CT_INVALID_ARGUMENT, "NULL");
  ct_context_free(ctx);
}

TEST(logical_devices_initialise) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_logical_device_count(ctx, "CPU"), 1);
  CHECK(ct_context_is_initialized(ctx));
  ct_logical_device_info l;
  CHECK_OK(ct_logical_device_get(ctx, "CPU", 0, &l));
  CHECK_EQ_STR(l.name, "/job:localhost/replica:0/task:0/device:CPU:0");
  CHECK_EQ_STR(l.short_name, "/device:CPU:0");
  CHECK_ERR(ct_logical_device_get(ctx, "CPU", 3, &l), CT_OUT_OF_RANGE, "index 3");
  CHECK_OK(ct_context_initialize(ctx)); /* idempotent */
  ct_context_free(ctx);
}

TEST(visible_devices_frozen_after_init) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  int cpu0 = 0, got[4], n = -1;
  CHECK_OK(ct_config_set_visible_devices(ctx, "CPU", &cpu0, 1));
  CHECK_OK(ct_config_get_visible_devices(ctx, "CPU", got, 4, &n));
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(got[0], 0);
  CHECK_ERR(ct_config_set_visible_devices(ctx, "CPU", NULL, 0), CT_INVALID_ARGUMENT, "CPU cannot be hidden");
  int bad = 5;
  CHECK_ERR(ct_config_set_visible_devices(ctx, "CPU", &bad, 1), CT_INVALID_ARGUMENT, "/physical_device:CPU:5");
  CHECK_ERR(ct_config_set_visible_devices(ctx, "XPU", &cpu0, 1), CT_INVALID_ARGUMENT, "'XPU'");
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_OK(ct_config_set_visible_devices(ctx, "CPU", &cpu0, 1)); /* same value: no-op */
  CHECK_ERR(ct_config_set_visible_devices(ctx, "CPU", NULL, 0), CT_INVALID_ARGUMENT, "cannot be hidden");
  ct_context_free(ctx);
}

TEST(visible_gpu_change_after_init_fails_when_gpus_exist) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_OK(ct_context_initialize(ctx));
  int n_gpu = ct_physical_device_count(ctx, "GPU");
  if (n_gpu > 0)
    CHECK_ERR(ct_config_set_visible_devices(ctx, "GPU", NULL, 0), CT_FAILED_PRECONDITION,
              "Visible devices cannot be modified after being initialized");
  else
    CHECK_OK(ct_config_set_visible_devices(ctx, "GPU", NULL, 0)); /* hiding nothing changes nothing */
  ct_context_free(ctx);
}

TEST(two_logical_cpus) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_logical_device_config cfg[3] = {{0}, {0}, {0}};
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2));
  ct_logical_device_config back[4];
  int n = 0;
  CHECK_OK(ct_config_get_logical_devices(ctx, "/physical_device:CPU:0", back, 4, &n));
  CHECK_EQ_INT(n, 2);
  ct_logical_device_config limited = {.memory_limit_mb = 100};
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", &limited, 1), CT_INVALID_ARGUMENT,
            "Setting memory limit on CPU virtual devices is currently not supported");
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:CPU:9", cfg, 2), CT_INVALID_ARGUMENT,
            "unrecognized device '/physical_device:CPU:9'");
  CHECK_EQ_INT(ct_logical_device_count(ctx, "CPU"), 2);
  ct_logical_device_info l;
  CHECK_OK(ct_logical_device_get(ctx, "CPU", 1, &l));
  CHECK_EQ_STR(l.name, "/job:localhost/replica:0/task:0/device:CPU:1");
  CHECK_EQ_INT(l.physical_index, 0);
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2)); /* unchanged: fine */
  CHECK_ERR(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 3), CT_FAILED_PRECONDITION,
            "Virtual devices cannot be modified after being initialized");
  ct_context_free(ctx);
}

TEST(memory_growth_rules) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  int g = 7;
  CHECK_ERR(ct_config_set_memory_growth(ctx, "/physical_device:CPU:0", true), CT_INVALID_ARGUMENT,
            "Cannot set memory growth on non-GPU");
  CHECK_ERR(ct_config_get_memory_growth(ctx, "/physical_device:GPU:42", &g), CT_INVALID_ARGUMENT,
            "'/physical_device:GPU:42'");
  CHECK_OK(ct_config_get_memory_growth(ctx, "/physical_device:CPU:0", &g));
  CHECK_EQ_INT(g, -1);
  ct_context_free(ctx);
}

TEST(placement_settings_any_time) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  CHECK(ct_config_get_soft_placement(ctx)); /* TF2 default */
  CHECK(!ct_config_get_log_placement(ctx));
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK(!ct_config_get_soft_placement(ctx));
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  CHECK(ct_config_get_log_placement(ctx));
  CHECK_EQ_INT(ct_config_get_device_policy(ctx), CT_POLICY_SILENT);
  CHECK_ERR(ct_config_set_device_policy(ctx, (ct_device_policy)9), CT_INVALID_ARGUMENT, "Not a valid device policy: 9");
  ct_context_free(ctx);
}

TEST(tensor_outlives_context) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  float v[3] = {1, 2, 3};
  int64_t shape[1] = {3};
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, v, &t));
  ct_context_free(ctx);
  float back[3] = {0};
  CHECK_OK(ct_tensor_to_host(t, back, sizeof back));
  CHECK(back[2] == 3.0f);
  CHECK_EQ_STR(ct_tensor_device(t), "/job:localhost/replica:0/task:0/device:CPU:0");
  ct_tensor_release(t);
}

TEST(gpu_availability_has_a_reason) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  char detail[CT_INFO_TEXT_MAX] = "";
  ct_gpu_reason r = ct_gpu_availability(ctx, detail, sizeof detail);
  CHECK(strlen(detail) > 0);
  CHECK(strcmp(ct_gpu_reason_name(r), "") != 0);
  if (r != CT_GPU_USABLE) CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
  ct_context_free(ctx);
}

static void *other_thread(void *arg) {
  (void)arg;
  /* A failure on this thread must not be visible on the main thread. */
  ct_context *ctx = NULL;
  (void)ct_context_new(NULL);
  (void)ctx;
  return (void *)(intptr_t)(strstr(ct_last_error(), "out is NULL") != NULL);
}

TEST(errors_are_per_thread) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_STR(ct_last_error(), "");
  pthread_t th;
  void *seen = NULL;
  pthread_create(&th, NULL, other_thread, NULL);
  pthread_join(th, &seen);
  CHECK(seen == (void *)1);
  CHECK_EQ_STR(ct_last_error(), "");
  ct_context_free(ctx);
}

int main(void) {
  RUN(physical_devices_without_initialising);
  RUN(logical_devices_initialise);
  RUN(visible_devices_frozen_after_init);
  RUN(visible_gpu_change_after_init_fails_when_gpus_exist);
  RUN(two_logical_cpus);
  RUN(memory_growth_rules);
  RUN(placement_settings_any_time);
  RUN(tensor_outlives_context);
  RUN(gpu_availability_has_a_reason);
  RUN(errors_are_per_thread);
  TEST_MAIN_END();
}
