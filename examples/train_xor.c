/*
 * Training through the C API alone: a 2 -> 8 -> 1 network learns XOR with
 * variables, a gradient tape and Keras's Adam. What a TensorFlow user
 * writes as
 *
 *   w1 = tf.Variable(tf.random.uniform((2, 8), -1, 1)); b1 = ...
 *   opt = tf.keras.optimizers.Adam(0.05)
 *   for step in range(400):
 *       with tf.GradientTape() as tape:
 *           h = tf.tanh(x @ w1 + b1)
 *           p = tf.sigmoid(h @ w2 + b2)
 *           loss = tf.reduce_mean(tf.square(p - y))
 *       grads = tape.gradient(loss, [w1, b1, w2, b2])
 *       opt.apply_gradients(zip(grads, [w1, b1, w2, b2]))
 *
 * It prints the loss now and then, the final loss and the four
 * predictions, and exits non-zero unless the loss fell below 0.01 and
 * every prediction is on the right side of 0.5 (tests/install/check.sh
 * also looks for the lines of train_xor.expected).
 *
 * Build: cc train_xor.c $(pkg-config --cflags --libs ctensor)
 */
#include <stdio.h>

#include <ctensor.h>

#define N_VARS 4
#define STEPS 400

static int fail(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", what, ct_status_name(ct_last_status()), ct_last_error());
  return 1;
}

/* A trainable variable initialised uniformly in [-1, 1); the seed keeps the
 * run the same on every machine and device (Philox is stateless). */
static ct_status uniform_variable(ct_context *ctx, const int64_t *shape, int rank, uint64_t seed, const char *name,
                                  ct_variable **out) {
  ct_tensor *init = NULL;
  ct_status st = ct_random_uniform(ctx, CT_FLOAT32, shape, rank, -1.0, 1.0, seed, 0, &init);
  if (st == CT_OK) st = ct_variable_new(ctx, init, true, name, out);
  ct_tensor_release(init);
  return st;
}

/* The forward pass: *pred = sigmoid(tanh(x w1 + b1) w2 + b2) and *loss =
 * mean((pred - y)^2). Under a recording tape every op is recorded, and the
 * variable reads make the tape watch the variables. Intermediate tensors
 * are released as soon as they are used: the tape keeps what the gradient
 * needs on its own. */
static ct_status forward(ct_context *ctx, ct_variable *const *vars, const ct_tensor *x, const ct_tensor *y,
                         ct_tensor **pred, ct_tensor **loss) {
  ct_tensor *v[N_VARS] = {NULL};
  ct_tensor *t1 = NULL, *t2 = NULL, *h = NULL, *p = NULL, *d = NULL, *sq = NULL;
  ct_status st = CT_OK;
  for (int i = 0; i < N_VARS && st == CT_OK; i++) st = ct_variable_read(vars[i], &v[i]);
  if (st == CT_OK) st = ct_matmul(ctx, x, v[0], false, false, &t1);
  if (st == CT_OK) st = ct_add(ctx, t1, v[1], &t2);
  if (st == CT_OK) st = ct_tanh(ctx, t2, &h);
  ct_tensor_release(t1);
  ct_tensor_release(t2);
  t1 = t2 = NULL;
  if (st == CT_OK) st = ct_matmul(ctx, h, v[2], false, false, &t1);
  if (st == CT_OK) st = ct_add(ctx, t1, v[3], &t2);
  if (st == CT_OK) st = ct_sigmoid(ctx, t2, &p);
  if (st == CT_OK) st = ct_sub(ctx, p, y, &d);
  if (st == CT_OK) st = ct_square(ctx, d, &sq);
  if (st == CT_OK) st = ct_reduce_mean(ctx, sq, NULL, 0, false, loss);
  for (int i = 0; i < N_VARS; i++) ct_tensor_release(v[i]);
  ct_tensor_release(t1);
  ct_tensor_release(t2);
  ct_tensor_release(h);
  ct_tensor_release(d);
  ct_tensor_release(sq);
  if (st == CT_OK)
    *pred = p;
  else
    ct_tensor_release(p);
  return st;
}

