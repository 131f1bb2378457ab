/*
 * GPU driver fault injection (issue 14): every call a scenario makes into
 * the driver, cuBLAS and NVRTC is failed in turn, on the emulated GPU
 * (tests/fake_cuda: CT_FAKE_CUDA_FAIL, CT_FAKE_CUBLAS_FAIL,
 * CT_FAKE_NVRTC_FAIL fail the Nth call of one entry point, counted from
 * the cuInit of a fresh context). Each scenario runs once to fill the
 * kernel cache, once to count its calls per entry point, then once per
 * (entry point, k) for every k up to that count. After each injected
 * failure:
 *  - the call that failed returned an error whose message names a GPU
 *    device and the op or the driver call, and wrote no out-parameter;
 *    or the failure was absorbed, and only where the table `absorbing`
 *    below says why (a retry, a device reported unusable with a reason);
 *  - after everything is released the fake driver holds no allocation,
 *    module, stream or context reference, cuBLAS no handle, NVRTC no
 *    program, and (sanitizer tree) LeakSanitizer finds nothing at exit.
 *    The heap's byte count is not compared run by run as test_fault.c
 *    does: here it moves by 32 bytes from one run to the next, up and
 *    down, with or without a leak (not traced further);
 *  - the CPU computes [1,2,3] + [3,1,4];
 *  - an error that destroys a context (700, ...) leaves its GPU listed as
 *    unusable (DEVICE_FAILED, with the error in the detail), ops scoped
 *    there fail with UNAVAILABLE with soft placement off and on, and
 *    unscoped ops go elsewhere only with a warning logged; after any other
 *    error every GPU still computes.
 *
 * Kernels are compiled once (the kernel cache of the build tree, the same
 * one the other tests use); only the scenario "compile" runs with the
 * cache off, on one small kernel, to fail NVRTC's calls and a cold load.
 * CT_GPU_FAULT_ONLY=<scenario> runs one scenario, CT_GPU_FAULT_VERBOSE=1
 * prints every outcome.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ---- the fakes' counters -------------------------------------------------- */

typedef struct ct_fake_cuda_live {
  int allocs;
  int modules;
  long streams;
  int ctx_refs;
} ct_fake_cuda_live;

enum { LIB_DRIVER, LIB_CUBLAS, LIB_NVRTC, LIB_COUNT };
static const char *const lib_var[LIB_COUNT] = {"CT_FAKE_CUDA_FAIL", "CT_FAKE_CUBLAS_FAIL", "CT_FAKE_NVRTC_FAIL"};
static long (*lib_calls[LIB_COUNT])(const char *);
static void (*driver_live)(ct_fake_cuda_live *);
static int (*drv_set_current)(void *);
static int (*drv_get_current)(void **);
static int (*nvrtc_live)(void);

/* The fake cuBLAS's record (fake_libcublas.c): only live_handles is read,
 * through a copy of the whole struct. */
typedef struct ct_fake_cublas_call {
  long count, rejected;
  int live_handles, status;
  char func[32];
  int transa, transb, m, n, k, atype, btype, ctype, compute_type, algo, lda, ldb, ldc;
  long long stride_a, stride_b, stride_c;
  int batch;
  double alpha, beta;
  void *stream;
  const void *a, *b, *c;
  long long a_lo, a_hi, b_lo, b_hi, c_lo, c_hi;
  char error[200];
} ct_fake_cublas_call;
static void (*cublas_last)(ct_fake_cublas_call *);

typedef struct entry {
  int lib;
  const char *name;
} entry;

/* Every entry point ctensor calls while it works. Not failed: the calls
 * of teardown (cuMemFree, cuModuleUnload, cuStreamDestroy,
 * cuDevicePrimaryCtxRelease, cublasDestroy, nvrtcDestroyProgram), whose
 * results nothing can act on and whose failure leaves the fake's resource
 * alive by construction; cuCtxGetCurrent, asked before every switch, whose
 * failure only means one more cuCtxSetCurrent; and the program-log calls,
 * made only after another NVRTC call failed; nvrtcVersion, asked when
 * NVRTC is opened: its failure is an NVRTC that does not work, kept for
 * the context like a missing library (docs/reliability.md). */
static const entry entries[] = {
    {LIB_DRIVER, "cuInit"},
    {LIB_DRIVER, "cuDeviceGetCount"},
    {LIB_DRIVER, "cuDeviceGet"},
    {LIB_DRIVER, "cuDeviceGetName"},
    {LIB_DRIVER, "cuDeviceGetUuid"},
    {LIB_DRIVER, "cuDeviceGetAttribute"},
    {LIB_DRIVER, "cuDeviceTotalMem"},
    {LIB_DRIVER, "cuDeviceGetPCIBusId"},
    {LIB_DRIVER, "cuDevicePrimaryCtxRetain"},
    {LIB_DRIVER, "cuCtxSetCurrent"},
    {LIB_DRIVER, "cuCtxSynchronize"},
    {LIB_DRIVER, "cuMemAlloc"},
    {LIB_DRIVER, "cuMemGetInfo"},
    {LIB_DRIVER, "cuMemcpyHtoDAsync"},
    {LIB_DRIVER, "cuMemcpyDtoHAsync"},
    {LIB_DRIVER, "cuMemcpyDtoDAsync"},
    {LIB_DRIVER, "cuMemcpyPeerAsync"},
    {LIB_DRIVER, "cuMemsetD8Async"},
    {LIB_DRIVER, "cuMemsetD32Async"},
    {LIB_DRIVER, "cuStreamCreate"},
    {LIB_DRIVER, "cuStreamSynchronize"},
    {LIB_DRIVER, "cuModuleLoadData"},
    {LIB_DRIVER, "cuModuleGetFunction"},
    {LIB_DRIVER, "cuLaunchKernel"},
    {LIB_CUBLAS, "cublasCreate"},
    {LIB_CUBLAS, "cublasSetStream"},
    {LIB_CUBLAS, "cublasGemmEx"},
    {LIB_CUBLAS, "cublasGemmStridedBatchedEx"},
    {LIB_NVRTC, "nvrtcCreateProgram"},
    {LIB_NVRTC, "nvrtcCompileProgram"},
    {LIB_NVRTC, "nvrtcGetCUBINSize"},
    {LIB_NVRTC, "nvrtcGetCUBIN"},
    {LIB_NVRTC, "nvrtcGetPTXSize"},
    {LIB_NVRTC, "nvrtcGetPTX"},
};
#define N_ENTRIES ((int)(sizeof entries / sizeof entries[0]))

