/*
 * Placement: per-thread device scopes, automatic placement, soft placement
 * with counted and logged fallbacks, strict mode, and the placement report.
 *
 * The rule (TensorFlow 2 eager, EagerContext::SelectDevice): among the
 * device types that have a kernel for (op, dtype), highest priority first
 * (GPU, then CPU), take the lowest-numbered device matching the requested
 * spec. If none matches and soft placement is on, keep the request's job,
 * replica and task, drop its type and index, and choose again — so an op
 * asked for on a missing /GPU:7 runs on GPU:0 when it has a GPU kernel.
 *
 * One deliberate difference: a scope field left unset is a wildcard. In
 * TensorFlow a top-level tf.device("/job:localhost") inherits CPU:0 from
 * the context's default device; here it means "any local device".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static bool name_is_empty(const ct_device_name *n) {
  return !n->has_job && !n->has_replica && !n->has_task && !n->has_type && !n->has_id;
}

static void merge_into(ct_device_name *dst, const ct_device_name *inner) {
  if (inner->has_job) {
    dst->has_job = true;
    memcpy(dst->job, inner->job, sizeof dst->job);
  }
  if (inner->has_replica) {
    dst->has_replica = true;
    dst->replica = inner->replica;
  }
  if (inner->has_task) {
    dst->has_task = true;
    dst->task = inner->task;
  }
  if (inner->has_type) {
    dst->has_type = true;
    memcpy(dst->type, inner->type, sizeof dst->type);
    /* A new type with no index does not keep the outer type's index. */
    if (!inner->has_id) dst->has_id = false;
  }
  if (inner->has_id) {
    dst->has_id = true;
    dst->id = inner->id;
  }
}

/* The thread's innermost scope (ts may be NULL: none) with `inner` merged in. */
static void scope_merged(const ct_thread_state *ts, const ct_device_name *inner, ct_device_name *out) {
  if (ts && ts->scope_depth > 0) *out = ts->scope[ts->scope_depth - 1];
  else memset(out, 0, sizeof *out);
  merge_into(out, inner);
}

ct_status ct_device_scope_push(ct_context *ctx, const char *spec) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_scope_push: context is NULL");
  if (spec == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_scope_push: spec is NULL");
  ct_device_name parsed;
  ct_status st = ct_device_name_parse(spec, &parsed);
  if (st != CT_OK) return st;
  st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  ct_thread_state *ts = ct_thread_state_get(ctx);
  if (!ts) return ct_last_status();
  if (ts->scope_depth >= CT_MAX_SCOPE_DEPTH)
    return ct_error(CT_OUT_OF_RANGE, "device_scope_push: scopes nested deeper than %d (pushing '%s')", CT_MAX_SCOPE_DEPTH,
                    spec);
  ct_device_name merged;
  scope_merged(ts, &parsed, &merged);
  ts->scope[ts->scope_depth++] = merged;
  ts->scope_active = !name_is_empty(&merged);
  ct_error_clear();
  return CT_OK;
}

ct_status ct_device_scope_pop(ct_context *ctx) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_scope_pop: context is NULL");
  ct_thread_state *ts = ct_thread_state_get(ctx);
  if (!ts) return ct_last_status();
  if (ts->scope_depth == 0)
    return ct_error(CT_FAILED_PRECONDITION, "device_scope_pop: no device scope is open on this thread");
  ts->scope_depth--;
  ts->scope_active = ts->scope_depth > 0 && !name_is_empty(&ts->scope[ts->scope_depth - 1]);
  return CT_OK;
}

ct_status ct_device_scope_current(ct_context *ctx, char *out, size_t out_size) {
  if (ctx == NULL || out == NULL || out_size == 0)
    return ct_error(CT_INVALID_ARGUMENT, "device_scope_current: NULL argument or empty buffer");
  ct_thread_state *ts = ct_thread_state_get(ctx);
  if (!ts) return ct_last_status();
  if (ts->scope_depth == 0) {
    out[0] = '\0';
    return CT_OK;
  }
  return ct_device_name_format(&ts->scope[ts->scope_depth - 1], out, out_size);
}

/* ---- choosing a device -------------------------------------------------- */

/* A GPU kernel whose library (NVRTC, cuBLAS) turned out unusable when it
 * was opened counts as absent, like one pruned at discovery. */
