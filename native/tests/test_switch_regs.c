/* test_switch_regs: what a coroutine holds in registers and on its stack
 * survives every switch, with many coroutines interleaved so that each
 * switch also copies stacks.
 *
 *  1. Every callee-saved register of the ABI, loaded with a per-coroutine
 *     pattern by a few lines of assembly that then call coro_yield_now()
 *     (x86_64: rbx rbp r12-r15; i386: ebx esi edi ebp; aarch64: x19-x29,
 *     d8-d15).
 *  2. Many live C values (registers and spill slots) across yields.
 *  3. Deep recursion (400 frames) that yields in every frame on the way down
 *     and up, each frame checking its locals and its callee's result.
 */
#include "coro.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ------------------------------------------------------------------------ */
/* 1. Callee-saved registers                                                 */

/* void regs_roundtrip(uintptr_t seed, uintptr_t out[NREGS]): loads register
 * k with seed + k, calls coro_yield_now(), stores the registers into out. */
/* ELF and Mach-O spell a hidden function differently: Mach-O C symbols have
 * a leading underscore, and it has no .type/.size. */
#ifdef __APPLE__
#define ASM_FUNC_BEGIN(name) ".globl _" #name "\n.private_extern _" #name "\n_" #name ":\n"
#define ASM_FUNC_END(name) ""
#define ASM_CALL(name) "_" #name
#else
#define ASM_FUNC_BEGIN(name)                                                             \
    ".globl " #name "\n.hidden " #name "\n.type " #name ", " ASM_FUNCTION_TYPE "\n" #name ":\n"
#define ASM_FUNC_END(name) ".size " #name ", .-" #name "\n"
#if defined(__x86_64__)
#define ASM_CALL(name) #name "@PLT"
#else
#define ASM_CALL(name) #name
#endif
#if defined(__aarch64__)
#define ASM_FUNCTION_TYPE "%function"
#else
#define ASM_FUNCTION_TYPE "@function"
#endif
#endif
#if defined(__x86_64__)
#define NREGS 6
static const char *const reg_names[NREGS] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
__asm__(".text\n"
        ASM_FUNC_BEGIN(regs_roundtrip)
        "  pushq %rbx\n  pushq %rbp\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  pushq %rsi\n" /* 7 pushes: the stack is 16-byte aligned for the call */
        "  movq %rdi, %rbx\n"
        "  leaq 1(%rdi), %rbp\n"
        "  leaq 2(%rdi), %r12\n"
        "  leaq 3(%rdi), %r13\n"
        "  leaq 4(%rdi), %r14\n"
        "  leaq 5(%rdi), %r15\n"
        "  call " ASM_CALL(coro_yield_now) "\n"
        "  popq %rsi\n"
        "  movq %rbx, 0(%rsi)\n  movq %rbp, 8(%rsi)\n  movq %r12, 16(%rsi)\n"
        "  movq %r13, 24(%rsi)\n  movq %r14, 32(%rsi)\n  movq %r15, 40(%rsi)\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbp\n  popq %rbx\n"
        "  ret\n"
        ASM_FUNC_END(regs_roundtrip));
#elif defined(__i386__)
#define NREGS 4
static const char *const reg_names[NREGS] = {"ebx", "esi", "edi", "ebp"};
__asm__(".text\n"
        ASM_FUNC_BEGIN(regs_roundtrip)
        "  pushl %ebp\n  pushl %ebx\n  pushl %esi\n  pushl %edi\n"
        "  movl 20(%esp), %eax\n" /* seed */
        "  subl $12, %esp\n"      /* 16-byte alignment at the call */
        "  movl %eax, %ebx\n"
        "  leal 1(%eax), %esi\n"
        "  leal 2(%eax), %edi\n"
        "  leal 3(%eax), %ebp\n"
        "  call " ASM_CALL(coro_yield_now) "\n"
        "  addl $12, %esp\n"
        "  movl 24(%esp), %eax\n" /* out */
        "  movl %ebx, 0(%eax)\n  movl %esi, 4(%eax)\n  movl %edi, 8(%eax)\n  movl %ebp, 12(%eax)\n"
        "  popl %edi\n  popl %esi\n  popl %ebx\n  popl %ebp\n"
        "  ret\n"
        ASM_FUNC_END(regs_roundtrip));
#elif defined(__aarch64__)
#define NREGS 19
static const char *const reg_names[NREGS] = {"x19", "x20", "x21", "x22", "x23", "x24", "x25",
                                             "x26", "x27", "x28", "x29", "d8",  "d9",  "d10",
                                             "d11", "d12", "d13", "d14", "d15"};
