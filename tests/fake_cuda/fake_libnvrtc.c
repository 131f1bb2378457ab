/*
 * A fake NVRTC (libnvrtc.so.13) for tests on machines without a GPU: it
 * "compiles" a CUDA C program with the host's C++ compiler into a shared
 * library, with tests/fake_cuda/emu/ct_emu.h force-included, and hands that
 * back as the program's CUBIN (or PTX). The fake driver recognises the
 * image and runs the kernels on the host (see ct_emu.h), so the whole GPU
 * path of ctensor -- JIT, kernel cache, launch geometry, parameter
 * packing, the kernels' own code -- runs against the CPU oracle in CI.
 *
 * Image layout: the 8 bytes "CTEMU-SO", the library's size as a
 * little-endian u64, then the library.
 *
 * Compilation, in a fresh directory under $TMPDIR holding the program and
 * the headers given to nvrtcCreateProgram:
 *   1. the preprocessor, with CT_EMU_SCAN, lists the kernels (every
 *      `__global__ void <name>` left in the output);
 *   2. the compiler builds the program plus CT_EMU_ENTRY(<name>) for each.
 * Options are checked as NVRTC would: -arch=/--gpu-architecture= with an
 * architecture from nvrtcGetSupportedArchs, --fmad=true|false, -std=c++17;
 * anything else is NVRTC_ERROR_INVALID_OPTION, so a new option in ctensor
 * gets a deliberate decision here.
 *
 * Built by cmake/parts/fake_nvrtc.cmake with CT_EMU_CXX (the C++ compiler
 * matching the C compiler of the build), CT_EMU_HEADER (ct_emu.h) and
 * CT_EMU_FLAGS (the build's sanitizer flags, so that an ASan build checks
 * the kernels' memory accesses too). CT_FAKE_NVRTC_CXX overrides the
 * compiler; CT_FAKE_NVRTC_KEEP=1 keeps the working directories.
 * CT_FAKE_NVRTC_FAIL=<entry>@<N>[=<result>] fails one call (fake_fail.h),
 * counted from the fake driver's last configuring cuInit;
 * ct_fake_nvrtc_calls() and ct_fake_nvrtc_live_programs() tell a test what
 * a scenario did.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_fail.h"

#define EXPORT __attribute__((visibility("default")))

#ifndef CT_EMU_CXX
#define CT_EMU_CXX "c++"
#endif
#ifndef CT_EMU_FLAGS
#define CT_EMU_FLAGS ""
#endif

extern char **environ;

enum {
  NV_SUCCESS = 0,
  NV_OUT_OF_MEMORY = 1,
  NV_PROGRAM_CREATION_FAILURE = 2,
  NV_INVALID_INPUT = 3,
  NV_INVALID_PROGRAM = 4,
  NV_INVALID_OPTION = 5,
  NV_COMPILATION = 6,
  NV_BUILTIN_OPERATION_FAILURE = 7,
  NV_INTERNAL_ERROR = 11
};

static const int archs[] = {75, 80, 86, 87, 89, 90, 100, 103, 120};
#define N_ARCHS ((int)(sizeof archs / sizeof archs[0]))

#define PROG_MAGIC 0x6e767274

typedef struct fake_prog {
  int magic;
  char *src, *name;
  int n_headers;
  char **header_text, **header_name;
  char *log;
  unsigned char *image;
  size_t image_size;
  int virtual_arch; /* compiled for compute_XX: GetPTX, not GetCUBIN */
} fake_prog;

/* ---- CT_FAKE_NVRTC_FAIL --------------------------------------------------- */

enum {
  F_nvrtcVersion, F_nvrtcCreateProgram, F_nvrtcDestroyProgram, F_nvrtcCompileProgram, F_nvrtcGetProgramLogSize,
  F_nvrtcGetProgramLog, F_nvrtcGetPTXSize, F_nvrtcGetPTX, F_nvrtcGetCUBINSize, F_nvrtcGetCUBIN, F_COUNT
};
/* By default: no host memory (1) to create a program, a program that does
 * not compile (6, with a log saying why), an internal error (11) for the
 * rest. */
