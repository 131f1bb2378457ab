/*
 * Collectives on GPU tensors, on the fake GPU (tests/fake_cuda): run by
 * CTest as
 *   mpirun -np 3 dist_nccl nccl     with the fake NCCL (CT_NCCL_PATH): the
 *                                   data moves through NCCL's entry points,
 *                                   on the tensors' stream, never the host;
 *   mpirun -np 2 dist_nccl staged   without NCCL (CT_NCCL_PATH names no
 *                                   file): the data is staged through the
 *                                   host over MPI, counted and logged as a
 *                                   fallback, and refused in strict mode.
 * Helper ops run in a /CPU:0 scope: the fake GPU has no kernels here, only
 * copies and the collectives.
 */
#include <dlfcn.h>
#include <math.h>

#include "cuda/cuda_device.h"
#include "testutil.h"

static ct_context *ctx;
static ct_process_group *pg;
static int rank_, size_;

typedef struct ct_fake_nccl_counters {
  long init, destroy, abort, all_reduce, broadcast, all_gather, reduce_scatter, groups;
  int live_comms;
  void *last_stream;
} ct_fake_nccl_counters;

static ct_fake_nccl_counters nccl_counters(void) {
  ct_fake_nccl_counters c;
  memset(&c, 0, sizeof c);
  void *h = dlopen(getenv("CT_NCCL_PATH"), RTLD_NOW | RTLD_NOLOAD);
  void (*get)(ct_fake_nccl_counters *) = h ? (void (*)(ct_fake_nccl_counters *))dlsym(h, "ct_fake_nccl_counters_get")
                                           : NULL;
  if (get) get(&c);
  if (h) dlclose(h);
  return c;
}

static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
#define N_NUMERIC ((int)(sizeof numeric / sizeof numeric[0]))

/* A GPU tensor of dtype d holding v (made on the CPU, copied over). */
static ct_tensor *gpu(ct_dtype d, const int64_t *shape, int rank, const double *v) {
  ct_tensor *f = NULL, *c = NULL, *g = NULL;
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, shape, rank, v, &f));
  CHECK_OK(ct_cast(ctx, f, d, &c));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_OK(ct_tensor_copy_to(c, "/GPU:0", &g));
  ct_tensor_release(f);
  ct_tensor_release(c);
  return g;
}

/* A GPU tensor's values as float64, checking it is on this task's GPU. */
static void values(const ct_tensor *t, double *out, int64_t n) {
  char want[96];
  snprintf(want, sizeof want, "/job:worker/replica:0/task:%d/device:GPU:0", rank_);
  CHECK_EQ_STR(ct_tensor_device(t), want);
  ct_tensor *h = NULL, *f = NULL;
  CHECK_OK(ct_tensor_copy_to(t, "/CPU:0", &h));
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK_OK(ct_cast(ctx, h, CT_FLOAT64, &f));
  CHECK_OK(ct_device_scope_pop(ctx));
  CHECK_EQ_INT(ct_tensor_num_elements(f), n);
  if (f && ct_tensor_num_elements(f) == n) CHECK_OK(ct_tensor_to_host(f, out, (size_t)n * sizeof(double)));
  ct_tensor_release(h);
  ct_tensor_release(f);
}

static bool near(double a, double b) { return fabs(a - b) <= 0.02 * fabs(b) + 1e-9; }

static char log_text[16384];
static void capture(void *user, ct_log_level level, const char *msg) {
  (void)user;
  (void)level;
  size_t n = strlen(log_text);
  snprintf(log_text + n, sizeof log_text - n, "%s\n", msg);
}

/* ---- with NCCL -------------------------------------------------------------- */

