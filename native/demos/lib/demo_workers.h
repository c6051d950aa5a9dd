/*
 * demo_workers.h - N worker processes serving one port (echo_server -w N,
 * peers/epoll_echo -w N).
 *
 * Each worker is a whole process with its own listening socket on the same
 * address and port (SO_REUSEPORT: the kernel spreads new connections over
 * the sockets), its own runtime and nothing shared with the others. Why
 * processes and not threads: the core keeps its runtime in one process-wide
 * global (one shared stack per process is the design), so a worker per
 * process needs no change to the core, and a worker that crashes takes no
 * other one with it.
 *
 * The parent forks the workers and then only supervises: SIGINT/SIGTERM are
 * passed on to every worker, and when one worker exits (after `!shutdown`)
 * the others are told to stop too. `!bench` in any worker reports the sum
 * over all workers: on request every worker writes its figures into a slot
 * of a shared page from a SIGUSR1 handler (so no event loop needs to know).
 */
#ifndef DEMO_WORKERS_H
#define DEMO_WORKERS_H

#include <coro.h>

#include <stdint.h>

#define DEMO_WORKERS_MAX 256

/* Opens n listening sockets on host:port with SO_REUSEPORT (port 0: the
 * first one's ephemeral port for all). Non-blocking, close-on-exec.
 * 0, or -1 with a message on stderr (prog: its name). */
int demo_workers_listen(const char *prog, const char *host, int port, int backlog, int n,
                        int *fds);

/* Forks n workers (n >= 2). Returns in each worker its index 0..n-1; the
 * worker keeps fds[index] and has closed the others. In the parent it
 * supervises until every worker has exited and then returns -1 - status
 * (status: 0 when all exited 0, else 1). -2 - 1 when fork itself failed
 * (the workers already started are stopped). */
int demo_workers_fork(const char *prog, int n, const int *fds);

/* Workers running (1 in a process that did not fork any). */
int demo_workers_count(void);

/* In a worker: where its figures start (after the fork), and how to read its
 * blocking counters (NULL: none, reported as 0). Call before serving. */
void demo_workers_start(void (*blocks)(int64_t *read_blocks, int64_t *write_blocks));

/* In a worker answering !bench: every worker's figures since its start,
 * added up (CPU, faults, switches, blocks; wall: the longest; maxrss: the
 * largest), and the total of their maxrss. Waits up to 1 s for the others.
 * 0, or -1 when a worker did not answer (its figures are then missing from
 * the sum: the caller must not report it as whole). */
int demo_workers_bench(coro_rusage_t *sum, int64_t *read_blocks, int64_t *write_blocks,
                       int64_t *maxrss_total_kib);

/* In a worker that accepted !shutdown: asks the parent to stop all workers. */
void demo_workers_stop_all(void);

#endif
