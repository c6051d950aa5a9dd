/* fuzz_regress_line_reader: inputs found by native/fuzz/fuzz_line_reader,
 * replayed through the same target with its property checks, plus the bug
 * they exposed restated through the public API.
 *
 * The bug: coro_stream_open allocated its first read buffer at 1 KiB even
 * when the line limit was smaller, so a single read could bring a whole
 * over-long line with its delimiter and coro_stream_read_line returned it
 * instead of failing with EMSGSIZE (echo_server -L 3 echoed 1000-byte
 * lines). Found by this fuzzer and, at the same time, by test_cpp_layer;
 * fixed in stream.c (commit "stream: enforce max_line_bytes when the whole
 * line arrives at once") by checking the length of a found line too. */
#include "../fuzz/fuzz_line_reader.c"
#include "../fuzz/fuzz_replay.h"

/* limit 1 (byte 0), delimiter '\n', no raw reads, then the 3-byte line
 * "`\0\n" sent in one chunk: was returned whole instead of EMSGSIZE. */
static const uint8_t crash_limit_below_first_buffer[] = {
    0x00, 0x0a, 0x00, 0xfc, 0xfb, 0x1d, 0x0c, 0x00, 0x52, 0x21, 0x00, 0x60, 0x00, 0x0a,
};

/* The same through the API: a 10-byte limit, a 21-byte line in one write. */
static int api_failures;
static void api_reader(void *arg)
{
    int *fds = arg;
    coro_stream_t *s = coro_stream_open(fds[0], 10);
    const char *line;
    int64_t n = coro_stream_read_line(s, &line, '\n');
    if (n != -1 || errno != EMSGSIZE) {
        fprintf(stderr, "FAIL: 21-byte line with a 10-byte limit: got %lld, errno %d\n",
                (long long)n, errno);
        api_failures++;
    }
    coro_stream_close(s);
}

static void api_reader_exact(void *arg)
{
    int *fds = arg;
    coro_stream_t *s = coro_stream_open(fds[0], 10);
    const char *line;
    int64_t n = coro_stream_read_line(s, &line, '\n');
    if (n != 10 || memcmp(line, "123456789\n", 10) != 0) {
        fprintf(stderr, "FAIL: 10-byte line with a 10-byte limit: got %lld\n", (long long)n);
        api_failures++;
    }
    coro_stream_close(s);
}

static void api_case(coro_fn reader, const char *payload)
{
    static int fds[2];
    fuzz_socketpair(fds);
    if (write(fds[1], payload, strlen(payload)) != (ssize_t)strlen(payload)) {
        perror("write");
        exit(2);
    }
    close(fds[1]);
    coro_spawn(reader, fds);
    fuzz_run();
}

int main(void)
{
    fuzz_replay("fuzz_line_reader crash: limit 1, over-long line in one read -> EMSGSIZE",
                crash_limit_below_first_buffer, sizeof crash_limit_below_first_buffer);
    api_case(api_reader, "12345678901234567890\n");
    api_case(api_reader_exact, "123456789\n");
    if (api_failures) {
        printf("not ok: line limit below the first buffer size\n");
        return 1;
    }
    printf("ok: a 10-byte limit refuses a 21-byte line read at once, accepts a 10-byte one\n");
    coro_runtime_destroy();
    return 0;
}
