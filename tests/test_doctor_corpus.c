/*
 * The corpus: tests/fixtures/doctor/<situation>, each a machine from a
 * public report (its README names the report), run with the arguments in
 * its doctor-args file ("@setenv NAME=VALUE" lines set the process
 * environment, "%ROOT%" stands for the fixture's path). For each the
 * expected verdict of the framework the report is about: its mark, and
 * what its reason and fixes must (and must not) say. The score is printed
 * and quoted in docs/doctor.md; a machine marked `gap` is one the doctor
 * does not yet get fully right, counted against the score but not failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor.h"
#include "testutil.h"

typedef struct {
  const char *fixture;
  const char *verdict;    /* the verdict line starts with "  <mark> <verdict>" */
  const char *has[3];     /* in that verdict's block */
  const char *lacks;      /* nowhere in the report */
  bool gap;
} expectation;

#define X "\xe2\x9c\x97 " /* ✗ */
#define Q "? "

static const expectation machines[] = {
    {"cvd-minus-one-hides-gpu", X "torch 2.1.2+cu121",
     {"GPU will not be used: CUDA_VISIBLE_DEVICES=\"-1\" hides every GPU", "`unset CUDA_VISIBLE_DEVICES` (now \"-1\")"}, NULL, false},
    {"cvd-empty-from-unset-shell-variable", X "tensorflow 2.16.1",
     {"CUDA_VISIBLE_DEVICES is set to the empty string", "`unset CUDA_VISIBLE_DEVICES` (now \"\")"}, NULL, false},
    {"cvd-index-of-missing-gpu", X "torch 1.13.1+cu117",
     {"\"1\" names GPU 1, but the driver has one GPU (index 0)", "indices 0"}, NULL, false},
    {"nvidia-visible-devices-void-container", X "torch 2.3.1+cu121",
     {"NVIDIA_VISIBLE_DEVICES=\"void\"", "start the container with NVIDIA_VISIBLE_DEVICES=all"}, "No NVIDIA GPU", false},
    {"nvidia-visible-devices-none-k8s", X "jaxlib 0.4.30",
     {"NVIDIA_VISIBLE_DEVICES=\"none\"", "NVIDIA_VISIBLE_DEVICES=all"}, "No NVIDIA GPU", false},
    {"driver-library-mismatch-after-unattended-upgrade", X "torch 1.8.1+cu111",
     {"kernel module is driver 460.56", "error 803", "(now 460.56 and 460.73.01)"}, NULL, false},
    {"error-803-open-kernel-module-p2p-build", X "tensorflow 2.18.0",
     {"kernel module is driver 570.124.06", "is driver 570.124.04", "reboot"}, NULL, false},
    {"error-803-conda-pytorch-after-driver-update", X "pytorch 1.11.0",
     {"kernel module is driver 515.65.01", "(now 515.65.01 and 520.61.05)"}, NULL, false},
    {"nouveau-owns-gpu-no-nvidia-module", X "tensorflow-gpu 1.14.0",
     {"nouveau driver drives the NVIDIA GPU", "blacklist nouveau"}, "No NVIDIA GPU", false},
    {"secure-boot-rejects-nvidia-module", X "torch 2.1.2+cu121",
     {"Secure Boot is on", "mokutil --sb-state", "Key was rejected by service"}, NULL, false},
    {"module-not-loaded-after-kernel-update", X "torch 2.0.1+cu118",
     {"installed", "but not loaded", "`sudo modprobe nvidia`"}, NULL, false},
    {"wsl2-windows-driver-torch", Q "torch 2.2.2+cu121",
     {"release is unknown (WSL2", "find the driver release with `nvidia-smi`"}, "install the NVIDIA driver", false},
    {"wsl2-tf-2.16-with-cuda-11.8-toolkit", X "tensorflow 2.16.1",
     {"missing libcudart.so.12", "tensorflow[and-cuda]==2.16.*"}, "install the NVIDIA driver", false},
    {"wsl2-linux-driver-inside-wsl", X "torch 2.5.1+cu124",
     {"loader finds a Linux driver's libcuda.so.1 first", "uninstall the Linux NVIDIA driver packages inside WSL"}, NULL, false},
    {"wsl2-old-windows-driver-no-libcuda", X "tensorflow 2.4.0",
     {"install or update it on Windows", "do not install a Linux driver inside WSL"}, "install the NVIDIA driver, release", false},
    {"docker-run-without-gpus-flag", X "torch 2.0.1+cu118",
     {"started without `--gpus`", "docker run --gpus all"}, "No NVIDIA GPU", false},
    {"docker-devices-passed-by-hand", X "torch 1.13.1+cu117",
     {"no /dev/nvidia-uvm and libcuda.so.1", "docker run --gpus all"}, NULL, false},
    {"podman-container-missing-nvidia-uvm", X "torch 2.1.2+cu121",
     {"podman container has GPU device nodes but no /dev/nvidia-uvm", "nvidia.com/gpu=all"}, NULL, false},
    {"tf-2.16-pip-without-and-cuda", X "tensorflow 2.16.1",
     {"missing libcudart.so.12, libcublas.so.12, libcudnn.so.8", "pip install 'tensorflow[and-cuda]==2.16.*'"}, NULL, false},
    {"tensorflow-and-tensorflow-cpu-both-installed", X "tensorflow 2.13.1",
     {"both installed", "pip uninstall -y tensorflow tensorflow-cpu"}, NULL, false},
    {"cudnn-older-minor-than-tf-built-with", X "tensorflow 2.6.0", {"cuDNN >= 8.1 (found 8.0.4)", "cuDNN 8.1"}, NULL, false},
    {"cudnn-9.1-under-tf-2.18", X "tensorflow 2.18.0", {"cuDNN >= 9.3 (found 9.1.0)", "tensorflow[and-cuda]==2.18.*"}, NULL, false},
    {"torch-cu121-on-cuda-11.4-driver", X "torch 2.1.1+cu121",
     {"have 470.86", "upgrade the NVIDIA driver from 470.86 to >=525.60.13"}, NULL, false},
    {"torch-cuda12-wheel-on-510-driver", X "torch 2.4.1",
     {"depends on nvidia-cuda-runtime-cu12", "upgrade the NVIDIA driver from 510.47.03"}, NULL, false},
    {"conda-pytorch-cpu-build-with-cudatoolkit", X "pytorch 1.9.0", {"CPU-only build (conda build py3.8_cpu_0)"}, NULL, false},
    {"conda-pytorch-cpuonly-requested-cuda", X "pytorch 1.4.0", {"CPU-only build (conda build py3.7_cpu_0)"}, NULL, false},
    {"conda-forge-jaxlib-cpu-build", X "jaxlib 0.4.31", {"CPU-only", "pip install -U \"jax[cuda12]\""}, NULL, false},
    /* The verdict is right; the fix should say to put the pip cuDNN before
     * $CONDA_PREFIX/lib on LD_LIBRARY_PATH, and does not yet. */
    {"conda-cudnn-8.1-before-pip-cudnn-8.6-on-ld-path", X "tensorflow 2.12.0",
     {"cuDNN >= 8.6 (found 8.1.0)", "nvidia/cudnn/lib before"}, NULL, true},
    {"toolkit-stub-first-on-ld-library-path", X "torch 2.0.1+cu118",
     {"the CUDA toolkit's stub", "remove /opt/cuda-12.1/lib64/stubs from LD_LIBRARY_PATH"}, "install the NVIDIA driver", false},
    {"tf-2.14-and-cuda-on-python-3.11", X "tensorflow 2.14.0", {"does not install on Python 3.11", "tensorrt==8.5.3.1"}, NULL, false},
    {"tf-2.12-cuda-11.8-hand-installed-no-cudnn", X "tensorflow 2.12.0", {"missing libcudnn.so.8", "cuDNN 8.6"}, NULL, false},
};