/* Besides each entry point's default error, these are failed a second
 * time with an error that destroys the context, as a kernel's illegal
 * address found by whichever call waits or queues next. */
static const char *const sticky_too[] = {"cuMemcpyHtoDAsync", "cuMemcpyDtoHAsync", "cuMemcpyDtoDAsync",
                                         "cuMemcpyPeerAsync", "cuMemsetD8Async",   "cuLaunchKernel",
                                         "cuModuleLoadData"};

static bool is_sticky(int code) { return code == 700 || code == 709 || code == 710 || code == 214; }

/* The error a failed call returns when the rule names none (the fakes'
 * defaults that matter here: the waits fail as after a kernel fault). */
static int effective_code(const entry *e, int code) {
  if (code) return code;
  return strcmp(e->name, "cuStreamSynchronize") == 0 || strcmp(e->name, "cuCtxSynchronize") == 0 ? 700 : 0;
}

/* ---- one run ---------------------------------------------------------------- */

static char sentinel_obj;
#define SENTINEL ((void *)&sentinel_obj)

typedef struct run {
  ct_context *ctx;
  const entry *fail; /* NULL: nothing injected */
  long k;
  int code;          /* 0: the entry point's default */
  /* the call that failed */
  bool failed;
  ct_status status;
  char call[96], what[32], msg[1024];
  bool out_untouched;
  char log[4096];    /* warnings logged during the run */
} run;
static run *cur;

static void note(ct_status st, bool untouched, const char *call, const char *what) {
  cur->failed = true;
  cur->status = st;
  cur->out_untouched = untouched;
  snprintf(cur->call, sizeof cur->call, "%s", call);
  snprintf(cur->what, sizeof cur->what, "%s", what);
  snprintf(cur->msg, sizeof cur->msg, "%s", ct_last_error());
}

static void on_log(void *user, ct_log_level level, const char *msg) {
  run *r = user;
  if (level == CT_LOG_INFO) return;
  size_t n = strlen(r->log);
  snprintf(r->log + n, sizeof r->log - n, "%s\n", msg);
}

/* A call with a tensor out-parameter; `what` is the op or copy the error
 * must name (or the driver call). */
