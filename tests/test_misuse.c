/*
 * Misuse of the C API (issue 14): every case is a wrong call an
 * application can make, with the status and a piece of the message it
 * must get, and after each one the context must still compute. The table
 * in docs/errors.md is this file's table; `test_misuse --markdown` prints
 * it with the messages this build gives.
 *
 * What is not detected, and so is not a case here: a tensor, variable,
 * tape or optimizer used after its last release, or released twice (its
 * memory is gone: AddressSanitizer reports it, a release build may crash
 * or read garbage), and a pointer that never was a ctensor object. See
 * docs/errors.md.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static ct_context *ctx;   /* every case runs on it */
static ct_context *other; /* a second context, for objects from elsewhere */
static ct_tensor *f23, *f32, *i23, *f3, *b23, *lab, *o23, *scalar;
static ct_variable *var, *ivar, *ovar;
static ct_optimizer *sgd;

/* A case whose message arose on another thread, or before cleanup calls
 * that may overwrite this thread's, leaves it here. */
static char case_msg[1024];
static ct_status with_msg(ct_status st, const char *msg) {
  snprintf(case_msg, sizeof case_msg, "%s", msg);
  return st;
}

#define OUT_SENTINEL ((ct_tensor *)(uintptr_t)0x5e5e5e5e5e5e5e50u)

/* ---- the cases ------------------------------------------------------------ */

typedef ct_status (*case_fn)(void);
typedef struct misuse_case {
  const char *group;
  const char *what; /* the misuse, as the table says it */
  case_fn fn;
  ct_status status;
  const char *needle;
} misuse_case;

/* A call whose tensor out-parameter must stay untouched on failure. */
static bool out_written;
static ct_status out_call(ct_status st, ct_tensor *out) {
  if (out != OUT_SENTINEL) {
    out_written = true;
    if (st == CT_OK) ct_tensor_release(out);
  }
  return st;
}
#define OUT(expr)                            \
  do {                                       \
    ct_tensor *o = OUT_SENTINEL;             \
    ct_status st_ = (expr);                  \
    return out_call(st_, o);                 \
  } while (0)

static int64_t s23[2] = {2, 3}, s32[2] = {3, 2};
static float six[6] = {1, 2, 3, 4, 5, 6};

/* NULLs */
static ct_status c_ctx_new_null(void) { return ct_context_new(NULL); }
static ct_status c_init_null(void) { return ct_context_initialize(NULL); }
static ct_status c_from_host_null_ctx(void) { OUT(ct_tensor_from_host(NULL, CT_FLOAT32, s23, 2, six, &o)); }
static ct_status c_from_host_null_out(void) { return ct_tensor_from_host(ctx, CT_FLOAT32, s23, 2, six, NULL); }
static ct_status c_from_host_null_data(void) { OUT(ct_tensor_from_host(ctx, CT_FLOAT32, s23, 2, NULL, &o)); }
static ct_status c_from_host_null_shape(void) { OUT(ct_tensor_from_host(ctx, CT_FLOAT32, NULL, 2, six, &o)); }
static ct_status c_to_host_null(void) { return ct_tensor_to_host(NULL, six, sizeof six); }
static ct_status c_to_host_null_dst(void) { return ct_tensor_to_host(f23, NULL, 24); }
static ct_status c_add_null_a(void) { OUT(ct_add(ctx, NULL, f23, &o)); }
static ct_status c_add_null_out(void) { return ct_add(ctx, f23, f23, NULL); }
static ct_status c_add_null_ctx(void) { OUT(ct_add(NULL, f23, f23, &o)); }
static ct_status c_matmul_null(void) { OUT(ct_matmul(ctx, f23, NULL, false, false, &o)); }
static ct_status c_unary_null(void) { OUT(ct_exp(ctx, NULL, &o)); }
static ct_status c_reduce_null(void) { OUT(ct_reduce_sum(ctx, NULL, NULL, 0, false, &o)); }
static ct_status c_concat_null(void) { OUT(ct_concat(ctx, NULL, 2, 0, &o)); }
static ct_status c_concat_null_item(void) {
  const ct_tensor *xs[2] = {f23, NULL};
  OUT(ct_concat(ctx, xs, 2, 0, &o));
}
static ct_status c_copy_to_null(void) { OUT(ct_tensor_copy_to(NULL, "/CPU:0", &o)); }
static ct_status c_copy_to_null_spec(void) { OUT(ct_tensor_copy_to(f23, NULL, &o)); }
static ct_status c_scope_push_null(void) { return ct_device_scope_push(ctx, NULL); }
static ct_status c_mem_info_null(void) {
  ct_memory_info m;
  return ct_device_memory_info(ctx, NULL, &m);
}
static ct_status c_phys_get_null(void) { return ct_physical_device_get(ctx, "CPU", 0, NULL); }
static ct_status c_dtype_name_null(void) {
  ct_dtype d;
  return ct_dtype_from_name(NULL, &d);
}
static ct_status c_name_parse_null(void) {
  ct_device_name n;
  return ct_device_name_parse(NULL, &n);
}
static ct_status c_var_new_null(void) {
  ct_variable *v = NULL;
  return ct_variable_new(ctx, NULL, true, "v", &v);
}
static ct_status c_tape_new_null(void) { return ct_tape_new(ctx, false, false, NULL); }
static ct_status c_tape_gradient_null(void) {
  ct_tensor *g[1] = {NULL};
  ct_gradient_source src = {f23, NULL};
  const ct_tensor *t[1] = {f23};
  return ct_tape_gradient(NULL, t, 1, NULL, &src, 1, CT_UNCONNECTED_NONE, g);
}
static ct_status c_apply_null_arrays(void) { return ct_optimizer_apply_gradients(sgd, NULL, NULL, 1); }

