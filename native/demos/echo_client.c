/*
 * echo_client - the coro++ echo load generator, verifying every byte.
 *
 *   echo_client [options] <ip> <port> <nconns> <ntrans> <packet_size>
 *   options: -b NAME  event backend      -t  TLS
 *            --json   one JSON object    --no-shutdown  never send !shutdown
 *            --idle SECONDS  open the connections (and run the transactions, if
 *                            ntrans and packet_size are given), keep them
 *                            idle that long, then ask !bench and close
 *            --conn-base N   number the connections from N (in the payload)
 *            --no-bench      never send !bench, !quit or !shutdown: close
 *                            every connection when done
 *            --barrier       open every connection, print "ready", start
 *                            the transactions at "go" on stdin
 *                            (lib/start_barrier.h)
 *            --rate TXN_PER_S  open loop: send on a fixed schedule, this
 *                            many lines a second over all connections
 *
 * Contract (arguments, output lines, JSON fields, exit status):
 * docs/programs.md.
 *
 * Each connection is a coroutine doing ntrans transactions: write one
 * packet (payload + CRLF), read back exactly as many bytes, compare. The
 * last connection to finish hands its stream to the main coroutine, which
 * asks the server for `!bench` and then sends `!shutdown`; the others send
 * `!quit` as soon as they are done.
 *
 * A load generator must not be the bottleneck, so a transaction costs what
 * With --rate the loop is open (wrk2's constant-throughput mode): each
 * connection's k-th line is due at its start plus k intervals, and its
 * latency is measured from that due time, not from when it was sent, so a
 * server stall counts against every line it delayed (coordinated omission
 * corrected). A connection still has one line outstanding: a line that
 * falls due before the previous reply is sent as soon as that reply is in.
 * The service time (reply minus actual send) and the schedule lag (send
 * minus due) are kept beside it. Whether the client itself kept up is
 * measured apart, the way jHiccup does: a coroutine wakes on a 1 ms grid
 * and records how late each wake-up is (filling in the ticks a long stall
 * swallowed), so a client that was descheduled or busy shows up there and
 * not as the server's latency only.
 *
 * A load generator must not be the bottleneck, so a transaction costs what
 * the server's does: one write and one read syscall (reading into a buffer
 * larger than the reply makes the read short, so the next read waits for
 * the event instead of trying and getting EAGAIN), no allocation, one clock
 * read, one histogram increment and one memcmp. Per-connection buffers are
 * on the heap: a coroutine's frame is copied on every switch, so it is kept
 * small.
 */
#include <coro.h>

#include "lib/demo_args.h"
#include "lib/demo_net.h"
#include "lib/demo_output.h"
#include "lib/demo_proc.h"
#include "lib/latency_hist.h"
#include "lib/start_barrier.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_CONNS 1000000
/* Connection ids (--conn-base + index) fit the 6 letters of the payload
 * stamp, 4 bits each. */
#define MAX_CONN_ID ((1 << 24) - 1)
#define MAX_PACKET (256 * 1024 * 1024)
/* Room beyond packet_size in the receive buffer: a read that could take
 * more than the echo returns short, which tells the core the socket is
 * drained. Bytes landing there are an echo longer than what we sent. */
#define RX_SLACK 64
/* How long the main coroutine waits for the server to close after
 * `!shutdown` (so that a script sees the server gone when we exit). */
#define SHUTDOWN_WAIT_MS 2000
/* Connection errors reported one by one on stderr; the rest are counted. */
#define MAX_ERROR_REPORTS 5
/* --rate: the shortest interval between two lines of one connection, 10 us
 * (100,000 lines a second per connection). Each line due costs the client a
 * timer wake-up (an epoll_pwait2 return and a coroutine switch, a few us on
 * this class of machine); below 10 us that wake-up would be a large part of
 * every interval and the schedule would measure the client. */
#define MIN_INTERVAL_NS 10000
#define MAX_RATE_PER_CONN (1e9 / MIN_INTERVAL_NS)
/* --rate: a schedule longer than a day is refused (every load loop of the
 * suite is bounded in time as well as in count). */
#define MAX_SCHEDULE_S 86400.0
/* --rate: the hiccup meter's tick (see above). */
#define HICCUP_TICK_NS 1000000
/* --rate: the client kept its schedule when its hiccups stayed within this
 * at p99 (late by more than 1 ms at most 1 % of the time); beyond it the
 * corrected latencies carry more of the client's own delay than a loopback
 * echo's whole service time. */
