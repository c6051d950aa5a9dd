/*
 * Context switch for i386, System V ABI (cdecl), ELF.
 *
 *   void coro_arch_switch(coro_arch_ctx_t *from, const coro_arch_ctx_t *to);
 *                          4(%esp)                8(%esp)
 *
 * Saves the callee-saved state of the caller into *from and resumes *to by a
 * jmp to the saved address (see the x86_64 file for why not ret).
 *
 * coro_arch_ctx_t layout (checked from C with _Static_assert in arch.h):
 *
 *   offset  field   meaning
 *   0       esp     stack pointer after the call returns (caller's esp)
 *   4       eip     address to resume at (the caller's return address)
 *   8       ebx
 *   12      esi
 *   16      edi
 *   20      ebp
 *   24      fpucw   x87 control word (16 bits)       -- callee-saved per ABI
 *   28      mxcsr   SSE control/status (32 bits)     -- only when built with SSE
 *   size 32
 */
    .text
    .globl  coro_arch_switch
    .hidden coro_arch_switch
    .type   coro_arch_switch, @function
    .p2align 4
coro_arch_switch:
    movl    4(%esp), %eax           /* from */
    movl    8(%esp), %edx           /* to */
    movl    (%esp), %ecx            /* return address */
    movl    %ecx, 4(%eax)
    leal    4(%esp), %ecx           /* esp as the caller will see it */
    movl    %ecx, 0(%eax)
    movl    %ebx, 8(%eax)
    movl    %esi, 12(%eax)
    movl    %edi, 16(%eax)
    movl    %ebp, 20(%eax)
    fnstcw  24(%eax)
#ifdef __SSE__
    stmxcsr 28(%eax)
#endif

    movl    8(%edx), %ebx
    movl    12(%edx), %esi
    movl    16(%edx), %edi
    movl    20(%edx), %ebp
    fldcw   24(%edx)
#ifdef __SSE__
    ldmxcsr 28(%edx)
#endif
    movl    0(%edx), %esp
    jmp     *4(%edx)
    .size   coro_arch_switch, .-coro_arch_switch

    .section .note.GNU-stack,"",@progbits
