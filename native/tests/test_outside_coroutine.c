/* test_outside_coroutine: the calls that need a runtime, or a running
 * coroutine, fail with -1 and an errno when called without one, instead of
 * dereferencing a null pointer (coro.h, "Conventions"):
 *  - without a runtime: ENOENT;
 *  - with a runtime, on the scheduler's stack (not in a coroutine): EPERM.
 *
 * Each call runs in a forked child, so that a crash is reported as one
 * failed check with the signal that ended it, and the other calls still
 * run. The fds are a socketpair with nothing to read and a full send
 * buffer, so that every I/O call would have to wait. */
#include "coro.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int fds[2];

/* Runs call() in a child; expects it to return -1 (as an int64_t) with
 * errno `want`. */
static void expect_fail(const char *what, int with_runtime, int64_t (*call)(void), int want)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid < 0)
        return;
    if (pid == 0) {
        if (with_runtime && coro_runtime_init(0, NULL) != 0)
            _exit(10);
        errno = 0;
        int64_t rc = call();
        int e = errno;
        if (rc != -1) {
            fprintf(stderr, "%s returned %lld\n", what, (long long)rc);
            _exit(11);
        }
        if (e != want) {
            fprintf(stderr, "%s: errno %d (%s), wanted %d (%s)\n", what, e, strerror(e), want,
                    strerror(want));
            _exit(12);
        }
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(!WIFSIGNALED(status), "%s %s: killed by signal %d (%s)", what,
          with_runtime ? "outside a coroutine" : "without a runtime", WTERMSIG(status),
          strsignal(WTERMSIG(status)));
    CHECK(!WIFEXITED(status) || WEXITSTATUS(status) == 0, "%s %s: child exit status %d", what,
          with_runtime ? "outside a coroutine" : "without a runtime", WEXITSTATUS(status));
    OK("%s %s: -1, %s\n", what, with_runtime ? "outside a coroutine" : "without a runtime",
       want == ENOENT ? "ENOENT" : want == EPERM ? "EPERM" : "errno");
}

static int64_t call_yield(void)
{
    return coro_yield();
}

static int64_t call_yield_now(void)
{
    return coro_yield_now();
}

static int64_t call_read(void)
{
    char buf[16];
    return coro_read(fds[0], buf, sizeof buf);
}

static int64_t call_write_all(void)
{
    static char buf[1 << 20];
    return coro_write_all(fds[0], buf, sizeof buf);
}

static int64_t call_wait_readable(void)
{
    return coro_wait_readable(fds[0]);
}

static int64_t call_sleep(void)
{
    return coro_sleep_ms(1);
}

int main(void)
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0, "socketpair");
    /* Fill fds[0]'s send buffer: a write must wait. */
    char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    while (send(fds[0], chunk, sizeof chunk, MSG_DONTWAIT) > 0)
        ;

    struct {
        const char *what;
        int64_t (*call)(void);
    } calls[] = {
        {"coro_yield", call_yield},
        {"coro_yield_now", call_yield_now},
        {"coro_read", call_read},
        {"coro_write_all", call_write_all},
        {"coro_wait_readable", call_wait_readable},
        {"coro_sleep_ms", call_sleep},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        expect_fail(calls[i].what, 0, calls[i].call, ENOENT);
        expect_fail(calls[i].what, 1, calls[i].call, EPERM);
    }
    return check_finish("test_outside_coroutine");
}
