/*
 * Finding and opening the CUDA driver, cuBLAS(Lt), NVRTC and NCCL at run time.
 *
 * Search order for every library (the first that opens wins):
 *   1. override   CT_CUDA_DRIVER_PATH / CT_CUBLAS_PATH / CT_CUBLASLT_PATH /
 *                 CT_NVRTC_PATH: the absolute path of a file, or of a
 *                 directory holding the usual names (anything else is
 *                 refused, not loaded); CT_NCCL_PATH: the absolute path of
 *                 libnccl.so.2 itself, a regular file. When set it is the
 *                 only candidate, so that a wrong override is reported
 *                 instead of hidden by a fallback.
 *   2. system     the dynamic loader's own search for the bare versioned
 *                 name (LD_LIBRARY_PATH, RUNPATH, ld.so.cache, /lib, /usr/lib)
 *   3. libdir     the directory holding libctensor.so (dladdr)
 *   4. pip        site-packages/nvidia/ * /lib of the usual Python prefixes
 *   5. cuda_path  $CUDA_PATH/lib64, $CUDA_PATH/lib
 *   6. usr_local  /usr/local/cuda/lib64, then /usr/local/cuda-X.Y/lib64,
 *                 newest first
 * The driver is only ever opened as libcuda.so.1: the unversioned
 * libcuda.so is the toolkit's development link or its stub.
 *
 * Nothing is ever opened from the current directory or a relative path:
 * every dlopen gets an absolute path, except the bare names of stage 2, and
 * those are skipped when LD_LIBRARY_PATH holds a relative or empty entry
 * (docs/reliability.md, "Loading libraries").
 */
#include "cuda/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CT_CUDA_MAX_DIRS 128 /* one pip tree alone holds some 17 nvidia package folders */

typedef struct ct_cuda_search_dir {
  const char *stage; /* static string */
  char dir[512];
} search_dir;

static const char *const lib_names[CT_CUDA_LIB_COUNT] = {"driver", "cublas", "cublasLt", "nvrtc", "nccl"};

/* Versioned file names, newest first. NVRTC 11.3-11.8 all install the
 * 11.2 soname (NVIDIA's minor-version compatibility naming). */
