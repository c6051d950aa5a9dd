/*
 * timer.c - timers in a binary min-heap on their due time (monotonic ns).
 * Each entry knows its heap index, so cancelling is O(log n). Sleeps and
 * deadlines use the timer embedded in struct coro; coro_timer_* allocate.
 */
#include "runtime.h"

#include <errno.h>
#include <stdlib.h>

static inline void heap_set(struct coro_timer **h, int64_t i, struct coro_timer *t)
{
    h[i] = t;
    t->heap_index = i;
}

static void sift_up(struct coro_timer **h, int64_t i)
{
    struct coro_timer *t = h[i];
    while (i > 0) {
        int64_t parent = (i - 1) / 2;
        if (h[parent]->when_ns <= t->when_ns)
            break;
        heap_set(h, i, h[parent]);
        i = parent;
    }
    heap_set(h, i, t);
}

static void sift_down(struct coro_timer **h, int64_t len, int64_t i)
{
    struct coro_timer *t = h[i];
    for (;;) {
        int64_t child = 2 * i + 1;
        if (child >= len)
            break;
        if (child + 1 < len && h[child + 1]->when_ns < h[child]->when_ns)
            child++;
        if (t->when_ns <= h[child]->when_ns)
            break;
        heap_set(h, i, h[child]);
        i = child;
    }
    heap_set(h, i, t);
}

void coro__timer_add(struct coro_timer *t)
{
    coro_runtime_t *rt = coro__rt;
    if (rt->heap_len == rt->heap_cap) {
        int64_t cap = rt->heap_cap ? rt->heap_cap * 2 : 64;
        struct coro_timer **h = realloc(rt->heap, (size_t)cap * sizeof *h);
        if (!h) {
            /* A timer that cannot be armed would leave its coroutine asleep
             * forever; failing loudly is the only honest option. */
            abort();
        }
        rt->heap = h;
        rt->heap_cap = cap;
    }
    heap_set(rt->heap, rt->heap_len, t);
    sift_up(rt->heap, rt->heap_len++);
}

void coro__timer_remove(struct coro_timer *t)
{
    coro_runtime_t *rt = coro__rt;
    int64_t i = t->heap_index;
    if (i < 0)
        return;
    t->heap_index = -1;
    struct coro_timer *last = rt->heap[--rt->heap_len];
    if (i == rt->heap_len)
        return;
    heap_set(rt->heap, i, last);
    if (i > 0 && rt->heap[(i - 1) / 2]->when_ns > last->when_ns)
        sift_up(rt->heap, i);
    else
        sift_down(rt->heap, rt->heap_len, i);
}

int64_t coro__timers_fire(int64_t now_ns)
{
    coro_runtime_t *rt = coro__rt;
    int64_t fired = 0;
    while (rt->heap_len && rt->heap[0]->when_ns <= now_ns) {
        struct coro_timer *t = rt->heap[0];
        coro__timer_remove(t);
        t->fn(t->arg);
        if (t->user_owned)
            free(t);
        fired++;
    }
    return fired;
}

int64_t coro__timers_next_ns(int64_t now_ns)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt->heap_len)
        return -1;
    int64_t d = rt->heap[0]->when_ns - now_ns;
    return d > 0 ? d : 0;
}

void coro__timers_free(void)
{
    coro_runtime_t *rt = coro__rt;
    for (int64_t i = 0; i < rt->heap_len; i++)
        if (rt->heap[i]->user_owned)
            free(rt->heap[i]);
    free(rt->heap);
    rt->heap = NULL;
    rt->heap_len = rt->heap_cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Public timers and sleeping                                                */

coro_timer_t *coro_timer_at_ns(int64_t when_ns, coro_timer_fn fn, void *arg)
{
    if (!coro__rt || !fn) {
        errno = EINVAL;
        return NULL;
    }
    struct coro_timer *t = calloc(1, sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->when_ns = when_ns;
    t->fn = fn;
    t->arg = arg;
    t->user_owned = true;
    t->heap_index = -1;
    coro__timer_add(t);
    return t;
}

coro_timer_t *coro_timer_after_ms(int64_t ms, coro_timer_fn fn, void *arg)
{
    return coro_timer_at_ns(coro__ms_from_now(ms), fn, arg);
}

void coro_timer_cancel(coro_timer_t *t)
{
    if (!t || t->heap_index < 0)
        return;
    coro__timer_remove(t);
    free(t);
}

int coro_sleep_until_ns(int64_t when_ns)
{
    if (!coro__rt || !coro__rt->current)
        return coro__not_in_coroutine();
    return coro__block_until(when_ns);
}

int coro_sleep_ms(int64_t ms)
{
    return coro_sleep_until_ns(coro__ms_from_now(ms));
}