__asm__(".text\n"
        ASM_FUNC_BEGIN(regs_roundtrip)
        "  stp x29, x30, [sp, #-176]!\n"
        "  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n  stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n  stp d14, d15, [sp, #144]\n"
        "  str x1, [sp, #160]\n"
        "  mov x19, x0\n  add x20, x0, #1\n  add x21, x0, #2\n  add x22, x0, #3\n"
        "  add x23, x0, #4\n  add x24, x0, #5\n  add x25, x0, #6\n  add x26, x0, #7\n"
        "  add x27, x0, #8\n  add x28, x0, #9\n  add x29, x0, #10\n"
        "  add x9, x0, #11\n  fmov d8, x9\n  add x9, x0, #12\n  fmov d9, x9\n"
        "  add x9, x0, #13\n  fmov d10, x9\n  add x9, x0, #14\n  fmov d11, x9\n"
        "  add x9, x0, #15\n  fmov d12, x9\n  add x9, x0, #16\n  fmov d13, x9\n"
        "  add x9, x0, #17\n  fmov d14, x9\n  add x9, x0, #18\n  fmov d15, x9\n"
        "  bl " ASM_CALL(coro_yield_now) "\n"
        "  ldr x1, [sp, #160]\n"
        "  stp x19, x20, [x1, #0]\n  stp x21, x22, [x1, #16]\n  stp x23, x24, [x1, #32]\n"
        "  stp x25, x26, [x1, #48]\n  stp x27, x28, [x1, #64]\n  str x29, [x1, #80]\n"
        "  str d8, [x1, #88]\n  str d9, [x1, #96]\n  str d10, [x1, #104]\n  str d11, [x1, #112]\n"
        "  str d12, [x1, #120]\n  str d13, [x1, #128]\n  str d14, [x1, #136]\n  str d15, [x1, #144]\n"
        "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n  ldp x27, x28, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n"
        "  ret\n"
        ASM_FUNC_END(regs_roundtrip));
#else
#error "test_switch_regs: add regs_roundtrip for this architecture"
#endif

void regs_roundtrip(uintptr_t seed, uintptr_t out[NREGS]);
/* The asm above calls coro_yield_now, which link-time optimisation does not
 * see: once every C call to it is inlined, nothing would keep the function
 * itself. This reference does. */
__attribute__((used)) static int (*const keep_yield_now)(void) = coro_yield_now;

#define NCORO 64
#define ROUNDS 300

static uintptr_t pattern(intptr_t who, int round)
{
    /* Distinct in every byte across coroutines and rounds (and for 32-bit
     * registers, in the low word). The low byte is kept clear of NREGS so
     * that seed + k never carries. */
    uint64_t x = (uint64_t)(who + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)round * 0xC2B2AE3D27D4EB4Full;
    return (uintptr_t)(x & ~(uint64_t)0xFF);
}

static int64_t reg_checks;