static const fake_fail_entry fail_entries[F_COUNT] = {
    {"nvrtcVersion", NV_INTERNAL_ERROR},        {"nvrtcCreateProgram", NV_OUT_OF_MEMORY},
    {"nvrtcDestroyProgram", NV_INTERNAL_ERROR}, {"nvrtcCompileProgram", NV_COMPILATION},
    {"nvrtcGetProgramLogSize", NV_INTERNAL_ERROR}, {"nvrtcGetProgramLog", NV_INTERNAL_ERROR},
    {"nvrtcGetPTXSize", NV_INTERNAL_ERROR},     {"nvrtcGetPTX", NV_INTERNAL_ERROR},
    {"nvrtcGetCUBINSize", NV_INTERNAL_ERROR},   {"nvrtcGetCUBIN", NV_INTERNAL_ERROR},
};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fake_fail fails = {"CT_FAKE_NVRTC_FAIL", "fake libnvrtc", fail_entries, F_COUNT, {0}, {{0, 0, 0}}, 0, 0};
static long fails_epoch = -1;
static int programs_live;

/* Counts a call; returns the result it must fail with, or 0. */
static int inject(int e) { return fake_fail_inject(&fails, &fails_epoch, &lock, e); }

#define FAIL_POINT(e)         \
  do {                        \
    int f_ = inject(e);       \
    if (f_) return f_;        \
  } while (0)

/* Calls of an entry point ("nvrtcCompileProgram") since the count started;
 * -1 for a name CT_FAKE_NVRTC_FAIL does not know. */
EXPORT long ct_fake_nvrtc_calls(const char *entry) { return fake_fail_calls(&fails, &fails_epoch, &lock, entry); }

/* Programs created and not yet destroyed. */
EXPORT int ct_fake_nvrtc_live_programs(void) {
  pthread_mutex_lock(&lock);
  int n = programs_live;
  pthread_mutex_unlock(&lock);
  return n;
}

static void program_count(int delta) {
  pthread_mutex_lock(&lock);
  programs_live += delta;
  pthread_mutex_unlock(&lock);
}

EXPORT const char *nvrtcGetErrorString(int r) {
  switch (r) {
  case NV_SUCCESS: return "NVRTC_SUCCESS";
  case NV_OUT_OF_MEMORY: return "NVRTC_ERROR_OUT_OF_MEMORY";
  case NV_PROGRAM_CREATION_FAILURE: return "NVRTC_ERROR_PROGRAM_CREATION_FAILURE";
  case NV_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
  case NV_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
  case NV_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
  case NV_COMPILATION: return "NVRTC_ERROR_COMPILATION";
  case NV_BUILTIN_OPERATION_FAILURE: return "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE";
  case NV_INTERNAL_ERROR: return "NVRTC_ERROR_INTERNAL_ERROR";
  default: return "NVRTC_ERROR unknown";
  }
}

EXPORT int nvrtcVersion(int *major, int *minor) {
  FAIL_POINT(F_nvrtcVersion);
  if (!major || !minor) return NV_INVALID_INPUT;
  *major = 13;
  *minor = 0;
  return NV_SUCCESS;
}

EXPORT int nvrtcGetNumSupportedArchs(int *n) {
  if (!n) return NV_INVALID_INPUT;
  *n = N_ARCHS;
  return NV_SUCCESS;
}

EXPORT int nvrtcGetSupportedArchs(int *out) {
  if (!out) return NV_INVALID_INPUT;
  memcpy(out, archs, sizeof archs);
  return NV_SUCCESS;
}

static void prog_free(fake_prog *p) {
  if (!p) return;
  for (int i = 0; i < p->n_headers; i++) {
    free(p->header_text[i]);
    free(p->header_name[i]);
  }
  free(p->header_text);
  free(p->header_name);
  free(p->src);
  free(p->name);
  free(p->log);
  free(p->image);
  p->magic = 0;
  free(p);
}

EXPORT int nvrtcCreateProgram(fake_prog **out, const char *src, const char *name, int n_headers,
                              const char *const *headers, const char *const *include_names) {
  FAIL_POINT(F_nvrtcCreateProgram);
  if (!out || !src || n_headers < 0 || (n_headers > 0 && (!headers || !include_names))) return NV_INVALID_INPUT;
  fake_prog *p = calloc(1, sizeof *p);
  if (!p) return NV_OUT_OF_MEMORY;
  p->magic = PROG_MAGIC;
  p->src = strdup(src);
  p->name = strdup(name ? name : "default_program");
  p->header_text = calloc((size_t)n_headers + 1, sizeof *p->header_text);
  p->header_name = calloc((size_t)n_headers + 1, sizeof *p->header_name);
  int ok = p->src && p->name && p->header_text && p->header_name;
  for (int i = 0; ok && i < n_headers; i++) {
    if (!headers[i] || !include_names[i] || strchr(include_names[i], '/') || include_names[i][0] == '.') {
      prog_free(p);
      return NV_INVALID_INPUT; /* the fake writes headers by name into one directory */
    }
    p->header_text[i] = strdup(headers[i]);
    p->header_name[i] = strdup(include_names[i]);
    p->n_headers = i + 1;
    ok = p->header_text[i] && p->header_name[i];
  }
  if (!ok) {
    prog_free(p);
    return NV_OUT_OF_MEMORY;
  }
  *out = p;
  program_count(1);
  return NV_SUCCESS;
}

