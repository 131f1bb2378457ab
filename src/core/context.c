/*
 * The context: lazy discovery, configuration before initialisation, the
 * logical devices, per-thread state and logging.
 *
 * Three stages, as in TensorFlow: physical devices are enumerated on first
 * request without starting anything; configuration may change until the
 * runtime initialises; initialisation reads the environment once, creates
 * the logical devices and freezes the device configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/*
 * Per-thread state (device scopes, device policy), one node per (thread,
 * context).
 *
 * A node is referenced twice: by its thread's list (the value of one
 * process-wide pthread key) and by its context's list (ctx->threads). Each
 * side drops its reference without touching the other side's memory:
 *  - a thread that exits drops the references of its list (key
 *    destructor); it never touches a context, which may be being freed
 *    on another thread at that very moment;
 *  - a context that is destroyed marks its nodes dead and drops its
 *    references; a thread still alive frees its dead nodes the next time
 *    it looks one up (or when it exits);
 *  - whoever drops the last reference frees the node.
 * One key for the whole process (created once, deleted when the library is
 * unloaded) rather than one per context: a per-context key must be deleted
 * with its context, and pthread_key_delete neither waits for a destructor
 * already running on another thread nor runs the destructors that are
 * still due, so the node of a thread alive at that moment would leak or
 * be freed twice. The key holds only per-thread data, like errno.
 */
struct ct_thread_node {
  ct_thread_state state;              /* first: state.node points back */
  struct ct_thread_node *prev, *next; /* ctx->threads, under ctx->lock */
  struct ct_thread_node *thread_next; /* this thread's list; only it touches it */
  _Atomic int refs;                   /* the thread's list + the context's list */
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static int key_error;  /* pthread_key_create's result */
static bool key_ready; /* written once, inside pthread_once */

_Thread_local ct_thread_state *ct_tl_state CT_TLS_FAST;

static void node_unref(struct ct_thread_node *node) {
  if (atomic_fetch_sub_explicit(&node->refs, 1, memory_order_acq_rel) == 1) free(node);
}

/* Key destructor: the exiting thread lets go of all its nodes. */
static void thread_exit(void *head) {
  ct_tl_state = NULL;
  for (struct ct_thread_node *node = head, *next; node; node = next) {
    next = node->thread_next;
    node_unref(node);
  }
}

static void key_create(void) {
  key_error = pthread_key_create(&thread_key, thread_exit);
  key_ready = key_error == 0;
}

/* A library unloaded with dlclose must not leave a destructor behind that
 * points into unmapped code. */
__attribute__((destructor)) static void key_delete_at_unload(void) {
  if (key_ready) pthread_key_delete(thread_key);
}

/* Unlinks and drops this thread's nodes for `ctx` and for dead contexts
 * (ctx NULL: only the dead ones). */
static void thread_list_prune(const ct_context *ctx) {
  struct ct_thread_node *head = pthread_getspecific(thread_key), **link = &head;
  bool changed = false;
  while (*link) {
    struct ct_thread_node *node = *link;
    if (node->state.ctx == ctx || atomic_load_explicit(&node->state.dead, memory_order_acquire)) {
      *link = node->thread_next;
      if (ct_tl_state == &node->state) ct_tl_state = NULL;
      node_unref(node);
      changed = true;
    } else {
      link = &node->thread_next;
    }
  }
  /* The key already has a value on this thread: setting it cannot fail. */
  if (changed) pthread_setspecific(thread_key, head);
}

ct_thread_state *ct_thread_state_find(ct_context *ctx) {
  for (struct ct_thread_node *node = pthread_getspecific(thread_key); node; node = node->thread_next) {
    if (node->state.ctx == ctx && !atomic_load_explicit(&node->state.dead, memory_order_acquire)) {
      ct_tl_state = &node->state;
      return &node->state;
    }
  }
  return NULL;
}

int ct_thread_state_count(ct_context *ctx) {
  int n = 0;
  pthread_mutex_lock(&ctx->lock);
  for (const struct ct_thread_node *node = ctx->threads; node; node = node->next) n++;
  pthread_mutex_unlock(&ctx->lock);
  return n;
}

ct_thread_state *ct_thread_state_get(ct_context *ctx) {
  ct_thread_state *ts = ct_thread_state_peek(ctx);
  if (ts) return ts;
  thread_list_prune(NULL);
  struct ct_thread_node *node = calloc(1, sizeof *node);
  if (!node) {
    ct_error(CT_RESOURCE_EXHAUSTED, "out of memory allocating per-thread state");
    return NULL;
  }
  node->state.ctx = ctx;
  node->state.node = node;
  node->state.policy = CT_POLICY_SILENT;
  atomic_init(&node->state.dead, false);
  atomic_init(&node->refs, 2);
  node->thread_next = pthread_getspecific(thread_key);
  if (pthread_setspecific(thread_key, node) != 0) {
    free(node);
    ct_error(CT_RESOURCE_EXHAUSTED, "cannot register per-thread state");
    return NULL;
  }
  pthread_mutex_lock(&ctx->lock);
  /* Nodes only the context still holds belong to threads that have
   * exited: free them, so that a context outliving many short-lived
   * threads does not grow. */
  for (struct ct_thread_node *old = ctx->threads, *next; old; old = next) {
    next = old->next;
    if (atomic_load_explicit(&old->refs, memory_order_acquire) != 1) continue;
    if (old->prev) old->prev->next = old->next;
    else ctx->threads = old->next;
    if (old->next) old->next->prev = old->prev;
    free(old);
  }
  node->next = ctx->threads;
  if (ctx->threads) ctx->threads->prev = node;
  ctx->threads = node;
  pthread_mutex_unlock(&ctx->lock);
  ct_tl_state = &node->state;
  return &node->state;
}

const char *ct_devtype_name(ct_devtype t) {
  switch (t) {
    case CT_DEV_CPU: return "CPU";
    case CT_DEV_GPU: return "GPU";
    default: return "UNKNOWN";
  }
}

int ct_devtype_from_name(const char *name) {
  if (name == NULL) return -1;
  if (strcmp(name, "CPU") == 0) return CT_DEV_CPU;
  if (strcmp(name, "GPU") == 0) return CT_DEV_GPU;
  return -1;
}

static const ct_platform *platform_for(ct_devtype t) {
  return t == CT_DEV_CPU ? &ct_cpu_platform : ct_cuda_platform_ptr;
}

ct_status ct_context_new(ct_context **out) {
  if (out == NULL) return ct_error(CT_INVALID_ARGUMENT, "context_new: out is NULL");
  ct_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return ct_error(CT_RESOURCE_EXHAUSTED, "context_new: out of memory (%zu bytes)", sizeof *ctx);
  if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
    free(ctx);
    return ct_error(CT_INTERNAL, "context_new: cannot create mutex");
  }
  if (pthread_mutex_init(&ctx->check_lock, NULL) != 0) {
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
    return ct_error(CT_INTERNAL, "context_new: cannot create mutex");
  }
  pthread_once(&key_once, key_create);
  if (key_error != 0) {
    pthread_mutex_destroy(&ctx->check_lock);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
    return ct_error(CT_RESOURCE_EXHAUSTED, "context_new: no thread-local key left (error %d)", key_error);
  }
  atomic_init(&ctx->refcount, 1);
  atomic_init(&ctx->soft_placement, true);
  atomic_init(&ctx->log_placement, false);
  atomic_init(&ctx->tf32, false);
  atomic_init(&ctx->report_at_exit, false);
  atomic_init(&ctx->initialized, false);
  for (int t = 0; t < CT_DEVTYPE_COUNT; t++)
    for (int p = 0; p < CT_MAX_PHYSICAL; p++) ctx->cfg[t].memory_growth[p] = -1;
  ct_core_register_kernels(&ctx->registry);
  ct_cpu_register_kernels(&ctx->registry);
  ct_cuda_register_kernels(&ctx->registry);
  ct_dist_register_kernels(&ctx->registry);
  *out = ctx;
  ct_error_clear();
  return CT_OK;
}

