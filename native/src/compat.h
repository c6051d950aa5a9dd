/*
 * compat.h - the few POSIX differences between Linux, the BSDs and macOS
 * that the core meets, in one place (docs/kqueue.md lists what each system
 * is tested on). Linux and FreeBSD have accept4, SOCK_NONBLOCK,
 * SOCK_CLOEXEC and MSG_NOSIGNAL; macOS has none of them: there sockets get
 * O_NONBLOCK and FD_CLOEXEC with fcntl, and SO_NOSIGPIPE instead of a
 * per-send flag (so MSG_NOSIGNAL is 0 there).
 */
#ifndef CORO_COMPAT_H
#define CORO_COMPAT_H

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#define CORO_HAVE_SOCK_FLAGS 1
#endif

/* FreeBSD (11 on) has no MAP_NORESERVE; its mmap never reserves swap for
 * an untouched anonymous mapping anyway. */
#include <sys/mman.h>
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on each socket instead */
#endif

/* Makes fd non-blocking and close-on-exec, and (macOS) keeps writes to a
 * gone peer from raising SIGPIPE. 0 or -1 + errno; a non-socket fd is fine. */
static inline int coro__fd_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one); /* ENOTSOCK: not a socket */
#endif
    return 0;
}

/* socket(2) for a non-blocking, close-on-exec stream socket. */
static inline int coro__stream_socket(int family)
{
#ifdef CORO_HAVE_SOCK_FLAGS
    return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd >= 0 && coro__fd_flags(fd) < 0) {
        close(fd);
        return -1;
    }
    return fd;
#endif
}

/* accept(2) of a non-blocking, close-on-exec connection. */
static inline int coro__accept_socket(int listen_fd)
{
#ifdef CORO_HAVE_SOCK_FLAGS
    return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(listen_fd, NULL, NULL);
    if (fd >= 0 && coro__fd_flags(fd) < 0) {
        close(fd);
        return -1;
    }
    return fd;
#endif
}

#endif
