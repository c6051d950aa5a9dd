/*
 * fuzz_rusage_parse - libFuzzer target for the coro++ bench line parser
 * (the answer to `!bench`, read back by echo_client and the CLI).
 *
 * Properties:
 *  - coro_rusage_parse never reads past the terminator of its input (the
 *    input is parsed from a heap copy of exactly its size plus the NUL, so
 *    ASan sees any over-read), never crashes, and on failure returns -1 with
 *    EINVAL and leaves *out untouched;
 *  - every line it accepts survives a round trip: format(parse(line))
 *    parses again to the same values;
 *  - independently, the first sizeof(coro_rusage_t) bytes of the input taken
 *    as a struct of arbitrary int64 values survive format -> parse.
 * Neither the line nor the struct needs a header: the input is both.
 */
#include <coro.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((noreturn)) fail(const char *what, const char *line)
{
    fprintf(stderr, "fuzz: property violated: %s\n  line: \"%s\"\n", what, line ? line : "");
    abort();
}

static void round_trip(const coro_rusage_t *r, const char *origin)
{
    char buf[1024];
    int n = coro_rusage_format(r, buf, sizeof buf);
    if (n <= 0 || (size_t)n >= sizeof buf)
        fail("format returned a length out of range", origin);
    if ((size_t)n != strlen(buf))
        fail("format's return value differs from the length written", buf);
    coro_rusage_t back;
    if (coro_rusage_parse(buf, &back) != 0)
        fail("parse rejected a line that format wrote", buf);
    if (memcmp(&back, r, sizeof back) != 0)
        fail("parse(format(x)) != x", buf);
    /* The JSON form must fit the same bound and report its length. */
    char json[1024];
    int j = coro_rusage_format_json(r, json, sizeof json);
    if (j <= 0 || (size_t)j >= sizeof json || (size_t)j != strlen(json))
        fail("format_json length out of range", buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';

    coro_rusage_t r, untouched;
    memset(&r, 0xa5, sizeof r);
    untouched = r;
    errno = 0;
    int rc = coro_rusage_parse(line, &r);
    if (rc == 0) {
        round_trip(&r, line);
    } else {
        if (rc != -1 || errno != EINVAL)
            fail("a rejected line must give -1/EINVAL", line);
        if (memcmp(&r, &untouched, sizeof r) != 0)
            fail("a rejected line changed the output", line);
    }
    free(line);

    if (size >= sizeof(coro_rusage_t)) {
        coro_rusage_t x;
        memcpy(&x, data, sizeof x);
        round_trip(&x, "(struct from the input's first bytes)");
    }
    return 0;
}