/* dtypes and shapes */
static ct_status c_add_dtypes(void) { OUT(ct_add(ctx, f23, i23, &o)); }
static ct_status c_add_shapes(void) { OUT(ct_add(ctx, f23, f32, &o)); }
static ct_status c_matmul_inner(void) { OUT(ct_matmul(ctx, f23, f23, false, false, &o)); }
static ct_status c_matmul_rank1(void) { OUT(ct_matmul(ctx, f3, f3, false, false, &o)); }
static ct_status c_matmul_int_bool(void) { OUT(ct_matmul(ctx, b23, b23, false, true, &o)); }
static ct_status c_reshape_count(void) {
  int64_t s[2] = {4, 2};
  OUT(ct_reshape(ctx, f23, s, 2, &o));
}
static ct_status c_reshape_two_unknown(void) {
  int64_t s[2] = {-1, -1};
  OUT(ct_reshape(ctx, f23, s, 2, &o));
}
static ct_status c_transpose_perm(void) {
  int perm[2] = {0, 0};
  OUT(ct_transpose(ctx, f23, perm, &o));
}
static ct_status c_concat_shapes(void) {
  const ct_tensor *xs[2] = {f23, f32};
  OUT(ct_concat(ctx, xs, 2, 0, &o));
}
static ct_status c_concat_axis(void) {
  const ct_tensor *xs[2] = {f23, f23};
  OUT(ct_concat(ctx, xs, 2, 5, &o));
}
static ct_status c_slice_range(void) {
  int64_t begin[2] = {1, 2}, size[2] = {2, 1};
  OUT(ct_slice(ctx, f23, begin, size, &o));
}
static ct_status c_gather_index(void) {
  int32_t idx[1] = {7};
  int64_t s1[1] = {1};
  ct_tensor *ix = NULL;
  if (ct_tensor_from_host(ctx, CT_INT32, s1, 1, idx, &ix) != CT_OK) return CT_UNKNOWN;
  ct_tensor *o = OUT_SENTINEL;
  ct_status s = ct_gather(ctx, f23, ix, 0, &o);
  ct_tensor_release(ix);
  return out_call(s, o);
}
static ct_status c_reduce_axis(void) {
  int ax[1] = {2};
  OUT(ct_reduce_sum(ctx, f23, ax, 1, false, &o));
}
static ct_status c_reduce_axis_twice(void) {
  int ax[2] = {1, -1};
  OUT(ct_reduce_sum(ctx, f23, ax, 2, false, &o));
}
static ct_status c_argmax_dtype(void) { OUT(ct_argmax(ctx, f23, 0, CT_FLOAT32, &o)); }
static ct_status c_softmax_int(void) { OUT(ct_softmax(ctx, i23, -1, &o)); }
static ct_status c_cast_invalid(void) { OUT(ct_cast(ctx, f23, (ct_dtype)42, &o)); }
static ct_status c_from_host_dtype(void) { OUT(ct_tensor_from_host(ctx, (ct_dtype)-1, s23, 2, six, &o)); }
static ct_status c_to_host_small(void) {
  float dst[2];
  return ct_tensor_to_host(f23, dst, sizeof dst);
}
static ct_status c_one_hot_float(void) { OUT(ct_one_hot(ctx, f23, 3, 1, 0, -1, CT_FLOAT32, &o)); }
static ct_status c_where_cond(void) { OUT(ct_where(ctx, f23, f23, f23, &o)); }
static ct_status c_xent_labels(void) {
  ct_tensor *loss = OUT_SENTINEL;
  ct_status s = ct_sparse_softmax_cross_entropy_with_logits(ctx, f3, f23, &loss, NULL);
  return out_call(s, loss);
}
static ct_status c_floor_div_zero(void) { OUT(ct_floor_div(ctx, i23, o23, &o)); }

/* ranks and sizes */
static int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
static ct_status c_from_host_rank(void) { OUT(ct_tensor_from_host(ctx, CT_FLOAT32, nine, 9, six, &o)); }
static ct_status c_fill_rank(void) { OUT(ct_fill(ctx, CT_FLOAT32, nine, 9, 0, &o)); }
static ct_status c_reshape_rank(void) { OUT(ct_reshape(ctx, scalar, nine, 9, &o)); }
static ct_status c_broadcast_rank(void) { OUT(ct_broadcast_to(ctx, scalar, nine, 9, &o)); }
static ct_status c_negative_rank(void) { OUT(ct_zeros(ctx, CT_FLOAT32, s23, -1, &o)); }
static ct_status c_size_overflow(void) {
  int64_t s[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  OUT(ct_fill(ctx, CT_FLOAT64, s, 2, 0, &o));
}
static ct_status c_size_overflow_bytes(void) {
  /* 2^62 elements of 8 bytes: 2^65 bytes, past size_t */
  int64_t s[1] = {(int64_t)1 << 62};
  OUT(ct_zeros(ctx, CT_INT64, s, 1, &o));
}
static ct_status c_negative_dim(void) {
  int64_t s[2] = {2, -3};
  OUT(ct_ones(ctx, CT_FLOAT32, s, 2, &o));
}
static ct_status c_host_memory(void) {
  /* 2^55 float32 elements (128 PiB): a size that fits, memory that does not */
  int64_t s[1] = {(int64_t)1 << 55};
  OUT(ct_zeros(ctx, CT_FLOAT32, s, 1, &o));
}
static ct_status c_range_delta(void) { OUT(ct_range(ctx, CT_FLOAT32, 0, 10, 0, &o)); }
static ct_status c_range_sign(void) { OUT(ct_range(ctx, CT_INT32, 0, 10, -1, &o)); }
static ct_status c_range_huge(void) { OUT(ct_range(ctx, CT_FLOAT64, 0, 1e300, 1e-300, &o)); }
static ct_status c_concat_count(void) { OUT(ct_concat(ctx, (const ct_tensor *const *)&f23, 0, 0, &o)); }

/* devices */
static ct_status c_scope_syntax(void) { return ct_device_scope_push(ctx, "/job:localhost/bogus:3"); }
static ct_status c_copy_unknown(void) {
  /* with soft placement on, the copy runs on CPU:0 instead, as TensorFlow's */
  ct_config_set_soft_placement(ctx, false);
  ct_tensor *o = OUT_SENTINEL;
  ct_status st = ct_tensor_copy_to(f23, "/device:CPU:9", &o);
  ct_config_set_soft_placement(ctx, true);
  return out_call(st, o);
}
static ct_status c_copy_bad_spec(void) { OUT(ct_tensor_copy_to(f23, "/device:CPU:x", &o)); }
static ct_status c_mem_info_gpu(void) {
  ct_memory_info m;
  return ct_device_memory_info(ctx, "/device:GPU:5", &m);
}
static ct_status c_phys_type(void) {
  ct_physical_device_info info;
  return ct_physical_device_get(ctx, "TPU", 0, &info);
}
static ct_status c_phys_index(void) {
  ct_physical_device_info info;
  return ct_physical_device_get(ctx, "CPU", 99, &info);
}
static ct_status c_logical_index(void) {
  ct_logical_device_info info;
  return ct_logical_device_get(ctx, NULL, -1, &info);
}
static ct_status c_strict_placement(void) {
  ct_config_set_soft_placement(ctx, false);
  ct_status s = ct_device_scope_push(ctx, "/device:GPU:3");
  ct_tensor *o = OUT_SENTINEL;
  if (s == CT_OK) {
    s = ct_add(ctx, f23, f23, &o);
    ct_device_scope_pop(ctx);
  }
  ct_config_set_soft_placement(ctx, true);
  return out_call(s, o);
}
static ct_status c_strict_no_kernel(void) {
  ct_config_set_soft_placement(ctx, false);
  ct_status s = ct_device_scope_push(ctx, "/device:TPU:0");
  ct_tensor *o = OUT_SENTINEL;
  if (s == CT_OK) {
    s = ct_add(ctx, f23, f23, &o);
    ct_device_scope_pop(ctx);
  }
  ct_config_set_soft_placement(ctx, true);
  return out_call(s, o);
}
static ct_status c_policy_explicit(void) {
  ct_config_set_device_policy(ctx, CT_POLICY_EXPLICIT);
  ct_tensor *on1 = NULL, *o = OUT_SENTINEL;
  ct_status s = ct_tensor_copy_to(f23, "/CPU:1", &on1);
  if (s == CT_OK) s = ct_add(ctx, f23, on1, &o);
  ct_tensor_release(on1);
  ct_config_set_device_policy(ctx, CT_POLICY_SILENT);
  return out_call(s, o);
}
static ct_status c_policy_value(void) { return ct_config_set_device_policy(ctx, (ct_device_policy)7); }

/* configuration */
static ct_status c_visible_type(void) {
  int idx[1] = {0};
  return ct_config_set_visible_devices(ctx, "TPU", idx, 1);
}
static ct_status c_visible_index(void) {
  int idx[1] = {5};
  return ct_config_set_visible_devices(ctx, "CPU", idx, 1);
}
/* On the fake GPU context: configuration that would change after the
 * start, and a logical device's memory limit. */
static ct_context *gctx;
static ct_status c_visible_after_init(void) { return ct_config_set_visible_devices(gctx, "GPU", NULL, 0); }
static ct_status c_growth_after_init(void) {
  return ct_config_set_memory_growth(gctx, "/physical_device:GPU:0", true);
}
static ct_status c_gpu_limit(void) {
  int64_t s[1] = {1 << 20}; /* 4 MiB of float32 on a 1 MiB logical GPU */
  ct_status st = ct_device_scope_push(gctx, "/GPU:0");
  if (st != CT_OK) return st;
  ct_tensor *o = OUT_SENTINEL;
  st = ct_zeros(gctx, CT_FLOAT32, s, 1, &o);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  ct_device_scope_pop(gctx);
  out_call(st, o);
  return with_msg(st, msg);
}
static ct_status c_gpu_limit_zero(void) {
  ct_context *c = NULL;
  if (ct_context_new(&c) != CT_OK) return CT_UNKNOWN;
  ct_logical_device_config cfg[1] = {{.memory_limit_mb = 0}};
  ct_status st = ct_config_set_logical_devices(c, "/physical_device:GPU:0", cfg, 1);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  ct_context_free(c);
  return with_msg(st, msg);
}
static ct_status c_hide_cpu(void) { return ct_config_set_visible_devices(ctx, "CPU", NULL, 0); }
static ct_status c_logical_after_init(void) {
  ct_logical_device_config cfg[3];
  memset(cfg, 0, sizeof cfg);
  return ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 3);
}
static ct_status c_logical_cpu_limit(void) {
  ct_context *c = NULL;
  if (ct_context_new(&c) != CT_OK) return CT_UNKNOWN;
  ct_logical_device_config cfg[1] = {{.memory_limit_mb = 100}};
  ct_status s = ct_config_set_logical_devices(c, "/physical_device:CPU:0", cfg, 1);
  ct_context_free(c);
  return s;
}
static ct_status c_logical_unknown(void) {
  ct_logical_device_config cfg[1];
  memset(cfg, 0, sizeof cfg);
  return ct_config_set_logical_devices(ctx, "/physical_device:GPU:9", cfg, 1);
}
static ct_status c_growth_cpu(void) { return ct_config_set_memory_growth(ctx, "/physical_device:CPU:0", true); }

