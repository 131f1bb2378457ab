/*
 * Every GPU kernel compiles under the real NVRTC found on this machine
 * (through the loader's own search), for two architectures; and the disk
 * cache of compiled kernels keys, writes and verifies its entries.
 *
 * Without NVRTC (no CUDA toolkit or runtime) the test prints "SKIP: ..."
 * and exits 77, which CTest reports as skipped (cmake/parts/cuda_kernels.cmake).
 *
 * Time: every kernel goes through NVRTC as PTX, one program per module and
 * architecture, the two architectures on two threads (a few seconds); a
 * handful go all the way to CUBIN through ct_nvrtc_compile, the production
 * path. CT_NVRTC_TEST_FULL=1 also compiles every kernel to CUBIN one by
 * one, exactly as a GPU would on first use (a minute or two).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "cuda/kernel_cache.h"
#include "cuda/kernel_catalog.h"
#include "cuda/kernel_sources.h"
#include "cuda/loader.h"
#include "cuda/nvrtc.h"
#include "testutil.h"

static ct_nvrtc nv;
static ct_cuda_kref *all;
static int n_all;

/* ---- catalog and embedded sources --------------------------------------- */

TEST(catalog_is_consistent) {
  CHECK(n_all > 150);
  for (int i = 0; i < n_all; i++) {
    CHECK(ct_cuda_source_find(all[i].module) != NULL);
    CHECK(strncmp(all[i].name[0], "ct_", 3) == 0);
    for (int j = 0; j < i; j++) CHECK(strcmp(all[i].name[0], all[j].name[0]) != 0);
  }
  CHECK(ct_cuda_source_find("common.cuh") != NULL);
  const ct_cuda_source *ph = ct_cuda_source_find("philox.h");
  CHECK(ph != NULL && strstr(ph->text, "ct_philox4x32_10") != NULL);
  ct_cuda_kref k;
  CHECK(ct_cuda_kref_binary(CT_OP_ADD, CT_FLOAT32, &k));
  CHECK_EQ_STR(k.name[0], "ct_add_f32");
  CHECK_EQ_STR(k.inst, "CT_BIN(add, OpAdd, float, f32)");
  CHECK(ct_cuda_kref_binary(CT_OP_DIV, CT_INT32, &k));
  CHECK_EQ_STR(k.inst, "CT_TRUEDIV(int, i32)");
  CHECK(!ct_cuda_kref_binary(CT_OP_ADD, CT_BOOL, &k));
  CHECK(ct_cuda_kref_binary(CT_OP_EQUAL, CT_BOOL, &k));
  CHECK(!ct_cuda_kref_unary(CT_OP_EXP, CT_INT32, &k));
  CHECK(ct_cuda_kref_random(CT_OP_RANDOM_NORMAL, CT_FLOAT32, &k) && k.option && strcmp(k.option, "--fmad=false") == 0);
  CHECK(ct_cuda_kref_reduce(CT_OP_MEAN, CT_FLOAT16, &k));
  CHECK_EQ_STR(k.name[1], "ct_sumfin_f16");
  CHECK(!ct_cuda_kref_cast(CT_FLOAT32, CT_FLOAT32, &k));
  char *src = ct_cuda_kref_source(&k);
  CHECK(src != NULL && strstr(src, "CT_REDUCE(sum, OpSum, f16, f16)\n") != NULL);
  free(src);
}

/* ---- every kernel, batched per module ------------------------------------- */

typedef struct arch_job {
  int cc_major, cc_minor;
  int compiled, failed;
  char first_error[512];
} arch_job;

static void *compile_all_for(void *p) {
  arch_job *job = p;
  ct_nvrtc_target t;
  memset(&t, 0, sizeof t);
  snprintf(t.arch, sizeof t.arch, "compute_%d%d", job->cc_major, job->cc_minor);
  snprintf(t.option, sizeof t.option, "-arch=%s", t.arch);
  t.cubin = false;
  for (int i = 0; i < ct_cuda_source_count; i++) {
    const ct_cuda_source *m = &ct_cuda_sources[i];
    size_t cap = m->len + 2, used = m->len;
    const char *option = NULL;
    int count = 0;
    for (int j = 0; j < n_all; j++)
      if (strcmp(all[j].module, m->name) == 0) cap += strlen(all[j].inst) + 1;
    char *src = malloc(cap);
    memcpy(src, m->text, m->len);
    src[used++] = '\n';
    for (int j = 0; j < n_all; j++) {
      if (strcmp(all[j].module, m->name) != 0) continue;
      size_t l = strlen(all[j].inst);
      memcpy(src + used, all[j].inst, l);
      used += l;
      src[used++] = '\n';
      option = all[j].option;
      count++;
    }
    src[used] = '\0';
    if (count > 0) {
      void *img = NULL;
      size_t size = 0;
      const char *opts[1] = {option};
      ct_status s = ct_nvrtc_compile(&nv, &t, m->name, src, opts, option ? 1 : 0, &img, &size);
      if (s == CT_OK && size > 0) {
        job->compiled += count;
        /* every kernel of the module is in the PTX under its name */
        for (int j = 0; j < n_all; j++)
          if (strcmp(all[j].module, m->name) == 0 &&
              (strstr(img, all[j].name[0]) == NULL || (all[j].name[1][0] && strstr(img, all[j].name[1]) == NULL))) {
            job->failed++;
            snprintf(job->first_error, sizeof job->first_error, "%s missing from the PTX", all[j].name[0]);
          }
      } else {
        job->failed += count;
        if (!job->first_error[0]) snprintf(job->first_error, sizeof job->first_error, "%s", ct_last_error());
      }
      free(img);
    }
    free(src);
  }
  return NULL;
}

