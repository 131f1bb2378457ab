/*
 * libctensor_mpi.so: the only code compiled against an MPI. It is a thin
 * table of non-blocking calls (see mpi_plugin.h); the logic -- checking that
 * every process asks for the same collective, timeouts, tensors -- stays in
 * the core, which loads this file only when a process group is made.
 *
 * Only the MPI standard is used (MPI-3: non-blocking collectives and
 * MPI_Comm_split_type), so Open MPI and MPICH both build it.
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "ctensor.h"
#include "dist/mpi_plugin.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct request {
  MPI_Request r;
} request;

/* ---- 16-bit floats: MPI has no type for them, so they travel as uint16
 * and are reduced by user operations that compute in float. ---- */

static float bf16_to_float(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint16_t float_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    u = sign;
  } else { /* subnormal: normalise */
    int e = -1;
    do {
      e++;
      man <<= 1;
    } while (!(man & 0x400u));
    u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint16_t float_to_half(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
  if (a < 0x38800000u) {                                     /* subnormal or zero */
    if (a < 0x33000000u) return (uint16_t)sign;
    uint32_t man = (a & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)(a >> 23) + 14;
    uint32_t v = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (v & 1u))) v++;
    return (uint16_t)(sign | v);
  }
  uint32_t v = a - 0x38000000u; /* rebias 127 -> 15 */
  v = (v + 0xfffu + ((v >> 13) & 1u)) >> 13;
  return (uint16_t)(sign | v);
}

#define F_SUM(a, b) ((a) + (b))
#define F_PROD(a, b) ((a) * (b))
#define F_MAX(a, b) ((a) > (b) || (a) != (a) ? (a) : (b))
#define F_MIN(a, b) ((a) < (b) || (a) != (a) ? (a) : (b))

#define DEFINE_OP16(name, to_f, from_f, combine)                                                  \
  static void name(void *in, void *inout, int *len, MPI_Datatype *type) {                          \
    (void)type;                                                                                    \
    const uint16_t *a = in;                                                                        \
    uint16_t *b = inout;                                                                           \
    for (int i = 0; i < *len; i++) b[i] = from_f(combine(to_f(a[i]), to_f(b[i])));                 \
  }
DEFINE_OP16(half_sum, half_to_float, float_to_half, F_SUM)
DEFINE_OP16(half_prod, half_to_float, float_to_half, F_PROD)
DEFINE_OP16(half_max, half_to_float, float_to_half, F_MAX)
DEFINE_OP16(half_min, half_to_float, float_to_half, F_MIN)
DEFINE_OP16(bf16_sum, bf16_to_float, float_to_bf16, F_SUM)
DEFINE_OP16(bf16_prod, bf16_to_float, float_to_bf16, F_PROD)
DEFINE_OP16(bf16_max, bf16_to_float, float_to_bf16, F_MAX)
DEFINE_OP16(bf16_min, bf16_to_float, float_to_bf16, F_MIN)

/* [0]: float16, [1]: bfloat16; by ct_reduce_op (mean reduces as sum). */
static MPI_Op ops16[2][5];
static int ops16_ready;

static int make_ops16(void) {
  if (ops16_ready) return MPI_SUCCESS;
  MPI_User_function *fns[2][5] = {{half_sum, half_sum, half_max, half_min, half_prod},
                                  {bf16_sum, bf16_sum, bf16_max, bf16_min, bf16_prod}};
  for (int d = 0; d < 2; d++)
    for (int o = 0; o < 5; o++) {
      int rc = MPI_Op_create(fns[d][o], 1, &ops16[d][o]);
      if (rc != MPI_SUCCESS) return rc;
    }
  ops16_ready = 1;
  return MPI_SUCCESS;
}

static MPI_Datatype mpi_type(int dtype) {
  switch (dtype) {
    case CT_FLOAT32: return MPI_FLOAT;
    case CT_FLOAT64: return MPI_DOUBLE;
    case CT_FLOAT16:
    case CT_BFLOAT16: return MPI_UINT16_T;
    case CT_INT32: return MPI_INT32_T;
    case CT_INT64: return MPI_INT64_T;
    default: return MPI_UINT8_T; /* bool: bytes */
  }
}

