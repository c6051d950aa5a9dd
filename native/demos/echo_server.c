/*
 * echo_server - the coro++ echo server on the stack-copying core.
 *
 *   echo_server [-k | -s | -p | -e | -b NAME] [-P PORT] [-a ADDR]
 *               [-t [-c CERT] [-K KEY]] [-R] [-T] [-L BYTES] [-v]
 *   echo_server --list-backends
 *
 * -X (not in the usage text) turns on two test hooks for the fault-injection
 * tests (test/faults.test.ts): `!crash` makes the session fail from a few
 * frames deep, the way a C coroutine dies of an error (report, release,
 * coro_exit), and `!overflow` recurses until the shared stack overflows.
 * Without -X both lines are echoed like any other.
 *
 * Protocol and output lines: docs/programs.md. Each CRLF- (or LF-)
 * terminated line is echoed back byte for byte; `!quit` ends the session,
 * `!bench` / `!bench json` report the server's resource usage since start,
 * `!shutdown` stops the server (from a loopback peer, or from anyone with -R).
 *
 * How it is written, as a model for users of the library:
 *  - One coroutine accepts; one coroutine per connection runs the session as
 *    plain blocking-style code. A signalfd coroutine turns SIGINT/SIGTERM
 *    into the same clean stop as `!shutdown`.
 *  - A session's frame stays small while it waits in read_line: the line
 *    lives in the stream's buffer (which the stream drops while the
 *    connection is idle), and everything that needs a big buffer (the !bench
 *    replies) is in a separate non-inlined function whose frame exists only
 *    while it runs. A suspended coroutine costs the bytes of its live stack
 *    slice, so this is what keeps an idle connection under 1 KiB.
 *  - Per transaction: one read and one write syscall (the stream's ready
 *    flag skips the read that would return EAGAIN), no allocation of our own.
 */
#include <coro.h>

#include "lib/demo_args.h"
#include "lib/demo_proc.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define DEFAULT_PORT 9001
#define DEFAULT_MAX_LINE (64 * 1024)
#define LISTEN_BACKLOG 4096
/* Back-off when accept fails for lack of fds (EMFILE/ENFILE): long enough
 * not to spin, short enough that a freed fd is reused quickly. */
#define ACCEPT_BACKOFF_MS 20
/* When a session is closed by us with input still unread (an over-long
 * line), we drain it for at most this long before closing, so that the
 * kernel does not answer with a RST that could destroy our error reply. */
#define DRAIN_DEADLINE_MS 1000
#define DRAIN_MAX_BYTES (1024 * 1024)
#define THING_PERIOD_MS 5000

static const char ERR_TOO_LONG[] = "-ERR line too long\r\n";
static const char ERR_REFUSED[] = "-ERR shutdown refused\r\n";

/* Server-wide state. It lives in static storage, never on a coroutine's
 * stack, because every coroutine reads it (see coro.h on pointers into a
 * suspended coroutine's stack). */
static struct {
    int listen_fd;
    int64_t max_line;
    bool allow_remote_shutdown;
    bool verbose;
    bool test_hooks; /* -X */
    bool stopping;
    coro_tls_ctx_t *tls;
    coro_rusage_t started;
} server = {.listen_fd = -1};

/* Open sessions by fd, so that a stop can close them all (the coroutines
 * that own them never run again once the loop has stopped). 8 bytes per fd
 * number in use, nothing per transaction. */
static struct {
    coro_stream_t **by_fd;
    int64_t cap;
} open_sessions;

/* Scratch for input we throw away. Shared by all sessions: nobody reads it. */
static char discard_buf[16 * 1024];

