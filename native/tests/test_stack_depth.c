/* test_stack_depth: live stacks from 0 B to 128 KiB on a 256 KiB shared
 * stack survive switches byte for byte, and the copy counters tell the truth.
 *
 *  1. Pairs of coroutines alternate (so every resume saves one slice and
 *     restores the other), each keeping `depth` bytes of fresh random data
 *     live across every yield. Every byte is checked after every resume.
 *     bytes_saved grows by exactly the two live slices per round (within
 *     the few hundred bytes of switch frames below the live data), no
 *     malloc happens once the save buffers exist, and max_slice_bytes is
 *     the largest live slice.
 *  2. A coroutine resumed alone (the lazy path) copies nothing.
 *  3. A coroutine that grows its stack step by step to 128 KiB reallocates
 *     its save buffer only when the slice outgrows it, doubling each time
 *     (a logarithmic number of mallocs), then 10,000 further switches at
 *     full depth allocate nothing and leave save_buffer_bytes unchanged.
 */
#include "coro.h"

#include <alloca.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ------------------------------------------------------------------------ */
/* Counting malloc calls (glibc; not under sanitizers, which own malloc).    */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MALLOC_COUNT 1
#endif
#endif
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(NO_MALLOC_COUNT)
#define COUNT_MALLOC 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int64_t malloc_calls;
void *malloc(size_t n)
{
    malloc_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    malloc_calls++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    malloc_calls++;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}
#else
static volatile int64_t malloc_calls; /* stays 0: the no-malloc checks are vacuous */
#endif

/* ------------------------------------------------------------------------ */

#define STACK_BYTES (256 * 1024)
/* Frames below the live data at a switch: hold()'s own slots, coro_yield_now
 * and the switch. Generous: it is a few dozen bytes in practice. */
#define SWITCH_FRAMES_MAX 512

static char *stack_top(void)
{
    return (char *)coro_stack_base() + coro_stack_bytes();
}

static void stats(coro_stats_t *s)
{
    if (coro_get_stats(s) < 0)
        abort();
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = next(&x);
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)next(&x);
}

static int same(const unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = next(&x), got;
        memcpy(&got, p + i, 8);
        if (got != v)
            return 0;
    }
    for (; i < n; i++)
        if (p[i] != (unsigned char)next(&x))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* 1 and 2: fixed depths                                                     */

#define ROUNDS 200
#define WARM 2

struct holder {
    int64_t depth;         /* bytes of data kept live across each yield */
    uint64_t seed;
    int64_t live_slice;    /* measured: stack top - lowest live byte */
    int64_t corrupt_rounds;
    int64_t rounds_done;
    coro_stats_t s0, s1;   /* after the resume of round WARM and of the last */
    int64_t mallocs0, mallocs1;
};

static void __attribute__((noinline)) hold(struct holder *h)
{
    size_t n = (size_t)h->depth;
    unsigned char *buf = n ? alloca(n) : NULL;
    volatile char marker = 0;
    char *lowest = (char *)&marker;
    if (buf && (char *)buf < lowest)
        lowest = (char *)buf;
    h->live_slice = stack_top() - lowest;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t seed = h->seed * 1000003u + (uint64_t)r;
        fill(buf, n, seed);
        coro_yield_now();
        if (r == WARM) {
            stats(&h->s0);
            h->mallocs0 = malloc_calls;
        } else if (r == ROUNDS - 1) {
            stats(&h->s1);
            h->mallocs1 = malloc_calls;
        }
        if (!same(buf, n, seed))
            h->corrupt_rounds++;
        h->rounds_done++;
    }
    (void)marker;
}

static void holder_coroutine(void *arg)
{
    hold(arg);
}

static int64_t max_live_slice_seen;

