/*
 * check.h — the unit tests' tiny harness. Each test file defines tests with TEST(name)
 * and lists them in main() with RUN(name). Asserts print both values on failure and
 * mark the current test failed; the binary exits non-zero if any failed.
 * Output: one "ok"/"FAIL" line per test, then "N passed, N failed".
 */
#ifndef TAPIR_CHECK_H
#define TAPIR_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failed_;
static int check_pass_count_, check_fail_count_;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                          \
    do {                                                                                   \
        check_failed_ = 0;                                                                 \
        test_##name();                                                                     \
        if (check_failed_) {                                                               \
            check_fail_count_++;                                                           \
            printf("FAIL %s\n", #name);                                                    \
        } else {                                                                           \
            check_pass_count_++;                                                           \
            printf("ok   %s\n", #name);                                                    \
        }                                                                                  \
        fflush(stdout);                                                                    \
    } while (0)

#define CHECK_DONE()                                                                       \
    (printf("%d passed, %d failed\n", check_pass_count_, check_fail_count_),               \
     check_fail_count_ ? 1 : 0)

#define CHECK_FAIL_AT_()                                                                   \
    do {                                                                                   \
        check_failed_ = 1;                                                                 \
        printf("  at %s:%d\n", __FILE__, __LINE__);                                        \
    } while (0)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("  CHECK(%s) failed\n", #cond);                                         \
            CHECK_FAIL_AT_();                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_INT_OP_(a, op, b)                                                            \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (!(a_ op b_)) {                                                                 \
            printf("  %s %s %s: %lld vs %lld\n", #a, #op, #b, a_, b_);                     \
            CHECK_FAIL_AT_();                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(a, b) CHECK_INT_OP_(a, ==, b)
#define CHECK_NE(a, b) CHECK_INT_OP_(a, !=, b)
#define CHECK_LT(a, b) CHECK_INT_OP_(a, <, b)
#define CHECK_LE(a, b) CHECK_INT_OP_(a, <=, b)
#define CHECK_GT(a, b) CHECK_INT_OP_(a, >, b)
#define CHECK_GE(a, b) CHECK_INT_OP_(a, >=, b)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double a_ = (double)(a), b_ = (double)(b);                                         \
        if (!(fabs(a_ - b_) <= (tol))) {                                                   \
            printf("  %s ~ %s: %.17g vs %.17g (tol %g)\n", #a, #b, a_, b_, (double)(tol)); \
            CHECK_FAIL_AT_();                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                                \
            printf("  %s == %s: \"%s\" vs \"%s\"\n", #a, #b, a_ ? a_ : "(null)",           \
                   b_ ? b_ : "(null)");                                                    \
            CHECK_FAIL_AT_();                                                              \
        }                                                                                  \
    } while (0)

#endif
