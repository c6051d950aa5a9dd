/*
 * tls_s2n.c - the TLS layer (tls.h) over s2n-tls (AWS's TLS library, which
 * coro++ offered beside OpenSSL), plus the public coro_tls_* contexts.
 * Built with `make -C native TLS=s2n BUILD=build-s2n S2N_PREFIX=...`;
 * scripts/test-s2n.sh builds s2n into .cache/deps/ and does that. s2n uses
 * libcrypto (OpenSSL's) for its cryptography, not libssl.
 *
 * I/O goes through s2n's send/recv callbacks (coro_s2n_send/recv) over
 * tls.c's socket I/O, for the same two reasons as tls_openssl.c's BIO: no
 * SIGPIPE (MSG_NOSIGNAL), and the core's per-fd readiness flags (runtime.h)
 * kept exact at the syscall: EAGAIN clears the flag, a short read clears it
 * unless the peer hung up, a read on an fd known to be drained answers
 * EAGAIN without the syscall.
 * s2n reports "would block" as an S2N_ERR_T_BLOCKED error with a blocked
 * status, which maps to a wait on the fd: S2N_BLOCKED_ON_READ to
 * coro__wait_read_ready, S2N_BLOCKED_ON_WRITE to coro_wait_writable.
 *
 * Receive buffering is on (s2n_connection_set_recv_buffering): without it
 * s2n reads each record with two exact recv calls (5-byte header, then the
 * body) and a third that says EAGAIN; with it one recv takes what the
 * socket has, and its short count tells the flag that the fd is drained.
 * s2n_recv is always called before a wait, so records s2n has buffered are
 * returned without waiting on the fd (its documented pitfall, "call s2n_recv
 * until it blocks", cannot hang a reader here).
 *
 * Blinding: on a protocol error s2n by default sleeps 10-30 s in the
 * failing call (a mitigation against timing side channels), which would
 * stop every coroutine of the thread. Each connection uses
 * S2N_SELF_SERVICE_BLINDING instead, and the session is closed at once
 * without the delay s2n_connection_get_delay() suggests: the server stays
 * responsive, at the cost of that mitigation (see docs/tls.md).
 *
 * Process-wide state: s2n_init runs once per process, when the first
 * context is made. A process forked after that (a worker) must not call it
 * again and does not: the flag below is inherited. s2n 1.7 takes its
 * randomness from libcrypto (OpenSSL 3 reseeds after fork), and memory
 * locks (see below) are not inherited by a child, which is harmless.
 *
 * Memory locking: s2n allocates its buffers page-aligned and mlock(2)s them
 * (key material must not reach swap), so every connection costs locked
 * pages, counted against RLIMIT_MEMLOCK (`ulimit -l`) unless the process
 * has CAP_IPC_LOCK (root usually does). At the limit s2n_connection_new or
 * the handshake fails with "error calling mlock" (reported, errno ENOMEM).
 * S2N_DONT_MLOCK=1 in the environment (read by s2n_init) makes s2n use
 * plain malloc: see docs/tls.md for the measured limits.
 *
 * Unclean closes, certificates and CORO_TLS_CA_FILE behave as in
 * tls_openssl.c (EOF without close_notify reads as end of stream; the
 * client verifies nothing unless CORO_TLS_CA_FILE is set, and then not the
 * host name). CORO_S2N_SECURITY_POLICY names another s2n security policy
 * (cipher preferences) for contexts made afterwards; the default is
 * "default_tls13" (TLS 1.2 and 1.3, forward secrecy only).
 */
#include "runtime.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <s2n.h>

#ifndef CORO_S2N_VERSION
#define CORO_S2N_VERSION "(version unknown)"
#endif

/* How long coro__tls_shutdown may wait for the socket to take close_notify. */
#define SHUTDOWN_WAIT_MS 1000
#define DEFAULT_POLICY "default_tls13"

struct coro_tls_ctx {
    struct s2n_config *config;
    struct s2n_cert_chain_and_key *chain; /* server only */
    s2n_mode mode;
};

struct coro_tls_session {
    struct s2n_connection *conn;
    int fd;
    int io_errno;        /* errno of the last failed send/recv (0: none or EOF) */
    bool is_server;
    bool first_read;     /* the first bytes from the client were seen */
    bool handshake_done;
    bool broken;         /* a fatal error happened: no close_notify */
};

/* ------------------------------------------------------------------------ */
/* I/O callbacks                                                             */

static int coro_s2n_send(void *io_context, const uint8_t *buf, uint32_t len)
{
    coro_tls_session_t *t = io_context;
    return (int)coro__tls_sock_send(t->fd, buf, len, &t->io_errno);
}

