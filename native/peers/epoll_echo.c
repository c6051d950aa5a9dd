/*
 * epoll_echo.c - the plain single-threaded epoll echo server: the near-limit
 * baseline that the coroutine echo_server is compared against.
 *
 * No coroutines and no framework: one epoll loop, non-blocking sockets and
 * a small struct per connection. It speaks the protocol of docs/programs.md
 * (CRLF lines echoed byte for byte, !quit, !shutdown, !bench, !bench json,
 * a 64 KiB line limit) and links libcoro only for the rusage formatting.
 *
 *   epoll_echo [-P PORT] [-a ADDR] [-R] [-T level|edge]
 *
 * How the bytes flow, and why:
 *  - One 64 KiB read buffer is shared by all connections. A read usually
 *    holds whole lines, and the echo of consecutive ordinary lines is the
 *    same bytes, so it is written straight from that buffer with a single
 *    write() per read: no copy at all on the common path.
 *  - Only a line split across reads is copied, into the connection's own
 *    `in` buffer, until its CRLF arrives.
 *  - Echoes are written at once; only what the socket did not take is kept
 *    in the connection's `out` buffer, and only then do we wait for
 *    EPOLLOUT. Above OUT_PAUSE_BYTES of unsent output we stop reading that
 *    connection, so a client that sends without reading cannot grow our
 *    memory without bound.
 *  - A session that ends on our side (!quit, an over-long line) is closed
 *    gracefully: flush, shutdown(SHUT_WR), discard input until the peer's
 *    FIN (at most DRAIN_MAX_BYTES), then close. Closing with unread input
 *    would make the kernel send a RST that can destroy the reply in flight.
 *  - Level-triggered by default. Measured here (100 conns x 1000 x 100 B,
 *    server and client pinned to one CPU each): both modes make exactly
 *    one read() and one write() per transaction and one epoll_wait() per
 *    ~75 transactions (strace -c: 100,102 reads, 100,002 writes, 1,310 vs
 *    1,340 waits), and their throughput and CPU per transaction were the
 *    same within this 2-CPU VM's noise (4.7-6 us/txn, nearly all kernel).
 *    Level mode needs no read-until-EAGAIN reasoning, so it is the default;
 *    -T edge (short-read rule, EPOLLOUT registered once) stays for
 *    comparison.
 *  - !shutdown from a peer that is not loopback (without -R) is answered
 *    with one "-ERR ..." line and the session goes on.
 *  - EMFILE/ENFILE on accept: the listener leaves the epoll set for
 *    ACCEPT_BACKOFF_MS, so the loop never spins on a listener it cannot
 *    serve; established sessions keep running meanwhile.
 */
#include <coro.h>

#include "../demos/lib/demo_workers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES    (64 * 1024)   /* longest line, CRLF included */
#define READ_BUF_BYTES    (64 * 1024)   /* the one shared read buffer */
#define KEEP_BUF_BYTES    4096          /* larger per-conn buffers are freed when empty */
#define OUT_PAUSE_BYTES   (1024 * 1024) /* stop reading above this much unsent output */
#define DRAIN_MAX_BYTES   (1024 * 1024) /* input discarded while closing, at most */
#define ACCEPT_BACKOFF_MS 100
#define MAX_EVENTS        512
#define LISTEN_BACKLOG    4096

static const char ERR_TOO_LONG[] = "-ERR line too long\r\n";
static const char ERR_REMOTE_SHUTDOWN[] = "-ERR !shutdown is accepted from loopback only\r\n";

struct conn {
    struct conn *prev, *next;    /* all open connections, for the exit */
    int fd;
    uint32_t events;             /* mask registered with epoll (level mode) */
    bool eof;                    /* the peer sent FIN: read nothing more */
    bool closing;                /* session over: flush, SHUT_WR, drain, close */
    bool wr_shut;                /* shutdown(SHUT_WR) done */
    bool paused;                 /* reading stopped: too much unsent output */
    bool dead;                   /* I/O error: close without flushing */
    char *in;                    /* partial line carried between reads */
    size_t in_len, in_cap;
    char *out;                   /* unsent output: [out_off, out_off + out_len) */
    size_t out_off, out_len, out_cap;
    size_t drained;              /* input discarded while closing */
};

static struct {
    int epfd, listen_fd;
    bool edge;                   /* -T edge */
    bool allow_remote_shutdown;  /* -R */
    bool stop;                   /* !shutdown received */
    int workers;                 /* -w N: worker processes (lib/demo_workers.h) */
    bool listen_paused;
    int64_t listen_resume_ns;
    coro_rusage_t start;         /* snapshot for !bench */
    struct conn *conns;          /* open connections (doubly linked) */
    char rbuf[READ_BUF_BYTES];
} srv;