#define KEPT_SCHEDULE_P99_NS 1000000

/* One connection. The transaction loop keeps its state here rather than in
 * locals: what a coroutine holds in registers across a blocking call is
 * pushed on its stack, and its stack is copied out and back on every
 * switch, so the loop's frame is kept to the one pointer to this. */
struct conn {
    coro_stream_t *s;
    char *packet;     /* packet_size bytes: payload then CRLF */
    char *rx;         /* packet_size + RX_SLACK bytes */
    int64_t index;
    int64_t txn;      /* transactions done */
    int64_t got;      /* bytes of the current echo read so far */
    int64_t before_ns; /* end of the previous transaction */
    int64_t start_ns;  /* --rate: when line 0 is due */
    int64_t due_ns;    /* --rate: when the current line is due */
    int64_t sent_ns;   /* --rate: when it was sent */
};

/* Client-wide state, static (never on a coroutine stack: every coroutine
 * reads it). */
static struct {
    /* options */
    const char *host;
    int port;
    int64_t nconns, ntrans, size;
    const char *backend;
    bool tls, json, no_shutdown, no_bench, barrier;
    int64_t conn_base;        /* id of connection 0 in the payload stamp */
    int64_t idle_ms;          /* -1: normal run */
    double rate;              /* --rate: lines a second, all connections; 0: closed loop */
    double interval_ns;       /* --rate: between two lines of one connection */
    coro_tls_ctx_t *tls_ctx;

    struct conn *conns;
    coro_t *main_coro;
    int64_t finished;         /* connections done (well or not) */
    struct conn *last;        /* healthy last finisher, handed to main */

    /* results */
    int64_t transactions, mismatches, errors, bytes_moved;
    int64_t start_ns, end_ns;
    char *server_bench;       /* server's !bench reply, CRLF stripped */
    int fatal_errno;          /* the first connection failed: exit 2 */
    /* --rate: the schedule's span, from the first line due to the later of
     * the last reply and the end of the last connection's schedule. */
    int64_t sched_start_ns, sched_end_ns;
} cl = {.idle_ms = -1};

/* Every transaction's latency: its round trip, or with --rate the time from
 * when its line was due to its reply. */
static lat_hist_t latency_ns;
/* --rate only: reply minus actual send; send minus due; how late the
 * hiccup meter's wake-ups were (the client's own stalls). */
static lat_hist_t service_ns, lag_ns, hiccup_ns;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: echo_client [options] <ip> <port> <nconns> <ntrans> <packet_size>\n"
            "  -b NAME          event backend (this build: %s)\n"
            "  -t               TLS\n"
            "  --json           print one JSON object instead of the coro++ lines\n"
            "  --no-shutdown    end every connection with !quit, never !shutdown\n"
            "  --idle SECONDS   open nconns connections, run the transactions (if\n"
            "                   ntrans and packet_size are given), keep the connections\n"
            "                   idle SECONDS, then ask the server's !bench\n"
            "  --conn-base N    number the connections N, N+1, ... in the payloads (one\n"
            "                   of several client processes; default 0)\n"
            "  --no-bench       send no !bench/!quit/!shutdown: close each connection\n"
            "                   when done (a server that knows only echo)\n"
            "  --barrier        connect everything, print \"ready\", start the transactions\n"
            "                   at a line \"go\" on stdin; exit when stdin closes\n"
            "  --rate N         open loop: N lines a second over all connections, each\n"
            "                   connection on a fixed schedule, latency from the due\n"
            "                   time (at most %g a second per connection)\n"
            "  nconns, ntrans >= 1; packet_size >= 3 (payload + CRLF)\n",
            coro_backends(), MAX_RATE_PER_CONN);
}

static void conn_error(const struct conn *c, const char *what)
{
    cl.errors++;
    if (cl.errors <= MAX_ERROR_REPORTS)
        fprintf(stderr, "echo_client: connection %lld: %s: %s\n", (long long)c->index, what,
                strerror(errno));
    else if (cl.errors == MAX_ERROR_REPORTS + 1)
        fprintf(stderr, "echo_client: more connections failed (counted, not shown)\n");
}

/* Connects c and wraps it in a stream. 0, or -1 with errno. */
static int conn_open(struct conn *c)
{
    c->s = demo_stream_connect(cl.host, cl.port, 0, cl.tls_ctx);
    return c->s ? 0 : -1;
}

static void conn_close(struct conn *c)
{
    coro_stream_close(c->s);
    c->s = NULL;
}

