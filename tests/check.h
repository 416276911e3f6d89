/* Minimal assertions for C tests: each failed CHECK prints where and why and
 * the test keeps going; CHECK_DONE() prints "N passed, N failed" and returns
 * the exit code ctest reads. A test that needs something absent (a GPU)
 * returns CHECK_SKIP (77). */
#ifndef SSCOR_TEST_CHECK_H
#define SSCOR_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;
#define CHECK_SKIP 77

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      check_passed++;                                                          \
    } else {                                                                   \
      check_failed++;                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (cond) {                                                                \
      check_passed++;                                                          \
    } else {                                                                   \
      check_failed++;                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                          \
  do {                                                                         \
    double check_a_ = (a), check_b_ = (b);                                     \
    CHECK_MSG(fabs(check_a_ - check_b_) <= (atol) + (rtol)*fabs(check_b_),     \
              "%s = %.9g, %s = %.9g", #a, check_a_, #b, check_b_);             \
  } while (0)

#define CHECK_DONE()                                                           \
  (printf("%d passed, %d failed\n", check_passed, check_failed),               \
   check_failed ? 1 : 0)

#endif
