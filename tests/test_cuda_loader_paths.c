/*
 * Loading libraries never takes code from the current directory or a
 * relative path (issue 14): override variables must be absolute paths to a
 * regular file (or to its directory), relative search directories are not
 * searched, and with a relative or empty LD_LIBRARY_PATH entry no bare-name
 * dlopen is made. Runs on the fake driver; no GPU needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/loader.h"
#include "testutil.h"

static char fake_lib[1024], start_dir[1024];

static const char *const vars[] = {"CT_CUDA_DRIVER_PATH", "CT_CUBLAS_PATH", "CT_CUBLASLT_PATH", "CT_NVRTC_PATH",
                                   "CUDA_PATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX"};

static void clean_env(void) {
  for (size_t i = 0; i < CT_ARRAY_LEN(vars); i++) unsetenv(vars[i]);
  setenv("CT_CUDA_DRIVER_PATH", fake_lib, 1);
}

/* A scratch directory made current, holding a copy of the fake driver
 * under every name a search could look for. */
static void enter_scratch(char *dir) {
  if (!mkdtemp(dir) || chdir(dir) != 0) return;
  static const char *const names[] = {"libcuda.so.1", "libcublas.so.13", "libcublasLt.so.13", "libnvrtc.so.13"};
  char cmd[2400];
  for (size_t i = 0; i < CT_ARRAY_LEN(names); i++) {
    snprintf(cmd, sizeof cmd, "mkdir -p rel/lib64 && cp '%s' '%s' && cp '%s' 'rel/lib64/%s'", fake_lib, names[i],
             fake_lib, names[i]);
    if (system(cmd) != 0) fprintf(stderr, "could not copy %s\n", names[i]);
  }
}

