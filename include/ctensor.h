/*
 * ctensor — a tensor runtime in C with TensorFlow-style device management.
 *
 * This header is the whole public API. Conventions, once for every function:
 *
 *  - Every fallible call returns a ct_status. On failure, ct_last_error()
 *    returns a message for the calling thread that names the offending value
 *    (e.g. "matmul: inner dimensions differ: a is [2,3], b is [4,5]"). A
 *    failed call changes nothing the caller can observe: no output is
 *    written, no reference is taken, and the context stays usable.
 *    ct_last_error() and ct_last_status() are meaningful only right after
 *    a call returned something other than CT_OK: a call that succeeds may
 *    leave an earlier failure's message in place (ops do not spend time
 *    clearing it).
 *  - Results come back through out-parameters. A function that hands out a
 *    ct_tensor* through an out-parameter gives the caller one reference,
 *    which the caller owns and must drop with ct_tensor_release().
 *    Input tensors are borrowed: the callee takes its own reference when it
 *    needs one.
 *  - The library never aborts, exits or prints. Logging goes to a callback
 *    the application sets (stderr only when logging was turned on and no
 *    callback is set).
 *  - A ct_context is safe to use from several threads for ops; configuration
 *    calls must not race with each other.
 *  - Environment variables are read once per context, when it first
 *    discovers devices (the first device query: the driver, library paths
 *    and CUDA_VISIBLE_DEVICES) or initialises (ct_context_initialize() or
 *    the first call that needs logical devices: logging and report
 *    switches); the kernel-cache variables when the first GPU kernel is
 *    compiled. A variable changed later is not seen by that context.
 */
#ifndef CTENSOR_H
#define CTENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CT_BUILDING_LIBRARY)
#define CT_API __attribute__((visibility("default")))
#else
#define CT_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define CT_VERSION_MAJOR 0
#define CT_VERSION_MINOR 1
#define CT_VERSION_PATCH 0
#define CT_VERSION_STRING "0.1.0"

/* The version of the library actually loaded (may differ from the header). */
CT_API const char *ct_version(void);
/* Space-separated build features, e.g. "cpu openblas openmp cuda-dlopen". */
CT_API const char *ct_build_features(void);
/* The compiler, the BLAS (with the kernel it chose for this CPU) and the
 * OpenMP version of this build, as text. Returns the length needed, like
 * snprintf. */
CT_API size_t ct_build_info(char *out, size_t out_size);

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

/* The canonical codes; the numbers are stable and match TensorFlow/absl. */
typedef enum ct_status {
  CT_OK = 0,
  CT_CANCELLED = 1,
  CT_UNKNOWN = 2,
  CT_INVALID_ARGUMENT = 3,
  CT_DEADLINE_EXCEEDED = 4,
  CT_NOT_FOUND = 5,
  CT_ALREADY_EXISTS = 6,
  CT_PERMISSION_DENIED = 7,
  CT_RESOURCE_EXHAUSTED = 8,
  CT_FAILED_PRECONDITION = 9,
  CT_ABORTED = 10,
  CT_OUT_OF_RANGE = 11,
  CT_UNIMPLEMENTED = 12,
  CT_INTERNAL = 13,
  CT_UNAVAILABLE = 14
} ct_status;

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_STATUS" for a value outside the set. */
CT_API const char *ct_status_name(ct_status status);
/* The message of the calling thread's most recent failure ("" if none has
 * happened yet). Read it only after a call returned non-OK: a successful
 * call does not necessarily clear it. Valid until this thread's next
 * ctensor call. */
CT_API const char *ct_last_error(void);
/* The status of that failure (CT_OK if none has happened yet); the same
 * rule applies. */
CT_API ct_status ct_last_status(void);

/* ------------------------------------------------------------------------ */
/* Data types                                                                */
/* ------------------------------------------------------------------------ */

typedef enum ct_dtype {
  CT_FLOAT32 = 0,
  CT_FLOAT64 = 1,
  CT_FLOAT16 = 2,
  CT_BFLOAT16 = 3,
  CT_INT32 = 4,
  CT_INT64 = 5,
  CT_BOOL = 6
} ct_dtype;
#define CT_DTYPE_COUNT 7
#define CT_MAX_RANK 8

/* "float32", "float64", "float16", "bfloat16", "int32", "int64", "bool";
 * "invalid" for a value outside the enum. */
CT_API const char *ct_dtype_name(ct_dtype dtype);
/* Bytes per element; 0 for an invalid dtype. bool is one byte (0 or 1). */
CT_API size_t ct_dtype_size(ct_dtype dtype);
/* Parses the names above (and TensorFlow's "half", "double", "float"). */
CT_API ct_status ct_dtype_from_name(const char *name, ct_dtype *out);

/* IEEE half and bfloat16 conversions (round to nearest even). */
CT_API uint16_t ct_float_to_half(float f);
CT_API float ct_half_to_float(uint16_t h);
CT_API uint16_t ct_float_to_bfloat16(float f);
CT_API float ct_bfloat16_to_float(uint16_t b);

/* ------------------------------------------------------------------------ */
/* Device names (TensorFlow grammar)                                         */
/* ------------------------------------------------------------------------ */

/* A parsed device specification. Unset fields are wildcards. */
#define CT_DEVICE_FIELD_MAX 64
typedef struct ct_device_name {
  bool has_job;
  char job[CT_DEVICE_FIELD_MAX];
  bool has_replica;
  int replica;
  bool has_task;
  int task;
  bool has_type;
  char type[CT_DEVICE_FIELD_MAX];
  bool has_id;
  int id;
} ct_device_name;

/* Longest canonical name, terminator included. */
#define CT_DEVICE_NAME_MAX 256

/* Parses "/job:localhost/replica:0/task:0/device:GPU:0", "/GPU:0", "gpu:1",
 * "/device:CPU:*", "" ... (see docs/device-names.md for the full grammar). */
CT_API ct_status ct_device_name_parse(const char *spec, ct_device_name *out);
/* Canonical text of a parsed name; unset fields are omitted, a type without
 * an index prints as "/device:TYPE:*". */
CT_API ct_status ct_device_name_format(const ct_device_name *name, char *out, size_t out_size);

CT_API ct_status ct_device_name_canonicalize(const char *spec, char *out, size_t out_size);
/* nested scopes: fields set in `inner` win (TF DeviceSpec.make_merged_spec) */
CT_API ct_status ct_device_name_merge(const char *outer, const char *inner, char *out, size_t out_size);
/* constraint merge (TF DeviceNameUtils::MergeDevNames): conflicting fields are
   INVALID_ARGUMENT ("incompatible jobs", ...); with allow_soft_placement,
   conflicting types clear type and id, conflicting ids become a wildcard */
CT_API ct_status ct_device_name_merge_compatible(const char *a, const char *b, bool allow_soft_placement,
                                                 char *out, size_t out_size);
