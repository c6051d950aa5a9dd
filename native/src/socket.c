/*
 * socket.c - TCP sockets as coroutine calls: listen, accept, connect.
 * Every fd made here is non-blocking and close-on-exec, and its state in the
 * fd table is reset (the number may have been used before).
 */
#include "runtime.h"
#include "compat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Resolves host (numeric first, then the resolver) for a TCP socket. */
static int resolve(const char *host, int port, struct sockaddr_storage *out, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res) {
        errno = EHOSTUNREACH;
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int coro_tcp_listen(const char *host, int port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    if (resolve(host ? host : "127.0.0.1", port, &ss, &sl) < 0)
        return -1;
    int fd = coro__stream_socket(ss.ss_family);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog > 0 ? backlog : 1024) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    coro__fd_reset(fd);
    return fd;
}

int coro_socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    errno = EAFNOSUPPORT;
    return -1;
}

int coro_accept(int listen_fd)
{
    for (;;) {
        int fd = coro__accept_socket(listen_fd);
        if (fd >= 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            coro__fd_reset(fd);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (coro_wait_readable(listen_fd) < 0)
            return -1;
    }
}

int coro_tcp_connect(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (port <= 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    if (resolve(host, port, &ss, &sl) < 0)
        return -1;
    int fd = coro__stream_socket(ss.ss_family);
    if (fd < 0)
        return -1;
    coro__fd_reset(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            coro_close(fd);
            errno = e;
            return -1;
        }
        coro__fd_get(fd)->write_ready = 0; /* only the connect's event counts */
        int err = 0;
        socklen_t el = sizeof err;
        if (coro_wait_writable(fd) < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
            err || (err = coro__fd_get(fd)->event_error)) {
            int e = err ? err : errno;
            coro_close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
}

int coro_peer_is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
        return 0;
    }
    return 0;
}
