/*
 * rusage_format.c - the coro++ bench line: format, parse, diff, JSON.
 *
 * Checks that coro_rusage_format writes the exact coro++ layout, that
 * coro_rusage_parse reads back every value format can write (including the
 * int64_t extremes), that it rejects malformed lines with EINVAL, and that
 * coro_rusage_diff and coro_rusage_now give sane figures. Truncated and
 * mutated lines are parsed from exactly-sized heap copies so that the ASan
 * build (make asan) catches any read past the terminator.
 *
 * Prints one line per check group; exits 1 on the first failed group.
 */
#include <coro.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Ends a check group: its ok/not ok line, and exit 1 if it failed. */
static void done(const char *what)
{
    OK("%s\n", what);
    if (check_failures)
        exit(check_finish("rusage_format"));
}

static const coro_rusage_t sample = {
    .wall_us = 212916, .utime_us = 66616, .stime_us = 146137,
    .maxrss_kib = 2180, .ixrss = 0, .idrss = 0, .isrss = 0,
    .minflt = 126, .majflt = 0, .nswap = 0, .inblock = 0, .oublock = 0,
    .msgsnd = 0, .msgrcv = 0, .nsignals = 0, .nvcsw = 7, .nivcsw = 8,
};

static const char sample_line[] =
    "0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
    "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 nivcsw:8";

