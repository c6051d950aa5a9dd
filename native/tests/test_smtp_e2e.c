/*
 * test_smtp_e2e.c - smtp_server and smtp_client as processes, end to end.
 *
 * Runs the two programs found beside the test folder
 * (dirname(/proc/self/exe)/../smtp_server and ../smtp_client):
 *
 *  1. starts `smtp_server -P 0 -d SPOOL -m 100000 -T 1` and reads its ready
 *     line;
 *     plants a symlink under the name the server's first spool file would
 *     get, pointing outside the spool;
 *  2. talks raw SMTP on a socket: a 100 KB line without a newline (500, the
 *     session goes on), a 6000-byte message (552 after the "."), binary
 *     junk (500), a 160 KB message (552 after the "."; its partly written
 *     spool file removed), a pipelined group (replies in order);
 *     and keeps one session silent (421 after 1 s, then closed);
 *  3. runs `smtp_client --json 127.0.0.1 PORT 10 20 1000` and checks its
 *     exit status 0, "messages":200 and "errors":0, and the server's BENCH
 *     figures inside it;
 *  4. waits for the server to exit 0 after the client's SHUTDOWN, with
 *     `messages: 201` (200 + the pipelined one of step 2);
 *  5. checks the spool: exactly 201 .eml files, no .tmp left, 200 of them
 *     byte for byte the client's message after unstuffing, the symlink not
 *     followed (its target was never created).
 *
 * Every wait is bounded (alarm); children are killed on failure. Exits 0
 * with "skip" when the programs are not built (a tests-only build).
 */
#include "../demos/lib/demo_proc.h"
#include "../demos/lib/smtp_body.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define CONNS       10
#define MESSAGES    20
#define BODY_BYTES  1000
#define MAX_MESSAGE 100000 /* -m: > one 64 KiB spool chunk, so a rejected message has a file to remove */
#define WATCHDOG_S  60

static pid_t server_pid = -1;
static char spool[PATH_MAX];

static void die(const char *what)
{
    fprintf(stderr, "FAIL: %s: %s\n", what, strerror(errno));
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: watchdog: the test took too long\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    _exit(1);
}

