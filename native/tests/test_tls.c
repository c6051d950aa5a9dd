/* test_tls: TLS streams over loopback TCP, server and client coroutines in
 * one process, on every backend of this build:
 *   - handshake, a greeting, 1,000 echoed lines one at a time, 200 pipelined
 *     lines, a 100 KB line through 4 KiB send buffers (must suspend in
 *     writes), close_notify seen as a clean EOF on both sides;
 *   - a client that sends plain text instead of a ClientHello, one that
 *     closes before sending anything and one that drops in the middle of a
 *     ClientHello: the server's coro_stream_open_tls fails with EPROTO;
 *   - a silent client: the server's handshake ends with ETIMEDOUT at its
 *     deadline;
 *   - writing to a peer that closed without close_notify: -1 with EPIPE or
 *     ECONNRESET, no SIGPIPE;
 *   - and a normal session afterwards still works.
 * The certificate is the build's tls/cert.pem (next to tests/), or one made
 * now with the openssl command in a temporary folder. */
#include "coro.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../demos/lib/demo_proc.h"
#include "check.h"
#include "each_backend.h"

#define LINES 1000
#define PIPELINED 200
#define BIG_BYTES (100 * 1024)
#define MAX_LINE (256 * 1024)
#define TEST_DEADLINE_MS 20000

enum scenario {
    SC_ECHO,          /* the full session */
    SC_GARBAGE,       /* plain text instead of a ClientHello */
    SC_CLOSE_EARLY,   /* connect, close */
    SC_CLOSE_MID,     /* half a ClientHello record, close */
    SC_SILENT,        /* connect, send nothing: server deadline */
    SC_PEER_GONE,     /* client closes right after the handshake */
};

static const char *scenario_name[] = {
    "echo session", "garbage instead of ClientHello", "close before ClientHello",
    "close in the middle of a ClientHello", "silent client", "peer gone while writing",
};

/* Shared between the two coroutines: static storage, never their stacks. */
static struct {
    const char *backend;
    enum scenario sc;
    coro_tls_ctx_t *server_ctx, *client_ctx;
    int listen_fd, port;
    char *big;                   /* BIG_BYTES payload ending in '\n' */
    int server_errno;            /* errno of a failed server handshake */
    int server_done, client_done;
    int64_t write_blocks_before;
} T;

/* A small send buffer, so a 100 KB write has to wait for the socket to
 * drain. (A small receive buffer as well would make loopback TCP stall for
 * 200 ms at a time on zero-window probes.) */
