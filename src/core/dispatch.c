/*
 * Op dispatch: the registry, the op names, and ct_op_run — place, move
 * inputs by the device policy, allocate the output, log, run the kernel.
 *
 * This is the hot path of every op; a 1-element add spends most of its time
 * here, so nothing in it formats strings or takes locks unless logging or
 * an input on another device asks for it.
 */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static const char *const op_names[CT_OP_COUNT][2] = {
    [CT_OP_CONST] = {"_EagerConst", "const"},
    [CT_OP_IDENTITY] = {"Identity", "identity"},
    [CT_OP_FILL] = {"Fill", "fill"},
    [CT_OP_RANGE] = {"Range", "range"},
    [CT_OP_RANDOM_UNIFORM] = {"StatelessRandomUniformV2", "random_uniform"},
    [CT_OP_RANDOM_NORMAL] = {"StatelessRandomNormalV2", "random_normal"},
    [CT_OP_TRUNCATED_NORMAL] = {"StatelessTruncatedNormalV2", "truncated_normal"},
    [CT_OP_MATMUL] = {"MatMul", "matmul"},
    [CT_OP_ADD] = {"AddV2", "add"},
    [CT_OP_SUB] = {"Sub", "sub"},
    [CT_OP_MUL] = {"Mul", "mul"},
    [CT_OP_DIV] = {"RealDiv", "div"},
    [CT_OP_MAXIMUM] = {"Maximum", "maximum"},
    [CT_OP_MINIMUM] = {"Minimum", "minimum"},
    [CT_OP_POW] = {"Pow", "pow"},
    [CT_OP_FLOOR_DIV] = {"FloorDiv", "floor_div"},
    [CT_OP_FLOOR_MOD] = {"FloorMod", "floor_mod"},
    [CT_OP_EQUAL] = {"Equal", "equal"},
    [CT_OP_NOT_EQUAL] = {"NotEqual", "not_equal"},
    [CT_OP_LESS] = {"Less", "less"},
    [CT_OP_LESS_EQUAL] = {"LessEqual", "less_equal"},
    [CT_OP_GREATER] = {"Greater", "greater"},
    [CT_OP_GREATER_EQUAL] = {"GreaterEqual", "greater_equal"},
    [CT_OP_NEG] = {"Neg", "neg"},
    [CT_OP_ABS] = {"Abs", "abs"},
    [CT_OP_EXP] = {"Exp", "exp"},
    [CT_OP_LOG] = {"Log", "log"},
    [CT_OP_SQRT] = {"Sqrt", "sqrt"},
    [CT_OP_TANH] = {"Tanh", "tanh"},
    [CT_OP_SIGMOID] = {"Sigmoid", "sigmoid"},
    [CT_OP_SQUARE] = {"Square", "square"},
    [CT_OP_RELU] = {"Relu", "relu"},
    [CT_OP_SUM] = {"Sum", "reduce_sum"},
    [CT_OP_MEAN] = {"Mean", "reduce_mean"},
    [CT_OP_MAX] = {"Max", "reduce_max"},
    [CT_OP_MIN] = {"Min", "reduce_min"},
    [CT_OP_ARGMAX] = {"ArgMax", "argmax"},
    [CT_OP_CAST] = {"Cast", "cast"},
    [CT_OP_RESHAPE] = {"Reshape", "reshape"},
    [CT_OP_TRANSPOSE] = {"Transpose", "transpose"},
    [CT_OP_CONCAT] = {"ConcatV2", "concat"},
    [CT_OP_SLICE] = {"Slice", "slice"},
    [CT_OP_SOFTMAX] = {"Softmax", "softmax"},
    [CT_OP_GATHER] = {"GatherV2", "gather"},
    [CT_OP_LOG_SOFTMAX] = {"LogSoftmax", "log_softmax"},
    [CT_OP_SPARSE_XENT] = {"SparseSoftmaxCrossEntropyWithLogits", "sparse_softmax_cross_entropy_with_logits"},
    [CT_OP_SOFTMAX_XENT] = {"SoftmaxCrossEntropyWithLogits", "softmax_cross_entropy_with_logits"},
    [CT_OP_ONE_HOT] = {"OneHot", "one_hot"},
    [CT_OP_SELECT] = {"SelectV2", "where"},
    [CT_OP_BROADCAST_TO] = {"BroadcastTo", "broadcast_to"},
    [CT_OP_UNSORTED_SEGMENT_SUM] = {"UnsortedSegmentSum", "unsorted_segment_sum"},
    [CT_OP_APPLY_GRADIENT_DESCENT] = {"ResourceApplyGradientDescent", "apply_gradient_descent"},
    [CT_OP_APPLY_MOMENTUM] = {"ResourceApplyKerasMomentum", "apply_momentum"},
    [CT_OP_APPLY_ADAM] = {"ResourceApplyAdam", "apply_adam"},
    [CT_OP_ALL_REDUCE] = {"CollectiveReduceV2", "all_reduce"},
    [CT_OP_BROADCAST] = {"CollectiveBcastV2", "broadcast"},
    [CT_OP_ALL_GATHER] = {"CollectiveGatherV2", "all_gather"},
    [CT_OP_REDUCE_SCATTER] = {"CollectiveReduceScatterV2", "reduce_scatter"},
};

