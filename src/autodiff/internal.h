/*
 * Internals of reverse-mode autodiff: what a tape keeps of each op, the
 * table of gradient functions (one row per op), and variables.
 *
 * A gradient function is ordinary ops on tensors: it runs under a device
 * scope set to its forward op's device, so it is placed, logged, counted
 * and recorded by other tapes like any op (second order needs nothing
 * more).
 */
#ifndef CT_AUTODIFF_INTERNAL_H
#define CT_AUTODIFF_INTERNAL_H

#include "core/ops_internal.h"

/* An input or output as the op saw it. */
typedef struct ct_tape_meta {
  uint64_t id; /* the tensor's tape id (0: never seen by a tape) */
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
} ct_tape_meta;

/* Every attribute struct a gradient reads. */
typedef union ct_tape_attrs {
  ct_matmul_attrs matmul;
  ct_reduce_attrs reduce;
  ct_axis_attrs axis;
  ct_transpose_attrs transpose;
  ct_gather_attrs gather;
  ct_slice_attrs slice;
  ct_segment_attrs segment;
} ct_tape_attrs;

#define CT_TAPE_MAX_OUT 2

/* One recorded op. Only the tensors its gradient needs are held
 * (saved_in / saved_out); the rest is shapes and ids. */
typedef struct ct_tape_op {
  ct_op op;
  ct_device *device; /* where the forward op ran: its gradient runs there */
  int n_in, n_out;
  ct_tape_meta *in;
  ct_tensor **saved_in; /* n_in entries, NULL where not needed */
  ct_tape_meta out[CT_TAPE_MAX_OUT];
  ct_tensor *saved_out[CT_TAPE_MAX_OUT];
  ct_tape_attrs attrs;
  /* Bit i (inputs 0..31): the backward pass drops input i's gradient (the
   * input is not tracked, or not a float), so its gradient function may
   * skip computing it -- TensorFlow's skip_input_indices. Set before each
   * call of the gradient function; a function may ignore it. */
  unsigned skip_in;
} ct_tape_op;

/* dy[k]: the gradient of output k (NULL: none reached it). dx[i] receives
 * the gradient of input i (a new reference) or stays NULL (none). */
typedef ct_status (*ct_grad_fn)(ct_context *ctx, const ct_tape_op *op, ct_tensor *const *dy, ct_tensor **dx);

/* What the tape must hold for an op's gradient. */
#define CT_SAVE_IN(i) (1u << (i)) /* inputs 0..2 */
#define CT_SAVE_OUT 8u            /* output 0 */
#define CT_SAVE_AUX 16u           /* the xent ops' backprop (attrs), as output 1 */

typedef struct ct_grad_entry {
  ct_grad_fn fn;
  unsigned save;
  size_t attrs_size; /* bytes of attributes to copy, 0: none */
} ct_grad_entry;

/* The row for op, NULL when the op has no gradient (comparisons, argmax,
 * floor_div/floor_mod, random, integer casts...): a tape does not record
 * such ops, so nothing flows through them, as in TensorFlow. */
const ct_grad_entry *ct_grad_entry_for(ct_op op);

/* True for the dtypes gradients flow through. */
static inline bool ct_dtype_is_float(ct_dtype d) {
  return d == CT_FLOAT32 || d == CT_FLOAT64 || d == CT_FLOAT16 || d == CT_BFLOAT16;
}

/* ---- variables ----------------------------------------------------------- */

struct ct_variable {
  _Atomic int refcount;
  ct_context *ctx;
  ct_device *device;
  pthread_mutex_t lock; /* value: a read and an assign on two threads */
  ct_tensor *value;     /* never changed in place: an assign swaps it */
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
  bool trainable;
  char name[64];
};

/* A variable was read into `t` (a fresh tensor) on this thread: tapes that
 * watch it, or watch accessed variables and it is trainable, note it. */
ct_status ct_tape_note_read(ct_variable *v, ct_tensor *t);

/* Runs op on v's device with inputs {v's current value, args[0..n_args)}
 * and makes its output v's value, under v's lock and recorded by no tape
 * (the optimizers' fused updates). The caller has checked dtypes and
 * shapes; on failure v is unchanged. */
ct_status ct_variable_apply(ct_variable *v, ct_op op, const ct_tensor *const *args, int n_args, const void *attrs);

#endif