static void run_pair(int64_t depth_a, int64_t depth_b)
{
    struct holder h[2] = {{.depth = depth_a, .seed = (uint64_t)depth_a * 7 + 1},
                          {.depth = depth_b, .seed = (uint64_t)depth_b * 7 + 2}};
    coro_spawn(holder_coroutine, &h[0]);
    coro_spawn(holder_coroutine, &h[1]);
    CHECK(coro_run() == 0, "coroutines left");
    for (int i = 0; i < 2; i++) {
        CHECK(h[i].rounds_done == ROUNDS, "depth %lld: %lld rounds", (long long)h[i].depth,
              (long long)h[i].rounds_done);
        CHECK(h[i].corrupt_rounds == 0, "depth %lld: live data corrupted in %lld of %d rounds",
              (long long)h[i].depth, (long long)h[i].corrupt_rounds, ROUNDS);
        CHECK(h[i].live_slice >= h[i].depth, "live slice %lld < depth %lld",
              (long long)h[i].live_slice, (long long)h[i].depth);
        if (h[i].live_slice > max_live_slice_seen)
            max_live_slice_seen = h[i].live_slice;
    }
    /* Coroutine 0's window: n full rounds, each saving both slices once. */
    int64_t n = ROUNDS - 1 - WARM;
    coro_stats_t *a = &h[0].s0, *b = &h[0].s1;
    int64_t switches = b->switches - a->switches;
    int64_t saved = b->bytes_saved - a->bytes_saved;
    int64_t restored = b->bytes_restored - a->bytes_restored;
    int64_t live = h[0].live_slice + h[1].live_slice;
    CHECK(switches == 4 * n, "%lld switches in %lld rounds", (long long)switches, (long long)n);
    CHECK(saved >= n * live && saved <= n * (live + 2 * SWITCH_FRAMES_MAX),
          "saved %lld bytes in %lld rounds, live slices %lld + %lld", (long long)saved,
          (long long)n, (long long)h[0].live_slice, (long long)h[1].live_slice);
    CHECK(restored == saved, "restored %lld != saved %lld", (long long)restored, (long long)saved);
    CHECK(h[0].mallocs1 == h[0].mallocs0, "%lld mallocs while switching",
          (long long)(h[0].mallocs1 - h[0].mallocs0));
    coro_stats_t now;
    stats(&now);
    CHECK(now.max_slice_bytes >= max_live_slice_seen &&
              now.max_slice_bytes <= max_live_slice_seen + SWITCH_FRAMES_MAX,
          "max_slice_bytes %lld, largest live slice %lld", (long long)now.max_slice_bytes,
          (long long)max_live_slice_seen);

    double per_save = (double)saved / (double)(2 * n);
    char what[300];
    snprintf(what, sizeof what,
             "live stacks %6lld B + %6lld B alternating: %d rounds byte-exact; %.0f B saved per "
             "switch-out = live slice %.0f B + %.0f B of switch frames; restored == saved; "
             "no malloc",
             (long long)depth_a, (long long)depth_b, ROUNDS, per_save, (double)live / 2,
             per_save - (double)live / 2);
    OK("%s\n", what);
}

static void lazy_path(void)
{
    struct holder h = {.depth = 16 * 1024, .seed = 99};
    coro_spawn(holder_coroutine, &h);
    CHECK(coro_run() == 0, "coroutines left");
    CHECK(h.corrupt_rounds == 0, "lazy: corrupted");
    int64_t copied = h.s1.bytes_saved - h.s0.bytes_saved + h.s1.bytes_restored - h.s0.bytes_restored;
    int64_t switches = h.s1.switches - h.s0.switches;
    CHECK(copied == 0 && switches == 2 * (ROUNDS - 1 - WARM),
          "lazy: %lld bytes copied in %lld switches", (long long)copied, (long long)switches);
    OK("lazy path: a 16 KiB coroutine resumed alone copies 0 bytes per switch\n");
}

/* ------------------------------------------------------------------------ */
/* 3: growth of the save buffer                                              */

#define GROW_STEP 256
#define GROW_TARGET (128 * 1024)
#define STEADY_ROUNDS 2500 /* x 4 switches = 10,000 */

static struct grower {
    int levels;
    int64_t buffer_increases;  /* save_buffer_bytes went up between two levels */
    int64_t mallocs;           /* during the growth */
    int64_t first_slice, last_slice;
    int64_t last_buffer_bytes;
    int corrupt;
    coro_stats_t steady0, steady1;
    int64_t steady_mallocs;
    int done;
} g;

static void __attribute__((noinline)) grow(int level)
{
    volatile unsigned char pad[GROW_STEP];
    for (int i = 0; i < GROW_STEP; i++)
        pad[i] = (unsigned char)(level + i);
    coro_yield_now(); /* the partner runs: this slice is saved and restored */
    coro_stats_t s;
    stats(&s);
    int64_t slice = stack_top() - (char *)pad;
    if (level == 2) {
        g.first_slice = slice;
        g.mallocs = malloc_calls;
    } else if (level > 2 && s.save_buffer_bytes > g.last_buffer_bytes) {
        g.buffer_increases++;
    }
    g.last_buffer_bytes = s.save_buffer_bytes;
    g.last_slice = slice;
    g.levels = level;
    if (slice < GROW_TARGET) {
        grow(level + 1);
    } else {
        g.mallocs = malloc_calls - g.mallocs;
        /* At full depth: 10,000 switches must allocate nothing. */
        stats(&g.steady0);
        int64_t m0 = malloc_calls;
        for (int r = 0; r < STEADY_ROUNDS; r++)
            coro_yield_now();
        g.steady_mallocs = malloc_calls - m0;
        stats(&g.steady1);
    }
    for (int i = 0; i < GROW_STEP; i++)
        if (pad[i] != (unsigned char)(level + i))
            g.corrupt++;
}