/* s2n accepts any record header as the first one and waits for the whole
 * record it announces (RFC 5246 E.1 leniency): plain text such as "GET /
 * HTTP/1.0" announces 8,239 bytes, and the handshake would hang until its
 * deadline. A ClientHello starts with a handshake record (22, then major
 * version 3) or, in the old SSLv2-compatible format, a length with the high
 * bit set; anything else fails the handshake at once, as OpenSSL does. */
static bool looks_like_client_hello(const uint8_t *buf, size_t n)
{
    if (buf[0] & 0x80)
        return true; /* SSLv2-format header */
    return buf[0] == 22 && (n < 2 || buf[1] == 3);
}

static int coro_s2n_recv(void *io_context, uint8_t *buf, uint32_t len)
{
    coro_tls_session_t *t = io_context;
    ssize_t r = coro__tls_sock_recv(t->fd, buf, len, &t->io_errno);
    if (r > 0 && t->is_server && !t->first_read) {
        t->first_read = true;
        if (!looks_like_client_hello(buf, (size_t)r)) {
            t->io_errno = EPROTO;
            errno = EPROTO;
            return -1;
        }
    }
    return (int)r;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* The type of the error s2n just reported (s2n_errno is per thread). */
static int error_type(void)
{
    return s2n_error_get_type(s2n_errno);
}

/* Reports s2n's current error (or `fallback` when there is none) and clears
 * s2n_errno, as s2n's documentation asks after an error was handled. */
static void report(const char *what, const char *fallback)
{
    char reason[256];
    const char *name = s2n_errno ? s2n_strerror_name(s2n_errno) : NULL;
    if (name && strcmp(name, "S2N_ERR_MLOCK") == 0)
        snprintf(reason, sizeof reason,
                 "%s (%s): the memlock limit (ulimit -l) is reached; set S2N_DONT_MLOCK=1 or "
                 "raise it (docs/tls.md)",
                 s2n_strerror(s2n_errno, "EN"), name);
    else if (name)
        snprintf(reason, sizeof reason, "%s (%s)", s2n_strerror(s2n_errno, "EN"), name);
    else
        snprintf(reason, sizeof reason, "%s", fallback ? fallback : "unknown error");
    s2n_errno = S2N_ERR_T_OK;
    coro__tls_report(what, reason);
}

/* errno for a failure of s2n: ENOMEM when s2n could not allocate or lock
 * memory (the RLIMIT_MEMLOCK case), else `otherwise`. */
static int errno_of_failure(int otherwise)
{
    const char *name = s2n_strerror_name(s2n_errno);
    if (name && (strcmp(name, "S2N_ERR_MLOCK") == 0 || strcmp(name, "S2N_ERR_ALLOC") == 0 ||
                 strcmp(name, "S2N_ERR_MADVISE") == 0))
        return ENOMEM;
    return otherwise;
}

/* Waits for what s2n is blocked on. 0 to retry the call, -1 with errno from
 * the wait (ETIMEDOUT, EBADF, ...), or 1 if the failure is no wait at all.
 * Reads use coro__wait_read_ready, which leaves the ready flag set (see
 * tls_openssl.c's wait_for for why). */
static int wait_for(coro_tls_session_t *t, s2n_blocked_status blocked)
{
    if (error_type() != S2N_ERR_T_BLOCKED)
        return 1;
    s2n_errno = S2N_ERR_T_OK;
    if (blocked == S2N_BLOCKED_ON_READ)
        return coro__wait_read_ready(t->fd);
    if (blocked == S2N_BLOCKED_ON_WRITE)
        return coro_wait_writable(t->fd);
    return 1; /* application input or early data: never asked for here */
}

/* ------------------------------------------------------------------------ */
/* Contexts (public)                                                         */

const char *coro_tls_library(void)
{
    static char name[160];
    if (!name[0])
        snprintf(name, sizeof name, "s2n-tls %s over %s", CORO_S2N_VERSION,
                 OpenSSL_version(OPENSSL_VERSION));
    return name;
}

/* s2n_init, once per process (a forked child inherits the flag). */
static int init_once(void)
{
    static bool initialized;
    if (initialized)
        return 0;
    if (s2n_init() != S2N_SUCCESS) {
        const char *name = s2n_strerror_name(s2n_errno);
        if (!name || strcmp(name, "S2N_ERR_INITIALIZED") != 0) {
            int e = errno_of_failure(EINVAL);
            report("cannot initialise s2n", NULL);
            errno = e;
            return -1;
        }
        s2n_errno = S2N_ERR_T_OK; /* someone else in this process did it */
    }
    initialized = true;
    return 0;
}

static coro_tls_ctx_t *ctx_new(s2n_mode mode)
{
    if (init_once() < 0)
        return NULL;
    coro_tls_ctx_t *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->mode = mode;
    const char *policy = getenv("CORO_S2N_SECURITY_POLICY");
    if (!policy || !*policy)
        policy = DEFAULT_POLICY;
    /* Minimal: no system trust store is loaded (the client verifies nothing
     * unless CORO_TLS_CA_FILE names a CA file). */
    c->config = s2n_config_new_minimal();
    if (!c->config || s2n_config_set_cipher_preferences(c->config, policy) != S2N_SUCCESS) {
        char what[160];
        snprintf(what, sizeof what, "cannot create a %s context with security policy %s",
                 mode == S2N_SERVER ? "server" : "client", policy);
        int e = errno_of_failure(EINVAL);
        report(what, NULL);
        coro_tls_ctx_free(c);
        errno = e;
        return NULL;
    }
    return c;
}

/* The whole file as a string (s2n loads PEM from memory); NULL with errno. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4097) {
            char *n = realloc(s, cap ? cap * 2 : 8192);
            if (!n)
                goto error;
            s = n;
            cap = cap ? cap * 2 : 8192;
        }
        size_t r = fread(s + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(f))
        goto error;
    fclose(f);
    s[len] = '\0';
    return s;

error:
    free(s);
    fclose(f);
    errno = EIO;
    return NULL;
}

coro_tls_ctx_t *coro_tls_server_ctx(const char *cert_pem, const char *key_pem)
{
    if (!cert_pem || !key_pem) {
        errno = EINVAL;
        return NULL;
    }
    coro_tls_ctx_t *c = ctx_new(S2N_SERVER);
    if (!c)
        return NULL;
    char what[512];
    const char *fallback = NULL;
    char *cert = read_file(cert_pem);
    char *key = cert ? read_file(key_pem) : NULL;
    if (!cert || !key) {
        fallback = strerror(errno);
        snprintf(what, sizeof what, "cannot read %s", cert ? key_pem : cert_pem);
        goto error;
    }
    /* Loading checks that the key matches the certificate. */
    c->chain = s2n_cert_chain_and_key_new();
    if (!c->chain || s2n_cert_chain_and_key_load_pem(c->chain, cert, key) != S2N_SUCCESS) {
        snprintf(what, sizeof what, "cannot load certificate %s with key %s", cert_pem, key_pem);
        goto error;
    }
    if (s2n_config_add_cert_chain_and_key_to_store(c->config, c->chain) != S2N_SUCCESS) {
        snprintf(what, sizeof what, "cannot use certificate %s", cert_pem);
        goto error;
    }
    /* No session resumption, as with OpenSSL (tickets nobody uses cost
     * messages and work per connection). */
    if (s2n_config_set_session_tickets_onoff(c->config, 0) != S2N_SUCCESS) {
        snprintf(what, sizeof what, "cannot turn session tickets off");
        goto error;
    }
    free(cert);
    free(key);
    return c;

error:
    free(cert);
    free(key);
    report(what, fallback);
    coro_tls_ctx_free(c);
    errno = EINVAL;
    return NULL;
}