/* The epoll data pointer of the listener; connections use their struct. */
static char listener_tag;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- per-connection buffers ------------------------------------------ */

/* Grows *buf to hold at least need bytes (doubling, from 256). 0 or -1. */
static int buf_reserve(char **buf, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 256;
    char *nbuf;

    if (need <= *cap)
        return 0;
    while (ncap < need)
        ncap *= 2;
    nbuf = realloc(*buf, ncap);
    if (nbuf == NULL)
        return -1;
    *buf = nbuf;
    *cap = ncap;
    return 0;
}

/* Drops an emptied buffer if it grew large, so that a connection that once
 * saw a big burst does not keep the memory while it idles. */
static void buf_trim(char **buf, size_t *cap)
{
    if (*cap > KEEP_BUF_BYTES) {
        free(*buf);
        *buf = NULL;
        *cap = 0;
    }
}

static void out_append(struct conn *c, const char *p, size_t n)
{
    if (c->out_off > 0 && c->out_off + c->out_len + n > c->out_cap) {
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    if (buf_reserve(&c->out, &c->out_cap, c->out_off + c->out_len + n) == -1) {
        fprintf(stderr, "epoll_echo: out of memory for fd %d\n", c->fd);
        c->dead = true;
        return;
    }
    memcpy(c->out + c->out_off + c->out_len, p, n);
    c->out_len += n;
}

/* Writes what the socket takes of the buffered output. */
static void out_flush(struct conn *c)
{
    while (c->out_len > 0 && !c->dead) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len);
        if (w > 0) {
            c->out_off += (size_t)w;
            c->out_len -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            return;
        } else {
            c->dead = true; /* EPIPE, ECONNRESET: the client is gone */
        }
    }
    if (c->out_len == 0) {
        c->out_off = 0;
        buf_trim(&c->out, &c->out_cap);
    }
}

/* Sends n bytes: written now if nothing is queued before them, the rest
 * (what the socket did not take) queued for EPOLLOUT. */
static void conn_send(struct conn *c, const char *p, size_t n)
{
    if (c->dead || n == 0)
        return;
    if (c->out_len == 0) {
        while (n > 0) {
            ssize_t w = write(c->fd, p, n);
            if (w > 0) {
                p += w;
                n -= (size_t)w;
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && errno == EAGAIN) {
                break;
            } else {
                c->dead = true;
                return;
            }
        }
        if (n == 0)
            return;
    }
    out_append(c, p, n);
}

/* ---- protocol ---------------------------------------------------------- */

/* Points just past the first CRLF in [p, end), or NULL. prev_cr says the
 * byte before p (in an earlier read) was '\r'. */
static const char *find_crlf_end(const char *p, const char *end, bool prev_cr)
{
    const char *start = p;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return NULL;
        if (nl > start ? nl[-1] == '\r' : prev_cr)
            return nl + 1;
        p = nl + 1;
    }
    return NULL;
}

static bool peer_is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

static void end_session(struct conn *c, const char *reply, size_t n);

static void send_bench(struct conn *c, bool json)
{
    static const char blocks[] = ",\"read_block\":0,\"write_block\":0}\r\n";
    coro_rusage_t now, d;
    char line[1024]; /* the longest JSON form, all values 20 digits, is < 600 */
    int n;

    if (srv.workers > 1) {
        /* The sum over all workers (lib/demo_workers.h), or nothing. */
        int64_t rb, wb, rss_total;
        if (demo_workers_bench(&d, &rb, &wb, &rss_total) < 0) {
            end_session(c, NULL, 0);
            return;
        }
        if (json) {
            n = coro_rusage_format_json(&d, line, sizeof line - 160);
            n += snprintf(line + n - 1, sizeof line - (size_t)n,
                          ",\"read_block\":0,\"write_block\":0,\"workers\":%d,\"maxrss_total_kib\":%lld}\r\n",
                          srv.workers, (long long)rss_total) - 1;
        } else {
            n = coro_rusage_format(&d, line, sizeof line - 2);
            memcpy(line + n, "\r\n", 2);
            n += 2;
        }
        conn_send(c, line, (size_t)n);
        return;
    }
    coro_rusage_now(&now);
    coro_rusage_diff(&srv.start, &now, &d);
    if (json) {
        /* The object without its closing brace, then the two peer keys. */
        n = coro_rusage_format_json(&d, line, sizeof line - sizeof blocks);
        memcpy(line + n - 1, blocks, sizeof blocks);
        n += (int)sizeof blocks - 2;
    } else {
        n = coro_rusage_format(&d, line, sizeof line - 2);
        memcpy(line + n, "\r\n", 2);
        n += 2;
    }
    conn_send(c, line, (size_t)n);
}