static void leave_scratch(const char *dir) {
  if (chdir(start_dir) != 0) return;
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* No record of this context opened a file by a relative path or from the
 * scratch directory. */
static bool nothing_relative_opened(ct_context *ctx, const char *scratch) {
  const ct_cuda_load_record *recs = NULL;
  int n = ct_cuda_loader_records(ctx, &recs);
  bool ok = true;
  for (int i = 0; i < n; i++) {
    const ct_cuda_load_record *r = &recs[i];
    if (!r->opened) continue;
    bool bare = strchr(r->path, '/') == NULL;
    if ((r->path[0] != '/' && !bare) || (scratch[0] && strncmp(r->path, scratch, strlen(scratch)) == 0) ||
        (bare && r->ok)) {
      fprintf(stderr, "opened %s (%s, stage %s)\n", r->path, r->ok ? "ok" : r->error, r->stage);
      ok = false;
    }
  }
  return ok;
}

static bool any_record_says(ct_context *ctx, const char *needle) {
  const ct_cuda_load_record *recs = NULL;
  int n = ct_cuda_loader_records(ctx, &recs);
  for (int i = 0; i < n; i++)
    if (strstr(recs[i].error, needle)) return true;
  fprintf(stderr, "no load record says '%s'\n", needle);
  return false;
}

TEST(relative_driver_override_is_refused) {
  char dir[] = "/tmp/ct-loader-rel-XXXXXX";
  enter_scratch(dir);
  const char *const specs[] = {"libcuda.so.1", "./libcuda.so.1", "rel/lib64", "rel/lib64/libcuda.so.1"};
  for (size_t i = 0; i < CT_ARRAY_LEN(specs); i++) {
    clean_env();
    setenv("CT_CUDA_DRIVER_PATH", specs[i], 1);
    ct_context *ctx = NULL;
    CHECK_OK(ct_context_new(&ctx));
    CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
    CHECK(any_record_says(ctx, "not an absolute path"));
    CHECK(any_record_says(ctx, "CT_CUDA_DRIVER_PATH"));
    CHECK(nothing_relative_opened(ctx, dir));
    ct_context_free(ctx);
  }
  leave_scratch(dir);
}

TEST(relative_library_overrides_are_refused) {
  char dir[] = "/tmp/ct-loader-rel-XXXXXX";
  enter_scratch(dir);
  clean_env();
  setenv("CT_NVRTC_PATH", "libnvrtc.so.13", 1);
  setenv("CT_CUBLAS_PATH", "rel/lib64", 1);
  setenv("CT_CUBLASLT_PATH", "./libcublasLt.so.13", 1);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK(ct_physical_device_count(ctx, "GPU") >= 1); /* the driver itself is absolute */
  CHECK_ERR(ct_cuda_load_nvrtc(ctx, NULL), CT_NOT_FOUND, "CT_NVRTC_PATH='libnvrtc.so.13': not an absolute path");
  CHECK_ERR(ct_cuda_load_cublas(ctx, NULL, NULL), CT_NOT_FOUND, "CT_CUBLASLT_PATH='./libcublasLt.so.13'");
  CHECK(nothing_relative_opened(ctx, dir));
  ct_context_free(ctx);
  /* located at discovery: the same refusal, nothing stat'ed from here */
  clean_env();
  setenv("CT_CUBLAS_PATH", "rel/lib64", 1);
  CHECK_OK(ct_context_new(&ctx));
  CHECK(ct_physical_device_count(ctx, "GPU") >= 1);
  const ct_cuda_library *L = ct_cuda_library_get(ctx, CT_CUDA_LIB_CUBLAS);
  CHECK(L && !L->located);
  CHECK(any_record_says(ctx, "CT_CUBLAS_PATH='rel/lib64': not an absolute path"));
  ct_context_free(ctx);
  leave_scratch(dir);
}

TEST(override_must_be_a_regular_file_or_directory) {
  clean_env();
  setenv("CT_NVRTC_PATH", "/dev/null", 1);
  setenv("CT_CUBLAS_PATH", "/nonexistent/libcublas.so.13", 1);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK(ct_physical_device_count(ctx, "GPU") >= 1);
  CHECK_ERR(ct_cuda_load_nvrtc(ctx, NULL), CT_NOT_FOUND, "neither a regular file nor a directory");
  CHECK_ERR(ct_cuda_load_cublas(ctx, NULL, NULL), CT_NOT_FOUND, "no such file or directory");
  ct_context_free(ctx);
  clean_env();
  setenv("CT_CUDA_DRIVER_PATH", "/dev/null", 1);
  CHECK_OK(ct_context_new(&ctx));
  CHECK_EQ_INT(ct_physical_device_count(ctx, "GPU"), 0);
  CHECK(any_record_says(ctx, "CT_CUDA_DRIVER_PATH='/dev/null': neither a regular file nor a directory"));
  ct_context_free(ctx);
}

TEST(relative_search_directories_are_not_searched) {
  char dir[] = "/tmp/ct-loader-rel-XXXXXX";
  enter_scratch(dir);
  clean_env();
  setenv("CUDA_PATH", "rel", 1);          /* rel/lib64/libnvrtc.so.13 is there */
  setenv("VIRTUAL_ENV", "rel", 1);
  setenv("LD_LIBRARY_PATH", "rel/lib64::/nonexistent", 1);
  ct_context *ctx = NULL;
  CHECK_OK(ct_context_new(&ctx));
  CHECK(ct_physical_device_count(ctx, "GPU") >= 1);
  (void)ct_cuda_load_nvrtc(ctx, NULL); /* may find a real NVRTC by absolute path, never ours */
  (void)ct_cuda_load_cublas(ctx, NULL, NULL);
  CHECK(nothing_relative_opened(ctx, dir));
  CHECK(any_record_says(ctx, "LD_LIBRARY_PATH entry 'rel/lib64' is relative"));
  const ct_cuda_library *L = ct_cuda_library_get(ctx, CT_CUDA_LIB_NVRTC);
  CHECK(L && strncmp(L->path, "rel/", 4) != 0);
  ct_context_free(ctx);
  /* an empty entry (a leading ':') is the current directory too */
  clean_env();
  setenv("LD_LIBRARY_PATH", ":/nonexistent", 1);
  CHECK_OK(ct_context_new(&ctx));
  CHECK(ct_physical_device_count(ctx, "GPU") >= 1);
  (void)ct_cuda_load_nvrtc(ctx, NULL);
  CHECK(any_record_says(ctx, "LD_LIBRARY_PATH entry '' is relative"));
  CHECK(nothing_relative_opened(ctx, dir));
  ct_context_free(ctx);
  leave_scratch(dir);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  snprintf(fake_lib, sizeof fake_lib, "%s/fake_cuda/libcuda.so.1", bin ? bin : "build");
  if (!getcwd(start_dir, sizeof start_dir)) return 1;
  if (fake_lib[0] != '/') { /* run by hand from the source tree */
    char abs[1100];
    snprintf(abs, sizeof abs, "%s/%s", start_dir, fake_lib);
    snprintf(fake_lib, sizeof fake_lib, "%s", abs);
  }
  if (access(fake_lib, R_OK) != 0) {
    printf("skipped: %s not built\n", fake_lib);
    return 0;
  }
  RUN(relative_driver_override_is_refused);
  RUN(relative_library_overrides_are_refused);
  RUN(override_must_be_a_regular_file_or_directory);
  RUN(relative_search_directories_are_not_searched);
  TEST_MAIN_END();
}
