/*
 * `ctensor doctor` against fixture trees (tests/fixtures/doctor/<tree>, used
 * with --root) and against this machine. Each run captures the output in
 * memory and checks the verdicts, the fixes and the exit code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "testutil.h"

typedef struct {
  int rc;
  char *out;
  char *err;
} run_result;

static char fixture_root[1024];

/* Runs the doctor with the given arguments (argv[0] "doctor" is added). */
static run_result run_args(int n, const char *const *args) {
  char *argv[32];
  argv[0] = (char *)"doctor";
  for (int i = 0; i < n && i < 30; i++) argv[i + 1] = (char *)args[i];
  argv[n + 1] = NULL;
  run_result r = {0, NULL, NULL};
  size_t on = 0, en = 0;
  FILE *out = open_memstream(&r.out, &on);
  FILE *err = open_memstream(&r.err, &en);
  r.rc = ct_doctor_main(n + 1, argv, out, err);
  fclose(out);
  fclose(err);
  return r;
}

static void run_free(run_result *r) {
  free(r->out);
  free(r->err);
}

static const char *tree(const char *name) {
  static char buf[4][1200];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, 1200, "%s/%s", fixture_root, name);
  return b;
}

#define CHECK_HAS(text, needle)                                                                  \
  do {                                                                                           \
    tu_checks++;                                                                                 \
    if (!(text) || !strstr((text), (needle))) {                                                  \
      tu_failures++;                                                                             \
      fprintf(stderr, "%s:%d: [%s] output lacks \"%s\"\n", __FILE__, __LINE__, tu_current, (needle)); \
    }                                                                                            \
  } while (0)
#define CHECK_LACKS(text, needle)                                                                \
  do {                                                                                           \
    tu_checks++;                                                                                 \
    if ((text) && strstr((text), (needle))) {                                                    \
      tu_failures++;                                                                             \
      fprintf(stderr, "%s:%d: [%s] output has \"%s\"\n", __FILE__, __LINE__, tu_current, (needle)); \
    }                                                                                            \
  } while (0)

/* The verdict line (and the lines under it) of `subject`, up to the next
 * verdict; "" if absent. Points into a static buffer. */
static const char *verdict_block(const char *out, const char *subject) {
  static char block[8192];
  block[0] = '\0';
  const char *p = strstr(out, subject);
  if (!p) return block;
  const char *end = p + 1;
  /* next verdict line starts with two spaces and a mark */
  const char *next;
  while ((next = strchr(end, '\n')) != NULL) {
    end = next + 1;
    if (strncmp(end, "  \xe2\x9c", 4) == 0 || strncmp(end, "  \xe2\x97\x8b", 5) == 0 || strncmp(end, "  ?", 3) == 0 ||
        *end == '\n' || *end == '\0')
      break;
  }
  size_t n = (size_t)(end - p);
  if (n >= sizeof block) n = sizeof block - 1;
  memcpy(block, p, n);
  block[n] = '\0';
  return block;
}

TEST(usage_errors) {
  const char *a1[] = {"--bogus"};
  run_result r = run_args(1, a1);
  CHECK_EQ_INT(r.rc, 2);
  CHECK_HAS(r.err, "unknown argument \"--bogus\"");
  CHECK_HAS(r.err, "usage: ctensor doctor");
  run_free(&r);
  const char *a2[] = {"--tf"};
  r = run_args(1, a2);
  CHECK_EQ_INT(r.rc, 2);
  CHECK_HAS(r.err, "--tf needs a value");
  run_free(&r);
  const char *a3[] = {"--tf", "latest"};
  r = run_args(2, a3);
  CHECK_EQ_INT(r.rc, 2);
  CHECK_HAS(r.err, "--tf wants a version like 2.4, got \"latest\"");
  run_free(&r);
  const char *a4[] = {"--root", "/nonexistent/doctor/root"};
  r = run_args(2, a4);
  CHECK_EQ_INT(r.rc, 2);
  CHECK_HAS(r.err, "is not a directory");
  run_free(&r);
  const char *a5[] = {"--help"};
  r = run_args(1, a5);
  CHECK_EQ_INT(r.rc, 0);
  CHECK_HAS(r.out, "--verify");
  CHECK_EQ_STR(r.err, "");
  run_free(&r);
  const char *a6[] = {"--env", "NOEQUALS"};
  r = run_args(2, a6);
  CHECK_EQ_INT(r.rc, 2);
  CHECK_HAS(r.err, "--env wants NAME=VALUE");
  run_free(&r);
}