static void teardown_devices(ct_context *ctx);

static void context_destroy(ct_context *ctx) {
  teardown_devices(ctx);
  if (ct_cuda_platform_ptr && ct_cuda_platform_ptr->context_release) ct_cuda_platform_ptr->context_release(ctx);
  /* Threads still running find their node dead and free it themselves. */
  pthread_mutex_lock(&ctx->lock);
  struct ct_thread_node *node = ctx->threads;
  ctx->threads = NULL;
  pthread_mutex_unlock(&ctx->lock);
  while (node) {
    struct ct_thread_node *next = node->next;
    atomic_store_explicit(&node->state.dead, true, memory_order_release);
    node_unref(node);
    node = next;
  }
  free(ctx->fallbacks);
  for (int i = 0; i < ctx->n_logged_once; i++) free(ctx->logged_once[i]);
  free(ctx->logged_once);
  pthread_mutex_destroy(&ctx->check_lock);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

/* Opens the GPU kernels' libraries in `need` that were not tried yet (the
 * platform records why one fails) and says whether all of `need` work. */
bool ct_gpu_libraries_check(ct_context *ctx, unsigned need) {
  if (atomic_load_explicit(&ctx->gpu_libs_bad, memory_order_acquire) & need) return false;
  pthread_mutex_lock(&ctx->check_lock);
  unsigned known = atomic_load(&ctx->gpu_libs_ok) | atomic_load(&ctx->gpu_libs_bad);
  unsigned todo = need & ~known;
  if (todo) {
    unsigned bad = ct_cuda_platform_ptr && ct_cuda_platform_ptr->check_libraries
                       ? ct_cuda_platform_ptr->check_libraries(ctx, todo) & todo
                       : todo;
    atomic_fetch_or(&ctx->gpu_libs_bad, bad);
    atomic_fetch_or(&ctx->gpu_libs_ok, todo & ~bad);
  }
  pthread_mutex_unlock(&ctx->check_lock);
  return (atomic_load(&ctx->gpu_libs_bad) & need) == 0;
}

void ct_context_retain(ct_context *ctx) { atomic_fetch_add_explicit(&ctx->refcount, 1, memory_order_relaxed); }

void ct_context_release(ct_context *ctx) {
  if (atomic_fetch_sub_explicit(&ctx->refcount, 1, memory_order_acq_rel) == 1) context_destroy(ctx);
}

void ct_context_free(ct_context *ctx) {
  if (ctx == NULL) return;
  if (ctx->report_at_exit && atomic_load(&ctx->initialized)) {
    size_t need = ct_placement_report(ctx, NULL, 0);
    char *text = malloc(need + 1);
    if (text) {
      ct_placement_report(ctx, text, need + 1);
      ct_logf(ctx, CT_LOG_INFO, "%s", text);
      free(text);
    }
  }
  /* The calling thread's state goes now (the context itself may live on
   * while tensors hold it). */
  thread_list_prune(ctx);
  ctx->freed = true;
  ct_context_release(ctx);
}

bool ct_context_is_initialized(const ct_context *ctx) {
  return ctx != NULL && atomic_load_explicit(&ctx->initialized, memory_order_acquire);
}

/* ---- discovery ---------------------------------------------------------- */

static ct_status discover_locked(ct_context *ctx) {
  if (ctx->discovered) return CT_OK;
  ct_gpu_reason dummy_reason = CT_GPU_USABLE;
  char dummy_detail[8];
  int n_unusable = 0;
  ct_status st = ct_cpu_platform.discover(ctx, ctx->phys[CT_DEV_CPU], &ctx->n_phys[CT_DEV_CPU], NULL,
                                          &n_unusable, &dummy_reason, dummy_detail, sizeof dummy_detail);
  if (st != CT_OK) return st;
  ctx->n_unusable = 0;
  if (ct_cuda_platform_ptr) {
    ctx->gpu_reason = CT_GPU_USABLE;
    st = ct_cuda_platform_ptr->discover(ctx, ctx->phys[CT_DEV_GPU], &ctx->n_phys[CT_DEV_GPU], ctx->unusable,
                                        &ctx->n_unusable, &ctx->gpu_reason, ctx->gpu_reason_detail,
                                        sizeof ctx->gpu_reason_detail);
    /* A broken GPU stack must not take the CPU down with it. */
    if (st != CT_OK) {
      ctx->n_phys[CT_DEV_GPU] = 0;
      if (ctx->gpu_reason == CT_GPU_USABLE) ctx->gpu_reason = CT_GPU_DRIVER_INIT_FAILED;
      snprintf(ctx->gpu_reason_detail, sizeof ctx->gpu_reason_detail, "%s", ct_last_error());
    }
  } else {
    ctx->n_phys[CT_DEV_GPU] = 0;
    ctx->gpu_reason = CT_GPU_NO_DRIVER_LIBRARY;
    snprintf(ctx->gpu_reason_detail, sizeof ctx->gpu_reason_detail,
             "this build of ctensor has no CUDA backend");
  }
  ctx->discovered = true;
  return CT_OK;
}

ct_status ct_context_discover(ct_context *ctx) {
  pthread_mutex_lock(&ctx->lock);
  ct_status st = discover_locked(ctx);
  pthread_mutex_unlock(&ctx->lock);
  return st;
}

/* Resolves an optional type filter: -1 = all types, -2 = no such type (an
 * empty list, as tf.config.list_physical_devices('gpu')). */
static int type_filter(const char *type) {
  if (type == NULL) return -1;
  int t = ct_devtype_from_name(type);
  return t < 0 ? -2 : t;
}

int ct_physical_device_count(ct_context *ctx, const char *type_or_null) {
  if (ctx == NULL || ct_context_discover(ctx) != CT_OK) return 0;
  int t = type_filter(type_or_null);
  if (t == -2) return 0;
  if (t >= 0) return ctx->n_phys[t];
  return ctx->n_phys[CT_DEV_CPU] + ctx->n_phys[CT_DEV_GPU];
}

ct_status ct_physical_device_get(ct_context *ctx, const char *type_or_null, int i, ct_physical_device_info *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "physical_device_get: NULL argument");
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  int t = type_filter(type_or_null);
  if (t == -2)
    return ct_error(CT_INVALID_ARGUMENT, "physical_device_get: unknown device type '%s' (expected \"CPU\" or \"GPU\")",
                    type_or_null);
  int n = ct_physical_device_count(ctx, type_or_null);
  if (i < 0 || i >= n)
    return ct_error(CT_OUT_OF_RANGE, "physical_device_get: index %d out of range: %d %s device%s", i, n,
                    type_or_null ? type_or_null : "physical", n == 1 ? "" : "s");
  if (t < 0) {
    t = i < ctx->n_phys[CT_DEV_CPU] ? CT_DEV_CPU : CT_DEV_GPU;
    if (t == CT_DEV_GPU) i -= ctx->n_phys[CT_DEV_CPU];
  }
  *out = ctx->phys[t][i];
  ct_error_clear();
  return CT_OK;
}

