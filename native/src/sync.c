/*
 * sync.c - condition variable, mutex, semaphore, latch and bounded FIFO for
 * coroutines, on the intrusive wait queues of runtime.h.
 *
 * One invariant makes every primitive here safe against timeouts: a
 * coroutine is linked into a primitive's wait queue exactly while it is
 * CORO_WAITING on that primitive. A waker unlinks the waiter before calling
 * coro__wake; a deadline calls wait_cancel, which unlinks it, before it
 * makes the coroutine runnable. So anything handed over at wake time (a cond
 * value, mutex ownership, a semaphore permit, a FIFO item) only ever goes to
 * a coroutine that is still waiting, and a waiter that timed out never
 * received anything and has nothing to give back.
 *
 * Values handed over live in struct coro, never on a coroutine's stack (see
 * the ownership rule in runtime.h): c->wake_value carries a cond value or a
 * FIFO item to a woken getter, and the item of a putter blocked on a full
 * FIFO until a getter moves it into the ring. wake_value is free for this
 * because a coroutine waiting here is not in coro_yield, the only other user.
 *
 * After coro__block returns, a waiter does not touch the primitive again:
 * destroying a primitive wakes its remaining waiters with ECANCELED and
 * frees it at once.
 *
 * Blocking calls need a coroutine (EPERM otherwise). Calls that never block
 * (wake, release, count_down, and put/get/acquire/wait when they can finish
 * at once) also work on the scheduler stack, e.g. from a timer callback.
 */
#include "runtime.h"

#include <errno.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */

/* The running coroutine, or NULL with errno EPERM on the scheduler stack
 * (ENOENT without a runtime). */
static struct coro *current_or_eperm(void)
{
    struct coro *c = coro__rt ? coro__rt->current : NULL;
    if (!c)
        coro__not_in_coroutine();
    return c;
}

/* Removes the oldest waiter from q and returns it (NULL if none). */
static struct coro *waitq_pop(coro_waitq_t *q)
{
    struct coro *c = coro__waitq_front(q);
    if (c)
        coro__waitq_unlink(q, c);
    return c;
}

/* wait_cancel for every primitive: wait_obj is the queue the coroutine is
 * linked into. Runs when the deadline fires, before the coroutine resumes. */
static void waitq_cancel(struct coro *c)
{
    coro__waitq_unlink((coro_waitq_t *)c->wait_obj, c);
}

/* Links the running coroutine c into q and blocks until a waker unlinks it
 * (0) or the deadline does (-1, ETIMEDOUT) or the primitive is destroyed
 * (-1, ECANCELED). */
static int waitq_block(coro_waitq_t *q, struct coro *c)
{
    coro__waitq_push(q, c);
    c->wait_obj = q;
    c->wait_cancel = waitq_cancel;
    return coro__block();
}

/* Wakes every waiter of q with err (primitive destruction). Without a
 * runtime the coroutines are gone already and the links must not be read. */
static void waitq_cancel_all(coro_waitq_t *q, int err)
{
    if (!coro__rt)
        return;
    struct coro *c;
    while ((c = waitq_pop(q)))
        coro__wake(c, err);
}

/* ------------------------------------------------------------------------ */
/* Condition variable                                                        */

struct coro_cond {
    coro_waitq_t waiters;
};

coro_cond_t *coro_cond_create(void)
{
    coro_cond_t *cv = malloc(sizeof *cv);
    if (!cv) {
        errno = ENOMEM;
        return NULL;
    }
    coro__waitq_init(&cv->waiters);
    return cv;
}

void coro_cond_destroy(coro_cond_t *cv)
{
    if (!cv)
        return;
    waitq_cancel_all(&cv->waiters, ECANCELED);
    free(cv);
}

int coro_cond_wait(coro_cond_t *cv, intptr_t *value)
{
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    if (waitq_block(&cv->waiters, c) < 0)
        return -1;
    if (value)
        *value = c->wake_value;
    return 0;
}

static void cond_wake(struct coro *c, intptr_t value)
{
    c->wake_value = value;
    coro__wake(c, 0);
}

int64_t coro_cond_wake_one(coro_cond_t *cv, intptr_t value)
{
    struct coro *c = waitq_pop(&cv->waiters);
    if (!c)
        return 0;
    cond_wake(c, value);
    return 1;
}

int64_t coro_cond_wake_all(coro_cond_t *cv, intptr_t value)
{
    int64_t n = 0;
    struct coro *c;
    while ((c = waitq_pop(&cv->waiters))) {
        cond_wake(c, value);
        n++;
    }
    return n;
}

int64_t coro_cond_waiters(const coro_cond_t *cv)
{
    return cv->waiters.count;
}

/* ------------------------------------------------------------------------ */
/* Mutex: FIFO hand-off. unlock passes ownership straight to the oldest
 * waiter, so a coroutine that keeps relocking cannot starve the queue.       */

struct coro_mutex {
    struct coro *owner;          /* NULL when unlocked */
    coro_waitq_t waiters;
};

coro_mutex_t *coro_mutex_create(void)
{
    coro_mutex_t *m = malloc(sizeof *m);
    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    m->owner = NULL;
    coro__waitq_init(&m->waiters);
    return m;
}

void coro_mutex_destroy(coro_mutex_t *m)
{
    if (!m)
        return;
    waitq_cancel_all(&m->waiters, ECANCELED);
    free(m);
}

int coro_mutex_lock(coro_mutex_t *m)
{
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    if (!m->owner) {
        m->owner = c;
        return 0;
    }
    if (m->owner == c) {
        errno = EDEADLK;
        return -1;
    }
    /* On success unlock has made us the owner already. */
    return waitq_block(&m->waiters, c);
}

