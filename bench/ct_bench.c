/*
 * ct_bench: ctensor's C-side benchmarks, each next to its C baseline, in one
 * process so that every ratio is measured under the same conditions.
 *
 *   ct_bench --threads T [--rounds R] [--quick] [--only CASE,...] [--first-round K]
 *
 * Prints one JSON object per line (bench/report.py reads them):
 *   {"bench":"matmul","size":512,"impl":"ctensor","threads":1,
 *    "work":268435456,"unit":"flop","times":[s, s, ...]}
 * where times[r] is the seconds per call in round r. Within a round the
 * ctensor batch and the baseline batch run back to back, ctensor first in
 * even rounds (counted from K, so that a driver running one round per
 * process can still alternate), so the per-round ratio compares like with
 * like.
 *
 * Baselines:
 *   matmul  cblas_sgemm on the same OpenBLAS ctensor links, into a
 *           preallocated C (ctensor allocates its result each call);
 *   add     an OpenMP loop c[i] = a[i] + b[i] into a preallocated buffer;
 *   sum     an OpenMP loop with 16 float accumulators per thread.
 * random_normal and the 1-element add have no C baseline; their peers
 * (numpy, torch, TensorFlow) run in bench/peers.py.
 *
 * It links the shared library, as an application would. The benchmarked ops
 * are weak references: while one has not landed its rows say "missing"
 * instead of the bench failing to build.
 */
#include <ctensor.h>

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Weak: NULL while the op is missing. The core calls stay strong: with
 * --as-needed a library only weakly referred to is dropped at link time. */
#pragma weak ct_matmul
#pragma weak ct_add
#pragma weak ct_random_normal
#pragma weak ct_reduce_sum

#define MAX_ROUNDS 32
#define BIG_N ((int64_t)64 * 1024 * 1024)

static int g_threads = 1;
static int g_rounds = 5;
static int g_quick = 0;
static int g_first_round = 0;
static const char *g_only = NULL; /* comma-separated case names; NULL: all */

/* Case names: matmul512 ... matmul4096, add_tiny, add_big, sum_big,
 * random_normal. */
static bool wanted(const char *name) {
  if (!g_only) return true;
  size_t len = strlen(name);
  for (const char *p = g_only; *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && !strncmp(p, name, n)) return true;
    p += n + (end != NULL);
  }
  return false;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "ct_bench: %s\n", what);
  exit(1);
}

static void *xmalloc(size_t bytes) {
  /* 64-byte alignment: what a vectorised kernel and OpenBLAS prefer. */
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes) != 0) die("out of memory");
  return p;
}

static void fill_uniform(float *x, int64_t n, unsigned seed) {
  uint32_t s = seed * 2654435761u + 1u;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float)(s >> 8) * (1.0f / 16777216.0f) - 0.5f;
  }
}

/* ---- output ------------------------------------------------------------ */

static void emit(const char *bench, long size, const char *impl, double work, const char *unit,
                 const double *times, int n, const char *note) {
  printf("{\"bench\":\"%s\",\"size\":%ld,\"impl\":\"%s\",\"threads\":%d,\"work\":%.0f,\"unit\":\"%s\"",
         bench, size, impl, g_threads, work, unit);
  if (times) {
    printf(",\"times\":[");
    for (int i = 0; i < n; i++) printf("%s%.9g", i ? "," : "", times[i]);
    printf("]");
  }
  if (note) {
    printf(",\"note\":\"");
    for (const char *c = note; *c; c++) {
      if (*c == '"' || *c == '\\') putchar('\\');
      putchar((unsigned char)*c < 0x20 ? ' ' : *c);
    }
    printf("\"");
  }
  printf("}\n");
  fflush(stdout);
}

static void emit_missing(const char *bench, long size, const char *why) {
  emit(bench, size, "ctensor", 0, "", NULL, 0, why);
}

/* A timed batch: `reps` calls of fn(arg); returns seconds per call, or a
 * negative value when a call failed. */
