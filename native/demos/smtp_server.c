/*
 * smtp_server.c - a small ESMTP server on the coroutine core: one coroutine
 * per session, the protocol in lib/smtp_session.c.
 *
 *   smtp_server [-P PORT] [-a ADDR] [-b BACKEND] [-d SPOOL_DIR]
 *               [-m MAX_MESSAGE_BYTES] [-T IDLE_SECONDS] [-R]
 *
 * Defaults: port 9025, address 127.0.0.1, messages up to 10 MiB, no spool
 * (messages are counted, not stored), sessions idle for 300 s (RFC 5321
 * 4.5.3.2.7) get 421 and are closed. Once listening it prints
 * `smtp_server starting on port N` on stdout (the real port, also with
 * -P 0). On exit: `exiting event loop`, `messages: N  bytes: N`,
 * `read_block: N  write_block: N`.
 *
 * Besides RFC 5321 it knows two commands for benchmarks: `BENCH` answers
 * `250 <coro++ rusage line since start>` and `BENCH JSON` answers
 * `250 <json>` (the rusage keys plus read_block, write_block, messages);
 * `SHUTDOWN` answers 221 and stops the server, from a loopback peer only
 * (unless -R).
 *
 * How a session runs: read whatever the socket has into the connection's
 * buffer, feed it to the session engine, which answers every complete line
 * into its reply buffer, and write those replies with one write per read.
 * A pipelining client (RFC 2920) sending MAIL, RCPT and DATA in one packet
 * thus gets the three replies in one packet, and a client that waits for
 * each reply gets it at once, since we never wait for more input before
 * answering what we have.
 *
 * Spool (-d DIR): the directory is opened once and every file is created
 * relative to that fd (openat) with O_CREAT|O_EXCL|O_NOFOLLOW, under a name
 * made here from a counter and our pid, never from anything the client
 * sent. So nothing a client sends can make the server write outside DIR or
 * through a symlink planted in it, or overwrite a file. The body is written
 * to `<n>-<pid>.tmp` in 64 KiB chunks while it arrives and linked to
 * `<n>-<pid>.eml` when complete, so an .eml file is always a whole message;
 * a failed message leaves nothing behind. The file holds the body as
 * received after dot-unstuffing. Files are not fsync'ed (a benchmark spool,
 * not a mail queue), and file writes block the thread (regular files never
 * report EAGAIN).
 */
#include <coro.h>

#include "lib/demo_args.h"
#include "lib/demo_proc.h"
#include "lib/smtp_session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PORT       9025
#define READ_BUF_BYTES     8192             /* per connection */
#define IDLE_TIMEOUT_MS    (5 * 60 * 1000)  /* default -T; RFC 5321 4.5.3.2.7: 5 minutes */
#define MAX_IDLE_MS        (24 * 3600 * 1000LL)
#define LINGER_MS          2000             /* wait for the peer's FIN after our last reply */
#define LINGER_MAX_BYTES   (1024 * 1024)    /* input discarded while lingering, at most */
#define ACCEPT_BACKOFF_MS  100
#define SPOOL_NAME_TRIES   100              /* names tried when one already exists */
#define SPOOL_NAME_BYTES   64

static struct {
    int listen_fd;
    int spool_fd;                /* -d directory, or -1 */
    int64_t max_message_bytes;
    int64_t idle_ms;             /* -T */
    bool allow_remote_shutdown;  /* -R */
    bool stopping;
    long pid;
    char hostname[128];
    coro_rusage_t start;         /* for BENCH */
    int64_t seq;                 /* last message number handed out */
    int64_t messages;            /* messages accepted (250 after DATA) */
    int64_t message_bytes;       /* their unstuffed body bytes */
} srv = {.listen_fd = -1, .spool_fd = -1};

struct conn {
    coro_stream_t *st;
    int file_fd;                 /* spool file of the message being received, or -1 */
    bool file_failed;            /* a spool write failed: answer 451 at the end */
    int64_t file_seq;
    smtp_session_t sess;
    char rbuf[READ_BUF_BYTES];
};

/* ---- spool -------------------------------------------------------------- */

static void spool_name(char *out, int64_t seq, const char *ext)
{
    snprintf(out, SPOOL_NAME_BYTES, "%" PRId64 "-%ld.%s", seq, srv.pid, ext);
}

