/*
 * Optimizers: Keras 3's SGD (with momentum and Nesterov) and Adam (with
 * AMSGrad), one fused op per variable update.
 *
 * A step checks every pair first (dtypes, shapes, contexts, that the
 * variable's device has the kernel, and moves each gradient to its
 * variable's device by the thread's device policy), then makes the slots
 * that are missing, and only then updates: a bad argument changes nothing.
 * Each update is one op (ResourceApplyGradientDescent, ...KerasMomentum,
 * ...Adam) run on the variable's device through dispatch, so it is logged,
 * counted and strict like any op: its output is the variable's new value,
 * swapped in under the variable's lock (ct_variable_apply), and the kernel
 * updates the optimizer's slot tensors in place. Slots never leave the
 * optimizer (ct_optimizer_get_slot copies), so updating them in place
 * breaks no "a tensor already read never changes" promise.
 *
 * Slots live on their variable's device, made of zeros on its first update
 * (Keras builds them on the first apply); the optimizer holds a reference
 * to every variable it has slots for, so a slot is never matched to a new
 * variable at a freed one's address.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/internal.h"

#define MAX_SLOTS 3

typedef enum opt_kind { OPT_SGD, OPT_ADAM } opt_kind;

typedef struct slot_entry {
  ct_variable *var; /* a reference */
  ct_tensor *slot[MAX_SLOTS];
} slot_entry;

struct ct_optimizer {
  ct_context *ctx;
  opt_kind kind;
  pthread_mutex_t lock; /* everything below: a step is atomic to other calls */
  double lr, momentum, beta_1, beta_2, epsilon;
  bool nesterov, amsgrad;
  int64_t iterations;
  slot_entry *entries;
  int n_entries, cap_entries;
};

static const char *const sgd_slots[] = {"momentum"};
static const char *const adam_slots[] = {"m", "v", "vhat"};

static int slot_count(const ct_optimizer *opt) {
  if (opt->kind == OPT_SGD) return opt->momentum != 0 ? 1 : 0;
  return opt->amsgrad ? 3 : 2;
}

static const char *kind_name(const ct_optimizer *opt) { return opt->kind == OPT_SGD ? "SGD" : "Adam"; }

static ct_op update_op(const ct_optimizer *opt) {
  if (opt->kind == OPT_ADAM) return CT_OP_APPLY_ADAM;
  return opt->momentum != 0 ? CT_OP_APPLY_MOMENTUM : CT_OP_APPLY_GRADIENT_DESCENT;
}

/* ---- construction ------------------------------------------------------------- */

static ct_status check_learning_rate(const char *what, double lr) {
  if (!isfinite(lr) || lr < 0)
    return ct_error(CT_INVALID_ARGUMENT, "%s: learning_rate must be a finite number >= 0, got %g", what, lr);
  return CT_OK;
}

static ct_status make(ct_context *ctx, opt_kind kind, const char *what, ct_optimizer **out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s", what, ctx ? "out" : "context");
  ct_status st = ct_context_ensure(ctx);
  if (st != CT_OK) return st;
  ct_optimizer *opt = calloc(1, sizeof *opt);
  if (opt == NULL) return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of memory", what);
  opt->ctx = ctx;
  opt->kind = kind;
  pthread_mutex_init(&opt->lock, NULL);
  ct_context_retain(ctx);
  *out = opt;
  return CT_OK;
}

ct_status ct_optimizer_sgd_new(ct_context *ctx, double learning_rate, double momentum, bool nesterov,
                               ct_optimizer **out) {
  const char *what = "optimizer_sgd_new";
  ct_status st = check_learning_rate(what, learning_rate);
  if (st != CT_OK) return st;
  /* Keras's own check, and its words */
  if (!(momentum >= 0 && momentum <= 1))
    return ct_error(CT_INVALID_ARGUMENT, "%s: `momentum` must be a float between [0, 1], got %g", what, momentum);
  st = make(ctx, OPT_SGD, what, out);
  if (st != CT_OK) return st;
  (*out)->lr = learning_rate;
  (*out)->momentum = momentum;
  (*out)->nesterov = nesterov;
  return CT_OK;
}

