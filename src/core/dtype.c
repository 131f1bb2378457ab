/* dtypes: names, sizes, and the 16-bit float conversions. */
#include <math.h>
#include <string.h>

#include "core/internal.h"

static const struct {
  const char *name;
  size_t size;
} dtype_table[CT_DTYPE_COUNT] = {
    [CT_FLOAT32] = {"float32", 4}, [CT_FLOAT64] = {"float64", 8}, [CT_FLOAT16] = {"float16", 2},
    [CT_BFLOAT16] = {"bfloat16", 2}, [CT_INT32] = {"int32", 4},   [CT_INT64] = {"int64", 8},
    [CT_BOOL] = {"bool", 1},
};

const char *ct_dtype_name(ct_dtype dtype) {
  if ((unsigned)dtype >= CT_DTYPE_COUNT) return "invalid";
  return dtype_table[dtype].name;
}

size_t ct_dtype_size(ct_dtype dtype) {
  if ((unsigned)dtype >= CT_DTYPE_COUNT) return 0;
  return dtype_table[dtype].size;
}

ct_status ct_dtype_from_name(const char *name, ct_dtype *out) {
  static const struct {
    const char *alias;
    ct_dtype dtype;
  } aliases[] = {{"float", CT_FLOAT32}, {"double", CT_FLOAT64}, {"half", CT_FLOAT16}};
  if (name == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "dtype_from_name: NULL argument");
  for (int i = 0; i < CT_DTYPE_COUNT; i++) {
    if (strcmp(name, dtype_table[i].name) == 0) {
      *out = (ct_dtype)i;
      return CT_OK;
    }
  }
  for (size_t i = 0; i < CT_ARRAY_LEN(aliases); i++) {
    if (strcmp(name, aliases[i].alias) == 0) {
      *out = aliases[i].dtype;
      return CT_OK;
    }
  }
  return ct_error(CT_INVALID_ARGUMENT, "unknown dtype '%s' (expected float32, float64, float16, bfloat16, int32, int64 or bool)",
                  name);
}

static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

uint16_t ct_float_to_bfloat16(float f) {
  uint32_t u = float_bits(f);
  if (isnan(f)) return (uint16_t)((u >> 16) | 0x40); /* keep it a quiet NaN */
  u += 0x7fff + ((u >> 16) & 1);                      /* round to nearest even */
  return (uint16_t)(u >> 16);
}

float ct_bfloat16_to_float(uint16_t b) { return bits_float((uint32_t)b << 16); }

uint16_t ct_float_to_half(float f) {
  uint32_t u = float_bits(f);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t exp = (u >> 23) & 0xff;
  uint32_t man = u & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0)); /* inf, NaN */
  int e = (int)exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00); /* overflow to inf */
  if (e <= 0) {
    /* subnormal half (or zero): shift the implicit-1 mantissa into place */
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000;
    int shift = 14 - e;
    uint32_t half_man = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_man & 1))) half_man++;
    return (uint16_t)(sign | half_man);
  }
  uint32_t h = sign | ((uint32_t)e << 10) | (man >> 13);
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into exponent: correct */
  return (uint16_t)h;
}

float ct_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0) {
    if (man == 0) return bits_float(sign);
    /* subnormal: value = man * 2^-24 */
    float v = (float)man * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_float(sign | 0x7f800000 | (man << 13));
  return bits_float(sign | ((exp - 15 + 127) << 23) | (man << 13));
}
