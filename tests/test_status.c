/*
 * Status codes, the per-thread last error, dtypes, and the 16-bit float
 * conversions (src/core/status.c, src/core/dtype.c).
 */
#include <pthread.h>
#include <stdint.h>

#include "core/internal.h"
#include "testutil.h"

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* ---- status ------------------------------------------------------------- */

TEST(status_numbers_are_stable) {
  /* absl/TensorFlow canonical codes; these numbers are ABI */
  CHECK_EQ_INT(CT_OK, 0);
  CHECK_EQ_INT(CT_CANCELLED, 1);
  CHECK_EQ_INT(CT_UNKNOWN, 2);
  CHECK_EQ_INT(CT_INVALID_ARGUMENT, 3);
  CHECK_EQ_INT(CT_DEADLINE_EXCEEDED, 4);
  CHECK_EQ_INT(CT_NOT_FOUND, 5);
  CHECK_EQ_INT(CT_ALREADY_EXISTS, 6);
  CHECK_EQ_INT(CT_PERMISSION_DENIED, 7);
  CHECK_EQ_INT(CT_RESOURCE_EXHAUSTED, 8);
  CHECK_EQ_INT(CT_FAILED_PRECONDITION, 9);
  CHECK_EQ_INT(CT_ABORTED, 10);
  CHECK_EQ_INT(CT_OUT_OF_RANGE, 11);
  CHECK_EQ_INT(CT_UNIMPLEMENTED, 12);
  CHECK_EQ_INT(CT_INTERNAL, 13);
  CHECK_EQ_INT(CT_UNAVAILABLE, 14);
}

TEST(status_names) {
  static const char *const want[] = {
      "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE"};
  for (int i = 0; i < 15; i++) CHECK_EQ_STR(ct_status_name((ct_status)i), want[i]);
  CHECK_EQ_STR(ct_status_name((ct_status)15), "UNKNOWN_STATUS");
  CHECK_EQ_STR(ct_status_name((ct_status)1000), "UNKNOWN_STATUS");
  CHECK_EQ_STR(ct_status_name((ct_status)-1), "UNKNOWN_STATUS");
}

TEST(last_error_records_and_clears) {
  ct_error_clear();
  CHECK_EQ_STR(ct_last_error(), "");
  CHECK_EQ_INT(ct_last_status(), CT_OK);
  CHECK_EQ_INT(ct_error(CT_NOT_FOUND, "no device '%s'", "/GPU:7"), CT_NOT_FOUND);
  CHECK_EQ_STR(ct_last_error(), "no device '/GPU:7'");
  CHECK_EQ_INT(ct_last_status(), CT_NOT_FOUND);
  /* a prefix keeps the message and takes the new status */
  CHECK_EQ_INT(ct_error_prefix(CT_INVALID_ARGUMENT, "copy_to %d", 3), CT_INVALID_ARGUMENT);
  CHECK_EQ_STR(ct_last_error(), "copy_to 3: no device '/GPU:7'");
  CHECK_EQ_INT(ct_last_status(), CT_INVALID_ARGUMENT);
  /* an over-long message is truncated, never overflows */
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ct_error(CT_INTERNAL, "%s", big);
  CHECK(strlen(ct_last_error()) > 500 && strlen(ct_last_error()) < sizeof big);
  ct_error_prefix(CT_INTERNAL, "%s", big);
  CHECK(strlen(ct_last_error()) < sizeof big);
  ct_error_clear();
  CHECK_EQ_STR(ct_last_error(), "");
  CHECK_EQ_INT(ct_last_status(), CT_OK);
}

/* Two threads fail at the same time with different messages; each sees
 * only its own, and neither sees the main thread's. */
typedef struct {
  pthread_barrier_t *barrier;
  const char *name;
  char seen_before[64];
  ct_status status_before;
  char seen_after[128];
  ct_status status_after;
} thread_probe;

static void *probe_thread(void *arg) {
  thread_probe *p = arg;
  snprintf(p->seen_before, sizeof p->seen_before, "%s", ct_last_error());
  p->status_before = ct_last_status();
  ct_dtype d;
  ct_dtype_from_name(p->name, &d); /* fails: not a dtype */
  pthread_barrier_wait(p->barrier); /* both have failed now */
  pthread_barrier_wait(p->barrier);
  snprintf(p->seen_after, sizeof p->seen_after, "%s", ct_last_error());
  p->status_after = ct_last_status();
  return NULL;
}