/* With CORO_TLS_CA_FILE the chain is verified, not the host name (as in
 * tls_openssl.c: coro_stream_open_tls does not know it). */
static uint8_t accept_any_host(const char *host, size_t len, void *data)
{
    (void)host;
    (void)len;
    (void)data;
    return 1;
}

coro_tls_ctx_t *coro_tls_client_ctx(void)
{
    coro_tls_ctx_t *c = ctx_new(S2N_CLIENT);
    if (!c)
        return NULL;
    const char *ca = getenv("CORO_TLS_CA_FILE");
    if (ca && *ca) {
        if (s2n_config_set_verification_ca_location(c->config, ca, NULL) != S2N_SUCCESS ||
            s2n_config_set_verify_host_callback(c->config, accept_any_host, NULL) != S2N_SUCCESS) {
            char what[512];
            snprintf(what, sizeof what, "cannot load CORO_TLS_CA_FILE %s", ca);
            report(what, NULL);
            coro_tls_ctx_free(c);
            errno = EINVAL;
            return NULL;
        }
    } else if (s2n_config_disable_x509_verification(c->config) != S2N_SUCCESS) {
        report("cannot turn certificate verification off", NULL);
        coro_tls_ctx_free(c);
        errno = EINVAL;
        return NULL;
    }
    return c;
}

void coro_tls_ctx_free(coro_tls_ctx_t *ctx)
{
    if (!ctx)
        return;
    if (ctx->config)
        s2n_config_free(ctx->config);
    if (ctx->chain)
        s2n_cert_chain_and_key_free(ctx->chain);
    free(ctx);
}

/* ------------------------------------------------------------------------ */
/* Sessions (tls.h)                                                          */

