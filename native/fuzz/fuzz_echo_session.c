/*
 * fuzz_echo_session - libFuzzer target for the echo protocol as a whole: a
 * server session fed random bytes in random chunks over a socketpair, with a
 * client that writes and reads at the same time (as echo_client does).
 *
 * The session below follows native/demos/echo_server.c's session() line for
 * line (that logic is not yet factored out of the program into demos/lib;
 * once it is, this target should call it instead of its copy here). It
 * runs on the real core: stream, line reader, fd waits, deadlines, rusage.
 *
 * Property: the bytes the client receives are exactly what a naive model of
 * the protocol predicts from the input:
 *   - each complete line (LF-terminated, CRLF or not) that is not a command
 *     is echoed byte for byte;
 *   - "!quit" ends the session; "!bench" is answered with one line that
 *     coro_rusage_parse accepts; "!bench json" with one {...} line;
 *     "!shutdown" is refused with "-ERR shutdown refused" (a socketpair peer
 *     is not loopback) unless the header allows it, then it ends the session;
 *   - a line longer than the limit (terminator included) gets
 *     "-ERR line too long" and ends the session;
 *   - a partial last line is dropped at EOF;
 * and the session always ends (no coroutine is left waiting).
 *
 * Input layout (the header is consumed; the rest is what the client sends):
 *   byte 0     line limit: 0..199 -> 3..202 bytes, 200..255 -> 64 KiB
 *   byte 1     bit 0: accept !shutdown from this peer (echo_server -R)
 *   bytes 2-9  chunk schedule of the client's writer (each chunk 1..256 bytes)
 */
#include "fuzz_support.h"

#define HEADER 10
#define DRAIN_DEADLINE_MS 1000
#define DRAIN_MAX_BYTES (1024 * 1024)

static const char ERR_TOO_LONG[] = "-ERR line too long\r\n";
static const char ERR_REFUSED[] = "-ERR shutdown refused\r\n";

/* ------------------------------------------------------------------------ */
/* The session (a copy of echo_server.c's, see the header comment)          */

static struct {
    int64_t max_line;
    bool allow_remote_shutdown;
    bool shutdown_requested;
    coro_rusage_t started;
} server;

static char discard_buf[16 * 1024];

static __attribute__((noinline)) int reply_bench(coro_stream_t *s, bool json)
{
    char buf[1024];
    coro_rusage_t now, diff;
    coro_stats_t st;
    if (coro_rusage_now(&now) < 0 || coro_get_stats(&st) < 0)
        return -1;
    coro_rusage_diff(&server.started, &now, &diff);
    int n = json ? coro_rusage_format_json(&diff, buf, sizeof buf)
                 : coro_rusage_format(&diff, buf, sizeof buf);
    if (n < 2 || (size_t)n >= sizeof buf - 80)
        return -1;
    if (json) {
        n--;
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"read_block\":%lld,\"write_block\":%lld}",
                      (long long)st.read_blocks, (long long)st.write_blocks);
    }
    buf[n++] = '\r';
    buf[n++] = '\n';
    return coro_stream_write_all(s, buf, n) < 0 ? -1 : 0;
}

static __attribute__((noinline)) void close_draining(coro_stream_t *s)
{
    coro_stream_shutdown(s);
    if (coro_deadline_push(DRAIN_DEADLINE_MS) == 0) {
        int64_t drained = 0, n;
        while (drained < DRAIN_MAX_BYTES &&
               (n = coro_stream_read(s, discard_buf, sizeof discard_buf)) > 0)
            drained += n;
        coro_deadline_pop();
    }
    coro_stream_close(s);
}

enum verdict { KEEP_GOING, END_SESSION };

static bool line_is(const char *line, int64_t len, const char *cmd, size_t cmd_len)
{
    if (len >= 2 && line[len - 2] == '\r')
        len -= 2;
    else
        len -= 1;
    return (size_t)len == cmd_len && memcmp(line, cmd, cmd_len) == 0;
}
#define LINE_IS(line, len, lit) line_is(line, len, lit, sizeof lit - 1)

static __attribute__((noinline)) enum verdict handle_command(coro_stream_t *s, const char *line,
                                                             int64_t len)
{
    if (LINE_IS(line, len, "!quit"))
        return END_SESSION;
    if (LINE_IS(line, len, "!bench"))
        return reply_bench(s, false) < 0 ? END_SESSION : KEEP_GOING;
    if (LINE_IS(line, len, "!bench json"))
        return reply_bench(s, true) < 0 ? END_SESSION : KEEP_GOING;
    if (LINE_IS(line, len, "!shutdown")) {
        if (server.allow_remote_shutdown || coro_peer_is_loopback(coro_stream_fd(s)) == 1) {
            server.shutdown_requested = true;
            return END_SESSION;
        }
        return coro_stream_write_all(s, ERR_REFUSED, sizeof ERR_REFUSED - 1) < 0 ? END_SESSION
                                                                                : KEEP_GOING;
    }
    return coro_stream_write_all(s, line, len) < 0 ? END_SESSION : KEEP_GOING;
}

static void session(void *arg)
{
    int fd = (int)(intptr_t)arg;
    coro_stream_t *s = coro_stream_open(fd, server.max_line);
    if (!s) {
        coro_close(fd);
        return;
    }
    for (;;) {
        const char *line;
        int64_t len = coro_stream_read_line(s, &line, '\n');
        if (__builtin_expect(len > 0, 1)) {
            if (line[0] != '!') {
                if (coro_stream_write_all(s, line, len) < 0)
                    break;
                continue;
            }
            if (handle_command(s, line, len) == END_SESSION)
                break;
            continue;
        }
        if (len < 0 && errno == EMSGSIZE) {
            coro_stream_write_all(s, ERR_TOO_LONG, sizeof ERR_TOO_LONG - 1);
            close_draining(s);
            return;
        }
        break;
    }
    coro_stream_close(s);
}