/* Ends a session politely: `!quit`, then close. */
static void conn_quit(struct conn *c)
{
    static const char quit[] = "!quit\r\n";
    coro_stream_write_all(c->s, quit, sizeof quit - 1);
    conn_close(c);
}

/* Every transaction's line is distinct from every other one of the run: the
 * first up to 8 payload bytes carry the transaction number and the next up
 * to 6 the connection id (--conn-base + index), 4 bits per letter A..P,
 * least significant first; the rest is a per-connection pattern. So a
 * server that hands one connection's reply to another, or replays an older
 * line, is caught by the compare whenever the payload has room for the
 * stamps (14 bytes: packet_size >= 16). Letters only: never CR, LF, or a
 * leading '!'. */
#define STAMP_TXN_BYTES 8
#define STAMP_CONN_BYTES 6
static void packet_init(struct conn *c)
{
    int64_t payload = cl.size - 2;
    uint64_t id = (uint64_t)(cl.conn_base + c->index);
    for (int64_t j = 0; j < payload; j++)
        c->packet[j] = (char)('a' + (id * 7 + (uint64_t)j) % 26);
    for (int64_t j = STAMP_TXN_BYTES; j < payload && j < STAMP_TXN_BYTES + STAMP_CONN_BYTES;
         j++, id >>= 4)
        c->packet[j] = (char)('A' + (id & 15));
    c->packet[payload] = '\r';
    c->packet[payload + 1] = '\n';
}

static inline void packet_stamp(char *packet, int64_t payload, uint64_t txn)
{
    int64_t k = payload < STAMP_TXN_BYTES ? payload : STAMP_TXN_BYTES;
    for (int64_t j = 0; j < k; j++, txn >>= 4)
        packet[j] = (char)('A' + (txn & 15));
}

/* The clock, kept out of line: inlined (LTO), its struct timespec and the
 * register holding its address would sit in run_transactions' frame. */
static __attribute__((noinline)) int64_t clock_ns(void)
{
    return coro_now_ns();
}

/* Sends transaction c->txn's line and reads its echo into c->rx (c->got
 * bytes). 0, or -1 with errno (EPROTO: the server closed). */
static inline int exchange(struct conn *c)
{
    packet_stamp(c->packet, cl.size - 2, (uint64_t)c->txn);
    if (coro_stream_write_all(c->s, c->packet, cl.size) < 0)
        return -1;
    for (c->got = 0; c->got < cl.size;) {
        int64_t n = coro_stream_read(c->s, c->rx + c->got, cl.size + RX_SLACK - c->got);
        if (n <= 0) {
            if (n == 0)
                errno = EPROTO;
            return -1;
        }
        c->got += n;
    }
    return 0;
}

/* Counts the echo just read and compares it. 0, or -1 with EPROTO when
 * the reply's length shows the connection out of step with the server. */
static inline int check_echo(struct conn *c)
{
    cl.transactions++;
    cl.bytes_moved += cl.size + c->got;
    if (c->got != cl.size || memcmp(c->rx, c->packet, (size_t)cl.size) != 0) {
        cl.mismatches++;
        if (c->got != cl.size) { /* out of step with the server: stop here */
            errno = EPROTO;
            return -1;
        }
    }
    return 0;
}

/* The transactions of one connection, closed loop. 0, or -1 with errno when
 * the connection failed (EPROTO: the server closed or over-answered). Not
 * inlined into worker(), so that worker's own state is not on the stack
 * while this waits (see struct conn). */
static __attribute__((noinline)) int run_transactions(struct conn *c)
{
    c->before_ns = clock_ns();
    for (c->txn = 0; c->txn < cl.ntrans; c->txn++) {
        if (exchange(c) < 0)
            return -1;
        int64_t after = clock_ns();
        lat_hist_record(&latency_ns, after - c->before_ns);
        c->before_ns = after;
        if (check_echo(c) < 0)
            return -1;
    }
    return 0;
}

/* The transactions of one connection on the --rate schedule (see the top
 * of this file). Line k is due at c->start_ns + k intervals, computed from
 * the start each time so that rounding does not drift. */
static __attribute__((noinline)) int run_open_loop(struct conn *c)
{
    c->before_ns = c->start_ns; /* the last reply, for the schedule's span */
    for (c->txn = 0; c->txn < cl.ntrans; c->txn++) {
        c->due_ns = c->start_ns + (int64_t)((double)c->txn * cl.interval_ns);
        if (clock_ns() < c->due_ns)
            coro_sleep_until_ns(c->due_ns);
        c->sent_ns = clock_ns();
        if (exchange(c) < 0)
            return -1;
        int64_t after = clock_ns();
        lat_hist_record(&latency_ns, after - c->due_ns);
        lat_hist_record(&service_ns, after - c->sent_ns);
        c->before_ns = after;
        lat_hist_record(&lag_ns, c->sent_ns - c->due_ns);
        if (check_echo(c) < 0)
            return -1;
    }
    return 0;
}

