/*
 * The collective suite, run by CTest as `mpirun -np 3 dist_collectives`
 * (cmake/parts/dist.cmake). Every process runs every test; a collective
 * that every process must fail is checked on every process. The timeout
 * case runs last: it leaves the group broken.
 */
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static ct_context *ctx;
static ct_process_group *pg;
static int rank_, size_;

static const ct_dtype numeric[] = {CT_FLOAT32, CT_FLOAT64, CT_FLOAT16, CT_BFLOAT16, CT_INT32, CT_INT64};
#define N_NUMERIC ((int)(sizeof numeric / sizeof numeric[0]))

/* A tensor of dtype d holding `v` (exact small values in every dtype). */
static ct_tensor *make(ct_dtype d, const int64_t *shape, int rank, const double *v) {
  ct_tensor *f = NULL, *t = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, shape, rank, v, &f));
  CHECK_OK(ct_cast(ctx, f, d, &t));
  ct_tensor_release(f);
  return t;
}

/* The tensor's values as float64 (n at most). */
static void values(const ct_tensor *t, double *out, int64_t n) {
  ct_tensor *f = NULL;
  CHECK_OK(ct_cast(ctx, t, CT_FLOAT64, &f));
  CHECK_EQ_INT(ct_tensor_num_elements(f), n);
  if (f && ct_tensor_num_elements(f) == n) CHECK_OK(ct_tensor_to_host(f, out, (size_t)n * sizeof(double)));
  ct_tensor_release(f);
}

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char log_text[8192];
static void capture(void *user, ct_log_level level, const char *msg) {
  (void)user;
  (void)level;
  size_t n = strlen(log_text);
  snprintf(log_text + n, sizeof log_text - n, "%s\n", msg);
}

TEST(names_and_sizes) {
  CHECK_EQ_INT(ct_process_group_size(pg), 3);
  CHECK(rank_ >= 0 && rank_ < 3);
  CHECK_EQ_STR(ct_process_group_job(pg), "worker");
  CHECK(ct_process_group_local_size(pg) >= 1);
  CHECK(ct_process_group_local_rank(pg) >= 0 && ct_process_group_local_rank(pg) < ct_process_group_local_size(pg));
  CHECK(strlen(ct_process_group_mpi_version(pg)) > 0);
  char want[128];
  snprintf(want, sizeof want, "/job:worker/replica:0/task:%d/device:CPU:0", rank_);
  ct_logical_device_info info;
  CHECK_OK(ct_logical_device_get(ctx, "CPU", 0, &info));
  CHECK_EQ_STR(info.name, want);
  ct_tensor *t = NULL;
  int64_t shape[1] = {2};
  CHECK_OK(ct_fill(ctx, CT_FLOAT32, shape, 1, 1.0, &t));
  CHECK_EQ_STR(ct_tensor_device(t), want);
  ct_tensor_release(t);
  /* a second group on the same context is refused */
  ct_process_group *again = NULL;
  CHECK_ERR(ct_process_group_new(ctx, NULL, &again), CT_FAILED_PRECONDITION, "initialised already");
}

TEST(remote_devices_listed) {
  CHECK_OK(ct_process_group_barrier(pg));
  int local = ct_logical_device_count(ctx, NULL);
  int n = ct_process_group_device_count(pg);
  CHECK(n >= local + 2); /* at least the two other tasks' CPUs */
  int remote_cpus = 0;
  for (int i = 0; i < n; i++) {
    ct_logical_device_info info;
    bool remote = true;
    CHECK_OK(ct_process_group_device_get(pg, i, &info, &remote));
    CHECK(remote == (i >= local));
    char task[32];
    snprintf(task, sizeof task, "/task:%d/", rank_);
    CHECK((strstr(info.name, task) != NULL) == !remote);
    if (remote && strcmp(info.device_type, "CPU") == 0 && info.index == 0) remote_cpus++;
  }
  CHECK_EQ_INT(remote_cpus, 2);
  ct_logical_device_info info;
  CHECK_ERR(ct_process_group_device_get(pg, n, &info, NULL), CT_OUT_OF_RANGE, "out of range");
}