static bool has_kernel(ct_context *ctx, ct_op op, int t, ct_dtype d) {
  return ctx->registry.kernels[op][t][d] != NULL && (t != CT_DEV_GPU || ct_gpu_kernel_ready(ctx, op, d));
}

static ct_device *select_device(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device_name *want) {
  for (int t = CT_DEVTYPE_COUNT - 1; t >= 0; t--) {
    if (!has_kernel(ctx, op, t, kdtype)) continue;
    for (int i = 0; i < ctx->n_by_type[t]; i++)
      if (ct_device_name_matches(want, &ctx->by_type[t][i]->parsed)) return ctx->by_type[t][i];
  }
  return NULL;
}

/* GPUs that exist on the machine but were kept from this process: hidden
 * by ct_config_set_visible_devices (physical but not logical) or by
 * CUDA_VISIBLE_DEVICES (the driver reported no visible device). */
static int hidden_gpu_count(const ct_context *ctx) {
  int hidden = 0;
  for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++)
    if (ctx->cfg[CT_DEV_GPU].visible_set && !ctx->cfg[CT_DEV_GPU].visible[p]) hidden++;
  for (int i = 0; i < ctx->n_unusable; i++)
    if (ctx->unusable[i].reason == CT_GPU_NO_VISIBLE_DEVICE || ctx->unusable[i].reason == CT_GPU_HIDDEN_BY_CONFIG)
      hidden++;
  if (ctx->gpu_reason == CT_GPU_NO_VISIBLE_DEVICE && ctx->n_phys[CT_DEV_GPU] == 0 && hidden == 0) hidden = 1;
  return hidden;
}

/* Why `want` selected nothing. */
static ct_fallback_reason why_unplaced(ct_context *ctx, const ct_device_name *want) {
  if (want->has_type && ct_devtype_from_name(want->type) < 0) return CT_FALLBACK_UNKNOWN_TYPE;
  for (int i = 0; i < ctx->n_devices; i++)
    if (ct_device_name_matches(want, &ctx->devices[i]->parsed)) return CT_FALLBACK_NO_KERNEL;
  if (want->has_type && strcmp(want->type, "GPU") == 0) {
    int hidden = hidden_gpu_count(ctx);
    /* /GPU:k names a hidden GPU when k is below the number of GPUs that
     * would exist without the filters. */
    if (hidden > 0 && (!want->has_id || want->id < ctx->n_by_type[CT_DEV_GPU] + hidden))
      return CT_FALLBACK_DEVICE_HIDDEN;
  }
  return CT_FALLBACK_NO_SUCH_DEVICE;
}

const char *ct_fallback_reason_name(ct_fallback_reason reason) {
  switch (reason) {
    case CT_FALLBACK_NO_SUCH_DEVICE: return "NO_SUCH_DEVICE";
    case CT_FALLBACK_NO_KERNEL: return "NO_KERNEL";
    case CT_FALLBACK_DEVICE_HIDDEN: return "DEVICE_HIDDEN";
    case CT_FALLBACK_UNKNOWN_TYPE: return "UNKNOWN_TYPE";
    case CT_FALLBACK_NO_NCCL: return "NO_NCCL";
  }
  return "UNKNOWN_REASON";
}

static const char *reason_sentence(ct_fallback_reason r) {
  switch (r) {
    case CT_FALLBACK_NO_SUCH_DEVICE: return "the requested device does not exist";
    case CT_FALLBACK_NO_KERNEL: return "the requested device has no kernel for this op and dtype";
    case CT_FALLBACK_DEVICE_HIDDEN: return "the requested device exists but is not visible";
    case CT_FALLBACK_UNKNOWN_TYPE: return "the requested device type is unknown";
    case CT_FALLBACK_NO_NCCL: return "NCCL cannot run this GPU collective, so it went through host memory over MPI";
  }
  return "unknown reason";
}

/* What a usable GPU cannot do (its NO_NVRTC or NO_CUBLAS detail) when that
 * is why a GPU request found no kernel -- the kernel exists but was dropped
 * for a missing library; "" otherwise (int32 MatMul has no GPU kernel at
 * all, whatever the libraries). */
