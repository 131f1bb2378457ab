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
#define CT_MPI_PLUGIN_ABI 3
#define CT_MPI_PLUGIN_SYMBOL "ct_mpi_plugin_v3"

/* Storage for one point-to-point request, in the caller's memory: an
 * MPI_Request is an int in MPICH and a pointer in Open MPI. */
#define CT_MPI_REQUEST_MAX 16
typedef struct ct_mpi_request {
  _Alignas(16) unsigned char bytes[CT_MPI_REQUEST_MAX];
} ct_mpi_request;

/* A receive's tag that matches any tag. */
#define CT_MPI_ANY_TAG (-1)

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
  /* *done = 1 when the request of a collective completed (it is freed
   * then). */
  int (*test)(void *req, int *done);
  /* Forgets a request of a collective that will never be waited for
   * again (after a timeout): its buffers must stay allocated, the process
   * is broken. */
  void (*abandon)(void *req);
  /* Point to point, in bytes: the agreement exchange (process_group.c)
   * and the data of an all_reduce (allreduce.c), where the time of one
   * message is the time of the collective, so nothing is allocated per
   * message. A receive may get fewer bytes than `capacity`, never more;
   * its tag may be CT_MPI_ANY_TAG. A request that is never completed
   * needs nothing freed, only its buffers kept. */
  int (*isend)(void *comm, const void *buf, int bytes, int peer, int tag, ct_mpi_request *req);
  int (*irecv)(void *comm, void *buf, int capacity, int peer, int tag, ct_mpi_request *req);
  /* *done = 1 when complete; a completed receive also says the tag and the
   * byte count that arrived (tag and bytes may be NULL). */
  int (*test_p2p)(ct_mpi_request *req, int *done, int *tag, int *bytes);
  /* Cancels a receive that no message completed, and waits for the
   * cancellation (the group is being freed). */
  int (*cancel_p2p)(ct_mpi_request *req);
  /* The largest tag the communicator accepts (MPI_TAG_UB, at least 32767). */
  int (*tag_max)(void *comm);
} ct_mpi_plugin;

typedef const ct_mpi_plugin *(*ct_mpi_plugin_fn)(void);

#endif /* CT_DIST_MPI_PLUGIN_H */