TEST(all_reduce_every_dtype_and_op) {
  int64_t shape[2] = {2, 3};
  double v[6], got[6];
  for (int i = 0; i < 6; i++) v[i] = (rank_ + 1) * (i % 3 + 1);
  for (int di = 0; di < N_NUMERIC; di++)
    for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_PROD; op++) {
      ct_tensor *x = gpu(numeric[di], shape, 2, v), *y = NULL;
      CHECK_OK(ct_process_group_all_reduce(pg, x, (ct_reduce_op)op, &y));
      if (!y) {
        ct_tensor_release(x);
        continue;
      }
      values(y, got, 6);
      for (int i = 0; i < 6; i++) {
        double k = i % 3 + 1, sum = 0, prod = 1;
        for (int r = 0; r < size_; r++) {
          sum += (r + 1) * k;
          prod *= (r + 1) * k;
        }
        double want = op == CT_REDUCE_SUM ? sum : op == CT_REDUCE_MAX ? size_ * k : op == CT_REDUCE_MIN ? k
                    : op == CT_REDUCE_PROD ? prod : sum / size_;
        if (op == CT_REDUCE_MEAN && (numeric[di] == CT_INT32 || numeric[di] == CT_INT64)) want = (double)(long)want;
        if (!near(got[i], want))
          fprintf(stderr, "rank %d: %s %s [%d] = %g, want %g\n", rank_, ct_dtype_name(numeric[di]),
                  ct_reduce_op_name((ct_reduce_op)op), i, got[i], want);
        CHECK(near(got[i], want));
      }
      ct_tensor_release(x);
      ct_tensor_release(y);
    }
  ct_fake_nccl_counters c = nccl_counters();
  CHECK_EQ_INT(c.init, 1);
  CHECK_EQ_INT(c.live_comms, 1);
  CHECK_EQ_INT(c.all_reduce, N_NUMERIC * 5);
  /* NCCL ran on the stream of the tensors' device */
  ct_tensor *probe = NULL;
  int64_t one = 1;
  double z = 0;
  probe = gpu(CT_FLOAT32, &one, 1, &z);
  CHECK(c.last_stream == (void *)ct_cuda_stream_of(probe->device));
  ct_tensor_release(probe);
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
}

TEST(nccl_listed_with_its_version) {
  int n = ct_gpu_library_count(ctx);
  bool seen = false;
  for (int i = 0; i < n; i++) {
    ct_gpu_library_info g;
    CHECK_OK(ct_gpu_library_get(ctx, i, &g));
    if (strcmp(g.name, "nccl") != 0) continue;
    seen = true;
    CHECK(g.loaded);
    CHECK_EQ_INT(g.version_major, 2);
    CHECK_EQ_INT(g.version_minor, 21);
    CHECK(strstr(g.path, "libnccl.so.2") != NULL);
  }
  CHECK(seen);
}

TEST(broadcast_all_gather_reduce_scatter) {
  ct_fake_nccl_counters before = nccl_counters();
  double v[12], got[24];
  /* broadcast from rank 1, bool too */
  int64_t s4[1] = {4};
  for (int i = 0; i < 4; i++) v[i] = rank_ == 1 ? (i % 2) * (i + 1) : 0;
  const ct_dtype bdt[] = {CT_FLOAT32, CT_INT64, CT_BOOL};
  for (int di = 0; di < 3; di++) {
    ct_tensor *x = gpu(bdt[di], s4, 1, v), *y = NULL;
    CHECK_OK(ct_process_group_broadcast(pg, x, 1, &y));
    if (y) {
      values(y, got, 4);
      for (int i = 0; i < 4; i++) CHECK(got[i] == (bdt[di] == CT_BOOL ? (i % 2 != 0) : (i % 2) * (i + 1)));
    }
    ct_tensor_release(x);
    ct_tensor_release(y);
  }
  /* all_gather: rank r has r+1 rows of 2 (uneven), then 2 rows each */
  for (int even = 0; even < 2; even++) {
    int64_t shape[2] = {even ? 2 : rank_ + 1, 2};
    for (int i = 0; i < shape[0] * 2; i++) v[i] = 10 * rank_ + i;
    ct_tensor *x = gpu(CT_FLOAT32, shape, 2, v), *y = NULL;
    CHECK_OK(ct_process_group_all_gather(pg, x, &y));
    int64_t rows = 0;
    for (int r = 0; r < size_; r++) rows += even ? 2 : r + 1;
    if (y) {
      CHECK_EQ_INT(ct_tensor_num_elements(y), rows * 2);
      values(y, got, rows * 2);
      int k = 0;
      for (int r = 0; r < size_; r++)
        for (int i = 0; i < (even ? 2 : r + 1) * 2; i++, k++) CHECK(got[k] == 10 * r + i);
    }
    ct_tensor_release(x);
    ct_tensor_release(y);
  }
  /* reduce_scatter of 4 rows (uneven over 3: 2,1,1) and of 6 rows (even) */
  for (int even = 0; even < 2; even++) {
    int64_t n = even ? 6 : 4, shape[2] = {n, 2};
    for (int i = 0; i < n * 2; i++) v[i] = (rank_ + 1) * (i + 1);
    ct_tensor *x = gpu(CT_INT32, shape, 2, v), *y = NULL;
    CHECK_OK(ct_process_group_reduce_scatter(pg, x, CT_REDUCE_SUM, &y));
    int64_t q = n / size_, m = n % size_, mine = q + (rank_ < m), first = rank_ * q + (rank_ < m ? rank_ : m);
    double tri = size_ * (size_ + 1) / 2.0;
    if (y) {
      values(y, got, mine * 2);
      for (int i = 0; i < mine * 2; i++) CHECK(got[i] == tri * (double)(first * 2 + i + 1));
    }
    ct_tensor_release(x);
    ct_tensor_release(y);
  }
  ct_fake_nccl_counters c = nccl_counters();
  CHECK_EQ_INT(c.broadcast - before.broadcast, 3 + size_); /* 3 broadcasts, then one per rank for the uneven gather */
  CHECK_EQ_INT(c.groups - before.groups, 1);
  CHECK_EQ_INT(c.all_gather - before.all_gather, 1);
  CHECK_EQ_INT(c.reduce_scatter - before.reduce_scatter, 1);
  CHECK_EQ_INT(c.all_reduce - before.all_reduce, 1); /* the uneven reduce_scatter */
  CHECK_EQ_INT(ct_fallback_count(ctx), 0);
}