static void usage(FILE *to)
{
    fprintf(to,
            "usage: echo_server [-k | -s | -p | -e | -b NAME] [-P PORT] [-a ADDR]\n"
            "                   [-t [-c CERT] [-K KEY]] [-R] [-T] [-L BYTES] [-v]\n"
            "       echo_server --list-backends\n"
            "  -k/-s/-p/-e   backend kqueue/select/poll/epoll; -b NAME any backend\n"
            "                (default: the fastest of this build: %s)\n"
            "  -P PORT       TCP port, 0 for an ephemeral one (default %d)\n"
            "  -a ADDR       address to bind (default 127.0.0.1)\n"
            "  -t            TLS; -c CERT and -K KEY are PEM files (default:\n"
            "                tls/cert.pem and tls/key.pem beside this program)\n"
            "  -R            accept !shutdown from non-loopback peers\n"
            "  -T            run the demo \"thing thread\" (prints every 5 s)\n"
            "  -L BYTES      longest line accepted, CRLF included (default %d)\n"
            "  -v            print core counters on stderr at exit\n",
            coro_backends(), DEFAULT_PORT, DEFAULT_MAX_LINE);
}

/* ------------------------------------------------------------------------ */
/* Stopping                                                                  */

/* Stops the server from inside any coroutine: no new connections, and the
 * event loop returns after the current batch. Sessions still open are
 * closed by main() once the loop has returned. */
static void server_stop(void)
{
    if (server.stopping)
        return;
    server.stopping = true;
    if (server.listen_fd >= 0) {
        coro_close(server.listen_fd); /* wakes the acceptor with EBADF */
        server.listen_fd = -1;
    }
    coro_loop_stop();
}

/* Turns SIGINT/SIGTERM into server_stop(). The signals are blocked in
 * main() and read here from a signalfd, as an ordinary fd wait. */
static void signal_watcher(void *arg)
{
    int sfd = (int)(intptr_t)arg;
    static struct signalfd_siginfo si; /* static: keeps this slice tiny */
    if (coro_read(sfd, &si, sizeof si) != (int64_t)sizeof si)
        return; /* the fd failed: run on without signal handling */
    fprintf(stderr, "echo_server: caught %s, stopping\n", strsignal((int)si.ssi_signo));
    server_stop();
}