static int same(const coro_rusage_t *a, const coro_rusage_t *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Parses s from a heap copy of exactly strlen(s)+1 bytes. */
static int parse_exact(const char *s, size_t len, coro_rusage_t *out)
{
    char *copy = malloc(len + 1);
    int rc;

    if (copy == NULL) {
        perror("malloc");
        exit(2);
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    rc = coro_rusage_parse(copy, out);
    free(copy);
    return rc;
}

static void check_format(void)
{
    char buf[512];
    int n = coro_rusage_format(&sample, buf, sizeof buf);

    CHECK(n == (int)strlen(sample_line), "length %d", n);
    CHECK(strcmp(buf, sample_line) == 0, "got \"%s\"", buf);

    /* snprintf semantics: the full length is returned whatever the cap. */
    CHECK(coro_rusage_format(&sample, NULL, 0) == n, "cap 0");
    CHECK(coro_rusage_format(&sample, buf, 10) == n, "cap 10");
    CHECK(strlen(buf) == 9 && memcmp(buf, sample_line, 9) == 0, "truncated \"%s\"", buf);

    coro_rusage_t big = sample;
    big.wall_us = 3 * 1000000 + 5;  /* seconds and a small remainder */
    big.utime_us = 1000000;
    coro_rusage_format(&big, buf, sizeof buf);
    CHECK(strncmp(buf, "3 000005|1 000000|0 146137|", 27) == 0, "got \"%s\"", buf);
    done("format writes the coro++ layout, zero-padded microseconds, snprintf semantics");
}

static void check_json(void)
{
    static const char want[] =
        "{\"wall_us\":212916,\"utime_us\":66616,\"stime_us\":146137,\"maxrss_kib\":2180,"
        "\"ixrss\":0,\"idrss\":0,\"isrss\":0,\"minflt\":126,\"majflt\":0,\"nswap\":0,"
        "\"inblock\":0,\"oublock\":0,\"msgsnd\":0,\"msgrcv\":0,\"nsignals\":0,"
        "\"nvcsw\":7,\"nivcsw\":8}";
    char buf[1024];
    int n = coro_rusage_format_json(&sample, buf, sizeof buf);

    CHECK(n == (int)strlen(want), "length %d", n);
    CHECK(strcmp(buf, want) == 0, "got %s", buf);
    CHECK(coro_rusage_format_json(&sample, NULL, 0) == n, "cap 0");
    done("format_json writes one object with the documented keys");
}

static void check_parse_known(void)
{
    coro_rusage_t r;

    memset(&r, 0xff, sizeof r);
    CHECK(coro_rusage_parse(sample_line, &r) == 0, "errno %d", errno);
    CHECK(same(&r, &sample), "padded line");

    /* Unpadded microseconds (other tools print "%ld %ld") parse too. */
    memset(&r, 0xff, sizeof r);
    CHECK(coro_rusage_parse("0 212916|0 66616|0 146137|maxrss:2180 ixrss:0 idrss:0 "
                            "isrss:0 minflt:126 majflt:0 nswap:0 inblock:0 oublock:0 "
                            "msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 nivcsw:8", &r) == 0,
          "errno %d", errno);
    CHECK(same(&r, &sample), "unpadded line");

    /* The line as it arrives from a server, with its terminator. */
    char crlf[600];
    snprintf(crlf, sizeof crlf, "%s\r\n", sample_line);
    CHECK(coro_rusage_parse(crlf, &r) == 0 && same(&r, &sample), "CRLF");
    snprintf(crlf, sizeof crlf, "%s\n", sample_line);
    CHECK(coro_rusage_parse(crlf, &r) == 0 && same(&r, &sample), "LF");

    /* The line from the coro++ README (macOS, maxrss in bytes there). */
    CHECK(coro_rusage_parse("1 772274|0 072406|0 088307|maxrss:4591616 ixrss:0 idrss:0 "
                            "isrss:0 minflt:979 majflt:0 nswap:0 inblock:0 oublock:0 "
                            "msgsnd:10000 msgrcv:10100 nsignals:0 nvcsw:0 nivcsw:219",
                            &r) == 0, "README line");
    CHECK(r.wall_us == 1772274 && r.utime_us == 72406 && r.stime_us == 88307 &&
          r.maxrss_kib == 4591616 && r.minflt == 979 && r.msgsnd == 10000 &&
          r.msgrcv == 10100 && r.nivcsw == 219, "README values");
    done("parse reads padded, unpadded, CRLF/LF-terminated and README lines");
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int64_t interesting(void)
{
    static const int64_t edge[] = {
        0, 1, -1, 999999, 1000000, -999999, -1000000, 1000001,
        INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
    };
    switch (rng() % 4) {
    case 0:
        return edge[rng() % (sizeof edge / sizeof edge[0])];
    case 1:
        return (int64_t)(rng() % 10000);
    case 2:
        return (int64_t)(rng() % 100000000000ull);
    default:
        return (int64_t)rng();
    }
}

static void check_round_trip(void)
{
    char buf[1024];
    int i, trips = 20000;

    for (i = 0; i < trips && !check_failures; i++) {
        coro_rusage_t a, b;
        int64_t *f = (int64_t *)&a;
        size_t k;

        for (k = 0; k < sizeof a / sizeof(int64_t); k++)
            f[k] = interesting();
        int n = coro_rusage_format(&a, buf, sizeof buf);
        CHECK(n > 0 && (size_t)n < sizeof buf, "length %d", n);
        memset(&b, 0, sizeof b);
        CHECK(parse_exact(buf, (size_t)n, &b) == 0, "\"%s\" errno %d", buf, errno);
        CHECK(same(&a, &b), "\"%s\" did not round-trip", buf);
    }
    printf("  %d random structs incl. INT64_MIN/INT64_MAX and negative times\n", i);
    done("format -> parse round-trips every value");
}

static void expect_invalid(const char *line, const char *why)
{
    coro_rusage_t r = sample, before = sample;

    errno = 0;
    int rc = parse_exact(line, strlen(line), &r);
    CHECK(rc == -1 && errno == EINVAL, "%s: accepted \"%s\" (rc %d errno %d)", why, line, rc,
          errno);
    CHECK(same(&r, &before), "%s: output changed on failure", why);
}

static void check_malformed(void)
{
    char buf[1024];
    size_t len = strlen(sample_line), i;

    expect_invalid("", "empty");
    expect_invalid("garbage", "garbage");
    errno = 0;
    CHECK(coro_rusage_parse(NULL, &(coro_rusage_t){0}) == -1 && errno == EINVAL, "NULL line");
    errno = 0;
    CHECK(coro_rusage_parse(sample_line, NULL) == -1 && errno == EINVAL, "NULL out");

    /* Whole-field mistakes. */
    expect_invalid("0 1234567|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8", "usec with 7 digits");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7",
                   "missing nivcsw");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nivcsw:8 "
                   "nvcsw:7", "fields swapped");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8 extra:1", "trailing field");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:9223372036854775808 ixrss:0 idrss:0 isrss:0 "
                   "minflt:126 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 "
                   "nvcsw:7 nivcsw:8", "counter over INT64_MAX");
    expect_invalid("9223372036854 775808|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 "
                   "minflt:126 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 "
                   "nvcsw:7 nivcsw:8", "time over INT64_MAX us");
    expect_invalid("99999999999999999999 0|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 "
                   "minflt:126 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 "
                   "nvcsw:7 nivcsw:8", "seconds over UINT64_MAX");
    expect_invalid("+0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8", "plus sign");
    expect_invalid(" 0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8", "leading space");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8\r", "lone CR");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8\r\n\r\n", "two terminators");
    expect_invalid("0 212916|0 066616|0 146137|maxrss:- ixrss:0 idrss:0 isrss:0 minflt:126 "
                   "majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 "
                   "nivcsw:8", "sign without digits");

    /* Every proper prefix of a line whose last value is one digit is
     * invalid, each parsed from a buffer that ends right at its NUL. */
    for (i = 0; i < len; i++) {
        memcpy(buf, sample_line, i);
        buf[i] = '\0';
        expect_invalid(buf, "prefix");
    }
    printf("  %zu truncated prefixes rejected\n", len);

    /* Each separator or letter replaced by another character is invalid;
     * digits are skipped (a different digit is still a valid line). */
    static const char repl[] = {' ', '|', ':', 'x', '-', '\t', '\r', '\n', '\x80', '0'};
    int mutated = 0;
    for (i = 0; i < len; i++) {
        size_t j;
        if (sample_line[i] >= '0' && sample_line[i] <= '9')
            continue;
        for (j = 0; j < sizeof repl; j++) {
            if (repl[j] == sample_line[i])
                continue;
            memcpy(buf, sample_line, len + 1);
            buf[i] = repl[j];
            expect_invalid(buf, "mutated separator");
            mutated++;
        }
    }
    printf("  %d single-character mutations of separators/names rejected\n", mutated);
    done("parse rejects malformed lines with EINVAL and leaves the output alone");
}