TEST(last_error_is_per_thread) {
  ct_dtype d;
  CHECK_ERR(ct_dtype_from_name("main-thread-dtype", &d), CT_INVALID_ARGUMENT, "'main-thread-dtype'");
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 3);
  thread_probe a = {.barrier = &barrier, .name = "alpha"}, b = {.barrier = &barrier, .name = "beta"};
  pthread_t ta, tb;
  CHECK(pthread_create(&ta, NULL, probe_thread, &a) == 0);
  CHECK(pthread_create(&tb, NULL, probe_thread, &b) == 0);
  pthread_barrier_wait(&barrier);
  /* both threads have failed; the main thread's message is unchanged */
  CHECK(strstr(ct_last_error(), "'main-thread-dtype'") != NULL);
  pthread_barrier_wait(&barrier);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  pthread_barrier_destroy(&barrier);

  CHECK_EQ_STR(a.seen_before, "");
  CHECK_EQ_INT(a.status_before, CT_OK);
  CHECK_EQ_STR(b.seen_before, "");
  CHECK(strstr(a.seen_after, "'alpha'") != NULL && strstr(a.seen_after, "beta") == NULL);
  CHECK(strstr(b.seen_after, "'beta'") != NULL && strstr(b.seen_after, "alpha") == NULL);
  CHECK_EQ_INT(a.status_after, CT_INVALID_ARGUMENT);
  CHECK_EQ_INT(b.status_after, CT_INVALID_ARGUMENT);
  CHECK(strstr(ct_last_error(), "'main-thread-dtype'") != NULL);
  CHECK_EQ_INT(ct_last_status(), CT_INVALID_ARGUMENT);
}

TEST(shape_str) {
  char buf[CT_SHAPE_STR_MAX];
  int64_t shape[] = {2, 3, 40};
  CHECK_EQ_STR(ct_shape_str(shape, 2, buf, sizeof buf), "[2,3]");
  CHECK_EQ_STR(ct_shape_str(shape, 3, buf, sizeof buf), "[2,3,40]");
  CHECK_EQ_STR(ct_shape_str(shape, 0, buf, sizeof buf), "[]");
  char small[4];
  ct_shape_str(shape, 3, small, sizeof small);
  CHECK(strlen(small) < sizeof small); /* truncated, terminated */
  CHECK(strncmp(small, "[2,", 3) == 0);
  char untouched = '#';
  ct_shape_str(shape, 3, &untouched, 0);
  CHECK(untouched == '#');
}

/* ---- dtypes ------------------------------------------------------------- */

TEST(dtype_names_and_sizes) {
  static const struct {
    ct_dtype dtype;
    const char *name;
    size_t size;
  } table[] = {{CT_FLOAT32, "float32", 4}, {CT_FLOAT64, "float64", 8}, {CT_FLOAT16, "float16", 2},
               {CT_BFLOAT16, "bfloat16", 2}, {CT_INT32, "int32", 4},   {CT_INT64, "int64", 8},
               {CT_BOOL, "bool", 1}};
  CHECK_EQ_INT(CT_DTYPE_COUNT, 7);
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    CHECK_EQ_STR(ct_dtype_name(table[i].dtype), table[i].name);
    CHECK_EQ_INT(ct_dtype_size(table[i].dtype), table[i].size);
    ct_dtype back = (ct_dtype)99;
    CHECK_OK(ct_dtype_from_name(table[i].name, &back));
    CHECK_EQ_INT(back, table[i].dtype);
  }
  CHECK_EQ_STR(ct_dtype_name((ct_dtype)7), "invalid");
  CHECK_EQ_STR(ct_dtype_name((ct_dtype)-1), "invalid");
  CHECK_EQ_INT(ct_dtype_size((ct_dtype)7), 0);
  CHECK_EQ_INT(ct_dtype_size((ct_dtype)-1), 0);
}

