/*
 * The kernel cache treated as code (issue 14): loading an entry runs code
 * from disk, so the directory is created 0700, a directory or entry another
 * user could have written is refused with a reason, every entry is checked
 * (header, size, checksum, architecture, driver, NVRTC build) before it is
 * loaded, a bad entry is compiled again and replaced, and a read-only or
 * full disk only costs compiling in memory. The unit cases need no GPU; the
 * end-to-end ones run on the fake driver with the fake NVRTC when built.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/cuda_device.h"
#include "cuda/jit.h"
#include "testutil.h"

static char bin_dir[1024];
static const char key[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char image[] = "//\n// a PTX image\n.version 8.5\n.target sm_90\n";
static const char nvrtc_id[] = "13.0 /lib/libnvrtc.so.13.0.48 100 1";

static void rm_rf(const char *dir) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static void cache_at(ct_kernel_cache *c, const char *dir) {
  ct_kernel_cache_init(c, dir);
  ct_kernel_cache_set_target(c, "sm_90", 12040, nvrtc_id);
}

static bool load_ok(ct_kernel_cache *c) {
  void *data = NULL;
  size_t size = 0;
  bool ok = ct_kernel_cache_load(c, key, &data, &size);
  if (ok && (size != sizeof image || memcmp(data, image, size) != 0)) {
    fprintf(stderr, "loaded the wrong bytes\n");
    ok = false;
  }
  free(data);
  return ok;
}

static bool has(const char *text, const char *needle) {
  if (strstr(text, needle)) return true;
  fprintf(stderr, "'%s' does not contain '%s'\n", text, needle);
  return false;
}

TEST(directory_is_created_0700) {
  char base[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(base) != NULL);
  char dir[256];
  snprintf(dir, sizeof dir, "%s/a/b/ctensor", base);
  ct_kernel_cache c;
  cache_at(&c, dir);
  mode_t old = umask(0); /* the mode must not depend on a lax umask */
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  umask(old);
  struct stat sb;
  CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
  char parent[256];
  snprintf(parent, sizeof parent, "%s/a", base);
  CHECK(stat(parent, &sb) == 0 && (sb.st_mode & 0777) == 0700);
  char path[600];
  ct_kernel_cache_path(&c, key, path, sizeof path);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0);
  CHECK(load_ok(&c));
  rm_rf(base);
}

TEST(directory_writable_by_others_is_refused) {
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  cache_at(&c, dir);
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  const mode_t modes[] = {0770, 0707, 0777};
  for (size_t i = 0; i < CT_ARRAY_LEN(modes); i++) {
    CHECK(chmod(dir, modes[i]) == 0);
    cache_at(&c, dir);
    CHECK(!load_ok(&c));
    CHECK(c.dir_refused == 1 && c.hits == 0);
    CHECK(has(c.why, "refusing directory") && has(c.why, "writable by") && has(c.why, "compiling in memory"));
    CHECK_ERR(ct_kernel_cache_store(&c, key, image, sizeof image), CT_UNAVAILABLE, "writable by");
    CHECK_EQ_INT(c.stores, 0);
  }
  CHECK(chmod(dir, 0700) == 0);
  cache_at(&c, dir);
  CHECK(load_ok(&c)); /* the same entry, once the directory is private again */
  rm_rf(dir);
}

TEST(directory_or_entry_of_another_user_is_refused) {
  if (geteuid() != 0) {
    printf("  skipped: giving a file to another user needs root\n");
    return;
  }
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  cache_at(&c, dir);
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  CHECK(chown(dir, 65534, 65534) == 0);
  cache_at(&c, dir);
  CHECK(!load_ok(&c));
  CHECK(has(c.why, "owned by uid 65534"));
  CHECK(c.dir_refused == 1);
  CHECK(chown(dir, 0, 0) == 0);
  char path[600];
  ct_kernel_cache_path(&c, key, path, sizeof path);
  CHECK(chown(path, 65534, 65534) == 0);
  cache_at(&c, dir);
  CHECK(!load_ok(&c));
  CHECK(c.file_refused == 1 && c.rejected == 1);
  CHECK(has(c.why, "not loading") && has(c.why, "owned by uid 65534"));
  /* the next store replaces it with one of ours */
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  CHECK(load_ok(&c));
  rm_rf(dir);
}

