/* DLPack export and import through the C API (src/core/dlpack.c): fields,
 * every dtype, zero copy both ways, the deleter called exactly once in
 * every order of release, copies counted or refused, errors that leave the
 * producer's tensor untouched. The sanitizer tree runs this too: a deleter
 * called twice or never shows there. */
#include <stdlib.h>
#include <string.h>

#include "ctensor_dlpack.h"
#include "testutil.h"

static int g_deleted;
static void count_deleter(DLManagedTensor *m) { g_deleted++; (void)m; }
static void count_deleter_v(DLManagedTensorVersioned *m) { g_deleted++; (void)m; }

/* A hand-made producer over `data`. */
static DLManagedTensor producer(void *data, int ndim, int64_t *shape, int64_t *strides, uint8_t code, uint8_t bits) {
  DLManagedTensor m;
  memset(&m, 0, sizeof m);
  m.dl_tensor.data = data;
  m.dl_tensor.device.device_type = kDLCPU;
  m.dl_tensor.ndim = ndim;
  m.dl_tensor.dtype.code = code;
  m.dl_tensor.dtype.bits = bits;
  m.dl_tensor.dtype.lanes = 1;
  m.dl_tensor.shape = shape;
  m.dl_tensor.strides = strides;
  m.deleter = count_deleter;
  return m;
}

TEST(export_fields_every_dtype) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  static const struct {
    ct_dtype dt;
    uint8_t code, bits;
  } want[] = {{CT_FLOAT32, kDLFloat, 32}, {CT_FLOAT64, kDLFloat, 64}, {CT_FLOAT16, kDLFloat, 16},
              {CT_BFLOAT16, kDLBfloat, 16}, {CT_INT32, kDLInt, 32}, {CT_INT64, kDLInt, 64}, {CT_BOOL, kDLBool, 8}};
  unsigned char bytes[6 * 8] = {1, 0, 1, 1, 0, 1};
  int64_t shape[2] = {2, 3};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    ct_tensor *t = NULL, *back = NULL;
    CHECK_OK(ct_tensor_from_host(ctx, want[i].dt, shape, 2, bytes, &t));
    DLManagedTensorVersioned *m = NULL;
    CHECK_OK(ct_tensor_to_dlpack(t, &m));
    CHECK_EQ_INT(m->version.major, 1);
    CHECK(m->flags & DLPACK_FLAG_BITMASK_READ_ONLY);
    CHECK_EQ_INT(m->dl_tensor.device.device_type, kDLCPU);
    CHECK_EQ_INT(m->dl_tensor.device.device_id, 0);
    CHECK_EQ_INT(m->dl_tensor.dtype.code, want[i].code);
    CHECK_EQ_INT(m->dl_tensor.dtype.bits, want[i].bits);
    CHECK_EQ_INT(m->dl_tensor.dtype.lanes, 1);
    CHECK_EQ_INT(m->dl_tensor.ndim, 2);
    CHECK_EQ_INT(m->dl_tensor.shape[0], 2);
    CHECK_EQ_INT(m->dl_tensor.shape[1], 3);
    CHECK_EQ_INT(m->dl_tensor.strides[0], 3);
    CHECK_EQ_INT(m->dl_tensor.strides[1], 1);
    CHECK_EQ_INT((int)m->dl_tensor.byte_offset, 0);
    void *data = m->dl_tensor.data;
    /* Back into ctensor: the same bytes, not a copy. */
    CHECK_OK(ct_tensor_from_dlpack(ctx, m, 0, &back));
    CHECK_EQ_INT(ct_tensor_dtype(back), want[i].dt);
    ct_tensor_release(t); /* the producer goes first */
    DLManagedTensor *u = NULL;
    CHECK_OK(ct_tensor_to_dlpack_unversioned(back, &u));
    CHECK(u->dl_tensor.data == data);
    u->deleter(u);
    ct_tensor_release(back);
  }
  ct_context_free(ctx);
}

TEST(import_borrows_and_deletes_once) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  float buf[6] = {0, 1, 2, 3, 4, 5};
  int64_t shape[1] = {6};
  DLManagedTensor m = producer(buf, 1, shape, NULL, kDLFloat, 32);
  g_deleted = 0;
  ct_tensor *t = NULL, *v = NULL;
  CHECK_OK(ct_tensor_from_dlpack_unversioned(ctx, &m, CT_DLPACK_NO_COPY, &t));
  buf[2] = 42; /* borrowed: ctensor sees the producer's bytes */
  float out[6];
  CHECK_OK(ct_tensor_to_host(t, out, sizeof out));
  CHECK(out[2] == 42.0f);
  int64_t shape2[2] = {2, 3};
  CHECK_OK(ct_reshape(ctx, t, shape2, 2, &v));
  ct_tensor_release(t);
  CHECK_EQ_INT(g_deleted, 0); /* the view keeps the producer's memory */
  ct_tensor_release(v);
  CHECK_EQ_INT(g_deleted, 1);
  /* versioned, with a byte_offset */
  DLManagedTensorVersioned mv;
  memset(&mv, 0, sizeof mv);
  mv.version.major = 1;
  mv.dl_tensor = m.dl_tensor;
  mv.dl_tensor.byte_offset = 2 * sizeof(float);
  shape[0] = 4;
  mv.deleter = count_deleter_v;
  CHECK_OK(ct_tensor_from_dlpack(ctx, &mv, 0, &t));
  CHECK_OK(ct_tensor_to_host(t, out, 4 * sizeof(float)));
  CHECK(out[0] == 42.0f && out[3] == 5.0f);
  ct_tensor_release(t);
  CHECK_EQ_INT(g_deleted, 2);
  ct_context_free(ctx);
}

