/*
 * All-reduce of float32 from 4 B to 64 MiB: ctensor's all_reduce against a
 * raw MPI_Allreduce on the same buffers, in one MPI job (mpirun -np 2).
 * Prints, per size, the minimum and the median time of each and ctensor's
 * ratios; bus bandwidth (from the minima) as nccl-tests defines it,
 * 2(n-1)/n x bytes / time. Minima are what a shared machine measures
 * best: other processes only ever add time.
 *
 * Then tensor fusion: 64 float32 tensors of 256 elements (a small model's
 * gradients), reduced by 64 ct_process_group_all_reduce calls against one
 * ct_process_group_all_reduce_n, interleaved likewise.
 */
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctensor.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  MPI_Init(NULL, NULL);
  ct_context *ctx;
  ct_process_group *pg;
  ct_context_new(&ctx);
  if (ct_process_group_new(ctx, NULL, &pg) != CT_OK) {
    fprintf(stderr, "%s\n", ct_last_error());
    return 1;
  }
  int rank = ct_process_group_rank(pg), n = ct_process_group_size(pg);
  if (rank == 0)
    printf("%10s %10s %10s %9s %10s %10s %9s %10s %10s\n", "bytes", "mpi_min", "ct_min", "ratio_min", "mpi_med",
           "ct_med", "ratio_med", "mpi_GB/s", "ct_GB/s");
  /* --fusion-only: skip the size sweep */
  bool sweep = !(argc > 1 && strcmp(argv[1], "--fusion-only") == 0);
  for (int64_t bytes = 4; sweep && bytes <= (64 << 20); bytes *= 4) {
    int64_t count = bytes / 4;
    float *buf = malloc((size_t)bytes), *out = malloc((size_t)bytes);
    for (int64_t i = 0; i < count; i++) buf[i] = (float)i;
    ct_tensor *x = NULL;
    ct_tensor_from_host(ctx, CT_FLOAT32, &count, 1, buf, &x);
    int reps = bytes <= (64 << 10) ? 2000 : bytes < (1 << 20) ? 200 : bytes < (16 << 20) ? 20 : 6;
    static double t_mpi[2000], t_ct[2000];
    for (int r = 0; r < reps + 3; r++) { /* interleaved, 3 warm-ups */
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      MPI_Allreduce(buf, out, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      double t1 = MPI_Wtime();
      MPI_Barrier(MPI_COMM_WORLD);
      double t2 = MPI_Wtime();
      ct_tensor *y = NULL;
      ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y);
      double t3 = MPI_Wtime();
      ct_tensor_release(y);
      if (r >= 3) {
        t_mpi[r - 3] = t1 - t0;
        t_ct[r - 3] = t3 - t2;
      }
    }
    qsort(t_mpi, (size_t)reps, sizeof(double), cmp);
    qsort(t_ct, (size_t)reps, sizeof(double), cmp);
    double m0 = t_mpi[0], c0 = t_ct[0], m = t_mpi[reps / 2], c = t_ct[reps / 2];
    double f = 2.0 * (n - 1) / n * (double)bytes / 1e9;
    if (rank == 0)
      printf("%10lld %10.2f %10.2f %9.2f %10.2f %10.2f %9.2f %10.3f %10.3f\n", (long long)bytes, m0 * 1e6, c0 * 1e6,
             c0 / m0, m * 1e6, c * 1e6, c / m, f / m0, f / c0);
    ct_tensor_release(x);
    free(buf);
    free(out);
  }
  /* 64 x 256 float32: one by one, then grouped */
  enum { K = 64, ELEMS = 256, REPS = 2000 };
  ct_tensor *xs[K], *ys[K];
  int64_t elems = ELEMS;
  for (int k = 0; k < K; k++) {
    float v[ELEMS];
    for (int i = 0; i < ELEMS; i++) v[i] = (float)(k + i);
    ct_tensor_from_host(ctx, CT_FLOAT32, &elems, 1, v, &xs[k]);
  }
  static double t_one[REPS], t_grp[REPS];
  for (int r = 0; r < REPS + 3; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int k = 0; k < K; k++) ct_process_group_all_reduce(pg, xs[k], CT_REDUCE_SUM, &ys[k]);
    double t1 = MPI_Wtime();
    for (int k = 0; k < K; k++) ct_tensor_release(ys[k]);
    MPI_Barrier(MPI_COMM_WORLD);
    double t2 = MPI_Wtime();
    if (ct_process_group_all_reduce_n(pg, (const ct_tensor *const *)xs, K, CT_REDUCE_SUM, ys) != CT_OK) {
      fprintf(stderr, "all_reduce_n: %s\n", ct_last_error());
      return 1;
    }
    double t3 = MPI_Wtime();
    for (int k = 0; k < K; k++) ct_tensor_release(ys[k]);
    if (r >= 3) {
      t_one[r - 3] = t1 - t0;
      t_grp[r - 3] = t3 - t2;
    }
  }
  qsort(t_one, REPS, sizeof(double), cmp);
  qsort(t_grp, REPS, sizeof(double), cmp);
  if (rank == 0)
    printf("\n%d x %d float32: one by one min %.1f us median %.1f us; grouped min %.1f us median %.1f us "
           "(%.1fx / %.1fx faster)\n",
           K, ELEMS, t_one[0] * 1e6, t_one[REPS / 2] * 1e6, t_grp[0] * 1e6, t_grp[REPS / 2] * 1e6,
           t_one[0] / t_grp[0], t_one[REPS / 2] / t_grp[REPS / 2]);
  for (int k = 0; k < K; k++) ct_tensor_release(xs[k]);
  ct_process_group_free(pg);
  ct_context_free(ctx);
  MPI_Finalize();
  return 0;
}
