/*
 * demo_args.c - strict number parsing and backend flags for the demos.
 * strtoll alone accepts " 12", "12abc" and "" (as 0); a benchmark argument
 * that is silently wrong is worse than one that is refused, so these do not.
 */
#include "demo_args.h"

#include <coro.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int demo_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (!text || !*text || isspace((unsigned char)*text)) {
        errno = EINVAL;
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int demo_parse_seconds_ms(const char *text, int64_t max_ms, int64_t *out_ms)
{
    if (!text || !*text || !(isdigit((unsigned char)*text) || *text == '.')) {
        errno = EINVAL;
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double s = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(s)) {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || s < 0 || s * 1000.0 > (double)max_ms) {
        errno = ERANGE;
        return -1;
    }
    *out_ms = (int64_t)(s * 1000.0 + 0.5);
    return 0;
}

const char *demo_backend_for_flag(int letter)
{
    switch (letter) {
    case 'k':
        return "kqueue";
    case 's':
        return "select";
    case 'p':
        return "poll";
    case 'e':
        return "epoll";
    default:
        return NULL;
    }
}

int demo_backend_known(const char *name)
{
    const char *list = coro_backends();
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int demo_check_backend(const char *prog, const char *name)
{
    if (!name || demo_backend_known(name))
        return 0;
    fprintf(stderr, "%s: backend '%s' is not in this build (it has: %s)\n", prog, name,
            coro_backends());
    return -1;
}