/* scopes */
static ct_status c_pop_empty(void) { return ct_device_scope_pop(ctx); }
static ct_status c_pop_twice(void) {
  ct_status s = ct_device_scope_push(ctx, "/CPU:0");
  if (s != CT_OK) return s;
  ct_device_scope_pop(ctx);
  return ct_device_scope_pop(ctx);
}
static char thread_msg[1024];
static void *pop_elsewhere(void *arg) {
  ct_status *s = arg;
  *s = ct_device_scope_pop(ctx);
  snprintf(thread_msg, sizeof thread_msg, "%s", ct_last_error());
  return NULL;
}
static ct_status c_pop_other_thread(void) {
  ct_status s = ct_device_scope_push(ctx, "/CPU:1");
  if (s != CT_OK) return s;
  pthread_t th;
  ct_status got = CT_OK;
  pthread_create(&th, NULL, pop_elsewhere, &got);
  pthread_join(th, NULL);
  /* this thread's scope is still open: the other thread had none */
  char cur[CT_DEVICE_NAME_MAX];
  ct_device_scope_current(ctx, cur, sizeof cur);
  bool still_open = strstr(cur, "CPU:1") != NULL;
  ct_device_scope_pop(ctx);
  /* the other thread's error is in its own ct_last_error: restate it here */
  return still_open ? with_msg(got, thread_msg) : CT_UNKNOWN;
}
static ct_status c_scope_too_deep(void) {
  int pushed = 0;
  ct_status s = CT_OK;
  while (s == CT_OK && pushed < 100) {
    s = ct_device_scope_push(ctx, "/CPU:0");
    if (s == CT_OK) pushed++;
  }
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  while (pushed-- > 0) ct_device_scope_pop(ctx);
  return with_msg(s, msg);
}
static ct_status c_scope_current_small(void) {
  char buf[1];
  return ct_device_scope_current(ctx, buf, 0);
}

/* objects of another context */
static ct_status c_other_ctx_input(void) { OUT(ct_add(ctx, f23, o23, &o)); }
static ct_status c_other_ctx_both(void) { OUT(ct_matmul(ctx, o23, o23, false, true, &o)); }
static ct_status c_other_ctx_variable(void) {
  ct_variable *v = NULL;
  return ct_variable_new(ctx, o23, true, "v", &v);
}
static ct_status c_other_ctx_assign(void) { return ct_variable_assign(var, o23); }
static ct_status c_other_ctx_watch(void) {
  ct_tape *t = NULL;
  ct_status s = ct_tape_new(ctx, false, false, &t);
  if (s == CT_OK) s = ct_tape_watch(t, o23);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  ct_tape_free(t);
  return with_msg(s, msg);
}
static ct_status c_other_ctx_optimizer(void) {
  ct_variable *vars[1] = {ovar};
  const ct_tensor *grads[1] = {f23};
  return ct_optimizer_apply_gradients(sgd, vars, grads, 1);
}