static const char *gpu_limit(const ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device_name *want,
                             ct_fallback_reason reason) {
  bool dropped = ctx->registry.gpu_pruned[op][kdtype] ||
                 (ctx->registry.gpu_needs[op][kdtype] & atomic_load(&ctx->gpu_libs_bad)) != 0;
  if (reason != CT_FALLBACK_NO_KERNEL || !want->has_type || strcmp(want->type, "GPU") != 0 || !dropped)
    return "";
  for (int i = 0; i < ctx->n_phys[CT_DEV_GPU]; i++) {
    const ct_physical_device_info *g = &ctx->phys[CT_DEV_GPU][i];
    if (g->reason == CT_GPU_NO_NVRTC || g->reason == CT_GPU_NO_CUBLAS) return g->reason_detail;
  }
  return "";
}

/* The request as TensorFlow reports it: this process's job, replica and
 * task (/job:localhost/replica:0/task:0 without a process group) are
 * filled in when the scope left them open; type and index stay as asked
 * ("/device:GPU:*"). */
static void complete_local(const ct_context *ctx, ct_device_name *n) {
  if (!n->has_job) {
    n->has_job = true;
    snprintf(n->job, sizeof n->job, "%s", ctx->job[0] ? ctx->job : "localhost");
  }
  if (!n->has_replica) {
    n->has_replica = true;
    n->replica = 0;
  }
  if (!n->has_task) {
    n->has_task = true;
    n->task = ctx->task;
  }
}

static void requested_name(const ct_context *ctx, const ct_device_name *want, char *buf, size_t size) {
  ct_device_name full = *want;
  complete_local(ctx, &full);
  if (ct_device_name_format(&full, buf, size) != CT_OK) snprintf(buf, size, "(unprintable)");
}

static bool same_name(const ct_device_name *a, const ct_device_name *b) {
  return a->has_job == b->has_job && (!a->has_job || strcmp(a->job, b->job) == 0) && a->has_replica == b->has_replica &&
         (!a->has_replica || a->replica == b->replica) && a->has_task == b->has_task &&
         (!a->has_task || a->task == b->task) && a->has_type == b->has_type &&
         (!a->has_type || strcmp(a->type, b->type) == 0) && a->has_id == b->has_id && (!a->has_id || a->id == b->id);
}

/* Counts one fallback. A loop that keeps falling back finds its entry by
 * the parsed request, so the request is formatted once, not per op. */
static void record_fallback(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device_name *asked, ct_device *placed,
                            ct_fallback_reason reason) {
  /* "/GPU:0" and "/job:localhost/GPU:0" are one request. */
  ct_device_name full = *asked;
  complete_local(ctx, &full);
  const ct_device_name *want = &full;
  char requested[CT_DEVICE_NAME_MAX];
  bool log = atomic_load_explicit(&ctx->log_placement, memory_order_relaxed);
  pthread_mutex_lock(&ctx->lock);
  ct_fallback_entry *e = NULL;
  for (int i = ctx->n_fallbacks - 1; i >= 0; i--) {
    ct_fallback_entry *f = &ctx->fallbacks[i];
    if (f->op == op && f->reason == reason && f->placed == placed && same_name(&f->want, want)) {
      e = f;
      break;
    }
  }
  if (!e && ctx->n_fallbacks == ctx->cap_fallbacks) {
    int cap = ctx->cap_fallbacks ? ctx->cap_fallbacks * 2 : 8;
    ct_fallback_entry *grown = realloc(ctx->fallbacks, (size_t)cap * sizeof *grown);
    if (grown) {
      ctx->fallbacks = grown;
      ctx->cap_fallbacks = cap;
    }
  }
  if (!e && ctx->n_fallbacks < ctx->cap_fallbacks) {
    e = &ctx->fallbacks[ctx->n_fallbacks++];
    memset(e, 0, sizeof *e);
    e->op = op;
    e->want = *want;
    e->reason = reason;
    e->placed = placed;
    requested_name(ctx, want, e->requested, sizeof e->requested);
  }
  if (e) e->count++;
  pthread_mutex_unlock(&ctx->lock);

  /* Once per (op, reason) while logging is on; the first fallback after
   * logging was switched on is the one shown. */
  if (log) {
    requested_name(ctx, want, requested, sizeof requested);
    char key[64];
    snprintf(key, sizeof key, "fallback|%d|%d", (int)op, (int)reason);
    const char *limit = gpu_limit(ctx, op, kdtype, want, reason);
    ct_logf_once(ctx, key, CT_LOG_WARNING,
                 "Soft placement: op %s (dtype %s) requested on %s runs on %s instead: %s (%s%s%s)", ct_op_tf_name(op),
                 ct_dtype_name(kdtype), requested, placed->name, ct_fallback_reason_name(reason),
                 reason_sentence(reason), limit[0] ? "; " : "", limit);
  }
}