/* True when every field set in `pattern` equals the same field of `name`
 * (TF DeviceNameUtils::IsSpecification). */
CT_API bool ct_device_name_matches(const ct_device_name *pattern, const ct_device_name *name);

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct ct_context ct_context;
typedef struct ct_tensor ct_tensor;

/* Creates a context. Devices are discovered lazily; configuration may be
 * changed until the context initialises. */
CT_API ct_status ct_context_new(ct_context **out);
/* Frees the context. Tensors still alive keep what they need alive; the
 * context's memory goes when the last of them is released. NULL is a no-op. */
CT_API void ct_context_free(ct_context *ctx);
/* Starts the runtime: reads the environment, creates logical devices.
 * Idempotent. Called implicitly by the first op, tensor, logical-device
 * query or scope push. After it, device configuration is frozen. */
CT_API ct_status ct_context_initialize(ct_context *ctx);
CT_API bool ct_context_is_initialized(const ct_context *ctx);

/* Log levels for the callback. */
typedef enum ct_log_level { CT_LOG_INFO = 0, CT_LOG_WARNING = 1, CT_LOG_ERROR = 2 } ct_log_level;
typedef void (*ct_log_fn)(void *user, ct_log_level level, const char *message);
/* Where log lines go. NULL restores the default (stderr). The callback is
 * called from whichever thread logs, possibly from several at once. */
CT_API void ct_context_set_log_callback(ct_context *ctx, ct_log_fn fn, void *user);

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */
/* ------------------------------------------------------------------------ */

/* Why a GPU (or all GPUs) cannot be used. Printed by name, stable numbers. */
typedef enum ct_gpu_reason {
  CT_GPU_USABLE = 0,
  CT_GPU_NO_DRIVER_LIBRARY = 1,   /* libcuda.so.1 not found */
  CT_GPU_DRIVER_IS_STUB = 2,      /* the libcuda found is the toolkit's stub */
  CT_GPU_DRIVER_INIT_FAILED = 3,  /* cuInit failed (detail has the CUDA error) */
  CT_GPU_NO_DEVICE = 4,           /* driver fine, no GPU present */
  CT_GPU_NO_VISIBLE_DEVICE = 5,   /* hidden by CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES */
  CT_GPU_DRIVER_TOO_OLD = 6,      /* driver older than the CUDA libraries need */
  CT_GPU_ARCH_UNSUPPORTED = 7,    /* compute capability too old */
  CT_GPU_SYMBOL_MISSING = 8,      /* driver lacks an entry point ctensor needs */
  CT_GPU_HIDDEN_BY_CONFIG = 9,    /* excluded by ct_config_set_visible_devices */
  CT_GPU_NO_CUBLAS = 10,          /* usable, but matmul cannot run on it */
  CT_GPU_NO_NVRTC = 11,           /* usable for copies/matmul, no JIT kernels */
  CT_GPU_DEVICE_UNAVAILABLE = 12, /* no CUDA context can be created on it (prohibited or
                                     exclusive-process compute mode, out of memory, after an
                                     Xid error): found at initialisation, the other devices work */
  CT_GPU_DEVICE_FAILED = 13       /* was usable; an error that destroys its CUDA context (illegal
                                     address, device-side assert, uncorrectable ECC) happened at run
                                     time: its logical devices refuse ops, the others and the CPU work */
} ct_gpu_reason;
CT_API const char *ct_gpu_reason_name(ct_gpu_reason reason);

#define CT_INFO_TEXT_MAX 256
typedef struct ct_physical_device_info {
  char name[64];          /* "/physical_device:CPU:0" */
  char device_type[16];   /* "CPU" or "GPU" */
  int index;              /* index among physical devices of this type */
  char model[128];        /* CPU model name / GPU product name */
  int cores;              /* CPU: logical cores; GPU: multiprocessors */
  uint64_t memory_bytes;  /* total memory of the device */
  char features[CT_INFO_TEXT_MAX]; /* CPU: "sse4.2 avx avx2 fma avx512f ..."; GPU: "" */
  int compute_major, compute_minor; /* GPU only */
  char pci_bus_id[32];    /* GPU only, "0000:01:00.0" */
  char uuid[64];          /* GPU only, "GPU-xxxxxxxx-..." */
  bool usable;            /* false: see reason */
  ct_gpu_reason reason;   /* CT_GPU_USABLE for usable devices and every CPU */
  char reason_detail[CT_INFO_TEXT_MAX];
} ct_physical_device_info;

/* Usable physical devices of a type ("CPU", "GPU"; NULL for all), in the
 * order TensorFlow lists them (CPU first). Does not initialise the context
 * and allocates no device memory. The type filter is an exact,
 * case-sensitive match, as in tf.config.list_physical_devices. */
CT_API int ct_physical_device_count(ct_context *ctx, const char *type_or_null);
CT_API ct_status ct_physical_device_get(ct_context *ctx, const char *type_or_null, int i,
                                        ct_physical_device_info *out);
/* GPUs that exist but cannot be used, each with its reason. */
CT_API int ct_unusable_device_count(ct_context *ctx);
CT_API ct_status ct_unusable_device_get(ct_context *ctx, int i, ct_physical_device_info *out);
/* Why no GPU is usable at all (CT_GPU_USABLE when at least one is), with
 * a sentence of detail; valid without any GPU present. */
CT_API ct_gpu_reason ct_gpu_availability(ct_context *ctx, char *detail, size_t detail_size);

/* The GPU libraries ctensor looks for: the driver (libcuda.so.1), cuBLAS,
 * cuBLASLt and NVRTC. Discovery opens only the driver; the others are
 * located (found on disk) and opened when a GPU op first needs them. */
typedef struct ct_gpu_library_info {
  char name[16];          /* "driver", "cublas", "cublasLt", "nvrtc" */
  bool found;             /* a usable candidate exists (opened or located) */
  bool loaded;            /* dlopen succeeded in this context */
  int version_major;      /* from the driver (driver) or the file name; -1 unknown */
  int version_minor;      /* -1 unknown */
  char path[512];         /* resolved or located path, "" if none */
  char detail[CT_INFO_TEXT_MAX]; /* why not found / why rejected */
} ct_gpu_library_info;
/* Number of libraries described (4); discovers devices if needed. */
CT_API int ct_gpu_library_count(ct_context *ctx);
CT_API ct_status ct_gpu_library_get(ct_context *ctx, int i, ct_gpu_library_info *out);

/* Every attempt to find or open a GPU library, in order (for bug reports). */
typedef struct ct_gpu_load_attempt {
  char library[16];  /* "driver", "cublas", ... */
  char stage[16];    /* "override", "system", "libdir", "pip", "cuda_path", "usr_local", ... */
  bool opened;       /* dlopen was called (false: only located on disk) */
  bool ok;
  char name[64];     /* file name tried */
  char path[512];
  char error[256];   /* dlerror() text or why the candidate was rejected */
} ct_gpu_load_attempt;
CT_API int ct_gpu_load_attempt_count(ct_context *ctx);
CT_API ct_status ct_gpu_load_attempt_get(ct_context *ctx, int i, ct_gpu_load_attempt *out);