int coro_mutex_trylock(coro_mutex_t *m)
{
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    if (m->owner) {
        errno = m->owner == c ? EDEADLK : EBUSY;
        return -1;
    }
    m->owner = c;
    return 0;
}

int coro_mutex_unlock(coro_mutex_t *m)
{
    struct coro *c = coro__rt ? coro__rt->current : NULL;
    if (!c || m->owner != c) {
        errno = EPERM;
        return -1;
    }
    struct coro *next = waitq_pop(&m->waiters);
    m->owner = next;
    if (next)
        coro__wake(next, 0);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Semaphore: release hands its permit straight to the oldest waiter, so
 * value > 0 implies nobody waits.                                           */

struct coro_sem {
    int64_t value;
    coro_waitq_t waiters;
};

coro_sem_t *coro_sem_create(int64_t initial)
{
    if (initial < 0) {
        errno = EINVAL;
        return NULL;
    }
    coro_sem_t *s = malloc(sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->value = initial;
    coro__waitq_init(&s->waiters);
    return s;
}

void coro_sem_destroy(coro_sem_t *s)
{
    if (!s)
        return;
    waitq_cancel_all(&s->waiters, ECANCELED);
    free(s);
}

int coro_sem_acquire(coro_sem_t *s)
{
    if (s->value > 0) {
        s->value--;
        return 0;
    }
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    return waitq_block(&s->waiters, c);
}

void coro_sem_release(coro_sem_t *s)
{
    struct coro *next = waitq_pop(&s->waiters);
    if (next)
        coro__wake(next, 0);
    else
        s->value++;
}

int64_t coro_sem_value(const coro_sem_t *s)
{
    return s->value;
}

/* ------------------------------------------------------------------------ */
/* Latch                                                                     */

struct coro_latch {
    int64_t count;
    coro_waitq_t waiters;
};

coro_latch_t *coro_latch_create(int64_t count)
{
    if (count < 0) {
        errno = EINVAL;
        return NULL;
    }
    coro_latch_t *l = malloc(sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    l->count = count;
    coro__waitq_init(&l->waiters);
    return l;
}

void coro_latch_destroy(coro_latch_t *l)
{
    if (!l)
        return;
    waitq_cancel_all(&l->waiters, ECANCELED);
    free(l);
}

void coro_latch_count_down(coro_latch_t *l)
{
    if (l->count == 0)
        return;
    if (--l->count > 0)
        return;
    struct coro *c;
    while ((c = waitq_pop(&l->waiters)))
        coro__wake(c, 0);
}

int coro_latch_wait(coro_latch_t *l)
{
    if (l->count == 0)
        return 0;
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    return waitq_block(&l->waiters, c);
}

/* ------------------------------------------------------------------------ */
/* Bounded FIFO: a ring of capacity items. Getters wait only while the ring
 * is empty and putters only while it is full, so at most one of the two
 * queues is non-empty. Items pass directly to a waiting getter, and a
 * blocked putter's item (in its wake_value) enters the ring only when a
 * getter frees a slot while that putter still waits.                       */

struct coro_fifo {
    intptr_t *ring;
    int64_t capacity;
    int64_t head;                /* index of the oldest item */
    int64_t len;
    coro_waitq_t getters, putters;
};

coro_fifo_t *coro_fifo_create(int64_t capacity)
{
    if (capacity < 1) {
        errno = EINVAL;
        return NULL;
    }
    coro_fifo_t *q = malloc(sizeof *q);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    q->ring = malloc((size_t)capacity * sizeof *q->ring);
    if (!q->ring) {
        free(q);
        errno = ENOMEM;
        return NULL;
    }
    q->capacity = capacity;
    q->head = q->len = 0;
    coro__waitq_init(&q->getters);
    coro__waitq_init(&q->putters);
    return q;
}

void coro_fifo_destroy(coro_fifo_t *q)
{
    if (!q)
        return;
    waitq_cancel_all(&q->getters, ECANCELED);
    waitq_cancel_all(&q->putters, ECANCELED);
    free(q->ring);
    free(q);
}

static void ring_push(coro_fifo_t *q, intptr_t item)
{
    int64_t i = q->head + q->len;
    if (i >= q->capacity)
        i -= q->capacity;
    q->ring[i] = item;
    q->len++;
}

static intptr_t ring_pop(coro_fifo_t *q)
{
    intptr_t item = q->ring[q->head];
    if (++q->head == q->capacity)
        q->head = 0;
    q->len--;
    return item;
}

int coro_fifo_put(coro_fifo_t *q, intptr_t item)
{
    struct coro *getter = waitq_pop(&q->getters);
    if (getter) {
        getter->wake_value = item;
        coro__wake(getter, 0);
        return 0;
    }
    if (q->len < q->capacity) {
        ring_push(q, item);
        return 0;
    }
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    c->wake_value = item;
    return waitq_block(&q->putters, c);
}

int coro_fifo_get(coro_fifo_t *q, intptr_t *item)
{
    if (q->len > 0) {
        intptr_t v = ring_pop(q);
        /* A slot is free now: the oldest blocked putter's item takes it. */
        struct coro *putter = waitq_pop(&q->putters);
        if (putter) {
            ring_push(q, putter->wake_value);
            coro__wake(putter, 0);
        }
        if (item)
            *item = v;
        return 0;
    }
    struct coro *c = current_or_eperm();
    if (!c)
        return -1;
    if (waitq_block(&q->getters, c) < 0)
        return -1;
    if (item)
        *item = c->wake_value;
    return 0;
}

int64_t coro_fifo_size(const coro_fifo_t *q)
{
    return q->len;
}
