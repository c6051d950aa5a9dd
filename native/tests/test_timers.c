/* test_timers: many sleeps with random durations wake in deadline order and
 * never early; user timers (coro_timer_*) fire in time order, cancelled ones
 * never fire, and a callback may arm and cancel timers; coro_sleep_until_ns
 * with a past time returns at once and with a future one not before it. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define MS 1000000LL

/* ---- sleeps ------------------------------------------------------------ */

#define NSLEEPERS 500
static int64_t target_ns[NSLEEPERS];
static int woke[NSLEEPERS], nwoke;
static int early;

static void sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    CHECK(coro_sleep_until_ns(target_ns[i]) == 0, "sleep %d", i);
    if (coro_now_ns() < target_ns[i])
        early++;
    woke[nwoke++] = i;
}

/* A few use the relative form; they must not wake before their time. */
static int rel_early;
static void rel_sleeper(void *arg)
{
    int64_t ms = (int64_t)(intptr_t)arg;
    int64_t t0 = coro_now_ns();
    CHECK(coro_sleep_ms(ms) == 0, "sleep_ms");
    if (coro_now_ns() - t0 < ms * MS)
        rel_early++;
}

/* ---- user timers ------------------------------------------------------- */

#define NTIMERS 300
static coro_timer_t *timers[NTIMERS];
static int64_t timer_when[NTIMERS];
static int fired[NTIMERS], fire_order[NTIMERS], nfired;
static int fired_early;
static int chained_fired;
static coro_timer_t *victim;
static int victim_fired;

static void on_timer(void *arg)
{
    int i = (int)(intptr_t)arg;
    fired[i]++;
    fire_order[nfired++] = i;
    if (coro_now_ns() < timer_when[i])
        fired_early++;
    timers[i] = NULL; /* freed by the runtime after this callback */
}

static void on_chained(void *arg)
{
    (void)arg;
    chained_fired++;
}

static void on_victim(void *arg)
{
    (void)arg;
    victim_fired++;
}

/* Arms a follow-up timer and cancels a timer that is not due yet. */
static void on_arming(void *arg)
{
    (void)arg;
    CHECK(coro_timer_after_ms(5, on_chained, NULL) != NULL, "arm from a callback");
    coro_timer_cancel(victim);
    victim = NULL;
}

static void keep_alive(void *arg)
{
    /* coro_run ends when no coroutine is alive; timers alone do not count. */
    coro_sleep_ms((int64_t)(intptr_t)arg);
}

/* ---- destroy with armed timers ----------------------------------------- */

static void long_sleeper(void *arg)
{
    (void)arg;
    coro_sleep_ms(10000);
}

static coro_cond_t *never_signalled;
static void deadline_waiter(void *arg)
{
    (void)arg;
    coro_deadline_push(10000);
    coro_cond_wait(never_signalled, NULL); /* never returns: the runtime is destroyed */
}

static void stopper(void *arg)
{
    (void)arg;
    coro_sleep_ms(5);
    coro_loop_stop();
}

/* ---- sleep_until ------------------------------------------------------- */

static void until_checker(void *arg)
{
    (void)arg;
    int64_t t0 = coro_now_ns();
    CHECK(coro_sleep_until_ns(t0 - 1000 * MS) == 0, "sleep_until in the past");
    CHECK(coro_sleep_until_ns(0) == 0, "sleep_until(0)");
    CHECK(coro_now_ns() - t0 < 5 * MS, "a past time returns at once (%lld ns)",
          (long long)(coro_now_ns() - t0));
    int64_t target = coro_now_ns() + 15 * MS;
    CHECK(coro_sleep_until_ns(target) == 0, "sleep_until future");
    int64_t late = coro_now_ns() - target;
    CHECK(late >= 0, "woke %lld ns early", (long long)-late);
    CHECK(late < 500 * MS, "woke %lld ms late", (long long)(late / MS));
    CHECK(coro_sleep_ms(-5) == 0, "negative sleep is no sleep");
}