/* tapes */
static ct_status c_gradient_twice(void) {
  ct_tape *t = NULL;
  ct_tensor *y = NULL, *g[1] = {NULL};
  ct_status s = ct_tape_new(ctx, false, false, &t);
  if (s == CT_OK) s = ct_tape_watch(t, f23);
  if (s == CT_OK) s = ct_mul(ctx, f23, f23, &y);
  ct_gradient_source src = {f23, NULL};
  const ct_tensor *tg[1] = {y};
  if (s == CT_OK) s = ct_tape_gradient(t, tg, 1, NULL, &src, 1, CT_UNCONNECTED_NONE, g);
  ct_tensor_release(g[0]);
  g[0] = OUT_SENTINEL;
  if (s == CT_OK) s = ct_tape_gradient(t, tg, 1, NULL, &src, 1, CT_UNCONNECTED_NONE, g);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  out_call(s, g[0]);
  ct_tensor_release(y);
  ct_tape_free(t);
  return with_msg(s, msg);
}
static ct_status tape_case(int which) {
  ct_tape *t = NULL;
  ct_tensor *g[1] = {OUT_SENTINEL};
  ct_status s = ct_tape_new(ctx, true, false, &t);
  if (s != CT_OK) return s;
  const ct_tensor *tg[1] = {f23};
  ct_gradient_source both = {f23, var}, neither = {NULL, NULL}, ok = {f23, NULL};
  switch (which) {
    case 0: s = ct_tape_gradient(t, tg, 1, NULL, &both, 1, CT_UNCONNECTED_NONE, g); break;
    case 1: s = ct_tape_gradient(t, tg, 1, NULL, &neither, 1, CT_UNCONNECTED_NONE, g); break;
    case 2: s = ct_tape_gradient(t, tg, -1, NULL, &ok, 1, CT_UNCONNECTED_NONE, g); break;
    case 3: s = ct_tape_gradient(t, tg, 1, NULL, &ok, 1, (ct_unconnected_gradients)9, g); break;
    case 4: {
      const ct_tensor *og[1] = {f32};
      s = ct_tape_gradient(t, tg, 1, og, &ok, 1, CT_UNCONNECTED_NONE, g);
      break;
    }
    case 5: s = ct_tape_gradient(t, tg, 1, NULL, &ok, 1, CT_UNCONNECTED_NONE, NULL); break;
    case 6: s = ct_tape_watch(t, NULL); break;
    case 7: {
      ct_variable *out = NULL;
      s = ct_tape_watched_variable_get(t, 3, &out);
      break;
    }
  }
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  out_call(s, g[0]);
  ct_tape_free(t);
  return with_msg(s, msg);
}
static ct_status c_source_both(void) { return tape_case(0); }
static ct_status c_source_neither(void) { return tape_case(1); }
static ct_status c_targets_negative(void) { return tape_case(2); }
static ct_status c_unconnected_value(void) { return tape_case(3); }
static ct_status c_output_gradient_shape(void) { return tape_case(4); }
static ct_status c_gradient_null_out(void) { return tape_case(5); }
static ct_status c_watch_null(void) { return tape_case(6); }
static ct_status c_watched_index(void) { return tape_case(7); }
static ct_tape *made_here;
static ct_status stop_result;
static char stop_msg[1024];
static void *stop_elsewhere(void *arg) {
  (void)arg;
  stop_result = ct_tape_stop_recording(made_here);
  snprintf(stop_msg, sizeof stop_msg, "%s", ct_last_error());
  return NULL;
}
static ct_status c_tape_other_thread(void) {
  ct_status s = ct_tape_new(ctx, false, false, &made_here);
  if (s != CT_OK) return s;
  pthread_t th;
  pthread_create(&th, NULL, stop_elsewhere, NULL);
  pthread_join(th, NULL);
  bool recording = ct_tape_is_recording(made_here);
  ct_tape_free(made_here);
  return recording ? with_msg(stop_result, stop_msg) : CT_UNKNOWN;
}

/* variables */
static ct_status c_assign_shape(void) { return ct_variable_assign(var, f32); }
static ct_status c_assign_dtype(void) { return ct_variable_assign(var, i23); }
static ct_status c_assign_add_shape(void) { return ct_variable_assign_add(var, f3); }
static ct_status c_assign_null(void) { return ct_variable_assign(var, NULL); }
static ct_status c_read_null(void) {
  ct_tensor *o = OUT_SENTINEL;
  return out_call(ct_variable_read(NULL, &o), o);
}

/* optimizers */
static ct_status c_sgd_lr(void) {
  ct_optimizer *o = NULL;
  return ct_optimizer_sgd_new(ctx, -0.1, 0, false, &o);
}
static ct_status c_sgd_momentum(void) {
  ct_optimizer *o = NULL;
  return ct_optimizer_sgd_new(ctx, 0.1, 1.5, false, &o);
}
static ct_status c_adam_beta(void) {
  ct_optimizer *o = NULL;
  return ct_optimizer_adam_new(ctx, 0.001, 1.0, 0.999, 1e-7, false, &o);
}
static ct_status c_adam_epsilon(void) {
  ct_optimizer *o = NULL;
  return ct_optimizer_adam_new(ctx, 0.001, 0.9, 0.999, NAN, false, &o);
}
static ct_status c_set_lr_nan(void) { return ct_optimizer_set_learning_rate(sgd, NAN); }
static ct_status c_apply_all_null(void) {
  ct_variable *vars[1] = {var};
  const ct_tensor *grads[1] = {NULL};
  return ct_optimizer_apply_gradients(sgd, vars, grads, 1);
}
static ct_status c_apply_shape(void) {
  ct_variable *vars[1] = {var};
  const ct_tensor *grads[1] = {f32};
  return ct_optimizer_apply_gradients(sgd, vars, grads, 1);
}
static ct_status c_apply_int_var(void) {
  ct_variable *vars[1] = {ivar};
  const ct_tensor *grads[1] = {i23};
  return ct_optimizer_apply_gradients(sgd, vars, grads, 1);
}
static ct_status c_apply_null_var(void) {
  ct_variable *vars[1] = {NULL};
  const ct_tensor *grads[1] = {f23};
  return ct_optimizer_apply_gradients(sgd, vars, grads, 1);
}
static ct_status c_slot_name(void) {
  ct_tensor *o = OUT_SENTINEL;
  return out_call(ct_optimizer_get_slot(sgd, var, "velocity", &o), o);
}
static ct_status c_slot_before_update(void) {
  ct_optimizer *m = NULL;
  ct_status s = ct_optimizer_sgd_new(ctx, 0.1, 0.9, false, &m);
  ct_tensor *o = OUT_SENTINEL;
  if (s == CT_OK) s = ct_optimizer_get_slot(m, var, "momentum", &o);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", ct_last_error());
  out_call(s, o);
  ct_optimizer_free(m);
  return with_msg(s, msg);
}

