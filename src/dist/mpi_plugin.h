/*
 * The contract between the core and libctensor_mpi.so, the one file built
 * against an MPI (DESIGN.md: "No MPI, no dependency"). The core knows no
 * MPI type: handles are opaque pointers, dtypes and reductions are
 * ctensor's enums, results are MPI error codes (0 = success) that the
 * plugin turns into text. Every data call is non-blocking; the core waits
 * on it with `test`, so that it can give up after a timeout.
 */
#ifndef CT_DIST_MPI_PLUGIN_H
#define CT_DIST_MPI_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

/* Bumped on any change of the table below; the core refuses another. */
#define CT_MPI_PLUGIN_ABI 2
#define CT_MPI_PLUGIN_SYMBOL "ct_mpi_plugin_v2"

typedef struct ct_mpi_plugin {
  int abi;
  /* MPI_Init_thread unless MPI is initialised already; *initialized_here
   * says whether this call did it (then finalize is ours to call). */
  int (*init)(int *initialized_here);
  int (*finalize)(void);
  void (*library_version)(char *out, size_t size);
  void (*error_string)(int code, char *out, size_t size);
  /* A duplicate of MPI_COMM_WORLD whose errors are returned, not fatal. */
  int (*comm_new)(void **comm);
  void (*comm_free)(void *comm);
  int (*comm_info)(void *comm, int *rank, int *size, int *local_rank, int *local_size);
  /* Counts are in elements of `dtype` (a ct_dtype; bool moves as bytes).
   * send NULL: in place (recv holds this process's contribution). */
  int (*iallreduce)(void *comm, const void *send, void *recv, int count, int dtype, int op, void **req);
  int (*ibcast)(void *comm, void *buf, int count, int dtype, int root, void **req);
  int (*iallgatherv)(void *comm, const void *send, int count, void *recv, const int *counts, const int *displs,
                     int dtype, void **req);
  int (*ireduce_scatter)(void *comm, const void *send, void *recv, const int *counts, int dtype, int op,
                         void **req);
  int (*ibarrier)(void *comm, void **req);
  /* Point to point, in bytes, for the agreement exchange (process_group.c):
   * a receive may get fewer bytes than `capacity`, never more. */
  int (*isend)(void *comm, const void *buf, int bytes, int peer, int tag, void **req);
  int (*irecv)(void *comm, void *buf, int capacity, int peer, int tag, void **req);
  /* *done = 1 when the request completed (it is freed then). */
  int (*test)(void *req, int *done);
  /* Forgets a request that will never be waited for again (after a
   * timeout): its buffers must stay allocated, the process is broken. */
  void (*abandon)(void *req);
} ct_mpi_plugin;

typedef const ct_mpi_plugin *(*ct_mpi_plugin_fn)(void);

#endif /* CT_DIST_MPI_PLUGIN_H */