TEST(every_kernel_compiles_for_sm75_and_sm90) {
  arch_job jobs[2] = {{7, 5, 0, 0, ""}, {9, 0, 0, 0, ""}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, compile_all_for, &jobs[i]) == 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    printf("  sm_%d%d: %d of %d kernels compiled\n", jobs[i].cc_major, jobs[i].cc_minor, jobs[i].compiled, n_all);
    if (jobs[i].failed) fprintf(stderr, "  first failure: %s\n", jobs[i].first_error);
    CHECK_EQ_INT(jobs[i].failed, 0);
    CHECK_EQ_INT(jobs[i].compiled, n_all);
  }
}

/* ---- the production path: one kernel per compile, CUBIN ------------------- */

static bool is_elf(const void *p, size_t n) { return n > 4 && memcmp(p, "\177ELF", 4) == 0; }

TEST(cubin_for_the_device_architecture) {
  static const int ccs[][2] = {{7, 5}, {9, 0}};
  ct_cuda_kref ks[3];
  CHECK(ct_cuda_kref_binary(CT_OP_ADD, CT_FLOAT32, &ks[0]));
  CHECK(ct_cuda_kref_random(CT_OP_RANDOM_NORMAL, CT_FLOAT32, &ks[1]));
  CHECK(ct_cuda_kref_reduce(CT_OP_SUM, CT_BFLOAT16, &ks[2]));
  for (size_t a = 0; a < CT_ARRAY_LEN(ccs); a++) {
    ct_nvrtc_target t;
    CHECK_OK(ct_nvrtc_pick_target(&nv, ccs[a][0], ccs[a][1], &t));
    char want[16];
    snprintf(want, sizeof want, "sm_%d%d", ccs[a][0], ccs[a][1]);
    CHECK_EQ_STR(t.arch, want);
    CHECK(t.cubin);
    for (size_t i = 0; i < CT_ARRAY_LEN(ks); i++) {
      char *src = ct_cuda_kref_source(&ks[i]);
      void *img = NULL;
      size_t size = 0;
      const char *opts[1] = {ks[i].option};
      CHECK_OK(ct_nvrtc_compile(&nv, &t, ks[i].name[0], src, opts, ks[i].option ? 1 : 0, &img, &size));
      CHECK(is_elf(img, size));
      free(img);
      free(src);
    }
  }
}

TEST(target_choice) {
  ct_nvrtc fake = nv;
  int archs[] = {75, 80, 86, 89, 90};
  memcpy(fake.archs, archs, sizeof archs);
  fake.n_archs = 5;
  ct_nvrtc_target t;
  CHECK_OK(ct_nvrtc_pick_target(&fake, 8, 6, &t));
  CHECK_EQ_STR(t.option, "-arch=sm_86");
  /* sm_87 unknown to this NVRTC: sm_86's cubin runs on it */
  CHECK_OK(ct_nvrtc_pick_target(&fake, 8, 7, &t));
  CHECK_EQ_STR(t.arch, "sm_86");
  CHECK(t.cubin);
  /* a GPU newer than NVRTC: PTX of the newest architecture, for the driver */
  CHECK_OK(ct_nvrtc_pick_target(&fake, 12, 0, &t));
  CHECK_EQ_STR(t.option, "-arch=compute_90");
  CHECK(!t.cubin);
  /* older than NVRTC supports */
  CHECK_ERR(ct_nvrtc_pick_target(&fake, 6, 1, &t), CT_UNAVAILABLE, "cannot compile for sm_61");
  CHECK_ERR(ct_nvrtc_pick_target(&fake, 6, 1, &t), CT_UNAVAILABLE, "sm_75 to sm_90");
}