static char fixtures[1024];

/* The report for one fixture, with its doctor-args. */
static char *run_fixture(const char *name, int *rc) {
  char root[1200], path[1300];
  snprintf(root, sizeof root, "%s/%s", fixtures, name);
  char *argv[40] = {(char *)"doctor", (char *)"--no-color", (char *)"--no-ctensor", (char *)"--root", root};
  int argc = 5;
  static char store[24][1400];
  char setenvs[4][256];
  int n_store = 0, n_set = 0;
  snprintf(path, sizeof path, "%s/doctor-args", root);
  FILE *f = fopen(path, "r");
  char line[512];
  while (f && fgets(line, sizeof line, f) && argc < 38 && n_store < 24) {
    line[strcspn(line, "\n")] = '\0';
    if (!line[0]) continue;
    if (strncmp(line, "@setenv ", 8) == 0 && n_set < 4) {
      snprintf(setenvs[n_set], sizeof setenvs[0], "%s", line + 8);
      char *eq = strchr(setenvs[n_set], '=');
      if (eq) {
        *eq = '\0';
        setenv(setenvs[n_set], eq + 1, 1);
        n_set++;
      }
      continue;
    }
    const char *r = strstr(line, "%ROOT%");
    if (r) snprintf(store[n_store], sizeof store[0], "%.*s%s%s", (int)(r - line), line, root, r + 6);
    else snprintf(store[n_store], sizeof store[0], "%s", line);
    argv[argc++] = store[n_store++];
  }
  if (f) fclose(f);
  char *out = NULL, *err = NULL;
  size_t on = 0, en = 0;
  FILE *o = open_memstream(&out, &on), *e = open_memstream(&err, &en);
  *rc = ct_doctor_main(argc, argv, o, e);
  fclose(o);
  fclose(e);
  free(err);
  for (int i = 0; i < n_set; i++) unsetenv(setenvs[i]);
  return out;
}