typedef int (*bench_fn)(void *arg);

static double time_batch(bench_fn fn, void *arg, int reps) {
  double t0 = now_s();
  for (int i = 0; i < reps; i++)
    if (fn(arg) != 0) return -1.0;
  return (now_s() - t0) / reps;
}

/* Calibrates a batch size from one warm call so that a batch lasts about
 * `target_s`, at least 1 call and at most `max_reps`. */
static int calibrate(bench_fn fn, void *arg, double target_s, int max_reps) {
  double t = time_batch(fn, arg, 1);
  if (t < 0) return -1;
  int reps = t > 0 ? (int)(target_s / t) : max_reps;
  if (reps < 1) reps = 1;
  if (reps > max_reps) reps = max_reps;
  return reps;
}

/* Runs g_rounds rounds of (a, b) pairs, alternating order. A NULL fn_a
 * measures only b. */
static int run_pair(bench_fn fa, void *aa, bench_fn fb, void *ab, double target_s, int max_reps,
                    double *ta, double *tb) {
  int ra = 0, rb = 0;
  if (fa && (ra = calibrate(fa, aa, target_s, max_reps)) < 0) return -1;
  if ((rb = calibrate(fb, ab, target_s, max_reps)) < 0) return -2;
  for (int r = 0; r < g_rounds; r++) {
    int a_first = ((g_first_round + r) % 2) == 0;
    if (a_first && fa && (ta[r] = time_batch(fa, aa, ra)) < 0) return -1;
    if ((tb[r] = time_batch(fb, ab, rb)) < 0) return -2;
    if (!a_first && fa && (ta[r] = time_batch(fa, aa, ra)) < 0) return -1;
  }
  return 0;
}

/* ---- ctensor helpers --------------------------------------------------- */

static ct_context *g_ctx;
static char g_err[512];

static int ct_failed(const char *what, ct_status st) {
  snprintf(g_err, sizeof g_err, "%s: %s: %s", what, ct_status_name(st), ct_last_error());
  return 1;
}

static ct_tensor *make_tensor(const float *data, const int64_t *shape, int rank) {
  ct_tensor *t = NULL;
  ct_status st = ct_tensor_from_host(g_ctx, CT_FLOAT32, shape, rank, data, &t);
  if (st != CT_OK) {
    ct_failed("tensor_from_host", st);
    return NULL;
  }
  return t;
}

/* Runs one op through `call` and copies its float32 result to `dst`; 0 on
 * success, else g_err says why. Used by the checks: a fast wrong answer
 * must not pass. */
typedef ct_status (*op_call)(void *arg, ct_tensor **out);

static int result_to_host(op_call call, void *arg, float *dst, size_t bytes) {
  ct_tensor *out = NULL;
  ct_status st = call(arg, &out);
  if (st != CT_OK) return ct_failed("check", st);
  st = ct_tensor_to_host(out, dst, bytes);
  ct_tensor_release(out);
  if (st != CT_OK) return ct_failed("tensor_to_host", st);
  return 0;
}

static int wrong(const char *what, double got, double want) {
  snprintf(g_err, sizeof g_err, "WRONG RESULT: %s = %.9g, expected %.9g", what, got, want);
  return 1;
}

/* ---- matmul ------------------------------------------------------------ */

typedef struct {
  int n;
  const float *a, *b;
  float *c;
  ct_tensor *ta, *tb;
} mm_args;

static int mm_blas(void *p) {
  mm_args *m = p;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->n, m->n, m->n, 1.0f, m->a, m->n, m->b, m->n,
              0.0f, m->c, m->n);
  return 0;
}

static int mm_ct(void *p) {
  mm_args *m = p;
  ct_tensor *out = NULL;
  ct_status st = ct_matmul(g_ctx, m->ta, m->tb, false, false, &out);
  if (st != CT_OK) return ct_failed("matmul", st);
  ct_tensor_release(out);
  return 0;
}

