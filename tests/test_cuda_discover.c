/*
 * GPU discovery and its reasons, with the fake driver (tests/fake_cuda) and
 * with what this machine really has (no driver; maybe the toolkit's stub).
 *
 * The environment is read once per context, at discovery, so each case
 * sets its variables and then uses a fresh context.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/loader.h"
#include "testutil.h"

static char fake_lib[1024], nosym_lib[1024], libs_dir[256], old_libs_dir[256];

typedef struct ct_fake_cuda_counters {
  long ctx_retains, allocs;
  int live_allocs;
  long streams, proc_lookups;
  size_t used[16];
} ct_fake_cuda_counters;

static void fake_counters(ct_fake_cuda_counters *c) {
  memset(c, 0, sizeof *c);
  void *h = dlopen(fake_lib, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return;
  void (*fn)(ct_fake_cuda_counters *) = (void (*)(ct_fake_cuda_counters *))dlsym(h, "ct_fake_cuda_get_counters");
  if (fn) fn(c);
  dlclose(h);
}

static void touch(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (f) fclose(f);
}

static const char *const env_vars[] = {
    "CT_FAKE_CUDA_DEVICES", "CT_FAKE_CUDA_NAMES", "CT_FAKE_CUDA_CC", "CT_FAKE_CUDA_MEMORY_MB",
    "CT_FAKE_CUDA_SMS", "CT_FAKE_CUDA_DRIVER_VERSION", "CT_FAKE_CUDA_INIT_ERROR", "CT_FAKE_CUDA_STUB",
    "CT_FAKE_CUDA_NO_PROC_ADDRESS", "CT_FAKE_CUDA_LAUNCH_FAULT", "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES", "CT_CUDA_DRIVER_PATH", "CT_CUBLAS_PATH", "CT_CUBLASLT_PATH", "CT_NVRTC_PATH"};

/* The fake driver with cuBLAS/NVRTC "present" (empty files: discovery only
 * locates them). */
static void fake_env(void) {
  for (size_t i = 0; i < CT_ARRAY_LEN(env_vars); i++) unsetenv(env_vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
  setenv("CT_CUBLAS_PATH", libs_dir, 1);
  setenv("CT_CUBLASLT_PATH", libs_dir, 1);
  setenv("CT_NVRTC_PATH", libs_dir, 1);
}

/* Discovers in a fresh context; returns it (caller frees). */
static ct_context *discover(ct_gpu_reason *reason, char *detail, size_t size) {
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) return NULL;
  *reason = ct_gpu_availability(ctx, detail, size);
  return ctx;
}

static bool has(const char *hay, const char *needle) {
  bool ok = strstr(hay, needle) != NULL;
  if (!ok) fprintf(stderr, "  expected \"%s\" in: %s\n", needle, hay);
  return ok;
}

TEST(reason_names_are_stable) {
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_USABLE), "USABLE");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_NO_DRIVER_LIBRARY), "NO_DRIVER_LIBRARY");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_DRIVER_IS_STUB), "DRIVER_IS_STUB");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_DRIVER_INIT_FAILED), "DRIVER_INIT_FAILED");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_NO_DEVICE), "NO_DEVICE");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_NO_VISIBLE_DEVICE), "NO_VISIBLE_DEVICE");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_DRIVER_TOO_OLD), "DRIVER_TOO_OLD");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_ARCH_UNSUPPORTED), "ARCH_UNSUPPORTED");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_SYMBOL_MISSING), "SYMBOL_MISSING");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_HIDDEN_BY_CONFIG), "HIDDEN_BY_CONFIG");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_NO_CUBLAS), "NO_CUBLAS");
  CHECK_EQ_STR(ct_gpu_reason_name(CT_GPU_NO_NVRTC), "NO_NVRTC");
  CHECK_EQ_STR(ct_gpu_reason_name((ct_gpu_reason)99), "UNKNOWN_REASON");
}

TEST(versions_from_file_names) {
  int a, b;
  ct_cuda_version_from_name("/x/libcublas.so.12.4.5.8", &a, &b);
  CHECK_EQ_INT(a, 12);
  CHECK_EQ_INT(b, 4);
  ct_cuda_version_from_name("libnvrtc.so.13", &a, &b);
  CHECK_EQ_INT(a, 13);
  CHECK_EQ_INT(b, -1);
  ct_cuda_version_from_name("libnvrtc.so.11.2", &a, &b);
  CHECK_EQ_INT(a, 11);
  CHECK_EQ_INT(b, 2);
  ct_cuda_version_from_name("libcuda.so", &a, &b);
  CHECK_EQ_INT(a, -1);
}