const char *ct_op_tf_name(ct_op op) {
  return (unsigned)op < CT_OP_COUNT && op_names[op][0] ? op_names[op][0] : "Unknown";
}

const char *ct_op_name(ct_op op) {
  return (unsigned)op < CT_OP_COUNT && op_names[op][1] ? op_names[op][1] : "unknown";
}

void ct_registry_add(ct_registry *r, ct_op op, ct_devtype dev, ct_dtype dtype, ct_kernel_fn fn) {
  if ((unsigned)op < CT_OP_COUNT && (unsigned)dev < CT_DEVTYPE_COUNT && (unsigned)dtype < CT_DTYPE_COUNT)
    r->kernels[op][dev][dtype] = fn;
}

/* Lists the dtypes that have a kernel for op on type t: "float32, int32". */
static void kernel_dtypes(const ct_registry *r, ct_op op, int t, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (int d = 0; d < CT_DTYPE_COUNT && n < size; d++)
    if (r->kernels[op][t][d]) n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", ct_dtype_name((ct_dtype)d));
}

ct_status ct_no_kernel_error(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device *dev) {
  char have[128];
  kernel_dtypes(&ctx->registry, op, dev->type, have, sizeof have);
  return ct_error(CT_UNIMPLEMENTED, "%s (%s): no kernel for dtype %s on device %s (%s kernels exist for: %s)",
                  ct_op_name(op), ct_op_tf_name(op), ct_dtype_name(kdtype), dev->name, ct_devtype_name(dev->type),
                  have[0] ? have : "no dtype");
}

/* Moves input i to `dev` by the thread's device policy (TensorFlow's
 * CopyInputToExpectedDevice, same messages). Called only when the input's
 * device differs from the op's. *moved is set to a new tensor when bytes
 * had to be copied; the caller releases it.
 *
 * ctensor keeps int32 tensors in the memory of the device that made them
 * (TensorFlow keeps GPU int32 in host memory), so the expected device of
 * every input is the op's device and silent_for_int32 is decided on the
 * input's dtype alone. Identity (ct_tensor_copy_to) and Const never come
 * here: they are the explicit copies the explicit policy asks for. */