ct_status ct_optimizer_adam_new(ct_context *ctx, double learning_rate, double beta_1, double beta_2, double epsilon,
                                bool amsgrad, ct_optimizer **out) {
  const char *what = "optimizer_adam_new";
  ct_status st = check_learning_rate(what, learning_rate);
  if (st != CT_OK) return st;
  /* Keras checks none of these; each value refused here makes every
   * update NaN or infinite (beta_1 = 1 divides by zero at every step). */
  if (!(beta_1 >= 0 && beta_1 < 1))
    return ct_error(CT_INVALID_ARGUMENT, "%s: beta_1 must be in [0, 1), got %g", what, beta_1);
  if (!(beta_2 >= 0 && beta_2 < 1))
    return ct_error(CT_INVALID_ARGUMENT, "%s: beta_2 must be in [0, 1), got %g", what, beta_2);
  if (!isfinite(epsilon) || epsilon < 0)
    return ct_error(CT_INVALID_ARGUMENT, "%s: epsilon must be a finite number >= 0, got %g", what, epsilon);
  st = make(ctx, OPT_ADAM, what, out);
  if (st != CT_OK) return st;
  (*out)->lr = learning_rate;
  (*out)->beta_1 = beta_1;
  (*out)->beta_2 = beta_2;
  (*out)->epsilon = epsilon;
  (*out)->amsgrad = amsgrad;
  return CT_OK;
}

static void entry_clear(slot_entry *e) {
  for (int s = 0; s < MAX_SLOTS; s++) ct_tensor_release(e->slot[s]);
  ct_variable_release(e->var);
}

void ct_optimizer_free(ct_optimizer *opt) {
  if (opt == NULL) return;
  for (int i = 0; i < opt->n_entries; i++) entry_clear(&opt->entries[i]);
  free(opt->entries);
  pthread_mutex_destroy(&opt->lock);
  ct_context *ctx = opt->ctx;
  free(opt);
  ct_context_release(ctx);
}

int64_t ct_optimizer_iterations(const ct_optimizer *opt) {
  if (opt == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&opt->lock);
  int64_t n = opt->iterations;
  pthread_mutex_unlock((pthread_mutex_t *)&opt->lock);
  return n;
}

double ct_optimizer_learning_rate(const ct_optimizer *opt) {
  if (opt == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&opt->lock);
  double lr = opt->lr;
  pthread_mutex_unlock((pthread_mutex_t *)&opt->lock);
  return lr;
}

ct_status ct_optimizer_set_learning_rate(ct_optimizer *opt, double learning_rate) {
  if (opt == NULL) return ct_error(CT_INVALID_ARGUMENT, "optimizer_set_learning_rate: NULL optimizer");
  ct_status st = check_learning_rate("optimizer_set_learning_rate", learning_rate);
  if (st != CT_OK) return st;
  pthread_mutex_lock(&opt->lock);
  opt->lr = learning_rate;
  pthread_mutex_unlock(&opt->lock);
  return CT_OK;
}

/* ---- slots ---------------------------------------------------------------------- */

/* The entry of v, or NULL; `hint` is where it probably is (a training loop
 * passes its variables in the same order every step). */
static slot_entry *find_entry(ct_optimizer *opt, const ct_variable *v, int hint) {
  if (hint >= 0 && hint < opt->n_entries && opt->entries[hint].var == v) return &opt->entries[hint];
  for (int i = 0; i < opt->n_entries; i++)
    if (opt->entries[i].var == v) return &opt->entries[i];
  return NULL;
}

/* Appends v's entry with zero slots on v's device. */
static ct_status add_entry(ct_optimizer *opt, ct_variable *v) {
  if (opt->n_entries == opt->cap_entries) {
    int cap = opt->cap_entries ? 2 * opt->cap_entries : 16;
    slot_entry *grown = realloc(opt->entries, (size_t)cap * sizeof *grown);
    if (grown == NULL) return ct_error(CT_RESOURCE_EXHAUSTED, "out of memory for the slots of variable '%s'", v->name);
    opt->entries = grown;
    opt->cap_entries = cap;
  }
  slot_entry e;
  memset(&e, 0, sizeof e);
  ct_fill_attrs zero = {0};
  ct_status st = CT_OK;
  for (int s = 0; s < slot_count(opt) && st == CT_OK; s++)
    st = ct_op_run_on(opt->ctx, v->device, CT_OP_FILL, v->dtype, NULL, 0, v->shape, v->rank, v->dtype, &zero,
                      &e.slot[s]);
  if (st != CT_OK) {
    for (int s = 0; s < MAX_SLOTS; s++) ct_tensor_release(e.slot[s]);
    return ct_error_prefix(st, "making the slots of variable '%s'", v->name);
  }
  e.var = ct_variable_retain(v);
  opt->entries[opt->n_entries++] = e;
  return CT_OK;
}