TEST(remote_placement_refused) {
  ct_tensor *a = NULL, *out = NULL;
  int64_t shape[1] = {2};
  CHECK_OK(ct_ones(ctx, CT_FLOAT32, shape, 1, &a));
  char spec[96];
  snprintf(spec, sizeof spec, "/job:worker/replica:0/task:%d/device:CPU:0", (rank_ + 1) % 3);
  const char *specs[] = {spec, NULL};
  char short_spec[32];
  snprintf(short_spec, sizeof short_spec, "/task:%d", (rank_ + 2) % 3);
  specs[1] = short_spec;
  for (int soft = 1; soft >= 0; soft--) {
    CHECK_OK(ct_config_set_soft_placement(ctx, soft));
    for (int i = 0; i < 2; i++) {
      CHECK_OK(ct_device_scope_push(ctx, specs[i]));
      CHECK_ERR(ct_add(ctx, a, a, &out), CT_UNIMPLEMENTED, "remote execution is not supported; use collectives");
      CHECK_OK(ct_device_scope_pop(ctx));
    }
    CHECK_ERR(ct_tensor_copy_to(a, spec, &out), CT_UNIMPLEMENTED, "remote execution is not supported");
  }
  CHECK_OK(ct_config_set_soft_placement(ctx, true));
  /* this task's own name, written out, is local */
  snprintf(spec, sizeof spec, "/job:worker/task:%d/CPU:0", rank_);
  CHECK_OK(ct_device_scope_push(ctx, spec));
  CHECK_OK(ct_add(ctx, a, a, &out));
  CHECK_OK(ct_device_scope_pop(ctx));
  ct_tensor_release(out);
  ct_tensor_release(a);
}

/* x[i] = (rank + 1) * (i % 3 + 1): sums, products, extremes and means
 * of three ranks are exact in every dtype. */
TEST(all_reduce_every_dtype_and_op) {
  int64_t shape[2] = {2, 3};
  double v[6], got[6];
  for (int i = 0; i < 6; i++) v[i] = (rank_ + 1) * (i % 3 + 1);
  for (int d = 0; d < N_NUMERIC; d++) {
    ct_tensor *x = make(numeric[d], shape, 2, v);
    for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_PROD; op++) {
      ct_tensor *y = NULL;
      CHECK_OK(ct_process_group_all_reduce(pg, x, (ct_reduce_op)op, &y));
      if (!y) continue;
      CHECK_EQ_INT(ct_tensor_dtype(y), numeric[d]);
      CHECK_EQ_INT(ct_tensor_rank(y), 2);
      values(y, got, 6);
      for (int i = 0; i < 6; i++) {
        double k = i % 3 + 1;
        double want = op == CT_REDUCE_SUM ? 6 * k : op == CT_REDUCE_MEAN ? 2 * k : op == CT_REDUCE_MAX ? 3 * k
                    : op == CT_REDUCE_MIN ? k : 6 * k * k * k;
        if (got[i] != want) {
          fprintf(stderr, "rank %d: all_reduce %s %s [%d] = %g, want %g\n", rank_, ct_dtype_name(numeric[d]),
                  ct_reduce_op_name((ct_reduce_op)op), i, got[i], want);
          CHECK(got[i] == want);
          break;
        }
      }
      ct_tensor_release(y);
    }
    ct_tensor_release(x);
  }
  /* integer mean truncates: (1 + 2 + 3 + 1) / 3 is not a thing; 1+2+3 = 6 -> 2, 7/3 -> 2 */
  int64_t one[1] = {1};
  double w = rank_ == 0 ? 2 : rank_ + 1; /* 2 + 2 + 3 = 7 */
  ct_tensor *x = make(CT_INT32, one, 1, &w), *y = NULL;
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_MEAN, &y));
  double g = 0;
  if (y) values(y, &g, 1);
  CHECK(g == 2);
  ct_tensor_release(x);
  ct_tensor_release(y);
}

TEST(broadcast_every_dtype_and_root) {
  int64_t shape[1] = {5};
  double v[5], got[5];
  for (int root = 0; root < 3; root++) {
    for (int d = 0; d < CT_DTYPE_COUNT; d++) {
      for (int i = 0; i < 5; i++) v[i] = d == CT_BOOL ? (rank_ + i) % 2 : rank_ * 10 + i;
      ct_tensor *x = make((ct_dtype)d, shape, 1, v), *y = NULL;
      CHECK_OK(ct_process_group_broadcast(pg, x, root, &y));
      if (y) {
        CHECK_EQ_INT(ct_tensor_dtype(y), d);
        values(y, got, 5);
        for (int i = 0; i < 5; i++) CHECK(got[i] == (d == CT_BOOL ? (root + i) % 2 : root * 10 + i));
      }
      ct_tensor_release(x);
      ct_tensor_release(y);
    }
  }
  ct_tensor *x = make(CT_FLOAT32, shape, 1, v), *y = NULL;
  CHECK_ERR(ct_process_group_broadcast(pg, x, 3, &y), CT_INVALID_ARGUMENT, "root 3 is not a rank");
  ct_tensor_release(x);
}

