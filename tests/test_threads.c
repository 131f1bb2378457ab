/*
 * Threads (issue 14), built and run under ThreadSanitizer by `make test`
 * (the build-tsan tree) as well as in the other two trees:
 *  - many threads, each with its own device scopes and device policy,
 *    running ops on one context and checking every answer;
 *  - concurrent first use of a fresh context: lazy discovery and
 *    initialisation raced by every thread, and the first compile of one
 *    kernel on the emulated GPU asked for by several threads at once;
 *  - the log callback called from several threads;
 *  - ct_context_free while another thread is still finishing an op with
 *    the context's tensors (documented: tensors keep the context alive);
 *  - gradient tapes recording and differentiating on several threads;
 *  - several processes compiling the same kernel into one shared kernel
 *    cache: each gets a correct result, and the cache ends with one
 *    complete entry per kernel and no temporary files.
 * The GPU cases use the fake driver, cuBLAS and NVRTC of the build tree
 * (tests/fake_cuda); they are skipped when the fake NVRTC has no C++
 * compiler to run.
 */
#include <dirent.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

#define N_THREADS 8
static char self_path[1024];
static char build_dir[1024];

/* ---- many threads, own scopes and policies -------------------------------- */

static ct_context *shared;
static atomic_int wrong_answers;

static void *scoped_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  /* even threads on CPU:1 with the explicit policy; odd ones nest two
   * scopes and warn on copies */
  ct_device_policy policy = id % 2 ? CT_POLICY_WARN : CT_POLICY_EXPLICIT;
  if (ct_config_set_device_policy(shared, policy) != CT_OK) atomic_fetch_add(&wrong_answers, 1);
  const char *scope = id % 2 ? "/device:CPU:0" : "/CPU:1";
  if (ct_device_scope_push(shared, scope) != CT_OK) atomic_fetch_add(&wrong_answers, 1);
  if (id % 2 && ct_device_scope_push(shared, "/CPU:1") != CT_OK) atomic_fetch_add(&wrong_answers, 1);
  int64_t s[1] = {4};
  for (int it = 0; it < 50; it++) {
    float av[4] = {(float)id, 1, 2, (float)it}, got[4];
    ct_tensor *a = NULL, *b = NULL, *c = NULL;
    bool ok = ct_tensor_from_host(shared, CT_FLOAT32, s, 1, av, &a) == CT_OK && ct_mul(shared, a, a, &b) == CT_OK &&
              ct_add(shared, b, a, &c) == CT_OK && ct_tensor_to_host(c, got, sizeof got) == CT_OK;
    ok = ok && got[0] == av[0] * av[0] + av[0] && got[3] == av[3] * av[3] + av[3];
    ok = ok && strstr(ct_tensor_device(c), "CPU:1") != NULL;
    if (!ok) atomic_fetch_add(&wrong_answers, 1);
    ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
  }
  char cur[CT_DEVICE_NAME_MAX];
  if (ct_device_scope_current(shared, cur, sizeof cur) != CT_OK || !strstr(cur, "CPU:1"))
    atomic_fetch_add(&wrong_answers, 1);
  if (ct_config_get_device_policy(shared) != policy) atomic_fetch_add(&wrong_answers, 1);
  if (id % 2) ct_device_scope_pop(shared);
  ct_device_scope_pop(shared);
  return NULL;
}

static int log_lines_seen;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void count_log(void *user, ct_log_level level, const char *message) {
  (void)user, (void)level;
  if (strstr(message, "Executing op")) {
    pthread_mutex_lock(&log_lock);
    log_lines_seen++;
    pthread_mutex_unlock(&log_lock);
  }
}

static void run_threads(void *(*fn)(void *), int n) {
  pthread_t th[N_THREADS];
  for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}

TEST(threads_with_own_scopes_and_policies_and_the_log) {
  CHECK_OK(ct_context_new(&shared));
  ct_logical_device_config cfg[2];
  memset(cfg, 0, sizeof cfg);
  CHECK_OK(ct_config_set_logical_devices(shared, "/physical_device:CPU:0", cfg, 2));
  ct_context_set_log_callback(shared, count_log, NULL);
  CHECK_OK(ct_config_set_log_placement(shared, true));
  atomic_store(&wrong_answers, 0);
  run_threads(scoped_worker, N_THREADS);
  CHECK_EQ_INT(atomic_load(&wrong_answers), 0);
  /* from_host, mul and add, 50 times on each thread, each logged once */
  pthread_mutex_lock(&log_lock);
  CHECK_EQ_INT(log_lines_seen, N_THREADS * 50 * 3);
  pthread_mutex_unlock(&log_lock);
  uint64_t ops = 0;
  CHECK_OK(ct_device_op_count(shared, "/CPU:1", &ops));
  CHECK_EQ_INT(ops, N_THREADS * 50 * 3);
  ct_context_free(shared);
}