TEST(strict_mode_needs_no_staging_with_nccl) {
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  int64_t s[1] = {3};
  double v[3] = {1, 2, 3}, got[3];
  ct_tensor *x = gpu(CT_FLOAT32, s, 1, v), *y = NULL;
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_MAX, &y));
  if (y) {
    values(y, got, 3);
    CHECK(got[2] == 3);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
  CHECK_OK(ct_config_set_soft_placement(ctx, true));
}

TEST(nccl_and_mpi_paths_do_not_mix) {
  int64_t s[1] = {3};
  double v[3] = {1, 2, 3};
  ct_tensor *x = NULL, *y = NULL;
  if (rank_ == 0) {
    CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
    CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, s, 1, v, &x));
    CHECK_OK(ct_device_scope_pop(ctx));
  } else {
    x = gpu(CT_FLOAT64, s, 1, v);
  }
  CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT, "float64 [3] over NCCL");
  CHECK(strstr(ct_last_error(), "rank 0: #") != NULL);
  ct_tensor_release(x);
  CHECK_OK(ct_process_group_barrier(pg)); /* the group stays usable */
}

/* ---- without NCCL: staged through the host ---------------------------------- */

TEST(staged_counted_and_logged) {
  ct_context_set_log_callback(ctx, capture, NULL);
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  int64_t s[1] = {4};
  double v[4], got[8];
  for (int i = 0; i < 4; i++) v[i] = rank_ + i;
  ct_tensor *x = gpu(CT_FLOAT32, s, 1, v), *y = NULL;
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y));
  if (y) {
    values(y, got, 4);
    for (int i = 0; i < 4; i++) CHECK(got[i] == 2 * i + 1);
  }
  ct_tensor_release(y);
  y = NULL;
  CHECK_OK(ct_process_group_all_gather(pg, x, &y));
  if (y) {
    values(y, got, 8);
    for (int i = 0; i < 8; i++) CHECK(got[i] == i / 4 + i % 4);
  }
  ct_tensor_release(y);
  CHECK_EQ_INT(ct_fallback_count(ctx), 2);
  ct_fallback_record r;
  CHECK_OK(ct_fallback_get(ctx, 0, &r));
  CHECK_EQ_STR(r.op, "CollectiveReduceV2");
  CHECK_EQ_INT(r.reason, CT_FALLBACK_NO_NCCL);
  CHECK_EQ_INT(r.count, 1);
  CHECK(strstr(r.requested, "/device:GPU:0") != NULL);
  CHECK(strstr(r.placed, "/device:CPU:0") != NULL);
  CHECK_EQ_STR(ct_fallback_reason_name(CT_FALLBACK_NO_NCCL), "NO_NCCL");
  char report[4096];
  ct_placement_report(ctx, report, sizeof report);
  CHECK(strstr(report, "NO_NCCL") != NULL);
  CHECK(strstr(log_text, "NO_NCCL") != NULL);
  CHECK(strstr(log_text, "went through host memory over MPI") != NULL);
  CHECK(strstr(log_text, "CT_NCCL_PATH") != NULL); /* why: the override names no file */
  /* a CPU tensor is no fallback */
  ct_tensor *c = NULL;
  CHECK_OK(ct_tensor_copy_to(x, "/CPU:0", &c));
  y = NULL;
  CHECK_OK(ct_process_group_all_reduce(pg, c, CT_REDUCE_SUM, &y));
  CHECK_EQ_INT(ct_fallback_count(ctx), 2);
  ct_tensor_release(c);
  ct_tensor_release(y);
  ct_tensor_release(x);
  CHECK_OK(ct_config_set_log_placement(ctx, false));
  ct_context_set_log_callback(ctx, NULL, NULL);
}

