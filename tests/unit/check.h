/* Minimal test asserts: each failure prints the expression and both values,
 * then the test exits 1. A test that cannot run here calls CHECK_SKIP, which
 * prints why and exits 77 (CTest's SKIP_RETURN_CODE). */
#ifndef BRM_CHECK_H
#define BRM_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_FAIL_(fmt, ...)                                                                  \
        do {                                                                                   \
                fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);          \
                exit(1);                                                                       \
        } while (0)

#define CHECK(expr)                                                                            \
        do {                                                                                   \
                if (!(expr))                                                                   \
                        CHECK_FAIL_("check failed: %s", #expr);                                \
        } while (0)

#define CHECK_INT(a, op, b)                                                                    \
        do {                                                                                   \
                long long a_ = (long long)(a), b_ = (long long)(b);                            \
                if (!(a_ op b_))                                                               \
                        CHECK_FAIL_("check failed: %s %s %s (%lld vs %lld)", #a, #op, #b, a_, b_); \
        } while (0)

#define CHECK_U64(a, op, b)                                                                    \
        do {                                                                                   \
                unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
                if (!(a_ op b_))                                                               \
                        CHECK_FAIL_("check failed: %s %s %s (%llu vs %llu)", #a, #op, #b, a_, b_); \
        } while (0)

#define CHECK_DBL(a, b, eps)                                                                   \
        do {                                                                                   \
                double a_ = (double)(a), b_ = (double)(b);                                     \
                if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                                   \
                        CHECK_FAIL_("check failed: %s ~= %s (%g vs %g)", #a, #b, a_, b_);      \
        } while (0)

#define CHECK_STR(a, b)                                                                        \
        do {                                                                                   \
                const char *a_ = (a), *b_ = (b);                                               \
                if (!a_ || !b_ || strcmp(a_, b_) != 0)                                         \
                        CHECK_FAIL_("check failed: %s == %s (\"%s\" vs \"%s\")", #a, #b,       \
                                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                   \
        } while (0)

#define CHECK_SKIP(why)                                                                        \
        do {                                                                                   \
                fprintf(stderr, "SKIP: %s\n", why);                                            \
                exit(77);                                                                      \
        } while (0)

#endif