coro_tls_session_t *coro__tls_start(coro_tls_ctx_t *ctx, int fd, int is_server)
{
    if (!ctx || fd < 0 || (ctx->mode == S2N_SERVER) != !!is_server) {
        errno = EINVAL;
        return NULL;
    }
    coro_tls_session_t *t = calloc(1, sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->fd = fd;
    t->is_server = is_server;
    t->conn = s2n_connection_new(ctx->mode);
    if (!t->conn || s2n_connection_set_config(t->conn, ctx->config) != S2N_SUCCESS ||
        s2n_connection_set_blinding(t->conn, S2N_SELF_SERVICE_BLINDING) != S2N_SUCCESS ||
        s2n_connection_set_recv_buffering(t->conn, true) != S2N_SUCCESS ||
        s2n_connection_set_recv_cb(t->conn, coro_s2n_recv) != S2N_SUCCESS ||
        s2n_connection_set_send_cb(t->conn, coro_s2n_send) != S2N_SUCCESS ||
        s2n_connection_set_recv_ctx(t->conn, t) != S2N_SUCCESS ||
        s2n_connection_set_send_ctx(t->conn, t) != S2N_SUCCESS) {
        int e = errno_of_failure(ENOMEM);
        report("cannot create a session", "out of memory");
        if (t->conn)
            s2n_connection_free(t->conn);
        free(t);
        errno = e;
        return NULL;
    }

    for (;;) {
        s2n_blocked_status blocked = S2N_NOT_BLOCKED;
        t->io_errno = 0;
        if (s2n_negotiate(t->conn, &blocked) == S2N_SUCCESS)
            break;
        int w = wait_for(t, blocked);
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
        } else if (error_type() == S2N_ERR_T_IO && t->io_errno == EPROTO) {
            s2n_errno = S2N_ERR_T_OK;
            report(what, "the client's first bytes are not a TLS ClientHello");
        } else if (error_type() == S2N_ERR_T_IO && t->io_errno) {
            s2n_errno = S2N_ERR_T_OK;
            report(what, strerror(t->io_errno));
        } else if (error_type() == S2N_ERR_T_CLOSED) {
            s2n_errno = S2N_ERR_T_OK;
            report(what, "peer closed the connection");
        } else {
            e = errno_of_failure(EPROTO);
            report(what, NULL);
        }
        s2n_connection_free(t->conn);
        free(t);
        errno = e;
        return NULL;
    }
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
    for (;;) {
        s2n_blocked_status blocked = S2N_NOT_BLOCKED;
        t->io_errno = 0;
        ssize_t r = s2n_recv(t->conn, buf, n, &blocked);
        if (r > 0)
            return r;
        if (r == 0)
            return 0; /* close_notify */
        int w = wait_for(t, blocked);
        if (w == 0)
            continue;
        if (w < 0)
            return -1;
        int type = error_type();
        s2n_errno = S2N_ERR_T_OK;
        t->broken = true; /* no close_notify to send after this */
        if (type == S2N_ERR_T_CLOSED || (type == S2N_ERR_T_IO && t->io_errno == 0))
            return 0; /* EOF without close_notify: tolerated (header comment) */
        errno = type == S2N_ERR_T_IO ? t->io_errno : EPROTO;
        return -1;
    }
}

int64_t coro__tls_write_all(coro_tls_session_t *t, const void *buf, int64_t n)
{
    if (t->broken) {
        errno = EPIPE;
        return -1;
    }
    /* A write that blocked is retried with the same bytes (s2n remembers
     * how much of them it has already taken). */
    const char *p = buf;
    int64_t left = n;
    while (left > 0) {
        s2n_blocked_status blocked = S2N_NOT_BLOCKED;
        t->io_errno = 0;
        ssize_t r = s2n_send(t->conn, p, left, &blocked);
        if (r > 0) {
            p += r;
            left -= r;
            continue;
        }
        if (r == 0)
            continue; /* nothing taken yet, nothing failed: try again */
        int w = wait_for(t, blocked);
        if (w == 0)
            continue;
        if (w < 0)
            return -1;
        int type = error_type();
        s2n_errno = S2N_ERR_T_OK;
        t->broken = true;
        if (type == S2N_ERR_T_IO || type == S2N_ERR_T_CLOSED)
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
    /* One close_notify, without waiting for the peer's (s2n_shutdown would
     * wait for it): the caller shuts the socket down or closes it right
     * after. Waiting for the socket to take it is bounded. */
    int pushed = coro_deadline_push(SHUTDOWN_WAIT_MS) == 0;
    int rc = 0;
    for (;;) {
        s2n_blocked_status blocked = S2N_NOT_BLOCKED;
        t->io_errno = 0;
        if (s2n_shutdown_send(t->conn, &blocked) == S2N_SUCCESS)
            break;
        if (error_type() == S2N_ERR_T_BLOCKED && blocked == S2N_BLOCKED_ON_WRITE) {
            s2n_errno = S2N_ERR_T_OK;
            if (coro_wait_writable(t->fd) == 0)
                continue;
        }
        s2n_errno = S2N_ERR_T_OK;
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
    s2n_connection_free(t->conn);
    free(t);
}