/* ---- concurrent first use ------------------------------------------------- */

static ct_context *fresh;
static pthread_barrier_t start_line;

static void *first_use_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  pthread_barrier_wait(&start_line);
  /* half ask for devices first (lazy discovery), half run an op first
   * (discovery and initialisation inside the op) */
  if (id % 2 && ct_physical_device_count(fresh, "CPU") != 1) atomic_fetch_add(&wrong_answers, 1);
  int64_t s[1] = {3};
  float v[3] = {1, 2, 3}, got[3];
  ct_tensor *a = NULL, *b = NULL;
  if (ct_fill(fresh, CT_FLOAT32, s, 1, id, &a) != CT_OK || ct_tensor_from_host(fresh, CT_FLOAT32, s, 1, v, &b) != CT_OK)
    atomic_fetch_add(&wrong_answers, 1);
  ct_tensor *c = NULL;
  if (a && b && (ct_add(fresh, a, b, &c) != CT_OK || ct_tensor_to_host(c, got, sizeof got) != CT_OK ||
                 got[2] != 3.0f + (float)id))
    atomic_fetch_add(&wrong_answers, 1);
  ct_tensor_release(a), ct_tensor_release(b), ct_tensor_release(c);
  if (ct_logical_device_count(fresh, NULL) < 1) atomic_fetch_add(&wrong_answers, 1);
  return NULL;
}

TEST(concurrent_first_use_of_a_context) {
  for (int round = 0; round < 3; round++) {
    CHECK_OK(ct_context_new(&fresh));
    atomic_store(&wrong_answers, 0);
    pthread_barrier_init(&start_line, NULL, N_THREADS);
    run_threads(first_use_worker, N_THREADS);
    pthread_barrier_destroy(&start_line);
    CHECK_EQ_INT(atomic_load(&wrong_answers), 0);
    CHECK(ct_context_is_initialized(fresh));
    ct_context_free(fresh);
  }
}

/* ---- the emulated GPU: the first compile of one kernel, raced ------------ */

static bool have_emulated_gpu(void) {
  char nvrtc[1200];
  snprintf(nvrtc, sizeof nvrtc, "%s/fake_nvrtc/libnvrtc.so.13", build_dir);
  return access(nvrtc, R_OK) == 0 && getenv("CT_THREADS_NO_GPU") == NULL;
}

/* Points this process at the fake GPU stack with a kernel cache of `dir`. */
static void use_emulated_gpu(const char *cache_dir) {
  char buf[1200];
  snprintf(buf, sizeof buf, "%s/fake_cuda/libcuda.so.1", build_dir);
  setenv("CT_CUDA_DRIVER_PATH", buf, 1);
  snprintf(buf, sizeof buf, "%s/fake_cublas/libcublas.so.13", build_dir);
  setenv("CT_CUBLAS_PATH", buf, 1);
  snprintf(buf, sizeof buf, "%s/fake_cublas/libcublasLt.so.13", build_dir);
  setenv("CT_CUBLASLT_PATH", buf, 1);
  snprintf(buf, sizeof buf, "%s/fake_nvrtc/libnvrtc.so.13", build_dir);
  setenv("CT_NVRTC_PATH", buf, 1);
  /* host-kernel libraries are written and loaded here: /tmp may be noexec */
  snprintf(buf, sizeof buf, "%s/emu-tmp", build_dir);
  mkdir(buf, 0700);
  setenv("TMPDIR", buf, 1);
  setenv("CT_KERNEL_CACHE_DIR", cache_dir, 1);
  setenv("CT_FAKE_CUDA_SMS", "2", 1);
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
    else unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

/* Counts the files under dir: complete entries and leftovers. */
static void count_cache(const char *dir, int *entries, int *temporaries) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) count_cache(p, entries, temporaries);
    else if (strstr(e->d_name, ".tmp")) (*temporaries)++;
    else (*entries)++;
  }
  closedir(d);
}

