/*
 * coroutine.c - coroutines on one shared stack: spawn, the switch with its
 * stack copy, yield/schedule, block/wake and deadlines.
 *
 * Every transition goes through the scheduler's stack: a coroutine switches
 * out to the scheduler, and the scheduler (running on the thread's own stack,
 * never on the shared one) copies slices and switches into the next
 * coroutine. Copying from the scheduler's stack is what makes it safe to
 * overwrite the shared stack.
 *
 * Copy policy (libaco-style, lazy): when a coroutine is switched out its
 * slice stays on the shared stack. Only when a *different* coroutine is to be
 * resumed is the owner's slice saved, and the new one's restored. Resuming
 * the owner again copies nothing.
 */
#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* AddressSanitizer cooperation. The stack copy must not trip over the
 * redzones ASan poisons inside stack frames (the slice is copied as raw
 * bytes, with its poison cleared first), and every switch must tell ASan
 * which stack it is on (the fiber hooks), or ASan reports the shared stack
 * as a buffer overflow of the thread's stack. The slice's shadow (its
 * redzones) is saved with it, after the bytes in the save buffer, and put
 * back after a restore: an overflow of a local after a resume is caught as
 * it would be without the copy. */
#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
/* Bounds of the scheduler's (thread's) stack, learnt on the first switch. */
static const void *asan_sched_bottom;
static size_t asan_sched_size;
#define ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
/* One shadow byte per 2^scale bytes; slices are 16-byte aligned at both ends. */
static size_t asan_shadow_scale = 3, asan_shadow_offset;
#define ASAN_SHADOW_BYTES(n) ((n) >> asan_shadow_scale)

static uint8_t *asan_shadow_of(const void *p)
{
    if (!asan_shadow_offset)
        __asan_get_shadow_mapping(&asan_shadow_scale, &asan_shadow_offset);
    return (uint8_t *)(((uintptr_t)p >> asan_shadow_scale) + asan_shadow_offset);
}

/* Byte copy of shadow memory: not instrumented, since the shadow of the
 * shadow is not mapped (and memcpy would be checked). */
__attribute__((no_sanitize_address)) static void asan_copy_shadow(uint8_t *dst, const uint8_t *src,
                                                                  size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}
#else
#define ASAN_UNPOISON(p, n) ((void)0)
#define ASAN_SHADOW_BYTES(n) 0
#endif

/* Valgrind (memcheck) cooperation. Memcheck marks the shared stack below a
 * coroutine's stack pointer "no access" when its frames return; restoring a
 * deeper slice of another coroutine there is a legitimate write, so the
 * destination is made addressable first (memcpy then copies the definedness
 * bits of the saved bytes along). Checked through a flag in the runtime
 * (set only under memcheck, see runtime.c) so that a native run pays one
 * predictable branch, not a client request, and so does a run under
 * callgrind, whose instruction count should be the native one. */
#ifdef __has_include
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define CORO_HAVE_MEMCHECK 1
#endif
#endif

/* Save-buffer sizes are rounded up to this, so small growth does not
 * realloc on every new maximum. */
#define SAVE_ALIGN 64

static void coro_entry(void) __attribute__((noreturn));
static void all_unlink(coro_runtime_t *rt, struct coro *c);
static void all_link(coro_runtime_t *rt, struct coro *c);

#ifdef CORO_SLOWDOWN_LOOPS
/* Injected fixed cost per resume (a build knob, off by default), for proving
 * that the regression gate notices a slowdown. A volatile counter loop: it
 * shows up both as time and as instructions under callgrind (~6 per loop).
 * Its time per loop depends on the code around it, which moves from build to
 * build; so the count compiled in (CORO_SLOWDOWN_LOOPS=N) can be overridden
 * at runtime init by the environment variable of the same name, and one
 * binary (one code layout) can be measured at any level (runtime.c). */
static inline void injected_slowdown(const coro_runtime_t *rt)
{
    for (volatile int64_t n = rt->slowdown_loops; n > 0; n--)
        ;
}
#define SLOWDOWN(rt) injected_slowdown(rt)
#else
#define SLOWDOWN(rt) ((void)0)
#endif

/* ------------------------------------------------------------------------ */
/* Stack copy                                                                */

