/*
 * demo_proc.c - process setup for the demos (see demo_proc.h).
 */
#include "demo_proc.h"

#include <coro.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#elif defined(__FreeBSD__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

/* This executable's path: /proc/self/exe on Linux; macOS and FreeBSD have
 * no /proc (FreeBSD's is rarely mounted) and their own calls. */
static int self_exe(char *exe, size_t cap)
{
#if defined(__APPLE__)
    char raw[4096];
    uint32_t size = sizeof raw;
    if (_NSGetExecutablePath(raw, &size) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char real[PATH_MAX];
    if (!realpath(raw, real))
        return -1;
    if (strlen(real) >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(exe, real);
    return 0;
#elif defined(__FreeBSD__)
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
    size_t len = cap;
    return sysctl(mib, 4, exe, &len, NULL, 0);
#else
    ssize_t n = readlink("/proc/self/exe", exe, cap - 1);
    if (n < 0)
        return -1;
    exe[n] = '\0';
    return 0;
#endif
}

int demo_exe_relative(const char *rel, char *out, size_t cap)
{
    char exe[4096];
    if (self_exe(exe, sizeof exe) < 0)
        return -1;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    int w = snprintf(out, cap, "%s/%s", slash ? exe : ".", rel);
    if (w < 0 || (size_t)w >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int demo_default_tls_cert(char *out, size_t cap)
{
    return demo_exe_relative("tls/cert.pem", out, cap);
}

int demo_default_tls_key(char *out, size_t cap)
{
    return demo_exe_relative("tls/key.pem", out, cap);
}

long demo_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        int rc = setrlimit(RLIMIT_NOFILE, &rl);
#ifdef OPEN_MAX
        /* macOS: the hard limit is "unlimited" but the soft one may not
         * exceed OPEN_MAX (EINVAL). */
        if (rc < 0 && rl.rlim_max > OPEN_MAX) {
            rl.rlim_cur = OPEN_MAX;
            rc = setrlimit(RLIMIT_NOFILE, &rl);
        }
#endif
        if (rc < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

void demo_ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

/* Fds a load generator has open besides its connections (stdio, the
 * backend's own, TLS's), with room to spare. */
#define CLIENT_OWN_FDS 16

void demo_client_setup(const char *prog, int64_t nconns)
{
    demo_ignore_sigpipe();
    long fd_limit = demo_raise_fd_limit();
    if (fd_limit > 0 && nconns + CLIENT_OWN_FDS > fd_limit)
        fprintf(stderr, "%s: warning: %lld connections but the fd limit is %ld\n", prog,
                (long long)nconns, fd_limit);
}

int demo_runtime_init(const char *prog, const char *backend)
{
    if (coro_runtime_init(0, backend) >= 0)
        return 0;
    fprintf(stderr, "%s: cannot start the %s backend: %s\n", prog, backend ? backend : "default",
            strerror(errno));
    return -1;
}

int64_t demo_client_run(const char *prog, const char *host, int port, const int *fatal_errno)
{
    int64_t stuck = coro_run();
    if (stuck != 0)
        fprintf(stderr, "%s: event loop ended with %lld coroutines stuck\n", prog, (long long)stuck);
    if (*fatal_errno) {
        fprintf(stderr, "%s: cannot connect to %s:%d: %s\n", prog, host, port, strerror(*fatal_errno));
        return -1;
    }
    return stuck;
}
