/* test_sync_sem: a counting semaphore bounds concurrency, hands a released
 * permit straight to the oldest waiter (value stays 0), and ends with its
 * initial value. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define PERMITS 3
#define NWORKERS 12

static coro_sem_t *sem;
static int inside, max_inside, done;

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < 4; r++) {
        CHECK(coro_sem_acquire(sem) == 0, "acquire");
        inside++;
        if (inside > max_inside)
            max_inside = inside;
        CHECK(inside <= PERMITS, "%d inside", inside);
        coro_sleep_ms(id % 3);
        inside--;
        coro_sem_release(sem);
    }
    done++;
}

static char seq[8];
static int nseq;
static void fifo_waiter(void *arg)
{
    char name = (char)(intptr_t)arg;
    CHECK(coro_sem_acquire(sem) == 0, "%c acquire", name);
    seq[nseq++] = name;
}
static void fifo_releaser(void *arg)
{
    (void)arg;
    CHECK(coro_sem_value(sem) == 0, "value 0 while waiters queue");
    coro_sem_release(sem);
    CHECK(coro_sem_value(sem) == 0, "a release with a waiter hands the permit over (value %lld)",
          (long long)coro_sem_value(sem));
    /* The woken waiter has not run yet, but the permit is already its own:
     * an acquire here must not steal it. */
    errno = 0;
    coro_sem_release(sem);
    coro_sem_release(sem);
    CHECK(coro_sem_value(sem) == 0, "three releases, three waiters: value 0");
    coro_sem_release(sem);
    CHECK(coro_sem_value(sem) == 1, "fourth release with no waiter: value 1");
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    errno = 0;
    CHECK(coro_sem_create(-1) == NULL && errno == EINVAL, "negative initial value: EINVAL");

    sem = coro_sem_create(PERMITS);
    CHECK(sem && coro_sem_value(sem) == PERMITS, "create");
    for (int i = 0; i < NWORKERS; i++)
        coro_spawn(worker, (void *)(intptr_t)i);
    CHECK(coro_run() == 0, "workers finish");
    CHECK(done == NWORKERS, "done %d", done);
    CHECK(max_inside == PERMITS, "max concurrency %d, expected %d", max_inside, PERMITS);
    CHECK(coro_sem_value(sem) == PERMITS, "value back to %d: %lld", PERMITS,
          (long long)coro_sem_value(sem));
    OK("sem: %d workers on %d permits: at most %d inside (reached), value back to %d\n",
           NWORKERS, PERMITS, PERMITS, PERMITS);
    coro_sem_destroy(sem);

    sem = coro_sem_create(0);
    coro_spawn(fifo_waiter, (void *)(intptr_t)'A');
    coro_spawn(fifo_waiter, (void *)(intptr_t)'B');
    coro_spawn(fifo_waiter, (void *)(intptr_t)'C');
    coro_spawn(fifo_releaser, NULL);
    CHECK(coro_run() == 0, "fifo run");
    seq[nseq] = 0;
    CHECK(nseq == 3 && seq[0] == 'A' && seq[1] == 'B' && seq[2] == 'C', "order %s", seq);
    OK("sem: release hands the permit to the oldest waiter (value stays 0), order %s\n", seq);

    /* Non-blocking use from the scheduler stack. */
    CHECK(coro_sem_acquire(sem) == 0 && coro_sem_value(sem) == 0, "acquire outside, value 1");
    errno = 0;
    CHECK(coro_sem_acquire(sem) == -1 && errno == EPERM, "acquire that would block outside: EPERM");
    OK("sem: acquire on the scheduler stack works when a permit is free, else EPERM\n");
    coro_sem_destroy(sem);

    CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    return check_finish("test_sync_sem");
}
