/*
 * Gradient tapes: recording and the backward pass.
 *
 * Recording. A tape lives on the thread that made it, linked into that
 * thread's ct_tl_tapes list while it records; dispatch offers every op
 * that ran to the list (one thread-local load when it is empty). A tape
 * records an op when one of its inputs is "tracked": watched, or produced
 * by an op the tape recorded. Tensors are told apart by a tape id handed
 * out the first time a tape sees them, never by address: a freed tensor's
 * address comes back for the next one.
 *
 * Backward. Records are in execution order, so walking them backwards
 * visits every op after all the ops that consumed its outputs: each op's
 * output gradients are complete when it is reached. Its gradient function
 * runs under a device scope naming the device the forward op ran on, which
 * is how gradient ops are placed like TensorFlow's; the tape being
 * differentiated records nothing meanwhile, the thread's other tapes
 * record the gradient ops (higher orders).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/internal.h"

_Thread_local struct ct_tape *ct_tl_tapes CT_TLS_FAST;

/* Open-addressing set of tape ids (0 marks an empty slot). */
typedef struct id_set {
  uint64_t *slot;
  size_t cap, n;
} id_set;

typedef struct var_read {
  int var; /* index into tape->vars */
  uint64_t id;
} var_read;

struct ct_tape {
  ct_context *ctx;
  pthread_t owner;
  bool persistent, watch_accessed;
  bool linked;    /* in the owner's ct_tl_tapes: recording */
  bool computing; /* inside ct_tape_gradient: records nothing */
  bool used;      /* a non-persistent tape has answered */
  _Atomic bool orphaned; /* freed from another thread while linked */
  struct ct_tape *next;

  id_set tracked;
  ct_tape_op *ops;
  int64_t n_ops, cap_ops;
  int64_t held; /* tensors held by the records */
  ct_variable **vars;
  int n_vars, cap_vars;
  var_read *reads;
  int n_reads, cap_reads;
};

/* ---- ids and sets ---------------------------------------------------------- */

static uint64_t tensor_id(ct_context *ctx, const ct_tensor *t) {
  ct_tensor *m = (ct_tensor *)t; /* the id is bookkeeping, not the value */
  uint64_t id = atomic_load_explicit(&m->tape_id, memory_order_acquire);
  if (id) return id;
  uint64_t fresh = atomic_fetch_add_explicit(&ctx->next_tape_id, 1, memory_order_relaxed) + 1;
  if (atomic_compare_exchange_strong(&m->tape_id, &id, fresh)) return fresh;
  return id; /* another thread named it first */
}

static size_t id_hash(uint64_t id, size_t cap) { return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1); }

static bool set_has(const id_set *s, uint64_t id) {
  if (id == 0 || s->n == 0) return false;
  for (size_t i = id_hash(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
    if (s->slot[i] == id) return true;
    if (s->slot[i] == 0) return false;
  }
}

static ct_status set_add(id_set *s, uint64_t id) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return ct_error(CT_RESOURCE_EXHAUSTED, "gradient tape: out of memory tracking %zu tensors", s->n + 1);
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slot[i]) continue;
      size_t j = id_hash(s->slot[i], cap);
      while (slot[j]) j = (j + 1) & (cap - 1);
      slot[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
  }
  size_t i = id_hash(id, s->cap);
  while (s->slot[i] && s->slot[i] != id) i = (i + 1) & (s->cap - 1);
  if (!s->slot[i]) {
    s->slot[i] = id;
    s->n++;
  }
  return CT_OK;
}

static void set_clear(id_set *s) {
  free(s->slot);
  memset(s, 0, sizeof *s);
}

static ct_status grow(void **arr, int64_t *cap, int64_t need, size_t elem, const char *what) {
  if (need <= *cap) return CT_OK;
  int64_t ncap = *cap ? *cap * 2 : 16;
  while (ncap < need) ncap *= 2;
  void *p = realloc(*arr, (size_t)ncap * elem);
  if (!p) return ct_error(CT_RESOURCE_EXHAUSTED, "gradient tape: out of memory for %lld %s", (long long)need, what);
  *arr = p;
  *cap = ncap;
  return CT_OK;
}

/* ---- the thread's list ---------------------------------------------------- */