/* One training step; *loss_out receives the loss before the update. */
static ct_status train_step(ct_context *ctx, ct_optimizer *opt, ct_variable *const *vars, const ct_tensor *x,
                            const ct_tensor *y, float *loss_out) {
  ct_tape *tape = NULL;
  ct_tensor *pred = NULL, *loss = NULL, *grads[N_VARS] = {NULL};
  ct_status st = ct_tape_new(ctx, false, true, &tape);
  if (st != CT_OK) return st;
  st = forward(ctx, vars, x, y, &pred, &loss);
  if (st == CT_OK) st = ct_tape_stop_recording(tape);
  if (st == CT_OK) {
    ct_gradient_source src[N_VARS];
    for (int i = 0; i < N_VARS; i++) src[i] = (ct_gradient_source){NULL, vars[i]};
    st = ct_tape_gradient(tape, (const ct_tensor *const *)&loss, 1, NULL, src, N_VARS, CT_UNCONNECTED_NONE, grads);
  }
  if (st == CT_OK) st = ct_optimizer_apply_gradients(opt, vars, (const ct_tensor *const *)grads, N_VARS);
  if (st == CT_OK) st = ct_tensor_to_host(loss, loss_out, sizeof *loss_out);
  for (int i = 0; i < N_VARS; i++) ct_tensor_release(grads[i]);
  ct_tensor_release(pred);
  ct_tensor_release(loss);
  ct_tape_free(tape);
  return st;
}

int main(void) {
  static const float x_data[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  static const float y_data[4][1] = {{0}, {1}, {1}, {0}};
  const int64_t x_shape[2] = {4, 2}, y_shape[2] = {4, 1};
  const int64_t w1_shape[2] = {2, 8}, b1_shape[1] = {8}, w2_shape[2] = {8, 1}, b2_shape[1] = {1};

  ct_context *ctx;
  if (ct_context_new(&ctx) != CT_OK) return fail("context_new");
  ct_tensor *x = NULL, *y = NULL;
  if (ct_tensor_from_host(ctx, CT_FLOAT32, x_shape, 2, x_data, &x) != CT_OK ||
      ct_tensor_from_host(ctx, CT_FLOAT32, y_shape, 2, y_data, &y) != CT_OK)
    return fail("tensor_from_host");

  ct_variable *vars[N_VARS] = {NULL};
  if (uniform_variable(ctx, w1_shape, 2, 1, "w1", &vars[0]) != CT_OK ||
      uniform_variable(ctx, b1_shape, 1, 2, "b1", &vars[1]) != CT_OK ||
      uniform_variable(ctx, w2_shape, 2, 3, "w2", &vars[2]) != CT_OK ||
      uniform_variable(ctx, b2_shape, 1, 4, "b2", &vars[3]) != CT_OK)
    return fail("variable_new");
  printf("variables on %s\n", ct_variable_device(vars[0]));

  ct_optimizer *opt = NULL;
  if (ct_optimizer_adam_new(ctx, 0.05, 0.9, 0.999, 1e-7, false, &opt) != CT_OK) return fail("optimizer_adam_new");

  float loss = 0.0f;
  for (int step = 0; step < STEPS; step++) {
    if (train_step(ctx, opt, vars, x, y, &loss) != CT_OK) return fail("train_step");
    if (step % 100 == 0) printf("step %3d  loss %.6f\n", step, (double)loss);
  }

  /* The loss after the last update, and the predictions it gives. */
  ct_tensor *pred = NULL, *final_loss = NULL;
  float p[4];
  if (forward(ctx, vars, x, y, &pred, &final_loss) != CT_OK) return fail("forward");
  if (ct_tensor_to_host(final_loss, &loss, sizeof loss) != CT_OK || ct_tensor_to_host(pred, p, sizeof p) != CT_OK)
    return fail("tensor_to_host");
  printf("steps %lld  final loss %.6f\n", (long long)ct_optimizer_iterations(opt), (double)loss);
  int correct = 0;
  printf("predictions:");
  for (int i = 0; i < 4; i++) {
    int label = p[i] > 0.5f;
    correct += label == (int)y_data[i][0];
    printf(" %d", label);
  }
  printf("\n");
  int converged = loss < 0.01f && correct == 4;
  printf("converged: %s\n", converged ? "yes" : "no");

  ct_tensor_release(pred);
  ct_tensor_release(final_loss);
  ct_optimizer_free(opt);
  for (int i = 0; i < N_VARS; i++) ct_variable_release(vars[i]);
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_context_free(ctx);
  return converged ? 0 : 1;
}
