/* test_eof_after_short_read, on every backend, over a socketpair and over
 * TCP loopback: a reader that is already waiting on a connection sees the
 * peer's last bytes and its close arrive together (one event). The first
 * read returns the bytes (a short read: the buffer is bigger); the next read
 * must return 0 at once. With an edge-triggered backend no second edge ever
 * comes for that EOF, so the core must remember the hang-up instead of
 * treating the short read as "drained, wait for the next event".
 *
 * Found by fuzz_echo_session: echo_server kept a coroutine and an fd for
 * every client whose last line and FIN were read in one go (186 of 200
 * half-closing clients were never closed). The same through the stream's
 * line reader, as a session reads: the line, then 0. */
#include "coro.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "each_backend.h"

/* Far longer than a local EOF takes; a hang shows up as ETIMEDOUT. */
#define DEADLINE_MS 2000

static const char *backend;
static int rfd, wfd;   /* reader's and writer's ends */
static bool use_stream;
static bool reader_done;

static void reader(void *arg)
{
    (void)arg;
    CHECK(coro_deadline_push(DEADLINE_MS) == 0, "deadline");
    if (use_stream) {
        coro_stream_t *s = coro_stream_open(rfd, 0);
        const char *line;
        int64_t n = coro_stream_read_line(s, &line, '\n');
        CHECK(n == 4 && memcmp(line, "abc\n", 4) == 0, "%s: line: %lld (errno %d)", backend,
              (long long)n, n < 0 ? errno : 0);
        n = coro_stream_read_line(s, &line, '\n');
        CHECK(n == 0, "%s: after the last line: want 0 (EOF), got %lld (errno %d%s)", backend,
              (long long)n, n < 0 ? errno : 0,
              n < 0 && errno == ETIMEDOUT ? ": the EOF was never noticed" : "");
        coro_stream_close(s);
    } else {
        char buf[4096];
        int64_t n = coro_read(rfd, buf, sizeof buf);
        CHECK(n == 4 && memcmp(buf, "abc\n", 4) == 0, "%s: first read: %lld (errno %d)",
              backend, (long long)n, n < 0 ? errno : 0);
        n = coro_read(rfd, buf, sizeof buf);
        CHECK(n == 0, "%s: second read: want 0 (EOF), got %lld (errno %d%s)", backend,
              (long long)n, n < 0 ? errno : 0,
              n < 0 && errno == ETIMEDOUT ? ": the EOF was never noticed" : "");
        /* And EOF stays readable. */
        n = coro_read(rfd, buf, sizeof buf);
        CHECK(n == 0, "%s: third read: want 0, got %lld", backend, (long long)n);
        coro_close(rfd);
    }
    coro_deadline_pop();
    reader_done = true;
}

/* Runs after the reader is blocked (spawned second): bytes and close land
 * before the loop polls again, so the backend sees them as one event. */
static void writer(void *arg)
{
    (void)arg;
    CHECK(coro_write_all(wfd, "abc\n", 4) == 4, "write");
    CHECK(coro_close(wfd) == 0, "close");
}

static void run_case(const char *transport)
{
    reader_done = false;
    CHECK(coro_spawn(reader, NULL) && coro_spawn(writer, NULL), "spawn");
    int64_t left = coro_run();
    CHECK(left == 0 && reader_done, "%s: %lld coroutines left", backend, (long long)left);
    OK("%s, %s, %s: bytes and hang-up in one event: data, then EOF at once\n", backend,
       transport, use_stream ? "coro_stream_read_line" : "coro_read");
}

static void socketpair_case(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    CHECK(coro_fd_setup(sv[0]) == 0 && coro_fd_setup(sv[1]) == 0, "setup");
    rfd = sv[0];
    wfd = sv[1];
    run_case("socketpair");
}

/* TCP: connect and accept first (in coroutines), then the same case. */
static int listen_fd, port;
static void tcp_connector(void *arg)
{
    (void)arg;
    wfd = coro_tcp_connect("127.0.0.1", port);
    CHECK(wfd >= 0, "connect: errno %d", errno);
}
static void tcp_acceptor(void *arg)
{
    (void)arg;
    rfd = coro_accept(listen_fd);
    CHECK(rfd >= 0, "accept: errno %d", errno);
}

static void tcp_case(void)
{
    listen_fd = coro_tcp_listen(NULL, 0, 16);
    CHECK(listen_fd >= 0, "listen");
    port = coro_socket_port(listen_fd);
    coro_spawn(tcp_acceptor, NULL);
    coro_spawn(tcp_connector, NULL);
    CHECK(coro_run() == 0, "connect/accept");
    coro_close(listen_fd);
    run_case("TCP loopback");
}

int main(void)
{
    FOR_EACH_BACKEND(b) {
        backend = b;
        CHECK(coro_runtime_init(0, b) == 0, "init %s", b);
        for (int stream = 0; stream <= 1; stream++) {
            use_stream = stream;
            socketpair_case();
            tcp_case();
        }
        CHECK(coro_runtime_destroy() == 0, "destroy");
    }
    return check_finish("test_eof_after_short_read");
}