/* The same all_reduce with the tensor on a GPU in one process and on the
 * CPU in the other: the CPU one could send its data in the agreement, the
 * staged one cannot, and both must still agree and get the sum. */
TEST(staged_and_host_tensors_mix) {
  int64_t s[1] = {3};
  double v[3], got[3];
  for (int i = 0; i < 3; i++) v[i] = (rank_ + 1) * (i + 1);
  ct_tensor *x = NULL, *y = NULL;
  if (rank_ == 0) {
    x = gpu(CT_FLOAT32, s, 1, v);
  } else {
    float f[3] = {(float)v[0], (float)v[1], (float)v[2]};
    CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, s, 1, f, &x));
  }
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y));
  if (y && rank_ == 0) {
    values(y, got, 3);
    for (int i = 0; i < 3; i++) CHECK(got[i] == 3 * (i + 1));
  } else if (y) {
    float f[3];
    CHECK_OK(ct_tensor_to_host(y, f, sizeof f));
    for (int i = 0; i < 3; i++) CHECK(f[i] == 3 * (i + 1));
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
}

/* How many all_reduces were staged through the host so far. */
static int64_t staged_reduces(void) {
  int64_t n = 0;
  for (int i = 0; i < ct_fallback_count(ctx); i++) {
    ct_fallback_record r;
    CHECK_OK(ct_fallback_get(ctx, i, &r));
    if (strcmp(r.op, "CollectiveReduceV2") == 0) n += (int64_t)r.count;
  }
  return n;
}

/* A group in which rank 0 has one GPU tensor (staged) and rank 1 only CPU
 * tensors: rank 0 cannot pack, so after the one agreement every process
 * moves each member by itself -- and the sums are still right. */
TEST(staged_group_unpacked) {
  int64_t s3[1] = {3}, s2[2] = {2, 2};
  double v[4];
  ct_tensor *xs[3] = {NULL, NULL, NULL}, *ys[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 4; i++) v[i] = (rank_ + 1) * (i + 1);
  /* host tensors are made in a /CPU:0 scope: by default they go to the GPU */
  if (rank_ == 0) xs[1] = gpu(CT_FLOAT32, s2, 2, v);
  CHECK_OK(ct_device_scope_push(ctx, "/CPU:0"));
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, s3, 1, v, &xs[0]));
  if (rank_ != 0) {
    float f[4] = {(float)v[0], (float)v[1], (float)v[2], (float)v[3]};
    CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, s2, 2, f, &xs[1]));
  }
  int32_t k[3] = {rank_ + 1, 2 * (rank_ + 1), 3 * (rank_ + 1)};
  CHECK_OK(ct_tensor_from_host(ctx, CT_INT32, s3, 1, k, &xs[2]));
  CHECK_OK(ct_device_scope_pop(ctx));
  for (int i = 0; i < 3; i++) CHECK(strstr(ct_tensor_device(xs[i]), rank_ == 0 && i == 1 ? "GPU:0" : "CPU:0") != NULL);
  /* the group stages what the single call on its GPU member stages */
  int64_t before = staged_reduces();
  ct_tensor *single = NULL;
  CHECK_OK(ct_process_group_all_reduce(pg, xs[1], CT_REDUCE_SUM, &single));
  ct_tensor_release(single);
  int64_t per_call = staged_reduces() - before, fallbacks = staged_reduces();
  CHECK_EQ_INT(per_call > 0, rank_ == 0);
  CHECK_OK(ct_process_group_all_reduce_n(pg, (const ct_tensor *const *)xs, 3, CT_REDUCE_SUM, ys));
  double got[4];
  if (ys[1] && rank_ == 0) {
    values(ys[1], got, 4);
    for (int i = 0; i < 4; i++) CHECK(got[i] == 3 * (i + 1));
    CHECK_EQ_INT(staged_reduces(), fallbacks + per_call); /* the GPU member alone was staged */
  } else if (ys[1]) {
    float f[4];
    CHECK_OK(ct_tensor_to_host(ys[1], f, sizeof f));
    for (int i = 0; i < 4; i++) CHECK(f[i] == 3 * (i + 1));
  }
  if (ys[0]) {
    CHECK_OK(ct_tensor_to_host(ys[0], got, 3 * sizeof(double)));
    for (int i = 0; i < 3; i++) CHECK(got[i] == 3 * (i + 1));
  }
  if (ys[2]) {
    int32_t g[3];
    CHECK_OK(ct_tensor_to_host(ys[2], g, sizeof g));
    for (int i = 0; i < 3; i++) CHECK(g[i] == 3 * (i + 1));
  }
  for (int i = 0; i < 3; i++) {
    CHECK(ys[i] != NULL);
    ct_tensor_release(xs[i]);
    ct_tensor_release(ys[i]);
  }
}