/* ctensor's result must be right, else its speed means nothing: eight rows
 * checked against a float64 reference (cheap even at n = 4096). */
static const char *mm_check(mm_args *m) {
  static char msg[160];
  int n = m->n;
  size_t nn = (size_t)n * (size_t)n;
  float *got = xmalloc(nn * sizeof(float));
  double *ref = xmalloc((size_t)n * sizeof(double));
  ct_tensor *out = NULL;
  const char *bad = NULL;
  ct_status st = ct_matmul(g_ctx, m->ta, m->tb, false, false, &out);
  if (st != CT_OK) {
    ct_failed("matmul", st);
    bad = g_err;
  } else if ((st = ct_tensor_to_host(out, got, nn * sizeof(float))) != CT_OK) {
    ct_failed("tensor_to_host", st);
    bad = g_err;
  }
  for (int k = 0; k < 8 && !bad; k++) {
    int i = (int)((int64_t)k * (n - 1) / 7);
    for (int j = 0; j < n; j++) ref[j] = 0.0;
    for (int p = 0; p < n; p++) {
      double aip = m->a[(size_t)i * n + p];
      const float *brow = m->b + (size_t)p * n;
      for (int j = 0; j < n; j++) ref[j] += aip * brow[j];
    }
    for (int j = 0; j < n; j++) {
      double diff = fabs((double)got[(size_t)i * n + j] - ref[j]);
      if (diff > 1e-4 * (fabs(ref[j]) + 1.0)) {
        snprintf(msg, sizeof msg, "WRONG RESULT: c[%d][%d] = %g, expected %g", i, j,
                 (double)got[(size_t)i * n + j], ref[j]);
        bad = msg;
        break;
      }
    }
  }
  ct_tensor_release(out);
  free(got);
  free(ref);
  return bad;
}

static void bench_matmul(int n) {
  mm_args m = {.n = n};
  size_t nn = (size_t)n * (size_t)n;
  float *a = xmalloc(nn * sizeof(float)), *b = xmalloc(nn * sizeof(float));
  m.a = a;
  m.b = b;
  m.c = xmalloc(nn * sizeof(float));
  fill_uniform(a, (int64_t)nn, 1);
  fill_uniform(b, (int64_t)nn, 2);
  memset(m.c, 0, nn * sizeof(float));
  double flop = 2.0 * n * (double)n * n;
  double tc[MAX_ROUNDS], tb[MAX_ROUNDS];
  int64_t shape[2] = {n, n};
  bench_fn fct = NULL;
  const char *note = NULL;
  if (!ct_matmul) {
    note = "ct_matmul not in the library";
  } else if (!(m.ta = make_tensor(a, shape, 2)) || !(m.tb = make_tensor(b, shape, 2))) {
    note = g_err;
  } else if ((note = mm_check(&m)) == NULL) {
    fct = mm_ct;
  }
  double target = n >= 2048 ? 0.05 : 0.25; /* the big ones: one call is plenty */
  int rc = run_pair(fct, &m, mm_blas, &m, target, 200, tc, tb);
  if (rc == -1) note = g_err, fct = NULL;
  if (rc == -1) rc = run_pair(NULL, NULL, mm_blas, &m, target, 200, tc, tb);
  if (fct)
    emit("matmul", n, "ctensor", flop, "flop", tc, g_rounds, NULL);
  else
    emit_missing("matmul", n, note);
  emit("matmul", n, "cblas", flop, "flop", tb, g_rounds, NULL);
  ct_tensor_release(m.ta);
  ct_tensor_release(m.tb);
  free(a);
  free(b);
  free(m.c);
}

/* ---- add of 1-element tensors (per-op overhead) ------------------------ */

typedef struct {
  ct_tensor *a, *b;
  const float *x, *y;
  float *z;
  int64_t n;
} ew_args;

static int add_ct(void *p) {
  ew_args *e = p;
  ct_tensor *out = NULL;
  ct_status st = ct_add(g_ctx, e->a, e->b, &out);
  if (st != CT_OK) return ct_failed("add", st);
  ct_tensor_release(out);
  return 0;
}

