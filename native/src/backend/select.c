/*
 * select.c - select(2) backend, level-triggered, one-shot interest.
 *
 * select cannot watch an fd >= FD_SETSIZE (FD_SET would write past the
 * fd_set): want_* refuse such an fd with EINVAL and a message, instead of
 * corrupting memory as coro++ did.
 */
#include "../runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>

typedef struct select_state {
    fd_set rd, wr;
    int maxfd;          /* highest fd that may be in rd or wr, or -1 */
    bool warned;
} select_state_t;

static void *select_create_state(void)
{
    select_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    FD_ZERO(&s->rd);
    FD_ZERO(&s->wr);
    s->maxfd = -1;
    return s;
}

static void select_destroy_state(void *state)
{
    free(state);
}

static int select_want(select_state_t *s, int fd, fd_set *set)
{
    if (fd < 0 || fd >= FD_SETSIZE) {
        if (!s->warned) {
            fprintf(stderr, "coro: select backend cannot watch fd %d (limit FD_SETSIZE = %d); "
                            "use the poll or epoll backend\n", fd, FD_SETSIZE);
            s->warned = true;
        }
        errno = EINVAL;
        return -1;
    }
    FD_SET(fd, set);
    if (fd > s->maxfd)
        s->maxfd = fd;
    return 0;
}

static int select_want_read(void *state, int fd)
{
    select_state_t *s = state;
    return select_want(s, fd, &s->rd);
}

static int select_want_write(void *state, int fd)
{
    select_state_t *s = state;
    return select_want(s, fd, &s->wr);
}

static void select_cancel(void *state, int fd)
{
    select_state_t *s = state;
    if (fd < 0 || fd >= FD_SETSIZE)
        return;
    FD_CLR(fd, &s->rd);
    FD_CLR(fd, &s->wr);
}

static int select_poll(void *state, int64_t timeout_ns)
{
    select_state_t *s = state;
    /* Shrink maxfd past fds nobody waits on any more. */
    while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->rd) && !FD_ISSET(s->maxfd, &s->wr))
        s->maxfd--;
    fd_set rd = s->rd, wr = s->wr, ex;
    FD_ZERO(&ex);
    struct timeval tv, *tvp = NULL;
    if (timeout_ns >= 0) {
        /* Round up to whole microseconds first, then split: rounding the
         * remainder alone can give tv_usec == 1000000, which BSD and macOS
         * reject with EINVAL (Linux normalises it). */
        int64_t us = (timeout_ns + 999) / 1000;
        tv.tv_sec = us / 1000000;
        tv.tv_usec = us % 1000000;
        tvp = &tv;
    }
    int n = select(s->maxfd + 1, &rd, &wr, NULL, tvp);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int reported = 0;
    for (int fd = 0; fd <= s->maxfd && reported < n; fd++) {
        unsigned ev = 0;
        if (FD_ISSET(fd, &rd)) {
            ev |= CORO_EV_READ;
            FD_CLR(fd, &s->rd);
            reported++;
        }
        if (FD_ISSET(fd, &wr)) {
            ev |= CORO_EV_WRITE;
            FD_CLR(fd, &s->wr);
            reported++;
        }
        if (ev)
            coro__fd_ready(fd, ev);
    }
    return reported;
}

const coro_backend_ops_t coro__backend_select = {
    .name = "select",
    .create = select_create_state,
    .destroy = select_destroy_state,
    .want_read = select_want_read,
    .want_write = select_want_write,
    .cancel = select_cancel,
    .poll = select_poll,
};