TEST(staged_refused_in_strict_mode) {
  CHECK_OK(ct_config_set_soft_placement(ctx, false));
  int64_t s[1] = {2};
  double v[2] = {1, 2};
  ct_tensor *x = gpu(CT_FLOAT32, s, 1, v), *y = NULL;
  CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT,
            "NCCL cannot run it");
  CHECK(strstr(ct_last_error(), "soft placement is off") != NULL);
  CHECK_EQ_INT(ct_fallback_count(ctx), 2);
  CHECK_OK(ct_config_set_soft_placement(ctx, true));
  CHECK_OK(ct_process_group_barrier(pg));
  ct_tensor_release(x);
}

TEST(nccl_listed_as_missing) {
  int n = ct_gpu_library_count(ctx);
  bool seen = false;
  for (int i = 0; i < n; i++) {
    ct_gpu_library_info g;
    CHECK_OK(ct_gpu_library_get(ctx, i, &g));
    if (strcmp(g.name, "nccl") != 0) continue;
    seen = true;
    CHECK(!g.loaded);
    CHECK(strstr(g.detail, "CT_NCCL_PATH") != NULL);
  }
  CHECK(seen);
}

int main(int argc, char **argv) {
  bool staged = argc > 1 && strcmp(argv[1], "staged") == 0;
  CHECK_OK(ct_context_new(&ctx));
  ct_process_group_options opts = {NULL, 20.0};
  ct_status st = ct_process_group_new(ctx, &opts, &pg);
  if (st != CT_OK) {
    fprintf(stderr, "dist_nccl: %s: %s\n", ct_status_name(st), ct_last_error());
    return 1;
  }
  rank_ = ct_process_group_rank(pg);
  size_ = ct_process_group_size(pg);
  if (ct_logical_device_count(ctx, "GPU") < 1) {
    fprintf(stderr, "dist_nccl: no GPU: run it with the fake driver (CT_CUDA_DRIVER_PATH)\n");
    return 1;
  }
  if (staged) {
    RUN(staged_counted_and_logged);
    RUN(staged_refused_in_strict_mode);
    RUN(staged_and_host_tensors_mix);
    RUN(staged_group_unpacked);
    RUN(nccl_listed_as_missing);
  } else {
    RUN(all_reduce_every_dtype_and_op);
    RUN(nccl_listed_with_its_version);
    RUN(broadcast_all_gather_reduce_scatter);
    RUN(strict_mode_needs_no_staging_with_nccl);
    RUN(nccl_and_mpi_paths_do_not_mix);
  }
  ct_process_group_free(pg);
  if (!staged) {
    ct_fake_nccl_counters c = nccl_counters();
    CHECK_EQ_INT(c.live_comms, 0);
  }
  ct_context_free(ctx);
  TEST_MAIN_END();
}