TEST(no_gpu_tree_is_cpu_by_design) {
  const char *a[] = {"--root", tree("nogpu"), "--no-color"};
  run_result r = run_args(3, a);
  CHECK_EQ_INT(r.rc, 0);
  CHECK(strncmp(r.out, "\xe2\x9c\x93 No NVIDIA GPU on this machine", 31) == 0); /* verdict first */
  const char *tf = verdict_block(r.out, "tensorflow 2.10.0");
  CHECK_HAS(tf, "no NVIDIA GPU on this machine: runs on the CPU");
  CHECK_HAS(tf, "`tensorflow-gpu` is not needed for this version: `tensorflow` includes GPU support");
  /* pip of the interpreter that has the package, not whichever pip is first on PATH */
  CHECK_HAS(tf, "`/usr/bin/python3.10 -m pip uninstall -y tensorflow tensorflow-gpu && /usr/bin/python3.10 -m pip "
                "install tensorflow==2.10.*`");
  CHECK_HAS(tf, "install CUDA 11.2 and cuDNN 8.1");
  CHECK_HAS(tf, "libcudart.so.11.0");
  const char *torch = verdict_block(r.out, "torch 2.1.0+cpu");
  CHECK_HAS(torch, "CPU-only build (+cpu)");
  CHECK_HAS(torch, "--index-url https://download.pytorch.org/whl/cu118");
  const char *tf15 = verdict_block(r.out, "tensorflow 2.15.0");
  CHECK_HAS(tf15, "pip install 'tensorflow[and-cuda]==2.15.0.post1'");
  CHECK_HAS(tf15, "release >=525.60.13");
  const char *jax = verdict_block(r.out, "jaxlib 0.4.23");
  CHECK_HAS(jax, "CPU-only");
  CHECK_HAS(jax, "jax[cuda12]");
  CHECK_HAS(jax, "jax[cuda13]"); /* no driver to choose by: both, with their floors */
  /* a distribution's torch without a version tag: its libraries tell */
  const char *distro = verdict_block(r.out, "torch 1.13.0a0+gitunknown");
  CHECK_HAS(distro, "CPU-only build (torch/lib has no libtorch_cuda.so)");
  CHECK_HAS(distro, "installed by the system package manager");
  CHECK_HAS(distro, "python3 -m venv");
  CHECK_LACKS(distro, "pip uninstall");
  CHECK_LACKS(distro, "wheels support Python");
  run_free(&r);
}

TEST(gpu_tree_verdicts_and_fixes) {
  const char *a[] = {"--root", tree("gpu"), "--no-color", "--no-ctensor"};
  run_result r = run_args(4, a);
  CHECK_EQ_INT(r.rc, 1); /* a GPU exists (fixture), ctensor cannot use it */
  CHECK_HAS(r.out, "kernel module 535.104.05");
  CHECK_HAS(r.out, "/dev/nvidia0");
  const char *tf24 = verdict_block(r.out, "tensorflow 2.4.0");
  CHECK_HAS(tf24, "GPU will not be used: missing libcudart.so.11.0, libcublas.so.11, libcudnn.so.8");
  CHECK_HAS(tf24, "usr/local/cuda-11.0/lib64 to the loader path");
  CHECK_HAS(tf24, "install CUDA 11.0 and cuDNN 8.0");
  CHECK_HAS(tf24, "driver 535.104.05 satisfies >=450.x per TensorFlow's GPU guide for CUDA 11.0 (CUDA 11.0: >=450.51.05)");
  /* a libcudnn.so.8 of another environment is not "installed but needs libcudnn.so.8" */
  CHECK_LACKS(tf24, "but TensorFlow 2.4 needs libcudnn.so.8");
  CHECK_HAS(tf24, "is not where TensorFlow 2.4 looks: it belongs to another environment");
  /* a cuDNN of another environment's CUDA 12 wheels is not offered for TF 2.4 */
  CHECK_LACKS(tf24, "nvidia/cudnn/lib to the loader path");
  const char *stub = verdict_block(r.out, "tensorflow-gpu 2.12.0");
  CHECK_HAS(stub, "is a stub, not TensorFlow");
  CHECK_HAS(stub, "pip uninstall -y tensorflow-gpu");
  CHECK_HAS(stub, "pip install tensorflow==2.12.*");
  const char *cu = verdict_block(r.out, "torch 2.1.2+cu121");
  CHECK_HAS(cu, "CUDA 12.1 build and a driver that runs it");
  CHECK_HAS(cu, "minor-version compatibility >=525.60.13");
  const char *tf15 = verdict_block(r.out, "tensorflow 2.15.0");
  CHECK_HAS(tf15, "GPU support present: CUDA 12.2, cuDNN 8.9");
  CHECK_HAS(tf15, "cuDNN 8.9.4.25 found");
  const char *cpu = verdict_block(r.out, "torch 2.1.0+cpu");
  CHECK_HAS(cpu, "CPU-only build (+cpu)");
  CHECK_HAS(cpu, "`/usr/local/bin/python3.11 -m pip uninstall -y torch && /usr/local/bin/python3.11 -m pip install "
                 "torch==2.1.0 --index-url https://download.pytorch.org/whl/cu118`");
  const char *conda = verdict_block(r.out, "pytorch 2.1.0 (conda env");
  CHECK_HAS(conda, "conda build py3.10_cuda12.1_cudnn8.9.2_0: CUDA 12.1");
  CHECK_HAS(conda, "CUDA 12.1 build and a driver that runs it");
  run_free(&r);
}