static void unlink_tape(ct_tape *tape) {
  for (ct_tape **p = &ct_tl_tapes; *p; p = &(*p)->next)
    if (*p == tape) {
      *p = tape->next;
      break;
    }
  tape->next = NULL;
  tape->linked = false;
}

static void free_records(ct_tape *tape) {
  for (int64_t k = 0; k < tape->n_ops; k++) {
    ct_tape_op *o = &tape->ops[k];
    if (o->saved_in)
      for (int i = 0; i < o->n_in; i++) ct_tensor_release(o->saved_in[i]);
    for (int i = 0; i < CT_TAPE_MAX_OUT; i++) ct_tensor_release(o->saved_out[i]);
    free(o->saved_in);
    free(o->in);
  }
  free(tape->ops);
  tape->ops = NULL;
  tape->n_ops = tape->cap_ops = 0;
  tape->held = 0;
}

static void forget_all(ct_tape *tape) {
  free_records(tape);
  set_clear(&tape->tracked);
  for (int i = 0; i < tape->n_vars; i++) ct_variable_release(tape->vars[i]);
  free(tape->vars);
  free(tape->reads);
  tape->vars = NULL;
  tape->reads = NULL;
  tape->n_vars = tape->cap_vars = tape->n_reads = tape->cap_reads = 0;
}

static void destroy(ct_tape *tape) {
  forget_all(tape);
  ct_context *ctx = tape->ctx;
  free(tape);
  ct_context_release(ctx);
}

/* Tapes freed from another thread while recording are unlinked and freed
 * here, by their own thread. */
static void prune_orphans(void) {
  ct_tape **p = &ct_tl_tapes;
  while (*p) {
    ct_tape *t = *p;
    if (atomic_load_explicit(&t->orphaned, memory_order_acquire)) {
      *p = t->next;
      destroy(t);
    } else {
      p = &t->next;
    }
  }
}

/* ---- recording ------------------------------------------------------------ */

