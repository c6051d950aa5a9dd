/*
 * rusage.c - resource usage snapshots in the coro++ "bench" format.
 *
 * coro++ answered `!bench` with one line made by its bench::dump():
 *
 *   WALL_S WALL_US|USER_S USER_US|SYS_S SYS_US|maxrss:N ixrss:N idrss:N
 *   isrss:N minflt:N majflt:N nswap:N inblock:N oublock:N msgsnd:N msgrcv:N
 *   nsignals:N nvcsw:N nivcsw:N
 *
 * with the microsecond parts zero-padded to six digits ("%ld %06ld"). This
 * file writes exactly that (without the CRLF, which is the caller's), the
 * same figures as JSON, and parses the line back. The parser accepts the
 * microsecond part with 1 to 6 digits, so unpadded lines from other tools
 * parse too; everything else must match the format exactly.
 *
 * Differences from coro++, on purpose: the wall clock is CLOCK_MONOTONIC
 * (coro++ used gettimeofday, which jumps with NTP), and the diff subtracts
 * the integral fields (ixrss, idrss, isrss) like every other counter instead
 * of copying the later value; Linux reports 0 for them either way.
 */
#include "runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define US_PER_S 1000000

static int64_t timeval_us(struct timeval tv)
{
    return (int64_t)tv.tv_sec * US_PER_S + (int64_t)tv.tv_usec;
}