static void end_session(struct conn *c, const char *reply, size_t n)
{
    if (reply != NULL)
        conn_send(c, reply, n);
    c->closing = true;
}

enum command { CMD_NONE, CMD_QUIT, CMD_BENCH, CMD_BENCH_JSON, CMD_SHUTDOWN };

#define IS_LINE(line, len, lit) ((len) == sizeof(lit) - 1 && memcmp((line), (lit), (len)) == 0)

/* Which command a complete line (CRLF included) is; any other line, even
 * one starting with '!', is ordinary text to echo. */
static enum command classify(const char *line, size_t len)
{
    if (line[0] != '!')
        return CMD_NONE;
    if (IS_LINE(line, len, "!quit\r\n"))
        return CMD_QUIT;
    if (IS_LINE(line, len, "!bench\r\n"))
        return CMD_BENCH;
    if (IS_LINE(line, len, "!bench json\r\n"))
        return CMD_BENCH_JSON;
    if (IS_LINE(line, len, "!shutdown\r\n"))
        return CMD_SHUTDOWN;
    return CMD_NONE;
}

static void run_command(struct conn *c, enum command cmd)
{
    switch (cmd) {
    case CMD_QUIT:
        end_session(c, NULL, 0);
        break;
    case CMD_BENCH:
        send_bench(c, false);
        break;
    case CMD_BENCH_JSON:
        send_bench(c, true);
        break;
    case CMD_SHUTDOWN:
        if (srv.allow_remote_shutdown || peer_is_loopback(c->fd)) {
            srv.stop = true;
            demo_workers_stop_all(); /* the other workers, if any, stop too */
        }
        else
            conn_send(c, ERR_REMOTE_SHUTDOWN, sizeof ERR_REMOTE_SHUTDOWN - 1);
        break;
    case CMD_NONE:
        break;
    }
}

/* True once nothing more of the current input may be processed. */
static bool input_over(const struct conn *c)
{
    return c->closing || c->dead || srv.stop;
}

/* Stashes bytes of an unfinished line; ends the session past the limit. */
static void stash_partial(struct conn *c, const char *p, size_t n)
{
    if (c->in_len + n >= LINE_MAX_BYTES) {
        /* Even a CRLF as the very next bytes would exceed the limit. */
        c->in_len = 0;
        end_session(c, ERR_TOO_LONG, sizeof ERR_TOO_LONG - 1);
        return;
    }
    if (buf_reserve(&c->in, &c->in_cap, c->in_len + n) == -1) {
        fprintf(stderr, "epoll_echo: out of memory for fd %d\n", c->fd);
        c->dead = true;
        return;
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
}

/* Processes n bytes just read for c (p points into the shared buffer). */
static void conn_input(struct conn *c, const char *p, size_t n)
{
    const char *end = p + n, *line, *span, *next;
    enum command cmd;

    if (c->in_len > 0) {
        /* Finish the line begun in an earlier read, in c->in. */
        next = find_crlf_end(p, end, c->in[c->in_len - 1] == '\r');
        if (next == NULL) {
            stash_partial(c, p, n);
            return;
        }
        size_t head = (size_t)(next - p), total = c->in_len + head;
        if (total > LINE_MAX_BYTES) {
            c->in_len = 0;
            end_session(c, ERR_TOO_LONG, sizeof ERR_TOO_LONG - 1);
            return;
        }
        if (buf_reserve(&c->in, &c->in_cap, total) == -1) {
            fprintf(stderr, "epoll_echo: out of memory for fd %d\n", c->fd);
            c->dead = true;
            return;
        }
        memcpy(c->in + c->in_len, p, head);
        c->in_len = 0;
        cmd = classify(c->in, total);
        if (cmd == CMD_NONE)
            conn_send(c, c->in, total);
        else
            run_command(c, cmd);
        buf_trim(&c->in, &c->in_cap);
        if (input_over(c))
            return;
        p = next;
    }

    /* Consecutive ordinary lines are echoed as one span of the buffer:
     * one write() for the whole read on the common path. */
    span = line = p;
    while (line < end) {
        next = find_crlf_end(line, end, false);
        if (next == NULL)
            break;
        if ((size_t)(next - line) > LINE_MAX_BYTES) {
            conn_send(c, span, (size_t)(line - span));
            end_session(c, ERR_TOO_LONG, sizeof ERR_TOO_LONG - 1);
            return;
        }
        cmd = classify(line, (size_t)(next - line));
        if (cmd != CMD_NONE) {
            /* The echoes before the command go out before its reply. */
            conn_send(c, span, (size_t)(line - span));
            run_command(c, cmd);
            if (input_over(c))
                return;
            span = next;
        }
        line = next;
    }
    conn_send(c, span, (size_t)(line - span));
    if (line < end)
        stash_partial(c, line, (size_t)(end - line));
}

/* ---- connections --------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv.conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    close(c->fd); /* also removes it from the epoll set */
    free(c->in);
    free(c->out);
    free(c);
}