/* Rank r sends r + 1 rows (rank 1: none in the second round): uneven. */
TEST(all_gather_uneven_every_dtype) {
  for (int round = 0; round < 2; round++) {
    int rows[3] = {1, round ? 0 : 2, 3};
    for (int d = 0; d < CT_DTYPE_COUNT; d++) {
      int64_t shape[2] = {rows[rank_], 2};
      double v[6], got[12];
      for (int i = 0; i < rows[rank_] * 2; i++) v[i] = d == CT_BOOL ? (rank_ + i) % 2 : rank_ * 10 + i;
      ct_tensor *x = make((ct_dtype)d, shape, 2, v), *y = NULL;
      CHECK_OK(ct_process_group_all_gather(pg, x, &y));
      int total = rows[0] + rows[1] + rows[2];
      if (y) {
        CHECK_EQ_INT(ct_tensor_dim(y, 0), total);
        CHECK_EQ_INT(ct_tensor_dim(y, 1), 2);
        values(y, got, total * 2);
        int k = 0;
        for (int r = 0; r < 3; r++)
          for (int i = 0; i < rows[r] * 2; i++, k++) CHECK(got[k] == (d == CT_BOOL ? (r + i) % 2 : r * 10 + i));
      }
      ct_tensor_release(x);
      ct_tensor_release(y);
    }
  }
}

/* 7 rows over 3 ranks: 3, 2, 2. */
TEST(reduce_scatter_uneven_every_dtype_and_op) {
  int64_t shape[2] = {7, 2};
  double v[14], got[6];
  for (int i = 0; i < 14; i++) v[i] = (rank_ + 1) * (i % 3 + 1);
  int first = rank_ == 0 ? 0 : rank_ == 1 ? 3 : 5, mine = rank_ == 0 ? 3 : 2;
  for (int d = 0; d < N_NUMERIC; d++) {
    ct_tensor *x = make(numeric[d], shape, 2, v);
    for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_PROD; op++) {
      ct_tensor *y = NULL;
      CHECK_OK(ct_process_group_reduce_scatter(pg, x, (ct_reduce_op)op, &y));
      if (!y) continue;
      CHECK_EQ_INT(ct_tensor_dim(y, 0), mine);
      values(y, got, mine * 2);
      for (int i = 0; i < mine * 2; i++) {
        double k = (first * 2 + i) % 3 + 1;
        double want = op == CT_REDUCE_SUM ? 6 * k : op == CT_REDUCE_MEAN ? 2 * k : op == CT_REDUCE_MAX ? 3 * k
                    : op == CT_REDUCE_MIN ? k : 6 * k * k * k;
        CHECK(got[i] == want);
      }
      ct_tensor_release(y);
    }
    ct_tensor_release(x);
  }
}

TEST(zero_size_tensors) {
  int64_t shape[2] = {0, 3};
  for (int d = 0; d < N_NUMERIC; d++) {
    ct_tensor *x = NULL, *y = NULL;
    CHECK_OK(ct_zeros(ctx, numeric[d], shape, 2, &x));
    CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y));
    if (y) CHECK_EQ_INT(ct_tensor_num_elements(y), 0);
    ct_tensor_release(y);
    y = NULL;
    CHECK_OK(ct_process_group_broadcast(pg, x, 1, &y));
    ct_tensor_release(y);
    y = NULL;
    CHECK_OK(ct_process_group_all_gather(pg, x, &y));
    if (y) CHECK_EQ_INT(ct_tensor_dim(y, 0), 0);
    ct_tensor_release(y);
    y = NULL;
    CHECK_OK(ct_process_group_reduce_scatter(pg, x, CT_REDUCE_MAX, &y));
    if (y) CHECK_EQ_INT(ct_tensor_dim(y, 0), 0);
    ct_tensor_release(y);
    ct_tensor_release(x);
  }
  /* a scalar all-reduce is fine; a scalar cannot be gathered along axis 0 */
  ct_tensor *s = NULL, *y = NULL;
  double one = 1;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT64, NULL, 0, &one, &s));
  CHECK_OK(ct_process_group_all_reduce(pg, s, CT_REDUCE_SUM, &y));
  double g = 0;
  if (y) values(y, &g, 1);
  CHECK(g == 3);
  ct_tensor_release(y);
  CHECK_ERR(ct_process_group_all_gather(pg, s, &y), CT_INVALID_ARGUMENT, "scalar");
  ct_tensor_release(s);
}

TEST(placed_logged_counted) {
  int64_t shape[1] = {3};
  double v[3] = {1, 2, 3};
  ct_tensor *x = make(CT_FLOAT32, shape, 1, v), *y = NULL;
  uint64_t before = 0, after = 0;
  CHECK_OK(ct_device_op_count(ctx, "CPU:0", &before));
  log_text[0] = '\0';
  ct_context_set_log_callback(ctx, capture, NULL);
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y));
  CHECK_OK(ct_process_group_barrier(pg));
  CHECK_OK(ct_config_set_log_placement(ctx, false));
  ct_context_set_log_callback(ctx, NULL, NULL);
  CHECK_OK(ct_device_op_count(ctx, "CPU:0", &after));
  CHECK_EQ_INT(after - before, 2);
  char want[160];
  snprintf(want, sizeof want, "Executing op CollectiveReduceV2 in device /job:worker/replica:0/task:%d/device:CPU:0",
           rank_);
  CHECK(strstr(log_text, want) != NULL);
  CHECK(strstr(log_text, "Executing op CollectiveBarrier") != NULL);
  if (y) CHECK_EQ_STR(ct_tensor_device(y), want + strlen("Executing op CollectiveReduceV2 in device "));
  ct_tensor_release(x);
  ct_tensor_release(y);
}

