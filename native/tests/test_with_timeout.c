/* test_with_timeout: coro_deadline_push ("with_timeout"). A sleep longer
 * than the deadline fails with ETIMEDOUT at the deadline; nested deadlines
 * keep the earliest; an expired deadline fails a wait at once. A cond wait,
 * a FIFO get and put, a mutex lock, a semaphore acquire and a
 * coro_wait_readable on a pipe that never becomes readable each time out,
 * and the primitive stays consistent afterwards: the next wake, item, lock
 * or permit reaches the next real waiter and nothing is lost. The fd case
 * runs on every backend. */
#include "coro.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "each_backend.h"

#define MS 1000000LL

/* Runs `call` under a deadline of `ms` and checks it fails with ETIMEDOUT
 * no earlier than the deadline and not absurdly late. */
#define EXPECT_TIMEOUT(ms, call, what)                                              \
    do {                                                                            \
        int64_t t0_ = coro_now_ns();                                                \
        CHECK(coro_deadline_push(ms) == 0, "push");                                 \
        errno = 0;                                                                  \
        int rc_ = (call);                                                           \
        int e_ = errno;                                                             \
        coro_deadline_pop();                                                        \
        int64_t dt_ = coro_now_ns() - t0_;                                          \
        CHECK(rc_ == -1 && e_ == ETIMEDOUT, "%s: rc %d errno %d (%s)", what, rc_, e_, \
              strerror(e_));                                                        \
        CHECK(dt_ >= (ms) * MS, "%s: timed out after %lld ns, before %d ms", what,  \
              (long long)dt_, (int)(ms));                                           \
        CHECK(dt_ < (ms) * MS + 500 * MS, "%s: timed out %lld ms late", what,      \
              (long long)(dt_ / MS - (ms)));                                        \
    } while (0)

/* ---- sleeps and nesting ------------------------------------------------ */

static void sleeps(void *arg)
{
    (void)arg;
    EXPECT_TIMEOUT(20, coro_sleep_ms(1000), "sleep 1000 ms under 20 ms");

    CHECK(coro_deadline_push(200) == 0, "push");
    CHECK(coro_sleep_ms(5) == 0, "a sleep shorter than the deadline succeeds");
    coro_deadline_pop();

    /* Outer 30 ms, inner 1000 ms: the earlier one still rules. */
    int64_t t0 = coro_now_ns();
    CHECK(coro_deadline_push(30) == 0 && coro_deadline_push(1000) == 0, "push nested");
    errno = 0;
    CHECK(coro_sleep_ms(2000) == -1 && errno == ETIMEDOUT, "nested: outer deadline fires");
    int64_t dt = coro_now_ns() - t0;
    CHECK(dt >= 30 * MS && dt < 500 * MS, "nested outer 30 ms: took %lld ms", (long long)(dt / MS));
    coro_deadline_pop();
    /* Only the outer (expired) deadline is left: a wait fails at once. */
    t0 = coro_now_ns();
    errno = 0;
    CHECK(coro_sleep_ms(100) == -1 && errno == ETIMEDOUT, "expired deadline fails at once");
    CHECK(coro_now_ns() - t0 < 5 * MS, "... without waiting");
    coro_deadline_pop();

    /* Outer 1000 ms, inner 15 ms: the inner one fires; after popping it the
     * outer allows a short sleep again. */
    t0 = coro_now_ns();
    CHECK(coro_deadline_push(1000) == 0 && coro_deadline_push(15) == 0, "push nested 2");
    errno = 0;
    CHECK(coro_sleep_ms(2000) == -1 && errno == ETIMEDOUT, "nested: inner deadline fires");
    dt = coro_now_ns() - t0;
    CHECK(dt >= 15 * MS && dt < 500 * MS, "nested inner 15 ms: took %lld ms", (long long)(dt / MS));
    coro_deadline_pop();
    CHECK(coro_sleep_ms(5) == 0, "after popping the inner deadline the outer allows a sleep");
    coro_deadline_pop();
    CHECK(coro_sleep_ms(1) == 0, "no deadline left");

    for (int i = 0; i < 16; i++)
        CHECK(coro_deadline_push(10000) == 0, "push %d", i);
    errno = 0;
    CHECK(coro_deadline_push(10000) == -1 && errno == EOVERFLOW, "17th push: EOVERFLOW");
    for (int i = 0; i < 16; i++)
        coro_deadline_pop();
    coro_deadline_pop(); /* one too many is harmless */
    CHECK(coro_sleep_ms(1) == 0, "after balanced pops");
}

/* ---- cond -------------------------------------------------------------- */

static coro_cond_t *cv;
static intptr_t cond_got;
static int cond_rc = -2;

