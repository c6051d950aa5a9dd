/* test_sync_fifo: producer/consumer through a bounded queue (order kept,
 * size never above capacity, the producer really blocks on a full queue),
 * blocking put on a full queue with FIFO order of the blocked items,
 * several producers and consumers, and direct hand-off to a waiting getter. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define CAP 4
#define ITEMS 20000

static coro_fifo_t *q;
static int64_t produced, consumed, max_size, blocked_puts, bad_order;

static void producer(void *arg)
{
    (void)arg;
    for (int64_t i = 1; i <= ITEMS; i++) {
        int full = coro_fifo_size(q) == CAP;
        CHECK(coro_fifo_put(q, (intptr_t)i) == 0, "put %lld", (long long)i);
        if (full)
            blocked_puts++;
        produced++;
        if (coro_fifo_size(q) > max_size)
            max_size = coro_fifo_size(q);
    }
}

static void consumer(void *arg)
{
    (void)arg;
    for (int64_t i = 1; i <= ITEMS; i++) {
        intptr_t v = 0;
        CHECK(coro_fifo_get(q, &v) == 0, "get");
        if (v != i)
            bad_order++;
        consumed++;
        /* The producer can be at most CAP items ahead, +1 for the item a
         * blocked put hands over when a slot frees. */
        CHECK(produced - consumed <= CAP + 1, "producer ahead by %lld",
              (long long)(produced - consumed));
        if (i % 7 == 0)
            coro_yield_now();
    }
}

/* Blocking put on a full queue: cap 2 holds 1,2; puts of 3 and 4 block; the
 * gets must see 1,2,3,4 in order. */
static int seq[8], nseq, put_done[8];
static coro_fifo_t *q2;
static void blocked_putter(void *arg)
{
    intptr_t v = (intptr_t)arg;
    CHECK(coro_fifo_put(q2, v) == 0, "blocked put %ld", (long)v);
    put_done[v] = 1;
}
static void getter2(void *arg)
{
    (void)arg;
    CHECK(coro_fifo_put(q2, 1) == 0 && coro_fifo_put(q2, 2) == 0, "fill");
    coro_yield_now(); /* putters 3 and 4 run and block */
    CHECK(coro_fifo_size(q2) == 2 && !put_done[3] && !put_done[4], "puts block on a full queue");
    for (int i = 0; i < 4; i++) {
        intptr_t v = 0;
        CHECK(coro_fifo_get(q2, &v) == 0, "get");
        seq[nseq++] = (int)v;
        CHECK(coro_fifo_size(q2) <= 2, "size %lld", (long long)coro_fifo_size(q2));
    }
    CHECK(coro_fifo_size(q2) == 0, "empty at the end");
}

/* Several producers and consumers: every item is delivered exactly once. */
#define NPROD 5
#define NCONS 3
#define PER_PROD 3000
static coro_fifo_t *q3;
static unsigned char seen[NPROD * PER_PROD];
static int64_t dup_items, got_items;
static coro_latch_t *producers_done;
static void mp_producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < PER_PROD; i++) {
        CHECK(coro_fifo_put(q3, (intptr_t)(p * PER_PROD + i)) == 0, "mp put");
        if (i % 13 == p)
            coro_sleep_ms(0);
    }
    coro_latch_count_down(producers_done);
}
static void mp_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        intptr_t v;
        CHECK(coro_fifo_get(q3, &v) == 0, "mp get");
        if (v < 0)
            return; /* stop marker */
        if (seen[v])
            dup_items++;
        seen[v] = 1;
        got_items++;
    }
}
static void mp_closer(void *arg)
{
    (void)arg;
    CHECK(coro_latch_wait(producers_done) == 0, "latch");
    for (int i = 0; i < NCONS; i++)
        CHECK(coro_fifo_put(q3, -1) == 0, "stop marker");
}

/* A getter waiting on an empty queue gets the next item directly; the
 * queue's size stays 0. */