/* Every process must fail, naming the ranks and what each asked for; the
 * group stays usable. */
TEST(mismatched_shapes_fail_everywhere) {
  int64_t shape[1] = {rank_ == 1 ? 4 : 3};
  double v[4] = {1, 2, 3, 4};
  ct_tensor *x = make(CT_FLOAT32, shape, 1, v), *y = NULL;
  CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT,
            "ranks 0,2: #");
  CHECK(strstr(ct_last_error(), "rank 1: #") && strstr(ct_last_error(), "all_reduce(sum) float32 [4]") &&
        strstr(ct_last_error(), "all_reduce(sum) float32 [3]"));
  ct_tensor_release(x);
  /* still usable */
  shape[0] = 3;
  x = make(CT_FLOAT32, shape, 1, v);
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_MAX, &y));
  ct_tensor_release(y);
  ct_tensor_release(x);
}

/* Past AGREE_FUSE_MAX bytes the data moves after the agreement, point to
 * point (src/dist/allreduce.c), by whichever algorithm CTest forces
 * (CT_COLLECTIVE_ALGORITHM: recursive doubling, Rabenseifner's) or the
 * cost model picks: every dtype and op, an odd length so that halves are
 * uneven. */
TEST(all_reduce_point_to_point_every_dtype_and_op) {
  enum { N = 3001 };
  int64_t shape[1] = {N};
  static double v[N], got[N];
  for (int i = 0; i < N; i++) v[i] = (rank_ + 1) * (i % 3 + 1);
  for (int d = 0; d < N_NUMERIC; d++) {
    ct_tensor *x = make(numeric[d], shape, 1, v);
    for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_PROD; op++) {
      ct_tensor *y = NULL;
      CHECK_OK(ct_process_group_all_reduce(pg, x, (ct_reduce_op)op, &y));
      if (!y) continue;
      values(y, got, N);
      int bad = -1;
      for (int i = 0; i < N && bad < 0; i++) {
        double k = i % 3 + 1;
        double want = op == CT_REDUCE_SUM ? 6 * k : op == CT_REDUCE_MEAN ? 2 * k : op == CT_REDUCE_MAX ? 3 * k
                    : op == CT_REDUCE_MIN ? k : 6 * k * k * k;
        if (got[i] != want) bad = i;
      }
      if (bad >= 0)
        fprintf(stderr, "rank %d: all_reduce %s %s [%d] = %g\n", rank_, ct_dtype_name(numeric[d]),
                ct_reduce_op_name((ct_reduce_op)op), bad, got[bad]);
      CHECK(bad < 0);
      ct_tensor_release(y);
    }
    ct_tensor_release(x);
  }
}

/* Values whose float32 sum rounds: every process must end with the same
 * bits, and they are those of one fixed expression -- with 3 processes,
 * rank 0's and rank 1's folded first, then rank 2's: (x0 + x1) + x2. The
 * length spans two of the 8 MiB segments. */
static float wobble(int rank, int64_t i) { return (float)(rank + 1) * 0.1f + (float)(i % 1009) * 1e-3f; }

TEST(all_reduce_same_bits_everywhere) {
  const int64_t n = 2200000;
  float *v = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
  CHECK(v && got);
  if (!v || !got) {
    free(v);
    free(got);
    return;
  }
  for (int64_t i = 0; i < n; i++) v[i] = wobble(rank_, i);
  ct_tensor *x = NULL, *y = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, &n, 1, v, &x));
  CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y));
  if (y) {
    CHECK_OK(ct_tensor_to_host(y, got, (size_t)n * sizeof(float)));
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
      float want = (wobble(0, i) + wobble(1, i)) + wobble(2, i);
      if (memcmp(&got[i], &want, sizeof want) != 0) bad = i;
    }
    if (bad >= 0) fprintf(stderr, "rank %d: element %lld = %.9g\n", rank_, (long long)bad, (double)got[bad]);
    CHECK(bad < 0);
  }
  ct_tensor_release(x);
  ct_tensor_release(y);
  free(v);
  free(got);
}

/* CT_COLLECTIVE_ALGORITHM names the algorithm; anything else is refused
 * when the group is made, naming the value. */
