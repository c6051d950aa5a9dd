/*
 * smtp_client - SMTP load generator for smtp_server, verifying every reply.
 *
 *   smtp_client [options] <ip> <port> <nconns> <nmessages_per_conn> <message_bytes>
 *   options: -b NAME  event backend     --json  one JSON object
 *            --no-shutdown  end every session with QUIT, never SHUTDOWN
 *
 * Each of nconns connections is a coroutine: greeting (220), EHLO once
 * (250, must advertise PIPELINING to be pipelined), then per message
 * MAIL FROM, RCPT TO and DATA in one write (RFC 2920: DATA ends a pipelined
 * group), the three replies (250, 250, 354), then the body and its "."
 * terminator in one write, and its 250. Without PIPELINING in the EHLO
 * reply each command waits for its reply. The body (lib/smtp_body.c) is
 * message_bytes bytes after unstuffing, CRLF lines with leading dots and
 * lone-dot lines, so every message exercises dot-stuffing.
 *
 * When every connection is done, the main coroutine asks the server
 * `BENCH JSON` (or `BENCH` for the text output) on the last finisher's
 * connection (or a fresh one if that one failed) and sends `SHUTDOWN`
 * (`QUIT` with --no-shutdown). The others end with QUIT and wait for the
 * 221 before the SHUTDOWN goes out, so no QUIT is lost to a stopping
 * server.
 *
 * Output (stdout):
 *   text: `server bench: <coro++ line>`, `client bench: <coro++ line>`,
 *         `read_block: N  write_block: N`,
 *         `messages: N  errors: N  msg_per_s: X`
 *   --json: {"conns","messages_per_conn","message_bytes","messages","errors",
 *            "wall_us","msg_per_s","client":{rusage},"server":{BENCH JSON}|null,
 *            "read_block","write_block","backend"}
 * `messages` counts messages the server accepted (250 after the body);
 * `errors` counts connections that failed (I/O error, unexpected reply).
 * wall_us runs from the first connect to the end of the last message.
 *
 * Exit status: 0 when every message was accepted and the server answered
 * BENCH; 1 otherwise; 2 for bad arguments, an unresolvable address or a
 * server that refuses the first connection.
 */
#include <coro.h>

#include "lib/demo_args.h"
#include "lib/demo_net.h"
#include "lib/demo_output.h"
#include "lib/demo_proc.h"
#include "lib/smtp_body.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONNS         1000000
#define MAX_MESSAGES      1000000000LL      /* per connection */
#define MAX_MESSAGE_BYTES (1024LL * 1024 * 1024)
#define REPLY_LINE_MAX    4096              /* longest reply line we read */
#define REPLY_TIMEOUT_MS  30000             /* per exchange; a silent server is an error */
#define SHUTDOWN_WAIT_MS  2000              /* wait for the server to close after SHUTDOWN */
#define MAX_ERROR_REPORTS 5

static const char ENVELOPE[] = "MAIL FROM:<bench@client.test>\r\n"
                               "RCPT TO:<sink@server.test>\r\n"
                               "DATA\r\n";

struct conn {
    coro_stream_t *s;
    int64_t index;
    bool pipelining;             /* the server advertised PIPELINING */
};

/* Client-wide state, static (never on a coroutine stack). */
static struct {
    const char *host;
    int port;
    int64_t nconns, nmsgs, bytes;
    const char *backend;
    bool json, no_shutdown;

    smtp_body_t body;
    struct conn *conns;
    coro_latch_t *all_done;      /* counted down by every worker at its end */
    int64_t finished;            /* connections whose messages are done */
    struct conn *last;           /* healthy last finisher, handed to main */

    int64_t messages, errors;
    int64_t start_ns, end_ns;
    char *server_bench;          /* text after "250 " of the BENCH reply */
    int fatal_errno;             /* the first connection failed: exit 2 */
} cl;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: smtp_client [options] <ip> <port> <nconns> <nmessages_per_conn> "
            "<message_bytes>\n"
            "  -b NAME          event backend (this build: %s)\n"
            "  --json           print one JSON object instead of text lines\n"
            "  --no-shutdown    end every session with QUIT, never SHUTDOWN\n"
            "  nconns, nmessages_per_conn >= 1; message_bytes >= %d (CRLF lines)\n",
            coro_backends(), SMTP_BODY_MIN_BYTES);
}

static void conn_error(const struct conn *c, const char *what, const char *detail)
{
    cl.errors++;
    if (cl.errors <= MAX_ERROR_REPORTS)
        fprintf(stderr, "smtp_client: connection %lld: %s: %s\n", (long long)c->index, what,
                detail ? detail : strerror(errno));
    else if (cl.errors == MAX_ERROR_REPORTS + 1)
        fprintf(stderr, "smtp_client: more connections failed (counted, not shown)\n");
}

