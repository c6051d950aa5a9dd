/* test_timed_out_wait, on every backend: a read wait whose deadline passed
 * does not disturb a writer waiting on the same fd (the level-triggered
 * backends keep one interest set per fd): the writer still wakes when the
 * fd becomes writable, and the reader's wait ends with ETIMEDOUT on time:
 * not before its 10 ms deadline, and before the drainer's 40 ms sleep ends
 * (timers fire in order, so that holds on a loaded machine too; a reader
 * woken only when the fd changes state would see ETIMEDOUT after it), and
 * within a generous second (a deadline in the wrong unit is caught). */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "each_backend.h"

static int fds[2];
static int wait_rc, wait_errno;
static int64_t wait_ns;     /* how long the reader's wait took */
static int drainer_woke;    /* set when the drainer's sleep ends */
static int drainer_first;   /* the drainer woke before the reader timed out */

#define DEADLINE_MS 10
#define DRAINER_SLEEP_MS 40
#define LATE_BOUND_MS 1000

/* A socket whose send buffer is full: a writer must wait. */
static void fill(int fd)
{
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    while (send(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

static int writer_rc = -2;

static void blocked_writer(void *arg)
{
    (void)arg;
    writer_rc = coro_wait_writable(fds[0]);
}

static void drainer(void *arg)
{
    (void)arg;
    coro_sleep_ms(DRAINER_SLEEP_MS); /* after the reader below has timed out */
    drainer_woke = 1;
    char buf[4096];
    while (read(fds[1], buf, sizeof buf) > 0)
        ;
}

static void short_reader(void *arg)
{
    (void)arg;
    CHECK(coro_deadline_push(DEADLINE_MS) == 0, "deadline_push");
    int64_t start_ns = coro_now_ns();
    errno = 0;
    wait_rc = coro_wait_readable(fds[0]);
    wait_errno = errno;
    wait_ns = coro_now_ns() - start_ns;
    drainer_first = drainer_woke;
    coro_deadline_pop();
}

static void run_backend(const char *b)
{
    CHECK(coro_runtime_init(0, b) == 0, "init %s", b);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
    CHECK(coro_fd_setup(fds[0]) == 0 && coro_fd_setup(fds[1]) == 0, "non-blocking");
    fill(fds[0]);
    writer_rc = -2;
    wait_ns = -1;
    drainer_woke = drainer_first = 0;
    coro_spawn(blocked_writer, NULL);
    coro_spawn(short_reader, NULL);
    coro_spawn(drainer, NULL);
    CHECK(coro_run() == 0, "%s: run", b);
    CHECK(wait_rc == -1 && wait_errno == ETIMEDOUT, "%s: reader rc %d errno %d", b, wait_rc, wait_errno);
    CHECK(wait_ns >= (int64_t)DEADLINE_MS * 1000000, "%s: ETIMEDOUT after %.3f ms, before the %d ms deadline",
          b, wait_ns / 1e6, DEADLINE_MS);
    CHECK(!drainer_first, "%s: ETIMEDOUT only after the drainer's %d ms sleep ended (%.3f ms)", b,
          DRAINER_SLEEP_MS, wait_ns / 1e6);
    CHECK(wait_ns < (int64_t)LATE_BOUND_MS * 1000000, "%s: ETIMEDOUT after %.3f ms, the bound is %d ms", b,
          wait_ns / 1e6, LATE_BOUND_MS);
    CHECK(writer_rc == 0, "%s: writer woke with %d", b, writer_rc);
    OK("%s: a timed-out read wait leaves the writer on the same fd waiting; ETIMEDOUT after %.1f ms "
       "(deadline %d ms)\n", b, wait_ns / 1e6, DEADLINE_MS);
    coro_close(fds[0]);
    coro_close(fds[1]);

    CHECK(coro_runtime_destroy() == 0, "destroy");
}

int main(void)
{
    FOR_EACH_BACKEND(b)
        run_backend(b);
    return check_finish("test_timed_out_wait");
}