TEST(algorithm_variable_checked) {
  const char *was = getenv("CT_COLLECTIVE_ALGORITHM");
  char saved[64];
  snprintf(saved, sizeof saved, "%s", was ? was : "");
  setenv("CT_COLLECTIVE_ALGORITHM", "butterfly", 1);
  ct_context *other = NULL;
  ct_process_group *g = NULL;
  CHECK_OK(ct_context_new(&other));
  CHECK_ERR(ct_process_group_new(other, NULL, &g), CT_INVALID_ARGUMENT, "CT_COLLECTIVE_ALGORITHM='butterfly'");
  CHECK(g == NULL);
  ct_context_free(other);
  if (was) setenv("CT_COLLECTIVE_ALGORITHM", saved, 1);
  else unsetenv("CT_COLLECTIVE_ALGORITHM");
}

/* Up to AGREE_FUSE_MAX bytes the data rides in the agreement exchange;
 * past it, it moves in messages of its own. Both give the same sums, and a
 * process on one side of the line and a process on the other still only
 * fail, with the shapes named. */
TEST(fused_and_separate_all_reduce) {
  const int64_t sizes[] = {1, 999, 1000, 1001, 40000}; /* float32: AGREE_FUSE_MAX (4000 bytes) is 1000 */
  static float v[40000], got[40000];
  for (int k = 0; k < 5; k++) {
    int64_t n = sizes[k];
    for (int64_t i = 0; i < n; i++) v[i] = (float)((rank_ + 1) * (i % 7));
    ct_tensor *x = NULL, *y = NULL;
    CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, &n, 1, v, &x));
    CHECK_OK(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y));
    if (y) {
      CHECK_OK(ct_tensor_to_host(y, got, (size_t)n * sizeof(float)));
      int bad = 0;
      for (int64_t i = 0; i < n; i++) bad += got[i] != (float)(6 * (i % 7));
      CHECK_EQ_INT(bad, 0);
    }
    ct_tensor_release(x);
    ct_tensor_release(y);
  }
  int64_t n = rank_ == 0 ? 40000 : 4;
  ct_tensor *x = NULL, *y = NULL;
  CHECK_OK(ct_tensor_from_host(ctx, CT_FLOAT32, &n, 1, v, &x));
  CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT, "rank 0: #");
  CHECK(strstr(ct_last_error(), "float32 [40000]") && strstr(ct_last_error(), "ranks 1,2: #"));
  ct_tensor_release(x);
  CHECK_OK(ct_process_group_barrier(pg));
}

TEST(mismatched_order_and_dtype_fail_everywhere) {
  int64_t shape[1] = {3};
  double v[3] = {1, 2, 3};
  ct_tensor *x = make(rank_ == 2 ? CT_FLOAT64 : CT_FLOAT32, shape, 1, v), *y = NULL;
  CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT, "rank 2: #");
  CHECK(strstr(ct_last_error(), "float64 [3]") != NULL);
  ct_tensor_release(x);
  x = make(CT_FLOAT32, shape, 1, v);
  /* rank 0 broadcasts while the others all-reduce, then the other way round */
  ct_status st = rank_ == 0 ? ct_process_group_broadcast(pg, x, 0, &y) : ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y);
  CHECK_EQ_INT(st, CT_INVALID_ARGUMENT);
  CHECK(strstr(ct_last_error(), "rank 0: #") && strstr(ct_last_error(), "broadcast(root 0)") &&
        strstr(ct_last_error(), "ranks 1,2: #"));
  st = rank_ == 0 ? ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y) : ct_process_group_barrier(pg);
  CHECK_EQ_INT(st, CT_INVALID_ARGUMENT);
  CHECK(strstr(ct_last_error(), "barrier") != NULL);
  ct_tensor_release(x);
}

/* A process whose call is wrong locally fails with its own message; the
 * others are told it failed instead of waiting for it. */
TEST(local_failure_reaches_everyone) {
  int64_t shape[1] = {2};
  double v[2] = {1, 0};
  ct_tensor *x = make(rank_ == 2 ? CT_BOOL : CT_INT32, shape, 1, v), *y = NULL;
  if (rank_ == 2) {
    CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT, "bool cannot be reduced");
  } else {
    CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_INVALID_ARGUMENT,
              "rank 2: #");
    CHECK(strstr(ct_last_error(), "failed before the collective") != NULL);
  }
  ct_tensor_release(x);
  CHECK_OK(ct_process_group_barrier(pg));
}

/* ---- all_reduce_n ------------------------------------------------------------ */

/* The group of the tests below: mixed dtypes and shapes, an empty member,
 * a scalar, one past AGREE_FUSE_MAX (alone it would move after the
 * agreement, grouped it is packed with the small ones). Float values round
 * when summed, so that a wrong order or a wrong slice shows in the bits. */
#define GROUP_N 9
static const ct_dtype group_dtype[GROUP_N] = {CT_FLOAT32, CT_FLOAT64, CT_INT32, CT_FLOAT16, CT_BFLOAT16,
                                              CT_INT64,   CT_FLOAT32, CT_FLOAT32, CT_FLOAT64};