/* Random bytes and random splices must never crash the parser; whatever it
 * accepts must re-format to a line that parses to the same values. */
static void check_fuzz(void)
{
    char buf[700], again[1024];
    int i, accepted = 0, rounds = 50000;
    size_t len = strlen(sample_line);

    for (i = 0; i < rounds && !check_failures; i++) {
        coro_rusage_t r, r2;
        size_t n, k, edits;

        memcpy(buf, sample_line, len + 1);
        n = len;
        edits = 1 + rng() % 4;
        for (k = 0; k < edits; k++) {
            size_t at = rng() % (n + 1);
            switch (rng() % 3) {
            case 0: /* overwrite */
                if (at < n)
                    buf[at] = (char)(rng() % 256 ?: 1);
                break;
            case 1: /* truncate */
                n = at;
                buf[n] = '\0';
                break;
            default: /* insert a digit, sign or space */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at + 1);
                    buf[at] = "0123456789- |:"[rng() % 14];
                    n++;
                }
                break;
            }
        }
        if (parse_exact(buf, n, &r) == 0) {
            accepted++;
            coro_rusage_format(&r, again, sizeof again);
            CHECK(coro_rusage_parse(again, &r2) == 0 && same(&r, &r2), "\"%s\" -> \"%s\"", buf,
                  again);
        }
    }
    printf("  %d mutated lines parsed without fault, %d accepted and re-checked\n", i, accepted);
    done("parse survives random mutations");
}

