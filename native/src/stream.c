/*
 * stream.c - a connection as one object: a plain fd or a TLS session, with a
 * buffered reader (lines, exact counts, raw reads) on top.
 *
 * Memory rule for idle connections: a plain stream holds no read buffer
 * while it has nothing buffered and its fd is known drained. It waits for
 * readability first and only then allocates, so 10,000 idle connections cost
 * their stack slices and this small struct, not 10,000 buffers. The buffer
 * size that was needed last time is remembered, so a busy connection does
 * not regrow it on every line.
 */
#include "runtime.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_MAX_LINE (64 * 1024)
/* First buffer: small enough for glibc's per-thread cache (<= 1032 bytes),
 * so freeing it when idle and getting it back costs little. */
#define MIN_BUF 1024

struct coro_stream {
    int fd;
    int32_t cap;             /* buffer bytes allocated (0: none) */
    int32_t start, end;      /* unread data is buf[start, end) */
    int32_t scanned;         /* buf[start, scanned) holds no delimiter */
    int32_t size_hint;       /* cap to allocate next time */
    int32_t max_line;
    char *buf;
    coro_tls_session_t *tls;
};

coro_stream_t *coro_stream_open(int fd, int64_t max_line_bytes)
{
    if (max_line_bytes <= 0)
        max_line_bytes = DEFAULT_MAX_LINE;
    if (max_line_bytes > INT32_MAX / 2) {
        errno = EINVAL;
        return NULL;
    }
    coro_stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->fd = fd;
    s->max_line = (int32_t)max_line_bytes;
    s->size_hint = MIN_BUF;
    return s;
}

coro_stream_t *coro_stream_open_tls(int fd, int64_t max_line_bytes, coro_tls_ctx_t *ctx,
                                    int is_server)
{
    coro_stream_t *s = coro_stream_open(fd, max_line_bytes);
    if (!s) {
        coro_close(fd);
        return NULL;
    }
    s->tls = coro__tls_start(ctx, fd, is_server);
    if (!s->tls) {
        int e = errno;
        coro_stream_close(s);
        errno = e;
        return NULL;
    }
    return s;
}

int coro_stream_fd(const coro_stream_t *s)
{
    return s->fd;
}

/* The TLS calls stay out of line. Inlined (LTO does that), their frames
 * and retry loops make every plain read and write save and restore
 * registers that only the TLS path needs. */
static __attribute__((noinline)) int64_t tls_read(coro_stream_t *s, void *buf, int64_t n)
{
    return coro__tls_read(s->tls, buf, n);
}

static __attribute__((noinline)) int64_t tls_write_all(coro_stream_t *s, const void *buf,
                                                       int64_t n)
{
    return coro__tls_write_all(s->tls, buf, n);
}

static int64_t raw_read(coro_stream_t *s, void *buf, int64_t n)
{
    return s->tls ? tls_read(s, buf, n) : coro_read(s->fd, buf, n);
}

/* Buffers of MIN_BUF bytes come from and go back to the runtime's pool. */
static char *buf_alloc(int32_t size)
{
    coro_runtime_t *rt = coro__rt;
    if (size == MIN_BUF && rt && rt->buf_pool_len > 0)
        return rt->buf_pool[--rt->buf_pool_len];
    return malloc((size_t)size);
}

static void buf_free(char *buf, int32_t size)
{
    coro_runtime_t *rt = coro__rt;
    if (size == MIN_BUF && rt && rt->buf_pool_len < CORO_BUF_POOL_MAX)
        rt->buf_pool[rt->buf_pool_len++] = buf;
    else
        free(buf);
}

void coro__stream_pool_free(void)
{
    coro_runtime_t *rt = coro__rt;
    while (rt->buf_pool_len > 0)
        free(rt->buf_pool[--rt->buf_pool_len]);
}