/* The coro++ demo "thing thread": proves that timers run beside the I/O. */
static void thing_thread(void *arg)
{
    (void)arg;
    for (int64_t tick = 1;; tick++) {
        printf("thing thread: tick %lld, sleeping %d ms\n", (long long)tick, THING_PERIOD_MS);
        if (coro_sleep_ms(THING_PERIOD_MS) < 0)
            return;
    }
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

/* Answers `!bench` (json = false) or `!bench json`. Not inlined: its
 * buffers must not sit in the session's frame while the session waits. */
static __attribute__((noinline)) int reply_bench(coro_stream_t *s, bool json)
{
    char buf[1024];
    coro_rusage_t now, diff;
    coro_stats_t st;
    if (coro_rusage_now(&now) < 0 || coro_get_stats(&st) < 0)
        return -1;
    coro_rusage_diff(&server.started, &now, &diff);
    int n = json ? coro_rusage_format_json(&diff, buf, sizeof buf)
                 : coro_rusage_format(&diff, buf, sizeof buf);
    if (n < 2 || (size_t)n >= sizeof buf - 80)
        return -1;
    if (json) {
        /* Our blocking counters go inside the object: ..."nivcsw":N} ->
         * ..."nivcsw":N,"read_block":N,"write_block":N} */
        n--;
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"read_block\":%lld,\"write_block\":%lld}",
                      (long long)st.read_blocks, (long long)st.write_blocks);
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

enum verdict { KEEP_GOING, END_SESSION };

/* ------------------------------------------------------------------------ */
/* Test hooks (-X)                                                           */

static void sessions_close(coro_stream_t *s);
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
    if (server.test_hooks && LINE_IS(line, len, "!crash"))
        hook_crash(s, 8);
    if (server.test_hooks && LINE_IS(line, len, "!overflow"))
        hook_sink += hook_overflow(0);
    if (LINE_IS(line, len, "!shutdown")) {
        if (server.allow_remote_shutdown || coro_peer_is_loopback(coro_stream_fd(s)) == 1) {
            server_stop();
            return END_SESSION;
        }
        return coro_stream_write_all(s, ERR_REFUSED, sizeof ERR_REFUSED - 1) < 0 ? END_SESSION
                                                                                : KEEP_GOING;
    }
    return coro_stream_write_all(s, line, len) < 0 ? END_SESSION : KEEP_GOING;
}

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

/* Closes every session still open (after the loop stopped). */
static void sessions_close_all(void)
{
    for (int64_t fd = 0; fd < open_sessions.cap; fd++)
        if (open_sessions.by_fd[fd])
            sessions_close(open_sessions.by_fd[fd]);
    free(open_sessions.by_fd);
    open_sessions.by_fd = NULL;
    open_sessions.cap = 0;
}

/* The echo loop of one connection, until it ends; closes the stream.
 * session() tail-calls it, so while a connection waits its stack holds only
 * this frame (48 bytes on x86-64 with gcc -O2: s, the line pointer, the
 * return address) above the core's own frames. Every byte of a waiting
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

/* One connection. arg is the accepted fd; the stream (and TLS handshake)
 * is set up here, so a slow handshake never holds up the acceptor. */
static void session(void *arg)
{
    int fd = (int)(intptr_t)arg;
    coro_stream_t *s = server.tls ? coro_stream_open_tls(fd, server.max_line, server.tls, 1)
                                  : coro_stream_open(fd, server.max_line);
    if (!s) {
        if (!server.tls)
            coro_close(fd); /* the TLS variant closes it on failure */
        return;
    }
    if (sessions_add(s) < 0) {
        coro_stream_close(s);
        return;
    }
    serve(s);
}

/* Accepts until the listener is closed. */
static void acceptor(void *arg)
{
    (void)arg;
    bool warned = false;
    while (!server.stopping) {
        int fd = coro_accept(server.listen_fd);
        if (fd < 0) {
            if (server.stopping || errno == EBADF)
                break;
            /* Out of fds (or memory): the pending connection stays in the
             * backlog, so retrying at once would spin. Back off instead; a
             * session ending frees an fd. Said once, not once per retry. */
            if (!warned)
                fprintf(stderr, "echo_server: accept: %s; backing off and retrying%s\n",
                        strerror(errno), errno == EMFILE ? " (raise ulimit -n)" : "");
            warned = true;
            coro_sleep_ms(ACCEPT_BACKOFF_MS);
            continue;
        }
        if (!coro_spawn(session, (void *)(intptr_t)fd)) {
            fprintf(stderr, "echo_server: cannot start a session: %s\n", strerror(errno));
            coro_close(fd);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */

/* Blocks SIGINT/SIGTERM and returns a non-blocking signalfd for them. */
static int open_signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd >= 0)
        coro_fd_setup(fd);
    return fd;
}

int main(int argc, char **argv)
{
    const char *backend = NULL, *addr = "127.0.0.1";
    const char *cert = NULL, *key = NULL;
    int64_t port = DEFAULT_PORT, max_line = DEFAULT_MAX_LINE;
    bool tls = false, thing = false;

    enum { OPT_LIST_BACKENDS = 1000, OPT_HELP };
    static const struct option longopts[] = {
        {"list-backends", no_argument, NULL, OPT_LIST_BACKENDS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "kspeb:P:a:tc:K:RTL:vXh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k':
        case 's':
        case 'p':
        case 'e':
            backend = demo_backend_for_flag(opt);
            break;
        case 'b':
            backend = optarg;
            break;
        case 'P':
            if (demo_parse_i64(optarg, 0, 65535, &port) < 0) {
                fprintf(stderr, "echo_server: -P wants a port number 0..65535, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'a':
            addr = optarg;
            break;
        case 't':
            tls = true;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'K':
            key = optarg;
            break;
        case 'R':
            server.allow_remote_shutdown = true;
            break;
        case 'T':
            thing = true;
            break;
        case 'L':
            if (demo_parse_i64(optarg, 3, 256 * 1024 * 1024, &max_line) < 0) {
                fprintf(stderr, "echo_server: -L wants a byte count 3..268435456, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'v':
            server.verbose = true;
            break;
        case 'X':
            server.test_hooks = true;
            break;
        case OPT_LIST_BACKENDS:
            for (const char *p = coro_backends(); *p; p++)
                putchar(*p == ',' ? '\n' : *p);
            putchar('\n');
            return 0;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "echo_server: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (backend && !demo_backend_known(backend)) {
        fprintf(stderr, "echo_server: backend '%s' is not in this build (it has: %s)\n", backend,
                coro_backends());
        return 2;
    }
    server.max_line = max_line;

    /* Tools wait for our ready line on a pipe: flush every line. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    demo_ignore_sigpipe();
    demo_raise_fd_limit();

    char cert_buf[4096], key_buf[4096];
    if (tls) {
        if (!cert && demo_default_tls_cert(cert_buf, sizeof cert_buf) == 0)
            cert = cert_buf;
        if (!key && demo_default_tls_key(key_buf, sizeof key_buf) == 0)
            key = key_buf;
        if (!cert || !key) {
            fprintf(stderr, "echo_server: cannot locate the default TLS files; use -c and -K\n");
            return 2;
        }
        if (access(cert, R_OK) < 0 || access(key, R_OK) < 0) {
            fprintf(stderr, "echo_server: cannot read TLS certificate %s or key %s: %s\n", cert,
                    key, strerror(errno));
            return 2;
        }
        server.tls = coro_tls_server_ctx(cert, key);
        if (!server.tls) {
            fprintf(stderr, "echo_server: TLS setup failed (%s, %s): %s\n", cert, key,
                    strerror(errno));
            return 1;
        }
    }

    if (coro_runtime_init(0, backend) < 0) {
        fprintf(stderr, "echo_server: cannot start the %s backend: %s\n",
                backend ? backend : "default", strerror(errno));
        return 1;
    }
    coro_rusage_now(&server.started);
    printf("using %s()\n", coro_backend_name());
    printf("stack base: %p\n", coro_stack_base());

    server.listen_fd = coro_tcp_listen(addr, (int)port, LISTEN_BACKLOG);
    if (server.listen_fd < 0) {
        fprintf(stderr, "echo_server: cannot listen on %s:%lld: %s\n", addr, (long long)port,
                strerror(errno));
        return 1;
    }
    int sfd = open_signal_fd();
    if (sfd < 0) {
        fprintf(stderr, "echo_server: signalfd: %s\n", strerror(errno));
        return 1;
    }
    if (!coro_spawn(acceptor, NULL) || !coro_spawn(signal_watcher, (void *)(intptr_t)sfd) ||
        (thing && !coro_spawn(thing_thread, NULL))) {
        fprintf(stderr, "echo_server: cannot start coroutines: %s\n", strerror(errno));
        return 1;
    }
    printf("echo_server starting on port %d\n", coro_socket_port(server.listen_fd));

    int64_t left = coro_run();
    printf("exiting event loop\n");
    if (left < 0)
        fprintf(stderr, "echo_server: event loop failed: %s\n", strerror(errno));
    printf("exiting main coroutine\n");
    coro_stats_t st;
    coro_get_stats(&st);
    printf("read_block: %lld  write_block: %lld\n", (long long)st.read_blocks,
           (long long)st.write_blocks);
    if (server.verbose)
        fprintf(stderr,
                "stats: switches %lld, coroutines %lld spawned / %lld alive, max slice %lld "
                "bytes, save buffers %lld bytes, copied %lld+%lld bytes\n",
                (long long)st.switches, (long long)st.coroutines_spawned,
                (long long)st.live_coroutines, (long long)st.max_slice_bytes,
                (long long)st.save_buffer_bytes, (long long)st.bytes_saved,
                (long long)st.bytes_restored);
    sessions_close_all();
    coro_runtime_destroy();
    if (server.tls)
        coro_tls_ctx_free(server.tls);
    close(sfd);
    return left < 0 ? 1 : 0;
}