TEST(compile_error_names_the_kernel) {
  ct_nvrtc_target t;
  CHECK_OK(ct_nvrtc_pick_target(&nv, 9, 0, &t));
  void *img = NULL;
  size_t size = 0;
  CHECK_ERR(ct_nvrtc_compile(&nv, &t, "ct_broken", "extern \"C\" __global__ void k() { undeclared_thing(); }", NULL, 0,
                             &img, &size),
            CT_INTERNAL, "compiling ct_broken for sm_90 failed: NVRTC_ERROR_COMPILATION");
  CHECK(strstr(ct_last_error(), "undeclared_thing") != NULL);
  CHECK(img == NULL);
}

/* ---- the disk cache ----------------------------------------------------------- */

static char tmpdir[256];

static int count_files(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, needle)) n++;
  closedir(d);
  return n;
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[600];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

TEST(cache_key_covers_source_arch_options_and_version) {
  char k1[CT_KCACHE_KEY_HEX], k2[CT_KCACHE_KEY_HEX];
  ct_kernel_cache_key("sm_90", NULL, 13, 0, "src", k1);
  CHECK_EQ_INT(strlen(k1), 64);
  ct_kernel_cache_key("sm_90", NULL, 13, 0, "src", k2);
  CHECK_EQ_STR(k1, k2);
  ct_kernel_cache_key("sm_75", NULL, 13, 0, "src", k2);
  CHECK(strcmp(k1, k2) != 0);
  ct_kernel_cache_key("sm_90", "--fmad=false", 13, 0, "src", k2);
  CHECK(strcmp(k1, k2) != 0);
  ct_kernel_cache_key("sm_90", NULL, 12, 8, "src", k2);
  CHECK(strcmp(k1, k2) != 0);
  ct_kernel_cache_key("sm_90", NULL, 13, 0, "src ", k2);
  CHECK(strcmp(k1, k2) != 0);
  char h[CT_KCACHE_KEY_HEX];
  ct_sha256_hex("abc", 3, h);
  CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(cache_store_load_and_reject_corruption) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/nested/ctensor", tmpdir);
  ct_kernel_cache c;
  ct_kernel_cache_init(&c, dir);
  CHECK(c.enabled);

  ct_cuda_kref k;
  CHECK(ct_cuda_kref_unary(CT_OP_RELU, CT_FLOAT32, &k));
  char *src = ct_cuda_kref_source(&k);
  ct_nvrtc_target t;
  CHECK_OK(ct_nvrtc_pick_target(&nv, 7, 5, &t));
  char key[CT_KCACHE_KEY_HEX];
  ct_kernel_cache_key(t.arch, k.option, nv.major, nv.minor, src, key);
  void *img = NULL, *back = NULL;
  size_t size = 0, back_size = 0;
  CHECK(!ct_kernel_cache_load(&c, key, &back, &back_size)); /* empty cache: a miss */
  CHECK_EQ_INT(c.misses, 1);
  CHECK_OK(ct_nvrtc_compile(&nv, &t, k.name[0], src, NULL, 0, &img, &size));
  CHECK_OK(ct_kernel_cache_store(&c, key, img, size)); /* creates the directories */
  CHECK_EQ_INT(c.stores, 1);
  CHECK_EQ_INT(count_files(dir, ".bin"), 1);
  CHECK_EQ_INT(count_files(dir, ".tmp"), 0); /* written through a temporary, renamed */

  CHECK(ct_kernel_cache_load(&c, key, &back, &back_size));
  CHECK_EQ_INT(back_size, size);
  CHECK(back && memcmp(back, img, size) == 0);
  CHECK_EQ_INT(c.hits, 1);
  free(back);

  char path[600];
  ct_kernel_cache_path(&c, key, path, sizeof path);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && (size_t)sb.st_size > size);

  /* flip one payload byte: the checksum rejects the file */
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f) {
    fseek(f, -10, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -10, SEEK_END);
    fputc(ch ^ 0x5a, f);
    fclose(f);
  }
  back = NULL;
  CHECK(!ct_kernel_cache_load(&c, key, &back, &back_size));
  CHECK(back == NULL);
  CHECK_EQ_INT(c.rejected, 1);

  /* a store replaces the bad entry */
  CHECK_OK(ct_kernel_cache_store(&c, key, img, size));
  CHECK(ct_kernel_cache_load(&c, key, &back, &back_size));
  free(back);

  /* truncated file */
  CHECK(truncate(path, (off_t)(sb.st_size - 100)) == 0);
  CHECK(!ct_kernel_cache_load(&c, key, &back, &back_size));
  CHECK_EQ_INT(c.rejected, 2);

  /* a file whose header names another key (renamed or colliding) */
  char other[CT_KCACHE_KEY_HEX];
  ct_kernel_cache_key("sm_90", NULL, nv.major, nv.minor, src, other);
  CHECK_OK(ct_kernel_cache_store(&c, other, img, size));
  char other_path[600];
  ct_kernel_cache_path(&c, other, other_path, sizeof other_path);
  CHECK(rename(other_path, path) == 0);
  CHECK(!ct_kernel_cache_load(&c, key, &back, &back_size));
  CHECK_EQ_INT(c.rejected, 3);

  /* a disabled cache neither reads nor writes */
  ct_kernel_cache off;
  ct_kernel_cache_init(&off, "");
  CHECK(!off.enabled);
  CHECK_OK(ct_kernel_cache_store(&off, key, img, size));
  CHECK(!ct_kernel_cache_load(&off, key, &back, &back_size));

  /* an unwritable place fails softly, naming the directory */
  ct_kernel_cache bad;
  ct_kernel_cache_init(&bad, "/proc/ctensor-cannot-be-here");
  CHECK_ERR(ct_kernel_cache_store(&bad, key, img, size), CT_UNAVAILABLE, "/proc/ctensor-cannot-be-here");
  CHECK_EQ_INT(bad.store_failures, 1);

  free(img);
  free(src);
  remove_tree(dir);
  char parent[300];
  snprintf(parent, sizeof parent, "%s/nested", tmpdir);
  rmdir(parent);
}

