/* test_select_limit: the select backend refuses an fd >= FD_SETSIZE with
 * EINVAL and one clear message on stderr, instead of writing past its
 * fd_set; the process carries on and fds below the limit still work. The
 * same high fd works on the other backends (no fixed fd cap). */
#include "coro.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include "check.h"
#include "each_backend.h"

#define HIGH_FD 1500

static int low[2];
static int rc_wait_read, rc_wait_write, rc_read;
static int e_wait_read, e_wait_write, e_read;
static int low_ok, high_ok;

static void high_user(void *arg)
{
    (void)arg;
    char buf[8];
    errno = 0;
    rc_wait_read = coro_wait_readable(HIGH_FD);
    e_wait_read = errno;
    errno = 0;
    rc_read = (int)coro_read(HIGH_FD, buf, sizeof buf);
    e_read = errno;
    errno = 0;
    rc_wait_write = coro_wait_writable(HIGH_FD);
    e_wait_write = errno;
}

static void low_reader(void *arg)
{
    (void)arg;
    char buf[8];
    low_ok = coro_read(low[0], buf, sizeof buf) == 2 && memcmp(buf, "hi", 2) == 0;
}

static void low_writer(void *arg)
{
    (void)arg;
    coro_sleep_ms(5);
    coro_write_all(low[1], "hi", 2);
}

/* On a backend without a cap, the high fd is an ordinary fd. */
static int high_w;
static void high_reader(void *arg)
{
    (void)arg;
    char buf[8];
    high_ok = coro_read(HIGH_FD, buf, sizeof buf) == 3 && memcmp(buf, "big", 3) == 0;
}
static void high_writer(void *arg)
{
    (void)arg;
    coro_sleep_ms(5);
    coro_write_all(high_w, "big", 3);
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur <= HIGH_FD) {
        rl.rlim_cur = rl.rlim_max > 2048 ? 2048 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur <= HIGH_FD) {
        printf("skip: RLIMIT_NOFILE hard limit %llu does not allow fd %d\n",
               (unsigned long long)rl.rlim_max, HIGH_FD);
        return 0;
    }
    CHECK(HIGH_FD >= FD_SETSIZE, "FD_SETSIZE is %d here", FD_SETSIZE);

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(dup2(p[0], HIGH_FD) == HIGH_FD, "dup2 to %d: %s", HIGH_FD, strerror(errno));
    close(p[0]);
    high_w = p[1];
    coro_fd_setup(HIGH_FD);
    coro_fd_setup(high_w);
    CHECK(pipe(low) == 0, "low pipe");
    coro_fd_setup(low[0]);
    coro_fd_setup(low[1]);

    /* Capture stderr to see the message. */
    char path[] = "/tmp/test_select_limit.XXXXXX";
    int errfd = mkstemp(path);
    CHECK(errfd >= 0, "mkstemp");
    unlink(path);
    int saved_err = dup(2);
    fflush(stderr);
    dup2(errfd, 2);

    CHECK(coro_runtime_init(0, "select") == 0, "init select");
    coro_spawn(high_user, NULL);
    coro_spawn(low_reader, NULL);
    coro_spawn(low_writer, NULL);
    int64_t left = coro_run();
    coro_runtime_destroy();

    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    char msg[1024] = {0};
    ssize_t n = pread(errfd, msg, sizeof msg - 1, 0);
    close(errfd);
    CHECK(left == 0, "select run left %lld", (long long)left);
    CHECK(rc_wait_read == -1 && e_wait_read == EINVAL, "wait_readable(%d): rc %d errno %d", HIGH_FD,
          rc_wait_read, e_wait_read);
    CHECK(rc_read == -1 && e_read == EINVAL, "read(%d): rc %d errno %d", HIGH_FD, rc_read, e_read);
    CHECK(rc_wait_write == -1 && e_wait_write == EINVAL, "wait_writable(%d): rc %d errno %d",
          HIGH_FD, rc_wait_write, e_wait_write);
    CHECK(n > 0 && strstr(msg, "select") && strstr(msg, "1500") && strstr(msg, "FD_SETSIZE"),
          "message on stderr: \"%s\"", msg);
    int lines = 0;
    for (ssize_t i = 0; i < n; i++)
        lines += msg[i] == '\n';
    CHECK(lines == 1, "message printed %d times, expected once", lines);
    OK("select: wait_readable, read and wait_writable on fd %d (>= FD_SETSIZE %d) fail with "
       "EINVAL, one message on stderr: %.*s", HIGH_FD, FD_SETSIZE, (int)n, msg);
    CHECK(low_ok, "a low fd still works");
    OK("select: the process carries on and an fd below the limit still works\n");

    FOR_EACH_BACKEND(b) {
        if (strcmp(b, "select") == 0)
            continue;
        CHECK(coro_runtime_init(0, b) == 0, "init %s", b);
        coro_fd_setup(HIGH_FD);
        high_ok = 0;
        coro_spawn(high_reader, NULL);
        coro_spawn(high_writer, NULL);
        CHECK(coro_run() == 0, "%s run", b);
        CHECK(high_ok, "%s: fd %d read", b, HIGH_FD);
        OK("%s: fd %d is an ordinary fd (read after a wait)\n", b, HIGH_FD);
        coro_runtime_destroy();
    }
    close(HIGH_FD);
    close(high_w);
    return check_finish("test_select_limit");
}