TEST(fake_gpus_are_listed_with_their_facts) {
  fake_env();
  setenv("CT_FAKE_CUDA_DEVICES", "2", 1);
  setenv("CT_FAKE_CUDA_NAMES", "Fake A100,Fake T4", 1);
  setenv("CT_FAKE_CUDA_CC", "8.0,7.5", 1);
  setenv("CT_FAKE_CUDA_MEMORY_MB", "80,16", 1);
  setenv("CT_FAKE_CUDA_SMS", "108,40", 1);
  ct_fake_cuda_counters before, after;
  fake_counters(&before);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK(ctx != NULL);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  CHECK(has(ctx->gpu_reason_detail, "2 GPUs usable"));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2);
  CHECK_EQ_INT(ct_unusable_device_count(ctx), 0);
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK_EQ_STR(info.name, "/physical_device:GPU:0");
  CHECK_EQ_STR(info.device_type, "GPU");
  CHECK_EQ_STR(info.model, "Fake A100");
  CHECK_EQ_INT(info.compute_major, 8);
  CHECK_EQ_INT(info.compute_minor, 0);
  CHECK_EQ_INT(info.cores, 108);
  CHECK_EQ_INT(info.memory_bytes, 80ull << 20);
  CHECK_EQ_STR(info.pci_bus_id, "0000:01:00.0");
  CHECK_EQ_STR(info.uuid, "GPU-10111213-1415-1617-1819-1a1b1c1d1e1f");
  CHECK(info.usable);
  CHECK_EQ_INT(info.reason, CT_GPU_USABLE);
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 1, &info));
  CHECK_EQ_STR(info.name, "/physical_device:GPU:1");
  CHECK_EQ_STR(info.model, "Fake T4");
  CHECK_EQ_STR(info.pci_bus_id, "0000:02:00.0");
  /* Listing created no context and allocated nothing. */
  fake_counters(&after);
  CHECK_EQ_INT(after.ctx_retains, before.ctx_retains);
  CHECK_EQ_INT(after.allocs, before.allocs);
  CHECK(after.proc_lookups > before.proc_lookups); /* symbols came through cuGetProcAddress */
  CHECK(!ct_context_is_initialized(ctx));
  /* The loader recorded the driver it opened, and cuBLAS/NVRTC were only located. */
  const ct_cuda_load_record *rec = NULL;
  int n = ct_cuda_loader_records(ctx, &rec);
  bool driver_ok = false, lazy_opened = false;
  for (int i = 0; i < n; i++) {
    if (rec[i].lib == CT_CUDA_LIB_DRIVER && rec[i].ok && rec[i].opened && strcmp(rec[i].stage, "override") == 0)
      driver_ok = strstr(rec[i].path, "fake_cuda/libcuda.so.1") != NULL;
    if (rec[i].lib != CT_CUDA_LIB_DRIVER && rec[i].opened) lazy_opened = true;
  }
  CHECK(driver_ok);
  CHECK(!lazy_opened);
  const ct_cuda_library *cublas = ct_cuda_library_get(ctx, CT_CUDA_LIB_CUBLAS);
  CHECK(cublas && cublas->located && cublas->version_major == 13 && cublas->handle == NULL);
  ct_context_free(ctx);
}

