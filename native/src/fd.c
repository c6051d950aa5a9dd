/*
 * fd.c - file descriptors as waits: who waits on which fd, readiness
 * bookkeeping, and the read/write/close wrappers that turn EAGAIN into a
 * wait on the event backend.
 *
 * Readiness (see coro_fd_t in runtime.h) follows Go's netpoll: a backend
 * event sets the fd's ready flag and wakes the waiter; a wait consumes the
 * flag; EAGAIN or a short read clears it. With that, a read after a short
 * read waits first (no EAGAIN syscall per transaction), and edge-triggered
 * backends cannot lose an edge that arrived while nobody was waiting.
 */
#include "runtime.h"
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { DIR_READ = 0, DIR_WRITE = 1 };

coro_fd_t *coro__fd_grow(int fd)
{
    coro_runtime_t *rt = coro__rt;
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    if (fd < rt->fds_cap)
        return &rt->fds[fd];
    int64_t cap = rt->fds_cap ? rt->fds_cap : 256;
    while (cap <= fd)
        cap *= 2;
    coro_fd_t *fds = realloc(rt->fds, (size_t)cap * sizeof *fds);
    if (!fds)
        return NULL;
    for (int64_t i = rt->fds_cap; i < cap; i++)
        fds[i] = (coro_fd_t){.read_ready = CORO_READY_UNKNOWN, .write_ready = CORO_READY_UNKNOWN};
    rt->fds = fds;
    rt->fds_cap = cap;
    return &rt->fds[fd];
}

/* Forgets everything known about fd: used when an fd number is (re)born from
 * socket/accept, so state left from a previous fd with the same number
 * cannot leak into the new one. */
void coro__fd_reset(int fd)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt || fd < 0)
        return;
    coro_fd_t *s = coro__fd_get(fd);
    if (s)
        *s = (coro_fd_t){.read_ready = CORO_READY_UNKNOWN, .write_ready = CORO_READY_UNKNOWN};
}

void coro__fds_free(void)
{
    coro_runtime_t *rt = coro__rt;
    free(rt->fds);
    rt->fds = NULL;
    rt->fds_cap = 0;
}

void coro__fd_ready(int fd, unsigned events)
{
    coro_runtime_t *rt = coro__rt;
    if (fd >= rt->fds_cap)
        return;
    coro_fd_t *s = &rt->fds[fd];
    if (events & (CORO_EV_HUP | CORO_EV_ERROR))
        s->read_final = 1;
    if (events & (CORO_EV_READ | CORO_EV_ERROR | CORO_EV_HUP)) {
        s->read_ready = 1;
        if (s->reader) {
            struct coro *c = s->reader;
            s->reader = NULL;
            rt->fd_waiters--;
            coro__wake(c, 0);
        }
    }
    if (events & (CORO_EV_WRITE | CORO_EV_ERROR)) {
        s->write_ready = 1;
        if (s->writer) {
            struct coro *c = s->writer;
            s->writer = NULL;
            rt->fd_waiters--;
            coro__wake(c, 0);
        }
    }
}

/* Undoes a wait whose deadline fired. wait_obj encodes fd * 2 + direction. */
static void fd_wait_cancel(struct coro *c)
{
    coro_runtime_t *rt = coro__rt;
    intptr_t code = (intptr_t)c->wait_obj;
    coro_fd_t *s = &rt->fds[code >> 1];
    struct coro **slot = (code & 1) ? &s->writer : &s->reader;
    if (*slot == c) {
        *slot = NULL;
        rt->fd_waiters--;
    }
}

/* The end of a park (below): c becomes fd's waiter and blocks. A tail call
 * of coro__block, since nothing is needed after the switch: the waiting
 * coroutine's stack then holds no frame of the park functions, and the
 * slice that is copied out and back per wait is smaller by that much. */
static inline __attribute__((always_inline)) int park_block(coro_runtime_t *rt, struct coro *c,
                                                            coro_fd_t *s, int fd, int dir)
{
    if (dir)
        s->writer = c;
    else
        s->reader = c;
    rt->fd_waiters++;
    if (dir)
        rt->stats.write_blocks++;
    else
        rt->stats.read_blocks++;
    c->wait_obj = (void *)(((intptr_t)fd << 1) | dir);
    c->wait_cancel = fd_wait_cancel;
    return coro__block();
}

/* A park that must tell the backend first (a level-triggered backend on
 * every wait, an edge-triggered one on the fd's first). Apart, so that the
 * common park makes no call before the switch and needs no saved registers. */
static __attribute__((noinline)) int park_watch(int fd, int dir)
{
    coro_runtime_t *rt = coro__rt;
    int rc = dir ? rt->backend->want_write(rt->backend_state, fd)
                 : rt->backend->want_read(rt->backend_state, fd);
    if (rc < 0)
        return -1;
    return park_block(rt, rt->current, &rt->fds[fd], fd, dir);
}

/* Parks the running coroutine as fd's reader or writer until the backend
 * reports fd ready in that direction (or it is closed, or the deadline
 * passes). The caller has looked fd up (so fds[fd] exists) and found its
 * ready flag not set. On success the flag is left as the event set it (1);
 * consuming it is the caller's business. dir is a constant in each of the
 * two instances below. */
static inline __attribute__((always_inline)) int park(int fd, int dir)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt->current;
    if (!c)
        return coro__not_in_coroutine();
    coro_fd_t *s = &rt->fds[fd];
    /* CORO_READY_UNKNOWN becomes 0: the fd was never waited on, so the
     * backend has not seen it yet and will report it at once if it is
     * ready; returning without a wait would claim readiness that may not
     * exist. */
    if (dir)
        s->write_ready = 0;
    else
        s->read_ready = 0;
    if (dir ? s->writer : s->reader) {
        errno = EBUSY;
        return -1;
    }
    /* Edge-triggered backends register an fd once; skip the call then. */
    if (CORO_UNLIKELY(!(rt->backend->register_once && s->backend_registered)))
        return park_watch(fd, dir);
    return park_block(rt, c, s, fd, dir);
}