static const int group_rank[GROUP_N] = {2, 0, 2, 1, 1, 1, 1, 1, 3};
static const int64_t group_shape[GROUP_N][3] = {{2, 3}, {0}, {0, 3}, {5}, {4}, {7}, {1500}, {3}, {2, 1, 2}};

static void make_group(ct_tensor **xs, int salt) {
  static double v[1500];
  for (int m = 0; m < GROUP_N; m++) {
    bool integer = group_dtype[m] == CT_INT32 || group_dtype[m] == CT_INT64;
    for (int i = 0; i < 1500; i++)
      v[i] = integer ? (rank_ + 1) * ((i + m + salt) % 5 + 1) : (rank_ + 1) * 0.1 + (double)((i + m + salt) % 1009) * 1e-3;
    xs[m] = make(group_dtype[m], group_shape[m], group_rank[m], v);
  }
}

static bool same_tensor(const ct_tensor *a, const ct_tensor *b) {
  if (!a || !b || ct_tensor_dtype(a) != ct_tensor_dtype(b) || ct_tensor_rank(a) != ct_tensor_rank(b)) return false;
  for (int k = 0; k < ct_tensor_rank(a); k++)
    if (ct_tensor_dim(a, k) != ct_tensor_dim(b, k)) return false;
  if (strcmp(ct_tensor_device(a), ct_tensor_device(b)) != 0) return false;
  size_t bytes = (size_t)ct_tensor_num_elements(a) * ct_dtype_size(ct_tensor_dtype(a));
  unsigned char *x = malloc(bytes + 1), *y = malloc(bytes + 1);
  bool same = x && y && ct_tensor_to_host(a, x, bytes) == CT_OK && ct_tensor_to_host(b, y, bytes) == CT_OK &&
              memcmp(x, y, bytes) == 0;
  free(x);
  free(y);
  return same;
}

/* Every op: the group gives the bits of one all_reduce per member, in one
 * collective, counted as one CollectiveReduceV2 per member. */
TEST(all_reduce_n_matches_separate_calls) {
  ct_tensor *xs[GROUP_N], *one[GROUP_N], *grouped[GROUP_N];
  make_group(xs, 0);
  for (int op = CT_REDUCE_SUM; op <= CT_REDUCE_PROD; op++) {
    for (int m = 0; m < GROUP_N; m++) {
      one[m] = NULL;
      CHECK_OK(ct_process_group_all_reduce(pg, xs[m], (ct_reduce_op)op, &one[m]));
    }
    uint64_t seq0 = ct_process_group_collective_count(pg), ops0 = 0, ops1 = 0;
    CHECK_OK(ct_device_op_count(ctx, "CPU:0", &ops0));
    memset(grouped, 0, sizeof grouped);
    CHECK_OK(ct_process_group_all_reduce_n(pg, (const ct_tensor *const *)xs, GROUP_N, (ct_reduce_op)op, grouped));
    CHECK_OK(ct_device_op_count(ctx, "CPU:0", &ops1));
    CHECK_EQ_INT(ct_process_group_collective_count(pg) - seq0, 1);
    CHECK_EQ_INT(ops1 - ops0, GROUP_N);
    for (int m = 0; m < GROUP_N; m++) {
      if (!same_tensor(one[m], grouped[m]))
        fprintf(stderr, "rank %d: all_reduce_n %s member %d (%s) differs from all_reduce\n", rank_,
                ct_reduce_op_name((ct_reduce_op)op), m, ct_dtype_name(group_dtype[m]));
      CHECK(same_tensor(one[m], grouped[m]));
      ct_tensor_release(one[m]);
      ct_tensor_release(grouped[m]);
    }
  }
  /* n == 1 is the single call: one collective, same bits */
  ct_tensor *a = NULL, *b = NULL;
  CHECK_OK(ct_process_group_all_reduce(pg, xs[6], CT_REDUCE_MEAN, &a));
  uint64_t seq0 = ct_process_group_collective_count(pg);
  CHECK_OK(ct_process_group_all_reduce_n(pg, (const ct_tensor *const *)&xs[6], 1, CT_REDUCE_MEAN, &b));
  CHECK_EQ_INT(ct_process_group_collective_count(pg) - seq0, 1);
  CHECK(same_tensor(a, b));
  ct_tensor_release(a);
  ct_tensor_release(b);
  for (int m = 0; m < GROUP_N; m++) ct_tensor_release(xs[m]);
}