static ct_status add_call(void *p, ct_tensor **out) {
  ew_args *e = p;
  return ct_add(g_ctx, e->a, e->b, out);
}

static ct_status sum_call(void *p, ct_tensor **out) {
  ew_args *e = p;
  return ct_reduce_sum(g_ctx, e->a, NULL, 0, false, out);
}

static void bench_add_tiny(void) {
  float one[1] = {1.5f}, two[1] = {2.25f};
  int64_t shape[1] = {1};
  ew_args e = {0};
  double t[MAX_ROUNDS];
  if (!ct_add) {
    emit_missing("add_tiny", 1, "ct_add not in the library");
    return;
  }
  if (!(e.a = make_tensor(one, shape, 1)) || !(e.b = make_tensor(two, shape, 1))) {
    emit_missing("add_tiny", 1, g_err);
  } else {
    /* batches of ~0.1 s: long enough to swamp the clock, short enough for
     * five rounds to cost little */
    float got = 0;
    for (int i = 0; i < 1000; i++) add_ct(&e); /* warm the allocator's cache */
    if (result_to_host(add_call, &e, &got, sizeof got) != 0 ||
        (got != 3.75f && wrong("1.5 + 2.25", got, 3.75)))
      emit_missing("add_tiny", 1, g_err);
    else if (run_pair(NULL, NULL, add_ct, &e, 0.1, 10000000, NULL, t) != 0)
      emit_missing("add_tiny", 1, g_err);
    else
      emit("add_tiny", 1, "ctensor", 1, "call", t, g_rounds, NULL);
  }
  ct_tensor_release(e.a);
  ct_tensor_release(e.b);
}

/* ---- add of 64 Mi elements --------------------------------------------- */

static int add_loop(void *p) {
  ew_args *e = p;
  const float *restrict x = e->x, *restrict y = e->y;
  float *restrict z = e->z;
  int64_t n = e->n;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) z[i] = x[i] + y[i];
  return 0;
}

/* Sixteen independent accumulators per thread: a single float accumulator
 * is bound by the add latency (about 4.7 GB/s with clang, 19 with gcc's
 * "omp simd"), well below memory bandwidth, and a weak baseline would make
 * the target meaningless. */
static int sum_loop(void *p) {
  ew_args *e = p;
  const float *restrict x = e->x;
  int64_t n = e->n;
  float s = 0.0f;
#pragma omp parallel reduction(+ : s)
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t lo = n * t / nt, hi = n * (t + 1) / nt, i = lo;
    float acc[16] = {0};
    for (; i + 16 <= hi; i += 16)
      for (int k = 0; k < 16; k++) acc[k] += x[i + k];
    for (; i < hi; i++) acc[0] += x[i];
    for (int k = 0; k < 16; k++) s += acc[k];
  }
  e->z[0] = s; /* keeps the loop alive */
  return 0;
}

static int sum_ct(void *p) {
  ew_args *e = p;
  ct_tensor *out = NULL;
  ct_status st = ct_reduce_sum(g_ctx, e->a, NULL, 0, false, &out);
  if (st != CT_OK) return ct_failed("reduce_sum", st);
  ct_tensor_release(out);
  return 0;
}

typedef struct {
  int64_t n;
  uint64_t offset;
} rn_args;

static int rn_ct(void *p) {
  rn_args *r = p;
  ct_tensor *out = NULL;
  int64_t shape[1] = {r->n};
  ct_status st = ct_random_normal(g_ctx, CT_FLOAT32, shape, 1, 0.0, 1.0, 42, r->offset, &out);
  if (st != CT_OK) return ct_failed("random_normal", st);
  r->offset += (uint64_t)r->n;
  ct_tensor_release(out);
  return 0;
}

static int64_t big_n(void) { return g_quick ? BIG_N / 16 : BIG_N; }