EXPORT int nvrtcDestroyProgram(fake_prog **p) {
  FAIL_POINT(F_nvrtcDestroyProgram);
  if (!p || !*p || (*p)->magic != PROG_MAGIC) return NV_INVALID_PROGRAM;
  prog_free(*p);
  *p = NULL;
  program_count(-1);
  return NV_SUCCESS;
}

static void set_log(fake_prog *p, const char *fmt, const char *a, const char *b) {
  free(p->log);
  size_t n = strlen(fmt) + (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 1;
  p->log = malloc(n);
  if (p->log) snprintf(p->log, n, fmt, a ? a : "", b ? b : "");
}

static int write_file(const char *dir, const char *name, const void *data, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 65536;
      char *g = realloc(buf, cap);
      if (!g) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = g;
    }
    size_t r = fread(buf + n, 1, 4096, f);
    n += r;
    if (r == 0) break;
  }
  fclose(f);
  buf[n] = 0;
  if (size) *size = n;
  return buf;
}

/* Runs argv with stdout and stderr into log_path; the exit status, or -1. */
static int run(char *const argv[], const char *log_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_dir(const char *dir, fake_prog *p) {
  if (getenv("CT_FAKE_NVRTC_KEEP") && atoi(getenv("CT_FAKE_NVRTC_KEEP"))) return;
  char path[4096];
  static const char *const own[] = {"program.cu", "program.i", "entries.cu", "program.so", "compiler.log"};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, own[i]);
    unlink(path);
  }
  for (int i = 0; i < p->n_headers; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, p->header_name[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* Whether any text of the program names a barrier or a shuffle (then the
 * threads of a block must be fibers). */
/* Whether text, or a header it includes (transitively), has a barrier.
 * Every program is given every header, so a header it does not include
 * must not count: one with the row walks of two modules would otherwise
 * run every elementwise kernel as fibers. */
static int barriers_in(const fake_prog *p, const char *text, unsigned char *seen) {
  static const char *const words[] = {"__syncthreads", "__shfl"};
  for (int w = 0; w < 2; w++)
    if (strstr(text, words[w])) return 1;
  for (int i = 0; i < p->n_headers; i++) {
    char quoted[300];
    snprintf(quoted, sizeof quoted, "\"%s\"", p->header_name[i]);
    if (seen[i] || !strstr(text, quoted)) continue;
    seen[i] = 1;
    if (barriers_in(p, p->header_text[i], seen)) return 1;
  }
  return 0;
}

static int uses_barriers(const fake_prog *p) {
  unsigned char *seen = calloc((size_t)p->n_headers + 1, 1);
  /* no memory to tell: barriers, which are right for every program */
  int r = seen ? barriers_in(p, p->src, seen) : 1;
  free(seen);
  return r;
}

/* Appends "CT_EMU_ENTRY(name)\n" for every `__global__ void name` in pre. */
static char *entries_for(const char *pre, int *count) {
  size_t cap = 4096, n = 0;
  char *out = malloc(cap);
  if (!out) return NULL;
  n = (size_t)snprintf(out, cap, "#include \"program.cu\"\n");
  *count = 0;
  static const char key[] = "__global__ void ";
  for (const char *p = pre; (p = strstr(p, key)) != NULL;) {
    p += sizeof key - 1;
    while (*p == ' ') p++;
    size_t len = 0;
    while ((p[len] >= 'a' && p[len] <= 'z') || (p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= '0' && p[len] <= '9') ||
           p[len] == '_')
      len++;
    if (len == 0 || len > 200) continue;
    if (n + len + 32 > cap) {
      cap *= 2;
      char *g = realloc(out, cap);
      if (!g) {
        free(out);
        return NULL;
      }
      out = g;
    }
    n += (size_t)snprintf(out + n, cap - n, "CT_EMU_ENTRY(%.*s)\n", (int)len, p);
    (*count)++;
    p += len;
  }
  return out;
}

EXPORT int nvrtcCompileProgram(fake_prog *p, int n_options, const char *const *options) {
  int forced = inject(F_nvrtcCompileProgram);
  if (!p || p->magic != PROG_MAGIC) return NV_INVALID_PROGRAM;
  if (n_options < 0 || (n_options > 0 && !options)) return NV_INVALID_INPUT;
  free(p->image);
  p->image = NULL;
  p->image_size = 0;
  set_log(p, "", NULL, NULL);
  if (forced) {
    /* the compiler is not run: the point is the failure, not its cause */
    set_log(p, "fake nvrtc: compilation failed (CT_FAKE_NVRTC_FAIL)%s%s\n", NULL, NULL);
    return forced;
  }
  int arch = 0, virtual_arch = 0;
  for (int i = 0; i < n_options; i++) {
    const char *o = options[i], *v = NULL;
    if (!o) return NV_INVALID_INPUT;
    if (strncmp(o, "-arch=", 6) == 0) v = o + 6;
    else if (strncmp(o, "--gpu-architecture=", 19) == 0) v = o + 19;
    if (v) {
      int a = 0;
      if (strncmp(v, "sm_", 3) == 0) a = atoi(v + 3);
      else if (strncmp(v, "compute_", 8) == 0) a = atoi(v + 8), virtual_arch = 1;
      int known = 0;
      for (int k = 0; k < N_ARCHS; k++) known |= archs[k] == a;
      if (!known) {
        set_log(p, "nvrtc: error: invalid value for --gpu-architecture (-arch): %s%s\n", v, NULL);
        return NV_INVALID_OPTION;
      }
      arch = a;
    } else if (strcmp(o, "--fmad=false") != 0 && strcmp(o, "--fmad=true") != 0 && strcmp(o, "-std=c++17") != 0) {
      set_log(p, "nvrtc: error: unrecognized option %s%s\n", o, NULL);
      return NV_INVALID_OPTION;
    }
  }
  /* CT_FAKE_NVRTC_NO_BUILTINS=1: as NVRTC without its libnvrtc-builtins,
   * which it only opens when it compiles (the library itself loads). */
  if (getenv("CT_FAKE_NVRTC_NO_BUILTINS") && atoi(getenv("CT_FAKE_NVRTC_NO_BUILTINS"))) {
    set_log(p, "nvrtc: error: failed to open libnvrtc-builtins.so.13.0.\n  Make sure that libnvrtc-builtins.so.13.0 "
            "is installed correctly.\n%s%s", NULL, NULL);
    return NV_BUILTIN_OPERATION_FAILURE;
  }
  const char *tmp = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/ct-fake-nvrtc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    set_log(p, "fake nvrtc: cannot create a working directory: %s%s\n", strerror(errno), NULL);
    return NV_INTERNAL_ERROR;
  }
  int rc = NV_SUCCESS;
  for (int i = 0; rc == NV_SUCCESS && i < p->n_headers; i++)
    if (write_file(dir, p->header_name[i], p->header_text[i], strlen(p->header_text[i])) != 0) rc = NV_INTERNAL_ERROR;
  if (rc == NV_SUCCESS && write_file(dir, "program.cu", p->src, strlen(p->src)) != 0) rc = NV_INTERNAL_ERROR;
  if (rc != NV_SUCCESS) {
    set_log(p, "fake nvrtc: cannot write into %s%s\n", dir, NULL);
    remove_dir(dir, p);
    return rc;
  }
  const char *cxx = getenv("CT_FAKE_NVRTC_CXX");
  if (!cxx || !*cxx) cxx = CT_EMU_CXX;
  char in[4200], pre[4200], entries[4200], so[4200], log[4200], incdir[4200];
  snprintf(in, sizeof in, "%s/program.cu", dir);
  snprintf(pre, sizeof pre, "%s/program.i", dir);
  snprintf(entries, sizeof entries, "%s/entries.cu", dir);
  snprintf(so, sizeof so, "%s/program.so", dir);
  snprintf(log, sizeof log, "%s/compiler.log", dir);
  snprintf(incdir, sizeof incdir, "-I%s", dir);

  char *scan[] = {(char *)cxx, "-E", "-P", "-x", "c++", "-std=c++17", "-DCT_EMU_SCAN", "-include", CT_EMU_HEADER,
                  incdir, in, "-o", pre, NULL};
  int status = run(scan, log);
  char *text = status == 0 ? read_file(pre, NULL) : NULL;
  int n_kernels = 0;
  char *ent = text ? entries_for(text, &n_kernels) : NULL;
  free(text);
  if (!ent || write_file(dir, "entries.cu", ent, strlen(ent)) != 0) status = -1;
  free(ent);
  if (status == 0) {
    /* split CT_EMU_FLAGS (a few space-separated words) into argv */
    char flags[1024];
    snprintf(flags, sizeof flags, "%s", CT_EMU_FLAGS);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)cxx;
    /* -ffp-contract=off: as NVRTC with --fmad=false, so that the random
     * kernels' float32 paths round every operation like the CPU's */
    char *fixed[] = {"-x", "c++", "-std=c++17", "-O1", "-g0", "-fPIC", "-shared", "-ffp-contract=off",
                     "-w", "-include", CT_EMU_HEADER, incdir};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[n++] = fixed[i];
    for (char *save = NULL, *w = strtok_r(flags, " ", &save); w && n < 56; w = strtok_r(NULL, " ", &save))
      argv[n++] = w;
    if (!uses_barriers(p)) argv[n++] = "-DCT_EMU_NO_BARRIERS";
    char arch_def[40];
    if (arch) {
      snprintf(arch_def, sizeof arch_def, "-D__CUDA_ARCH__=%d", arch * 10);
      argv[n++] = arch_def;
    }
    argv[n++] = entries;
    argv[n++] = "-o";
    argv[n++] = so;
    argv[n] = NULL;
    status = run(argv, log);
  }
  size_t so_size = 0;
  char *lib = status == 0 ? read_file(so, &so_size) : NULL;
  if (!lib || n_kernels == 0) {
    size_t ls = 0;
    char *l = read_file(log, &ls);
    set_log(p, "fake nvrtc: compiling with %s failed:\n%s", cxx, l ? l : "(no compiler output)");
    if (l && n_kernels == 0 && status == 0) set_log(p, "fake nvrtc: %s%s defines no __global__ function\n", p->name, NULL);
    free(l);
    free(lib);
    remove_dir(dir, p);
    return NV_COMPILATION;
  }
  p->image = malloc(16 + so_size);
  if (!p->image) {
    free(lib);
    remove_dir(dir, p);
    return NV_OUT_OF_MEMORY;
  }
  memcpy(p->image, "CTEMU-SO", 8);
  uint64_t sz = so_size;
  for (int i = 0; i < 8; i++) p->image[8 + i] = (unsigned char)(sz >> (8 * i));
  memcpy(p->image + 16, lib, so_size);
  p->image_size = 16 + so_size;
  p->virtual_arch = virtual_arch;
  free(lib);
  remove_dir(dir, p);
  return NV_SUCCESS;
}