int ct_unusable_device_count(ct_context *ctx) {
  if (ctx == NULL || ct_context_discover(ctx) != CT_OK) return 0;
  return ctx->n_unusable;
}

ct_status ct_unusable_device_get(ct_context *ctx, int i, ct_physical_device_info *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "unusable_device_get: NULL argument");
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  if (i < 0 || i >= ctx->n_unusable)
    return ct_error(CT_OUT_OF_RANGE, "unusable_device_get: index %d out of range: %d unusable device%s", i,
                    ctx->n_unusable, ctx->n_unusable == 1 ? "" : "s");
  *out = ctx->unusable[i];
  ct_error_clear();
  return CT_OK;
}

ct_gpu_reason ct_gpu_availability(ct_context *ctx, char *detail, size_t detail_size) {
  if (ctx == NULL) return CT_GPU_NO_DRIVER_LIBRARY;
  if (ct_context_discover(ctx) != CT_OK) {
    if (detail && detail_size) snprintf(detail, detail_size, "%s", ct_last_error());
    return CT_GPU_DRIVER_INIT_FAILED;
  }
  int usable = 0;
  for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++) usable += ctx->phys[CT_DEV_GPU][p].usable;
  ct_gpu_reason r = usable > 0 ? CT_GPU_USABLE : ctx->gpu_reason;
  if (detail && detail_size) {
    if (r == CT_GPU_USABLE)
      snprintf(detail, detail_size, "%d usable GPU%s", usable, usable == 1 ? "" : "s");
    else
      snprintf(detail, detail_size, "%s", ctx->gpu_reason_detail);
  }
  return r;
}

