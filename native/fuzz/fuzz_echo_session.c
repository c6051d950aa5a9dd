/*
 * fuzz_echo_session - libFuzzer target for the echo protocol as a whole: a
 * server session fed random bytes in random chunks over a socketpair, with a
 * client that writes and reads at the same time (as echo_client does).
 *
 * The session is echo_server's own (native/demos/lib/echo_session.c, test
 * hooks off), on the real core: stream, line reader, fd waits, deadlines,
 * rusage.
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
/* fuzz-requires: demos/lib/echo_session.c */
#include "fuzz_support.h"

#include "../demos/lib/echo_session.h"

#define HEADER 10

/* The replies the protocol prescribes (docs/programs.md), spelled out here
 * rather than taken from the server: the model is written from the
 * contract, not from the code under test. */
static const char ERR_TOO_LONG[] = "-ERR line too long\r\n";
static const char ERR_REFUSED[] = "-ERR shutdown refused\r\n";

/* ------------------------------------------------------------------------ */
/* The server side                                                           */

/* What this input configured, and whether the session asked for a stop. */
static struct {
    int64_t max_line;
    bool allow_remote_shutdown;
    bool shutdown_requested;
} server;

/* The session's stop callback: echo_server stops its loop here; we only
 * record that an accepted !shutdown got this far. */
static void on_stop(void)
{
    server.shutdown_requested = true;
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

/* Whether a complete line (it ends in LF) is the command cmd: cmd followed
 * by LF or by CRLF, nothing else. */
static bool is_command(const char *line, size_t len, const char *cmd)
{
    size_t n = strlen(cmd);
    return len >= n + 1 && memcmp(line, cmd, n) == 0 &&
           (len == n + 1 || (len == n + 2 && line[n] == '\r'));
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
        ip += line_len;
        if (line[0] == '!') {
            if (is_command(line, line_len, "!quit"))
                break;
            if (is_command(line, line_len, "!bench")) {
                expect_bench(&op, false);
                continue;
            }
            if (is_command(line, line_len, "!bench json")) {
                expect_bench(&op, true);
                continue;
            }
            if (is_command(line, line_len, "!shutdown")) {
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
    echo_session_config_t config = {
        .max_line = server.max_line,
        .allow_remote_shutdown = server.allow_remote_shutdown,
        .stop = on_stop,
    };
    coro_rusage_now(&config.started);
    echo_session_configure(&config);

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

    if (!coro_spawn(echo_session, (void *)(intptr_t)fds[0]) || !coro_spawn(client_reader, NULL) ||
        !coro_spawn(fuzz_writer_fn, &writer))
        fuzz_fail("coro_spawn failed");
    fuzz_run();
    if (got.error && got.error != ECONNRESET)
        fuzz_fail("client read failed with errno %d", got.error);
    check_output(data + HEADER, size - HEADER);
    return 0;
}