/* Starts argv[0] with stdout on a pipe; returns the pid, *out_fd the pipe. */
static pid_t spawn(char *const argv[], int *out_fd)
{
    int p[2];
    if (pipe(p) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

/* Reads fd to EOF into a malloc'ed string. */
static char *slurp(int fd)
{
    size_t len = 0, cap = 4096;
    char *s = malloc(cap);
    if (!s)
        die("malloc");
    for (;;) {
        if (len + 1024 > cap && !(s = realloc(s, cap *= 2)))
            die("realloc");
        ssize_t n = read(fd, s + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    s[len] = '\0';
    return s;
}

/* Reads one line (up to LF) from fd byte by byte (the ready line). */
static int read_line_fd(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (int)n;
}

/* ---- raw SMTP ----------------------------------------------------------- */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect to smtp_server");
    return fd;
}

static void raw_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write to smtp_server");
        p += w;
        n -= (size_t)w;
    }
}

/* Reads replies until `want` bytes of reply text arrived (or EOF), and
 * compares with want. */
static void expect_replies(int fd, const char *what, const char *want)
{
    size_t wl = strlen(want), got = 0;
    char buf[4096];
    while (got < wl && got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, wl - got < sizeof buf - 1 - got ? wl - got
                                                                         : sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    CHECK(got == wl && memcmp(buf, want, wl) == 0, "%s: want [%s] got [%s]", what, want, buf);
}

static void raw_session(int port)
{
    int fd = raw_connect(port);
    char greeting[256];
    CHECK(read_line_fd(fd, greeting, sizeof greeting) > 4 && memcmp(greeting, "220 ", 4) == 0,
          "greeting %s", greeting);

    /* 100 KB without a newline, then the newline: one 500, still served. */
    char *big = malloc(100 * 1024);
    if (!big)
        die("malloc");
    memset(big, 'x', 100 * 1024);
    raw_send(fd, big, 100 * 1024);
    raw_send(fd, "\r\nNOOP\r\n", 8);
    expect_replies(fd, "over-long line", "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n");

    /* Binary junk with NULs and a bare CR. */
    raw_send(fd, "\x01\x02\0\xff\r\r\n", 7);
    expect_replies(fd, "junk", "500 5.5.2 Command unrecognized\r\n");

    /* A message over -m: drained to its ".", then 552; the spool file
     * begun for its first 64 KiB is removed (checked in check_spool). */
    const char env[] = "EHLO e2e.test\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
    raw_send(fd, env, sizeof env - 1);
    expect_replies(fd, "envelope", "250-");
    char line[512];
    while (read_line_fd(fd, line, sizeof line) > 0 && strncmp(line, "354", 3) != 0)
        ;
    CHECK(strncmp(line, "354", 3) == 0, "DATA: %s", line);
    char dots[100]; /* a stuffed line of 99 dots: 98 after unstuffing, + CRLF */
    memset(dots, '.', sizeof dots);
    memcpy(dots + 98, "\r\n", 2);
    for (int i = 0; i < 1600; i++) /* 1600 x 100 bytes > MAX_MESSAGE */
        raw_send(fd, dots, sizeof dots);
    raw_send(fd, ".\r\nRSET\r\n", 9);
    expect_replies(fd, "too big",
                   "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n");

    /* One pipelined message, accepted. */
    const char group[] = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
    raw_send(fd, group, sizeof group - 1);
    char *rest = slurp(fd);
    CHECK(strncmp(rest, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n501 5.5.4 Syntax: RCPT TO:<address>\r\n"
                        "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ",
                  strlen("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n501 5.5.4 Syntax: RCPT TO:<address>\r\n"
                         "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ")) ==
              0 &&
              strstr(rest, "\r\n221 2.0.0 Bye\r\n") != NULL,
          "pipelined: [%s]", rest);
    free(rest);
    free(big);
    close(fd);
    OK("raw session: over-long line 500, junk 500, oversized message 552, pipelined "
       "group in order, QUIT 221\n");
}

/* A session that says nothing gets 421 after -T (1 s) and is closed. */
static void idle_session(int port)
{
    int fd = raw_connect(port);
    char line[256];
    CHECK(read_line_fd(fd, line, sizeof line) > 4 && memcmp(line, "220 ", 4) == 0, "greeting %s",
          line);
    CHECK(read_line_fd(fd, line, sizeof line) > 4 && memcmp(line, "421 4.4.2 ", 10) == 0 &&
              strstr(line, "Idle timeout"),
          "idle: %s", line);
    CHECK(read_line_fd(fd, line, sizeof line) < 0, "no EOF after 421: %s", line);
    close(fd);
    OK("an idle session gets 421 after -T 1 and is closed\n");
}

/* ---- spool -------------------------------------------------------------- */

static void check_spool(const char *outside)
{
    smtp_body_t body;
    if (smtp_body_make(&body, BODY_BYTES) < 0)
        die("smtp_body_make");
    DIR *d = opendir(spool);
    if (!d)
        die("opendir spool");
    int eml = 0, tmp = 0, same = 0, other = 0;
    struct dirent *e;
    char *buf = malloc(MAX_MESSAGE + 1);
    if (!buf)
        die("malloc");
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                continue; /* the planted symlink */
            tmp++;
        }
        if (n <= 4 || strcmp(e->d_name + n - 4, ".eml") != 0)
            continue;
        eml++;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY);
        if (fd < 0)
            die("open spool file");
        ssize_t len = read(fd, buf, MAX_MESSAGE + 1);
        close(fd);
        if (len == body.plain_len && memcmp(buf, body.plain, (size_t)len) == 0)
            same++;
        else if (len == 4 && memcmp(buf, "hi\r\n", 4) == 0)
            other++;
        else
            CHECK(0, "%s: unexpected content (%zd bytes)", e->d_name, len);
    }
    closedir(d);
    CHECK(eml == CONNS * MESSAGES + 1, "%d .eml files", eml);
    CHECK(same == CONNS * MESSAGES && other == 1, "%d client messages, %d raw", same, other);
    CHECK(tmp == 0, "%d .tmp files left", tmp);
    struct stat st;
    CHECK(stat(outside, &st) < 0 && errno == ENOENT, "the symlink's target %s was written",
          outside);
    OK("spool: %d .eml files, %d equal to the client's message after unstuffing, no "
       ".tmp left, planted symlink not followed\n",
       eml, same);
    free(buf);
    smtp_body_free(&body);
}