/* Writes the entry file with `text` (header and payload) as is. */
static void write_entry(ct_kernel_cache *c, const void *text, size_t n) {
  char path[600];
  ct_kernel_cache_path(c, key, path, sizeof path);
  unlink(path);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(text, 1, n, f);
  fclose(f);
  chmod(path, 0600);
}

static size_t read_entry(ct_kernel_cache *c, char *buf, size_t size) {
  char path[600];
  ct_kernel_cache_path(c, key, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(buf, 1, size, f);
  fclose(f);
  return n;
}

/* Each damaged entry is refused with its reason, then replaced by a store. */
TEST(every_entry_is_verified_before_loading) {
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  cache_at(&c, dir);
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  char good[1024];
  size_t n = read_entry(&c, good, sizeof good);
  CHECK(n > sizeof image);
  char bad[1100];
  struct {
    const char *what, *why;
  } cases[] = {{"truncated", "truncated"},     {"trailing", "trailing bytes"},   {"corrupt", "checksum mismatch"},
               {"old format", "not a ctensor-kernel-cache-3"}, {"empty", "size out of range"},
               {"other key", "another key"}};
  for (size_t i = 0; i < CT_ARRAY_LEN(cases); i++) {
    size_t m = n;
    memcpy(bad, good, n);
    if (i == 0) m = n - 7;
    if (i == 1) bad[m++] = 'x';
    if (i == 2) bad[n - 3] ^= 1;
    if (i == 3) bad[21] = '2';
    if (i == 4) m = 0;
    if (i == 5) bad[23] = bad[23] == '0' ? '1' : '0';
    write_entry(&c, bad, m);
    cache_at(&c, dir);
    CHECK(!load_ok(&c));
    CHECK(c.rejected == 1 && c.hits == 0);
    if (!has(c.why, cases[i].why)) fprintf(stderr, "  case %s\n", cases[i].what);
    CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
    CHECK(load_ok(&c));
  }
  rm_rf(dir);
}

TEST(entry_for_another_gpu_driver_or_nvrtc_is_not_loaded) {
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  cache_at(&c, dir);
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  ct_kernel_cache_set_target(&c, "sm_80", 12040, nvrtc_id);
  CHECK(!load_ok(&c) && has(c.why, "built for sm_90, this GPU needs sm_80"));
  ct_kernel_cache_set_target(&c, "sm_90", 12050, nvrtc_id);
  CHECK(!load_ok(&c) && has(c.why, "built under driver 12040, this driver is 12050"));
  ct_kernel_cache_set_target(&c, "sm_90", 12040, "12.4 /lib/libnvrtc.so.12 7 7");
  CHECK(!load_ok(&c) && has(c.why, "built by NVRTC"));
  ct_kernel_cache_set_target(&c, "sm_90", 12040, nvrtc_id);
  CHECK(load_ok(&c));
  CHECK_EQ_INT(c.rejected, 3);
  rm_rf(dir);
}

TEST(unreadable_or_strange_entries_are_not_loaded) {
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  cache_at(&c, dir);
  char path[600], other[700];
  ct_kernel_cache_path(&c, key, path, sizeof path);
  /* a link in place of the entry is not followed, even to a valid entry */
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  snprintf(other, sizeof other, "%s/elsewhere", dir);
  CHECK(rename(path, other) == 0 && symlink(other, path) == 0);
  CHECK(!load_ok(&c) && has(c.why, "cannot read"));
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image)); /* rename() replaces the link itself */
  CHECK(load_ok(&c));
  /* a FIFO does not hang the load */
  unlink(path);
  CHECK(mkfifo(path, 0600) == 0);
  CHECK(!load_ok(&c) && has(c.why, "not a regular file"));
  /* a group-writable entry */
  unlink(path);
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  CHECK(chmod(path, 0620) == 0);
  CHECK(!load_ok(&c) && has(c.why, "writable by its group"));
  /* unreadable (root reads anyway: then it must load normally) */
  CHECK(chmod(path, 0000) == 0);
  cache_at(&c, dir);
  if (geteuid() != 0) CHECK(!load_ok(&c) && has(c.why, "cannot read") && c.rejected == 1);
  else CHECK(load_ok(&c));
  CHECK_OK(ct_kernel_cache_store(&c, key, image, sizeof image));
  CHECK(load_ok(&c));
  rm_rf(dir);
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

