/*
 * tls_openssl.c - the TLS layer (tls.h) over OpenSSL 1.1.1 / 3.x, plus the
 * public coro_tls_* contexts.
 *
 * Every SSL object talks to its socket through a small BIO of our own
 * (coro_bio_*) instead of OpenSSL's socket BIO, for two reasons:
 *
 *  1. SIGPIPE. OpenSSL's socket BIO writes with write(2), which raises
 *     SIGPIPE when the peer is gone; ours sends with MSG_NOSIGNAL, so a dead
 *     peer is an EPIPE error on that session and nothing else (coro.h
 *     promises that SIGPIPE is never raised).
 *
 *  2. Readiness flags. The core keeps a per-fd "ready" flag (coro_fd_t in
 *     runtime.h, see fd.c): a backend event sets it, a wait consumes it, and
 *     EAGAIN or a short read must clear it. OpenSSL's own read(2)/write(2)
 *     would not clear it, so after a WANT_READ the wait would consume a stale
 *     flag and return at once, and with an edge-triggered backend the real
 *     edge may already have been consumed: the loop would spin or wait for
 *     an event that never comes. Our BIO applies coro_read's rule at the
 *     syscall itself: EAGAIN clears the flag, a short read clears it unless
 *     the peer hung up (read_final), EOF and errors leave it set, and a read
 *     on an fd known to be drained returns "retry" without the recv that
 *     would only say EAGAIN (one syscall saved per transaction). Clearing
 *     the flag on every WANT_READ instead would be wrong the other way
 *     round: OpenSSL can ask to be called again without having seen EAGAIN,
 *     and a cleared flag could then wait for an edge that already came.
 *
 * One reader and one writer coroutine may share a session, but TLS can make
 * a read write (a TLS 1.3 key update) or a write read (TLS 1.2
 * renegotiation, which the server refuses by default in OpenSSL 3); if the
 * other coroutine is already waiting in that direction, the wait fails with
 * EBUSY (coro_wait_*). The demos use one coroutine per connection.
 *
 * OpenSSL's error queue is per thread, and all coroutines share the thread:
 * an error left behind by one session would make SSL_get_error() misreport
 * the next call of another. So every path here that sees a failure empties
 * the queue, and the handshake and shutdown loops clear it before each call.
 * The read and write loops rely on that invariant instead of clearing before
 * every call: in OpenSSL 3.0 ERR_clear_error costs ~1,200 instructions, 14%
 * of a TLS echo server's instructions (callgrind). Code that shares the
 * thread and uses OpenSSL directly must leave the queue empty too.
 *
 * Unclean closes: a peer that closes the TCP connection without sending
 * close_notify is reported by coro__tls_read as end of stream (0), as coro++
 * did; a truncation attack is therefore not detected at this layer. Protocols
 * that need to know (none of the demos do) must frame their data.
 *
 * Certificates: the client context does NOT verify the server's certificate
 * by default, because the demos and tests use a self-signed certificate made
 * at build time. Set CORO_TLS_CA_FILE=/path/to/ca.pem to make client
 * contexts created afterwards verify the peer's chain against that file (the
 * host name is not checked: coro_stream_open_tls does not know it).
 */
#include "runtime.h"
#include "compat.h"
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

/* How long coro__tls_shutdown may wait for the socket to take close_notify. */
#define SHUTDOWN_WAIT_MS 1000

struct coro_tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct coro_tls_session {
    SSL *ssl;
    int fd;
    int io_errno;        /* errno of the last failed send/recv (0: EOF) */
    bool handshake_done;
    bool broken;         /* a fatal error happened: no close_notify */
};

/* ------------------------------------------------------------------------ */
/* The BIO                                                                   */

static BIO_METHOD *bio_method;

static int coro_bio_write(BIO *b, const char *buf, int len)
{
    coro_tls_session_t *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t w = coro__tls_sock_send(t->fd, buf, (size_t)len, &t->io_errno);
    if (w < 0 && errno == EAGAIN)
        BIO_set_retry_write(b);
    return (int)w;
}

static int coro_bio_read(BIO *b, char *buf, int len)
{
    coro_tls_session_t *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    ssize_t r = coro__tls_sock_recv(t->fd, buf, (size_t)len, &t->io_errno);
    if (r < 0 && errno == EAGAIN)
        BIO_set_retry_read(b);
    return (int)r;
}

static long coro_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* nothing is buffered here */
        return 1;
    default:
        return 0;
    }
}

