/*
 * Host memory fault injection (issue 14): every allocation a scenario
 * makes is failed in turn, one run per allocation, SQLite's way. After
 * each injected failure:
 *  - the call that failed returned RESOURCE_EXHAUSTED (or the status the
 *    scenario documents) with a message, or absorbed the failure and
 *    succeeded (a log line or a cache entry that was not kept);
 *  - the out-parameter of the failed call was not written;
 *  - the context still runs an op and gives the right answer;
 *  - in the sanitizer tree, after everything is released the heap holds
 *    exactly what it held before the run, and LeakSanitizer agrees.
 * The allocation hook is tests/fault_inject.c, linked into this program
 * only (cmake/parts/fault.cmake).
 *
 * Every allocation of every scenario is failed (about 170 runs, under a
 * second in the sanitizer tree). CT_FAULT_STICKY=1 (make stress) also
 * fails every allocation after the first failed one, as a heap that
 * stays exhausted would; CT_FAULT_ONLY=<scenario> runs one scenario,
 * CT_FAULT_SITES=1 lists the call sites. The program prints the runs,
 * the allocation points and how many distinct call sites were failed.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"
#include "fault_inject.h"
#include "testutil.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CT_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CT_HAVE_ASAN 1
#endif
/* Bytes the heap holds now. The C library keeps the text of the last
 * failed dlopen until dlerror() has been called twice: let it go first,
 * so that a message of another length is not taken for a leak. */
#ifdef CT_HAVE_ASAN
#include <sanitizer/allocator_interface.h>
#include <sanitizer/common_interface_defs.h>
static size_t heap_now(void) { return __sanitizer_get_current_allocated_bytes(); }
/* "function file:line" of an allocation call site. */
static const char *site_name(const void *pc, char *buf, size_t size) {
  __sanitizer_symbolize_pc((void *)pc, "%f %S", buf, size);
  return buf;
}
#else
/* glibc's mallinfo counts chunks parked in its per-thread caches as in
 * use, so it drifts without a leak: outside the sanitizer tree the heap
 * is not compared (the ASan tree's LeakSanitizer and byte count are the
 * leak check). */
static size_t heap_now(void) { return 0; }
static const char *site_name(const void *pc, char *buf, size_t size) {
  snprintf(buf, size, "%p", pc);
  return buf;
}
#endif
static const char *cur_site(void) {
  static char buf[512];
  return ct_fault_site() ? site_name(ct_fault_site(), buf, sizeof buf) : "none";
}

static size_t heap_bytes(void) {
  dlerror();
  dlerror();
  return heap_now();
}

/* ---- what a failed call left behind ------------------------------------ */

/* An address no call hands out: an out-parameter still holding it was
 * not written. */
static char sentinel_obj;
#define SENTINEL ((void *)&sentinel_obj)

typedef struct failure {
  bool failed;
  ct_status status;
  char call[96];
  char msg[256];
  bool out_untouched;
} failure;
static failure last;

static void note_failure(ct_status st, bool untouched, const char *call) {
  last.failed = true;
  last.status = st;
  last.out_untouched = untouched;
  snprintf(last.call, sizeof last.call, "%s", call);
  snprintf(last.msg, sizeof last.msg, "%s", ct_last_error());
}

/* A call with a tensor out-parameter: `var` must still hold the sentinel
 * when the call fails. */