static void grower_coroutine(void *arg)
{
    (void)arg;
    grow(0);
    g.done = 1;
}

static void partner_coroutine(void *arg)
{
    (void)arg;
    while (!g.done)
        coro_yield_now();
}

static void growth(void)
{
    coro_spawn(grower_coroutine, NULL);
    coro_spawn(partner_coroutine, NULL);
    CHECK(coro_run() == 0, "coroutines left");
    CHECK(g.corrupt == 0, "growth: %d bytes corrupted", g.corrupt);
    /* Doubling from the first slice: ceil(log2(last / first)) reallocations
     * (one more allowed, for the rounding to 64 bytes). */
    int64_t bound = 1;
    for (int64_t c = g.first_slice; c < g.last_slice; c *= 2)
        bound++;
    CHECK(g.buffer_increases >= 1 && g.buffer_increases <= bound,
          "save buffer grew %lld times over %d levels (doubling allows %lld)",
          (long long)g.buffer_increases, g.levels, (long long)bound);
#ifdef COUNT_MALLOC
    CHECK(g.mallocs == g.buffer_increases, "%lld mallocs for %lld buffer growths",
          (long long)g.mallocs, (long long)g.buffer_increases);
#endif
    CHECK(g.last_buffer_bytes <= 2 * g.last_slice + 4096,
          "save_buffer_bytes %lld for a %lld-byte slice (and a tiny partner)",
          (long long)g.last_buffer_bytes, (long long)g.last_slice);
    char what[300];
    snprintf(what, sizeof what,
             "save buffer grows by doubling: slice %lld B -> %lld B over %d levels, %lld "
             "reallocations (bound %lld)%s",
             (long long)g.first_slice, (long long)g.last_slice, g.levels,
             (long long)g.buffer_increases, (long long)bound,
#ifdef COUNT_MALLOC
             ", one malloc each"
#else
             ""
#endif
    );
    OK("%s\n", what);

    int64_t switches = g.steady1.switches - g.steady0.switches;
    CHECK(switches == 4 * STEADY_ROUNDS, "%lld steady switches", (long long)switches);
    CHECK(g.steady1.save_buffer_bytes == g.steady0.save_buffer_bytes,
          "save_buffer_bytes moved from %lld to %lld at constant depth",
          (long long)g.steady0.save_buffer_bytes, (long long)g.steady1.save_buffer_bytes);
    CHECK(g.steady_mallocs == 0, "%lld mallocs in the steady switches", (long long)g.steady_mallocs);
    int64_t per = (g.steady1.bytes_saved - g.steady0.bytes_saved) / (2 * STEADY_ROUNDS);
    snprintf(what, sizeof what,
             "%lld switches at full depth (%lld B saved per switch-out, average of both): "
             "save_buffer_bytes constant at %lld%s",
             (long long)switches, (long long)per, (long long)g.steady1.save_buffer_bytes,
#ifdef COUNT_MALLOC
             ", 0 malloc calls"
#else
             " (malloc not counted in this build)"
#endif
    );
    OK("%s\n", what);
}

int main(void)
{
    if (coro_runtime_init(STACK_BYTES, NULL) < 0) {
        perror("coro_runtime_init");
        return 1;
    }
    CHECK(coro_stack_bytes() == STACK_BYTES, "stack is %lld bytes", (long long)coro_stack_bytes());
    static const int64_t depths[] = {0, 64, 1024, 4096, 16384, 65536, 131072};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
        run_pair(depths[i], depths[i]);
    run_pair(0, 131072);
    run_pair(131072, 1024);
    lazy_path();
    growth();
    coro_stats_t end;
    stats(&end);
    CHECK(end.live_coroutines == 0 && end.save_buffer_bytes == 0,
          "after the last coroutine: live %lld, save_buffer_bytes %lld",
          (long long)end.live_coroutines, (long long)end.save_buffer_bytes);
    OK("save_buffer_bytes returns to 0 when every coroutine has ended\n");
    coro_runtime_destroy();
    return check_finish("test_stack_depth");
}