static int coro_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* Made once per process and never freed (like OpenSSL's own methods). The
 * runtime is single-threaded, so no once-guard is needed. */
static BIO_METHOD *get_bio_method(void)
{
    if (bio_method)
        return bio_method;
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coro socket");
    if (!m || !BIO_meth_set_write(m, coro_bio_write) || !BIO_meth_set_read(m, coro_bio_read) ||
        !BIO_meth_set_ctrl(m, coro_bio_ctrl) || !BIO_meth_set_create(m, coro_bio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    bio_method = m;
    return m;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* Writes "coro tls: WHAT: REASON" to stderr (rate-limited, tls.c), REASON
 * being the first error in OpenSSL's queue (or `fallback`), and empties the
 * queue. */
static void report(const char *what, const char *fallback)
{
    char reason[256];
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "%s", fallback ? fallback : "unknown error");
    ERR_clear_error();
    coro__tls_report(what, reason);
}

/* True when the error queue says the peer closed without close_notify. */
static bool unexpected_eof(void)
{
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    unsigned long e = ERR_peek_error();
    return ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#else
    return false;
#endif
}

/* Waits for what OpenSSL asked for. 0 to retry the call, -1 with errno
 * (ETIMEDOUT, EBADF, ...) from the wait, or 1 if `err` is no wait at all.
 * Reads wait with coro__wait_read_ready, which leaves the ready flag set
 * (coro_wait_readable would consume it, and coro_bio_read would then take
 * the consumed flag for "drained" and never read). When the flag is still
 * set because OpenSSL asked for more without our BIO having seen EAGAIN, the
 * retry costs one recv that says EAGAIN and clears the flag; the wait after
 * that really waits. */
static int wait_for(coro_tls_session_t *t, int err)
{
    if (err == SSL_ERROR_WANT_READ)
        return coro__wait_read_ready(t->fd);
    if (err == SSL_ERROR_WANT_WRITE)
        return coro_wait_writable(t->fd);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Contexts (public)                                                         */

const char *coro_tls_library(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

static coro_tls_ctx_t *ctx_new(bool is_server)
{
    coro_tls_ctx_t *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    ERR_clear_error();
    c->ssl_ctx = SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method());
    if (!c->ssl_ctx || !SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION)) {
        report(is_server ? "cannot create server context" : "cannot create client context", NULL);
        SSL_CTX_free(c->ssl_ctx);
        free(c);
        errno = EINVAL;
        return NULL;
    }
    /* PARTIAL_WRITE: SSL_write returns after each record, so a large write
     * needs no extra copy; MOVING_WRITE_BUFFER: a retried write may pass a
     * different pointer to the same bytes. Read-ahead lets one recv take
     * several records (one syscall instead of a header read plus a body
     * read per record). */
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c->ssl_ctx, 1);
    return c;
}

coro_tls_ctx_t *coro_tls_server_ctx(const char *cert_pem, const char *key_pem)
{
    if (!cert_pem || !key_pem) {
        errno = EINVAL;
        return NULL;
    }
    coro_tls_ctx_t *c = ctx_new(true);
    if (!c)
        return NULL;
    char what[512];
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, cert_pem) != 1) {
        snprintf(what, sizeof what, "cannot load certificate %s", cert_pem);
        goto error;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key_pem, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot load private key %s", key_pem);
        goto error;
    }
    if (SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
        snprintf(what, sizeof what, "key %s does not match certificate %s", key_pem, cert_pem);
        goto error;
    }
    /* No session resumption is offered: TLS 1.3 tickets would cost two
     * extra messages and signatures per connection that nobody uses. */
    SSL_CTX_set_num_tickets(c->ssl_ctx, 0);
    SSL_CTX_set_session_cache_mode(c->ssl_ctx, SSL_SESS_CACHE_OFF);
    ERR_clear_error();
    return c;

error:
    report(what, NULL);
    coro_tls_ctx_free(c);
    errno = EINVAL;
    return NULL;
}

coro_tls_ctx_t *coro_tls_client_ctx(void)
{
    coro_tls_ctx_t *c = ctx_new(false);
    if (!c)
        return NULL;
    const char *ca = getenv("CORO_TLS_CA_FILE");
    if (ca && *ca) {
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, ca, NULL) != 1) {
            char what[512];
            snprintf(what, sizeof what, "cannot load CORO_TLS_CA_FILE %s", ca);
            report(what, NULL);
            coro_tls_ctx_free(c);
            errno = EINVAL;
            return NULL;
        }
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        /* Self-signed test certificates: see the header comment. */
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
    return c;
}