/* ---- configuration ------------------------------------------------------ */

/* Looks up "/physical_device:GPU:0" (also accepts the bare "GPU:0"). */
static ct_status find_physical(ct_context *ctx, const char *what, const char *name, int *type, int *index) {
  if (name == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: physical device name is NULL", what);
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  for (int t = 0; t < CT_DEVTYPE_COUNT; t++) {
    for (int i = 0; i < ctx->n_phys[t]; i++) {
      const char *full = ctx->phys[t][i].name;
      const char *bare = full + strlen("/physical_device:");
      if (strcmp(name, full) == 0 || strcmp(name, bare) == 0) {
        *type = t;
        *index = i;
        return CT_OK;
      }
    }
  }
  char list[1024];
  size_t n = 0;
  list[0] = '\0';
  for (int t = 0; t < CT_DEVTYPE_COUNT; t++)
    for (int i = 0; i < ctx->n_phys[t] && n < sizeof list; i++)
      n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", ctx->phys[t][i].name);
  /* A GPU asked for on a machine where discovery found none usable: say
   * why (cuInit failed, no driver, ...), or the message reads as a typo. */
  bool gpu = strstr(name, "GPU") != NULL && ctx->n_phys[CT_DEV_GPU] == 0 && ctx->gpu_reason != CT_GPU_USABLE;
  return ct_error(CT_INVALID_ARGUMENT, "%s: unrecognized device '%s'; physical devices are [%s]%s%s%s%s", what, name,
                  list, gpu ? "; no GPU is usable: " : "", gpu ? ct_gpu_reason_name(ctx->gpu_reason) : "",
                  gpu ? ": " : "", gpu ? ctx->gpu_reason_detail : "");
}

/* After initialisation only a call that changes nothing is allowed. */
static ct_status frozen(const char *message) { return ct_error(CT_FAILED_PRECONDITION, "%s", message); }

ct_status ct_config_set_visible_devices(ct_context *ctx, const char *type, const int *physical, int n) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_visible_devices: context is NULL");
  int t = ct_devtype_from_name(type);
  if (t < 0)
    return ct_error(CT_INVALID_ARGUMENT, "set_visible_devices: unknown device type '%s' (expected \"CPU\" or \"GPU\")",
                    type ? type : "(null)");
  if (n < 0 || (n > 0 && physical == NULL))
    return ct_error(CT_INVALID_ARGUMENT, "set_visible_devices: bad list (n = %d, physical = %p)", n, (const void *)physical);
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  bool want[CT_MAX_PHYSICAL] = {false};
  for (int i = 0; i < n; i++) {
    if (physical[i] < 0 || physical[i] >= ctx->n_phys[t])
      return ct_error(CT_INVALID_ARGUMENT, "set_visible_devices: unrecognized device: /physical_device:%s:%d (%d %s device%s)",
                      type, physical[i], ctx->n_phys[t], type, ctx->n_phys[t] == 1 ? "" : "s");
    want[physical[i]] = true;
  }
  if (t == CT_DEV_CPU && n == 0)
    return ct_error(CT_INVALID_ARGUMENT, "set_visible_devices: the CPU cannot be hidden (it holds host memory)");
  pthread_mutex_lock(&ctx->lock);
  ct_physical_config *c = &ctx->cfg[t];
  bool same = true;
  for (int i = 0; i < ctx->n_phys[t]; i++) {
    bool now = c->visible_set ? c->visible[i] : true;
    if (now != want[i]) same = false;
  }
  if (atomic_load(&ctx->initialized)) {
    pthread_mutex_unlock(&ctx->lock);
    if (same) return CT_OK;
    return frozen("Visible devices cannot be modified after being initialized");
  }
  c->visible_set = true;
  memcpy(c->visible, want, sizeof want);
  pthread_mutex_unlock(&ctx->lock);
  ct_error_clear();
  return CT_OK;
}

static bool is_visible(const ct_context *ctx, int t, int i) {
  return ctx->cfg[t].visible_set ? ctx->cfg[t].visible[i] : true;
}

ct_status ct_config_get_visible_devices(ct_context *ctx, const char *type, int *physical, int cap, int *n) {
  if (ctx == NULL || n == NULL) return ct_error(CT_INVALID_ARGUMENT, "get_visible_devices: NULL argument");
  int t = ct_devtype_from_name(type);
  if (t < 0)
    return ct_error(CT_INVALID_ARGUMENT, "get_visible_devices: unknown device type '%s' (expected \"CPU\" or \"GPU\")",
                    type ? type : "(null)");
  ct_status st = ct_context_discover(ctx);
  if (st != CT_OK) return st;
  int count = 0;
  for (int i = 0; i < ctx->n_phys[t]; i++) {
    if (!is_visible(ctx, t, i)) continue;
    if (physical && count < cap) physical[count] = i;
    count++;
  }
  *n = count;
  ct_error_clear();
  return CT_OK;
}

