/*
 * The wrappers behind tests/fault_inject.h. The linker sends every
 * reference to malloc & co. in the test program's own objects (the test
 * and the static ctensor library) to __wrap_<name>, and __real_<name> to
 * the C library's (or the sanitizer's) allocator.
 */
#include "fault_inject.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **out, size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **out, size_t align, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

/* OpenMP workers may allocate while the test thread waits: atomics. */
static atomic_bool armed;
static atomic_long count, fail_at;
static atomic_bool sticky_mode, fired;
static const void *_Atomic site;

void ct_fault_arm(long nth, bool sticky) {
  atomic_store(&count, 0);
  atomic_store(&fail_at, nth);
  atomic_store(&sticky_mode, sticky);
  atomic_store(&fired, false);
  atomic_store(&site, NULL);
  atomic_store(&armed, true);
}

long ct_fault_disarm(void) {
  atomic_store(&armed, false);
  return atomic_load(&count);
}

bool ct_fault_fired(void) { return atomic_load(&fired); }
const void *ct_fault_site(void) { return atomic_load(&site); }

/* Counts one allocation; true when it must fail. */
static bool should_fail(const void *caller) {
  if (!atomic_load_explicit(&armed, memory_order_relaxed)) return false;
  long k = atomic_fetch_add(&count, 1) + 1;
  long at = atomic_load(&fail_at);
  if (at <= 0 || k < at || (k > at && !atomic_load(&sticky_mode))) return false;
  if (k == at) {
    atomic_store(&site, caller);
    atomic_store(&fired, true);
  }
  return true;
}

#define CALLER __builtin_return_address(0)

void *__wrap_malloc(size_t n) { return should_fail(CALLER) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail(CALLER) ? NULL : __real_calloc(n, size); }
/* A failed realloc leaves the old block alone, as the C library's does. */
void *__wrap_realloc(void *p, size_t n) { return should_fail(CALLER) ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t align, size_t n) {
  return should_fail(CALLER) ? NULL : __real_aligned_alloc(align, n);
}
int __wrap_posix_memalign(void **out, size_t align, size_t n) {
  return should_fail(CALLER) ? ENOMEM : __real_posix_memalign(out, align, n);
}
char *__wrap_strdup(const char *s) {
  if (should_fail(CALLER)) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_strdup(s);
}
char *__wrap_strndup(const char *s, size_t n) {
  if (should_fail(CALLER)) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_strndup(s, n);
}
