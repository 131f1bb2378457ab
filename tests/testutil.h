/*
 * A small test harness: each tests/test_*.c defines test functions with
 * TEST(name) and lists them in main() through RUN(name). A failed check
 * prints file, line and the expression (and ct_last_error() for status
 * checks) and the program exits non-zero at the end.
 */
#ifndef CT_TESTUTIL_H
#define CT_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctensor.h"

static int tu_failures;
static int tu_checks;
static const char *tu_current;

#define TEST(name) static void name(void)
#define RUN(name)                                                      \
  do {                                                                 \
    int before_ = tu_failures;                                         \
    tu_current = #name;                                                \
    name();                                                            \
    printf("%s %s\n", tu_failures == before_ ? "ok  " : "FAIL", #name); \
  } while (0)
#define TEST_MAIN_END()                                                     \
  do {                                                                      \
    printf("%d checks, %d failed\n", tu_checks, tu_failures);               \
    return tu_failures ? 1 : 0;                                             \
  } while (0)

#define CHECK(cond)                                                           \
  do {                                                                        \
    tu_checks++;                                                              \
    if (!(cond)) {                                                            \
      tu_failures++;                                                          \
      fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__, \
              tu_current, #cond);                                             \
    }                                                                         \
  } while (0)

#define CHECK_OK(expr)                                                          \
  do {                                                                          \
    ct_status s_ = (expr);                                                      \
    tu_checks++;                                                                \
    if (s_ != CT_OK) {                                                          \
      tu_failures++;                                                            \
      fprintf(stderr, "%s:%d: [%s] %s returned %s: %s\n", __FILE__, __LINE__,   \
              tu_current, #expr, ct_status_name(s_), ct_last_error());          \
    }                                                                           \
  } while (0)

/* Checks the status code and that the message contains `needle`. */
#define CHECK_ERR(expr, code, needle)                                               \
  do {                                                                              \
    ct_status s_ = (expr);                                                          \
    tu_checks++;                                                                    \
    if (s_ != (code) || strstr(ct_last_error(), (needle)) == NULL) {                \
      tu_failures++;                                                                \
      fprintf(stderr, "%s:%d: [%s] %s: expected %s containing \"%s\", got %s: \"%s\"\n", \
              __FILE__, __LINE__, tu_current, #expr, ct_status_name(code), (needle),  \
              ct_status_name(s_), ct_last_error());                                 \
    }                                                                               \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                           \
  do {                                                                               \
    long long a_ = (long long)(a), b_ = (long long)(b);                              \
    tu_checks++;                                                                     \
    if (a_ != b_) {                                                                  \
      tu_failures++;                                                                 \
      fprintf(stderr, "%s:%d: [%s] %s == %s: %lld != %lld\n", __FILE__, __LINE__,    \
              tu_current, #a, #b, a_, b_);                                           \
    }                                                                                \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                        \
  do {                                                                            \
    const char *a_ = (a), *b_ = (b);                                              \
    tu_checks++;                                                                  \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                        \
      tu_failures++;                                                              \
      fprintf(stderr, "%s:%d: [%s] %s == %s: \"%s\" != \"%s\"\n", __FILE__,       \
              __LINE__, tu_current, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    }                                                                             \
  } while (0)

/* |a - b| <= atol + rtol * |b|; NaN never passes. */
#define CHECK_CLOSE(a, b, atol, rtol)                                                 \
  do {                                                                                \
    double a_ = (double)(a), b_ = (double)(b);                                        \
    tu_checks++;                                                                      \
    if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_))) {                             \
      tu_failures++;                                                                  \
      fprintf(stderr, "%s:%d: [%s] %s ~= %s: %.9g vs %.9g\n", __FILE__, __LINE__,     \
              tu_current, #a, #b, a_, b_);                                            \
    }                                                                                 \
  } while (0)

#endif