int main(void)
{
    srand(12345);
    CHECK(coro_runtime_init(0, NULL) == 0, "init");

    int64_t base = coro_now_ns() + 5 * MS;
    for (int i = 0; i < NSLEEPERS; i++) {
        target_ns[i] = base + (int64_t)(rand() % 60000) * 1000; /* 0..60 ms in us steps */
        coro_spawn(sleeper, (void *)(intptr_t)i);
    }
    for (int i = 0; i < 20; i++)
        coro_spawn(rel_sleeper, (void *)(intptr_t)(rand() % 30));
    CHECK(coro_run() == 0, "sleepers run");
    CHECK(nwoke == NSLEEPERS, "woke %d", nwoke);
    int unordered = 0;
    for (int i = 1; i < nwoke; i++)
        if (target_ns[woke[i]] < target_ns[woke[i - 1]])
            unordered++;
    CHECK(unordered == 0, "%d wakes out of deadline order", unordered);
    CHECK(early == 0 && rel_early == 0, "%d + %d woke early", early, rel_early);
    OK("timers: %d sleeps with random deadlines over 60 ms woke in deadline order, none "
           "early; 20 relative sleeps none early\n", NSLEEPERS);

    base = coro_now_ns() + 5 * MS;
    for (int i = 0; i < NTIMERS; i++) {
        timer_when[i] = base + (int64_t)(rand() % 40000) * 1000;
        timers[i] = coro_timer_at_ns(timer_when[i], on_timer, (void *)(intptr_t)i);
        CHECK(timers[i] != NULL, "timer_at");
    }
    int cancelled = 0;
    for (int i = 0; i < NTIMERS; i += 3) {
        coro_timer_cancel(timers[i]);
        timers[i] = NULL;
        cancelled++;
    }
    victim = coro_timer_after_ms(30, on_victim, NULL);
    CHECK(coro_timer_after_ms(10, on_arming, NULL) != NULL, "arming timer");
    errno = 0;
    CHECK(coro_timer_at_ns(0, NULL, NULL) == NULL && errno == EINVAL, "NULL callback: EINVAL");
    coro_spawn(keep_alive, (void *)(intptr_t)60);
    CHECK(coro_run() == 0, "timers run");
    int wrong = 0, order_bad = 0;
    for (int i = 0; i < NTIMERS; i++)
        if (fired[i] != (i % 3 ? 1 : 0))
            wrong++;
    for (int i = 1; i < nfired; i++)
        if (timer_when[fire_order[i]] < timer_when[fire_order[i - 1]])
            order_bad++;
    CHECK(wrong == 0, "%d timers fired the wrong number of times", wrong);
    CHECK(nfired == NTIMERS - cancelled, "fired %d", nfired);
    CHECK(order_bad == 0, "%d timers out of order", order_bad);
    CHECK(fired_early == 0, "%d fired early", fired_early);
    CHECK(chained_fired == 1, "timer armed in a callback fired %d times", chained_fired);
    CHECK(victim_fired == 0, "timer cancelled in a callback fired");
    OK("timers: %d user timers fired once each in time order, none early; %d cancelled "
           "never fired; a callback armed one (fired) and cancelled one (did not fire)\n",
           NTIMERS - cancelled, cancelled);

    coro_spawn(until_checker, NULL);
    CHECK(coro_run() == 0, "until run");
    errno = 0;
    CHECK(coro_sleep_ms(1) == -1 && errno == EPERM, "sleep outside a coroutine: EPERM");
    OK("timers: sleep_until_ns with a past time returns at once, with a future time "
           "not before it; sleep outside a coroutine: EPERM\n");

    /* Destroying the runtime with timers still armed: a user timer, a
     * sleeping coroutine and one waiting under a deadline (their timers live
     * inside struct coro). Needs ASan or valgrind to fail: a destroy that
     * freed the coroutines before the timer heap read freed memory. */
    coro_timer_after_ms(10000, on_chained, NULL);
    coro_spawn(long_sleeper, NULL);
    never_signalled = coro_cond_create();
    coro_spawn(deadline_waiter, NULL);
    coro_spawn(stopper, NULL);
    CHECK(coro_run() == 2, "stopped with two coroutines asleep");
    CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    /* Its waiter died with the runtime: destroy must not touch it. */
    coro_cond_destroy(never_signalled);
    OK("timers: the runtime is destroyed cleanly with a user timer, a sleeper and a deadline "
       "waiter still armed\n");
    return check_finish("test_timers");
}
