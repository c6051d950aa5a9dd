/*
 * demo_net.c - reaching the server from a load generator (see demo_net.h).
 */
#include "demo_net.h"

#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>

int demo_check_address(const char *prog, const char *host)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve address '%s': %s\n", prog, host, gai_strerror(rc));
        return -1;
    }
    freeaddrinfo(res);
    return 0;
}

coro_stream_t *demo_stream_connect(const char *host, int port, int64_t max_line,
                                   coro_tls_ctx_t *tls)
{
    int fd = coro_tcp_connect(host, port);
    if (fd < 0)
        return NULL;
    coro_stream_t *s = tls ? coro_stream_open_tls(fd, max_line, tls, 0)
                           : coro_stream_open(fd, max_line);
    if (!s && !tls)
        coro_close(fd); /* the TLS variant closes it on failure */
    return s;
}