static void cond_timed(void *arg)
{
    (void)arg;
    EXPECT_TIMEOUT(20, coro_cond_wait(cv, NULL), "cond wait");
}
static void cond_real(void *arg)
{
    (void)arg;
    cond_rc = coro_cond_wait(cv, &cond_got);
}
static void cond_waker(void *arg)
{
    (void)arg;
    CHECK(coro_cond_waiters(cv) == 2, "two waiters queued (timed one first)");
    coro_sleep_ms(50); /* the timed waiter times out meanwhile */
    CHECK(coro_cond_waiters(cv) == 1, "timed-out waiter left the queue (%lld)",
          (long long)coro_cond_waiters(cv));
    CHECK(coro_cond_wake_one(cv, 42) == 1, "wake_one reaches the real waiter");
}
static void cond_expired(void *arg)
{
    (void)arg;
    CHECK(coro_deadline_push(0) == 0, "push 0");
    errno = 0;
    CHECK(coro_cond_wait(cv, NULL) == -1 && errno == ETIMEDOUT, "expired: cond wait fails at once");
    CHECK(coro_cond_waiters(cv) == 0, "and is not left in the queue");
    coro_deadline_pop();
}

/* ---- fifo -------------------------------------------------------------- */

static coro_fifo_t *q;
static intptr_t fifo_got = -1;
static void fifo_timed_get(void *arg)
{
    (void)arg;
    intptr_t v = -1;
    EXPECT_TIMEOUT(20, coro_fifo_get(q, &v), "fifo get on an empty queue");
    CHECK(v == -1, "a timed-out get stored nothing");
}
static void fifo_real_get(void *arg)
{
    (void)arg;
    CHECK(coro_fifo_get(q, &fifo_got) == 0, "real get");
}
static void fifo_late_put(void *arg)
{
    (void)arg;
    coro_sleep_ms(50);
    CHECK(coro_fifo_put(q, 7) == 0, "put");
}
/* Full queue: a timed-out put must not insert its item. */
static void fifo_timed_put(void *arg)
{
    (void)arg;
    CHECK(coro_fifo_put(q, 1) == 0, "fill");
    EXPECT_TIMEOUT(20, coro_fifo_put(q, 2), "fifo put on a full queue");
    CHECK(coro_fifo_size(q) == 1, "size still 1");
}
static void fifo_blocked_put(void *arg)
{
    (void)arg;
    coro_sleep_ms(5); /* queue behind the timed putter */
    CHECK(coro_fifo_put(q, 3) == 0, "blocked put without deadline");
}
static intptr_t drained[4];
static int ndrained;
static void fifo_drainer(void *arg)
{
    (void)arg;
    coro_sleep_ms(50);
    intptr_t v;
    while (ndrained < 2 && coro_fifo_get(q, &v) == 0)
        drained[ndrained++] = v;
    CHECK(coro_fifo_size(q) == 0, "drained");
}

/* ---- mutex ------------------------------------------------------------- */

static coro_mutex_t *m;
static int mutex_real_got;
static void mutex_holder(void *arg)
{
    (void)arg;
    CHECK(coro_mutex_lock(m) == 0, "holder lock");
    coro_sleep_ms(50);
    CHECK(coro_mutex_unlock(m) == 0, "holder unlock");
}
static void mutex_timed(void *arg)
{
    (void)arg;
    EXPECT_TIMEOUT(20, coro_mutex_lock(m), "mutex lock");
    errno = 0;
    CHECK(coro_mutex_unlock(m) == -1 && errno == EPERM, "a timed-out locker does not own it");
}
static void mutex_real(void *arg)
{
    (void)arg;
    coro_sleep_ms(2);
    CHECK(coro_mutex_lock(m) == 0, "real lock");
    mutex_real_got = 1;
    CHECK(coro_mutex_unlock(m) == 0, "real unlock");
}

/* ---- sem --------------------------------------------------------------- */

static coro_sem_t *sem;
static int sem_real_got;
static void sem_timed(void *arg)
{
    (void)arg;
    EXPECT_TIMEOUT(20, coro_sem_acquire(sem), "sem acquire");
}
static void sem_real(void *arg)
{
    (void)arg;
    coro_sleep_ms(2);
    CHECK(coro_sem_acquire(sem) == 0, "real acquire");
    sem_real_got = 1;
}
static void sem_releaser(void *arg)
{
    (void)arg;
    coro_sleep_ms(50);
    coro_sem_release(sem); /* to sem_real */
    coro_sem_release(sem); /* nobody left: value 1 */
    CHECK(coro_sem_value(sem) == 1, "value %lld after two releases, one waiter",
          (long long)coro_sem_value(sem));
}

/* ---- fd ---------------------------------------------------------------- */