static void meta_of(ct_tape_meta *m, const ct_tensor *t, uint64_t id) {
  m->id = id;
  m->dtype = t->dtype;
  m->rank = t->rank;
  memcpy(m->shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
}

static ct_status record(ct_tape *tape, const ct_grad_entry *g, ct_device *dev, ct_op op, const ct_tensor *const *in,
                        int n_in, ct_tensor *out, const void *attrs) {
  ct_status st = grow((void **)&tape->ops, &tape->cap_ops, tape->n_ops + 1, sizeof(ct_tape_op), "recorded ops");
  if (st != CT_OK) return st;
  ct_tape_op *o = &tape->ops[tape->n_ops];
  memset(o, 0, sizeof *o);
  o->op = op;
  o->device = dev;
  o->n_in = n_in;
  o->in = calloc((size_t)(n_in ? n_in : 1), sizeof *o->in);
  bool save_any_in = (g->save & (CT_SAVE_IN(0) | CT_SAVE_IN(1) | CT_SAVE_IN(2))) != 0;
  if (save_any_in) o->saved_in = calloc((size_t)n_in, sizeof *o->saved_in);
  if (!o->in || (save_any_in && !o->saved_in)) {
    free(o->in);
    free(o->saved_in);
    return ct_error(CT_RESOURCE_EXHAUSTED, "gradient tape: out of memory recording %s", ct_op_name(op));
  }
  uint64_t out_id = tensor_id(tape->ctx, out);
  st = set_add(&tape->tracked, out_id);
  /* The xent ops' second output (backprop) is tracked like the first: their
   * gradient multiplies by it, so an outer tape differentiating that
   * gradient (second order), or a user consuming backprop, sends a
   * gradient back through it (grad_xent's dy[1]). */
  uint64_t aux_id = 0;
  if (st == CT_OK && (g->save & CT_SAVE_AUX) && attrs) {
    aux_id = tensor_id(tape->ctx, ((const ct_xent_attrs *)attrs)->backprop);
    st = set_add(&tape->tracked, aux_id);
  }
  if (st != CT_OK) {
    free(o->in);
    free(o->saved_in);
    return st;
  }
  for (int i = 0; i < n_in; i++) {
    meta_of(&o->in[i], in[i], atomic_load_explicit(&((ct_tensor *)in[i])->tape_id, memory_order_acquire));
    if (i < 3 && (g->save & CT_SAVE_IN(i))) {
      o->saved_in[i] = ct_tensor_retain((ct_tensor *)in[i]);
      tape->held++;
    }
  }
  o->n_out = 1;
  meta_of(&o->out[0], out, out_id);
  if (g->save & CT_SAVE_OUT) {
    o->saved_out[0] = ct_tensor_retain(out);
    tape->held++;
  }
  if ((g->save & CT_SAVE_AUX) && attrs) {
    ct_tensor *bp = ((const ct_xent_attrs *)attrs)->backprop;
    o->n_out = 2;
    meta_of(&o->out[1], bp, aux_id);
    o->saved_out[1] = ct_tensor_retain(bp);
    tape->held++;
  }
  if (attrs && g->attrs_size) memcpy(&o->attrs, attrs, g->attrs_size);
  tape->n_ops++;
  return CT_OK;
}

ct_status ct_tape_record_op(ct_context *ctx, ct_device *dev, ct_op op, const ct_tensor *const *in, int n_in,
                            ct_tensor *out, const void *attrs) {
  prune_orphans();
  const ct_grad_entry *g = ct_grad_entry_for(op);
  if (g == NULL || !ct_dtype_is_float(out->dtype)) return CT_OK; /* nothing can flow back through it */
  for (ct_tape *tape = ct_tl_tapes; tape; tape = tape->next) {
    if (tape->ctx != ctx || tape->computing) continue;
    bool watched = false;
    for (int i = 0; i < n_in && !watched; i++)
      watched = set_has(&tape->tracked, atomic_load_explicit(&((ct_tensor *)in[i])->tape_id, memory_order_acquire));
    if (!watched) continue;
    ct_status st = record(tape, g, dev, op, in, n_in, out, attrs);
    if (st != CT_OK) return ct_error_prefix(st, "%s", ct_op_name(op));
  }
  return CT_OK;
}

/* ---- the public tape -------------------------------------------------------- */

/* A tape's records and sets belong to its thread, which writes them as its
 * ops run: any other thread would race with it. */
static ct_status owner_only(const ct_tape *tape, const char *what) {
  if (pthread_equal(tape->owner, pthread_self())) return CT_OK;
  return ct_error(CT_FAILED_PRECONDITION, "%s: a tape records the ops of the thread that made it; call this from that thread",
                  what);
}

ct_status ct_tape_new(ct_context *ctx, bool persistent, bool watch_accessed_variables, ct_tape **out) {
  if (ctx == NULL || out == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_new: NULL %s", ctx ? "out" : "context");
  ct_tape *tape = calloc(1, sizeof *tape);
  if (!tape) return ct_error(CT_RESOURCE_EXHAUSTED, "tape_new: out of memory");
  tape->ctx = ctx;
  tape->owner = pthread_self();
  tape->persistent = persistent;
  tape->watch_accessed = watch_accessed_variables;
  atomic_init(&tape->orphaned, false);
  ct_context_retain(ctx);
  prune_orphans();
  tape->next = ct_tl_tapes;
  ct_tl_tapes = tape;
  tape->linked = true;
  *out = tape;
  return CT_OK;
}

void ct_tape_free(ct_tape *tape) {
  if (tape == NULL) return;
  if (tape->linked) {
    if (!pthread_equal(tape->owner, pthread_self())) {
      /* Only the owner may touch its thread's list: it frees the tape. */
      atomic_store_explicit(&tape->orphaned, true, memory_order_release);
      return;
    }
    unlink_tape(tape);
  }
  destroy(tape);
}

ct_status ct_tape_stop_recording(ct_tape *tape) {
  if (tape == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_stop_recording: NULL tape");
  ct_status st = owner_only(tape, "tape_stop_recording");
  if (st != CT_OK) return st;
  if (tape->linked) unlink_tape(tape);
  return CT_OK;
}

ct_status ct_tape_resume_recording(ct_tape *tape) {
  if (tape == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_resume_recording: NULL tape");
  ct_status st = owner_only(tape, "tape_resume_recording");
  if (st != CT_OK) return st;
  if (!tape->linked) {
    tape->next = ct_tl_tapes;
    ct_tl_tapes = tape;
    tape->linked = true;
  }
  return CT_OK;
}

bool ct_tape_is_recording(const ct_tape *tape) { return tape && tape->linked; }

ct_status ct_tape_reset(ct_tape *tape) {
  if (tape == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_reset: NULL tape");
  ct_status st = owner_only(tape, "tape_reset");
  if (st != CT_OK) return st;
  if (tape->computing) return ct_error(CT_FAILED_PRECONDITION, "tape_reset: the tape is computing a gradient");
  forget_all(tape);
  tape->used = false;
  return CT_OK;
}

ct_status ct_tape_watch(ct_tape *tape, const ct_tensor *t) {
  if (tape == NULL || t == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_watch: NULL %s", tape ? "tensor" : "tape");
  if (ct_tensor_context(t) != tape->ctx)
    return ct_error(CT_INVALID_ARGUMENT, "tape_watch: the tensor (on %s) belongs to another context than the tape",
                    t->device->name);
  /* TensorFlow ignores non-float tensors here (with a warning): their
   * gradient is None whatever happens. */
  if (!ct_dtype_is_float(t->dtype)) return CT_OK;
  ct_status st = owner_only(tape, "tape_watch");
  if (st != CT_OK) return st;
  return set_add(&tape->tracked, tensor_id(tape->ctx, t));
}

static int var_index(const ct_tape *tape, const ct_variable *v) {
  for (int i = 0; i < tape->n_vars; i++)
    if (tape->vars[i] == v) return i;
  return -1;
}

static ct_status add_var(ct_tape *tape, ct_variable *v, int *index) {
  int i = var_index(tape, v);
  if (i < 0) {
    int64_t cap = tape->cap_vars;
    ct_status st = grow((void **)&tape->vars, &cap, tape->n_vars + 1, sizeof *tape->vars, "watched variables");
    if (st != CT_OK) return st;
    tape->cap_vars = (int)cap;
    i = tape->n_vars++;
    tape->vars[i] = ct_variable_retain(v);
  }
  if (index) *index = i;
  return CT_OK;
}

ct_status ct_tape_watch_variable(ct_tape *tape, ct_variable *v) {
  if (tape == NULL || v == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "tape_watch_variable: NULL %s", tape ? "variable" : "tape");
  if (v->ctx != tape->ctx)
    return ct_error(CT_INVALID_ARGUMENT, "tape_watch_variable: variable '%s' belongs to another context than the tape",
                    v->name);
  ct_status st = owner_only(tape, "tape_watch_variable");
  if (st != CT_OK) return st;
  return add_var(tape, v, NULL);
}

ct_status ct_tape_note_read(ct_variable *v, ct_tensor *t) {
  prune_orphans();
  for (ct_tape *tape = ct_tl_tapes; tape; tape = tape->next) {
    if (tape->ctx != v->ctx || tape->computing) continue;
    int vi = var_index(tape, v);
    if (vi < 0 && !(v->trainable && tape->watch_accessed)) continue;
    ct_status st = vi < 0 ? add_var(tape, v, &vi) : CT_OK;
    if (st != CT_OK) return st;
    if (!ct_dtype_is_float(v->dtype)) continue;
    int64_t cap = tape->cap_reads;
    st = grow((void **)&tape->reads, &cap, tape->n_reads + 1, sizeof *tape->reads, "variable reads");
    if (st != CT_OK) return st;
    tape->cap_reads = (int)cap;
    uint64_t id = tensor_id(tape->ctx, t);
    st = set_add(&tape->tracked, id);
    if (st != CT_OK) return st;
    tape->reads[tape->n_reads++] = (var_read){vi, id};
  }
  return CT_OK;
}

int ct_tape_watched_variable_count(const ct_tape *tape) { return tape ? tape->n_vars : 0; }

ct_status ct_tape_watched_variable_get(const ct_tape *tape, int i, ct_variable **out) {
  if (tape == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "tape_watched_variable_get: NULL %s", tape ? "out" : "tape");
  if (i < 0 || i >= tape->n_vars)
    return ct_error(CT_OUT_OF_RANGE, "tape_watched_variable_get: index %d out of range: the tape watches %d variable%s", i,
                    tape->n_vars, tape->n_vars == 1 ? "" : "s");
  *out = ct_variable_retain(tape->vars[i]);
  return CT_OK;
}

int64_t ct_tape_recorded_op_count(const ct_tape *tape) { return tape ? tape->n_ops : 0; }
int64_t ct_tape_held_tensor_count(const ct_tape *tape) { return tape ? tape->held : 0; }

ct_status ct_stop_gradient(ct_context *ctx, const ct_tensor *x, ct_tensor **out) {
  if (ctx == NULL || x == NULL || out == NULL)
    return ct_error(CT_INVALID_ARGUMENT, "stop_gradient: NULL %s", ctx == NULL ? "context" : x == NULL ? "x" : "out");
  /* A new tensor with a fresh (zero) tape id, offered to no tape. */
  return ct_tensor_view(x, x->shape, x->rank, out);
}

/* ---- the backward pass ----------------------------------------------------- */

/* Gradients accumulated so far, by tape id. */
typedef struct grad_map {
  uint64_t *key;
  ct_tensor **val;
  size_t cap, n;
} grad_map;

static ct_tensor **map_slot(grad_map *m, uint64_t id, bool insert) {
  if (m->cap == 0 && !insert) return NULL;
  if (insert && (m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *key = calloc(cap, sizeof *key);
    ct_tensor **val = calloc(cap, sizeof *val);
    if (!key || !val) {
      free(key);
      free(val);
      return NULL;
    }
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->key[i]) continue;
      size_t j = id_hash(m->key[i], cap);
      while (key[j]) j = (j + 1) & (cap - 1);
      key[j] = m->key[i];
      val[j] = m->val[i];
    }
    free(m->key);
    free(m->val);
    m->key = key;
    m->val = val;
    m->cap = cap;
  }
  for (size_t i = id_hash(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->key[i] == id) return &m->val[i];
    if (m->key[i] == 0) {
      if (!insert) return NULL;
      m->key[i] = id;
      m->val[i] = NULL;
      m->n++;
      return &m->val[i];
    }
  }
}

static ct_tensor *map_get(grad_map *m, uint64_t id) {
  ct_tensor **s = map_slot(m, id, false);
  return s ? *s : NULL;
}

static void map_free(grad_map *m) {
  for (size_t i = 0; i < m->cap; i++) ct_tensor_release(m->val[i]);
  free(m->key);
  free(m->val);
  memset(m, 0, sizeof *m);
}

/* Runs `fn` style work on a device: pushes a scope naming it. */
static ct_status scope_on(ct_context *ctx, const ct_device *dev) { return ct_device_scope_push(ctx, dev->name); }

/* Sums two gradients of one tensor, on the device of the first. */
static ct_status add_on(ct_context *ctx, ct_tensor *a, ct_tensor *b, ct_tensor **out) {
  ct_status st = scope_on(ctx, a->device);
  if (st != CT_OK) return st;
  st = ct_add(ctx, a, b, out);
  ct_device_scope_pop(ctx);
  return st;
}

/* Adds g (consumed) to the gradient of tensor `id`. */
static ct_status accumulate(ct_context *ctx, grad_map *m, uint64_t id, ct_tensor *g) {
  ct_tensor **slot = map_slot(m, id, true);
  if (!slot) {
    ct_tensor_release(g);
    return ct_error(CT_RESOURCE_EXHAUSTED, "gradient: out of memory for the gradient map");
  }
  if (*slot == NULL) {
    *slot = g;
    return CT_OK;
  }
  ct_tensor *sum;
  ct_status st = add_on(ctx, *slot, g, &sum);
  ct_tensor_release(g);
  if (st != CT_OK) return st;
  ct_tensor_release(*slot);
  *slot = sum;
  return CT_OK;
}

static bool same_shape(const ct_tensor *t, const ct_tape_meta *m) {
  if (t->rank != m->rank) return false;
  for (int i = 0; i < m->rank; i++)
    if (t->shape[i] != m->shape[i]) return false;
  return true;
}

/* One recorded op, backwards: its output gradients are complete. */
static ct_status backprop_op(ct_tape *tape, grad_map *m, const id_set *keep, ct_tape_op *o) {
  ct_context *ctx = tape->ctx;
  ct_tensor *dy[CT_TAPE_MAX_OUT] = {NULL, NULL};
  bool any = false;
  for (int k = 0; k < o->n_out; k++) {
    dy[k] = o->out[k].id ? map_get(m, o->out[k].id) : NULL;
    any |= dy[k] != NULL;
  }
  if (!any) return CT_OK;
  const ct_grad_entry *g = ct_grad_entry_for(o->op);
  ct_tensor *dx_small[8] = {NULL};
  ct_tensor **dx = o->n_in <= 8 ? dx_small : calloc((size_t)o->n_in, sizeof *dx);
  if (!dx) return ct_error(CT_RESOURCE_EXHAUSTED, "gradient of %s: out of memory", ct_op_tf_name(o->op));
  /* The gradients dropped below need not be computed at all (a matmul of
   * a constant input batch by a weight: the batch's gradient is one of the
   * layer's three products). */
  o->skip_in = 0;
  for (int i = 0; i < o->n_in && i < 32; i++)
    if (!set_has(&tape->tracked, o->in[i].id) || !ct_dtype_is_float(o->in[i].dtype)) o->skip_in |= 1u << i;
  ct_status st = scope_on(ctx, o->device);
  if (st == CT_OK) {
    st = g->fn(ctx, o, dy, dx);
    ct_device_scope_pop(ctx);
  }
  if (st != CT_OK) {
    st = ct_error_prefix(st, "gradient of %s (its forward op ran on %s)", ct_op_tf_name(o->op), o->device->name);
    for (int i = 0; i < o->n_in; i++) {
      ct_tensor_release(dx[i]);
      dx[i] = NULL;
    }
  }
  for (int i = 0; i < o->n_in && st == CT_OK; i++) {
    ct_tensor *d = dx[i];
    dx[i] = NULL;
    if (d == NULL) continue;
    if (!set_has(&tape->tracked, o->in[i].id) || !ct_dtype_is_float(o->in[i].dtype)) {
      ct_tensor_release(d);
      continue;
    }
    if (!same_shape(d, &o->in[i]) || d->dtype != o->in[i].dtype) {
      char a[CT_SHAPE_STR_MAX], b[CT_SHAPE_STR_MAX];
      st = ct_error(CT_INTERNAL, "gradient of %s: input #%d's gradient is %s %s, the input was %s %s",
                    ct_op_tf_name(o->op), i, ct_dtype_name(d->dtype), ct_shape_str(d->shape, d->rank, a, sizeof a),
                    ct_dtype_name(o->in[i].dtype), ct_shape_str(o->in[i].shape, o->in[i].rank, b, sizeof b));
      ct_tensor_release(d);
      continue;
    }
    st = accumulate(ctx, m, o->in[i].id, d);
  }
  for (int i = 0; i < o->n_in; i++) ct_tensor_release(dx[i]);
  if (dx != dx_small) free(dx);
  /* The outputs' gradients are spent, unless a source asks for them. */
  for (int k = 0; k < o->n_out && st == CT_OK; k++) {
    if (!o->out[k].id || set_has(keep, o->out[k].id)) continue;
    ct_tensor **slot = map_slot(m, o->out[k].id, false);
    if (slot && *slot) {
      ct_tensor_release(*slot);
      *slot = NULL;
    }
  }
  return st;
}

static ct_status check_args(ct_tape *tape, const ct_tensor *const *targets, int n_targets,
                            const ct_tensor *const *output_gradients, const ct_gradient_source *sources, int n_sources,
                            ct_unconnected_gradients unconnected, ct_tensor **out) {
  if (targets == NULL || out == NULL || (sources == NULL && n_sources > 0))
    return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: NULL %s", targets == NULL ? "targets" : out == NULL ? "out" : "sources");
  if (n_targets < 1) return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: n_targets is %d; at least one target is needed", n_targets);
  if (n_sources < 0) return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: n_sources is %d", n_sources);
  if (unconnected != CT_UNCONNECTED_NONE && unconnected != CT_UNCONNECTED_ZERO)
    return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: unconnected_gradients is %d; expected CT_UNCONNECTED_NONE (0) or CT_UNCONNECTED_ZERO (1)",
                    (int)unconnected);
  for (int i = 0; i < n_targets; i++) {
    const ct_tensor *t = targets[i];
    if (t == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: target #%d is NULL", i);
    if (ct_tensor_context(t) != tape->ctx)
      return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: target #%d belongs to another context than the tape", i);
    const ct_tensor *og = output_gradients ? output_gradients[i] : NULL;
    if (og == NULL) continue;
    if (ct_tensor_context(og) != tape->ctx)
      return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: output_gradients[%d] belongs to another context than the tape", i);
    bool shape_ok = og->rank == t->rank;
    for (int d = 0; shape_ok && d < t->rank; d++) shape_ok = og->shape[d] == t->shape[d];
    if (!shape_ok || og->dtype != t->dtype) {
      char a[CT_SHAPE_STR_MAX], b[CT_SHAPE_STR_MAX];
      return ct_error(CT_INVALID_ARGUMENT,
                      "tape_gradient: output_gradients[%d] is %s %s but target #%d is %s %s: they must match", i,
                      ct_dtype_name(og->dtype), ct_shape_str(og->shape, og->rank, a, sizeof a), i,
                      ct_dtype_name(t->dtype), ct_shape_str(t->shape, t->rank, b, sizeof b));
    }
  }
  for (int i = 0; i < n_sources; i++) {
    const ct_gradient_source *s = &sources[i];
    if ((s->tensor == NULL) == (s->variable == NULL))
      return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: source #%d must name exactly one tensor or one variable (it names %s)",
                      i, s->tensor ? "both" : "neither");
    if (s->tensor && ct_tensor_context(s->tensor) != tape->ctx)
      return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: source #%d belongs to another context than the tape", i);
    if (s->variable && s->variable->ctx != tape->ctx)
      return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: source #%d (variable '%s') belongs to another context than the tape",
                      i, s->variable->name);
  }
  return CT_OK;
}

/* A source's gradient, from the map (NULL: unconnected). */
static ct_status source_grad(ct_tape *tape, grad_map *m, const ct_gradient_source *s, ct_tensor **out) {
  *out = NULL;
  if (s->tensor) {
    uint64_t id = atomic_load_explicit(&((ct_tensor *)s->tensor)->tape_id, memory_order_acquire);
    ct_tensor *g = id ? map_get(m, id) : NULL;
    *out = ct_tensor_retain(g);
    return CT_OK;
  }
  ct_tensor *sum = NULL;
  for (int r = 0; r < tape->n_reads; r++) {
    if (tape->vars[tape->reads[r].var] != s->variable) continue;
    ct_tensor *g = map_get(m, tape->reads[r].id);
    if (!g) continue;
    if (!sum) {
      sum = ct_tensor_retain(g);
      continue;
    }
    ct_tensor *next;
    ct_status st = add_on(tape->ctx, sum, g, &next);
    ct_tensor_release(sum);
    if (st != CT_OK) return st;
    sum = next;
  }
  *out = sum;
  return CT_OK;
}

static ct_status zeros_for(ct_context *ctx, const ct_gradient_source *s, ct_tensor **out) {
  ct_dtype dt;
  int rank;
  const int64_t *shape;
  const ct_device *dev;
  if (s->tensor) {
    dt = s->tensor->dtype, rank = s->tensor->rank, shape = s->tensor->shape, dev = s->tensor->device;
  } else {
    dt = s->variable->dtype, rank = s->variable->rank, shape = s->variable->shape, dev = s->variable->device;
  }
  ct_status st = scope_on(ctx, dev);
  if (st != CT_OK) return st;
  st = ct_fill(ctx, dt, shape, rank, 0.0, out);
  ct_device_scope_pop(ctx);
  return st;
}

static ct_status run_backward(ct_tape *tape, const ct_tensor *const *targets, int n_targets,
                              const ct_tensor *const *output_gradients, const ct_gradient_source *sources,
                              int n_sources, ct_unconnected_gradients unconnected, ct_tensor **out) {
  ct_context *ctx = tape->ctx;
  grad_map m = {0};
  id_set keep = {0};
  ct_status st = CT_OK;
  /* Gradients the sources will read are kept through the walk. */
  for (int i = 0; i < n_sources && st == CT_OK; i++) {
    if (sources[i].tensor) {
      uint64_t id = atomic_load_explicit(&((ct_tensor *)sources[i].tensor)->tape_id, memory_order_acquire);
      if (id) st = set_add(&keep, id);
    } else {
      for (int r = 0; r < tape->n_reads && st == CT_OK; r++)
        if (tape->vars[tape->reads[r].var] == sources[i].variable) st = set_add(&keep, tape->reads[r].id);
    }
  }
  /* Seeds: a target counts as the sum of its elements (ones), unless an
   * output gradient weighs it. A target the tape never saw gets none. */
  for (int i = 0; i < n_targets && st == CT_OK; i++) {
    const ct_tensor *t = targets[i];
    uint64_t id = atomic_load_explicit(&((ct_tensor *)t)->tape_id, memory_order_acquire);
    if (!set_has(&tape->tracked, id) || !ct_dtype_is_float(t->dtype)) continue;
    ct_tensor *seed;
    const ct_tensor *og = output_gradients ? output_gradients[i] : NULL;
    if (og) {
      seed = ct_tensor_retain((ct_tensor *)og);
    } else {
      st = scope_on(ctx, t->device);
      if (st != CT_OK) break;
      st = ct_fill(ctx, t->dtype, t->shape, t->rank, 1.0, &seed);
      ct_device_scope_pop(ctx);
      if (st != CT_OK) break;
    }
    st = accumulate(ctx, &m, id, seed);
  }
  for (int64_t k = tape->n_ops - 1; k >= 0 && st == CT_OK && m.n > 0; k--) st = backprop_op(tape, &m, &keep, &tape->ops[k]);
  int done = 0;
  ct_tensor **res = calloc((size_t)(n_sources > 0 ? n_sources : 1), sizeof *res);
  if (!res && st == CT_OK) st = ct_error(CT_RESOURCE_EXHAUSTED, "tape_gradient: out of memory for %d results", n_sources);
  for (; done < n_sources && st == CT_OK; done++) {
    const ct_gradient_source *s = &sources[done];
    ct_dtype dt = s->tensor ? s->tensor->dtype : s->variable->dtype;
    res[done] = NULL;
    if (!ct_dtype_is_float(dt)) continue; /* integer and bool sources: None, always */
    st = source_grad(tape, &m, s, &res[done]);
    if (st == CT_OK && res[done] == NULL && unconnected == CT_UNCONNECTED_ZERO) st = zeros_for(ctx, s, &res[done]);
    if (st != CT_OK) break;
  }
  if (st == CT_OK) {
    memcpy(out, res, sizeof(ct_tensor *) * (size_t)n_sources);
  } else {
    for (int i = 0; res && i < n_sources; i++) ct_tensor_release(res[i]);
  }
  free(res);
  map_free(&m);
  set_clear(&keep);
  return st;
}

ct_status ct_tape_gradient(ct_tape *tape, const ct_tensor *const *targets, int n_targets,
                           const ct_tensor *const *output_gradients, const ct_gradient_source *sources, int n_sources,
                           ct_unconnected_gradients unconnected, ct_tensor **out) {
  if (tape == NULL) return ct_error(CT_INVALID_ARGUMENT, "tape_gradient: NULL tape");
  ct_status st = owner_only(tape, "tape_gradient");
  if (st != CT_OK) return st;
  if (tape->computing)
    return ct_error(CT_FAILED_PRECONDITION, "tape_gradient: the tape is already computing a gradient");
  if (!tape->persistent && tape->used)
    return ct_error(CT_FAILED_PRECONDITION,
                    "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)");
  st = check_args(tape, targets, n_targets, output_gradients, sources, n_sources, unconnected, out);
  if (st != CT_OK) return st;
  tape->computing = true;
  st = run_backward(tape, targets, n_targets, output_gradients, sources, n_sources, unconnected, out);
  tape->computing = false;
  if (st != CT_OK) return st;
  if (!tape->persistent) {
    /* Answered: what the records hold is no longer needed. */
    tape->used = true;
    free_records(tape);
  }
  ct_error_clear();
  return CT_OK;
}