int main(void)
{
    char server[PATH_MAX + 32], client[PATH_MAX + 32];
    if (demo_exe_relative("../smtp_server", server, sizeof server) < 0 ||
        demo_exe_relative("../smtp_client", client, sizeof client) < 0)
        die("cannot find this executable's folder");
    if (access(server, X_OK) < 0 || access(client, X_OK) < 0) {
        printf("skip: %s or %s not built\n", server, client);
        return 0;
    }
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm(WATCHDOG_S);

    snprintf(spool, sizeof spool, "/tmp/test_smtp_e2e.XXXXXX");
    if (!mkdtemp(spool))
        die("mkdtemp");
    char outside[PATH_MAX + 16];
    snprintf(outside, sizeof outside, "%s.outside", spool);

    char max_arg[32];
    snprintf(max_arg, sizeof max_arg, "%d", MAX_MESSAGE);
    char *sargv[] = {server, "-P", "0", "-d", spool, "-m", max_arg, "-T", "1", NULL};
    int sout;
    server_pid = spawn(sargv, &sout);
    char ready[256];
    int port = 0;
    if (read_line_fd(sout, ready, sizeof ready) < 0 ||
        sscanf(ready, "smtp_server starting on port %d", &port) != 1 || port <= 0) {
        fprintf(stderr, "FAIL: no ready line from smtp_server: [%s]\n", ready);
        kill(server_pid, SIGKILL);
        return 1;
    }
    /* The server's first spool file would be 1-<pid>.tmp: make it a
     * symlink out of the spool. The server must skip it, not follow it. */
    char planted[PATH_MAX + 64];
    snprintf(planted, sizeof planted, "%s/1-%ld.tmp", spool, (long)server_pid);
    if (symlink(outside, planted) < 0)
        die("symlink");
    OK("smtp_server ready on port %d (spool %s)\n", port, spool);

    raw_session(port);
    idle_session(port);

    char port_arg[16], conns[16], msgs[16], bytes[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    snprintf(conns, sizeof conns, "%d", CONNS);
    snprintf(msgs, sizeof msgs, "%d", MESSAGES);
    snprintf(bytes, sizeof bytes, "%d", BODY_BYTES);
    char *cargv[] = {client, "--json", "127.0.0.1", port_arg, conns, msgs, bytes, NULL};
    int cout;
    pid_t cpid = spawn(cargv, &cout);
    char *json = slurp(cout);
    int status;
    while (waitpid(cpid, &status, 0) < 0 && errno == EINTR)
        ;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "smtp_client status %d", status);
    char want[64];
    snprintf(want, sizeof want, "\"messages\":%d,", CONNS * MESSAGES);
    CHECK(strstr(json, want) != NULL, "client JSON lacks %s: %s", want, json);
    CHECK(strstr(json, "\"errors\":0,") != NULL, "client JSON: %s", json);
    const char *srv_json = strstr(json, "\"server\":{");
    snprintf(want, sizeof want, "\"messages\":%d}", CONNS * MESSAGES + 1);
    CHECK(srv_json && strstr(srv_json, "\"utime_us\":") && strstr(srv_json, want),
          "server BENCH JSON in %s", json);
    OK("smtp_client %d x %d x %d B: exit 0, %s", CONNS, MESSAGES, BODY_BYTES, json);
    free(json);

    char *sout_text = slurp(sout);
    while (waitpid(server_pid, &status, 0) < 0 && errno == EINTR)
        ;
    server_pid = -1;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "smtp_server status %d", status);
    snprintf(want, sizeof want, "messages: %d  bytes: ", CONNS * MESSAGES + 1);
    CHECK(strstr(sout_text, "exiting event loop\n") && strstr(sout_text, want),
          "server output: %s", sout_text);
    OK("smtp_server stopped by SHUTDOWN, exit 0, counted %d messages\n",
       CONNS * MESSAGES + 1);
    free(sout_text);

    check_spool(outside);

    /* Clean up the spool (only what we expect to find there). */
    DIR *d = opendir(spool);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(spool);
    return check_finish("test_smtp_e2e");
}
