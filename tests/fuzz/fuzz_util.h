/*
 * Shared bits of the libFuzzer harnesses (tests/fuzz/README.md). Each
 * harness feeds one parser of outside input with bytes it did not choose;
 * ASan and UBSan report any bad access, and the harness aborts on a broken
 * property (a round trip that does not come back, a result that is not
 * NUL-terminated), which libFuzzer reports as a crash.
 */
#ifndef CT_FUZZ_UTIL_H
#define CT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of exactly `size` bytes, so that ASan sees any read
 * past the text; NULL when out of memory (the input is then skipped). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s) {
    if (size) memcpy(s, data, size);
    s[size] = '\0';
  }
  return s;
}

/* Splits the input at its first '\n' into two NUL-terminated strings. */
static inline void fuzz_split(char *s, char **a, char **b) {
  char *nl = strchr(s, '\n');
  *a = s;
  if (nl) {
    *nl = '\0';
    *b = nl + 1;
  } else {
    *b = s + strlen(s);
  }
}

/* A result must end inside its buffer. */
static inline void fuzz_check_terminated(const char *what, const char *buf, size_t size) {
  if (size == 0) return;
  if (memchr(buf, '\0', size) == NULL) {
    fprintf(stderr, "%s: result not NUL-terminated\n", what);
    abort();
  }
}

#define FUZZ_REQUIRE(cond, ...)                        \
  do {                                                 \
    if (!(cond)) {                                     \
      fprintf(stderr, "property failed: %s: ", #cond); \
      fprintf(stderr, __VA_ARGS__);                    \
      fprintf(stderr, "\n");                           \
      abort();                                         \
    }                                                  \
  } while (0)

#endif
