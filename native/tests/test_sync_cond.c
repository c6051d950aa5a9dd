/* test_sync_cond: condition variable wait / wake_one / wake_all with values,
 * FIFO wake order, waiter counts, EPERM outside a coroutine, and waiters
 * woken with ECANCELED when the variable is destroyed under them. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define NWAIT 5

static coro_cond_t *cv;
static intptr_t got[NWAIT];
static int order[NWAIT], norder;
static int rcs[NWAIT], errs[NWAIT];

static void waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    intptr_t v = -1;
    rcs[i] = coro_cond_wait(cv, &v);
    errs[i] = rcs[i] < 0 ? errno : 0;
    got[i] = v;
    order[norder++] = i;
}

static void waker(void *arg)
{
    (void)arg;
    /* Every waiter was spawned first and is queued by now. */
    CHECK(coro_cond_waiters(cv) == NWAIT, "waiters %lld", (long long)coro_cond_waiters(cv));
    CHECK(coro_cond_wake_one(cv, 100) == 1, "wake_one count");
    CHECK(coro_cond_wake_one(cv, 101) == 1, "wake_one count");
    CHECK(coro_cond_waiters(cv) == NWAIT - 2, "waiters after 2 wake_one");
    coro_yield_now();
    CHECK(norder == 2 && order[0] == 0 && order[1] == 1, "wake_one woke the oldest first");
    CHECK(got[0] == 100 && got[1] == 101, "wake_one values %ld %ld", (long)got[0], (long)got[1]);
    CHECK(coro_cond_wake_all(cv, 200) == NWAIT - 2, "wake_all count");
    CHECK(coro_cond_waiters(cv) == 0, "no waiters after wake_all");
    CHECK(coro_cond_wake_one(cv, 1) == 0, "wake_one with no waiter returns 0");
    CHECK(coro_cond_wake_all(cv, 1) == 0, "wake_all with no waiter returns 0");
}

static void null_value_waiter(void *arg)
{
    (void)arg;
    rcs[0] = coro_cond_wait(cv, NULL);
}

static void null_value_waker(void *arg)
{
    (void)arg;
    CHECK(coro_cond_wake_one(cv, 5) == 1, "wake NULL-value waiter");
}

static void doomed_waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    rcs[i] = coro_cond_wait(cv, NULL);
    errs[i] = rcs[i] < 0 ? errno : 0;
}

static void destroyer(void *arg)
{
    (void)arg;
    coro_cond_destroy(cv);
    cv = NULL;
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");

    cv = coro_cond_create();
    CHECK(cv != NULL, "create");
    for (int i = 0; i < NWAIT; i++)
        coro_spawn(waiter, (void *)(intptr_t)i);
    coro_spawn(waker, NULL);
    CHECK(coro_run() == 0, "run to completion");
    int ok_all = norder == NWAIT;
    for (int i = 0; i < NWAIT; i++) {
        CHECK(rcs[i] == 0, "waiter %d rc %d", i, rcs[i]);
        CHECK(order[i] == i, "wake order[%d] = %d", i, order[i]);
        if (i >= 2)
            CHECK(got[i] == 200, "wake_all value for %d: %ld", i, (long)got[i]);
    }
    CHECK(ok_all, "all %d waiters woke (%d)", NWAIT, norder);
    OK("cond: wake_one wakes the oldest waiter with its value, twice; wake_all wakes "
           "the other %d with theirs; counts and waiters() are exact\n", NWAIT - 2);

    rcs[0] = -1;
    coro_spawn(null_value_waiter, NULL);
    coro_spawn(null_value_waker, NULL);
    CHECK(coro_run() == 0 && rcs[0] == 0, "wait with a NULL value pointer");
    OK("cond: wait(NULL) is woken normally\n");

    errno = 0;
    CHECK(coro_cond_wait(cv, NULL) == -1 && errno == EPERM, "wait outside a coroutine: EPERM");
    OK("cond: wait on the scheduler stack fails with EPERM\n");

    for (int i = 0; i < 3; i++) {
        rcs[i] = 0;
        coro_spawn(doomed_waiter, (void *)(intptr_t)i);
    }
    coro_spawn(destroyer, NULL);
    CHECK(coro_run() == 0, "destroy wakes everyone");
    for (int i = 0; i < 3; i++)
        CHECK(rcs[i] == -1 && errs[i] == ECANCELED, "waiter %d: rc %d errno %d", i, rcs[i], errs[i]);
    OK("cond: destroying it wakes its 3 waiters with ECANCELED\n");

    /* Deadlock detection: a lone waiter with nobody to wake it ends coro_run. */
    cv = coro_cond_create();
    coro_spawn(doomed_waiter, (void *)(intptr_t)0);
    CHECK(coro_run() == 1, "a forgotten waiter is reported as still alive");
    coro_cond_destroy(cv);
    CHECK(coro_run() == 0, "then woken by destroy");
    OK("cond: coro_run returns 1 for a waiter nobody can wake\n");

    CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    return check_finish("test_sync_cond");
}
