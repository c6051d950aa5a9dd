/*
 * kqueue.c - BSD/macOS kqueue backend; on Linux the same file runs over
 * libkqueue (make KQUEUE=libkqueue), for testing.
 *
 * Level-triggered and one-shot per wait (EV_DISPATCH): an fd's filter is
 * added on its first wait in that direction and re-enabled (EV_ENABLE) on
 * each later one; the kernel disables it again when it delivers the event.
 * The changes are queued and handed to the next kevent() that polls, so a
 * wait costs no system call of its own. What this relies on from kqueue(2),
 * and where libkqueue (v2.7 on Linux, read in its source) differs; the
 * evidence is in docs/kqueue.md:
 *
 *  - EV_DISPATCH: "Disable the event source immediately after delivery of
 *    an event." A disabled filter reports nothing, so an fd that nobody
 *    waits on (a hung-up one included) cannot make the loop spin, and an
 *    enabled filter whose condition holds is reported by the next kevent().
 *  - Events not returned stay pending: kqueue(2) returns at most nevents and
 *    keeps the rest for the next call. libkqueue does not: one epoll entry
 *    serves both filters of an fd and can turn into two kevents, but it
 *    fetches up to nevents epoll events, and when the eventlist is full it
 *    drops the rest (linux/platform.c, linux_kevent_copyout, "goto oos").
 *    With EV_CLEAR (edge-triggered, the first design of this file) a
 *    dropped edge never comes back: echo_server hung from ~300 busy
 *    connections on (MAX_KEVENT 512 / 2). Level-triggered filters report a
 *    dropped event again on the next call, which is why EV_DISPATCH is used
 *    instead of EV_CLEAR.
 *  - EV_EOF on EVFILT_READ: the peer will send nothing more; reads return
 *    what is buffered, then 0; fflags holds a socket error, if any. It
 *    becomes CORO_EV_HUP, which fd.c remembers. EV_EOF on EVFILT_WRITE:
 *    writes fail at once.
 *  - close(): "Calling close() on a file descriptor will remove any kevents
 *    that reference the descriptor." libkqueue cannot (BUGS.md): its knotes
 *    outlive the fd, and an EV_ADD for a new fd with the same number finds
 *    the stale knote, takes it for a modify and never registers the new
 *    file with epoll, so its first wait blocks forever. Under libkqueue,
 *    cancel deletes the knotes before the close, and the first wait on an
 *    fd deletes stale ones first (an fd closed with a plain close()).
 *    Natively the changes queued for a closed fd are simply dropped.
 *  - fflags of EV_EOF: libkqueue fills them with getsockopt(SO_ERROR),
 *    which clears the error (socket(7)), so a connect's own SO_ERROR check
 *    would see 0. The error is kept in coro_fd_t.event_error for it.
 */
#include "../runtime.h"
#ifdef CORO_HAVE_KQUEUE

#include <errno.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

/* Events fetched per kevent call; a batch size, not an fd limit. */
#define KQUEUE_BATCH 1024

/* coro_fd_t.backend_registered bits: the filters this backend has added. */
enum { KQ_READ = 1, KQ_WRITE = 2 };

typedef struct kqueue_state {
    int kq;
    /* Changes queued for the next kevent() call. */
    struct kevent *changes;
    int nchanges, changes_cap;
    struct kevent events[KQUEUE_BATCH];
} kqueue_state_t;

static void *kqueue_create_state(void)
{
    kqueue_state_t *s = calloc(1, sizeof *s);
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
    free(s->changes);
    free(s);
}

static int queue_change(kqueue_state_t *s, int fd, short filter, unsigned short flags)
{
    if (s->nchanges == s->changes_cap) {
        int cap = s->changes_cap ? s->changes_cap * 2 : 256;
        struct kevent *c = realloc(s->changes, (size_t)cap * sizeof *c);
        if (!c)
            return -1;
        s->changes = c;
        s->changes_cap = cap;
    }
    EV_SET(&s->changes[s->nchanges], fd, filter, flags, 0, 0, NULL);
    s->nchanges++;
    return 0;
}

#ifdef CORO_LIBKQUEUE
/* Deletes fd's filters named by bits now (not queued: libkqueue needs it
 * before the close, or before the next EV_ADD), ignoring ENOENT. */
