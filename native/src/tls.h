/*
 * tls.h - the TLS layer behind streams (internal). One implementation per
 * TLS library, chosen at build time (make TLS=openssl|s2n|none):
 * tls_openssl.c, tls_s2n.c, tls_none.c; tls.c holds what they share.
 * Every call may block the coroutine (waits on the fd), never the thread.
 */
#ifndef CORO_TLS_H
#define CORO_TLS_H

#include "runtime.h"

#include <sys/types.h>

typedef struct coro_tls_session coro_tls_session_t;

/* Runs the handshake on fd (server or client side). NULL with errno EPROTO
 * (handshake failed; the reason is printed to stderr), ETIMEDOUT, ENOMEM.
 * The fd is not closed here. */
coro_tls_session_t *coro__tls_start(coro_tls_ctx_t *ctx, int fd, int is_server);
/* Bytes read (> 0), 0 at a clean close or EOF, -1 with errno. */
int64_t coro__tls_read(coro_tls_session_t *t, void *buf, int64_t n);
/* Writes all n bytes; n or -1. */
int64_t coro__tls_write_all(coro_tls_session_t *t, const void *buf, int64_t n);
/* Sends close_notify (best effort, never blocks long). */
int coro__tls_shutdown(coro_tls_session_t *t);
void coro__tls_free(coro_tls_session_t *t);

/* The socket I/O under a TLS library (its BIO or callbacks), with the core's
 * readiness rules applied at the syscall (see tls_openssl.c's header):
 * MSG_NOSIGNAL, EAGAIN clears the fd's ready flag, a short read clears it
 * unless the peer hung up, a read on an fd known to be drained answers
 * EAGAIN without a syscall. Bytes moved, 0 at EOF (recv), or -1 with errno
 * EAGAIN (would block) or the error, which is also stored in *io_errno
 * (set to 0 at EOF). */
ssize_t coro__tls_sock_recv(int fd, void *buf, size_t len, int *io_errno);
ssize_t coro__tls_sock_send(int fd, const void *buf, size_t len, int *io_errno);

/* Writes "coro tls: WHAT: REASON" to stderr, at most 10 lines a second (a
 * peer failing handshakes on purpose must not flood the log); the count of
 * lines held back is given with the next line shown (tls.c). */
void coro__tls_report(const char *what, const char *reason);

#endif
