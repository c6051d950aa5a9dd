/*
 * demo_workers.c - N worker processes serving one port (see
 * demo_workers.h).
 */
#include "demo_workers.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One worker's figures, written by that worker only. `gen` is the request
 * it answers; the figures are complete once gen is stored (release). */
struct slot {
    int64_t gen;
    int pid;
    coro_rusage_t used;
    int64_t read_blocks, write_blocks;
};

struct shared {
    int64_t gen; /* last request made by any worker */
    int n;
    struct slot slots[DEMO_WORKERS_MAX];
};

static struct shared *shm;
static int my_index = -1;
static coro_rusage_t started;
static void (*read_counters)(int64_t *, int64_t *);

int demo_workers_count(void)
{
    return shm ? shm->n : 1;
}

static int bind_one(const struct addrinfo *ai, int *fd_out)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int demo_workers_listen(const char *prog, const char *host, int port, int backlog, int n,
                        int *fds)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port_str[16];
    int opened = 0;
    snprintf(port_str, sizeof port_str, "%d", port);
    int rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve %s: %s\n", prog, host, gai_strerror(rc));
        return -1;
    }
    for (; opened < n; opened++) {
        if (bind_one(res, &fds[opened]) < 0)
            goto error;
        if (opened == 0 && port == 0) {
            /* The others must take the port the kernel gave the first. */
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            if (getsockname(fds[0], (struct sockaddr *)&ss, &sl) < 0)
                goto error;
            int actual = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                       : ((struct sockaddr_in6 *)&ss)->sin6_port);
            freeaddrinfo(res);
            res = NULL;
            snprintf(port_str, sizeof port_str, "%d", actual);
            if ((rc = getaddrinfo(host, port_str, &hints, &res)) != 0) {
                errno = EINVAL;
                opened++;
                goto error;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (listen(fds[i], backlog) < 0) {
            opened = n;
            goto error;
        }
    freeaddrinfo(res);
    return 0;
error:
    fprintf(stderr, "%s: cannot listen on %s:%d (SO_REUSEPORT, %d sockets): %s\n", prog, host,
            port, n, strerror(errno));
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    if (res)
        freeaddrinfo(res);
    return -1;
}

/* ---- the figures of all workers ------------------------------------------ */

static void fill_slot(int64_t gen)
{
    struct slot *s = &shm->slots[my_index];
    coro_rusage_t now;
    coro_rusage_now(&now);
    coro_rusage_diff(&started, &now, &s->used);
    s->read_blocks = s->write_blocks = 0;
    if (read_counters)
        read_counters(&s->read_blocks, &s->write_blocks);
    __atomic_store_n(&s->gen, gen, __ATOMIC_RELEASE);
}

/* SIGUSR1: another worker asks for the figures. getrusage, clock_gettime and
 * reading counters are plain memory reads and syscalls: safe here. */
static void on_request(int sig)
{
    (void)sig;
    int e = errno;
    if (shm && my_index >= 0)
        fill_slot(__atomic_load_n(&shm->gen, __ATOMIC_ACQUIRE));
    errno = e;
}

void demo_workers_start(void (*blocks)(int64_t *, int64_t *))
{
    read_counters = blocks;
    coro_rusage_now(&started);
}

int demo_workers_bench(coro_rusage_t *sum, int64_t *read_blocks, int64_t *write_blocks,
                       int64_t *maxrss_total_kib)
{
    int missing = 0;
    if (!shm) {
        coro_rusage_t now;
        coro_rusage_now(&now);
        coro_rusage_diff(&started, &now, sum);
        *read_blocks = *write_blocks = 0;
        if (read_counters)
            read_counters(read_blocks, write_blocks);
        *maxrss_total_kib = sum->maxrss_kib;
        return 0;
    }
    int64_t gen = __atomic_add_fetch(&shm->gen, 1, __ATOMIC_ACQ_REL);
    fill_slot(gen);
    for (int i = 0; i < shm->n; i++)
        if (i != my_index)
            kill(shm->slots[i].pid, SIGUSR1);
    /* Bounded wait: 1 s in 100 us steps (a stopped or dead worker never answers). */
    for (int tries = 0; tries < 10000; tries++) {
        int waiting = 0;
        for (int i = 0; i < shm->n; i++)
            waiting += __atomic_load_n(&shm->slots[i].gen, __ATOMIC_ACQUIRE) < gen;
        if (!waiting)
            break;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    memset(sum, 0, sizeof *sum);
    *read_blocks = *write_blocks = *maxrss_total_kib = 0;
    for (int i = 0; i < shm->n; i++) {
        const struct slot *s = &shm->slots[i];
        if (__atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) < gen) {
            missing++;
            continue;
        }
        const coro_rusage_t *u = &s->used;
        if (u->wall_us > sum->wall_us)
            sum->wall_us = u->wall_us;
        if (u->maxrss_kib > sum->maxrss_kib)
            sum->maxrss_kib = u->maxrss_kib;
        *maxrss_total_kib += u->maxrss_kib;
        sum->utime_us += u->utime_us;
        sum->stime_us += u->stime_us;
        sum->ixrss += u->ixrss;
        sum->idrss += u->idrss;
        sum->isrss += u->isrss;
        sum->minflt += u->minflt;
        sum->majflt += u->majflt;
        sum->nswap += u->nswap;
        sum->inblock += u->inblock;
        sum->oublock += u->oublock;
        sum->msgsnd += u->msgsnd;
        sum->msgrcv += u->msgrcv;
        sum->nsignals += u->nsignals;
        sum->nvcsw += u->nvcsw;
        sum->nivcsw += u->nivcsw;
        *read_blocks += s->read_blocks;
        *write_blocks += s->write_blocks;
    }
    return missing ? -1 : 0;
}

void demo_workers_stop_all(void)
{
    if (shm)
        kill(getppid(), SIGTERM);
}

/* ---- the parent ---------------------------------------------------------- */

static void stop_workers(int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (shm->slots[i].pid > 0)
            kill(shm->slots[i].pid, sig);
}

/* Waits for every worker; passes SIGINT/SIGTERM on, and stops the others
 * when one exits. Returns 0 when all exited 0, else 1. */
static int supervise(const char *prog, int n)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    int left = n, status_all = 0;
    bool stopping = false;
    while (left > 0) {
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            left--;
            /* A worker we stopped with SIGTERM (one without a handler) ended as asked. */
            bool asked = stopping && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
            if (!asked && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
                status_all = 1;
                if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM)
                    fprintf(stderr, "%s: worker %d died of %s\n", prog, (int)pid,
                            strsignal(WTERMSIG(st)));
            }
            for (int i = 0; i < n; i++)
                if (shm->slots[i].pid == pid)
                    shm->slots[i].pid = -1;
            if (!stopping) {
                stopping = true;
                stop_workers(n, SIGTERM);
            }
        }
        if (left == 0)
            break;
        int sig;
        if (sigwait(&set, &sig) == 0 && (sig == SIGINT || sig == SIGTERM) && !stopping) {
            stopping = true;
            stop_workers(n, SIGTERM);
        }
    }
    return status_all;
}

int demo_workers_fork(const char *prog, int n, const int *fds)
{
    if (n > DEMO_WORKERS_MAX) {
        fprintf(stderr, "%s: at most %d workers\n", prog, DEMO_WORKERS_MAX);
        return -2;
    }
    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        shm = NULL;
        fprintf(stderr, "%s: mmap: %s\n", prog, strerror(errno));
        return -2;
    }
    shm->n = n;
    /* The parent takes its signals with sigwait; the workers must not inherit the mask. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    /* SIGUSR1 too until a worker has its handler: its default action kills. */
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
            stop_workers(i, SIGTERM);
            while (wait(NULL) > 0)
                ;
            return -2;
        }
        if (pid == 0) {
            struct sigaction sa = {.sa_handler = on_request, .sa_flags = SA_RESTART};
            sigemptyset(&sa.sa_mask);
            sigaction(SIGUSR1, &sa, NULL);
            coro_rusage_now(&started);
            sigprocmask(SIG_SETMASK, &old, NULL);
            my_index = i;
            shm->slots[i].pid = getpid();
            for (int j = 0; j < n; j++)
                if (j != i)
                    close(fds[j]);
            return i;
        }
        shm->slots[i].pid = pid;
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return -1 - supervise(prog, n);
}