/* Every 4099th element of ct_add's result, bit for bit (one float add). */
static bool check_add(ew_args *e) {
  size_t bytes = (size_t)e->n * sizeof(float);
  float *got = xmalloc(bytes);
  bool ok = result_to_host(add_call, e, got, bytes) == 0;
  for (int64_t i = 0; ok && i < e->n; i += 4099) {
    float want = e->x[i] + e->y[i];
    if (got[i] != want) {
      char what[64];
      snprintf(what, sizeof what, "add element %lld", (long long)i);
      ok = !wrong(what, got[i], want);
    }
  }
  free(got);
  return ok;
}

/* The sum against a float64 one, within float32 rounding of the terms. */
static bool check_sum(ew_args *e) {
  float got = 0;
  if (result_to_host(sum_call, e, &got, sizeof got) != 0) return false;
  double want = 0, mag = 0;
  for (int64_t i = 0; i < e->n; i++) {
    want += e->x[i];
    mag += fabs((double)e->x[i]);
  }
  if (fabs((double)got - want) > 1e-6 * mag + 1e-3) return !wrong("sum", got, want);
  return true;
}

/* ct_add (allocating its result every call) against add_loop, and
 * ct_reduce_sum against sum_loop, on the same two 64 Mi-element inputs. */
static void bench_add_sum(bool want_add, bool want_sum) {
  int64_t n = big_n();
  size_t bytes = (size_t)n * sizeof(float);
  double tc[MAX_ROUNDS], tb[MAX_ROUNDS];
  float *x = xmalloc(bytes), *y = xmalloc(bytes), *z = xmalloc(bytes);
  fill_uniform(x, n, 3);
  fill_uniform(y, n, 4);
  memset(z, 0, bytes);
  ew_args e = {.x = x, .y = y, .z = z, .n = n};
  int64_t shape[1] = {n};
  const char *note = NULL;
  bool have = (e.a = make_tensor(x, shape, 1)) && (e.b = make_tensor(y, shape, 1));
  if (!have) note = g_err;
  char add_why[sizeof g_err] = "", sum_why[sizeof g_err] = "";
  bool add_ok = want_add && have && ct_add && check_add(&e);
  if (!add_ok) snprintf(add_why, sizeof add_why, "%s", have && ct_add ? g_err : "");
  bool sum_ok = want_sum && have && ct_reduce_sum && check_sum(&e);
  if (!sum_ok) snprintf(sum_why, sizeof sum_why, "%s", have && ct_reduce_sum ? g_err : "");

  if (want_add) {
    bench_fn f = add_ok ? add_ct : NULL;
    const char *why = add_why[0] ? add_why : note;
    if (run_pair(f, &e, add_loop, &e, 0.3, 50, tc, tb) == -1) {
      why = g_err;
      f = NULL;
      run_pair(NULL, NULL, add_loop, &e, 0.3, 50, tc, tb);
    }
    if (f)
      emit("add_big", (long)n, "ctensor", 3.0 * (double)bytes, "byte", tc, g_rounds, NULL);
    else
      emit_missing("add_big", (long)n, why ? why : "ct_add not in the library");
    emit("add_big", (long)n, "c_loop", 3.0 * (double)bytes, "byte", tb, g_rounds, NULL);
  }
  if (want_sum) {
    bench_fn f = sum_ok ? sum_ct : NULL;
    const char *why = sum_why[0] ? sum_why : note;
    if (run_pair(f, &e, sum_loop, &e, 0.3, 50, tc, tb) == -1) {
      why = g_err;
      f = NULL;
      run_pair(NULL, NULL, sum_loop, &e, 0.3, 50, tc, tb);
    }
    if (f)
      emit("sum_big", (long)n, "ctensor", (double)bytes, "byte", tc, g_rounds, NULL);
    else
      emit_missing("sum_big", (long)n, why ? why : "ct_reduce_sum not in the library");
    emit("sum_big", (long)n, "c_loop", (double)bytes, "byte", tb, g_rounds, NULL);
  }
  ct_tensor_release(e.a);
  ct_tensor_release(e.b);
  free(x);
  free(y);
  free(z);
}

