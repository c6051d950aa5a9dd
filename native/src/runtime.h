/*
 * runtime.h - internal state shared by the core's files. Not installed.
 *
 * Ownership rule that everything below relies on: a coroutine's stack is
 * only valid while it is the owner of the shared stack. Every structure that
 * another coroutine, the scheduler or a backend touches (wait-queue links,
 * timers, fd waiters) lives in struct coro or on the heap, never on a
 * coroutine's stack.
 */
#ifndef CORO_RUNTIME_H
#define CORO_RUNTIME_H

#define CORO_BUILDING_LIBRARY 1
#include "../include/coro.h"
#include "arch/arch.h"
#include "backend/backend.h"

#include <stdbool.h>

#define CORO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CORO_LIKELY(x) __builtin_expect(!!(x), 1)

/* Idle stream buffers kept for reuse (stream.c). */
#define CORO_BUF_POOL_MAX 64

enum coro_state {
    CORO_RUNNABLE,   /* in the run queue */
    CORO_RUNNING,
    CORO_YIELDED,    /* suspended in coro_yield(), woken by coro_schedule() */
    CORO_WAITING,    /* suspended in coro__block(): fd, timer, sync object */
    CORO_DEAD,
};

/* Intrusive doubly linked list node for wait queues (sync primitives). */
typedef struct coro_link {
    struct coro_link *prev, *next;
} coro_link_t;

/* A wait queue: circular list with a sentinel. */
typedef struct coro_waitq {
    coro_link_t head;
    int64_t count;
} coro_waitq_t;

/* Timer heap entry; embedded in struct coro for sleeps/deadlines and
 * allocated for coro_timer_* user timers. */
struct coro_timer {
    int64_t when_ns;
    int64_t heap_index;          /* -1 when not in the heap */
    coro_timer_fn fn;
    void *arg;
    bool user_owned;             /* allocated by coro_timer_*; freed after firing */
};

struct coro {
    coro_arch_ctx_t ctx;         /* saved registers while suspended */

    /* Stack copy: the live slice [ctx.sp, stack_top) while suspended. */
    char *save_buf;
    int64_t save_cap;            /* bytes allocated */
    int64_t save_len;            /* bytes saved (0 if never saved) */

    struct coro *run_next;       /* run queue link */
    int64_t id;
    coro_fn fn;
    void *arg;
    enum coro_state state;

    intptr_t wake_value;         /* coro_schedule -> coro_yield; sync.c hand-offs */
    int wake_errno;              /* coro__wake -> coro__block (0 = ok) */

    /* Waiting: link into a wait queue and how to undo it on a timeout. */
    coro_link_t wait_link;
    void (*wait_cancel)(struct coro *c);
    void *wait_obj;

    struct coro_timer timer;     /* deadline/sleep timer (fn == NULL: wakes this) */
    int64_t deadline_ns;         /* INT64_MAX when none */
    int64_t *deadline_stack;     /* saved outer deadlines (lazy, 16 max) */
    int32_t deadline_depth;

    struct coro *all_prev, *all_next;  /* every live coroutine */
};

/* A fresh or reset fd: I/O calls try the syscall first (truthy, like 1),
 * but coro_wait_readable/writable ask the backend instead of returning at
 * once, since nothing is known. */
#define CORO_READY_UNKNOWN 2

/* Per-fd state, indexed by fd. */
typedef struct coro_fd {
    struct coro *reader, *writer;   /* waiting coroutines */
    /* Readiness seen but not yet consumed (Go's netpoll "pdReady"): set by a
     * backend event or while unknown, consumed by a wait, cleared by EAGAIN
     * or a short read. This is what makes edge-triggered backends safe. */
    uint8_t read_ready;          /* 0, 1, or CORO_READY_UNKNOWN */
    uint8_t write_ready;
    uint8_t backend_registered;  /* the backend's: 1 (epoll), filter bits (kqueue) */
    /* The backend reported a hang-up or error: reads will never block
     * again, and an edge-triggered backend will not say so twice, so
     * read_ready stays set from now on (a short read does not clear it). */
    uint8_t read_final;
    uint8_t pad[2];
    /* A socket error a backend reported with an event (kqueue's fflags),
     * 0 if none: for when SO_ERROR was already read and so cleared. */
    uint16_t event_error;
} coro_fd_t;

typedef struct coro_runtime {
    /* shared stack */
    char *map_base;              /* mmap base (guard page first) */
    size_t map_bytes;
    char *stack_lo, *stack_top;  /* usable [lo, top) */
    struct coro *owner;          /* whose slice is on the shared stack */
    struct coro *current;        /* running coroutine, NULL on the scheduler */
    coro_arch_ctx_t sched_ctx;   /* the scheduler's saved context */

    /* run queue (FIFO) */
    struct coro *run_head, *run_tail;
    struct coro *all;            /* every live coroutine (coroutine.c) */

    /* Stream buffers of the smallest size, free for reuse (stream.c).
     * Connections go idle and busy in batches (one event-loop turn wakes
     * many), which overflows malloc's per-thread cache; this pool keeps it
     * to a push and a pop. Bounded, so it never holds memory that idle
     * connections would otherwise not. */
    char *buf_pool[CORO_BUF_POOL_MAX];
    int32_t buf_pool_len;

    /* timers: binary min-heap on when_ns */
    struct coro_timer **heap;
    int64_t heap_len, heap_cap;

    /* fds */
    coro_fd_t *fds;
    int64_t fds_cap;
    int64_t fd_waiters;          /* coroutines waiting on any fd */

    const coro_backend_ops_t *backend;
    void *backend_state;

    bool stop_requested;
    bool on_memcheck;            /* running under valgrind's memcheck (coroutine.c marks restored slices) */
#ifdef CORO_SLOWDOWN_LOOPS
    int64_t slowdown_loops;      /* injected cost per resume (coroutine.c) */
#endif
    int64_t next_id;
    coro_stats_t stats;
} coro_runtime_t;