void coro_tls_ctx_free(coro_tls_ctx_t *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ------------------------------------------------------------------------ */
/* Sessions (tls.h)                                                          */

coro_tls_session_t *coro__tls_start(coro_tls_ctx_t *ctx, int fd, int is_server)
{
    if (!ctx || fd < 0) {
        errno = EINVAL;
        return NULL;
    }
    coro_tls_session_t *t = calloc(1, sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->fd = fd;
    BIO_METHOD *m = get_bio_method();
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ssl_ctx);
    BIO *bio = m && t->ssl ? BIO_new(m) : NULL;
    if (!bio) {
        report("cannot create a session", "out of memory");
        if (t->ssl)
            SSL_free(t->ssl);
        free(t);
        errno = ENOMEM;
        return NULL;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio); /* the SSL owns the BIO from now on */
    if (is_server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);

    for (;;) {
        ERR_clear_error();
        t->io_errno = 0;
        int r = SSL_do_handshake(t->ssl);
        if (r == 1)
            break;
        int err = SSL_get_error(t->ssl, r);
        int w = wait_for(t, err);
        if (w == 0)
            continue;
        int e = EPROTO;
        char what[96];
        snprintf(what, sizeof what, "%s handshake failed on fd %d",
                 is_server ? "server" : "client", fd);
        if (w < 0) {
            /* The wait failed: the deadline passed or the fd was closed. */
            e = errno;
            report(what, strerror(e));
        } else if (err == SSL_ERROR_SYSCALL || (err == SSL_ERROR_SSL && unexpected_eof())) {
            if (t->io_errno) {
                report(what, strerror(t->io_errno));
            } else {
                ERR_clear_error();
                report(what, "peer closed the connection");
            }
        } else {
            report(what, NULL);
        }
        SSL_free(t->ssl);
        free(t);
        errno = e;
        return NULL;
    }
    ERR_clear_error(); /* the read/write loops count on an empty queue */
    t->handshake_done = true;
    return t;
}

int64_t coro__tls_read(coro_tls_session_t *t, void *buf, int64_t n)
{
    if (n <= 0)
        return 0;
    if (t->broken) {
        errno = EPROTO;
        return -1;
    }
    int len = n > INT_MAX ? INT_MAX : (int)n;
    for (;;) {
        t->io_errno = 0;
        int r = SSL_read(t->ssl, buf, len);
        if (r > 0)
            return r;
        int err = SSL_get_error(t->ssl, r);
        int w = wait_for(t, err);
        if (w == 0)
            continue;
        if (w < 0)
            return -1;
        if (err == SSL_ERROR_ZERO_RETURN)
            return 0; /* close_notify */
        if ((err == SSL_ERROR_SYSCALL && t->io_errno == 0) ||
            (err == SSL_ERROR_SSL && unexpected_eof())) {
            /* EOF without close_notify: tolerated (see the header comment). */
            ERR_clear_error();
            t->broken = true; /* no close_notify to send after this */
            return 0;
        }
        t->broken = true;
        ERR_clear_error();
        errno = err == SSL_ERROR_SYSCALL ? t->io_errno : EPROTO;
        return -1;
    }
}

int64_t coro__tls_write_all(coro_tls_session_t *t, const void *buf, int64_t n)
{
    if (t->broken) {
        errno = EPIPE;
        return -1;
    }
    const char *p = buf;
    int64_t left = n;
    while (left > 0) {
        int len = left > INT_MAX ? INT_MAX : (int)left;
        t->io_errno = 0;
        int r = SSL_write(t->ssl, p, len);
        if (r > 0) {
            p += r;
            left -= r;
            continue;
        }
        int err = SSL_get_error(t->ssl, r);
        int w = wait_for(t, err);
        if (w == 0)
            continue;
        if (w < 0)
            return -1;
        t->broken = true;
        ERR_clear_error();
        if (err == SSL_ERROR_SYSCALL)
            errno = t->io_errno ? t->io_errno : EPIPE;
        else
            errno = EPROTO;
        return -1;
    }
    return n;
}

int coro__tls_shutdown(coro_tls_session_t *t)
{
    if (!t->handshake_done || t->broken)
        return 0;
    /* One close_notify, without waiting for the peer's: the caller shuts
     * the socket down (or closes it) right after. Waiting for the socket to
     * take it is bounded by SHUTDOWN_WAIT_MS. */
    int pushed = coro_deadline_push(SHUTDOWN_WAIT_MS) == 0;
    int rc = 0;
    for (;;) {
        ERR_clear_error();
        t->io_errno = 0;
        int r = SSL_shutdown(t->ssl);
        if (r >= 0)
            break; /* 0: sent, the peer's not yet received; 1: both done */
        int err = SSL_get_error(t->ssl, r);
        if (err == SSL_ERROR_WANT_WRITE && coro_wait_writable(t->fd) == 0)
            continue;
        ERR_clear_error();
        t->broken = true;
        rc = -1;
        break;
    }
    if (pushed)
        coro_deadline_pop();
    return rc;
}

void coro__tls_free(coro_tls_session_t *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}
