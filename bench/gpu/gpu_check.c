/*
 * The GPU check ctensor owns (issue 4, item 6). Modes:
 *
 *   gpu_check suite    every GPU op against the CPU oracle, fresh random
 *                      inputs (seed printed), tolerance per dtype; a NaN
 *                      never passes; strict placement, so an op that
 *                      cannot run on the GPU fails instead of falling back;
 *                      its last part differentiates every differentiable
 *                      op on both devices (gradients equal, on the GPU)
 *   gpu_check gradients  that last part alone
 *   gpu_check matmul   TFLOP/s, float32 / TF32 / bfloat16, n = 4096, 8192
 *   gpu_check bandwidth  add of two 64 Mi float32 tensors vs a
 *                      device-to-device copy of one, GB/s
 *   gpu_check reduce   the sum of each row of [2048, 4 Mi] float32 (a
 *                      block per row), GB/s read, and its ratio to that
 *                      copy's GB/s; argmax of each row of [16, 1 Mi]
 *                      float32 (a block per row), GB/s read
 *   gpu_check first    one small add on the GPU, copied back (for timing
 *                      the whole process: cold and warm kernel cache)
 *   gpu_check dry-run  the suite with the CPU standing in for the GPU: no
 *                      GPU needed; checks the harness itself (every call
 *                      is valid, the comparisons hold) before a GPU run
 *
 * GPU_CHECK_SEED=<n> fixes the inputs; GPU_CHECK_SMALL=1 shrinks the large
 * tensors (the suite's by about 10x, keeping every kernel strategy: vector
 * bodies and tails, a block per reduction chunk or row, a block per
 * softmax row; matmul to n = 128 and 256, bandwidth to 1 Mi elements, the
 * row sum to [40, 16 Ki], the timed argmax to [4, 64 Ki]; the suite's
 * argmax rows of 1M elements stay, they are cheap) for the emulated GPU
 * of the test suite (tests
 * gpu_emulated and gpu_run_script: the fake driver runs the kernels on the
 * host, one CUDA thread at a time). Small
 * timings measure nothing; they check the program.
 *
 * Exit status: 0 all good, 1 a check failed, 2 no usable GPU.
 * Built and run by bench/gpu/run.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctensor.h"

static int failures, checks;
static bool small; /* GPU_CHECK_SMALL */

/* n, or the smaller size under GPU_CHECK_SMALL */
static int64_t size_of(int64_t n, int64_t small_n) { return small ? small_n : n; }
static unsigned long long rng_state;
/* the device under test, and the word its full name must contain */
static const char *dut = "/GPU:0", *dut_kind = "GPU";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double urand(void) { /* splitmix64 */
  unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static void die_status(const char *what) {
  fprintf(stderr, "gpu_check: %s: %s\n", what, ct_last_error());
  exit(1);
}
#define OK(expr) \
  do {           \
    if ((expr) != CT_OK) die_status(#expr); \
  } while (0)

static double load(const void *p, ct_dtype dt, int64_t i) {
  switch (dt) {
  case CT_FLOAT32: return ((const float *)p)[i];
  case CT_FLOAT64: return ((const double *)p)[i];
  case CT_FLOAT16: return ct_half_to_float(((const uint16_t *)p)[i]);
  case CT_BFLOAT16: return ct_bfloat16_to_float(((const uint16_t *)p)[i]);
  case CT_INT32: return ((const int32_t *)p)[i];
  case CT_INT64: return (double)((const int64_t *)p)[i];
  default: return ((const unsigned char *)p)[i];
  }
}

static void store(void *p, ct_dtype dt, int64_t i, double v) {
  switch (dt) {
  case CT_FLOAT32: ((float *)p)[i] = (float)v; break;
  case CT_FLOAT64: ((double *)p)[i] = v; break;
  case CT_FLOAT16: ((uint16_t *)p)[i] = ct_float_to_half((float)v); break;
  case CT_BFLOAT16: ((uint16_t *)p)[i] = ct_float_to_bfloat16((float)v); break;
  case CT_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
  case CT_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
  default: ((unsigned char *)p)[i] = v != 0; break;
  }
}

static bool is_float(ct_dtype d) { return d <= CT_BFLOAT16; }

/* kind of values: 0 any sign, 1 positive (log, sqrt), 2 small non-negative
 * integers (pow exponents), 3 either sign but never 0 (divisors) */
static ct_tensor *make(ct_context *ctx, const char *dev, ct_dtype dt, const int64_t *shape, int rank, int kind,
                       void *host_copy_out) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  void *buf = malloc((size_t)(n > 0 ? n : 1) * 8);
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (dt == CT_BOOL) v = urand() < 0.5;
    else if (kind == 2) v = floor(urand() * 4);
    else if (kind == 3) v = (urand() < 0.5 ? -1 : 1) * (is_float(dt) ? 0.05 + urand() * 4 : 1 + floor(urand() * 100));
    else if (!is_float(dt)) v = floor(urand() * 200 - 100) + (kind == 1 ? 101 : 0);
    else v = kind == 1 ? 0.05 + urand() * 4 : urand() * 8 - 4;
    store(buf, dt, i, v);
  }
  if (host_copy_out) memcpy(host_copy_out, buf, (size_t)n * ct_dtype_size(dt));
  ct_tensor *t = NULL;
  OK(ct_device_scope_push(ctx, dev));
  OK(ct_tensor_from_host(ctx, dt, shape, rank, buf, &t));
  OK(ct_device_scope_pop(ctx));
  free(buf);
  return t;
}

static ct_tensor *copy_to(ct_context *ctx, const ct_tensor *t, const char *dev) {
  (void)ctx;
  ct_tensor *o = NULL;
  OK(ct_tensor_copy_to(t, dev, &o));
  return o;
}

/* Compares a GPU result with the CPU's. tol: relative+absolute per
 * element; scale_tol: tolerance relative to the largest |ref| (matmul);
 * slack: an absolute allowance added to every element's (sums, whose
 * rounding error grows with the sum of |x|, not with the result). */
static void compare_slack(const char *what, const ct_tensor *gpu, const ct_tensor *cpu, double tol, bool scale_tol,
                          double slack) {
  if (gpu == NULL || cpu == NULL) return; /* the op failed: already reported */
  checks++;
  if (strstr(ct_tensor_device(gpu), dut_kind) == NULL) {
    failures++;
    printf("FAIL %-40s ran on %s\n", what, ct_tensor_device(gpu));
    return;
  }
  int64_t n = ct_tensor_num_elements(cpu);
  if (n != ct_tensor_num_elements(gpu) || ct_tensor_dtype(gpu) != ct_tensor_dtype(cpu)) {
    failures++;
    printf("FAIL %-40s shape or dtype differs\n", what);
    return;
  }
  ct_dtype dt = ct_tensor_dtype(cpu);
  size_t bytes = ct_tensor_nbytes(cpu);
  void *a = malloc(bytes + 8), *b = malloc(bytes + 8);
  OK(ct_tensor_to_host(gpu, a, bytes));
  OK(ct_tensor_to_host(cpu, b, bytes));
  double ref_max = 0;
  for (int64_t i = 0; i < n; i++) ref_max = fmax(ref_max, fabs(load(b, dt, i)));
  int64_t bad = -1;
  for (int64_t i = 0; i < n && bad < 0; i++) {
    double x = load(a, dt, i), y = load(b, dt, i);
    double lim = (scale_tol ? tol * (ref_max + 1e-30) : tol * (1 + fabs(y))) + slack;
    if (!(fabs(x - y) <= lim)) bad = i; /* NaN fails here */
  }
  if (bad >= 0) {
    failures++;
    printf("FAIL %-40s element %lld: GPU %.9g, CPU %.9g\n", what, (long long)bad, load(a, dt, bad), load(b, dt, bad));
  }
  free(a);
  free(b);
}

static void compare(const char *what, const ct_tensor *gpu, const ct_tensor *cpu, double tol, bool scale_tol) {
  compare_slack(what, gpu, cpu, tol, scale_tol, 0);
}

static double tol_for(ct_dtype dt, double f32) {
  switch (dt) {
  case CT_FLOAT64: return 1e-12;
  case CT_FLOAT32: return f32;
  case CT_FLOAT16: return 2e-3;
  case CT_BFLOAT16: return 1.6e-2;
  default: return 0;
  }
}

