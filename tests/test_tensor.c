/* Tensors: creation from host data, every dtype and rank, copies, ownership, errors. */
#include <stdint.h>

#include "testutil.h"

static ct_context *ctx;

TEST(roundtrip_every_dtype) {
  unsigned char src[64], back[64];
  for (int i = 0; i < 64; i++) src[i] = (unsigned char)(i * 7 + 1);
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    size_t es = ct_dtype_size((ct_dtype)d);
    if (d == CT_BOOL)
      for (int i = 0; i < 64; i++) src[i] = (unsigned char)(i & 1);
    int64_t shape[2] = {2, (int64_t)(32 / es)};
    ct_tensor *t = NULL;
    CHECK_OK(ct_tensor_from_host(ctx, (ct_dtype)d, shape, 2, src, &t));
    if (!t) continue;
    CHECK_EQ_INT(ct_tensor_dtype(t), d);
    CHECK_EQ_INT(ct_tensor_rank(t), 2);
    CHECK_EQ_INT(ct_tensor_num_elements(t), 64 / (int64_t)es);
    CHECK_EQ_INT(ct_tensor_nbytes(t), 64);
    memset(back, 0, sizeof back);
    CHECK_OK(ct_tensor_to_host(t, back, sizeof back));
    CHECK(memcmp(src, back, 64) == 0);
    CHECK_EQ_STR(ct_tensor_device(t), "/job:localhost/replica:0/task:0/device:CPU:0");
    CHECK_EQ_STR(ct_tensor_backing_device(t), "/job:localhost/replica:0/task:0/device:CPU:0");
    ct_tensor_release(t);
  }
}

TEST(every_rank_and_large) {
  int64_t shape[CT_MAX_RANK + 1];
  for (int i = 0; i <= CT_MAX_RANK; i++) shape[i] = 2;
  double data[512];
  for (int i = 0; i < 512; i++) data[i] = i * 0.5;
  for (int r = 0; r <= CT_MAX_RANK; r++) {
    ct_tensor *t = NULL;
    CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, shape, r, data, &t));
    if (!t) continue;
    CHECK_EQ_INT(ct_tensor_num_elements(t), 1LL << r);
    CHECK_EQ_INT(ct_tensor_dim(t, r - 1), r ? 2 : -1);
    double back[512];
    CHECK_OK(ct_tensor_to_host(t, back, sizeof back));
    CHECK(back[(1 << r) - 1] == data[(1 << r) - 1]);
    ct_tensor_release(t);
  }
  /* a tensor big enough to leave the inline storage and the malloc range */
  int64_t big[1] = {1 << 20};
  float *host = malloc(sizeof(float) << 20);
  for (int i = 0; i < (1 << 20); i++) host[i] = (float)i;
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, big, 1, host, &t));
  float *back = calloc(1 << 20, sizeof(float));
  CHECK_OK(ct_tensor_to_host(t, back, sizeof(float) << 20));
  CHECK(memcmp(host, back, sizeof(float) << 20) == 0);
  ct_tensor_release(t);
  free(host);
  free(back);
}

TEST(errors_name_the_bad_value) {
  int64_t shape[CT_MAX_RANK + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  float x = 1;
  ct_tensor *t = NULL;
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 9, &x, &t), CT_INVALID_ARGUMENT, "rank 9");
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, -1, &x, &t), CT_INVALID_ARGUMENT, "rank -1");
  int64_t neg[2] = {2, -3};
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, neg, 2, &x, &t), CT_INVALID_ARGUMENT, "[2,-3]");
  CHECK_ERR(ct_tensor_from_host(ctx, (ct_dtype)42, shape, 1, &x, &t), CT_INVALID_ARGUMENT, "dtype 42");
  CHECK_ERR(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, NULL, &t), CT_INVALID_ARGUMENT, "data is NULL");
  CHECK(t == NULL);
  int64_t two[1] = {2};
  float v[2] = {1, 2};
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, two, 1, v, &t));
  float small[1];
  CHECK_ERR(ct_tensor_to_host(t, small, sizeof small), CT_INVALID_ARGUMENT, "needs 8");
  ct_tensor_release(t);
  /* an empty tensor needs no data */
  int64_t empty[2] = {0, 5};
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, empty, 2, NULL, &t));
  CHECK_EQ_INT(ct_tensor_num_elements(t), 0);
  CHECK_OK(ct_tensor_to_host(t, NULL, 0));
  ct_tensor_release(t);
}

TEST(allocation_failure_is_resource_exhausted) {
  /* 2^52 float32 elements: 16 PiB, more than any machine has. */
  int64_t huge[2] = {1LL << 26, 1LL << 26};
  ct_tensor *t = NULL;
  CHECK_ERR(ct_zeros(ctx, CT_FLOAT32, huge, 2, &t), CT_RESOURCE_EXHAUSTED, "requested");
  CHECK(t == NULL);
  /* and the runtime still works */
  int64_t one[1] = {1};
  float v = 3;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, one, 1, &v, &t));
  ct_tensor_release(t);
}

TEST(retain_release_and_copy_to_same_device) {
  int64_t shape[1] = {4};
  int32_t v[4] = {1, 2, 3, 4};
  ct_tensor *t = NULL, *c = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, shape, 1, v, &t));
  CHECK(ct_tensor_retain(t) == t);
  ct_tensor_release(t);
  CHECK_OK(ct_tensor_copy_to(t, "/device:CPU:0", &c));
  CHECK(c == t); /* already there: same tensor, one more reference */
  ct_tensor_release(c);
  CHECK_ERR(ct_tensor_copy_to(t, "/gpu:x", &c), CT_INVALID_ARGUMENT, "/gpu:x");
  ct_tensor_release(t);
  ct_tensor_release(NULL);
}

TEST(memory_info_tracks_live_bytes) {
  ct_memory_info before, during, after;
  CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &before));
  int64_t shape[1] = {1 << 18};
  ct_tensor *t = NULL;
  CHECK_OK(ct_zeros(ctx, CT_FLOAT32, shape, 1, &t));
  CHECK_OK(ct_device_memory_info(ctx, "/device:CPU:0", &during));
  CHECK_EQ_INT(during.current_bytes - before.current_bytes, 1 << 20);
  CHECK(during.peak_bytes >= during.current_bytes);
  ct_tensor_release(t);
  CHECK_OK(ct_device_memory_info(ctx, "CPU:0", &after));
  CHECK_EQ_INT(after.current_bytes, before.current_bytes);
  CHECK(after.reserved_bytes >= 1 << 20); /* the block stays cached for reuse */
  CHECK_ERR(ct_device_memory_info(ctx, "CPU:7", &after), CT_NOT_FOUND, "CPU:7");
}

int main(void) {
  if (ct_context_new(&ctx) != CT_OK) return 1;
  RUN(roundtrip_every_dtype);
  RUN(every_rank_and_large);
  RUN(errors_name_the_bad_value);
  RUN(allocation_failure_is_resource_exhausted);
  RUN(retain_release_and_copy_to_same_device);
  RUN(memory_info_tracks_live_bytes);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