/* ------------------------------------------------------------------------ */
/* The client's reader and the model                                         */

static fuzz_writer_t writer;

static struct {
    int fd;
    char *buf;
    size_t len, cap;
    int error;
} got;

static void client_reader(void *arg)
{
    (void)arg;
    for (;;) {
        if (got.cap - got.len < 4096) {
            size_t cap = got.cap ? got.cap * 2 : 8192;
            char *b = realloc(got.buf, cap);
            if (!b)
                fuzz_fail("out of memory");
            got.buf = b;
            got.cap = cap;
        }
        int64_t n = coro_read(got.fd, got.buf + got.len, (int64_t)(got.cap - got.len));
        if (n > 0) {
            got.len += (size_t)n;
            continue;
        }
        /* A unix socket closed with input unread reports ECONNRESET after
         * the data that was sent: it is an end like EOF here. */
        if (n < 0)
            got.error = errno;
        break;
    }
    coro_close(got.fd);
}

/* Matches one reply line of the expected shape at *pos of the output. */
static void expect_bytes(size_t *pos, const void *want, size_t n, const char *what)
{
    if (got.len - *pos < n || memcmp(got.buf + *pos, want, n) != 0)
        fuzz_fail("output at %zu: want %s (%zu bytes), have %zu bytes left", *pos, what, n,
                  got.len - *pos);
    *pos += n;
}

static void expect_bench(size_t *pos, bool json)
{
    const char *start = got.buf + *pos;
    const char *eol = memchr(start, '\n', got.len - *pos);
    if (!eol || eol == start || eol[-1] != '\r')
        fuzz_fail("output at %zu: want a CRLF-terminated !bench reply", *pos);
    size_t n = (size_t)(eol + 1 - start);
    char line[1100];
    if (n >= sizeof line)
        fuzz_fail("!bench reply of %zu bytes", n);
    memcpy(line, start, n);
    line[n] = '\0';
    if (json) {
        if (line[0] != '{' || line[n - 3] != '}' || !strstr(line, "\"nivcsw\":") ||
            !strstr(line, "\"write_block\":"))
            fuzz_fail("!bench json reply is not the expected object: %s", line);
    } else {
        coro_rusage_t r;
        if (coro_rusage_parse(line, &r) != 0)
            fuzz_fail("!bench reply does not parse: %s", line);
    }
    *pos += n;
}

/* Walks the input as the protocol says and checks the output against it. */
static void check_output(const uint8_t *in, size_t in_len)
{
    size_t ip = 0, op = 0;
    for (;;) {
        const uint8_t *nl = memchr(in + ip, '\n', in_len - ip);
        size_t line_len = nl ? (size_t)(nl + 1 - (in + ip)) : in_len - ip;
        if ((int64_t)line_len > server.max_line ||
            (!nl && (int64_t)line_len >= server.max_line)) {
            expect_bytes(&op, ERR_TOO_LONG, sizeof ERR_TOO_LONG - 1, "-ERR line too long");
            break;
        }
        if (!nl)
            break; /* EOF: a partial line is dropped */
        const char *line = (const char *)in + ip;
        int64_t len = (int64_t)line_len;
        ip += line_len;
        if (line[0] == '!') {
            if (LINE_IS(line, len, "!quit"))
                break;
            if (LINE_IS(line, len, "!bench")) {
                expect_bench(&op, false);
                continue;
            }
            if (LINE_IS(line, len, "!bench json")) {
                expect_bench(&op, true);
                continue;
            }
            if (LINE_IS(line, len, "!shutdown")) {
                if (server.allow_remote_shutdown) {
                    if (!server.shutdown_requested)
                        fuzz_fail("!shutdown from an allowed peer was not taken");
                    break;
                }
                expect_bytes(&op, ERR_REFUSED, sizeof ERR_REFUSED - 1, "-ERR shutdown refused");
                continue;
            }
        }
        expect_bytes(&op, line, line_len, "the echo of a line");
    }
    if (op != got.len)
        fuzz_fail("%zu unexpected bytes after the expected output", got.len - op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    fuzz_runtime();

    memset(&server, 0, sizeof server);
    server.max_line = data[0] < 200 ? 3 + data[0] : 64 * 1024;
    server.allow_remote_shutdown = data[1] & 1;
    coro_rusage_now(&server.started);

    int fds[2];
    fuzz_socketpair(fds);
    got.fd = fds[1];
    got.len = 0;
    got.error = 0;

    memset(&writer, 0, sizeof writer);
    writer.fd = fds[1];
    writer.data = data + HEADER;
    writer.len = size - HEADER;
    memcpy(writer.schedule, data + 2, 8);
    writer.close_when_done = false; /* half-close: the reader still reads */

    if (!coro_spawn(session, (void *)(intptr_t)fds[0]) || !coro_spawn(client_reader, NULL) ||
        !coro_spawn(fuzz_writer_fn, &writer))
        fuzz_fail("coro_spawn failed");
    fuzz_run();
    if (got.error && got.error != ECONNRESET)
        fuzz_fail("client read failed with errno %d", got.error);
    check_output(data + HEADER, size - HEADER);
    return 0;
}