static void regs_coroutine(void *arg)
{
    intptr_t who = (intptr_t)arg;
    uintptr_t out[NREGS];
    for (int round = 0; round < ROUNDS; round++) {
        uintptr_t seed = pattern(who, round);
        regs_roundtrip(seed, out);
        for (int k = 0; k < NREGS; k++) {
            CHECK(out[k] == seed + (uintptr_t)k, "coroutine %ld round %d: %s = %#lx, want %#lx",
                  (long)who, round, reg_names[k], (unsigned long)out[k],
                  (unsigned long)(seed + (uintptr_t)k));
            reg_checks++;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* 2. Many live C values                                                     */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7FB5D329728EA185ull;
    x ^= x >> 27;
    return x;
}

static void __attribute__((noinline)) live_values(intptr_t who)
{
    /* 16 values live across each yield: more than any ABI has callee-saved
     * registers, so some are in registers and some in spill slots. */
    uint64_t v[16];
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t a0 = mix((uint64_t)who * 1000 + (uint64_t)round), a1 = mix(a0), a2 = mix(a1),
                 a3 = mix(a2), a4 = mix(a3), a5 = mix(a4), a6 = mix(a5), a7 = mix(a6), a8 = mix(a7),
                 a9 = mix(a8), a10 = mix(a9), a11 = mix(a10), a12 = mix(a11), a13 = mix(a12),
                 a14 = mix(a13), a15 = mix(a14);
        double d0 = (double)a0 * 0.5, d1 = (double)a1 * 0.25, d2 = (double)a2 * 0.125;
        coro_yield_now();
        v[0] = a0, v[1] = a1, v[2] = a2, v[3] = a3, v[4] = a4, v[5] = a5, v[6] = a6, v[7] = a7;
        v[8] = a8, v[9] = a9, v[10] = a10, v[11] = a11, v[12] = a12, v[13] = a13, v[14] = a14;
        v[15] = a15;
        uint64_t want = mix((uint64_t)who * 1000 + (uint64_t)round);
        for (int k = 0; k < 16; k++) {
            CHECK(v[k] == want, "coroutine %ld round %d: value %d corrupted", (long)who, round, k);
            want = mix(want);
        }
        CHECK(d0 == (double)a0 * 0.5 && d1 == (double)a1 * 0.25 && d2 == (double)a2 * 0.125,
              "coroutine %ld round %d: double corrupted", (long)who, round);
        CHECK(coro_id(coro_current()) == who + 1 + NCORO, "coroutine %ld: coro_current() is #%lld",
              (long)who, (long long)coro_id(coro_current()));
    }
}

static void values_coroutine(void *arg)
{
    live_values((intptr_t)arg);
}

/* ------------------------------------------------------------------------ */
/* 3. Deep recursion across yields                                           */

#define DEPTH 400

static int64_t frames_checked;

static uint64_t __attribute__((noinline)) descend(intptr_t who, int depth)
{
    unsigned char local[48];
    memset(local, (int)(who * 7 + depth), sizeof local);
    uint64_t mine = mix((uint64_t)who << 20 | (uint64_t)depth);
    coro_yield_now();
    uint64_t below = depth > 0 ? descend(who, depth - 1) : 0;
    coro_yield_now();
    for (size_t i = 0; i < sizeof local; i++)
        if (local[i] != (unsigned char)(who * 7 + depth)) {
            CHECK(0, "coroutine %ld depth %d: local byte %zu corrupted", (long)who, depth, i);
            break;
        }
    uint64_t want_below = 0;
    for (int d = depth - 1; d >= 0; d--)
        want_below += mix((uint64_t)who << 20 | (uint64_t)d);
    CHECK(below == want_below, "coroutine %ld depth %d: callee returned a wrong sum", (long)who,
          depth);
    CHECK(mine == mix((uint64_t)who << 20 | (uint64_t)depth), "coroutine %ld depth %d: value",
          (long)who, depth);
    frames_checked++;
    return below + mine;
}

static void deep_coroutine(void *arg)
{
    intptr_t who = (intptr_t)arg;
    /* Different depths, so slices of different sizes take turns. */
    descend(who, DEPTH - (int)who * 37);
}

int main(void)
{
    if (coro_runtime_init(0, NULL) < 0) {
        perror("coro_runtime_init");
        return 1;
    }

    for (intptr_t i = 0; i < NCORO; i++)
        CHECK(coro_spawn(regs_coroutine, (void *)i) != NULL, "spawn");
    CHECK(coro_run() == 0, "registers: coroutines left");
    CHECK(reg_checks == (int64_t)NCORO * ROUNDS * NREGS, "%lld register checks ran",
          (long long)reg_checks);
    char what[200];
    snprintf(what, sizeof what,
             "callee-saved registers (%d per switch) survive %d switches among %d coroutines",
             NREGS, NCORO * ROUNDS * 2, NCORO);
    OK("%s\n", what);

    for (intptr_t i = 0; i < NCORO; i++)
        CHECK(coro_spawn(values_coroutine, (void *)i) != NULL, "spawn");
    CHECK(coro_run() == 0, "values: coroutines left");
    snprintf(what, sizeof what,
             "16 integers and 3 doubles live across each of %d yields in %d coroutines; "
             "coro_current() right after every resume",
             ROUNDS, NCORO);
    OK("%s\n", what);

    int ndeep = 8;
    int64_t want_frames = 0;
    for (intptr_t i = 0; i < ndeep; i++) {
        CHECK(coro_spawn(deep_coroutine, (void *)i) != NULL, "spawn");
        want_frames += DEPTH - i * 37 + 1;
    }
    coro_stats_t before, after;
    coro_get_stats(&before);
    CHECK(coro_run() == 0, "recursion: coroutines left");
    coro_get_stats(&after);
    CHECK(frames_checked == want_frames, "%lld of %lld frames checked", (long long)frames_checked,
          (long long)want_frames);
    CHECK(after.max_slice_bytes > DEPTH * 48, "max slice %lld bytes for %d frames of 48+ bytes",
          (long long)after.max_slice_bytes, DEPTH);
    snprintf(what, sizeof what,
             "%d coroutines recursing up to %d frames, yielding in every frame down and up: "
             "%lld frames intact (largest slice %lld bytes, %lld bytes copied)",
             ndeep, DEPTH, (long long)frames_checked, (long long)after.max_slice_bytes,
             (long long)(after.bytes_saved - before.bytes_saved + after.bytes_restored -
                         before.bytes_restored));
    OK("%s\n", what);

    coro_runtime_destroy();
    return check_finish("test_switch_regs");
}
