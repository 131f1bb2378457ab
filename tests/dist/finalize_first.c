/*
 * A program (or mpi4py's exit handler) that finalises MPI before it frees
 * the process group: the group holds a receive posted for its next
 * collective, and freeing it after MPI_Finalize must neither call MPI nor
 * crash. Run by CTest as `mpirun -np 2 dist_finalize_first`.
 */
#include <mpi.h>
#include <stdio.h>

#include "ctensor.h"

int main(void) {
  MPI_Init(NULL, NULL);
  ct_context *ctx = NULL;
  ct_process_group *pg = NULL;
  if (ct_context_new(&ctx) != CT_OK || ct_process_group_new(ctx, NULL, &pg) != CT_OK) {
    fprintf(stderr, "dist_finalize_first: %s\n", ct_last_error());
    return 1;
  }
  int64_t n = 4;
  float v[4] = {1, 2, 3, 4}, got[4] = {0};
  ct_tensor *x = NULL, *y = NULL;
  if (ct_tensor_from_host(ctx, CT_FLOAT32, &n, 1, v, &x) != CT_OK ||
      ct_process_group_all_reduce(pg, x, CT_REDUCE_SUM, &y) != CT_OK || ct_tensor_to_host(y, got, sizeof got) != CT_OK) {
    fprintf(stderr, "dist_finalize_first: %s\n", ct_last_error());
    return 1;
  }
  int size = ct_process_group_size(pg);
  for (int i = 0; i < 4; i++)
    if (got[i] != v[i] * (float)size) {
      fprintf(stderr, "dist_finalize_first: element %d is %g, want %g\n", i, (double)got[i], (double)(v[i] * size));
      return 1;
    }
  ct_tensor_release(x);
  ct_tensor_release(y);
  MPI_Finalize();
  ct_process_group_free(pg);
  ct_context_free(ctx);
  printf("dist_finalize_first: the group freed after MPI_Finalize\n");
  return 0;
}