static int mpi_op(int dtype, int op, MPI_Op *out) {
  if (dtype == CT_FLOAT16 || dtype == CT_BFLOAT16) {
    int rc = make_ops16();
    if (rc != MPI_SUCCESS) return rc;
    *out = ops16[dtype == CT_BFLOAT16][op];
    return MPI_SUCCESS;
  }
  static const MPI_Op builtin[5] = {MPI_SUM, MPI_SUM, MPI_MAX, MPI_MIN, MPI_PROD};
  *out = builtin[op];
  return MPI_SUCCESS;
}

static int with_request(void **req, request **r) {
  *r = malloc(sizeof **r);
  *req = *r;
  return *r ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

static int finish_start(int rc, request *r, void **req) {
  if (rc != MPI_SUCCESS) {
    free(r);
    *req = NULL;
  }
  return rc;
}

/* ---- the table ---------------------------------------------------------- */

static int p_init(int *initialized_here) {
  int flag = 0;
  *initialized_here = 0;
  MPI_Initialized(&flag);
  if (flag) return MPI_SUCCESS;
  /* Collectives are serialised by the core; any thread may issue one. */
  int provided;
  int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
  if (rc == MPI_SUCCESS) *initialized_here = 1;
  return rc;
}

static int p_finalize(void) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return MPI_SUCCESS;
  if (ops16_ready) {
    for (int d = 0; d < 2; d++)
      for (int o = 0; o < 5; o++) MPI_Op_free(&ops16[d][o]);
    ops16_ready = 0;
  }
  return MPI_Finalize();
}

static void p_library_version(char *out, size_t size) {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) len = 0;
  text[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
  /* The first line names the implementation; the rest is build detail. */
  char *nl = strchr(text, '\n');
  if (nl) *nl = '\0';
  if (size) {
    strncpy(out, text, size - 1);
    out[size - 1] = '\0';
  }
}

static void p_error_string(int code, char *out, size_t size) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  text[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
  if (size) {
    strncpy(out, len ? text : "unknown MPI error", size - 1);
    out[size - 1] = '\0';
  }
}

static int p_comm_new(void **comm) {
  MPI_Comm *c = malloc(sizeof *c);
  if (!c) return MPI_ERR_NO_MEM;
  int rc = MPI_Comm_dup(MPI_COMM_WORLD, c);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN);
  if (rc != MPI_SUCCESS) {
    free(c);
    return rc;
  }
  *comm = c;
  return MPI_SUCCESS;
}

static void p_comm_free(void *comm) {
  MPI_Comm *c = comm;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(c);
  free(c);
}

static int p_comm_info(void *comm, int *rank, int *size, int *local_rank, int *local_size) {
  MPI_Comm c = *(MPI_Comm *)comm, local;
  int rc = MPI_Comm_rank(c, rank);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_size(c, size);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &local);
  if (rc != MPI_SUCCESS) return rc;
  MPI_Comm_rank(local, local_rank);
  MPI_Comm_size(local, local_size);
  MPI_Comm_free(&local);
  return MPI_SUCCESS;
}

static int p_iallreduce(void *comm, const void *send, void *recv, int count, int dtype, int op, void **req) {
  MPI_Op mop;
  int rc = mpi_op(dtype, op, &mop);
  if (rc != MPI_SUCCESS) return rc;
  request *r;
  if ((rc = with_request(req, &r)) != MPI_SUCCESS) return rc;
  rc = MPI_Iallreduce(send ? send : MPI_IN_PLACE, recv, count, mpi_type(dtype), mop, *(MPI_Comm *)comm, &r->r);
  return finish_start(rc, r, req);
}

static int p_ibcast(void *comm, void *buf, int count, int dtype, int root, void **req) {
  request *r;
  int rc = with_request(req, &r);
  if (rc != MPI_SUCCESS) return rc;
  rc = MPI_Ibcast(buf, count, mpi_type(dtype), root, *(MPI_Comm *)comm, &r->r);
  return finish_start(rc, r, req);
}

static int p_iallgatherv(void *comm, const void *send, int count, void *recv, const int *counts, const int *displs,
                         int dtype, void **req) {
  request *r;
  int rc = with_request(req, &r);
  if (rc != MPI_SUCCESS) return rc;
  MPI_Datatype t = mpi_type(dtype);
  rc = MPI_Iallgatherv(send, count, t, recv, counts, displs, t, *(MPI_Comm *)comm, &r->r);
  return finish_start(rc, r, req);
}