/* Creates the temporary file of a new message. 0 or -1. */
static int spool_open(struct conn *c)
{
    char name[SPOOL_NAME_BYTES];
    for (int i = 0; i < SPOOL_NAME_TRIES; i++) {
        c->file_seq = ++srv.seq;
        spool_name(name, c->file_seq, "tmp");
        c->file_fd = openat(srv.spool_fd, name,
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (c->file_fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    fprintf(stderr, "smtp_server: spool: cannot create %s: %s\n", name, strerror(errno));
    return -1;
}

static int write_file(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Appends the session's pending body bytes to the message's file. */
static void spool_chunk(struct conn *c)
{
    size_t n;
    const char *p = smtp_session_body(&c->sess, &n);
    if (!c->file_failed && c->file_fd < 0 && spool_open(c) < 0)
        c->file_failed = true;
    if (!c->file_failed && n > 0 && write_file(c->file_fd, p, n) < 0) {
        fprintf(stderr, "smtp_server: spool: write: %s\n", strerror(errno));
        c->file_failed = true;
    }
    smtp_session_body_taken(&c->sess);
}

/* Forgets the message being received: closes and removes its file. */
static void spool_discard(struct conn *c)
{
    if (c->file_fd >= 0) {
        char name[SPOOL_NAME_BYTES];
        close(c->file_fd);
        spool_name(name, c->file_seq, "tmp");
        unlinkat(srv.spool_fd, name, 0);
    }
    c->file_fd = -1;
    c->file_failed = false;
}

/* Completes the message's file under its final name. 0 or -1. The link
 * fails rather than replace an existing file. */
static int spool_commit(struct conn *c)
{
    spool_chunk(c);
    if (c->file_failed) {
        spool_discard(c);
        return -1;
    }
    char tmp[SPOOL_NAME_BYTES], eml[SPOOL_NAME_BYTES];
    spool_name(tmp, c->file_seq, "tmp");
    spool_name(eml, c->file_seq, "eml");
    int rc = close(c->file_fd);
    c->file_fd = -1;
    if (rc == 0)
        rc = linkat(srv.spool_fd, tmp, srv.spool_fd, eml, 0);
    if (rc < 0)
        fprintf(stderr, "smtp_server: spool: cannot store %s: %s\n", eml, strerror(errno));
    unlinkat(srv.spool_fd, tmp, 0);
    return rc;
}

/* ---- session ------------------------------------------------------------ */

static void deliver(struct conn *c)
{
    int64_t seq;
    if (srv.spool_fd >= 0) {
        if (spool_commit(c) < 0) {
            smtp_session_delivered(&c->sess, NULL);
            return;
        }
        seq = c->file_seq;
    } else {
        seq = ++srv.seq;
    }
    srv.messages++;
    srv.message_bytes += c->sess.data_bytes;
    char id[SPOOL_NAME_BYTES];
    snprintf(id, sizeof id, "%" PRId64 "-%ld", seq, srv.pid);
    smtp_session_delivered(&c->sess, id);
}

static void bench_reply(struct conn *c, bool json)
{
    coro_rusage_t now, d;
    coro_stats_t st = {0};
    char r[SMTP_REPLY_MAX];
    int n;

    coro_rusage_now(&now);
    coro_rusage_diff(&srv.start, &now, &d);
    coro_get_stats(&st);
    memcpy(r, "250 ", 4);
    if (json) {
        /* The rusage object without its closing brace, then our keys. */
        char extra[160];
        int en = snprintf(extra, sizeof extra,
                          ",\"read_block\":%" PRId64 ",\"write_block\":%" PRId64
                          ",\"messages\":%" PRId64 "}",
                          st.read_blocks, st.write_blocks, srv.messages);
        n = coro_rusage_format_json(&d, r + 4, sizeof r - 4 - (size_t)en);
        memcpy(r + 4 + n - 1, extra, (size_t)en);
        n += en - 1;
    } else {
        n = coro_rusage_format(&d, r + 4, sizeof r - 4);
    }
    smtp_session_reply(&c->sess, r, (size_t)(4 + n));
}

/* Sends the pending replies. 0 or -1. */
static int flush(struct conn *c)
{
    size_t n;
    const char *p = smtp_session_out(&c->sess, &n);
    if (n == 0)
        return 0;
    int64_t w = coro_stream_write_all(c->st, p, (int64_t)n);
    smtp_session_out_clear(&c->sess);
    return w < 0 ? -1 : 0;
}

static void server_stop(void)
{
    srv.stopping = true;
    if (srv.listen_fd >= 0) {
        coro_close(srv.listen_fd); /* wakes the acceptor with EBADF */
        srv.listen_fd = -1;
    }
    coro_loop_stop();
}

/* STEP_END: the session is over (QUIT); STEP_STOP: over, and the server
 * stops once its reply is out (SHUTDOWN). */
enum step { STEP_GO, STEP_END, STEP_STOP, STEP_FAIL };

/* Does what the session engine asked for. */
static enum step handle(struct conn *c, smtp_action_t act)
{
    switch (act) {
    case SMTP_ACT_NONE:
        return STEP_GO;
    case SMTP_ACT_FLUSH:
        return flush(c) < 0 ? STEP_FAIL : STEP_GO;
    case SMTP_ACT_BODY:
        spool_chunk(c);
        return STEP_GO;
    case SMTP_ACT_MESSAGE:
        deliver(c);
        return STEP_GO;
    case SMTP_ACT_ABORT:
        spool_discard(c);
        return STEP_GO;
    case SMTP_ACT_BENCH:
    case SMTP_ACT_BENCH_JSON:
        bench_reply(c, act == SMTP_ACT_BENCH_JSON);
        return STEP_GO;
    case SMTP_ACT_CLOSE:
        return STEP_END;
    case SMTP_ACT_SHUTDOWN:
        return STEP_STOP;
    }
    return STEP_FAIL;
}

/* After our last reply: half-close, then wait (bounded) for the peer's FIN.
 * Closing with unread input would send a RST that can destroy the reply in
 * flight. */
static void linger(struct conn *c)
{
    int64_t drained = 0, n;
    if (coro_stream_shutdown(c->st) < 0)
        return;
    if (coro_deadline_push(LINGER_MS) < 0)
        return;
    while (drained < LINGER_MAX_BYTES &&
           (n = coro_stream_read(c->st, c->rbuf, sizeof c->rbuf)) > 0)
        drained += n;
    coro_deadline_pop();
}

static void session_main(void *arg)
{
    struct conn *c = arg;
    bool end = false, stop = false;

    if (flush(c) < 0) /* the greeting */
        goto done;
    while (!end) {
        if (coro_deadline_push(srv.idle_ms) < 0)
            break;
        int64_t n = coro_stream_read(c->st, c->rbuf, sizeof c->rbuf);
        bool timed_out = n < 0 && errno == ETIMEDOUT;
        size_t off = 0;
        enum step step = n > 0 ? STEP_GO : STEP_FAIL;
        while (step == STEP_GO && off < (size_t)n) {
            smtp_action_t act;
            off += smtp_session_feed(&c->sess, c->rbuf + off, (size_t)n - off, &act);
            step = handle(c, act);
        }
        if (step != STEP_FAIL && flush(c) < 0)
            step = STEP_FAIL;
        coro_deadline_pop();
        if (timed_out) {
            char r[SMTP_REPLY_MAX];
            int len = snprintf(r, sizeof r, "421 4.4.2 %s Idle timeout, closing connection",
                               srv.hostname);
            smtp_session_reply(&c->sess, r, (size_t)len);
            if (coro_deadline_push(LINGER_MS) == 0) {
                flush(c);
                coro_deadline_pop();
            }
        }
        if (step == STEP_END || step == STEP_STOP) {
            stop = step == STEP_STOP;
            if (stop)
                srv.stopping = true;
            linger(c);
            end = true;
        } else if (step == STEP_FAIL) {
            break;
        }
    }
done:
    spool_discard(c);
    smtp_session_free(&c->sess);
    coro_stream_close(c->st);
    free(c);
    if (stop)
        server_stop();
}

static void acceptor_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = coro_accept(srv.listen_fd);
        if (fd < 0) {
            if (srv.stopping || errno == EBADF)
                return;
            if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
                fprintf(stderr, "smtp_server: accept: %s\n", strerror(errno));
            coro_sleep_ms(ACCEPT_BACKOFF_MS); /* back off, never spin */
            continue;
        }
        struct conn *c = malloc(sizeof *c);
        coro_stream_t *st = c ? coro_stream_open(fd, SMTP_LINE_MAX) : NULL;
        if (!st) {
            free(c);
            coro_close(fd);
            continue;
        }
        c->st = st;
        c->file_fd = -1;
        c->file_failed = false;
        c->file_seq = 0;
        smtp_config_t cfg = {
            .hostname = srv.hostname,
            .max_message_bytes = srv.max_message_bytes,
            .keep_body = srv.spool_fd >= 0,
            .peer_is_loopback = srv.allow_remote_shutdown || coro_peer_is_loopback(fd) == 1,
        };
        smtp_session_init(&c->sess, &cfg);
        if (!coro_spawn(session_main, c)) {
            smtp_session_free(&c->sess);
            coro_stream_close(st);
            free(c);
        }
    }
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: smtp_server [-P PORT] [-a ADDR] [-b BACKEND] [-d SPOOL_DIR]\n"
            "                   [-m MAX_MESSAGE_BYTES] [-T IDLE_SECONDS] [-R]\n"
            "  -P PORT   TCP port, 0 for an ephemeral one (default %d)\n"
            "  -a ADDR   address to bind (default 127.0.0.1)\n"
            "  -b NAME   event backend, one of: %s\n"
            "  -d DIR    write each message to DIR/<n>-<pid>.eml\n"
            "  -m BYTES  largest message body accepted (default %d)\n"
            "  -T SECS   close sessions idle that long with 421 (default %d)\n"
            "  -R        accept SHUTDOWN from any peer, not only loopback\n",
            DEFAULT_PORT, coro_backends(), SMTP_DEFAULT_MAX_MESSAGE, IDLE_TIMEOUT_MS / 1000);
    exit(2);
}

int main(int argc, char **argv)
{
    int64_t port = DEFAULT_PORT;
    const char *addr = "127.0.0.1", *backend = NULL, *spool_dir = NULL;
    int opt;

    srv.max_message_bytes = SMTP_DEFAULT_MAX_MESSAGE;
    srv.idle_ms = IDLE_TIMEOUT_MS;
    while ((opt = getopt(argc, argv, "P:a:b:d:m:T:Rh")) != -1) {
        switch (opt) {
        case 'P':
            if (demo_parse_i64(optarg, 0, 65535, &port) < 0) {
                fprintf(stderr, "smtp_server: bad port '%s'\n", optarg);
                usage();
            }
            break;
        case 'a':
            addr = optarg;
            break;
        case 'b':
            if (!demo_backend_known(optarg)) {
                fprintf(stderr, "smtp_server: unknown backend '%s' (this build has: %s)\n",
                        optarg, coro_backends());
                usage();
            }
            backend = optarg;
            break;
        case 'd':
            spool_dir = optarg;
            break;
        case 'm':
            if (demo_parse_i64(optarg, 1, INT64_MAX / 2, &srv.max_message_bytes) < 0) {
                fprintf(stderr, "smtp_server: bad message size '%s'\n", optarg);
                usage();
            }
            break;
        case 'T':
            if (demo_parse_seconds_ms(optarg, MAX_IDLE_MS, &srv.idle_ms) < 0 || srv.idle_ms < 1) {
                fprintf(stderr, "smtp_server: bad idle timeout '%s'\n", optarg);
                usage();
            }
            break;
        case 'R':
            srv.allow_remote_shutdown = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();

    demo_ignore_sigpipe();
    demo_raise_fd_limit();
    srv.pid = (long)getpid();
    if (gethostname(srv.hostname, sizeof srv.hostname - 1) < 0 || !srv.hostname[0])
        snprintf(srv.hostname, sizeof srv.hostname, "localhost");
    if (spool_dir) {
        srv.spool_fd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (srv.spool_fd < 0) {
            fprintf(stderr, "smtp_server: spool directory %s: %s\n", spool_dir, strerror(errno));
            return 2;
        }
    }
    if (coro_runtime_init(0, backend) < 0) {
        fprintf(stderr, "smtp_server: cannot start the runtime: %s\n", strerror(errno));
        return 1;
    }
    srv.listen_fd = coro_tcp_listen(addr, (int)port, 0);
    if (srv.listen_fd < 0) {
        fprintf(stderr, "smtp_server: cannot listen on %s:%" PRId64 ": %s\n", addr, port,
                strerror(errno));
        return 1;
    }
    coro_rusage_now(&srv.start);
    if (!coro_spawn(acceptor_main, NULL)) {
        fprintf(stderr, "smtp_server: cannot spawn the acceptor: %s\n", strerror(errno));
        return 1;
    }
    printf("smtp_server starting on port %d\n", coro_socket_port(srv.listen_fd));
    fflush(stdout);

    int64_t left = coro_run();
    printf("exiting event loop\n");
    coro_stats_t st = {0};
    coro_get_stats(&st);
    printf("messages: %" PRId64 "  bytes: %" PRId64 "\n", srv.messages, srv.message_bytes);
    printf("read_block: %" PRId64 "  write_block: %" PRId64 "\n", st.read_blocks,
           st.write_blocks);
    fflush(stdout);
    coro_runtime_destroy();
    if (srv.spool_fd >= 0)
        close(srv.spool_fd);
    return left < 0 ? 1 : 0;
}
