/*
 * echo_session.h - one connection of the echo protocol (docs/programs.md),
 * as echo_server runs it: each line echoed back byte for byte, `!quit`,
 * `!bench` / `!bench json`, `!shutdown`, the line limit, and the -X test
 * hooks. echo_server and the fuzz target native/fuzz/fuzz_echo_session.c
 * both run this code, so what the fuzzer checks is what the server does.
 *
 * Usage: fill an echo_session_config_t, pass it to echo_session_configure()
 * once the runtime is up, then spawn echo_session() once per accepted
 * connection with the fd as its argument. After the event loop has
 * stopped, echo_session_close_all() closes the sessions still open.
 */
#ifndef ECHO_SESSION_H
#define ECHO_SESSION_H

#include <coro.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct echo_session_config {
    /* Longest line accepted, terminator included, in bytes (>= 3). A
     * longer one gets "-ERR line too long" and ends the session. */
    int64_t max_line;
    /* Server TLS context: every session does a TLS handshake first. NULL
     * for plain TCP. */
    coro_tls_ctx_t *tls;
    /* Accept `!shutdown` from non-loopback peers (echo_server -R). */
    bool allow_remote_shutdown;
    /* `!crash` and `!overflow` (echo_server -X); otherwise both are echoed
     * like any other line. */
    bool test_hooks;
    /* `!bench` reports the process's resource usage since this snapshot. */
    coro_rusage_t started;
    /* Called, from the session's coroutine, when a `!shutdown` is accepted;
     * the session then ends. May be NULL. */
    void (*stop)(void);
    /* Several worker processes (echo_server -w N): `!bench` reports what
     * this fills (the sum over the workers, lib/demo_workers.h) instead of
     * this process's own figures, and `!bench json` adds "workers" and
     * "maxrss_total_kib". 0, or -1 when a worker's figures are missing.
     * NULL: one process. */
    int (*bench)(coro_rusage_t *used, int64_t *read_blocks, int64_t *write_blocks,
                 int64_t *maxrss_total_kib);
    int workers;
} echo_session_config_t;

/* Sets the configuration of every session started from now on (copied).
 * Call it before spawning the first echo_session. */
void echo_session_configure(const echo_session_config_t *config);

/* The body of one session's coroutine: coro_spawn(echo_session,
 * (void *)(intptr_t)fd). Takes over fd (a connected socket, set up with
 * the core as coro_accept leaves it) and closes it when the session ends. */
void echo_session(void *fd);

/* Closes every session still open. For after the event loop has stopped:
 * the coroutines that own them will never run again. */
void echo_session_close_all(void);

#endif
