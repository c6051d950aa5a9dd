/* test_tls_fork: TLS in worker processes forked from a parent that already
 * made its TLS contexts (and so initialised the TLS library: s2n_init for
 * s2n-tls, which must not run twice in a process), as a pre-forking server
 * would do:
 *   - two children use the inherited contexts for a full session each (a
 *     handshake, a line each way, close_notify), concurrently;
 *   - a third child makes new contexts of its own first;
 *   - the parent, after its children exited, still has working contexts.
 * Each session runs server and client coroutines in one process over
 * loopback TCP. The certificate is the build's tls/cert.pem. */
#include "coro.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define DEADLINE_MS 10000

/* Static storage, never the coroutines' stacks. */
static struct {
    coro_tls_ctx_t *server_ctx, *client_ctx;
    int listen_fd, port;
    int server_ok, client_ok;
    char line[64];
} T;

static void server_fn(void *arg)
{
    (void)arg;
    coro_deadline_push(DEADLINE_MS);
    int fd = coro_accept(T.listen_fd);
    coro_stream_t *s = fd >= 0 ? coro_stream_open_tls(fd, 0, T.server_ctx, 1) : NULL;
    if (!s) {
        CHECK(0, "pid %d: server handshake: errno %d", (int)getpid(), errno);
        return;
    }
    const char *l;
    int64_t n = coro_stream_read_line(s, &l, '\n');
    if (n > 0 && coro_stream_write_all(s, l, n) == n && coro_stream_shutdown(s) == 0)
        T.server_ok = 1;
    coro_stream_close(s);
}

static void client_fn(void *arg)
{
    (void)arg;
    coro_deadline_push(DEADLINE_MS);
    int fd = coro_tcp_connect("127.0.0.1", T.port);
    coro_stream_t *s = fd >= 0 ? coro_stream_open_tls(fd, 0, T.client_ctx, 0) : NULL;
    if (!s) {
        CHECK(0, "pid %d: client handshake: errno %d", (int)getpid(), errno);
        return;
    }
    int64_t len = (int64_t)strlen(T.line);
    const char *l;
    if (coro_stream_write_all(s, T.line, len) == len && coro_stream_read_line(s, &l, '\n') == len &&
        memcmp(l, T.line, (size_t)len) == 0 && coro_stream_read_line(s, &l, '\n') == 0)
        T.client_ok = 1;
    coro_stream_close(s);
}

/* One session in this process. 0 when both sides completed it. */
static int one_session(const char *who)
{
    T.server_ok = T.client_ok = 0;
    snprintf(T.line, sizeof T.line, "hello from %s, pid %d\n", who, (int)getpid());
    if (coro_runtime_init(0, NULL) < 0) {
        CHECK(0, "%s: runtime init: errno %d", who, errno);
        return -1;
    }
    T.listen_fd = coro_tcp_listen("127.0.0.1", 0, 4);
    T.port = coro_socket_port(T.listen_fd);
    coro_spawn(server_fn, NULL);
    coro_spawn(client_fn, NULL);
    coro_run();
    coro_close(T.listen_fd);
    coro_runtime_destroy();
    CHECK(T.server_ok && T.client_ok, "%s: session: server %d client %d", who, T.server_ok, T.client_ok);
    return T.server_ok && T.client_ok ? 0 : -1;
}

static int make_contexts(const char *cert, const char *key)
{
    T.server_ctx = coro_tls_server_ctx(cert, key);
    T.client_ctx = coro_tls_client_ctx();
    return T.server_ctx && T.client_ctx ? 0 : -1;
}

int main(void)
{
    char exe[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "FAIL: readlink /proc/self/exe\n");
        return 1;
    }
    exe[n] = '\0';
    char *dir = dirname(exe);
    snprintf(cert, sizeof cert, "%s/../tls/cert.pem", dir);
    snprintf(key, sizeof key, "%s/../tls/key.pem", dir);
    OK("TLS library: %s\n", coro_tls_library());
    if (make_contexts(cert, key) < 0) {
        fprintf(stderr, "FAIL: cannot create TLS contexts from %s\n", cert);
        return 1;
    }

    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        fflush(NULL);
        kids[i] = fork();
        if (kids[i] == 0) {
            if (i == 2) {
                /* New contexts in the child: no second library init. */
                coro_tls_ctx_free(T.server_ctx);
                coro_tls_ctx_free(T.client_ctx);
                if (make_contexts(cert, key) < 0) {
                    fprintf(stderr, "FAIL: child %d: cannot create TLS contexts: errno %d\n", i, errno);
                    _exit(1);
                }
            }
            char who[32];
            snprintf(who, sizeof who, "child %d", i);
            _exit(one_session(who) == 0 && check_failures == 0 ? 0 : 1);
        }
        CHECK(kids[i] > 0, "fork: errno %d", errno);
    }
    const char *what[] = {"inherited contexts", "inherited contexts", "its own contexts"};
    for (int i = 0; i < 3; i++) {
        int status = 0;
        if (kids[i] <= 0)
            continue;
        CHECK(waitpid(kids[i], &status, 0) == kids[i], "waitpid");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d (%s): status 0x%x", i,
              what[i], status);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            OK("forked child %d: a TLS session with %s\n", i, what[i]);
    }
    if (one_session("the parent after fork") == 0)
        OK("parent: a TLS session after its children\n");
    coro_tls_ctx_free(T.server_ctx);
    coro_tls_ctx_free(T.client_ctx);
    return check_finish("test_tls_fork");
}