ct_status ct_config_set_logical_devices(ct_context *ctx, const char *physical_name, const ct_logical_device_config *cfg,
                                        int n) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_logical_device_configuration: context is NULL");
  int t, p;
  ct_status st = find_physical(ctx, "set_logical_device_configuration", physical_name, &t, &p);
  if (st != CT_OK) return st;
  if (n < 0 || n > CT_MAX_SPLIT || (n > 0 && cfg == NULL))
    return ct_error(CT_INVALID_ARGUMENT,
                    "set_logical_device_configuration: %d configurations for %s (0..%d allowed; 0 restores one "
                    "device)",
                    n, physical_name, CT_MAX_SPLIT);
  for (int i = 0; i < n; i++) {
    if (t == CT_DEV_CPU && (cfg[i].memory_limit_mb != 0 || cfg[i].has_priority))
      return ct_error(CT_INVALID_ARGUMENT,
                      "Setting memory limit on CPU virtual devices is currently not supported (configuration %d of %s "
                      "has memory_limit_mb = %lld)",
                      i, physical_name, (long long)cfg[i].memory_limit_mb);
    /* The limit is kept in bytes: 2^43 MB (8 EiB) is far beyond any device. */
    if (t == CT_DEV_GPU && cfg[i].memory_limit_mb > ((int64_t)1 << 43))
      return ct_error(CT_INVALID_ARGUMENT,
                      "set_logical_device_configuration: configuration %d of %s has memory_limit_mb = %lld, more "
                      "than %lld",
                      i, physical_name, (long long)cfg[i].memory_limit_mb, (long long)1 << 43);
    if (t == CT_DEV_GPU && cfg[i].memory_limit_mb <= 0)
      return ct_error(CT_INVALID_ARGUMENT,
                      "Setting memory limit is required for GPU virtual devices (configuration %d of %s has "
                      "memory_limit_mb = %lld)",
                      i, physical_name, (long long)cfg[i].memory_limit_mb);
    if (t == CT_DEV_GPU && cfg[i].has_priority != cfg[0].has_priority)
      return ct_error(CT_INVALID_ARGUMENT, "priority must be specified for all virtual devices (%s)", physical_name);
  }
  pthread_mutex_lock(&ctx->lock);
  ct_physical_config *c = &ctx->cfg[t];
  bool same = c->n_logical[p] == n;
  for (int i = 0; same && i < n; i++) {
    const ct_logical_device_config *a = &c->logical[p][i], *b = &cfg[i];
    same = a->memory_limit_mb == b->memory_limit_mb && a->has_priority == b->has_priority &&
           (!a->has_priority || a->priority == b->priority);
  }
  if (atomic_load(&ctx->initialized)) {
    pthread_mutex_unlock(&ctx->lock);
    if (same) return CT_OK;
    return frozen("Virtual devices cannot be modified after being initialized");
  }
  if (t == CT_DEV_GPU && n > 0 && c->memory_growth[p] == 1) {
    pthread_mutex_unlock(&ctx->lock);
    return ct_error(CT_INVALID_ARGUMENT, "Cannot set virtual devices on %s: memory growth is enabled on it", physical_name);
  }
  for (int i = 0; i < n; i++) c->logical[p][i] = cfg[i];
  c->n_logical[p] = n;
  pthread_mutex_unlock(&ctx->lock);
  ct_error_clear();
  return CT_OK;
}

ct_status ct_config_get_logical_devices(ct_context *ctx, const char *physical_name, ct_logical_device_config *cfg,
                                        int cap, int *n) {
  if (ctx == NULL || n == NULL) return ct_error(CT_INVALID_ARGUMENT, "get_logical_device_configuration: NULL argument");
  int t, p;
  ct_status st = find_physical(ctx, "get_logical_device_configuration", physical_name, &t, &p);
  if (st != CT_OK) return st;
  pthread_mutex_lock(&ctx->lock);
  *n = ctx->cfg[t].n_logical[p];
  for (int i = 0; cfg && i < *n && i < cap; i++) cfg[i] = ctx->cfg[t].logical[p][i];
  pthread_mutex_unlock(&ctx->lock);
  ct_error_clear();
  return CT_OK;
}

ct_status ct_config_set_memory_growth(ct_context *ctx, const char *physical_name, bool on) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_memory_growth: context is NULL");
  int t, p;
  ct_status st = find_physical(ctx, "set_memory_growth", physical_name, &t, &p);
  if (st != CT_OK) return st;
  pthread_mutex_lock(&ctx->lock);
  ct_physical_config *c = &ctx->cfg[t];
  ct_status result = CT_OK;
  if (c->n_logical[p] > 0)
    result = ct_error(CT_INVALID_ARGUMENT, "Cannot set memory growth on device when virtual devices configured (%s)",
                      physical_name);
  else if (t != CT_DEV_GPU)
    result = ct_error(CT_INVALID_ARGUMENT, "Cannot set memory growth on non-GPU and non-Pluggable devices (%s)",
                      physical_name);
  else if (atomic_load(&ctx->initialized)) {
    if (c->memory_growth[p] != (int)on) result = frozen("Physical devices cannot be modified after being initialized");
  } else
    c->memory_growth[p] = on;
  pthread_mutex_unlock(&ctx->lock);
  if (result == CT_OK) ct_error_clear();
  return result;
}

ct_status ct_config_get_memory_growth(ct_context *ctx, const char *physical_name, int *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "get_memory_growth: NULL argument");
  int t, p;
  ct_status st = find_physical(ctx, "get_memory_growth", physical_name, &t, &p);
  if (st != CT_OK) return st;
  *out = ctx->cfg[t].memory_growth[p];
  ct_error_clear();
  return CT_OK;
}

ct_status ct_config_set_soft_placement(ct_context *ctx, bool on) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_soft_placement: context is NULL");
  atomic_store(&ctx->soft_placement, on);
  return CT_OK;
}

bool ct_config_get_soft_placement(ct_context *ctx) { return ctx && atomic_load(&ctx->soft_placement); }