TEST(old_driver_and_no_avx) {
  const char *a[] = {"--root", tree("olddrv"), "--no-color", "--no-ctensor"};
  run_result r = run_args(4, a);
  CHECK_EQ_INT(r.rc, 1);
  const char *tf = verdict_block(r.out, "tensorflow 2.15.0");
  CHECK_HAS(tf, "upgrade the NVIDIA driver from 450.80.02 to >=525.60.13");
  CHECK_HAS(tf, "need AVX since TensorFlow 1.6");
  const char *torch = verdict_block(r.out, "torch 2.3.1");
  CHECK_HAS(torch, "CUDA 12.1 build: it depends on nvidia-cuda-runtime-cu12==12.1.105");
  CHECK_HAS(torch, "upgrade the NVIDIA driver from 450.80.02");
  run_free(&r);
}

TEST(advisor_tf_2_4) {
  const char *a[] = {"--tf", "2.4", "--no-color"};
  run_result r = run_args(3, a);
  CHECK(r.rc == 0 || r.rc == 1);
  CHECK_HAS(r.out, "`pip install tensorflow==2.4.*` includes GPU support");
  CHECK_HAS(r.out, "`tensorflow-gpu` is not needed");
  CHECK_HAS(r.out, "CUDA 11.0 (libcudart.so.11.0)");
  CHECK_HAS(r.out, "cuDNN 8.0 (libcudnn.so.8)");
  CHECK_HAS(r.out, "NVIDIA driver >=450.x");
  CHECK_HAS(r.out, "Python 3.6-3.8");
  /* 2.1-2.10: GPU on Linux and Windows; the toolkit's own floor shown once */
  CHECK_HAS(r.out, "includes GPU support (Linux and Windows)");
  CHECK_HAS(r.out, "tensorflow-gpu 2.4 is the same build under another name");
  CHECK_HAS(r.out, "NVIDIA driver >=450.x per TensorFlow's GPU guide for CUDA 11.0 (CUDA 11.0: >=450.51.05)");
  CHECK_LACKS(r.out, "minor-version compatibility >=450.80.02");
  /* On a machine without a driver, the advisor says so. */
  if (access("/proc/driver/nvidia/version", F_OK) != 0) {
    CHECK_HAS(r.out, "missing (no libcuda.so.1");
    CHECK_HAS(r.out, "this machine lacks, for TensorFlow 2.4 on the GPU: ");
    CHECK_HAS(r.out, "the NVIDIA driver >=450.x");
  }
  run_free(&r);
  /* Fixture without a GPU: the GPU and the Python range are checked lines. */
  const char *g[] = {"--tf", "2.4", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, g);
  CHECK_HAS(r.out, "\xe2\x9c\x97 NVIDIA GPU: none on this machine");
  CHECK_HAS(r.out, "\xe2\x9c\x97 Python 3.6-3.8: this machine has 3.10, 3.11 (pip finds no wheel");
  CHECK_HAS(r.out, "an NVIDIA GPU");
  run_free(&r);
  const char *d[] = {"--tf", "2.11", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, d);
  CHECK_HAS(r.out, "includes GPU support on Linux (native Windows: CPU only; use WSL2)");
  CHECK_HAS(r.out, "\xe2\x9c\x93 Python 3.7-3.10: this machine has 3.10");
  run_free(&r);
  const char *e[] = {"--tf", "2.12", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, e);
  CHECK_HAS(r.out, "Do not install `tensorflow-gpu`");
  CHECK_HAS(r.out, "`tensorflow-gpu==2.12.0` is an empty stub whose installation fails");
  CHECK_LACKS(r.out, "`tensorflow-gpu` is not needed (tensorflow-gpu 2.12");
  run_free(&r);
  const char *f[] = {"--tf", "2.22", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, f);
  CHECK_HAS(r.out, "includes GPU support on Linux (?)");
  CHECK_HAS(r.out, "CUDA 12.5? ");
  run_free(&r);
  const char *h[] = {"--tf", "1.15", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, h);
  CHECK_HAS(r.out, "from 1.15.2 the GPU needs `pip install tensorflow-gpu==1.15.*`");
  CHECK_HAS(r.out, "NVIDIA driver >=410.x per TensorFlow's GPU guide for CUDA 10.0 (CUDA 10.0: >=410.48 (no "
                   "minor-version compatibility before CUDA 11))");
  run_free(&r);
  const char *b[] = {"--tf", "2.0", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, b);
  CHECK_HAS(r.out, "`tensorflow` 2.0 is CPU-only: for the GPU `pip install tensorflow-gpu==2.0.*`");
  run_free(&r);
  const char *c[] = {"--tf", "9.9", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, c);
  CHECK_HAS(r.out, "TensorFlow 9.9 is not in the table");
  run_free(&r);
}