typedef struct ct_logical_device_info {
  char name[CT_DEVICE_NAME_MAX];  /* "/job:localhost/replica:0/task:0/device:CPU:0" */
  char short_name[64];            /* "/device:CPU:0", as tf.config.list_logical_devices */
  char device_type[16];
  int index;                      /* index among logical devices of this type */
  int physical_index;             /* the physical device it lives on */
  uint64_t memory_limit_bytes;    /* 0: no limit */
} ct_logical_device_info;

/* Logical devices (initialises the context). */
CT_API int ct_logical_device_count(ct_context *ctx, const char *type_or_null);
CT_API ct_status ct_logical_device_get(ct_context *ctx, const char *type_or_null, int i,
                                       ct_logical_device_info *out);

typedef struct ct_memory_info {
  uint64_t current_bytes;  /* bytes held by live tensors */
  uint64_t peak_bytes;
  uint64_t reserved_bytes; /* bytes held by the allocator (cached included) */
  uint64_t limit_bytes;    /* 0: none */
  /* Cached bytes that are free but sit in device allocations that also hold
   * live tensors: neither usable for a request larger than the free block
   * they are in nor returnable to the driver (PyTorch's inactive split
   * bytes). 0 on the CPU. */
  uint64_t fragmented_bytes;
} ct_memory_info;
/* Memory statistics of a logical device, by spec ("GPU:0", "/device:CPU:1"). */
CT_API ct_status ct_device_memory_info(ct_context *ctx, const char *device_spec, ct_memory_info *out);
/* Waits for all work queued on every device; returns the first deferred
 * error (naming the op that caused it). */
CT_API ct_status ct_context_synchronize(ct_context *ctx);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */
/* Device configuration must happen before the context initialises; after it,
 * a call that would change the configuration fails with
 * CT_FAILED_PRECONDITION, and one that repeats the current value succeeds. */

/* Which physical devices of `type` ("CPU" or "GPU") are used, by physical
 * index. An empty list hides every device of that type (the CPU cannot be
 * hidden). Combined with CUDA_VISIBLE_DEVICES, which renumbers first. */
CT_API ct_status ct_config_set_visible_devices(ct_context *ctx, const char *type, const int *physical,
                                               int n);
/* Writes at most `cap` indices; *n receives the full count. */
CT_API ct_status ct_config_get_visible_devices(ct_context *ctx, const char *type, int *physical, int cap,
                                               int *n);

typedef struct ct_logical_device_config {
  int64_t memory_limit_mb; /* GPU: required (> 0); CPU: must be 0 */
  int priority;            /* GPU only, used when has_priority */
  bool has_priority;
} ct_logical_device_config;
/* Splits one physical device ("/physical_device:GPU:0") into n logical ones. */
CT_API ct_status ct_config_set_logical_devices(ct_context *ctx, const char *physical_name,
                                               const ct_logical_device_config *cfg, int n);
/* Writes at most `cap` configs; *n receives the count (0 if never set). */
CT_API ct_status ct_config_get_logical_devices(ct_context *ctx, const char *physical_name,
                                               ct_logical_device_config *cfg, int cap, int *n);
/* GPU memory growth. Growth is ctensor's default behaviour either way; with
 * growth off, a GPU's allocator reserves its whole limit at start. */
CT_API ct_status ct_config_set_memory_growth(ct_context *ctx, const char *physical_name, bool on);
/* *out: 1 on, 0 off, -1 never set (TensorFlow's None). */
CT_API ct_status ct_config_get_memory_growth(ct_context *ctx, const char *physical_name, int *out);

/* These may change at any time. */
CT_API ct_status ct_config_set_soft_placement(ct_context *ctx, bool on); /* default on */
CT_API bool ct_config_get_soft_placement(ct_context *ctx);
CT_API ct_status ct_config_set_log_placement(ct_context *ctx, bool on);  /* default off */
CT_API bool ct_config_get_log_placement(ct_context *ctx);
/* Matmul on GPUs with TensorFloat-32 (off by default). */
CT_API ct_status ct_config_set_tf32(ct_context *ctx, bool on);

/* What happens when an op's input lives on another device than the op. */
typedef enum ct_device_policy {
  CT_POLICY_SILENT = 0,          /* copy (default, as TensorFlow 2) */
  CT_POLICY_WARN = 1,            /* copy and log once per (op, input, devices) */
  CT_POLICY_EXPLICIT = 2,        /* fail with INVALID_ARGUMENT */
  CT_POLICY_SILENT_FOR_INT32 = 3 /* copy int32 silently, else as EXPLICIT */
} ct_device_policy;
/* Per thread, as tf.config.experimental.set_device_policy. */
CT_API ct_status ct_config_set_device_policy(ct_context *ctx, ct_device_policy policy);
CT_API ct_device_policy ct_config_get_device_policy(ct_context *ctx);

/* ------------------------------------------------------------------------ */
/* Placement                                                                 */
/* ------------------------------------------------------------------------ */

/* Per-thread device scopes, like `with tf.device(spec):`. Nested scopes
 * merge: fields set in the inner spec win. Push validates the spec. */
CT_API ct_status ct_device_scope_push(ct_context *ctx, const char *spec);
CT_API ct_status ct_device_scope_pop(ct_context *ctx);
/* The calling thread's merged scope ("" when none). */
CT_API ct_status ct_device_scope_current(ct_context *ctx, char *out, size_t out_size);

/* Why an op did not run where it was asked. */
typedef enum ct_fallback_reason {
  CT_FALLBACK_NO_SUCH_DEVICE = 0,  /* requested device does not exist */
  CT_FALLBACK_NO_KERNEL = 1,       /* device exists, no kernel for op/dtype */
  CT_FALLBACK_DEVICE_HIDDEN = 2,   /* device exists but is not visible */
  CT_FALLBACK_UNKNOWN_TYPE = 3,    /* device type unknown to ctensor */
  CT_FALLBACK_NO_NCCL = 4          /* a GPU collective staged through host memory over
                                      MPI: NCCL not loaded, or no NCCL type for the dtype */
} ct_fallback_reason;
CT_API const char *ct_fallback_reason_name(ct_fallback_reason reason);

