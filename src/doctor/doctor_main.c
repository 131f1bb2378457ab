/* `ctensor doctor`: options, the probe pipeline, --verify, output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "doctor/doctor.h"

static const char usage[] =
    "usage: ctensor doctor [options]\n"
    "\n"
    "Will the GPU be used, and if not, exactly what to change: for ctensor and\n"
    "for every TensorFlow, PyTorch and JAX installation found. Reads package\n"
    "metadata and the driver; imports nothing, uses no network.\n"
    "\n"
    "options:\n"
    "  --json               machine-readable report (schema in docs/doctor.md)\n"
    "  --tf VERSION         what TensorFlow VERSION needs and what this machine lacks\n"
    "  --torch VERSION      the same for PyTorch\n"
    "  --python PATH        also inspect this Python interpreter (repeatable)\n"
    "  --verify             run a matmul on every usable device and compare with the CPU\n"
    "  --site-packages DIR  also inspect this site-packages directory (repeatable)\n"
    "  --root DIR           probe the file tree under DIR instead of / (tests)\n"
    "  --env NAME=VALUE     the doctor sees NAME=VALUE (NAME= : unset) (tests)\n"
    "  --no-pythons         do not look for interpreters on PATH\n"
    "  --no-ctensor         do not probe ctensor's own devices\n"
    "  --sources            print, under each verdict and requirement, the facts\n"
    "                       it used and the document each comes from\n"
    "  --color / --no-color force colour on or off (default: on a terminal)\n"
    "  --help               this help\n"
    "\n"
    "exit status: 0 GPU usable or no GPU by design, 1 GPU present but unusable,\n"
    "2 usage error.\n";

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int usage_error(FILE *err, const char *fmt, const char *arg) {
  fprintf(err, "ctensor doctor: ");
  fprintf(err, fmt, arg);
  fprintf(err, "\n\n%s", usage);
  return 2;
}

/* Parses argv into opt; returns -1 to go on, else an exit code. */
static int parse(int argc, char **argv, ct_doctor_options *opt, FILE *out, FILE *err) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                     \
  do {                                                                   \
    if (!val || !*val) return usage_error(err, "%s needs a value", a); \
    i++;                                                                 \
  } while (0)
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, out);
      return 0; /* asked-for help is a successful run; only misuse exits 2 */
    } else if (strcmp(a, "--json") == 0) {
      opt->json = true;
    } else if (strcmp(a, "--verify") == 0) {
      opt->verify = true;
    } else if (strcmp(a, "--no-pythons") == 0) {
      opt->no_pythons = true;
    } else if (strcmp(a, "--no-ctensor") == 0) {
      opt->no_ctensor = true;
    } else if (strcmp(a, "--sources") == 0) {
      opt->sources = true;
    } else if (strcmp(a, "--color") == 0) {
      opt->color = true;
    } else if (strcmp(a, "--no-color") == 0) {
      opt->color = false;
    } else if (strcmp(a, "--tf") == 0) {
      NEED_VALUE();
      int x, y;
      if (!ct_dr_parse_mm(val, &x, &y)) return usage_error(err, "--tf wants a version like 2.4, got \"%s\"", val);
      ct_dr_strlcpy(opt->tf_version, val, sizeof opt->tf_version);
    } else if (strcmp(a, "--torch") == 0) {
      NEED_VALUE();
      int x, y;
      if (!ct_dr_parse_mm(val, &x, &y)) return usage_error(err, "--torch wants a version like 2.4, got \"%s\"", val);
      ct_dr_strlcpy(opt->torch_version, val, sizeof opt->torch_version);
    } else if (strcmp(a, "--python") == 0) {
      NEED_VALUE();
      if (opt->n_pythons >= 4) return usage_error(err, "too many --python (at most 4): %s", val);
      ct_dr_strlcpy(opt->pythons[opt->n_pythons++], val, CT_DR_PATH);
    } else if (strcmp(a, "--site-packages") == 0) {
      NEED_VALUE();
      if (opt->n_sites >= 8) return usage_error(err, "too many --site-packages (at most 8): %s", val);
      ct_dr_strlcpy(opt->sites[opt->n_sites++], val, CT_DR_PATH);
    } else if (strcmp(a, "--root") == 0) {
      NEED_VALUE();
      if (!ct_dr_is_dir(val)) return usage_error(err, "--root: \"%s\" is not a directory", val);
      ct_dr_strlcpy(opt->root, val, sizeof opt->root);
      size_t n = strlen(opt->root);
      while (n > 1 && opt->root[n - 1] == '/') opt->root[--n] = '\0';
      if (strcmp(opt->root, "/") == 0) opt->root[0] = '\0';
    } else if (strcmp(a, "--env") == 0) {
      NEED_VALUE();
      const char *eq = strchr(val, '=');
      if (!eq || eq == val) return usage_error(err, "--env wants NAME=VALUE, got \"%s\"", val);
      if (opt->n_env >= CT_DR_MAX_ENV) return usage_error(err, "too many --env: %s", val);
      ct_doctor_env_override *e = &opt->env[opt->n_env++];
      snprintf(e->name, sizeof e->name, "%.*s", (int)(eq - val), val);
      ct_dr_strlcpy(e->value, eq + 1, sizeof e->value);
      e->unset = eq[1] == '\0';
    } else {
      return usage_error(err, "unknown argument \"%s\"", a);
    }
#undef NEED_VALUE
  }
  return -1;
}

