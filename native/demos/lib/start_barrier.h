/*
 * start_barrier.h - the start barrier of a load client driven by a
 * controller (coro-bench, often over ssh), so that the clients of several
 * processes and hosts run their transactions at the same time.
 *
 * Protocol (docs/programs.md), on the client's stdin and stdout:
 *   1. every connection is opened, then the client prints
 *      "ready CONNECTED NOW_NS" (CONNECTED: connections that are open,
 *      NOW_NS: CLOCK_MONOTONIC of this host) and waits;
 *   2. the controller may send lines "sync", each answered at once with
 *      "sync NOW_NS" (it estimates this host's clock offset from the
 *      quickest round trip); then it sends "go": the client prints
 *      "go NOW_NS" and the connections start their transactions;
 *   3. from then on, stdin closing means the controller (or its ssh
 *      connection) is gone: the client exits at once, status 3, so no
 *      client outlives the run that started it. Stdin closing before "go"
 *      does the same.
 * Stdin is read by a thread of its own, never by the event loop, which
 * learns of "go" through a pipe.
 */
#ifndef START_BARRIER_H
#define START_BARRIER_H

#include <stdbool.h>
#include <stdint.h>

/* Starts the barrier for `expected` arrivals: the stdin thread and the
 * barrier coroutine. At "go", *go_ns is set to the client's clock reading.
 * Call from a coroutine, once. Returns 0, or -1 after saying why on stderr. */
int start_barrier_start(const char *prog, int64_t expected, int64_t *go_ns);

/* A connection arrives (connected or not) and, if connected, waits for
 * "go". Returns 0 when it may start, -1 with errno when the wait failed. */
int start_barrier_arrive(bool connected);

#endif