/* One GPU add and its check; the first one compiles the kernel. */
static bool gpu_add_once(ct_context *ctx, float base) {
  int64_t s[1] = {5};
  float a[5], got[5];
  for (int i = 0; i < 5; i++) a[i] = base + (float)i;
  ct_tensor *x = NULL, *y = NULL;
  bool ok = ct_device_scope_push(ctx, "/GPU:0") == CT_OK;
  ok = ok && ct_tensor_from_host(ctx, CT_FLOAT32, s, 1, a, &x) == CT_OK && ct_add(ctx, x, x, &y) == CT_OK &&
       strstr(ct_tensor_device(y), "GPU:0") && ct_tensor_to_host(y, got, sizeof got) == CT_OK;
  for (int i = 0; ok && i < 5; i++) ok = got[i] == 2 * a[i];
  if (!ok) fprintf(stderr, "gpu add: %s\n", ct_last_error());
  ct_device_scope_pop(ctx);
  ct_tensor_release(x), ct_tensor_release(y);
  return ok;
}

static ct_context *gpu_ctx;
static void *gpu_worker(void *arg) {
  pthread_barrier_wait(&start_line);
  if (!gpu_add_once(gpu_ctx, (float)(intptr_t)arg)) atomic_fetch_add(&wrong_answers, 1);
  return NULL;
}

static char cache_root[1200];

TEST(first_compile_of_one_kernel_on_several_threads) {
  if (!have_emulated_gpu()) {
    printf("  (skipped: no fake NVRTC)\n");
    return;
  }
  char dir[1400];
  snprintf(dir, sizeof dir, "%s/threads", cache_root);
  remove_tree(dir);
  use_emulated_gpu(dir);
  CHECK_OK(ct_context_new(&gpu_ctx));
  if (ct_physical_device_count(gpu_ctx, "GPU") != 1) {
    char why[256];
    ct_gpu_availability(gpu_ctx, why, sizeof why);
    fprintf(stderr, "no emulated GPU: %s\n", why);
    CHECK(false);
    ct_context_free(gpu_ctx);
    return;
  }
  atomic_store(&wrong_answers, 0);
  pthread_barrier_init(&start_line, NULL, 4);
  run_threads(gpu_worker, 4);
  pthread_barrier_destroy(&start_line);
  CHECK_EQ_INT(atomic_load(&wrong_answers), 0);
  ct_context_free(gpu_ctx);
  int entries = 0, temporaries = 0;
  count_cache(dir, &entries, &temporaries);
  CHECK(entries >= 1);
  CHECK_EQ_INT(temporaries, 0);
}

/* ---- several processes, one kernel cache --------------------------------- */

static int child_compile(void) {
  ct_context *ctx = NULL;
  if (ct_context_new(&ctx) != CT_OK) return 2;
  int rc = gpu_add_once(ctx, (float)getpid()) ? 0 : 1;
  ct_context_free(ctx);
  return rc;
}