static ct_status rn_call(void *p, ct_tensor **out) {
  rn_args *r = p;
  int64_t shape[1] = {r->n};
  return ct_random_normal(g_ctx, CT_FLOAT32, shape, 1, 0.0, 1.0, 42, r->offset, out);
}

/* Mean 0 and variance 1 within 5 standard errors. */
static bool check_normal(rn_args *r) {
  size_t bytes = (size_t)r->n * sizeof(float);
  float *got = xmalloc(bytes);
  bool ok = result_to_host(rn_call, r, got, bytes) == 0;
  if (ok) {
    double s = 0, s2 = 0, n = (double)r->n;
    for (int64_t i = 0; i < r->n; i++) {
      s += got[i];
      s2 += (double)got[i] * got[i];
    }
    double mean = s / n, var = s2 / n - mean * mean;
    if (fabs(mean) > 5 / sqrt(n)) ok = !wrong("mean of random_normal", mean, 0);
    else if (fabs(var - 1) > 5 * sqrt(2 / n)) ok = !wrong("variance of random_normal", var, 1);
  }
  free(got);
  return ok;
}

/* random normal: no C baseline; numpy is the peer. */
static void bench_random_normal(void) {
  int64_t n = big_n();
  double t[MAX_ROUNDS];
  rn_args r = {.n = n, .offset = 0};
  if (!ct_random_normal)
    emit_missing("random_normal", (long)n, "ct_random_normal not in the library");
  else if (!check_normal(&r))
    emit_missing("random_normal", (long)n, g_err);
  else if (run_pair(NULL, NULL, rn_ct, &r, 0.3, 50, NULL, t) != 0)
    emit_missing("random_normal", (long)n, g_err);
  else
    emit("random_normal", (long)n, "ctensor", (double)n, "sample", t, g_rounds, NULL);
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      g_threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      g_rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick"))
      g_quick = 1;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      g_only = argv[++i];
    else if (!strcmp(argv[i], "--first-round") && i + 1 < argc)
      g_first_round = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: ct_bench --threads T [--rounds R] [--quick] [--only CASE,...]"
                      " [--first-round K]\n");
      return 2;
    }
  }
  if (g_threads < 1 || g_rounds < 1 || g_rounds > MAX_ROUNDS) die("bad --threads or --rounds");
  /* The caller also sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS, which is
   * how ctensor learns its thread count; these calls make the baselines
   * honour T even when the environment says otherwise. */
  omp_set_num_threads(g_threads);
  openblas_set_num_threads(g_threads);

  char info[512];
  snprintf(info, sizeof info, "ctensor %s [%s]; openblas %s, core %s; omp max threads %d",
           ct_version(), ct_build_features(), openblas_get_config(), openblas_get_corename(),
           omp_get_max_threads());
  emit("info", 0, "c", 0, "", NULL, 0, info);
  ct_status st = ct_context_new(&g_ctx);
  if (st == CT_OK) st = ct_context_initialize(g_ctx);
  if (st != CT_OK) {
    ct_failed("context", st);
    emit("error", 0, "ctensor", 0, "", NULL, 0, g_err);
    return 1;
  }

  int sizes[] = {512, 1024, 2048, 4096};
  int nsizes = g_quick ? 2 : 4;
  for (int i = 0; i < nsizes; i++) {
    char name[32];
    snprintf(name, sizeof name, "matmul%d", sizes[i]);
    if (wanted(name)) bench_matmul(sizes[i]);
  }
  if (wanted("add_tiny")) bench_add_tiny();
  if (wanted("add_big") || wanted("sum_big")) bench_add_sum(wanted("add_big"), wanted("sum_big"));
  if (wanted("random_normal")) bench_random_normal();
  ct_context_free(g_ctx);
  return 0;
}