void ct_placement_note_fallback(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device *asked, ct_device *ran_on,
                                ct_fallback_reason reason) {
  record_fallback(ctx, op, kdtype, &asked->parsed, ran_on, reason);
}

/* The device types TensorFlow would list as supported: those with a kernel
 * for (op, dtype) and at least one device in this context. */
static void supported_types(ct_context *ctx, ct_op op, ct_dtype kdtype, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (int t = CT_DEVTYPE_COUNT - 1; t >= 0 && n < size; t--)
    if (has_kernel(ctx, op, t, kdtype) && ctx->n_by_type[t] > 0)
      n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", ct_devtype_name((ct_devtype)t));
}

static ct_status no_kernel_anywhere(ct_context *ctx, ct_op op, ct_dtype kdtype) {
  char list[512];
  size_t n = 0;
  list[0] = '\0';
  for (int t = CT_DEVTYPE_COUNT - 1; t >= 0; t--) {
    bool first = true;
    for (int d = 0; d < CT_DTYPE_COUNT && n < sizeof list; d++) {
      if (!has_kernel(ctx, op, t, (ct_dtype)d)) continue;
      if (first)
        n += (size_t)snprintf(list + n, sizeof list - n, "%sdevice='%s'; T in [%s", n ? "; " : "",
                              ct_devtype_name((ct_devtype)t), ct_dtype_name((ct_dtype)d));
      else
        n += (size_t)snprintf(list + n, sizeof list - n, ", %s", ct_dtype_name((ct_dtype)d));
      first = false;
    }
    if (!first && n < sizeof list) n += (size_t)snprintf(list + n, sizeof list - n, "]");
  }
  return ct_error(CT_UNIMPLEMENTED, "%s (%s): no kernel for dtype %s on any device; kernels registered: %s",
                  ct_op_name(op), ct_op_tf_name(op), ct_dtype_name(kdtype), list[0] ? list : "none");
}

/* The cached choice is a GPU whose kernel's library (NVRTC, cuBLAS) was
 * opened and does not work: choose again as if that kernel were absent. */
static __attribute__((noinline)) ct_device *place_auto_without_gpu(ct_context *ctx, ct_op op, ct_dtype kdtype) {
  for (int t = CT_DEVTYPE_COUNT - 1; t >= 0; t--)
    if (ctx->n_by_type[t] > 0 && has_kernel(ctx, op, t, kdtype)) return ctx->by_type[t][0];
  return NULL;
}

/* The cached choice is a GPU whose context was destroyed at run time: the
 * first working GPU with the kernel, else the CPU. */
static __attribute__((noinline)) ct_device *place_auto_past_failed(ct_context *ctx, ct_op op, ct_dtype kdtype) {
  for (int t = CT_DEVTYPE_COUNT - 1; t >= 0; t--) {
    if (!has_kernel(ctx, op, t, kdtype)) continue;
    for (int i = 0; i < ctx->n_by_type[t]; i++)
      if (!atomic_load_explicit(&ctx->by_type[t][i]->failed, memory_order_acquire)) return ctx->by_type[t][i];
  }
  return NULL;
}

/* Ops without a scope that would have run on a GPU whose context was
 * destroyed now run elsewhere: said once per failed device, so that a
 * program does not move to the CPU without a word. */
static __attribute__((noinline)) void note_auto_past_failed(ct_context *ctx, ct_op op, const ct_device *failed,
                                                            const ct_device *placed) {
  char key[96];
  snprintf(key, sizeof key, "auto-past-failed|%s", failed->name);
  ct_logf_once(ctx, key, CT_LOG_WARNING,
               "%s is unusable (%s: its CUDA context was destroyed); ops without a device scope that would run "
               "there, starting with %s, run on %s instead",
               failed->name, ct_gpu_reason_name(CT_GPU_DEVICE_FAILED), ct_op_tf_name(op),
               placed ? placed->name : "no device");
}

static ct_status place_auto(ct_context *ctx, ct_op op, ct_dtype kdtype, ct_device **out) {
  ct_device *dev = ctx->auto_device[op][kdtype];
  if (dev && dev->type == CT_DEV_GPU && !ct_gpu_kernel_ready(ctx, op, kdtype))
    dev = place_auto_without_gpu(ctx, op, kdtype);
  if (dev && dev->type == CT_DEV_GPU && atomic_load_explicit(&dev->failed, memory_order_relaxed)) {
    ct_device *failed = dev;
    dev = place_auto_past_failed(ctx, op, kdtype);
    note_auto_past_failed(ctx, op, failed, dev);
  }
  if (!dev) return no_kernel_anywhere(ctx, op, kdtype);
  *out = dev;
  return CT_OK;
}

