/* test_sync_mutex: mutual exclusion across blocking calls inside the
 * critical section, FIFO hand-off (an unlocker that relocks at once queues
 * behind the waiters), EDEADLK, EPERM, trylock. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define NWORKERS 8
#define ROUNDS 50

static coro_mutex_t *m;
static int inside, max_inside, entries;
static int order[NWORKERS * ROUNDS], norder;

/* Each worker takes the lock ROUNDS times and blocks (yield or sleep 0)
 * while holding it: nobody else may get in meanwhile. */
static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        CHECK(coro_mutex_lock(m) == 0, "lock");
        inside++;
        if (inside > max_inside)
            max_inside = inside;
        order[norder++] = id;
        if (r % 2)
            coro_yield_now();
        else
            coro_sleep_ms(0);
        entries++;
        inside--;
        CHECK(coro_mutex_unlock(m) == 0, "unlock");
    }
}

static void errors(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK(coro_mutex_unlock(m) == -1 && errno == EPERM, "unlock while unlocked: EPERM");
    CHECK(coro_mutex_lock(m) == 0, "lock");
    errno = 0;
    CHECK(coro_mutex_lock(m) == -1 && errno == EDEADLK, "relock by the owner: EDEADLK");
    errno = 0;
    CHECK(coro_mutex_trylock(m) == -1 && errno == EDEADLK, "trylock by the owner: EDEADLK");
    coro_yield_now(); /* let the intruder try */
    CHECK(coro_mutex_unlock(m) == 0, "unlock");
    CHECK(coro_mutex_trylock(m) == 0, "trylock when free");
    CHECK(coro_mutex_unlock(m) == 0, "unlock after trylock");
}

static void intruder(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK(coro_mutex_unlock(m) == -1 && errno == EPERM, "unlock by a non-owner: EPERM");
    errno = 0;
    CHECK(coro_mutex_trylock(m) == -1 && errno == EBUSY, "trylock while held: EBUSY");
}

/* Hand-off: A holds; B and C queue; A unlocks and at once tries again.
 * Ownership must already be B's (trylock EBUSY), and A's lock must come
 * after C's. */
static char seq[8];
static int nseq;

static void handoff_a(void *arg)
{
    (void)arg;
    CHECK(coro_mutex_lock(m) == 0, "A lock");
    seq[nseq++] = 'A';
    coro_yield_now(); /* B and C queue up */
    coro_yield_now();
    CHECK(coro_mutex_unlock(m) == 0, "A unlock");
    errno = 0;
    CHECK(coro_mutex_trylock(m) == -1 && errno == EBUSY, "after a hand-off to B, trylock is EBUSY");
    CHECK(coro_mutex_lock(m) == 0, "A relock");
    seq[nseq++] = 'a';
    CHECK(coro_mutex_unlock(m) == 0, "A unlock 2");
}

static void handoff_other(void *arg)
{
    char name = (char)(intptr_t)arg;
    CHECK(coro_mutex_lock(m) == 0, "%c lock", name);
    seq[nseq++] = name;
    coro_yield_now();
    CHECK(coro_mutex_unlock(m) == 0, "%c unlock", name);
}

static int cancel_rc, cancel_errno;
static void holder(void *arg)
{
    (void)arg;
    CHECK(coro_mutex_lock(m) == 0, "holder lock");
    coro_sleep_ms(5);
    /* the mutex is destroyed under the waiter; do not unlock it */
}
static void doomed_locker(void *arg)
{
    (void)arg;
    cancel_rc = coro_mutex_lock(m);
    cancel_errno = errno;
}
static void mutex_killer(void *arg)
{
    (void)arg;
    coro_mutex_destroy(m);
    m = NULL;
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    m = coro_mutex_create();
    CHECK(m != NULL, "create");

    for (int i = 0; i < NWORKERS; i++)
        coro_spawn(worker, (void *)(intptr_t)i);
    CHECK(coro_run() == 0, "workers finish");
    CHECK(max_inside == 1, "at most one inside (saw %d)", max_inside);
    CHECK(entries == NWORKERS * ROUNDS, "entries %d", entries);
    /* With FIFO hand-off and every worker always queued, entries rotate
     * strictly 0,1,...,7,0,1,... */
    int fifo = 1;
    for (int i = 0; i < norder; i++)
        if (order[i] != i % NWORKERS)
            fifo = 0;
    CHECK(fifo, "strict round-robin entry order under contention");
    OK("mutex: %d workers x %d rounds blocking inside the lock: never two inside, "
           "entries rotate in FIFO order\n", NWORKERS, ROUNDS);

    coro_spawn(errors, NULL);
    coro_spawn(intruder, NULL);
    CHECK(coro_run() == 0, "errors run");
    OK("mutex: EPERM for unlock by a non-owner and when unlocked, EDEADLK for relock "
           "and trylock by the owner, EBUSY for trylock while held\n");

    coro_spawn(handoff_a, NULL);
    coro_spawn(handoff_other, (void *)(intptr_t)'B');
    coro_spawn(handoff_other, (void *)(intptr_t)'C');
    CHECK(coro_run() == 0, "hand-off run");
    seq[nseq] = 0;
    CHECK(nseq == 4 && seq[0] == 'A' && seq[1] == 'B' && seq[2] == 'C' && seq[3] == 'a',
          "hand-off order %s", seq);
    OK("mutex: unlock hands off to the oldest waiter; the unlocker's relock queues "
           "behind (order %s)\n", seq);

    errno = 0;
    CHECK(coro_mutex_lock(m) == -1 && errno == EPERM, "lock outside a coroutine: EPERM");
    OK("mutex: lock on the scheduler stack fails with EPERM\n");

    coro_spawn(holder, NULL);
    coro_spawn(doomed_locker, NULL);
    coro_spawn(mutex_killer, NULL);
    CHECK(coro_run() == 0, "destroy run");
    CHECK(cancel_rc == -1 && cancel_errno == ECANCELED, "destroy wakes a waiter with ECANCELED");
    OK("mutex: destroying it wakes a waiter with ECANCELED\n");

    CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    return check_finish("test_sync_mutex");
}