#define C(group, what, fn, status, needle) {group, what, fn, status, needle}
static const misuse_case cases[] = {
    C("NULL", "`ct_context_new(NULL)`", c_ctx_new_null, CT_INVALID_ARGUMENT, "context_new: out is NULL"),
    C("NULL", "`ct_context_initialize(NULL)`", c_init_null, CT_INVALID_ARGUMENT, "context_initialize: context is NULL"),
    C("NULL", "`ct_tensor_from_host` with a NULL context", c_from_host_null_ctx, CT_INVALID_ARGUMENT, "tensor_from_host: context is NULL"),
    C("NULL", "`ct_tensor_from_host` with a NULL out-parameter", c_from_host_null_out, CT_INVALID_ARGUMENT, "tensor_from_host: out is NULL"),
    C("NULL", "`ct_tensor_from_host` with NULL data for 6 elements", c_from_host_null_data, CT_INVALID_ARGUMENT, "tensor_from_host: data is NULL for 6 elements"),
    C("NULL", "`ct_tensor_from_host` with a NULL shape for rank 2", c_from_host_null_shape, CT_INVALID_ARGUMENT, "tensor_from_host: shape is NULL for rank 2"),
    C("NULL", "`ct_tensor_to_host(NULL, ...)`", c_to_host_null, CT_INVALID_ARGUMENT, "tensor_to_host: tensor is NULL"),
    C("NULL", "`ct_tensor_to_host` into a NULL buffer", c_to_host_null_dst, CT_INVALID_ARGUMENT, "tensor_to_host: destination is NULL"),
    C("NULL", "`ct_add` with a NULL input", c_add_null_a, CT_INVALID_ARGUMENT, "add: NULL a"),
    C("NULL", "`ct_add` with a NULL out-parameter", c_add_null_out, CT_INVALID_ARGUMENT, "add: NULL out"),
    C("NULL", "`ct_add` with a NULL context", c_add_null_ctx, CT_INVALID_ARGUMENT, "add: NULL context"),
    C("NULL", "`ct_matmul` with a NULL `b`", c_matmul_null, CT_INVALID_ARGUMENT, "matmul: NULL b"),
    C("NULL", "`ct_exp` with a NULL input", c_unary_null, CT_INVALID_ARGUMENT, "exp: NULL x"),
    C("NULL", "`ct_reduce_sum` with a NULL input", c_reduce_null, CT_INVALID_ARGUMENT, "reduce_sum: NULL x"),
    C("NULL", "`ct_concat` with a NULL array", c_concat_null, CT_INVALID_ARGUMENT, "concat: NULL xs"),
    C("NULL", "`ct_concat` with a NULL entry in the array", c_concat_null_item, CT_INVALID_ARGUMENT, "concat: xs[1] is NULL"),
    C("NULL", "`ct_tensor_copy_to` of a NULL tensor", c_copy_to_null, CT_INVALID_ARGUMENT, "tensor_copy_to: NULL argument"),
    C("NULL", "`ct_tensor_copy_to` with a NULL device spec", c_copy_to_null_spec, CT_INVALID_ARGUMENT, "tensor_copy_to: NULL argument"),
    C("NULL", "`ct_device_scope_push(ctx, NULL)`", c_scope_push_null, CT_INVALID_ARGUMENT, "device_scope_push: spec is NULL"),
    C("NULL", "`ct_device_memory_info` with a NULL spec", c_mem_info_null, CT_INVALID_ARGUMENT, "device spec is NULL"),
    C("NULL", "`ct_physical_device_get` with a NULL out-parameter", c_phys_get_null, CT_INVALID_ARGUMENT, "physical_device_get: NULL argument"),
    C("NULL", "`ct_dtype_from_name(NULL, ...)`", c_dtype_name_null, CT_INVALID_ARGUMENT, "dtype_from_name: NULL argument"),
    C("NULL", "`ct_device_name_parse(NULL, ...)`", c_name_parse_null, CT_INVALID_ARGUMENT, "device_name_parse: NULL argument"),
    C("NULL", "`ct_variable_new` with a NULL initial value", c_var_new_null, CT_INVALID_ARGUMENT, "variable_new: NULL initial value"),
    C("NULL", "`ct_tape_new` with a NULL out-parameter", c_tape_new_null, CT_INVALID_ARGUMENT, "tape_new: NULL out"),
    C("NULL", "`ct_tape_gradient` on a NULL tape", c_tape_gradient_null, CT_INVALID_ARGUMENT, "tape_gradient: NULL tape"),
    C("NULL", "`ct_optimizer_apply_gradients` with NULL arrays and n = 1", c_apply_null_arrays, CT_INVALID_ARGUMENT, "optimizer_apply_gradients: NULL variable array with n = 1"),
    C("dtype/shape", "`ct_add` of float32 and int32", c_add_dtypes, CT_INVALID_ARGUMENT, "add: dtypes differ: float32 and int32"),
    C("dtype/shape", "`ct_add` of [2,3] and [3,2]", c_add_shapes, CT_INVALID_ARGUMENT, "add: shapes [2,3] and [3,2] are not broadcastable"),
    C("dtype/shape", "`ct_matmul` of [2,3] by [2,3]", c_matmul_inner, CT_INVALID_ARGUMENT, "matmul: inner dimensions differ: a is [2,3], b is [2,3]"),
    C("dtype/shape", "`ct_matmul` of rank-1 tensors", c_matmul_rank1, CT_INVALID_ARGUMENT, "matmul: operands must have rank 2 or more: a is [3], b is [3]"),
    C("dtype/shape", "`ct_matmul` of bool tensors", c_matmul_int_bool, CT_INVALID_ARGUMENT, "matmul: dtype bool is not supported"),
    C("dtype/shape", "`ct_reshape` of 6 elements to [4,2]", c_reshape_count, CT_INVALID_ARGUMENT, "reshape: cannot reshape x of shape [2,3] (6 elements) into [4,2] (8 elements)"),
    C("dtype/shape", "`ct_reshape` with two -1 dimensions", c_reshape_two_unknown, CT_INVALID_ARGUMENT, "reshape: more than one -1 in shape [-1,-1]"),
    C("dtype/shape", "`ct_transpose` with perm {0,0}", c_transpose_perm, CT_INVALID_ARGUMENT, "transpose: perm [0,0] is not a permutation of the axes of x of shape [2,3]"),
    C("dtype/shape", "`ct_concat` of [2,3] and [3,2] on axis 0", c_concat_shapes, CT_INVALID_ARGUMENT, "concat: shapes differ outside axis 0: xs[0] is [2,3], xs[1] is [3,2]"),
    C("dtype/shape", "`ct_concat` on axis 5 of rank-2 tensors", c_concat_axis, CT_INVALID_ARGUMENT, "concat: axis 5 is out of range for rank 2 (shape [2,3])"),
    C("dtype/shape", "`ct_slice` past the end ([1,2] + [2,1] in [2,3])", c_slice_range, CT_INVALID_ARGUMENT, "slice: begin [1,2] and size [2,1] are out of bounds for x of shape [2,3] (axis 0: begin 1,"),
    C("dtype/shape", "`ct_gather` with index 7 in a dimension of 2", c_gather_index, CT_INVALID_ARGUMENT, "gather: indices[0] = 7 is not in [0, 2)"),
    C("dtype/shape", "`ct_reduce_sum` on axis 2 of a rank-2 tensor", c_reduce_axis, CT_INVALID_ARGUMENT, "reduce_sum: axis 2 is out of range for shape [2,3] (rank 2)"),
    C("dtype/shape", "`ct_reduce_sum` on axes {1, -1} (the same axis twice)", c_reduce_axis_twice, CT_OK, "accepted: the axis is reduced once, as TensorFlow's ReductionHelper does"),
    C("dtype/shape", "`ct_argmax` with a float32 output dtype", c_argmax_dtype, CT_INVALID_ARGUMENT, "argmax: output dtype must be int32 or int64, not float32"),
    C("dtype/shape", "`ct_softmax` of an int32 tensor", c_softmax_int, CT_INVALID_ARGUMENT, "softmax: dtype int32 is not supported (expected float32, float64, float16 or bfloat16)"),
    C("dtype/shape", "`ct_cast` to dtype 42", c_cast_invalid, CT_INVALID_ARGUMENT, "cast: invalid dtype 42 (expected float32, float64, float16, bfloat16, int32, int64 or bool"),
    C("dtype/shape", "`ct_tensor_from_host` with dtype -1", c_from_host_dtype, CT_INVALID_ARGUMENT, "tensor_from_host: invalid dtype -1"),
    C("dtype/shape", "`ct_tensor_to_host` into 8 bytes for 24", c_to_host_small, CT_INVALID_ARGUMENT, "tensor_to_host: destination has 8 bytes, the float32 tensor of shape [2,3] needs 24"),
    C("dtype/shape", "`ct_one_hot` of float32 indices", c_one_hot_float, CT_INVALID_ARGUMENT, "one_hot: indices must be int32 or int64, got float32"),
    C("dtype/shape", "`ct_where` with a float32 condition", c_where_cond, CT_INVALID_ARGUMENT, "where: condition must be bool, got float32"),
    C("dtype/shape", "sparse cross-entropy with float32 labels", c_xent_labels, CT_INVALID_ARGUMENT, "sparse_softmax_cross_entropy_with_logits: labels must be int32 or int64, got float32"),
    C("dtype/shape", "`ct_floor_div` of int32 by zero", c_floor_div_zero, CT_INVALID_ARGUMENT, "floor_div: Integer division by zero (a divisor of int32 is 0)"),
    C("rank/size", "`ct_tensor_from_host` with rank 9", c_from_host_rank, CT_INVALID_ARGUMENT, "tensor_from_host: rank 9 out of range (0..8)"),
    C("rank/size", "`ct_fill` with rank 9", c_fill_rank, CT_INVALID_ARGUMENT, "fill: rank 9 out of range (0..8)"),
    C("rank/size", "`ct_reshape` to rank 9", c_reshape_rank, CT_INVALID_ARGUMENT, "reshape: rank 9 is outside 0..8"),
    C("rank/size", "`ct_broadcast_to` rank 9", c_broadcast_rank, CT_INVALID_ARGUMENT, "broadcast_to: rank 9 out of range (0..8)"),
    C("rank/size", "`ct_zeros` with rank -1", c_negative_rank, CT_INVALID_ARGUMENT, "zeros: rank -1 out of range (0..8)"),
    C("rank/size", "`ct_fill` of [2^40, 2^40] (2^80 elements)", c_size_overflow, CT_INVALID_ARGUMENT, "fill: shape [1099511627776,1099511627776] has too many elements"),
    C("rank/size", "`ct_zeros` of 2^62 int64 (2^65 bytes, past `size_t`)", c_size_overflow_bytes, CT_INVALID_ARGUMENT, "zeros: shape [4611686018427387904] has too many elements"),
    C("rank/size", "`ct_ones` of [2,-3]", c_negative_dim, CT_INVALID_ARGUMENT, "ones: dimension 1 is negative in shape [2,-3]"),
    C("rank/size", "`ct_zeros` of 2^55 float32 (128 PiB of host memory)", c_host_memory, CT_RESOURCE_EXHAUSTED, "fill on /job:localhost/replica:0/task:0/device:CPU:0: out of memory on /job:localhost/repl"),
    C("rank/size", "`ct_range` with delta 0", c_range_delta, CT_INVALID_ARGUMENT, "range: delta must not be 0"),
    C("rank/size", "`ct_range(0, 10, -1)`", c_range_sign, CT_INVALID_ARGUMENT, "range: requires start >= limit when delta < 0: 0/10"),
    C("rank/size", "`ct_range(0, 1e300, 1e-300)`", c_range_huge, CT_INVALID_ARGUMENT, "range: inf elements are too many (start 0, limit 1e+300, delta 1e-300)"),
    C("rank/size", "`ct_concat` of 0 tensors", c_concat_count, CT_INVALID_ARGUMENT, "concat: needs 1 to 64 tensors, got 0"),
    C("device", "`ct_device_scope_push` of \"/job:localhost/bogus:3\"", c_scope_syntax, CT_INVALID_ARGUMENT, "invalid device spec '/job:localhost/bogus:3': Unknown attribute 'bogus' (expected job:, re"),
    C("device", "`ct_tensor_copy_to` \"/device:CPU:9\" (no such device) with soft placement off", c_copy_unknown, CT_INVALID_ARGUMENT, "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:CPU:9'. ena"),
    C("device", "`ct_tensor_copy_to` \"/device:CPU:x\"", c_copy_bad_spec, CT_INVALID_ARGUMENT, "invalid device spec '/device:CPU:x': invalid literal for int as device index: 'x' (expecte"),
    C("device", "`ct_device_memory_info` of \"/device:GPU:5\"", c_mem_info_gpu, CT_NOT_FOUND, "no device matches '/device:GPU:5'; available devices [/job:localhost/replica:0/task:0/devi"),
    C("device", "`ct_physical_device_get` of type \"TPU\"", c_phys_type, CT_INVALID_ARGUMENT, "physical_device_get: unknown device type 'TPU' (expected \"CPU\" or \"GPU\")"),
    C("device", "`ct_physical_device_get` of CPU 99", c_phys_index, CT_OUT_OF_RANGE, "physical_device_get: index 99 out of range: 1 CPU device"),
    C("device", "`ct_logical_device_get` of index -1", c_logical_index, CT_OUT_OF_RANGE, "logical_device_get: index -1 out of range: 2 logical devices"),
    C("device", "an op in a \"/device:GPU:3\" scope with soft placement off", c_strict_placement, CT_INVALID_ARGUMENT, "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:GPU:3'. ena"),
    C("device", "an op in a \"/device:TPU:0\" scope with soft placement off", c_strict_no_kernel, CT_INVALID_ARGUMENT, "Could not satisfy device specification '/job:localhost/replica:0/task:0/device:TPU:0'. ena"),
    C("device", "an input on CPU:1 for an op on CPU:0 under `CT_POLICY_EXPLICIT`", c_policy_explicit, CT_INVALID_ARGUMENT, "Tensors on conflicting devices: cannot compute AddV2 as input #1 was expected to be on /jo"),
    C("device", "`ct_config_set_device_policy` of 7", c_policy_value, CT_INVALID_ARGUMENT, "Not a valid device policy: 7 (expected 0..3: silent, warn, explicit, silent_for_int32)"),
    C("configuration", "`ct_config_set_visible_devices` of type \"TPU\"", c_visible_type, CT_INVALID_ARGUMENT, "set_visible_devices: unknown device type 'TPU' (expected \"CPU\" or \"GPU\")"),
    C("configuration", "`ct_config_set_visible_devices` of CPU 5", c_visible_index, CT_INVALID_ARGUMENT, "set_visible_devices: unrecognized device: /physical_device:CPU:5 (1 CPU device)"),
    C("configuration", "`ct_config_set_visible_devices` hiding the GPU after initialisation", c_visible_after_init, CT_FAILED_PRECONDITION, "Visible devices cannot be modified after being initialized"),
    C("configuration", "`ct_config_set_memory_growth` of the GPU after initialisation", c_growth_after_init, CT_INVALID_ARGUMENT, "Cannot set memory growth on device when virtual devices configured (/physical_device:GPU:0"),
    C("configuration", "a GPU logical device without a memory limit (0 MiB)", c_gpu_limit_zero, CT_INVALID_ARGUMENT, "Setting memory limit is required for GPU virtual devices (configuration 0 of /physical_dev"),
    C("memory", "4 MiB on a GPU logical device limited to 1 MiB", c_gpu_limit, CT_RESOURCE_EXHAUSTED, "fill on /job:localhost/replica:0/task:0/device:GPU:0: /device:GPU:0: out of memory: reques"),
    C("configuration", "`ct_config_set_visible_devices` hiding every CPU", c_hide_cpu, CT_INVALID_ARGUMENT, "set_visible_devices: the CPU cannot be hidden (it holds host memory)"),
    C("configuration", "`ct_config_set_logical_devices` (3 CPUs) after initialisation", c_logical_after_init, CT_FAILED_PRECONDITION, "Virtual devices cannot be modified after being initialized"),
    C("configuration", "a CPU logical device with a memory limit", c_logical_cpu_limit, CT_INVALID_ARGUMENT, "Setting memory limit on CPU virtual devices is currently not supported (configuration 0 of"),
    C("configuration", "`ct_config_set_logical_devices` on \"/physical_device:GPU:9\"", c_logical_unknown, CT_INVALID_ARGUMENT, "set_logical_device_configuration: unrecognized device '/physical_device:GPU:9'; physical d"),
    C("configuration", "`ct_config_set_memory_growth` on the CPU", c_growth_cpu, CT_INVALID_ARGUMENT, "Cannot set memory growth on device when virtual devices configured (/physical_device:CPU:0"),
    C("scope", "`ct_device_scope_pop` with no scope open", c_pop_empty, CT_FAILED_PRECONDITION, "device_scope_pop: no device scope is open on this thread"),
    C("scope", "one push, two pops", c_pop_twice, CT_FAILED_PRECONDITION, "device_scope_pop: no device scope is open on this thread"),
    C("scope", "a pop on a thread that did not push (the pushing thread's scope stays)", c_pop_other_thread, CT_FAILED_PRECONDITION, "device_scope_pop: no device scope is open on this thread"),
    C("scope", "100 nested pushes", c_scope_too_deep, CT_OUT_OF_RANGE, "device_scope_push: scopes nested deeper than 64 (pushing '/CPU:0')"),
    C("scope", "`ct_device_scope_current` into a 0-byte buffer", c_scope_current_small, CT_INVALID_ARGUMENT, "device_scope_current: NULL argument or empty buffer"),
    C("other context", "`ct_add` with one input from another context", c_other_ctx_input, CT_INVALID_ARGUMENT, "add: input #1 (on /job:localhost/replica:0/task:0/device:CPU:0) belongs to another context"),
    C("other context", "`ct_matmul` on ctx of two tensors of another context", c_other_ctx_both, CT_INVALID_ARGUMENT, "matmul: input #0 (on /job:localhost/replica:0/task:0/device:CPU:0) belongs to another cont"),
    C("other context", "`ct_variable_new` on ctx from another context's tensor", c_other_ctx_variable, CT_INVALID_ARGUMENT, "variable_new: the initial value (on /job:localhost/replica:0/task:0/device:CPU:0) belongs "),
    C("other context", "`ct_variable_assign` of another context's tensor", c_other_ctx_assign, CT_INVALID_ARGUMENT, "variable_assign: the value (on /job:localhost/replica:0/task:0/device:CPU:0) belongs to an"),
    C("other context", "`ct_tape_watch` of another context's tensor", c_other_ctx_watch, CT_INVALID_ARGUMENT, "tape_watch: the tensor (on /job:localhost/replica:0/task:0/device:CPU:0) belongs to anothe"),
    C("other context", "`ct_optimizer_apply_gradients` on another context's variable", c_other_ctx_optimizer, CT_INVALID_ARGUMENT, "optimizer_apply_gradients: variable 'elsewhere' (#0) belongs to another context than the o"),
    C("tape", "`ct_tape_gradient` twice on a non-persistent tape", c_gradient_twice, CT_FAILED_PRECONDITION, "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobia"),
    C("tape", "a gradient source with both tensor and variable set", c_source_both, CT_INVALID_ARGUMENT, "tape_gradient: source #0 must name exactly one tensor or one variable (it names both)"),
    C("tape", "a gradient source with neither set", c_source_neither, CT_INVALID_ARGUMENT, "tape_gradient: source #0 must name exactly one tensor or one variable (it names neither)"),
    C("tape", "`ct_tape_gradient` with -1 targets", c_targets_negative, CT_INVALID_ARGUMENT, "tape_gradient: n_targets is -1; at least one target is needed"),
    C("tape", "`ct_tape_gradient` with unconnected = 9", c_unconnected_value, CT_INVALID_ARGUMENT, "tape_gradient: unconnected_gradients is 9; expected CT_UNCONNECTED_NONE (0) or CT_UNCONNEC"),
    C("tape", "an output gradient of another shape than its target", c_output_gradient_shape, CT_INVALID_ARGUMENT, "tape_gradient: output_gradients[0] is float32 [3,2] but target #0 is float32 [2,3]: they m"),
    C("tape", "`ct_tape_gradient` with a NULL out array", c_gradient_null_out, CT_INVALID_ARGUMENT, "tape_gradient: NULL out"),
    C("tape", "`ct_tape_watch(tape, NULL)`", c_watch_null, CT_INVALID_ARGUMENT, "tape_watch: NULL tensor"),
    C("tape", "`ct_tape_watched_variable_get` of index 3 of 0", c_watched_index, CT_OUT_OF_RANGE, "tape_watched_variable_get: index 3 out of range: the tape watches 0 variables"),
    C("tape", "`ct_tape_stop_recording` from another thread than the tape's", c_tape_other_thread, CT_FAILED_PRECONDITION, "tape_stop_recording: a tape records the ops of the thread that made it; call this from tha"),
    C("variable", "`ct_variable_assign` of [3,2] to a [2,3] variable", c_assign_shape, CT_INVALID_ARGUMENT, "variable_assign: cannot update variable 'w' of dtype float32 and shape [2,3] with a value "),
    C("variable", "`ct_variable_assign` of int32 to a float32 variable", c_assign_dtype, CT_INVALID_ARGUMENT, "variable_assign: cannot update variable 'w' of dtype float32 and shape [2,3] with a value "),
    C("variable", "`ct_variable_assign_add` of [3] to a [2,3] variable", c_assign_add_shape, CT_INVALID_ARGUMENT, "variable_assign_add: cannot update variable 'w' of dtype float32 and shape [2,3] with a va"),
    C("variable", "`ct_variable_assign(v, NULL)`", c_assign_null, CT_INVALID_ARGUMENT, "variable_assign: NULL value"),
    C("variable", "`ct_variable_read(NULL, ...)`", c_read_null, CT_INVALID_ARGUMENT, "variable_read: NULL variable"),
    C("optimizer", "SGD with learning rate -0.1", c_sgd_lr, CT_INVALID_ARGUMENT, "optimizer_sgd_new: learning_rate must be a finite number >= 0, got -0.1"),
    C("optimizer", "SGD with momentum 1.5", c_sgd_momentum, CT_INVALID_ARGUMENT, "optimizer_sgd_new: `momentum` must be a float between [0, 1], got 1.5"),
    C("optimizer", "Adam with beta_1 = 1", c_adam_beta, CT_INVALID_ARGUMENT, "optimizer_adam_new: beta_1 must be in [0, 1), got 1"),
    C("optimizer", "Adam with epsilon NaN", c_adam_epsilon, CT_INVALID_ARGUMENT, "optimizer_adam_new: epsilon must be a finite number >= 0, got nan"),
    C("optimizer", "`ct_optimizer_set_learning_rate(opt, NaN)`", c_set_lr_nan, CT_INVALID_ARGUMENT, "optimizer_set_learning_rate: learning_rate must be a finite number >= 0, got nan"),
    C("optimizer", "`ct_optimizer_apply_gradients` with every gradient NULL", c_apply_all_null, CT_INVALID_ARGUMENT, "optimizer_apply_gradients: No gradients provided for any variable."),
    C("optimizer", "a [3,2] gradient for a [2,3] variable", c_apply_shape, CT_INVALID_ARGUMENT, "optimizer_apply_gradients: the gradient of variable 'w' (#0) has dtype float32 and shape ["),
    C("optimizer", "an int32 variable", c_apply_int_var, CT_INVALID_ARGUMENT, "optimizer_apply_gradients: variable 'count' (#0) has dtype int32; SGD updates float variab"),
    C("optimizer", "a NULL variable in the array", c_apply_null_var, CT_INVALID_ARGUMENT, "optimizer_apply_gradients: variable #0 is NULL"),
    C("optimizer", "`ct_optimizer_get_slot` of \"velocity\"", c_slot_name, CT_INVALID_ARGUMENT, "optimizer_get_slot: SGD without momentum has no slots (asked for 'velocity')"),
    C("optimizer", "`ct_optimizer_get_slot` before the variable's first update", c_slot_before_update, CT_NOT_FOUND, "optimizer_get_slot: the optimizer has no slots for variable 'w' (slots are made on a varia"),
};