TEST(dlsym_fallback_without_cuGetProcAddress) {
  fake_env();
  setenv("CT_FAKE_CUDA_NO_PROC_ADDRESS", "1", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  CHECK(!((ct_cuda_state *)ctx->cuda)->used_proc_address);
  CHECK(((ct_cuda_state *)ctx->cuda)->drv.cuMemAlloc != NULL);
  ct_context_free(ctx);
}

TEST(cuda_visible_devices_renumbers_and_hides) {
  fake_env();
  setenv("CT_FAKE_CUDA_DEVICES", "3", 1);
  setenv("CT_FAKE_CUDA_NAMES", "GPU zero,GPU one,GPU two", 1);
  setenv("CUDA_VISIBLE_DEVICES", "2,0", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2);
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK_EQ_STR(info.model, "GPU two");
  CHECK_EQ_STR(info.name, "/physical_device:GPU:0");
  CHECK_EQ_STR(info.pci_bus_id, "0000:03:00.0");
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 1, &info));
  CHECK_EQ_STR(info.model, "GPU zero");
  ct_context_free(ctx);

  static const char *const hide_all[] = {"", "-1"};
  for (size_t i = 0; i < CT_ARRAY_LEN(hide_all); i++) {
    setenv("CUDA_VISIBLE_DEVICES", hide_all[i], 1);
    ctx = discover(&r, detail, sizeof detail);
    CHECK_EQ_INT(r, CT_GPU_NO_VISIBLE_DEVICE);
    char want[64];
    snprintf(want, sizeof want, "CUDA_VISIBLE_DEVICES=\"%s\"", hide_all[i]);
    CHECK(has(detail, want));
    CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
    ct_context_free(ctx);
  }
  setenv("CUDA_VISIBLE_DEVICES", "-1", 1);
  setenv("NVIDIA_VISIBLE_DEVICES", "none", 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_NO_VISIBLE_DEVICE);
  CHECK(has(detail, "NVIDIA_VISIBLE_DEVICES=\"none\""));
  ct_context_free(ctx);
}

TEST(environment_is_read_once_per_context) {
  fake_env();
  setenv("CT_FAKE_CUDA_DEVICES", "2", 1);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2);
  setenv("CT_CUDA_DRIVER_PATH", "/nonexistent/libcuda.so.1", 1);
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 2); /* this context already read it */
  ct_context *ctx2 = NULL;
  CHECK_OK(ct_context_new(&ctx2));
  CHECK_EQ_INT(ct_physical_device_count(ctx2, "GPU"), 0); /* a new one reads it again */
  ct_context_free(ctx2);
  ct_context_free(ctx);
}

TEST(libraries_and_attempts_are_public) {
  fake_env();
  setenv("CT_FAKE_CUDA_DRIVER_VERSION", "12040", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK(ctx != NULL);
  if (!ctx) return;
  CHECK_EQ_INT(ct_gpu_library_count(ctx), 5);
  ct_gpu_library_info g;
  CHECK_OK(ct_gpu_library_get(ctx, 0, &g));
  CHECK_EQ_STR(g.name, "driver");
  CHECK(g.found && g.loaded);
  CHECK_EQ_INT(g.version_major, 12); /* the driver's own cuDriverGetVersion */
  CHECK_EQ_INT(g.version_minor, 4);
  CHECK(has(g.path, "fake_cuda"));
  CHECK_OK(ct_gpu_library_get(ctx, 3, &g));
  CHECK_EQ_STR(g.name, "nvrtc");
  CHECK(!g.loaded); /* only located: opened when a kernel first needs it */
  CHECK_OK(ct_gpu_library_get(ctx, 4, &g));
  CHECK_EQ_STR(g.name, "nccl");
  CHECK(!g.loaded); /* opened by the first collective on a GPU tensor */
  CHECK_ERR(ct_gpu_library_get(ctx, 5, &g), CT_OUT_OF_RANGE, "index 5");
  int n = ct_gpu_load_attempt_count(ctx);
  CHECK(n >= 1);
  ct_gpu_load_attempt a;
  CHECK_OK(ct_gpu_load_attempt_get(ctx, 0, &a));
  CHECK_EQ_STR(a.library, "driver");
  CHECK_EQ_STR(a.stage, "override"); /* CT_CUDA_DRIVER_PATH comes first */
  CHECK(a.opened && a.ok);
  CHECK_ERR(ct_gpu_load_attempt_get(ctx, n, &a), CT_OUT_OF_RANGE, "out of range");
  ct_context_free(ctx);
}

TEST(no_driver_library_names_the_attempt) {
  fake_env();
  setenv("CT_CUDA_DRIVER_PATH", "/nonexistent/dir/libcuda.so.1", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_NO_DRIVER_LIBRARY);
  CHECK(has(detail, "libcuda.so.1"));
  CHECK(has(detail, "/nonexistent/dir/libcuda.so.1"));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
  CHECK_EQ_INT(ct_physical_device_count(ctx, "CPU"), 1);
  ct_context_free(ctx);
}

TEST(this_machine_without_a_driver) {
  fake_env();
  unsetenv("CT_CUDA_DRIVER_PATH");
  unsetenv("CT_CUBLAS_PATH");
  unsetenv("CT_CUBLASLT_PATH");
  unsetenv("CT_NVRTC_PATH");
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h) {
    dlclose(h);
    printf("  skipped: this machine has a libcuda.so.1 on the loader's path\n");
    return;
  }
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_NO_DRIVER_LIBRARY);
  CHECK(has(detail, "libcuda.so.1"));
  const ct_cuda_load_record *rec = NULL;
  int n = ct_cuda_loader_records(ctx, &rec);
  bool system_try = false;
  for (int i = 0; i < n; i++)
    if (rec[i].lib == CT_CUDA_LIB_DRIVER && strcmp(rec[i].stage, "system") == 0 &&
        strcmp(rec[i].name, "libcuda.so.1") == 0 && !rec[i].ok && rec[i].error[0])
      system_try = true;
  CHECK(system_try);
  /* Never the unversioned name, which is the toolkit's link or stub. */
  for (int i = 0; i < n; i++) CHECK(strcmp(rec[i].name, "libcuda.so") != 0);
  /* The toolkit's libraries are still found and reported with versions. */
  struct stat sb;
  if (stat("/usr/local/cuda/lib64/libcublas.so.13", &sb) == 0) {
    const ct_cuda_library *L = ct_cuda_library_get(ctx, CT_CUDA_LIB_CUBLAS);
    CHECK(L && L->located && L->version_major == 13);
    L = ct_cuda_library_get(ctx, CT_CUDA_LIB_NVRTC);
    CHECK(L && L->located && L->version_major == 13);
  } else {
    printf("  (no CUDA 13 toolkit under /usr/local/cuda: library location not checked)\n");
  }
  ct_context_free(ctx);
}

