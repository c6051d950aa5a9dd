/*
 * runtime.c - creating and destroying the runtime (the shared stack with its
 * guard page, the overflow reporter, the backend) and the event loop.
 */
#include "runtime.h"
#include "compat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO_HAVE_VALGRIND 1
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define CORO_HAVE_MEMCHECK 1
#endif
#endif

#define DEFAULT_STACK_BYTES (256 * 1024)
/* PROT_NONE bytes below the shared stack. One page is not enough: a frame
 * larger than the guard (a 5 KiB local array) steps over a single page into
 * whatever is mapped below, which is a silent corruption or an anonymous
 * SIGSEGV. 64 KiB of guard costs address space only. */
#define GUARD_BYTES (64 * 1024)

coro_runtime_t *coro__rt;

static unsigned valgrind_stack_id;

/* ------------------------------------------------------------------------ */
/* Overflow reporter                                                         */

/* Runs on its own signal stack (the faulting stack is the overflowed one).
 * Only async-signal-safe calls: write(2) and abort(). */
static char overflow_altstack[64 * 1024];
static struct sigaction previous_segv;
/* The thread's alternate signal stack before ours: put back on destroy, so
 * that a program (or a runtime such as Node's) that had its own keeps it. */
static stack_t previous_altstack;
/* macOS reports a touch of a PROT_NONE guard page as SIGBUS, not SIGSEGV
 * (and so may a BSD, depending on its settings): catch both there. */
#ifndef __linux__
#define CORO_GUARD_SIGBUS 1
static struct sigaction previous_bus;
#endif

