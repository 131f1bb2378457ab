/* The GPU kernel catalog (see kernel_catalog.h). */
#include "cuda/kernel_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/kernel_sources.h"

/* C type in the kernel sources and name suffix, per dtype. */
static const char *const ctype[CT_DTYPE_COUNT] = {
    [CT_FLOAT32] = "float", [CT_FLOAT64] = "double", [CT_FLOAT16] = "f16", [CT_BFLOAT16] = "bf16",
    [CT_INT32] = "int",     [CT_INT64] = "i64",      [CT_BOOL] = "u8"};
static const char *const sfx[CT_DTYPE_COUNT] = {
    [CT_FLOAT32] = "f32", [CT_FLOAT64] = "f64", [CT_FLOAT16] = "f16", [CT_BFLOAT16] = "bf16",
    [CT_INT32] = "i32",   [CT_INT64] = "i64",   [CT_BOOL] = "b8"};

static bool valid(ct_dtype dt) { return (unsigned)dt < CT_DTYPE_COUNT; }
static bool is_float(ct_dtype dt) {
  return dt == CT_FLOAT32 || dt == CT_FLOAT64 || dt == CT_FLOAT16 || dt == CT_BFLOAT16;
}
static bool is_numeric(ct_dtype dt) { return valid(dt) && dt != CT_BOOL; }

static void kref_set(ct_cuda_kref *k, const char *module, const char *option) {
  memset(k, 0, sizeof *k);
  k->module = module;
  k->option = option;
}

bool ct_cuda_kref_binary(ct_op op, ct_dtype dt, ct_cuda_kref *k) {
  static const struct {
    ct_op op;
    const char *name, *functor;
    bool cmp;
  } ops[] = {
      {CT_OP_ADD, "add", "OpAdd", false},          {CT_OP_SUB, "sub", "OpSub", false},
      {CT_OP_MUL, "mul", "OpMul", false},          {CT_OP_DIV, "div", "OpDiv", false},
      {CT_OP_MAXIMUM, "maximum", "OpMax", false},  {CT_OP_MINIMUM, "minimum", "OpMin", false},
      {CT_OP_POW, "pow", "OpPow", false},          {CT_OP_EQUAL, "equal", "OpEq", true},
      {CT_OP_FLOOR_DIV, "floor_div", "OpFloorDiv", false}, {CT_OP_FLOOR_MOD, "floor_mod", "OpFloorMod", false},
      {CT_OP_NOT_EQUAL, "not_equal", "OpNe", true}, {CT_OP_LESS, "less", "OpLt", true},
      {CT_OP_LESS_EQUAL, "less_equal", "OpLe", true}, {CT_OP_GREATER, "greater", "OpGt", true},
      {CT_OP_GREATER_EQUAL, "greater_equal", "OpGe", true},
  };
  if (!valid(dt)) return false;
  for (size_t i = 0; i < CT_ARRAY_LEN(ops); i++) {
    if (ops[i].op != op) continue;
    /* bool: only equal and not_equal, as on the CPU */
    if (dt == CT_BOOL && op != CT_OP_EQUAL && op != CT_OP_NOT_EQUAL) return false;
    kref_set(k, "binary.cu", NULL);
    if (op == CT_OP_DIV && (dt == CT_INT32 || dt == CT_INT64))
      snprintf(k->inst, sizeof k->inst, "CT_TRUEDIV(%s, %s)", ctype[dt], sfx[dt]);
    else
      snprintf(k->inst, sizeof k->inst, "%s(%s, %s, %s, %s)", ops[i].cmp ? "CT_CMP" : "CT_BIN", ops[i].name,
               ops[i].functor, ctype[dt], sfx[dt]);
    snprintf(k->name[0], sizeof k->name[0], "ct_%s_%s", ops[i].name, sfx[dt]);
    return true;
  }
  return false;
}

bool ct_cuda_kref_unary(ct_op op, ct_dtype dt, ct_cuda_kref *k) {
  static const struct {
    ct_op op;
    const char *name, *functor;
    bool floats_only;
  } ops[] = {
      {CT_OP_NEG, "neg", "OpNeg", false},        {CT_OP_ABS, "abs", "OpAbs", false},
      {CT_OP_EXP, "exp", "OpExp", true},         {CT_OP_LOG, "log", "OpLog", true},
      {CT_OP_SQRT, "sqrt", "OpSqrt", true},      {CT_OP_TANH, "tanh", "OpTanh", true},
      {CT_OP_SIGMOID, "sigmoid", "OpSigmoid", true}, {CT_OP_SQUARE, "square", "OpSquare", false},
      {CT_OP_RELU, "relu", "OpRelu", false},
  };
  if (!is_numeric(dt)) return false;
  for (size_t i = 0; i < CT_ARRAY_LEN(ops); i++) {
    if (ops[i].op != op) continue;
    if (ops[i].floats_only && !is_float(dt)) return false;
    kref_set(k, "unary.cu", NULL);
    snprintf(k->inst, sizeof k->inst, "CT_UNARY(%s, %s, %s, %s)", ops[i].name, ops[i].functor, ctype[dt], sfx[dt]);
    snprintf(k->name[0], sizeof k->name[0], "ct_%s_%s", ops[i].name, sfx[dt]);
    return true;
  }
  return false;
}

