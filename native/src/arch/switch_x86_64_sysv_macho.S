/*
 * Context switch for x86_64, System V ABI, Mach-O (macOS).
 *
 * The same code as the ELF file (switch_*_elf.S); Mach-O differs only in
 * names and directives: C symbols carry a leading underscore, hidden
 * visibility is .private_extern, and there is no .type, .size or
 * .note.GNU-stack (Mach-O stacks are not executable by default).
 *
 *   void coro_arch_switch(coro_arch_ctx_t *from, const coro_arch_ctx_t *to);
 *                          rdi                    rsi
 *
 * Saves the callee-saved state of the caller into *from and resumes *to.
 * Resumption is a jmp to the saved address (not a ret over a patched return
 * slot: that defeats the return-address predictor and measured ~2x slower).
 *
 * coro_arch_ctx_t layout (checked from C with _Static_assert in arch.h):
 *
 *   offset  field   meaning
 *   0       rsp     stack pointer after the call returns (caller's rsp)
 *   8       rip     address to resume at (the caller's return address)
 *   16      rbx
 *   24      rbp
 *   32      r12
 *   40      r13
 *   48      r14
 *   56      r15
 *   64      fpucw   x87 control word (16 bits)      -- callee-saved per ABI
 *   68      mxcsr   SSE control/status (32 bits)    -- callee-saved per ABI
 *   size 72
 */
    .text
    .globl  _coro_arch_switch
    .private_extern _coro_arch_switch
    .p2align 4
_coro_arch_switch:
    movq    (%rsp), %rax            /* return address */
    leaq    8(%rsp), %rcx           /* rsp as the caller will see it */
    movq    %rcx, 0(%rdi)
    movq    %rax, 8(%rdi)
    movq    %rbx, 16(%rdi)
    movq    %rbp, 24(%rdi)
    movq    %r12, 32(%rdi)
    movq    %r13, 40(%rdi)
    movq    %r14, 48(%rdi)
    movq    %r15, 56(%rdi)
    fnstcw  64(%rdi)
    stmxcsr 68(%rdi)

    movq    16(%rsi), %rbx
    movq    24(%rsi), %rbp
    movq    32(%rsi), %r12
    movq    40(%rsi), %r13
    movq    48(%rsi), %r14
    movq    56(%rsi), %r15
    fldcw   64(%rsi)
    ldmxcsr 68(%rsi)
    movq    0(%rsi), %rsp
    jmpq    *8(%rsi)
