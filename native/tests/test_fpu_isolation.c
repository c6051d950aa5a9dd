/* test_fpu_isolation: the floating-point control state is per coroutine.
 * The ABIs make it callee-saved (x87 control word and MXCSR on x86, FPCR on
 * aarch64), so the switch saves and restores it; coro++ did not, and leaked
 * a rounding-mode change from one coroutine into every other.
 *
 * Four coroutines take turns for many rounds (every switch copies stacks):
 * three set a different rounding mode (fesetround: x87 and SSE at once),
 * one sets only flush-to-zero (SSE FTZ/DAZ, or FPCR.FZ), and one
 * never changes anything. After every resume each checks that it sees its
 * own mode again: fegetround(), the raw control words, and the result of an
 * inexact division (so the hardware really rounds that way). A coroutine
 * spawned by one in upward mode starts in upward mode (as a new thread
 * inherits it), and the scheduler is left in the default mode. */
#include "coro.h"

#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#ifdef __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#define MXCSR_RC_MASK 0x6000u
#define MXCSR_FTZ 0x8000u
#define MXCSR_DAZ 0x0040u
#endif
#if defined(__aarch64__)
/* FPCR.FZ: flush denormal results to zero. */
#define HAVE_FTZ 1
#define FTZ_NAME "FPCR.FZ"
static uint64_t fpcr(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}
static void ftz_on(void)
{
    uint64_t v = fpcr() | (1u << 24);
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}
static int ftz_is_on(void)
{
    return (fpcr() >> 24) & 1;
}
#elif defined(HAVE_MXCSR)
#define HAVE_FTZ 1
#define FTZ_NAME "MXCSR flush-to-zero/denormals-are-zero"
static void ftz_on(void)
{
    _mm_setcsr(_mm_getcsr() | MXCSR_FTZ | MXCSR_DAZ);
}
/* 1 if both bits are set, 0 if neither, -1 if one only. */
static int ftz_is_on(void)
{
    unsigned bits = _mm_getcsr() & (MXCSR_FTZ | MXCSR_DAZ);
    return bits == (MXCSR_FTZ | MXCSR_DAZ) ? 1 : bits == 0 ? 0 : -1;
}
#endif
#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X87 1
#define X87_RC_MASK 0x0C00u
static unsigned x87_cw(void)
{
    uint16_t cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}
#endif

#define ROUNDS 2000

/* Operands the compiler cannot fold. */
static volatile double one = 1.0, three = 3.0;
static volatile long double one_l = 1.0L, three_l = 3.0L;

/* What each mode gives, measured on the scheduler stack before any
 * coroutine runs. */
struct expect {
    int mode;
    const char *name;
    double third;
    long double third_l;
    unsigned x87_rc, mxcsr_rc;
};
static struct expect modes[4] = {
    {FE_TONEAREST, "to-nearest", 0, 0, 0x0000, 0x0000},
    {FE_UPWARD, "upward", 0, 0, 0x0800, 0x4000},
    {FE_DOWNWARD, "downward", 0, 0, 0x0400, 0x2000},
    {FE_TOWARDZERO, "toward-zero", 0, 0, 0x0C00, 0x6000},
};

static void measure_modes(void)
{
    for (int i = 0; i < 4; i++) {
        fesetround(modes[i].mode);
        modes[i].third = one / three;
        modes[i].third_l = one_l / three_l;
    }
    fesetround(FE_TONEAREST);
}

/* Checks that the running code sees mode m; where says who looks. */
static void check_mode(const struct expect *m, const char *where, int round)
{
    CHECK(fegetround() == m->mode, "%s round %d: fegetround() is not %s", where, round, m->name);
    double q = one / three;
    CHECK(memcmp(&q, &m->third, sizeof q) == 0, "%s round %d: 1/3 (double) not rounded %s",
          where, round, m->name);
#ifdef HAVE_X87
    CHECK((x87_cw() & X87_RC_MASK) == m->x87_rc, "%s round %d: x87 control word %#x, want %s",
          where, round, x87_cw(), m->name);
    long double ql = one_l / three_l;
    CHECK(ql == m->third_l, "%s round %d: 1/3 (x87 long double) not rounded %s", where, round,
          m->name);
#endif
#ifdef HAVE_MXCSR
    CHECK((_mm_getcsr() & MXCSR_RC_MASK) == m->mxcsr_rc, "%s round %d: MXCSR %#x, want %s", where,
          round, _mm_getcsr(), m->name);
#endif
    (void)where;
    (void)round;
}

static int64_t rounds_done[5];
static int child_checked;