/* ---- the checks ------------------------------------------------------------ */

static bool context_usable(void) {
  float got[6] = {0};
  ct_tensor *x = NULL;
  bool ok = ct_add(ctx, f23, f23, &x) == CT_OK && ct_tensor_to_host(x, got, sizeof got) == CT_OK && got[5] == 12;
  ct_tensor_release(x);
  return ok;
}

static ct_tensor *make(ct_context *c, ct_dtype dt, const int64_t *shape, int rank, const void *data) {
  ct_tensor *t = NULL;
  CHECK_OK(ct_tensor_from_host(c, dt, shape, rank, data, &t));
  return t;
}

static bool markdown;

TEST(every_misuse_is_reported) {
  int32_t ints[6] = {1, 2, 3, 4, 5, 6}, zeros[6] = {0};
  unsigned char bools[6] = {1, 0, 1, 1, 0, 0};
  int64_t s3[1] = {3};
  float one = 1;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_OK(ct_context_new(&other));
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  CHECK_OK(ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2));
  f23 = make(ctx, CT_FLOAT32, s23, 2, six);
  f32 = make(ctx, CT_FLOAT32, s32, 2, six);
  f3 = make(ctx, CT_FLOAT32, s3, 1, six);
  i23 = make(ctx, CT_INT32, s23, 2, ints);
  b23 = make(ctx, CT_BOOL, s23, 2, bools);
  lab = make(ctx, CT_INT32, s3, 1, zeros);
  o23 = make(other, CT_INT32, s23, 2, zeros);
  scalar = make(ctx, CT_FLOAT32, NULL, 0, &one);
  ct_tensor *of23 = make(other, CT_FLOAT32, s23, 2, six);
  CHECK_OK(ct_variable_new(ctx, f23, true, "w", &var));
  CHECK_OK(ct_variable_new(ctx, i23, true, "count", &ivar));
  CHECK_OK(ct_variable_new(other, of23, true, "elsewhere", &ovar));
  CHECK_OK(ct_optimizer_sgd_new(ctx, 0.1, 0, false, &sgd));
  ct_tensor_release(of23);
  /* o23 is int32 for the dtype cases; the context cases want a float one */
  ct_tensor *keep = o23;
  o23 = make(other, CT_FLOAT32, s23, 2, six);
  ct_tensor *o_int = keep;

  /* the fake driver (tests/fake_cuda): one GPU split into a 1 MiB logical device */
  char driver[1024];
  snprintf(driver, sizeof driver, "%s/fake_cuda/libcuda.so.1", getenv("CT_BINARY_DIR") ? getenv("CT_BINARY_DIR") : ".");
  setenv("CT_CUDA_DRIVER_PATH", driver, 1);
  CHECK_OK(ct_context_new(&gctx));
  ct_logical_device_config gcfg[1] = {{.memory_limit_mb = 1}};
  CHECK_OK(ct_config_set_logical_devices(gctx, "/physical_device:GPU:0", gcfg, 1));
  CHECK_OK(ct_context_initialize(gctx));
  CHECK_EQ_INT(ct_logical_device_count(gctx, "GPU"), 1);

  if (markdown) {
    printf("| # | group | misuse | status | message |\n| --- | --- | --- | --- | --- |\n");
  }
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const misuse_case *c = &cases[i];
    /* the integer divisor of zero needs int32 zeros from this context */
    ct_tensor *saved = NULL;
    if (c->fn == c_floor_div_zero) {
      saved = o23;
      o23 = make(ctx, CT_INT32, s23, 2, zeros);
    }
    case_msg[0] = '\0';
    out_written = false;
    ct_status st = c->fn();
    const char *msg = case_msg[0] ? case_msg : ct_last_error();
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", msg);
    if (saved) {
      ct_tensor_release(o23);
      o23 = saved;
    }
    tu_checks++;
    /* a case that is accepted on purpose carries a note, not a message */
    bool accepted = c->status == CT_OK;
    if (st != c->status || (!accepted && (strstr(copy, c->needle) == NULL || out_written))) {
      tu_failures++;
      fprintf(stderr, "case %zu (%s: %s): expected %s containing \"%s\", got %s \"%s\"%s\n", i + 1, c->group,
              c->what, ct_status_name(c->status), c->needle, ct_status_name(st), copy,
              out_written ? " and an out-parameter was written" : "");
    }
    if (!context_usable()) {
      tu_failures++;
      fprintf(stderr, "case %zu (%s): the context no longer computes: %s\n", i + 1, c->what, ct_last_error());
    }
    if (markdown) {
      for (char *p = copy; *p; p++)
        if (*p == '|') *p = '/';
      printf("| %zu | %s | %s | `%s` | %s |\n", i + 1, c->group, c->what, ct_status_name(st),
             accepted ? c->needle : copy);
    }
  }
  if (!markdown) printf("%zu misuse cases\n", sizeof cases / sizeof cases[0]);
  ct_optimizer_free(sgd);
  ct_variable_release(var);
  ct_variable_release(ivar);
  ct_variable_release(ovar);
  ct_tensor *all[] = {f23, f32, f3, i23, b23, lab, o23, scalar, o_int};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
  ct_context_free(ctx);
  ct_context_free(other);
  ct_context_free(gctx);
}

int main(int argc, char **argv) {
  markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;
  RUN(every_misuse_is_reported);
  TEST_MAIN_END();
}