static int pipefd[2];
static int fd_real_rc = -2;
static char fd_buf[16];
static void fd_timed(void *arg)
{
    (void)arg;
    EXPECT_TIMEOUT(20, coro_wait_readable(pipefd[0]), "wait_readable on a silent pipe");
    /* Again: the fd state must allow a second wait (no EBUSY left behind). */
    EXPECT_TIMEOUT(10, coro_wait_readable(pipefd[0]), "second wait_readable on a silent pipe");
    EXPECT_TIMEOUT(10, (int)coro_read(pipefd[0], fd_buf, sizeof fd_buf), "read on a silent pipe");
}
static void fd_real(void *arg)
{
    (void)arg;
    coro_sleep_ms(60);
    int64_t n = coro_read(pipefd[0], fd_buf, sizeof fd_buf);
    fd_real_rc = (int)n;
}
static void fd_writer(void *arg)
{
    (void)arg;
    coro_sleep_ms(80);
    CHECK(coro_write_all(pipefd[1], "hello", 5) == 5, "write");
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    errno = 0;
    CHECK(coro_deadline_push(10) == -1 && errno == EPERM, "push outside a coroutine: EPERM");

    coro_spawn(sleeps, NULL);
    CHECK(coro_run() == 0, "sleeps run");
    OK("with_timeout: a 1000 ms sleep under a 20 ms deadline fails with ETIMEDOUT at "
           "20 ms; nested deadlines keep the earliest (outer and inner cases); an expired "
           "deadline fails at once; 16 levels, the 17th EOVERFLOW\n");

    cv = coro_cond_create();
    coro_spawn(cond_timed, NULL);
    coro_spawn(cond_real, NULL);
    coro_spawn(cond_waker, NULL);
    CHECK(coro_run() == 0, "cond run");
    CHECK(cond_rc == 0 && cond_got == 42, "real waiter got %ld (rc %d)", (long)cond_got, cond_rc);
    coro_spawn(cond_expired, NULL);
    CHECK(coro_run() == 0, "cond expired run");
    coro_cond_destroy(cv);
    OK("with_timeout: cond wait times out and leaves the queue; the next wake_one "
           "reaches the real waiter with its value; an expired deadline fails at once\n");

    q = coro_fifo_create(1);
    coro_spawn(fifo_timed_get, NULL);
    coro_spawn(fifo_real_get, NULL);
    coro_spawn(fifo_late_put, NULL);
    CHECK(coro_run() == 0, "fifo get run");
    CHECK(fifo_got == 7 && coro_fifo_size(q) == 0, "item reached the real getter (%ld)",
          (long)fifo_got);
    coro_spawn(fifo_timed_put, NULL);
    coro_spawn(fifo_blocked_put, NULL);
    coro_spawn(fifo_drainer, NULL);
    CHECK(coro_run() == 0, "fifo put run");
    CHECK(ndrained == 2 && drained[0] == 1 && drained[1] == 3, "drained %d: %ld %ld", ndrained,
          (long)drained[0], (long)drained[1]);
    coro_fifo_destroy(q);
    OK("with_timeout: fifo get times out and the next item reaches the next getter; a put "
           "on a full queue times out without inserting, the next blocked put's item follows\n");

    m = coro_mutex_create();
    coro_spawn(mutex_holder, NULL);
    coro_spawn(mutex_timed, NULL);
    coro_spawn(mutex_real, NULL);
    CHECK(coro_run() == 0, "mutex run");
    CHECK(mutex_real_got, "the real locker got the mutex");
    coro_mutex_destroy(m);
    OK("with_timeout: mutex lock times out without owning it; the unlock hands the "
           "mutex to the next real waiter\n");

    sem = coro_sem_create(0);
    coro_spawn(sem_timed, NULL);
    coro_spawn(sem_real, NULL);
    coro_spawn(sem_releaser, NULL);
    CHECK(coro_run() == 0, "sem run");
    CHECK(sem_real_got, "the real waiter got the permit");
    coro_sem_destroy(sem);
    OK("with_timeout: sem acquire times out; the release goes to the next real waiter "
           "and no permit is lost\n");
    CHECK(coro_runtime_destroy() == 0, "destroy runtime");

    FOR_EACH_BACKEND(b) {
        CHECK(coro_runtime_init(0, b) == 0, "init %s", b);
        CHECK(pipe(pipefd) == 0, "pipe");
        coro_fd_setup(pipefd[0]);
        coro_fd_setup(pipefd[1]);
        fd_real_rc = -2;
        coro_spawn(fd_timed, NULL);
        coro_spawn(fd_real, NULL);
        coro_spawn(fd_writer, NULL);
        CHECK(coro_run() == 0, "%s: fd run", b);
        CHECK(fd_real_rc == 5 && memcmp(fd_buf, "hello", 5) == 0, "%s: real read got %d", b,
              fd_real_rc);
        coro_close(pipefd[0]);
        coro_close(pipefd[1]);
        OK("with_timeout: %s: wait_readable and read on a silent pipe time out (twice, no "
               "EBUSY left); a later reader on the same fd gets the data\n", b);
        CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    }

    return check_finish("test_with_timeout");
}
