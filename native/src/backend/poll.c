/*
 * poll.c - poll(2) backend, level-triggered, no fixed fd limit.
 *
 * A dense pollfd array holds only fds someone waits on, plus an fd -> index
 * map; both grow by doubling. Interest is one-shot: a reported direction is
 * dropped, and an entry with no interest left is removed (swap with the
 * last), so an idle fd is never polled and a ready fd never spins.
 * On Linux the wait is ppoll, whose timeout is in nanoseconds (poll's whole
 * milliseconds would wake a timer up to 1 ms late).
 */
#include "../runtime.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct poll_state {
    struct pollfd *pfds;
    int64_t len, cap;
    int32_t *index_of;      /* fd -> index in pfds, or -1 */
    int64_t index_cap;
} poll_state_t;

static void *poll_create_state(void)
{
    return calloc(1, sizeof(poll_state_t));
}

static void poll_destroy_state(void *state)
{
    poll_state_t *s = state;
    free(s->pfds);
    free(s->index_of);
    free(s);
}

static int poll_want(poll_state_t *s, int fd, short bits)
{
    if (fd >= s->index_cap) {
        int64_t cap = s->index_cap ? s->index_cap : 256;
        while (cap <= fd)
            cap *= 2;
        int32_t *idx = realloc(s->index_of, (size_t)cap * sizeof *idx);
        if (!idx)
            return -1;
        memset(idx + s->index_cap, 0xff, (size_t)(cap - s->index_cap) * sizeof *idx);
        s->index_of = idx;
        s->index_cap = cap;
    }
    int32_t i = s->index_of[fd];
    if (i < 0) {
        if (s->len == s->cap) {
            int64_t cap = s->cap ? s->cap * 2 : 64;
            struct pollfd *p = realloc(s->pfds, (size_t)cap * sizeof *p);
            if (!p)
                return -1;
            s->pfds = p;
            s->cap = cap;
        }
        i = (int32_t)s->len++;
        s->pfds[i] = (struct pollfd){.fd = fd, .events = 0};
        s->index_of[fd] = i;
    }
    s->pfds[i].events |= bits;
    return 0;
}

static int poll_want_read(void *state, int fd)
{
    return poll_want(state, fd, POLLIN);
}

static int poll_want_write(void *state, int fd)
{
    return poll_want(state, fd, POLLOUT);
}

static void remove_at(poll_state_t *s, int32_t i)
{
    s->index_of[s->pfds[i].fd] = -1;
    s->len--;
    if (i != s->len) {
        s->pfds[i] = s->pfds[s->len];
        s->index_of[s->pfds[i].fd] = i;
    }
}

static void poll_cancel(void *state, int fd)
{
    poll_state_t *s = state;
    if (fd < s->index_cap && s->index_of[fd] >= 0)
        remove_at(s, s->index_of[fd]);
}

static int poll_poll(void *state, int64_t timeout_ns)
{
    poll_state_t *s = state;
#ifdef __linux__
    /* A day at most: a 32-bit time_t holds it, and waking early is harmless
     * (the loop computes the next timeout again). */
    if (timeout_ns > 86400 * 1000000000LL)
        timeout_ns = 86400 * 1000000000LL;
    struct timespec ts = {(time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL)};
    int n = ppoll(s->pfds, (nfds_t)s->len, timeout_ns >= 0 ? &ts : NULL, NULL);
#else
    int n = poll(s->pfds, (nfds_t)s->len, coro__timeout_ms(timeout_ns));
#endif
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int reported = 0;
    /* Walk backwards: removing entry i moves an already-visited entry into
     * its place, never an unvisited one. Waking a coroutine only queues it,
     * so the array does not change under us otherwise. */
    for (int64_t i = s->len - 1; i >= 0 && reported < n; i--) {
        struct pollfd *p = &s->pfds[i];
        if (!p->revents)
            continue;
        unsigned ev = 0;
        if (p->revents & (POLLERR | POLLHUP | POLLNVAL)) {
            ev = CORO_EV_READ | CORO_EV_WRITE | CORO_EV_ERROR;
            p->events = 0;
        } else {
            if (p->revents & POLLIN)
                ev |= CORO_EV_READ, p->events &= (short)~POLLIN;
            if (p->revents & POLLOUT)
                ev |= CORO_EV_WRITE, p->events &= (short)~POLLOUT;
        }
        int fd = p->fd;
        p->revents = 0;
        if (!p->events)
            remove_at(s, (int32_t)i);
        coro__fd_ready(fd, ev);
        reported++;
    }
    return reported;
}

const coro_backend_ops_t coro__backend_poll = {
    .name = "poll",
    .create = poll_create_state,
    .destroy = poll_destroy_state,
    .want_read = poll_want_read,
    .want_write = poll_want_write,
    .cancel = poll_cancel,
    .poll = poll_poll,
};