TEST(several_processes_share_one_kernel_cache) {
  if (!have_emulated_gpu()) {
    printf("  (skipped: no fake NVRTC)\n");
    return;
  }
  char dir[1400];
  snprintf(dir, sizeof dir, "%s/processes", cache_root);
  remove_tree(dir);
  use_emulated_gpu(dir);
  enum { N_PROCS = 4 };
  for (int round = 0; round < 2; round++) {
    /* round 0 compiles into an empty cache, round 1 loads what it left */
    pid_t pids[N_PROCS];
    char *argv[] = {self_path, (char *)"--child-compile", NULL};
    for (int i = 0; i < N_PROCS; i++) CHECK_EQ_INT(posix_spawn(&pids[i], self_path, NULL, NULL, argv, environ), 0);
    for (int i = 0; i < N_PROCS; i++) {
      int status = -1;
      waitpid(pids[i], &status, 0);
      CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int entries = 0, temporaries = 0;
    count_cache(dir, &entries, &temporaries);
    CHECK(entries >= 1);
    CHECK_EQ_INT(temporaries, 0);
  }
}

/* ---- context free while another thread finishes an op ------------------- */

static ct_context *doomed;
static ct_tensor *held_a, *held_b;
static atomic_int stage;

static void *finishing_worker(void *arg) {
  (void)arg;
  ct_tensor *c = NULL;
  atomic_store(&stage, 1); /* the free may now happen at any moment */
  ct_status st = ct_matmul(doomed, held_a, held_b, false, false, &c);
  float got[4] = {0};
  if (st != CT_OK || ct_tensor_to_host(c, got, sizeof got) != CT_OK || got[0] != 128.0f)
    atomic_fetch_add(&wrong_answers, 1);
  while (atomic_load(&stage) < 2) {
  }
  /* the context is freed: tensors still work and keep it alive */
  float again[4] = {0};
  if (ct_tensor_to_host(c, again, sizeof again) != CT_OK || again[3] != 128.0f) atomic_fetch_add(&wrong_answers, 1);
  ct_tensor_release(c);
  ct_tensor_release(held_a);
  ct_tensor_release(held_b);
  return NULL;
}

TEST(context_free_while_another_thread_finishes_an_op) {
  for (int round = 0; round < 5; round++) {
    CHECK_OK(ct_context_new(&doomed));
    int64_t sa[2] = {2, 128}, sb[2] = {128, 2};
    CHECK_OK(ct_fill(doomed, CT_FLOAT32, sa, 2, 1, &held_a));
    CHECK_OK(ct_fill(doomed, CT_FLOAT32, sb, 2, 1, &held_b));
    atomic_store(&wrong_answers, 0);
    atomic_store(&stage, 0);
    pthread_t th;
    pthread_create(&th, NULL, finishing_worker, NULL);
    while (atomic_load(&stage) < 1) {
    }
    ct_context_free(doomed);
    atomic_store(&stage, 2);
    pthread_join(th, NULL);
    CHECK_EQ_INT(atomic_load(&wrong_answers), 0);
  }
}

/* ---- tapes on several threads ------------------------------------------- */

static ct_context *tape_ctx;
static void *tape_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  int64_t s[1] = {3};
  float xv[3] = {1, 2, (float)id}, got[3] = {0};
  ct_tensor *x = NULL, *y = NULL, *loss = NULL, *g = NULL;
  ct_tape *tape = NULL;
  bool ok = ct_tensor_from_host(tape_ctx, CT_FLOAT32, s, 1, xv, &x) == CT_OK &&
            ct_tape_new(tape_ctx, false, true, &tape) == CT_OK && ct_tape_watch(tape, x) == CT_OK;
  for (int it = 0; ok && it < 20; it++) {
    /* d/dx sum(x*x) = 2x, on a fresh tape each time */
    ok = ct_mul(tape_ctx, x, x, &y) == CT_OK && ct_reduce_sum(tape_ctx, y, NULL, 0, false, &loss) == CT_OK;
    const ct_tensor *t[1] = {loss};
    ct_gradient_source src = {x, NULL};
    ok = ok && ct_tape_gradient(tape, t, 1, NULL, &src, 1, CT_UNCONNECTED_NONE, &g) == CT_OK &&
         ct_tensor_to_host(g, got, sizeof got) == CT_OK && got[0] == 2 && got[2] == 2.0f * (float)id;
    ct_tensor_release(y), ct_tensor_release(loss), ct_tensor_release(g);
    y = loss = g = NULL;
    ct_tape_free(tape);
    tape = NULL;
    ok = ok && ct_tape_new(tape_ctx, false, true, &tape) == CT_OK && ct_tape_watch(tape, x) == CT_OK;
  }
  if (!ok) atomic_fetch_add(&wrong_answers, 1);
  ct_tape_free(tape);
  ct_tensor_release(x);
  return NULL;
}

TEST(tapes_on_several_threads) {
  CHECK_OK(ct_context_new(&tape_ctx));
  atomic_store(&wrong_answers, 0);
  run_threads(tape_worker, N_THREADS);
  CHECK_EQ_INT(atomic_load(&wrong_answers), 0);
  ct_context_free(tape_ctx);
}

int main(int argc, char **argv) {
  snprintf(self_path, sizeof self_path, "%s", argv[0]);
  const char *b = getenv("CT_BINARY_DIR");
  snprintf(build_dir, sizeof build_dir, "%s", b ? b : ".");
  snprintf(cache_root, sizeof cache_root, "%s/threads-kernel-cache", build_dir);
  if (argc > 1 && strcmp(argv[1], "--child-compile") == 0) return child_compile();
  mkdir(cache_root, 0700);
  RUN(threads_with_own_scopes_and_policies_and_the_log);
  RUN(concurrent_first_use_of_a_context);
  RUN(context_free_while_another_thread_finishes_an_op);
  RUN(tapes_on_several_threads);
  /* last: they point this process's environment at the emulated GPU */
  RUN(first_compile_of_one_kernel_on_several_threads);
  RUN(several_processes_share_one_kernel_cache);
  TEST_MAIN_END();
}