/* Placement for a non-empty request `want`. */
static ct_status place_requested(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_device_name *want,
                                 ct_device **out) {
  ct_device *dev = select_device(ctx, op, kdtype, want);
  if (dev) {
    *out = dev;
    return CT_OK;
  }
  bool any_kernel = false;
  for (int t = 0; t < CT_DEVTYPE_COUNT; t++) any_kernel |= has_kernel(ctx, op, t, kdtype) && ctx->n_by_type[t] > 0;
  if (!any_kernel) return no_kernel_anywhere(ctx, op, kdtype);

  /* Another task of this process's cluster: its devices exist, but ops
   * cannot be sent there. Soft placement must not turn that into a silent
   * local run, so this comes before it. */
  if (ctx->n_tasks > 1 && want->has_task && want->task != ctx->task && want->task >= 0 && want->task < ctx->n_tasks &&
      (!want->has_job || strcmp(want->job, ctx->job) == 0)) {
    char requested[CT_DEVICE_NAME_MAX];
    requested_name(ctx, want, requested, sizeof requested);
    return ct_error(CT_UNIMPLEMENTED,
                    "%s (%s) on %s: remote execution is not supported; use collectives (this process is task %d of "
                    "job '%s', %d tasks)",
                    ct_op_name(op), ct_op_tf_name(op), requested, ctx->task, ctx->job, ctx->n_tasks);
  }
  ct_fallback_reason reason = why_unplaced(ctx, want);
  bool soft = atomic_load_explicit(&ctx->soft_placement, memory_order_relaxed);
  if (soft && (want->has_type || want->has_id)) {
    /* TensorFlow's soft placement: keep job, replica and task, forget type
     * and index, and choose again by priority -- GPU:0 when the op has a
     * GPU kernel, else the CPU. */
    ct_device_name relaxed = *want;
    relaxed.has_type = false;
    relaxed.has_id = false;
    dev = select_device(ctx, op, kdtype, &relaxed);
    if (dev) {
      record_fallback(ctx, op, kdtype, want, dev, reason);
      *out = dev;
      return CT_OK;
    }
  }
  /* TensorFlow's text first (tools grep for it), then what it leaves out:
   * the op, the dtype and why the request could not be met. */
  char requested[CT_DEVICE_NAME_MAX], types[64], devices[2048];
  requested_name(ctx, want, requested, sizeof requested);
  supported_types(ctx, op, kdtype, types, sizeof types);
  ct_context_device_list(ctx, devices, sizeof devices);
  const char *limit = gpu_limit(ctx, op, kdtype, want, reason);
  return ct_error(CT_INVALID_ARGUMENT,
                  "Could not satisfy device specification '%s'. enable_soft_placement=%d. Supported device types [%s]. "
                  "All available devices [%s]. [Op:%s] %s: %s (dtype %s)%s%s",
                  requested, (int)soft, types, devices, ct_op_tf_name(op), ct_fallback_reason_name(reason),
                  reason_sentence(reason), ct_dtype_name(kdtype), limit[0] ? "; " : "", limit);
}

/* ---- counters and the report -------------------------------------------- */

int ct_fallback_count(ct_context *ctx) {
  if (ctx == NULL) return 0;
  pthread_mutex_lock(&ctx->lock);
  int n = ctx->n_fallbacks;
  pthread_mutex_unlock(&ctx->lock);
  return n;
}

ct_status ct_fallback_get(ct_context *ctx, int i, ct_fallback_record *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "fallback_get: NULL argument");
  pthread_mutex_lock(&ctx->lock);
  if (i < 0 || i >= ctx->n_fallbacks) {
    int n = ctx->n_fallbacks;
    pthread_mutex_unlock(&ctx->lock);
    return ct_error(CT_OUT_OF_RANGE, "fallback_get: index %d out of range: %d fallback record%s", i, n, n == 1 ? "" : "s");
  }
  const ct_fallback_entry *e = &ctx->fallbacks[i];
  memset(out, 0, sizeof *out);
  snprintf(out->op, sizeof out->op, "%s", ct_op_tf_name(e->op));
  snprintf(out->requested, sizeof out->requested, "%s", e->requested);
  snprintf(out->placed, sizeof out->placed, "%s", e->placed->name);
  out->reason = e->reason;
  out->count = e->count;
  pthread_mutex_unlock(&ctx->lock);
  return CT_OK;
}

