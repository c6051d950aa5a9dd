/*
 * arch.h - the architecture layer: one saved-context struct per arch+ABI,
 * laid out exactly as the matching switch_*.S file expects. Adding an
 * architecture = one .S file + one block here (offsets asserted below).
 */
#ifndef CORO_ARCH_H
#define CORO_ARCH_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && !defined(_WIN32)
#ifdef __APPLE__
#define CORO_ARCH_NAME "x86_64-sysv-macho" /* switch_x86_64_sysv_macho.S, same layout */
#else
#define CORO_ARCH_NAME "x86_64-sysv-elf"
#endif
typedef struct coro_arch_ctx {
    void *rsp, *rip;
    void *rbx, *rbp, *r12, *r13, *r14, *r15;
    uint16_t fpucw;
    uint16_t pad;
    uint32_t mxcsr;
} coro_arch_ctx_t;
_Static_assert(offsetof(coro_arch_ctx_t, rsp) == 0, "switch_x86_64_sysv_elf.S: rsp");
_Static_assert(offsetof(coro_arch_ctx_t, rip) == 8, "switch_x86_64_sysv_elf.S: rip");
_Static_assert(offsetof(coro_arch_ctx_t, rbx) == 16, "switch_x86_64_sysv_elf.S: rbx");
_Static_assert(offsetof(coro_arch_ctx_t, r15) == 56, "switch_x86_64_sysv_elf.S: r15");
_Static_assert(offsetof(coro_arch_ctx_t, fpucw) == 64, "switch_x86_64_sysv_elf.S: fpucw");
_Static_assert(offsetof(coro_arch_ctx_t, mxcsr) == 68, "switch_x86_64_sysv_elf.S: mxcsr");
_Static_assert(sizeof(coro_arch_ctx_t) == 72, "switch_x86_64_sysv_elf.S: size");
#define CORO_ARCH_SP(ctx) ((ctx)->rsp)

/* A fresh context that starts `entry` with an empty stack whose top is
 * `top` (16-byte aligned): rsp is set as if `entry` had just been called,
 * i.e. rsp + 8 is 16-byte aligned. The FPU control words start at the
 * values the caller has now, as a new thread would inherit them. */
static inline void coro_arch_ctx_init(coro_arch_ctx_t *ctx, char *top, void (*entry)(void))
{
    *ctx = (coro_arch_ctx_t){0};
    ctx->rsp = top - 8;
    ctx->rip = (void *)entry;
    __asm__ volatile("fnstcw %0" : "=m"(ctx->fpucw));
    __asm__ volatile("stmxcsr %0" : "=m"(ctx->mxcsr));
}

#elif defined(__i386__) && !defined(_WIN32)
#define CORO_ARCH_NAME "i386-sysv-elf"
typedef struct coro_arch_ctx {
    void *esp, *eip;
    void *ebx, *esi, *edi, *ebp;
    uint16_t fpucw;
    uint16_t pad;
    uint32_t mxcsr;
} coro_arch_ctx_t;
_Static_assert(offsetof(coro_arch_ctx_t, esp) == 0, "switch_i386_sysv_elf.S: esp");
_Static_assert(offsetof(coro_arch_ctx_t, eip) == 4, "switch_i386_sysv_elf.S: eip");
_Static_assert(offsetof(coro_arch_ctx_t, ebx) == 8, "switch_i386_sysv_elf.S: ebx");
_Static_assert(offsetof(coro_arch_ctx_t, ebp) == 20, "switch_i386_sysv_elf.S: ebp");
_Static_assert(offsetof(coro_arch_ctx_t, fpucw) == 24, "switch_i386_sysv_elf.S: fpucw");
_Static_assert(offsetof(coro_arch_ctx_t, mxcsr) == 28, "switch_i386_sysv_elf.S: mxcsr");
_Static_assert(sizeof(coro_arch_ctx_t) == 32, "switch_i386_sysv_elf.S: size");
#define CORO_ARCH_SP(ctx) ((ctx)->esp)

/* As on x86_64: esp as if entry had just been called, so esp + 4 is 16-byte
 * aligned (what GCC assumes on i386 Linux). */
static inline void coro_arch_ctx_init(coro_arch_ctx_t *ctx, char *top, void (*entry)(void))
{
    *ctx = (coro_arch_ctx_t){0};
    ctx->esp = top - 4;
    ctx->eip = (void *)entry;
    __asm__ volatile("fnstcw %0" : "=m"(ctx->fpucw));
#ifdef __SSE__
    __asm__ volatile("stmxcsr %0" : "=m"(ctx->mxcsr));
#endif
}

#elif defined(__aarch64__) && (defined(__ELF__) || defined(__APPLE__))
/* Apple's arm64 ABI keeps AAPCS64's callee-saved set (x19-x28, x29, x30,
 * d8-d15; it only reserves x18, which the switch never touches), so the
 * Mach-O file has the same layout. */
#ifdef __APPLE__
#define CORO_ARCH_NAME "arm64-aapcs-macho"
#else
#define CORO_ARCH_NAME "arm64-aapcs-elf"
#endif
typedef struct coro_arch_ctx {
    void *sp, *pc;
    uint64_t x19_x28[10];
    void *x29;
    uint64_t d8_d15[8];
    uint64_t fpcr;
} coro_arch_ctx_t;
_Static_assert(offsetof(coro_arch_ctx_t, sp) == 0, "switch_arm64_aapcs_elf.S: sp");
_Static_assert(offsetof(coro_arch_ctx_t, pc) == 8, "switch_arm64_aapcs_elf.S: pc");
_Static_assert(offsetof(coro_arch_ctx_t, x19_x28) == 16, "switch_arm64_aapcs_elf.S: x19");
_Static_assert(offsetof(coro_arch_ctx_t, x29) == 96, "switch_arm64_aapcs_elf.S: x29");
_Static_assert(offsetof(coro_arch_ctx_t, d8_d15) == 104, "switch_arm64_aapcs_elf.S: d8");
_Static_assert(offsetof(coro_arch_ctx_t, fpcr) == 168, "switch_arm64_aapcs_elf.S: fpcr");
_Static_assert(sizeof(coro_arch_ctx_t) == 176, "switch_arm64_aapcs_elf.S: size");
#define CORO_ARCH_SP(ctx) ((ctx)->sp)

/* AArch64 keeps sp 16-byte aligned at all times; entry starts at top. */
static inline void coro_arch_ctx_init(coro_arch_ctx_t *ctx, char *top, void (*entry)(void))
{
    *ctx = (coro_arch_ctx_t){0};
    ctx->sp = top;
    ctx->pc = (void *)entry;
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    ctx->fpcr = fpcr;
}

#else
#error "coro-bench: no context switch for this architecture"
#endif

/* Saves the running context into *from and resumes *to (assembly). */
void coro_arch_switch(coro_arch_ctx_t *from, const coro_arch_ctx_t *to);

#endif