ct_status ct_config_set_log_placement(ct_context *ctx, bool on) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_log_placement: context is NULL");
  atomic_store(&ctx->log_placement, on);
  return CT_OK;
}

bool ct_config_get_log_placement(ct_context *ctx) { return ctx && atomic_load(&ctx->log_placement); }

ct_status ct_config_set_tf32(ct_context *ctx, bool on) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_tf32: context is NULL");
  atomic_store(&ctx->tf32, on);
  return CT_OK;
}

ct_status ct_config_set_device_policy(ct_context *ctx, ct_device_policy policy) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "set_device_policy: context is NULL");
  if ((unsigned)policy > CT_POLICY_SILENT_FOR_INT32)
    return ct_error(CT_INVALID_ARGUMENT, "Not a valid device policy: %d (expected 0..3: silent, warn, explicit, silent_for_int32)",
                    (int)policy);
  ct_thread_state *ts = ct_thread_state_get(ctx);
  if (!ts) return ct_last_status();
  ts->policy = policy;
  return CT_OK;
}

ct_device_policy ct_config_get_device_policy(ct_context *ctx) {
  if (ctx == NULL) return CT_POLICY_SILENT;
  ct_thread_state *ts = ct_thread_state_get(ctx);
  return ts ? ts->policy : CT_POLICY_SILENT;
}

void ct_context_set_log_callback(ct_context *ctx, ct_log_fn fn, void *user) {
  if (ctx == NULL) return;
  pthread_mutex_lock(&ctx->lock);
  ctx->log_fn = fn;
  ctx->log_user = user;
  pthread_mutex_unlock(&ctx->lock);
}

void ct_context_set_report_at_exit(ct_context *ctx, bool on) {
  if (ctx) ctx->report_at_exit = on;
}

/* ---- initialisation ----------------------------------------------------- */

static bool env_true(const char *name) {
  const char *v = getenv(name);
  return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "TRUE") == 0 || strcmp(v, "yes") == 0);
}

static ct_status add_device(ct_context *ctx, ct_devtype t, int phys, uint64_t limit) {
  if (ctx->n_devices >= CT_MAX_LOGICAL)
    return ct_error(CT_RESOURCE_EXHAUSTED, "too many logical devices (at most %d)", CT_MAX_LOGICAL);
  ct_device *dev = calloc(1, sizeof *dev);
  if (!dev) return ct_error(CT_RESOURCE_EXHAUSTED, "out of memory creating a logical device");
  const ct_platform *pf = platform_for(t);
  dev->ctx = ctx;
  dev->backend = pf->backend;
  dev->type = t;
  dev->index = ctx->n_by_type[t];
  dev->physical_index = phys;
  dev->memory_limit = limit;
  snprintf(dev->name, sizeof dev->name, "/job:%s/replica:0/task:%d/device:%s:%d", ctx->job[0] ? ctx->job : "localhost",
           ctx->task, ct_devtype_name(t), dev->index);
  snprintf(dev->short_name, sizeof dev->short_name, "/device:%s:%d", ct_devtype_name(t), dev->index);
  ct_device_name_parse(dev->name, &dev->parsed);
  ct_status st = pf->device_init(ctx, dev);
  if (st != CT_OK) {
    free(dev);
    return st;
  }
  ctx->devices[ctx->n_devices++] = dev;
  ctx->by_type[t][ctx->n_by_type[t]++] = dev;
  return CT_OK;
}

static void teardown_devices(ct_context *ctx) {
  for (int i = 0; i < ctx->n_devices; i++) {
    ct_device *dev = ctx->devices[i];
    if (dev->backend && dev->backend->device_destroy) dev->backend->device_destroy(dev);
    free(dev);
  }
  ctx->n_devices = 0;
  memset(ctx->n_by_type, 0, sizeof ctx->n_by_type);
  ctx->host = NULL;
}

/* A GPU whose device_init said CT_UNAVAILABLE (no CUDA context can be
 * created on it: exclusive-process mode held by another process,
 * prohibited mode, a full GPU, a GPU after an Xid error) is only found
 * here, because discovery creates no context. It is marked unusable with
 * the error as its reason; its logical devices created so far go, and the
 * other GPUs and the CPU carry on. It keeps its place in the physical list
 * so that the configuration's physical indices stay valid. */
static void gpu_unusable_at_init(ct_context *ctx, int phys, int first_device, const char *why) {
  while (ctx->n_devices > first_device) {
    ct_device *dev = ctx->devices[--ctx->n_devices];
    if (dev->backend && dev->backend->device_destroy) dev->backend->device_destroy(dev);
    ctx->n_by_type[dev->type]--;
    free(dev);
  }
  ct_physical_device_info *info = &ctx->phys[CT_DEV_GPU][phys];
  info->usable = false;
  info->reason = CT_GPU_DEVICE_UNAVAILABLE;
  snprintf(info->reason_detail, sizeof info->reason_detail, "%s", why);
  if (ctx->n_unusable < CT_MAX_PHYSICAL) ctx->unusable[ctx->n_unusable++] = *info;
  bool any = false;
  for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++) any |= ctx->phys[CT_DEV_GPU][p].usable;
  if (!any) {
    ctx->gpu_reason = CT_GPU_DEVICE_UNAVAILABLE;
    snprintf(ctx->gpu_reason_detail, sizeof ctx->gpu_reason_detail, "%s", why);
  }
}

