/*
 * demo_net.h - how the load generators (echo_client, smtp_client) reach the
 * server: the address checked before the run, and a connection wrapped in
 * a stream.
 */
#ifndef DEMO_NET_H
#define DEMO_NET_H

#include <coro.h>

#include <stdint.h>

/* Checks that host resolves (getaddrinfo) before any connection is tried,
 * so that a typo is one clear usage error rather than nconns failed
 * connections. Returns 0, or -1 after saying on stderr
 * "PROG: cannot resolve address 'HOST': reason"; the caller exits 2. */
int demo_check_address(const char *prog, const char *host);

/* Connects to host:port and wraps the socket in a stream whose lines are at
 * most max_line bytes (0: 64 KiB), doing the TLS handshake as a client when
 * tls is not NULL. Returns the stream, or NULL with errno (the socket is
 * closed). Must run in a coroutine. */
coro_stream_t *demo_stream_connect(const char *host, int port, int64_t max_line,
                                   coro_tls_ctx_t *tls);

#endif