int coro_rusage_now(coro_rusage_t *out)
{
    struct timespec ts;
    struct rusage ru;

    if (out == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        return -1;
    if (getrusage(RUSAGE_SELF, &ru) == -1)
        return -1;

    out->wall_us = (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
    out->utime_us = timeval_us(ru.ru_utime);
    out->stime_us = timeval_us(ru.ru_stime);
    out->maxrss_kib = ru.ru_maxrss; /* Linux reports KiB */
    out->ixrss = ru.ru_ixrss;
    out->idrss = ru.ru_idrss;
    out->isrss = ru.ru_isrss;
    out->minflt = ru.ru_minflt;
    out->majflt = ru.ru_majflt;
    out->nswap = ru.ru_nswap;
    out->inblock = ru.ru_inblock;
    out->oublock = ru.ru_oublock;
    out->msgsnd = ru.ru_msgsnd;
    out->msgrcv = ru.ru_msgrcv;
    out->nsignals = ru.ru_nsignals;
    out->nvcsw = ru.ru_nvcsw;
    out->nivcsw = ru.ru_nivcsw;
    return 0;
}

void coro_rusage_diff(const coro_rusage_t *before, const coro_rusage_t *after,
                      coro_rusage_t *out)
{
    /* Computed into a local first so that out may alias before or after. */
    coro_rusage_t d;

    d.wall_us = after->wall_us - before->wall_us;
    d.utime_us = after->utime_us - before->utime_us;
    d.stime_us = after->stime_us - before->stime_us;
    /* A high-water mark: the later value already covers the earlier one. */
    d.maxrss_kib = after->maxrss_kib;
    d.ixrss = after->ixrss - before->ixrss;
    d.idrss = after->idrss - before->idrss;
    d.isrss = after->isrss - before->isrss;
    d.minflt = after->minflt - before->minflt;
    d.majflt = after->majflt - before->majflt;
    d.nswap = after->nswap - before->nswap;
    d.inblock = after->inblock - before->inblock;
    d.oublock = after->oublock - before->oublock;
    d.msgsnd = after->msgsnd - before->msgsnd;
    d.msgrcv = after->msgrcv - before->msgrcv;
    d.nsignals = after->nsignals - before->nsignals;
    d.nvcsw = after->nvcsw - before->nvcsw;
    d.nivcsw = after->nivcsw - before->nivcsw;
    *out = d;
}

/* A time in microseconds split for "S UUUUUU". A negative time (only a
 * diff of snapshots taken in the wrong order gives one) is written with a
 * '-' before the seconds and applies to the whole value: "-0 500000" is
 * -0.5 s. The magnitude is unsigned so INT64_MIN does not overflow. */
typedef struct {
    const char *sign;
    uint64_t s, us;
} split_time_t;

static split_time_t split_time(int64_t t_us)
{
    split_time_t st;
    uint64_t mag = t_us < 0 ? (uint64_t)0 - (uint64_t)t_us : (uint64_t)t_us;

    st.sign = t_us < 0 ? "-" : "";
    st.s = mag / US_PER_S;
    st.us = mag % US_PER_S;
    return st;
}

int coro_rusage_format(const coro_rusage_t *r, char *buf, size_t cap)
{
    split_time_t w = split_time(r->wall_us);
    split_time_t u = split_time(r->utime_us);
    split_time_t s = split_time(r->stime_us);

    return snprintf(buf, cap,
                    "%s%" PRIu64 " %06" PRIu64 "|%s%" PRIu64 " %06" PRIu64
                    "|%s%" PRIu64 " %06" PRIu64 "|"
                    "maxrss:%" PRId64 " ixrss:%" PRId64 " idrss:%" PRId64
                    " isrss:%" PRId64 " minflt:%" PRId64 " majflt:%" PRId64
                    " nswap:%" PRId64 " inblock:%" PRId64 " oublock:%" PRId64
                    " msgsnd:%" PRId64 " msgrcv:%" PRId64 " nsignals:%" PRId64
                    " nvcsw:%" PRId64 " nivcsw:%" PRId64,
                    w.sign, w.s, w.us, u.sign, u.s, u.us, s.sign, s.s, s.us,
                    r->maxrss_kib, r->ixrss, r->idrss, r->isrss, r->minflt,
                    r->majflt, r->nswap, r->inblock, r->oublock, r->msgsnd,
                    r->msgrcv, r->nsignals, r->nvcsw, r->nivcsw);
}

int coro_rusage_format_json(const coro_rusage_t *r, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "{\"wall_us\":%" PRId64 ",\"utime_us\":%" PRId64
                    ",\"stime_us\":%" PRId64 ",\"maxrss_kib\":%" PRId64
                    ",\"ixrss\":%" PRId64 ",\"idrss\":%" PRId64
                    ",\"isrss\":%" PRId64 ",\"minflt\":%" PRId64
                    ",\"majflt\":%" PRId64 ",\"nswap\":%" PRId64
                    ",\"inblock\":%" PRId64 ",\"oublock\":%" PRId64
                    ",\"msgsnd\":%" PRId64 ",\"msgrcv\":%" PRId64
                    ",\"nsignals\":%" PRId64 ",\"nvcsw\":%" PRId64
                    ",\"nivcsw\":%" PRId64 "}",
                    r->wall_us, r->utime_us, r->stime_us, r->maxrss_kib,
                    r->ixrss, r->idrss, r->isrss, r->minflt, r->majflt,
                    r->nswap, r->inblock, r->oublock, r->msgsnd, r->msgrcv,
                    r->nsignals, r->nvcsw, r->nivcsw);
}

/* ---- parsing ----------------------------------------------------------
 * A cursor over a NUL-terminated string. Every step looks at one character
 * and only moves past it when it matched something other than NUL, so the
 * scan can never run past the terminator, whatever the input. */

/* Reads 1..max_digits decimal digits into *out (no sign). Fails on no
 * digit, too many digits or overflow of uint64_t. */
static int scan_digits(const char **p, int max_digits, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;

    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (++n > max_digits || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    if (n == 0)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* An optional '-' then a magnitude that must fit int64_t with that sign. */
static int64_t apply_sign(int neg, uint64_t mag, int *ok)
{
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) {
            *ok = 0;
            return 0;
        }
        /* -(mag) computed in unsigned space, converted without overflow. */
        return mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
    }
    if (mag > (uint64_t)INT64_MAX) {
        *ok = 0;
        return 0;
    }
    return (int64_t)mag;
}

static int scan_int64(const char **p, int64_t *out)
{
    const char *s = *p;
    int neg = 0, ok = 1;
    uint64_t mag;

    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (scan_digits(&s, 19, &mag) == -1)
        return -1;
    *out = apply_sign(neg, mag, &ok);
    if (!ok)
        return -1;
    *p = s;
    return 0;
}

/* "S U" with an optional leading '-', U < 10^6 in 1..6 digits. */
static int scan_time(const char **p, int64_t *out_us)
{
    const char *s = *p;
    int neg = 0, ok = 1;
    uint64_t sec, usec, mag;

    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (scan_digits(&s, 19, &sec) == -1 || *s != ' ')
        return -1;
    s++;
    if (scan_digits(&s, 6, &usec) == -1)
        return -1;
    if (sec > (UINT64_MAX - usec) / US_PER_S)
        return -1;
    mag = sec * US_PER_S + usec;
    *out_us = apply_sign(neg, mag, &ok);
    if (!ok)
        return -1;
    *p = s;
    return 0;
}

/* Matches the literal word (never containing NUL) at the cursor. */
static int scan_literal(const char **p, const char *word)
{
    const char *s = *p;

    while (*word != '\0') {
        if (*s != *word)
            return -1; /* also stops at the input's NUL */
        s++;
        word++;
    }
    *p = s;
    return 0;
}

int coro_rusage_parse(const char *line, coro_rusage_t *out)
{
    static const char *const names[] = {
        "maxrss:", "ixrss:", "idrss:",    "isrss:",  "minflt:",
        "majflt:", "nswap:", "inblock:",  "oublock:", "msgsnd:",
        "msgrcv:", "nsignals:", "nvcsw:", "nivcsw:",
    };
    coro_rusage_t r;
    int64_t *counters[] = {
        &r.maxrss_kib, &r.ixrss,  &r.idrss,    &r.isrss,  &r.minflt,
        &r.majflt,     &r.nswap,  &r.inblock,  &r.oublock, &r.msgsnd,
        &r.msgrcv,     &r.nsignals, &r.nvcsw,  &r.nivcsw,
    };
    _Static_assert(sizeof names / sizeof names[0] == sizeof counters / sizeof counters[0],
                   "one name per counter");
    const char *p = line;
    size_t i;

    if (line == NULL || out == NULL)
        goto invalid;
    if (scan_time(&p, &r.wall_us) == -1 || scan_literal(&p, "|") == -1 ||
        scan_time(&p, &r.utime_us) == -1 || scan_literal(&p, "|") == -1 ||
        scan_time(&p, &r.stime_us) == -1 || scan_literal(&p, "|") == -1)
        goto invalid;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (i > 0 && scan_literal(&p, " ") == -1)
            goto invalid;
        if (scan_literal(&p, names[i]) == -1 || scan_int64(&p, counters[i]) == -1)
            goto invalid;
    }
    /* The line as received from a server may still carry its terminator. */
    if (p[0] == '\r' && p[1] == '\n')
        p += 2;
    else if (p[0] == '\n')
        p++;
    if (*p != '\0')
        goto invalid;
    *out = r;
    return 0;

invalid:
    errno = EINVAL;
    return -1;
}