static void check_diff(void)
{
    coro_rusage_t before = {
        .wall_us = 1000000, .utime_us = 500, .stime_us = 700, .maxrss_kib = 1000,
        .ixrss = 1, .idrss = 2, .isrss = 3, .minflt = 10, .majflt = 1, .nswap = 0,
        .inblock = 4, .oublock = 5, .msgsnd = 6, .msgrcv = 7, .nsignals = 1,
        .nvcsw = 20, .nivcsw = 30,
    };
    coro_rusage_t after = {
        .wall_us = 3500000, .utime_us = 1500, .stime_us = 900, .maxrss_kib = 1800,
        .ixrss = 1, .idrss = 4, .isrss = 6, .minflt = 110, .majflt = 3, .nswap = 0,
        .inblock = 8, .oublock = 15, .msgsnd = 16, .msgrcv = 27, .nsignals = 2,
        .nvcsw = 25, .nivcsw = 31,
    };
    coro_rusage_t d;

    coro_rusage_diff(&before, &after, &d);
    CHECK(d.wall_us == 2500000 && d.utime_us == 1000 && d.stime_us == 200, "times");
    CHECK(d.maxrss_kib == 1800, "maxrss is taken from after: %" PRId64, d.maxrss_kib);
    CHECK(d.ixrss == 0 && d.idrss == 2 && d.isrss == 3, "integrals");
    CHECK(d.minflt == 100 && d.majflt == 2 && d.nswap == 0 && d.inblock == 4 &&
          d.oublock == 10 && d.msgsnd == 10 && d.msgrcv == 20 && d.nsignals == 1 &&
          d.nvcsw == 5 && d.nivcsw == 1, "counters");

    /* out may alias an input. */
    coro_rusage_t alias = after;
    coro_rusage_diff(&before, &alias, &alias);
    CHECK(same(&alias, &d), "out aliasing after");

    char line[512];
    coro_rusage_format(&d, line, sizeof line);
    CHECK(strcmp(line, "2 500000|0 001000|0 000200|maxrss:1800 ixrss:0 idrss:2 isrss:3 "
                       "minflt:100 majflt:2 nswap:0 inblock:4 oublock:10 msgsnd:10 msgrcv:20 "
                       "nsignals:1 nvcsw:5 nivcsw:1") == 0, "got \"%s\"", line);
    done("diff subtracts field by field, keeps maxrss from after, allows aliasing");
}

static void check_now(void)
{
    coro_rusage_t a, b, d;
    volatile uint64_t sink = 0;
    char line[512];
    uint64_t i;

    CHECK(coro_rusage_now(&a) == 0, "errno %d", errno);
    /* Burn a little CPU so user time and the wall clock move. */
    for (i = 0; i < 50000000; i++)
        sink += i;
    CHECK(coro_rusage_now(&b) == 0, "errno %d", errno);
    coro_rusage_diff(&a, &b, &d);
    CHECK(a.maxrss_kib > 0, "maxrss %" PRId64, a.maxrss_kib);
    CHECK(d.wall_us > 0, "wall %" PRId64, d.wall_us);
    CHECK(d.utime_us >= 0 && d.stime_us >= 0, "cpu %" PRId64 " %" PRId64, d.utime_us,
          d.stime_us);
    CHECK(d.utime_us + d.stime_us <= d.wall_us + 20000,
          "one thread cannot use more CPU than wall time (+ tick slack)");
    errno = 0;
    CHECK(coro_rusage_now(NULL) == -1 && errno == EINVAL, "NULL");
    coro_rusage_format(&d, line, sizeof line);
    printf("  busy loop: %s\n", line);
    done("now takes snapshots whose diff is plausible");
}

int main(void)
{
    check_format();
    check_json();
    check_parse_known();
    check_round_trip();
    check_malformed();
    check_fuzz();
    check_diff();
    check_now();
    return check_finish("rusage_format");
}