/* cuDNN 9 ships one build per CUDA major: one found in a cuda-13.0 tree does
 * not serve a TensorFlow built with CUDA 12. */
TEST(advisor_cudnn_for_another_cuda_major) {
  const char *a[] = {"--tf", "2.18", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  run_result r = run_args(6, a);
  CHECK_HAS(r.out, "cuDNN 9.3 (libcudnn.so.9): wrong build: cuDNN 9.19.0 at ");
  CHECK_HAS(r.out, "cuda-13.0/lib64/libcudnn.so.9 is built for CUDA 13, not CUDA 12");
  CHECK_HAS(r.out, "cuDNN 9.3 (libcudnn.so.9) for CUDA 12");
  CHECK_LACKS(r.out, "\xe2\x9c\x93 cuDNN"); /* no tick for it */
  run_free(&r);
}

TEST(advisor_torch) {
  const char *a[] = {"--torch", "2.4", "--no-color", "--root", tree("gpu"), "--no-ctensor"};
  run_result r = run_args(6, a);
  CHECK_HAS(r.out, "stable CUDA builds: 11.8, 12.1");
  CHECK_HAS(r.out, "--index-url https://download.pytorch.org/whl/cu121");
  CHECK_HAS(r.out, "this machine has 535.104.05");
  CHECK_HAS(r.out, "this machine has everything PyTorch 2.4 needs for the GPU");
  run_free(&r);
  /* Before 2.0 pytorch.org serves CUDA builds with --extra-index-url. */
  const char *b[] = {"--torch", "1.13", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, b);
  CHECK_HAS(r.out, "`pip install 'torch==1.13.*' --extra-index-url https://download.pytorch.org/whl/cu116`");
  CHECK_HAS(r.out, "only the NVIDIA driver comes from the system");
  CHECK_HAS(r.out, "this machine lacks, for PyTorch 1.13 on the GPU: the NVIDIA driver >=450.80.02; an NVIDIA GPU");
  run_free(&r);
  const char *c[] = {"--torch", "2.11", "--no-color", "--root", tree("nogpu"), "--no-ctensor"};
  r = run_args(6, c);
  CHECK_HAS(r.out, "Python >=3.10, <=3.14 (?)");
  CHECK_HAS(r.out, "cuDNN bundled with the CUDA 13.0 build: 9.17.1.4 (?)");
  CHECK_HAS(r.out, "NVIDIA driver >=580.65.06 (CUDA 13.0: >=580.65.06)");
  run_free(&r);
}

/* A tiny JSON checker: the output must parse, and the keys must be there. */
static const char *json_value(const char *p);
static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  return p;
}
static const char *json_string(const char *p) {
  if (*p != '"') return NULL;
  for (p++; *p && *p != '"'; p++)
    if (*p == '\\') {
      p++;
      if (!*p) return NULL;
    }
  return *p == '"' ? p + 1 : NULL;
}
static const char *json_value(const char *p) {
  p = ws(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = json_string(ws(p));
        if (!p) return NULL;
        p = ws(p);
        if (*p != ':') return NULL;
        p++;
      }
      p = json_value(p);
      if (!p) return NULL;
      p = ws(p);
      if (*p == ',') {
        p++;
        continue;
      }
      return *p == close ? p + 1 : NULL;
    }
  }
  if (*p == '"') return json_string(p);
  if (strncmp(p, "true", 4) == 0) return p + 4;
  if (strncmp(p, "false", 5) == 0) return p + 5;
  if (strncmp(p, "null", 4) == 0) return p + 4;
  char *end;
  strtod(p, &end);
  return end == p ? NULL : end;
}