TEST(dtype_from_name_aliases_and_errors) {
  ct_dtype d = (ct_dtype)99;
  CHECK_OK(ct_dtype_from_name("float", &d));
  CHECK_EQ_INT(d, CT_FLOAT32);
  CHECK_OK(ct_dtype_from_name("double", &d));
  CHECK_EQ_INT(d, CT_FLOAT64);
  CHECK_OK(ct_dtype_from_name("half", &d));
  CHECK_EQ_INT(d, CT_FLOAT16);

  d = CT_INT64;
  CHECK_ERR(ct_dtype_from_name("int8", &d), CT_INVALID_ARGUMENT, "unknown dtype 'int8'");
  CHECK_EQ_INT(d, CT_INT64); /* untouched on failure */
  CHECK_ERR(ct_dtype_from_name("Float32", &d), CT_INVALID_ARGUMENT, "'Float32'");
  CHECK_ERR(ct_dtype_from_name("", &d), CT_INVALID_ARGUMENT, "unknown dtype ''");
  CHECK_ERR(ct_dtype_from_name("float32 ", &d), CT_INVALID_ARGUMENT, "'float32 '");
  CHECK_ERR(ct_dtype_from_name("invalid", &d), CT_INVALID_ARGUMENT, "'invalid'");
  CHECK_EQ_INT(d, CT_INT64);
  CHECK_ERR(ct_dtype_from_name(NULL, &d), CT_INVALID_ARGUMENT, "NULL");
  CHECK_ERR(ct_dtype_from_name("float32", NULL), CT_INVALID_ARGUMENT, "NULL");
}

/* ---- float16 ------------------------------------------------------------ */

TEST(half_known_values) {
  CHECK_EQ_INT(ct_float_to_half(0.0f), 0x0000);
  CHECK_EQ_INT(ct_float_to_half(-0.0f), 0x8000);
  CHECK_EQ_INT(ct_float_to_half(1.0f), 0x3c00);
  CHECK_EQ_INT(ct_float_to_half(-2.0f), 0xc000);
  CHECK_EQ_INT(ct_float_to_half(0.5f), 0x3800);
  CHECK_EQ_INT(ct_float_to_half(65504.0f), 0x7bff); /* largest half */
  CHECK_EQ_INT(ct_float_to_half(1.0f / 3.0f), 0x3555);
  CHECK_EQ_INT(ct_float_to_half(0.1f), 0x2e66);
  CHECK_EQ_INT(ct_float_to_half(3.14159265f), 0x4248);
  CHECK_EQ_INT(ct_float_to_half(0x1p-14f), 0x0400);  /* smallest normal */
  CHECK_EQ_INT(ct_float_to_half(0x1p-24f), 0x0001);  /* smallest subnormal */
  CHECK_EQ_INT(ct_float_to_half(0x3ffp-24f), 0x03ff); /* largest subnormal */

  CHECK(ct_half_to_float(0x3c00) == 1.0f);
  CHECK(ct_half_to_float(0xc000) == -2.0f);
  CHECK(ct_half_to_float(0x7bff) == 65504.0f);
  CHECK(ct_half_to_float(0x0400) == 0x1p-14f);
  CHECK(ct_half_to_float(0x0001) == 0x1p-24f);
  CHECK(ct_half_to_float(0x03ff) == 0x3ffp-24f);
  CHECK(ct_half_to_float(0x8001) == -0x1p-24f);
  CHECK(ct_half_to_float(0x3555) == 1365.0f / 4096.0f); /* nearest half to 1/3 */
  float nz = ct_half_to_float(0x8000);
  CHECK(nz == 0.0f && signbit(nz));
}