#define T(call, var)                                             \
  do {                                                           \
    var = SENTINEL;                                              \
    ct_status s_ = (call);                                       \
    if (s_ != CT_OK) {                                           \
      note_failure(s_, var == SENTINEL, #call);                  \
      var = NULL;                                                \
      st = s_;                                                   \
      goto done;                                                 \
    }                                                            \
  } while (0)
/* A call without one (or with an out-parameter of another type). */
#define S(call)                                                  \
  do {                                                           \
    ct_status s_ = (call);                                       \
    if (s_ != CT_OK) {                                           \
      note_failure(s_, true, #call);                             \
      st = s_;                                                   \
      goto done;                                                 \
    }                                                            \
  } while (0)

/* ---- fixtures: made before the allocation hook is armed ---------------- */

typedef struct fixture {
  ct_context *ctx;
  ct_tensor *a, *b, *c, *big, *labels, *half, *ids, *cond;
} fixture;

static ct_status fixture_make(fixture *f) {
  memset(f, 0, sizeof *f);
  ct_status st = ct_context_new(&f->ctx);
  if (st != CT_OK) return st;
  /* two logical CPUs, so that placement and copies have somewhere to go */
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  if ((st = ct_config_set_logical_devices(f->ctx, "/physical_device:CPU:0", cfg, 2)) != CT_OK) return st;
  float av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {0.5f, -1, 2, 0.25f, -3, 1}, cv[6] = {3, 1, 4, 1, 5, 9};
  int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s2[1] = {2}, sbig[1] = {100000};
  int32_t lab[2] = {2, 0}, ids[2] = {1, 0};
  unsigned char cond[6] = {1, 0, 1, 0, 0, 1};
  uint16_t hv[6];
  for (int i = 0; i < 6; i++) hv[i] = ct_float_to_half(av[i]);
  if ((st = ct_tensor_from_host(f->ctx, CT_FLOAT32, s23, 2, av, &f->a)) != CT_OK) return st;
  if ((st = ct_tensor_from_host(f->ctx, CT_FLOAT32, s32, 2, bv, &f->b)) != CT_OK) return st;
  if ((st = ct_tensor_from_host(f->ctx, CT_FLOAT32, s23, 2, cv, &f->c)) != CT_OK) return st;
  if ((st = ct_tensor_from_host(f->ctx, CT_INT32, s2, 1, lab, &f->labels)) != CT_OK) return st;
  if ((st = ct_tensor_from_host(f->ctx, CT_INT32, s2, 1, ids, &f->ids)) != CT_OK) return st;
  if ((st = ct_tensor_from_host(f->ctx, CT_FLOAT16, s23, 2, hv, &f->half)) != CT_OK) return st;
  if ((st = ct_tensor_from_host(f->ctx, CT_BOOL, s23, 2, cond, &f->cond)) != CT_OK) return st;
  /* 400 KB: the CPU allocator's cached size classes, not plain malloc */
  return ct_fill(f->ctx, CT_FLOAT32, sbig, 1, 1.5, &f->big);
}

static void fixture_free(fixture *f) {
  ct_tensor *all[] = {f->a, f->b, f->c, f->big, f->labels, f->half, f->ids, f->cond};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
  ct_context_free(f->ctx);
}

/* ---- scenarios ------------------------------------------------------------ */

typedef ct_status (*scenario_fn)(fixture *f);

static ct_status sc_creation(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *z = NULL, *w = NULL;
  int64_t shape[2] = {300, 300}, small[1] = {5};
  T(ct_zeros(f->ctx, CT_FLOAT64, shape, 2, &x), x);
  T(ct_ones(f->ctx, CT_INT64, small, 1, &y), y);
  T(ct_range(f->ctx, CT_FLOAT32, 0, 100, 0.5, &z), z);
  T(ct_random_uniform(f->ctx, CT_FLOAT32, shape, 2, 0, 1, 7, 0, &w), w);
  ct_tensor_release(w);
  T(ct_random_normal(f->ctx, CT_FLOAT64, small, 1, 0, 1, 7, 0, &w), w);
  ct_tensor_release(w);
  T(ct_truncated_normal(f->ctx, CT_FLOAT16, small, 1, 0, 1, 7, 0, &w), w);
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(z), ct_tensor_release(w);
  return st;
}

static ct_status sc_matmul(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *h = NULL, *hb = NULL, *y = NULL;
  T(ct_matmul(f->ctx, f->a, f->b, false, false, &x), x);
  T(ct_transpose(f->ctx, f->half, NULL, &h), h);
  T(ct_matmul(f->ctx, f->half, h, false, false, &hb), hb);
  T(ct_matmul(f->ctx, f->a, f->c, false, true, &y), y);
done:
  ct_tensor_release(x), ct_tensor_release(h), ct_tensor_release(hb), ct_tensor_release(y);
  return st;
}

static ct_status sc_elementwise(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *z = NULL, *w = NULL, *v = NULL;
  T(ct_add(f->ctx, f->a, f->c, &x), x);
  T(ct_mul(f->ctx, f->big, f->big, &y), y);
  T(ct_less(f->ctx, f->a, f->c, &z), z);
  T(ct_floor_mod(f->ctx, f->a, f->c, &w), w);
  ct_tensor_release(w);
  T(ct_tanh(f->ctx, f->half, &w), w);
  T(ct_square(f->ctx, x, &v), v);
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(z), ct_tensor_release(w), ct_tensor_release(v);
  return st;
}

static ct_status sc_reduce(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *z = NULL, *w = NULL;
  int ax1[1] = {1}, ax0[1] = {0};
  T(ct_reduce_sum(f->ctx, f->a, ax1, 1, false, &x), x);
  T(ct_reduce_mean(f->ctx, f->half, ax0, 1, true, &y), y);
  T(ct_reduce_max(f->ctx, f->big, NULL, 0, false, &z), z);
  T(ct_argmax(f->ctx, f->c, 1, CT_INT64, &w), w);
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(z), ct_tensor_release(w);
  return st;
}

static ct_status sc_shape(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *z = NULL, *w = NULL, *v = NULL, *g = NULL;
  int64_t flat[1] = {-1}, begin[2] = {0, 1}, size[2] = {2, -1};
  const ct_tensor *parts[3] = {f->a, f->c, f->a};
  T(ct_cast(f->ctx, f->a, CT_BFLOAT16, &x), x);
  T(ct_reshape(f->ctx, f->big, flat, 1, &y), y);
  T(ct_concat(f->ctx, parts, 3, 0, &z), z);
  T(ct_slice(f->ctx, f->a, begin, size, &w), w);
  T(ct_transpose(f->ctx, f->a, NULL, &v), v);
  T(ct_gather(f->ctx, f->a, f->ids, 0, &g), g);
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(z), ct_tensor_release(w), ct_tensor_release(v);
  ct_tensor_release(g);
  return st;
}

static ct_status sc_nn(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *loss = NULL, *bp = NULL, *oh = NULL, *w = NULL, *seg = NULL, *bt = NULL;
  int64_t to[3] = {2, 2, 3};
  T(ct_softmax(f->ctx, f->a, -1, &x), x);
  T(ct_log_softmax(f->ctx, f->half, -1, &y), y);
  loss = bp = SENTINEL;
  /* two outputs: neither may be written on failure */
  ct_status s1 = ct_sparse_softmax_cross_entropy_with_logits(f->ctx, f->labels, f->a, &loss, &bp);
  if (s1 != CT_OK) {
    note_failure(s1, loss == SENTINEL && bp == SENTINEL, "sparse_softmax_cross_entropy_with_logits");
    loss = bp = NULL;
    st = s1;
    goto done;
  }
  T(ct_one_hot(f->ctx, f->labels, 3, 1, 0, -1, CT_FLOAT32, &oh), oh);
  T(ct_where(f->ctx, f->cond, f->a, f->c, &w), w);
  T(ct_unsorted_segment_sum(f->ctx, f->half, f->ids, 2, &seg), seg);
  T(ct_broadcast_to(f->ctx, f->a, to, 3, &bt), bt);
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(loss), ct_tensor_release(bp);
  ct_tensor_release(oh), ct_tensor_release(w), ct_tensor_release(seg), ct_tensor_release(bt);
  return st;
}

static int log_lines;
static void count_log(void *user, ct_log_level level, const char *msg) {
  (void)user, (void)level, (void)msg;
  log_lines++;
}

/* Placement with logging: a scope on the second CPU with inputs on the
 * first (the warn policy's log-once set), a request for a GPU that does
 * not exist (a soft-placement fallback record), the report. */
static ct_status sc_placement(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *z = NULL;
  int pushed = 0;
  ct_context_set_log_callback(f->ctx, count_log, NULL);
  S(ct_config_set_log_placement(f->ctx, true));
  S(ct_config_set_device_policy(f->ctx, CT_POLICY_WARN));
  S(ct_device_scope_push(f->ctx, "/CPU:1"));
  pushed++;
  T(ct_add(f->ctx, f->a, f->c, &x), x);
  S(ct_device_scope_push(f->ctx, "/device:GPU:3"));
  pushed++;
  T(ct_mul(f->ctx, f->a, f->c, &y), y);
  S(ct_device_scope_pop(f->ctx));
  pushed--;
  T(ct_tensor_copy_to(x, "/device:CPU:0", &z), z);
  char report[2048];
  ct_placement_report(f->ctx, report, sizeof report);
done:
  while (pushed-- > 0) ct_device_scope_pop(f->ctx);
  ct_config_set_log_placement(f->ctx, false);
  ct_config_set_device_policy(f->ctx, CT_POLICY_SILENT);
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(z);
  return st;
}

static ct_status sc_copies(fixture *f) {
  ct_status st = CT_OK;
  ct_tensor *x = NULL, *y = NULL, *z = NULL;
  static float host[100000];
  T(ct_tensor_copy_to(f->big, "/CPU:1", &x), x);
  T(ct_tensor_copy_to(f->a, "CPU:1", &y), y);
  T(ct_tensor_copy_to(f->a, "/device:CPU:0", &z), z);
  S(ct_tensor_to_host(x, host, sizeof host));
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(z);
  return st;
}

static ct_status sc_gradients(fixture *f) {
  ct_status st = CT_OK;
  ct_tape *tape = NULL, *outer = NULL;
  ct_tensor *x = NULL, *y = NULL, *loss = NULL, *m = NULL, *grads[2] = {NULL, NULL};
  S(ct_tape_new(f->ctx, false, true, &outer));
  S(ct_tape_new(f->ctx, true, true, &tape));
  S(ct_tape_watch(tape, f->a));
  S(ct_tape_watch(outer, f->a));
  S(ct_tape_watch(tape, f->b));
  T(ct_matmul(f->ctx, f->a, f->b, false, false, &m), m);
  T(ct_sigmoid(f->ctx, m, &x), x);
  T(ct_mul(f->ctx, x, x, &y), y);
  T(ct_reduce_sum(f->ctx, y, NULL, 0, false, &loss), loss);
  ct_gradient_source src[2] = {{f->a, NULL}, {f->b, NULL}};
  const ct_tensor *targets[1] = {loss};
  grads[0] = grads[1] = SENTINEL;
  ct_status s1 = ct_tape_gradient(tape, targets, 1, NULL, src, 2, CT_UNCONNECTED_ZERO, grads);
  if (s1 != CT_OK) {
    note_failure(s1, grads[0] == SENTINEL && grads[1] == SENTINEL, "ct_tape_gradient");
    grads[0] = grads[1] = NULL;
    st = s1;
    goto done;
  }
done:
  ct_tensor_release(x), ct_tensor_release(y), ct_tensor_release(loss), ct_tensor_release(m);
  ct_tensor_release(grads[0]), ct_tensor_release(grads[1]);
  ct_tape_free(tape);
  ct_tape_free(outer);
  return st;
}

static ct_status sc_variables(fixture *f) {
  ct_status st = CT_OK;
  ct_variable *v = NULL;
  ct_tape *tape = NULL;
  ct_tensor *r = NULL, *sq = NULL, *loss = NULL, *g = NULL;
  float before[6], after[6];
  S(ct_variable_new(f->ctx, f->a, true, "w", &v));
  S(ct_tape_new(f->ctx, false, true, &tape));
  T(ct_variable_read(v, &r), r);
  T(ct_square(f->ctx, r, &sq), sq);
  T(ct_reduce_sum(f->ctx, sq, NULL, 0, false, &loss), loss);
  ct_gradient_source src[1] = {{NULL, v}};
  const ct_tensor *targets[1] = {loss};
  g = SENTINEL;
  ct_status s1 = ct_tape_gradient(tape, targets, 1, NULL, src, 1, CT_UNCONNECTED_NONE, &g);
  if (s1 != CT_OK) {
    note_failure(s1, g == SENTINEL, "ct_tape_gradient(variable)");
    g = NULL;
    st = s1;
    goto done;
  }
  ct_tensor_to_host(r, before, sizeof before);
  ct_status s2 = ct_variable_assign_add(v, g);
  if (s2 != CT_OK) {
    /* a failed update leaves the value as it was (looked at with the
     * heap working again: a sticky failure would fail the read too) */
    ct_fault_disarm();
    ct_tensor *now = NULL;
    bool same = ct_variable_read(v, &now) == CT_OK && ct_tensor_to_host(now, after, sizeof after) == CT_OK &&
                memcmp(before, after, sizeof before) == 0;
    ct_tensor_release(now);
    note_failure(s2, same, "ct_variable_assign_add");
    st = s2;
    goto done;
  }
done:
  ct_tensor_release(r), ct_tensor_release(sq), ct_tensor_release(loss), ct_tensor_release(g);
  ct_tape_free(tape);
  ct_variable_release(v);
  return st;
}

static ct_status sc_optimizers(fixture *f) {
  ct_status st = CT_OK;
  ct_variable *v1 = NULL, *v2 = NULL;
  ct_optimizer *sgd = NULL, *adam = NULL;
  ct_tensor *slot = NULL;
  S(ct_variable_new(f->ctx, f->a, true, NULL, &v1));
  S(ct_variable_new(f->ctx, f->half, true, "h", &v2));
  S(ct_optimizer_sgd_new(f->ctx, 0.1, 0.9, true, &sgd));
  S(ct_optimizer_adam_new(f->ctx, 0.01, 0.9, 0.999, 1e-7, true, &adam));
  ct_variable *vars[2] = {v1, v2};
  const ct_tensor *grads[2] = {f->c, f->half};
  for (int step = 0; step < 2; step++) {
    int64_t it = ct_optimizer_iterations(sgd);
    ct_status s1 = ct_optimizer_apply_gradients(sgd, vars, grads, 2);
    if (s1 != CT_OK) {
      note_failure(s1, ct_optimizer_iterations(sgd) == it, "sgd apply_gradients");
      st = s1;
      goto done;
    }
    it = ct_optimizer_iterations(adam);
    s1 = ct_optimizer_apply_gradients(adam, vars, grads, 2);
    if (s1 != CT_OK) {
      note_failure(s1, ct_optimizer_iterations(adam) == it, "adam apply_gradients");
      st = s1;
      goto done;
    }
  }
  T(ct_optimizer_get_slot(adam, v2, "vhat", &slot), slot);
done:
  ct_tensor_release(slot);
  ct_optimizer_free(sgd);
  ct_optimizer_free(adam);
  ct_variable_release(v1);
  ct_variable_release(v2);
  return st;
}

/* The doctor: it answers with an exit code and text, not a status, so a
 * run only has to end, print something and leave nothing behind. */
static ct_status sc_doctor(fixture *f) {
  (void)f;
  char *out = NULL, *err = NULL;
  size_t on = 0, en = 0;
  FILE *o = open_memstream(&out, &on), *e = open_memstream(&err, &en);
  char *argv[] = {(char *)"doctor", (char *)"--json", NULL};
  int rc = o && e ? ct_doctor_main(2, argv, o, e) : -1;
  if (o) fclose(o);
  if (e) fclose(e);
  bool said = on > 0 || en > 0;
  free(out);
  free(err);
  if (!said) {
    note_failure(CT_INTERNAL, true, "ct_doctor_main printed nothing");
    snprintf(last.msg, sizeof last.msg, "exit code %d", rc);
    return CT_INTERNAL;
  }
  return CT_OK;
}

/* ---- the sweep --------------------------------------------------------- */

/* Distinct allocation call sites that were failed, over all scenarios. */
#define MAX_SITES 4096
static const void *sites[MAX_SITES];
static int n_sites;
static long total_runs, total_absorbed, total_points;

static void note_site(const void *s) {
  for (int i = 0; i < n_sites; i++)
    if (sites[i] == s) return;
  if (n_sites < MAX_SITES) sites[n_sites++] = s;
}

/* The context must still compute after a failure: [1,2,3]+[3,1,4] on the
 * default device and on CPU:1. */
static bool context_usable(ct_context *ctx) {
  int64_t s3[1] = {3};
  float av[3] = {1, 2, 3}, bv[3] = {3, 1, 4}, got[3] = {0, 0, 0};
  ct_tensor *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  bool ok = ct_tensor_from_host(ctx, CT_FLOAT32, s3, 1, av, &a) == CT_OK &&
            ct_tensor_from_host(ctx, CT_FLOAT32, s3, 1, bv, &b) == CT_OK && ct_add(ctx, a, b, &c) == CT_OK &&
            ct_tensor_copy_to(c, "/CPU:1", &d) == CT_OK && ct_tensor_to_host(d, got, sizeof got) == CT_OK &&
            got[0] == 4 && got[1] == 3 && got[2] == 7;
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c), ct_tensor_release(d);
  return ok;
}

static bool sticky(void) {
  const char *v = getenv("CT_FAULT_STICKY");
  return v && strcmp(v, "1") == 0;
}

typedef struct scenario {
  const char *name;
  scenario_fn fn;
  ct_status allowed; /* a status besides RESOURCE_EXHAUSTED the scenario may return */
} scenario;

static void sweep(const scenario *sc) {
  long runs = 0, absorbed = 0, points = 0;
  for (long k = 1;; k++) {
    size_t heap_before = heap_bytes();
    fixture f;
    CHECK_OK(fixture_make(&f));
    memset(&last, 0, sizeof last);
    ct_fault_arm(k, sticky());
    ct_status st = sc->fn(&f);
    long made = ct_fault_disarm();
    bool fired = ct_fault_fired();
    if (fired) {
      runs++;
      note_site(ct_fault_site());
      if (st == CT_OK) {
        absorbed++;
      } else {
        CHECK(last.failed);
        if (!(st == CT_RESOURCE_EXHAUSTED || (sc->allowed != CT_OK && st == sc->allowed)) || !last.msg[0] ||
            !last.out_untouched) {
          tu_failures++;
          fprintf(stderr, "[%s] allocation %ld (site %s): %s returned %s \"%s\"%s\n", sc->name, k,
                  cur_site(), last.call, ct_status_name(st), last.msg,
                  last.out_untouched ? "" : " and wrote its output");
        }
      }
      if (!context_usable(f.ctx)) {
        tu_failures++;
        fprintf(stderr, "[%s] allocation %ld (site %s): context unusable afterwards: %s\n", sc->name, k,
                cur_site(), ct_last_error());
      }
    } else {
      CHECK_OK(st);
    }
    tu_checks++;
    fixture_free(&f);
    size_t heap_after = heap_bytes();
    if (heap_after != heap_before) {
      tu_failures++;
      fprintf(stderr, "[%s] allocation %ld (site %s, %s): heap %zu bytes before, %zu after\n", sc->name, k,
              cur_site(), fired ? "failed" : "not failed", heap_before, heap_after);
    }
    points = made > points ? made : points;
    if (!ct_fault_fired() && k >= made) break;
  }
  total_runs += runs;
  total_absorbed += absorbed;
  total_points += points;
  printf("  %-12s %4ld allocation points, %4ld failed, %3ld absorbed\n", sc->name, points, runs, absorbed);
}

/* Context start: ct_context_new, the configuration (which discovers the
 * devices) and the first initialisation themselves. */
static void sweep_context_start(void) {
  long runs = 0, points = 0;
  for (long k = 1;; k++) {
    size_t heap_before = heap_bytes();
    ct_context *ctx = (ct_context *)SENTINEL;
    ct_logical_device_config cfg[2];
    memset(cfg, 0, sizeof cfg);
    memset(&last, 0, sizeof last);
    ct_fault_arm(k, sticky());
    ct_status st = ct_context_new(&ctx);
    if (st != CT_OK) {
      note_failure(st, ctx == (ct_context *)SENTINEL, "ct_context_new");
      ctx = NULL;
    }
    if (st == CT_OK && (st = ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2)) != CT_OK)
      note_failure(st, true, "ct_config_set_logical_devices");
    if (st == CT_OK && (st = ct_context_initialize(ctx)) != CT_OK)
      note_failure(st, !ct_context_is_initialized(ctx), "ct_context_initialize");
    long made = ct_fault_disarm();
    if (ct_fault_fired()) {
      runs++;
      note_site(ct_fault_site());
      if (st != CT_OK && (st != CT_RESOURCE_EXHAUSTED || !last.msg[0] || !last.out_untouched)) {
        tu_failures++;
        fprintf(stderr, "[context] allocation %ld (site %s): %s returned %s \"%s\"%s\n", k, cur_site(),
                last.call, ct_status_name(st), last.msg, last.out_untouched ? "" : " and wrote its output");
      }
      /* a context that failed to start starts on the next try */
      if (ctx == NULL) CHECK_OK(ct_context_new(&ctx));
      if (ctx && !ct_context_is_initialized(ctx) && ct_config_set_logical_devices(ctx, "/physical_device:CPU:0", cfg, 2) != CT_OK)
        fprintf(stderr, "[context] reconfiguring after the failure: %s\n", ct_last_error());
      if (ctx && !context_usable(ctx)) {
        tu_failures++;
        fprintf(stderr, "[context] allocation %ld (site %s): context unusable afterwards: %s\n", k, cur_site(),
                ct_last_error());
      }
    } else {
      CHECK_OK(st);
    }
    ct_context_free(ctx);
    size_t heap_after = heap_bytes();
    if (heap_after != heap_before) {
      tu_failures++;
      fprintf(stderr, "[context] allocation %ld (site %s): heap %zu bytes before, %zu after\n", k, cur_site(),
              heap_before, heap_after);
    }
    points = made > points ? made : points;
    if (!ct_fault_fired() && k >= made) break;
  }
  total_runs += runs;
  total_points += points;
  printf("  %-12s %4ld allocation points, %4ld failed\n", "context", points, runs);
}

