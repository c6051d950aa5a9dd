/*
 * echo_session.c - one echo connection (see echo_session.h).
 *
 * How it is written, as a model for users of the library:
 *  - A session is plain blocking-style code in its own coroutine.
 *  - A session's frame stays small while it waits in read_line: the line
 *    lives in the stream's buffer (which the stream drops while the
 *    connection is idle), and everything that needs a big buffer (the !bench
 *    replies) is in a separate non-inlined function whose frame exists only
 *    while it runs. A suspended coroutine costs the bytes of its live stack
 *    slice, so this is what keeps an idle connection under 1 KiB.
 *  - Per transaction: one read and one write syscall (the stream's ready
 *    flag skips the read that would return EAGAIN), no allocation of our own.
 */
#include "echo_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* When a session is closed by us with input still unread (an over-long
 * line), we drain it for at most this long before closing, so that the
 * kernel does not answer with a RST that could destroy our error reply. */
#define DRAIN_DEADLINE_MS 1000
#define DRAIN_MAX_BYTES (1024 * 1024)
/* A TLS handshake must finish within this long. Without a bound, a client
 * that connects and stalls mid-handshake (or never says anything) holds a
 * session and its fd for ever, before a single echo, and enough of them
 * starve the server of fds. Idle connections after the handshake are the
 * protocol's business (idle benchmarks keep thousands) and are not limited. */
#define TLS_HANDSHAKE_DEADLINE_MS 10000

static const char ERR_TOO_LONG[] = "-ERR line too long\r\n";
static const char ERR_REFUSED[] = "-ERR shutdown refused\r\n";

/* Static, never on a coroutine's stack: every session reads it (see coro.h
 * on pointers into a suspended coroutine's stack). */
static echo_session_config_t config;

/* Scratch for input we throw away. Shared by all sessions: nobody reads it. */
static char discard_buf[16 * 1024];

void echo_session_configure(const echo_session_config_t *c)
{
    config = *c;
}

/* ------------------------------------------------------------------------ */
/* Open sessions                                                             */

/* Open sessions by fd, so that a stop can close them all (the coroutines
 * that own them never run again once the loop has stopped). 8 bytes per fd
 * number in use, nothing per transaction. */
static struct {
    coro_stream_t **by_fd;
    int64_t cap;
} open_sessions;

/* Registers s as open. 0, or -1 (ENOMEM). */
static int sessions_add(coro_stream_t *s)
{
    int fd = coro_stream_fd(s);
    if (fd >= open_sessions.cap) {
        int64_t cap = open_sessions.cap ? open_sessions.cap : 1024;
        while (cap <= fd)
            cap *= 2;
        coro_stream_t **t = realloc(open_sessions.by_fd, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        memset(t + open_sessions.cap, 0, (size_t)(cap - open_sessions.cap) * sizeof *t);
        open_sessions.by_fd = t;
        open_sessions.cap = cap;
    }
    open_sessions.by_fd[fd] = s;
    return 0;
}

/* Unregisters and closes s. */
static void sessions_close(coro_stream_t *s)
{
    open_sessions.by_fd[coro_stream_fd(s)] = NULL;
    coro_stream_close(s);
}

void echo_session_close_all(void)
{
    for (int64_t fd = 0; fd < open_sessions.cap; fd++)
        if (open_sessions.by_fd[fd])
            sessions_close(open_sessions.by_fd[fd]);
    free(open_sessions.by_fd);
    open_sessions.by_fd = NULL;
    open_sessions.cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Replies off the hot path                                                  */

/* Answers `!bench` (json = false) or `!bench json`. Not inlined: its
 * buffers must not sit in the session's frame while the session waits. */
static __attribute__((noinline)) int reply_bench(coro_stream_t *s, bool json)
{
    char buf[1024];
    coro_rusage_t now, diff;
    coro_stats_t st;
    int64_t rss_total = 0;
    if (config.bench) {
        /* All workers' figures; one missing would make a sum that lies. */
        if (config.bench(&diff, &st.read_blocks, &st.write_blocks, &rss_total) < 0)
            return -1;
    } else {
        if (coro_rusage_now(&now) < 0 || coro_get_stats(&st) < 0)
            return -1;
        coro_rusage_diff(&config.started, &now, &diff);
    }
    int n = json ? coro_rusage_format_json(&diff, buf, sizeof buf)
                 : coro_rusage_format(&diff, buf, sizeof buf);
    if (n < 2 || (size_t)n >= sizeof buf - 160)
        return -1;
    if (json) {
        /* Our blocking counters go inside the object: ..."nivcsw":N} ->
         * ..."nivcsw":N,"read_block":N,"write_block":N} */
        n--;
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"read_block\":%lld,\"write_block\":%lld",
                      (long long)st.read_blocks, (long long)st.write_blocks);
        if (config.bench)
            n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"workers\":%d,\"maxrss_total_kib\":%lld",
                          config.workers, (long long)rss_total);
        buf[n++] = '}';
    }
    buf[n++] = '\r';
    buf[n++] = '\n';
    return coro_stream_write_all(s, buf, n) < 0 ? -1 : 0;
}

/* Before closing a session that we end while the peer may still be
 * sending: stop writing, and discard input until the peer's EOF (bounded in
 * time and bytes). Not inlined, for the same reason as reply_bench. */
static __attribute__((noinline)) void drain(coro_stream_t *s)
{
    coro_stream_shutdown(s);
    if (coro_deadline_push(DRAIN_DEADLINE_MS) == 0) {
        int64_t drained = 0, n;
        while (drained < DRAIN_MAX_BYTES &&
               (n = coro_stream_read(s, discard_buf, sizeof discard_buf)) > 0)
            drained += n;
        coro_deadline_pop();
    }
}