TEST(half_round_to_nearest_even) {
  /* normal range: ulp(1) = 2^-10 */
  CHECK_EQ_INT(ct_float_to_half(1.0f + 0x1p-11f), 0x3c00);         /* tie -> even (down) */
  CHECK_EQ_INT(ct_float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);     /* tie -> even (up) */
  CHECK_EQ_INT(ct_float_to_half(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01); /* above the tie */
  CHECK_EQ_INT(ct_float_to_half(1.0f + 0x1p-11f - 0x1p-20f), 0x3c00); /* below the tie */
  CHECK_EQ_INT(ct_float_to_half(2049.0f), 0x6800); /* ulp 2: tie -> 2048 */
  CHECK_EQ_INT(ct_float_to_half(2051.0f), 0x6802); /* tie -> 2052 */
  /* mantissa carry into the exponent */
  CHECK_EQ_INT(ct_float_to_half(2.0f - 0x1p-12f), 0x4000);
  /* overflow: 65520 is the tie between 65504 and 2^16 -> inf */
  CHECK_EQ_INT(ct_float_to_half(65519.0f), 0x7bff);
  CHECK_EQ_INT(ct_float_to_half(65520.0f), 0x7c00);
  CHECK_EQ_INT(ct_float_to_half(-65520.0f), 0xfc00);
  CHECK_EQ_INT(ct_float_to_half(1e10f), 0x7c00);
  CHECK_EQ_INT(ct_float_to_half(3.4e38f), 0x7c00);
}

TEST(half_subnormals) {
  /* half the smallest subnormal is a tie -> 0 (even) */
  CHECK_EQ_INT(ct_float_to_half(0x1p-25f), 0x0000);
  CHECK_EQ_INT(ct_float_to_half(-0x1p-25f), 0x8000);
  CHECK_EQ_INT(ct_float_to_half(0x1.8p-25f), 0x0001); /* 0.75 ulp -> 1 */
  CHECK_EQ_INT(ct_float_to_half(0x1.000002p-25f), 0x0001); /* just above the tie */
  CHECK_EQ_INT(ct_float_to_half(3 * 0x1p-25f), 0x0002); /* 1.5 ulp: tie -> 2 */
  CHECK_EQ_INT(ct_float_to_half(5 * 0x1p-25f), 0x0002); /* 2.5 ulp: tie -> 2 */
  CHECK_EQ_INT(ct_float_to_half(0x1p-26f), 0x0000);
  CHECK_EQ_INT(ct_float_to_half(1e-10f), 0x0000);
  CHECK_EQ_INT(ct_float_to_half(-1e-10f), 0x8000);
  CHECK_EQ_INT(ct_float_to_half(1e-40f), 0x0000); /* float subnormal */
  /* the largest subnormal plus half an ulp rounds up into the normals */
  CHECK_EQ_INT(ct_float_to_half(0x3ffp-24f + 0x1p-25f), 0x0400);
}

TEST(half_inf_nan) {
  CHECK_EQ_INT(ct_float_to_half(INFINITY), 0x7c00);
  CHECK_EQ_INT(ct_float_to_half(-INFINITY), 0xfc00);
  uint16_t h = ct_float_to_half(NAN);
  CHECK((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0);
  /* a NaN whose payload lives only in the low bits must stay a NaN */
  h = ct_float_to_half(float_of(0x7f800001));
  CHECK((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0);
  h = ct_float_to_half(float_of(0xff800001));
  CHECK((h & 0xfc00) == 0xfc00 && (h & 0x03ff) != 0);
  CHECK(isinf(ct_half_to_float(0x7c00)) && ct_half_to_float(0x7c00) > 0);
  CHECK(isinf(ct_half_to_float(0xfc00)) && ct_half_to_float(0xfc00) < 0);
  CHECK(isnan(ct_half_to_float(0x7e00)));
  CHECK(isnan(ct_half_to_float(0x7c01)));
  CHECK(isnan(ct_half_to_float(0xfe00)));
}

TEST(half_exhaustive_round_trip) {
  int bad = 0;
  for (uint32_t h = 0; h <= 0xffff; h++) {
    float f = ct_half_to_float((uint16_t)h);
    bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
    if (is_nan) {
      if (!isnan(f) || !isnan(ct_half_to_float(ct_float_to_half(f)))) bad++;
    } else if (ct_float_to_half(f) != h) {
      bad++;
    }
  }
  CHECK_EQ_INT(bad, 0);
}

/* ---- bfloat16 ----------------------------------------------------------- */

TEST(bfloat16_known_values) {
  CHECK_EQ_INT(ct_float_to_bfloat16(0.0f), 0x0000);
  CHECK_EQ_INT(ct_float_to_bfloat16(-0.0f), 0x8000);
  CHECK_EQ_INT(ct_float_to_bfloat16(1.0f), 0x3f80);
  CHECK_EQ_INT(ct_float_to_bfloat16(-2.0f), 0xc000);
  CHECK_EQ_INT(ct_float_to_bfloat16(3.140625f), 0x4049);
  CHECK_EQ_INT(ct_float_to_bfloat16(3.14159265f), 0x4049);
  CHECK_EQ_INT(ct_float_to_bfloat16(0.1f), 0x3dcd); /* 0x3dcccccd rounds up */
  CHECK(ct_bfloat16_to_float(0x3f80) == 1.0f);
  CHECK(ct_bfloat16_to_float(0x4049) == 3.140625f);
  CHECK(ct_bfloat16_to_float(0x7f7f) == 0x1.fep127f); /* largest bfloat16 */
  CHECK(ct_bfloat16_to_float(0x0080) == 0x1p-126f);   /* smallest normal */
}

TEST(bfloat16_round_to_nearest_even) {
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x3f808000)), 0x3f80); /* tie -> even (down) */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x3f818000)), 0x3f82); /* tie -> even (up) */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x3f808001)), 0x3f81); /* above the tie */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x3f807fff)), 0x3f80); /* below the tie */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x3fffffff)), 0x4000); /* carry into exponent */
  /* the largest floats round to infinity, as RNE says */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x7f7fffff)), 0x7f80);
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x7f7f7fff)), 0x7f7f);
}

