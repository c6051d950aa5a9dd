/* test_runtime_signals: the runtime's overflow reporter (a SIGSEGV handler
 * on its own alternate signal stack) is installed completely or not at all,
 * and coro_runtime_destroy puts back what was there before.
 *
 *  1. destroy restores the thread's previous alternate stack (one the
 *     program had set, or none) and the previous SIGSEGV disposition;
 *  2. init called on the alternate signal stack (inside a handler), where
 *     sigaltstack(2) fails with EPERM, fails with EPERM and leaves no
 *     runtime: without its own signal stack the handler would run on the
 *     overflowed stack, and the overflow report would be a silent SIGSEGV;
 *  3. a failing sigaction(2) (injected below) makes init fail with its
 *     errno, with the alternate stack put back and no runtime left;
 *  4. after those failures a normal init works (nothing was left half set). */
#include "coro.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* sigaction(2) with an injected failure: this definition takes the place of
 * the C library's for the whole program (libcoro.a included) and hands the
 * call on to glibc's own entry point, __sigaction, unless told to fail. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
static int fail_sigaction_errno; /* 0: pass through */

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (fail_sigaction_errno && act) {
        errno = fail_sigaction_errno;
        return -1;
    }
    return __sigaction(sig, act, old);
}

static char program_altstack[64 * 1024];

static void set_program_altstack(void)
{
    stack_t ss = {.ss_sp = program_altstack, .ss_size = sizeof program_altstack};
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack: %s", strerror(errno));
}

static stack_t current_altstack(void)
{
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    CHECK(sigaltstack(NULL, &ss) == 0, "sigaltstack query: %s", strerror(errno));
    return ss;
}

static int is_program_altstack(stack_t ss)
{
    return !(ss.ss_flags & SS_DISABLE) && ss.ss_sp == program_altstack &&
           ss.ss_size == sizeof program_altstack;
}

static struct sigaction segv_disposition(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    CHECK(sigaction(SIGSEGV, NULL, &sa) == 0, "sigaction query");
    return sa;
}

/* SIGSEGV's disposition before any runtime: SIG_DFL, or a sanitizer's own
 * handler in an ASan build. */
static struct sigaction original_segv;

static int segv_is_original(void)
{
    /* The handler only: the C library adds SA_RESTORER to the flags of a
     * disposition it sets, so they differ from the initial ones. */
    return segv_disposition().sa_handler == original_segv.sa_handler;
}

/* ------------------------------------------------------------------------ */

static void destroy_restores(void)
{
    set_program_altstack();
    CHECK(coro_runtime_init(0, NULL) == 0, "init: %s", strerror(errno));
    stack_t during = current_altstack();
    CHECK(!is_program_altstack(during) && !(during.ss_flags & SS_DISABLE),
          "the runtime has its own alternate stack while it lives");
    struct sigaction sa = segv_disposition();
    CHECK((sa.sa_flags & SA_ONSTACK) && (sa.sa_flags & SA_SIGINFO),
          "the overflow reporter runs on the alternate stack (flags %#x)", (unsigned)sa.sa_flags);
    CHECK(coro_runtime_destroy() == 0, "destroy");
    stack_t after = current_altstack();
    CHECK(is_program_altstack(after), "destroy put back the program's alternate stack (sp %p, size %zu, flags %d)",
          after.ss_sp, (size_t)after.ss_size, after.ss_flags);
    CHECK(segv_is_original(), "destroy put back the previous SIGSEGV action");
    OK("destroy restores the program's alternate signal stack and SIGSEGV action\n");

    stack_t off = {.ss_flags = SS_DISABLE};
    CHECK(sigaltstack(&off, NULL) == 0, "disable the alternate stack");
    CHECK(coro_runtime_init(0, NULL) == 0, "init: %s", strerror(errno));
    CHECK(coro_runtime_destroy() == 0, "destroy");
    CHECK(current_altstack().ss_flags & SS_DISABLE, "destroy disabled the alternate stack again (there was none)");
    OK("destroy leaves no alternate signal stack when there was none\n");
}

/* ------------------------------------------------------------------------ */

static volatile int handler_rc = -2, handler_errno;

static void init_on_altstack(int sig)
{
    (void)sig;
    /* Not async-signal-safe in general; here the signal is raised by this
     * thread itself, between two calls, so nothing else is interrupted. */
    errno = 0;
    handler_rc = coro_runtime_init(0, NULL);
    handler_errno = errno;
    if (handler_rc == 0)
        coro_runtime_destroy();
}

static void init_fails_on_altstack(void)
{
    set_program_altstack();
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = init_on_altstack;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0, "sigaction SIGUSR1");
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
    CHECK(handler_rc == -1 && handler_errno == EPERM,
          "init on the alternate stack: rc %d errno %d (%s), wanted -1 EPERM", handler_rc, handler_errno,
          strerror(handler_errno));
    CHECK(coro_backend_name() == NULL, "no runtime is left after the failed init");
    CHECK(is_program_altstack(current_altstack()), "the program's alternate stack is untouched");
    CHECK(segv_is_original(), "SIGSEGV untouched");
    OK("init on the alternate signal stack fails with EPERM and leaves nothing behind\n");
}

/* ------------------------------------------------------------------------ */

static void init_fails_when_sigaction_fails(void)
{
    set_program_altstack();
    fail_sigaction_errno = EINVAL;
    errno = 0;
    int rc = coro_runtime_init(0, NULL);
    int e = errno;
    fail_sigaction_errno = 0;
    if (rc == 0)
        coro_runtime_destroy();
    CHECK(rc == -1 && e == EINVAL, "init with a failing sigaction: rc %d errno %d (%s), wanted -1 EINVAL", rc, e,
          strerror(e));
    CHECK(coro_backend_name() == NULL, "no runtime is left after the failed init");
    CHECK(is_program_altstack(current_altstack()), "the program's alternate stack was put back");
    CHECK(segv_is_original(), "SIGSEGV untouched");
    OK("init with a failing sigaction fails with its errno and puts the alternate stack back\n");
}

static void init_works_after_failures(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init after the failures: %s", strerror(errno));
    CHECK(coro_backend_name() != NULL, "a runtime exists");
    CHECK(coro_runtime_destroy() == 0, "destroy");
    OK("init works after the failed ones\n");
}

int main(void)
{
    original_segv = segv_disposition();
    destroy_restores();
    init_fails_on_altstack();
    init_fails_when_sigaction_fails();
    init_works_after_failures();
    return check_finish("test_runtime_signals");
}
