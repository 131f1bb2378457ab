/*
 * The collectives step of bench/gpu/run.sh (issue 15): on one GPU, one
 * process (mpirun -np 1),
 *   gpu_dist nccl     all_reduce (sum, max, mean), broadcast, all_gather and
 *                     reduce_scatter of GPU tensors through NCCL: results
 *                     checked, no fallback counted, and the time of an
 *                     all-reduce of 4 B and 64 MiB (on one rank NCCL copies
 *                     locally: this checks the path, not a network);
 *   gpu_dist staged   the same all_reduce with NCCL out of reach (run.sh
 *                     sets CT_NCCL_PATH to a file that does not exist):
 *                     staged through the host, counted as NO_NCCL, and
 *                     refused with soft placement off.
 * Exit status: 0 passed, 1 a check failed, 77 skipped (no GPU, no MPI
 * plugin, or for `nccl` no NCCL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctensor.h"

static int failures;
#define EXPECT(cond, ...)                            \
  do {                                               \
    if (!(cond)) {                                   \
      failures++;                                    \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
      printf(__VA_ARGS__);                           \
      printf("\n");                                  \
    }                                                \
  } while (0)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ct_context *ctx;
static ct_process_group *pg;

static ct_tensor *on_gpu(int64_t n, float base) {
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = base + (float)(i % 17);
  ct_tensor *t = NULL;
  ct_device_scope_push(ctx, "/GPU:0");
  ct_status st = ct_tensor_from_host(ctx, CT_FLOAT32, &n, 1, v, &t);
  ct_device_scope_pop(ctx);
  free(v);
  EXPECT(st == CT_OK, "tensor on the GPU: %s", ct_last_error());
  return t;
}

/* On one rank every collective returns its input. */
static void expect_same(const ct_tensor *y, int64_t n, float base, const char *what) {
  if (!y) return;
  EXPECT(strstr(ct_tensor_device(y), "GPU:0") != NULL, "%s: result on %s", what, ct_tensor_device(y));
  float *v = malloc((size_t)n * sizeof *v);
  EXPECT(ct_tensor_to_host(y, v, (size_t)n * sizeof *v) == CT_OK, "%s: %s", what, ct_last_error());
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad += v[i] != base + (float)(i % 17);
  EXPECT(bad == 0, "%s: %lld of %lld values wrong", what, (long long)bad, (long long)n);
  free(v);
}

static double time_all_reduce(int64_t n, int reps) {
  ct_tensor *x = on_gpu(n, 1), *y = NULL;
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    ct_status st = ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y);
    if (st == CT_OK) st = ct_context_synchronize(ctx);
    double t = now() - t0;
    EXPECT(st == CT_OK, "all_reduce of %lld: %s", (long long)n, ct_last_error());
    ct_tensor_release(y);
    y = NULL;
    if (t < best) best = t;
  }
  ct_tensor_release(x);
  return best;
}