static const char *const driver_files[] = {"libcuda.so.1", NULL};
static const char *const cublas_files[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", NULL};
static const char *const cublaslt_files[] = {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11",
                                             NULL};
static const char *const nvrtc_files[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", NULL};
/* NCCL 2.x has kept soname 2 since 2017; NVIDIA's pip wheel
 * (nvidia-nccl-cu12) puts it in site-packages/nvidia/nccl/lib. */
static const char *const nccl_files[] = {"libnccl.so.2", NULL};

static const char *const *lib_files(ct_cuda_lib lib) {
  switch (lib) {
    case CT_CUDA_LIB_DRIVER: return driver_files;
    case CT_CUDA_LIB_CUBLAS: return cublas_files;
    case CT_CUDA_LIB_CUBLASLT: return cublaslt_files;
    case CT_CUDA_LIB_NCCL: return nccl_files;
    default: return nvrtc_files;
  }
}

const char *ct_cuda_lib_name(ct_cuda_lib lib) {
  return (lib >= 0 && lib < CT_CUDA_LIB_COUNT) ? lib_names[lib] : "unknown";
}

static const char *lib_override(const ct_cuda_env *env, ct_cuda_lib lib) {
  switch (lib) {
    case CT_CUDA_LIB_DRIVER: return env->driver_path;
    case CT_CUDA_LIB_CUBLAS: return env->cublas_path;
    case CT_CUDA_LIB_CUBLASLT: return env->cublaslt_path;
    case CT_CUDA_LIB_NCCL: return env->nccl_path;
    default: return env->nvrtc_path;
  }
}

static const char *const override_vars[CT_CUDA_LIB_COUNT] = {"CT_CUDA_DRIVER_PATH", "CT_CUBLAS_PATH",
                                                             "CT_CUBLASLT_PATH", "CT_NVRTC_PATH", "CT_NCCL_PATH"};

/* ---- error names -------------------------------------------------------- */

static const struct {
  CUresult code;
  const char *name;
} error_names[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED"},
    {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED"},
    {CUDA_ERROR_STUB_LIBRARY, "CUDA_ERROR_STUB_LIBRARY"},
    {CUDA_ERROR_INSUFFICIENT_DRIVER, "CUDA_ERROR_INSUFFICIENT_DRIVER"},
    {CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA_ERROR_DEVICE_UNAVAILABLE"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT"},
    {CUDA_ERROR_ECC_UNCORRECTABLE, "CUDA_ERROR_ECC_UNCORRECTABLE"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU"},
    {CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
    {CUDA_ERROR_LAUNCH_TIMEOUT, "CUDA_ERROR_LAUNCH_TIMEOUT"},
    {CUDA_ERROR_CONTEXT_IS_DESTROYED, "CUDA_ERROR_CONTEXT_IS_DESTROYED"},
    {CUDA_ERROR_ASSERT, "CUDA_ERROR_ASSERT"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED"},
    {CUDA_ERROR_NOT_PERMITTED, "CUDA_ERROR_NOT_PERMITTED"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED"},
    {CUDA_ERROR_SYSTEM_NOT_READY, "CUDA_ERROR_SYSTEM_NOT_READY"},
    {CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"},
    {CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN"},
};

const char *ct_cuda_error_name(const ct_cuda_driver *drv, CUresult r) {
  for (size_t i = 0; i < CT_ARRAY_LEN(error_names); i++)
    if (error_names[i].code == r) return error_names[i].name;
  /* Only ask the driver for codes we do not know: the stub library answers
   * every call, cuGetErrorName included, with CUDA_ERROR_STUB_LIBRARY. */
  if (drv && drv->cuGetErrorName) {
    const char *s = NULL;
    if (drv->cuGetErrorName(r, &s) == CUDA_SUCCESS && s) return s;
  }
  return "CUDA_ERROR_UNRECOGNIZED";
}

/* ---- state ------------------------------------------------------------- */

static void copy_env(const char *var, char *dst, size_t size, bool *has) {
  const char *v = getenv(var);
  if (has) *has = v != NULL;
  snprintf(dst, size, "%s", v ? v : "");
}

static void read_env(ct_cuda_env *env) {
  copy_env("CUDA_VISIBLE_DEVICES", env->cuda_visible, sizeof env->cuda_visible, &env->has_cuda_visible);
  copy_env("NVIDIA_VISIBLE_DEVICES", env->nvidia_visible, sizeof env->nvidia_visible,
           &env->has_nvidia_visible);
  copy_env("CT_CUDA_DRIVER_PATH", env->driver_path, sizeof env->driver_path, NULL);
  copy_env("CT_CUBLAS_PATH", env->cublas_path, sizeof env->cublas_path, NULL);
  copy_env("CT_CUBLASLT_PATH", env->cublaslt_path, sizeof env->cublaslt_path, NULL);
  copy_env("CT_NVRTC_PATH", env->nvrtc_path, sizeof env->nvrtc_path, NULL);
  copy_env("CT_NCCL_PATH", env->nccl_path, sizeof env->nccl_path, NULL);
  copy_env("CUDA_PATH", env->cuda_path, sizeof env->cuda_path, NULL);
  copy_env("LD_LIBRARY_PATH", env->ld_library_path, sizeof env->ld_library_path, NULL);
  copy_env("VIRTUAL_ENV", env->virtual_env, sizeof env->virtual_env, NULL);
  copy_env("CONDA_PREFIX", env->conda_prefix, sizeof env->conda_prefix, NULL);
  copy_env("HOME", env->home, sizeof env->home, NULL);
}

ct_cuda_state *ct_cuda_state_get(ct_context *ctx) {
  if (ctx->cuda) return (ct_cuda_state *)ctx->cuda;
  ct_cuda_state *st = calloc(1, sizeof *st);
  if (!st) {
    ct_error(CT_RESOURCE_EXHAUSTED, "cuda: out of host memory for the loader state");
    return NULL;
  }
  pthread_mutex_init(&st->lock, NULL);
  pthread_mutex_init(&st->fail_lock, NULL);
  read_env(&st->env);
  for (int i = 0; i < CT_CUDA_LIB_COUNT; i++) {
    st->libs[i].version_major = -1;
    st->libs[i].version_minor = -1;
  }
  ctx->cuda = st;
  return st;
}

void ct_cuda_state_free(ct_context *ctx) {
  ct_cuda_state *st = ctx ? (ct_cuda_state *)ctx->cuda : NULL;
  if (!st) return;
  /* Drops our references; RTLD_NODELETE keeps the code mapped. */
  for (int i = CT_CUDA_LIB_COUNT - 1; i >= 0; i--)
    if (st->libs[i].handle) dlclose(st->libs[i].handle);
  free(st->records);
  free(st->dirs);
  pthread_mutex_destroy(&st->lock);
  pthread_mutex_destroy(&st->fail_lock);
  free(st);
  ctx->cuda = NULL;
}

/* ---- records ------------------------------------------------------------ */

static ct_cuda_load_record *add_record(ct_cuda_state *st, ct_cuda_lib lib, const char *stage, const char *name,
                                       const char *path) {
  if (st->n_records == st->cap_records) {
    int cap = st->cap_records ? st->cap_records * 2 : 16;
    ct_cuda_load_record *r = realloc(st->records, (size_t)cap * sizeof *r);
    if (!r) return NULL; /* records are diagnostics: losing one is not an error */
    st->records = r;
    st->cap_records = cap;
  }
  ct_cuda_load_record *r = &st->records[st->n_records++];
  memset(r, 0, sizeof *r);
  r->lib = lib;
  snprintf(r->stage, sizeof r->stage, "%s", stage);
  snprintf(r->name, sizeof r->name, "%s", name ? name : "");
  snprintf(r->path, sizeof r->path, "%s", path ? path : "");
  return r;
}

int ct_cuda_loader_records(ct_context *ctx, const ct_cuda_load_record **out) {
  ct_cuda_state *st = ctx ? (ct_cuda_state *)ctx->cuda : NULL;
  if (out) *out = st ? st->records : NULL;
  return st ? st->n_records : 0;
}

const ct_cuda_library *ct_cuda_library_get(ct_context *ctx, ct_cuda_lib lib) {
  ct_cuda_state *st = ctx ? (ct_cuda_state *)ctx->cuda : NULL;
  if (!st || lib < 0 || lib >= CT_CUDA_LIB_COUNT) return NULL;
  return &st->libs[lib];
}

/* ---- versions from file names ------------------------------------------- */

void ct_cuda_version_from_name(const char *file, int *major, int *minor) {
  *major = -1;
  *minor = -1;
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  const char *so = strstr(base, ".so.");
  if (!so) return;
  const char *p = so + 4;
  char *end;
  long a = strtol(p, &end, 10);
  if (end == p || a < 0 || a > 1000) return;
  *major = (int)a;
  if (*end == '.') {
    p = end + 1;
    long b = strtol(p, &end, 10);
    if (end != p && b >= 0 && b < 1000) *minor = (int)b;
  }
}

/* "/usr/local/cuda-12.4/lib64/libcublas.so.12" -> minor 4 when the major
 * agrees; toolkits install only the major in the soname. */
static void minor_from_dir(const char *path, int major, int *minor) {
  const char *p = strstr(path, "cuda-");
  if (!p) return;
  char *end;
  long a = strtol(p + 5, &end, 10);
  if (a != major || *end != '.') return;
  long b = strtol(end + 1, &end, 10);
  if (b >= 0 && b < 100) *minor = (int)b;
}

/* ---- search directories ------------------------------------------------- */

static bool is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void add_dir(ct_cuda_state *st, const char *stage, const char *dir) {
  /* A relative directory (from a relative CUDA_PATH, VIRTUAL_ENV, ... or
   * LD_LIBRARY_PATH entry) would be looked up from the current directory:
   * never searched. */
  if (dir[0] != '/' || st->n_dirs >= CT_CUDA_MAX_DIRS || !is_dir(dir)) return;
  for (int i = 0; i < st->n_dirs; i++)
    if (strcmp(st->dirs[i].dir, dir) == 0) return;
  search_dir *d = &st->dirs[st->n_dirs++];
  d->stage = stage;
  snprintf(d->dir, sizeof d->dir, "%s", dir);
}

static void add_glob(ct_cuda_state *st, const char *stage, const char *pattern, bool newest_first) {
  glob_t g;
  if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0) return;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    size_t k = newest_first ? g.gl_pathc - 1 - i : i;
    add_dir(st, stage, g.gl_pathv[k]);
  }
  globfree(&g);
}

/* The directory of the file that holds this code: libctensor.so, or the
 * executable when linked statically. */
static void self_dir(char *out, size_t size) {
  Dl_info info;
  out[0] = '\0';
  if (dladdr((void *)&ct_cuda_state_get, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
    char real[PATH_MAX];
    const char *p = realpath(info.dli_fname, real) ? real : info.dli_fname;
    snprintf(out, size, "%s", p);
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
  }
}

/* Builds the ordered directory list once per state (stages 3 to 6, plus
 * LD_LIBRARY_PATH and the system directories used only when locating). */
static void build_dirs(ct_cuda_state *st) {
  if (st->dirs) return;
  st->dirs = calloc(CT_CUDA_MAX_DIRS, sizeof(search_dir));
  if (!st->dirs) return;
  char buf[1024];

  /* LD_LIBRARY_PATH: what the system stage's dlopen would search. */
  snprintf(buf, sizeof buf, "%s", st->env.ld_library_path);
  for (char *save = NULL, *tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
    add_dir(st, "system", tok);
  static const char *const sys_dirs[] = {"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64",
                                         "/usr/lib/aarch64-linux-gnu", "/usr/lib"};
  for (size_t i = 0; i < CT_ARRAY_LEN(sys_dirs); i++) add_dir(st, "system", sys_dirs[i]);

  char self[512];
  self_dir(self, sizeof self);
  add_dir(st, "libdir", self);

  /* pip wheels: nvidia-cublas-cu12 installs site-packages/nvidia/cublas/lib,
   * the cu13 wheels site-packages/nvidia/cu13/lib. */
  char pat[700];
  if (self[0]) {
    snprintf(pat, sizeof pat, "%s/../nvidia/*/lib", self);
    add_glob(st, "pip", pat, false);
  }
  const char *prefixes[] = {st->env.virtual_env, st->env.conda_prefix};
  for (size_t i = 0; i < CT_ARRAY_LEN(prefixes); i++) {
    if (!prefixes[i][0]) continue;
    snprintf(pat, sizeof pat, "%s/lib/python3*/site-packages/nvidia/*/lib", prefixes[i]);
    add_glob(st, "pip", pat, false);
  }
  if (st->env.home[0]) {
    snprintf(pat, sizeof pat, "%s/.local/lib/python3*/site-packages/nvidia/*/lib", st->env.home);
    add_glob(st, "pip", pat, false);
  }
  add_glob(st, "pip", "/usr/local/lib/python3*/dist-packages/nvidia/*/lib", false);
  add_glob(st, "pip", "/usr/lib/python3/dist-packages/nvidia/*/lib", false);
  /* pip outside Debian's layout (python.org builds, the python:3.x
   * container images, Fedora): site-packages under /usr/local and /usr */
  add_glob(st, "pip", "/usr/local/lib/python3*/site-packages/nvidia/*/lib", false);
  add_glob(st, "pip", "/usr/lib/python3*/site-packages/nvidia/*/lib", false);
  add_glob(st, "pip", "/usr/lib64/python3*/site-packages/nvidia/*/lib", false);

  if (st->env.cuda_path[0]) {
    snprintf(pat, sizeof pat, "%s/lib64", st->env.cuda_path);
    add_dir(st, "cuda_path", pat);
    snprintf(pat, sizeof pat, "%s/lib", st->env.cuda_path);
    add_dir(st, "cuda_path", pat);
  }
  add_dir(st, "usr_local", "/usr/local/cuda/lib64");
  add_glob(st, "usr_local", "/usr/local/cuda-*/lib64", true);
}

/* An override must name the library by absolute path: a relative one would
 * be resolved from the current directory, a bare name searched by the
 * dynamic loader, so that code from wherever the process runs could be
 * loaded. NULL when usable, else why not. */
static const char *override_problem(const char *ov) {
  struct stat sb;
  if (ov[0] != '/') return "not an absolute path";
  if (stat(ov, &sb) != 0) return "no such file or directory";
  if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) return "neither a regular file nor a directory";
  return NULL;
}

/* CT_NCCL_PATH is newer than the other overrides and takes no directory:
 * one file, checked like the others. */
static const char *lib_override_problem(ct_cuda_lib lib, const char *ov) {
  const char *why = override_problem(ov);
  if (!why && lib == CT_CUDA_LIB_NCCL && !is_file(ov)) why = "not a regular file (CT_NCCL_PATH takes no directory)";
  return why;
}

static void refuse_override(ct_cuda_state *st, ct_cuda_lib lib, const char *ov, const char *why) {
  ct_cuda_load_record *r = add_record(st, lib, "override", "", ov);
  if (r)
    snprintf(r->error, sizeof r->error,
             "%s='%s': %s (it must be the absolute path of the library file or of its directory); not loaded",
             override_vars[lib], ov, why);
}

/* The dynamic loader resolves a relative LD_LIBRARY_PATH entry (an empty
 * one: the current directory) from wherever the process runs; with such an
 * entry a bare-name dlopen is not made (first such entry into bad). */
static bool ld_path_is_relative(const char *ld, char *bad, size_t size) {
  if (!ld[0]) return false;
  for (const char *p = ld;;) {
    size_t n = strcspn(p, ":;");
    if (n == 0 || p[0] != '/') {
      snprintf(bad, size, "%.*s", (int)n, p);
      return true;
    }
    if (!p[n]) return false;
    p += n + 1;
  }
}

/* ---- locating (stat only) ----------------------------------------------- */

static int driver_major(const ct_cuda_state *st) { return st->driver_version > 0 ? st->driver_version / 1000 : 0; }

static bool dir_has(const char *dir, const char *file, char *path, size_t size) {
  snprintf(path, size, "%s/%s", dir, file);
  return is_file(path);
}

static void set_located(ct_cuda_state *st, ct_cuda_lib lib, const char *stage, const char *file,
                        const char *path) {
  ct_cuda_library *L = &st->libs[lib];
  char real[PATH_MAX];
  const char *shown = realpath(path, real) ? real : path;
  L->located = true;
  snprintf(L->path, sizeof L->path, "%s", path);
  ct_cuda_version_from_name(shown, &L->version_major, &L->version_minor);
  if (L->version_major < 0) ct_cuda_version_from_name(file, &L->version_major, &L->version_minor);
  if (L->version_minor < 0) minor_from_dir(shown, L->version_major, &L->version_minor);
  ct_cuda_load_record *r = add_record(st, lib, stage, file, shown);
  if (r) {
    r->ok = true;
    snprintf(r->error, sizeof r->error, "located (not opened until first use)");
  }
}

/* Name-major search over `dirs`: the newest library the driver can use
 * anywhere beats an older one earlier in the path, as that is what loading
 * will pick. Returns whether something (usable or too new) was found. */
static bool locate_in(ct_cuda_state *st, ct_cuda_lib lib, const search_dir *dirs, int n_dirs) {
  char path[1024];
  int max_major = driver_major(st);
  bool too_new = false;
  for (const char *const *f = lib_files(lib); *f; f++)
    for (int i = 0; i < n_dirs; i++) {
      if (!dir_has(dirs[i].dir, *f, path, sizeof path)) continue;
      int maj, min;
      ct_cuda_version_from_name(*f, &maj, &min);
      if (max_major > 0 && maj > max_major) {
        if (!too_new) {
          /* the newest too-new copy is remembered in case nothing older turns up */
          set_located(st, lib, dirs[i].stage, *f, path);
          st->libs[lib].located = false;
          st->libs[lib].too_new = too_new = true;
          ct_cuda_load_record *r = st->n_records > 0 ? &st->records[st->n_records - 1] : NULL;
          if (r) {
            r->ok = false;
            snprintf(r->error, sizeof r->error, "needs a driver for CUDA %d.x; the driver supports %d.%d", maj,
                     st->driver_version / 1000, st->driver_version % 1000 / 10);
          }
        }
        break; /* try the next (older) name */
      }
      set_located(st, lib, dirs[i].stage, *f, path);
      st->libs[lib].too_new = false;
      return true;
    }
  return too_new;
}

static void locate_one(ct_cuda_state *st, ct_cuda_lib lib) {
  const char *ov = lib_override(&st->env, lib);
  if (ov[0]) {
    const char *why = lib_override_problem(lib, ov);
    if (why) {
      refuse_override(st, lib, ov, why);
      return;
    }
    /* An override names a file, or a directory holding the usual names. */
    if (is_file(ov)) {
      const char *base = strrchr(ov, '/');
      set_located(st, lib, "override", base ? base + 1 : ov, ov);
      return;
    }
    search_dir d = {"override", ""};
    snprintf(d.dir, sizeof d.dir, "%s", ov);
    if (is_dir(ov) && locate_in(st, lib, &d, 1)) return;
    ct_cuda_load_record *r = add_record(st, lib, "override", "", ov);
    if (r) snprintf(r->error, sizeof r->error, "%s=%s: no such file, or no %s library in that directory",
                    override_vars[lib], ov, lib_names[lib]);
    return;
  }
  build_dirs(st);
  if (st->dirs && locate_in(st, lib, st->dirs, st->n_dirs)) return;
  ct_cuda_load_record *r = add_record(st, lib, "locate", lib_files(lib)[0], "");
  if (r) snprintf(r->error, sizeof r->error, "not found in %d directories (LD_LIBRARY_PATH, system, "
                  "libctensor's directory, pip nvidia/*/lib, CUDA_PATH, /usr/local/cuda*)", st->n_dirs);
}

void ct_cuda_locate_libraries(ct_cuda_state *st) {
  pthread_mutex_lock(&st->lock);
  if (!st->located_done) {
    st->located_done = true;
    for (int lib = CT_CUDA_LIB_CUBLAS; lib < CT_CUDA_LIB_COUNT; lib++) locate_one(st, (ct_cuda_lib)lib);
  }
  pthread_mutex_unlock(&st->lock);
}

/* ---- opening ------------------------------------------------------------ */

/* dlopen with a record; a bare name goes through the system loader. */
static void *try_open(ct_cuda_state *st, ct_cuda_lib lib, const char *stage, const char *file,
                      const char *path) {
  dlerror();
  /* Never unloaded: the driver starts threads at cuInit, and cuBLAS/NVRTC
   * are C++ libraries with static destructors and atexit handlers, all of
   * which would run from unmapped code after a dlclose. */
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  ct_cuda_load_record *r = add_record(st, lib, stage, file, path);
  if (!r) return h;
  r->opened = true;
  if (h) {
    r->ok = true;
  } else {
    const char *e = dlerror();
    snprintf(r->error, sizeof r->error, "%s", e ? e : "dlopen failed");
  }
  return h;
}

/* The real path of an opened library, through a symbol it defines. */
static void resolved_path(void *handle, const char *symbol, char *out, size_t size, const char *fallback) {
  Dl_info info;
  void *sym = dlsym(handle, symbol);
  char real[PATH_MAX];
  if (sym && dladdr(sym, &info) && info.dli_fname) {
    snprintf(out, size, "%s", realpath(info.dli_fname, real) ? real : info.dli_fname);
  } else {
    snprintf(out, size, "%s", realpath(fallback, real) ? real : fallback);
  }
}

/* Walks the search order for `lib`; files whose major is above max_major
 * (when > 0) are skipped with a record. Returns the handle or NULL. */
static void *open_search(ct_cuda_state *st, ct_cuda_lib lib, int max_major, const char *probe_symbol) {
  ct_cuda_library *L = &st->libs[lib];
  const char *ov = lib_override(&st->env, lib);
  char path[1024];
  void *h = NULL;
  const char *why = ov[0] ? lib_override_problem(lib, ov) : NULL;
  if (why) {
    refuse_override(st, lib, ov, why);
  } else if (ov[0]) {
    if (is_dir(ov)) {
      bool any = false;
      for (const char *const *f = lib_files(lib); *f && !h; f++) {
        int maj, min;
        ct_cuda_version_from_name(*f, &maj, &min);
        if (max_major > 0 && maj > max_major) continue;
        if (dir_has(ov, *f, path, sizeof path)) {
          any = true;
          h = try_open(st, lib, "override", *f, path);
        }
      }
      ct_cuda_load_record *r = any ? NULL : add_record(st, lib, "override", "", ov);
      if (r) snprintf(r->error, sizeof r->error, "%s=%s: no %s library in that directory", override_vars[lib], ov,
                      lib_names[lib]);
    } else {
      const char *base = strrchr(ov, '/');
      h = try_open(st, lib, "override", base ? base + 1 : ov, ov);
    }
    if (h) snprintf(path, sizeof path, "%s", ov);
  } else {
    build_dirs(st);
    const search_dir *dirs = st->dirs;
    char bad[256];
    bool relative = ld_path_is_relative(st->env.ld_library_path, bad, sizeof bad);
    if (relative) {
      ct_cuda_load_record *r = add_record(st, lib, "system", "", "");
      if (r)
        snprintf(r->error, sizeof r->error,
                 "LD_LIBRARY_PATH entry '%.100s' is relative (an empty one is the current directory): the dynamic "
                 "loader's own search is skipped, its absolute entries and the system directories are opened by "
                 "full path",
                 bad);
    }
    for (const char *const *f = lib_files(lib); *f && !h; f++) {
      int maj, min;
      ct_cuda_version_from_name(*f, &maj, &min);
      if (max_major > 0 && maj > max_major) {
        ct_cuda_load_record *r = add_record(st, lib, "system", *f, "");
        if (r) snprintf(r->error, sizeof r->error, "skipped: needs a driver for CUDA %d.x", maj);
        continue;
      }
      if (!relative) h = try_open(st, lib, "system", *f, *f);
      snprintf(path, sizeof path, "%s", *f);
      for (int i = 0; !h && dirs && i < st->n_dirs; i++) {
        /* system directories were covered by the bare-name attempt */
        if (!relative && strcmp(dirs[i].stage, "system") == 0) continue;
        if (dir_has(dirs[i].dir, *f, path, sizeof path)) h = try_open(st, lib, dirs[i].stage, *f, path);
      }
    }
  }
  if (h) {
    resolved_path(h, probe_symbol, L->path, sizeof L->path, path);
    ct_cuda_load_record *r = st->n_records > 0 ? &st->records[st->n_records - 1] : NULL;
    if (r && r->ok) snprintf(r->path, sizeof r->path, "%s", L->path);
    int maj, min;
    ct_cuda_version_from_name(L->path, &maj, &min);
    if (maj >= 0) {
      L->version_major = maj;
      L->version_minor = min;
      if (min < 0) minor_from_dir(L->path, maj, &L->version_minor);
    }
  }
  return h;
}

/* Summary of the failed attempts for `lib`, for error messages. */
static void attempts_summary(const ct_cuda_state *st, ct_cuda_lib lib, char *out, size_t size) {
  size_t n = 0;
  out[0] = '\0';
  for (int i = 0; i < st->n_records && n + 1 < size; i++) {
    const ct_cuda_load_record *r = &st->records[i];
    if (r->lib != lib || r->ok) continue;
    int w = snprintf(out + n, size - n, "%s%s: %s", n ? "; " : "", r->stage,
                     r->error[0] ? r->error : "failed");
    if (w < 0) break;
    n += (size_t)w;
  }
  if (n >= size) n = size - 1;
  if (!n) snprintf(out, size, "no candidate file found");
}

/* ---- the driver --------------------------------------------------------- */

typedef struct sym_entry {
  const char *name;      /* name for cuGetProcAddress */
  const char *export_v;  /* exported name of the bound ABI version */
  size_t offset;         /* in ct_cuda_driver */
  bool required;
} sym_entry;

#define SYM(n, exp, req) {#n, exp, offsetof(ct_cuda_driver, n), req}
static const sym_entry driver_syms[] = {
    SYM(cuDeviceGetCount, "cuDeviceGetCount", true),
    SYM(cuDeviceGet, "cuDeviceGet", true),
    SYM(cuDeviceGetName, "cuDeviceGetName", true),
    SYM(cuDeviceGetUuid, "cuDeviceGetUuid", true),
    SYM(cuDeviceGetAttribute, "cuDeviceGetAttribute", true),
    SYM(cuDeviceTotalMem, "cuDeviceTotalMem_v2", true),
    SYM(cuDeviceGetPCIBusId, "cuDeviceGetPCIBusId", false),
    SYM(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", true),
    SYM(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", true),
    SYM(cuCtxSetCurrent, "cuCtxSetCurrent", true),
    SYM(cuCtxGetCurrent, "cuCtxGetCurrent", true),
    SYM(cuCtxSynchronize, "cuCtxSynchronize", true),
    SYM(cuMemAlloc, "cuMemAlloc_v2", true),
    SYM(cuMemFree, "cuMemFree_v2", true),
    SYM(cuMemGetInfo, "cuMemGetInfo_v2", true),
    SYM(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", true),
    SYM(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", true),
    SYM(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", true),
    SYM(cuMemcpyPeerAsync, "cuMemcpyPeerAsync", false),
    SYM(cuMemsetD8Async, "cuMemsetD8Async", true),
    SYM(cuMemsetD32Async, "cuMemsetD32Async", true),
    SYM(cuStreamCreate, "cuStreamCreate", true),
    SYM(cuStreamSynchronize, "cuStreamSynchronize", true),
    SYM(cuStreamQuery, "cuStreamQuery", true),
    SYM(cuStreamDestroy, "cuStreamDestroy_v2", true),
    SYM(cuModuleLoadData, "cuModuleLoadData", true),
    SYM(cuModuleGetFunction, "cuModuleGetFunction", true),
    SYM(cuModuleUnload, "cuModuleUnload", true),
    SYM(cuLaunchKernel, "cuLaunchKernel", true),
};
#undef SYM

/* Through cuGetProcAddress when the driver has it: the driver then picks
 * the ABI version matching CT_CUDA_API_VERSION (capped at its own). */
static void *proc_address(ct_cuda_state *st, const char *name) {
  ct_cuda_driver *d = &st->drv;
  int ver = CT_CUDA_API_VERSION;
  if (st->driver_version > 0 && st->driver_version < ver) ver = st->driver_version;
  void *fn = NULL;
  if (d->cuGetProcAddress) {
    CUdriverProcAddressQueryResult q = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    if (d->cuGetProcAddress(name, &fn, ver, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &q) == CUDA_SUCCESS &&
        q == CU_GET_PROC_ADDRESS_SUCCESS)
      return fn;
  } else if (d->cuGetProcAddress_v1) {
    if (d->cuGetProcAddress_v1(name, &fn, ver, CU_GET_PROC_ADDRESS_LEGACY_STREAM) == CUDA_SUCCESS) return fn;
  }
  return NULL;
}

static ct_status resolve_driver(ct_cuda_state *st, void *h) {
  ct_cuda_driver *d = &st->drv;
  ct_cuda_library *L = &st->libs[CT_CUDA_LIB_DRIVER];
  /* These four have one ABI since CUDA 2.0 and are needed before the rest. */
  d->cuInit = (ct_pfn_cuInit)dlsym(h, "cuInit");
  d->cuDriverGetVersion = (ct_pfn_cuDriverGetVersion)dlsym(h, "cuDriverGetVersion");
  d->cuGetErrorName = (ct_pfn_cuGetErrorName)dlsym(h, "cuGetErrorName");
  d->cuGetErrorString = (ct_pfn_cuGetErrorString)dlsym(h, "cuGetErrorString");
  d->cuGetProcAddress = (ct_pfn_cuGetProcAddress)dlsym(h, "cuGetProcAddress_v2");
  if (!d->cuGetProcAddress) d->cuGetProcAddress_v1 = (ct_pfn_cuGetProcAddress_v1)dlsym(h, "cuGetProcAddress");
  if (!d->cuInit || !d->cuDriverGetVersion) {
    snprintf(L->error, sizeof L->error, "%s lacks %s: not a CUDA driver library", L->path,
             d->cuInit ? "cuDriverGetVersion" : "cuInit");
    ct_cuda_load_record *r =
        add_record(st, CT_CUDA_LIB_DRIVER, "symbol", d->cuInit ? "cuDriverGetVersion" : "cuInit", L->path);
    if (r) snprintf(r->error, sizeof r->error, "%s", L->error);
    return CT_UNAVAILABLE;
  }
  int v = 0;
  if (d->cuDriverGetVersion(&v) == CUDA_SUCCESS) st->driver_version = v;

  char missing[CT_INFO_TEXT_MAX] = "";
  size_t n = 0;
  for (size_t i = 0; i < CT_ARRAY_LEN(driver_syms); i++) {
    const sym_entry *e = &driver_syms[i];
    void *fn = proc_address(st, e->name);
    if (fn) {
      st->used_proc_address = true;
    } else {
      fn = dlsym(h, e->export_v);
    }
    memcpy((char *)d + e->offset, &fn, sizeof fn);
    if (!fn && e->required) {
      int w = snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", e->export_v);
      if (w > 0 && (size_t)w < sizeof missing - n) n += (size_t)w;
      ct_cuda_load_record *r = add_record(st, CT_CUDA_LIB_DRIVER, "symbol", e->export_v, L->path);
      if (r) snprintf(r->error, sizeof r->error, "entry point not found (cuGetProcAddress and dlsym)");
    }
  }
  if (n) {
    snprintf(L->error, sizeof L->error, "%s lacks entry points ctensor needs: %s", L->path, missing);
    return CT_UNAVAILABLE;
  }
  return CT_OK;
}

ct_status ct_cuda_load_driver(ct_cuda_state *st) {
  ct_cuda_library *L = &st->libs[CT_CUDA_LIB_DRIVER];
  pthread_mutex_lock(&st->lock);
  if (L->tried) {
    ct_status s = L->status;
    pthread_mutex_unlock(&st->lock);
    return s;
  }
  L->tried = true;
  void *h = NULL;
  const char *ov = st->env.driver_path;
  const char *why = ov[0] ? override_problem(ov) : NULL;
  if (why) {
    refuse_override(st, CT_CUDA_LIB_DRIVER, ov, why);
  } else if (ov[0]) {
    char path[1024];
    if (is_dir(ov)) {
      snprintf(path, sizeof path, "%s/libcuda.so.1", ov);
    } else {
      snprintf(path, sizeof path, "%s", ov);
    }
    const char *base = strrchr(path, '/');
    if (is_file(path)) {
      h = try_open(st, CT_CUDA_LIB_DRIVER, "override", base ? base + 1 : path, path);
    } else {
      ct_cuda_load_record *r = add_record(st, CT_CUDA_LIB_DRIVER, "override", base ? base + 1 : path, path);
      if (r) snprintf(r->error, sizeof r->error, "%s=%s: no libcuda.so.1 in that directory", override_vars[0], ov);
    }
    if (h) resolved_path(h, "cuInit", L->path, sizeof L->path, path);
  } else {
    h = open_search(st, CT_CUDA_LIB_DRIVER, 0, "cuInit");
  }
  if (!h) {
    char sum[CT_INFO_TEXT_MAX];
    attempts_summary(st, CT_CUDA_LIB_DRIVER, sum, sizeof sum);
    snprintf(L->error, sizeof L->error, "%s", sum);
    L->status = CT_NOT_FOUND;
    pthread_mutex_unlock(&st->lock);
    return L->status;
  }
  if (st->n_records > 0) snprintf(st->records[st->n_records - 1].path, sizeof st->records[0].path, "%s", L->path);
  L->handle = h;
  L->located = true;
  L->status = resolve_driver(st, h);
  st->driver_loaded = L->status == CT_OK;
  if (st->driver_version > 0) {
    L->version_major = st->driver_version / 1000;
    L->version_minor = (st->driver_version % 1000) / 10;
  }
  pthread_mutex_unlock(&st->lock);
  return L->status;
}

/* ---- lazy libraries ----------------------------------------------------- */


static ct_status open_lazy(ct_cuda_state *st, ct_cuda_lib lib, const char *probe) {
  ct_cuda_library *L = &st->libs[lib];
  if (L->tried) return L->status;
  L->tried = true;
  void *h = open_search(st, lib, driver_major(st), probe);
  if (h) {
    L->handle = h;
    L->status = CT_OK;
    L->error[0] = '\0';
    return CT_OK;
  }
  char sum[CT_INFO_TEXT_MAX];
  attempts_summary(st, lib, sum, sizeof sum);
  snprintf(L->error, sizeof L->error, "%s", sum);
  L->status = CT_NOT_FOUND;
  return L->status;
}

ct_status ct_cuda_load_nvrtc(ct_context *ctx, void **handle) {
  ct_cuda_state *st = ct_cuda_state_get(ctx);
  if (!st) return CT_RESOURCE_EXHAUSTED;
  pthread_mutex_lock(&st->lock);
  ct_status s = open_lazy(st, CT_CUDA_LIB_NVRTC, "nvrtcVersion");
  ct_cuda_library *L = &st->libs[CT_CUDA_LIB_NVRTC];
  if (s == CT_OK) {
    typedef int (*nvrtc_version_fn)(int *, int *);
    nvrtc_version_fn fn = (nvrtc_version_fn)dlsym(L->handle, "nvrtcVersion");
    int maj = 0, min = 0;
    if (fn && fn(&maj, &min) == 0) {
      L->version_major = maj;
      L->version_minor = min;
    }
    if (handle) *handle = L->handle;
  }
  char err[CT_INFO_TEXT_MAX];
  snprintf(err, sizeof err, "%s", L->error);
  pthread_mutex_unlock(&st->lock);
  if (s != CT_OK)
    return ct_error(s, "cuda: NVRTC (libnvrtc.so.13/.12/.11.2) could not be loaded; set CT_NVRTC_PATH or "
                       "install the CUDA NVRTC runtime: %s", err);
  return CT_OK;
}

ct_status ct_cuda_load_cublas(ct_context *ctx, void **cublas, void **cublaslt) {
  ct_cuda_state *st = ct_cuda_state_get(ctx);
  if (!st) return CT_RESOURCE_EXHAUSTED;
  pthread_mutex_lock(&st->lock);
  /* cuBLASLt first: libcublas needs it, and RTLD_LOCAL libraries do not
   * satisfy each other's dependencies unless they are found the same way. */
  ct_status s = open_lazy(st, CT_CUDA_LIB_CUBLASLT, "cublasLtGetVersion");
  if (s == CT_OK) s = open_lazy(st, CT_CUDA_LIB_CUBLAS, "cublasCreate_v2");
  ct_cuda_library *L = &st->libs[CT_CUDA_LIB_CUBLAS], *LT = &st->libs[CT_CUDA_LIB_CUBLASLT];
  if (s == CT_OK) {
    typedef size_t (*lt_version_fn)(void);
    lt_version_fn fn = (lt_version_fn)dlsym(LT->handle, "cublasLtGetVersion");
    if (fn) {
      size_t v = fn(); /* major * 10000 + minor * 100 + patch */
      LT->version_major = L->version_major = (int)(v / 10000);
      LT->version_minor = L->version_minor = (int)(v / 100 % 100);
    }
    if (cublas) *cublas = L->handle;
    if (cublaslt) *cublaslt = LT->handle;
  }
  char err[CT_INFO_TEXT_MAX];
  snprintf(err, sizeof err, "%s", LT->status != CT_OK ? LT->error : L->error);
  pthread_mutex_unlock(&st->lock);
  if (s != CT_OK)
    return ct_error(s, "cuda: cuBLAS (libcublas.so.13/.12/.11 with libcublasLt) could not be loaded; set "
                       "CT_CUBLAS_PATH or install cuBLAS: %s", err);
  return CT_OK;
}

ct_status ct_cuda_load_nccl(ct_context *ctx, void **handle) {
  ct_cuda_state *st = ct_cuda_state_get(ctx);
  if (!st) return CT_RESOURCE_EXHAUSTED;
  pthread_mutex_lock(&st->lock);
  ct_status s = open_lazy(st, CT_CUDA_LIB_NCCL, "ncclGetVersion");
  ct_cuda_library *L = &st->libs[CT_CUDA_LIB_NCCL];
  if (s == CT_OK && handle) *handle = L->handle;
  char err[CT_INFO_TEXT_MAX];
  snprintf(err, sizeof err, "%s", L->error);
  pthread_mutex_unlock(&st->lock);
  if (s != CT_OK)
    return ct_error(s, "cuda: NCCL (libnccl.so.2) could not be loaded; set CT_NCCL_PATH to its absolute path or "
                       "install it (pip install nvidia-nccl-cu12, or Debian's libnccl2): %s", err);
  return CT_OK;
}

void ct_cuda_set_nccl_version(ct_context *ctx, int major, int minor) {
  ct_cuda_state *st = ct_cuda_state_get(ctx);
  if (!st) return;
  pthread_mutex_lock(&st->lock);
  st->libs[CT_CUDA_LIB_NCCL].version_major = major;
  st->libs[CT_CUDA_LIB_NCCL].version_minor = minor;
  pthread_mutex_unlock(&st->lock);
}
