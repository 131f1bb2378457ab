/*
 * The kernel cache key covers everything that decides a binary, and an
 * image the driver refuses is evicted and compiled again (issue 16, item
 * 1). Needs no GPU: keys are pure functions, and eviction runs on the fake
 * driver with the fake NVRTC when it is built.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/cuda_device.h"
#include "cuda/jit.h"
#include "cuda/kernel_sources.h"
#include "testutil.h"

static char bin_dir[1024];

/* The embedded headers, with one replaced by `patched` when non-NULL. */
static int headers(const char **texts, const char **names, const char *which, const char *patched) {
  int n = ct_nvrtc_headers(texts, names, 32);
  for (int i = 0; i < n && patched; i++)
    if (strcmp(names[i], which) == 0) texts[i] = patched;
  return n;
}

static void key_with(const char *which, const char *patched, const char *const *opts, int n_opts, const char *ver,
                     char key[CT_KCACHE_KEY_HEX]) {
  const char *texts[32], *names[32];
  ct_kernel_cache_inputs in = {.arch = "sm_90",
                               .options = opts,
                               .n_options = n_opts,
                               .nvrtc_version = ver,
                               .source = "#include \"common.cuh\"\nCT_UN(relu, OpRelu, float, f32)\n",
                               .header_names = names,
                               .header_texts = texts,
                               .n_headers = headers(texts, names, which, patched)};
  ct_kernel_cache_key_of(&in, key);
}

/* A copy of an embedded header with its first digit changed: "a header
 * constant changed". */
static char *patched_copy(const char *name) {
  const ct_cuda_source *src = ct_cuda_source_find(name);
  if (!src) return NULL;
  char *copy = strdup(src->text);
  if (!copy) return NULL;
  for (char *p = copy; *p; p++)
    if (*p >= '0' && *p <= '9') {
      *p = *p == '9' ? '8' : (char)(*p + 1);
      break;
    }
  return copy;
}

TEST(key_covers_every_header_option_and_the_nvrtc_build) {
  const char *opts[2] = {"-arch=sm_90", "--fmad=false"};
  char base[CT_KCACHE_KEY_HEX], k[CT_KCACHE_KEY_HEX];
  key_with(NULL, NULL, opts, 1, "13.0 /lib/libnvrtc.so.13.0.48 100 1", base);
  key_with(NULL, NULL, opts, 1, "13.0 /lib/libnvrtc.so.13.0.48 100 1", k);
  CHECK_EQ_STR(base, k);
  /* Every header that reaches NVRTC, not only the module's text. */
  CHECK(ct_cuda_source_find("common.cuh") && ct_cuda_source_find("philox.h"));
  const char *hdrs[] = {"common.cuh", "philox.h"};
  for (size_t i = 0; i < CT_ARRAY_LEN(hdrs); i++) {
    char *patched = patched_copy(hdrs[i]);
    CHECK(patched != NULL);
    key_with(hdrs[i], patched, opts, 1, "13.0 /lib/libnvrtc.so.13.0.48 100 1", k);
    CHECK(strcmp(base, k) != 0);
    free(patched);
  }
  key_with(NULL, NULL, opts, 2, "13.0 /lib/libnvrtc.so.13.0.48 100 1", k); /* one more option */
  CHECK(strcmp(base, k) != 0);
  key_with(NULL, NULL, opts, 1, "13.0 /lib/libnvrtc.so.13.0.88 100 1", k); /* a patch release */
  CHECK(strcmp(base, k) != 0);
  /* Field boundaries are hashed: ("ab", "c") is not ("a", "bc"). */
  const char *o1[2] = {"ab", "c"}, *o2[2] = {"a", "bc"};
  char k1[CT_KCACHE_KEY_HEX], k2[CT_KCACHE_KEY_HEX];
  key_with(NULL, NULL, o1, 2, "v", k1);
  key_with(NULL, NULL, o2, 2, "v", k2);
  CHECK(strcmp(k1, k2) != 0);
}

/* Same cache directory, a header constant changed: the old entry is not
 * found under the new key. */
TEST(changed_header_gets_no_stale_hit) {
  char dir[] = "/tmp/ct-kcache-test-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  ct_kernel_cache c;
  ct_kernel_cache_init(&c, dir);
  const char *opts[1] = {"-arch=sm_90"};
  char old_key[CT_KCACHE_KEY_HEX], new_key[CT_KCACHE_KEY_HEX];
  key_with(NULL, NULL, opts, 1, "13.0", old_key);
  static const char image[] = "\x7f" "ELF built with the old header";
  CHECK_OK(ct_kernel_cache_store(&c, old_key, image, sizeof image));
  char *patched = patched_copy("common.cuh");
  key_with("common.cuh", patched, opts, 1, "13.0", new_key);
  free(patched);
  void *data = NULL;
  size_t size = 0;
  CHECK(!ct_kernel_cache_load(&c, new_key, &data, &size));
  CHECK_EQ_INT(c.hits, 0);
  CHECK(ct_kernel_cache_load(&c, old_key, &data, &size)); /* the old one is still there, for the old build */
  free(data);
  ct_kernel_cache_evict(&c, old_key);
  CHECK_EQ_INT(c.evicted, 1);
  CHECK(!ct_kernel_cache_load(&c, old_key, &data, &size));
  rmdir(dir);
}