static __attribute__((noinline)) int park_reader(int fd)
{
    return park(fd, DIR_READ);
}

static __attribute__((noinline)) int park_writer(int fd)
{
    return park(fd, DIR_WRITE);
}

/* Waits until fd is ready in direction dir and consumes the ready flag (a
 * hang-up keeps a read flag set: see read_final). */
static inline __attribute__((always_inline)) int fd_wait(int fd, int dir)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt || !rt->current)
        return coro__not_in_coroutine();
    coro_fd_t *s = coro__fd_get(fd); /* EBADF for a negative fd, or ENOMEM */
    if (!s)
        return -1;
    if ((dir ? s->write_ready : s->read_ready) != 1) {
        if ((dir ? park_writer(fd) : park_reader(fd)) < 0)
            return -1;
        s = &coro__rt->fds[fd]; /* the table may have grown meanwhile */
    }
    if (dir)
        s->write_ready = 0;
    else
        s->read_ready = s->read_final;
    return 0;
}

int coro_wait_readable(int fd)
{
    return fd_wait(fd, DIR_READ);
}

int coro_wait_writable(int fd)
{
    return fd_wait(fd, DIR_WRITE);
}

int coro__wait_read_ready(int fd)
{
    coro_fd_t *s = coro__fd_get(fd);
    if (!s)
        return -1;
    if (s->read_ready == 1)
        return 0;
    return park_reader(fd);
}

/* coro_read after a read that returned r <= 0: the ready flag follows what
 * r says, and EAGAIN (after a wait) or EINTR reads again. */
static __attribute__((noinline)) int64_t read_again(int fd, void *buf, int64_t n, ssize_t r)
{
    for (;;) {
        coro_fd_t *s = &coro__rt->fds[fd];
        if (r > 0) {
            s->read_ready = r == n || s->read_final;
            return r;
        }
        if (r == 0) {
            s->read_ready = 1; /* EOF stays readable; no edge will come again */
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->read_ready = 0;
            if (park_reader(fd) < 0)
                return -1;
        } else if (errno != EINTR) {
            s->read_ready = 1;
            return -1;
        }
        r = read(fd, buf, (size_t)n);
    }
}

int64_t coro_read(int fd, void *buf, int64_t n)
{
    if (n <= 0)
        return 0;
    /* Without a runtime there is no fd table (outside a coroutine, park
     * says EPERM if the read has to wait). */
    if (CORO_UNLIKELY(!coro__rt))
        return coro__not_in_coroutine();
    coro_fd_t *s = coro__fd_get(fd);
    if (!s)
        return -1;
    if (!s->read_ready && park_reader(fd) < 0)
        return -1;
    ssize_t r = read(fd, buf, (size_t)n);
    if (CORO_LIKELY(r > 0)) {
        /* A short read drained the socket: the next read waits for an
         * event first. A full read may have left more behind. After a
         * hang-up there is no next event: EOF is what is left. */
        s = &coro__rt->fds[fd];
        s->read_ready = r == n || s->read_final;
        return r;
    }
    return read_again(fd, buf, n, r);
}

/* write(2) without SIGPIPE: send(MSG_NOSIGNAL) on sockets, write elsewhere. */
static ssize_t write_nosignal(int fd, const void *buf, size_t n)
{
    ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
    if (r < 0 && errno == ENOTSOCK)
        r = write(fd, buf, n);
    return r;
}

/* coro_write_all after a first write that did not take the whole buffer:
 * w is what it returned, left what was asked of it. */
static __attribute__((noinline)) int64_t write_rest(int fd, const char *p, int64_t n,
                                                    int64_t left, ssize_t w)
{
    for (;;) {
        if (w >= 0) {
            p += w;
            left -= w;
            if (left <= 0)
                return n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!coro__rt) /* no runtime to wait with */
                return coro__not_in_coroutine();
            if (!coro__fd_get(fd))
                return -1;
            coro__rt->fds[fd].write_ready = 0; /* any later event is news */
            if (coro_wait_writable(fd) < 0)
                return -1;
        } else if (errno != EINTR) {
            return -1;
        }
        w = write_nosignal(fd, p, (size_t)left);
    }
}

int64_t coro_write_all(int fd, const void *buf, int64_t n)
{
    if (n <= 0)
        return n;
    /* Most writes go out whole in one call. The loop for the others is
     * apart, so that this path saves and restores next to no registers. */
    ssize_t w = write_nosignal(fd, buf, (size_t)n);
    if (CORO_LIKELY(w == n))
        return n;
    return write_rest(fd, buf, n, n, w);
}

int coro_close(int fd)
{
    coro_runtime_t *rt = coro__rt;
    if (rt && fd >= 0 && fd < rt->fds_cap) {
        coro_fd_t *s = &rt->fds[fd];
        rt->backend->cancel(rt->backend_state, fd);
        struct coro *r = s->reader, *w = s->writer;
        if (r) {
            rt->fd_waiters--;
            coro__wake(r, EBADF);
        }
        if (w) {
            rt->fd_waiters--;
            coro__wake(w, EBADF);
        }
        *s = (coro_fd_t){.read_ready = CORO_READY_UNKNOWN, .write_ready = CORO_READY_UNKNOWN};
    }
    return close(fd);
}

int coro_fd_setup(int fd)
{
    if (coro__fd_flags(fd) < 0)
        return -1;
    coro__fd_reset(fd);
    return 0;
}