/* Placed and logged per member, like the single call. */
TEST(all_reduce_n_logged_per_member) {
  ct_tensor *xs[GROUP_N], *ys[GROUP_N] = {NULL};
  make_group(xs, 1);
  log_text[0] = '\0';
  ct_context_set_log_callback(ctx, capture, NULL);
  CHECK_OK(ct_config_set_log_placement(ctx, true));
  CHECK_OK(ct_process_group_all_reduce_n(pg, (const ct_tensor *const *)xs, GROUP_N, CT_REDUCE_SUM, ys));
  CHECK_OK(ct_config_set_log_placement(ctx, false));
  ct_context_set_log_callback(ctx, NULL, NULL);
  int logged = 0;
  for (const char *p = log_text; (p = strstr(p, "Executing op CollectiveReduceV2")) != NULL; p++) logged++;
  CHECK_EQ_INT(logged, GROUP_N);
  for (int m = 0; m < GROUP_N; m++) {
    ct_tensor_release(xs[m]);
    ct_tensor_release(ys[m]);
  }
}

static bool untouched(ct_tensor *const *ys, int n) {
  for (int m = 0; m < n; m++)
    if (ys[m] != NULL) return false;
  return true;
}

/* Different groups fail on every process, naming the ranks; local errors
 * reach the others; nothing is written on a failure; the group stays
 * usable. */
TEST(all_reduce_n_mismatches_and_errors) {
  ct_tensor *xs[GROUP_N], *ys[GROUP_N] = {NULL};
  make_group(xs, 2);
  const ct_tensor *const *cx = (const ct_tensor *const *)xs;
  /* rank 1 passes one tensor fewer */
  CHECK_ERR(ct_process_group_all_reduce_n(pg, cx, rank_ == 1 ? GROUP_N - 1 : GROUP_N, CT_REDUCE_SUM, ys),
            CT_INVALID_ARGUMENT, "rank 1: #");
  CHECK(strstr(ct_last_error(), "ranks 0,2: #") && strstr(ct_last_error(), "all_reduce_n(sum) of 9 tensors") &&
        strstr(ct_last_error(), "all_reduce_n(sum) of 8 tensors"));
  CHECK(untouched(ys, GROUP_N));
  /* rank 2's fourth member has another shape (same count of elements) */
  ct_tensor *other = NULL;
  if (rank_ == 2) {
    int64_t shape[2] = {5, 1};
    double v[5] = {1, 2, 3, 4, 5};
    other = make(CT_FLOAT16, shape, 2, v);
    ct_tensor_release(xs[3]);
    xs[3] = other;
  }
  CHECK_ERR(ct_process_group_all_reduce_n(pg, cx, GROUP_N, CT_REDUCE_MAX, ys), CT_INVALID_ARGUMENT, "rank 2: #");
  CHECK(strstr(ct_last_error(), "ranks 0,1: #") && strstr(ct_last_error(), "all_reduce_n(max) of 9 tensors"));
  CHECK(untouched(ys, GROUP_N));
  /* a group and a single all_reduce */
  ct_status st = rank_ == 0 ? ct_process_group_all_reduce(pg, xs[0], CT_REDUCE_SUM, &ys[0])
                            : ct_process_group_all_reduce_n(pg, cx, GROUP_N, CT_REDUCE_SUM, ys);
  CHECK_EQ_INT(st, CT_INVALID_ARGUMENT);
  CHECK(strstr(ct_last_error(), "rank 0: #") && strstr(ct_last_error(), "all_reduce(sum) float32 [2,3]"));
  CHECK(untouched(ys, GROUP_N));
  /* n == 0 and NULL arrays everywhere */
  CHECK_ERR(ct_process_group_all_reduce_n(pg, cx, 0, CT_REDUCE_SUM, ys), CT_INVALID_ARGUMENT, "n = 0");
  CHECK_ERR(ct_process_group_all_reduce_n(pg, NULL, 2, CT_REDUCE_SUM, ys), CT_INVALID_ARGUMENT, "NULL tensor array");
  CHECK_ERR(ct_process_group_all_reduce_n(pg, cx, 2, CT_REDUCE_SUM, NULL), CT_INVALID_ARGUMENT, "NULL output array");
  /* a NULL member on rank 0, a bool member on rank 1: each fails with its
   * own message, the others are told */
  ct_tensor *saved = xs[5], *flag = NULL;
  if (rank_ == 1) {
    int64_t two[1] = {2};
    double v[2] = {1, 0};
    flag = make(CT_BOOL, two, 1, v);
  }
  for (int who = 0; who < 2; who++) {
    xs[5] = rank_ == 0 && who == 0 ? NULL : rank_ == 1 && who == 1 ? flag : saved;
    st = ct_process_group_all_reduce_n(pg, cx, GROUP_N, CT_REDUCE_SUM, ys);
    CHECK_EQ_INT(st, CT_INVALID_ARGUMENT);
    if (rank_ == who) {
      CHECK(strstr(ct_last_error(), who == 0 ? "tensor is NULL (tensor 5 of 9)" : "bool cannot be reduced") != NULL);
    } else {
      char want[32];
      snprintf(want, sizeof want, "rank %d: #", who);
      CHECK(strstr(ct_last_error(), want) && strstr(ct_last_error(), "failed before the collective"));
    }
    CHECK(untouched(ys, GROUP_N));
  }
  xs[5] = saved;
  ct_tensor_release(flag);
  /* still usable */
  if (rank_ == 2) {
    ct_tensor_release(xs[3]);
    double v[5] = {0};
    xs[3] = make(CT_FLOAT16, group_shape[3], 1, v);
  }
  CHECK_OK(ct_process_group_all_reduce_n(pg, cx, GROUP_N, CT_REDUCE_SUM, ys));
  CHECK(ys[8] != NULL && ct_tensor_num_elements(ys[8]) == 4);
  for (int m = 0; m < GROUP_N; m++) {
    ct_tensor_release(xs[m]);
    ct_tensor_release(ys[m]);
  }
  CHECK_OK(ct_process_group_barrier(pg));
}

