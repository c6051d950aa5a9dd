/*
 * Context switch for AArch64, AAPCS64, Mach-O (macOS).
 *
 * The same code as the ELF file (switch_*_elf.S); Mach-O differs only in
 * names and directives: C symbols carry a leading underscore, hidden
 * visibility is .private_extern, and there is no .type, .size or
 * .note.GNU-stack (Mach-O stacks are not executable by default).
 *
 *   void coro_arch_switch(coro_arch_ctx_t *from, const coro_arch_ctx_t *to);
 *                          x0                     x1
 *
 * Saves the callee-saved state of the caller into *from and resumes *to with
 * a br to the saved return address (x30).
 *
 * coro_arch_ctx_t layout (checked from C with _Static_assert in arch.h):
 *
 *   offset  field     meaning
 *   0       sp        stack pointer of the caller
 *   8       pc        address to resume at (the caller's x30)
 *   16      x19..x28  callee-saved general registers (10 x 8 bytes)
 *   96      x29       frame pointer
 *   104     d8..d15   callee-saved low halves of v8..v15 (8 x 8 bytes)
 *   168     fpcr      floating-point control (rounding mode etc.)
 *   size 176
 */
    .text
    .globl  _coro_arch_switch
    .private_extern _coro_arch_switch
    .p2align 4
_coro_arch_switch:
    mov     x9, sp
    str     x9, [x0, #0]
    str     x30, [x0, #8]
    stp     x19, x20, [x0, #16]
    stp     x21, x22, [x0, #32]
    stp     x23, x24, [x0, #48]
    stp     x25, x26, [x0, #64]
    stp     x27, x28, [x0, #80]
    str     x29, [x0, #96]
    stp     d8, d9, [x0, #104]
    stp     d10, d11, [x0, #120]
    stp     d12, d13, [x0, #136]
    stp     d14, d15, [x0, #152]
    mrs     x9, fpcr
    str     x9, [x0, #168]

    ldr     x9, [x1, #0]
    mov     sp, x9
    ldr     x10, [x1, #8]
    ldp     x19, x20, [x1, #16]
    ldp     x21, x22, [x1, #32]
    ldp     x23, x24, [x1, #48]
    ldp     x25, x26, [x1, #64]
    ldp     x27, x28, [x1, #80]
    ldr     x29, [x1, #96]
    ldp     d8, d9, [x1, #104]
    ldp     d10, d11, [x1, #120]
    ldp     d12, d13, [x1, #136]
    ldp     d14, d15, [x1, #152]
    ldr     x9, [x1, #168]
    msr     fpcr, x9
    br      x10