EXPORT int nvrtcGetProgramLogSize(fake_prog *p, size_t *n) {
  FAIL_POINT(F_nvrtcGetProgramLogSize);
  if (!p || p->magic != PROG_MAGIC) return NV_INVALID_PROGRAM;
  if (!n) return NV_INVALID_INPUT;
  *n = (p->log ? strlen(p->log) : 0) + 1;
  return NV_SUCCESS;
}

EXPORT int nvrtcGetProgramLog(fake_prog *p, char *out) {
  FAIL_POINT(F_nvrtcGetProgramLog);
  if (!p || p->magic != PROG_MAGIC) return NV_INVALID_PROGRAM;
  if (!out) return NV_INVALID_INPUT;
  strcpy(out, p->log ? p->log : "");
  return NV_SUCCESS;
}

static int image_size(fake_prog *p, size_t *n, int want_virtual) {
  if (!p || p->magic != PROG_MAGIC) return NV_INVALID_PROGRAM;
  if (!n) return NV_INVALID_INPUT;
  if (!p->image || p->virtual_arch != want_virtual) return NV_INVALID_PROGRAM;
  *n = p->image_size;
  return NV_SUCCESS;
}

static int image_copy(fake_prog *p, char *out, int want_virtual) {
  size_t n = 0;
  int r = image_size(p, &n, want_virtual);
  if (r != NV_SUCCESS) return r;
  if (!out) return NV_INVALID_INPUT;
  memcpy(out, p->image, n);
  return NV_SUCCESS;
}

EXPORT int nvrtcGetCUBINSize(fake_prog *p, size_t *n) {
  FAIL_POINT(F_nvrtcGetCUBINSize);
  return image_size(p, n, 0);
}
EXPORT int nvrtcGetCUBIN(fake_prog *p, char *out) {
  FAIL_POINT(F_nvrtcGetCUBIN);
  return image_copy(p, out, 0);
}
EXPORT int nvrtcGetPTXSize(fake_prog *p, size_t *n) {
  FAIL_POINT(F_nvrtcGetPTXSize);
  return image_size(p, n, 1);
}
EXPORT int nvrtcGetPTX(fake_prog *p, char *out) {
  FAIL_POINT(F_nvrtcGetPTX);
  return image_copy(p, out, 1);
}