typedef struct ct_fallback_record {
  char op[32];                          /* TensorFlow op name, "MatMul" */
  char requested[CT_DEVICE_NAME_MAX];   /* the merged scope spec */
  char placed[CT_DEVICE_NAME_MAX];      /* where it ran */
  ct_fallback_reason reason;
  uint64_t count;
} ct_fallback_record;
/* Soft-placement fallbacks, counted per (op, requested device, reason). */
CT_API int ct_fallback_count(ct_context *ctx);
CT_API ct_status ct_fallback_get(ct_context *ctx, int i, ct_fallback_record *out);
/* Ops executed on a logical device (by spec), since the context started. */
CT_API ct_status ct_device_op_count(ct_context *ctx, const char *device_spec, uint64_t *out);
/* Writes the placement report (ops per device, fallbacks and reasons) as
 * text. Returns the length it needed, like snprintf. Also logged at INFO
 * level (through the log callback; stderr when none is set) at
 * ct_context_free when CT_PLACEMENT_REPORT=1 was set at initialisation or
 * ct_context_set_report_at_exit() was called. */
CT_API size_t ct_placement_report(ct_context *ctx, char *out, size_t out_size);
CT_API void ct_context_set_report_at_exit(ct_context *ctx, bool on);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */

/* Copies `data` (row-major, shape[0..rank)) into a new tensor placed like
 * an op (TensorFlow's _EagerConst): on the scope's device, else the best
 * device. rank 0..CT_MAX_RANK; data may be NULL only when the tensor has
 * no elements. For CT_BOOL every non-zero byte is stored as 1. */
CT_API ct_status ct_tensor_from_host(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank,
                                     const void *data, ct_tensor **out);
/* Copies the tensor's elements to host memory; dst_bytes must be at least
 * ct_tensor_nbytes(). Waits for pending work on the tensor's device. */
CT_API ct_status ct_tensor_to_host(const ct_tensor *t, void *dst, size_t dst_bytes);

CT_API ct_dtype ct_tensor_dtype(const ct_tensor *t);
CT_API int ct_tensor_rank(const ct_tensor *t);
/* The shape array (rank entries), valid while the tensor lives. */
CT_API const int64_t *ct_tensor_shape(const ct_tensor *t);
/* Negative axes count from the end; -1 if the axis is out of range. */
CT_API int64_t ct_tensor_dim(const ct_tensor *t, int axis);
CT_API int64_t ct_tensor_num_elements(const ct_tensor *t);
CT_API size_t ct_tensor_nbytes(const ct_tensor *t);
/* "/job:localhost/replica:0/task:0/device:CPU:0" — where the op that made
 * the tensor ran. Valid while the tensor lives. */
CT_API const char *ct_tensor_device(const ct_tensor *t);
/* Where the bytes actually are (differs for int32 outputs of GPU ops). */
CT_API const char *ct_tensor_backing_device(const ct_tensor *t);

CT_API ct_tensor *ct_tensor_retain(ct_tensor *t);
/* Drops one reference; frees on the last. NULL is a no-op. */
CT_API void ct_tensor_release(ct_tensor *t);

/* Copies to the device named by `device_spec` (like tf.identity under
 * tf.device). Copying to the device the tensor is on returns the same
 * tensor with one more reference. */
CT_API ct_status ct_tensor_copy_to(const ct_tensor *t, const char *device_spec, ct_tensor **out);

/* ------------------------------------------------------------------------ */
/* DLPack: tensors shared with NumPy, PyTorch, JAX, CuPy without a copy     */
/* ------------------------------------------------------------------------ */
/* The structs are DLPack 1.1's, declared in <ctensor_dlpack.h> (written from
 * the specification; include it to read the fields). docs/dlpack.md. */
struct DLManagedTensorVersioned;
struct DLManagedTensor;

/* Exports t's own bytes, no copy: the managed tensor holds a reference to
 * t until its deleter is called (by the consumer, exactly once). Device
 * kDLCPU (id 0) for host tensors, kDLCUDA with the GPU's driver ordinal
 * (after CUDA_VISIBLE_DEVICES) for GPU tensors; pending GPU work on t is
 * waited for first, so any stream may read it. Shape and strides
 * (compact row-major, in elements) are always given, byte_offset is 0,
 * and the versioned form carries DLPACK_FLAG_BITMASK_READ_ONLY: tensors
 * are immutable. dtypes: float16/32/64 (kDLFloat), bfloat16 (kDLBfloat),
 * int32/64 (kDLInt), bool (kDLBool, 8 bits). */
CT_API ct_status ct_tensor_to_dlpack(const ct_tensor *t, struct DLManagedTensorVersioned **out);
/* The same as a pre-1.0 DLManagedTensor, for older consumers. */
CT_API ct_status ct_tensor_to_dlpack_unversioned(const ct_tensor *t, struct DLManagedTensor **out);

/* from_dlpack flag: refuse (INVALID_ARGUMENT) a tensor that would have to be
 * copied, instead of copying it. */
#define CT_DLPACK_NO_COPY 1u

/* A tensor over a DLPack tensor's memory. On success ctensor owns `src`
 * and calls its deleter once, when the new tensor and every view of it
 * are released (or at once if the bytes were copied); on failure `src`
 * stays the caller's. Compact row-major memory aligned to the element size
 * is borrowed without a copy (the tensor's device is CPU:0, or the first
 * logical GPU on driver ordinal device_id for kDLCUDA; kDLCUDAHost and
 * kDLCUDAManaged memory is read as host memory). Other strides, a
 * misaligned pointer, or bool bytes other than 0/1 are copied into a new
 * CPU tensor — counted by ct_dlpack_copy_count() and logged as a warning
 * — or refused with CT_DLPACK_NO_COPY; a CUDA tensor that would need a
 * copy is UNIMPLEMENTED. ctensor never writes into the borrowed bytes, so
 * a read-only producer is safe. Errors: a dtype ctensor lacks (complex,
 * uint8, int8, int16, float8, lanes > 1) INVALID_ARGUMENT naming it; a
 * device ctensor does not have (a CUDA ordinal without a logical GPU, or
 * another device type) NOT_FOUND; a major version other than 1
 * UNIMPLEMENTED. Initialises the context. */
CT_API ct_status ct_tensor_from_dlpack(ct_context *ctx, struct DLManagedTensorVersioned *src, unsigned flags,
                                       ct_tensor **out);
CT_API ct_status ct_tensor_from_dlpack_unversioned(ct_context *ctx, struct DLManagedTensor *src, unsigned flags,
                                                   ct_tensor **out);
/* The DLPack device of t's bytes (kDLCPU = 1 and 0, or kDLCUDA = 2 and the
 * driver ordinal), as Python's __dlpack_device__ returns it. */
CT_API ct_status ct_tensor_dlpack_device(const ct_tensor *t, int32_t *device_type, int32_t *device_id);
/* How many imports in this process had to copy (see above). */
CT_API uint64_t ct_dlpack_copy_count(void);
/* The stream a DLPack producer should make wait before ctensor reads its
 * tensor on DLPack device (device_type, device_id): the CUstream of the
 * logical GPU ct_tensor_from_dlpack would pick (Python passes it as
 * __dlpack__(stream=...)); 0 for host memory. NOT_FOUND as from_dlpack. */
CT_API ct_status ct_dlpack_consumer_stream(ct_context *ctx, int32_t device_type, int32_t device_id, uintptr_t *stream);