static void small_buffers(int fd)
{
    int bytes = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

static int expect_line(coro_stream_t *s, const char *want, size_t len, const char *what)
{
    const char *line;
    int64_t n = coro_stream_read_line(s, &line, '\n');
    if (n != (int64_t)len || memcmp(line, want, len) != 0) {
        CHECK(0, "%s: %s: got %lld bytes (errno %d), want %zu", T.backend, what, (long long)n,
              n < 0 ? errno : 0, len);
        return -1;
    }
    return 0;
}

/* Echoes every line until "bye\n", then answers "bye\n" and closes with
 * close_notify. */
static void serve_echo(coro_stream_t *s)
{
    static const char hello[] = "hello from the server\n";
    CHECK(coro_stream_write_all(s, hello, sizeof hello - 1) == sizeof hello - 1,
          "%s: greeting: errno %d", T.backend, errno);
    for (;;) {
        const char *line;
        int64_t n = coro_stream_read_line(s, &line, '\n');
        if (n <= 0) {
            CHECK(0, "%s: server read: %lld errno %d", T.backend, (long long)n, errno);
            return;
        }
        if (n == 4 && memcmp(line, "bye\n", 4) == 0)
            break;
        if (coro_stream_write_all(s, line, n) != n) {
            CHECK(0, "%s: server write: errno %d", T.backend, errno);
            return;
        }
    }
    CHECK(coro_stream_write_all(s, "bye\n", 4) == 4, "%s: bye", T.backend);
    CHECK(coro_stream_shutdown(s) == 0, "%s: server shutdown: errno %d", T.backend, errno);
    char c;
    int64_t n = coro_stream_read(s, &c, 1);
    CHECK(n == 0, "%s: server expected a clean EOF, got %lld errno %d", T.backend,
          (long long)n, errno);
    T.server_done = 1;
}

static void serve_peer_gone(coro_stream_t *s)
{
    /* The client closes without close_notify and without reading: write
     * until the kernel says the peer is gone. A SIGPIPE would kill the test
     * here. */
    int64_t w = 0;
    for (int i = 0; i < 100 && w >= 0; i++)
        w = coro_stream_write_all(s, T.big, BIG_BYTES);
    CHECK(w < 0 && (errno == EPIPE || errno == ECONNRESET),
          "%s: writing to a gone peer: %lld errno %d", T.backend, (long long)w, errno);
    T.server_done = 1;
}

static void server_fn(void *arg)
{
    (void)arg;
    coro_deadline_push(TEST_DEADLINE_MS);
    int fd = coro_accept(T.listen_fd);
    if (fd < 0) {
        CHECK(0, "%s: accept: errno %d", T.backend, errno);
        return;
    }
    small_buffers(fd);
    int short_deadline = T.sc == SC_SILENT;
    if (short_deadline)
        coro_deadline_push(200);
    coro_stream_t *s = coro_stream_open_tls(fd, MAX_LINE, T.server_ctx, 1);
    T.server_errno = s ? 0 : errno;
    if (short_deadline)
        coro_deadline_pop();
    if (!s) {
        T.server_done = 1;
        return;
    }
    if (T.sc == SC_ECHO)
        serve_echo(s);
    else if (T.sc == SC_PEER_GONE)
        serve_peer_gone(s);
    coro_stream_close(s);
}

static void client_echo(coro_stream_t *s)
{
    static const char hello[] = "hello from the server\n";
    if (expect_line(s, hello, sizeof hello - 1, "greeting") < 0)
        return;
    char *line = malloc(256);
    for (int i = 0; i < LINES; i++) {
        int len = snprintf(line, 256, "line %d %.*s\n", i, i % 150,
                           "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
                           "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"
                           "qrstuvwxyz0123456789");
        if (coro_stream_write_all(s, line, len) != len || expect_line(s, line, len, "echo") < 0) {
            CHECK(0, "%s: line %d failed", T.backend, i);
            free(line);
            return;
        }
    }
    /* Pipelined: many records in flight, read back from OpenSSL's buffer. */
    char *batch = malloc(PIPELINED * 32);
    int blen = 0;
    for (int i = 0; i < PIPELINED; i++)
        blen += snprintf(batch + blen, 32, "pipelined %d\n", i);
    CHECK(coro_stream_write_all(s, batch, blen) == blen, "%s: batch write", T.backend);
    for (int i = 0; i < PIPELINED; i++) {
        int len = snprintf(line, 256, "pipelined %d\n", i);
        if (expect_line(s, line, len, "pipelined") < 0)
            break;
    }
    free(batch);
    free(line);
    /* 100 KB through 4 KiB send buffers: the writes must suspend. */
    coro_stats_t st;
    coro_get_stats(&st);
    T.write_blocks_before = st.write_blocks;
    CHECK(coro_stream_write_all(s, T.big, BIG_BYTES) == BIG_BYTES, "%s: big write: errno %d",
          T.backend, errno);
    expect_line(s, T.big, BIG_BYTES, "100 KB echo");
    coro_get_stats(&st);
    CHECK(st.write_blocks > T.write_blocks_before,
          "%s: the 100 KB echo never waited for writability", T.backend);
    CHECK(coro_stream_write_all(s, "bye\n", 4) == 4, "%s: client bye", T.backend);
    if (expect_line(s, "bye\n", 4, "bye") < 0)
        return;
    const char *l;
    int64_t n = coro_stream_read_line(s, &l, '\n');
    CHECK(n == 0, "%s: client expected close_notify as EOF, got %lld errno %d", T.backend,
          (long long)n, errno);
    CHECK(coro_stream_shutdown(s) == 0, "%s: client shutdown: errno %d", T.backend, errno);
    T.client_done = 1;
}

static void client_fn(void *arg)
{
    (void)arg;
    coro_deadline_push(TEST_DEADLINE_MS);
    int fd = coro_tcp_connect("127.0.0.1", T.port);
    if (fd < 0) {
        CHECK(0, "%s: connect: errno %d", T.backend, errno);
        return;
    }
    small_buffers(fd);
    switch (T.sc) {
    case SC_ECHO:
    case SC_PEER_GONE: {
        coro_stream_t *s = coro_stream_open_tls(fd, MAX_LINE, T.client_ctx, 0);
        if (!s) {
            CHECK(0, "%s: client handshake: errno %d", T.backend, errno);
            return;
        }
        if (T.sc == SC_ECHO)
            client_echo(s);
        else
            T.client_done = 1;
        coro_stream_close(s); /* PEER_GONE: no close_notify, on purpose */
        return;
    }
    case SC_GARBAGE: {
        static const char get[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
        CHECK(coro_write_all(fd, get, sizeof get - 1) == sizeof get - 1, "garbage write");
        char buf[256];
        while (coro_read(fd, buf, sizeof buf) > 0)
            ; /* whatever alert the server sends, until it closes */
        break;
    }
    case SC_CLOSE_EARLY:
        break;
    case SC_CLOSE_MID: {
        /* A handshake record header announcing 512 bytes, then 11 of them. */
        static const unsigned char part[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
                                             0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0, 0};
        CHECK(coro_write_all(fd, part, sizeof part) == sizeof part, "partial hello write");
        break;
    }
    case SC_SILENT: {
        char c;
        coro_read(fd, &c, 1); /* until the server gives up and closes */
        break;
    }
    }
    T.client_done = 1;
    coro_close(fd);
}

static void run_scenario(enum scenario sc, int want_errno)
{
    T.sc = sc;
    T.server_done = T.client_done = 0;
    T.server_errno = -1;
    coro_spawn(server_fn, NULL);
    coro_spawn(client_fn, NULL);
    int64_t left = coro_run();
    CHECK(left == 0, "%s: %s: %lld coroutines left", T.backend, scenario_name[sc],
          (long long)left);
    CHECK(T.server_done && T.client_done, "%s: %s: server done %d, client done %d", T.backend,
          scenario_name[sc], T.server_done, T.client_done);
    CHECK(T.server_errno == want_errno, "%s: %s: server handshake errno %d (%s), want %d",
          T.backend, scenario_name[sc], T.server_errno,
          T.server_errno > 0 ? strerror(T.server_errno) : "-", want_errno);
    OK("%s: %s%s%s\n", T.backend, scenario_name[sc], want_errno ? " -> handshake fails with " : "",
       want_errno ? strerror(want_errno) : "");
}

/* Set when find_cert made a temporary pair (removed at exit). */
static char tmp_dir[] = "/tmp/test_tls.XXXXXX";
static int made_tmp_dir;

/* Finds build/tls/{cert,key}.pem from build/tests/test_tls, or makes a pair
 * in a temporary folder. 0 or -1. */
static int find_cert(char *cert, char *key, size_t cap)
{
    if (demo_exe_relative("../tls/cert.pem", cert, cap) == 0 &&
        demo_exe_relative("../tls/key.pem", key, cap) == 0 && access(cert, R_OK) == 0 &&
        access(key, R_OK) == 0)
        return 0;
    if (!mkdtemp(tmp_dir))
        return -1;
    made_tmp_dir = 1;
    snprintf(cert, cap, "%s/cert.pem", tmp_dir);
    snprintf(key, cap, "%s/key.pem", tmp_dir);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 1 -subj /CN=localhost 2>/dev/null",
             key, cert);
    fprintf(stderr, "test_tls: no build certificate, generating one in %s\n", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    char cert[PATH_MAX], key[PATH_MAX];
    if (find_cert(cert, key, sizeof cert) < 0) {
        fprintf(stderr, "FAIL: no certificate and openssl req failed\n");
        return 1;
    }
    OK("TLS library: %s\n", coro_tls_library());

    /* Contexts do not need a runtime; a bad path is EINVAL, not a crash. */
    errno = 0;
    CHECK(coro_tls_server_ctx("/nonexistent/cert.pem", key) == NULL && errno == EINVAL,
          "bad certificate path: errno %d", errno);
    T.server_ctx = coro_tls_server_ctx(cert, key);
    T.client_ctx = coro_tls_client_ctx();
    if (!T.server_ctx || !T.client_ctx) {
        fprintf(stderr, "FAIL: cannot create TLS contexts\n");
        return 1;
    }
    T.big = malloc(BIG_BYTES);
    for (int i = 0; i < BIG_BYTES - 1; i++)
        T.big[i] = (char)('a' + (i * 7) % 26);
    T.big[BIG_BYTES - 1] = '\n';

    FOR_EACH_BACKEND(b) {
        T.backend = b;
        if (coro_runtime_init(0, b) < 0) {
            CHECK(0, "init %s: errno %d", b, errno);
            continue;
        }
        T.listen_fd = coro_tcp_listen("127.0.0.1", 0, 16);
        T.port = coro_socket_port(T.listen_fd);
        CHECK(T.listen_fd >= 0 && T.port > 0, "%s: listen", b);
        run_scenario(SC_ECHO, 0);
        run_scenario(SC_GARBAGE, EPROTO);
        run_scenario(SC_CLOSE_EARLY, EPROTO);
        run_scenario(SC_CLOSE_MID, EPROTO);
        run_scenario(SC_SILENT, ETIMEDOUT);
        run_scenario(SC_PEER_GONE, 0);
        run_scenario(SC_ECHO, 0); /* the failures above left nothing behind */
        coro_close(T.listen_fd);
        coro_runtime_destroy();
    }
    coro_tls_ctx_free(T.server_ctx);
    coro_tls_ctx_free(T.client_ctx);
    free(T.big);
    if (made_tmp_dir) {
        unlink(cert);
        unlink(key);
        rmdir(tmp_dir);
    }
    return check_finish("test_tls");
}