/* Makes room for more input after the unread data. 0 or -1 (ENOMEM). */
static int make_room(coro_stream_t *s)
{
    if (!s->buf) {
        s->buf = buf_alloc(s->size_hint);
        if (!s->buf) {
            errno = ENOMEM;
            return -1;
        }
        s->cap = s->size_hint;
        return 0;
    }
    if (s->end < s->cap)
        return 0;
    if (s->start > 0) {
        int32_t len = s->end - s->start;
        memmove(s->buf, s->buf + s->start, (size_t)len);
        s->scanned -= s->start;
        s->start = 0;
        s->end = len;
        return 0;
    }
    int64_t cap = (int64_t)s->cap * 2;
    if (cap > s->max_line)
        cap = s->max_line;
    char *b = realloc(s->buf, (size_t)cap);
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    s->buf = b;
    s->cap = (int32_t)cap;
    s->size_hint = (int32_t)cap;
    return 0;
}

/* Called when nothing is buffered. Returns true if the fd is known drained
 * (or not yet seen by the backend), i.e. reading now would only wait: then
 * the buffer goes back first, so an idle connection pins none. TLS streams
 * keep theirs (OpenSSL buffers on its own; the saving would be small next to
 * it). Inlined: it runs before every wait of a busy connection, and as a
 * call it saved and restored registers that the reader already holds. */
static inline __attribute__((always_inline)) bool release_if_drained(coro_stream_t *s)
{
    s->start = s->end = s->scanned = 0;
    if (s->tls)
        return false;
    coro_fd_t *f = coro__fd_get(s->fd);
    if (!f || f->read_ready == 1)
        return false;
    if (s->buf) {
        buf_free(s->buf, s->cap);
        s->buf = NULL;
        s->cap = 0;
    }
    return true;
}

int64_t coro_stream_read_line(coro_stream_t *s, const char **line, char delim)
{
    for (;;) {
        if (s->scanned < s->end) {
            char *p = memchr(s->buf + s->scanned, delim, (size_t)(s->end - s->scanned));
            if (p) {
                int32_t len = (int32_t)(p + 1 - (s->buf + s->start));
                /* The first buffer (MIN_BUF) may be larger than the limit,
                 * so a whole over-long line can arrive at once. */
                if (len > s->max_line) {
                    errno = EMSGSIZE;
                    return -1;
                }
                *line = s->buf + s->start;
                s->start += len;
                s->scanned = s->start;
                return len;
            }
            s->scanned = s->end;
        }
        if (s->end - s->start >= s->max_line) {
            errno = EMSGSIZE;
            return -1;
        }
        /* Wait before taking a buffer back, not after. */
        if (s->start == s->end && release_if_drained(s) && coro__wait_read_ready(s->fd) < 0)
            return -1;
        if (make_room(s) < 0)
            return -1;
        int64_t n = raw_read(s, s->buf + s->end, s->cap - s->end);
        if (n < 0)
            return -1;
        if (n == 0) {
            if (s->end == s->start)
                return 0;
            errno = EPROTO; /* the stream ended in the middle of a line */
            return -1;
        }
        s->end += (int32_t)n;
    }
}

int64_t coro_stream_read(coro_stream_t *s, void *buf, int64_t n)
{
    if (n <= 0)
        return 0;
    if (s->start < s->end) {
        int64_t take = s->end - s->start;
        if (take > n)
            take = n;
        memcpy(buf, s->buf + s->start, (size_t)take);
        s->start += (int32_t)take;
        if (s->scanned < s->start)
            s->scanned = s->start;
        return take;
    }
    release_if_drained(s);
    return raw_read(s, buf, n); /* waits by itself when there is nothing */
}

int64_t coro_stream_read_exact(coro_stream_t *s, void *buf, int64_t n)
{
    char *p = buf;
    int64_t got = 0;
    while (got < n) {
        int64_t r = coro_stream_read(s, p + got, n - got);
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = EPROTO;
            return -1;
        }
        got += r;
    }
    return n;
}

int64_t coro_stream_write_all(coro_stream_t *s, const void *buf, int64_t n)
{
    return s->tls ? tls_write_all(s, buf, n) : coro_write_all(s->fd, buf, n);
}

int coro_stream_shutdown(coro_stream_t *s)
{
    if (s->tls)
        coro__tls_shutdown(s->tls);
    return shutdown(s->fd, SHUT_WR);
}

int coro_stream_close(coro_stream_t *s)
{
    if (!s)
        return 0;
    if (s->tls)
        coro__tls_free(s->tls);
    int rc = coro_close(s->fd);
    buf_free(s->buf, s->cap);
    free(s);
    return rc;
}