#define T(call, var, what)                                   \
  do {                                                       \
    var = SENTINEL;                                          \
    ct_status s_ = (call);                                   \
    if (s_ != CT_OK) {                                       \
      note(s_, var == SENTINEL, #call, what);                \
      var = NULL;                                            \
      st = s_;                                               \
      goto done;                                             \
    }                                                        \
  } while (0)
#define S(call, what)                                        \
  do {                                                       \
    ct_status s_ = (call);                                   \
    if (s_ != CT_OK) {                                       \
      note(s_, true, #call, what);                           \
      st = s_;                                               \
      goto done;                                             \
    }                                                        \
  } while (0)

static const int64_t s3[1] = {3}, s22[2] = {2, 2};
static const float av[3] = {1, 2, 3}, bv[3] = {3, 1, 4};

/* A host tensor made on /CPU:0 (nothing here touches a GPU). */
static ct_status cpu_tensor(ct_context *ctx, const int64_t *shape, int rank, const float *v, ct_tensor **out) {
  ct_status st = ct_device_scope_push(ctx, "/CPU:0");
  if (st != CT_OK) return st;
  st = ct_tensor_from_host(ctx, CT_FLOAT32, shape, rank, v, out);
  ct_device_scope_pop(ctx);
  return st;
}

static bool same(const float *got, const float *want, int n) {
  for (int i = 0; i < n; i++)
    if (got[i] != want[i]) return false;
  return true;
}

/* Results are compared only when every call succeeded; a wrong one is a
 * failure of the run. */
#define EXPECT(cond)                                                        \
  do {                                                                      \
    if (!(cond)) {                                                          \
      note(CT_INTERNAL, true, "result check " #cond, "");                   \
      snprintf(cur->msg, sizeof cur->msg, "wrong result: %s", #cond);       \
      st = CT_INTERNAL;                                                     \
      goto done;                                                            \
    }                                                                       \
  } while (0)

/* ---- scenarios ---------------------------------------------------------------- */

/* Context start: two physical GPUs, the first split into two logical
 * devices; strict placement. Every scenario starts with it. */
static ct_status start(run *r) {
  ct_status st = CT_OK;
  ct_context *ctx = SENTINEL;
  S(ct_context_new(&ctx), "context");
  r->ctx = ctx;
  ct_context_set_log_callback(ctx, on_log, r);
  ct_logical_device_config two[2] = {{.memory_limit_mb = 8}, {.memory_limit_mb = 8}};
  /* without a GPU this fails: the message must say which call lost it */
  S(ct_config_set_logical_devices(ctx, "/physical_device:GPU:0", two, 2), "");
  S(ct_config_set_soft_placement(ctx, false), "");
  S(ct_context_initialize(ctx), "GPU:");
done:
  return st;
}

static ct_status sc_start(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  /* the listing: every logical device and every physical one, usable or not */
  int n = ct_logical_device_count(r->ctx, NULL);
  for (int i = 0; i < n; i++) {
    ct_logical_device_info info;
    S(ct_logical_device_get(r->ctx, NULL, i, &info), "GPU:");
  }
  for (int i = 0; i < ct_physical_device_count(r->ctx, "GPU"); i++) {
    ct_physical_device_info info;
    S(ct_physical_device_get(r->ctx, "GPU", i, &info), "GPU:");
  }
done:
  return st;
}

/* Host -> GPU:0, GPU:0 -> GPU:1 (same GPU), GPU:1 -> GPU:2 (the other GPU),
 * GPU:2 -> host. */
static ct_status sc_copies(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *h = NULL, *g0 = NULL, *g1 = NULL, *g2 = NULL;
  float got[3];
  S(cpu_tensor(r->ctx, s3, 1, av, &h), "");
  T(ct_tensor_copy_to(h, "/GPU:0", &g0), g0, "copy|Identity");
  T(ct_tensor_copy_to(g0, "/GPU:1", &g1), g1, "copy|Identity");
  T(ct_tensor_copy_to(g1, "/GPU:2", &g2), g2, "copy|Identity");
  S(ct_tensor_to_host(g2, got, sizeof got), "copy|Identity");
  EXPECT(same(got, av, 3));
done:
  ct_tensor_release(h), ct_tensor_release(g0), ct_tensor_release(g1), ct_tensor_release(g2);
  return st;
}

static ct_status sc_elementwise(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *a = NULL, *b = NULL, *c = NULL;
  float got[3], want[3] = {4, 3, 7};
  int pushed = 0;
  S(cpu_tensor(r->ctx, s3, 1, av, &a), "");
  S(cpu_tensor(r->ctx, s3, 1, bv, &b), "");
  S(ct_device_scope_push(r->ctx, "/GPU:0"), "");
  pushed = 1;
  T(ct_add(r->ctx, a, b, &c), c, "AddV2");
  S(ct_tensor_to_host(c, got, sizeof got), "copy|Identity");
  EXPECT(same(got, want, 3));
done:
  if (pushed) ct_device_scope_pop(r->ctx);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
  return st;
}

/* 2x2 (matmul) and 2x2x2 (strided batched) on GPU:0. */
static ct_status sc_matmul(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *a = NULL, *b = NULL, *c = NULL, *a3 = NULL, *c3 = NULL;
  const float m[4] = {1, 2, 3, 4}, m3[8] = {1, 2, 3, 4, 0, 1, 1, 0};
  const int64_t s222[3] = {2, 2, 2};
  float got[8], want[4] = {7, 10, 15, 22}, want3[8] = {7, 10, 15, 22, 3, 4, 1, 2};
  int pushed = 0;
  S(cpu_tensor(r->ctx, s22, 2, m, &a), "");
  S(cpu_tensor(r->ctx, s222, 3, m3, &a3), "");
  S(ct_device_scope_push(r->ctx, "/GPU:0"), "");
  pushed = 1;
  T(ct_matmul(r->ctx, a, a, false, false, &c), c, "MatMul");
  S(ct_tensor_to_host(c, got, 4 * sizeof(float)), "copy|Identity");
  EXPECT(same(got, want, 4));
  T(ct_tensor_copy_to(a, "/GPU:0", &b), b, "copy|Identity");
  T(ct_matmul(r->ctx, a3, b, false, false, &c3), c3, "MatMul");
  S(ct_tensor_to_host(c3, got, sizeof got), "copy|Identity");
  EXPECT(same(got, want3, 8));
done:
  if (pushed) ct_device_scope_pop(r->ctx);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c), ct_tensor_release(a3), ct_tensor_release(c3);
  return st;
}

static ct_status sc_reduce(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *a = NULL, *s = NULL;
  const float m[4] = {1, 2, 3, 4};
  float got[2], want[2] = {3, 7};
  int axis[1] = {1}, pushed = 0;
  S(cpu_tensor(r->ctx, s22, 2, m, &a), "");
  S(ct_device_scope_push(r->ctx, "/GPU:0"), "");
  pushed = 1;
  T(ct_reduce_sum(r->ctx, a, axis, 1, false, &s), s, "Sum");
  S(ct_tensor_to_host(s, got, sizeof got), "copy|Identity");
  EXPECT(same(got, want, 2));
done:
  if (pushed) ct_device_scope_pop(r->ctx);
  ct_tensor_release(a), ct_tensor_release(s);
  return st;
}

/* loss = sum(x * w) on GPU:0 under a tape; d loss / dw = x. */
static ct_status sc_gradient(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *x = NULL, *w = NULL, *y = NULL, *loss = NULL, *g = NULL;
  ct_tape *tape = NULL;
  float got[3];
  int pushed = 0;
  S(cpu_tensor(r->ctx, s3, 1, av, &x), "");
  S(cpu_tensor(r->ctx, s3, 1, bv, &w), "");
  S(ct_device_scope_push(r->ctx, "/GPU:0"), "");
  pushed = 1;
  S(ct_tape_new(r->ctx, false, true, &tape), "");
  S(ct_tape_watch(tape, w), "");
  T(ct_mul(r->ctx, x, w, &y), y, "Mul");
  T(ct_reduce_sum(r->ctx, y, NULL, 0, false, &loss), loss, "Sum");
  S(ct_tape_stop_recording(tape), "");
  ct_gradient_source src = {w, NULL};
  const ct_tensor *targets[1] = {loss};
  T(ct_tape_gradient(tape, targets, 1, NULL, &src, 1, CT_UNCONNECTED_NONE, &g), g, "Fill|Mul|Sum|BroadcastTo");
  S(ct_tensor_to_host(g, got, sizeof got), "copy|Identity");
  EXPECT(same(got, av, 3));
done:
  if (pushed) ct_device_scope_pop(r->ctx);
  ct_tape_free(tape);
  ct_tensor_release(x), ct_tensor_release(w), ct_tensor_release(y), ct_tensor_release(loss), ct_tensor_release(g);
  return st;
}

/* One SGD step on a variable on GPU:0: w -= 0.5 * g. A failed step leaves
 * iterations where they were. */
static ct_status sc_optimizer(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *init = NULL, *g = NULL, *now = NULL;
  ct_variable *v = NULL;
  ct_optimizer *sgd = NULL;
  float got[3], want[3] = {-0.5f, 1.5f, 1};
  int pushed = 0;
  S(cpu_tensor(r->ctx, s3, 1, av, &init), "");
  S(cpu_tensor(r->ctx, s3, 1, bv, &g), "");
  S(ct_device_scope_push(r->ctx, "/GPU:0"), "");
  pushed = 1;
  ct_variable *vs = SENTINEL;
  S(ct_variable_new(r->ctx, init, true, "w", &vs), "copy|Identity");
  v = vs;
  S(ct_optimizer_sgd_new(r->ctx, 0.5, 0.0, false, &sgd), "");
  ct_status s1 = ct_optimizer_apply_gradients(sgd, &v, (const ct_tensor *const *)&g, 1);
  if (s1 != CT_OK) {
    note(s1, ct_optimizer_iterations(sgd) == 0, "ct_optimizer_apply_gradients", "ResourceApplyGradientDescent");
    st = s1;
    goto done;
  }
  T(ct_variable_read(v, &now), now, "ReadVariableOp");
  S(ct_tensor_to_host(now, got, sizeof got), "copy|Identity");
  EXPECT(same(got, want, 3));
done:
  if (pushed) ct_device_scope_pop(r->ctx);
  if (v == SENTINEL) v = NULL;
  ct_optimizer_free(sgd);
  ct_variable_release(v);
  ct_tensor_release(init), ct_tensor_release(g), ct_tensor_release(now);
  return st;
}

/* One small kernel (neg) with the kernel cache off: NVRTC runs, and the
 * image is loaded cold. */
static ct_status sc_compile(run *r) {
  ct_status st = start(r);
  if (st != CT_OK) return st;
  ct_tensor *a = NULL, *n = NULL;
  float got[3], want[3] = {-1, -2, -3};
  int pushed = 0;
  S(cpu_tensor(r->ctx, s3, 1, av, &a), "");
  S(ct_device_scope_push(r->ctx, "/GPU:0"), "");
  pushed = 1;
  T(ct_neg(r->ctx, a, &n), n, "Neg|ct_neg");
  S(ct_tensor_to_host(n, got, sizeof got), "copy|Identity");
  EXPECT(same(got, want, 3));
done:
  if (pushed) ct_device_scope_pop(r->ctx);
  ct_tensor_release(a), ct_tensor_release(n);
  return st;
}

typedef struct scenario {
  const char *name;
  ct_status (*fn)(run *r);
  bool cold; /* the kernel cache off */
  long setup[N_ENTRIES]; /* calls made by start(): failed in "start" only */
  long calls[N_ENTRIES];
} scenario;

static scenario scenarios[] = {
    {"start", sc_start, false, {0}, {0}},         {"copies", sc_copies, false, {0}, {0}},
    {"elementwise", sc_elementwise, false, {0}, {0}}, {"matmul", sc_matmul, false, {0}, {0}},
    {"reduce", sc_reduce, false, {0}, {0}},       {"gradient", sc_gradient, false, {0}, {0}},
    {"optimizer", sc_optimizer, false, {0}, {0}}, {"compile", sc_compile, true, {0}, {0}},
};

/* ---- checks after a run ------------------------------------------------------- */

static bool verbose;

/* Whether msg contains one of the '|'-separated words of `what`. */
static bool names_one_of(const char *msg, const char *what) {
  char w[64];
  for (const char *p = what; *p;) {
    size_t n = strcspn(p, "|");
    snprintf(w, sizeof w, "%.*s", (int)n, p);
    if (n && strstr(msg, w)) return true;
    p += n;
    if (*p == '|') p++;
  }
  return false;
}

/* [1,2,3] + [3,1,4] on `spec`. */
static bool computes_on(ct_context *ctx, const char *spec) {
  ct_tensor *a = NULL, *b = NULL, *c = NULL;
  float got[3] = {0, 0, 0}, want[3] = {4, 3, 7};
  bool ok = cpu_tensor(ctx, s3, 1, av, &a) == CT_OK && cpu_tensor(ctx, s3, 1, bv, &b) == CT_OK &&
            ct_device_scope_push(ctx, spec) == CT_OK;
  if (ok) {
    ok = ct_add(ctx, a, b, &c) == CT_OK;
    ct_device_scope_pop(ctx);
  }
  ok = ok && strstr(ct_tensor_device(c), spec + 1) && ct_tensor_to_host(c, got, sizeof got) == CT_OK &&
       same(got, want, 3);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
  return ok;
}

/* -[1,2,3] on `spec` (the cold scenario's own kernel). */
static bool computes_neg_on(ct_context *ctx, const char *spec) {
  ct_tensor *a = NULL, *c = NULL;
  float got[3] = {0, 0, 0}, want[3] = {-1, -2, -3};
  bool ok = cpu_tensor(ctx, s3, 1, av, &a) == CT_OK && ct_device_scope_push(ctx, spec) == CT_OK;
  if (ok) {
    ok = ct_neg(ctx, a, &c) == CT_OK;
    ct_device_scope_pop(ctx);
  }
  ok = ok && strstr(ct_tensor_device(c), spec + 1) && ct_tensor_to_host(c, got, sizeof got) == CT_OK &&
       same(got, want, 3);
  ct_tensor_release(a), ct_tensor_release(c);
  return ok;
}

static long library_reported;
static int failures_here;
#define FAIL_RUN(r, sc, ...)                                                                          \
  do {                                                                                                \
    tu_failures++;                                                                                    \
    failures_here++;                                                                                  \
    fprintf(stderr, "[%s] %s@%ld=%d: ", (sc)->name, (r)->fail ? (r)->fail->name : "-", (r)->k, (r)->code); \
    fprintf(stderr, __VA_ARGS__);                                                                     \
    fprintf(stderr, "\n");                                                                            \
  } while (0)

/* After an error that destroys a context: the GPU(s) it took are listed
 * unusable with the reason, ops scoped there fail with or without soft
 * placement, and unscoped ops leave them only with a warning. */
static void check_gpu_failed(run *r, const scenario *sc, const char *error_name) {
  ct_context *ctx = r->ctx;
  int failed = 0;
  for (int p = 0; p < ct_physical_device_count(ctx, "GPU"); p++) {
    ct_physical_device_info info;
    if (ct_physical_device_get(ctx, "GPU", p, &info) != CT_OK || info.usable) continue;
    failed++;
    if (info.reason != CT_GPU_DEVICE_FAILED || !strstr(info.reason_detail, error_name))
      FAIL_RUN(r, sc, "physical GPU %d unusable with reason %s: %s", p, ct_gpu_reason_name(info.reason),
               info.reason_detail);
    bool listed = false;
    for (int i = 0; i < ct_unusable_device_count(ctx); i++) {
      ct_physical_device_info u;
      listed |= ct_unusable_device_get(ctx, i, &u) == CT_OK && u.reason == CT_GPU_DEVICE_FAILED &&
                strcmp(u.pci_bus_id, info.pci_bus_id) == 0;
    }
    if (!listed) FAIL_RUN(r, sc, "physical GPU %d is not in the unusable list", p);
    for (int i = 0; i < ct_logical_device_count(ctx, "GPU"); i++) {
      ct_logical_device_info l;
      if (ct_logical_device_get(ctx, "GPU", i, &l) != CT_OK || l.physical_index != p) continue;
      const char *spec = strstr(l.name, "/device:");
      for (int soft = 0; soft < 2; soft++) {
        ct_config_set_soft_placement(ctx, soft);
        ct_tensor *a = NULL, *c = SENTINEL;
        ct_status s = cpu_tensor(ctx, s3, 1, av, &a);
        if (s == CT_OK && (s = ct_device_scope_push(ctx, spec)) == CT_OK) {
          int fallbacks = ct_fallback_count(ctx);
          s = ct_add(ctx, a, a, &c);
          ct_device_scope_pop(ctx);
          if (s == CT_OK) {
            /* soft placement may move it, counted and logged */
            if (!soft || ct_fallback_count(ctx) == fallbacks)
              FAIL_RUN(r, sc, "an op scoped to failed %s ran on %s (soft placement %d) without a fallback record",
                       spec, ct_tensor_device(c), soft);
            ct_tensor_release(c);
          } else if (s != CT_UNAVAILABLE || !strstr(ct_last_error(), "DEVICE_FAILED") || c != SENTINEL) {
            FAIL_RUN(r, sc, "an op scoped to failed %s: %s \"%s\"", spec, ct_status_name(s), ct_last_error());
          }
        }
        ct_tensor_release(a);
      }
      ct_config_set_soft_placement(ctx, false);
    }
  }
  if (failed == 0) FAIL_RUN(r, sc, "%s destroyed a context but every GPU is still listed usable", error_name);
  /* Unscoped: ops go to a device that works, and a warning says so. */
  ct_tensor *a = NULL, *c = NULL;
  r->log[0] = '\0';
  ct_status s = cpu_tensor(ctx, s3, 1, av, &a);
  if (s == CT_OK) s = ct_add(ctx, a, a, &c);
  if (s != CT_OK) {
    FAIL_RUN(r, sc, "an unscoped op fails after a GPU failed: %s", ct_last_error());
  } else {
    ct_physical_device_info p0;
    bool gpu0_failed = ct_physical_device_get(ctx, "GPU", 0, &p0) == CT_OK && !p0.usable;
    if (gpu0_failed && (strstr(ct_tensor_device(c), "GPU:0") || !strstr(r->log, "DEVICE_FAILED")))
      FAIL_RUN(r, sc, "an unscoped op ran on %s after GPU 0 failed; log: %s", ct_tensor_device(c), r->log);
  }
  ct_tensor_release(a), ct_tensor_release(c);
}

/* Facts about a GPU that a failed query must leave unknown, never wrong:
 * every usable physical GPU has the fake's compute capability, and its
 * other fields are the fake's values or empty. */
static bool listing_is_honest(ct_context *ctx, const char *failed_call, char *why, size_t size) {
  for (int p = 0; p < ct_physical_device_count(ctx, "GPU"); p++) {
    ct_physical_device_info i;
    if (ct_physical_device_get(ctx, "GPU", p, &i) != CT_OK) continue;
    if (!i.usable) {
      /* unusable for the failed query, not for a fact it invented */
      if (strstr(i.reason_detail, failed_call)) continue;
      snprintf(why, size, "GPU %d unusable (%s) without naming %s: %s", p, ct_gpu_reason_name(i.reason), failed_call,
               i.reason_detail);
      return false;
    }
    char bus[32];
    snprintf(bus, sizeof bus, "0000:%02X:00.0", p + 1);
    bool ok = i.compute_major == 8 && i.compute_minor == 6 && (i.cores == 2 || i.cores == 0) &&
              (i.memory_bytes == ((uint64_t)64 << 20) || i.memory_bytes == 0) &&
              (strcmp(i.model, "Fake GPU") == 0 || strcmp(i.model, "unknown GPU") == 0) &&
              (strncasecmp(i.pci_bus_id, bus, sizeof bus) == 0) && (i.uuid[0] == '\0' || strncmp(i.uuid, "GPU-", 4) == 0);
    if (!ok) {
      snprintf(why, size, "GPU %d listed as %s cc %d.%d, %d SMs, %llu bytes, bus %s, uuid %s", p, i.model,
               i.compute_major, i.compute_minor, i.cores, (unsigned long long)i.memory_bytes, i.pci_bus_id, i.uuid);
      return false;
    }
  }
  return true;
}

/* What an absorbed failure must show, by entry point: a retry or a
 * device reported unusable. Returns NULL when the absorption is not
 * accepted, else why it is. */
static const char *absorbed_because(const run *r, const scenario *sc, long calls_after) {
  const char *e = r->fail->name;
  ct_context *ctx = r->ctx;
  char detail[512];
  ct_gpu_reason overall = ctx ? ct_gpu_availability(ctx, detail, sizeof detail) : CT_GPU_USABLE;
  bool gpu_reported = false;
  for (int i = 0; ctx && i < ct_unusable_device_count(ctx); i++) {
    ct_physical_device_info u;
    if (ct_unusable_device_get(ctx, i, &u) == CT_OK && strstr(u.reason_detail, e)) gpu_reported = true;
  }
  if (overall != CT_GPU_USABLE && strstr(detail, e)) gpu_reported = true;
  if (gpu_reported) return "the GPU is reported unusable with the failed call as the reason";
  if (strcmp(e, "cuMemAlloc") == 0 && calls_after > r->k) return "the caching allocator retried the allocation";
  /* ct_cuda_leave has no caller to report to: the work was done, and the
   * next entry into the device switches again */
  if (strcmp(e, "cuCtxSetCurrent") == 0) return "a failed switch back to the caller's context after the work";
  if (((strcmp(e, "cuModuleLoadData") == 0 && r->code == 200) || strcmp(e, "cuModuleGetFunction") == 0) &&
      strstr(r->log, "evicting"))
    return "the driver refused a cached image: evicted and compiled again (logged)";
  /* Queries that only describe a GPU: the listing leaves the fact unknown */
  static const char *const descriptive[] = {"cuDeviceGet", "cuDeviceGetName", "cuDeviceGetUuid",
                                            "cuDeviceGetAttribute", "cuDeviceTotalMem", "cuDeviceGetPCIBusId"};
  for (size_t i = 0; i < sizeof descriptive / sizeof descriptive[0]; i++) {
    char why[512];
    if (strcmp(e, descriptive[i]) != 0) continue;
    if (ctx && listing_is_honest(ctx, e, why, sizeof why))
      return strcmp(e, "cuDeviceGetPCIBusId") == 0 ? "the bus id is read from the PCI attributes instead"
                                                     : "a descriptive fact is left unknown in the listing";
    fprintf(stderr, "[%s] %s@%ld: %s\n", sc->name, e, r->k, why);
  }
  return NULL;
}

/* ---- the sweep -------------------------------------------------------------------- */

static long total_runs, total_absorbed, total_errors, total_points;
static long absorbed_by_entry[N_ENTRIES], errors_by_entry[N_ENTRIES], points_by_entry[N_ENTRIES];
static long sticky_runs;

static char cache_dir[1024];
static char bin_dir[1024];

static long calls_of(const entry *e) { return lib_calls[e->lib] ? lib_calls[e->lib](e->name) : 0; }

static bool nothing_alive(char *why, size_t size) {
  ct_fake_cuda_live l;
  driver_live(&l);
  ct_fake_cublas_call c;
  memset(&c, 0, sizeof c);
  if (cublas_last) cublas_last(&c);
  int progs = nvrtc_live ? nvrtc_live() : 0;
  snprintf(why, size, "%d allocations, %d modules, %ld streams, %d context references, %d cuBLAS handles, %d NVRTC "
           "programs alive",
           l.allocs, l.modules, l.streams, l.ctx_refs, c.live_handles, progs);
  return l.allocs == 0 && l.modules == 0 && l.streams == 0 && l.ctx_refs == 0 && c.live_handles == 0 && progs == 0;
}

static void set_knob(const entry *e, long k, int code) {
  for (int i = 0; i < LIB_COUNT; i++) unsetenv(lib_var[i]);
  if (!e) return;
  char v[128];
  if (code) snprintf(v, sizeof v, "%s@%ld=%d", e->name, k, code);
  else snprintf(v, sizeof v, "%s@%ld", e->name, k);
  setenv(lib_var[e->lib], v, 1);
}

/* Runs the scenario once; with `e`, fails its kth call. Returns whether
 * everything held. */
static char cold_dir[1200];

/* The cold scenario's cache: keeps NVRTC's library probe (PTX for a
 * compute_XX target, compiled once) and loses every other entry, so that
 * the scenario's kernel is compiled by each run and nothing else is. */
static void chill(void) {
  DIR *d = opendir(cold_dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char p[2400], head[256] = "";
    snprintf(p, sizeof p, "%s/%s", cold_dir, de->d_name);
    FILE *f = fopen(p, "r");
    if (f) {
      if (!fgets(head, sizeof head, f)) head[0] = '\0';
      fclose(f);
    }
    if (!strstr(head, " compute_")) unlink(p);
  }
  closedir(d);
}

static void run_once(scenario *sc, const entry *e, long k, int code, long counts[N_ENTRIES]) {
  if (sc->cold) {
    chill();
    setenv("CT_KERNEL_CACHE_DIR", cold_dir, 1);
  }
  run r;
  memset(&r, 0, sizeof r);
  r.fail = e;
  r.k = k;
  r.code = code;
  cur = &r;
  /* a run starts with no context current, whatever the last one left */
  drv_set_current(NULL);
  set_knob(e, k, code);
  ct_status st = sc->fn(&r);
  set_knob(NULL, 0, 0);
  if (counts)
    for (int i = 0; i < N_ENTRIES; i++) counts[i] = calls_of(&entries[i]);
  int idx = e ? (int)(e - entries) : -1;
  /* a cached image is thrown away only when the driver refused the image
   * itself, not for want of memory or after a context was destroyed */
  if (e && strstr(r.log, "evicting") && r.code != 200 && strcmp(e->name, "cuModuleGetFunction") != 0)
    FAIL_RUN(&r, sc, "a good cached image was evicted: %s", r.log);
  long after = e ? calls_of(e) : 0;
  if (!e) {
    if (st != CT_OK) FAIL_RUN(&r, sc, "fails without an injected failure: %s: %s", r.call, r.msg);
  } else if (after < k) {
    FAIL_RUN(&r, sc, "the failure was not reached (%ld calls)", after);
  } else {
    total_runs++;
    const char *why = NULL;
    if (st == CT_OK) {
      why = absorbed_because(&r, sc, after);
      if (!why) FAIL_RUN(&r, sc, "absorbed without a retry or a reported reason (log: %s)", r.log);
      total_absorbed++;
      absorbed_by_entry[idx]++;
    } else {
      errors_by_entry[idx]++;
      total_errors++;
      bool names_gpu = strstr(r.msg, "GPU") != NULL;
      bool names_what = names_one_of(r.msg, r.what) || strstr(r.msg, e->name);
      if (!names_gpu || !names_what || !r.out_untouched)
        FAIL_RUN(&r, sc, "%s returned %s \"%s\"%s%s%s", r.call, ct_status_name(st), r.msg,
                 names_gpu ? "" : " (no GPU named)", names_what ? "" : " (neither the op nor the call named)",
                 r.out_untouched ? "" : " and wrote its output");
    }
    if (verbose)
      printf("    %s %s@%ld=%d: %s: %s\n", sc->name, e->name, k, code, st == CT_OK ? "absorbed" : ct_status_name(st),
             st == CT_OK ? why : r.msg);
    if (r.ctx && r.ctx != SENTINEL) {
      if (!computes_on(r.ctx, "/CPU:0")) FAIL_RUN(&r, sc, "the CPU no longer computes: %s", ct_last_error());
      if (is_sticky(effective_code(e, code)) && st != CT_OK) {
        sticky_runs++;
        const char *name = effective_code(e, code) == 700 ? "CUDA_ERROR_ILLEGAL_ADDRESS" : "CUDA_ERROR";
        check_gpu_failed(&r, sc, name);
      } else if (ct_context_is_initialized(r.ctx) && ct_gpu_availability(r.ctx, NULL, 0) == CT_GPU_USABLE &&
                 ct_unusable_device_count(r.ctx) == 0) {
        /* after an error that does not destroy a context, the GPUs work,
         * unless the library probe failed: then the GPUs carry NO_NVRTC or
         * NO_CUBLAS with the error, and those kernels are gone for the
         * context by design (src/cuda/library_check.c) */
        bool lib_reported = false;
        for (int p = 0; p < ct_physical_device_count(r.ctx, "GPU"); p++) {
          ct_physical_device_info i;
          if (ct_physical_device_get(r.ctx, "GPU", p, &i) == CT_OK &&
              (i.reason == CT_GPU_NO_NVRTC || i.reason == CT_GPU_NO_CUBLAS) && i.reason_detail[0])
            lib_reported = true;
        }
        bool works = lib_reported || (sc->cold ? computes_neg_on(r.ctx, "/GPU:0")
                                               : computes_on(r.ctx, "/GPU:0") && computes_on(r.ctx, "/GPU:2"));
        if (lib_reported) library_reported++;
        if (!works) FAIL_RUN(&r, sc, "a GPU no longer computes after a passing error: %s", ct_last_error());
      }
    }
  }
  if (r.ctx && r.ctx != SENTINEL) ct_context_free(r.ctx);
  cur = NULL;
  if (sc->cold) setenv("CT_KERNEL_CACHE_DIR", cache_dir, 1);
  char why[256];
  if (!nothing_alive(why, sizeof why)) FAIL_RUN(&r, sc, "after teardown: %s", why);
  /* ctensor leaves the thread's current context as it found it, unless
   * the failed call was the switch back itself */
  void *now = NULL;
  if ((!e || strcmp(e->name, "cuCtxSetCurrent") != 0) && drv_get_current(&now) == 0 && now != NULL)
    FAIL_RUN(&r, sc, "a CUDA context is left current on the thread");
}

static void sweep(scenario *sc) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  failures_here = 0;
  /* first run fills the kernel cache; the second counts */
  run_once(sc, NULL, 0, 0, NULL);
  run_once(sc, NULL, 0, 0, sc->calls);
  if (strcmp(sc->name, "start") != 0) {
    scenario *first = &scenarios[0];
    memcpy(sc->setup, first->calls, sizeof sc->setup);
  }
  long runs_before = total_runs, absorbed_before = total_absorbed;
  long points = 0;
  for (int i = 0; i < N_ENTRIES; i++) {
    const entry *e = &entries[i];
    if (!sc->cold && e->lib == LIB_NVRTC && strcmp(e->name, "nvrtcVersion") != 0 && sc->calls[i] > 0) {
      tu_failures++;
      fprintf(stderr, "[%s] %ld %s calls with a warm kernel cache (%s): the cache is not used\n", sc->name,
              sc->calls[i], e->name, cache_dir);
      continue;
    }
    /* cold: only what compiling and a first load do (the driver's other
     * calls are the warm scenarios' business, each run here compiles) */
    if (sc->cold && e->lib != LIB_NVRTC && strcmp(e->name, "cuModuleLoadData") != 0 &&
        strcmp(e->name, "cuModuleGetFunction") != 0)
      continue;
    for (long k = sc->setup[i] + 1; k <= sc->calls[i]; k++) {
      run_once(sc, e, k, 0, NULL);
      points++;
      points_by_entry[i]++;
      for (size_t j = 0; j < sizeof sticky_too / sizeof sticky_too[0]; j++)
        if (strcmp(sticky_too[j], e->name) == 0) run_once(sc, e, k, 700, NULL);
    }
  }
  /* A cached image the driver refuses (CUDA_ERROR_INVALID_IMAGE) is
   * evicted and compiled again: once, on the elementwise kernel. */
  if (strcmp(sc->name, "elementwise") == 0) {
    for (int i = 0; i < N_ENTRIES; i++)
      if (strcmp(entries[i].name, "cuModuleLoadData") == 0 && sc->calls[i] > sc->setup[i])
        run_once(sc, &entries[i], sc->setup[i] + 1, 200, NULL);
  }
  total_points += points;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("  %-12s %4ld failure points, %4ld runs, %3ld absorbed, %5.1f s%s\n", sc->name, points,
         total_runs - runs_before, total_absorbed - absorbed_before,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
         failures_here ? "  FAILED" : "");
}

static void *open_fake(const char *rel) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", bin_dir, rel);
  return dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

int main(void) {
  const char *b = getenv("CT_BINARY_DIR");
  snprintf(bin_dir, sizeof bin_dir, "%s", b ? b : ".");
  char path[1200];
  snprintf(path, sizeof path, "%s/fake_nvrtc/libnvrtc.so.13", bin_dir);
  if (access(path, R_OK) != 0) {
    printf("SKIP: the fake NVRTC was not built (%s)\n", path);
    return 77;
  }
  setenv("CT_NVRTC_PATH", path, 1);
  snprintf(path, sizeof path, "%s/fake_cuda/libcuda.so.1", bin_dir);
  setenv("CT_CUDA_DRIVER_PATH", path, 1);
  snprintf(path, sizeof path, "%s/fake_cublas/libcublas.so.13", bin_dir);
  setenv("CT_CUBLAS_PATH", path, 1);
  snprintf(path, sizeof path, "%s/fake_cublas/libcublasLt.so.13", bin_dir);
  setenv("CT_CUBLASLT_PATH", path, 1);
  snprintf(path, sizeof path, "%s/emu-tmp", bin_dir);
  mkdir(path, 0700); /* host kernels are written and loaded here: /tmp may be noexec */
  setenv("TMPDIR", path, 1);
  const char *cd = getenv("CT_KERNEL_CACHE_DIR");
  snprintf(cache_dir, sizeof cache_dir, "%s", cd && *cd ? cd : "");
  if (!cache_dir[0]) {
    snprintf(cache_dir, sizeof cache_dir, "%s/test-kernel-cache", bin_dir);
    setenv("CT_KERNEL_CACHE_DIR", cache_dir, 1);
  }
  snprintf(cold_dir, sizeof cold_dir, "%s/gpu-fault-cold-cache", bin_dir);
  mkdir(cold_dir, 0700);
  setenv("CT_FAKE_CUDA_DEVICES", "2", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "64", 1);
  setenv("CT_FAKE_CUDA_SMS", "2", 1);
  static const char *const clear[] = {"CUDA_VISIBLE_DEVICES", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_CTX_ERROR",
                                      "CT_FAKE_CUDA_STICKY", "CT_FAKE_CUDA_LAUNCH_FAULT", "CT_FAKE_CUBLAS_CREATE_ERROR",
                                      "CT_FAKE_CUBLAS_GEMM_ERROR", "CT_KERNEL_CACHE", "CT_FAKE_CUDA_ASYNC_COPY"};
  for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++) unsetenv(clear[i]);
  verbose = getenv("CT_GPU_FAULT_VERBOSE") && strcmp(getenv("CT_GPU_FAULT_VERBOSE"), "1") == 0;

  void *drv = open_fake("fake_cuda/libcuda.so.1"), *blas = open_fake("fake_cublas/libcublas.so.13"),
       *nv = open_fake("fake_nvrtc/libnvrtc.so.13");
  if (!drv || !blas || !nv) {
    fprintf(stderr, "cannot open the fakes: %s\n", dlerror());
    return 1;
  }
  lib_calls[LIB_DRIVER] = (long (*)(const char *))dlsym(drv, "ct_fake_cuda_calls");
  lib_calls[LIB_CUBLAS] = (long (*)(const char *))dlsym(blas, "ct_fake_cublas_calls");
  lib_calls[LIB_NVRTC] = (long (*)(const char *))dlsym(nv, "ct_fake_nvrtc_calls");
  driver_live = (void (*)(ct_fake_cuda_live *))dlsym(drv, "ct_fake_cuda_get_live");
  cublas_last = (void (*)(ct_fake_cublas_call *))dlsym(blas, "ct_fake_cublas_last_call");
  nvrtc_live = (int (*)(void))dlsym(nv, "ct_fake_nvrtc_live_programs");
  drv_set_current = (int (*)(void *))dlsym(drv, "cuCtxSetCurrent");
  drv_get_current = (int (*)(void **))dlsym(drv, "cuCtxGetCurrent");
  if (!lib_calls[LIB_DRIVER] || !lib_calls[LIB_CUBLAS] || !lib_calls[LIB_NVRTC] || !driver_live || !cublas_last ||
      !nvrtc_live || !drv_set_current || !drv_get_current) {
    fprintf(stderr, "the fakes lack their counters\n");
    return 1;
  }
  for (int i = 0; i < N_ENTRIES; i++)
    if (calls_of(&entries[i]) < 0) {
      fprintf(stderr, "the fakes cannot fail %s\n", entries[i].name);
      return 1;
    }

  tu_current = "gpu_fault";
  const char *only = getenv("CT_GPU_FAULT_ONLY");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  printf("GPU driver fault injection (kernel cache %s):\n", cache_dir);
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (i == 0 || !only || strcmp(only, scenarios[i].name) == 0) sweep(&scenarios[i]);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("  %ld failure points, %ld runs with a failed call (%ld of them with an error that destroys a context), "
         "%ld errors, %ld absorbed, %.1f s\n",
         total_points, total_runs, sticky_runs, total_errors, total_absorbed,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  printf("  %ld runs left NVRTC or cuBLAS reported unusable for the context (its probe failed)\n", library_reported);
  printf("  by entry point (failure points / errors / absorbed):\n");
  for (int i = 0; i < N_ENTRIES; i++)
    if (points_by_entry[i])
      printf("    %-28s %4ld %4ld %4ld\n", entries[i].name, points_by_entry[i], errors_by_entry[i], absorbed_by_entry[i]);
  tu_checks += (int)total_runs;
  TEST_MAIN_END();
}