/* ------------------------------------------------------------------------ */
/* Ops                                                                       */
/* ------------------------------------------------------------------------ */
/* Every op places itself by the placement rules and returns a new tensor on
 * the device where it ran. Binary ops need equal dtypes (as TensorFlow) and
 * broadcast like NumPy. */

/* creation */
CT_API ct_status ct_fill(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, double value,
                         ct_tensor **out);
CT_API ct_status ct_zeros(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, ct_tensor **out);
CT_API ct_status ct_ones(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank, ct_tensor **out);
/* tf.range(start, limit, delta): ceil((limit - start) / delta) elements. */
CT_API ct_status ct_range(ct_context *ctx, ct_dtype dtype, double start, double limit, double delta,
                          ct_tensor **out);

/* random: stateless in (seed, offset); see the counter layout in
 * docs/random.md. float32/float64/float16/bfloat16 outputs.
 * Philox4x32-10 with key = {seed low 32 bits, seed high 32 bits}; element i
 * (row-major) uses block b = i / E with the 128-bit counter offset + b
 * (words 0..2, word 3 = 0), E = 4 values per block for float32/16-bit
 * types, 2 for float64. offset counts blocks: a draw at offset k equals a
 * draw at offset 0 with its first k*E elements removed. float32 uniform:
 * (x >> 8) * 2^-24; float64: top 53 bits of (x[1] << 32 | x[0]). Normals:
 * Box–Muller on word pairs (x[0],x[1]) -> lanes 0,1 and (x[2],x[3]) ->
 * lanes 2,3 (float64: one pair per block). truncated_normal re-draws a
 * value with |z| >= 2 from the same block index with counter word 3 =
 * 1, 2, ... . float16/bfloat16 are the float32 values rounded. */
CT_API ct_status ct_random_uniform(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank,
                                   double minval, double maxval, uint64_t seed, uint64_t offset,
                                   ct_tensor **out);
CT_API ct_status ct_random_normal(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank,
                                  double mean, double stddev, uint64_t seed, uint64_t offset,
                                  ct_tensor **out);
CT_API ct_status ct_truncated_normal(ct_context *ctx, ct_dtype dtype, const int64_t *shape, int rank,
                                     double mean, double stddev, uint64_t seed, uint64_t offset,
                                     ct_tensor **out);

/* matmul: rank 2 or more (any number of batch dimensions, broadcast like
 * NumPy's: TensorFlow's BatchMatMulV2); float32/float64
 * through BLAS, float16/bfloat16 computed in float32 and rounded once,
 * int32/int64 exact with two's-complement wrap-around (as TF's MatMul). */
CT_API ct_status ct_matmul(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, bool transpose_a,
                           bool transpose_b, ct_tensor **out);

