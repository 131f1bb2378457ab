/*
 * Per-call failure injection, shared by the fake driver, cuBLAS and NVRTC
 * (README.md, "Failing one call"). A library lists its entry points and
 * the error each returns by default; a variable such as
 *
 *   CT_FAKE_CUDA_FAIL=cuMemAlloc@3,cuStreamSynchronize@1=700
 *
 * makes the third cuMemAlloc and the first cuStreamSynchronize fail, the
 * first with the default error, the second with the one given. Calls are
 * counted per entry point from the last fake_fail_reset(), which also
 * reads the variable again; the counts are exported so that a test knows
 * how many calls a scenario makes and can fail each one in turn.
 *
 * A rule that names no known entry point aborts: a typo would otherwise
 * make a test that injects nothing and passes. Not thread-safe on its
 * own: the caller holds its library's lock.
 */
#ifndef CT_FAKE_FAIL_H
#define CT_FAKE_FAIL_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FAKE_FAIL_MAX_ENTRIES 48
#define FAKE_FAIL_MAX_RULES 16

typedef struct fake_fail_entry {
  const char *name;
  int error; /* what a failed call returns unless the rule says otherwise */
} fake_fail_entry;

typedef struct fake_fail {
  const char *var;                /* the environment variable */
  const char *lib;                /* for messages: "fake libcuda" */
  const fake_fail_entry *entries;
  int n_entries;
  long calls[FAKE_FAIL_MAX_ENTRIES];
  struct {
    int entry;
    long at;
    int error;
  } rules[FAKE_FAIL_MAX_RULES];
  int n_rules;
  long injected; /* failures returned since the reset */
} fake_fail;

static inline int fake_fail_find(const fake_fail *f, const char *name, size_t n) {
  for (int i = 0; i < f->n_entries; i++)
    if (strlen(f->entries[i].name) == n && strncmp(f->entries[i].name, name, n) == 0) return i;
  return -1;
}

/* Zeroes the counts and reads the rules from the environment. */
static inline void fake_fail_reset(fake_fail *f) {
  memset(f->calls, 0, sizeof f->calls);
  f->n_rules = 0;
  f->injected = 0;
  const char *v = getenv(f->var);
  if (!v) return;
  for (const char *p = v; *p;) {
    size_t len = strcspn(p, ",");
    const char *at = memchr(p, '@', len);
    int e = at ? fake_fail_find(f, p, (size_t)(at - p)) : -1;
    char *end = NULL;
    long n = at ? strtol(at + 1, &end, 10) : 0;
    int error = e >= 0 ? f->entries[e].error : 0;
    if (end && *end == '=') error = (int)strtol(end + 1, &end, 10);
    if (e < 0 || n < 1 || error == 0 || end != p + len || f->n_rules == FAKE_FAIL_MAX_RULES) {
      fprintf(stderr, "%s: %s: cannot use \"%.*s\" (expected <entry point>@<N>[=<error>], N >= 1, error != 0)\n",
              f->lib, f->var, (int)len, p);
      abort();
    }
    f->rules[f->n_rules].entry = e;
    f->rules[f->n_rules].at = n;
    f->rules[f->n_rules].error = error;
    f->n_rules++;
    p += len;
    if (*p == ',') p++;
  }
}

/* Counts a call of entry point `e`; returns the error it must fail with,
 * 0 to go on. */
static inline int fake_fail_call(fake_fail *f, int e) {
  long n = ++f->calls[e];
  for (int i = 0; i < f->n_rules; i++)
    if (f->rules[i].entry == e && f->rules[i].at == n) {
      f->injected++;
      return f->rules[i].error;
    }
  return 0;
}

/* Calls of the named entry point since the reset; -1 for an unknown name. */
static inline long fake_fail_count(const fake_fail *f, const char *name) {
  int e = fake_fail_find(f, name, strlen(name));
  return e < 0 ? -1 : f->calls[e];
}

/* ---- the libraries beside the driver (cuBLAS, NVRTC, NCCL) --------------- */

/* The fake driver ctensor loaded -- $CT_CUDA_DRIVER_PATH (a file or its
 * directory), else by name -- without loading one; NULL when there is
 * none. The caller may dlclose the handle: ctensor never unloads it. */
static inline void *fake_driver_open(void) {
  const char *p = getenv("CT_CUDA_DRIVER_PATH");
  void *h = NULL;
  if (p && *p) {
    char path[1024];
    struct stat sb;
    snprintf(path, sizeof path, stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? "%s/libcuda.so.1" : "%s", p);
    h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  }
  if (!h) h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  return h;
}

/* The fake driver's configuration count (0 without it): a library beside
 * it counts its calls from the same cuInit as the driver's own. */
static inline long fake_driver_epoch(void) {
  static long (*epoch_fn)(void);
  if (!epoch_fn) {
    void *d = fake_driver_open();
    if (d) {
      epoch_fn = (long (*)(void))dlsym(d, "ct_fake_cuda_epoch");
      dlclose(d);
    }
  }
  return epoch_fn ? epoch_fn() : 0;
}

/* fake_fail_call for such a library, under its lock, restarting the count
 * (*epoch holds the driver configuration it belongs to) whenever the
 * driver was configured again. */
static inline int fake_fail_inject(fake_fail *f, long *epoch, pthread_mutex_t *lock, int e) {
  long ep = fake_driver_epoch();
  pthread_mutex_lock(lock);
  if (ep != *epoch) {
    *epoch = ep;
    fake_fail_reset(f);
  }
  int r = fake_fail_call(f, e);
  pthread_mutex_unlock(lock);
  return r;
}

/* fake_fail_count for such a library: 0 for a known entry point while the
 * driver's current configuration has seen no call, -1 for an unknown one. */
static inline long fake_fail_calls(const fake_fail *f, const long *epoch, pthread_mutex_t *lock, const char *entry) {
  long ep = fake_driver_epoch();
  pthread_mutex_lock(lock);
  long n = ep != *epoch ? (fake_fail_find(f, entry, strlen(entry)) < 0 ? -1 : 0) : fake_fail_count(f, entry);
  pthread_mutex_unlock(lock);
  return n;
}

#endif /* CT_FAKE_FAIL_H */
