/*
 * kqueue.c - BSD/macOS kqueue backend, edge-triggered (EV_CLEAR).
 *
 * Like the epoll backend: each fd is registered once for both filters on its
 * first wait; the core's ready flags make EV_CLEAR safe. Compiled only where
 * <sys/event.h> exists; this file is empty on Linux.
 */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#include "../runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#define KQUEUE_BATCH 1024

typedef struct kqueue_state {
    int kq;
    struct kevent events[KQUEUE_BATCH];
} kqueue_state_t;

static void *kqueue_create_state(void)
{
    kqueue_state_t *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->kq = kqueue();
    if (s->kq < 0) {
        int e = errno;
        free(s);
        errno = e;
        return NULL;
    }
    return s;
}

static void kqueue_destroy_state(void *state)
{
    kqueue_state_t *s = state;
    close(s->kq);
    free(s);
}

static int kqueue_want(void *state, int fd)
{
    kqueue_state_t *s = state;
    coro_fd_t *f = coro__fd_get(fd);
    if (!f)
        return -1;
    if (f->backend_registered)
        return 0;
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(s->kq, ch, 2, NULL, 0, NULL) < 0)
        return -1;
    f->backend_registered = 1;
    return 0;
}

static void kqueue_cancel(void *state, int fd)
{
    (void)state;
    (void)fd; /* close(2) removes the fd's knotes */
}

static int kqueue_poll(void *state, int64_t timeout_ns)
{
    kqueue_state_t *s = state;
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000LL;
        ts.tv_nsec = timeout_ns % 1000000000LL;
        tsp = &ts;
    }
    int n = kevent(s->kq, NULL, 0, s->events, KQUEUE_BATCH, tsp);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        struct kevent *e = &s->events[i];
        unsigned ev = e->filter == EVFILT_READ ? CORO_EV_READ : CORO_EV_WRITE;
        if (e->flags & (EV_EOF | EV_ERROR))
            ev |= CORO_EV_ERROR;
        coro__fd_ready((int)e->ident, ev);
    }
    return n;
}

const coro_backend_ops_t coro__backend_kqueue = {
    .name = "kqueue",
    .create = kqueue_create_state,
    .destroy = kqueue_destroy_state,
    .register_once = true,
    .want_read = kqueue_want,
    .want_write = kqueue_want,
    .cancel = kqueue_cancel,
    .poll = kqueue_poll,
};
#else
/* ISO C forbids an empty translation unit. */
typedef int coro_kqueue_not_on_this_os;
#endif