TEST(bfloat16_subnormals_inf_nan) {
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x00010000)), 0x0001);
  CHECK(bits_of(ct_bfloat16_to_float(0x0001)) == 0x00010000);
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x00018000)), 0x0002); /* subnormal tie -> even */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x00008000)), 0x0000); /* tie -> 0 */
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x80008001)), 0x8001);
  CHECK_EQ_INT(ct_float_to_bfloat16(float_of(0x007fffff)), 0x0080); /* rounds up to the normals */

  CHECK_EQ_INT(ct_float_to_bfloat16(INFINITY), 0x7f80);
  CHECK_EQ_INT(ct_float_to_bfloat16(-INFINITY), 0xff80);
  uint16_t b = ct_float_to_bfloat16(NAN);
  CHECK((b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0);
  /* payload only in the low 16 bits: truncation alone would give inf */
  b = ct_float_to_bfloat16(float_of(0x7f800001));
  CHECK((b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0);
  b = ct_float_to_bfloat16(float_of(0xff80ffff));
  CHECK((b & 0xff80) == 0xff80 && (b & 0x007f) != 0);
  CHECK(isinf(ct_bfloat16_to_float(0x7f80)));
  CHECK(isnan(ct_bfloat16_to_float(0x7fc0)));
  CHECK(isnan(ct_bfloat16_to_float(0x7f81)));
}

TEST(bfloat16_exhaustive_round_trip) {
  int bad = 0;
  for (uint32_t b = 0; b <= 0xffff; b++) {
    float f = ct_bfloat16_to_float((uint16_t)b);
    if (bits_of(f) != b << 16) bad++; /* exact widening */
    bool is_nan = (b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0;
    if (is_nan ? !isnan(ct_bfloat16_to_float(ct_float_to_bfloat16(f))) : ct_float_to_bfloat16(f) != b) bad++;
  }
  CHECK_EQ_INT(bad, 0);
}

int main(void) {
  RUN(status_numbers_are_stable);
  RUN(status_names);
  RUN(last_error_records_and_clears);
  RUN(last_error_is_per_thread);
  RUN(shape_str);
  RUN(dtype_names_and_sizes);
  RUN(dtype_from_name_aliases_and_errors);
  RUN(half_known_values);
  RUN(half_round_to_nearest_even);
  RUN(half_subnormals);
  RUN(half_inf_nan);
  RUN(half_exhaustive_round_trip);
  RUN(bfloat16_known_values);
  RUN(bfloat16_round_to_nearest_even);
  RUN(bfloat16_subnormals_inf_nan);
  RUN(bfloat16_exhaustive_round_trip);
  TEST_MAIN_END();
}
