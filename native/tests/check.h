/* check.h: the check harness shared by the native test programs (C and C++).
 *
 *   CHECK(cond, fmt, ...)  If cond is false, prints
 *                              FAIL file.c:LINE: cond: <fmt, ...>
 *                          on stderr and counts one failure; the test goes on.
 *                          Only the first CHECK_MAX_REPORTS failures are
 *                          printed (a check inside a loop over every byte must
 *                          not flood the log), then one line saying the rest
 *                          are only counted.
 *   OK(fmt, ...)           Prints "ok: <fmt, ...>" on stdout if no check failed
 *                          since the previous OK (or the start), else
 *                          "not ok: <fmt, ...>". The format carries its own
 *                          newline, as with printf.
 *   check_finish(name)     Ends main: `return check_finish("test_x");`. Prints
 *                          "test_x: all checks passed" on stdout and returns 0,
 *                          or "test_x: N check(s) failed" on stderr and returns
 *                          1 (the exit status: 1 if any check failed).
 *   check_failures         The number of failed checks so far, for a test that
 *                          counts a failure it reports itself.
 *
 * Everything is static: each test program is one translation unit. */
#ifndef CORO_TESTS_CHECK_H
#define CORO_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

#ifndef CHECK_MAX_REPORTS
#define CHECK_MAX_REPORTS 20
#endif

static int check_failures;
static int check_failures_reported; /* check_failures at the last OK */

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond))                                                      \
            check_fail_(__FILE__, __LINE__, #cond, __VA_ARGS__);          \
    } while (0)

#define OK(...) check_ok_(__VA_ARGS__)

static inline void check_fail_(const char *file, int line, const char *cond, const char *fmt,
                               ...) __attribute__((format(printf, 4, 5)));
static inline void check_fail_(const char *file, int line, const char *cond, const char *fmt, ...)
{
    if (check_failures < CHECK_MAX_REPORTS) {
        va_list ap;
        fprintf(stderr, "FAIL %s:%d: %s: ", file, line, cond);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    } else if (check_failures == CHECK_MAX_REPORTS) {
        fprintf(stderr, "FAIL %s:%d: %d checks failed; further failures are counted, not shown\n",
                file, line, CHECK_MAX_REPORTS + 1);
    }
    check_failures++;
}

static inline void check_ok_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void check_ok_(const char *fmt, ...)
{
    va_list ap;
    fputs(check_failures == check_failures_reported ? "ok: " : "not ok: ", stdout);
    check_failures_reported = check_failures;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static inline int check_finish(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