/* elementwise binary */
CT_API ct_status ct_add(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_sub(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_mul(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_div(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_maximum(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_minimum(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_pow(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
/* floor_div: the quotient rounded toward minus infinity (floats: floor(a /
 * b)); floor_mod: a - floor_div(a, b) * b, with the sign of b (floats:
 * fmod(a, b) moved into b's sign). TensorFlow's FloorDiv and FloorMod,
 * Python's // and %. An integer divisor of 0 anywhere is INVALID_ARGUMENT
 * ("Integer division by zero"); INT_MIN // -1 wraps to INT_MIN. */
CT_API ct_status ct_floor_div(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_floor_mod(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
/* comparisons (bool output) */
CT_API ct_status ct_equal(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_not_equal(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_less(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_less_equal(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_greater(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
CT_API ct_status ct_greater_equal(ct_context *ctx, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);

/* elementwise unary */
CT_API ct_status ct_neg(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_abs(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_exp(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_log(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_sqrt(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_tanh(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_sigmoid(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_relu(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
/* x * x (TensorFlow's Square); every numeric dtype. */
CT_API ct_status ct_square(ct_context *ctx, const ct_tensor *x, ct_tensor **out);

/* reductions: axes == NULL reduces every axis; negative axes count from the
 * end; n_axes == 0 with non-NULL axes reduces nothing. */
CT_API ct_status ct_reduce_sum(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes,
                               bool keepdims, ct_tensor **out);
CT_API ct_status ct_reduce_mean(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes,
                                bool keepdims, ct_tensor **out);
CT_API ct_status ct_reduce_max(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes,
                               bool keepdims, ct_tensor **out);
CT_API ct_status ct_reduce_min(ct_context *ctx, const ct_tensor *x, const int *axes, int n_axes,
                               bool keepdims, ct_tensor **out);
/* index of the first maximum along `axis`; output dtype CT_INT64 or CT_INT32 */
CT_API ct_status ct_argmax(ct_context *ctx, const ct_tensor *x, int axis, ct_dtype out_dtype,
                           ct_tensor **out);

/* shape and type */
CT_API ct_status ct_cast(ct_context *ctx, const ct_tensor *x, ct_dtype dtype, ct_tensor **out);
/* No copy: the result shares x's memory. One entry of shape may be -1. */
CT_API ct_status ct_reshape(ct_context *ctx, const ct_tensor *x, const int64_t *shape, int rank,
                            ct_tensor **out);
/* perm == NULL reverses the axes. */
CT_API ct_status ct_transpose(ct_context *ctx, const ct_tensor *x, const int *perm, ct_tensor **out);
/* n from 1 to 64 tensors; negative axis counts from the end. */
CT_API ct_status ct_concat(ct_context *ctx, const ct_tensor *const *xs, int n, int axis, ct_tensor **out);
/* size[i] == -1 takes everything from begin[i] to the end. */
/* gather: slices of params along `axis` (negative counts from the end)
 * picked by indices (int32 or int64, any shape): the result has shape
 * params.shape[:axis] + indices.shape + params.shape[axis+1:] and params'
 * dtype (tf.gather with batch_dims 0). An index outside [0, params.shape[axis])
 * is INVALID_ARGUMENT naming it ("indices[1,0] = 7 is not in [0, 5)") on
 * every device -- TensorFlow's GPU kernel would write zeros instead. */
CT_API ct_status ct_gather(ct_context *ctx, const ct_tensor *params, const ct_tensor *indices, int axis,
                           ct_tensor **out);
CT_API ct_status ct_slice(ct_context *ctx, const ct_tensor *x, const int64_t *begin, const int64_t *size,
                          ct_tensor **out);
CT_API ct_status ct_softmax(ct_context *ctx, const ct_tensor *x, int axis, ct_tensor **out);

/* ---- ops for gradients and training ------------------------------------- */

/* log(softmax(x)) along `axis`, computed as x - max - log(sum(exp(x - max)))
 * so that it never overflows (tf.nn.log_softmax); float dtypes. */
CT_API ct_status ct_log_softmax(ct_context *ctx, const ct_tensor *x, int axis, ct_tensor **out);
/* Softmax cross-entropy of logits [batch, classes] against integer labels
 * [batch] (int32/int64, each in [0, classes): INVALID_ARGUMENT naming the
 * first bad one on every device), in one numerically stable kernel:
 * *loss is [batch]; *backprop (NULL: not wanted) receives d loss / d logits,
 * softmax(logits) - one_hot(labels), [batch, classes]. TensorFlow's
 * SparseSoftmaxCrossEntropyWithLogits. */
CT_API ct_status ct_sparse_softmax_cross_entropy_with_logits(ct_context *ctx, const ct_tensor *labels,
                                                             const ct_tensor *logits, ct_tensor **loss,
                                                             ct_tensor **backprop);
/* The same with dense labels (a probability distribution per row, logits'
 * shape and dtype): loss = -sum(labels * log_softmax(logits)), backprop =
 * softmax(logits) - labels. TensorFlow's SoftmaxCrossEntropyWithLogits. */
CT_API ct_status ct_softmax_cross_entropy_with_logits(ct_context *ctx, const ct_tensor *labels,
                                                      const ct_tensor *logits, ct_tensor **loss, ct_tensor **backprop);
/* tf.one_hot: indices (int32/int64, any rank) -> indices' shape with a new
 * axis of length `depth` at `axis` (-1: last); on_value where the index
 * matches, off_value elsewhere; an index outside [0, depth) gives a row of
 * off_value. dtype: any numeric dtype or bool. */
CT_API ct_status ct_one_hot(ct_context *ctx, const ct_tensor *indices, int64_t depth, double on_value,
                            double off_value, int axis, ct_dtype dtype, ct_tensor **out);
/* tf.where(condition, x, y) (SelectV2): x where condition is true, else y;
 * condition is bool; the three broadcast together like NumPy; x and y have
 * one dtype. */
CT_API ct_status ct_where(ct_context *ctx, const ct_tensor *condition, const ct_tensor *x, const ct_tensor *y,
                          ct_tensor **out);
/* Zeros and ones of x's shape and dtype, placed like an op. */
CT_API ct_status ct_zeros_like(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
CT_API ct_status ct_ones_like(ct_context *ctx, const ct_tensor *x, ct_tensor **out);
/* x broadcast to `shape` by NumPy's rules (tf.broadcast_to); a copy. */
CT_API ct_status ct_broadcast_to(ct_context *ctx, const ct_tensor *x, const int64_t *shape, int rank,
                                 ct_tensor **out);
/* tf.math.unsorted_segment_sum: out[s, ...] = sum of data[i..., ...] over
 * every index i of segment_ids with segment_ids[i] == s. segment_ids
 * (int32/int64) has a prefix of data's shape; the result has shape
 * [num_segments] + data.shape[segment_ids.rank:]. A negative id drops its
 * row; an id >= num_segments is INVALID_ARGUMENT naming it. */
CT_API ct_status ct_unsorted_segment_sum(ct_context *ctx, const ct_tensor *data, const ct_tensor *segment_ids,
                                         int64_t num_segments, ct_tensor **out);
/* The same values, but no gradient flows through it (tf.stop_gradient):
 * a view sharing x's memory that tapes never connect to x. */
CT_API ct_status ct_stop_gradient(ct_context *ctx, const ct_tensor *x, ct_tensor **out);

/* ------------------------------------------------------------------------ */
/* Variables                                                                 */
/* ------------------------------------------------------------------------ */

/* A mutable value with a fixed dtype, shape and device (tf.Variable).
 * Refcounted: ct_variable_release drops a reference; tapes that watch a
 * variable hold one, so releasing it while a tape holds it is safe. */
typedef struct ct_variable ct_variable;

/* Makes a variable holding a copy of `initial`, placed like an op (the
 * thread's scope, else the best device for its dtype), as TensorFlow places
 * tf.Variable. `name` may be NULL ("Variable"). */
CT_API ct_status ct_variable_new(ct_context *ctx, const ct_tensor *initial, bool trainable, const char *name,
                                 ct_variable **out);
CT_API ct_variable *ct_variable_retain(ct_variable *v);
/* NULL is a no-op. */
CT_API void ct_variable_release(ct_variable *v);
/* The current value, as a tensor on the variable's device. Later assigns
 * never change a tensor already read. Read while a tape records, a
 * trainable variable is watched by that tape (watch_accessed_variables). */
CT_API ct_status ct_variable_read(ct_variable *v, ct_tensor **out);
/* value must have the variable's dtype and shape (INVALID_ARGUMENT naming
 * both, the variable unchanged). The update runs on the variable's device;
 * a value on another device is moved by the thread's device policy. */
CT_API ct_status ct_variable_assign(ct_variable *v, const ct_tensor *value);
CT_API ct_status ct_variable_assign_add(ct_variable *v, const ct_tensor *delta);
CT_API ct_status ct_variable_assign_sub(ct_variable *v, const ct_tensor *delta);
/* Full device name, as ct_tensor_device. Valid while the variable lives. */
CT_API const char *ct_variable_device(const ct_variable *v);
CT_API ct_dtype ct_variable_dtype(const ct_variable *v);
CT_API int ct_variable_rank(const ct_variable *v);
CT_API const int64_t *ct_variable_shape(const ct_variable *v);
CT_API const char *ct_variable_name(const ct_variable *v);
CT_API bool ct_variable_trainable(const ct_variable *v);

/* ------------------------------------------------------------------------ */
/* Gradient tapes                                                            */
/* ------------------------------------------------------------------------ */

/* A tape records the ops of the thread that made it, while it is
 * recording, whose inputs it watches (tf.GradientTape). Gradients are
 * computed with ops: each gradient op is placed on the device its forward
 * op ran on, logged and counted like any op; with soft placement off, a
 * gradient op that cannot run there fails naming the forward op and the
 * device. Ops made while computing a gradient are recorded by the other
 * tapes of the thread that are recording (nested tapes: higher orders);
 * the tape being differentiated does not record them. */
typedef struct ct_tape ct_tape;

/* Makes a tape that records from now on, on the calling thread.
 * persistent: gradients may be asked for more than once.
 * watch_accessed_variables: trainable variables read while it records are
 * watched automatically. */
CT_API ct_status ct_tape_new(ct_context *ctx, bool persistent, bool watch_accessed_variables, ct_tape **out);
/* Frees the tape and everything it holds. Call it on the thread that made
 * it; NULL is a no-op. */
CT_API void ct_tape_free(ct_tape *tape);
/* Watches a tensor (a float tensor; others are ignored, as TensorFlow
 * ignores them with a warning) or a variable (kept alive by the tape). */
CT_API ct_status ct_tape_watch(ct_tape *tape, const ct_tensor *t);
CT_API ct_status ct_tape_watch_variable(ct_tape *tape, ct_variable *v);
/* Pause and resume recording (tape.stop_recording()); on the tape's thread
 * only (FAILED_PRECONDITION otherwise). A new tape records. */
CT_API ct_status ct_tape_stop_recording(ct_tape *tape);
CT_API ct_status ct_tape_resume_recording(ct_tape *tape);
CT_API bool ct_tape_is_recording(const ct_tape *tape);
/* Forgets everything recorded and watched (tape.reset()). */
CT_API ct_status ct_tape_reset(ct_tape *tape);
/* Variables the tape watches, in the order they were first watched. *out
 * receives a new reference. */
CT_API int ct_tape_watched_variable_count(const ct_tape *tape);
CT_API ct_status ct_tape_watched_variable_get(const ct_tape *tape, int i, ct_variable **out);
/* Ops recorded so far, and the tensors the tape holds for its gradients
 * (for tests and memory reports). */
CT_API int64_t ct_tape_recorded_op_count(const ct_tape *tape);
CT_API int64_t ct_tape_held_tensor_count(const ct_tape *tape);

/* A source of a gradient: exactly one of the two is set. */
typedef struct ct_gradient_source {
  const ct_tensor *tensor;
  ct_variable *variable;
} ct_gradient_source;

/* What a source the targets do not depend on gets (tf.UnconnectedGradients). */
typedef enum ct_unconnected_gradients {
  CT_UNCONNECTED_NONE = 0, /* NULL, TensorFlow's None */
  CT_UNCONNECTED_ZERO = 1  /* zeros of the source's shape and dtype */
} ct_unconnected_gradients;

/* d(sum of targets) / d(source) for each source, into out[0..n_sources):
 * a new reference each, or NULL for a source the targets do not depend on
 * (with CT_UNCONNECTED_NONE) and for integer and bool sources (always).
 * A non-scalar target counts as the sum of its elements, unless
 * output_gradients (one per target, the target's shape and dtype; NULL
 * entries or a NULL array: ones) weights it. A non-persistent tape answers
 * once; a second call is FAILED_PRECONDITION. On failure nothing is
 * written to out. */
CT_API ct_status ct_tape_gradient(ct_tape *tape, const ct_tensor *const *targets, int n_targets,
                                  const ct_tensor *const *output_gradients, const ct_gradient_source *sources,
                                  int n_sources, ct_unconnected_gradients unconnected, ct_tensor **out);

/* ------------------------------------------------------------------------ */
/* Optimizers                                                                */
/* ------------------------------------------------------------------------ */

/* Keras 3's optimizers (tf.keras.optimizers.SGD and Adam), with Keras's
 * update formulas. Each variable's update is one fused op on the
 * variable's device (ResourceApplyGradientDescent,
 * ResourceApplyKerasMomentum, ResourceApplyAdam), placed, logged and
 * counted like any op; a gradient on another device is moved by the
 * thread's device policy. An optimizer's slots (SGD's momentum; Adam's m,
 * v and, with amsgrad, vhat) are made of zeros on a variable's first
 * update, with its dtype and shape, on its device; the optimizer holds a
 * reference to every variable it has slots for until it is freed. 16-bit
 * float variables compute in float32 (slots keep the variable's dtype).
 * An optimizer may be shared between threads: steps do not interleave. */
typedef struct ct_optimizer ct_optimizer;

/* SGD (Keras 3's defaults: 0.01, 0.0, false). momentum 0: plain gradient
 * descent, var -= g*lr, and no slots. Otherwise m = m*momentum - g*lr and
 * var += m, or with nesterov var += m*momentum - g*lr. learning_rate must
 * be finite and >= 0, momentum in [0, 1] (INVALID_ARGUMENT otherwise). */
CT_API ct_status ct_optimizer_sgd_new(ct_context *ctx, double learning_rate, double momentum, bool nesterov,
                                      ct_optimizer **out);
/* Adam (Keras 3's defaults: 0.001, 0.9, 0.999, 1e-7, false). At step t =
 * iterations + 1: m += (g - m)*(1 - beta_1); v += (g*g - v)*(1 - beta_2);
 * with amsgrad vhat = max(vhat, v) is used for v; var -= m*alpha /
 * (sqrt(v) + epsilon), alpha = lr*sqrt(1 - beta_2^t)/(1 - beta_1^t)
 * (computed in float64 once per step, from the betas rounded to float32,
 * as Keras does). beta_1 and beta_2 must be in
 * [0, 1), epsilon finite and >= 0. */
CT_API ct_status ct_optimizer_adam_new(ct_context *ctx, double learning_rate, double beta_1, double beta_2,
                                       double epsilon, bool amsgrad, ct_optimizer **out);
/* Releases the slots and the variables held. NULL is a no-op. */
CT_API void ct_optimizer_free(ct_optimizer *opt);
/* One step (optimizer.apply_gradients(zip(grads, vars))): grads[i]
 * updates vars[i]. A NULL gradient skips its variable, with a warning
 * logged once naming the variables skipped (TensorFlow skips None); all
 * NULL is INVALID_ARGUMENT ("No gradients provided for any variable."), n
 * = 0 a no-op, as in Keras. iterations grows by 1 per successful call.
 * Every pair is checked before anything changes: a gradient whose dtype or
 * shape differs from its variable's (INVALID_ARGUMENT naming the variable
 * and both), a bool or integer variable, a variable or gradient of
 * another context, NULL arrays with n > 0, a device policy that refuses
 * to move a gradient, a variable's device without the kernel; on such an
 * error no variable, slot or counter has changed. A failure while
 * updating (out of device memory, a GPU fault) leaves the variables
 * already updated updated and iterations unchanged. */
CT_API ct_status ct_optimizer_apply_gradients(ct_optimizer *opt, ct_variable *const *vars,
                                              const ct_tensor *const *grads, int n);
/* Completed steps (optimizer.iterations); 0 for NULL. */
CT_API int64_t ct_optimizer_iterations(const ct_optimizer *opt);
/* The learning rate the next step uses; settable between steps
 * (optimizer.learning_rate = x). Same rule as at creation. */
CT_API double ct_optimizer_learning_rate(const ct_optimizer *opt);
CT_API ct_status ct_optimizer_set_learning_rate(ct_optimizer *opt, double learning_rate);
/* A copy of slot `slot` of variable v ("momentum" for SGD with momentum;
 * "m", "v", and with amsgrad "vhat" for Adam), on the variable's device.
 * INVALID_ARGUMENT for a slot name this optimizer does not have,
 * NOT_FOUND before v's first update. */
CT_API ct_status ct_optimizer_get_slot(ct_optimizer *opt, ct_variable *v, const char *slot, ct_tensor **out);

/* ------------------------------------------------------------------------ */
/* Process groups and collectives (docs/distributed.md)                      */
/* ------------------------------------------------------------------------ */

/* The processes of one job launched together (mpirun, srun), each a task of
 * a TensorFlow-style cluster: task `rank` of job "worker" (configurable).
 * MPI is used through a plugin, libctensor_mpi.so, built against the MPI
 * found at build time and loaded at run time from next to the library
 * (or the path in $CT_MPI_PLUGIN); a build or a machine without it gets
 * UNAVAILABLE naming what is missing. One process group per context, made
 * before the context initialises: its devices are then named
 * "/job:worker/replica:0/task:R/device:CPU:0". An op placed on another
 * task's device fails with UNIMPLEMENTED ("remote execution is not
 * supported; use collectives"), soft placement or not.
 *
 * Collectives are ops (run on the input's device, or where the thread's
 * scope says; logged and counted), collective over every process of the
 * group. CPU tensors move over MPI; GPU tensors over NCCL (libnccl.so.2,
 * found like cuBLAS; CT_NCCL_PATH: its absolute path), enqueued on the
 * tensor's stream without host copies. A GPU tensor NCCL cannot take (no
 * NCCL, or a dtype it lacks) is staged through host memory over MPI and
 * counted as a fallback (CT_FALLBACK_NO_NCCL); with soft placement off it
 * fails with INVALID_ARGUMENT instead. Each process must issue the same
 * collectives in the same order with the same dtypes and shapes. Before
 * moving data, the processes exchange a small description of the call; a
 * call that differs fails on every process with INVALID_ARGUMENT naming
 * the ranks and what each asked for. A collective that has not completed
 * within the group's timeout fails with DEADLINE_EXCEEDED, or UNAVAILABLE
 * when a process of the group is known to have died; after either the
 * group is broken (FAILED_PRECONDITION for every later collective): make
 * a new one.
 */
typedef struct ct_process_group ct_process_group;

typedef struct ct_process_group_options {
  const char *job;        /* NULL: "worker" */
  double timeout_seconds; /* 0: $CT_COLLECTIVE_TIMEOUT, else 300 */
} ct_process_group_options;

/* Initialises MPI if nobody did (MPI_Init_thread; a program or mpi4py may
 * have done it first, and then finalises it too), and makes a group of
 * every process of MPI_COMM_WORLD attached to ctx. Collective: every
 * process calls it. FAILED_PRECONDITION if ctx is initialised already or
 * has a group; UNAVAILABLE without the plugin or MPI; INVALID_ARGUMENT for
 * a $CT_COLLECTIVE_ALGORITHM other than auto, recursive_doubling or
 * rabenseifner (how a CPU all_reduce's data moves, docs/distributed.md).
 * opts may be NULL. */
CT_API ct_status ct_process_group_new(ct_context *ctx, const ct_process_group_options *opts,
                                      ct_process_group **out);
/* Detaches the group from its context (whose device names stay) and frees
 * it. Not collective. MPI, if ctensor initialised it, is finalised at
 * process exit. NULL is a no-op. */
CT_API void ct_process_group_free(ct_process_group *pg);
CT_API int ct_process_group_rank(const ct_process_group *pg);
CT_API int ct_process_group_size(const ct_process_group *pg);
/* Rank and size among the processes on this node (MPI's shared-memory
 * split): for choosing a GPU per process. */
CT_API int ct_process_group_local_rank(const ct_process_group *pg);
CT_API int ct_process_group_local_size(const ct_process_group *pg);
CT_API const char *ct_process_group_job(const ct_process_group *pg);
/* The MPI library's own version text ("Open MPI v4.1.4, ..."). */
CT_API const char *ct_process_group_mpi_version(const ct_process_group *pg);
CT_API ct_status ct_process_group_set_timeout(ct_process_group *pg, double seconds);
CT_API double ct_process_group_timeout(const ct_process_group *pg);
/* Collectives issued on this group so far (every process counts alike). */
CT_API uint64_t ct_process_group_collective_count(const ct_process_group *pg);

/* The logical devices of every task, this one's first: the local ones as
 * ct_logical_device_get names them, then the other tasks' (remote: ops
 * cannot run there). The other tasks' devices are learnt in the group's
 * first collective (ct_process_group_barrier will do); before it only the
 * local devices are listed. */
CT_API int ct_process_group_device_count(ct_process_group *pg);
CT_API ct_status ct_process_group_device_get(ct_process_group *pg, int i, ct_logical_device_info *out,
                                             bool *remote);

typedef enum ct_reduce_op {
  CT_REDUCE_SUM = 0,
  CT_REDUCE_MEAN = 1, /* the sum divided by the group size (integers: truncated) */
  CT_REDUCE_MAX = 2,
  CT_REDUCE_MIN = 3,
  CT_REDUCE_PROD = 4
} ct_reduce_op;
/* "sum", "mean", "max", "min", "prod"; "invalid" otherwise. */
CT_API const char *ct_reduce_op_name(ct_reduce_op op);

/* Every process gets the elementwise reduction of every process's x (same
 * dtype and shape everywhere; numeric dtypes, not bool). */
CT_API ct_status ct_process_group_all_reduce(ct_process_group *pg, const ct_tensor *x, ct_reduce_op op,
                                             ct_tensor **out);
/* n all_reduces in one collective ("tensor fusion", as Horovod does for
 * gradients): outs[i] is what ct_process_group_all_reduce(pg, xs[i], op)
 * would give (the same bits with up to 3 processes; see
 * docs/distributed.md for more), each run, logged and counted as its own
 * CollectiveReduceV2 op; but one agreement checks the whole group (n and
 * every member's dtype, shape and path: processes passing different groups
 * all fail with INVALID_ARGUMENT), and when every member of every process
 * is a host CPU tensor, the members of each dtype are packed and moved by
 * one exchange per dtype. Members may differ in dtype and shape, and may
 * be empty; n >= 1, no NULL member, no bool. All or nothing: on an error
 * no entry of outs is written. n == 1 is the single call. */
CT_API ct_status ct_process_group_all_reduce_n(ct_process_group *pg, const ct_tensor *const *xs, int n,
                                               ct_reduce_op op, ct_tensor **outs);
/* Every process gets root's x (same dtype and shape everywhere; any dtype). */
CT_API ct_status ct_process_group_broadcast(ct_process_group *pg, const ct_tensor *x, int root, ct_tensor **out);
/* The processes' x concatenated along axis 0 in rank order; the first
 * dimension may differ between processes, the rest may not (rank >= 1). */
CT_API ct_status ct_process_group_all_gather(ct_process_group *pg, const ct_tensor *x, ct_tensor **out);
/* all_reduce, then rank r keeps its share of axis 0: rows [r*q + min(r, m),
 * ...) of the result, q = n / size, m = n % size, the first m ranks one
 * row more (rank >= 1). */
CT_API ct_status ct_process_group_reduce_scatter(ct_process_group *pg, const ct_tensor *x, ct_reduce_op op,
                                                 ct_tensor **out);
/* Returns when every process has called it. */
CT_API ct_status ct_process_group_barrier(ct_process_group *pg);

#ifdef __cplusplus
}
#endif
#endif /* CTENSOR_H */