TEST(json_report) {
  const char *a[] = {"--json", "--root", tree("gpu"), "--tf", "2.4", "--no-ctensor"};
  run_result r = run_args(6, a);
  CHECK_EQ_INT(r.rc, 1);
  const char *end = json_value(r.out);
  CHECK(end != NULL && *ws(end) == '\0');
  CHECK_HAS(r.out, "\"schema\": \"ctensor-doctor\", \"schema_version\": 2");
  static const char *const keys[] = {"\"exit_code\": 1", "\"headline\"", "\"ctensor\"", "\"machine\"", "\"driver\"",
                                     "\"kernel_module_version\": \"535.104.05\"", "\"libraries\"",
                                     "\"python_environments\"", "\"verdicts\"", "\"environment\"", "\"advice\"",
                                     "\"verify\"", "\"state\": \"no_gpu_fixable\"", "\"fixes\"", "\"satisfied\""};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CHECK_HAS(r.out, keys[i]);
  CHECK_LACKS(r.out, "\033[");
  run_free(&r);
}

/* This machine: the report must end up with a verdict for ctensor and take
 * well under a second (it is CPU-only in CI; a GPU machine is fine too). */
TEST(this_machine) {
  const char *a[] = {"--no-color"};
  run_result r = run_args(1, a);
  CHECK(r.rc == 0 || r.rc == 1);
  CHECK_HAS(r.out, "Verdicts");
  CHECK_HAS(r.out, "ctensor");
  CHECK_HAS(r.out, "CUDA libraries");
  CHECK_LACKS(r.out, "\033["); /* not a terminal: no colour */
  if (access("/proc/driver/nvidia/version", F_OK) != 0 && access("/dev/nvidia0", F_OK) != 0) {
    CHECK_EQ_INT(r.rc, 0);
    CHECK_HAS(r.out, "No NVIDIA GPU on this machine: ctensor runs on /job:localhost/replica:0/task:0/device:CPU:0");
    CHECK_HAS(r.out, "NO_DRIVER_LIBRARY");
  }
  const char *took = strstr(r.out, "doctor took ");
  CHECK(took != NULL);
  run_free(&r);
}

/* The toolkit's stub as libcuda.so.1 on LD_LIBRARY_PATH is recognised by
 * cuInit's CUDA_ERROR_STUB_LIBRARY, and a stubs directory on the path is
 * named in a fix. Skipped where no CUDA toolkit stub exists. */
TEST(stub_driver) {
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub, R_OK) != 0) {
    printf("     (skipped: no %s)\n", stub);
    return;
  }
  char dir[] = "/tmp/ct_doctor_stub_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char link[256], env[300];
  snprintf(link, sizeof link, "%s/libcuda.so.1", dir);
  CHECK(symlink(stub, link) == 0);
  snprintf(env, sizeof env, "LD_LIBRARY_PATH=%s:/usr/local/cuda/lib64/stubs", dir);
  const char *a[] = {"--env", env, "--no-color", "--no-pythons", "--no-ctensor"};
  run_result r = run_args(5, a);
  CHECK_HAS(r.out, "the CUDA toolkit's STUB, not a driver");
  CHECK_HAS(r.out, "cuInit: 34 (CUDA_ERROR_STUB_LIBRARY)");
  CHECK_HAS(r.out, "LD_LIBRARY_PATH holds a stubs directory: /usr/local/cuda/lib64/stubs");
  run_free(&r);
  unlink(link);
  rmdir(dir);
}