/* Copies the owner's live slice [sp, top) into its save buffer. */
static inline int save_slice(coro_runtime_t *rt, struct coro *c)
{
    char *sp = (char *)CORO_ARCH_SP(&c->ctx);
    int64_t len = rt->stack_top - sp;
    if (CORO_UNLIKELY(len > c->save_cap)) {
        int64_t cap = c->save_cap * 2;
        if (cap < len)
            cap = (len + SAVE_ALIGN - 1) & ~(int64_t)(SAVE_ALIGN - 1);
        char *buf = malloc((size_t)(cap + ASAN_SHADOW_BYTES(cap)));
        if (!buf)
            return -1;
        free(c->save_buf);
        rt->stats.save_buffer_bytes += cap - c->save_cap;
        c->save_buf = buf;
        c->save_cap = cap;
    }
#ifdef CORO_ASAN
    asan_copy_shadow((uint8_t *)c->save_buf + c->save_cap, asan_shadow_of(sp),
                     ASAN_SHADOW_BYTES((size_t)len));
#endif
    ASAN_UNPOISON(sp, (size_t)len);
    memcpy(c->save_buf, sp, (size_t)len);
    c->save_len = len;
    rt->stats.bytes_saved += len;
    if (CORO_UNLIKELY(len > rt->stats.max_slice_bytes))
        rt->stats.max_slice_bytes = len;
    return 0;
}

static inline void restore_slice(coro_runtime_t *rt, struct coro *c)
{
    int64_t len = c->save_len;
    if (len == 0)
        return; /* a new coroutine: nothing saved (and no buffer yet) */
    ASAN_UNPOISON(rt->stack_top - len, (size_t)len);
#ifdef CORO_HAVE_MEMCHECK
    /* Memcheck keeps the 128 bytes below the stack pointer addressable (the
     * amd64 red zone) and, when SP moves down, marks only what enters that
     * zone; so the zone below the resumed SP must be addressable too, or
     * the coroutine's next call (its return-address slot lies just below
     * the slice) is reported as an invalid write. */
    if (CORO_UNLIKELY(rt->on_memcheck)) {
        char *lo = rt->stack_top - len - 128;
        lo = lo < rt->stack_lo ? rt->stack_lo : lo;
        VALGRIND_MAKE_MEM_UNDEFINED(lo, (size_t)(rt->stack_top - lo));
    }
#endif
    memcpy(rt->stack_top - len, c->save_buf, (size_t)len);
#ifdef CORO_ASAN
    asan_copy_shadow(asan_shadow_of(rt->stack_top - len), (const uint8_t *)c->save_buf + c->save_cap,
                     ASAN_SHADOW_BYTES((size_t)len));
#endif
    rt->stats.bytes_restored += len;
}

/* Runs coroutine c until it switches back to the scheduler. Called only on
 * the scheduler's stack. Always inlined into the dispatch loops (and so is
 * run_next): the switch leaves through a jmp, so when the coroutine switches
 * back, the return-address predictor still holds the coroutine's own call
 * of the switch, and the ret of an out-of-line resume is mispredicted on
 * every round. Inlined, the loop carries on after the switch with no ret:
 * 10.1 -> 5.5 ns per 0 B two-coroutine switch, 8.0 -> 4.7 ns on the lazy
 * path (static harness, taskset -c 1, medians of 15 interleaved runs). */
static inline __attribute__((always_inline)) void resume(coro_runtime_t *rt, struct coro *c)
{
    struct coro *owner = rt->owner;
    if (owner != c) {
        if (owner && owner->state != CORO_DEAD && save_slice(rt, owner) < 0) {
            /* Out of memory while saving: the only safe thing left is to
             * stop, since the owner's frames are about to be overwritten. */
            fprintf(stderr, "coro: out of memory saving the stack of coroutine #%lld\n",
                    (long long)owner->id);
            abort();
        }
        restore_slice(rt, c);
        rt->owner = c;
    }
    rt->current = c;
    c->state = CORO_RUNNING;
    rt->stats.switches++;
    SLOWDOWN(rt);
#ifdef CORO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, rt->stack_lo, (size_t)(rt->stack_top - rt->stack_lo));
#endif
    coro_arch_switch(&rt->sched_ctx, &c->ctx);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    rt->current = NULL;
    if (c->state == CORO_DEAD) {
        /* Its frames never returned: clear their redzones, or the next
         * coroutine to run there trips over them (first in ASan's own
         * __asan_handle_no_return, called before any noreturn call). */
        ASAN_UNPOISON(CORO_ARCH_SP(&c->ctx),
                      (size_t)(rt->stack_top - (char *)CORO_ARCH_SP(&c->ctx)));
        rt->owner = NULL;
        rt->stats.save_buffer_bytes -= c->save_cap;
        rt->stats.live_coroutines--;
        all_unlink(rt, c);
        free(c->save_buf);
        free(c->deadline_stack);
        free(c);
    }
}