TEST(fake_stub_is_recognised) {
  fake_env();
  setenv("CT_FAKE_CUDA_STUB", "1", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_DRIVER_IS_STUB);
  CHECK(has(detail, "CUDA_ERROR_STUB_LIBRARY"));
  CHECK(has(detail, "LD_LIBRARY_PATH"));
  ct_context_free(ctx);
}

static int run_cli_devices(const char *ld_path, char *out, size_t size) {
  const char *cli = getenv("CT_CLI");
  if (!cli || access(cli, X_OK) != 0) return -1;
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "env -u CT_CUDA_DRIVER_PATH LD_LIBRARY_PATH='%s' '%s' devices 2>&1", ld_path, cli);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, size - 1, p);
  out[n] = '\0';
  return pclose(p);
}

TEST(real_toolkit_stub) {
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  struct stat sb;
  if (stat(stub, &sb) != 0) {
    printf("  skipped: %s absent\n", stub);
    return;
  }
  fake_env();
  char detail[256];
  ct_gpu_reason r;
  /* Named directly. */
  setenv("CT_CUDA_DRIVER_PATH", stub, 1);
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_DRIVER_IS_STUB);
  CHECK(has(detail, "stubs/libcuda.so"));
  ct_context_free(ctx);

  /* A directory holding the stub as libcuda.so.1 (the common mistake). */
  char dir[] = "/tmp/ct_stub_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char link[256];
  snprintf(link, sizeof link, "%s/libcuda.so.1", dir);
  CHECK(symlink(stub, link) == 0);
  setenv("CT_CUDA_DRIVER_PATH", dir, 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_DRIVER_IS_STUB);
  ct_context_free(ctx);

  /* A copy outside any stubs directory: only cuInit can tell (34). */
  char copy_dir[] = "/tmp/ct_stubcopy_XXXXXX";
  CHECK(mkdtemp(copy_dir) != NULL);
  char copy[256], cmd[700];
  snprintf(copy, sizeof copy, "%s/libcuda.so.1", copy_dir);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", stub, copy);
  CHECK(system(cmd) == 0);
  setenv("CT_CUDA_DRIVER_PATH", copy, 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_DRIVER_IS_STUB);
  CHECK(has(detail, "CUDA_ERROR_STUB_LIBRARY"));
  ct_context_free(ctx);

  /* The same through LD_LIBRARY_PATH, which only a new process sees. */
  char out[8192];
  int rc = run_cli_devices(dir, out, sizeof out);
  if (rc < 0) {
    printf("  (CT_CLI not available: LD_LIBRARY_PATH case not run)\n");
  } else {
    CHECK(has(out, "DRIVER_IS_STUB"));
  }
  unlink(link);
  rmdir(dir);
  unlink(copy);
  rmdir(copy_dir);
}

