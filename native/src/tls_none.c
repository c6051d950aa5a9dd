/*
 * tls_none.c - the TLS layer of a build without a TLS library (make
 * TLS=none, e.g. the i386 cross-build where no 32-bit OpenSSL is installed).
 * Every TLS entry point fails with ENOTSUP; plain streams work as usual.
 */
#include "tls.h"

#include <errno.h>

const char *coro_tls_library(void)
{
    return "none";
}

coro_tls_ctx_t *coro_tls_server_ctx(const char *cert_pem, const char *key_pem)
{
    (void)cert_pem;
    (void)key_pem;
    errno = ENOTSUP;
    return NULL;
}

coro_tls_ctx_t *coro_tls_client_ctx(void)
{
    errno = ENOTSUP;
    return NULL;
}

void coro_tls_ctx_free(coro_tls_ctx_t *ctx)
{
    (void)ctx;
}

coro_tls_session_t *coro__tls_start(coro_tls_ctx_t *ctx, int fd, int is_server)
{
    (void)ctx;
    (void)fd;
    (void)is_server;
    errno = ENOTSUP;
    return NULL;
}

int64_t coro__tls_read(coro_tls_session_t *t, void *buf, int64_t n)
{
    (void)t;
    (void)buf;
    (void)n;
    errno = ENOTSUP;
    return -1;
}

int64_t coro__tls_write_all(coro_tls_session_t *t, const void *buf, int64_t n)
{
    (void)t;
    (void)buf;
    (void)n;
    errno = ENOTSUP;
    return -1;
}

int coro__tls_shutdown(coro_tls_session_t *t)
{
    (void)t;
    return 0;
}

void coro__tls_free(coro_tls_session_t *t)
{
    (void)t;
}