/* Switches from the running coroutine back to the scheduler. */
static inline void suspend(coro_runtime_t *rt, struct coro *c)
{
    rt->stats.switches++;
#ifdef CORO_ASAN
    /* A dead coroutine passes NULL: its fake stack can be dropped. */
    void *fake = NULL;
    __sanitizer_start_switch_fiber(c->state == CORO_DEAD ? NULL : &fake, asan_sched_bottom,
                                   asan_sched_size);
    coro_arch_switch(&c->ctx, &rt->sched_ctx);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    coro_arch_switch(&c->ctx, &rt->sched_ctx);
#endif
}

/* ------------------------------------------------------------------------ */
/* Run queue                                                                 */

static inline void runq_push(coro_runtime_t *rt, struct coro *c)
{
    c->state = CORO_RUNNABLE;
    c->run_next = NULL;
    if (rt->run_tail)
        rt->run_tail->run_next = c;
    else
        rt->run_head = c;
    rt->run_tail = c;
}

/* Takes the next runnable coroutine off the queue and runs it (inlined: see
 * resume). */
static inline __attribute__((always_inline)) void run_next(coro_runtime_t *rt)
{
    struct coro *c = rt->run_head;
    rt->run_head = c->run_next;
    if (!rt->run_head)
        rt->run_tail = NULL;
    resume(rt, c);
}

void coro__run_while_positive(const volatile int64_t *counter)
{
    coro_runtime_t *rt = coro__rt;
    while (*counter > 0 && rt->run_head)
        run_next(rt);
}

int64_t coro_run_pending(void)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt || rt->current)
        return 0;
    /* Run only what is runnable now: coroutines made runnable while this
     * batch runs wait for the next batch, so I/O is polled in between. */
    struct coro *tail = rt->run_tail;
    int64_t n = 0;
    while (rt->run_head) {
        bool last = rt->run_head == tail;
        run_next(rt);
        n++;
        if (last)
            break;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Spawn and end                                                             */

coro_t *coro_spawn(coro_fn fn, void *arg)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt) {
        errno = ENOENT;
        return NULL;
    }
    struct coro *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->id = ++rt->next_id;
    c->fn = fn;
    c->arg = arg;
    c->deadline_ns = INT64_MAX;
    c->timer.heap_index = -1;
    c->wait_link.prev = c->wait_link.next = &c->wait_link;
    coro_arch_ctx_init(&c->ctx, rt->stack_top, coro_entry);
    /* An empty slice: nothing to restore, but the current owner's frames
     * must still be saved before this one runs. */
    c->save_len = 0;
    rt->stats.live_coroutines++;
    rt->stats.coroutines_spawned++;
    all_link(rt, c);
    runq_push(rt, c);
    return c;
}

static void coro_entry(void)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt->current;
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &asan_sched_bottom, &asan_sched_size);
#endif
    c->fn(c->arg);
    coro_exit();
}

void coro_exit(void)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt->current;
    if (!c) {
        fprintf(stderr, "coro: coro_exit called outside a coroutine\n");
        abort();
    }
    c->state = CORO_DEAD;
    suspend(rt, c);
    __builtin_unreachable();
}

void coro_report_failure(const char *what)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt ? rt->current : NULL;
    fprintf(stderr, "coro: coroutine #%lld died: %s\n", c ? (long long)c->id : 0LL,
            what ? what : "unknown error");
    if (rt)
        rt->stats.coroutines_failed++;
}

coro_t *coro_current(void)
{
    return coro__rt ? coro__rt->current : NULL;
}

int64_t coro_id(const coro_t *c)
{
    return c ? c->id : 0;
}

/* ------------------------------------------------------------------------ */
/* Yield and schedule                                                        */

int coro_schedule(coro_t *c, intptr_t value)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt || !c || c->state != CORO_YIELDED) {
        errno = EBUSY;
        return -1;
    }
    c->wake_value = value;
    runq_push(rt, c);
    return 0;
}

int coro__not_in_coroutine(void)
{
    errno = coro__rt ? EPERM : ENOENT;
    return -1;
}

intptr_t coro_yield(void)
{
    coro_runtime_t *rt = coro__rt;
    /* Outside a coroutine there is nothing to suspend. */
    if (CORO_UNLIKELY(!rt || !rt->current))
        return coro__not_in_coroutine();
    struct coro *c = rt->current;
    c->state = CORO_YIELDED;
    suspend(rt, c);
    return c->wake_value;
}