TEST(cache_dir_from_environment) {
  ct_kernel_cache c;
  setenv("CT_KERNEL_CACHE_DIR", "/x/explicit", 1);
  ct_kernel_cache_init(&c, NULL);
  CHECK_EQ_STR(c.dir, "/x/explicit");
  unsetenv("CT_KERNEL_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/x/xdg", 1);
  ct_kernel_cache_init(&c, NULL);
  CHECK_EQ_STR(c.dir, "/x/xdg/ctensor");
  setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, per the XDG spec */
  setenv("HOME", "/x/home", 1);
  ct_kernel_cache_init(&c, NULL);
  CHECK_EQ_STR(c.dir, "/x/home/.cache/ctensor");
  setenv("CT_KERNEL_CACHE", "0", 1);
  ct_kernel_cache_init(&c, NULL);
  CHECK(!c.enabled);
  unsetenv("CT_KERNEL_CACHE");
  unsetenv("XDG_CACHE_HOME");
}

/* CT_NVRTC_TEST_FULL=1: every kernel alone, CUBIN, as on a GPU. */
TEST(full_cubin_compile_if_asked) {
  const char *full = getenv("CT_NVRTC_TEST_FULL");
  if (!full || strcmp(full, "1") != 0) return;
  ct_nvrtc_target t;
  CHECK_OK(ct_nvrtc_pick_target(&nv, 9, 0, &t));
  for (int i = 0; i < n_all; i++) {
    char *src = ct_cuda_kref_source(&all[i]);
    void *img = NULL;
    size_t size = 0;
    const char *opts[1] = {all[i].option};
    CHECK_OK(ct_nvrtc_compile(&nv, &t, all[i].name[0], src, opts, all[i].option ? 1 : 0, &img, &size));
    CHECK(is_elf(img, size));
    free(img);
    free(src);
  }
}

int main(void) {
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) {
    fprintf(stderr, "context: %s\n", ct_last_error());
    return 1;
  }
  void *handle = NULL;
  if (ct_cuda_load_nvrtc(ctx, &handle) != CT_OK) {
    printf("SKIP: no NVRTC library on this machine: %s\n", ct_last_error());
    ct_context_free(ctx);
    return 77;
  }
  if (ct_nvrtc_bind(handle, &nv) != CT_OK) {
    fprintf(stderr, "nvrtc: %s\n", ct_last_error());
    ct_context_free(ctx);
    return 1;
  }
  printf("NVRTC %d.%d, %d architectures\n", nv.major, nv.minor, nv.n_archs);
  n_all = ct_cuda_kernel_catalog(NULL, 0);
  all = calloc((size_t)n_all, sizeof *all);
  ct_cuda_kernel_catalog(all, n_all);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ct_nvrtc_test.XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }

  RUN(catalog_is_consistent);
  RUN(target_choice);
  RUN(cache_key_covers_source_arch_options_and_version);
  RUN(cache_dir_from_environment);
  RUN(compile_error_names_the_kernel);
  RUN(cubin_for_the_device_architecture);
  RUN(cache_store_load_and_reject_corruption);
  RUN(every_kernel_compiles_for_sm75_and_sm90);
  RUN(full_cubin_compile_if_asked);

  rmdir(tmpdir);
  free(all);
  ct_context_free(ctx);
  TEST_MAIN_END();
}
