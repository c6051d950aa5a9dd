/* test_sync_latch: waiters are released only by the count_down that reaches
 * zero, all at once; a wait after that returns at once; count_down at zero
 * is a no-op. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define COUNT 3
#define NWAIT 6

static coro_latch_t *latch;
static int counted, released, released_before_zero;

static void waiter(void *arg)
{
    (void)arg;
    CHECK(coro_latch_wait(latch) == 0, "wait");
    if (counted < COUNT)
        released_before_zero++;
    released++;
}

static void counter(void *arg)
{
    int delay = (int)(intptr_t)arg;
    coro_sleep_ms(delay);
    counted++;
    coro_latch_count_down(latch);
    /* Let any wrongly released waiter run before the next count_down. */
    coro_yield_now();
}

static void late_waiter(void *arg)
{
    (void)arg;
    coro_sleep_ms(20);
    int64_t t0 = coro_now_ns();
    CHECK(coro_latch_wait(latch) == 0, "late wait");
    CHECK(coro_now_ns() - t0 < 1000000, "a wait on an open latch returns at once");
    coro_latch_count_down(latch); /* no-op at zero */
    CHECK(coro_latch_wait(latch) == 0, "still open after an extra count_down");
    released++;
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    errno = 0;
    CHECK(coro_latch_create(-1) == NULL && errno == EINVAL, "negative count: EINVAL");

    latch = coro_latch_create(COUNT);
    CHECK(latch != NULL, "create");
    for (int i = 0; i < NWAIT; i++)
        coro_spawn(waiter, NULL);
    for (int i = 0; i < COUNT; i++)
        coro_spawn(counter, (void *)(intptr_t)(2 + 3 * i));
    coro_spawn(late_waiter, NULL);
    CHECK(coro_run() == 0, "run");
    CHECK(released == NWAIT + 1, "released %d", released);
    CHECK(released_before_zero == 0, "%d released before the count reached zero",
          released_before_zero);
    OK("latch: %d waiters released only by count_down number %d, all of them; a later "
           "wait returns at once; count_down at zero is a no-op\n", NWAIT, COUNT);
    coro_latch_destroy(latch);

    latch = coro_latch_create(0);
    CHECK(coro_latch_wait(latch) == 0, "latch(0) is open, even on the scheduler stack");
    coro_latch_destroy(latch);
    latch = coro_latch_create(1);
    errno = 0;
    CHECK(coro_latch_wait(latch) == -1 && errno == EPERM, "closed latch outside a coroutine: EPERM");
    coro_latch_count_down(latch);
    CHECK(coro_latch_wait(latch) == 0, "count_down from the scheduler stack opens it");
    coro_latch_destroy(latch);
    OK("latch: latch(0) is open; waits on the scheduler stack: EPERM when closed; "
           "count_down works there\n");

    CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    return check_finish("test_sync_latch");
}