/* --rate: connection c's schedule starts now plus its phase (index/rate),
 * so the connections' lines are spread evenly over each interval instead
 * of falling due together. Runs the schedule and extends the run's span. */
static int run_scheduled(struct conn *c)
{
    c->start_ns = clock_ns() + (int64_t)((double)c->index * 1e9 / cl.rate);
    if (cl.sched_start_ns == 0 || c->start_ns < cl.sched_start_ns)
        cl.sched_start_ns = c->start_ns;
    int rc = run_open_loop(c);
    int64_t end = c->start_ns + (int64_t)((double)cl.ntrans * cl.interval_ns);
    if (c->before_ns > end)
        end = c->before_ns;
    if (end > cl.sched_end_ns)
        cl.sched_end_ns = end;
    return rc;
}

/* --rate: the hiccup meter (see the top of this file). Runs until every
 * connection is done. A wake-up late by L records L, then L minus one
 * tick, and so on down to 0 (HdrHistogram's expected-interval
 * correction), so the percentiles are shares of time, not of wake-ups. */
static void hiccup_meter(void *arg)
{
    (void)arg;
    int64_t due = clock_ns() + HICCUP_TICK_NS;
    while (cl.finished < cl.nconns) {
        coro_sleep_until_ns(due);
        int64_t late = clock_ns() - due;
        for (int64_t l = late; l > 0; l -= HICCUP_TICK_NS)
            lat_hist_record(&hiccup_ns, l);
        if (late <= 0)
            lat_hist_record(&hiccup_ns, 0);
        due += HICCUP_TICK_NS * (1 + (late > 0 ? late / HICCUP_TICK_NS : 0));
    }
}

/* Counts c as finished; the last one wakes the main coroutine. */
static void conn_finished(struct conn *c)
{
    if (++cl.finished < cl.nconns)
        return;
    cl.end_ns = coro_now_ns();
    cl.last = c->s ? c : NULL;
    coro_schedule(cl.main_coro, 0);
}

/* One connection: connect (connection 0 is already connected by main),
 * run the transactions, then quit, unless it is the last one. */
static void worker(void *arg)
{
    struct conn *c = arg;
    if (!c->s && conn_open(c) < 0) {
        conn_error(c, "connect");
        if (cl.barrier)
            start_barrier_arrive(false);
        conn_finished(c);
        return;
    }
    if (cl.barrier && start_barrier_arrive(true) < 0) {
        conn_error(c, "start barrier");
        conn_close(c);
        conn_finished(c);
        return;
    }
    if (cl.ntrans > 0) {
        c->packet = malloc((size_t)(cl.size + cl.size + RX_SLACK));
        if (!c->packet) {
            conn_error(c, "buffer");
            conn_close(c);
        } else {
            c->rx = c->packet + cl.size;
            packet_init(c);
            if ((cl.rate > 0 ? run_scheduled(c) : run_transactions(c)) < 0) {
                conn_error(c, "echo");
                conn_close(c);
            }
            free(c->packet);
            c->packet = c->rx = NULL;
        }
        /* In --idle mode the connection stays open for main to close. */
        if (c->s && cl.idle_ms < 0 && cl.no_bench)
            conn_close(c);
        else if (c->s && cl.idle_ms < 0 && cl.finished + 1 < cl.nconns)
            conn_quit(c);
    }
    conn_finished(c);
}

/* Asks `!bench` (or `!bench json`) on s and keeps the reply. Not inlined:
 * the main coroutine's frame stays small while it waits for the workers. */