static int run_nccl(void) {
  const int64_t n = 1000;
  ct_tensor *x = on_gpu(n, 3), *y = NULL;
  const ct_reduce_op ops[] = {CT_REDUCE_SUM, CT_REDUCE_MAX, CT_REDUCE_MEAN};
  for (int i = 0; i < 3; i++) {
    EXPECT(ct_process_group_all_reduce(pg, x, ops[i], &y) == CT_OK, "all_reduce: %s", ct_last_error());
    expect_same(y, n, 3, ct_reduce_op_name(ops[i]));
    ct_tensor_release(y);
    y = NULL;
  }
  EXPECT(ct_process_group_broadcast(pg, x, 0, &y) == CT_OK, "broadcast: %s", ct_last_error());
  expect_same(y, n, 3, "broadcast");
  ct_tensor_release(y);
  y = NULL;
  EXPECT(ct_process_group_all_gather(pg, x, &y) == CT_OK, "all_gather: %s", ct_last_error());
  expect_same(y, n, 3, "all_gather");
  ct_tensor_release(y);
  y = NULL;
  EXPECT(ct_process_group_reduce_scatter(pg, x, CT_REDUCE_SUM, &y) == CT_OK, "reduce_scatter: %s", ct_last_error());
  expect_same(y, n, 3, "reduce_scatter");
  ct_tensor_release(y);
  ct_tensor_release(x);
  EXPECT(ct_fallback_count(ctx) == 0, "%d fallbacks: a collective was staged through the host",
         ct_fallback_count(ctx));
  char version[32] = "?", path[600] = "";
  for (int i = 0; i < ct_gpu_library_count(ctx); i++) {
    ct_gpu_library_info g;
    if (ct_gpu_library_get(ctx, i, &g) == CT_OK && strcmp(g.name, "nccl") == 0) {
      snprintf(version, sizeof version, "%d.%d", g.version_major, g.version_minor);
      snprintf(path, sizeof path, "%s", g.path);
    }
  }
  int64_t big = getenv("GPU_CHECK_SMALL") ? (1 << 16) : (16 << 20);
  double t_small = time_all_reduce(1, 50), t_big = time_all_reduce(big, 10);
  printf("NCCL %s (%s): 6 collectives on GPU tensors checked, 0 fallbacks; all_reduce 4 B %.1f us, %lld KiB %.1f us "
         "(1 rank)\n",
         version, path, t_small * 1e6, (long long)(big * 4 >> 10), t_big * 1e6);
  return failures ? 1 : 0;
}

static int run_staged(void) {
  const int64_t n = 1000;
  ct_tensor *x = on_gpu(n, 5), *y = NULL;
  EXPECT(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y) == CT_OK, "staged all_reduce: %s", ct_last_error());
  expect_same(y, n, 5, "staged all_reduce");
  ct_tensor_release(y);
  y = NULL;
  ct_fallback_record r;
  memset(&r, 0, sizeof r);
  EXPECT(ct_fallback_count(ctx) == 1 && ct_fallback_get(ctx, 0, &r) == CT_OK && r.reason == CT_FALLBACK_NO_NCCL,
         "expected one NO_NCCL fallback, got %d (%s)", ct_fallback_count(ctx), ct_fallback_reason_name(r.reason));
  ct_config_set_soft_placement(ctx, false);
  ct_status st = ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y);
  EXPECT(st == CT_INVALID_ARGUMENT && strstr(ct_last_error(), "soft placement is off"),
         "strict mode: expected INVALID_ARGUMENT, got %s: %s", ct_status_name(st), ct_last_error());
  ct_config_set_soft_placement(ctx, true);
  ct_tensor_release(x);
  double t = time_all_reduce(1 << 20, 5);
  printf("without NCCL: staged through the host and counted (%s -> %s, NO_NCCL), refused in strict mode; "
         "all_reduce 4 MiB %.1f us (1 rank)\n",
         r.requested, r.placed, t * 1e6);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "nccl") != 0 && strcmp(argv[1], "staged") != 0)) {
    fprintf(stderr, "usage: gpu_dist nccl|staged\n");
    return 2;
  }
  ct_context_new(&ctx);
  if (ct_process_group_new(ctx, NULL, &pg) != CT_OK) {
    printf("skipped: no process group: %s\n", ct_last_error());
    return 77;
  }
  if (ct_logical_device_count(ctx, "GPU") < 1) {
    printf("skipped: no usable GPU\n");
    return 77;
  }
  int rc;
  if (strcmp(argv[1], "nccl") == 0) {
    ct_tensor *x = on_gpu(1, 0), *y = NULL;
    ct_status st = ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y);
    ct_tensor_release(x);
    ct_tensor_release(y);
    if (st == CT_OK && ct_fallback_count(ctx) > 0) {
      ct_fallback_record r;
      ct_fallback_get(ctx, 0, &r);
      printf("skipped: NCCL not usable here (the collective was staged: %s); see ctensor devices --verbose\n",
             ct_fallback_reason_name(r.reason));
      rc = 77;
    } else {
      rc = st == CT_OK ? run_nccl() : (printf("FAIL first all_reduce: %s\n", ct_last_error()), 1);
    }
  } else {
    rc = run_staged();
  }
  ct_process_group_free(pg);
  ct_context_free(ctx);
  return rc;
}
