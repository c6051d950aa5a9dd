/* test_overflow_guard: a coroutine that overflows the shared stack hits the
 * guard page below it, and the SIGSEGV handler (on its sigaltstack) names
 * the coroutine and the stack size, then aborts. Never a silent SIGSEGV or
 * heap corruption.
 *
 * Each case runs in a forked child with stderr on a pipe:
 *  1. deep recursion in coroutine #3 (after it and two others have yielded,
 *     so its stack was copied around) on a 64 KiB shared stack: the child
 *     must die of SIGABRT and say "coroutine #3 overflowed the shared stack
 *     (65536 bytes)".
 *  2. the same with the default 256 KiB stack and coroutine #1.
 *  3. recursion with 5, 12 and 40 KiB frames, which step over a single
 *     guard page: the guard must be large enough to catch them too.
 *  4. a load from an unmapped low address inside a coroutine is not an
 *     overflow: the child must die of SIGSEGV (or, under a sanitizer, of its
 *     SEGV report), without the overflow message.
 */
#include "coro.h"

#include <alloca.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ------------------------------------------------------------------------ */
/* What the children run                                                     */

static volatile uint64_t sink;

/* 256 bytes of frame per level, touched so the compiler keeps them, and work
 * after the call so it cannot become a loop. Small frames step onto the
 * guard page instead of jumping over it. */
static uint64_t __attribute__((noinline)) recurse(uint64_t n)
{
    volatile unsigned char frame[256];
    frame[0] = (unsigned char)n;
    frame[255] = (unsigned char)(n >> 8);
    uint64_t r = n == 0 ? 0 : recurse(n - 1);
    return r + frame[0] + frame[255];
}

/* `bytes` per level, larger than a page, touched lowest address first: the
 * first fault is at the far end of the new frame. */
static uint64_t __attribute__((noinline)) recurse_big(uint64_t n, size_t bytes)
{
    volatile unsigned char *frame = alloca(bytes);
    frame[0] = (unsigned char)n;
    frame[bytes - 1] = (unsigned char)(n >> 8);
    uint64_t r = n == 0 ? 0 : recurse_big(n - 1, bytes);
    return r + frame[0] + frame[bytes - 1];
}

static void yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        coro_yield_now();
}

static size_t big_frame_bytes; /* 0: 256-byte frames */

static void overflower(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        coro_yield_now();
    /* Never returns: ends on the guard. */
    sink = big_frame_bytes ? recurse_big(UINT64_MAX / 2, big_frame_bytes) : recurse(UINT64_MAX / 2);
}

/* Page 1 is never mapped (below vm.mmap_min_addr); not NULL, so that
 * UBSan lets the load happen. */
#define WILD_ADDRESS ((uintptr_t)0x1000)

static void wild_load(void *arg)
{
    (void)arg;
    coro_yield_now();
    sink = *(volatile uint64_t *)WILD_ADDRESS;
}

/* Child bodies: exit 0 would mean that nothing happened (a failure). */
static void child_overflow(int64_t stack_bytes, int yielders_before)
{
    if (coro_runtime_init(stack_bytes, NULL) < 0) {
        perror("coro_runtime_init");
        _exit(90);
    }
    for (int i = 0; i < yielders_before; i++)
        coro_spawn(yielder, NULL);
    coro_spawn(overflower, NULL);
    coro_spawn(yielder, NULL);
    coro_run();
    _exit(0);
}

static void child_wild_load(void)
{
    if (coro_runtime_init(64 * 1024, NULL) < 0)
        _exit(90);
    coro_spawn(wild_load, NULL);
    coro_run();
    _exit(0);
}

/* ------------------------------------------------------------------------ */
/* The parent                                                                */

struct outcome {
    int status;
    char err[4096];
};

/* Runs body in a child with stderr captured; waits at most 10 s. */
static void run_child(void (*body)(void *), void *arg, struct outcome *out)
{
    memset(out, 0, sizeof *out);
    int p[2];
    if (pipe(p) < 0) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* an expected abort needs no core file */
        alarm(10);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        body(arg);
        _exit(91);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out->err + len, sizeof out->err - 1 - len)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0)
            len += (size_t)n;
    close(p[0]);
    out->err[len] = '\0';
    while (waitpid(pid, &out->status, 0) < 0 && errno == EINTR)
        ;
}

static void body_overflow_64k(void *arg)
{
    (void)arg;
    child_overflow(64 * 1024, 2); /* the overflowing coroutine is #3 */
}

static void body_overflow_default(void *arg)
{
    (void)arg;
    child_overflow(0, 0); /* #1 */
}

static void body_overflow_big_frames(void *arg)
{
    big_frame_bytes = *(size_t *)arg;
    child_overflow(64 * 1024, 0); /* #1 */
}

static void body_wild_load(void *arg)
{
    (void)arg;
    child_wild_load();
}

static const char *describe(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, cap, "exited with %d", WEXITSTATUS(status));
    else
        snprintf(buf, cap, "status %#x", status);
    return buf;
}

static void expect_overflow(void (*body)(void *), void *arg, const char *who, const char *size,
                            const char *how_deep)
{
    struct outcome o;
    char how[128], what[600];
    run_child(body, arg, &o);
    describe(o.status, how, sizeof how);
    char want[128];
    snprintf(want, sizeof want, "coroutine %s overflowed the shared stack (%s bytes)", who, size);
    CHECK(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT, "child %s, want SIGABRT; stderr: %s",
          how, o.err);
    CHECK(strstr(o.err, want) != NULL, "stderr lacks \"%s\": \"%s\"", want, o.err);
    char *nl = strchr(o.err, '\n');
    if (nl)
        *nl = '\0';
    snprintf(what, sizeof what, "overflow of a %s-byte shared stack (%s): child %s, stderr \"%.200s\"",
             size, how_deep, how, o.err);
    OK("%s\n", what);
}

int main(void)
{
    expect_overflow(body_overflow_64k, NULL, "#3", "65536", "256-byte frames, after yields");
    expect_overflow(body_overflow_default, NULL, "#1", "262144", "256-byte frames");
    static size_t big[] = {5 * 1024, 12 * 1024, 40 * 1024};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        char frames[64];
        snprintf(frames, sizeof frames, "%zu KiB frames", big[i] / 1024);
        expect_overflow(body_overflow_big_frames, &big[i], "#1", "65536", frames);
    }

    struct outcome o;
    char how[128], what[300];
    run_child(body_wild_load, NULL, &o);
    describe(o.status, how, sizeof how);
    /* The reporter hands faults that are not its own to the handler that
     * was there before: none (the default action, death by SIGSEGV), or a
     * sanitizer's, which reports the SEGV and exits non-zero. */
    int segv_default = WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSEGV;
    int segv_chained = WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0 &&
                       strstr(o.err, "SEGV") != NULL;
    CHECK(segv_default || segv_chained, "wild load: child %s; stderr: %s", how, o.err);
    CHECK(strstr(o.err, "overflowed") == NULL, "a wild load was reported as an overflow: %s",
          o.err);
    snprintf(what, sizeof what,
             "a load from an unmapped address in a coroutine is not reported as an overflow: child %s", how);
    OK("%s\n", what);

    return check_finish("test_overflow_guard");
}