/* From the verdict line to the next line that starts a verdict or section. */
static void verdict_block(const char *out, const char *start, char *block, size_t size) {
  block[0] = '\0';
  char key[256];
  snprintf(key, sizeof key, "\n  %s", start);
  const char *p = strstr(out, key);
  if (!p) return;
  p++;
  const char *end = p;
  while ((end = strchr(end + 1, '\n')) != NULL)
    if (strncmp(end + 1, "      ", 6) != 0) break;
  size_t n = end ? (size_t)(end - p) : strlen(p);
  if (n >= size) n = size - 1;
  memcpy(block, p, n);
  block[n] = '\0';
}

TEST(corpus) {
  int n = (int)(sizeof machines / sizeof machines[0]), right = 0, gaps = 0;
  CHECK(n >= 30);
  for (int i = 0; i < n; i++) {
    const expectation *x = &machines[i];
    int rc;
    char *out = run_fixture(x->fixture, &rc);
    static char block[16384];
    verdict_block(out ? out : "", x->verdict, block, sizeof block);
    bool ok = block[0] != '\0' && rc == 1;
    for (int k = 0; k < 3 && x->has[k]; k++)
      if (!strstr(block, x->has[k])) {
        ok = false;
        if (!x->gap) fprintf(stderr, "[%s] the verdict \"%s\" lacks \"%s\"\n", x->fixture, x->verdict, x->has[k]);
      }
    if (x->lacks && out && strstr(out, x->lacks)) {
      ok = false;
      if (!x->gap) fprintf(stderr, "[%s] the report says \"%s\"\n", x->fixture, x->lacks);
    }
    if (!block[0]) fprintf(stderr, "[%s] no verdict line \"%s\"\n", x->fixture, x->verdict);
    if (ok) right++;
    if (x->gap) gaps++;
    else CHECK(ok);
    tu_checks++;
    free(out);
  }
  printf("     corpus score: %d of %d machines right (verdict, reason and fixes); %d known gap%s\n", right, n, gaps,
         gaps == 1 ? "" : "s");
}

/* Every corpus machine says which public report it reproduces. */
TEST(readmes) {
  for (size_t i = 0; i < sizeof machines / sizeof machines[0]; i++) {
    char path[1300], text[1024] = "";
    snprintf(path, sizeof path, "%s/%s/README", fixtures, machines[i].fixture);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) continue;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    CHECK(strstr(text, "Reproduces: https://github.com/") != NULL);
  }
}

int main(void) {
  const char *src = getenv("CT_SOURCE_DIR");
  snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/doctor", src ? src : ".");
  RUN(corpus);
  RUN(readmes);
  TEST_MAIN_END();
}