static const ct_dtype all_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64, CT_BOOL};
static const ct_dtype float_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16};
static const ct_dtype numeric_dtypes[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
#define N_OF(a) (int)(sizeof(a) / sizeof((a)[0]))

typedef ct_status (*binop)(ct_context *, const ct_tensor *, const ct_tensor *, ct_tensor **);
typedef ct_status (*unop)(ct_context *, const ct_tensor *, ct_tensor **);

/* Runs call under scope `dev`; a failure is reported and counted, `out`
 * is left NULL and the suite goes on (compare skips NULL results). */
#define TRY(dev, out, call)                                                             \
  do {                                                                                  \
    out = NULL;                                                                         \
    OK(ct_device_scope_push(ctx, dev));                                                 \
    ct_status st_ = (call);                                                             \
    OK(ct_device_scope_pop(ctx));                                                       \
    if (st_ != CT_OK) {                                                                 \
      checks++, failures++;                                                             \
      printf("FAIL %s on %s: %s: %s\n", #call, dev, ct_status_name(st_), ct_last_error()); \
      out = NULL;                                                                       \
    }                                                                                   \
  } while (0)

/* Runs f under scope `dev`; exits on failure (timings). */
#define ON(dev, call)                          \
  do {                                         \
    OK(ct_device_scope_push(ctx, dev));        \
    OK(call);                                  \
    OK(ct_device_scope_pop(ctx));              \
  } while (0)

/* int32/int64 values drawn from [lo, hi), on `dev` */
static ct_tensor *make_index(ct_context *ctx, const char *dev, ct_dtype dt, const int64_t *shape, int rank, int64_t lo,
                             int64_t hi) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  void *buf = malloc((size_t)(n > 0 ? n : 1) * 8);
  for (int64_t i = 0; i < n; i++) store(buf, dt, i, (double)(lo + (int64_t)(urand() * (double)(hi - lo))));
  ct_tensor *t = NULL;
  OK(ct_device_scope_push(ctx, dev));
  OK(ct_tensor_from_host(ctx, dt, shape, rank, buf, &t));
  OK(ct_device_scope_pop(ctx));
  free(buf);
  return t;
}

/* An op that must fail on both devices with one message (bad labels or
 * segment ids: the GPU checks before it writes anything). */
static void expect_same_error(const char *what, ct_status g, const char *gmsg, ct_status c, const char *cmsg) {
  checks++;
  if (g != CT_INVALID_ARGUMENT || c != CT_INVALID_ARGUMENT || strcmp(gmsg, cmsg) != 0) {
    failures++;
    printf("FAIL %-40s GPU %s \"%s\", CPU %s \"%s\"\n", what, ct_status_name(g), gmsg, ct_status_name(c), cmsg);
  }
}

/* The ops for gradients and training. */
static void nn_suite(ct_context *ctx) {
  char name[96];
  /* log_softmax: a thread per column (axes 0 and 1, short rows), a block
   * per row (long last axis), many short rows; small integers give ties */
  for (int d = 0; d < N_OF(float_dtypes); d++) {
    ct_dtype dt = float_dtypes[d];
    double tol = tol_for(dt, 1e-5);
    const int64_t shapes[][3] = {{19, 257, 33}, {1, 37, 3001}, {1, size_of(20011, 2011), 7}};
    for (int s = 0; s < 3; s++)
      for (int axis = s == 0 ? 0 : 2; axis < 3; axis++) {
        ct_tensor *gx = make(ctx, dut, dt, shapes[s], 3, s == 1 ? 2 : 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
        ct_tensor *g = NULL, *c = NULL;
        TRY(dut, g, ct_log_softmax(ctx, gx, axis, &g));
        TRY("/CPU:0", c, ct_log_softmax(ctx, cx, axis, &c));
        snprintf(name, sizeof name, "log_softmax %s shape %d axis %d", ct_dtype_name(dt), s, axis);
        compare(name, g, c, tol, false);
        ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
      }
    /* cross-entropies: many short rows (a thread each), long rows (a block
     * each), exactly the block threshold; labels int32 and int64 */
    const int64_t xshapes[][2] = {{size_of(4099, 409), 10}, {37, 1001}, {5, 128}};
    for (int s = 0; s < 3; s++) {
      int64_t b = xshapes[s][0], k = xshapes[s][1];
      ct_tensor *gx = make(ctx, dut, dt, xshapes[s], 2, s == 2 ? 2 : 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_dtype idt = s % 2 ? CT_INT64 : CT_INT32;
      ct_tensor *gl = make_index(ctx, dut, idt, &b, 1, 0, k), *cl = copy_to(ctx, gl, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL, *gb = NULL, *cb = NULL;
      TRY(dut, g, ct_sparse_softmax_cross_entropy_with_logits(ctx, gl, gx, &g, &gb));
      TRY("/CPU:0", c, ct_sparse_softmax_cross_entropy_with_logits(ctx, cl, cx, &c, &cb));
      snprintf(name, sizeof name, "sparse_xent loss %s shape %d %s", ct_dtype_name(dt), s, ct_dtype_name(idt));
      compare(name, g, c, tol, false);
      snprintf(name, sizeof name, "sparse_xent backprop %s shape %d", ct_dtype_name(dt), s);
      compare(name, gb, cb, tol, false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gb), ct_tensor_release(cb);
      ct_tensor_release(gl), ct_tensor_release(cl);
      /* dense labels: a distribution per row */
      double *p = malloc((size_t)(b * k) * sizeof *p);
      void *buf = malloc((size_t)(b * k) * 8);
      for (int64_t r = 0; r < b; r++) {
        double sum = 0;
        for (int64_t j = 0; j < k; j++) sum += p[r * k + j] = urand() < 0.3 ? 0 : urand();
        for (int64_t j = 0; j < k; j++) store(buf, dt, r * k + j, sum > 0 ? p[r * k + j] / sum : 1.0 / (double)k);
      }
      ct_tensor *gy = NULL;
      OK(ct_device_scope_push(ctx, dut));
      OK(ct_tensor_from_host(ctx, dt, xshapes[s], 2, buf, &gy));
      OK(ct_device_scope_pop(ctx));
      ct_tensor *cy = copy_to(ctx, gy, "/CPU:0");
      free(p), free(buf);
      TRY(dut, g, ct_softmax_cross_entropy_with_logits(ctx, gy, gx, &g, &gb));
      TRY("/CPU:0", c, ct_softmax_cross_entropy_with_logits(ctx, cy, cx, &c, &cb));
      snprintf(name, sizeof name, "softmax_xent loss %s shape %d", ct_dtype_name(dt), s);
      compare(name, g, c, tol, false);
      snprintf(name, sizeof name, "softmax_xent backprop %s shape %d", ct_dtype_name(dt), s);
      compare(name, gb, cb, tol, false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gb), ct_tensor_release(cb);
      ct_tensor_release(gy), ct_tensor_release(cy), ct_tensor_release(gx), ct_tensor_release(cx);
    }
  }
  /* a label out of range: the same error on both devices */
  for (int i = 0; i < 2; i++) {
    ct_dtype idt = i ? CT_INT64 : CT_INT32;
    int64_t xs[2] = {300, 129}, b = 300;
    ct_tensor *gx = make(ctx, dut, CT_FLOAT32, xs, 2, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
    ct_tensor *gl = make_index(ctx, dut, idt, &b, 1, 0, 129), *cl;
    int64_t bad[1] = {i ? -1 : 129};
    void *host = malloc((size_t)b * 8);
    OK(ct_tensor_to_host(gl, host, ct_tensor_nbytes(gl)));
    store(host, idt, 211, (double)bad[0]);
    ct_tensor_release(gl);
    OK(ct_device_scope_push(ctx, dut));
    OK(ct_tensor_from_host(ctx, idt, &b, 1, host, &gl));
    OK(ct_device_scope_pop(ctx));
    free(host);
    cl = copy_to(ctx, gl, "/CPU:0");
    ct_tensor *g = NULL, *c = NULL;
    char gmsg[512];
    OK(ct_device_scope_push(ctx, dut));
    ct_status gs = ct_sparse_softmax_cross_entropy_with_logits(ctx, gl, gx, &g, NULL);
    snprintf(gmsg, sizeof gmsg, "%s", ct_last_error());
    OK(ct_device_scope_pop(ctx));
    OK(ct_device_scope_push(ctx, "/CPU:0"));
    ct_status cs = ct_sparse_softmax_cross_entropy_with_logits(ctx, cl, cx, &c, NULL);
    OK(ct_device_scope_pop(ctx));
    snprintf(name, sizeof name, "sparse_xent bad label %s", ct_dtype_name(idt));
    expect_same_error(name, gs, gmsg, cs, ct_last_error());
    if (gs == CT_OK) ct_tensor_release(g);
    if (cs == CT_OK) ct_tensor_release(c);
    ct_tensor_release(gx), ct_tensor_release(cx), ct_tensor_release(gl), ct_tensor_release(cl);
  }
  /* one_hot: every dtype, indices in and out of [0, depth), each axis */
  for (int d = 0; d < N_OF(all_dtypes); d++)
    for (int axis = -1; axis < 3; axis++) {
      ct_dtype dt = all_dtypes[d], idt = (d + axis) % 2 ? CT_INT64 : CT_INT32;
      int64_t ishape[2] = {size_of(301, 31), 7}, depth = axis == 2 ? 0 : 5 + 2 * (axis + 1);
      ct_tensor *gi = make_index(ctx, dut, idt, ishape, 2, -2, depth + 2), *ci = copy_to(ctx, gi, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_one_hot(ctx, gi, depth, 3.5, -1.25, axis, dt, &g));
      TRY("/CPU:0", c, ct_one_hot(ctx, ci, depth, 3.5, -1.25, axis, dt, &c));
      snprintf(name, sizeof name, "one_hot %s axis %d depth %lld %s", ct_dtype_name(dt), axis, (long long)depth,
               ct_dtype_name(idt));
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gi), ct_tensor_release(ci);
    }
  /* where: same shapes (the contiguous path), broadcasts of each operand */
  static const struct {
    int rank[3];
    int64_t shape[3][3]; /* condition, x, y */
  } wcases[] = {{{2, 2, 2}, {{513, 77}, {513, 77}, {513, 77}}},
                {{2, 2, 0}, {{513, 1}, {1, 77}, {0}}},
                {{2, 3, 3}, {{5, 1}, {1, 5, 33}, {64, 1, 1}}},
                {{0, 1, 1}, {{0}, {1001}, {1001}}}};
  for (int d = 0; d < N_OF(all_dtypes); d++)
    for (int s = 0; s < N_OF(wcases); s++) {
      ct_dtype dt = all_dtypes[d];
      ct_tensor *gc = make(ctx, dut, CT_BOOL, wcases[s].shape[0], wcases[s].rank[0], 0, NULL);
      ct_tensor *gx = make(ctx, dut, dt, wcases[s].shape[1], wcases[s].rank[1], 0, NULL);
      ct_tensor *gy = make(ctx, dut, dt, wcases[s].shape[2], wcases[s].rank[2], 0, NULL);
      ct_tensor *cc = copy_to(ctx, gc, "/CPU:0"), *cx = copy_to(ctx, gx, "/CPU:0"), *cy = copy_to(ctx, gy, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_where(ctx, gc, gx, gy, &g));
      TRY("/CPU:0", c, ct_where(ctx, cc, cx, cy, &c));
      snprintf(name, sizeof name, "where %s case %d", ct_dtype_name(dt), s);
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c);
      ct_tensor_release(gc), ct_tensor_release(gx), ct_tensor_release(gy);
      ct_tensor_release(cc), ct_tensor_release(cx), ct_tensor_release(cy);
    }
  /* broadcast_to: new and size-1 axes, a scalar, no broadcast (a copy) */
  static const struct {
    int in_rank, out_rank;
    int64_t in[3], out[4];
  } bcases[] = {{2, 2, {1, 77}, {513, 77}},     {3, 4, {5, 1, 3}, {2, 5, 7, 3}}, {0, 1, {0}, {1001}},
                {1, 1, {77}, {77}},             {2, 2, {3, 1}, {3, 4099}}};
  for (int d = 0; d < N_OF(all_dtypes); d++)
    for (int s = 0; s < N_OF(bcases); s++) {
      ct_dtype dt = all_dtypes[d];
      ct_tensor *gx = make(ctx, dut, dt, bcases[s].in, bcases[s].in_rank, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_broadcast_to(ctx, gx, bcases[s].out, bcases[s].out_rank, &g));
      TRY("/CPU:0", c, ct_broadcast_to(ctx, cx, bcases[s].out, bcases[s].out_rank, &c));
      snprintf(name, sizeof name, "broadcast_to %s case %d", ct_dtype_name(dt), s);
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
    }
  /* unsorted_segment_sum: repeated ids, negative ids (dropped), rank-2
   * ids; float sums are added in another order on each device */
  static const struct {
    int data_rank, ids_rank;
    int64_t data[3];
    int64_t segments;
  } scases[] = {{2, 1, {10007, 3}, 50}, {3, 2, {37, 3, 65}, 7}, {1, 1, {100003}, 1000}};
  for (int d = 0; d < N_OF(numeric_dtypes); d++)
    for (int s = 0; s < N_OF(scases); s++) {
      ct_dtype dt = numeric_dtypes[d], idt = (d + s) % 2 ? CT_INT64 : CT_INT32;
      int64_t ds[3] = {scases[s].data[0], scases[s].data[1], scases[s].data[2]};
      if (s != 1) ds[0] = size_of(ds[0], ds[0] / 10);
      ct_tensor *gx = make(ctx, dut, dt, ds, scases[s].data_rank, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_tensor *gi = make_index(ctx, dut, idt, ds, scases[s].ids_rank, -3, scases[s].segments);
      ct_tensor *ci = copy_to(ctx, gi, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_unsorted_segment_sum(ctx, gx, gi, scases[s].segments, &g));
      TRY("/CPU:0", c, ct_unsorted_segment_sum(ctx, cx, ci, scases[s].segments, &c));
      snprintf(name, sizeof name, "unsorted_segment_sum %s case %d %s", ct_dtype_name(dt), s, ct_dtype_name(idt));
      /* the error of a float sum grows with the sum of |x| (up to 4 each) */
      double per_seg = (double)ct_tensor_num_elements(gi) / (double)scases[s].segments;
      double slack = !is_float(dt) ? 0 : (dt == CT_FLOAT64 ? 1e-15 : 2.5e-7) * 4.0 * 4.0 * per_seg;
      compare_slack(name, g, c, dt == CT_FLOAT64 ? 1e-12 : tol_for(dt, 1e-6), false, slack);
      ct_tensor_release(g), ct_tensor_release(c);
      ct_tensor_release(gx), ct_tensor_release(cx), ct_tensor_release(gi), ct_tensor_release(ci);
    }
  /* a segment id >= num_segments: the same error on both devices */
  {
    int64_t ds[2] = {4, 6};
    ct_tensor *gx = make(ctx, dut, CT_FLOAT32, ds, 2, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
    const int64_t ids[2][2] = {{0, -1}, {9, 2}}, is[2] = {2, 2};
    ct_tensor *gi = NULL, *ci = NULL, *g = NULL, *c = NULL;
    OK(ct_device_scope_push(ctx, dut));
    OK(ct_tensor_from_host(ctx, CT_INT64, is, 2, ids, &gi));
    OK(ct_device_scope_pop(ctx));
    ci = copy_to(ctx, gi, "/CPU:0");
    char gmsg[512];
    OK(ct_device_scope_push(ctx, dut));
    ct_status gs = ct_unsorted_segment_sum(ctx, gx, gi, 5, &g);
    snprintf(gmsg, sizeof gmsg, "%s", ct_last_error());
    OK(ct_device_scope_pop(ctx));
    OK(ct_device_scope_push(ctx, "/CPU:0"));
    ct_status cs = ct_unsorted_segment_sum(ctx, cx, ci, 5, &c);
    OK(ct_device_scope_pop(ctx));
    expect_same_error("unsorted_segment_sum bad id", gs, gmsg, cs, ct_last_error());
    if (gs == CT_OK) ct_tensor_release(g);
    if (cs == CT_OK) ct_tensor_release(c);
    ct_tensor_release(gx), ct_tensor_release(cx), ct_tensor_release(gi), ct_tensor_release(ci);
  }
}

/* The optimizer updates (ResourceApply*): a variable on the device under
 * test and its twin on the CPU get the same gradients for a few steps
 * (the learning rate changed halfway); values and every slot compared.
 * The kernels round as the CPU's do (no FMA contraction), hence the
 * tight tolerance. */
static void optim_suite(ct_context *ctx) {
  static const struct {
    bool adam, nesterov, amsgrad;
    double lr, momentum;
  } cfgs[] = {{false, false, false, 0.1, 0},   {false, false, false, 0.1, 0.9}, {false, true, false, 0.1, 0.9},
              {true, false, false, 0.01, 0},   {true, false, true, 0.01, 0}};
  char name[96];
  for (int d = 0; d < N_OF(float_dtypes); d++)
    for (int c = 0; c < N_OF(cfgs); c++) {
      ct_dtype dt = float_dtypes[d];
      int64_t shape[2] = {size_of(37, 5), size_of(1031, 103)}; /* odd: grid-stride tails */
      ct_tensor *gx = make(ctx, dut, dt, shape, 2, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_variable *gv = NULL, *cv = NULL;
      ON(dut, ct_variable_new(ctx, gx, true, "w", &gv));
      ON("/CPU:0", ct_variable_new(ctx, cx, true, "w", &cv));
      ct_optimizer *og = NULL, *oc = NULL;
      if (cfgs[c].adam) {
        OK(ct_optimizer_adam_new(ctx, cfgs[c].lr, 0.9, 0.999, 1e-7, cfgs[c].amsgrad, &og));
        OK(ct_optimizer_adam_new(ctx, cfgs[c].lr, 0.9, 0.999, 1e-7, cfgs[c].amsgrad, &oc));
      } else {
        OK(ct_optimizer_sgd_new(ctx, cfgs[c].lr, cfgs[c].momentum, cfgs[c].nesterov, &og));
        OK(ct_optimizer_sgd_new(ctx, cfgs[c].lr, cfgs[c].momentum, cfgs[c].nesterov, &oc));
      }
      snprintf(name, sizeof name, "%s %s%s%s", cfgs[c].adam ? "ResourceApplyAdam" : cfgs[c].momentum != 0 ?
               "ResourceApplyKerasMomentum" : "ResourceApplyGradientDescent", ct_dtype_name(dt),
               cfgs[c].nesterov ? " nesterov" : "", cfgs[c].amsgrad ? " amsgrad" : "");
      bool ok = true;
      for (int step = 0; step < 4 && ok; step++) {
        if (step == 2) {
          OK(ct_optimizer_set_learning_rate(og, cfgs[c].lr * 0.5));
          OK(ct_optimizer_set_learning_rate(oc, cfgs[c].lr * 0.5));
        }
        ct_tensor *gg = make(ctx, dut, dt, shape, 2, 0, NULL), *cg = copy_to(ctx, gg, "/CPU:0");
        ct_status sg = ct_optimizer_apply_gradients(og, &gv, (const ct_tensor *const *)&gg, 1);
        if (sg != CT_OK) printf("FAIL %-40s step %d on %s: %s: %s\n", name, step, dut, ct_status_name(sg), ct_last_error());
        ct_status sc = ct_optimizer_apply_gradients(oc, &cv, (const ct_tensor *const *)&cg, 1);
        if (sc != CT_OK) printf("FAIL %-40s step %d on the CPU: %s: %s\n", name, step, ct_status_name(sc), ct_last_error());
        if (sg != CT_OK || sc != CT_OK) checks++, failures++, ok = false;
        ct_tensor_release(gg), ct_tensor_release(cg);
      }
      if (ok) {
        ct_tensor *g = NULL, *cr = NULL;
        OK(ct_variable_read(gv, &g));
        OK(ct_variable_read(cv, &cr));
        compare(name, g, cr, tol_for(dt, 1e-6), false);
        ct_tensor_release(g), ct_tensor_release(cr);
        static const char *const slots[] = {"momentum", "m", "v", "vhat"};
        for (int k = 0; k < N_OF(slots); k++) {
          ct_tensor *gs = NULL, *cs = NULL;
          if (ct_optimizer_get_slot(og, gv, slots[k], &gs) != CT_OK) continue; /* not this optimizer's */
          OK(ct_optimizer_get_slot(oc, cv, slots[k], &cs));
          char sname[128];
          snprintf(sname, sizeof sname, "%s slot %s", name, slots[k]);
          compare(sname, gs, cs, tol_for(dt, 1e-6), false);
          ct_tensor_release(gs), ct_tensor_release(cs);
        }
      }
      ct_optimizer_free(og), ct_optimizer_free(oc);
      ct_variable_release(gv), ct_variable_release(cv);
      ct_tensor_release(gx), ct_tensor_release(cx);
    }
}

/* ---- gradients ------------------------------------------------------------ */

/* A differentiable function of up to three float inputs. Integer inputs
 * (indices, labels, segment ids, conditions) are made inside it, so that
 * they land on the scope's device like any constant. */
typedef ct_status (*grad_f)(ct_context *ctx, ct_tensor *const *x, ct_tensor **y);

static ct_status const_i32(ct_context *ctx, const int32_t *v, const int64_t *shape, int rank, ct_tensor **out) {
  return ct_tensor_from_host(ctx, CT_INT32, shape, rank, v, out);
}

#define GF(name) static ct_status name(ct_context *ctx, ct_tensor *const *x, ct_tensor **y)
GF(gf_add) { return ct_add(ctx, x[0], x[1], y); }
GF(gf_sub) { return ct_sub(ctx, x[0], x[1], y); }
GF(gf_mul) { return ct_mul(ctx, x[0], x[1], y); }
GF(gf_div) { return ct_div(ctx, x[0], x[1], y); }
GF(gf_pow) { return ct_pow(ctx, x[0], x[1], y); }
GF(gf_max) { return ct_maximum(ctx, x[0], x[1], y); }
GF(gf_min) { return ct_minimum(ctx, x[0], x[1], y); }
GF(gf_neg) { return ct_neg(ctx, x[0], y); }
GF(gf_abs) { return ct_abs(ctx, x[0], y); }
GF(gf_exp) { return ct_exp(ctx, x[0], y); }
GF(gf_log) { return ct_log(ctx, x[0], y); }
GF(gf_sqrt) { return ct_sqrt(ctx, x[0], y); }
GF(gf_tanh) { return ct_tanh(ctx, x[0], y); }
GF(gf_sigmoid) { return ct_sigmoid(ctx, x[0], y); }
GF(gf_relu) { return ct_relu(ctx, x[0], y); }
GF(gf_square) { return ct_square(ctx, x[0], y); }
GF(gf_mm) { return ct_matmul(ctx, x[0], x[1], false, false, y); }
GF(gf_mm_ta) { return ct_matmul(ctx, x[0], x[1], true, false, y); }
GF(gf_mm_tb) { return ct_matmul(ctx, x[0], x[1], false, true, y); }
GF(gf_mm_tab) { return ct_matmul(ctx, x[0], x[1], true, true, y); }
GF(gf_sum1k) {
  int axis = 1;
  return ct_reduce_sum(ctx, x[0], &axis, 1, true, y);
}
GF(gf_mean02) {
  int axes[2] = {0, 2};
  return ct_reduce_mean(ctx, x[0], axes, 2, false, y);
}
GF(gf_maxlast) {
  int axis = -1;
  return ct_reduce_max(ctx, x[0], &axis, 1, false, y);
}
GF(gf_minall) { return ct_reduce_min(ctx, x[0], NULL, 0, false, y); }
GF(gf_softmax) { return ct_softmax(ctx, x[0], -1, y); }
GF(gf_logsoftmax0) { return ct_log_softmax(ctx, x[0], 0, y); }
GF(gf_sparse_xent) {
  int32_t labels[9] = {0, 9, 3, 3, 7, 1, 2, 8, 5};
  int64_t n = 9;
  ct_tensor *l = NULL;
  ct_status st = const_i32(ctx, labels, &n, 1, &l);
  if (st == CT_OK) st = ct_sparse_softmax_cross_entropy_with_logits(ctx, l, x[0], y, NULL);
  ct_tensor_release(l);
  return st;
}
GF(gf_dense_xent) { return ct_softmax_cross_entropy_with_logits(ctx, x[1], x[0], y, NULL); }
GF(gf_cast) {
  ct_tensor *d = NULL, *sq = NULL;
  ct_status st = ct_cast(ctx, x[0], CT_FLOAT64, &d);
  if (st == CT_OK) st = ct_mul(ctx, d, d, &sq);
  if (st == CT_OK) st = ct_cast(ctx, sq, CT_FLOAT32, y);
  ct_tensor_release(d), ct_tensor_release(sq);
  return st;
}
GF(gf_reshape_transpose) {
  int64_t shape[3] = {3, 4, 5};
  int perm[3] = {2, 0, 1};
  ct_tensor *r = NULL;
  ct_status st = ct_reshape(ctx, x[0], shape, 3, &r);
  if (st == CT_OK) st = ct_transpose(ctx, r, perm, y);
  ct_tensor_release(r);
  return st;
}
GF(gf_concat) { return ct_concat(ctx, (const ct_tensor *const *)x, 3, 1, y); }
GF(gf_slice) {
  int64_t begin[2] = {1, 2}, size[2] = {3, -1};
  return ct_slice(ctx, x[0], begin, size, y);
}
GF(gf_gather0) {
  int32_t idx[6] = {4, 0, 4, 2, 2, 4};
  int64_t n = 6;
  ct_tensor *i = NULL;
  ct_status st = const_i32(ctx, idx, &n, 1, &i);
  if (st == CT_OK) st = ct_gather(ctx, x[0], i, 0, y);
  ct_tensor_release(i);
  return st;
}
GF(gf_gather1) {
  int32_t idx[4] = {1, 6, 1, 0};
  int64_t shape[2] = {2, 2};
  ct_tensor *i = NULL;
  ct_status st = const_i32(ctx, idx, shape, 2, &i);
  if (st == CT_OK) st = ct_gather(ctx, x[0], i, 1, y);
  ct_tensor_release(i);
  return st;
}
GF(gf_where) {
  ct_tensor *zero = NULL, *cond = NULL;
  ct_status st = ct_fill(ctx, CT_FLOAT32, NULL, 0, 0.0, &zero);
  if (st == CT_OK) st = ct_greater(ctx, x[2], zero, &cond); /* [1,6] against [4,6] */
  if (st == CT_OK) st = ct_where(ctx, cond, x[0], x[1], y);
  ct_tensor_release(zero), ct_tensor_release(cond);
  return st;
}
GF(gf_broadcast_to) {
  int64_t shape[3] = {2, 3, 4};
  return ct_broadcast_to(ctx, x[0], shape, 3, y);
}
GF(gf_segment_sum) {
  int32_t ids[7] = {2, 0, -1, 2, 3, 0, 2};
  int64_t n = 7;
  ct_tensor *i = NULL;
  ct_status st = const_i32(ctx, ids, &n, 1, &i);
  if (st == CT_OK) st = ct_unsorted_segment_sum(ctx, x[0], i, 5, y);
  ct_tensor_release(i);
  return st;
}
/* an MLP layer and its loss: the ops a training step chains */
GF(gf_mlp) {
  ct_tensor *h = NULL, *b = NULL, *r = NULL, *l = NULL;
  ct_status st = ct_matmul(ctx, x[0], x[1], false, false, &h);
  if (st == CT_OK) st = ct_add(ctx, h, x[2], &b);
  if (st == CT_OK) st = ct_relu(ctx, b, &r);
  if (st == CT_OK) st = ct_log_softmax(ctx, r, -1, &l);
  if (st == CT_OK) st = ct_reduce_mean(ctx, l, NULL, 0, false, y);
  ct_tensor_release(h), ct_tensor_release(b), ct_tensor_release(r), ct_tensor_release(l);
  return st;
}
#undef GF

typedef struct grad_case {
  const char *name;
  grad_f f;
  int n_in;
  int rank[3];
  int64_t shape[3][3];
  int kind[3]; /* make()'s kinds: 0 any, 1 positive, 2 small integers (ties), 3 non-zero */
} grad_case;

static const grad_case grad_cases[] = {
    {"add broadcast", gf_add, 2, {2, 1}, {{3, 4}, {4}}, {0, 0}},
    {"sub broadcast", gf_sub, 2, {3, 2}, {{2, 1, 3}, {4, 1}}, {0, 0}},
    {"mul broadcast", gf_mul, 2, {2, 2}, {{5, 7}, {5, 1}}, {0, 0}},
    {"div", gf_div, 2, {1, 1}, {{6}, {6}}, {0, 3}},
    {"pow", gf_pow, 2, {2, 2}, {{4, 5}, {4, 5}}, {1, 0}},
    {"maximum ties", gf_max, 2, {2, 2}, {{3, 4}, {3, 4}}, {2, 2}},
    {"minimum ties", gf_min, 2, {2, 1}, {{3, 4}, {4}}, {2, 2}},
    {"neg", gf_neg, 1, {1}, {{257}}, {0}},
    {"abs", gf_abs, 1, {1}, {{257}}, {3}},
    {"exp", gf_exp, 1, {1}, {{257}}, {0}},
    {"log", gf_log, 1, {1}, {{257}}, {1}},
    {"sqrt", gf_sqrt, 1, {1}, {{257}}, {1}},
    {"tanh", gf_tanh, 1, {1}, {{257}}, {0}},
    {"sigmoid", gf_sigmoid, 1, {1}, {{257}}, {0}},
    {"relu", gf_relu, 1, {1}, {{257}}, {3}},
    {"square", gf_square, 1, {1}, {{257}}, {0}},
    {"matmul", gf_mm, 2, {2, 2}, {{7, 5}, {5, 3}}, {0, 0}},
    {"matmul transpose_a", gf_mm_ta, 2, {2, 2}, {{5, 7}, {5, 3}}, {0, 0}},
    {"matmul transpose_b", gf_mm_tb, 2, {3, 2}, {{2, 7, 5}, {3, 5}}, {0, 0}},
    {"matmul both, batch broadcast", gf_mm_tab, 2, {3, 3}, {{1, 3, 4}, {2, 6, 3}}, {0, 0}},
    {"reduce_sum keepdims", gf_sum1k, 1, {3}, {{3, 5, 4}}, {0}},
    {"reduce_mean axes 0,2", gf_mean02, 1, {3}, {{3, 5, 4}}, {0}},
    {"reduce_max ties", gf_maxlast, 1, {2}, {{6, 9}}, {2}},
    {"reduce_min all, ties", gf_minall, 1, {2}, {{4, 5}}, {2}},
    {"softmax block per row", gf_softmax, 1, {2}, {{6, 130}}, {0}},
    {"log_softmax axis 0", gf_logsoftmax0, 1, {2}, {{5, 9}}, {0}},
    {"sparse cross-entropy", gf_sparse_xent, 1, {2}, {{9, 10}}, {0}},
    {"dense cross-entropy", gf_dense_xent, 2, {2, 2}, {{9, 10}, {9, 10}}, {0, 1}},
    {"cast float32-float64", gf_cast, 1, {2}, {{3, 4}}, {0}},
    {"reshape + transpose", gf_reshape_transpose, 1, {2}, {{12, 5}}, {0}},
    {"concat", gf_concat, 3, {2, 2, 2}, {{3, 2}, {3, 5}, {3, 1}}, {0, 0, 0}},
    {"slice", gf_slice, 1, {2}, {{5, 7}}, {0}},
    {"gather axis 0, repeats", gf_gather0, 1, {2}, {{5, 3}}, {0}},
    {"gather axis 1", gf_gather1, 1, {3}, {{2, 7, 3}}, {0}},
    {"where broadcast", gf_where, 3, {2, 1, 2}, {{4, 6}, {6}, {1, 6}}, {0, 0, 0}},
    {"broadcast_to", gf_broadcast_to, 1, {2}, {{3, 1}}, {0}},
    {"unsorted_segment_sum", gf_segment_sum, 1, {2}, {{7, 3}}, {0}},
    {"matmul + bias + relu + log_softmax", gf_mlp, 3, {2, 2, 1}, {{8, 6}, {6, 10}, {10}}, {0, 0, 0}},
};

/* y = f(x) on one device with the tape on; the gradient of sum(w * y)
 * for every input. w is made on the CPU by the caller, copied over. */
static void grads_on(ct_context *ctx, const char *dev, const grad_case *c, ct_tensor *const *x, const ct_tensor *w_cpu,
                     ct_tensor **y, ct_tensor **g) {
  ct_tape *tape = NULL;
  *y = NULL;
  for (int i = 0; i < c->n_in; i++) g[i] = NULL;
  OK(ct_tape_new(ctx, false, true, &tape));
  for (int i = 0; i < c->n_in; i++) OK(ct_tape_watch(tape, x[i]));
  TRY(dev, *y, c->f(ctx, x, y));
  OK(ct_tape_stop_recording(tape));
  if (*y && w_cpu) {
    ct_tensor *w = copy_to(ctx, w_cpu, dev);
    ct_gradient_source src[3];
    for (int i = 0; i < c->n_in; i++) src[i] = (ct_gradient_source){x[i], NULL};
    const ct_tensor *ws[1] = {w};
    ct_status st = ct_tape_gradient(tape, (const ct_tensor *const *)y, 1, ws, src, c->n_in, CT_UNCONNECTED_NONE, g);
    if (st != CT_OK) {
      checks++, failures++;
      printf("FAIL gradient of %s on %s: %s: %s\n", c->name, dev, ct_status_name(st), ct_last_error());
    }
    ct_tensor_release(w);
  }
  ct_tape_free(tape);
}

/* Every gradient computed on the GPU equals the CPU's, and lands on the
 * GPU: gradient ops run where their forward op ran, with no fallback. */
static void grad_suite(ct_context *ctx) {
  char name[128], want_dev[CT_DEVICE_NAME_MAX];
  int fallbacks_before = ct_fallback_count(ctx);
  for (size_t k = 0; k < sizeof grad_cases / sizeof grad_cases[0]; k++) {
    const grad_case *c = &grad_cases[k];
    ct_tensor *cx[3] = {NULL, NULL, NULL}, *gx[3] = {NULL, NULL, NULL};
    for (int i = 0; i < c->n_in; i++) {
      cx[i] = make(ctx, "/CPU:0", CT_FLOAT32, c->shape[i], c->rank[i], c->kind[i], NULL);
      gx[i] = copy_to(ctx, cx[i], dut);
    }
    ct_tensor *cy = NULL, *gy = NULL, *cg[3], *gg[3], *w = NULL;
    /* the CPU first, without a tape, for y's shape */
    TRY("/CPU:0", cy, c->f(ctx, cx, &cy));
    if (cy) w = make(ctx, "/CPU:0", CT_FLOAT32, ct_tensor_shape(cy), ct_tensor_rank(cy), 0, NULL);
    ct_tensor_release(cy);
    grads_on(ctx, "/CPU:0", c, cx, w, &cy, cg);
    grads_on(ctx, dut, c, gx, w, &gy, gg);
    snprintf(want_dev, sizeof want_dev, "%s", gy ? ct_tensor_device(gy) : "");
    for (int i = 0; i < c->n_in; i++) {
      snprintf(name, sizeof name, "grad %s: input %d", c->name, i);
      compare(name, gg[i], cg[i], 2e-5, true);
      checks++;
      if (gg[i] && strcmp(ct_tensor_device(gg[i]), want_dev) != 0) {
        failures++;
        printf("FAIL %-40s the gradient is on %s, its forward op ran on %s\n", name, ct_tensor_device(gg[i]), want_dev);
      }
      ct_tensor_release(cg[i]), ct_tensor_release(gg[i]), ct_tensor_release(cx[i]), ct_tensor_release(gx[i]);
    }
    ct_tensor_release(cy), ct_tensor_release(gy), ct_tensor_release(w);
  }
  checks++;
  if (ct_fallback_count(ctx) != fallbacks_before) {
    failures++;
    printf("FAIL gradients: %d soft-placement fallbacks; every gradient op has a GPU kernel\n",
           ct_fallback_count(ctx) - fallbacks_before);
  }
}

/* Like compare_slack, but a NaN passes where the CPU has one too (the NaN
 * checks of the reductions); a NaN on one side only fails, and so does a
 * CPU result without any NaN (the check would check nothing). */
static void compare_nan(const char *what, const ct_tensor *gpu, const ct_tensor *cpu, double tol, double slack) {
  if (gpu == NULL || cpu == NULL) return; /* the op failed: already reported */
  checks++;
  int64_t n = ct_tensor_num_elements(cpu);
  if (strstr(ct_tensor_device(gpu), dut_kind) == NULL || n != ct_tensor_num_elements(gpu)) {
    failures++;
    printf("FAIL %-40s ran on %s, or its shape differs\n", what, ct_tensor_device(gpu));
    return;
  }
  ct_dtype dt = ct_tensor_dtype(cpu);
  size_t bytes = ct_tensor_nbytes(cpu);
  void *a = malloc(bytes + 8), *b = malloc(bytes + 8);
  OK(ct_tensor_to_host(gpu, a, bytes));
  OK(ct_tensor_to_host(cpu, b, bytes));
  int64_t bad = -1, nans = 0;
  for (int64_t i = 0; i < n && bad < 0; i++) {
    double x = load(a, dt, i), y = load(b, dt, i);
    nans += isnan(y) != 0;
    bool same = isnan(x) || isnan(y) ? isnan(x) && isnan(y) : fabs(x - y) <= tol * (1 + fabs(y)) + slack;
    if (!same) bad = i;
  }
  if (bad >= 0) {
    failures++;
    printf("FAIL %-40s element %lld: GPU %.9g, CPU %.9g\n", what, (long long)bad, load(a, dt, bad), load(b, dt, bad));
  } else if (nans == 0) {
    failures++;
    printf("FAIL %-40s no NaN in the CPU's result\n", what);
  }
  free(a);
  free(b);
}

/* Reductions over contiguous rows, on each side of the thresholds of
 * reduce_to (src/cuda/kernels_register.c): a block per row from 256
 * elements on, a thread per row below that or when rows are strided,
 * several blocks per row for fewer than 8 outputs per SM of at least 4096
 * elements. "Many" rows must be >= 8 per SM: 2200 covers 275 SMs; under
 * GPU_CHECK_SMALL the emulated GPU has 2, so 40 do, and 100 rows make the
 * block-per-row grid (at most 32 blocks per SM) loop. Floats also run
 * with NaNs planted in every third row, at varying places. */
static void row_reduce_suite(ct_context *ctx) {
  typedef ct_status (*redfn)(ct_context *, const ct_tensor *, const int *, int, bool, ct_tensor **);
  static const struct {
    redfn fn;
    const char *name;
  } reds[] = {{ct_reduce_sum, "sum"}, {ct_reduce_mean, "mean"}, {ct_reduce_max, "max"}, {ct_reduce_min, "min"}};
  int64_t many = size_of(2200, 40), rows = size_of(2200, 100);
  const struct {
    int64_t shape[3];
    int rank, n_axes;
    bool nans;
    const char *what;
  } cases[] = {
      {{many, 4100, 0}, 2, 1, true, "many rows of 4100"},   /* a block per row */
      {{rows, 255, 0}, 2, 1, true, "rows of 255"},          /* a thread per row */
      {{rows, 256, 0}, 2, 1, true, "rows of 256"},          /* a block per row, grid-stride */
      {{3, 4095, 0}, 2, 1, false, "3 rows of 4095"},        /* a block per row */
      {{3, 4096, 0}, 2, 1, false, "3 rows of 4096"},        /* blocks per row */
      {{9, 16, 64}, 3, 2, false, "rows of 16x64"},          /* axes 1, 2 merge: a block per row */
      {{64, 300, 2}, 3, 1, false, "strided rows of 300"},   /* a thread per output */
  };
  static const int axes[2] = {1, 2};
  char name[128];
  for (int c = 0; c < N_OF(cases); c++)
    for (int d = 0; d < N_OF(numeric_dtypes); d++)
      for (int nan = 0; nan < (cases[c].nans && is_float(numeric_dtypes[d]) ? 2 : 1); nan++) {
        ct_dtype dt = numeric_dtypes[d];
        const int64_t *shape = cases[c].shape;
        int64_t n = 1, R = shape[1] * (cases[c].n_axes == 2 ? shape[2] : 1);
        for (int i = 0; i < cases[c].rank; i++) n *= shape[i];
        void *host = malloc((size_t)n * 8);
        ct_tensor *gx = make(ctx, dut, dt, shape, cases[c].rank, 0, host);
        if (nan) {
          for (int64_t r = 0; r < n / R; r += 3) store(host, dt, r * R + (r * 97 + r / 3) % R, NAN);
          store(host, dt, (n / R - 1) * R + R - 1, NAN); /* the very last element */
          ct_tensor_release(gx);
          OK(ct_device_scope_push(ctx, dut));
          OK(ct_tensor_from_host(ctx, dt, shape, cases[c].rank, host, &gx));
          OK(ct_device_scope_pop(ctx));
        }
        free(host);
        ct_tensor *cx = copy_to(ctx, gx, "/CPU:0");
        for (int o = 0; o < N_OF(reds); o++) {
          ct_tensor *g = NULL, *cr = NULL;
          TRY(dut, g, reds[o].fn(ctx, gx, axes, cases[c].n_axes, false, &g));
          TRY("/CPU:0", cr, reds[o].fn(ctx, cx, axes, cases[c].n_axes, false, &cr));
          snprintf(name, sizeof name, "reduce_%s %s %s%s", reds[o].name, ct_dtype_name(dt), cases[c].what,
                   nan ? " with NaNs" : "");
          /* the slack of the suite's other reductions: sums round with sum |x| */
          double slack = 0;
          if (o < 2 && is_float(dt)) slack = (dt == CT_FLOAT64 ? 1e-15 : 2.5e-7) * 4.0 * (o == 1 ? 1.0 : (double)R);
          double tol = dt == CT_FLOAT64 ? 1e-10 : tol_for(dt, 1e-6);
          if (nan)
            compare_nan(name, g, cr, tol, slack);
          else
            compare_slack(name, g, cr, tol, false, slack);
          ct_tensor_release(g), ct_tensor_release(cr);
        }
        ct_tensor_release(gx), ct_tensor_release(cx);
      }
}

/* The first maximum of row[0..len), NaN above everything (the first NaN
 * wins): the rule of both devices' kernels, restated here so that the
 * CPU's answer is checked too, not only the GPU's agreement with it. */
static int64_t argmax_ref(const void *buf, ct_dtype dt, int64_t base, int64_t len) {
  int64_t best = 0;
  double bv = load(buf, dt, base);
  for (int64_t k = 1; k < len && !isnan(bv); k++) {
    double v = load(buf, dt, base + k);
    if (v > bv || isnan(v)) bv = v, best = k;
  }
  return best;
}

/* argmax along contiguous rows: a block per row from 128 elements on
 * (CT_CUDA_ROW_PER_BLOCK, src/cuda/cuda_kernels.h), a thread per row
 * below. Rows of 1M and 100k elements, few of them (a block walks each
 * alone), and rows of 127 and 128, enough of them that the emulated GPU's
 * grid (32 blocks per SM) loops. Row r plants case r % 6 into random
 * values: the maximum first; last; tied at three places, the first two in
 * the last and first thread of a 256-thread block (so that the later index
 * lives in the lower thread); NaNs after a maximum (floats); every element
 * equal (floats: -0 and +0 alternating, which compare equal); a NaN first
 * (floats). Integers tie all over their random values anyway. */
static void argmax_rows_suite(ct_context *ctx) {
  const struct {
    int64_t rows, len;
  } cases[] = {{6, 1000003}, {6, 100000}, {100, 127}, {100, 128}};
  char name[128];
  for (int c = 0; c < N_OF(cases); c++)
    for (int d = 0; d < N_OF(all_dtypes); d++) {
      ct_dtype dt = all_dtypes[d];
      int64_t rows = cases[c].rows, len = cases[c].len, shape[2] = {rows, len};
      bool fl = is_float(dt);
      double big = dt == CT_BOOL ? 1 : fl ? 100 : 1000;
      void *host = malloc((size_t)(rows * len) * 8);
      for (int64_t r = 0; r < rows; r++) {
        int64_t base = r * len, tie = (len / 2) | 255;
        if (tie >= len - 2) tie = len / 2;
        for (int64_t k = 0; k < len; k++) {
          double v = dt == CT_BOOL ? (double)(urand() < 0.5) : fl ? urand() * 8 - 4 : floor(urand() * 200 - 100);
          if (r % 6 == 4) v = fl ? (k % 2 ? 0.0 : -0.0) : 0;
          store(host, dt, base + k, v);
        }
        switch (r % 6) {
        case 0: store(host, dt, base, big); break;
        case 1: store(host, dt, base + len - 1, big); break;
        case 2:
          store(host, dt, base + tie, big), store(host, dt, base + tie + 1, big);
          store(host, dt, base + len - 1, big);
          break;
        case 3:
          store(host, dt, base + 1, big);
          if (fl) {
            store(host, dt, base + len / 3 + 257 < len ? base + len / 3 + 257 : base + len - 1, NAN);
            store(host, dt, base + len / 3, NAN), store(host, dt, base + len - 1, NAN);
          }
          break;
        case 5:
          if (fl) store(host, dt, base, NAN), store(host, dt, base + len / 2, NAN);
          break;
        }
      }
      ct_tensor *gx = NULL, *g = NULL, *cr = NULL;
      OK(ct_device_scope_push(ctx, dut));
      OK(ct_tensor_from_host(ctx, dt, shape, 2, host, &gx));
      OK(ct_device_scope_pop(ctx));
      ct_tensor *cx = copy_to(ctx, gx, "/CPU:0");
      ct_dtype odt = c % 2 ? CT_INT32 : CT_INT64;
      TRY(dut, g, ct_argmax(ctx, gx, 1, odt, &g));
      TRY("/CPU:0", cr, ct_argmax(ctx, cx, 1, odt, &cr));
      snprintf(name, sizeof name, "argmax %s rows of %lld", ct_dtype_name(dt), (long long)len);
      compare(name, g, cr, 0, false);
      if (cr) {
        void *got = malloc((size_t)rows * 8);
        OK(ct_tensor_to_host(cr, got, (size_t)rows * ct_dtype_size(odt)));
        checks++;
        for (int64_t r = 0; r < rows; r++) {
          int64_t want = argmax_ref(host, dt, r * len, len), have = (int64_t)load(got, odt, r);
          if (have != want) {
            failures++;
            printf("FAIL %-40s row %lld (case %lld): CPU %lld, want %lld\n", name, (long long)r, (long long)(r % 6),
                   (long long)have, (long long)want);
            break;
          }
        }
        free(got);
      }
      free(host);
      ct_tensor_release(g), ct_tensor_release(cr), ct_tensor_release(gx), ct_tensor_release(cx);
    }
}

static void suite(ct_context *ctx) {
  char name[96];
  /* creation */
  for (int d = 0; d < N_OF(all_dtypes); d++) {
    ct_dtype dt = all_dtypes[d];
    int64_t shape[2] = {37, 1001};
    ct_tensor *g = NULL, *c = NULL;
    TRY(dut, g, ct_fill(ctx, dt, shape, 2, -2.75, &g));
    TRY("/CPU:0", c, ct_fill(ctx, dt, shape, 2, -2.75, &c));
    snprintf(name, sizeof name, "fill %s", ct_dtype_name(dt));
    compare(name, g, c, 0, false);
    ct_tensor_release(g), ct_tensor_release(c);
    if (dt != CT_BOOL) {
      double step = dt == CT_INT32 || dt == CT_INT64 ? 3 : 1.5; /* integer ranges take whole numbers */
      TRY(dut, g, ct_range(ctx, dt, -5, 300, step, &g));
      TRY("/CPU:0", c, ct_range(ctx, dt, -5, 300, step, &c));
      snprintf(name, sizeof name, "range %s", ct_dtype_name(dt));
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c);
    }
  }
  /* random: uniform bits identical; float64 normals within an ulp or so */
  for (int d = 0; d < N_OF(float_dtypes); d++) {
    ct_dtype dt = float_dtypes[d];
    int64_t shape[1] = {size_of(1000003, 100003)};
    uint64_t seed = (uint64_t)(urand() * 1e15), off = (uint64_t)(urand() * 1e6);
    typedef ct_status (*rfn)(ct_context *, ct_dtype, const int64_t *, int, double, double, uint64_t, uint64_t,
                             ct_tensor **);
    rfn fns[3] = {ct_random_uniform, ct_random_normal, ct_truncated_normal};
    const char *names[3] = {"random_uniform", "random_normal", "truncated_normal"};
    for (int f = 0; f < 3; f++) {
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, fns[f](ctx, dt, shape, 1, -1.5, 2.5, seed, off, &g));
      TRY("/CPU:0", c, fns[f](ctx, dt, shape, 1, -1.5, 2.5, seed, off, &c));
      snprintf(name, sizeof name, "%s %s", names[f], ct_dtype_name(dt));
      compare(name, g, c, dt == CT_FLOAT64 && f > 0 ? 1e-13 : 0, false);
      ct_tensor_release(g), ct_tensor_release(c);
    }
  }
  /* elementwise binary with broadcasting, comparisons */
  static const struct {
    binop fn;
    const char *name;
    bool cmp, pos_b, pow, nonzero_b;
  } bins[] = {{ct_add, "add", 0, 0, 0, 0},         {ct_sub, "sub", 0, 0, 0, 0},          {ct_mul, "mul", 0, 0, 0, 0},
              {ct_div, "div", 0, 1, 0, 0},         {ct_maximum, "maximum", 0, 0, 0, 0},  {ct_minimum, "minimum", 0, 0, 0, 0},
              {ct_pow, "pow", 0, 0, 1, 0},         {ct_equal, "equal", 1, 0, 0, 0},      {ct_not_equal, "not_equal", 1, 0, 0, 0},
              {ct_less, "less", 1, 0, 0, 0},       {ct_less_equal, "less_equal", 1, 0, 0, 0},
              {ct_greater, "greater", 1, 0, 0, 0}, {ct_greater_equal, "greater_equal", 1, 0, 0, 0},
              {ct_floor_div, "floor_div", 0, 0, 0, 1}, {ct_floor_mod, "floor_mod", 0, 0, 0, 1}};
  int64_t rows = size_of(1000, 100);
  const int64_t shapes[][2][3] = {{{rows, 1000, 1}, {rows, 1000, 1}}, /* same shape */
                                  {{64, 1, 33}, {7, 1, 1}},          /* both broadcast */
                                  {{513, 77, 1}, {1, 1, 1}}};        /* scalar */
  for (size_t o = 0; o < sizeof bins / sizeof bins[0]; o++)
    for (int d = 0; d < N_OF(all_dtypes); d++) {
      ct_dtype dt = all_dtypes[d];
      if (dt == CT_BOOL && bins[o].fn != ct_equal && bins[o].fn != ct_not_equal) continue;
      for (int s = 0; s < 3; s++) {
        int64_t sa[3] = {shapes[s][0][0], shapes[s][0][1], shapes[s][0][2]};
        int64_t sb[3] = {shapes[s][1][0], shapes[s][1][1], shapes[s][1][2]};
        int ra = sa[2] == 1 && s == 0 ? 2 : 3, rb = s == 1 ? 2 : s == 2 ? 0 : 2;
        int pos = bins[o].pos_b ? 1 : 0;
        if (bins[o].pow) pos = is_float(dt) ? 1 : 2;
        if (bins[o].nonzero_b) pos = 3;
        ct_tensor *ga = make(ctx, dut, dt, sa, ra, bins[o].pow && is_float(dt) ? 1 : 0, NULL);
        ct_tensor *gb = make(ctx, dut, dt, sb, rb, pos, NULL);
        ct_tensor *ca = copy_to(ctx, ga, "/CPU:0"), *cb = copy_to(ctx, gb, "/CPU:0");
        ct_tensor *g = NULL, *c = NULL;
        TRY(dut, g, bins[o].fn(ctx, ga, gb, &g));
        TRY("/CPU:0", c, bins[o].fn(ctx, ca, cb, &c));
        snprintf(name, sizeof name, "%s %s case %d", bins[o].name, ct_dtype_name(dt), s);
        double tol = bins[o].cmp ? 0 : tol_for(ct_tensor_dtype(c), bins[o].pow ? 2e-6 : 1e-6);
        compare(name, g, c, tol, false);
        ct_tensor_release(g), ct_tensor_release(c);
        ct_tensor_release(ga), ct_tensor_release(gb), ct_tensor_release(ca), ct_tensor_release(cb);
      }
    }
  /* unary */
  static const struct {
    unop fn;
    const char *name;
    bool floats_only, positive;
  } uns[] = {{ct_neg, "neg", 0, 0},   {ct_abs, "abs", 0, 0},         {ct_exp, "exp", 1, 0},
             {ct_log, "log", 1, 1},   {ct_sqrt, "sqrt", 1, 1},       {ct_tanh, "tanh", 1, 0},
             {ct_sigmoid, "sigmoid", 1, 0}, {ct_relu, "relu", 0, 0}, {ct_square, "square", 0, 0}};
  for (size_t o = 0; o < sizeof uns / sizeof uns[0]; o++)
    for (int d = 0; d < N_OF(numeric_dtypes); d++) {
      ct_dtype dt = numeric_dtypes[d];
      if (uns[o].floats_only && !is_float(dt)) continue;
      int64_t shape[2] = {size_of(333, 33), 1025};
      ct_tensor *gx = make(ctx, dut, dt, shape, 2, uns[o].positive, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, uns[o].fn(ctx, gx, &g));
      TRY("/CPU:0", c, uns[o].fn(ctx, cx, &c));
      snprintf(name, sizeof name, "%s %s", uns[o].name, ct_dtype_name(dt));
      compare(name, g, c, tol_for(dt, 2e-6), false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
    }
  /* cast, every pair */
  for (int d = 0; d < N_OF(all_dtypes); d++)
    for (int e = 0; e < N_OF(all_dtypes); e++) {
      int64_t shape[1] = {size_of(100001, 10001)};
      ct_tensor *gx = make(ctx, dut, all_dtypes[d], shape, 1, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_cast(ctx, gx, all_dtypes[e], &g));
      TRY("/CPU:0", c, ct_cast(ctx, cx, all_dtypes[e], &c));
      snprintf(name, sizeof name, "cast %s->%s", ct_dtype_name(all_dtypes[d]), ct_dtype_name(all_dtypes[e]));
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
    }
  /* reductions: small and large, axis sets, keepdims */
  typedef ct_status (*redfn)(ct_context *, const ct_tensor *, const int *, int, bool, ct_tensor **);
  static const struct {
    redfn fn;
    const char *name;
  } reds[] = {{ct_reduce_sum, "sum"}, {ct_reduce_mean, "mean"}, {ct_reduce_max, "max"}, {ct_reduce_min, "min"}};
  static const int axes_sets[][3] = {{-1, 0, 0}, {0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {0, 2, 0}};
  static const int n_axes[] = {-1, 1, 1, 1, 2};
  /* the last two take the block-per-chunk strategy (R >= 4096, few outputs) */
  const int64_t rshapes[][3] = {{17, 300, 9}, {3, size_of(200000, 20000), 2}, {1, 1, size_of(4000000, 400000)}};
  for (size_t o = 0; o < 4; o++)
    for (int d = 0; d < N_OF(numeric_dtypes); d++)
      for (int sh = 0; sh < 3; sh++)
        for (int a = 0; a < 5; a++) {
          ct_dtype dt = numeric_dtypes[d];
          ct_tensor *gx = make(ctx, dut, dt, rshapes[sh], 3, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
          ct_tensor *g = NULL, *c = NULL;
          const int *axes = n_axes[a] < 0 ? NULL : axes_sets[a];
          int na = n_axes[a] < 0 ? 0 : n_axes[a];
          bool keep = a & 1;
          TRY(dut, g, reds[o].fn(ctx, gx, axes, na, keep, &g));
          TRY("/CPU:0", c, reds[o].fn(ctx, cx, axes, na, keep, &c));
          snprintf(name, sizeof name, "reduce_%s %s shape %d axes %d", reds[o].name, ct_dtype_name(dt), sh, a);
          /* Both sides round differently: the CPU sums float32 rows in
           * float32 partials (blocks of 512), the GPU in float64. The
           * error of a sum grows with sum |x| (up to 4 per element here),
           * not with the result, which may be near 0 by cancellation. */
          int64_t per_out = ct_tensor_num_elements(gx) / (ct_tensor_num_elements(c) > 0 ? ct_tensor_num_elements(c) : 1);
          double slack = 0;
          if (o < 2 && is_float(dt))
            slack = (dt == CT_FLOAT64 ? 1e-15 : 2.5e-7) * 4.0 * (double)per_out / (o == 1 ? (double)per_out : 1.0);
          compare_slack(name, g, c, dt == CT_FLOAT64 ? 1e-10 : tol_for(dt, 1e-6), false, slack);
          ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
        }
  row_reduce_suite(ctx);
  argmax_rows_suite(ctx);
  /* argmax, softmax */
  for (int d = 0; d < N_OF(all_dtypes); d++)
    for (int axis = 0; axis < 3; axis++) {
      ct_dtype dt = all_dtypes[d];
      int64_t shape[3] = {19, 257, 33};
      ct_tensor *gx = make(ctx, dut, dt, shape, 3, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_argmax(ctx, gx, axis, axis == 1 ? CT_INT32 : CT_INT64, &g));
      TRY("/CPU:0", c, ct_argmax(ctx, cx, axis, axis == 1 ? CT_INT32 : CT_INT64, &c));
      snprintf(name, sizeof name, "argmax %s axis %d", ct_dtype_name(dt), axis);
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c);
      if (is_float(dt)) {
        TRY(dut, g, ct_softmax(ctx, gx, axis, &g));
        TRY("/CPU:0", c, ct_softmax(ctx, cx, axis, &c));
        snprintf(name, sizeof name, "softmax %s axis %d", ct_dtype_name(dt), axis);
        compare(name, g, c, tol_for(dt, 2e-6), false);
        ct_tensor_release(g), ct_tensor_release(c);
      }
      /* shape ops */
      int perm[3] = {2, 0, 1};
      TRY(dut, g, ct_transpose(ctx, gx, perm, &g));
      TRY("/CPU:0", c, ct_transpose(ctx, cx, perm, &c));
      snprintf(name, sizeof name, "transpose %s", ct_dtype_name(dt));
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c);
      int64_t begin[3] = {3, 100, 5}, size[3] = {10, -1, 20};
      TRY(dut, g, ct_slice(ctx, gx, begin, size, &g));
      TRY("/CPU:0", c, ct_slice(ctx, cx, begin, size, &c));
      snprintf(name, sizeof name, "slice %s", ct_dtype_name(dt));
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c);
      /* gather along this axis: int32 indices for even dtypes, int64 for odd */
      {
        int64_t ishape[2] = {5, 7}, iv[35];
        int32_t iv32[35];
        for (int i = 0; i < 35; i++) iv[i] = (int64_t)(urand() * (double)shape[axis]), iv32[i] = (int32_t)iv[i];
        ct_dtype idt = d % 2 ? CT_INT64 : CT_INT32;
        ct_tensor *gi = NULL;
        OK(ct_device_scope_push(ctx, dut));
        OK(ct_tensor_from_host(ctx, idt, ishape, 2, idt == CT_INT64 ? (const void *)iv : (const void *)iv32, &gi));
        OK(ct_device_scope_pop(ctx));
        ct_tensor *ci = copy_to(ctx, gi, "/CPU:0");
        TRY(dut, g, ct_gather(ctx, gx, gi, axis, &g));
        TRY("/CPU:0", c, ct_gather(ctx, cx, ci, axis, &c));
        snprintf(name, sizeof name, "gather %s axis %d %s", ct_dtype_name(dt), axis, ct_dtype_name(idt));
        compare(name, g, c, 0, false);
        ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gi), ct_tensor_release(ci);
      }
      const ct_tensor *gs[3] = {gx, gx, gx}, *cs[3] = {cx, cx, cx};
      TRY(dut, g, ct_concat(ctx, gs, 3, axis, &g));
      TRY("/CPU:0", c, ct_concat(ctx, cs, 3, axis, &c));
      snprintf(name, sizeof name, "concat %s axis %d", ct_dtype_name(dt), axis);
      compare(name, g, c, 0, false);
      ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
    }
  /* softmax over long rows: a block per row */
  for (int d = 0; d < N_OF(float_dtypes); d++) {
    ct_dtype dt = float_dtypes[d];
    int64_t shape[2] = {37, 3001};
    ct_tensor *gx = make(ctx, dut, dt, shape, 2, 0, NULL), *cx = copy_to(ctx, gx, "/CPU:0");
    ct_tensor *g = NULL, *c = NULL;
    TRY(dut, g, ct_softmax(ctx, gx, 1, &g));
    TRY("/CPU:0", c, ct_softmax(ctx, cx, 1, &c));
    snprintf(name, sizeof name, "softmax %s long rows", ct_dtype_name(dt));
    compare(name, g, c, tol_for(dt, 2e-6), false);
    ct_tensor_release(g), ct_tensor_release(c), ct_tensor_release(gx), ct_tensor_release(cx);
  }
  /* matmul: rank 2 with transposes, rank 3 with a broadcast batch */
  for (int d = 0; d < N_OF(float_dtypes); d++)
    for (int t = 0; t < 4; t++) {
      ct_dtype dt = float_dtypes[d];
      bool ta = t & 1, tb = t & 2, batched = t == 3;
      int64_t m = 129, k = 257, n = 65;
      int64_t sa[3] = {4, ta ? k : m, ta ? m : k}, sb[2] = {tb ? n : k, tb ? k : n};
      ct_tensor *ga = make(ctx, dut, dt, batched ? sa : sa + 1, batched ? 3 : 2, 0, NULL);
      ct_tensor *gb = make(ctx, dut, dt, sb, 2, 0, NULL);
      ct_tensor *ca = copy_to(ctx, ga, "/CPU:0"), *cb = copy_to(ctx, gb, "/CPU:0");
      ct_tensor *g = NULL, *c = NULL;
      TRY(dut, g, ct_matmul(ctx, ga, gb, ta, tb, &g));
      TRY("/CPU:0", c, ct_matmul(ctx, ca, cb, ta, tb, &c));
      snprintf(name, sizeof name, "matmul %s ta=%d tb=%d batched=%d", ct_dtype_name(dt), ta, tb, batched);
      compare(name, g, c, dt == CT_FLOAT64 ? 1e-12 : dt == CT_FLOAT32 ? 1e-5 : 2e-2, true);
      ct_tensor_release(g), ct_tensor_release(c);
      ct_tensor_release(ga), ct_tensor_release(gb), ct_tensor_release(ca), ct_tensor_release(cb);
    }
  nn_suite(ctx);
  optim_suite(ctx);
  grad_suite(ctx);
  OK(ct_context_synchronize(ctx));
}

static double time_matmul(ct_context *ctx, ct_dtype dt, int64_t n, bool tf32) {
  OK(ct_config_set_tf32(ctx, tf32));
  int64_t shape[2] = {n, n};
  ct_tensor *a, *b, *c;
  ON(dut, ct_random_uniform(ctx, dt, shape, 2, -1, 1, 1, 0, &a));
  ON(dut, ct_random_uniform(ctx, dt, shape, 2, -1, 1, 2, 0, &b));
  OK(ct_device_scope_push(ctx, dut));
  for (int i = 0; i < 3; i++) {
    OK(ct_matmul(ctx, a, b, false, false, &c));
    ct_tensor_release(c);
  }
  OK(ct_context_synchronize(ctx));
  int iters = n >= 8192 ? 10 : 30;
  double t0 = now();
  for (int i = 0; i < iters; i++) {
    OK(ct_matmul(ctx, a, b, false, false, &c));
    ct_tensor_release(c);
  }
  OK(ct_context_synchronize(ctx));
  double dt_s = now() - t0;
  OK(ct_device_scope_pop(ctx));
  ct_tensor_release(a), ct_tensor_release(b);
  OK(ct_config_set_tf32(ctx, false));
  return 2.0 * n * n * n * iters / dt_s / 1e12;
}

static void bandwidth(ct_context *ctx, double *add_gbs, double *copy_gbs) {
  int64_t shape[1] = {size_of(64ll << 20, 1ll << 20)};
  ct_tensor *a, *b, *c;
  ON(dut, ct_random_uniform(ctx, CT_FLOAT32, shape, 1, -1, 1, 1, 0, &a));
  ON(dut, ct_random_uniform(ctx, CT_FLOAT32, shape, 1, -1, 1, 2, 0, &b));
  OK(ct_device_scope_push(ctx, dut));
  int iters = 50;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 3; i++) { /* warm up (and fill the allocator's cache) */
      OK(pass ? ct_cast(ctx, a, CT_FLOAT32, &c) : ct_add(ctx, a, b, &c));
      ct_tensor_release(c);
    }
    OK(ct_context_synchronize(ctx));
    double t0 = now();
    for (int i = 0; i < iters; i++) {
      /* cast to the same dtype is a device-to-device copy (cuMemcpyDtoDAsync) */
      OK(pass ? ct_cast(ctx, a, CT_FLOAT32, &c) : ct_add(ctx, a, b, &c));
      ct_tensor_release(c);
    }
    OK(ct_context_synchronize(ctx));
    double s = now() - t0;
    double bytes = (double)shape[0] * 4 * (pass ? 2 : 3) * iters;
    *(pass ? copy_gbs : add_gbs) = bytes / s / 1e9;
  }
  OK(ct_device_scope_pop(ctx));
  ct_tensor_release(a), ct_tensor_release(b);
}

/* The sum of each row of [2048, 4Mi] float32 (32 GiB; the rows are halved
 * until the tensor fits), a block per row, in GB/s read; the caller
 * compares it with a device-to-device copy. */
static double row_sum_bandwidth(ct_context *ctx, int64_t shape[2]) {
  shape[0] = size_of(2048, 40);
  shape[1] = size_of(1ll << 22, 1ll << 14);
  ct_tensor *a = NULL, *s = NULL;
  OK(ct_device_scope_push(ctx, dut));
  while (ct_random_uniform(ctx, CT_FLOAT32, shape, 2, -1, 1, 3, 0, &a) != CT_OK) {
    if (shape[1] <= 1 << 16) die_status("ct_random_uniform of the rows to sum");
    shape[1] /= 2;
  }
  int axis = 1, iters = small ? 2 : 10;
  for (int i = 0; i < 2; i++) { /* warm up: the kernel's compile, the output's allocation */
    OK(ct_reduce_sum(ctx, a, &axis, 1, false, &s));
    ct_tensor_release(s);
  }
  OK(ct_context_synchronize(ctx));
  double t0 = now();
  for (int i = 0; i < iters; i++) {
    OK(ct_reduce_sum(ctx, a, &axis, 1, false, &s));
    if (i + 1 < iters) ct_tensor_release(s);
  }
  OK(ct_context_synchronize(ctx));
  double sec = now() - t0;
  float *sums = malloc((size_t)shape[0] * sizeof *sums);
  OK(ct_tensor_to_host(s, sums, (size_t)shape[0] * sizeof *sums));
  for (int64_t i = 0; i < shape[0]; i++)
    if (!isfinite(sums[i]) || fabs(sums[i]) > (double)shape[1]) { /* sums of uniform(-1, 1) */
      failures++;
      printf("FAIL row sum %lld: %g\n", (long long)i, sums[i]);
      break;
    }
  free(sums);
  ct_tensor_release(s), ct_tensor_release(a);
  OK(ct_device_scope_pop(ctx));
  return (double)shape[0] * (double)shape[1] * 4 * iters / sec / 1e9;
}

/* argmax along each row of [16, 1Mi] float32 (a few rows of many classes,
 * a block per row), in GB/s read; every row's planted maximum must come
 * back. */
static double argmax_bandwidth(ct_context *ctx, int64_t shape[2]) {
  shape[0] = size_of(16, 4);
  shape[1] = size_of(1ll << 20, 1ll << 16);
  int64_t n = shape[0] * shape[1];
  float *host = malloc((size_t)n * sizeof *host);
  for (int64_t i = 0; i < n; i++) host[i] = (float)(urand() * 2 - 1);
  for (int64_t r = 0; r < shape[0]; r++) host[r * shape[1] + (r * 104729 + 17) % shape[1]] = 2;
  ct_tensor *a = NULL, *m = NULL;
  OK(ct_device_scope_push(ctx, dut));
  OK(ct_tensor_from_host(ctx, CT_FLOAT32, shape, 2, host, &a));
  free(host);
  int iters = small ? 2 : 20;
  for (int i = 0; i < 2; i++) { /* warm up: the kernel's compile, the output's allocation */
    OK(ct_argmax(ctx, a, 1, CT_INT64, &m));
    ct_tensor_release(m);
  }
  OK(ct_context_synchronize(ctx));
  double t0 = now();
  for (int i = 0; i < iters; i++) {
    OK(ct_argmax(ctx, a, 1, CT_INT64, &m));
    if (i + 1 < iters) ct_tensor_release(m);
  }
  OK(ct_context_synchronize(ctx));
  double sec = now() - t0;
  int64_t *at = malloc((size_t)shape[0] * sizeof *at);
  OK(ct_tensor_to_host(m, at, (size_t)shape[0] * sizeof *at));
  for (int64_t r = 0; r < shape[0]; r++)
    if (at[r] != (r * 104729 + 17) % shape[1]) {
      failures++;
      printf("FAIL argmax row %lld: %lld, want %lld\n", (long long)r, (long long)at[r],
             (long long)((r * 104729 + 17) % shape[1]));
      break;
    }
  free(at);
  ct_tensor_release(m), ct_tensor_release(a);
  OK(ct_device_scope_pop(ctx));
  return (double)n * 4 * iters / sec / 1e9;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "suite";
  ct_context *ctx = NULL;
  OK(ct_context_new(&ctx));
  if (strcmp(mode, "first") == 0) {
    /* the time to first result: no checks beyond the value */
    float x[4] = {1, 2, 3, 4}, y[4];
    int64_t shape[1] = {4};
    ct_tensor *a, *c;
    ON(dut, ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, x, &a));
    ON(dut, ct_add(ctx, a, a, &c));
    OK(ct_tensor_to_host(c, y, sizeof y));
    int bad = y[3] != 8 || strstr(ct_tensor_device(c), "GPU") == NULL;
    ct_tensor_release(a), ct_tensor_release(c);
    ct_context_free(ctx);
    return bad;
  }
  const char *sm = getenv("GPU_CHECK_SMALL");
  small = sm && atoi(sm) != 0;
  bool dry = strcmp(mode, "dry-run") == 0;
  if (dry) {
    dut = "/CPU:0";
    dut_kind = "CPU";
    mode = "suite";
  }
  char detail[512];
  if (!dry &&
      (ct_gpu_availability(ctx, detail, sizeof detail) != CT_GPU_USABLE || ct_logical_device_count(ctx, "GPU") < 1)) {
    fprintf(stderr, "gpu_check: no usable GPU: %s\n", detail);
    ct_context_free(ctx);
    return 2;
  }
  OK(ct_config_set_soft_placement(ctx, false));
  bool only_grads = strcmp(mode, "gradients") == 0; /* the gradient part of the suite alone */
  if (strcmp(mode, "suite") == 0 || only_grads) {
    const char *s = getenv("GPU_CHECK_SEED");
    rng_state = s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
    printf("seed %llu (rerun with GPU_CHECK_SEED=%llu)%s%s\n", rng_state, rng_state,
           dry ? "; dry run: the CPU stands in for the GPU" : "", small ? "; small sizes" : "");
    double t0 = now();
    if (only_grads)
      grad_suite(ctx);
    else
      suite(ctx);
    printf("%d checks, %d failed (%.1f s)\n", checks, failures, now() - t0);
  } else if (strcmp(mode, "matmul") == 0) {
    const int64_t sizes[] = {size_of(4096, 128), size_of(8192, 256)};
    for (int i = 0; i < 2; i++) {
      printf("matmul float32 n=%lld %.2f TFLOP/s\n", (long long)sizes[i], time_matmul(ctx, CT_FLOAT32, sizes[i], false));
      printf("matmul tf32 n=%lld %.2f TFLOP/s\n", (long long)sizes[i], time_matmul(ctx, CT_FLOAT32, sizes[i], true));
      printf("matmul bfloat16 n=%lld %.2f TFLOP/s\n", (long long)sizes[i], time_matmul(ctx, CT_BFLOAT16, sizes[i], false));
    }
  } else if (strcmp(mode, "bandwidth") == 0) {
    double add = 0, copy = 0;
    bandwidth(ctx, &add, &copy);
    const char *label = small ? "1Mi" : "64Mi";
    printf("add float32 %s %.1f GB/s\n", label, add);
    printf("copy d2d %s %.1f GB/s\n", label, copy);
  } else if (strcmp(mode, "reduce") == 0) {
    int64_t shape[2];
    double sum = row_sum_bandwidth(ctx, shape), add = 0, copy = 0;
    bandwidth(ctx, &add, &copy);
    printf("reduce_sum rows float32 [%lld, %lld] axis 1 %.1f GB/s\n", (long long)shape[0], (long long)shape[1], sum);
    printf("reduce_sum rows / copy d2d %.2f (copy d2d %s %.1f GB/s)\n", copy > 0 ? sum / copy : 0,
           small ? "1Mi" : "64Mi", copy);
    int64_t ashape[2];
    double am = argmax_bandwidth(ctx, ashape);
    printf("argmax rows float32 [%lld, %lld] axis 1 %.1f GB/s\n", (long long)ashape[0], (long long)ashape[1], am);
  } else {
    fprintf(stderr, "gpu_check: unknown mode '%s' (suite, gradients, matmul, bandwidth, reduce, first, dry-run)\n", mode);
    failures = 1;
  }
  ct_context_free(ctx);
  return failures ? 1 : 0;
}