static __attribute__((noinline)) int ask_bench(coro_stream_t *s)
{
    const char *req = cl.json ? "!bench json\r\n" : "!bench\r\n";
    const char *line;
    if (coro_stream_write_all(s, req, (int64_t)strlen(req)) < 0)
        return -1;
    int64_t n = coro_stream_read_line(s, &line, '\n');
    if (n <= 0) {
        if (n == 0)
            errno = EPROTO;
        return -1;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (cl.json && (n < 2 || line[0] != '{' || line[n - 1] != '}')) {
        errno = EPROTO; /* not the JSON object we asked for */
        return -1;
    }
    free(cl.server_bench);
    cl.server_bench = strndup(line, (size_t)n);
    return cl.server_bench ? 0 : -1;
}

/* Sends `!shutdown` (or `!quit` with --no-shutdown) on c and closes it.
 * After !shutdown, waits a little for the server to close its end, so the
 * server is gone (or going) when we exit. */
static void conn_last_words(struct conn *c)
{
    if (cl.no_shutdown) {
        conn_quit(c);
        return;
    }
    static const char req[] = "!shutdown\r\n";
    if (coro_stream_write_all(c->s, req, sizeof req - 1) == (int64_t)sizeof req - 1 &&
        coro_stream_shutdown(c->s) == 0 && coro_deadline_push(SHUTDOWN_WAIT_MS) == 0) {
        static char sink[256]; /* static: nobody reads it */
        while (coro_stream_read(c->s, sink, sizeof sink) > 0)
            ;
        coro_deadline_pop();
    }
    conn_close(c);
}

/* The end of a run: !bench and !shutdown on c, or on a fresh connection
 * when the last finisher could not do it. */
static void final_exchange(struct conn *c)
{
    struct conn spare = {.index = cl.nconns};
    if (!c) {
        c = &spare;
        if (conn_open(c) < 0) {
            conn_error(c, "connect for !bench");
            return;
        }
    }
    if (ask_bench(c->s) < 0) {
        conn_error(c, "!bench");
        conn_close(c);
        return;
    }
    conn_last_words(c);
}

static void idle_phase(void)
{
    coro_sleep_ms(cl.idle_ms);
    struct conn *bench_conn = NULL;
    for (int64_t i = 0; i < cl.nconns; i++)
        if (cl.conns[i].s) {
            bench_conn = &cl.conns[i];
            break;
        }
    cl.end_ns = coro_now_ns();
    /* Everyone else quits first, then the bench connection has the last
     * word, as in a normal run. The figures are taken before anyone quits. */
    if (bench_conn && ask_bench(bench_conn->s) < 0) {
        conn_error(bench_conn, "!bench");
        conn_close(bench_conn);
        bench_conn = NULL;
    }
    for (int64_t i = 0; i < cl.nconns; i++)
        if (cl.conns[i].s && &cl.conns[i] != bench_conn)
            conn_quit(&cl.conns[i]);
    if (bench_conn)
        conn_last_words(bench_conn);
    else if (!cl.server_bench)
        final_exchange(NULL);
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
    /* With a barrier, the measured interval starts at "go". */
    if (cl.barrier && start_barrier_start("echo_client", cl.nconns, &cl.start_ns) < 0)
        exit(1);
    if (cl.rate > 0 && !coro_spawn(hiccup_meter, NULL))
        fprintf(stderr, "echo_client: cannot start the hiccup meter: %s\n", strerror(errno));
    for (int64_t i = 0; i < cl.nconns; i++) {
        if (!coro_spawn(worker, &cl.conns[i])) {
            conn_error(&cl.conns[i], "spawn");
            if (cl.conns[i].s)
                conn_close(&cl.conns[i]);
            cl.finished++;
        }
    }
    if (cl.finished < cl.nconns)
        coro_yield(); /* until the last worker is done */
    if (cl.idle_ms >= 0)
        idle_phase();
    else if (!cl.no_bench)
        final_exchange(cl.last);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

/* The histogram's non-empty buckets, for merging the histograms of several
 * client processes exactly (docs/programs.md): each bucket as [the highest
 * value it holds, its count], in increasing order, so a reader needs no
 * knowledge of the bucket layout. */
static void print_hist_json(const char *name, const lat_hist_t *h)
{
    printf("\"%s\":{\"total\":%lld,\"min\":%lld,\"max\":%lld,\"buckets\":[", name,
           (long long)h->total, (long long)(h->total ? h->min : 0), (long long)h->max);
    const char *sep = "";
    for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
        if (h->counts[i] == 0)
            continue;
        printf("%s[%lld,%lld]", sep, (long long)lat_hist_bucket_high(i), (long long)h->counts[i]);
        sep = ",";
    }
    printf("]},");
}

/* --rate: lines a second actually sent and answered over the schedule's
 * span. */
static double achieved_rate(void)
{
    int64_t span = cl.sched_end_ns - cl.sched_start_ns;
    return span > 0 ? (double)cl.transactions * 1e9 / (double)span : 0.0;
}

static bool kept_schedule(void)
{
    return hiccup_ns.total > 0 && lat_hist_percentile(&hiccup_ns, 99) <= KEPT_SCHEDULE_P99_NS;
}

static void print_summary_json(const char *name, const lat_hist_t *h)
{
    printf("\"%s\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},", name,
           lat_hist_percentile(h, 50) / 1e3, lat_hist_percentile(h, 90) / 1e3,
           lat_hist_percentile(h, 99) / 1e3, lat_hist_percentile(h, 99.9) / 1e3, h->max / 1e3);
}

/* The --rate fields of the JSON object (docs/programs.md). */
static void print_rate_json(void)
{
    printf("\"rate\":{\"offered_per_s\":%.3f,\"achieved_per_s\":%.1f,\"interval_us\":%.3f,"
           "\"start_ns\":%lld,\"end_ns\":%lld,\"client_kept_schedule\":%s,"
           "\"kept_schedule_p99_us\":%.1f},",
           cl.rate, achieved_rate(), cl.interval_ns / 1e3, (long long)cl.sched_start_ns,
           (long long)cl.sched_end_ns, kept_schedule() ? "true" : "false",
           KEPT_SCHEDULE_P99_NS / 1e3);
    print_summary_json("service_us", &service_ns);
    print_summary_json("lag_us", &lag_ns);
    print_summary_json("client_hiccup_us", &hiccup_ns);
    print_hist_json("service_hist_ns", &service_ns);
    print_hist_json("lag_hist_ns", &lag_ns);
    print_hist_json("client_hiccup_hist_ns", &hiccup_ns);
}

/* --rate in text mode: three lines after the coro++ ones (the verdict goes to stderr). */
static void print_rate_text(void)
{
    printf("open loop: offered %.1f/s achieved %.1f/s; schedule lag p99 %.1f us max %.1f us; "
           "client hiccups p99 %.1f us max %.1f us\n",
           cl.rate, achieved_rate(), lat_hist_percentile(&lag_ns, 99) / 1e3, lag_ns.max / 1e3,
           lat_hist_percentile(&hiccup_ns, 99) / 1e3, hiccup_ns.max / 1e3);
    const lat_hist_t *hs[2] = {&latency_ns, &service_ns};
    const char *names[2] = {"latency from due time", "service time from send"};
    for (int i = 0; i < 2; i++)
        printf("%s: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f us\n", names[i],
               lat_hist_percentile(hs[i], 50) / 1e3, lat_hist_percentile(hs[i], 90) / 1e3,
               lat_hist_percentile(hs[i], 99) / 1e3, lat_hist_percentile(hs[i], 99.9) / 1e3,
               hs[i]->max / 1e3);
}

static void print_json(const coro_rusage_t *client, const coro_stats_t *st)
{
    char buf[1024];
    const char *server = cl.server_bench ? cl.server_bench : "null";
    if (cl.idle_ms >= 0) {
        printf("{\"conns\":%lld,\"idle_seconds\":%g,\"transactions\":%lld,\"mismatches\":%lld,"
               "\"errors\":%lld,\"server\":%s}\n",
               (long long)cl.nconns, (double)cl.idle_ms / 1000.0, (long long)cl.transactions,
               (long long)cl.mismatches, (long long)cl.errors, server);
        return;
    }
    int64_t wall_ns = cl.end_ns - cl.start_ns;
    double wall_s = (double)wall_ns / 1e9;
    coro_rusage_format_json(client, buf, sizeof buf);
    printf("{\"conns\":%lld,\"txns\":%lld,\"size\":%lld,\"transactions\":%lld,"
           "\"mismatches\":%lld,\"errors\":%lld,\"wall_us\":%lld,\"txn_per_s\":%.1f,"
           "\"bytes_moved\":%lld,",
           (long long)cl.nconns, (long long)cl.ntrans, (long long)cl.size,
           (long long)cl.transactions, (long long)cl.mismatches, (long long)cl.errors,
           (long long)(wall_ns / 1000), wall_s > 0 ? (double)cl.transactions / wall_s : 0.0,
           (long long)cl.bytes_moved);
    print_summary_json("latency_us", &latency_ns);
    print_hist_json("latency_hist_ns", &latency_ns);
    if (cl.rate > 0)
        print_rate_json();
    printf("\"start_ns\":%lld,\"end_ns\":%lld,\"conn_base\":%lld,",
           (long long)cl.start_ns, (long long)cl.end_ns, (long long)cl.conn_base);
    printf("\"client\":%s,\"server\":%s,\"read_block\":%lld,\"write_block\":%lld,"
           "\"backend\":\"%s\",\"tls\":%s}\n",
           buf, server, (long long)st->read_blocks, (long long)st->write_blocks,
           coro_backend_name(), cl.tls ? "true" : "false");
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                 */

/* A rate: a whole or decimal number of lines a second, > 0 and finite.
 * 0, or -1. */
static int parse_rate(const char *text, double *out)
{
    if (!text || !(isdigit((unsigned char)*text) || *text == '.'))
        return -1;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v) || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static int bad_arg(const char *what, const char *value)
{
    fprintf(stderr, "echo_client: %s: '%s'\n", what, value);
    usage(stderr);
    return 2;
}

/* --rate against the rest of the command line. 0, or -1 after saying why. */
static int check_rate(void)
{
    if (cl.idle_ms >= 0) {
        fprintf(stderr, "echo_client: --rate schedules transactions: it cannot go with --idle\n");
        return -1;
    }
    if (cl.barrier) {
        /* The schedule starts at each connection's connect, which a barrier
         * puts before "go": every line would be due before it could be sent. */
        fprintf(stderr, "echo_client: --rate cannot go with --barrier (its schedule starts at the connect)\n");
        return -1;
    }
    double per_conn = cl.rate / (double)cl.nconns;
    if (per_conn > MAX_RATE_PER_CONN) {
        fprintf(stderr,
                "echo_client: --rate %g over %lld connection(s) is %g lines a second per "
                "connection; the limit is %g (one line every %d us: the client's timer "
                "wake-up must stay a small part of each interval); use more connections\n",
                cl.rate, (long long)cl.nconns, per_conn, MAX_RATE_PER_CONN, MIN_INTERVAL_NS / 1000);
        return -1;
    }
    cl.interval_ns = 1e9 / per_conn;
    double schedule_s = (double)cl.ntrans * cl.interval_ns / 1e9;
    if (schedule_s > MAX_SCHEDULE_S) {
        fprintf(stderr,
                "echo_client: --rate %g with %lld transaction(s) per connection is a %.0f s "
                "schedule; at most %.0f s\n",
                cl.rate, (long long)cl.ntrans, schedule_s, MAX_SCHEDULE_S);
        return -1;
    }
    return 0;
}

/* Parses argv into cl. Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv)
{
    enum { OPT_JSON = 1000, OPT_NO_SHUTDOWN, OPT_IDLE, OPT_HELP, OPT_CONN_BASE, OPT_NO_BENCH,
           OPT_BARRIER, OPT_RATE };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"no-shutdown", no_argument, NULL, OPT_NO_SHUTDOWN},
        {"idle", required_argument, NULL, OPT_IDLE},
        {"conn-base", required_argument, NULL, OPT_CONN_BASE},
        {"no-bench", no_argument, NULL, OPT_NO_BENCH},
        {"barrier", no_argument, NULL, OPT_BARRIER},
        {"rate", required_argument, NULL, OPT_RATE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0; /* our messages, below */
    while ((opt = getopt_long(argc, argv, "b:th", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            cl.backend = optarg;
            break;
        case 't':
            cl.tls = true;
            break;
        case OPT_JSON:
            cl.json = true;
            break;
        case OPT_NO_SHUTDOWN:
            cl.no_shutdown = true;
            break;
        case OPT_IDLE:
            if (demo_parse_seconds_ms(optarg, 86400 * 1000LL, &cl.idle_ms) < 0)
                return bad_arg("--idle wants a number of seconds >= 0", optarg);
            break;
        case OPT_CONN_BASE:
            if (demo_parse_i64(optarg, 0, MAX_CONN_ID, &cl.conn_base) < 0)
                return bad_arg("--conn-base must be a number in 0..16777215", optarg);
            break;
        case OPT_NO_BENCH:
            cl.no_bench = true;
            break;
        case OPT_BARRIER:
            cl.barrier = true;
            break;
        case OPT_RATE:
            if (parse_rate(optarg, &cl.rate) < 0)
                return bad_arg("--rate wants a number of lines a second > 0", optarg);
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            /* getopt takes "-5" for an option: say what it really is. */
            if (opt == '?' && optopt >= '0' && optopt <= '9')
                fprintf(stderr, "echo_client: negative numbers are not allowed (%s)\n",
                        argv[optind - 1]);
            else if (opt == '?' && optopt)
                fprintf(stderr, "echo_client: unknown option or missing value: -%c\n", optopt);
            else
                fprintf(stderr, "echo_client: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    int npos = argc - optind;
    if (cl.no_bench && cl.idle_ms >= 0) {
        fprintf(stderr, "echo_client: --idle reports the server's !bench: it cannot go with --no-bench\n");
        return 2;
    }
    if (cl.barrier && cl.idle_ms >= 0) {
        fprintf(stderr, "echo_client: --barrier starts transactions: it cannot go with --idle\n");
        return 2;
    }
    if (!(npos == 5 || (cl.idle_ms >= 0 && npos == 3))) {
        fprintf(stderr, "echo_client: expected 5 arguments, got %d\n", npos);
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
    cl.ntrans = 0; /* --idle without ntrans/packet_size: no transactions */
    cl.size = 3;
    if (npos == 5) {
        if (demo_parse_i64(pos[3], 1, INT64_MAX / 2, &cl.ntrans) < 0)
            return bad_arg("ntrans must be a number >= 1", pos[3]);
        if (demo_parse_i64(pos[4], 3, MAX_PACKET, &cl.size) < 0)
            return bad_arg("packet_size must be a number in 3..268435456 (payload + CRLF)",
                           pos[4]);
    }
    if (cl.conn_base + cl.nconns - 1 > MAX_CONN_ID) {
        fprintf(stderr, "echo_client: --conn-base + nconns must stay below %d (the payload stamp)\n",
                MAX_CONN_ID + 1);
        return 2;
    }
    if (cl.rate > 0 && check_rate() < 0)
        return 2;
    if (demo_check_backend("echo_client", cl.backend) < 0 ||
        demo_check_address("echo_client", cl.host) < 0)
        return 2;
    return -1;
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc >= 0)
        return rc;

    demo_client_setup("echo_client", cl.nconns);
#ifdef __linux__
    /* The schedule's timers wake at their due time, not up to the default
     * 50 us of timer slack later (which would show as schedule lag). */
    if (cl.rate > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif

    coro_rusage_t started, ended, used;
    coro_rusage_now(&started);
    lat_hist_init(&latency_ns);
    lat_hist_init(&service_ns);
    lat_hist_init(&lag_ns);
    lat_hist_init(&hiccup_ns);
    cl.conns = calloc((size_t)cl.nconns, sizeof *cl.conns);
    if (!cl.conns) {
        fprintf(stderr, "echo_client: out of memory for %lld connections\n",
                (long long)cl.nconns);
        return 1;
    }
    for (int64_t i = 0; i < cl.nconns; i++)
        cl.conns[i].index = i;
    if (cl.tls && !(cl.tls_ctx = coro_tls_client_ctx())) {
        fprintf(stderr, "echo_client: TLS setup failed: %s\n", strerror(errno));
        return 1;
    }
    if (demo_runtime_init("echo_client", cl.backend) < 0)
        return 1;
    cl.main_coro = coro_spawn(main_coroutine, NULL);
    if (!cl.main_coro) {
        fprintf(stderr, "echo_client: cannot start: %s\n", strerror(errno));
        return 1;
    }
    int64_t stuck = demo_client_run("echo_client", cl.host, cl.port, &cl.fatal_errno);
    if (stuck < 0)
        return 2;

    coro_rusage_now(&ended);
    coro_rusage_diff(&started, &ended, &used);
    coro_stats_t st;
    coro_get_stats(&st);
    if (cl.json)
        print_json(&used, &st);
    else
        demo_print_bench_lines(cl.server_bench, &used, &st);
    if (cl.rate > 0 && !cl.json)
        print_rate_text();
    fflush(stdout);
    if (cl.rate > 0 && cl.transactions > 0 && !kept_schedule())
        fprintf(stderr,
                "echo_client: the client could not keep its schedule (its hiccups p99 "
                "%.1f us > %.1f us: it was descheduled or busy): the latencies are partly the "
                "client's, not the server's\n",
                lat_hist_percentile(&hiccup_ns, 99) / 1e3, KEPT_SCHEDULE_P99_NS / 1e3);
    if (cl.mismatches || cl.errors)
        fprintf(stderr, "echo_client: %lld mismatched transactions, %lld failed connections\n",
                (long long)cl.mismatches, (long long)cl.errors);
    coro_runtime_destroy();
    if (cl.tls_ctx)
        coro_tls_ctx_free(cl.tls_ctx);
    free(cl.server_bench);
    free(cl.conns);
    return (cl.mismatches || cl.errors || stuck != 0 || (!cl.server_bench && !cl.no_bench)) ? 1 : 0;
}