/* ---- replies ------------------------------------------------------------ */

/* Why the last read_reply failed, for the error message. */
static char reply_problem[160];

/* Reads one reply (all its lines) and checks its code. Returns 0, or -1
 * with reply_problem set. With keep, the text of the last line (after the
 * code and separator, CRLF stripped) is copied to *keep (malloc'ed). With
 * seen_pipelining, sets it if a line of the reply is "PIPELINING". */
static int read_reply(struct conn *c, int want, const char *after, char **keep,
                      bool *seen_pipelining)
{
    for (;;) {
        const char *line;
        int64_t n = coro_stream_read_line(c->s, &line, '\n');
        if (n <= 0) {
            snprintf(reply_problem, sizeof reply_problem, "%s: %s", after,
                     n == 0 ? "server closed the connection" : strerror(errno));
            return -1;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        bool ok = n >= 3 && line[0] >= '1' && line[0] <= '5' && line[1] >= '0' &&
                  line[1] <= '9' && line[2] >= '0' && line[2] <= '9' &&
                  (n == 3 || line[3] == ' ' || line[3] == '-');
        int code = ok ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : -1;
        if (code != want) {
            snprintf(reply_problem, sizeof reply_problem, "%s: expected %d, got \"%.*s\"", after,
                     want, (int)(n < 100 ? n : 100), line);
            return -1;
        }
        const char *text = n > 4 ? line + 4 : "";
        size_t tl = n > 4 ? (size_t)(n - 4) : 0;
        if (seen_pipelining && tl == 10 && strncasecmp(text, "PIPELINING", 10) == 0)
            *seen_pipelining = true;
        if (n == 3 || line[3] == ' ') {
            if (keep && !(*keep = strndup(text, tl))) {
                snprintf(reply_problem, sizeof reply_problem, "%s: out of memory", after);
                return -1;
            }
            return 0;
        }
    }
}

static int send_text(struct conn *c, const char *p, size_t n, const char *what)
{
    if (coro_stream_write_all(c->s, p, (int64_t)n) < 0) {
        snprintf(reply_problem, sizeof reply_problem, "%s: %s", what, strerror(errno));
        return -1;
    }
    return 0;
}

/* One command, one reply. */
static int command(struct conn *c, const char *cmd, int want, char **keep)
{
    return (send_text(c, cmd, strlen(cmd), cmd) < 0 || read_reply(c, want, cmd, keep, NULL) < 0)
               ? -1
               : 0;
}

/* ---- sessions ----------------------------------------------------------- */

static int conn_open(struct conn *c)
{
    c->s = demo_stream_connect(cl.host, cl.port, REPLY_LINE_MAX, NULL);
    return c->s ? 0 : -1;
}

static void conn_close(struct conn *c)
{
    coro_stream_close(c->s);
    c->s = NULL;
}

/* Greeting and EHLO. 0 or -1. */
static int hello(struct conn *c)
{
    c->pipelining = false;
    if (read_reply(c, 220, "greeting", NULL, NULL) < 0)
        return -1;
    static const char ehlo[] = "EHLO client.test\r\n";
    if (send_text(c, ehlo, sizeof ehlo - 1, "EHLO") < 0 ||
        read_reply(c, 250, "EHLO", NULL, &c->pipelining) < 0)
        return -1;
    return 0;
}

/* One message: envelope, body, 250. 0 or -1. */
static int send_message(struct conn *c)
{
    if (c->pipelining) {
        if (send_text(c, ENVELOPE, sizeof ENVELOPE - 1, "envelope") < 0 ||
            read_reply(c, 250, "MAIL FROM", NULL, NULL) < 0 ||
            read_reply(c, 250, "RCPT TO", NULL, NULL) < 0 ||
            read_reply(c, 354, "DATA", NULL, NULL) < 0)
            return -1;
    } else {
        if (command(c, "MAIL FROM:<bench@client.test>\r\n", 250, NULL) < 0 ||
            command(c, "RCPT TO:<sink@server.test>\r\n", 250, NULL) < 0 ||
            command(c, "DATA\r\n", 354, NULL) < 0)
            return -1;
    }
    if (send_text(c, cl.body.wire, (size_t)cl.body.wire_len, "message body") < 0 ||
        read_reply(c, 250, "end of data", NULL, NULL) < 0)
        return -1;
    cl.messages++;
    return 0;
}

static int run_session(struct conn *c)
{
    if (hello(c) < 0)
        return -1;
    for (int64_t i = 0; i < cl.nmsgs; i++) {
        if (coro_deadline_push(REPLY_TIMEOUT_MS) < 0)
            return -1;
        int rc = send_message(c);
        coro_deadline_pop();
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* QUIT, its 221, close. */
static void conn_quit(struct conn *c)
{
    if (coro_deadline_push(REPLY_TIMEOUT_MS) == 0) {
        if (command(c, "QUIT\r\n", 221, NULL) < 0)
            conn_error(c, "QUIT", reply_problem);
        coro_deadline_pop();
    }
    conn_close(c);
}

static void worker(void *arg)
{
    struct conn *c = arg;
    if (!c->s && conn_open(c) < 0) {
        conn_error(c, "connect", NULL);
    } else if (run_session(c) < 0) {
        conn_error(c, "session", reply_problem);
        conn_close(c);
    }
    if (++cl.finished == cl.nconns) {
        cl.end_ns = coro_now_ns();
        cl.last = c->s ? c : NULL;
    } else if (c->s) {
        conn_quit(c);
    }
    coro_latch_count_down(cl.all_done);
}

/* BENCH [JSON] on c; keeps the reply text. Not inlined: the main
 * coroutine's frame stays small while it waits. */
static __attribute__((noinline)) int ask_bench(struct conn *c)
{
    const char *req = cl.json ? "BENCH JSON\r\n" : "BENCH\r\n";
    free(cl.server_bench);
    cl.server_bench = NULL;
    if (command(c, req, 250, &cl.server_bench) < 0)
        return -1;
    size_t n = strlen(cl.server_bench);
    if (cl.json && (n < 2 || cl.server_bench[0] != '{' || cl.server_bench[n - 1] != '}')) {
        snprintf(reply_problem, sizeof reply_problem, "BENCH JSON: not a JSON object");
        free(cl.server_bench);
        cl.server_bench = NULL;
        return -1;
    }
    return 0;
}

/* BENCH then SHUTDOWN (or QUIT) on c, or on a fresh connection. */
static void final_exchange(struct conn *c)
{
    struct conn spare = {.index = cl.nconns};
    if (!c) {
        c = &spare;
        if (conn_open(c) < 0 || hello(c) < 0) {
            conn_error(c, "connect for BENCH", c->s ? reply_problem : NULL);
            if (c->s)
                conn_close(c);
            return;
        }
    }
    if (coro_deadline_push(REPLY_TIMEOUT_MS) < 0) {
        conn_close(c);
        return;
    }
    int rc = ask_bench(c);
    coro_deadline_pop();
    if (rc < 0) {
        conn_error(c, "BENCH", reply_problem);
        conn_close(c);
        return;
    }
    if (cl.no_shutdown) {
        conn_quit(c);
        return;
    }
    /* 221, then the server closes: wait for that (bounded), so that the
     * server is gone or going when we exit. */
    if (coro_deadline_push(SHUTDOWN_WAIT_MS) == 0) {
        if (command(c, "SHUTDOWN\r\n", 221, NULL) < 0) {
            conn_error(c, "SHUTDOWN", reply_problem);
        } else {
            const char *line;
            while (coro_stream_read_line(c->s, &line, '\n') > 0)
                ;
        }
        coro_deadline_pop();
    }
    conn_close(c);
}

static void main_coroutine(void *arg)
{
    (void)arg;
    cl.start_ns = coro_now_ns();
    /* Connection 0 first, alone: if the server is not there, that is a
     * usage error (exit 2) with one clear message, not nconns failures. */
    if (conn_open(&cl.conns[0]) < 0) {
        cl.fatal_errno = errno ? errno : EIO;
        return;
    }
    for (int64_t i = 0; i < cl.nconns; i++) {
        if (!coro_spawn(worker, &cl.conns[i])) {
            conn_error(&cl.conns[i], "spawn", NULL);
            if (cl.conns[i].s)
                conn_close(&cl.conns[i]);
            if (++cl.finished == cl.nconns)
                cl.end_ns = coro_now_ns();
            coro_latch_count_down(cl.all_done);
        }
    }
    coro_latch_wait(cl.all_done);
    final_exchange(cl.last);
}

/* ---- output ------------------------------------------------------------- */

static double msg_per_s(void)
{
    double wall_s = (double)(cl.end_ns - cl.start_ns) / 1e9;
    return wall_s > 0 ? (double)cl.messages / wall_s : 0.0;
}

static void print_text(const coro_rusage_t *client, const coro_stats_t *st)
{
    demo_print_bench_lines(cl.server_bench, client, st);
    printf("messages: %lld  errors: %lld  msg_per_s: %.1f\n", (long long)cl.messages,
           (long long)cl.errors, msg_per_s());
}

static void print_json(const coro_rusage_t *client, const coro_stats_t *st)
{
    char buf[1024];
    coro_rusage_format_json(client, buf, sizeof buf);
    printf("{\"conns\":%lld,\"messages_per_conn\":%lld,\"message_bytes\":%lld,"
           "\"messages\":%lld,\"errors\":%lld,\"wall_us\":%lld,\"msg_per_s\":%.1f,"
           "\"client\":%s,\"server\":%s,\"read_block\":%lld,\"write_block\":%lld,"
           "\"backend\":\"%s\"}\n",
           (long long)cl.nconns, (long long)cl.nmsgs, (long long)cl.bytes,
           (long long)cl.messages, (long long)cl.errors,
           (long long)((cl.end_ns - cl.start_ns) / 1000), msg_per_s(), buf,
           cl.server_bench ? cl.server_bench : "null", (long long)st->read_blocks,
           (long long)st->write_blocks, coro_backend_name());
}

/* ---- arguments ---------------------------------------------------------- */

static int bad_arg(const char *what, const char *value)
{
    fprintf(stderr, "smtp_client: %s: '%s'\n", what, value);
    usage(stderr);
    return 2;
}

/* Parses argv into cl. Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv)
{
    enum { OPT_JSON = 1000, OPT_NO_SHUTDOWN, OPT_HELP };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"no-shutdown", no_argument, NULL, OPT_NO_SHUTDOWN},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "b:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            cl.backend = optarg;
            break;
        case OPT_JSON:
            cl.json = true;
            break;
        case OPT_NO_SHUTDOWN:
            cl.no_shutdown = true;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    int npos = argc - optind;
    if (npos != 5) {
        fprintf(stderr, "smtp_client: expected 5 arguments, got %d\n", npos);
        usage(stderr);
        return 2;
    }
    char **pos = argv + optind;
    int64_t port;
    cl.host = pos[0];
    if (demo_parse_i64(pos[1], 1, 65535, &port) < 0)
        return bad_arg("port must be a number in 1..65535", pos[1]);
    cl.port = (int)port;
    if (demo_parse_i64(pos[2], 1, MAX_CONNS, &cl.nconns) < 0)
        return bad_arg("nconns must be a number in 1..1000000", pos[2]);
    if (demo_parse_i64(pos[3], 1, MAX_MESSAGES, &cl.nmsgs) < 0)
        return bad_arg("nmessages_per_conn must be a number in 1..1000000000", pos[3]);
    if (demo_parse_i64(pos[4], SMTP_BODY_MIN_BYTES, MAX_MESSAGE_BYTES, &cl.bytes) < 0)
        return bad_arg("message_bytes must be a number in 2..1073741824", pos[4]);
    if (demo_check_backend("smtp_client", cl.backend) < 0 ||
        demo_check_address("smtp_client", cl.host) < 0)
        return 2;
    return -1;
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc >= 0)
        return rc;

    demo_client_setup("smtp_client", cl.nconns);
    if (smtp_body_make(&cl.body, cl.bytes) < 0) {
        fprintf(stderr, "smtp_client: cannot build a %lld-byte message: %s\n",
                (long long)cl.bytes, strerror(errno));
        return 1;
    }
    cl.conns = calloc((size_t)cl.nconns, sizeof *cl.conns);
    if (!cl.conns) {
        fprintf(stderr, "smtp_client: out of memory for %lld connections\n",
                (long long)cl.nconns);
        return 1;
    }
    for (int64_t i = 0; i < cl.nconns; i++)
        cl.conns[i].index = i;

    coro_rusage_t started, ended, used;
    coro_rusage_now(&started);
    if (demo_runtime_init("smtp_client", cl.backend) < 0)
        return 1;
    cl.all_done = coro_latch_create(cl.nconns);
    if (!cl.all_done || !coro_spawn(main_coroutine, NULL)) {
        fprintf(stderr, "smtp_client: cannot start: %s\n", strerror(errno));
        return 1;
    }
    int64_t stuck = demo_client_run("smtp_client", cl.host, cl.port, &cl.fatal_errno);
    if (stuck < 0)
        return 2;

    coro_rusage_now(&ended);
    coro_rusage_diff(&started, &ended, &used);
    coro_stats_t st;
    coro_get_stats(&st);
    if (cl.json)
        print_json(&used, &st);
    else
        print_text(&used, &st);
    fflush(stdout);
    int64_t want = cl.nconns * cl.nmsgs;
    if (cl.errors || cl.messages != want)
        fprintf(stderr, "smtp_client: %lld of %lld messages accepted, %lld failed connections\n",
                (long long)cl.messages, (long long)want, (long long)cl.errors);
    coro_latch_destroy(cl.all_done);
    coro_runtime_destroy();
    free(cl.server_bench);
    free(cl.conns);
    smtp_body_free(&cl.body);
    return (cl.errors || cl.messages != want || stuck != 0 || !cl.server_bench) ? 1 : 0;
}