static ct_status move_input(ct_context *ctx, ct_op op, int i, const ct_tensor *in, ct_device *dev,
                            ct_device_policy policy, ct_tensor **moved) {
  *moved = NULL;
  bool explicit_only = policy == CT_POLICY_EXPLICIT || (policy == CT_POLICY_SILENT_FOR_INT32 && in->dtype != CT_INT32);
  if (explicit_only) {
    return ct_error(CT_INVALID_ARGUMENT,
                    "Tensors on conflicting devices: cannot compute %s as input #%d was expected to be on %s but is "
                    "actually on %s (operation running on %s) Tensors can be copied explicitly using: "
                    "`ct_tensor_copy_to(x, device_name, &y)` or transparently copied by using "
                    "ct_config_set_device_policy(ctx, CT_POLICY_SILENT). Copying tensors between devices may slow "
                    "down your model",
                    ct_op_tf_name(op), i, dev->name, in->device->name, dev->name);
  }
  if (policy == CT_POLICY_WARN) {
    /* Once per (op, input, source, destination): a loop must not flood the
     * log (TensorFlow warns on every call). */
    char key[2 * CT_DEVICE_NAME_MAX + 32];
    snprintf(key, sizeof key, "copy|%d|%d|%s|%s", (int)op, i, in->device->name, dev->name);
    ct_logf_once(ctx, key, CT_LOG_WARNING,
                 "before computing %s input #%d was expected to be on %s but is actually on %s (operation running "
                 "on %s). This triggers a copy which can be a performance bottleneck.",
                 ct_op_tf_name(op), i, dev->name, in->device->name, dev->name);
  }
  /* Logical devices of one host share its memory: no bytes to move. */
  if (in->backing->type == CT_DEV_CPU && dev->type == CT_DEV_CPU) return CT_OK;
  if (in->backing == dev) return CT_OK;
  return ct_tensor_copy_bytes_to(in, dev, moved);
}

/* Allocates the output, logs, runs the kernel. `in` is already on dev. */
static ct_status run_kernel(ct_context *ctx, ct_device *dev, ct_kernel_fn kernel, ct_op op, const ct_tensor *const *in,
                            int n_in, const int64_t *out_shape, int out_rank, ct_dtype out_dtype, const void *attrs,
                            ct_tensor **out) {
  ct_tensor *result;
  const ct_backend *be = dev->backend;
  void *token = be->enter ? be->enter(dev) : NULL;
  ct_status st = ct_tensor_alloc(dev, out_dtype, out_shape, out_rank, &result);
  if (st != CT_OK) {
    if (be->leave) be->leave(dev, token);
    return ct_error_prefix(st, "%s on %s", ct_op_name(op), dev->name);
  }
  if (atomic_load_explicit(&ctx->log_placement, memory_order_relaxed))
    ct_logf(ctx, CT_LOG_INFO, "Executing op %s in device %s", ct_op_tf_name(op), dev->name);
  ct_kernel_args args = {ctx, dev, op, in, n_in, result, attrs};
  st = kernel(&args);
  if (st != CT_OK) ct_tensor_release(result);
  if (be->leave) be->leave(dev, token);
  if (st != CT_OK) return st;
  atomic_fetch_add_explicit(&dev->op_count, 1, memory_order_relaxed);
  *out = result;
  return CT_OK;
}

/* The slow path: some input lives on another device than the op. Kept
 * out of line so that the common case carries no 1 KiB of arrays. */
static __attribute__((noinline)) ct_status run_with_moved_inputs(ct_context *ctx, ct_device *dev, ct_kernel_fn kernel,
                                                                 ct_op op, const ct_tensor *const *in, int n_in,
                                                                 const int64_t *out_shape, int out_rank,
                                                                 ct_dtype out_dtype, const void *attrs, ct_tensor **out) {
  const ct_tensor *args_in[CT_MAX_INPUTS];
  ct_tensor *moved[CT_MAX_INPUTS];
  int n_moved = 0;
  ct_status st = CT_OK;
  ct_thread_state *ts = ct_thread_state_peek(ctx);
  ct_device_policy policy = ts ? ts->policy : CT_POLICY_SILENT;
  for (int i = 0; i < n_in && st == CT_OK; i++) {
    args_in[i] = in[i];
    if (in[i]->device == dev) continue;
    /* Devices, allocators and GPU streams belong to one context: an input
     * from another context cannot be read or freed through this one. */
    if (in[i]->device->ctx != ctx) {
      st = ct_error(CT_INVALID_ARGUMENT, "%s: input #%d (on %s) belongs to another context than the op",
                    ct_op_name(op), i, in[i]->device->name);
      break;
    }
    ct_tensor *m;
    st = move_input(ctx, op, i, in[i], dev, policy, &m);
    if (st == CT_OK && m) {
      moved[n_moved++] = m;
      args_in[i] = m;
    }
  }
  if (st == CT_OK) st = run_kernel(ctx, dev, kernel, op, args_in, n_in, out_shape, out_rank, out_dtype, attrs, out);
  for (int i = 0; i < n_moved; i++) ct_tensor_release(moved[i]);
  return st;
}