/* Level mode: keeps the registered mask equal to what the state needs. */
static void conn_update_interest(struct conn *c)
{
    uint32_t want = 0;
    struct epoll_event ev;

    if (srv.edge)
        return; /* registered once for both directions */
    if (!c->eof && !c->paused)
        want |= EPOLLIN;
    if (c->out_len > 0)
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(srv.epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
        c->dead = true;
    else
        c->events = want;
}

/* Reads what is there. In level mode one read per readiness event is
 * enough (epoll reports the fd again if more is waiting). In edge mode we
 * read until a short read, which means the socket was drained, except when
 * the event also reported the peer's FIN (hup): then until EOF, because
 * no later edge would tell us about it. */
static void conn_read(struct conn *c, bool hup)
{
    while (!c->dead && !c->eof && !c->paused && !srv.stop) {
        ssize_t n = read(c->fd, srv.rbuf, sizeof srv.rbuf);
        if (n > 0) {
            if (c->closing) {
                c->drained += (size_t)n;
                if (c->drained > DRAIN_MAX_BYTES)
                    c->dead = true; /* enough politeness */
            } else {
                conn_input(c, srv.rbuf, (size_t)n);
                if (c->out_len > OUT_PAUSE_BYTES)
                    c->paused = true;
            }
            if (!srv.edge || ((size_t)n < sizeof srv.rbuf && !hup))
                return;
        } else if (n == 0) {
            c->eof = true; /* an unfinished line is dropped with the session */
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) {
            return;
        } else {
            c->dead = true; /* ECONNRESET and friends */
        }
    }
}

/* Runs one readiness event of a connection, then closes it if it is done. */
static void conn_event(struct conn *c, uint32_t events)
{
    if (events & EPOLLERR)
        c->dead = true;
    if (!c->dead && (events & EPOLLOUT) && c->out_len > 0) {
        out_flush(c);
        if (c->paused && c->out_len <= OUT_PAUSE_BYTES / 2) {
            c->paused = false;
            if (srv.edge)
                events |= EPOLLIN; /* no new edge will come for data already there */
        }
    }
    if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)))
        conn_read(c, (events & (EPOLLHUP | EPOLLRDHUP)) != 0);

    if (!c->dead && c->closing && !c->wr_shut && c->out_len == 0) {
        if (shutdown(c->fd, SHUT_WR) == -1)
            c->dead = true;
        c->wr_shut = true;
    }
    if (c->dead || (c->eof && c->out_len == 0)) {
        conn_close(c);
        return;
    }
    conn_update_interest(c);
    if (c->dead)
        conn_close(c);
}

static void conn_open(int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    struct epoll_event ev;
    int one = 1;

    if (c == NULL) {
        fprintf(stderr, "epoll_echo: out of memory, dropping a connection\n");
        close(fd);
        return;
    }
    c->fd = fd;
    c->next = srv.conns;
    if (c->next != NULL)
        c->next->prev = c;
    srv.conns = c;
    /* Echo replies are small and must leave at once. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->events = srv.edge ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) : EPOLLIN;
    ev.events = c->events;
    ev.data.ptr = c;
    if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
        perror("epoll_echo: epoll_ctl(ADD)");
        conn_close(c);
    }
}

/* ---- listener ------------------------------------------------------------ */

static void listener_watch(bool on)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener_tag};

    if (epoll_ctl(srv.epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, srv.listen_fd, &ev) == -1) {
        perror("epoll_echo: epoll_ctl(listener)");
        exit(1);
    }
    srv.listen_paused = !on;
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(fd);
            continue;
        }
        switch (errno) {
        case EAGAIN:
            return;
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            /* Out of descriptors or memory: the pending connection stays in
             * the backlog; stop watching the listener for a while instead of
             * being woken for it again at once. */
            fprintf(stderr, "epoll_echo: accept: %s; pausing accepts for %d ms\n",
                    strerror(errno), ACCEPT_BACKOFF_MS);
            listener_watch(false);
            srv.listen_resume_ns = now_ns() + (int64_t)ACCEPT_BACKOFF_MS * 1000000;
            return;
        default:
            perror("epoll_echo: accept");
            return;
        }
    }
}