TEST(driver_init_failures_are_explained) {
  static const struct {
    const char *code;
    const char *name;
    const char *hint;
  } cases[] = {
      {"803", "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "reboot"},
      {"999", "CUDA_ERROR_UNKNOWN", "nvidia-uvm"},
      {"100", "CUDA_ERROR_NO_DEVICE", "/dev/nvidia0"},
      {"2", "CUDA_ERROR_OUT_OF_MEMORY", "cuInit failed"},
  };
  for (size_t i = 0; i < CT_ARRAY_LEN(cases); i++) {
    fake_env();
    setenv("CT_FAKE_CUDA_INIT_ERROR", cases[i].code, 1);
    char detail[256];
    ct_gpu_reason r;
    ct_context *ctx = discover(&r, detail, sizeof detail);
    CHECK_EQ_INT(r, CT_GPU_DRIVER_INIT_FAILED);
    CHECK(has(detail, cases[i].name));
    CHECK(has(detail, cases[i].hint));
    ct_context_free(ctx);
  }
}

TEST(no_device) {
  fake_env();
  setenv("CT_FAKE_CUDA_DEVICES", "0", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_NO_DEVICE);
  CHECK(has(detail, "reports no GPU"));
  ct_context_free(ctx);
}

TEST(driver_too_old_for_the_libraries) {
  fake_env();
  setenv("CT_FAKE_CUDA_DRIVER_VERSION", "12040", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_DRIVER_TOO_OLD);
  CHECK(has(detail, "CUDA 12.4"));
  CHECK(has(detail, "13"));
  CHECK(has(detail, "580.65.06"));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
  CHECK_EQ_INT(ct_unusable_device_count(ctx), 1);
  ct_physical_device_info info;
  CHECK_OK(ct_unusable_device_get(ctx, 0, &info));
  CHECK(!info.usable);
  CHECK_EQ_INT(info.reason, CT_GPU_DRIVER_TOO_OLD);
  CHECK_EQ_STR(info.model, "Fake GPU");
  ct_context_free(ctx);

  /* An older cuBLAS/NVRTC beside the new ones: the driver can use those. */
  setenv("CT_CUBLAS_PATH", old_libs_dir, 1);
  setenv("CT_CUBLASLT_PATH", old_libs_dir, 1);
  setenv("CT_NVRTC_PATH", old_libs_dir, 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  const ct_cuda_library *L = ct_cuda_library_get(ctx, CT_CUDA_LIB_CUBLAS);
  CHECK(L && L->located && L->version_major == 12);
  ct_context_free(ctx);

  /* Older than anything ctensor supports. */
  fake_env();
  setenv("CT_FAKE_CUDA_DRIVER_VERSION", "10020", 1);
  setenv("CT_CUBLAS_PATH", old_libs_dir, 1);
  setenv("CT_CUBLASLT_PATH", old_libs_dir, 1);
  setenv("CT_NVRTC_PATH", old_libs_dir, 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_DRIVER_TOO_OLD);
  CHECK(has(detail, "CUDA 10.2"));
  ct_context_free(ctx);
}

TEST(compute_capability_too_old) {
  fake_env();
  setenv("CT_FAKE_CUDA_DEVICES", "2", 1);
  setenv("CT_FAKE_CUDA_NAMES", "Old Kepler,New Ampere", 1);
  setenv("CT_FAKE_CUDA_CC", "3.5,8.6", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 1);
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK_EQ_STR(info.model, "New Ampere");
  CHECK_EQ_STR(info.name, "/physical_device:GPU:0");
  CHECK_EQ_INT(ct_unusable_device_count(ctx), 1);
  CHECK_OK(ct_unusable_device_get(ctx, 0, &info));
  CHECK_EQ_INT(info.reason, CT_GPU_ARCH_UNSUPPORTED);
  CHECK(has(info.reason_detail, "3.5"));
  CHECK(has(info.reason_detail, "7.5"));
  ct_context_free(ctx);

  setenv("CT_FAKE_CUDA_DEVICES", "1", 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_ARCH_UNSUPPORTED);
  CHECK(has(detail, "Old Kepler"));
  ct_context_free(ctx);
}

TEST(missing_cublas_or_nvrtc_keeps_the_gpu) {
  fake_env();
  setenv("CT_CUBLAS_PATH", "/nonexistent/libcublas.so.13", 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  ct_physical_device_info info;
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK(info.usable);
  CHECK_EQ_INT(info.reason, CT_GPU_NO_CUBLAS);
  CHECK(has(info.reason_detail, "CT_CUBLAS_PATH"));
  /* Loading it on demand fails with every attempt named. */
  CHECK_ERR(ct_cuda_load_cublas(ctx, NULL, NULL), CT_NOT_FOUND, "CT_CUBLAS_PATH");
  ct_context_free(ctx);

  fake_env();
  setenv("CT_NVRTC_PATH", "/nonexistent", 1);
  ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_USABLE);
  CHECK_OK(ct_physical_device_get(ctx, "GPU", 0, &info));
  CHECK(info.usable);
  CHECK_EQ_INT(info.reason, CT_GPU_NO_NVRTC);
  CHECK_ERR(ct_cuda_load_nvrtc(ctx, NULL), CT_NOT_FOUND, "/nonexistent");
  ct_context_free(ctx);
}

TEST(missing_driver_entry_point) {
  fake_env();
  setenv("CT_CUDA_DRIVER_PATH", nosym_lib, 1);
  char detail[256];
  ct_gpu_reason r;
  ct_context *ctx = discover(&r, detail, sizeof detail);
  CHECK_EQ_INT(r, CT_GPU_SYMBOL_MISSING);
  CHECK(has(detail, "cuMemAlloc_v2"));
  ct_context_free(ctx);
}

TEST(real_nvrtc_loads_lazily) {
  struct stat sb;
  if (stat("/usr/local/cuda/lib64/libnvrtc.so.13", &sb) != 0) {
    printf("  skipped: no NVRTC under /usr/local/cuda\n");
    return;
  }
  fake_env();
  unsetenv("CT_NVRTC_PATH");
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 1);
  CHECK(ct_cuda_library_get(ctx, CT_CUDA_LIB_NVRTC)->handle == NULL);
  void *h = NULL;
  CHECK_OK(ct_cuda_load_nvrtc(ctx, &h));
  CHECK(h != NULL);
  const ct_cuda_library *L = ct_cuda_library_get(ctx, CT_CUDA_LIB_NVRTC);
  CHECK(L->version_major == 13 && L->version_minor >= 0);
  void *h2 = NULL;
  CHECK_OK(ct_cuda_load_nvrtc(ctx, &h2)); /* once per context */
  CHECK(h2 == h);
  ct_context_free(ctx);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  if (!bin) bin = "build";
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin);
  snprintf(nosym_lib, sizeof nosym_lib, "%s/fake_cuda_nosym/libcuda.so.1", bin);
  if (access(fake_lib, R_OK) != 0) {
    fprintf(stderr, "fake driver %s not built\n", fake_lib);
    return 1;
  }
  snprintf(libs_dir, sizeof libs_dir, "/tmp/ct_cudalibs_XXXXXX");
  snprintf(old_libs_dir, sizeof old_libs_dir, "/tmp/ct_cudalibs12_XXXXXX");
  if (!mkdtemp(libs_dir) || !mkdtemp(old_libs_dir)) return 1;
  touch(libs_dir, "libcublas.so.13");
  touch(libs_dir, "libcublasLt.so.13");
  touch(libs_dir, "libnvrtc.so.13");
  static const char *const both[] = {"libcublas.so.13", "libcublasLt.so.13", "libnvrtc.so.13",
                                     "libcublas.so.12", "libcublasLt.so.12", "libnvrtc.so.12"};
  for (size_t i = 0; i < CT_ARRAY_LEN(both); i++) touch(old_libs_dir, both[i]);

  RUN(reason_names_are_stable);
  RUN(versions_from_file_names);
  RUN(fake_gpus_are_listed_with_their_facts);
  RUN(dlsym_fallback_without_cuGetProcAddress);
  RUN(cuda_visible_devices_renumbers_and_hides);
  RUN(environment_is_read_once_per_context);
  RUN(libraries_and_attempts_are_public);
  RUN(no_driver_library_names_the_attempt);
  RUN(this_machine_without_a_driver);
  RUN(fake_stub_is_recognised);
  RUN(real_toolkit_stub);
  RUN(driver_init_failures_are_explained);
  RUN(no_device);
  RUN(driver_too_old_for_the_libraries);
  RUN(compute_capability_too_old);
  RUN(missing_cublas_or_nvrtc_keeps_the_gpu);
  RUN(missing_driver_entry_point);
  RUN(real_nvrtc_loads_lazily);

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", libs_dir, old_libs_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", libs_dir);
  TEST_MAIN_END();
}