/* --verify: the same matmul on every logical device and on CPU:0. Inputs
 * come from the counter-based generator, identical on every device. */
void ct_doctor_run_verify(ct_doctor_report *r) {
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) {
    ct_doctor_verify_result *v = &r->verify[r->n_verify++];
    snprintf(v->error, sizeof v->error, "context: %s", ct_last_error());
    return;
  }
  const int n = 256;
  const int64_t shape[2] = {n, n};
  float *ref = malloc(sizeof(float) * (size_t)n * n);
  float *got = malloc(sizeof(float) * (size_t)n * n);
  int count = ct_logical_device_count(ctx, NULL);
  for (int pass = -1; pass < count && r->n_verify < CT_DR_MAX_VERIFY && ref && got; pass++) {
    /* pass -1 computes the CPU reference. */
    ct_logical_device_info li;
    if (pass < 0) {
      if (ct_logical_device_get(ctx, "CPU", 0, &li) != CT_OK) break;
    } else if (ct_logical_device_get(ctx, NULL, pass, &li) != CT_OK) {
      continue;
    }
    ct_doctor_verify_result *v = pass < 0 ? NULL : &r->verify[r->n_verify++];
    ct_doctor_verify_result scratch;
    if (!v) {
      memset(&scratch, 0, sizeof scratch);
      v = &scratch;
    }
    v->n = n;
    ct_dr_strlcpy(v->device, li.name, sizeof v->device);
    ct_tensor *a = NULL, *b = NULL, *c = NULL;
    ct_status st = ct_device_scope_push(ctx, li.name);
    if (st == CT_OK) {
      if ((st = ct_random_uniform(ctx, CT_FLOAT32, shape, 2, -1.0, 1.0, 7, 0, &a)) == CT_OK &&
          (st = ct_random_uniform(ctx, CT_FLOAT32, shape, 2, -1.0, 1.0, 8, 0, &b)) == CT_OK) {
        /* One warm-up (JIT, cuBLAS handles), then timed repetitions. */
        st = ct_matmul(ctx, a, b, false, false, &c);
        int reps = 0;
        double t0 = now_ms(), t1 = t0;
        while (st == CT_OK && (reps < 3 || t1 - t0 < 50.0) && reps < 50) {
          ct_tensor_release(c);
          c = NULL;
          st = ct_matmul(ctx, a, b, false, false, &c);
          if (st == CT_OK) st = ct_tensor_to_host(c, got, sizeof(float) * (size_t)n * n);
          reps++;
          t1 = now_ms();
        }
        if (st == CT_OK && t1 > t0) v->gflops = 2.0 * n * n * (double)n * reps / ((t1 - t0) * 1e6);
        if (st == CT_OK) ct_dr_strlcpy(v->device, ct_tensor_device(c), sizeof v->device);
      }
      ct_device_scope_pop(ctx);
    }
    if (st != CT_OK) snprintf(v->error, sizeof v->error, "%s: %s", ct_status_name(st), ct_last_error());
    ct_tensor_release(a);
    ct_tensor_release(b);
    ct_tensor_release(c);
    if (st != CT_OK) continue;
    if (pass < 0) {
      memcpy(ref, got, sizeof(float) * (size_t)n * n);
      continue;
    }
    double worst = 0.0;
    for (int i = 0; i < n * n; i++) {
      double e = fabs((double)got[i] - (double)ref[i]) / (1.0 + fabs((double)ref[i]));
      if (!(e <= worst)) worst = e; /* NaN propagates */
    }
    v->max_rel_err = isfinite(worst) ? worst : 1e30;
    /* TF32 or a different summation order stays far below 1e-2 here. */
    v->ok = isfinite(worst) && worst < 1e-2;
    if (!v->ok) snprintf(v->error, sizeof v->error, "result differs from CPU:0 (max relative error %.3g)", worst);
  }
  free(ref);
  free(got);
  ct_context_free(ctx);
}

int ct_doctor_main(int argc, char **argv, FILE *out, FILE *err) {
  double t0 = now_ms();
  ct_doctor_report *r = calloc(1, sizeof *r);
  if (!r) {
    fprintf(err, "ctensor doctor: out of memory\n");
    return 1;
  }
  r->opt.color = isatty(fileno(out)) != 0;
  int rc = parse(argc, argv, &r->opt, out, err);
  if (rc >= 0) {
    free(r);
    return rc;
  }
  ct_doctor_probe_env(r);
  ct_doctor_probe_machine(r);
  ct_doctor_probe_driver(r);
  ct_doctor_probe_frameworks(r);
  ct_doctor_probe_libs(r);
  if (!r->opt.no_ctensor) ct_doctor_probe_ctensor(r);
  ct_doctor_verdicts(r);
  if (r->opt.tf_version[0]) ct_doctor_advise(r, &r->advice[0], "tensorflow", r->opt.tf_version);
  if (r->opt.torch_version[0]) ct_doctor_advise(r, &r->advice[1], "torch", r->opt.torch_version);
  if (r->opt.verify) {
    ct_doctor_run_verify(r);
    for (int i = 0; i < r->n_verify; i++)
      if (!r->verify[i].ok && r->exit_code == 0) r->exit_code = 1;
  }
  r->elapsed_ms = now_ms() - t0;
  if (r->opt.json) ct_doctor_print_json(r, out);
  else ct_doctor_print_text(r, out);
  fflush(out);
  rc = r->exit_code;
  free(r);
  return rc;
}