/* The one runtime (single-threaded by design; see coro.h). NULL before init. */
extern coro_runtime_t *coro__rt;

/* Suspends the running coroutine in state CORO_WAITING. The caller has
 * already put it where a waker will find it and set c->wait_cancel (may be
 * NULL) to undo that if the deadline fires. Returns 0 when woken with
 * coro__wake(c, 0), or -1 with errno = the error given to coro__wake, or
 * ETIMEDOUT when the deadline passed. Fails at once with ETIMEDOUT if the
 * deadline has passed already (then wait_cancel is called first). */
/* Fails a call that needs a running coroutine: -1 with errno ENOENT when
 * there is no runtime, EPERM on the scheduler's stack (coro.h). */
int coro__not_in_coroutine(void);
int coro__block(void);
/* Same, but also wakes (with 0) at when_ns if that comes before the deadline. */
int coro__block_until(int64_t when_ns);
/* Makes a CORO_WAITING coroutine runnable; coro__block returns err. */
void coro__wake(struct coro *c, int err);

/* Runs runnable coroutines, without polling for events, while *counter > 0
 * and something is runnable. For the switch benchmark: it times the
 * scheduler's dispatch loop, not a function call per round. */
void coro__run_while_positive(const volatile int64_t *counter);
/* Frees the stream buffer pool (runtime destruction). */
void coro__stream_pool_free(void);
/* Frees every coroutine (runtime destruction). */
void coro__free_all(void);

/* The monotonic time ms milliseconds from now, saturating: a negative ms is
 * now, and an absurdly large one is "never" (INT64_MAX) instead of a
 * wrapped-around deadline in the past. */
static inline int64_t coro__ms_from_now(int64_t ms)
{
    int64_t now = coro_now_ns();
    if (ms <= 0)
        return now;
    if (ms > (INT64_MAX - now) / 1000000LL)
        return INT64_MAX;
    return now + ms * 1000000LL;
}

/* A backend timeout in ms for poll/epoll_wait: -1 stays -1 (forever),
 * rounded up so a timer is never polled for early, capped at INT32_MAX. */
static inline int coro__timeout_ms(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return -1;
    int64_t ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Timers (timer.c). */
void coro__timer_add(struct coro_timer *t);
void coro__timer_remove(struct coro_timer *t);
/* Fires due timers; returns how many. */
int64_t coro__timers_fire(int64_t now_ns);
/* Nanoseconds until the next timer (0 if due), or -1 if none. */
int64_t coro__timers_next_ns(int64_t now_ns);
void coro__timers_free(void);

/* Fd table (fd.c). Called by backends when an fd is ready: events is a mask
 * of CORO_EV_READ / CORO_EV_WRITE / CORO_EV_ERROR. */
void coro__fd_ready(int fd, unsigned events);
/* The state of fd (table grows on demand; NULL+ENOMEM, or EBADF for a
 * negative fd). The pointer is only valid until the next blocking call.
 * Inline: it is on every I/O path. */
coro_fd_t *coro__fd_grow(int fd);
static inline coro_fd_t *coro__fd_get(int fd)
{
    coro_runtime_t *rt = coro__rt;
    if (CORO_LIKELY((uint64_t)(int64_t)fd < (uint64_t)rt->fds_cap))
        return &rt->fds[fd];
    return coro__fd_grow(fd);
}
/* Waits until fd is readable unless it may be already, leaving the ready
 * flag set (unlike coro_wait_readable, which consumes it). */
int coro__wait_read_ready(int fd);
/* Forgets what is known of fd (a new fd with a reused number). */
void coro__fd_reset(int fd);
void coro__fds_free(void);

/* Wait queues (sync.c uses them; FIFO). */
static inline void coro__waitq_init(coro_waitq_t *q)
{
    q->head.prev = q->head.next = &q->head;
    q->count = 0;
}
static inline void coro__waitq_push(coro_waitq_t *q, struct coro *c)
{
    coro_link_t *l = &c->wait_link;
    l->prev = q->head.prev;
    l->next = &q->head;
    q->head.prev->next = l;
    q->head.prev = l;
    q->count++;
}
static inline void coro__waitq_unlink(coro_waitq_t *q, struct coro *c)
{
    coro_link_t *l = &c->wait_link;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
    q->count--;
}
/* Oldest waiter, or NULL. */
static inline struct coro *coro__waitq_front(coro_waitq_t *q)
{
    if (q->head.next == &q->head)
        return NULL;
    return (struct coro *)((char *)q->head.next - offsetof(struct coro, wait_link));
}


#endif