static void child_of_upward(void *arg)
{
    (void)arg;
    check_mode(&modes[1], "child spawned in upward mode", 0);
    child_checked = 1;
}

/* arg = index into modes[]: sets that mode and keeps checking it. */
static void rounding_coroutine(void *arg)
{
    intptr_t i = (intptr_t)arg;
    const struct expect *m = &modes[i];
    char where[64];
    snprintf(where, sizeof where, "coroutine in %s mode", m->name);
    if (m->mode != FE_TONEAREST)
        CHECK(fesetround(m->mode) == 0, "fesetround(%s)", m->name);
    if (m->mode == FE_UPWARD)
        coro_spawn(child_of_upward, NULL);
    for (int r = 0; r < ROUNDS; r++) {
        coro_yield_now();
        check_mode(m, where, r);
        rounds_done[i]++;
    }
}

#ifdef HAVE_FTZ
/* tiny * scale is a denormal, which flush-to-zero turns into 0. */
static volatile double tiny = 1e-300, scale = 1e-10;

static void ftz_coroutine(void *arg)
{
    (void)arg;
    ftz_on();
    for (int r = 0; r < ROUNDS; r++) {
        coro_yield_now();
        CHECK(ftz_is_on() == 1, "FTZ coroutine round %d: %s lost", r, FTZ_NAME);
        double d = tiny * scale;
        CHECK(d == 0.0, "FTZ coroutine round %d: denormal not flushed", r);
        CHECK(fegetround() == FE_TONEAREST, "FTZ coroutine round %d: rounding changed", r);
        rounds_done[4]++;
    }
}

static void no_ftz_check(const char *where, int round)
{
    CHECK(ftz_is_on() == 0, "%s round %d: %s is set", where, round, FTZ_NAME);
    double d = tiny * scale;
    CHECK(d != 0.0, "%s round %d: denormal flushed to zero", where, round);
}
#endif

/* Never touches the FPU state: must always see the default. */
static void default_coroutine(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        coro_yield_now();
        check_mode(&modes[0], "default coroutine", r);
#ifdef HAVE_FTZ
        no_ftz_check("default coroutine", r);
#endif
        rounds_done[0]++;
    }
}

int main(void)
{
    if (RUNNING_ON_VALGRIND) {
        /* Valgrind's CPU ignores non-default rounding and flush-to-zero. */
        printf("skip: valgrind does not emulate floating-point control modes\n");
        return 0;
    }
    measure_modes();
    CHECK(modes[1].third != modes[2].third, "upward and downward 1/3 should differ");
    if (coro_runtime_init(0, NULL) < 0) {
        perror("coro_runtime_init");
        return 1;
    }
    coro_spawn(default_coroutine, NULL);
    for (intptr_t i = 1; i < 4; i++)
        coro_spawn(rounding_coroutine, (void *)i);
#ifdef HAVE_FTZ
    coro_spawn(ftz_coroutine, NULL);
#endif
    coro_stats_t st;
    CHECK(coro_run() == 0, "coroutines left");
    coro_get_stats(&st);
    for (int i = 0; i < 4; i++)
        CHECK(rounds_done[i] == ROUNDS, "%s coroutine ran %lld rounds", modes[i].name,
              (long long)rounds_done[i]);
    CHECK(st.bytes_saved > 0 && st.bytes_restored > 0, "no stack was copied");
    char what[300];
    snprintf(what, sizeof what,
             "rounding modes to-nearest/upward/downward/toward-zero, one per coroutine, "
             "each seen again after every one of %d yields (fegetround%s%s, and 1/3 rounded "
             "that way)",
             ROUNDS,
#ifdef HAVE_X87
             ", x87 control word, x87 long double",
#else
             "",
#endif
#ifdef HAVE_MXCSR
             ", MXCSR"
#else
             ""
#endif
    );
    OK("%s\n", what);
#ifdef HAVE_FTZ
    CHECK(rounds_done[4] == ROUNDS, "FTZ coroutine ran %lld rounds", (long long)rounds_done[4]);
    OK(FTZ_NAME " set in one coroutine stays there and nowhere else\n");
#endif
    CHECK(child_checked, "the child never ran");
    OK("a coroutine spawned while in upward mode starts in upward mode\n");

    check_mode(&modes[0], "scheduler after the run", 0);
#ifdef HAVE_FTZ
    no_ftz_check("scheduler after the run", 0);
#endif
    OK("the scheduler stack is back in the default mode after the run\n");

    coro_runtime_destroy();
    return check_finish("test_fpu_isolation");
}