void ct_context_gpu_failed(ct_context *ctx, int phys, const char *why) {
  pthread_mutex_lock(&ctx->lock);
  if (phys >= 0 && phys < ctx->n_phys[CT_DEV_GPU] && ctx->phys[CT_DEV_GPU][phys].usable) {
    ct_physical_device_info *info = &ctx->phys[CT_DEV_GPU][phys];
    info->usable = false;
    info->reason = CT_GPU_DEVICE_FAILED;
    snprintf(info->reason_detail, sizeof info->reason_detail, "%s", why);
    if (ctx->n_unusable < CT_MAX_PHYSICAL) ctx->unusable[ctx->n_unusable++] = *info;
    bool any = false;
    for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++) any |= ctx->phys[CT_DEV_GPU][p].usable;
    if (!any) {
      ctx->gpu_reason = CT_GPU_DEVICE_FAILED;
      snprintf(ctx->gpu_reason_detail, sizeof ctx->gpu_reason_detail, "%s", why);
    }
    /* After the detail: a reader that sees the flag reads a finished text. */
    for (int i = 0; i < ctx->n_by_type[CT_DEV_GPU]; i++) {
      ct_device *dev = ctx->by_type[CT_DEV_GPU][i];
      int none = 0;
      if (dev->physical_index == phys)
        atomic_compare_exchange_strong(&dev->failed, &none, CT_DEVICE_FAILED_UNREPORTED);
    }
  }
  pthread_mutex_unlock(&ctx->lock);
}

ct_status ct_device_failed_error(const ct_device *dev, const char *what) {
  const ct_context *ctx = dev->ctx;
  return ct_error(CT_UNAVAILABLE, "%s on %s: the device is unusable (%s): %s", what, dev->short_name,
                  ct_gpu_reason_name(CT_GPU_DEVICE_FAILED), ctx->phys[CT_DEV_GPU][dev->physical_index].reason_detail);
}

static void compute_auto_placement(ct_context *ctx) {
  for (int op = 0; op < CT_OP_COUNT; op++) {
    for (int d = 0; d < CT_DTYPE_COUNT; d++) {
      ct_device *best = NULL;
      /* Highest priority type first: GPU, then CPU; lowest index wins. */
      for (int t = CT_DEVTYPE_COUNT - 1; t >= 0 && !best; t--)
        if (ctx->n_by_type[t] > 0 && ctx->registry.kernels[op][t][d]) best = ctx->by_type[t][0];
      ctx->auto_device[op][d] = best;
    }
  }
}

static ct_status initialize_locked(ct_context *ctx) {
  ct_status st = discover_locked(ctx);
  if (st != CT_OK) return st;
  /* Memory growth must agree across visible GPUs, as in TensorFlow. */
  int growth = -2;
  for (int p = 0; p < ctx->n_phys[CT_DEV_GPU]; p++) {
    if (!is_visible(ctx, CT_DEV_GPU, p)) continue;
    int g = ctx->cfg[CT_DEV_GPU].memory_growth[p];
    if (growth != -2 && g != growth)
      return ct_error(CT_INVALID_ARGUMENT, "Memory growth cannot differ between GPU devices (%s differs)",
                      ctx->phys[CT_DEV_GPU][p].name);
    growth = g;
  }
  if (env_true("CT_LOG_DEVICE_PLACEMENT")) atomic_store(&ctx->log_placement, true);
  if (env_true("CT_PLACEMENT_REPORT")) ctx->report_at_exit = true;
  for (int t = 0; t < CT_DEVTYPE_COUNT; t++) {
    for (int p = 0; p < ctx->n_phys[t]; p++) {
      if (!is_visible(ctx, t, p) || !ctx->phys[t][p].usable) continue;
      int first = ctx->n_devices;
      int n = ctx->cfg[t].n_logical[p];
      if (n == 0) {
        st = add_device(ctx, (ct_devtype)t, p, 0);
      } else {
        for (int i = 0; i < n && st == CT_OK; i++)
          st = add_device(ctx, (ct_devtype)t, p, (uint64_t)ctx->cfg[t].logical[p][i].memory_limit_mb << 20);
      }
      if (st == CT_UNAVAILABLE && t == CT_DEV_GPU) {
        gpu_unusable_at_init(ctx, p, first, ct_last_error());
        ct_error_clear();
        st = CT_OK;
        continue;
      }
      if (st != CT_OK) {
        teardown_devices(ctx);
        return st;
      }
    }
  }
  if (ctx->n_by_type[CT_DEV_CPU] == 0) {
    teardown_devices(ctx);
    return ct_error(CT_INTERNAL, "no CPU device could be created");
  }
  ctx->host = ctx->by_type[CT_DEV_CPU][0];
  compute_auto_placement(ctx);
  atomic_store_explicit(&ctx->initialized, true, memory_order_release);
  return CT_OK;
}

ct_status ct_context_initialize(ct_context *ctx) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "context_initialize: context is NULL");
  if (atomic_load_explicit(&ctx->initialized, memory_order_acquire)) return CT_OK;
  pthread_mutex_lock(&ctx->lock);
  ct_status st = atomic_load(&ctx->initialized) ? CT_OK : initialize_locked(ctx);
  pthread_mutex_unlock(&ctx->lock);
  return st;
}

/* ---- logical devices ---------------------------------------------------- */

int ct_logical_device_count(ct_context *ctx, const char *type_or_null) {
  if (ctx == NULL || ct_context_ensure(ctx) != CT_OK) return 0;
  int t = type_filter(type_or_null);
  if (t == -2) return 0;
  return t < 0 ? ctx->n_devices : ctx->n_by_type[t];
}