/* Rewrites every entry with a payload that passes the checksum but that
 * no driver loads. Returns how many. */
static int poison(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strlen(e->d_name) != 68 || strcmp(e->d_name + 64, ".bin") != 0) continue;
    char key[65], path[1200], sum[CT_KCACHE_KEY_HEX];
    memcpy(key, e->d_name, 64);
    key[64] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    static const char junk[] = "neither ELF nor PTX";
    ct_sha256_hex(junk, sizeof junk, sum);
    /* keep the header's format and what the entry was built for (the
     * fields after the checksum): only the driver may refuse it */
    char head[1024] = "", format[64] = "";
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    bool got = fgets(head, sizeof head, f) != NULL;
    fclose(f);
    const char *tail = head;
    for (int field = 0; got && field < 4 && tail; field++) tail = strchr(tail, ' ') ? strchr(tail, ' ') + 1 : NULL;
    if (!got || !tail || sscanf(head, "%63s", format) != 1) continue;
    f = fopen(path, "wb");
    if (!f) continue;
    fprintf(f, "%s %s %zu %s %s", format, key, sizeof junk, sum, tail);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    n++;
  }
  closedir(d);
  return n;
}

static bool relu_on_gpu(ct_kernel_cache *stats) {
  ct_context *ctx = NULL;
  float x[4] = {-1, 2, -3, 4}, y[4] = {0};
  int64_t shape[1] = {4};
  ct_tensor *a = NULL, *r = NULL;
  bool ok = ct_context_new(&ctx) == CT_OK && ct_config_set_soft_placement(ctx, false) == CT_OK &&
            ct_device_scope_push(ctx, "/GPU:0") == CT_OK && ct_tensor_from_host(ctx, CT_FLOAT32, shape, 1, x, &a) == CT_OK &&
            ct_relu(ctx, a, &r) == CT_OK && ct_tensor_to_host(r, y, sizeof y) == CT_OK && y[0] == 0 && y[1] == 2 &&
            y[3] == 4;
  if (!ok) fprintf(stderr, "relu: %s\n", ct_last_error());
  ct_device *dev = NULL;
  if (ok && ct_context_find_device(ctx, "GPU:0", &dev) == CT_OK) ct_cuda_jit_cache_stats(ct_cuda_device_of(dev), stats);
  ct_tensor_release(a);
  ct_tensor_release(r);
  ct_context_free(ctx);
  return ok;
}

/* End to end on the fake driver and NVRTC: an entry the driver refuses is
 * evicted, the kernel compiled again, the op gives the right answer, and
 * the next process finds the good entry. */
TEST(refused_image_is_evicted_and_recompiled) {
  char nvrtc[1200], driver[1200], tmp[1200];
  snprintf(nvrtc, sizeof nvrtc, "%s/fake_nvrtc/libnvrtc.so.13", bin_dir);
  snprintf(driver, sizeof driver, "%s/fake_cuda/libcuda.so.1", bin_dir);
  snprintf(tmp, sizeof tmp, "%s/emu-tmp", bin_dir);
  if (access(nvrtc, R_OK) != 0 || access(driver, R_OK) != 0) {
    printf("  skipped: fake NVRTC or driver not built\n");
    return;
  }
  char dir[] = "/tmp/ct-kcache-evict-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  setenv("CT_NVRTC_PATH", nvrtc, 1);
  setenv("CT_CUDA_DRIVER_PATH", driver, 1);
  setenv("CT_KERNEL_CACHE_DIR", dir, 1);
  mkdir(tmp, 0755);
  setenv("TMPDIR", tmp, 1);
  ct_kernel_cache st;
  CHECK(relu_on_gpu(&st)); /* cold: compiles and stores */
  CHECK_EQ_INT(st.stores, 1);
  CHECK_EQ_INT(poison(dir), 2); /* relu, and the probe that found NVRTC usable (library_check.c) */
  CHECK(relu_on_gpu(&st)); /* the driver refuses the entry: evicted, recompiled */
  CHECK_EQ_INT(st.hits, 1);
  CHECK_EQ_INT(st.evicted, 1);
  CHECK_EQ_INT(st.stores, 1);
  CHECK(relu_on_gpu(&st)); /* warm again: a plain hit */
  CHECK_EQ_INT(st.hits, 1);
  CHECK_EQ_INT(st.evicted, 0);
  CHECK_EQ_INT(st.stores, 0);
  char cmd[1300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

int main(void) {
  const char *bin = getenv("CT_BINARY_DIR");
  snprintf(bin_dir, sizeof bin_dir, "%s", bin ? bin : "build");
  RUN(key_covers_every_header_option_and_the_nvrtc_build);
  RUN(changed_header_gets_no_stale_hit);
  RUN(refused_image_is_evicted_and_recompiled);
  TEST_MAIN_END();
}
