/*
 * The process group where no MPI job runs: without the plugin, making a
 * group fails with UNAVAILABLE naming what is missing and the context is
 * left as it was (/job:localhost). The collectives themselves are tested
 * under mpirun by tests/dist/collectives.c.
 */
#include <stdlib.h>

#include "testutil.h"

TEST(no_plugin_is_unavailable) {
  setenv("CT_MPI_PLUGIN", "/nonexistent/libctensor_mpi.so", 1);
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_process_group *pg = NULL;
  CHECK_ERR(ct_process_group_new(ctx, NULL, &pg), CT_UNAVAILABLE, "libctensor_mpi.so could not be loaded");
  CHECK(strstr(ct_last_error(), "libopenmpi-dev") != NULL);
  CHECK(pg == NULL);
  ct_logical_device_info info;
  CHECK_OK(ct_logical_device_get(ctx, "CPU", 0, &info));
  CHECK_EQ_STR(info.name, "/job:localhost/replica:0/task:0/device:CPU:0");
  /* a task that does not exist here is an ordinary missing device */
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  CHECK_OK(ct_device_scope_push(ctx, "/job:localhost/task:1/device:CPU:0"));
  int64_t shape[1] = {1};
  ct_tensor *t = NULL;
  CHECK_ERR(ct_ones(ctx, CT_FLOAT32, shape, 1, &t), CT_INVALID_ARGUMENT, "Could not satisfy device specification");
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_context_free(ctx);
  unsetenv("CT_MPI_PLUGIN");
}

TEST(arguments_checked_before_mpi) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_process_group *pg = NULL;
  ct_process_group_options bad_job = {"two words", 0};
  CHECK_ERR(ct_process_group_new(ctx, &bad_job, &pg), CT_INVALID_ARGUMENT, "'two words' is not a valid job name");
  ct_process_group_options bad_timeout = {NULL, -2};
  CHECK_ERR(ct_process_group_new(ctx, &bad_timeout, &pg), CT_INVALID_ARGUMENT, "timeout_seconds = -2");
  CHECK_ERR(ct_process_group_new(NULL, NULL, &pg), CT_INVALID_ARGUMENT, "NULL context");
  CHECK_OK(ct_context_initialize(ctx));
  CHECK_ERR(ct_process_group_new(ctx, NULL, &pg), CT_FAILED_PRECONDITION, "before the first op");
  ct_context_free(ctx);
  CHECK_ERR(ct_process_group_all_reduce(NULL, NULL, CT_REDUCE_SUM, NULL), CT_INVALID_ARGUMENT, "NULL");
  CHECK_ERR(ct_process_group_barrier(NULL), CT_INVALID_ARGUMENT, "group is NULL");
  CHECK_EQ_INT(ct_process_group_size(NULL), 0);
  CHECK_EQ_INT(ct_process_group_rank(NULL), -1);
  ct_process_group_free(NULL);
}

TEST(reduce_op_names) {
  CHECK_EQ_STR(ct_reduce_op_name(CT_REDUCE_SUM), "sum");
  CHECK_EQ_STR(ct_reduce_op_name(CT_REDUCE_MEAN), "mean");
  CHECK_EQ_STR(ct_reduce_op_name(CT_REDUCE_MAX), "max");
  CHECK_EQ_STR(ct_reduce_op_name(CT_REDUCE_MIN), "min");
  CHECK_EQ_STR(ct_reduce_op_name(CT_REDUCE_PROD), "prod");
  CHECK_EQ_STR(ct_reduce_op_name((ct_reduce_op)9), "invalid");
}

int main(void) {
  RUN(no_plugin_is_unavailable);
  RUN(arguments_checked_before_mpi);
  RUN(reduce_op_names);
  TEST_MAIN_END();
}
