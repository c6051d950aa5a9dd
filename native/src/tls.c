/*
 * tls.c - what every TLS layer shares, whichever library it wraps (tls.h):
 * socket I/O under the core's readiness rules, and the rate-limited error
 * lines.
 */
#include "tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

ssize_t coro__tls_sock_recv(int fd, void *buf, size_t len, int *io_errno)
{
    if (len == 0)
        return 0;
    coro_fd_t *f = coro__fd_get(fd);
    /* Known drained (a short read or EAGAIN since the last event): skip the
     * syscall that would only say EAGAIN, exactly as coro_read does. */
    if (f && !f->read_ready) {
        errno = EAGAIN;
        return -1;
    }
    for (;;) {
        ssize_t r = recv(fd, buf, len, 0);
        if (r < 0 && errno == ENOTSOCK)
            r = read(fd, buf, len);
        f = coro__fd_get(fd);
        if (r > 0) {
            /* Short: the socket is drained, unless the peer hung up (then
             * EOF is left and no further event will announce it). */
            if (f)
                f->read_ready = (size_t)r == len || f->read_final;
            return r;
        }
        if (r == 0) {
            if (f)
                f->read_ready = 1; /* EOF stays readable; no edge will come */
            *io_errno = 0;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (f)
                f->read_ready = 0;
            errno = EAGAIN;
            return -1;
        }
        *io_errno = errno;
        if (f)
            f->read_ready = 1; /* the error is what the next read will see */
        return -1;
    }
}

ssize_t coro__tls_sock_send(int fd, const void *buf, size_t len, int *io_errno)
{
    for (;;) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, buf, len);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            coro_fd_t *f = coro__fd_get(fd);
            if (f)
                f->write_ready = 0; /* the next writable event is news */
            errno = EAGAIN;
            return -1;
        }
        *io_errno = errno;
        return -1;
    }
}

/* At most REPORTS_PER_SECOND lines a second: a peer that fails handshakes
 * on purpose, connection after connection, must not flood the log. Lines
 * held back are counted and the count is given with the next line shown. */
#define REPORTS_PER_SECOND 10

void coro__tls_report(const char *what, const char *reason)
{
    static int64_t window_start;
    static int shown_in_window;
    static long long held_back;
    int64_t now = coro_now_ns();
    if (now - window_start >= 1000000000) {
        window_start = now;
        shown_in_window = 0;
    }
    if (shown_in_window++ >= REPORTS_PER_SECOND) {
        held_back++;
        return;
    }
    if (held_back) {
        fprintf(stderr, "coro tls: %lld more error lines were held back (at most %d a second)\n",
                held_back, REPORTS_PER_SECOND);
        held_back = 0;
    }
    fprintf(stderr, "coro tls: %s: %s\n", what, reason ? reason : "unknown error");
}