TEST(tables) {
  const ct_tf_compat *t = ct_doctor_tf_lookup("2.4.1");
  CHECK(t != NULL);
  if (t) {
    CHECK_EQ_STR(t->cuda, "11.0");
    CHECK_EQ_STR(t->cudnn, "8.0");
    CHECK_EQ_INT(t->gpu_in_main_pkg, 1);
  }
  CHECK(ct_doctor_tf_lookup("2.40") == NULL);
  const ct_cuda_driver_row *d = ct_doctor_cuda_driver_lookup("11.0");
  CHECK(d != NULL && strcmp(d->linux_min, ">=450.51.05") == 0);
  CHECK(ct_dr_vercmp("450.80.02", "450.80.02") == 0);
  CHECK(ct_dr_vercmp("450.51.05", "450.80.02") < 0);
  CHECK(ct_dr_vercmp("535.104.05", "525.60.13") > 0);
  CHECK(ct_dr_vercmp("450", "450.x") == 0);
  const ct_torch_compat *p = ct_doctor_torch_lookup("2.1.0+cpu");
  CHECK(p != NULL && strcmp(p->stable_cuda, "11.8") == 0);
  /* The driver floor: the stricter of the TF docs line and what the toolkit
   * itself needs (CUDA 11.0 GA: 450.51.05, below its minor-compat 450.80.02). */
  char floor[32];
  ct_doctor_driver_floor("11.0", ">=450.x", floor, sizeof floor);
  CHECK_EQ_STR(floor, "450.51.05");
  ct_doctor_driver_floor("11.2", ">=450.80.02", floor, sizeof floor);
  CHECK_EQ_STR(floor, "450.80.02");
  ct_doctor_driver_floor("12.2", NULL, floor, sizeof floor);
  CHECK_EQ_STR(floor, "525.60.13");
  ct_doctor_driver_floor("10.0", ">=410.x", floor, sizeof floor);
  CHECK_EQ_STR(floor, "410.48");
  ct_doctor_driver_floor("13.0", NULL, floor, sizeof floor);
  CHECK_EQ_STR(floor, "580.65.06");
  char text[256];
  ct_doctor_driver_table_text("11.0", text, sizeof text);
  CHECK_EQ_STR(text, "CUDA 11.0: >=450.51.05"); /* no minor-compat clause above the toolkit's own need */
  ct_doctor_driver_table_text("12.1", text, sizeof text);
  CHECK_EQ_STR(text, "CUDA 12.1: >=530.30.02 for every feature, minor-version compatibility >=525.60.13");
  ct_doctor_driver_table_text("10.1", text, sizeof text);
  CHECK_EQ_STR(text, "CUDA 10.1: >=418.39 (no minor-version compatibility before CUDA 11)");
  /* compat.tsv's '?' stays visible */
  const ct_tf_compat *t22 = ct_doctor_tf_lookup("2.22.0rc0");
  CHECK(t22 != NULL && t22->gpu_uncertain && strchr(t22->cuda, '?') != NULL);
  const ct_tf_compat *t11 = ct_doctor_tf_lookup("2.11");
  CHECK(t11 != NULL && strstr(t11->gpu_pkg, "Linux only?") != NULL);
  const ct_tf_compat *t13 = ct_doctor_tf_lookup("2.13");
  CHECK(t13 != NULL && t13->kernels && strstr(t13->kernels, "(as 2.12?)") != NULL);
  CHECK(!ct_doctor_tf_lookup("2.4")->gpu_uncertain);
  const ct_torch_compat *p11 = ct_doctor_torch_lookup("2.11");
  CHECK(p11 != NULL && p11->uncertain);
  CHECK_EQ_INT(ct_doctor_cuda_covers_sm("12.9", 103), 1);
  CHECK_EQ_INT(ct_doctor_cuda_covers_sm("12.8", 103), 0);
  CHECK_EQ_INT(ct_doctor_cuda_covers_sm("13.0", 61), 0);
  CHECK_EQ_INT(ct_doctor_cuda_covers_sm("13.0", 120), 1);
  CHECK_EQ_INT(ct_doctor_cuda_covers_sm("9.1", 72), 1);
  CHECK_EQ_STR(ct_doctor_jax_pick("580.65.06")->extra, "jax[cuda13]");
  CHECK_EQ_STR(ct_doctor_jax_pick("575.51.03")->extra, "jax[cuda12]");
  char spec[64];
  ct_doctor_tf_and_cuda_spec("2.16", spec, sizeof spec);
  CHECK_EQ_STR(spec, "tensorflow[and-cuda]==2.16.*");
  CHECK(ct_doctor_tf_broken_pin("2.14", "3.10") == NULL);
  CHECK(ct_doctor_tf_broken_pin("2.14", "3.11") != NULL);
  const ct_torch_compat *p10 = ct_doctor_torch_lookup("2.10");
  CHECK(p10 != NULL && !p10->uncertain && strcmp(p10->stable_cuda, "12.6, 12.8") == 0);
}


/* The facts an audit against primary sources corrected: one check each,
 * through the output a user reads. drv450 has a driver (450.57) between
 * CUDA 11.0's own floor (450.51.05) and the 11.x minor-version floor
 * (450.80.02); drv580 a CUDA 13 era driver and only Python 3.13. */
