/*
 * Variables: a value with a fixed dtype, shape and device that assigns
 * replace.
 *
 * The value is an ordinary, immutable tensor; an assign makes a new one
 * and swaps it in. That is what makes "a tensor already read never
 * changes" hold without copying on every read, and what lets a tape keep
 * a read value for its gradient while training updates the variable.
 * The caching allocators make the swap cost what an in-place update
 * costs, bar the one output allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/internal.h"

ct_status ct_variable_new(ct_context *ctx, const ct_tensor *initial, bool trainable, const char *name,
                          ct_variable **out) {
  if (ctx == NULL || initial == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "variable_new: NULL %s",
                    ctx == NULL ? "context" : initial == NULL ? "initial value" : "out");
  if (ct_tensor_context(initial) != ctx)
    return ct_error(CT_INVALID_ARGUMENT, "variable_new: the initial value (on %s) belongs to another context",
                    initial->device->name);
  if (name && strlen(name) >= sizeof(((ct_variable *)0)->name))
    return ct_error(CT_INVALID_ARGUMENT, "variable_new: name '%.40s...' is longer than %zu characters", name,
                    sizeof(((ct_variable *)0)->name) - 1);
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  /* Placed like an op (TensorFlow places a variable's handle op so):
   * the scope's device, else the best device for the dtype. */
  ct_device *dev;
  st = ct_place(ctx, CT_OP_IDENTITY, initial->dtype, &initial, 1, &dev);
  if (st != CT_OK) return ct_error_prefix(st, "variable_new");
  ct_variable *v = calloc(1, sizeof *v);
  if (!v) return ct_error(CT_RESOURCE_EXHAUSTED, "variable_new: out of memory");
  ct_tensor *value;
  if (initial->device == dev) {
    value = ct_tensor_retain((ct_tensor *)initial);
  } else {
    /* The copy is the variable's own initialisation, not an op a tape
     * could differentiate. */
    struct ct_tape *tapes = ct_tl_tapes;
    ct_tl_tapes = NULL;
    st = ct_op_run_on(ctx, dev, CT_OP_IDENTITY, initial->dtype, &initial, 1, initial->shape, initial->rank,
                      initial->dtype, NULL, &value);
    ct_tl_tapes = tapes;
    if (st != CT_OK) {
      free(v);
      return ct_error_prefix(st, "variable_new");
    }
  }
  atomic_init(&v->refcount, 1);
  v->ctx = ctx;
  v->device = dev;
  pthread_mutex_init(&v->lock, NULL);
  v->value = value;
  v->dtype = initial->dtype;
  v->rank = initial->rank;
  memcpy(v->shape, initial->shape, sizeof(int64_t) * (size_t)initial->rank);
  v->trainable = trainable;
  snprintf(v->name, sizeof v->name, "%s", name && name[0] ? name : "Variable");
  ct_context_retain(ctx);
  *out = v;
  return CT_OK;
}

ct_variable *ct_variable_retain(ct_variable *v) {
  if (v) atomic_fetch_add_explicit(&v->refcount, 1, memory_order_relaxed);
  return v;
}

void ct_variable_release(ct_variable *v) {
  if (v == NULL) return;
  if (atomic_fetch_sub_explicit(&v->refcount, 1, memory_order_acq_rel) != 1) return;
  ct_context *ctx = v->ctx;
  ct_tensor_release(v->value);
  pthread_mutex_destroy(&v->lock);
  free(v);
  ct_context_release(ctx);
}

ct_status ct_variable_read(ct_variable *v, ct_tensor **out) {
  if (v == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "variable_read: NULL %s", v ? "out" : "variable");
  pthread_mutex_lock(&v->lock);
  ct_tensor *value = ct_tensor_retain(v->value);
  pthread_mutex_unlock(&v->lock);
  if (ct_tl_tapes == NULL) {
    *out = value;
    return CT_OK;
  }
  /* Under a tape every read is a tensor of its own, as each
   * ReadVariableOp is in TensorFlow: the tape connects exactly the reads
   * it saw to the variable. */
  ct_tensor *t;
  ct_status st = ct_tensor_view(value, value->shape, value->rank, &t);
  ct_tensor_release(value);
  if (st != CT_OK) return st;
  st = ct_tape_note_read(v, t);
  if (st != CT_OK) {
    ct_tensor_release(t);
    return ct_error_prefix(st, "variable_read '%s'", v->name);
  }
  *out = t;
  return CT_OK;
}

