/*
 * switch_bench.c - microbenchmarks of the switch, callable over the C ABI.
 * One call runs a whole measurement (FFI costs ~3 us per call, far more
 * than a switch).
 *
 *   coro_bench_switch    N coroutines take turns (resume/yield ping-pong
 *                        through the scheduler), each keeping depth_bytes of
 *                        live stack across every yield. With N >= 2 every
 *                        resume copies (save the owner, restore the next);
 *                        with N == 1 the lazy path copies nothing.
 *   coro_bench_memcpy    the copy alone: memcpy of the same size between a
 *                        stack-like buffer and a save buffer.
 *   coro_bench_regswitch the bare assembly switch between two contexts.
 *
 * "ns per switch" is half a resume+yield round trip: the time of all
 * iterations divided by the register switches the runtime counted.
 */
#include "../src/runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_shared {
    int64_t depth_bytes;
    volatile int64_t rounds_left; /* resumes still to perform */
    volatile int64_t sink;
} bench_shared_t;

/* Keeps `depth` bytes live on the stack across each yield: the array is
 * touched before and after, so the compiler cannot drop it. */
static void __attribute__((noinline)) ping_with_depth(bench_shared_t *sh)
{
    int64_t depth = sh->depth_bytes;
    char *live = depth > 0 ? __builtin_alloca((size_t)depth) : NULL;
    if (depth > 0)
        memset(live, 1, (size_t)depth);
    while (sh->rounds_left > 0) {
        sh->rounds_left--;
        coro_yield_now();
    }
    if (depth > 0)
        sh->sink += live[depth - 1];
}

static void bench_coroutine(void *arg)
{
    ping_with_depth(arg);
}

int coro_bench_switch(coro_switch_bench_t *b)
{
    coro_runtime_t *rt = coro__rt;
    if (!rt || rt->current || b->coroutines < 1 || b->iterations < 1 || b->depth_bytes < 0 ||
        b->depth_bytes > coro_stack_bytes() / 2) {
        errno = rt ? EINVAL : ENOENT;
        return -1;
    }
    bench_shared_t *sh = calloc(1, sizeof *sh);
    if (!sh)
        return -1;
    sh->depth_bytes = b->depth_bytes;
    /* Each resume is followed by a yield: 2 switches per round. */
    int64_t warmup = 1000 * b->coroutines;
    sh->rounds_left = warmup;
    for (int64_t i = 0; i < b->coroutines; i++)
        if (!coro_spawn(bench_coroutine, sh)) {
            free(sh);
            return -1;
        }
    /* Warm up: first resumes allocate save buffers. */
    coro__run_while_positive(&sh->rounds_left);
    coro_stats_t before = rt->stats;
    sh->rounds_left = b->iterations / 2;
    int64_t t0 = coro_now_ns();
    coro__run_while_positive(&sh->rounds_left);
    int64_t t1 = coro_now_ns();
    coro_stats_t after = rt->stats;
    /* Let every coroutine finish. */
    while (rt->run_head)
        coro_run_pending();
    free(sh);

    int64_t switches = after.switches - before.switches;
    int64_t saved = after.bytes_saved - before.bytes_saved;
    int64_t restored = after.bytes_restored - before.bytes_restored;
    int64_t saves = switches / 2; /* at most one save per resume */
    b->elapsed_ns = t1 - t0;
    b->ns_per_switch = switches ? (double)b->elapsed_ns / (double)switches : 0;
    b->bytes_copied_per_switch = switches ? (double)(saved + restored) / (double)switches : 0;
    b->slice_bytes = (b->coroutines > 1 && saves) ? (double)saved / (double)saves : 0;
    return 0;
}

int coro_bench_memcpy(coro_memcpy_bench_t *b)
{
    if (b->bytes < 0 || b->iterations < 1) {
        errno = EINVAL;
        return -1;
    }
    size_t n = (size_t)b->bytes;
    char *src = malloc(n + 64), *dst = malloc(n + 64);
    if (!src || !dst) {
        free(src);
        free(dst);
        return -1;
    }
    memset(src, 1, n + 64);
    memset(dst, 2, n + 64);
    /* Alternate directions like save/restore do. The asm barrier keeps the
     * compiler from eliding or merging the copies. */
    int64_t t0 = coro_now_ns();
    for (int64_t i = 0; i < b->iterations; i++) {
        if (i & 1)
            memcpy(src, dst, n);
        else
            memcpy(dst, src, n);
        __asm__ volatile("" ::"r"(src), "r"(dst) : "memory");
    }
    int64_t t1 = coro_now_ns();
    free(src);
    free(dst);
    b->elapsed_ns = t1 - t0;
    b->ns_per_copy = (double)b->elapsed_ns / (double)b->iterations;
    return 0;
}

/* Bare register switch: two contexts, each on its own small stack. */
static coro_arch_ctx_t reg_main, reg_other;
static int64_t reg_left;

static void regswitch_entry(void)
{
    for (;;)
        coro_arch_switch(&reg_other, &reg_main);
}

int coro_bench_regswitch(coro_regswitch_bench_t *b)
{
    if (b->iterations < 2) {
        errno = EINVAL;
        return -1;
    }
    size_t size = 64 * 1024;
    char *stack = aligned_alloc(64, size);
    if (!stack)
        return -1;
    coro_arch_ctx_init(&reg_other, stack + size, regswitch_entry);
    reg_left = b->iterations / 2;
    int64_t t0 = coro_now_ns();
    while (reg_left-- > 0)
        coro_arch_switch(&reg_main, &reg_other);
    int64_t t1 = coro_now_ns();
    free(stack);
    b->elapsed_ns = t1 - t0;
    b->ns_per_switch = (double)b->elapsed_ns / (double)((b->iterations / 2) * 2);
    return 0;
}