TEST(full_or_read_only_disk_fails_the_store_only) {
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  cache_at(&c, dir);
  /* full: a file size limit makes the writes fail as ENOSPC would */
  struct rlimit old, lim;
  CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
  lim = old;
  lim.rlim_cur = 64;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  char big[4096];
  memset(big, 'p', sizeof big);
  CHECK_ERR(ct_kernel_cache_store(&c, key, big, sizeof big), CT_UNAVAILABLE, "cannot write");
  CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
  signal(SIGXFSZ, prev);
  CHECK_EQ_INT(c.store_failures, 1);
  CHECK_EQ_INT(count_files(dir), 0); /* no temporary file left behind */
  CHECK(!load_ok(&c));
  /* read-only: a directory we cannot create (its parent is a file) */
  char ro[300];
  snprintf(ro, sizeof ro, "%s/file", dir);
  FILE *f = fopen(ro, "w");
  if (f) fclose(f);
  snprintf(ro, sizeof ro, "%s/file/cache", dir);
  cache_at(&c, ro);
  CHECK_ERR(ct_kernel_cache_store(&c, key, image, sizeof image), CT_UNAVAILABLE, "Not a directory");
  CHECK(!load_ok(&c));
  if (geteuid() != 0) { /* root writes through a read-only mode */
    CHECK(chmod(dir, 0500) == 0);
    cache_at(&c, dir);
    CHECK_ERR(ct_kernel_cache_store(&c, key, image, sizeof image), CT_UNAVAILABLE, "cannot create a file");
    CHECK(chmod(dir, 0700) == 0);
  }
  rm_rf(dir);
}

/* ---- end to end: the fake driver and NVRTC ---------------------------- */

typedef struct {
  char text[4096];
} log_sink;

static void on_log(void *user, ct_log_level level, const char *message) {
  log_sink *s = user;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%s\n", message);
}

static bool relu_on_gpu(ct_kernel_cache *stats, log_sink *log) {
  ct_context *ctx = NULL;
  float x[4] = {-1, 2, -3, 4}, y[4] = {0};
  int64_t shape[1] = {4};
  ct_tensor *a = NULL, *r = NULL;
  bool ok = ct_context_new(&ctx) == CT_OK;
  if (ok && log) ct_context_set_log_callback(ctx, on_log, log);
  ok = ok && ct_config_set_soft_placement(ctx, false) == CT_OK && ct_device_scope_push(ctx, "/GPU:0") == CT_OK &&
       ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, x, &a) == CT_OK && ct_relu(ctx, a, &r) == CT_OK &&
       ct_tensor_to_host(r, y, sizeof y) == CT_OK && y[0] == 0 && y[1] == 2 && y[3] == 4;
  if (!ok) fprintf(stderr, "relu: %s\n", ct_last_error());
  ct_device *dev = NULL;
  memset(stats, 0, sizeof *stats);
  if (ok && ct_context_find_device(ctx, "GPU:0", &dev) == CT_OK) ct_cuda_jit_cache_stats(ct_cuda_device_of(dev), stats);
  ct_tensor_release(a);
  ct_tensor_release(r);
  ct_context_free(ctx);
  return ok;
}