ct_status ct_optimizer_get_slot(ct_optimizer *opt, ct_variable *v, const char *slot, ct_tensor **out) {
  if (opt == NULL || v == NULL || slot == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "optimizer_get_slot: NULL %s",
                    opt == NULL ? "optimizer" : v == NULL ? "variable" : slot == NULL ? "slot name" : "out");
  const char *const *names = opt->kind == OPT_SGD ? sgd_slots : adam_slots;
  int n = slot_count(opt), k = -1;
  for (int s = 0; s < n; s++)
    if (strcmp(slot, names[s]) == 0) k = s;
  if (k < 0) {
    if (n == 0)
      return ct_error(CT_INVALID_ARGUMENT, "optimizer_get_slot: SGD without momentum has no slots (asked for '%.40s')",
                      slot);
    return ct_error(CT_INVALID_ARGUMENT, "optimizer_get_slot: %s%s has no slot '%.40s' (its slots: %s%s%s%s%s)",
                    kind_name(opt), opt->kind == OPT_ADAM && !opt->amsgrad ? " without amsgrad" : "", slot, names[0],
                    n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "", n > 2 ? names[2] : "");
  }
  pthread_mutex_lock(&opt->lock);
  slot_entry *e = find_entry(opt, v, -1);
  ct_status st;
  if (e == NULL) {
    st = ct_error(CT_NOT_FOUND,
                  "optimizer_get_slot: the optimizer has no slots for variable '%s' (slots are made on a "
                  "variable's first update)",
                  v->name);
  } else {
    /* a copy: the optimizer updates its own in place */
    const ct_tensor *src = e->slot[k];
    struct ct_tape *tapes = ct_tl_tapes;
    ct_tl_tapes = NULL;
    st = ct_op_run_on(opt->ctx, v->device, CT_OP_IDENTITY, src->dtype, &src, 1, src->shape, src->rank, src->dtype,
                      NULL, out);
    ct_tl_tapes = tapes;
    if (st != CT_OK) st = ct_error_prefix(st, "optimizer_get_slot '%s' of variable '%s'", slot, v->name);
  }
  pthread_mutex_unlock(&opt->lock);
  return st;
}

/* ---- a step --------------------------------------------------------------------------- */

