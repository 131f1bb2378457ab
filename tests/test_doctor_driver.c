/*
 * The doctor's verdicts for each driver failure, with the fake libcuda.so.1
 * of tests/fake_cuda (CT_CUDA_DRIVER_PATH points ctensor's loader and the
 * doctor's own probe at it). Hardware evidence (/proc/driver/nvidia, the
 * /dev/nvidia* nodes) comes from the fixture tree tests/fixtures/doctor/gpu,
 * so that "GPU present but unusable" verdicts and their fixes are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "testutil.h"

static char fake[1024], gpu_root[1024];

static int run(const char **args, int n, char **out_text) {
  char *argv[16];
  argv[0] = (char *)"doctor";
  for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
  size_t on = 0, en = 0;
  char *err_text = NULL;
  FILE *out = open_memstream(out_text, &on);
  FILE *err = open_memstream(&err_text, &en);
  int rc = ct_doctor_main(n + 1, argv, out, err);
  fclose(out);
  fclose(err);
  free(err_text);
  return rc;
}

static void reset_env(void) {
  static const char *const vars[] = {"CT_FAKE_CUDA_STUB", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_DEVICES",
                                     "CT_FAKE_CUDA_CC", "CT_FAKE_CUDA_NAMES", "CUDA_VISIBLE_DEVICES"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake, 1);
}

#define CHECK_HAS(text, needle)                                                                      \
  do {                                                                                               \
    tu_checks++;                                                                                     \
    if (!(text) || !strstr((text), (needle))) {                                                      \
      tu_failures++;                                                                                 \
      fprintf(stderr, "%s:%d: [%s] output lacks \"%s\"\n%s\n", __FILE__, __LINE__, tu_current, (needle), \
              (text) ? (text) : "");                                                                 \
    }                                                                                                \
  } while (0)

TEST(usable_fake_gpu) {
  reset_env();
  setenv("CT_FAKE_CUDA_NAMES", "Fake Doctor GPU", 1);
  const char *a[] = {"--no-color", "--no-pythons"};
  char *out = NULL;
  int rc = run(a, 2, &out);
  CHECK_EQ_INT(rc, 0);
  CHECK_HAS(out, "GPU usable: ctensor runs ops on /job:localhost/replica:0/task:0/device:GPU:0 (Fake Doctor GPU)");
  CHECK_HAS(out, "cuInit: 0 (CUDA_SUCCESS)");
  free(out);
}

TEST(init_failure_803) {
  reset_env();
  setenv("CT_FAKE_CUDA_INIT_ERROR", "803", 1);
  const char *a[] = {"--no-color", "--no-pythons", "--root", gpu_root};
  char *out = NULL;
  int rc = run(a, 4, &out);
  CHECK_EQ_INT(rc, 1);
  CHECK_HAS(out, "NVIDIA GPU present but not usable: DRIVER_INIT_FAILED");
  CHECK_HAS(out, "cuInit: 803 (CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)");
  /* a machine-wide blocker: every framework's verdict carries it */
  CHECK_HAS(out, "[driver_mismatch] the loaded kernel module is driver 535.104.05");
  CHECK_HAS(out, "reboot, so that the kernel loads the module of the driver the update installed");
  CHECK_HAS(out, "torch 2.1.2+cu121 (/usr/bin/python3.10, Python 3.10): GPU will not be used: the loaded kernel "
                 "module is driver 535.104.05");
  free(out);
}

TEST(init_failure_999) {
  reset_env();
  setenv("CT_FAKE_CUDA_INIT_ERROR", "999", 1);
  const char *a[] = {"--no-color", "--no-pythons", "--root", gpu_root};
  char *out = NULL;
  int rc = run(a, 4, &out);
  CHECK_EQ_INT(rc, 1);
  CHECK_HAS(out, "DRIVER_INIT_FAILED");
  CHECK_HAS(out, "sudo modprobe nvidia-uvm");
  CHECK_HAS(out, "[cuinit_unknown_error] cuInit fails with 999");
  CHECK_HAS(out, "`sudo nvidia-modprobe -u -c=0`");
  free(out);
}

TEST(stub_driver) {
  reset_env();
  setenv("CT_FAKE_CUDA_STUB", "1", 1);
  const char *a[] = {"--no-color", "--no-pythons", "--root", gpu_root};
  char *out = NULL;
  int rc = run(a, 4, &out);
  CHECK_EQ_INT(rc, 1);
  CHECK_HAS(out, "DRIVER_IS_STUB");
  CHECK_HAS(out, "the CUDA toolkit's STUB, not a driver");
  CHECK_HAS(out, "is the driver's, not the toolkit's stub");
  free(out);
}

TEST(hidden_by_cuda_visible_devices) {
  reset_env();
  setenv("CUDA_VISIBLE_DEVICES", "-1", 1);
  const char *a[] = {"--no-color", "--no-pythons", "--root", gpu_root};
  char *out = NULL;
  int rc = run(a, 4, &out);
  CHECK_EQ_INT(rc, 1);
  CHECK_HAS(out, "NO_VISIBLE_DEVICE");
  CHECK_HAS(out, "`unset CUDA_VISIBLE_DEVICES` (now \"-1\")");
  CHECK_HAS(out, "[cuda_visible_devices] CUDA_VISIBLE_DEVICES=\"-1\" hides every GPU");
  CHECK_HAS(out, "tensorflow 2.15.0 (/usr/local/bin/python3.11, Python 3.11): GPU will not be used: "
                 "CUDA_VISIBLE_DEVICES=\"-1\"");
  free(out);
}

/* CUDA 12.9 added sm_103 (and sm_121): on such a GPU PyTorch 2.8's stable
 * builds (CUDA 12.6, 12.8) cannot target it, its experimental CUDA 12.9
 * build can, and that is the one recommended, with its own cuDNN. */
TEST(torch_build_for_sm_103) {
  reset_env();
  setenv("CT_FAKE_CUDA_CC", "10.3", 1);
  const char *a[] = {"--no-color", "--no-pythons", "--torch", "2.8"};
  char *out = NULL;
  run(a, 4, &out);
  CHECK_HAS(out, "For CUDA 12.9 (experimental, the build whose toolkit targets this GPU)");
  CHECK_HAS(out, "CUDA 12.9 targets sm_50-sm_90, sm_100, sm_103, sm_120, sm_121; this machine's GPUs: sm_103");
  CHECK_HAS(out, "cuDNN bundled with the CUDA 12.9 build: 9.10.2.21");
  free(out);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR"), *src = getenv("CT_SOURCE_DIR");
  snprintf(fake, sizeof fake, "%s/fake_cuda/libcuda.so.1", bin ? bin : ".");
  snprintf(gpu_root, sizeof gpu_root, "%s/tests/fixtures/doctor/gpu", src ? src : ".");
  if (access(fake, R_OK) != 0) {
    printf("skipped: the fake driver %s was not built\n", fake);
    return 0;
  }
  RUN(usable_fake_gpu);
  RUN(init_failure_803);
  RUN(init_failure_999);
  RUN(stub_driver);
  RUN(hidden_by_cuda_visible_devices);
  RUN(torch_build_for_sm_103);
  TEST_MAIN_END();
}