ct_status ct_logical_device_get(ct_context *ctx, const char *type_or_null, int i, ct_logical_device_info *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "logical_device_get: NULL argument");
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  int t = type_filter(type_or_null);
  if (t == -2)
    return ct_error(CT_INVALID_ARGUMENT, "logical_device_get: unknown device type '%s' (expected \"CPU\" or \"GPU\")",
                    type_or_null);
  int n = t < 0 ? ctx->n_devices : ctx->n_by_type[t];
  if (i < 0 || i >= n)
    return ct_error(CT_OUT_OF_RANGE, "logical_device_get: index %d out of range: %d %s%slogical device%s", i, n,
                    type_or_null ? type_or_null : "", type_or_null ? " " : "", n == 1 ? "" : "s");
  const ct_device *dev = t < 0 ? ctx->devices[i] : ctx->by_type[t][i];
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", dev->name);
  snprintf(out->short_name, sizeof out->short_name, "%s", dev->short_name);
  snprintf(out->device_type, sizeof out->device_type, "%s", ct_devtype_name(dev->type));
  out->index = dev->index;
  out->physical_index = dev->physical_index;
  out->memory_limit_bytes = dev->memory_limit;
  ct_error_clear();
  return CT_OK;
}

void ct_context_device_list(ct_context *ctx, char *out, size_t size) {
  size_t n = 0;
  if (size) out[0] = '\0';
  for (int i = 0; i < ctx->n_devices && n < size; i++)
    n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", ctx->devices[i]->name);
}

ct_status ct_context_find_device(ct_context *ctx, const char *spec, ct_device **out) {
  if (spec == NULL) return ct_error(CT_INVALID_ARGUMENT, "device spec is NULL");
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  ct_device_name want;
  st = ct_device_name_parse(spec, &want);
  if (st != CT_OK) return st;
  if (!want.has_type)
    return ct_error(CT_INVALID_ARGUMENT, "device spec '%s' names no device type (expected e.g. \"/device:CPU:0\")", spec);
  if (!want.has_id) {
    want.has_id = true;
    want.id = 0;
  }
  for (int i = 0; i < ctx->n_devices; i++) {
    if (ct_device_name_matches(&want, &ctx->devices[i]->parsed)) {
      *out = ctx->devices[i];
      return CT_OK;
    }
  }
  char list[2048];
  ct_context_device_list(ctx, list, sizeof list);
  return ct_error(CT_NOT_FOUND, "no device matches '%s'; available devices [%s]", spec, list);
}

ct_status ct_device_memory_info(ct_context *ctx, const char *device_spec, ct_memory_info *out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "device_memory_info: NULL argument");
  ct_device *dev;
  ct_status st = ct_context_find_device(ctx, device_spec, &dev);
  if (st != CT_OK) return st;
  memset(out, 0, sizeof *out); /* fields a backend does not know stay 0 */
  if (dev->backend->memory_info) return dev->backend->memory_info(dev, out);
  out->current_bytes = atomic_load(&dev->bytes_in_use);
  out->peak_bytes = atomic_load(&dev->peak_bytes);
  out->limit_bytes = dev->memory_limit;
  return CT_OK;
}

ct_status ct_context_synchronize(ct_context *ctx) {
  if (ctx == NULL) return ct_error(CT_INVALID_ARGUMENT, "context_synchronize: context is NULL");
  if (!ct_context_is_initialized(ctx)) return CT_OK;
  ct_status first = CT_OK;
  for (int i = 0; i < ctx->n_devices; i++) {
    ct_device *dev = ctx->devices[i];
    if (!dev->backend->synchronize) continue;
    /* A GPU whose context was destroyed: its fault was reported once
     * already; every later wait there would only repeat it. */
    if (atomic_load_explicit(&dev->failed, memory_order_acquire) == CT_DEVICE_FAILED_REPORTED) continue;
    ct_status st = dev->backend->synchronize(dev);
    if (st != CT_OK && first == CT_OK) first = st;
  }
  return first;
}

/* ---- logging ------------------------------------------------------------ */

static void emit(ct_context *ctx, ct_log_level level, const char *msg) {
  pthread_mutex_lock(&ctx->lock);
  ct_log_fn fn = ctx->log_fn;
  void *user = ctx->log_user;
  pthread_mutex_unlock(&ctx->lock);
  if (fn) {
    fn(user, level, msg);
    return;
  }
  static const char letters[] = "IWE";
  fprintf(stderr, "%c ctensor] %s\n", letters[level <= CT_LOG_ERROR ? level : CT_LOG_ERROR], msg);
}

void ct_logf(ct_context *ctx, ct_log_level level, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  emit(ctx, level, buf);
}

bool ct_logf_once(ct_context *ctx, const char *key, ct_log_level level, const char *fmt, ...) {
  pthread_mutex_lock(&ctx->lock);
  for (int i = 0; i < ctx->n_logged_once; i++) {
    if (strcmp(ctx->logged_once[i], key) == 0) {
      pthread_mutex_unlock(&ctx->lock);
      return false;
    }
  }
  if (ctx->n_logged_once == ctx->cap_logged_once) {
    int cap = ctx->cap_logged_once ? 2 * ctx->cap_logged_once : 16;
    char **grown = realloc(ctx->logged_once, (size_t)cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&ctx->lock);
      return false;
    }
    ctx->logged_once = grown;
    ctx->cap_logged_once = cap;
  }
  char *copy = strdup(key);
  if (!copy) {
    pthread_mutex_unlock(&ctx->lock);
    return false;
  }
  ctx->logged_once[ctx->n_logged_once++] = copy;
  pthread_mutex_unlock(&ctx->lock);
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  emit(ctx, level, buf);
  return true;
}
