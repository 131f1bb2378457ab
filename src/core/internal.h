/*
 * Internals shared between the files of the library. Never installed.
 *
 * Layering (a call travels down once, nothing reaches back up):
 *   public API -> op front-end (shape inference) -> placement -> dispatch
 *   -> kernel registry -> backend (memory, copies) -> tensor.
 */
#ifndef CT_CORE_INTERNAL_H
#define CT_CORE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "ctensor.h"

#define CT_UNUSED(x) ((void)(x))
/* Thread-locals every op reads use the initial-exec model: the default for
 * a shared library calls __tls_get_addr on each read (11 instructions, 5%
 * of a 1-element add). Their 16 bytes of static TLS fit the surplus glibc
 * keeps for dlopen'ed objects such as the Python module. */
#define CT_TLS_FAST __attribute__((tls_model("initial-exec")))
#define CT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ------------------------------------------------------------ */

/* Records a failure for this thread and returns `status`, so that error
 * paths read `return ct_error(CT_INVALID_ARGUMENT, "...", ...);`. */
ct_status ct_error(ct_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ct_status ct_error_v(ct_status status, const char *fmt, va_list ap);
/* Prefixes the current thread error with "prefix: " (keeps the status). */
ct_status ct_error_prefix(ct_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Marks success for ct_last_error() (clears the message). */
void ct_error_clear(void);

/* Formats a shape as "[2,3]" into buf (always terminated). */
const char *ct_shape_str(const int64_t *shape, int rank, char *buf, size_t size);
#define CT_SHAPE_STR_MAX 200

/* ---- device types --------------------------------------------------------- */

/* Device types known to the runtime, in placement priority order reversed:
 * higher priority wins (TensorFlow: GPU 210, CPU 60). */
typedef enum ct_devtype { CT_DEV_CPU = 0, CT_DEV_GPU = 1, CT_DEVTYPE_COUNT = 2 } ct_devtype;
const char *ct_devtype_name(ct_devtype t); /* "CPU", "GPU" */
/* -1 if unknown. Exact match ("CPU"/"GPU"). */
int ct_devtype_from_name(const char *name);

typedef struct ct_device ct_device;
typedef struct ct_backend ct_backend;

/* ---- backend interface (one table per device type, as ggml-backend) ---- */

struct ct_backend {
  ct_devtype type;
  /* Device memory. alloc must enforce dev->memory_limit and fail with
   * RESOURCE_EXHAUSTED naming requested/used/limit; never abort. */
  ct_status (*alloc)(ct_device *dev, size_t bytes, void **out);
  void (*free)(ct_device *dev, void *ptr, size_t bytes);
  /* Copies. Asynchronous backends may queue them (to_host waits). */
  ct_status (*copy_from_host)(ct_device *dev, void *dst, const void *src, size_t bytes);
  ct_status (*copy_to_host)(ct_device *dev, void *dst, const void *src, size_t bytes);
  /* dst and src on devices of this backend's type (maybe different ones). */
  ct_status (*copy_device)(ct_device *dst_dev, void *dst, ct_device *src_dev, const void *src, size_t bytes);
  /* Waits for queued work; returns a deferred error if one happened. */
  ct_status (*synchronize)(ct_device *dev);
  /* Releases dev->impl (called once, at context teardown). */
  void (*device_destroy)(ct_device *dev);
  /* Memory statistics (may be NULL: the core's counters are used). */
  ct_status (*memory_info)(ct_device *dev, ct_memory_info *out);
  /* Bracket one op (output allocation, kernel, frees on failure); may be
   * NULL. CUDA makes the device's context current in enter and puts the
   * caller's back in leave (enter's token), so an op leaves the thread's
   * current context as it found it with one switch in and one out at most. */
  void *(*enter)(ct_device *dev);
  void (*leave)(ct_device *dev, void *token);
};

/* A logical device. Owned by its context; lives as long as the context. */
struct ct_device {
  ct_context *ctx;
  const ct_backend *backend;
  ct_devtype type;
  int index;                      /* logical index within its type */
  int physical_index;             /* index into the type's physical list */
  char name[CT_DEVICE_NAME_MAX];  /* full TensorFlow name */
  char short_name[64];            /* "/device:CPU:0" */
  uint64_t memory_limit;          /* bytes, 0 = none */
  _Atomic uint64_t bytes_in_use;  /* maintained by the backend's allocator */
  _Atomic uint64_t peak_bytes;
  _Atomic uint64_t op_count;      /* ops executed here */
  /* CT_DEVICE_FAILED_*: its GPU's context was destroyed at run time (see
   * ct_context_gpu_failed); 0 while it works. */
  _Atomic int failed;
  ct_device_name parsed;          /* `name`, parsed once for matching */
  void *impl;                     /* backend-private */
};

/* ---- platforms: discovery and logical-device creation per type --------- */

#define CT_MAX_PHYSICAL 16
#define CT_MAX_LOGICAL 64
#define CT_MAX_SCOPE_DEPTH 64
#define CT_MAX_SPLIT 16

typedef struct ct_platform {
  ct_devtype type;
  /* Fills the usable and unusable physical devices. Must be cheap: no
   * context creation, no device memory. Called at most once per context. */
  ct_status (*discover)(ct_context *ctx, ct_physical_device_info *usable, int *n_usable,
                        ct_physical_device_info *unusable, int *n_unusable, ct_gpu_reason *overall,
                        char *overall_detail, size_t detail_size);
  /* Prepares dev (already named, typed, indexed, limited) for use. */
  ct_status (*device_init)(ct_context *ctx, ct_device *dev);
  const ct_backend *backend;
  /* Frees per-context platform state (ctx->cuda for CUDA); called once at
   * context teardown, after every device_destroy. May be NULL. */
  void (*context_release)(ct_context *ctx);
  /* Opens and tries the libraries in `need` (CT_GPU_NEEDS_*) and returns
   * those that cannot be used, having recorded why (the GPUs' NO_NVRTC /
   * NO_CUBLAS reason). Called at most once per library and context, by
   * ct_gpu_kernel_ready. May be NULL. */
  unsigned (*check_libraries)(ct_context *ctx, unsigned need);
} ct_platform;

/* Provided by src/cpu and src/cuda. The CUDA platform pointer is NULL in a
 * build without the CUDA backend. */
extern const ct_platform ct_cpu_platform;
extern const ct_platform *const ct_cuda_platform_ptr;

/* ---- per-thread state, keyed by context ------------------------------- */

typedef struct ct_thread_state {
  ct_context *ctx;
  struct ct_thread_node *node;
  _Atomic bool dead;  /* the context is gone (see context.c); next to ctx for the hot path */
  int scope_depth;
  /* Merged specs, one per depth (scope[0] is the outermost). */
  ct_device_name scope[CT_MAX_SCOPE_DEPTH];
  /* Cached: has the merged top scope any field set? */
  bool scope_active;
  ct_device_policy policy;
} ct_thread_state;

/* The calling thread's state for ctx (created on first use). NULL only if
 * memory is exhausted (error set). */
ct_thread_state *ct_thread_state_get(ct_context *ctx);
/* Thread states the context still holds (exited threads' ones included
 * until the next new thread state prunes them); for tests. */
int ct_thread_state_count(ct_context *ctx);
/* The calling thread's state for ctx, NULL if it has none (no allocation). */
ct_thread_state *ct_thread_state_find(ct_context *ctx);
/* The state this thread used last: checked first, so that the hot path
 * costs one thread-local load and two compares. */
extern _Thread_local ct_thread_state *ct_tl_state CT_TLS_FAST;
static inline ct_thread_state *ct_thread_state_peek(ct_context *ctx) {
  ct_thread_state *ts = ct_tl_state;
  if (ts && ts->ctx == ctx && !atomic_load_explicit(&ts->dead, memory_order_acquire)) return ts;
  return ct_thread_state_find(ctx);
}

/* ---- kernels and the op registry ---------------------------------------- */

/* Internal op identifiers. The TensorFlow op name is used in logs. */
typedef enum ct_op {
  CT_OP_CONST, CT_OP_IDENTITY,
  CT_OP_FILL, CT_OP_RANGE,
  CT_OP_RANDOM_UNIFORM, CT_OP_RANDOM_NORMAL, CT_OP_TRUNCATED_NORMAL,
  CT_OP_MATMUL,
  CT_OP_ADD, CT_OP_SUB, CT_OP_MUL, CT_OP_DIV, CT_OP_MAXIMUM, CT_OP_MINIMUM, CT_OP_POW,
  CT_OP_FLOOR_DIV, CT_OP_FLOOR_MOD,
  CT_OP_EQUAL, CT_OP_NOT_EQUAL, CT_OP_LESS, CT_OP_LESS_EQUAL, CT_OP_GREATER, CT_OP_GREATER_EQUAL,
  CT_OP_NEG, CT_OP_ABS, CT_OP_EXP, CT_OP_LOG, CT_OP_SQRT, CT_OP_TANH, CT_OP_SIGMOID, CT_OP_SQUARE, CT_OP_RELU,
  CT_OP_SUM, CT_OP_MEAN, CT_OP_MAX, CT_OP_MIN, CT_OP_ARGMAX,
  CT_OP_CAST, CT_OP_RESHAPE, CT_OP_TRANSPOSE, CT_OP_CONCAT, CT_OP_SLICE, CT_OP_SOFTMAX, CT_OP_GATHER,
  /* added for gradients and training */
  CT_OP_LOG_SOFTMAX, CT_OP_SPARSE_XENT, CT_OP_SOFTMAX_XENT, CT_OP_ONE_HOT, CT_OP_SELECT, CT_OP_BROADCAST_TO,
  CT_OP_UNSORTED_SEGMENT_SUM,
  /* optimizer updates: one fused kernel per variable (ct_apply_attrs) */
  CT_OP_APPLY_GRADIENT_DESCENT, CT_OP_APPLY_MOMENTUM, CT_OP_APPLY_ADAM,
  /* collectives over the process group (src/dist; attrs: ct_collective_attrs) */
  CT_OP_ALL_REDUCE, CT_OP_BROADCAST, CT_OP_ALL_GATHER, CT_OP_REDUCE_SCATTER,
  CT_OP_COUNT
} ct_op;

/* "AddV2", "MatMul", ... (TensorFlow's names); "Unknown" if out of range. */
const char *ct_op_tf_name(ct_op op);
/* "add", "matmul", ... (ctensor's names, used in error messages). */
const char *ct_op_name(ct_op op);

#define CT_MAX_INPUTS 64

typedef struct ct_kernel_args {
  ct_context *ctx;
  ct_device *device;
  ct_op op;
  const ct_tensor *const *in; /* all on `device` (or host memory if the kernel asked) */
  int n_in;
  ct_tensor *out;             /* allocated on `device`, shape and dtype set */
  const void *attrs;          /* op-specific, see ops_internal.h */
} ct_kernel_args;

typedef ct_status (*ct_kernel_fn)(const ct_kernel_args *args);

/* The registry lives in the context: kernels[op][devtype][dtype]. The dtype
 * index is the op's "kernel dtype" (usually its first input's, for creation
 * ops the output's). */
typedef struct ct_registry {
  ct_kernel_fn kernels[CT_OP_COUNT][CT_DEVTYPE_COUNT][CT_DTYPE_COUNT];
  /* GPU kernels dropped because a library is missing (NVRTC, cuBLAS): the
   * reason a GPU request then finds no kernel, as errors and logs say */
  bool gpu_pruned[CT_OP_COUNT][CT_DTYPE_COUNT];
  /* Libraries a GPU kernel needs that were located but not yet opened
   * (CT_GPU_NEEDS_*): placement opens them, once, before it relies on the
   * kernel (ct_gpu_kernel_ready). */
  unsigned char gpu_needs[CT_OP_COUNT][CT_DTYPE_COUNT];
} ct_registry;

#define CT_GPU_NEEDS_NVRTC 1u
#define CT_GPU_NEEDS_CUBLAS 2u

void ct_registry_add(ct_registry *r, ct_op op, ct_devtype dev, ct_dtype dtype, ct_kernel_fn fn);
static inline ct_kernel_fn ct_registry_find(const ct_registry *r, ct_op op, ct_devtype dev, ct_dtype dtype) {
  return r->kernels[op][dev][dtype];
}
/* Every backend registers its kernels here; called once per context. */
void ct_core_register_kernels(ct_registry *r); /* Const, Identity: every device */
void ct_cpu_register_kernels(ct_registry *r);
void ct_cuda_register_kernels(ct_registry *r); /* no-op without CUDA */
void ct_dist_register_kernels(ct_registry *r); /* collectives (src/dist) */
/* Counts (and logs, when placement is logged) a fallback that a kernel
 * decided on rather than placement: a GPU collective that moved its data
 * through the host (`ran_on`) because NCCL could not (src/dist). */
void ct_placement_note_fallback(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device *asked, ct_device *ran_on,
                                ct_fallback_reason reason);

/* ---- tensors ------------------------------------------------------------ */

#define CT_INLINE_BYTES 64

struct ct_tensor {
  _Atomic int refcount;
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
  int64_t numel;
  size_t nbytes;
  ct_device *device;         /* where the op ran (tensor.device) */
  ct_device *backing;        /* where the bytes are (tensor.backing_device) */
  void *data;                /* device pointer for backing, or inline_data */
  ct_tensor *base;           /* non-NULL: data is a view into base (reshape) */
  bool owns_data;            /* data came from backing->backend->alloc */
  /* 0 until a gradient tape first sees the tensor; then a number unique in
   * its context (ct_tape_id), so that a tape never mistakes a new tensor at
   * a freed one's address for the old one. */
  _Atomic uint64_t tape_id;
  /* Small CPU tensors live here. 16-byte aligned like malloc: a 64-byte
   * aligned header would need memalign, which costs more than the op. */
  _Alignas(16) unsigned char inline_data[CT_INLINE_BYTES];
};

/* Allocates a tensor with storage on `dev` (the output of an op). The
 * tensor's device and backing device are both dev. */
ct_status ct_tensor_alloc(ct_device *dev, ct_dtype dtype, const int64_t *shape, int rank, ct_tensor **out);
/* A tensor sharing `base`'s bytes with a new shape (same element count). */
ct_status ct_tensor_view(const ct_tensor *base, const int64_t *shape, int rank, ct_tensor **out);
int64_t ct_shape_numel(const int64_t *shape, int rank);
/* Validates rank and dims (>= 0, no overflow); names the bad value. */
ct_status ct_shape_check(const char *what, const int64_t *shape, int rank);

/* ---- context ----------------------------------------------------------- */

typedef struct ct_physical_config {
  bool visible_set;                /* set_visible_devices was called for this type */
  bool visible[CT_MAX_PHYSICAL];
  /* n_logical[p] == 0: one logical device for physical device p */
  ct_logical_device_config logical[CT_MAX_PHYSICAL][CT_MAX_SPLIT];
  int n_logical[CT_MAX_PHYSICAL];
  int memory_growth[CT_MAX_PHYSICAL]; /* -1 unset, 0, 1 */
} ct_physical_config;

typedef struct ct_fallback_entry {
  ct_op op;
  ct_device_name want;             /* the request, parsed: found without formatting */
  char requested[CT_DEVICE_NAME_MAX];
  ct_device *placed;
  ct_fallback_reason reason;
  uint64_t count;
} ct_fallback_entry;

struct ct_context {
  _Atomic int refcount;            /* 1 for the owner + 1 per live tensor */
  bool freed;                      /* ct_context_free was called */
  pthread_mutex_t lock;            /* config, discovery, init, fallbacks, log-once sets */

  /* discovery (lazy, before init) */
  bool discovered;
  ct_physical_device_info phys[CT_DEVTYPE_COUNT][CT_MAX_PHYSICAL];
  int n_phys[CT_DEVTYPE_COUNT];
  ct_physical_device_info unusable[CT_MAX_PHYSICAL];
  int n_unusable;
  ct_gpu_reason gpu_reason;
  char gpu_reason_detail[CT_INFO_TEXT_MAX];

  /* configuration */
  ct_physical_config cfg[CT_DEVTYPE_COUNT];
  _Atomic bool soft_placement;
  _Atomic bool log_placement;
  _Atomic bool tf32;
  _Atomic bool report_at_exit;    /* set by ct_context_set_report_at_exit at any time */

  /* runtime */
  _Atomic bool initialized;
  ct_device *devices[CT_MAX_LOGICAL]; /* logical devices, CPU first */
  int n_devices;
  ct_device *by_type[CT_DEVTYPE_COUNT][CT_MAX_LOGICAL];
  int n_by_type[CT_DEVTYPE_COUNT];
  ct_device *host;                 /* CPU:0, the host memory device */
  ct_registry registry;
  /* Unscoped placement depends only on (op, kernel dtype): cached at init. */
  ct_device *auto_device[CT_OP_COUNT][CT_DTYPE_COUNT];
  struct ct_thread_node *threads;  /* this context's thread states (see context.c) */

  /* placement bookkeeping */
  ct_fallback_entry *fallbacks;
  int n_fallbacks, cap_fallbacks;
  char **logged_once;              /* keys already logged once */
  int n_logged_once, cap_logged_once;

  /* logging */
  ct_log_fn log_fn;
  void *log_user;

  _Atomic uint64_t next_tape_id;   /* the last tensor id tapes handed out */

  /* Libraries of GPU kernels (CT_GPU_NEEDS_*) found usable / unusable by
   * opening them (ct_gpu_kernel_ready); check_lock serialises the check. */
  _Atomic unsigned gpu_libs_ok, gpu_libs_bad;
  pthread_mutex_t check_lock;

  void *doctor_cache;              /* unused by the core; reserved */
  void *cuda;                      /* src/cuda state (loader, driver table); freed by
                                      ct_cuda_platform_ptr->context_release */

  /* This process's place in a cluster (src/dist), set by
   * ct_process_group_new before initialisation: devices are named
   * /job:<job>/replica:0/task:<task>; job "" is a process alone
   * (/job:localhost/replica:0/task:0, n_tasks 0). */
  char job[CT_DEVICE_FIELD_MAX];
  int task, n_tasks;
  struct ct_process_group *group;  /* the attached group, NULL when none */
};

/* Discovers physical devices once (no init). Takes ctx->lock. */
ct_status ct_context_discover(ct_context *ctx);
/* Initialises if needed; cheap after the first call. */
static inline ct_status ct_context_ensure(ct_context *ctx) {
  if (atomic_load_explicit(&ctx->initialized, memory_order_acquire)) return CT_OK;
  return ct_context_initialize(ctx);
}
void ct_context_retain(ct_context *ctx);
void ct_context_release(ct_context *ctx);

/* Whether the GPU kernel of (op, kdtype) can be relied on: a kernel that
 * needs NVRTC or cuBLAS is usable only once that library has been opened
 * and tried (lazily, once per context: ct_gpu_libraries_check). One load
 * and a compare once the libraries are known good. */
bool ct_gpu_libraries_check(ct_context *ctx, unsigned need);
static inline bool ct_gpu_kernel_ready(ct_context *ctx, ct_op op, ct_dtype kdtype) {
  unsigned need = ctx->registry.gpu_needs[op][kdtype];
  if (__builtin_expect(need == 0, 1)) return true;
  if ((atomic_load_explicit(&ctx->gpu_libs_ok, memory_order_acquire) & need) == need) return true;
  return ct_gpu_libraries_check(ctx, need);
}

/* ct_device.failed: the GPU's context was destroyed at run time; the
 * backend reports the fault itself once (REPORTED from then on), and
 * ct_context_synchronize skips reported devices. */
enum { CT_DEVICE_FAILED_UNREPORTED = 1, CT_DEVICE_FAILED_REPORTED = 2 };
/* Physical GPU `phys` lost its CUDA context to an error that destroys it
 * (illegal address, device-side assert, uncorrectable ECC): marks it
 * unusable (CT_GPU_DEVICE_FAILED, `why` as the detail) and every logical
 * device on it failed, so that ops placed there fail at once and unscoped
 * ops choose another device. Once per GPU, from the backend; takes
 * ctx->lock, so never call it with ctx->lock held. */
void ct_context_gpu_failed(ct_context *ctx, int phys, const char *why);
/* CT_UNAVAILABLE for `what` (an op's name) on a failed device, with why
 * its GPU failed. */
ct_status ct_device_failed_error(const ct_device *dev, const char *what);

/* Logging through the context's callback. */
void ct_logf(ct_context *ctx, ct_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Logs only the first time `key` is seen in this context; returns whether
 * it logged. */
bool ct_logf_once(ct_context *ctx, const char *key, ct_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Finds the logical device named by a spec (full, short or partial with a
 * type and index; "CPU:1"). NOT_FOUND names the spec and lists devices. */
ct_status ct_context_find_device(ct_context *ctx, const char *spec, ct_device **out);
/* Comma-separated full names of all logical devices ("[a, b]" style body). */
void ct_context_device_list(ct_context *ctx, char *out, size_t size);

/* ---- placement and dispatch -------------------------------------------- */

/* Chooses the device for `op` whose kernel dtype is `kdtype`, from the
 * thread's scope and the context's rules; inputs are used for resource/
 * policy decisions. Records and logs fallbacks. */
ct_status ct_place(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_tensor *const *in, int n_in,
                   ct_device **out);

/* Places `op` as if `spec` were pushed on the calling thread's scopes
 * (ct_tensor_copy_to), without touching the scope stack. */
ct_status ct_place_in_scope(ct_context *ctx, ct_op op, ct_dtype kdtype, const char *spec, ct_device **out);

/* Runs `op`: places it, moves inputs per the device policy, allocates the
 * output (out_shape/out_dtype) on the chosen device, logs, and calls the
 * kernel. kdtype selects the kernel. */
ct_status ct_op_run(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_tensor *const *in, int n_in,
                    const int64_t *out_shape, int out_rank, ct_dtype out_dtype, const void *attrs,
                    ct_tensor **out);
/* Same, on a device already chosen (copies, internal use). */
ct_status ct_op_run_on(ct_context *ctx, ct_device *dev, ct_op op, ct_dtype kdtype, const ct_tensor *const *in,
                       int n_in, const int64_t *out_shape, int out_rank, ct_dtype out_dtype,
                       const void *attrs, ct_tensor **out);

/* Moves input #i of `op` to `dev` by the calling thread's device policy
 * (TensorFlow's messages). *moved: a new tensor when bytes were copied,
 * else NULL (the input can be used where it is). */
ct_status ct_op_move_input(ct_context *ctx, ct_op op, int i, const ct_tensor *in, ct_device *dev, ct_tensor **moved);

/* ---- gradient tapes (src/autodiff) -------------------------------------- */

struct ct_tape;
/* The calling thread's recording tapes (a list through the tapes), NULL
 * when none: the one check an op pays for autodiff. */
extern _Thread_local struct ct_tape *ct_tl_tapes CT_TLS_FAST;
/* Offers an op that just ran to the thread's tapes; each records it when
 * it watches one of the inputs. Fails only for lack of memory. */
ct_status ct_tape_record_op(ct_context *ctx, ct_device *dev, ct_op op, const ct_tensor *const *in, int n_in,
                            ct_tensor *out, const void *attrs);

/* UNIMPLEMENTED naming op, dtype and device, listing the dtypes that exist. */
ct_status ct_no_kernel_error(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device *dev);

/* Copies a tensor's bytes to another device (new tensor on dst). */
ct_status ct_tensor_copy_bytes_to(const ct_tensor *t, ct_device *dst, ct_tensor **out);

/* The context a tensor belongs to. */
static inline ct_context *ct_tensor_context(const ct_tensor *t) { return t->device->ctx; }

/* ---- CPU helpers shared by kernels ------------------------------------- */

/* Number of threads to use for `work` units of simple elementwise work;
 * 1 below the threshold where threading pays. */
int ct_cpu_threads_for(int64_t work);
int ct_cpu_max_threads(void);

#endif /* CT_CORE_INTERNAL_H */