static int libkqueue_delete(kqueue_state_t *s, int fd, unsigned bits)
{
    struct kevent ch[2], out[2];
    int n = 0;
    if (bits & KQ_READ)
        EV_SET(&ch[n++], fd, EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    if (bits & KQ_WRITE)
        EV_SET(&ch[n++], fd, EVFILT_WRITE, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    int got = kevent(s->kq, ch, n, out, n, NULL);
    if (got < 0)
        return -1;
    for (int i = 0; i < got; i++) {
        if ((out[i].flags & EV_ERROR) && out[i].data != 0 && out[i].data != ENOENT) {
            errno = (int)out[i].data;
            return -1;
        }
    }
    return 0;
}
#endif

static int kqueue_want(kqueue_state_t *s, int fd, short filter, uint8_t bit)
{
    coro_fd_t *f = coro__fd_get(fd);
    if (!f)
        return -1;
    if (f->backend_registered & bit)
        return queue_change(s, fd, filter, EV_ENABLE | EV_DISPATCH);
#ifdef CORO_LIBKQUEUE
    /* A knote left by an fd closed without coro_close (see the header). */
    if (!f->backend_registered && libkqueue_delete(s, fd, KQ_READ | KQ_WRITE) < 0)
        return -1;
#endif
    if (queue_change(s, fd, filter, EV_ADD | EV_DISPATCH) < 0)
        return -1;
    f->backend_registered |= bit;
    return 0;
}

static int kqueue_want_read(void *state, int fd)
{
    return kqueue_want(state, fd, EVFILT_READ, KQ_READ);
}

static int kqueue_want_write(void *state, int fd)
{
    return kqueue_want(state, fd, EVFILT_WRITE, KQ_WRITE);
}

/* The fd is about to be closed: its queued changes must not reach kevent()
 * (natively they would fail with EBADF, or hit the next fd with that
 * number). Under libkqueue its knotes are deleted now, since close() will
 * not do it. */
static void kqueue_cancel(void *state, int fd)
{
    kqueue_state_t *s = state;
    int kept = 0;
    for (int i = 0; i < s->nchanges; i++)
        if ((int)s->changes[i].ident != fd)
            s->changes[kept++] = s->changes[i];
    s->nchanges = kept;
#ifdef CORO_LIBKQUEUE
    coro_fd_t *f = coro__fd_get(fd);
    if (f && f->backend_registered)
        (void)libkqueue_delete(s, fd, f->backend_registered); /* the close goes on anyway */
#endif
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
    int n = kevent(s->kq, s->changes, s->nchanges, s->events, KQUEUE_BATCH, tsp);
    /* The changes are applied before the wait, also when it is then
     * interrupted (EINTR). */
    s->nchanges = 0;
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        struct kevent *e = &s->events[i];
        unsigned ev;
        if (e->flags & EV_ERROR) {
            /* A queued change failed (its errno in data): the waiters
             * retry their call and meet the error themselves. */
            ev = CORO_EV_ERROR;
        } else if (e->filter == EVFILT_READ) {
            /* EV_EOF: the peer is done sending (fflags: its error, if any). */
            ev = CORO_EV_READ | (e->flags & EV_EOF ? CORO_EV_HUP : 0u) |
                 (e->fflags ? CORO_EV_ERROR : 0u);
        } else {
            /* EV_EOF: nothing can be sent any more; a write fails at once. */
            ev = CORO_EV_WRITE | (e->flags & EV_EOF ? CORO_EV_ERROR : 0u);
        }
        /* The socket error, kept for coro_tcp_connect: libkqueue reads it
         * with getsockopt(SO_ERROR), which clears it (see the header). */
        if (!(e->flags & EV_ERROR) && e->fflags && (int64_t)e->ident < coro__rt->fds_cap)
            coro__rt->fds[e->ident].event_error = (uint16_t)e->fflags;
        coro__fd_ready((int)e->ident, ev);
    }
    return n;
}

const coro_backend_ops_t coro__backend_kqueue = {
    .name = "kqueue",
    .create = kqueue_create_state,
    .destroy = kqueue_destroy_state,
    .register_once = false,
    .want_read = kqueue_want_read,
    .want_write = kqueue_want_write,
    .cancel = kqueue_cancel,
    .poll = kqueue_poll,
};
#else
/* ISO C forbids an empty translation unit. */
typedef int coro_kqueue_not_on_this_os;
#endif