/* Everything about pair i that can be known before anything changes. */
static ct_status check_pair(ct_optimizer *opt, ct_op op, int i, ct_variable *v, const ct_tensor *g) {
  const char *what = "optimizer_apply_gradients";
  if (v == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: variable #%d is NULL", what, i);
  if (v->ctx != opt->ctx)
    return ct_error(CT_INVALID_ARGUMENT, "%s: variable '%s' (#%d) belongs to another context than the optimizer",
                    what, v->name, i);
  if (g == NULL) return CT_OK;
  if (ct_tensor_context(g) != opt->ctx)
    return ct_error(CT_INVALID_ARGUMENT, "%s: the gradient of variable '%s' (#%d, on %s) belongs to another context",
                    what, v->name, i, g->device->name);
  if (!ct_dtype_is_float(v->dtype))
    return ct_error(CT_INVALID_ARGUMENT, "%s: variable '%s' (#%d) has dtype %s; %s updates float variables only", what,
                    v->name, i, ct_dtype_name(v->dtype), kind_name(opt));
  bool same = g->dtype == v->dtype && g->rank == v->rank;
  for (int d = 0; same && d < v->rank; d++) same = g->shape[d] == v->shape[d];
  if (!same) {
    char sv[CT_SHAPE_STR_MAX], sg[CT_SHAPE_STR_MAX];
    return ct_error(CT_INVALID_ARGUMENT,
                    "%s: the gradient of variable '%s' (#%d) has dtype %s and shape %s; the variable has dtype %s and "
                    "shape %s",
                    what, v->name, i, ct_dtype_name(g->dtype), ct_shape_str(g->shape, g->rank, sg, sizeof sg),
                    ct_dtype_name(v->dtype), ct_shape_str(v->shape, v->rank, sv, sizeof sv));
  }
  if (ct_registry_find(&opt->ctx->registry, op, v->device->type, v->dtype) == NULL)
    return ct_error_prefix(ct_no_kernel_error(opt->ctx, op, v->dtype, v->device), "%s: variable '%s' (#%d)", what,
                           v->name, i);
  return CT_OK;
}

/* Warns, once per list of names, that some variables got no gradient
 * (Keras's warning). */
static void warn_missing(ct_optimizer *opt, ct_variable *const *vars, const ct_tensor *const *grads, int n) {
  char names[512];
  size_t len = 0;
  names[0] = '\0';
  for (int i = 0; i < n && len < sizeof names; i++)
    if (grads[i] == NULL)
      len += (size_t)snprintf(names + len, sizeof names - len, "%s'%s'", len ? ", " : "", vars[i]->name);
  char key[600];
  snprintf(key, sizeof key, "optimizer-no-gradient|%s", names);
  ct_logf_once(opt->ctx, key, CT_LOG_WARNING,
               "Gradients do not exist for variables [%s] when minimizing the loss; they are not updated", names);
}

ct_status ct_optimizer_apply_gradients(ct_optimizer *opt, ct_variable *const *vars, const ct_tensor *const *grads,
                                       int n) {
  const char *what = "optimizer_apply_gradients";
  if (opt == NULL) return ct_error(CT_INVALID_ARGUMENT, "%s: NULL optimizer", what);
  if (n < 0) return ct_error(CT_INVALID_ARGUMENT, "%s: negative count %d", what, n);
  if (n == 0) return CT_OK; /* Keras: an empty list is a no-op */
  if (vars == NULL || grads == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "%s: NULL %s array with n = %d", what, vars ? "gradient" : "variable", n);
  /* gradients moved to their variable's device, when they had to be */
  ct_tensor *small_moved[16], **moved = small_moved;
  if (n > 16) {
    moved = calloc((size_t)n, sizeof *moved);
    if (moved == NULL) return ct_error(CT_RESOURCE_EXHAUSTED, "%s: out of memory for %d pairs", what, n);
  } else {
    memset(small_moved, 0, sizeof small_moved);
  }
  pthread_mutex_lock(&opt->lock);
  const ct_op op = update_op(opt);
  const int ns = slot_count(opt);
  const int entries_before = opt->n_entries;
  ct_status st = CT_OK;
  int n_grads = 0;

  /* 1. check every pair, and move gradients by the device policy */
  for (int i = 0; i < n && st == CT_OK; i++) {
    st = check_pair(opt, op, i, vars[i], grads[i]);
    if (st != CT_OK || grads[i] == NULL) continue;
    n_grads++;
    if (grads[i]->device != vars[i]->device) {
      st = ct_op_move_input(opt->ctx, op, 1, grads[i], vars[i]->device, &moved[i]);
      if (st != CT_OK) st = ct_error_prefix(st, "%s: variable '%s'", what, vars[i]->name);
    }
  }
  if (st == CT_OK && n_grads == 0) st = ct_error(CT_INVALID_ARGUMENT, "%s: No gradients provided for any variable.", what);

  /* 2. the missing slots */
  for (int i = 0; i < n && st == CT_OK && ns > 0; i++)
    if (grads[i] && find_entry(opt, vars[i], i) == NULL) {
      st = add_entry(opt, vars[i]);
      if (st != CT_OK) st = ct_error_prefix(st, "%s", what);
    }
  if (st != CT_OK) {
    while (opt->n_entries > entries_before) entry_clear(&opt->entries[--opt->n_entries]);
  } else if (n_grads < n) {
    warn_missing(opt, vars, grads, n);
  }

  /* 3. the updates */
  ct_apply_attrs at = {opt->lr, opt->momentum, 1 - opt->beta_1, 1 - opt->beta_2, opt->epsilon, opt->nesterov,
                       opt->amsgrad};
  if (opt->kind == OPT_ADAM) {
    /* Keras's beta powers start from float32 betas (its ops.cast(beta, dtype)
     * makes a float32 tensor of the Python float first): 1 - 0.999f^t
     * differs from 1 - 0.999^t by 1.3e-5 relative, which would move every
     * step by 6e-6 relative (sqrt). The (1 - beta) factors of m and v are
     * Python-float arithmetic in Keras, so they stay in double. */
    const double t = (double)(opt->iterations + 1);
    at.lr = opt->lr * sqrt(1 - pow((double)(float)opt->beta_2, t)) / (1 - pow((double)(float)opt->beta_1, t));
  }
  for (int i = 0; i < n && st == CT_OK; i++) {
    if (grads[i] == NULL) continue;
    const ct_tensor *args[1 + MAX_SLOTS] = {moved[i] ? moved[i] : grads[i]};
    if (ns > 0) {
      slot_entry *e = find_entry(opt, vars[i], i);
      for (int s = 0; s < ns; s++) args[1 + s] = e->slot[s];
    }
    st = ct_variable_apply(vars[i], op, args, 1 + ns, &at);
    if (st != CT_OK) st = ct_error_prefix(st, "%s: variable '%s'", what, vars[i]->name);
  }
  if (st == CT_OK) opt->iterations++;
  pthread_mutex_unlock(&opt->lock);
  for (int i = 0; i < n; i++) ct_tensor_release(moved[i]);
  if (moved != small_moved) free(moved);
  return st;
}