static intptr_t direct_got;
static void direct_getter(void *arg)
{
    (void)arg;
    CHECK(coro_fifo_get(q, &direct_got) == 0, "direct get");
}
static void direct_putter(void *arg)
{
    (void)arg;
    CHECK(coro_fifo_put(q, 77) == 0, "direct put");
    CHECK(coro_fifo_size(q) == 0, "an item for a waiting getter skips the ring");
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    errno = 0;
    CHECK(coro_fifo_create(0) == NULL && errno == EINVAL, "capacity 0: EINVAL");

    q = coro_fifo_create(CAP);
    coro_spawn(producer, NULL);
    coro_spawn(consumer, NULL);
    CHECK(coro_run() == 0, "producer/consumer run");
    CHECK(consumed == ITEMS && bad_order == 0, "consumed %lld, %lld out of order",
          (long long)consumed, (long long)bad_order);
    CHECK(max_size <= CAP, "max size %lld", (long long)max_size);
    CHECK(blocked_puts > 0, "the producer never found the queue full");
    OK("fifo: %d items through a queue of %d in order; size <= %d; the producer "
           "blocked on a full queue %lld times\n", ITEMS, CAP, CAP, (long long)blocked_puts);

    q2 = coro_fifo_create(2);
    coro_spawn(getter2, NULL);
    coro_spawn(blocked_putter, (void *)(intptr_t)3);
    coro_spawn(blocked_putter, (void *)(intptr_t)4);
    CHECK(coro_run() == 0, "blocked put run");
    CHECK(nseq == 4 && seq[0] == 1 && seq[1] == 2 && seq[2] == 3 && seq[3] == 4,
          "order %d %d %d %d", seq[0], seq[1], seq[2], seq[3]);
    CHECK(put_done[3] && put_done[4], "blocked puts completed");
    OK("fifo: puts on a full queue block, and their items follow in FIFO order (1 2 3 4)\n");
    coro_fifo_destroy(q2);

    q3 = coro_fifo_create(8);
    producers_done = coro_latch_create(NPROD);
    for (int i = 0; i < NCONS; i++)
        coro_spawn(mp_consumer, NULL);
    for (int i = 0; i < NPROD; i++)
        coro_spawn(mp_producer, (void *)(intptr_t)i);
    coro_spawn(mp_closer, NULL);
    CHECK(coro_run() == 0, "mp run");
    int missing = 0;
    for (int i = 0; i < NPROD * PER_PROD; i++)
        missing += !seen[i];
    CHECK(got_items == NPROD * PER_PROD && dup_items == 0 && missing == 0,
          "got %lld dup %lld missing %d", (long long)got_items, (long long)dup_items, missing);
    OK("fifo: %d producers x %d items, %d consumers: every item delivered exactly once\n",
           NPROD, PER_PROD, NCONS);
    coro_fifo_destroy(q3);
    coro_latch_destroy(producers_done);

    coro_spawn(direct_getter, NULL);
    coro_spawn(direct_putter, NULL);
    CHECK(coro_run() == 0 && direct_got == 77, "direct hand-off got %ld", (long)direct_got);
    OK("fifo: put to a waiting getter hands the item over directly\n");

    /* Non-blocking use from the scheduler stack. */
    intptr_t v = 0;
    CHECK(coro_fifo_put(q, 5) == 0 && coro_fifo_get(q, &v) == 0 && v == 5, "outside a coroutine");
    errno = 0;
    CHECK(coro_fifo_get(q, &v) == -1 && errno == EPERM, "get from an empty queue outside: EPERM");
    for (int i = 0; i < CAP; i++)
        coro_fifo_put(q, i);
    errno = 0;
    CHECK(coro_fifo_put(q, 9) == -1 && errno == EPERM, "put to a full queue outside: EPERM");
    CHECK(coro_fifo_size(q) == CAP, "size %lld", (long long)coro_fifo_size(q));
    OK("fifo: put/get on the scheduler stack work unless they would block (EPERM)\n");
    coro_fifo_destroy(q);

    CHECK(coro_runtime_destroy() == 0, "destroy runtime");
    return check_finish("test_sync_fifo");
}