static ct_status check_value(const ct_variable *v, const ct_tensor *value, const char *what) {
  if (v == NULL || value == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", what, v ? "value" : "variable");
  if (ct_tensor_context(value) != v->ctx)
    return ct_error(CT_INVALID_ARGUMENT, "%s: the value (on %s) belongs to another context than variable '%s'", what,
                    value->device->name, v->name);
  bool same = value->dtype == v->dtype && value->rank == v->rank;
  for (int i = 0; same && i < v->rank; i++) same = value->shape[i] == v->shape[i];
  if (!same) {
    char sv[CT_SHAPE_STR_MAX], sx[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT,
                    "%s: cannot update variable '%s' of dtype %s and shape %s with a value of dtype %s and shape %s", what,
                    v->name, ct_dtype_name(v->dtype), ct_shape_str(v->shape, v->rank, sv, sizeof sv),
                    ct_dtype_name(value->dtype), ct_shape_str(value->shape, value->rank, sx, sizeof sx));
  }
  if (strcmp(what, "variable_assign") != 0 && v->dtype == CT_BOOL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: variable '%s' is bool; only assign applies to it", what, v->name);
  return CT_OK;
}

/* The new value of an assign, on the variable's device. */
static ct_status assigned_value(ct_variable *v, const ct_tensor *value, ct_tensor **out) {
  if (value->device == v->device) {
    *out = ct_tensor_retain((ct_tensor *)value);
    return CT_OK;
  }
  ct_tensor *moved = NULL;
  ct_status st = ct_op_move_input(v->ctx, CT_OP_IDENTITY, 1, value, v->device, &moved);
  if (st != CT_OK) return st;
  if (moved && moved->device == v->device) {
    *out = moved;
    return CT_OK;
  }
  /* Bytes already where they belong (logical devices of one host); the
   * value still has to say it is the variable's device's. */
  const ct_tensor *src = moved ? moved : value;
  st = ct_op_run_on(v->ctx, v->device, CT_OP_IDENTITY, v->dtype, &src, 1, v->shape, v->rank, v->dtype, NULL, out);
  ct_tensor_release(moved);
  return st;
}

/* Runs op on v's device with inputs {v's value, args[0..n_args)} (for
 * CT_OP_IDENTITY: the assign of args[0]) and swaps the result in. The lock
 * is held across the op so that two threads' assign_adds both count, as
 * TensorFlow's resource lock makes them; no tape records it (an update is
 * not differentiable). */
#define SWAP_MAX_INPUTS 8 /* the value, a gradient and up to three slots */
static ct_status swap_in(ct_variable *v, ct_op op, const ct_tensor *const *args, int n_args, const void *attrs) {
  if (n_args + 1 > SWAP_MAX_INPUTS)
    return ct_error(CT_INTERNAL, "%s: %d inputs to a variable update, at most %d supported", ct_op_name(op),
                    n_args + 1, SWAP_MAX_INPUTS);
  struct ct_tape *tapes = ct_tl_tapes;
  ct_tl_tapes = NULL;
  pthread_mutex_lock(&v->lock);
  ct_tensor *next = NULL;
  ct_status st;
  if (op == CT_OP_IDENTITY) {
    st = assigned_value(v, args[0], &next);
  } else {
    const ct_tensor *in[SWAP_MAX_INPUTS];
    in[0] = v->value;
    for (int i = 0; i < n_args; i++) in[i + 1] = args[i];
    st = ct_op_run_on(v->ctx, v->device, op, v->dtype, in, n_args + 1, v->shape, v->rank, v->dtype, attrs, &next);
  }
  if (st == CT_OK) {
    ct_tensor *old = v->value;
    v->value = next;
    ct_tensor_release(old);
  }
  pthread_mutex_unlock(&v->lock);
  ct_tl_tapes = tapes;
  return st;
}

/* op: CT_OP_IDENTITY (assign), CT_OP_ADD or CT_OP_SUB. */
static ct_status update(ct_variable *v, ct_op op, const ct_tensor *value, const char *what) {
  ct_status st = check_value(v, value, what);
  if (st != CT_OK) return st;
  st = swap_in(v, op, &value, 1, NULL);
  if (st != CT_OK) return ct_error_prefix(st, "%s '%s'", what, v->name);
  return CT_OK;
}

ct_status ct_variable_apply(ct_variable *v, ct_op op, const ct_tensor *const *args, int n_args, const void *attrs) {
  return swap_in(v, op, args, n_args, attrs);
}

ct_status ct_variable_assign(ct_variable *v, const ct_tensor *value) {
  return update(v, CT_OP_IDENTITY, value, "variable_assign");
}
ct_status ct_variable_assign_add(ct_variable *v, const ct_tensor *delta) {
  return update(v, CT_OP_ADD, delta, "variable_assign_add");
}
ct_status ct_variable_assign_sub(ct_variable *v, const ct_tensor *delta) {
  return update(v, CT_OP_SUB, delta, "variable_assign_sub");
}

const char *ct_variable_device(const ct_variable *v) { return v ? v->device->name : ""; }
ct_dtype ct_variable_dtype(const ct_variable *v) { return v ? v->dtype : CT_FLOAT32; }
int ct_variable_rank(const ct_variable *v) { return v ? v->rank : 0; }
const int64_t *ct_variable_shape(const ct_variable *v) { return v ? v->shape : NULL; }
const char *ct_variable_name(const ct_variable *v) { return v ? v->name : ""; }
bool ct_variable_trainable(const ct_variable *v) { return v && v->trainable; }