static int listen_on(const char *host, int port)
{
    struct addrinfo hints = {0}, *res, *ai;
    char port_str[16];
    int fd = -1, one = 1, rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port_str, sizeof port_str, "%d", port);
    rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "epoll_echo: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd == -1)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        fprintf(stderr, "epoll_echo: cannot listen on %s:%d: %s\n", host, port,
                strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-P PORT] [-a ADDR] [-R] [-T level|edge] [-w N]\n"
            "  -P PORT   TCP port, 0 for an ephemeral one (default 9001)\n"
            "  -a ADDR   address to bind (default 127.0.0.1)\n"
            "  -R        accept !shutdown from any peer, not only loopback\n"
            "  -T MODE   epoll mode: level (default) or edge\n"
            "  -w N      N worker processes on the port (SO_REUSEPORT), each its own\n"
            "            loop; !bench sums them (default 1)\n",
            argv0);
    exit(2);
}

/* Raises the soft descriptor limit to the hard one, so that thousands of
 * connections work without the caller's help. Failure is not an error. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static struct epoll_event events[MAX_EVENTS];
    const char *host = "127.0.0.1";
    int port = 9001, ch, i;
    char *endp;
    long v;

    srv.workers = 1;
    while ((ch = getopt(argc, argv, "P:a:RT:w:h")) != -1) {
        switch (ch) {
        case 'P':
            errno = 0;
            v = strtol(optarg, &endp, 10);
            if (errno || endp == optarg || *endp != '\0' || v < 0 || v > 65535) {
                fprintf(stderr, "%s: bad port '%s'\n", argv[0], optarg);
                usage(argv[0]);
            }
            port = (int)v;
            break;
        case 'a':
            host = optarg;
            break;
        case 'w':
            errno = 0;
            v = strtol(optarg, &endp, 10);
            if (errno || endp == optarg || *endp != '\0' || v < 1 || v > DEMO_WORKERS_MAX) {
                fprintf(stderr, "%s: -w wants a number of workers 1..%d, not '%s'\n", argv[0],
                        DEMO_WORKERS_MAX, optarg);
                usage(argv[0]);
            }
            srv.workers = (int)v;
            break;
        case 'R':
            srv.allow_remote_shutdown = true;
            break;
        case 'T':
            if (strcmp(optarg, "edge") == 0)
                srv.edge = true;
            else if (strcmp(optarg, "level") == 0)
                srv.edge = false;
            else
                usage(argv[0]);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    int worker = 0;
    if (srv.workers > 1) {
        int fds[DEMO_WORKERS_MAX];
        if (demo_workers_listen("epoll_echo", host, port, LISTEN_BACKLOG, srv.workers, fds) < 0)
            return 1;
        worker = demo_workers_fork("epoll_echo", srv.workers, fds);
        if (worker < 0)
            return -1 - worker; /* the parent, once every worker has exited */
        srv.listen_fd = fds[worker];
        demo_workers_start(NULL);
    } else {
        srv.listen_fd = listen_on(host, port);
    }
    if (srv.listen_fd == -1)
        return 1;
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv.epfd == -1) {
        perror("epoll_echo: epoll_create1");
        return 1;
    }
    listener_watch(true);

    coro_rusage_now(&srv.start);
    if (worker == 0) {
        printf("echo_server starting on port %d\n", socket_port(srv.listen_fd));
        fflush(stdout);
    }

    while (!srv.stop) {
        int timeout_ms = -1, n;

        if (srv.listen_paused) {
            int64_t left_ns = srv.listen_resume_ns - now_ns();
            if (left_ns <= 0) {
                listener_watch(true);
            } else {
                timeout_ms = (int)((left_ns + 999999) / 1000000);
            }
        }
        n = epoll_wait(srv.epfd, events, MAX_EVENTS, timeout_ms);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            perror("epoll_echo: epoll_wait");
            return 1;
        }
        for (i = 0; i < n && !srv.stop; i++) {
            if (events[i].data.ptr == &listener_tag)
                accept_all();
            else
                conn_event(events[i].data.ptr, events[i].events);
        }
    }
    /* !shutdown: hand what is still queued to the kernel (best effort, the
     * sockets are non-blocking) and close every session. */
    while (srv.conns != NULL) {
        out_flush(srv.conns);
        conn_close(srv.conns);
    }
    close(srv.listen_fd);
    close(srv.epfd);
    return 0;
}
