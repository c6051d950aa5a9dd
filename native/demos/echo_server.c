/*
 * echo_server - the coro++ echo server on the stack-copying core.
 *
 *   echo_server [-k | -s | -p | -e | -b NAME] [-P PORT] [-a ADDR] [-w N]
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
 *    plain blocking-style code (lib/echo_session.c, which the fuzz target
 *    fuzz_echo_session runs too; how it keeps a waiting session small and a
 *    transaction at one read and one write is said there). A signalfd
 *    coroutine turns SIGINT/SIGTERM into the same clean stop as `!shutdown`.
 */
#include <coro.h>

#include "lib/demo_args.h"
#include "lib/demo_proc.h"
#include "lib/demo_workers.h"
#include "lib/echo_session.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define DEFAULT_PORT 9001
#define DEFAULT_MAX_LINE (64 * 1024)
#define LISTEN_BACKLOG 4096
/* Back-off when accept fails for lack of fds (EMFILE/ENFILE): long enough
 * not to spin, short enough that a freed fd is reused quickly. */
#define ACCEPT_BACKOFF_MS 20
#define THING_PERIOD_MS 5000

/* Server-wide state. It lives in static storage, never on a coroutine's
 * stack, because every coroutine reads it (see coro.h on pointers into a
 * suspended coroutine's stack). */
static struct {
    int listen_fd;
    bool verbose;
    bool stopping;
    echo_session_config_t session; /* what every session is told */
} server = {.listen_fd = -1};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: echo_server [-k | -s | -p | -e | -b NAME] [-P PORT] [-a ADDR] [-w N]\n"
            "                   [-t [-c CERT] [-K KEY]] [-R] [-T] [-L BYTES] [-v]\n"
            "       echo_server --list-backends\n"
            "  -k/-s/-p/-e   backend kqueue/select/poll/epoll; -b NAME any backend\n"
            "                (default: the fastest of this build: %s)\n"
            "  -P PORT       TCP port, 0 for an ephemeral one (default %d)\n"
            "  -a ADDR       address to bind (default 127.0.0.1)\n"
            "  -w N          N worker processes on the port (SO_REUSEPORT), each with\n"
            "                its own runtime; !bench sums them (default 1)\n"
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
    demo_workers_stop_all(); /* the other workers, if any, stop too */
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
/* Accepting                                                                 */

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
        if (!coro_spawn(echo_session, (void *)(intptr_t)fd)) {
            fprintf(stderr, "echo_server: cannot start a session: %s\n", strerror(errno));
            coro_close(fd);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */

/* This worker's blocking counters, for the sum !bench reports over workers. */
static void worker_blocks(int64_t *read_blocks, int64_t *write_blocks)
{
    coro_stats_t st;
    if (coro_get_stats(&st) == 0) {
        *read_blocks = st.read_blocks;
        *write_blocks = st.write_blocks;
    }
}

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
    int64_t port = DEFAULT_PORT, max_line = DEFAULT_MAX_LINE, workers = 1;
    int worker = 0; /* this process's index among the workers */
    bool tls = false, thing = false;

    enum { OPT_LIST_BACKENDS = 1000, OPT_HELP };
    static const struct option longopts[] = {
        {"list-backends", no_argument, NULL, OPT_LIST_BACKENDS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "kspeb:P:a:w:tc:K:RTL:vXh", longopts, NULL)) != -1) {
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
        case 'w':
            if (demo_parse_i64(optarg, 1, DEMO_WORKERS_MAX, &workers) < 0) {
                fprintf(stderr, "echo_server: -w wants a number of workers 1..%d, not '%s'\n",
                        DEMO_WORKERS_MAX, optarg);
                return 2;
            }
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
            server.session.allow_remote_shutdown = true;
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
            server.session.test_hooks = true;
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
    if (demo_check_backend("echo_server", backend) < 0)
        return 2;
    server.session.max_line = max_line;
    server.session.stop = server_stop;

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
        server.session.tls = coro_tls_server_ctx(cert, key);
        if (!server.session.tls) {
            fprintf(stderr, "echo_server: TLS setup failed (%s, %s): %s\n", cert, key,
                    strerror(errno));
            return 1;
        }
    }

    /* Several workers: the sockets first, then one process per worker, and
     * each worker makes its own runtime (nothing is shared after the fork). */
    if (workers > 1) {
        int fds[DEMO_WORKERS_MAX];
        if (demo_workers_listen("echo_server", addr, (int)port, LISTEN_BACKLOG, (int)workers, fds) < 0)
            return 1;
        worker = demo_workers_fork("echo_server", (int)workers, fds);
        if (worker < 0)
            return -1 - worker; /* the parent, once every worker has exited */
        server.listen_fd = fds[worker];
        demo_workers_start(worker_blocks);
        server.session.bench = demo_workers_bench;
        server.session.workers = (int)workers;
    }

    if (demo_runtime_init("echo_server", backend) < 0)
        return 1;
    coro_rusage_now(&server.session.started);
    echo_session_configure(&server.session);
    if (worker == 0) {
        printf("using %s()\n", coro_backend_name());
        printf("stack base: %p\n", coro_stack_base());
    }

    if (workers > 1) {
        coro_fd_setup(server.listen_fd);
    } else {
        server.listen_fd = coro_tcp_listen(addr, (int)port, LISTEN_BACKLOG);
        if (server.listen_fd < 0) {
            fprintf(stderr, "echo_server: cannot listen on %s:%lld: %s\n", addr, (long long)port,
                    strerror(errno));
            return 1;
        }
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
    /* One ready line: every worker's socket was listening before the fork. */
    if (worker == 0)
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
    echo_session_close_all();
    coro_runtime_destroy();
    if (server.session.tls)
        coro_tls_ctx_free(server.session.tls);
    close(sfd);
    return left < 0 ? 1 : 0;
}