/* ------------------------------------------------------------------------ */
/* Test hooks (test_hooks, echo_server -X)                                   */

static volatile uint64_t hook_sink;

/* Recurses with 1 KiB frames until the guard page below the shared stack
 * stops it: the core's SIGSEGV handler names the coroutine and aborts. */
static __attribute__((noinline)) uint64_t hook_overflow(uint64_t depth)
{
    volatile unsigned char frame[1024];
    frame[0] = (unsigned char)depth;
    frame[sizeof frame - 1] = (unsigned char)(depth >> 8);
    /* Bounded only so that the compiler does not call it infinite: 2^40
     * KiB is far beyond any stack. */
    uint64_t r = depth < (UINT64_C(1) << 40) ? hook_overflow(depth + 1) : 0;
    return r + frame[0] + frame[sizeof frame - 1];
}

/* A session dying of an error deep in its call chain: its frames hold live
 * data (so the dying coroutine's slice is not trivial), it reports the
 * failure (counted in coroutines_failed), releases what it owns, as a C
 * error path must, and ends without returning to serve(). */
static __attribute__((noinline, noreturn)) void hook_crash(coro_stream_t *s, int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth > 0)
        hook_crash(s, depth - 1);
    hook_sink += (uint64_t)frame[0];
    sessions_close(s);
    coro_report_failure("echo_server: !crash test hook (-X)");
    coro_exit();
}

/* ------------------------------------------------------------------------ */
/* The session                                                               */

enum verdict { KEEP_GOING, END_SESSION };

/* The body of a line without its terminator ("\r\n" or "\n"). */
static bool line_is(const char *line, int64_t len, const char *cmd, size_t cmd_len)
{
    if (len >= 2 && line[len - 2] == '\r')
        len -= 2;
    else
        len -= 1;
    return (size_t)len == cmd_len && memcmp(line, cmd, cmd_len) == 0;
}
#define LINE_IS(line, len, lit) line_is(line, len, lit, sizeof lit - 1)

/* Handles a line that starts with '!'. Returns END_SESSION to close, or
 * KEEP_GOING; a line that is no command is echoed like any other. */
static __attribute__((noinline)) enum verdict handle_command(coro_stream_t *s, const char *line,
                                                             int64_t len)
{
    if (LINE_IS(line, len, "!quit"))
        return END_SESSION;
    if (LINE_IS(line, len, "!bench"))
        return reply_bench(s, false) < 0 ? END_SESSION : KEEP_GOING;
    if (LINE_IS(line, len, "!bench json"))
        return reply_bench(s, true) < 0 ? END_SESSION : KEEP_GOING;
    if (config.test_hooks && LINE_IS(line, len, "!crash"))
        hook_crash(s, 8);
    if (config.test_hooks && LINE_IS(line, len, "!overflow"))
        hook_sink += hook_overflow(0);
    if (LINE_IS(line, len, "!shutdown")) {
        if (config.allow_remote_shutdown || coro_peer_is_loopback(coro_stream_fd(s)) == 1) {
            if (config.stop)
                config.stop();
            return END_SESSION;
        }
        return coro_stream_write_all(s, ERR_REFUSED, sizeof ERR_REFUSED - 1) < 0 ? END_SESSION
                                                                                : KEEP_GOING;
    }
    return coro_stream_write_all(s, line, len) < 0 ? END_SESSION : KEEP_GOING;
}

/* The echo loop of one connection, until it ends; closes the stream.
 * echo_session() tail-calls it, so while a connection waits its stack holds
 * only this frame (48 bytes on x86-64 with gcc -O2: s, the line pointer,
 * the return address) above the core's own frames. Every byte of a waiting
 * coroutine's stack is copied out and back on each switch. */
static __attribute__((noinline)) void serve(coro_stream_t *s)
{
    for (;;) {
        const char *line;
        int64_t len = coro_stream_read_line(s, &line, '\n');
        if (__builtin_expect(len > 0, 1)) {
            if (line[0] != '!') {
                if (coro_stream_write_all(s, line, len) < 0)
                    break;
                continue;
            }
            if (handle_command(s, line, len) == END_SESSION)
                break;
            continue;
        }
        if (len < 0 && errno == EMSGSIZE) {
            coro_stream_write_all(s, ERR_TOO_LONG, sizeof ERR_TOO_LONG - 1);
            drain(s);
            break;
        }
        /* 0: clean EOF. EPROTO: EOF in the middle of a line. ECONNRESET and
         * the like: the peer is gone. None of them is the server's business. */
        break;
    }
    sessions_close(s);
}

/* The stream (and TLS handshake) is set up here, in the session's own
 * coroutine, so a slow handshake never holds up the acceptor. */
void echo_session(void *fd_arg)
{
    int fd = (int)(intptr_t)fd_arg;
    coro_stream_t *s;
    if (config.tls) {
        bool bounded = coro_deadline_push(TLS_HANDSHAKE_DEADLINE_MS) == 0;
        s = coro_stream_open_tls(fd, config.max_line, config.tls, 1);
        if (bounded)
            coro_deadline_pop();
    } else {
        s = coro_stream_open(fd, config.max_line);
    }
    if (!s) {
        if (!config.tls)
            coro_close(fd); /* the TLS variant closes it on failure */
        return;
    }
    if (sessions_add(s) < 0) {
        coro_stream_close(s);
        return;
    }
    serve(s);
}
