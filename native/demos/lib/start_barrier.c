/*
 * start_barrier.c - the start barrier of a load client (see start_barrier.h).
 */
#include "start_barrier.h"

#include <coro.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct {
    const char *prog;
    int64_t expected, arrived, connected;
    int64_t *go_ns;
    bool gone;           /* "go" seen */
    coro_cond_t *go;     /* connections waiting for "go" */
    coro_t *waiter;      /* the barrier coroutine, while it waits for arrivals */
    int pipe_fd[2];      /* stdin thread -> event loop: one byte at "go" */
} sb = {.pipe_fd = {-1, -1}};

/* Exits the process at once: the controller is gone, nobody will read what
 * this client would print, and a client left running would be an orphan
 * loading the server. */
static void controller_gone(const char *when)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "%s: stdin closed %s: the controller is gone, exiting\n",
                     sb.prog, when);
    if (n > 0)
        (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(3);
}

/* Answers "sync" with this host's clock, at once and from this thread, so
 * that the controller's round trip measures little but the transport. */
static void answer_sync(void)
{
    char line[48];
    int n = snprintf(line, sizeof line, "sync %lld\n", (long long)coro_now_ns());
    (void)!write(1, line, (size_t)n); /* one write: a whole line on the pipe */
}

/* Reads stdin: answers "sync" lines, waits for the line "go" and tells the
 * event loop, then reads on until stdin closes. Blocking reads on a thread
 * of its own: stdin never enters the event loop's backend. */
static void *stdin_thread(void *arg)
{
    (void)arg;
    char buf[256];
    size_t have = 0;
    bool go = false;
    for (;;) {
        ssize_t n = read(0, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            controller_gone(go ? "during the run" : "before \"go\"");
        if (go)
            continue; /* nothing more is expected; only the close matters */
        have += (size_t)n;
        char *nl;
        while (!go && (nl = memchr(buf, '\n', have))) {
            size_t len = (size_t)(nl - buf);
            if (len == 4 && memcmp(buf, "sync", 4) == 0) {
                answer_sync();
            } else if (len == 2 && memcmp(buf, "go", 2) == 0) {
                go = true;
                (void)!write(sb.pipe_fd[1], "g", 1);
            }
            have -= len + 1;
            memmove(buf, nl + 1, have);
        }
        if (have == sizeof buf)
            have = 0; /* not a line of ours: drop it */
    }
    return NULL;
}

static void barrier_coroutine(void *arg)
{
    (void)arg;
    sb.waiter = coro_current();
    while (sb.arrived < sb.expected)
        coro_yield();
    sb.waiter = NULL;
    printf("ready %lld %lld\n", (long long)sb.connected, (long long)coro_now_ns());
    fflush(stdout);
    char byte;
    int64_t n = coro_read(sb.pipe_fd[0], &byte, 1);
    coro_close(sb.pipe_fd[0]);
    if (n != 1) {
        fprintf(stderr, "%s: start barrier: %s\n", sb.prog, n < 0 ? strerror(errno) : "pipe closed");
        _exit(3);
    }
    *sb.go_ns = coro_now_ns();
    sb.gone = true;
    printf("go %lld\n", (long long)*sb.go_ns);
    fflush(stdout);
    coro_cond_wake_all(sb.go, 0);
}

int start_barrier_start(const char *prog, int64_t expected, int64_t *go_ns)
{
    sb.prog = prog;
    sb.expected = expected;
    sb.go_ns = go_ns;
    pthread_t t;
    if (!(sb.go = coro_cond_create()) || pipe(sb.pipe_fd) < 0 || coro_fd_setup(sb.pipe_fd[0]) < 0)
        goto error;
    int rc = pthread_create(&t, NULL, stdin_thread, NULL);
    if (rc != 0) {
        errno = rc;
        goto error;
    }
    pthread_detach(t);
    if (!coro_spawn(barrier_coroutine, NULL))
        goto error;
    return 0;
error:
    fprintf(stderr, "%s: cannot start the start barrier: %s\n", prog, strerror(errno));
    return -1;
}

int start_barrier_arrive(bool connected)
{
    sb.arrived++;
    if (connected)
        sb.connected++;
    if (sb.arrived == sb.expected && sb.waiter)
        coro_schedule(sb.waiter, 0);
    if (!connected)
        return 0;
    while (!sb.gone)
        if (coro_cond_wait(sb.go, NULL) < 0)
            return -1;
    return 0;
}