TEST(corrected_facts) {
  const char *a[] = {"--root", tree("drv450"), "--no-color", "--no-ctensor"};
  run_result r = run_args(4, a);
  /* 1. JAX for CUDA 11 needs 450.80.02, not CUDA 11.0's 450.51.05. */
  CHECK_HAS(verdict_block(r.out, "jaxlib 0.4.14+cuda11"),
            "upgrade the NVIDIA driver from 450.57 to >=450.80.02 (JAX for CUDA 11");
  /* 2. The JAX extra follows the driver: older than 580 -> jax[cuda12]. */
  CHECK_HAS(verdict_block(r.out, "jaxlib 0.4.26"), "pip install -U \"jax[cuda12]\"` (driver 450.57 is older than its >=525.60.13");
  /* 3. PyTorch 1.12 also shipped CUDA 10.2 builds, which this driver runs. */
  CHECK_HAS(verdict_block(r.out, "torch 1.12.1+cpu"), "--extra-index-url https://download.pytorch.org/whl/cu102`");
  /* 4. PyTorch 2.2 on Python 3.12: experimental, not "no wheel". */
  CHECK_HAS(verdict_block(r.out, "torch 2.2.2+cpu"), "PyTorch 2.2 supports Python 3.12 as experimental");
  CHECK_LACKS(verdict_block(r.out, "torch 2.2.2+cpu"), "wheels support Python");
  /* 6. CUDA 9.1 already targets sm_72 (not confirmed by NVIDIA: '?'). */
  CHECK_HAS(r.out, "CUDA 9.1 targets sm_30-sm_72?");
  run_free(&r);

  const char *b[] = {"--root", tree("drv580"), "--no-color", "--no-ctensor", "--torch", "2.5"};
  r = run_args(6, b);
  /* 2. A driver >= 580 gets jax[cuda13], JAX's recommendation. */
  CHECK_HAS(verdict_block(r.out, "jaxlib 0.7.2"), "pip install -U \"jax[cuda13]\"` (driver 580.65.06 meets its >=580");
  /* 4. PyTorch 2.5 on Python 3.13: experimental, installable. */
  CHECK_HAS(r.out, "\xe2\x9c\x93 Python >=3.9, <=3.12 (3.13 experimental): this machine has 3.13 (wheels exist for "
                   "Python 3.13; its support is experimental)");
  run_free(&r);

  /* 5. The cuDNN named is the one of the CUDA build at hand: 2.1's cu121
   * build bundles 8.9.2.26, not the stable cu118 build's 8.7.0.84. */
  const char *c[] = {"--root", tree("gpu"), "--no-color", "--no-ctensor"};
  r = run_args(4, c);
  CHECK_HAS(verdict_block(r.out, "torch 2.1.2+cu121"), "PyTorch 2.1's CUDA 12.1 build bundles cuDNN 8.9.2.26");
  run_free(&r);

  const char *d[] = {"--root", tree("nogpu"), "--no-color", "--no-ctensor", "--tf", "2.15", "--sources"};
  r = run_args(7, d);
  /* 7. TF 2.15's 525.60.13 is NVIDIA's CUDA 12 floor, not what TF's docs of
   * that release said; the source says so. */
  CHECK_HAS(r.out, "NVIDIA driver >=525.60.13 per NVIDIA's CUDA 12.x minor-version-compatibility floor (CUDA 12.2:");
  CHECK_HAS(r.out, "pip.md still said '450.80.02 or higher' when 2.15 and 2.16 were released");
  /* 8. The and-cuda pin names a release whose extra installs. */
  CHECK_HAS(r.out, "`pip install 'tensorflow[and-cuda]==2.15.0.post1'` also installs CUDA and cuDNN");
  CHECK_LACKS(r.out, "tensorflow[and-cuda]==2.15.*");
  run_free(&r);
  const char *e[] = {"--root", tree("nogpu"), "--no-color", "--no-ctensor", "--tf", "2.14"};
  r = run_args(6, e);
  /* 8. 2.14's extra does not install on Python 3.11, which this tree has. */
  CHECK_HAS(r.out, "\xe2\x9c\x97 on Python 3.11 (this machine has it) the and-cuda extra of TensorFlow 2.14 does not "
                   "install: the and-cuda extra of 2.14 pins tensorrt==8.5.3.1");
  run_free(&r);
}

/* Every requirement printed can be traced to a source: --sources in the
 * text, "source"/"sources" in the JSON; every table row carries one. */