ct_status ct_device_op_count(ct_context *ctx, const char *device_spec, uint64_t *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_op_count: NULL argument");
  ct_device *dev;
  ct_status st = ct_context_find_device(ctx, device_spec, &dev);
  if (st != CT_OK) return st;
  *out = atomic_load(&dev->op_count);
  return CT_OK;
}

size_t ct_placement_report(ct_context *ctx, char *out, size_t out_size) {
  char scratch[1];
  if (out == NULL || out_size == 0) {
    out = scratch;
    out_size = sizeof scratch;
  }
  size_t n = 0;
#define EMIT(...) n += (size_t)snprintf(out + (n < out_size ? n : out_size - 1), n < out_size ? out_size - n : 1, __VA_ARGS__)
  if (ctx == NULL || !ct_context_is_initialized(ctx)) {
    EMIT("ctensor placement report: the runtime was not initialised (no op ran)\n");
    return n;
  }
  uint64_t total = 0, fell = 0;
  for (int i = 0; i < ctx->n_devices; i++) total += atomic_load(&ctx->devices[i]->op_count);
  EMIT("ctensor placement report: %llu op%s\n", (unsigned long long)total, total == 1 ? "" : "s");
  EMIT("  %-48s %12s %7s\n", "device", "ops", "share");
  for (int i = 0; i < ctx->n_devices; i++) {
    uint64_t c = atomic_load(&ctx->devices[i]->op_count);
    EMIT("  %-48s %12llu %6.1f%%\n", ctx->devices[i]->name, (unsigned long long)c, total ? 100.0 * (double)c / (double)total : 0.0);
  }
  pthread_mutex_lock(&ctx->lock);
  for (int i = 0; i < ctx->n_fallbacks; i++) fell += ctx->fallbacks[i].count;
  if (ctx->n_fallbacks == 0) {
    EMIT("  no op fell back: every op ran where it was asked to\n");
  } else {
    EMIT("  %llu op%s fell back (soft placement):\n", (unsigned long long)fell, fell == 1 ? "" : "s");
    EMIT("    %-14s %8s  %-16s %s\n", "op", "count", "reason", "requested -> ran on");
    for (int i = 0; i < ctx->n_fallbacks; i++) {
      const ct_fallback_entry *e = &ctx->fallbacks[i];
      EMIT("    %-14s %8llu  %-16s %s -> %s\n", ct_op_tf_name(e->op), (unsigned long long)e->count,
           ct_fallback_reason_name(e->reason), e->requested, e->placed->name);
    }
  }
  pthread_mutex_unlock(&ctx->lock);
  if (ctx->n_by_type[CT_DEV_GPU] == 0) {
    char detail[CT_INFO_TEXT_MAX];
    ct_gpu_reason r = ct_gpu_availability(ctx, detail, sizeof detail);
    EMIT("  no GPU was used: %s (%s)\n", ct_gpu_reason_name(r), detail);
  }
#undef EMIT
  return n;
}

ct_status ct_place(ct_context *ctx, ct_op op, ct_dtype kdtype, const ct_tensor *const *in, int n_in, ct_device **out) {
  CT_UNUSED(in);
  CT_UNUSED(n_in);
  ct_thread_state *ts = ct_thread_state_peek(ctx);
  if (ts == NULL || !ts->scope_active) return place_auto(ctx, op, kdtype, out);
  return place_requested(ctx, op, kdtype, &ts->scope[ts->scope_depth - 1], out);
}

ct_status ct_place_in_scope(ct_context *ctx, ct_op op, ct_dtype kdtype, const char *spec, ct_device **out) {
  ct_device_name parsed;
  ct_status st = ct_device_name_parse(spec, &parsed);
  if (st != CT_OK) return st;
  st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  /* As if `spec` were pushed on the thread's scopes, without using a
   * level of the stack (a copy must work however deep the caller is). */
  ct_device_name merged;
  scope_merged(ct_thread_state_peek(ctx), &parsed, &merged);
  if (name_is_empty(&merged)) return place_auto(ctx, op, kdtype, out);
  return place_requested(ctx, op, kdtype, &merged, out);
}
