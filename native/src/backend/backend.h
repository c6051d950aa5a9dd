/*
 * backend.h - the event backend contract (after redis ae.c): one small table
 * per backend, one file per backend. A backend only watches fds and reports
 * readiness; the core (fd.c) knows which coroutine waits on what.
 *
 * Semantics every backend must give:
 *  - want_read/want_write(fd): report the fd once it is readable/writable
 *    (an error or hang-up counts as both). Interest is one-shot from the
 *    core's point of view: after reporting, the backend may keep watching
 *    (edge-triggered) or stop (level-triggered); the core re-arms by calling
 *    want_* again before it waits again.
 *  - cancel(fd): forget the fd entirely (it is being closed).
 *  - poll(timeout_ns): wait at most timeout_ns (-1 = forever, 0 = don't
 *    block) and call coro__fd_ready(fd, events) for each ready fd. Returns
 *    the number of fds reported, or -1 with errno (EINTR is not an error:
 *    return 0).
 *  - No fixed fd limit except where the OS interface has one (select:
 *    FD_SETSIZE; want_* then fail with EINVAL).
 */
#ifndef CORO_BACKEND_H
#define CORO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

enum {
    CORO_EV_READ = 1u,
    CORO_EV_WRITE = 2u,
    CORO_EV_ERROR = 4u,
    /* The peer will send nothing more (it closed or shut down its write
     * side): reads now return the rest of the data, then EOF, and never
     * block again. An edge-triggered backend reports this once, so the
     * core must remember it (fd.c). CORO_EV_ERROR implies it. */
    CORO_EV_HUP = 8u,
};

typedef struct coro_backend_ops {
    const char *name;
    /* want_* only registers the fd (setting coro_fd_t.backend_registered)
     * and is a no-op afterwards, so the core need not call it again. */
    bool register_once;
    void *(*create)(void);                 /* NULL + errno */
    void (*destroy)(void *state);
    int (*want_read)(void *state, int fd);  /* 0 or -1 + errno */
    int (*want_write)(void *state, int fd);
    void (*cancel)(void *state, int fd);
    int (*poll)(void *state, int64_t timeout_ns);
} coro_backend_ops_t;

/* kqueue: native on the BSDs and macOS; on Linux only in a build against
 * libkqueue (make KQUEUE=libkqueue defines CORO_LIBKQUEUE), for testing. */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__) || defined(CORO_LIBKQUEUE)
#define CORO_HAVE_KQUEUE 1
#endif

/* Registry (registry.c): backends of this build, fastest first. */
const coro_backend_ops_t *coro__backend_find(const char *name); /* NULL if unknown */
const coro_backend_ops_t *coro__backend_default(void);

extern const coro_backend_ops_t coro__backend_epoll;
extern const coro_backend_ops_t coro__backend_kqueue;
extern const coro_backend_ops_t coro__backend_poll;
extern const coro_backend_ops_t coro__backend_select;

#endif