TEST(sources) {
  const char *a[] = {"--root", tree("gpu"), "--no-color", "--no-ctensor", "--sources"};
  run_result r = run_args(5, a);
  const char *tf24 = verdict_block(r.out, "tensorflow 2.4.0");
  CHECK_HAS(tf24, "source of \"TensorFlow 2.4 driver >=450.x (TensorFlow's GPU guide for CUDA 11.0)\": TensorFlow's "
                  "GPU install guide (tensorflow/docs site/en/install/gpu.md) of 2.4");
  CHECK_HAS(tf24, "source of \"CUDA 11.0 driver: >=450.51.05, minor-version compatibility >=450.80.02\": NVIDIA CUDA "
                  "Toolkit Release Notes, Table 3");
  CHECK_HAS(tf24, "source of \"TensorFlow 2.4: Python 3.6-3.8, CUDA 11.0, cuDNN 8.0\": "
                  "tensorflow.org/install/source#gpu");
  CHECK_LACKS(r.out, "../shared"); /* no path outside the project */
  run_free(&r);
  const char *b[] = {"--root", tree("gpu"), "--no-color", "--no-ctensor"};
  r = run_args(4, b);
  CHECK_LACKS(r.out, "source of \""); /* only when asked */
  run_free(&r);
  const char *c[] = {"--json", "--root", tree("drv450"), "--torch", "1.12", "--no-ctensor"};
  r = run_args(6, c);
  const char *end = json_value(r.out);
  CHECK(end != NULL && *ws(end) == '\0');
  CHECK_HAS(r.out, "\"summary_source\": \"pytorch/pytorch RELEASE.md, 'Release Compatibility Matrix', 1.12");
  CHECK_HAS(r.out, "pytorch.org/get-started/previous-versions, v1.12.0 and v1.12.1: also +cu102 wheels");
  CHECK_HAS(r.out, "\"sources\": [{\"fact\": \"JAX for CUDA 11: driver >=450.80.02\", \"source\": \"JAX installation guide");
  /* every requirement has a "source" key, right before "satisfied" */
  int reqs = 0, srcs = 0;
  for (const char *p = r.out; (p = strstr(p, "{\"text\": ")) != NULL; p++) reqs++;
  for (const char *p = r.out; (p = strstr(p, "\"source\": ")) != NULL; p++) srcs++;
  CHECK(reqs > 0 && srcs >= reqs);
  run_free(&r);
  int n;
  const ct_tf_compat *t = ct_doctor_tf_table(&n);
  for (int i = 0; i < n; i++) {
    CHECK(t[i].source && t[i].source[0] && t[i].driver_source && t[i].driver_origin);
    CHECK(!t[i].kernels || t[i].kernels_source);
    /* the source restates the row's CUDA and cuDNN: a transcription check */
    char want[32];
    snprintf(want, sizeof want, "CUDA %s", t[i].cuda);
    if (!strchr(t[i].cuda, '?')) CHECK_HAS(t[i].source, want);
    snprintf(want, sizeof want, "cuDNN %s", t[i].cudnn);
    if (!strchr(t[i].cudnn, '?')) CHECK_HAS(t[i].source, want);
  }
  const ct_torch_compat *p = ct_doctor_torch_table(&n);
  for (int i = 0; i < n; i++) {
    CHECK(p[i].source && strstr(p[i].source, p[i].python) != NULL);
    CHECK(!p[i].also_cuda[0] || p[i].also_source);
    for (int k = 0; k < 4 && p[i].cudnn[k].cuda; k++)
      if (strcmp(p[i].cudnn[k].cudnn, "?") != 0) CHECK_HAS(p[i].source, p[i].cudnn[k].cudnn);
  }
  static const char *const cudas[] = {"9.0", "9.1", "10.2", "11.0", "11.8", "12.0", "12.9", "13.0", "13.5"};
  for (size_t i = 0; i < sizeof cudas / sizeof cudas[0]; i++) {
    const ct_cuda_driver_row *row = ct_doctor_cuda_driver_lookup(cudas[i]);
    CHECK(row && row->source && row->source[0] && row->sm_source && row->sm_source[0]);
  }
}

int main(void) {
  const char *src = getenv("CT_SOURCE_DIR");
  snprintf(fixture_root, sizeof fixture_root, "%s/tests/fixtures/doctor", src ? src : ".");
  RUN(usage_errors);
  RUN(tables);
  RUN(no_gpu_tree_is_cpu_by_design);
  RUN(gpu_tree_verdicts_and_fixes);
  RUN(old_driver_and_no_avx);
  RUN(advisor_tf_2_4);
  RUN(advisor_cudnn_for_another_cuda_major);
  RUN(advisor_torch);
  RUN(json_report);
  RUN(corrected_facts);
  RUN(sources);
  RUN(this_machine);
  RUN(stub_driver);
  TEST_MAIN_END();
}