int coro_yield_now(void)
{
    coro_runtime_t *rt = coro__rt;
    if (CORO_UNLIKELY(!rt || !rt->current))
        return coro__not_in_coroutine();
    struct coro *c = rt->current;
    runq_push(rt, c);
    suspend(rt, c);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Block and wake (fds, timers, sync primitives)                             */

static void timer_wakes_coro(void *arg)
{
    struct coro *c = arg;
    coro_runtime_t *rt = coro__rt;
    if (c->state != CORO_WAITING)
        return;
    /* The timer is either the sleep time (wake normally) or the deadline. */
    if (c->timer.when_ns >= c->deadline_ns) {
        if (c->wait_cancel)
            c->wait_cancel(c);
        c->wait_cancel = NULL;
        c->wake_errno = ETIMEDOUT;
    } else {
        c->wake_errno = 0;
    }
    runq_push(rt, c);
}

/* Not inlined: a wait with a timer is the rarer case, and its locals would
 * otherwise widen the frame (and so the saved slice) of every fd wait that
 * inlines coro__block. */
static __attribute__((noinline)) int block_until(int64_t when_ns)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt->current;
    int64_t wake_at = when_ns < c->deadline_ns ? when_ns : c->deadline_ns;
    if (wake_at != INT64_MAX) {
        if (c->deadline_ns != INT64_MAX && c->deadline_ns <= coro_now_ns()) {
            if (c->wait_cancel)
                c->wait_cancel(c);
            c->wait_cancel = NULL;
            errno = ETIMEDOUT;
            return -1;
        }
        c->timer.when_ns = wake_at;
        c->timer.fn = timer_wakes_coro;
        c->timer.arg = c;
        coro__timer_add(&c->timer);
    }
    c->state = CORO_WAITING;
    c->wake_errno = 0;
    suspend(rt, c);
    if (c->timer.heap_index >= 0)
        coro__timer_remove(&c->timer);
    c->wait_cancel = NULL;
    if (c->wake_errno) {
        errno = c->wake_errno;
        return -1;
    }
    return 0;
}

/* The common wait, without a deadline: no timer to arm or disarm. Kept
 * small: its frame (c and a return address) is part of every waiting
 * coroutine's saved slice, and the fd waits tail-call it. */
int coro__block(void)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt->current;
    if (CORO_UNLIKELY(c->deadline_ns != INT64_MAX))
        return block_until(INT64_MAX);
    c->state = CORO_WAITING;
    c->wake_errno = 0;
    suspend(rt, c);
    c->wait_cancel = NULL;
    if (CORO_UNLIKELY(c->wake_errno)) {
        errno = c->wake_errno;
        return -1;
    }
    return 0;
}

int coro__block_until(int64_t when_ns)
{
    return block_until(when_ns);
}

void coro__wake(struct coro *c, int err)
{
    if (c->state != CORO_WAITING)
        return;
    c->wake_errno = err;
    c->wait_cancel = NULL;
    runq_push(coro__rt, c);
}

/* ------------------------------------------------------------------------ */
/* Deadlines                                                                 */

#define DEADLINE_DEPTH_MAX 16

int coro_deadline_push(int64_t ms)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt ? rt->current : NULL;
    if (!c)
        return coro__not_in_coroutine();
    if (c->deadline_depth >= DEADLINE_DEPTH_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    if (!c->deadline_stack) {
        c->deadline_stack = malloc(DEADLINE_DEPTH_MAX * sizeof(int64_t));
        if (!c->deadline_stack) {
            errno = ENOMEM;
            return -1;
        }
    }
    c->deadline_stack[c->deadline_depth++] = c->deadline_ns;
    int64_t when = coro__ms_from_now(ms);
    if (when < c->deadline_ns)
        c->deadline_ns = when;
    return 0;
}

void coro_deadline_pop(void)
{
    coro_runtime_t *rt = coro__rt;
    struct coro *c = rt ? rt->current : NULL;
    if (!c || c->deadline_depth == 0)
        return;
    c->deadline_ns = c->deadline_stack[--c->deadline_depth];
}

/* ------------------------------------------------------------------------ */
/* All coroutines, for freeing them when the runtime is destroyed            */

static void all_link(coro_runtime_t *rt, struct coro *c)
{
    c->all_prev = NULL;
    c->all_next = rt->all;
    if (rt->all)
        rt->all->all_prev = c;
    rt->all = c;
}

static void all_unlink(coro_runtime_t *rt, struct coro *c)
{
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        rt->all = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
}

void coro__free_all(void)
{
    coro_runtime_t *rt = coro__rt;
    while (rt->all) {
        struct coro *c = rt->all;
        all_unlink(rt, c);
        free(c->save_buf);
        free(c->deadline_stack);
        free(c);
    }
}