/* Last: rank 2 skips a collective; 0 and 1 give up after the timeout. */
TEST(stuck_collective_times_out) {
  CHECK_OK(ct_process_group_set_timeout(pg, 1.0));
  CHECK_ERR(ct_process_group_set_timeout(pg, -1), CT_INVALID_ARGUMENT, "-1 seconds");
  CHECK(ct_process_group_timeout(pg) == 1.0);
  int64_t shape[1] = {3};
  double v[3] = {1, 2, 3};
  ct_tensor *x = make(CT_FLOAT32, shape, 1, v), *y = NULL;
  if (rank_ != 2) {
    double t0 = seconds();
    CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_DEADLINE_EXCEEDED, "did not complete within 1 s");
    double took = seconds() - t0;
    CHECK(took >= 0.9 && took < 5);
    CHECK_ERR(ct_process_group_barrier(pg), CT_FAILED_PRECONDITION, "broken by an earlier failure");
  } else {
    sleep(2); /* past the others' deadline; then leave without taking part */
  }
  ct_tensor_release(x);
}

/* A process that dies: the others fail with UNAVAILABLE naming it, well
 * within the timeout (run as its own test: the group is gone after it). */
static int rank_death(void) {
  int64_t shape[1] = {3};
  double v[3] = {1, 2, 3};
  ct_tensor *x = make(CT_FLOAT32, shape, 1, v), *y = NULL;
  CHECK_OK(ct_process_group_barrier(pg));
  if (rank_ == 2) _exit(0); /* no MPI_Finalize: a crash, as the others see it */
  double t0 = seconds();
  CHECK_ERR(ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y), CT_UNAVAILABLE, "rank 2 (pid");
  CHECK(seconds() - t0 < 5);
  printf("rank %d: %s (%.2f s)\n", rank_, ct_last_error(), seconds() - t0);
  ct_tensor_release(x);
  TEST_MAIN_END();
}

int main(int argc, char **argv) {
  CHECK_OK(ct_context_new(&ctx));
  ct_process_group_options opts = {NULL, 10.0};
  ct_status st = ct_process_group_new(ctx, &opts, &pg);
  if (st != CT_OK) {
    fprintf(stderr, "dist_collectives: %s: %s\n", ct_status_name(st), ct_last_error());
    return 1;
  }
  rank_ = ct_process_group_rank(pg);
  size_ = ct_process_group_size(pg);
  if (size_ != 3) {
    fprintf(stderr, "dist_collectives: run it with 3 processes (mpirun -np 3), not %d\n", size_);
    return 1;
  }
  if (argc > 1 && strcmp(argv[1], "--rank-death") == 0) return rank_death();
  double t0 = seconds();
  RUN(names_and_sizes);
  RUN(remote_devices_listed);
  RUN(remote_placement_refused);
  RUN(all_reduce_every_dtype_and_op);
  RUN(broadcast_every_dtype_and_root);
  RUN(all_gather_uneven_every_dtype);
  RUN(reduce_scatter_uneven_every_dtype_and_op);
  RUN(zero_size_tensors);
  RUN(placed_logged_counted);
  RUN(mismatched_shapes_fail_everywhere);
  RUN(fused_and_separate_all_reduce);
  RUN(all_reduce_point_to_point_every_dtype_and_op);
  RUN(all_reduce_same_bits_everywhere);
  RUN(algorithm_variable_checked);
  RUN(mismatched_order_and_dtype_fail_everywhere);
  RUN(local_failure_reaches_everyone);
  RUN(all_reduce_n_matches_separate_calls);
  RUN(all_reduce_n_logged_per_member);
  RUN(all_reduce_n_mismatches_and_errors);
  RUN(stuck_collective_times_out);
  printf("rank %d: %.2f s\n", rank_, seconds() - t0);
  ct_process_group_free(pg);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