ct_status ct_op_move_input(ct_context *ctx, ct_op op, int i, const ct_tensor *in, ct_device *dev, ct_tensor **moved) {
  ct_thread_state *ts = ct_thread_state_peek(ctx);
  return move_input(ctx, op, i, in, dev, ts ? ts->policy : CT_POLICY_SILENT, moved);
}

/* Out of line: only threads with a recording tape come here. On failure
 * the result is dropped: the caller's out-parameter is never written. */
static __attribute__((noinline)) ct_status record_on_tapes(ct_context *ctx, ct_device *dev, ct_op op,
                                                           const ct_tensor *const *in, int n_in, const void *attrs,
                                                           ct_tensor *result) {
  ct_status st = ct_tape_record_op(ctx, dev, op, in, n_in, result, attrs);
  if (st != CT_OK) ct_tensor_release(result);
  return st;
}

static ct_status run_on(ct_context *ctx, ct_device *dev, ct_op op, ct_dtype kdtype, const ct_tensor *const *in,
                        int n_in, const int64_t *out_shape, int out_rank, ct_dtype out_dtype, const void *attrs,
                        ct_tensor **out);

ct_status ct_op_run_on(ct_context *ctx, ct_device *dev, ct_op op, ct_dtype kdtype, const ct_tensor *const *in,
                       int n_in, const int64_t *out_shape, int out_rank, ct_dtype out_dtype, const void *attrs,
                       ct_tensor **out) {
  ct_tensor *result;
  ct_status st = run_on(ctx, dev, op, kdtype, in, n_in, out_shape, out_rank, out_dtype, attrs, &result);
  /* No tape, no cost: one thread-local load. The tape sees the inputs as
   * the caller passed them, before any move between devices. */
  if (__builtin_expect(ct_tl_tapes != NULL, 0) && st == CT_OK)
    st = record_on_tapes(ctx, dev, op, in, n_in, attrs, result);
  if (st == CT_OK) *out = result;
  return st;
}

static ct_status run_on(ct_context *ctx, ct_device *dev, ct_op op, ct_dtype kdtype, const ct_tensor *const *in,
                        int n_in, const int64_t *out_shape, int out_rank, ct_dtype out_dtype, const void *attrs,
                        ct_tensor **out) {
  ct_kernel_fn kernel = ct_registry_find(&ctx->registry, op, dev->type, kdtype);
  /* A GPU kernel whose library (NVRTC, cuBLAS) does not work is absent. */
  if (kernel && dev->type == CT_DEV_GPU && !ct_gpu_kernel_ready(ctx, op, kdtype)) kernel = NULL;
  if (!kernel) return ct_no_kernel_error(ctx, op, kdtype, dev);
  if (dev->type == CT_DEV_GPU && atomic_load_explicit(&dev->failed, memory_order_acquire))
    return ct_device_failed_error(dev, ct_op_tf_name(op));
  if (n_in > CT_MAX_INPUTS)
    return ct_error(CT_INVALID_ARGUMENT, "%s: %d inputs, at most %d supported", ct_op_name(op), n_in, CT_MAX_INPUTS);
  /* Identity is the copy itself: exempt from the device policy. */
  if (op != CT_OP_IDENTITY) {
    for (int i = 0; i < n_in; i++)
      if (in[i]->device != dev)
        return run_with_moved_inputs(ctx, dev, kernel, op, in, n_in, out_shape, out_rank, out_dtype, attrs, out);
  }
  return run_kernel(ctx, dev, kernel, op, in, n_in, out_shape, out_rank, out_dtype, attrs, out);
}

ct_status ct_op_run(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_tensor *const *in, int n_in,
                    const int64_t *out_shape, int out_rank, ct_dtype out_dtype, const void *attrs, ct_tensor **out) {
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  ct_device *dev;
  st = ct_place(ctx, op, kdtype, in, n_in, &dev);
  if (st != CT_OK) return st;
  return ct_op_run_on(ctx, dev, op, kdtype, in, n_in, out_shape, out_rank, out_dtype, attrs, out);
}