static bool emulated_gpu(void) {
  char nvrtc[1200], driver[1200], tmp[1200];
  snprintf(nvrtc, sizeof nvrtc, "%s/fake_nvrtc/libnvrtc.so.13", bin_dir);
  snprintf(driver, sizeof driver, "%s/fake_cuda/libcuda.so.1", bin_dir);
  snprintf(tmp, sizeof tmp, "%s/emu-tmp", bin_dir);
  if (access(nvrtc, R_OK) != 0 || access(driver, R_OK) != 0) {
    printf("  skipped: fake NVRTC or driver not built\n");
    return false;
  }
  setenv("CT_NVRTC_PATH", nvrtc, 1);
  setenv("CT_CUDA_DRIVER_PATH", driver, 1);
  mkdir(tmp, 0755);
  setenv("TMPDIR", tmp, 1);
  return true;
}

TEST(unsafe_directory_means_compiling_in_memory) {
  if (!emulated_gpu()) return;
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  CHECK(chmod(dir, 0777) == 0);
  setenv("CT_KERNEL_CACHE_DIR", dir, 1);
  ct_kernel_cache st;
  log_sink log = {""};
  CHECK(relu_on_gpu(&st, &log)); /* the op still runs, compiled in memory */
  CHECK_EQ_INT(st.stores, 0);
  CHECK(st.store_failures >= 1 && st.dir_refused >= 1);
  CHECK(has(log.text, "refusing directory") && has(log.text, "writable by other users"));
  CHECK_EQ_INT(count_files(dir), 0);
  rm_rf(dir);
}

TEST(corrupt_entry_is_recompiled_and_replaced) {
  if (!emulated_gpu()) return;
  char dir[] = "/tmp/ct-kcache-safe-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  setenv("CT_KERNEL_CACHE_DIR", dir, 1);
  ct_kernel_cache st;
  CHECK(relu_on_gpu(&st, NULL));
  CHECK_EQ_INT(st.stores, 1);
  /* flip one payload byte of every stored entry */
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[1200] = "";
  while (d && (e = readdir(d)) != NULL) {
    if (!strstr(e->d_name, ".bin")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) continue;
    fseek(f, -2, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -2, SEEK_END);
    fputc(ch ^ 0x20, f);
    fclose(f);
  }
  if (d) closedir(d);
  log_sink log = {""};
  CHECK(relu_on_gpu(&st, &log));
  if (!(st.rejected == 1 && st.hits == 0 && st.stores == 1))
    fprintf(stderr, "rejected %d hits %d stores %d evicted %d: %s\n", (int)st.rejected, (int)st.hits, (int)st.stores,
            (int)st.evicted, path);
  CHECK(st.rejected == 1 && st.hits == 0 && st.stores == 1);
  CHECK(has(log.text, "checksum mismatch"));
  CHECK(relu_on_gpu(&st, NULL)); /* the replacement is good */
  CHECK(st.hits == 1 && st.rejected == 0 && st.stores == 0);
  rm_rf(dir);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  snprintf(bin_dir, sizeof bin_dir, "%s", bin ? bin : "build");
  RUN(directory_is_created_0700);
  RUN(directory_writable_by_others_is_refused);
  RUN(directory_or_entry_of_another_user_is_refused);
  RUN(every_entry_is_verified_before_loading);
  RUN(entry_for_another_gpu_driver_or_nvrtc_is_not_loaded);
  RUN(unreadable_or_strange_entries_are_not_loaded);
  RUN(full_or_read_only_disk_fails_the_store_only);
  RUN(unsafe_directory_means_compiling_in_memory);
  RUN(corrupt_entry_is_recompiled_and_replaced);
  TEST_MAIN_END();
}
