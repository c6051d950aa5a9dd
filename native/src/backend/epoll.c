/*
 * epoll.c - Linux epoll backend, edge-triggered.
 *
 * Each fd is registered once, for read and write together, on its first
 * wait (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET); later waits cost no syscall.
 * The core's ready flags (fd.c) make edge-triggering safe. Closing an fd
 * removes it from the epoll set by itself, so cancel makes no syscall.
 *
 * A wait with a timer pending uses epoll_pwait2 (Linux 5.11+), whose timeout
 * is in nanoseconds: epoll_wait's whole milliseconds would wake a timer up
 * to 1 ms late, which an open-loop client (echo_client --rate) would count
 * as its own schedule lag. Kernels without it fall back to epoll_wait.
 */
#ifdef __linux__
#include "../runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Events fetched per epoll_wait call; a batch size, not an fd limit. */
#define EPOLL_BATCH 1024

typedef struct epoll_state {
    int epfd;
    struct epoll_event events[EPOLL_BATCH];
} epoll_state_t;

static void *epoll_create_state(void)
{
    epoll_state_t *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        int e = errno;
        free(s);
        errno = e;
        return NULL;
    }
    return s;
}

static void epoll_destroy_state(void *state)
{
    epoll_state_t *s = state;
    close(s->epfd);
    free(s);
}

static int epoll_want(void *state, int fd)
{
    epoll_state_t *s = state;
    coro_fd_t *f = coro__fd_get(fd);
    if (!f)
        return -1;
    if (f->backend_registered)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (errno != EEXIST)
            return -1;
        /* Registered under an fd number we were not told was reused. */
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
            return -1;
    }
    f->backend_registered = 1;
    return 0;
}

static void epoll_cancel(void *state, int fd)
{
    (void)state;
    (void)fd; /* close(2) removes the fd from the set; the slot is reset by fd.c */
}

#ifdef SYS_epoll_pwait2
/* The kernel's struct __kernel_timespec: 64-bit fields on every ABI (i386
 * too), so the raw syscall needs no glibc wrapper (glibc 2.35+). */
struct kernel_timespec {
    int64_t tv_sec;
    long long tv_nsec;
};
static bool pwait2_missing; /* ENOSYS seen once: an older kernel */

/* epoll_pwait2 with a nanosecond timeout (> 0). The result of the call, or
 * -2 when the kernel does not have it. */
static int epoll_wait_ns(int epfd, struct epoll_event *events, int64_t timeout_ns)
{
    if (pwait2_missing)
        return -2;
    struct kernel_timespec ts = {timeout_ns / 1000000000LL, timeout_ns % 1000000000LL};
    int n = (int)syscall(SYS_epoll_pwait2, epfd, events, EPOLL_BATCH, &ts, NULL, 0);
    if (n < 0 && errno == ENOSYS) {
        pwait2_missing = true;
        return -2;
    }
    return n;
}
#else
static int epoll_wait_ns(int epfd, struct epoll_event *events, int64_t timeout_ns)
{
    (void)epfd, (void)events, (void)timeout_ns;
    return -2;
}
#endif

static int epoll_poll(void *state, int64_t timeout_ns)
{
    epoll_state_t *s = state;
    /* No timer (-1) or no wait (0): plain epoll_wait, as before. */
    int n = timeout_ns > 0 ? epoll_wait_ns(s->epfd, s->events, timeout_ns) : -2;
    if (n == -2)
        n = epoll_wait(s->epfd, s->events, EPOLL_BATCH, coro__timeout_ms(timeout_ns));
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint32_t e = s->events[i].events;
        unsigned ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP))
            ev |= CORO_EV_READ;
        if (e & EPOLLRDHUP)
            ev |= CORO_EV_HUP;
        if (e & EPOLLOUT)
            ev |= CORO_EV_WRITE;
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= CORO_EV_ERROR;
        coro__fd_ready(s->events[i].data.fd, ev);
    }
    return n;
}

const coro_backend_ops_t coro__backend_epoll = {
    .name = "epoll",
    .create = epoll_create_state,
    .destroy = epoll_destroy_state,
    .register_once = true,
    .want_read = epoll_want,
    .want_write = epoll_want,
    .cancel = epoll_cancel,
    .poll = epoll_poll,
};
#endif