TEST(strided_is_copied_counted_or_refused) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  int32_t buf[6] = {0, 1, 2, 3, 4, 5}; /* a [2,3] array seen transposed: [3,2] */
  int64_t shape[2] = {3, 2}, strides[2] = {1, 3};
  DLManagedTensor m = producer(buf, 2, shape, strides, kDLInt, 32);
  g_deleted = 0;
  ct_tensor *t = NULL;
  CHECK_ERR(ct_tensor_from_dlpack_unversioned(ctx, &m, CT_DLPACK_NO_COPY, &t), CT_INVALID_ARGUMENT,
            "not compact row-major");
  CHECK_EQ_INT(g_deleted, 0);
  uint64_t before = ct_dlpack_copy_count();
  CHECK_OK(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t));
  CHECK_EQ_INT(g_deleted, 1); /* copied: the producer's bytes are released at once */
  CHECK(ct_dlpack_copy_count() == before + 1);
  int32_t out[6];
  CHECK_OK(ct_tensor_to_host(t, out, sizeof out));
  CHECK(out[0] == 0 && out[1] == 3 && out[2] == 1 && out[3] == 4 && out[4] == 2 && out[5] == 5);
  ct_tensor_release(t);
  /* size-1 dimensions may carry any stride */
  int64_t shape1[2] = {1, 6}, strides1[2] = {99, 1};
  m = producer(buf, 2, shape1, strides1, kDLInt, 32);
  CHECK_OK(ct_tensor_from_dlpack_unversioned(ctx, &m, CT_DLPACK_NO_COPY, &t));
  ct_tensor_release(t);
  /* bool bytes other than 0/1 are normalised by a copy */
  unsigned char b[3] = {0, 2, 1};
  int64_t shape3[1] = {3};
  m = producer(b, 1, shape3, NULL, kDLBool, 8);
  CHECK_OK(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t));
  unsigned char bo[3];
  CHECK_OK(ct_tensor_to_host(t, bo, 3));
  CHECK(bo[0] == 0 && bo[1] == 1 && bo[2] == 1);
  ct_tensor_release(t);
  ct_context_free(ctx);
}

TEST(errors_leave_the_producer_alone) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  float buf[4] = {0};
  int64_t shape[1] = {2};
  ct_tensor *t = NULL;
  g_deleted = 0;
  DLManagedTensor m = producer(buf, 1, shape, NULL, kDLComplex, 64);
  CHECK_ERR(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t), CT_INVALID_ARGUMENT, "complex64");
  m = producer(buf, 1, shape, NULL, kDLUInt, 8);
  CHECK_ERR(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t), CT_INVALID_ARGUMENT, "uint8");
  m = producer(buf, 1, shape, NULL, kDLFloat, 32);
  m.dl_tensor.dtype.lanes = 4;
  CHECK_ERR(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t), CT_INVALID_ARGUMENT, "lanes");
  m = producer(buf, 1, shape, NULL, kDLFloat, 32);
  m.dl_tensor.device.device_type = kDLOpenCL;
  CHECK_ERR(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t), CT_NOT_FOUND, "kDLOpenCL");
  if (ct_logical_device_count(ctx, "GPU") == 0) {
    m.dl_tensor.device.device_type = kDLCUDA;
    m.dl_tensor.device.device_id = 3;
    CHECK_ERR(ct_tensor_from_dlpack_unversioned(ctx, &m, 0, &t), CT_NOT_FOUND, "CUDA device 3");
  }
  DLManagedTensorVersioned mv;
  memset(&mv, 0, sizeof mv);
  mv.version.major = 2;
  mv.deleter = count_deleter_v;
  CHECK_ERR(ct_tensor_from_dlpack(ctx, &mv, 0, &t), CT_UNIMPLEMENTED, "version 2.0");
  CHECK_ERR(ct_tensor_from_dlpack(ctx, NULL, 0, &t), CT_INVALID_ARGUMENT, "NULL");
  DLManagedTensorVersioned *out = NULL;
  CHECK_ERR(ct_tensor_to_dlpack(NULL, &out), CT_INVALID_ARGUMENT, "NULL");
  CHECK_EQ_INT(g_deleted, 0);
  ct_context_free(ctx);
}

TEST(device_and_empty) {
  ct_context *ctx;
  CHECK_OK(ct_context_new(&ctx));
  ct_tensor *t = NULL, *u = NULL;
  int64_t shape[2] = {0, 3};
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, NULL, &t));
  int32_t type = -1, id = -1;
  CHECK_OK(ct_tensor_dlpack_device(t, &type, &id));
  CHECK_EQ_INT(type, kDLCPU);
  CHECK_EQ_INT(id, 0);
  DLManagedTensorVersioned *m = NULL;
  CHECK_OK(ct_tensor_to_dlpack(t, &m));
  g_deleted = 0;
  CHECK_OK(ct_tensor_from_dlpack(ctx, m, CT_DLPACK_NO_COPY, &u));
  CHECK_EQ_INT((int)ct_tensor_num_elements(u), 0);
  CHECK_EQ_INT(ct_tensor_dim(u, 1), 3);
  ct_tensor_release(u);
  ct_tensor_release(t);
  uintptr_t stream = 1;
  CHECK_OK(ct_dlpack_consumer_stream(ctx, kDLCPU, 0, &stream));
  CHECK(stream == 0);
  ct_context_free(ctx);
}

int main(void) {
  RUN(export_fields_every_dtype);
  RUN(import_borrows_and_deletes_once);
  RUN(strided_is_copied_counted_or_refused);
  RUN(errors_leave_the_producer_alone);
  RUN(device_and_empty);
  TEST_MAIN_END();
}