bool ct_cuda_kref_cast(ct_dtype from, ct_dtype to, ct_cuda_kref *k) {
  if (!valid(from) || !valid(to) || from == to) return false; /* same dtype: a copy */
  kref_set(k, "cast.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_CAST(%s, %s, %s, %s)", ctype[from], sfx[from], ctype[to], sfx[to]);
  snprintf(k->name[0], sizeof k->name[0], "ct_cast_%s_%s", sfx[from], sfx[to]);
  return true;
}

static const char *uint_name(size_t elem_size) {
  switch (elem_size) {
  case 1: return "u8";
  case 2: return "u16";
  case 4: return "u32";
  case 8: return "u64";
  default: return NULL;
  }
}

bool ct_cuda_kref_fill(size_t elem_size, ct_cuda_kref *k) {
  const char *u = uint_name(elem_size);
  if (u == NULL) return false;
  kref_set(k, "creation.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_FILL(%s)", u);
  snprintf(k->name[0], sizeof k->name[0], "ct_fill_%s", u);
  return true;
}

bool ct_cuda_kref_range(ct_dtype dt, ct_cuda_kref *k) {
  if (!is_numeric(dt)) return false;
  /* no contraction of start + i * delta into an FMA: the CPU rounds twice */
  kref_set(k, "creation.cu", "--fmad=false");
  bool integer = dt == CT_INT32 || dt == CT_INT64;
  snprintf(k->inst, sizeof k->inst, "%s(%s, %s)", integer ? "CT_RANGE_INT" : "CT_RANGE", ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_range_%s", sfx[dt]);
  return true;
}

bool ct_cuda_kref_random(ct_op op, ct_dtype dt, ct_cuda_kref *k) {
  const char *name, *dist;
  switch (op) {
  case CT_OP_RANDOM_UNIFORM: name = "uniform", dist = "DIST_UNIFORM"; break;
  case CT_OP_RANDOM_NORMAL: name = "normal", dist = "DIST_NORMAL"; break;
  case CT_OP_TRUNCATED_NORMAL: name = "truncated", dist = "DIST_TRUNCATED"; break;
  default: return false;
  }
  if (!valid(dt) || !is_float(dt)) return false;
  /* no contraction into FMA: the CPU's float32 arithmetic is reproduced bit for bit */
  kref_set(k, "random.cu", "--fmad=false");
  snprintf(k->inst, sizeof k->inst, "CT_RANDOM(%s, %s, %s, %s)", name, dist, ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_%s_%s", name, sfx[dt]);
  return true;
}

bool ct_cuda_kref_reduce(ct_op op, ct_dtype dt, ct_cuda_kref *k) {
  const char *name, *functor;
  switch (op) {
  case CT_OP_SUM:
  case CT_OP_MEAN: name = "sum", functor = "OpSum"; break; /* mean: sum with a divisor */
  case CT_OP_MAX: name = "max", functor = "OpMax"; break;
  case CT_OP_MIN: name = "min", functor = "OpMin"; break;
  default: return false;
  }
  if (!is_numeric(dt)) return false;
  kref_set(k, "reduce.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_REDUCE(%s, %s, %s, %s)", name, functor, ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_%s_%s", name, sfx[dt]);
  snprintf(k->name[1], sizeof k->name[1], "ct_%sfin_%s", name, sfx[dt]);
  return true;
}

bool ct_cuda_kref_argmax(ct_dtype dt, ct_cuda_kref *k) {
  if (!valid(dt)) return false; /* bool too, as on the CPU */
  kref_set(k, "reduce.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_ARGMAX(%s, %s)", ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_argmax_%s", sfx[dt]);
  return true;
}

bool ct_cuda_kref_softmax(ct_dtype dt, ct_cuda_kref *k) {
  if (!valid(dt) || !is_float(dt)) return false;
  kref_set(k, "reduce.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_SOFTMAX(%s, %s)", ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_softmax_%s", sfx[dt]);
  return true;
}

bool ct_cuda_kref_gather(size_t elem_size, ct_cuda_kref *k) {
  const char *u = uint_name(elem_size);
  if (u == NULL) return false;
  kref_set(k, "shape.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_GATHER(%s)", u);
  snprintf(k->name[0], sizeof k->name[0], "ct_gather_%s", u);
  return true;
}

bool ct_cuda_kref_copy2d(size_t elem_size, ct_cuda_kref *k) {
  const char *u = uint_name(elem_size);
  if (u == NULL) return false;
  kref_set(k, "shape.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_COPY2D(%s)", u);
  snprintf(k->name[0], sizeof k->name[0], "ct_copy2d_%s", u);
  return true;
}

bool ct_cuda_kref_take(size_t elem_size, ct_dtype index_dtype, ct_cuda_kref *k) {
  const char *u = uint_name(elem_size);
  if (u == NULL || (index_dtype != CT_INT32 && index_dtype != CT_INT64)) return false;
  const char *isfx = index_dtype == CT_INT32 ? "i32" : "i64";
  kref_set(k, "shape.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_TAKE(%s, %s, %s)", u, index_dtype == CT_INT32 ? "int" : "i64", isfx);
  snprintf(k->name[0], sizeof k->name[0], "ct_take_%s_%s", u, isfx);
  return true;
}

/* ---- ops for gradients and training (nn.cu) ------------------------------- */

static const char *index_ctype(ct_dtype dt) { return dt == CT_INT32 ? "int" : dt == CT_INT64 ? "i64" : NULL; }

bool ct_cuda_kref_log_softmax(ct_dtype dt, ct_cuda_kref *k) {
  if (!valid(dt) || !is_float(dt)) return false;
  kref_set(k, "nn.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_LOG_SOFTMAX(%s, %s)", ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_log_softmax_%s", sfx[dt]);
  return true;
}

bool ct_cuda_kref_xent(ct_op op, ct_dtype dt, ct_dtype label_dtype, ct_cuda_kref *k) {
  if (!valid(dt) || !is_float(dt)) return false;
  if (op == CT_OP_SOFTMAX_XENT) {
    kref_set(k, "nn.cu", NULL);
    snprintf(k->inst, sizeof k->inst, "CT_DXENT(%s, %s)", ctype[dt], sfx[dt]);
    snprintf(k->name[0], sizeof k->name[0], "ct_dxent_%s", sfx[dt]);
    return true;
  }
  const char *it = index_ctype(label_dtype);
  if (op != CT_OP_SPARSE_XENT || it == NULL) return false;
  kref_set(k, "nn.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_SXENT(%s, %s, %s, %s)", ctype[dt], sfx[dt], it, sfx[label_dtype]);
  snprintf(k->name[0], sizeof k->name[0], "ct_sxent_%s_%s", sfx[dt], sfx[label_dtype]);
  return true;
}

bool ct_cuda_kref_one_hot(size_t elem_size, ct_dtype index_dtype, ct_cuda_kref *k) {
  const char *u = uint_name(elem_size), *it = index_ctype(index_dtype);
  if (u == NULL || it == NULL) return false;
  kref_set(k, "nn.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_ONE_HOT(%s, %s, %s)", u, it, sfx[index_dtype]);
  snprintf(k->name[0], sizeof k->name[0], "ct_one_hot_%s_%s", u, sfx[index_dtype]);
  return true;
}

bool ct_cuda_kref_select(size_t elem_size, ct_cuda_kref *k) {
  const char *u = uint_name(elem_size);
  if (u == NULL) return false;
  kref_set(k, "nn.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_SELECT(%s)", u);
  snprintf(k->name[0], sizeof k->name[0], "ct_select_%s", u);
  return true;
}

bool ct_cuda_kref_segment_sum(ct_dtype dt, ct_dtype index_dtype, ct_cuda_kref *k) {
  const char *it = index_ctype(index_dtype);
  if (!is_numeric(dt) || it == NULL) return false;
  kref_set(k, "nn.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_SEGSUM(%s, %s, %s, %s)", ctype[dt], sfx[dt], it, sfx[index_dtype]);
  snprintf(k->name[0], sizeof k->name[0], "ct_segsum_%s_%s", sfx[dt], sfx[index_dtype]);
  return true;
}

bool ct_cuda_kref_find_bad(ct_dtype index_dtype, ct_cuda_kref *k) {
  const char *it = index_ctype(index_dtype);
  if (it == NULL) return false;
  kref_set(k, "nn.cu", NULL);
  snprintf(k->inst, sizeof k->inst, "CT_FIND_BAD(%s, %s)", it, sfx[index_dtype]);
  snprintf(k->name[0], sizeof k->name[0], "ct_find_bad_%s", sfx[index_dtype]);
  return true;
}

/* ---- the optimizer updates (optim.cu) --------------------------------------- */

bool ct_cuda_kref_apply(ct_op op, ct_dtype dt, ct_cuda_kref *k) {
  const char *name = op == CT_OP_APPLY_GRADIENT_DESCENT ? "sgd"
                     : op == CT_OP_APPLY_MOMENTUM       ? "momentum"
                     : op == CT_OP_APPLY_ADAM           ? "adam"
                                                        : NULL;
  if (name == NULL || !valid(dt) || !is_float(dt)) return false;
  /* no contraction into FMAs: every product rounds as on the CPU */
  kref_set(k, "optim.cu", "--fmad=false");
  snprintf(k->inst, sizeof k->inst, "CT_APPLY_%s(%s, %s)", op == CT_OP_APPLY_GRADIENT_DESCENT ? "SGD"
                                                           : op == CT_OP_APPLY_MOMENTUM       ? "MOMENTUM"
                                                                                              : "ADAM",
           ctype[dt], sfx[dt]);
  snprintf(k->name[0], sizeof k->name[0], "ct_apply_%s_%s", name, sfx[dt]);
  return true;
}

int ct_cuda_kernel_catalog(ct_cuda_kref *out, int cap) {
  int n = 0;
  ct_cuda_kref k;
#define EMIT()                         \
  do {                                 \
    if (n < cap && out) out[n] = k;    \
    n++;                               \
  } while (0)
  for (int d = 0; d < CT_DTYPE_COUNT; d++) {
    ct_dtype dt = (ct_dtype)d;
    for (int op = CT_OP_ADD; op <= CT_OP_GREATER_EQUAL; op++)
      if (ct_cuda_kref_binary((ct_op)op, dt, &k)) EMIT();
    for (int op = CT_OP_NEG; op <= CT_OP_RELU; op++)
      if (ct_cuda_kref_unary((ct_op)op, dt, &k)) EMIT();
    for (int t = 0; t < CT_DTYPE_COUNT; t++)
      if (ct_cuda_kref_cast(dt, (ct_dtype)t, &k)) EMIT();
    if (ct_cuda_kref_range(dt, &k)) EMIT();
    for (int op = CT_OP_RANDOM_UNIFORM; op <= CT_OP_TRUNCATED_NORMAL; op++)
      if (ct_cuda_kref_random((ct_op)op, dt, &k)) EMIT();
    /* mean shares sum's kernel */
    static const ct_op reds[] = {CT_OP_SUM, CT_OP_MAX, CT_OP_MIN};
    for (size_t i = 0; i < CT_ARRAY_LEN(reds); i++)
      if (ct_cuda_kref_reduce(reds[i], dt, &k)) EMIT();
    if (ct_cuda_kref_argmax(dt, &k)) EMIT();
    if (ct_cuda_kref_softmax(dt, &k)) EMIT();
    for (int op = CT_OP_APPLY_GRADIENT_DESCENT; op <= CT_OP_APPLY_ADAM; op++)
      if (ct_cuda_kref_apply((ct_op)op, dt, &k)) EMIT();
    if (ct_cuda_kref_log_softmax(dt, &k)) EMIT();
    if (ct_cuda_kref_xent(CT_OP_SOFTMAX_XENT, dt, dt, &k)) EMIT();
    for (int it = CT_INT32; it <= CT_INT64; it++) {
      if (ct_cuda_kref_xent(CT_OP_SPARSE_XENT, dt, (ct_dtype)it, &k)) EMIT();
      if (ct_cuda_kref_segment_sum(dt, (ct_dtype)it, &k)) EMIT();
    }
    if (ct_cuda_kref_find_bad(dt, &k)) EMIT();
  }
  for (size_t sz = 1; sz <= 8; sz *= 2) {
    if (ct_cuda_kref_fill(sz, &k)) EMIT();
    if (ct_cuda_kref_gather(sz, &k)) EMIT();
    if (ct_cuda_kref_copy2d(sz, &k)) EMIT();
    if (ct_cuda_kref_take(sz, CT_INT32, &k)) EMIT();
    if (ct_cuda_kref_take(sz, CT_INT64, &k)) EMIT();
    if (ct_cuda_kref_one_hot(sz, CT_INT32, &k)) EMIT();
    if (ct_cuda_kref_one_hot(sz, CT_INT64, &k)) EMIT();
    if (ct_cuda_kref_select(sz, &k)) EMIT();
  }
#undef EMIT
  return n;
}

char *ct_cuda_kref_source(const ct_cuda_kref *k) {
  const ct_cuda_source *m = ct_cuda_source_find(k->module);
  if (m == NULL) return NULL;
  size_t il = strlen(k->inst);
  char *s = malloc(m->len + il + 3);
  if (s == NULL) return NULL;
  memcpy(s, m->text, m->len);
  s[m->len] = '\n';
  memcpy(s + m->len + 1, k->inst, il);
  s[m->len + 1 + il] = '\n';
  s[m->len + 2 + il] = '\0';
  return s;
}