static int p_ireduce_scatter(void *comm, const void *send, void *recv, const int *counts, int dtype, int op,
                             void **req) {
  MPI_Op mop;
  int rc = mpi_op(dtype, op, &mop);
  if (rc != MPI_SUCCESS) return rc;
  request *r;
  if ((rc = with_request(req, &r)) != MPI_SUCCESS) return rc;
  rc = MPI_Ireduce_scatter(send, recv, counts, mpi_type(dtype), mop, *(MPI_Comm *)comm, &r->r);
  return finish_start(rc, r, req);
}

static int p_ibarrier(void *comm, void **req) {
  request *r;
  int rc = with_request(req, &r);
  if (rc != MPI_SUCCESS) return rc;
  rc = MPI_Ibarrier(*(MPI_Comm *)comm, &r->r);
  return finish_start(rc, r, req);
}

_Static_assert(sizeof(MPI_Request) <= CT_MPI_REQUEST_MAX, "MPI_Request does not fit ct_mpi_request");

static MPI_Request *p2p_request(ct_mpi_request *req) { return (MPI_Request *)(void *)req->bytes; }

static int p_isend(void *comm, const void *buf, int bytes, int peer, int tag, ct_mpi_request *req) {
  return MPI_Isend(buf, bytes, MPI_BYTE, peer, tag, *(MPI_Comm *)comm, p2p_request(req));
}

static int p_irecv(void *comm, void *buf, int capacity, int peer, int tag, ct_mpi_request *req) {
  return MPI_Irecv(buf, capacity, MPI_BYTE, peer, tag == CT_MPI_ANY_TAG ? MPI_ANY_TAG : tag, *(MPI_Comm *)comm,
                   p2p_request(req));
}

static int p_test_p2p(ct_mpi_request *req, int *done, int *tag, int *bytes) {
  MPI_Status status;
  int rc = MPI_Test(p2p_request(req), done, &status);
  if (rc != MPI_SUCCESS) {
    *done = 1;
    return rc;
  }
  if (*done && tag) *tag = status.MPI_TAG;
  if (*done && bytes) rc = MPI_Get_count(&status, MPI_BYTE, bytes);
  return rc;
}

static int p_cancel_p2p(ct_mpi_request *req) {
  /* mpi4py's exit handler may have finalised MPI before the group is
   * freed: then there is no request left to cancel. */
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return MPI_SUCCESS;
  int rc = MPI_Cancel(p2p_request(req));
  if (rc == MPI_SUCCESS) rc = MPI_Wait(p2p_request(req), MPI_STATUS_IGNORE);
  return rc;
}

static int p_tag_max(void *comm) {
  int *ub = NULL, flag = 0;
  if (MPI_Comm_get_attr(*(MPI_Comm *)comm, MPI_TAG_UB, &ub, &flag) != MPI_SUCCESS || !flag || !ub) return 32767;
  return *ub;
}

static int p_test(void *req, int *done) {
  request *r = req;
  int rc = MPI_Test(&r->r, done, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS || *done) free(r);
  if (rc != MPI_SUCCESS) *done = 1;
  return rc;
}

static void p_abandon(void *req) { free(req); }

static const ct_mpi_plugin table = {
    .abi = CT_MPI_PLUGIN_ABI,
    .init = p_init,
    .finalize = p_finalize,
    .library_version = p_library_version,
    .error_string = p_error_string,
    .comm_new = p_comm_new,
    .comm_free = p_comm_free,
    .comm_info = p_comm_info,
    .iallreduce = p_iallreduce,
    .ibcast = p_ibcast,
    .iallgatherv = p_iallgatherv,
    .ireduce_scatter = p_ireduce_scatter,
    .ibarrier = p_ibarrier,
    .test = p_test,
    .abandon = p_abandon,
    .isend = p_isend,
    .irecv = p_irecv,
    .test_p2p = p_test_p2p,
    .cancel_p2p = p_cancel_p2p,
    .tag_max = p_tag_max,
};

EXPORT const ct_mpi_plugin *ct_mpi_plugin_v3(void);
const ct_mpi_plugin *ct_mpi_plugin_v3(void) { return &table; }
