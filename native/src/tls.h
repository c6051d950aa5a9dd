/*
 * tls.h - the TLS layer behind streams (internal). One implementation per
 * TLS library; this build has OpenSSL (tls_openssl.c). A second library
 * (coro++ also had s2n) would be another file filling the same functions.
 * Every call may block the coroutine (waits on the fd), never the thread.
 */
#ifndef CORO_TLS_H
#define CORO_TLS_H

#include "runtime.h"

typedef struct coro_tls_session coro_tls_session_t;

/* Runs the handshake on fd (server or client side). NULL with errno EPROTO
 * (handshake failed; the reason is printed to stderr), ETIMEDOUT, ENOMEM.
 * The fd is not closed here. */
coro_tls_session_t *coro__tls_start(coro_tls_ctx_t *ctx, int fd, int is_server);
/* Bytes read (> 0), 0 at a clean close or EOF, -1 with errno. */
int64_t coro__tls_read(coro_tls_session_t *t, void *buf, int64_t n);
/* Writes all n bytes; n or -1. */
int64_t coro__tls_write_all(coro_tls_session_t *t, const void *buf, int64_t n);
/* Bytes decrypted and buffered inside the TLS library (readable without
 * waiting on the fd). */
int64_t coro__tls_pending(coro_tls_session_t *t);
/* Sends close_notify (best effort, never blocks long). */
int coro__tls_shutdown(coro_tls_session_t *t);
void coro__tls_free(coro_tls_session_t *t);

#endif