static size_t fmt_u64(char *out, unsigned long long v)
{
    char tmp[24];
    size_t n = 0, i = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        out[i++] = tmp[--n];
    return i;
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    coro_runtime_t *rt = coro__rt;
    char *addr = si->si_addr;
    if (rt && addr >= rt->map_base && addr < rt->stack_lo + 4096 && rt->current) {
        char msg[200];
        size_t n = 0;
        const char *a = "coro: coroutine #";
        memcpy(msg + n, a, strlen(a)), n += strlen(a);
        n += fmt_u64(msg + n, (unsigned long long)rt->current->id);
        const char *b = " overflowed the shared stack (";
        memcpy(msg + n, b, strlen(b)), n += strlen(b);
        n += fmt_u64(msg + n, (unsigned long long)(rt->stack_top - rt->stack_lo));
        const char *c = " bytes); raise it with coro_runtime_init(stack_bytes, ...)\n";
        memcpy(msg + n, c, strlen(c)), n += strlen(c);
        ssize_t w = write(2, msg, n);
        (void)w;
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    /* Not ours: hand over to whoever was installed before, or die as the
     * default action would. */
    struct sigaction *prev = &previous_segv;
#ifdef CORO_GUARD_SIGBUS
    if (sig == SIGBUS)
        prev = &previous_bus;
#endif
    if (prev->sa_flags & SA_SIGINFO && prev->sa_sigaction) {
        prev->sa_sigaction(sig, si, uctx);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN && prev->sa_handler) {
        prev->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Puts back the alternate signal stack that was there before ours. */
static void restore_altstack(void)
{
    stack_t ss = previous_altstack;
    if (ss.ss_flags & SS_DISABLE)
        ss = (stack_t){.ss_flags = SS_DISABLE};
    else
        ss.ss_flags = 0; /* SS_ONSTACK is a state, not a request */
    if (sigaltstack(&ss, NULL) < 0)
        perror("coro: restoring the previous alternate signal stack");
}

/* 0, or -1 with errno (and nothing installed): without its own signal
 * stack, the handler would run on the overflowed stack and the report
 * would become a silent SIGSEGV, so the runtime must not start. */
static int install_overflow_reporter(void)
{
    stack_t ss = {.ss_sp = overflow_altstack, .ss_size = sizeof overflow_altstack};
    if (sigaltstack(&ss, &previous_altstack) < 0)
        return -1; /* EPERM: called on the current alternate stack */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous_segv) < 0) {
        int e = errno;
        restore_altstack();
        errno = e;
        return -1;
    }
#ifdef CORO_GUARD_SIGBUS
    if (sigaction(SIGBUS, &sa, &previous_bus) < 0) {
        int e = errno;
        sigaction(SIGSEGV, &previous_segv, NULL);
        restore_altstack();
        errno = e;
        return -1;
    }
#endif
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Init and destroy                                                          */

#ifdef CORO_SLOWDOWN_LOOPS
/* The injected-slowdown build's loop count: the environment variable
 * CORO_SLOWDOWN_LOOPS (a count >= 0) when set and valid, else the compiled-in
 * one. Lets one build be measured at several levels. */
static int64_t slowdown_loops_from_env(void)
{
    const char *s = getenv("CORO_SLOWDOWN_LOOPS");
    char *end;
    long long n = s ? strtoll(s, &end, 10) : -1;
    if (!s || !*s || *end || n < 0) {
        if (s)
            fprintf(stderr, "coro: ignoring CORO_SLOWDOWN_LOOPS=%s (not a count)\n", s);
        return CORO_SLOWDOWN_LOOPS;
    }
    return n;
}
#endif

int coro_runtime_init(int64_t stack_bytes, const char *backend)
{
    if (coro__rt) {
        errno = EEXIST;
        return -1;
    }
    const coro_backend_ops_t *ops =
        (backend && *backend) ? coro__backend_find(backend) : coro__backend_default();
    if (!ops) {
        errno = EINVAL;
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (stack_bytes <= 0)
        stack_bytes = DEFAULT_STACK_BYTES;
    if (stack_bytes < 16 * 1024)
        stack_bytes = 16 * 1024;
    size_t usable = ((size_t)stack_bytes + (size_t)page - 1) & ~((size_t)page - 1);

    coro_runtime_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return -1;
    size_t guard = ((size_t)GUARD_BYTES + (size_t)page - 1) & ~((size_t)page - 1);
    rt->map_bytes = usable + guard;
    rt->map_base = mmap(NULL, rt->map_bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (rt->map_base == MAP_FAILED)
        goto error_free;
    /* The guard sits below the stack (stacks grow down). */
    if (mprotect(rt->map_base, guard, PROT_NONE) < 0)
        goto error_unmap;
    rt->stack_lo = rt->map_base + guard;
    rt->stack_top = rt->map_base + rt->map_bytes;
    rt->backend = ops;
    rt->backend_state = ops->create();
    if (!rt->backend_state)
        goto error_unmap;
    if (install_overflow_reporter() < 0)
        goto error_backend;
#ifdef CORO_HAVE_VALGRIND
    valgrind_stack_id = VALGRIND_STACK_REGISTER(rt->stack_lo, rt->stack_top);
#endif
#ifdef CORO_HAVE_MEMCHECK
    /* Only memcheck tracks addressability, so only memcheck needs restored
     * slices marked (coroutine.c). It answers its own client requests with
     * -1; other valgrind tools (callgrind, whose instruction counts the
     * gate uses) and native runs return the default, 0. A request of 0
     * bytes changes nothing. */
    rt->on_memcheck = (long)VALGRIND_MAKE_MEM_UNDEFINED(rt->stack_lo, 0) == -1;
#endif
#ifdef CORO_SLOWDOWN_LOOPS
    rt->slowdown_loops = slowdown_loops_from_env();
#endif
    coro__rt = rt;
    return 0;

    /* Each step undone keeps the errno of the step that failed. */
    int e;
error_backend:
    e = errno;
    ops->destroy(rt->backend_state);
    errno = e;
error_unmap:
    e = errno;
    munmap(rt->map_base, rt->map_bytes);
    errno = e;
error_free:
    e = errno;
    free(rt);
    errno = e;
    return -1;
}

int coro_runtime_destroy(void)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt)
        return 0;
    if (rt->current) {
        errno = EBUSY;
        return -1;
    }
    /* Timers first: sleeping coroutines' timers live inside struct coro,
     * and freeing the heap reads each entry. */
    coro__timers_free();
    coro__free_all();
    coro__fds_free();
    coro__stream_pool_free();
    rt->backend->destroy(rt->backend_state);
#ifdef CORO_HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(valgrind_stack_id);
#endif
    munmap(rt->map_base, rt->map_bytes);
    if (sigaction(SIGSEGV, &previous_segv, NULL) < 0)
        perror("coro: restoring the previous SIGSEGV handler");
#ifdef CORO_GUARD_SIGBUS
    if (sigaction(SIGBUS, &previous_bus, NULL) < 0)
        perror("coro: restoring the previous SIGBUS handler");
#endif
    restore_altstack();
    free(rt);
    coro__rt = NULL;
    return 0;
}

const char *coro_backend_name(void)
{
    return coro__rt ? coro__rt->backend->name : NULL;
}

void *coro_stack_base(void)
{
    return coro__rt ? coro__rt->stack_lo : NULL;
}

int64_t coro_stack_bytes(void)
{
    return coro__rt ? coro__rt->stack_top - coro__rt->stack_lo : 0;
}

int64_t coro_default_stack_bytes(void)
{
    return DEFAULT_STACK_BYTES;
}

int coro_get_stats(coro_stats_t *out)
{
    if (!coro__rt) {
        errno = ENOENT;
        return -1;
    }
    *out = coro__rt->stats;
    return 0;
}

int64_t coro_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Event loop                                                                */

void coro_loop_stop(void)
{
    if (coro__rt)
        coro__rt->stop_requested = true;
}

int64_t coro_run(void)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt) {
        errno = ENOENT;
        return -1;
    }
    if (rt->current) {
        errno = EBUSY;
        return -1;
    }
    rt->stop_requested = false;
    while (!rt->stop_requested) {
        coro_run_pending();
        if (rt->stats.live_coroutines == 0 || rt->stop_requested)
            break;
        int64_t timeout_ns;
        if (rt->run_head) {
            timeout_ns = 0;
        } else {
            /* Read the clock only when a timer needs it. */
            timeout_ns = rt->heap_len ? coro__timers_next_ns(coro_now_ns()) : -1;
            if (timeout_ns < 0 && rt->fd_waiters == 0)
                break; /* nothing can wake anyone: deadlock or all yielded */
        }
        if (rt->backend->poll(rt->backend_state, timeout_ns) < 0) {
            perror("coro: event backend poll");
            return -1;
        }
        if (rt->heap_len)
            coro__timers_fire(coro_now_ns());
    }
    return rt->stats.live_coroutines;
}

/* ------------------------------------------------------------------------ */
/* Identity                                                                  */

const char *coro_version(void)
{
    return "0.1.0";
}

const char *coro_arch(void)
{
    return CORO_ARCH_NAME;
}

#ifndef CORO_BUILD_FLAGS
#define CORO_BUILD_FLAGS "unknown"
#endif

const char *coro_build_flags(void)
{
#ifdef CORO_SLOWDOWN_LOOPS
    /* Reports carry the level in force, not only the compiled-in one. */
    static char flags[sizeof CORO_BUILD_FLAGS + 64];
    snprintf(flags, sizeof flags, "%s (%lld slowdown loops at run time)", CORO_BUILD_FLAGS,
             (long long)slowdown_loops_from_env());
    return flags;
#else
    return CORO_BUILD_FLAGS;
#endif
}