static const scenario scenarios[] = {
    {"creation", sc_creation, CT_OK},     {"matmul", sc_matmul, CT_OK},         {"elementwise", sc_elementwise, CT_OK},
    {"reduce", sc_reduce, CT_OK},         {"shape", sc_shape, CT_OK},           {"nn", sc_nn, CT_OK},
    {"placement", sc_placement, CT_OK},   {"copies", sc_copies, CT_OK},         {"gradients", sc_gradients, CT_OK},
    {"variables", sc_variables, CT_OK},   {"optimizers", sc_optimizers, CT_OK}, {"doctor", sc_doctor, CT_OK},
};

TEST(every_allocation_fails_cleanly) {
  /* One run of everything first: thread pools and the C library's own
   * caches are allocated once, before the heap is compared. */
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    fixture f;
    CHECK_OK(fixture_make(&f));
    CHECK_OK(scenarios[i].fn(&f));
    CHECK(context_usable(f.ctx));
    fixture_free(&f);
  }
  const char *only = getenv("CT_FAULT_ONLY");
  if (!only || strcmp(only, "context") == 0) sweep_context_start();
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (!only || strcmp(only, scenarios[i].name) == 0) sweep(&scenarios[i]);
  if (getenv("CT_FAULT_SITES")) {
    char buf[512];
    for (int i = 0; i < n_sites; i++) printf("  site %s\n", site_name(sites[i], buf, sizeof buf));
  }
  printf("fault injection: %ld runs with a failed allocation (%ld absorbed), %ld allocation points, %d distinct "
         "call sites%s\n",
         total_runs, total_absorbed, total_points, n_sites, sticky() ? " (sticky)" : "");
}

int main(void) {
  RUN(every_allocation_fails_cleanly);
  TEST_MAIN_END();
}
